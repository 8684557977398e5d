/* SPDX-License-Identifier: MIT
 * Options and all message output. Each option is read once, lazily, from MIMALLOC_<NAME> (or
 * its legacy name) by scanning the environment without allocating; a build may bake in other
 * defaults with -DMI_DEFAULT_<NAME>=value. Messages are formatted into stack buffers and go to
 * the registered output function: nothing here ever allocates through the allocator. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>

typedef enum mi_option_init_e { MI_OPTION_UNINIT, MI_OPTION_DEFAULTED, MI_OPTION_INITIALIZED } mi_option_init_t;

typedef struct mi_option_desc_s {
  long value;            /* current value */
  mi_option_init_t init; /* where the value came from */
  mi_option_t option;    /* for checking the table order */
  const char* name;      /* as in the enum, without the "mi_option_" prefix */
  const char* legacy;    /* older name, or NULL */
  bool is_size;          /* value in KiB; the environment may say 4MiB */
} mi_option_desc_t;

#if MI_DEBUG > 0 || MI_SECURE > 0
#define MI_SHOW_ERRORS_DEFAULT 1 /* unlike upstream's secure release builds, we report by default */
#else
#define MI_SHOW_ERRORS_DEFAULT 0
#endif

/* Defaults; a build may replace any of them with -DMI_DEFAULT_<NAME>=value (size options in KiB). */
#ifndef MI_DEFAULT_SHOW_ERRORS
#define MI_DEFAULT_SHOW_ERRORS MI_SHOW_ERRORS_DEFAULT
#endif
#ifndef MI_DEFAULT_SHOW_STATS
#define MI_DEFAULT_SHOW_STATS 0
#endif
#ifndef MI_DEFAULT_VERBOSE
#define MI_DEFAULT_VERBOSE 0
#endif
#ifndef MI_DEFAULT_EAGER_COMMIT
#define MI_DEFAULT_EAGER_COMMIT 1
#endif
#ifndef MI_DEFAULT_ARENA_EAGER_COMMIT
#define MI_DEFAULT_ARENA_EAGER_COMMIT 2
#endif
#ifndef MI_DEFAULT_PURGE_DECOMMITS
#define MI_DEFAULT_PURGE_DECOMMITS 1
#endif
#ifndef MI_DEFAULT_ALLOW_LARGE_OS_PAGES
#define MI_DEFAULT_ALLOW_LARGE_OS_PAGES 0
#endif
#ifndef MI_DEFAULT_RESERVE_HUGE_OS_PAGES
#define MI_DEFAULT_RESERVE_HUGE_OS_PAGES 0
#endif
#ifndef MI_DEFAULT_RESERVE_HUGE_OS_PAGES_AT
#define MI_DEFAULT_RESERVE_HUGE_OS_PAGES_AT -1
#endif
#ifndef MI_DEFAULT_RESERVE_OS_MEMORY
#define MI_DEFAULT_RESERVE_OS_MEMORY 0
#endif
#ifndef MI_DEFAULT_DEPRECATED_SEGMENT_CACHE
#define MI_DEFAULT_DEPRECATED_SEGMENT_CACHE 0
#endif
#ifndef MI_DEFAULT_DEPRECATED_PAGE_RESET
#define MI_DEFAULT_DEPRECATED_PAGE_RESET 0
#endif
#ifndef MI_DEFAULT_ABANDONED_PAGE_PURGE
#define MI_DEFAULT_ABANDONED_PAGE_PURGE 0
#endif
#ifndef MI_DEFAULT_DEPRECATED_SEGMENT_RESET
#define MI_DEFAULT_DEPRECATED_SEGMENT_RESET 0
#endif
#ifndef MI_DEFAULT_EAGER_COMMIT_DELAY
#define MI_DEFAULT_EAGER_COMMIT_DELAY 1
#endif
#ifndef MI_DEFAULT_PURGE_DELAY
#define MI_DEFAULT_PURGE_DELAY 10
#endif
#ifndef MI_DEFAULT_USE_NUMA_NODES
#define MI_DEFAULT_USE_NUMA_NODES 0
#endif
#ifndef MI_DEFAULT_DISALLOW_OS_ALLOC
#define MI_DEFAULT_DISALLOW_OS_ALLOC 0
#endif
#ifndef MI_DEFAULT_OS_TAG
#define MI_DEFAULT_OS_TAG 100
#endif
#ifndef MI_DEFAULT_MAX_ERRORS
#define MI_DEFAULT_MAX_ERRORS 16
#endif
#ifndef MI_DEFAULT_MAX_WARNINGS
#define MI_DEFAULT_MAX_WARNINGS 16
#endif
#ifndef MI_DEFAULT_MAX_SEGMENT_RECLAIM
#define MI_DEFAULT_MAX_SEGMENT_RECLAIM 10
#endif
#ifndef MI_DEFAULT_DESTROY_ON_EXIT
#define MI_DEFAULT_DESTROY_ON_EXIT 0
#endif
#ifndef MI_DEFAULT_ARENA_RESERVE
#define MI_DEFAULT_ARENA_RESERVE (1024L * 1024L)
#endif
#ifndef MI_DEFAULT_ARENA_PURGE_MULT
#define MI_DEFAULT_ARENA_PURGE_MULT 10
#endif
#ifndef MI_DEFAULT_PURGE_EXTEND_DELAY
#define MI_DEFAULT_PURGE_EXTEND_DELAY 1
#endif
#ifndef MI_DEFAULT_ABANDONED_RECLAIM_ON_FREE
#define MI_DEFAULT_ABANDONED_RECLAIM_ON_FREE 0
#endif
#ifndef MI_DEFAULT_DISALLOW_ARENA_ALLOC
#define MI_DEFAULT_DISALLOW_ARENA_ALLOC 0
#endif
#ifndef MI_DEFAULT_RETRY_ON_OOM
#define MI_DEFAULT_RETRY_ON_OOM 400
#endif
#ifndef MI_DEFAULT_VISIT_ABANDONED
#define MI_DEFAULT_VISIT_ABANDONED 0
#endif
#ifndef MI_DEFAULT_GUARDED_MIN
#define MI_DEFAULT_GUARDED_MIN 0
#endif
#ifndef MI_DEFAULT_GUARDED_MAX
#define MI_DEFAULT_GUARDED_MAX 0
#endif
#ifndef MI_DEFAULT_GUARDED_PRECISE
#define MI_DEFAULT_GUARDED_PRECISE 0
#endif
#ifndef MI_DEFAULT_GUARDED_SAMPLE_RATE
#define MI_DEFAULT_GUARDED_SAMPLE_RATE 0
#endif
#ifndef MI_DEFAULT_GUARDED_SAMPLE_SEED
#define MI_DEFAULT_GUARDED_SAMPLE_SEED 0
#endif
#ifndef MI_DEFAULT_TARGET_SEGMENTS_PER_THREAD
#define MI_DEFAULT_TARGET_SEGMENTS_PER_THREAD 0
#endif

