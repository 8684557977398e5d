/* SPDX-License-Identifier: MIT
 * Statistics: counters kept per thread without atomics (in the thread's tld) and merged into
 * the process-wide `_mi_stats_main` with atomics at thread exit and on demand; the text report,
 * the struct copy for callers that want data, and process information. Updates happen on slow
 * paths only; nothing here allocates. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#include <stdarg.h>
#include <stdio.h>

mi_stats_t _mi_stats_main;

static bool mi_stats_is_main(const void* stat) {
  return (const uint8_t*)stat >= (const uint8_t*)&_mi_stats_main && (const uint8_t*)stat < (const uint8_t*)(&_mi_stats_main + 1);
}

static void mi_stats_peak_update(int64_t* peak, int64_t current) {
  int64_t p = __atomic_load_n(peak, __ATOMIC_RELAXED);
  while (current > p && !__atomic_compare_exchange_n(peak, &p, current, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

static void mi_stat_update(mi_stat_count_t* stat, int64_t amount) {
  if (amount == 0) return;
  if (mi_stats_is_main(stat)) {
    /* updated from any thread (OS metadata, merges): atomics */
    int64_t current = __atomic_add_fetch(&stat->current, amount, __ATOMIC_RELAXED);
    mi_stats_peak_update(&stat->peak, current);
    if (amount > 0) __atomic_fetch_add(&stat->total, amount, __ATOMIC_RELAXED);
  } else {
    stat->current += amount;
    if (stat->current > stat->peak) stat->peak = stat->current;
    if (amount > 0) stat->total += amount;
  }
}

void _mi_stat_increase(mi_stat_count_t* stat, size_t amount) { mi_stat_update(stat, (int64_t)amount); }
void _mi_stat_decrease(mi_stat_count_t* stat, size_t amount) { mi_stat_update(stat, -(int64_t)amount); }

void _mi_stat_counter_increase(mi_stat_counter_t* stat, size_t amount) {
  if (mi_stats_is_main(stat)) __atomic_fetch_add(&stat->total, (int64_t)amount, __ATOMIC_RELAXED);
  else stat->total += (int64_t)amount;
}

/* ---- Merging ------------------------------------------------------------------------------------ */
/* mi_stats_t is a header followed by count and counter fields; these tables name them so the
 * merge, reset and report loops cannot miss one. */

#define MI_STAT_COUNT_FIELDS(X) \
  X(reserved) X(committed) X(purged) X(segments) X(segments_abandoned) X(segments_cache) \
  X(pages) X(pages_abandoned) X(threads) X(normal) X(huge) X(malloc_requested)
#define MI_STAT_COUNTER_FIELDS(X) \
  X(mmap_calls) X(munmap_calls) X(purge_calls) X(page_no_retire) X(searches) X(normal_count) X(huge_count) X(reclaimed)

/* A thread's peak is its own; merged into main, the main peak is the highest merged current
 * seen, which undercounts concurrent peaks but never invents one. */
static void mi_stat_count_merge(mi_stat_count_t* dst, const mi_stat_count_t* src) {
  if (src->current == 0 && src->total == 0) return;
  int64_t current = __atomic_add_fetch(&dst->current, src->current, __ATOMIC_RELAXED);
  __atomic_fetch_add(&dst->total, src->total, __ATOMIC_RELAXED);
  mi_stats_peak_update(&dst->peak, current);
}

static void mi_stat_counter_merge(mi_stat_counter_t* dst, const mi_stat_counter_t* src) {
  if (src->total != 0) __atomic_fetch_add(&dst->total, src->total, __ATOMIC_RELAXED);
}

void _mi_stats_done(mi_stats_t* stats) {
  if (stats == NULL || stats == &_mi_stats_main) return;
#define MI_MERGE_COUNT(f) mi_stat_count_merge(&_mi_stats_main.f, &stats->f);
#define MI_MERGE_COUNTER(f) mi_stat_counter_merge(&_mi_stats_main.f, &stats->f);
  MI_STAT_COUNT_FIELDS(MI_MERGE_COUNT)
  MI_STAT_COUNTER_FIELDS(MI_MERGE_COUNTER)
  for (size_t i = 0; i < MI_STAT_BINS; i++) mi_stat_count_merge(&_mi_stats_main.normal_bins[i], &stats->normal_bins[i]);
  memset(stats, 0, sizeof(*stats));
}

