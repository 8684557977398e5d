/* SPDX-License-Identifier: MIT
 * Public C API of our allocator. It follows the names, signatures and documented semantics of
 * upstream mimalloc's v2 line (same function names, same `mi_option_t` members with the same
 * numbering, same MIMALLOC_* environment variables), so code written against that
 * documentation builds unchanged. Only declarations live here: no internal types leak out. */
#ifndef MIMALLOC_H
#define MIMALLOC_H

/* Our own version: major * 100 + minor. */
#define MI_MALLOC_VERSION 10

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define mi_attr_noexcept
#define mi_decl_nodiscard __attribute__((warn_unused_result))
#define mi_attr_malloc __attribute__((malloc))
#define mi_attr_alloc_size(s) __attribute__((alloc_size(s)))
#define mi_attr_alloc_size2(s1, s2) __attribute__((alloc_size(s1, s2)))
#define mi_attr_alloc_align(p) __attribute__((alloc_align(p)))
#if defined(MI_SHARED_LIB_EXPORT) || defined(MI_MALLOC_OVERRIDE)
#define mi_decl_export __attribute__((visibility("default")))
#else
#define mi_decl_export
#endif
#else
#define mi_attr_noexcept
#define mi_decl_nodiscard
#define mi_attr_malloc
#define mi_attr_alloc_size(s)
#define mi_attr_alloc_size2(s1, s2)
#define mi_attr_alloc_align(p)
#define mi_decl_export
#endif
#define mi_decl_restrict
#define mi_cdecl

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Basic allocation ------------------------------------------------------------------ */