static mi_option_desc_t mi_options[_mi_option_last] = {
  [mi_option_show_errors] = {MI_DEFAULT_SHOW_ERRORS, MI_OPTION_UNINIT, mi_option_show_errors, "show_errors", NULL, false},
  [mi_option_show_stats] = {MI_DEFAULT_SHOW_STATS, MI_OPTION_UNINIT, mi_option_show_stats, "show_stats", NULL, false},
  [mi_option_verbose] = {MI_DEFAULT_VERBOSE, MI_OPTION_UNINIT, mi_option_verbose, "verbose", NULL, false},
  [mi_option_eager_commit] = {MI_DEFAULT_EAGER_COMMIT, MI_OPTION_UNINIT, mi_option_eager_commit, "eager_commit", NULL, false},
  [mi_option_arena_eager_commit] = {MI_DEFAULT_ARENA_EAGER_COMMIT, MI_OPTION_UNINIT, mi_option_arena_eager_commit, "arena_eager_commit", "eager_region_commit", false},
  [mi_option_purge_decommits] = {MI_DEFAULT_PURGE_DECOMMITS, MI_OPTION_UNINIT, mi_option_purge_decommits, "purge_decommits", "reset_decommits", false},
  [mi_option_allow_large_os_pages] = {MI_DEFAULT_ALLOW_LARGE_OS_PAGES, MI_OPTION_UNINIT, mi_option_allow_large_os_pages, "allow_large_os_pages", "large_os_pages", false},
  [mi_option_reserve_huge_os_pages] = {MI_DEFAULT_RESERVE_HUGE_OS_PAGES, MI_OPTION_UNINIT, mi_option_reserve_huge_os_pages, "reserve_huge_os_pages", NULL, false},
  [mi_option_reserve_huge_os_pages_at] = {MI_DEFAULT_RESERVE_HUGE_OS_PAGES_AT, MI_OPTION_UNINIT, mi_option_reserve_huge_os_pages_at, "reserve_huge_os_pages_at", NULL, false},
  [mi_option_reserve_os_memory] = {MI_DEFAULT_RESERVE_OS_MEMORY, MI_OPTION_UNINIT, mi_option_reserve_os_memory, "reserve_os_memory", NULL, true},
  [mi_option_deprecated_segment_cache] = {MI_DEFAULT_DEPRECATED_SEGMENT_CACHE, MI_OPTION_UNINIT, mi_option_deprecated_segment_cache, "deprecated_segment_cache", NULL, false},
  [mi_option_deprecated_page_reset] = {MI_DEFAULT_DEPRECATED_PAGE_RESET, MI_OPTION_UNINIT, mi_option_deprecated_page_reset, "deprecated_page_reset", NULL, false},
  [mi_option_abandoned_page_purge] = {MI_DEFAULT_ABANDONED_PAGE_PURGE, MI_OPTION_UNINIT, mi_option_abandoned_page_purge, "abandoned_page_purge", "abandoned_page_reset", false},
  [mi_option_deprecated_segment_reset] = {MI_DEFAULT_DEPRECATED_SEGMENT_RESET, MI_OPTION_UNINIT, mi_option_deprecated_segment_reset, "deprecated_segment_reset", NULL, false},
  [mi_option_eager_commit_delay] = {MI_DEFAULT_EAGER_COMMIT_DELAY, MI_OPTION_UNINIT, mi_option_eager_commit_delay, "eager_commit_delay", NULL, false},
  [mi_option_purge_delay] = {MI_DEFAULT_PURGE_DELAY, MI_OPTION_UNINIT, mi_option_purge_delay, "purge_delay", "reset_delay", false},
  [mi_option_use_numa_nodes] = {MI_DEFAULT_USE_NUMA_NODES, MI_OPTION_UNINIT, mi_option_use_numa_nodes, "use_numa_nodes", NULL, false},
  [mi_option_disallow_os_alloc] = {MI_DEFAULT_DISALLOW_OS_ALLOC, MI_OPTION_UNINIT, mi_option_disallow_os_alloc, "disallow_os_alloc", "limit_os_alloc", false},
  [mi_option_os_tag] = {MI_DEFAULT_OS_TAG, MI_OPTION_UNINIT, mi_option_os_tag, "os_tag", NULL, false},
  [mi_option_max_errors] = {MI_DEFAULT_MAX_ERRORS, MI_OPTION_UNINIT, mi_option_max_errors, "max_errors", NULL, false},
  [mi_option_max_warnings] = {MI_DEFAULT_MAX_WARNINGS, MI_OPTION_UNINIT, mi_option_max_warnings, "max_warnings", NULL, false},
  [mi_option_max_segment_reclaim] = {MI_DEFAULT_MAX_SEGMENT_RECLAIM, MI_OPTION_UNINIT, mi_option_max_segment_reclaim, "max_segment_reclaim", NULL, false},
  [mi_option_destroy_on_exit] = {MI_DEFAULT_DESTROY_ON_EXIT, MI_OPTION_UNINIT, mi_option_destroy_on_exit, "destroy_on_exit", NULL, false},
  [mi_option_arena_reserve] = {MI_DEFAULT_ARENA_RESERVE, MI_OPTION_UNINIT, mi_option_arena_reserve, "arena_reserve", NULL, true},
  [mi_option_arena_purge_mult] = {MI_DEFAULT_ARENA_PURGE_MULT, MI_OPTION_UNINIT, mi_option_arena_purge_mult, "arena_purge_mult", NULL, false},
  [mi_option_purge_extend_delay] = {MI_DEFAULT_PURGE_EXTEND_DELAY, MI_OPTION_UNINIT, mi_option_purge_extend_delay, "purge_extend_delay", NULL, false},
  [mi_option_abandoned_reclaim_on_free] = {MI_DEFAULT_ABANDONED_RECLAIM_ON_FREE, MI_OPTION_UNINIT, mi_option_abandoned_reclaim_on_free, "abandoned_reclaim_on_free", NULL, false},
  [mi_option_disallow_arena_alloc] = {MI_DEFAULT_DISALLOW_ARENA_ALLOC, MI_OPTION_UNINIT, mi_option_disallow_arena_alloc, "disallow_arena_alloc", NULL, false},
  [mi_option_retry_on_oom] = {MI_DEFAULT_RETRY_ON_OOM, MI_OPTION_UNINIT, mi_option_retry_on_oom, "retry_on_oom", NULL, false},
  [mi_option_visit_abandoned] = {MI_DEFAULT_VISIT_ABANDONED, MI_OPTION_UNINIT, mi_option_visit_abandoned, "visit_abandoned", NULL, false},
  [mi_option_guarded_min] = {MI_DEFAULT_GUARDED_MIN, MI_OPTION_UNINIT, mi_option_guarded_min, "guarded_min", NULL, false},
  [mi_option_guarded_max] = {MI_DEFAULT_GUARDED_MAX, MI_OPTION_UNINIT, mi_option_guarded_max, "guarded_max", NULL, false},
  [mi_option_guarded_precise] = {MI_DEFAULT_GUARDED_PRECISE, MI_OPTION_UNINIT, mi_option_guarded_precise, "guarded_precise", NULL, false},
  [mi_option_guarded_sample_rate] = {MI_DEFAULT_GUARDED_SAMPLE_RATE, MI_OPTION_UNINIT, mi_option_guarded_sample_rate, "guarded_sample_rate", NULL, false},
  [mi_option_guarded_sample_seed] = {MI_DEFAULT_GUARDED_SAMPLE_SEED, MI_OPTION_UNINIT, mi_option_guarded_sample_seed, "guarded_sample_seed", NULL, false},
  [mi_option_target_segments_per_thread] = {MI_DEFAULT_TARGET_SEGMENTS_PER_THREAD, MI_OPTION_UNINIT, mi_option_target_segments_per_thread, "target_segments_per_thread", NULL, false},
};