static mi_stats_t* mi_stats_thread(void) {
  mi_heap_t* heap = mi_prim_get_default_heap();
  return (mi_heap_is_initialized(heap) ? &heap->tld->stats : NULL);
}

void mi_stats_merge(void) mi_attr_noexcept { _mi_stats_done(mi_stats_thread()); }

/* Totals and peaks restart from the present; `current` stays, or later decreases would make
 * live quantities negative. */
static void mi_stat_count_reset(mi_stat_count_t* stat) {
  int64_t current = __atomic_load_n(&stat->current, __ATOMIC_RELAXED);
  __atomic_store_n(&stat->total, current > 0 ? current : 0, __ATOMIC_RELAXED);
  __atomic_store_n(&stat->peak, current, __ATOMIC_RELAXED);
}

void mi_stats_reset(void) mi_attr_noexcept {
  mi_stats_merge();
#define MI_RESET_COUNT(f) mi_stat_count_reset(&_mi_stats_main.f);
#define MI_RESET_COUNTER(f) __atomic_store_n(&_mi_stats_main.f.total, 0, __ATOMIC_RELAXED);
  MI_STAT_COUNT_FIELDS(MI_RESET_COUNT)
  MI_STAT_COUNTER_FIELDS(MI_RESET_COUNTER)
  for (size_t i = 0; i < MI_STAT_BINS; i++) mi_stat_count_reset(&_mi_stats_main.normal_bins[i]);
}

static void mi_stat_count_copy(mi_stat_count_t* dst, const mi_stat_count_t* src) {
  dst->current = __atomic_load_n(&src->current, __ATOMIC_RELAXED);
  dst->peak = __atomic_load_n(&src->peak, __ATOMIC_RELAXED);
  dst->total = __atomic_load_n(&src->total, __ATOMIC_RELAXED);
}

void mi_stats_get(size_t stats_size, mi_stats_t* stats) mi_attr_noexcept {
  if (stats == NULL || stats_size == 0) return;
  mi_stats_merge();
  mi_stats_t copy;
  memset(&copy, 0, sizeof(copy));
  copy.size = sizeof(mi_stats_t);
  copy.version = MI_STAT_VERSION;
#define MI_COPY_COUNT(f) mi_stat_count_copy(&copy.f, &_mi_stats_main.f);
#define MI_COPY_COUNTER(f) copy.f.total = __atomic_load_n(&_mi_stats_main.f.total, __ATOMIC_RELAXED);
  MI_STAT_COUNT_FIELDS(MI_COPY_COUNT)
  MI_STAT_COUNTER_FIELDS(MI_COPY_COUNTER)
  for (size_t i = 0; i < MI_STAT_BINS; i++) mi_stat_count_copy(&copy.normal_bins[i], &_mi_stats_main.normal_bins[i]);
  memcpy(stats, &copy, (stats_size < sizeof(copy) ? stats_size : sizeof(copy)));
}

/* ---- Clock ------------------------------------------------------------------------------------ */

static mi_msecs_t mi_clock_start_time;

mi_msecs_t _mi_clock_now(void) { return _mi_prim_clock_now(); }

mi_msecs_t _mi_clock_start(void) {
  if (mi_clock_start_time == 0) mi_clock_start_time = _mi_clock_now();
  return mi_clock_start_time;
}

/* ---- Process information ------------------------------------------------------------------------ */

void mi_process_info(size_t* elapsed_msecs, size_t* user_msecs, size_t* system_msecs, size_t* current_rss,
                     size_t* peak_rss, size_t* current_commit, size_t* peak_commit, size_t* page_faults) mi_attr_noexcept {
  mi_process_info_t pinfo;
  memset(&pinfo, 0, sizeof(pinfo));
  _mi_prim_process_info(&pinfo);
  mi_msecs_t elapsed = _mi_clock_now() - _mi_clock_start();
  mi_stats_merge();
  int64_t commit = __atomic_load_n(&_mi_stats_main.committed.current, __ATOMIC_RELAXED);
  int64_t commit_peak = __atomic_load_n(&_mi_stats_main.committed.peak, __ATOMIC_RELAXED);
  if (elapsed_msecs != NULL) *elapsed_msecs = (size_t)(elapsed < 0 ? 0 : elapsed);
  if (user_msecs != NULL) *user_msecs = (size_t)pinfo.utime;
  if (system_msecs != NULL) *system_msecs = (size_t)pinfo.stime;
  if (current_rss != NULL) *current_rss = pinfo.current_rss;
  if (peak_rss != NULL) *peak_rss = pinfo.peak_rss;
  if (current_commit != NULL) *current_commit = (size_t)(commit < 0 ? 0 : commit);
  if (peak_commit != NULL) *peak_commit = (size_t)(commit_peak < 0 ? 0 : commit_peak);
  if (page_faults != NULL) *page_faults = pinfo.page_faults;
}

