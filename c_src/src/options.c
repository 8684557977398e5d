/* SPDX-License-Identifier: MIT
 * Options and every message the allocator prints. Each option is read once, lazily, from
 * MIMALLOC_<NAME> (or its legacy name); a build may bake in other defaults with
 * -DMI_DEFAULT_<NAME>=value. This file runs inside malloc, before any heap exists and while
 * heap corruption is being reported, so it must never allocate: environment values and
 * messages live in fixed stack buffers, and output goes straight to the registered hook. */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "options-parse.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>  /* vsnprintf; stdout/stderr only as identities (see mi_options_out_resolve) */
#include <stdlib.h> /* abort */

/* ---- Defaults ----------------------------------------------------------------------------- */
/* A build replaces any default with -DMI_DEFAULT_<UPPERNAME>=value (size options in KiB).
 * The preprocessor cannot test whether a pasted name is defined, so each default needs its
 * own #ifndef; the table (options.def) pastes the names so an entry cannot pick the wrong one,
 * and an option without a default here does not compile. */

#if MI_DEBUG > 0 || MI_SECURE > 0
#define MI_OPTIONS_SHOW_ERRORS_BUILD 1 /* debug and secure builds exist to be told about errors */
#else
#define MI_OPTIONS_SHOW_ERRORS_BUILD 0
#endif

#ifndef MI_DEFAULT_SHOW_ERRORS
#define MI_DEFAULT_SHOW_ERRORS MI_OPTIONS_SHOW_ERRORS_BUILD
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
#if defined(__linux__)
#define MI_DEFAULT_ALLOW_LARGE_OS_PAGES 2 /* transparent huge pages for huge blocks only */
#else
#define MI_DEFAULT_ALLOW_LARGE_OS_PAGES 0
#endif
#endif
#ifndef MI_DEFAULT_RESERVE_HUGE_OS_PAGES
#define MI_DEFAULT_RESERVE_HUGE_OS_PAGES 0
#endif
#ifndef MI_DEFAULT_RESERVE_HUGE_OS_PAGES_AT
#define MI_DEFAULT_RESERVE_HUGE_OS_PAGES_AT (-1)
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
#if UINTPTR_MAX == UINT32_MAX
#define MI_DEFAULT_ARENA_RESERVE (128L * 1024L) /* 128 MiB, in KiB: a 32-bit process has 3-4 GiB of address space */
#else
#define MI_DEFAULT_ARENA_RESERVE (1024L * 1024L) /* 1 GiB, in KiB */
#endif
#endif
/* 1, not upstream's 10: a freed segment's memory is purged after purge_delay (10 ms) like a
 * page's. With 10 (100 ms) the stress program's 8 churning threads held up to 231 MiB resident
 * for 4 MiB live, against 160 MiB with 1 (mimalloc-stress --seconds 25, both). */
#ifndef MI_DEFAULT_ARENA_PURGE_MULT
#define MI_DEFAULT_ARENA_PURGE_MULT 1
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
#ifndef MI_DEFAULT_GENERIC_COLLECT
#define MI_DEFAULT_GENERIC_COLLECT 10000
#endif
#ifndef MI_DEFAULT_ALLOW_THP
#define MI_DEFAULT_ALLOW_THP 1
#endif

/* ---- The option table --------------------------------------------------------------------- */

/* Where an option's value came from. Only the transition away from UNREAD matters for
 * correctness (it ends the lazy read); the rest is for the verbose listing and set_default. */
typedef enum mi_option_source_e {
  MI_OPTION_UNREAD = 0, /* environment not looked at yet; value is the default */
  MI_OPTION_DEFAULT,    /* environment looked at, nothing usable there; value is the default */
  MI_OPTION_ENV,        /* value from MIMALLOC_<NAME> */
  MI_OPTION_SET         /* value from mi_option_set */
} mi_option_source_t;

/* One option. `value` and `source` are atomics because any thread may do the first, lazy read
 * while another does the same: both parse the same environment and store the same value, and
 * `source` is published with release after `value`, so a reader that sees it past UNREAD
 * (acquire) also sees the value. Relaxed/acquire loads are plain moves on x86-64. */
typedef struct mi_option_desc_s {
  _Atomic(long) value;  /* current value (KiB for `in_kib` options) */
  _Atomic(int) source;  /* a mi_option_source_t */
  const char* name;     /* the enum member without "mi_option_" */
  const char* legacy;   /* the older name, or NULL */
  bool in_kib;          /* a size, kept in KiB so a 32-bit long still reaches terabytes */
  bool supported;       /* false: accepted for compatibility, has no effect in this build */
} mi_option_desc_t;