_Static_assert(sizeof(mi_options) / sizeof(mi_options[0]) == _mi_option_last, "one table entry per option");

static bool mi_options_valid(mi_option_t option) { return (int)option >= 0 && option < _mi_option_last; }

/* ---- Parsing ---------------------------------------------------------------------------------- */

static char mi_options_toupper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }

static bool mi_options_streq_nocase(const char* a, const char* b) {
  while (*a != 0 && *b != 0) {
    if (mi_options_toupper(*a) != mi_options_toupper(*b)) return false;
    a++;
    b++;
  }
  return *a == 0 && *b == 0;
}

/* Parse `s` into *value: an integer, a boolean word, or (for size options) a size with K/M/G.
 * Size options are kept in KiB. */
static bool mi_options_parse(const char* s, bool is_size, long* value) {
  if (mi_options_streq_nocase(s, "1") || mi_options_streq_nocase(s, "TRUE") || mi_options_streq_nocase(s, "YES") || mi_options_streq_nocase(s, "ON")) {
    *value = 1;
    return true;
  }
  if (mi_options_streq_nocase(s, "0") || mi_options_streq_nocase(s, "FALSE") || mi_options_streq_nocase(s, "NO") || mi_options_streq_nocase(s, "OFF")) {
    *value = 0;
    return true;
  }
  const char* p = s;
  bool neg = false;
  if (*p == '-') {
    neg = true;
    p++;
  }
  if (*p < '0' || *p > '9') return false;
  long v = 0;
  while (*p >= '0' && *p <= '9') {
    if (v > (LONG_MAX - 9) / 10) return false;
    v = v * 10 + (*p - '0');
    p++;
  }
  if (is_size) {
    long mult_kib = 0; /* value * mult_kib = KiB; a plain number is bytes */
    char u = mi_options_toupper(*p);
    if (u == 'K') mult_kib = 1;
    else if (u == 'M') mult_kib = 1024;
    else if (u == 'G') mult_kib = 1024 * 1024;
    else if (u == 0 || u == 'B') mult_kib = -1;
    else return false;
    if (u != 0) p++;
    if (mult_kib > 0 && mi_options_toupper(*p) == 'I') p++;
    if (mult_kib > 0 && mi_options_toupper(*p) == 'B') p++;
    else if (mult_kib < 0 && u == 'B') { /* already consumed */ }
    if (*p != 0) return false;
    if (mult_kib < 0) v = (v + 1023) / 1024;
    else if (v > LONG_MAX / mult_kib) return false;
    else v *= mult_kib;
  } else if (*p != 0) {
    return false;
  }
  *value = (neg ? -v : v);
  return true;
}