/* ---- Text report ----------------------------------------------------------------------------- */

/* Format `n` (bytes when `unit` is 1, else a plain count) into `buf` with a binary suffix. */
static void mi_stats_fmt(char* buf, size_t size, int64_t n, bool bytes) {
  if (size < 32) return;
  const char* suffix = (bytes ? "B" : "");
  int64_t a = (n < 0 ? -n : n);
  if (bytes && a >= (int64_t)MI_KiB) {
    const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    int64_t div = (int64_t)MI_KiB;
    while (u < 3 && a >= div * 1024) {
      div *= 1024;
      u++;
    }
    int64_t whole = n / div;
    int64_t tenth = ((a % div) * 10) / div;
    snprintf(buf, size, "%s%lld.%lld %s", (n < 0 && whole == 0 ? "-" : ""), (long long)whole, (long long)tenth, units[u]);
  } else {
    snprintf(buf, size, "%lld %s", (long long)n, suffix);
  }
}

static void mi_stats_print_count(mi_output_fun* out, void* arg, const char* name, const mi_stat_count_t* stat, bool bytes) {
  char cur[48], peak[48], total[48];
  mi_stats_fmt(cur, sizeof(cur), stat->current, bytes);
  mi_stats_fmt(peak, sizeof(peak), stat->peak, bytes);
  mi_stats_fmt(total, sizeof(total), stat->total, bytes);
  _mi_fprintf(out, arg, "%-20s %14s %14s %14s\n", name, cur, peak, total);
}

static void mi_stats_print_counter(mi_output_fun* out, void* arg, const char* name, const mi_stat_counter_t* stat) {
  _mi_fprintf(out, arg, "%-20s %14s %14s %14lld\n", name, "", "", (long long)stat->total);
}

static void mi_stats_print_of(const mi_stats_t* st, mi_output_fun* out, void* arg) {
  _mi_fprintf(out, arg, "%-20s %14s %14s %14s\n", "mimalloc-rs stats", "current", "peak", "total");
  mi_stats_print_count(out, arg, "reserved", &st->reserved, true);
  mi_stats_print_count(out, arg, "committed", &st->committed, true);
  mi_stats_print_count(out, arg, "purged", &st->purged, true);
  mi_stats_print_count(out, arg, "normal (in pages)", &st->normal, true);
  mi_stats_print_count(out, arg, "huge", &st->huge, true);
  if (st->malloc_requested.total != 0) mi_stats_print_count(out, arg, "requested", &st->malloc_requested, true);
  mi_stats_print_count(out, arg, "segments", &st->segments, false);
  mi_stats_print_count(out, arg, "  abandoned", &st->segments_abandoned, false);
  mi_stats_print_count(out, arg, "  cached", &st->segments_cache, false);
  mi_stats_print_count(out, arg, "pages", &st->pages, false);
  mi_stats_print_count(out, arg, "  abandoned", &st->pages_abandoned, false);
  mi_stats_print_count(out, arg, "threads", &st->threads, false);
  mi_stats_print_counter(out, arg, "mmap calls", &st->mmap_calls);
  mi_stats_print_counter(out, arg, "munmap calls", &st->munmap_calls);
  mi_stats_print_counter(out, arg, "purge calls", &st->purge_calls);
  mi_stats_print_counter(out, arg, "reclaimed segments", &st->reclaimed);
  mi_stats_print_counter(out, arg, "page searches", &st->searches);
  mi_stats_print_counter(out, arg, "huge blocks", &st->huge_count);
  bool header = false;
  for (size_t bin = 1; bin < MI_BIN_HUGE && bin < MI_STAT_BINS; bin++) {
    const mi_stat_count_t* b = &st->normal_bins[bin];
    if (b->total == 0) continue;
    if (!header) {
      _mi_fprintf(out, arg, "pages per size class:\n");
      header = true;
    }
    char name[64];
    char size[48];
    mi_stats_fmt(size, sizeof(size), (int64_t)_mi_bin_size(bin), true);
    snprintf(name, sizeof(name), "  %s", size);
    mi_stats_print_count(out, arg, name, b, false);
  }
  size_t elapsed, utime, stime, rss, peak_rss, commit, peak_commit, faults;
  mi_process_info(&elapsed, &utime, &stime, &rss, &peak_rss, &commit, &peak_commit, &faults);
  char rss_s[48], peak_s[48];
  mi_stats_fmt(rss_s, sizeof(rss_s), (int64_t)rss, true);
  mi_stats_fmt(peak_s, sizeof(peak_s), (int64_t)peak_rss, true);
  _mi_fprintf(out, arg, "process: elapsed %zu.%03zu s, user %zu.%03zu s, system %zu.%03zu s, faults %zu, rss %s, peak rss %s\n",
              elapsed / 1000, elapsed % 1000, utime / 1000, utime % 1000, stime / 1000, stime % 1000, faults, rss_s, peak_s);
}