mi_decl_nodiscard mi_decl_export void* mi_malloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_calloc(size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
mi_decl_nodiscard mi_decl_export void* mi_realloc(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);
mi_decl_export void* mi_expand(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);
mi_decl_export void mi_free(void* p) mi_attr_noexcept;
mi_decl_export void mi_free_small(void* p) mi_attr_noexcept; /* mi_free, for compatibility */
mi_decl_nodiscard mi_decl_export char* mi_strdup(const char* s) mi_attr_noexcept mi_attr_malloc;
mi_decl_nodiscard mi_decl_export char* mi_strndup(const char* s, size_t n) mi_attr_noexcept mi_attr_malloc;
mi_decl_nodiscard mi_decl_export char* mi_realpath(const char* fname, char* resolved_name) mi_attr_noexcept mi_attr_malloc;

/* ---- Extended functionality ------------------------------------------------------------ */

/* Largest size served by the direct small-size lookup (`mi_malloc_small`). */
#define MI_SMALL_WSIZE_MAX (128)
#define MI_SMALL_SIZE_MAX (MI_SMALL_WSIZE_MAX * sizeof(void*))

mi_decl_nodiscard mi_decl_export void* mi_malloc_small(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_zalloc_small(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_zalloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);

mi_decl_nodiscard mi_decl_export void* mi_mallocn(size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
mi_decl_nodiscard mi_decl_export void* mi_reallocn(void* p, size_t count, size_t size) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_reallocf(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);

mi_decl_nodiscard mi_decl_export size_t mi_usable_size(const void* p) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_good_size(size_t size) mi_attr_noexcept;

/* ---- Internals and hooks --------------------------------------------------------------- */

typedef void(mi_cdecl mi_deferred_free_fun)(bool force, unsigned long long heartbeat, void* arg);
mi_decl_export void mi_register_deferred_free(mi_deferred_free_fun* deferred_free, void* arg) mi_attr_noexcept;

typedef void(mi_cdecl mi_output_fun)(const char* msg, void* arg);
mi_decl_export void mi_register_output(mi_output_fun* out, void* arg) mi_attr_noexcept;

typedef void(mi_cdecl mi_error_fun)(int err, void* arg);
mi_decl_export void mi_register_error(mi_error_fun* fun, void* arg);

mi_decl_export void mi_collect(bool force) mi_attr_noexcept;
mi_decl_export int mi_version(void) mi_attr_noexcept;
mi_decl_export void mi_stats_reset(void) mi_attr_noexcept;
mi_decl_export void mi_stats_merge(void) mi_attr_noexcept;
mi_decl_export void mi_stats_print(void* out) mi_attr_noexcept; /* `out` is an mi_output_fun* or NULL */
mi_decl_export void mi_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept;

mi_decl_export void mi_process_init(void) mi_attr_noexcept;
mi_decl_export void mi_thread_init(void) mi_attr_noexcept;
mi_decl_export void mi_thread_done(void) mi_attr_noexcept;
mi_decl_export void mi_thread_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept;

mi_decl_export void mi_process_info(size_t* elapsed_msecs, size_t* user_msecs, size_t* system_msecs,
                                    size_t* current_rss, size_t* peak_rss,
                                    size_t* current_commit, size_t* peak_commit, size_t* page_faults) mi_attr_noexcept;

/* ---- Aligned allocation ---------------------------------------------------------------- */
/* `alignment` must be a power of two (NULL otherwise); `offset` asks for `p + offset` to be
 * aligned instead of `p`. */

mi_decl_nodiscard mi_decl_export void* mi_malloc_aligned(size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
mi_decl_nodiscard mi_decl_export void* mi_malloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_zalloc_aligned(size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
mi_decl_nodiscard mi_decl_export void* mi_zalloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_calloc_aligned(size_t count, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2) mi_attr_alloc_align(3);
mi_decl_nodiscard mi_decl_export void* mi_calloc_aligned_at(size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
mi_decl_nodiscard mi_decl_export void* mi_realloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(2) mi_attr_alloc_align(3);
mi_decl_nodiscard mi_decl_export void* mi_realloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(2);

/* ---- Heaps ------------------------------------------------------------------------------ */
/* A heap belongs to the thread that created it: only that thread allocates in it; any thread
 * may free a block of it. */

struct mi_heap_s;
typedef struct mi_heap_s mi_heap_t;

mi_decl_nodiscard mi_decl_export mi_heap_t* mi_heap_new(void);
mi_decl_export void mi_heap_delete(mi_heap_t* heap);
mi_decl_export void mi_heap_destroy(mi_heap_t* heap);
mi_decl_export mi_heap_t* mi_heap_set_default(mi_heap_t* heap);
mi_decl_export mi_heap_t* mi_heap_get_default(void);
mi_decl_export mi_heap_t* mi_heap_get_backing(void);
mi_decl_export void mi_heap_collect(mi_heap_t* heap, bool force) mi_attr_noexcept;

mi_decl_nodiscard mi_decl_export void* mi_heap_malloc(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_calloc(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_heap_mallocn(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_heap_malloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);

mi_decl_nodiscard mi_decl_export void* mi_heap_realloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(3);
mi_decl_nodiscard mi_decl_export void* mi_heap_reallocn(mi_heap_t* heap, void* p, size_t count, size_t size) mi_attr_noexcept mi_attr_alloc_size2(3, 4);
mi_decl_nodiscard mi_decl_export void* mi_heap_reallocf(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(3);

mi_decl_nodiscard mi_decl_export char* mi_heap_strdup(mi_heap_t* heap, const char* s) mi_attr_noexcept mi_attr_malloc;
mi_decl_nodiscard mi_decl_export char* mi_heap_strndup(mi_heap_t* heap, const char* s, size_t n) mi_attr_noexcept mi_attr_malloc;
mi_decl_nodiscard mi_decl_export char* mi_heap_realpath(mi_heap_t* heap, const char* fname, char* resolved_name) mi_attr_noexcept mi_attr_malloc;

mi_decl_nodiscard mi_decl_export void* mi_heap_malloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(3);
mi_decl_nodiscard mi_decl_export void* mi_heap_malloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(3);
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_calloc_aligned(mi_heap_t* heap, size_t count, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3) mi_attr_alloc_align(4);
mi_decl_nodiscard mi_decl_export void* mi_heap_calloc_aligned_at(mi_heap_t* heap, size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_heap_realloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(3) mi_attr_alloc_align(4);
mi_decl_nodiscard mi_decl_export void* mi_heap_realloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(3);

/* ---- Zero-initialising reallocation ---------------------------------------------------- */
/* The grown part of the block is zero; the block must itself have been zero-initialised. */

mi_decl_nodiscard mi_decl_export void* mi_rezalloc(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_recalloc(void* p, size_t newcount, size_t size) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_rezalloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(2) mi_attr_alloc_align(3);
mi_decl_nodiscard mi_decl_export void* mi_rezalloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_recalloc_aligned(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept mi_attr_alloc_size2(2, 3) mi_attr_alloc_align(4);
mi_decl_nodiscard mi_decl_export void* mi_recalloc_aligned_at(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_heap_rezalloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(3);
mi_decl_nodiscard mi_decl_export void* mi_heap_recalloc(mi_heap_t* heap, void* p, size_t newcount, size_t size) mi_attr_noexcept mi_attr_alloc_size2(3, 4);
mi_decl_nodiscard mi_decl_export void* mi_heap_rezalloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(3) mi_attr_alloc_align(4);
mi_decl_nodiscard mi_decl_export void* mi_heap_rezalloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(3);
mi_decl_nodiscard mi_decl_export void* mi_heap_recalloc_aligned(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept mi_attr_alloc_size2(3, 4) mi_attr_alloc_align(5);
mi_decl_nodiscard mi_decl_export void* mi_heap_recalloc_aligned_at(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size2(3, 4);

/* ---- Memory limits (an extension: not in upstream mimalloc) ------------------------------ */

/* Limits count the memory of pages handed to heaps: a small (64 KiB) or medium (512 KiB) page
 * whole, a large or huge block's whole segment; segment headers and empty cached memory are
 * not counted. An allocation that would pass a limit returns NULL with errno ENOMEM; blocks
 * already handed out are never touched, and freeing brings the headroom back once a page is
 * empty. The process limit is exact under concurrency (pages are taken with compare-and-swap).
 * The environment variable MIMALLOC_MEMORY_LIMIT (a size: "512MiB", "2G") sets it at start. */
mi_decl_export void mi_set_memory_limit(size_t bytes) mi_attr_noexcept; /* 0: no limit */
mi_decl_nodiscard mi_decl_export size_t mi_get_memory_limit(void) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_memory_in_use(void) mi_attr_noexcept;
/* Only the heap's own thread may set its limit (false otherwise, and for NULL). A page the heap
 * adopts (from an exited thread's segment, or from a deleted heap) counts without a check. */
mi_decl_export bool mi_heap_set_memory_limit(mi_heap_t* heap, size_t bytes) mi_attr_noexcept;
/* Sampled guard pages for `heap` (the calling thread's): 1 in `sample_rate` allocations in the
 * size bound (0: none) is placed right before a no-access page; `seed` picks the first (0: random).
 * A heap starts with the guarded_* options' values. */
mi_decl_export void mi_heap_guarded_set_sample_rate(mi_heap_t* heap, size_t sample_rate, size_t seed) mi_attr_noexcept;
/* Only allocations of `min` to `max` bytes are sampled (`max` 0: no upper bound). */
mi_decl_export void mi_heap_guarded_set_size_bound(mi_heap_t* heap, size_t min, size_t max) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_heap_get_memory_limit(const mi_heap_t* heap) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_heap_memory_in_use(const mi_heap_t* heap) mi_attr_noexcept;

/* ---- Analysis --------------------------------------------------------------------------- */

mi_decl_export bool mi_heap_contains_block(mi_heap_t* heap, const void* p);
mi_decl_export bool mi_heap_check_owned(mi_heap_t* heap, const void* p);
mi_decl_export bool mi_check_owned(const void* p);

/* A run of memory holding blocks of one size (one allocator page). */
typedef struct mi_heap_area_s {
  void* blocks;           /* start of the blocks */
  size_t reserved;        /* bytes of address space set aside for them */
  size_t committed;       /* bytes of it that are committed */
  size_t used;            /* blocks in use */
  size_t block_size;      /* usable bytes of each block */
  size_t full_block_size; /* bytes each block takes, padding included */
  int heap_tag;           /* upstream's heap tag; always 0 here (heaps carry no tag) */
} mi_heap_area_t;

/* Called once per area with `block == NULL`, then (when asked) once per live block with the
 * same area.
 * Returning false stops the walk. */
typedef bool(mi_cdecl mi_block_visit_fun)(const mi_heap_t* heap, const mi_heap_area_t* area, void* block, size_t block_size, void* arg);
mi_decl_export bool mi_heap_visit_blocks(const mi_heap_t* heap, bool visit_all_blocks, mi_block_visit_fun* visitor, void* arg);

mi_decl_nodiscard mi_decl_export bool mi_is_in_heap_region(const void* p) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export bool mi_is_redirected(void) mi_attr_noexcept;

/* ---- Statistics as data ------------------------------------------------------------------ */

/* The 64-bit counters are 8-byte aligned with every ABI, also where int64_t fields are aligned
 * to 4 (i686): the process-wide ones are updated with 64-bit atomics, which are atomic there
 * only on aligned words, and the structs keep one layout on every 32-bit target. */
#if defined(__cplusplus)
#define mi_decl_align8 alignas(8)
#else
#define mi_decl_align8 _Alignas(8)
#endif

/* A quantity that goes up and down (bytes or objects). */
typedef struct mi_stat_count_s {
  mi_decl_align8 int64_t total; /* everything ever added */
  int64_t peak;    /* highest `current` seen */
  int64_t current; /* live now */
} mi_stat_count_t;

/* An event counter that only goes up. */
typedef struct mi_stat_counter_s {
  mi_decl_align8 int64_t total;
} mi_stat_counter_t;

#define MI_STAT_VERSION 1
#define MI_STAT_BINS 124

/* Filled by mi_stats_get. `size` and `version` come first so that a caller built against an
 * older header still gets a prefix it understands. Counts are process-wide: every thread's
 * numbers merged in, which the call itself does for the calling thread. */
typedef struct mi_stats_s {
  size_t size;                    /* sizeof(mi_stats_t) as this library knows it */
  size_t version;                 /* MI_STAT_VERSION */
  mi_stat_count_t reserved;       /* bytes of address space reserved from the OS */
  mi_stat_count_t committed;      /* bytes committed (or presumed so) */
  mi_stat_count_t purged;         /* bytes given back with a purge */
  mi_stat_count_t segments;       /* segments owned (in use, cached or abandoned) */
  mi_stat_count_t segments_abandoned; /* segments whose thread exited and that no thread has taken yet */
  mi_stat_count_t segments_cache; /* empty segments kept for reuse */
  mi_stat_count_t pages;          /* allocator pages in use */
  mi_stat_count_t pages_abandoned;/* pages in abandoned segments */
  mi_stat_count_t threads;        /* threads with allocator state (current, peak, total) */
  mi_stat_count_t normal;         /* bytes in small/medium/large blocks, counted per page */
  mi_stat_count_t huge;           /* bytes in huge blocks */
  mi_stat_count_t malloc_requested; /* bytes asked for (debug builds only; 0 otherwise) */
  mi_stat_counter_t mmap_calls;   /* OS mappings made */
  mi_stat_counter_t munmap_calls; /* OS unmappings made */
  mi_stat_counter_t purge_calls;  /* purge requests sent to the OS */
  mi_stat_counter_t page_no_retire;  /* empty pages kept a while to avoid thrashing */
  mi_stat_counter_t searches;     /* pages looked at in the slow path */
  mi_stat_counter_t normal_count; /* blocks handed out through pages (debug builds only; 0 otherwise) */
  mi_stat_counter_t huge_count;   /* huge blocks handed out */
  mi_stat_counter_t reclaimed;    /* abandoned segments taken over by another thread */
  mi_stat_count_t normal_bins[MI_STAT_BINS]; /* pages per size class (indexed by bin) */
} mi_stats_t;

/* Copy the merged statistics into `stats`; `stats_size` is `sizeof(mi_stats_t)` as the caller
 * knows it, and only that many bytes are written. */
mi_decl_export void mi_stats_get(size_t stats_size, mi_stats_t* stats) mi_attr_noexcept;

/* Block size of size class `bin` (an index of mi_stats_t.normal_bins), 0 for an index that is
 * not a size class. */
mi_decl_export size_t mi_stats_bin_block_size(size_t bin) mi_attr_noexcept;

/* The statistics as a JSON object in upstream v2.4's schema (`stat_version` 4: the same keys,
 * order, nesting and units; what this allocator does not count reads 0, see stats.c). Written into `buf` when it is non-NULL and `buf_size` is
 * large enough; otherwise a new buffer is allocated with mi_malloc (free it with mi_free).
 * Returns NULL only when the text does not fit and no buffer could be allocated. */
mi_decl_export char* mi_stats_get_json(size_t buf_size, char* buf) mi_attr_noexcept;

/* ---- Options ------------------------------------------------------------------------------ */
/* Members and numbering are those of upstream's v2 line: a raw integer names the same option.
 * Each is read once, lazily, from MIMALLOC_<NAME> (case-insensitive). Options marked "not
 * supported by this build" are stored and returned but change nothing: verbose mode lists them
 * so, and one set from the environment is warned about (seen with MIMALLOC_VERBOSE=1 or
 * MIMALLOC_SHOW_ERRORS=1). Which ones they are is said once, in src/options.c's table. */

/* Bindings see the enum as C `int` (MI_OPTION_AS_INT, set by the bindgen run only): crates.io
 * libmimalloc-sys declares `mi_option_t` as `c_int`, and Rust code passing an `i32` must keep
 * compiling. Fixed underlying types are C23 (a clang extension before), so C keeps the plain
 * enum; both are 32-bit integers holding the same small values, the same in every ABI. */
#if defined(MI_OPTION_AS_INT)
#define mi_option_enum_base : int
#else
#define mi_option_enum_base
#endif
typedef enum mi_option_e mi_option_enum_base {
  mi_option_show_errors,              /* print error messages to stderr */
  mi_option_show_stats,               /* print statistics at process exit */
  mi_option_verbose,                  /* print informational messages */
  mi_option_eager_commit,             /* 1: a segment is committed whole when it is taken from an arena; 0: page by page as pages are used */
  mi_option_arena_eager_commit,       /* commit a whole arena when it is reserved: 1 always, 2 where the OS overcommits (free there), 0 never */
  mi_option_purge_decommits,          /* 1: purge with MADV_DONTNEED (zeroes), 0: MADV_FREE */
  mi_option_allow_large_os_pages,     /* Linux THP / Windows large pages: 0 none, 1 every segment, 2 huge blocks only (Linux default) */
  mi_option_reserve_huge_os_pages,    /* 1 GiB huge OS pages to reserve as an arena at start-up (interleaved over NUMA nodes) */
  mi_option_reserve_huge_os_pages_at, /* reserve them on this NUMA node instead (-1: interleave) */
  mi_option_reserve_os_memory,        /* bytes (KiB units) to reserve as an arena at start-up */
  mi_option_deprecated_segment_cache, /* deprecated upstream too: no effect */
  mi_option_deprecated_page_reset,    /* deprecated upstream too: no effect */
  mi_option_abandoned_page_purge,     /* purge an exited thread's free pages at once, not at its segments' next owner */
  mi_option_deprecated_segment_reset, /* deprecated upstream too: no effect */
  mi_option_eager_commit_delay,       /* a thread's first N segments are committed page by page, not whole */
  mi_option_purge_delay,              /* milliseconds before an empty page is purged; 0 = at once, -1 = never */
  mi_option_use_numa_nodes,           /* not supported by this build (accepted, no effect) */
  mi_option_disallow_os_alloc,        /* 1: never map new memory from the OS (allocation fails instead) */
  mi_option_os_tag,                   /* macOS: the VM tag of our mappings; not supported elsewhere */
  mi_option_max_errors,               /* show at most this many error messages */
  mi_option_max_warnings,             /* show at most this many warnings */
  mi_option_max_segment_reclaim,      /* at most this many abandoned segments looked at per reclaim */
  mi_option_destroy_on_exit,          /* not supported by this build (accepted, no effect) */
  mi_option_arena_reserve,            /* size of the arena reserved when all are full (KiB units); doubles with each one added, up to 8x */
  mi_option_arena_purge_mult,         /* free arena slots are purged after purge_delay times this (default 1; upstream's is 10); <= 0 also keeps empty arenas reserved */
  mi_option_purge_extend_delay,       /* not supported by this build (accepted, no effect) */
  mi_option_abandoned_reclaim_on_free,/* not supported by this build (abandoned segments are adopted when a thread needs one) */
  mi_option_disallow_arena_alloc,     /* 1: segments are mapped from the OS one by one (arenas serve only heaps pinned to them) */
  mi_option_retry_on_oom,             /* not supported by this build (accepted, no effect) */
  mi_option_visit_abandoned,          /* not supported by this build (accepted, no effect) */
  mi_option_guarded_min,              /* sampled guard pages: only allocations of at least this many bytes (default 0) */
  mi_option_guarded_max,              /* ... and of at most this many bytes (0, the default: no bound) */
  mi_option_guarded_precise,          /* 1: a sampled block ends exactly at its guard page (aligned only as its size is); 0: 16-byte rounded */
  mi_option_guarded_sample_rate,      /* 1 in N allocations in [guarded_min, guarded_max] sits before a no-access guard page (0, the default: none) */
  mi_option_guarded_sample_seed,      /* picks which of the first N is sampled first (0, the default: random) */
  mi_option_target_segments_per_thread, /* not supported by this build (accepted, no effect) */
  mi_option_generic_collect,          /* not supported by this build (accepted, no effect) */
  mi_option_allow_thp,                /* Linux: 0 = no transparent huge pages for memory mapped from then on (the `no_thp` build's default; set it in the environment to cover the first arena) */
  _mi_option_last,
  /* older names of the same options */
  mi_option_large_os_pages = mi_option_allow_large_os_pages,
  mi_option_eager_region_commit = mi_option_arena_eager_commit,
  mi_option_reset_decommits = mi_option_purge_decommits,
  mi_option_reset_delay = mi_option_purge_delay,
  mi_option_abandoned_page_reset = mi_option_abandoned_page_purge,
  mi_option_limit_os_alloc = mi_option_disallow_os_alloc
} mi_option_t;

mi_decl_nodiscard mi_decl_export bool mi_option_is_enabled(mi_option_t option);
mi_decl_export void mi_option_enable(mi_option_t option);
mi_decl_export void mi_option_disable(mi_option_t option);
mi_decl_export void mi_option_set_enabled(mi_option_t option, bool enable);
mi_decl_export void mi_option_set_enabled_default(mi_option_t option, bool enable);
mi_decl_nodiscard mi_decl_export long mi_option_get(mi_option_t option);
mi_decl_nodiscard mi_decl_export long mi_option_get_clamp(mi_option_t option, long min, long max);
mi_decl_nodiscard mi_decl_export size_t mi_option_get_size(mi_option_t option);
mi_decl_export void mi_option_set(mi_option_t option, long value);
mi_decl_export void mi_option_set_default(mi_option_t option, long value);

/* ---- Build configuration -------------------------------------------------------------- */

/* What this library was compiled with, so a test can prove a cargo feature reached C. */
typedef struct mi_build_config_s {
  int secure;          /* MI_SECURE level */
  int debug;           /* MI_DEBUG level */
  bool padding;        /* blocks carry a checked canary after the requested size */
  bool encoded_freelist; /* free-list links are encoded */
  bool override;       /* exports malloc/free */
  bool local_dynamic_tls; /* built for dlopen */
  bool valgrind;       /* blocks are annotated for valgrind's memcheck (MI_TRACK_VALGRIND) */
} mi_build_config_t;
mi_decl_export void mi_build_config(mi_build_config_t* config) mi_attr_noexcept;

/* ---- Arenas ------------------------------------------------------------------------------ */
/* Large regions segments are carved from (see the arena_* options). An arena id is 1 and up; 0
 * means "none"/"any". An exclusive arena serves only heaps created in it, and such a heap takes
 * memory from nowhere else. */

typedef int mi_arena_id_t;

mi_decl_export int mi_reserve_os_memory(size_t size, bool commit, bool allow_large) mi_attr_noexcept;
mi_decl_export int mi_reserve_os_memory_ex(size_t size, bool commit, bool allow_large, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
mi_decl_export bool mi_manage_os_memory(void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node) mi_attr_noexcept;
/* `start` is const only so the Rust bindings match crates.io libmimalloc-sys (`*const c_void`);
 * the memory is the allocator's to write from then on. */
mi_decl_export bool mi_manage_os_memory_ex(const void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
mi_decl_export int mi_reserve_huge_os_pages_interleave(size_t pages, size_t numa_nodes, size_t timeout_msecs) mi_attr_noexcept;
mi_decl_export int mi_reserve_huge_os_pages_at(size_t pages, int numa_node, size_t timeout_msecs) mi_attr_noexcept;
mi_decl_export int mi_reserve_huge_os_pages_at_ex(size_t pages, int numa_node, size_t timeout_msecs, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
/* deprecated: mi_reserve_huge_os_pages_interleave */
mi_decl_export int mi_reserve_huge_os_pages(size_t pages, double max_secs, size_t* pages_reserved) mi_attr_noexcept;
mi_decl_export void* mi_arena_area(mi_arena_id_t arena_id, size_t* size) mi_attr_noexcept;
mi_decl_export void mi_debug_show_arenas(void) mi_attr_noexcept;
mi_decl_export void mi_arenas_print(void) mi_attr_noexcept;
/* A heap that allocates only from `arena_id` (exclusive or not); NULL if there is no such arena. */
mi_decl_nodiscard mi_decl_export mi_heap_t* mi_heap_new_in_arena(mi_arena_id_t arena_id);
/* `heap_tag` is recorded only; `allow_destroy`: the heap never adopts abandoned segments, so
 * mi_heap_destroy frees only its own blocks (mi_heap_new's heaps are created so). */
mi_decl_nodiscard mi_decl_export mi_heap_t* mi_heap_new_ex(int heap_tag, bool allow_destroy, mi_arena_id_t arena_id);

/* ---- Sub-processes ---------------------------------------------------------------------- */
/* Threads of different sub-processes never adopt each other's abandoned segments. A thread
 * joins one before it allocates (mi_subproc_add_current_thread); NULL is the main one. */

typedef void* mi_subproc_id_t;

mi_decl_export mi_subproc_id_t mi_subproc_main(void) mi_attr_noexcept;
mi_decl_export mi_subproc_id_t mi_subproc_new(void) mi_attr_noexcept;
mi_decl_export void mi_subproc_delete(mi_subproc_id_t subproc) mi_attr_noexcept;
mi_decl_export void mi_subproc_add_current_thread(mi_subproc_id_t subproc) mi_attr_noexcept;
/* Visits the areas (and with `visit_blocks` the live blocks) of the segments the sub-process's
 * exited threads left behind; the visitor gets a NULL heap. false when the visitor stopped. */
mi_decl_export bool mi_abandoned_visit_blocks(mi_subproc_id_t subproc_id, int heap_tag, bool visit_blocks, mi_block_visit_fun* visitor, void* arg);

/* ---- posix-style helpers ---------------------------------------------------------------- */

mi_decl_export void mi_cfree(void* p) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_malloc_size(const void* p) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_malloc_good_size(size_t size) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export size_t mi_malloc_usable_size(const void* p) mi_attr_noexcept;
mi_decl_export int mi_posix_memalign(void** p, size_t alignment, size_t size) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export void* mi_memalign(size_t alignment, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(1);
mi_decl_nodiscard mi_decl_export void* mi_valloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_pvalloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_aligned_alloc(size_t alignment, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(1);
mi_decl_nodiscard mi_decl_export void* mi_reallocarray(void* p, size_t count, size_t size) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export int mi_reallocarr(void* p, size_t count, size_t size) mi_attr_noexcept;
mi_decl_export void mi_free_size(void* p, size_t size) mi_attr_noexcept;
mi_decl_export void mi_free_size_aligned(void* p, size_t size, size_t alignment) mi_attr_noexcept;
mi_decl_export void mi_free_aligned(void* p, size_t alignment) mi_attr_noexcept;

/* ---- Sized allocation --------------------------------------------------------------------- */
/* Each reports the block's usable size (what mi_usable_size would return) through its out
 * parameter when that is not NULL, so a caller can use the slack without a second call. On
 * failure the result is NULL and the out parameter is set to 0. */

mi_decl_nodiscard mi_decl_export void* mi_umalloc(size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_ucalloc(size_t count, size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
/* `size` at most MI_SMALL_SIZE_MAX */
mi_decl_nodiscard mi_decl_export void* mi_umalloc_small(size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_uzalloc_small(size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_umalloc_aligned(size_t size, size_t alignment, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
mi_decl_nodiscard mi_decl_export void* mi_uzalloc_aligned(size_t size, size_t alignment, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/* `block_size_pre`: usable size of `p` before the call (0 for NULL), set also on failure, when
 * `p` stays valid; `block_size_post`: usable size of the result (0 on failure). */
mi_decl_nodiscard mi_decl_export void* mi_urealloc(void* p, size_t newsize, size_t* block_size_pre, size_t* block_size_post) mi_attr_noexcept mi_attr_alloc_size(2);
/* frees `p` after storing its usable size (0 for NULL) */
mi_decl_export void mi_ufree(void* p, size_t* block_size) mi_attr_noexcept;
/* Our own: mi_umalloc and mi_zalloc with a usable size, in a given heap (Rust's Heap uses them) */
mi_decl_nodiscard mi_decl_export void* mi_heap_umalloc(mi_heap_t* heap, size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_uzalloc(mi_heap_t* heap, size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);

/* ---- Typed allocation ---------------------------------------------------------------------- */

#define mi_malloc_tp(tp) ((tp*)mi_malloc(sizeof(tp)))
#define mi_zalloc_tp(tp) ((tp*)mi_zalloc(sizeof(tp)))
#define mi_calloc_tp(tp, n) ((tp*)mi_calloc(n, sizeof(tp)))
#define mi_mallocn_tp(tp, n) ((tp*)mi_mallocn(n, sizeof(tp)))
#define mi_reallocn_tp(p, tp, n) ((tp*)mi_reallocn(p, n, sizeof(tp)))
#define mi_recalloc_tp(p, tp, n) ((tp*)mi_recalloc(p, n, sizeof(tp)))

#define mi_heap_malloc_tp(hp, tp) ((tp*)mi_heap_malloc(hp, sizeof(tp)))
#define mi_heap_zalloc_tp(hp, tp) ((tp*)mi_heap_zalloc(hp, sizeof(tp)))
#define mi_heap_calloc_tp(hp, tp, n) ((tp*)mi_heap_calloc(hp, n, sizeof(tp)))
#define mi_heap_mallocn_tp(hp, tp, n) ((tp*)mi_heap_mallocn(hp, n, sizeof(tp)))
#define mi_heap_reallocn_tp(hp, p, tp, n) ((tp*)mi_heap_reallocn(hp, p, n, sizeof(tp)))
#define mi_heap_recalloc_tp(hp, p, tp, n) ((tp*)mi_heap_recalloc(hp, p, n, sizeof(tp)))

/* ---- Process, threads, collection ---------------------------------------------------------- */

/* Runs the exit work (statistics report when asked for) now; it runs once, whichever of this
 * call and the process exit comes first. */
mi_decl_export void mi_process_done(void) mi_attr_noexcept;
/* A forced collect when the calling thread owns more than `target_thread_owned` segments, a
 * normal one otherwise. */
mi_decl_export void mi_collect_reduce(size_t target_thread_owned) mi_attr_noexcept;
/* Marks the calling thread as a thread-pool worker (recorded; it changes no policy here). */
mi_decl_export void mi_thread_set_in_threadpool(void) mi_attr_noexcept;
/* Prints every option with its value and where that came from, through the registered output. */
mi_decl_export void mi_options_print(void) mi_attr_noexcept;
/* True when `p` lies in a page of `heap` that has fewer than `perc_threshold` percent of its
 * blocks in use. Only the thread that owns `heap` may call it; it takes no lock. */
mi_decl_nodiscard mi_decl_export bool mi_unsafe_heap_page_is_under_utilized(mi_heap_t* heap, void* p, size_t perc_threshold) mi_attr_noexcept;

/* ---- More strings and Windows-style helpers ------------------------------------------------ */

/* (wchar_t comes from <stddef.h>) */
mi_decl_nodiscard mi_decl_export wchar_t* mi_wcsdup(const wchar_t* s) mi_attr_noexcept mi_attr_malloc;
mi_decl_nodiscard mi_decl_export unsigned char* mi_mbsdup(const unsigned char* s) mi_attr_noexcept mi_attr_malloc;
/* As Windows' _dupenv_s: a copy of environment variable `name` in `*buf` (free it with mi_free)
 * and its buffer size, terminator included, in `*size` (which may be NULL). A variable that is
 * not set gives `*buf == NULL`, size 0 and result 0. Errors: EINVAL for a NULL `buf` or `name`,
 * ENOMEM when the copy cannot be allocated. */
mi_decl_export int mi_dupenv_s(char** buf, size_t* size, const char* name) mi_attr_noexcept;
/* The same for wide strings; `*size` counts wide characters. Outside Windows the name and
 * value are converted with the C library's multibyte functions (EILSEQ when they cannot be). */
mi_decl_export int mi_wdupenv_s(wchar_t** buf, size_t* size, const wchar_t* name) mi_attr_noexcept;
/* As Windows' _aligned_recalloc / _aligned_offset_recalloc (mi_recalloc_aligned(_at) with
 * Windows' argument names). */
mi_decl_nodiscard mi_decl_export void* mi_aligned_recalloc(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept;
mi_decl_nodiscard mi_decl_export void* mi_aligned_offset_recalloc(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
/* As Windows' _expand: `p` when the block can hold `newsize` bytes in place, else NULL with
 * errno ENOMEM (the block is untouched). */
mi_decl_nodiscard mi_decl_export void* mi__expand(void* p, size_t newsize) mi_attr_noexcept;

/* ---- C++ allocation semantics (callable from C too) ---------------------------------------- */
/* Out of memory, these call the C++ new handler (std::get_new_handler) and retry while there
 * is one; without one, the throwing forms throw std::bad_alloc when the library was built
 * with the C++ part (the CMake override library) and otherwise report ENOMEM and abort. The
 * _nothrow forms return NULL instead. A `count * size` that overflows fails the same way
 * without consulting the handler. */
mi_decl_nodiscard mi_decl_export void* mi_new(size_t size) mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_new_aligned(size_t size, size_t alignment) mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
mi_decl_nodiscard mi_decl_export void* mi_new_nothrow(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
mi_decl_nodiscard mi_decl_export void* mi_new_aligned_nothrow(size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
mi_decl_nodiscard mi_decl_export void* mi_new_n(size_t count, size_t size) mi_attr_malloc mi_attr_alloc_size2(1, 2);
mi_decl_nodiscard mi_decl_export void* mi_new_realloc(void* p, size_t newsize) mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_new_reallocn(void* p, size_t newcount, size_t size) mi_attr_alloc_size2(2, 3);
mi_decl_nodiscard mi_decl_export void* mi_heap_alloc_new(mi_heap_t* heap, size_t size) mi_attr_malloc mi_attr_alloc_size(2);
mi_decl_nodiscard mi_decl_export void* mi_heap_alloc_new_n(mi_heap_t* heap, size_t count, size_t size) mi_attr_malloc mi_attr_alloc_size2(2, 3);

#ifdef __cplusplus
}
#endif

/* ---- C++: standard-library allocators ------------------------------------------------------ */

#ifdef __cplusplus
#include <cstddef>
#include <memory>
#include <new>
#include <utility>

/* Allocates through mi_new_n (new-handler loop, std::bad_alloc) and frees with mi_free. */
template <class T> struct mi_stl_allocator {
  typedef T value_type;
  typedef std::size_t size_type;
  typedef std::ptrdiff_t difference_type;
  typedef std::true_type propagate_on_container_move_assignment;
  typedef std::true_type is_always_equal;
  template <class U> struct rebind { typedef mi_stl_allocator<U> other; };

  mi_stl_allocator() noexcept {}
  mi_stl_allocator(const mi_stl_allocator&) noexcept {}
  template <class U> mi_stl_allocator(const mi_stl_allocator<U>&) noexcept {}

  T* allocate(std::size_t count) { return static_cast<T*>(mi_new_n(count, sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { mi_free(p); }
  std::size_t max_size() const noexcept { return PTRDIFF_MAX / sizeof(T); }
};
template <class T, class U> bool operator==(const mi_stl_allocator<T>&, const mi_stl_allocator<U>&) noexcept { return true; }
template <class T, class U> bool operator!=(const mi_stl_allocator<T>&, const mi_stl_allocator<U>&) noexcept { return false; }

/* Shared part of the heap allocators: copies (and rebinds) share one heap, released when the
 * last copy goes; `destroy` picks mi_heap_destroy (blocks freed with the heap) over
 * mi_heap_delete (live blocks move to the thread's default heap). */
template <class T, bool destroy> struct mi_heap_stl_allocator_base {
  typedef T value_type;
  typedef std::size_t size_type;
  typedef std::ptrdiff_t difference_type;
  typedef std::false_type is_always_equal;
  typedef std::true_type propagate_on_container_copy_assignment;
  typedef std::true_type propagate_on_container_move_assignment;
  typedef std::true_type propagate_on_container_swap;

  std::shared_ptr<mi_heap_t> heap;

  /* a fresh heap of the calling thread (std::bad_alloc when none can be made) */
  mi_heap_stl_allocator_base() {
    mi_heap_t* h = mi_heap_new();
    if (h == NULL) throw std::bad_alloc();
    heap.reset(h, &release);
  }
  /* a heap the caller owns and releases itself */
  explicit mi_heap_stl_allocator_base(mi_heap_t* h) : heap(h, [](mi_heap_t*) {}) {}
  template <class U> mi_heap_stl_allocator_base(const mi_heap_stl_allocator_base<U, destroy>& other) noexcept : heap(other.heap) {}

  T* allocate(std::size_t count) { return static_cast<T*>(mi_heap_alloc_new_n(heap.get(), count, sizeof(T))); }
  std::size_t max_size() const noexcept { return PTRDIFF_MAX / sizeof(T); }
  void collect(bool force) { mi_heap_collect(heap.get(), force); }

 private:
  static void release(mi_heap_t* h) {
    if (destroy) mi_heap_destroy(h);
    else mi_heap_delete(h);
  }
};
template <class T, class U, bool d> bool operator==(const mi_heap_stl_allocator_base<T, d>& a, const mi_heap_stl_allocator_base<U, d>& b) noexcept { return a.heap == b.heap; }
template <class T, class U, bool d> bool operator!=(const mi_heap_stl_allocator_base<T, d>& a, const mi_heap_stl_allocator_base<U, d>& b) noexcept { return a.heap != b.heap; }

/* Allocates in its own heap (or one given); frees each block with mi_free. */
template <class T> struct mi_heap_stl_allocator : public mi_heap_stl_allocator_base<T, false> {
  template <class U> struct rebind { typedef mi_heap_stl_allocator<U> other; };
  mi_heap_stl_allocator() : mi_heap_stl_allocator_base<T, false>() {}
  explicit mi_heap_stl_allocator(mi_heap_t* h) : mi_heap_stl_allocator_base<T, false>(h) {}
  template <class U> mi_heap_stl_allocator(const mi_heap_stl_allocator<U>& other) noexcept : mi_heap_stl_allocator_base<T, false>(other) {}
  mi_heap_stl_allocator select_on_container_copy_construction() const { return *this; }
  void deallocate(T* p, std::size_t) noexcept { mi_free(p); }
};

/* Allocates in its own heap and frees nothing block by block: the heap and every block in it go
 * at once with the last copy of the allocator (for containers dropped as a whole). */
template <class T> struct mi_heap_destroy_stl_allocator : public mi_heap_stl_allocator_base<T, true> {
  template <class U> struct rebind { typedef mi_heap_destroy_stl_allocator<U> other; };
  mi_heap_destroy_stl_allocator() : mi_heap_stl_allocator_base<T, true>() {}
  explicit mi_heap_destroy_stl_allocator(mi_heap_t* h) : mi_heap_stl_allocator_base<T, true>(h) {}
  template <class U> mi_heap_destroy_stl_allocator(const mi_heap_destroy_stl_allocator<U>& other) noexcept : mi_heap_stl_allocator_base<T, true>(other) {}
  mi_heap_destroy_stl_allocator select_on_container_copy_construction() const { return *this; }
  void deallocate(T*, std::size_t) noexcept {}
};
#endif /* __cplusplus */

#endif /* MIMALLOC_H */