static void mi_options_read_env(mi_option_desc_t* desc) {
  char name[64];
  char value[64];
  const char* names[2] = {desc->name, desc->legacy};
  for (int i = 0; i < 2; i++) {
    if (names[i] == NULL) continue;
    size_t len = strlen(names[i]);
    if (len + 10 > sizeof(name)) continue;
    memcpy(name, "MIMALLOC_", 9);
    for (size_t j = 0; j <= len; j++) name[9 + j] = mi_options_toupper(names[i][j]);
    if (!_mi_prim_getenv(name, value, sizeof(value))) continue;
    long v;
    if (value[0] != 0 && mi_options_parse(value, desc->is_size, &v)) {
      desc->value = v;
      desc->init = MI_OPTION_INITIALIZED;
    } else {
      desc->init = MI_OPTION_DEFAULTED; /* mark first: the warning reads options itself */
      _mi_warning_message("environment option %s has an invalid value \"%s\"; using the default %ld\n", name, value, desc->value);
    }
    if (i == 1 && desc->init == MI_OPTION_INITIALIZED) {
      _mi_warning_message("environment option %s is deprecated; use MIMALLOC_%s\n", name, desc->name);
    }
    return;
  }
  desc->init = MI_OPTION_DEFAULTED;
}

/* ---- Public option interface ------------------------------------------------------------------ */
/* Readers race only to store the same parsed value, so plain accesses suffice; `init` is written
 * last so a reader that sees it set also sees the value (on the targets we build for, stores
 * are not reordered with each other; a compiler barrier keeps the compiler from doing so). */