void mi_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept {
  mi_stats_t st;
  mi_stats_get(sizeof(st), &st);
  mi_stats_print_of(&st, out, arg);
}

void mi_stats_print(void* out) mi_attr_noexcept { mi_stats_print_out((mi_output_fun*)out, NULL); }

void mi_thread_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept {
  mi_stats_t* st = mi_stats_thread();
  if (st == NULL) return;
  mi_stats_t copy = *st;
  mi_stats_print_of(&copy, out, arg);
}

/* ---- JSON ------------------------------------------------------------------------------------- */

typedef struct mi_json_buf_s {
  char* buf;
  size_t size;
  size_t len; /* may exceed size: then the output was truncated */
} mi_json_buf_t;

static void mi_json_printf(mi_json_buf_t* jb, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
static void mi_json_printf(mi_json_buf_t* jb, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  size_t room = (jb->len < jb->size ? jb->size - jb->len : 0);
  int n = vsnprintf(room > 0 ? jb->buf + jb->len : NULL, room, fmt, args);
  va_end(args);
  if (n > 0) jb->len += (size_t)n;
}

static void mi_json_count(mi_json_buf_t* jb, const char* name, const mi_stat_count_t* c, bool last) {
  mi_json_printf(jb, "  \"%s\": {\"current\": %lld, \"peak\": %lld, \"total\": %lld}%s\n", name, (long long)c->current,
                 (long long)c->peak, (long long)c->total, last ? "" : ",");
}

char* mi_stats_get_json(size_t buf_size, char* buf) mi_attr_noexcept {
  mi_stats_t st;
  mi_stats_get(sizeof(st), &st);
  char local[16 * 1024]; /* the whole report fits; rendered here first so we know its length */
  mi_json_buf_t jb = {local, sizeof(local), 0};
  mi_json_printf(&jb, "{\n  \"version\": %zu,\n", st.version);
#define MI_JSON_COUNT(f) mi_json_count(&jb, #f, &st.f, false);
#define MI_JSON_COUNTER(f) mi_json_printf(&jb, "  \"%s\": %lld,\n", #f, (long long)st.f.total);
  MI_STAT_COUNT_FIELDS(MI_JSON_COUNT)
  MI_STAT_COUNTER_FIELDS(MI_JSON_COUNTER)
  mi_json_printf(&jb, "  \"bins\": [");
  bool first = true;
  for (size_t bin = 1; bin < MI_BIN_HUGE && bin < MI_STAT_BINS; bin++) {
    const mi_stat_count_t* b = &st.normal_bins[bin];
    if (b->total == 0) continue;
    mi_json_printf(&jb, "%s\n    {\"block_size\": %zu, \"pages\": {\"current\": %lld, \"peak\": %lld, \"total\": %lld}}", first ? "" : ",",
                   _mi_bin_size(bin), (long long)b->current, (long long)b->peak, (long long)b->total);
    first = false;
  }
  mi_json_printf(&jb, "\n  ]\n}\n");
  if (jb.len >= sizeof(local)) return NULL; /* cannot happen with the fields above */
  char* out = buf;
  if (out == NULL || buf_size < jb.len + 1) {
    out = (char*)mi_malloc(jb.len + 1);
    if (out == NULL) return NULL;
  }
  memcpy(out, local, jb.len + 1);
  return out;
}
