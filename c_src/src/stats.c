/* SPDX-License-Identifier: MIT
 * Statistics: counters each thread keeps in its own tld without atomics, merged into the
 * process-wide `_mi_stats_main` with relaxed atomics at thread exit and on demand; the text
 * report, the versioned struct copy, the JSON form, process information and the clock.
 * Updates come from slow paths only, except that MI_STAT 2 (debug level 2 and up) counts
 * every allocation. Nothing here allocates, except mi_stats_get_json when the caller's buffer
 * is too small (documented in mimalloc.h). */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#include <stdarg.h>
#include <stdio.h> /* snprintf/vsnprintf into stack buffers */

/* Process-wide statistics. Written only with atomics (any thread may update or merge). */
mi_stats_t _mi_stats_main;

/* mi_stats_t is a size/version header, then count fields, counter fields and the bins. These
 * lists name the fields once, so merge, reset, copy and the JSON form cannot miss one; the
 * assert below fails when mimalloc.h grows a field the lists do not have. */
#define MI_STATS_COUNT_FIELDS(X)                                                                        \
  X(reserved) X(committed) X(purged) X(segments) X(segments_abandoned) X(segments_cache) X(pages) \
  X(pages_abandoned) X(threads) X(normal) X(huge) X(malloc_requested)
#define MI_STATS_COUNTER_FIELDS(X)                                                                 \
  X(mmap_calls) X(munmap_calls) X(purge_calls) X(page_no_retire) X(searches) X(normal_count) \
  X(huge_count) X(reclaimed)
#define MI_STATS_ONE(f) +1

_Static_assert(sizeof(mi_stats_t) == 2 * sizeof(size_t) + (0 MI_STATS_COUNT_FIELDS(MI_STATS_ONE)) * sizeof(mi_stat_count_t) +
                                         (0 MI_STATS_COUNTER_FIELDS(MI_STATS_ONE)) * sizeof(mi_stat_counter_t) +
                                         MI_STAT_BINS * sizeof(mi_stat_count_t),
               "the field lists in stats.c must name every field of mi_stats_t");
_Static_assert(_Alignof(mi_stat_count_t) == 8 && _Alignof(mi_stat_counter_t) == 8 && _Alignof(mi_stats_t) == 8,
               "64-bit counters are aligned for 64-bit atomics (i686 aligns int64_t fields to 4 otherwise)");

/* ---- Updating ---------------------------------------------------------------------------- */

/* Per-thread statistics are written by their thread alone, so plain arithmetic is enough
 * there; anything inside `_mi_stats_main` may be hit by several threads at once. Relaxed
 * order: statistics publish nothing, they only have to add up. */
static bool mi_stats_is_main(const void* stat) {
  return (const uint8_t*)stat >= (const uint8_t*)&_mi_stats_main &&
         (const uint8_t*)stat < (const uint8_t*)(&_mi_stats_main + 1);
}