long mi_option_get(mi_option_t option) {
  if (!mi_options_valid(option)) return 0;
  mi_option_desc_t* desc = &mi_options[option];
  if (mi_unlikely(desc->init == MI_OPTION_UNINIT)) {
    mi_options_read_env(desc);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
  }
  return desc->value;
}

long mi_option_get_clamp(mi_option_t option, long min, long max) {
  long x = mi_option_get(option);
  return (x < min ? min : (x > max ? max : x));
}

size_t mi_option_get_size(mi_option_t option) {
  if (!mi_options_valid(option)) return 0;
  long x = mi_option_get(option);
  if (x < 0) return 0;
  return (mi_options[option].is_size ? (size_t)x * MI_KiB : (size_t)x);
}

void mi_option_set(mi_option_t option, long value) {
  if (!mi_options_valid(option)) return;
  mi_options[option].value = value;
  mi_options[option].init = MI_OPTION_INITIALIZED;
}

void mi_option_set_default(mi_option_t option, long value) {
  if (!mi_options_valid(option)) return;
  if (mi_options[option].init != MI_OPTION_INITIALIZED) {
    /* environment still wins: re-read it on the next get */
    mi_options[option].value = value;
    mi_options[option].init = MI_OPTION_UNINIT;
  }
}

bool mi_option_is_enabled(mi_option_t option) { return mi_option_get(option) != 0; }
void mi_option_set_enabled(mi_option_t option, bool enable) { mi_option_set(option, enable ? 1 : 0); }
void mi_option_set_enabled_default(mi_option_t option, bool enable) { mi_option_set_default(option, enable ? 1 : 0); }
void mi_option_enable(mi_option_t option) { mi_option_set_enabled(option, true); }
void mi_option_disable(mi_option_t option) { mi_option_set_enabled(option, false); }

void _mi_options_init(void) {
  for (int i = 0; i < _mi_option_last; i++) {
    long value = mi_option_get((mi_option_t)i); /* reads the environment once */
    (void)value;
  }
  if (!mi_option_is_enabled(mi_option_verbose)) return;
  for (int i = 0; i < _mi_option_last; i++) {
    const mi_option_desc_t* desc = &mi_options[i];
    _mi_verbose_message("option '%s': %ld%s\n", desc->name, desc->value, desc->is_size ? " KiB" : "");
  }
}

/* ---- Output ------------------------------------------------------------------------------------- */

static void mi_cdecl mi_options_out_stderr(const char* msg, void* arg) {
  (void)arg;
  if (msg != NULL && msg[0] != 0) _mi_prim_out_stderr(msg);
}