#define MI_OPTION_IN_KIB_NUM false
#define MI_OPTION_IN_KIB_KIB true

/* Options whose effect exists on some systems only. */
#if defined(__APPLE__)
#define MI_OPTION_OS_TAG_SUPPORTED true /* a VM tag on macOS mappings */
#else
#define MI_OPTION_OS_TAG_SUPPORTED false
#endif
#if defined(__linux__) || defined(_WIN32)
#define MI_OPTION_LARGE_PAGES_SUPPORTED true /* Linux: transparent huge pages; Windows: large pages */
#else
#define MI_OPTION_LARGE_PAGES_SUPPORTED false
#endif
#if defined(__linux__)
#define MI_OPTION_THP_SUPPORTED true /* MADV_NOHUGEPAGE */
#else
#define MI_OPTION_THP_SUPPORTED false
#endif

/* The entries come from options.def. Its `supported` column says whether the option does
 * anything in this build: an option implemented later flips it to true there (and its "not
 * supported" note in mimalloc.h and the docs goes); the rest is derived from it: the verbose
 * listing, the warning when one is set from the environment, _mi_option_is_supported. */
#define MI_OPTION(num, name, UPPER, legacy, unit, supported) \
  [mi_option_##name] = {MI_DEFAULT_##UPPER, MI_OPTION_UNREAD, #name, legacy, MI_OPTION_IN_KIB_##unit, supported},
static mi_option_desc_t mi_options_table[] = {
#include "options.def"
};
#undef MI_OPTION

/* mimalloc.h's enum is the API and the table is written apart from it: every member must have
 * the table's number, and no member may lack an entry. */
#define MI_OPTION(num, name, UPPER, legacy, unit, supported) \
  _Static_assert(mi_option_##name == (num), "options.def: mi_option_" #name " has another number in mimalloc.h");
#include "options.def"
#undef MI_OPTION
_Static_assert(sizeof(mi_options_table) / sizeof(mi_options_table[0]) == _mi_option_last,
               "one options.def entry per mi_option_t member");

static bool mi_options_valid(mi_option_t option) { return (int)option >= 0 && (int)option < (int)_mi_option_last; }

/* ---- Reading the environment -------------------------------------------------------------- */

/* MIMALLOC_<NAME> with the name uppercased; false if it does not fit (it always does). */
static bool mi_options_var_name(const char* name, char* var, size_t var_size) {
  static const char prefix[] = "MIMALLOC_";
  size_t len = strlen(name);
  if (sizeof(prefix) + len > var_size) return false; /* sizeof counts the terminator */
  memcpy(var, prefix, sizeof(prefix) - 1);
  for (size_t i = 0; i <= len; i++) var[sizeof(prefix) - 1 + i] = mi_options_upper(name[i]);
  return true;
}

/* The value of `var`, trimmed; false when unset or empty. */
static bool mi_options_getenv(const char* var, char* value, size_t value_size) {
  if (!_mi_prim_getenv(var, value, value_size)) return false;
  size_t vlen = strlen(value);
  if (vlen + 1 >= value_size) {
    /* possibly cut short by the copy, and a prefix of a number is a wrong number: make it
     * unparsable, ending in "..." for the warning */
    memcpy(value + value_size - 4, "...", 4);
    return true;
  }
  return mi_options_trim(value);
}

/* A size setting outside the option table (MIMALLOC_MEMORY_LIMIT): the same value syntax as a
 * size option, in bytes. An unparsable value is reported and ignored. */
bool _mi_options_env_size(const char* var, size_t* bytes) {
  char value[MI_OPTIONS_VALUE_SIZE];
  if (!mi_options_getenv(var, value, sizeof(value))) return false;
  long long kib;
  const unsigned long long max_kib = SIZE_MAX / 1024;
  if (!mi_options_parse(value, true, LONG_MAX, &kib) || kib < 0 || (unsigned long long)kib > max_kib) {
    _mi_warning_message("environment variable %s has an invalid value: %s\n", var, value);
    return false;
  }
  *bytes = (size_t)kib * 1024;
  return true;
}

static void mi_options_mark_read(mi_option_desc_t* desc) {
  int unread = MI_OPTION_UNREAD; /* a CAS, so a value mi_option_set stored meanwhile keeps SET */
  mi_atomic_cas_strong_acq_rel(&desc->source, &unread, (int)MI_OPTION_DEFAULT);
}

/* The first read of an option: the current name, then the legacy one. `source` leaves UNREAD
 * before any message is printed, because printing reads show_errors/verbose/max_warnings,
 * which may be this very option. */
static mi_decl_noinline mi_decl_cold void mi_options_read_env(mi_option_desc_t* desc) {
  char var[2][64];
  char value[MI_OPTIONS_VALUE_SIZE];
  const char* names[2] = {desc->name, desc->legacy};
  for (int i = 0; i < 2; i++) {
    if (names[i] == NULL || !mi_options_var_name(names[i], var[i], sizeof(var[i]))) continue;
    if (!mi_options_getenv(var[i], value, sizeof(value))) continue;
    long long parsed;
    if (mi_options_parse(value, desc->in_kib, LONG_MAX, &parsed)) {
      mi_atomic_store_relaxed(&desc->value, (long)parsed); /* within LONG_MAX by the parse */
      mi_atomic_store_release(&desc->source, (int)MI_OPTION_ENV);
      if (!desc->supported) {
        _mi_warning_message("option '%s' is not supported by this build: %s=%s is accepted and has no effect\n",
                            desc->name, var[i], value);
      }
      if (i == 1) {
        _mi_warning_message("environment variable %s is deprecated; use %s (the value %lld is used)\n", var[1],
                            var[0], parsed);
      }
    } else {
      mi_options_mark_read(desc);
      _mi_warning_message("environment variable %s has an invalid value \"%s\"; using %ld instead\n", var[i], value,
                          mi_atomic_load_relaxed(&desc->value));
    }
    return;
  }
  mi_options_mark_read(desc);
}

/* ---- Public option interface -------------------------------------------------------------- */
/* Budget of mi_option_get once read: a range check, an acquire load and a relaxed load (three
 * plain moves on x86-64), no stores. Slow paths call it freely. */

long mi_option_get(mi_option_t option) {
  if (mi_unlikely(!mi_options_valid(option))) return 0;
  mi_option_desc_t* desc = &mi_options_table[option];
  if (mi_unlikely(mi_atomic_load_acquire(&desc->source) == MI_OPTION_UNREAD)) mi_options_read_env(desc);
  return mi_atomic_load_relaxed(&desc->value);
}

long mi_option_get_clamp(mi_option_t option, long min, long max) {
  long x = mi_option_get(option);
  return (x < min ? min : (x > max ? max : x));
}

size_t mi_option_get_size(mi_option_t option) {
  if (!mi_options_valid(option)) return 0;
  long x = mi_option_get(option);
  if (x <= 0) return 0;
  if (!mi_options_table[option].in_kib) return (size_t)x;
  return ((size_t)x > SIZE_MAX / MI_KiB ? SIZE_MAX : (size_t)x * MI_KiB);
}

bool _mi_option_is_supported(mi_option_t option) {
  return mi_options_valid(option) && mi_options_table[option].supported;
}

void mi_option_set(mi_option_t option, long value) {
  if (!mi_options_valid(option)) return;
  mi_option_desc_t* desc = &mi_options_table[option];
  if (mi_unlikely(!desc->supported)) {
    _mi_verbose_message("option '%s' is not supported by this build: setting it to %ld has no effect\n", desc->name, value);
  }
  mi_atomic_store_relaxed(&desc->value, value);
  mi_atomic_store_release(&desc->source, (int)MI_OPTION_SET);
}

/* A new default: applies unless the environment or mi_option_set already chose a value. An
 * option not yet read stays unread, so the environment still overrides this default later. */
void mi_option_set_default(mi_option_t option, long value) {
  if (!mi_options_valid(option)) return;
  mi_option_desc_t* desc = &mi_options_table[option];
  int source = mi_atomic_load_acquire(&desc->source);
  if (source == MI_OPTION_UNREAD || source == MI_OPTION_DEFAULT) mi_atomic_store_relaxed(&desc->value, value);
}

bool mi_option_is_enabled(mi_option_t option) { return mi_option_get(option) != 0; }
void mi_option_set_enabled(mi_option_t option, bool enable) { mi_option_set(option, enable ? 1 : 0); }
void mi_option_set_enabled_default(mi_option_t option, bool enable) { mi_option_set_default(option, enable ? 1 : 0); }
void mi_option_enable(mi_option_t option) { mi_option_set_enabled(option, true); }
void mi_option_disable(mi_option_t option) { mi_option_set_enabled(option, false); }

void mi_options_print(void) mi_attr_noexcept {
  static const char* const sources[] = {"default", "default", "environment", "set"};
  for (int i = 0; i < (int)_mi_option_last; i++) {
    mi_option_t option = (mi_option_t)i;
    mi_option_desc_t* desc = &mi_options_table[i];
    if (desc->name == NULL) continue;
    long value = mi_option_get(option); /* reads the environment first if nobody has yet */
    _mi_message("option '%s': %ld%s (%s)\n", desc->name, value, desc->in_kib ? " KiB" : "",
                sources[mi_atomic_load_acquire(&desc->source) & 3]);
  }
}

/* At process start: read every option now, so later reads never touch the environment (which
 * the program may be modifying by then) and the verbose listing is complete. */
void _mi_options_init(void) {
  for (int i = 0; i < (int)_mi_option_last; i++) {
    if (mi_options_table[i].name == NULL) {
      _mi_error_message(EINVAL, "option %d has no entry in the option table (a build bug)\n", i);
      mi_atomic_store_release(&mi_options_table[i].source, (int)MI_OPTION_DEFAULT);
      continue;
    }
    mi_option_desc_t* desc = &mi_options_table[i];
    if (mi_atomic_load_acquire(&desc->source) == MI_OPTION_UNREAD) mi_options_read_env(desc);
  }
  if (!mi_option_is_enabled(mi_option_verbose)) return;
  static const char* const source_names[] = {"default", "default", "environment", "set"};
  for (int i = 0; i < (int)_mi_option_last; i++) {
    mi_option_desc_t* desc = &mi_options_table[i];
    if (desc->name == NULL) continue;
    int source = mi_atomic_load_acquire(&desc->source);
    _mi_verbose_message("option '%s': %ld%s (%s)%s\n", desc->name, mi_atomic_load_relaxed(&desc->value),
                        desc->in_kib ? " KiB" : "", source_names[source & 3],
                        desc->supported ? "" : ", not supported by this build");
  }
}

/* ---- Output ---------------------------------------------------------------------------------- */

static void mi_cdecl mi_options_out_stderr(const char* msg, void* arg) {
  (void)arg;
  if (msg != NULL && msg[0] != 0) _mi_prim_out_stderr(msg);
}

/* The registered output. The argument is stored before the function and read after it, so a
 * reader that sees a new function gets its argument (or a newer one), never an older one. */
static _Atomic(mi_output_fun*) mi_options_out_fun;
static _Atomic(void*) mi_options_out_arg;

void mi_register_output(mi_output_fun* out, void* arg) mi_attr_noexcept {
  mi_atomic_store_release(&mi_options_out_arg, arg);
  mi_atomic_store_release(&mi_options_out_fun, out);
}

/* NULL means the registered output. So do stdout and stderr: mi_stats_print takes a `void*`,
 * and programs written against older documentation pass a FILE* there; calling it would jump
 * into data. */
static mi_output_fun* mi_options_out_resolve(mi_output_fun* out, void** arg) {
  if (out != NULL && (void*)out != (void*)stdout && (void*)out != (void*)stderr) return out;
  mi_output_fun* registered = mi_atomic_load_acquire(&mi_options_out_fun);
  *arg = mi_atomic_load_acquire(&mi_options_out_arg);
  return (registered != NULL ? registered : &mi_options_out_stderr);
}

/* An output hook that allocates, fails and reports it, or a message about a message, must not
 * recurse: output requested on a thread that is already producing output is dropped. */
static mi_decl_thread bool mi_options_in_output;

void _mi_fputs(mi_output_fun* out, void* arg, const char* prefix, const char* msg) {
  if (msg == NULL || mi_options_in_output) return;
  mi_options_in_output = true;
  out = mi_options_out_resolve(out, &arg);
  /* one call per message when it fits, so concurrent messages do not interleave mid-line */
  char line[640];
  size_t plen = (prefix != NULL ? strlen(prefix) : 0);
  size_t mlen = strlen(msg);
  if (plen == 0) {
    out(msg, arg);
  } else if (plen + mlen < sizeof(line)) {
    memcpy(line, prefix, plen);
    memcpy(line + plen, msg, mlen + 1);
    out(line, arg);
  } else {
    out(prefix, arg);
    out(msg, arg);
  }
  mi_options_in_output = false;
}

/* Format into a stack buffer; with `as_line`, a truncated or unterminated message still ends
 * in a newline so the next message starts on its own line. */
static void mi_options_vprint(mi_output_fun* out, void* arg, const char* prefix, bool as_line, const char* fmt,
                              va_list args) mi_attr_printf(5, 0);
static void mi_options_vprint(mi_output_fun* out, void* arg, const char* prefix, bool as_line, const char* fmt,
                              va_list args) {
  if (fmt == NULL || mi_options_in_output) return;
  char buf[512];
  int n = vsnprintf(buf, sizeof(buf), fmt, args);
  if (n < 0) return;
  if (as_line) {
    size_t len = ((size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
    if ((size_t)n >= sizeof(buf)) memcpy(buf + sizeof(buf) - 5, "...\n", 5);
    else if (len == 0 || buf[len - 1] != '\n') {
      if (len + 1 >= sizeof(buf)) len = sizeof(buf) - 2;
      buf[len] = '\n';
      buf[len + 1] = 0;
    }
  }
  _mi_fputs(out, arg, prefix, buf);
}

void _mi_fprintf(mi_output_fun* out, void* arg, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  mi_options_vprint(out, arg, NULL, false, fmt, args);
  va_end(args);
}

void _mi_message(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  mi_options_vprint(NULL, NULL, "mimalloc: ", true, fmt, args);
  va_end(args);
}

void _mi_verbose_message(const char* fmt, ...) {
  if (!mi_option_is_enabled(mi_option_verbose)) return;
  va_list args;
  va_start(args, fmt);
  mi_options_vprint(NULL, NULL, "mimalloc: ", true, fmt, args);
  va_end(args);
}

/* Warnings and errors are counted process-wide and stop printing after their option's limit
 * (a negative limit means none); a program in a loop of bad frees must not flood its log. */
static _Atomic(long) mi_options_warning_count;
static _Atomic(long) mi_options_error_count;

static bool mi_options_below_limit(_Atomic(long)* count, mi_option_t limit_option) {
  long limit = mi_option_get(limit_option);
  long shown = mi_atomic_add_relaxed(count, 1);
  return limit < 0 || shown < limit;
}

static bool mi_options_show_problems(void) {
  return mi_option_is_enabled(mi_option_show_errors) || mi_option_is_enabled(mi_option_verbose);
}

void _mi_warning_message(const char* fmt, ...) {
  if (!mi_options_show_problems()) return;
  if (!mi_options_below_limit(&mi_options_warning_count, mi_option_max_warnings)) return;
  va_list args;
  va_start(args, fmt);
  mi_options_vprint(NULL, NULL, "mimalloc: warning: ", true, fmt, args);
  va_end(args);
}

#if MI_DEBUG >= 1
/* Not through _mi_error_message: an error hook may return, and an allocator whose own
 * consistency check failed must not go on. */
_Noreturn void _mi_assert_fail(const char* expr, const char* file, int line, const char* func) {
  _mi_fprintf(NULL, NULL, "mimalloc: assertion failed: %s:%d: %s: %s\n", file, line, func, expr);
  abort();
}
#endif

/* The error hook; argument before function, as for the output hook. */
static _Atomic(mi_error_fun*) mi_options_error_fun;
static _Atomic(void*) mi_options_error_arg;

void mi_register_error(mi_error_fun* fun, void* arg) {
  mi_atomic_store_release(&mi_options_error_arg, arg);
  mi_atomic_store_release(&mi_options_error_fun, fun);
}

/* A hook that itself triggers an error (say, it allocates while memory is exhausted) would
 * otherwise recurse until the stack overflows; an error raised inside the hook on the same
 * thread is printed but not handed to the hook again. */
static mi_decl_thread bool mi_options_in_error_hook;

void _mi_error_message(int err, const char* fmt, ...) {
  if (mi_options_show_problems() && mi_options_below_limit(&mi_options_error_count, mi_option_max_errors)) {
    va_list args;
    va_start(args, fmt);
    mi_options_vprint(NULL, NULL, "mimalloc: error: ", true, fmt, args);
    va_end(args);
  }
  /* The hook hears of every error, shown or not: that is how a program (or our Rust layer)
   * learns of ENOMEM, EFAULT (invalid pointer), EAGAIN (double free), EOVERFLOW and EINVAL. */
  mi_error_fun* hook = mi_atomic_load_acquire(&mi_options_error_fun);
  if (hook != NULL) {
    if (mi_options_in_error_hook) return;
    mi_options_in_error_hook = true;
    hook(err, mi_atomic_load_acquire(&mi_options_error_arg));
    mi_options_in_error_hook = false;
    return;
  }
#if MI_DEBUG > 0 || MI_SECURE > 0
  /* EFAULT means our own metadata, a free list or a block's padding is corrupt; in a debug or
   * secure build stop here, at the scene, rather than crash later somewhere unrelated. */
  if (err == EFAULT) abort();
#endif
#if MI_CHECK_DOUBLE_FREE
  /* A double free was refused (the block is not freed twice); without a hook to decide
   * otherwise, treat it as the memory-safety bug it is. */
  if (err == EAGAIN) abort();
#endif
}