static void mi_stats_peak_raise(int64_t* peak, int64_t current) {
  int64_t seen = __atomic_load_n(peak, __ATOMIC_RELAXED);
  while (current > seen && !__atomic_compare_exchange_n(peak, &seen, current, true, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    /* `seen` now holds the newer peak; retry only while ours is still higher */
  }
}

static void mi_stats_count_add(mi_stat_count_t* stat, int64_t amount) {
  if (amount == 0) return;
  if (mi_stats_is_main(stat)) {
    int64_t current = __atomic_add_fetch(&stat->current, amount, __ATOMIC_RELAXED);
    if (amount > 0) {
      __atomic_fetch_add(&stat->total, amount, __ATOMIC_RELAXED);
      mi_stats_peak_raise(&stat->peak, current);
    }
  } else {
    stat->current += amount;
    if (amount > 0) {
      stat->total += amount;
      if (stat->current > stat->peak) stat->peak = stat->current;
    }
  }
}

void _mi_stat_increase(mi_stat_count_t* stat, size_t amount) { mi_stats_count_add(stat, (int64_t)amount); }
void _mi_stat_decrease(mi_stat_count_t* stat, size_t amount) { mi_stats_count_add(stat, -(int64_t)amount); }

void _mi_stat_counter_increase(mi_stat_counter_t* stat, size_t amount) {
  if (mi_stats_is_main(stat)) __atomic_fetch_add(&stat->total, (int64_t)amount, __ATOMIC_RELAXED);
  else stat->total += (int64_t)amount;
}

/* ---- Merging ------------------------------------------------------------------------------ */

/* `current` and `total` add up across threads. A thread's peak is relative to what main held
 * when the thread last merged, so main's value then plus the thread's peak is the process's
 * high point exactly when one thread allocates (the common case, and the main thread asking
 * for its own numbers); with several threads merging at different times it is an estimate. */
static void mi_stats_count_merge(mi_stat_count_t* dst, const mi_stat_count_t* src) {
  if (src->current == 0 && src->total == 0 && src->peak == 0) return;
  int64_t before = __atomic_fetch_add(&dst->current, src->current, __ATOMIC_RELAXED);
  __atomic_fetch_add(&dst->total, src->total, __ATOMIC_RELAXED);
  mi_stats_peak_raise(&dst->peak, before + (src->peak > src->current ? src->peak : src->current));
}

static void mi_stats_counter_merge(mi_stat_counter_t* dst, const mi_stat_counter_t* src) {
  if (src->total != 0) __atomic_fetch_add(&dst->total, src->total, __ATOMIC_RELAXED);
}

/* Move a thread's numbers into main and zero them: the thread keeps counting from zero, and a
 * later decrease of something counted before (its `current` going negative) merges back
 * correctly. Must run on the thread that owns `stats` (or after it stopped). */
void _mi_stats_done(mi_stats_t* stats) {
  if (stats == NULL || stats == &_mi_stats_main) return;
#define MI_STATS_MERGE_COUNT(f) mi_stats_count_merge(&_mi_stats_main.f, &stats->f);
#define MI_STATS_MERGE_COUNTER(f) mi_stats_counter_merge(&_mi_stats_main.f, &stats->f);
  MI_STATS_COUNT_FIELDS(MI_STATS_MERGE_COUNT)
  MI_STATS_COUNTER_FIELDS(MI_STATS_MERGE_COUNTER)
#undef MI_STATS_MERGE_COUNT
#undef MI_STATS_MERGE_COUNTER
  for (size_t i = 0; i < MI_STAT_BINS; i++) mi_stats_count_merge(&_mi_stats_main.normal_bins[i], &stats->normal_bins[i]);
  memset(stats, 0, sizeof(*stats));
}

/* The calling thread's own statistics, or NULL when it never allocated. */
static mi_stats_t* mi_stats_of_thread(void) {
  mi_heap_t* heap = mi_prim_get_default_heap();
  return (mi_heap_is_initialized(heap) ? &heap->tld->stats : NULL);
}

void mi_stats_merge(void) mi_attr_noexcept { _mi_stats_done(mi_stats_of_thread()); }

/* Totals, peaks and counters restart from now, but `current` (what is live) stays: zeroing it
 * would make every later decrease of memory that already exists drive it negative. */
static void mi_stats_count_reset(mi_stat_count_t* stat) {
  int64_t current = __atomic_load_n(&stat->current, __ATOMIC_RELAXED);
  __atomic_store_n(&stat->total, (current > 0 ? current : 0), __ATOMIC_RELAXED);
  __atomic_store_n(&stat->peak, current, __ATOMIC_RELAXED);
}

void mi_stats_reset(void) mi_attr_noexcept {
  mi_stats_merge(); /* the calling thread's numbers are now in main (and its own are zero) */
#define MI_STATS_RESET_COUNT(f) mi_stats_count_reset(&_mi_stats_main.f);
#define MI_STATS_RESET_COUNTER(f) __atomic_store_n(&_mi_stats_main.f.total, 0, __ATOMIC_RELAXED);
  MI_STATS_COUNT_FIELDS(MI_STATS_RESET_COUNT)
  MI_STATS_COUNTER_FIELDS(MI_STATS_RESET_COUNTER)
#undef MI_STATS_RESET_COUNT
#undef MI_STATS_RESET_COUNTER
  for (size_t i = 0; i < MI_STAT_BINS; i++) mi_stats_count_reset(&_mi_stats_main.normal_bins[i]);
}

/* ---- Copying out ------------------------------------------------------------------------- */

static void mi_stats_count_load(mi_stat_count_t* dst, const mi_stat_count_t* src) {
  dst->total = __atomic_load_n(&src->total, __ATOMIC_RELAXED);
  dst->peak = __atomic_load_n(&src->peak, __ATOMIC_RELAXED);
  dst->current = __atomic_load_n(&src->current, __ATOMIC_RELAXED);
}

/* A field-by-field snapshot of main: each field is read whole (no torn values), though fields
 * may come from slightly different moments while other threads merge. */
static void mi_stats_main_snapshot(mi_stats_t* dst) {
  memset(dst, 0, sizeof(*dst));
  dst->size = sizeof(mi_stats_t);
  dst->version = MI_STAT_VERSION;
#define MI_STATS_LOAD_COUNT(f) mi_stats_count_load(&dst->f, &_mi_stats_main.f);
#define MI_STATS_LOAD_COUNTER(f) dst->f.total = __atomic_load_n(&_mi_stats_main.f.total, __ATOMIC_RELAXED);
  MI_STATS_COUNT_FIELDS(MI_STATS_LOAD_COUNT)
  MI_STATS_COUNTER_FIELDS(MI_STATS_LOAD_COUNTER)
#undef MI_STATS_LOAD_COUNT
#undef MI_STATS_LOAD_COUNTER
  for (size_t i = 0; i < MI_STAT_BINS; i++) mi_stats_count_load(&dst->normal_bins[i], &_mi_stats_main.normal_bins[i]);
}

/* `size` says how much this library knows (sizeof its mi_stats_t); a caller built against a
 * newer, larger struct finds the part we do not know zeroed. */
void mi_stats_get(size_t stats_size, mi_stats_t* stats) mi_attr_noexcept {
  if (stats == NULL || stats_size == 0) return;
  mi_stats_merge();
  mi_stats_t snapshot;
  mi_stats_main_snapshot(&snapshot);
  size_t n = (stats_size < sizeof(snapshot) ? stats_size : sizeof(snapshot));
  memcpy(stats, &snapshot, n);
  if (stats_size > n) memset((uint8_t*)stats + n, 0, stats_size - n);
}

/* ---- Clock -------------------------------------------------------------------------------- */

/* The process start time; set once by the first caller (mi_process_init), 0 until then. */
static _Atomic(mi_msecs_t) mi_stats_clock_start;

mi_msecs_t _mi_clock_now(void) { return _mi_prim_clock_now(); }

mi_msecs_t _mi_clock_coarse(void) { return _mi_prim_clock_coarse(); }

mi_msecs_t _mi_clock_start(void) {
  mi_msecs_t start = mi_atomic_load_relaxed(&mi_stats_clock_start);
  if (mi_unlikely(start == 0)) {
    mi_msecs_t now = _mi_clock_now();
    /* two first callers race: the earlier store wins and both return it */
    if (mi_atomic_cas_strong_acq_rel(&mi_stats_clock_start, &start, now)) start = now;
  }
  return start;
}

/* ---- Process information ---------------------------------------------------------------- */

void mi_process_info(size_t* elapsed_msecs, size_t* user_msecs, size_t* system_msecs, size_t* current_rss,
                     size_t* peak_rss, size_t* current_commit, size_t* peak_commit, size_t* page_faults) mi_attr_noexcept {
  mi_process_info_t pinfo;
  memset(&pinfo, 0, sizeof(pinfo));
  _mi_prim_process_info(&pinfo);
  mi_msecs_t elapsed = _mi_clock_now() - _mi_clock_start();
  /* Commit: main plus what the calling thread has not merged yet, read without merging it, so
   * asking has no side effect on the thread's own statistics. */
  int64_t commit = __atomic_load_n(&_mi_stats_main.committed.current, __ATOMIC_RELAXED);
  int64_t commit_peak = __atomic_load_n(&_mi_stats_main.committed.peak, __ATOMIC_RELAXED);
  const mi_stats_t* mine = mi_stats_of_thread();
  if (mine != NULL) commit += mine->committed.current;
  if (commit > commit_peak) commit_peak = commit;
  if (elapsed_msecs != NULL) *elapsed_msecs = (size_t)(elapsed < 0 ? 0 : elapsed);
  if (user_msecs != NULL) *user_msecs = (size_t)(pinfo.utime < 0 ? 0 : pinfo.utime);
  if (system_msecs != NULL) *system_msecs = (size_t)(pinfo.stime < 0 ? 0 : pinfo.stime);
  /* The kernel updates its high-water mark lazily (Linux: ru_maxrss at its own accounting
   * points), so a fresh current reading can be above it; a peak is never below what is live. */
  size_t rss_peak = (pinfo.peak_rss > pinfo.current_rss ? pinfo.peak_rss : pinfo.current_rss);
  if (current_rss != NULL) *current_rss = pinfo.current_rss;
  if (peak_rss != NULL) *peak_rss = rss_peak;
  if (current_commit != NULL) *current_commit = (size_t)(commit < 0 ? 0 : commit);
  if (peak_commit != NULL) *peak_commit = (size_t)(commit_peak < 0 ? 0 : commit_peak);
  if (page_faults != NULL) *page_faults = pinfo.page_faults;
}

typedef struct mi_stats_process_s {
  size_t elapsed, utime, stime, rss, peak_rss, commit, peak_commit, faults;
} mi_stats_process_t;

static void mi_stats_process_get(mi_stats_process_t* p) {
  mi_process_info(&p->elapsed, &p->utime, &p->stime, &p->rss, &p->peak_rss, &p->commit, &p->peak_commit, &p->faults);
}

/* ---- Text report -------------------------------------------------------------------------- */

/* `n` as text: bytes with a binary unit and one decimal ("12.5 MiB", "512 B"), counts bare. */
static void mi_stats_fmt(char* buf, size_t size, int64_t n, bool bytes) {
  const char* sign = (n < 0 ? "-" : "");
  uint64_t a = (n < 0 ? (uint64_t)(-(n + 1)) + 1 : (uint64_t)n); /* |n| without overflow at INT64_MIN */
  if (!bytes) {
    snprintf(buf, size, "%s%llu", sign, (unsigned long long)a);
    return;
  }
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  size_t u = 0;
  uint64_t div = 1;
  while (u + 1 < sizeof(units) / sizeof(units[0]) && a >= div * 1024) {
    div *= 1024;
    u++;
  }
  if (u == 0) {
    snprintf(buf, size, "%s%llu B", sign, (unsigned long long)a);
  } else {
    uint64_t tenths = ((a % div) * 10) / div; /* a % div < 2^50: no overflow */
    snprintf(buf, size, "%s%llu.%llu %s", sign, (unsigned long long)(a / div), (unsigned long long)tenths, units[u]);
  }
}

static void mi_stats_print_count(mi_output_fun* out, void* arg, const char* label, const mi_stat_count_t* stat, bool bytes) {
  char cur[64], peak[64], total[64];
  mi_stats_fmt(cur, sizeof(cur), stat->current, bytes);
  mi_stats_fmt(peak, sizeof(peak), stat->peak, bytes);
  mi_stats_fmt(total, sizeof(total), stat->total, bytes);
  _mi_fprintf(out, arg, "%-26s %13s %13s %13s\n", label, cur, peak, total);
}

static void mi_stats_print_counter(mi_output_fun* out, void* arg, const char* label, const mi_stat_counter_t* stat) {
  char total[64];
  mi_stats_fmt(total, sizeof(total), stat->total, false);
  _mi_fprintf(out, arg, "%-26s %13s %13s %13s\n", label, "", "", total);
}

static void mi_stats_print_msecs(char* buf, size_t size, size_t msecs) {
  snprintf(buf, size, "%zu.%03zu s", msecs / 1000, msecs % 1000);
}

/* The whole report for one mi_stats_t (main or a thread's), then the process facts. */
static void mi_stats_print_of(const mi_stats_t* st, const char* title, mi_output_fun* out, void* arg) {
  _mi_fprintf(out, arg, "%-26s %13s %13s %13s\n", title, "current", "peak", "total");
  mi_stats_print_count(out, arg, "reserved", &st->reserved, true);
  mi_stats_print_count(out, arg, "committed", &st->committed, true);
  mi_stats_print_count(out, arg, "purged", &st->purged, true);
  mi_stats_print_count(out, arg, "normal blocks (in pages)", &st->normal, true);
  mi_stats_print_count(out, arg, "huge blocks", &st->huge, true);
#if MI_STAT > 1
  mi_stats_print_count(out, arg, "requested", &st->malloc_requested, true);
#endif
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
  mi_stats_print_counter(out, arg, "pages kept (not retired)", &st->page_no_retire);
#if MI_STAT > 1
  mi_stats_print_counter(out, arg, "normal blocks handed out", &st->normal_count);
#else
  /* counting them would cost the fast path an add; a 0 here would read as a count */
  _mi_fprintf(out, arg, "%-26s %41s\n", "normal blocks handed out", "not counted (debug builds only)");
#endif
  mi_stats_print_counter(out, arg, "huge blocks handed out", &st->huge_count);

  bool header = false;
  for (size_t bin = 0; bin < MI_STAT_BINS; bin++) {
    const mi_stat_count_t* b = &st->normal_bins[bin];
    if (b->total == 0 && b->current == 0) continue;
    if (!header) {
      _mi_fprintf(out, arg, "pages per size class:\n");
      header = true;
    }
    char label[96];
    if (bin >= 1 && bin < MI_BIN_HUGE) {
      char size[64];
      mi_stats_fmt(size, sizeof(size), (int64_t)_mi_bin_size(bin), true);
      snprintf(label, sizeof(label), "  bin %3zu: %s", bin, size);
    } else {
      snprintf(label, sizeof(label), "  bin %3zu: %s", bin, bin == MI_BIN_HUGE ? "huge" : "other");
    }
    mi_stats_print_count(out, arg, label, b, false);
  }

  mi_stats_process_t p;
  mi_stats_process_get(&p);
  char elapsed[64], user[64], sys[64], rss[64], peak_rss[64], commit[64], peak_commit[64];
  mi_stats_print_msecs(elapsed, sizeof(elapsed), p.elapsed);
  mi_stats_print_msecs(user, sizeof(user), p.utime);
  mi_stats_print_msecs(sys, sizeof(sys), p.stime);
  mi_stats_fmt(rss, sizeof(rss), (int64_t)p.rss, true);
  mi_stats_fmt(peak_rss, sizeof(peak_rss), (int64_t)p.peak_rss, true);
  mi_stats_fmt(commit, sizeof(commit), (int64_t)p.commit, true);
  mi_stats_fmt(peak_commit, sizeof(peak_commit), (int64_t)p.peak_commit, true);
  _mi_fprintf(out, arg, "process: elapsed %s, user %s, system %s, page faults %zu\n", elapsed, user, sys, p.faults);
  _mi_fprintf(out, arg, "process: rss %s (peak %s), committed %s (peak %s)\n", rss, peak_rss, commit, peak_commit);
}

void mi_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept {
  mi_stats_t st;
  mi_stats_get(sizeof(st), &st);
  mi_stats_print_of(&st, "mimalloc-rs statistics", out, arg);
}

void mi_stats_print(void* out) mi_attr_noexcept { mi_stats_print_out((mi_output_fun*)out, NULL); }

/* The calling thread's unmerged numbers: what it did since it started or last merged. */
void mi_thread_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept {
  mi_stats_t copy;
  const mi_stats_t* mine = mi_stats_of_thread();
  if (mine != NULL) copy = *mine;
  else memset(&copy, 0, sizeof(copy));
  mi_stats_print_of(&copy, "mimalloc-rs thread statistics", out, arg);
}

/* ---- JSON --------------------------------------------------------------------------------- */

/* A bounded writer that keeps counting past the end, so a first pass with no buffer measures
 * the text and a second pass writes it. */
typedef struct mi_stats_json_s {
  char* buf;
  size_t size; /* bytes available at buf (0 while measuring) */
  size_t len;  /* bytes the text needs so far, without the terminator */
} mi_stats_json_t;

static void mi_stats_json_printf(mi_stats_json_t* j, const char* fmt, ...) mi_attr_printf(2, 3);
static void mi_stats_json_printf(mi_stats_json_t* j, const char* fmt, ...) {
  size_t room = (j->len < j->size ? j->size - j->len : 0);
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(room > 0 ? j->buf + j->len : NULL, room, fmt, args);
  va_end(args);
  if (n > 0) j->len += (size_t)n;
}

static void mi_stats_json_count(mi_stats_json_t* j, const char* name, const mi_stat_count_t* c) {
  mi_stats_json_printf(j, "  \"%s\": {\"total\": %lld, \"peak\": %lld, \"current\": %lld},\n", name, (long long)c->total,
                       (long long)c->peak, (long long)c->current);
}

static void mi_stats_json_int(mi_stats_json_t* j, const char* name, int64_t n) {
  mi_stats_json_printf(j, "  \"%s\": %lld,\n", name, (long long)n);
}

/* The pages a size class is cut from (0 for bins that are no size class). */
static size_t mi_stats_bin_page_size(size_t bin) {
  if (bin < 1 || bin >= MI_BIN_HUGE) return 0;
  size_t bsize = _mi_bin_size(bin);
  if (bsize <= MI_SMALL_OBJ_SIZE_MAX) return MI_SMALL_PAGE_SIZE;
  if (bsize <= MI_MEDIUM_OBJ_SIZE_MAX) return MI_MEDIUM_PAGE_SIZE;
  return MI_SEGMENT_SIZE;
}

static void mi_stats_json_bins(mi_stats_json_t* j, const char* name, const mi_stat_count_t* bins, bool last) {
  mi_stats_json_printf(j, "  \"%s\": [\n", name);
  static const mi_stat_count_t zero;
  for (size_t bin = 0; bin <= MI_BIN_HUGE; bin++) {
    const mi_stat_count_t* b = (bins != NULL ? &bins[bin] : &zero);
    mi_stats_json_printf(j, "    {\"total\": %lld, \"peak\": %lld, \"current\": %lld, \"block_size\": %zu, \"page_size\": %zu}%s\n",
                         (long long)b->total, (long long)b->peak, (long long)b->current, mi_stats_bin_block_size(bin),
                         mi_stats_bin_page_size(bin), bin < MI_BIN_HUGE ? "," : "");
  }
  mi_stats_json_printf(j, "  ]%s\n", last ? "" : ",");
}

/* Upstream v2.4's document (stat_version 4): the same keys in the same order, nesting and units
 * (bytes, milliseconds, plain counts), so a consumer written for it reads ours. What this
 * allocator does not count reads as 0: `reset`, `commit_calls` and `reset_calls` (purges and
 * decommits are counted together, as `purged` and `purge_calls`), the arena keys
 * (`arena_count`, `arena_rollback_count`, `arena_purges`), `malloc_guarded_count`,
 * `pages_extended`, `pages_retire`, `page_searches_count`, `_segments_reserved`, the page
 * reclaim and re-abandon counters (we adopt whole segments: mi_stats_get's `reclaimed`) and
 * `malloc_bins` (blocks per size class are not counted; the entries still carry each class's
 * sizes). `page_committed` and `malloc_normal` are both the bytes of small, medium and large
 * pages in use (counted per page). Bins are ours, one entry per size class up to and including
 * the huge bin: more entries than upstream's 74, as the size classes are finer. */
static void mi_stats_json_render(mi_stats_json_t* j, const mi_stats_t* st, const mi_stats_process_t* p) {
  static const mi_stat_count_t none;
  mi_stats_json_printf(j, "{\n  \"stat_version\": 4,\n  \"mimalloc_version\": %d,\n", mi_version());
  mi_stats_json_printf(j,
                       "  \"process\": {\"elapsed_msecs\": %zu, \"user_msecs\": %zu, \"system_msecs\": %zu, "
                       "\"page_faults\": %zu, \"rss_current\": %zu, \"rss_peak\": %zu, \"commit_current\": %zu, "
                       "\"commit_peak\": %zu},\n",
                       p->elapsed, p->utime, p->stime, p->faults, p->rss, p->peak_rss, p->commit, p->peak_commit);
  mi_stats_json_count(j, "pages", &st->pages);
  mi_stats_json_count(j, "reserved", &st->reserved);
  mi_stats_json_count(j, "committed", &st->committed);
  mi_stats_json_int(j, "reset", 0);
  mi_stats_json_int(j, "purged", st->purged.total);
  mi_stats_json_count(j, "page_committed", &st->normal);
  mi_stats_json_count(j, "pages_abandoned", &st->pages_abandoned);
  mi_stats_json_count(j, "threads", &st->threads);
  mi_stats_json_count(j, "malloc_normal", &st->normal);
  mi_stats_json_count(j, "malloc_huge", &st->huge);
  mi_stats_json_count(j, "malloc_requested", &st->malloc_requested);
  mi_stats_json_int(j, "mmap_calls", st->mmap_calls.total);
  mi_stats_json_int(j, "commit_calls", 0);
  mi_stats_json_int(j, "reset_calls", 0);
  mi_stats_json_int(j, "purge_calls", st->purge_calls.total);
  mi_stats_json_int(j, "arena_count", 0);
  mi_stats_json_int(j, "malloc_normal_count", st->normal_count.total);
  mi_stats_json_int(j, "malloc_huge_count", st->huge_count.total);
  mi_stats_json_int(j, "malloc_guarded_count", 0);
  mi_stats_json_int(j, "arena_rollback_count", 0);
  mi_stats_json_int(j, "arena_purges", 0);
  mi_stats_json_int(j, "pages_extended", 0);
  mi_stats_json_int(j, "pages_retire", 0);
  mi_stats_json_int(j, "page_searches", st->searches.total);
  mi_stats_json_int(j, "page_searches_count", 0);
  mi_stats_json_count(j, "segments", &st->segments);
  mi_stats_json_count(j, "segments_abandoned", &st->segments_abandoned);
  mi_stats_json_count(j, "segments_cache", &st->segments_cache);
  mi_stats_json_count(j, "_segments_reserved", &none);
  mi_stats_json_int(j, "pages_reclaim_on_alloc", 0);
  mi_stats_json_int(j, "pages_reclaim_on_free", 0);
  mi_stats_json_int(j, "pages_reabandon_full", 0);
  mi_stats_json_int(j, "pages_unabandon_busy_wait", 0);
  mi_stats_json_bins(j, "malloc_bins", NULL, false);
  mi_stats_json_bins(j, "page_bins", st->normal_bins, true);
  mi_stats_json_printf(j, "}\n");
}

char* mi_stats_get_json(size_t buf_size, char* buf) mi_attr_noexcept {
  mi_stats_t st;
  mi_stats_get(sizeof(st), &st);
  mi_stats_process_t p;
  mi_stats_process_get(&p);
  /* Both passes render the same snapshot, so the measured length is the written length. */
  mi_stats_json_t measure = {NULL, 0, 0};
  mi_stats_json_render(&measure, &st, &p);
  char* out = buf;
  if (out == NULL || buf_size < measure.len + 1) {
    out = (char*)mi_malloc(measure.len + 1);
    if (out == NULL) return NULL;
  }
  mi_stats_json_t write = {out, measure.len + 1, 0};
  mi_stats_json_render(&write, &st, &p);
  return out;
}

#undef MI_STATS_ONE

size_t mi_stats_bin_block_size(size_t bin) mi_attr_noexcept {
  return (bin >= 1 && bin < MI_BIN_HUGE ? _mi_bin_size(bin) : 0);
}