static _Atomic(mi_output_fun*) mi_out_default;
static _Atomic(void*) mi_out_arg;

void mi_register_output(mi_output_fun* out, void* arg) mi_attr_noexcept {
  mi_atomic_store_release(&mi_out_arg, arg);
  mi_atomic_store_release(&mi_out_default, out);
}

static mi_output_fun* mi_out_get_default(void** parg) {
  mi_output_fun* out = mi_atomic_load_acquire(&mi_out_default);
  *parg = mi_atomic_load_acquire(&mi_out_arg);
  return (out == NULL ? &mi_options_out_stderr : out);
}

/* An output callback that allocates and fails, or a message from inside a message, must not
 * loop: output on a thread already producing output is dropped. */
static mi_decl_thread bool mi_in_output;

void _mi_fputs(mi_output_fun* out, void* arg, const char* prefix, const char* msg) {
  if (mi_in_output) return;
  mi_in_output = true;
  if (out == NULL || (void*)out == (void*)stdout || (void*)out == (void*)stderr) out = mi_out_get_default(&arg);
  if (prefix != NULL) out(prefix, arg);
  out(msg, arg);
  mi_in_output = false;
}

static void mi_options_vfprintf(mi_output_fun* out, void* arg, const char* prefix, const char* fmt, va_list args) {
  char buf[512];
  if (fmt == NULL) return;
  vsnprintf(buf, sizeof(buf), fmt, args);
  _mi_fputs(out, arg, prefix, buf);
}

void _mi_fprintf(mi_output_fun* out, void* arg, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  mi_options_vfprintf(out, arg, NULL, fmt, args);
  va_end(args);
}

void _mi_message(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  mi_options_vfprintf(NULL, NULL, "mimalloc: ", fmt, args);
  va_end(args);
}

void _mi_verbose_message(const char* fmt, ...) {
  if (!mi_option_is_enabled(mi_option_verbose)) return;
  va_list args;
  va_start(args, fmt);
  mi_options_vfprintf(NULL, NULL, "mimalloc: ", fmt, args);
  va_end(args);
}

static _Atomic(long) mi_warning_count;
static _Atomic(long) mi_error_count;

/* Counted messages stop after the option's limit (negative = no limit). */
static bool mi_options_may_show(_Atomic(long)* count, mi_option_t max_option) {
  long max = mi_option_get(max_option);
  long n = mi_atomic_add_relaxed(count, 1);
  return max < 0 || n < max;
}

void _mi_warning_message(const char* fmt, ...) {
  if (!mi_option_is_enabled(mi_option_show_errors) && !mi_option_is_enabled(mi_option_verbose)) return;
  if (!mi_options_may_show(&mi_warning_count, mi_option_max_warnings)) return;
  va_list args;
  va_start(args, fmt);
  mi_options_vfprintf(NULL, NULL, "mimalloc: warning: ", fmt, args);
  va_end(args);
}

static _Atomic(mi_error_fun*) mi_error_handler;
static _Atomic(void*) mi_error_arg;

void mi_register_error(mi_error_fun* fun, void* arg) {
  mi_atomic_store_release(&mi_error_arg, arg);
  mi_atomic_store_release(&mi_error_handler, fun);
}

void _mi_error_message(int err, const char* fmt, ...) {
  if ((mi_option_is_enabled(mi_option_show_errors) || mi_option_is_enabled(mi_option_verbose)) &&
      mi_options_may_show(&mi_error_count, mi_option_max_errors)) {
    va_list args;
    va_start(args, fmt);
    char buf[512];
    vsnprintf(buf, sizeof(buf), fmt, args);
    va_end(args);
    size_t len = strlen(buf);
    if (len + 1 < sizeof(buf) && (len == 0 || buf[len - 1] != '\n')) {
      buf[len] = '\n';
      buf[len + 1] = 0;
    }
    _mi_fputs(NULL, NULL, "mimalloc: error: ", buf);
  }
  mi_error_fun* handler = mi_atomic_load_acquire(&mi_error_handler);
  if (handler != NULL) {
    handler(err, mi_atomic_load_acquire(&mi_error_arg));
  }
#if MI_DEBUG > 0
  else if (err == EFAULT) {
    abort(); /* corrupted memory in a debug build: stop at the scene */
  }
#endif
}
