/* SPDX-License-Identifier: MIT
 * Cross-file prototypes, grouped by the file that defines them, and the small inline helpers
 * the fast paths are made of (pointer -> segment -> page, size -> bin, free-list links).
 * Fast-path helpers here must stay branch-light and must never call out of line except into
 * a function marked as a slow path. */
#ifndef MI_INTERNAL_H
#define MI_INTERNAL_H

#include <errno.h>
#include <string.h>

#include "atomic.h"
#include "prim.h"
#include "track.h"
#include "types.h"

/* Compiler portability. GCC and Clang get the attributes; MSVC (untested here: no cl.exe in
 * CI) gets its own spellings or nothing where a hint has no equivalent. */
#if defined(__GNUC__)
#define mi_likely(x) __builtin_expect(!!(x), 1)
#define mi_unlikely(x) __builtin_expect(!!(x), 0)
#define mi_decl_noinline __attribute__((noinline))
#define mi_decl_cold __attribute__((cold))
#define mi_decl_forceinline inline __attribute__((always_inline))
#define mi_decl_hidden __attribute__((visibility("hidden")))
#define mi_decl_thread __thread
#define mi_decl_cache_align __attribute__((aligned(64)))
#define mi_prefetch_write(p) __builtin_prefetch((p), 1, 3)
#elif defined(_MSC_VER)
#include <intrin.h>
#define mi_likely(x) (x)
#define mi_unlikely(x) (x)
#define mi_decl_noinline __declspec(noinline)
#define mi_decl_cold
#define mi_decl_forceinline __forceinline
#define mi_decl_hidden
#define mi_decl_thread __declspec(thread)
#define mi_decl_cache_align __declspec(align(64))
#define mi_prefetch_write(p) ((void)(p))
#endif

/* One step of waiting for another thread to finish a short critical step: a pause for the first
 * 64 steps, then the core goes to whoever is runnable. With more threads than cores the awaited
 * thread may have been preempted halfway, and spinning on would burn the waiter's time slice
 * while that thread waits for a core (1 % of thread-churn's CPU time, at 32 threads on 2
 * cores, waiting for abandoned-stack readers). */
#define MI_SPIN_PAUSES 64
static inline void mi_spin_wait(size_t* spins) {
  if (*spins < MI_SPIN_PAUSES) {
    (*spins)++;
    mi_atomic_yield();
  } else {
    _mi_prim_thread_yield();
  }
}

/* printf-style checking. MinGW's `printf` archetype is old msvcrt's, which knows no %zu; the
 * C library formats with MinGW's own C99 printf here (C11 mode and _GNU_SOURCE turn it on;
 * the UCRT's is C99 too), so check against that. */
#if defined(__MINGW32__)
#define mi_attr_printf(fmt, args) __attribute__((format(__gnu_printf__, fmt, args)))
#elif defined(__GNUC__)
#define mi_attr_printf(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define mi_attr_printf(fmt, args)
#endif

/* Windows x64 with GCC: `__thread` is emulated TLS there (a libgcc call per access), so the
 * default heap lives in a TEB TLS slot instead, read with one gs-relative load (prim-windows.c
 * allocates the slot). MSVC's and Clang's thread-locals are native and need none of this. */
#if defined(_WIN32) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MI_WIN_TLS_SLOT 1
#define MI_WIN_TEB_TLS_SLOTS 0x1480 /* offset of TEB.TlsSlots[64] on x64 */
#else
#define MI_WIN_TLS_SLOT 0
#endif

/* Assertions in three tiers, named by what they cost, switched by MI_DEBUG
 * (c_src/README.md, "Build modes"):
 *   _mi_assert           MI_DEBUG >= 1  cheap pre- and postconditions at a function's entry and exit
 *   _mi_assert_internal  MI_DEBUG >= 2  the consistency of one structure (the invariant checks)
 *   _mi_assert_expensive MI_DEBUG >= 3  walks over whole lists, queues or segments
 * Below its tier an assertion is not compiled at all (its expression is not evaluated), so a
 * release build's code is the same as without it. A failure is a bug in the allocator, never
 * in the program: it is printed whatever the options say and aborts (no hook can return). */
#if MI_DEBUG >= 1
_Noreturn mi_decl_cold void _mi_assert_fail(const char* expr, const char* file, int line, const char* func);
#define _mi_assert(expr) (mi_unlikely(!(expr)) ? _mi_assert_fail(#expr, __FILE__, __LINE__, __func__) : (void)0)
#else
#define _mi_assert(expr) ((void)0)
#endif
#if MI_DEBUG >= 2
#define _mi_assert_internal(expr) _mi_assert(expr)
#else
#define _mi_assert_internal(expr) ((void)0)
#endif
#if MI_DEBUG >= 3
#define _mi_assert_expensive(expr) _mi_assert(expr)
#else
#define _mi_assert_expensive(expr) ((void)0)
#endif

/* ---- init.c ------------------------------------------------------------------------------ */
extern const mi_page_t _mi_page_empty;
extern const mi_heap_t _mi_heap_empty;
extern mi_decl_thread mi_heap_t* _mi_heap_default; /* the thread's default heap; never NULL */
extern uintptr_t _mi_process_cookie;
void _mi_thread_done(mi_heap_t* heap);
void _mi_process_fork_child(void); /* run in the child of a fork */
bool _mi_is_main_thread(void);
bool _mi_thread_is_in_threadpool(void); /* mi_thread_set_in_threadpool was called */
bool _mi_thread_has_ended(void);         /* its state was torn down (init.c) */
void _mi_process_load(void);
bool _mi_preloading(void);
mi_heap_t* _mi_heap_main_get(void);

/* ---- options.c ---------------------------------------------------------------------------- */
void _mi_options_init(void);
bool _mi_options_env_size(const char* var, size_t* bytes);
bool _mi_option_is_supported(mi_option_t option); /* false: accepted, but no effect in this build */
void _mi_fputs(mi_output_fun* out, void* arg, const char* prefix, const char* msg);
void _mi_fprintf(mi_output_fun* out, void* arg, const char* fmt, ...) mi_attr_printf(3, 4);
void _mi_message(const char* fmt, ...) mi_attr_printf(1, 2);
void _mi_verbose_message(const char* fmt, ...) mi_attr_printf(1, 2);
void _mi_warning_message(const char* fmt, ...) mi_attr_printf(1, 2);
void _mi_error_message(int err, const char* fmt, ...) mi_attr_printf(2, 3);

/* ---- random.c ----------------------------------------------------------------------------- */
uintptr_t _mi_random_seed(void);           /* OS randomness, or a clock-derived fallback */
uintptr_t _mi_random_next(uintptr_t* state);

/* A cheaper step for bulk use (shuffling fresh blocks): the same Weyl sequence, mixed by one
 * xor-shift and one odd multiply instead of splitmix's two multiplies and three shifts. It
 * mixes less, but only the order of fresh blocks depends on it, and the state it starts from
 * is as secret as the keys. May return 0. */
static inline uint64_t _mi_random_bulk(uint64_t* state) {
  uint64_t x = (*state += 0x9e3779b97f4a7c15ULL);
  x ^= x >> 32;
  return x * 0xbf58476d1ce4e5b9ULL;
}

/* ---- stats.c ------------------------------------------------------------------------------ */
extern mi_stats_t _mi_stats_main;
void _mi_stat_increase(mi_stat_count_t* stat, size_t amount);
void _mi_stat_decrease(mi_stat_count_t* stat, size_t amount);
void _mi_stat_counter_increase(mi_stat_counter_t* stat, size_t amount);
void _mi_stats_done(mi_stats_t* stats); /* merge a thread's stats into the main ones */
mi_msecs_t _mi_clock_now(void);
mi_msecs_t _mi_clock_coarse(void); /* for purge deadlines only: prim.h */
mi_msecs_t _mi_clock_start(void);

/* ---- os.c ----------------------------------------------------------------------------------- */
void _mi_os_init(void);
size_t _mi_os_page_size(void);
size_t _mi_os_large_page_size(void); /* a transparent huge page, 0 where there are none */
const char* _mi_os_thp_off(void);    /* why segments get none of them here (an option, the system, the build), or NULL */
bool _mi_os_has_overcommit(void);     /* mapped memory costs nothing until it is touched */
bool _mi_os_purge_keeps_protection(void); /* a purge may span guard pages: they stay no-access */
/* Map `size` bytes aligned to `alignment`; `base` and `mapped` describe the mapping to unmap later. */
void* _mi_os_alloc_aligned(size_t size, size_t alignment, bool allow_large, bool* is_large,
                           void** base, size_t* mapped, mi_stats_t* stats);
void _mi_os_free(void* base, size_t mapped, mi_stats_t* stats);
/* Purge; returns true when the range now reads as zero. */
bool _mi_os_purge(void* p, size_t size, mi_stats_t* stats);
void* _mi_os_alloc_meta(size_t size, mi_stats_t* stats); /* zeroed, page-aligned metadata */
bool _mi_os_protect(void* p, size_t size); /* make a guard page; false (warned once) when refused */
bool _mi_os_advise_huge(void* p, size_t size); /* transparent huge pages for what is not yet backed */
void _mi_os_unadvise_huge(void* p, size_t size); /* no more of them there, from faults or background collapse */
size_t _mi_os_collapse_huge(void* p, size_t size); /* huge pages now for its nearly all resident runs */
bool _mi_os_unprotect(void* p, size_t size); /* a guard page back to read-write (a reused huge segment moves its guards) */
size_t _mi_os_guard_budget(void);          /* guard pages between pages the process may hold */
void _mi_os_free_meta(void* p, size_t size, mi_stats_t* stats);
/* Address space for an arena; `is_committed` when it is read-write already (Unix). */
void* _mi_os_reserve_aligned(size_t size, size_t alignment, bool allow_large, bool* is_committed, void** base,
                             size_t* mapped, mi_stats_t* stats);
void _mi_os_release(void* base, size_t mapped, size_t committed, mi_stats_t* stats);
bool _mi_os_commit(void* p, size_t size, size_t stat_size, mi_stats_t* stats); /* counts `stat_size` as committed */
bool _mi_os_decommit(void* p, size_t size, mi_stats_t* stats);
int _mi_os_alloc_huge_os_pages(size_t size, int numa_node, void** addr, mi_stats_t* stats);

/* ---- arena.c ---------------------------------------------------------------------------------- */
/* Where a segment's memory came from: an arena's slots, or its own OS mapping (arena 0). */
typedef struct mi_arena_mem_s {
  void* start;       /* MI_SEGMENT_SIZE aligned */
  size_t size;       /* whole slots */
  int arena;         /* arena id (index + 1); 0 = not from an arena */
  bool is_zero;      /* reads as zero */
  bool is_committed; /* committed whole */
  bool is_large;     /* huge/large OS pages: pinned, never purged */
} mi_arena_mem_t;
void _mi_arenas_init(void); /* reservations the options ask for at start-up */
bool _mi_arena_alloc(size_t size, bool commit, int req_arena_id, mi_arena_mem_t* mem, mi_stats_t* stats);
void _mi_arena_free(const mi_arena_mem_t* mem, mi_stats_t* stats);
void _mi_arenas_collect(bool force, mi_stats_t* stats);
void _mi_arenas_fork_child(void); /* releases the arena-reservation lock in a forked child */
bool _mi_arena_memid_is_suitable(int arena, int req_arena_id); /* may a heap pinned to `req_arena_id` use this memory? */

/* ---- segment.c, segment-cache.c, segment-abandon.c --------------------------------------------- */
void _mi_heap_guarded_init(mi_heap_t* heap); /* sampling as the guarded_* options say */
mi_page_t* _mi_segment_page_alloc(mi_heap_t* heap, size_t block_size, size_t page_alignment, bool guarded, mi_tld_t* tld);
void _mi_segment_page_free(mi_page_t* page, bool force, mi_tld_t* tld);
bool _mi_segment_huge_expand(void* p, size_t newsize); /* grows a huge block of this thread in place */
void _mi_segments_collect(mi_tld_t* tld, bool force);
void _mi_abandoned_reclaim_all(mi_heap_t* heap, mi_tld_t* tld);
void _mi_segment_reclaim_large(mi_heap_t* heap, mi_tld_t* tld); /* before a fresh large page (page.c) */
void _mi_segments_thread_done(mi_tld_t* tld);
void _mi_abandoned_await_readers(void);
void _mi_segments_fork_child(void);
void _mi_segment_page_abandon(mi_page_t* page, mi_tld_t* tld);
#if MI_INVARIANTS
void _mi_segments_check(const mi_tld_t* tld); /* reports a broken segment invariant as EFAULT */
#else
static inline void _mi_segments_check(const mi_tld_t* tld) { (void)tld; }
#endif
bool _mi_segment_is_valid(const mi_segment_t* segment);
mi_subproc_t* _mi_tld_subproc(const mi_tld_t* tld);

/* ---- segment-map.c ---------------------------------------------------------------------- */
void _mi_segment_map_allocated_at(const mi_segment_t* segment);
void _mi_segment_map_freed_at(const mi_segment_t* segment);
bool _mi_segment_map_contains(const void* p);
#if MI_TRACK_VALGRIND
void _mi_segment_map_track_exit(void);
#endif

/* ---- page-queue.c ------------------------------------------------------------------------- */
size_t _mi_bin_size(size_t bin);
mi_page_queue_t* _mi_page_queue_of(mi_heap_t* heap, const mi_page_t* page);
void _mi_page_queue_push(mi_heap_t* heap, mi_page_queue_t* queue, mi_page_t* page);
void _mi_page_queue_remove(mi_heap_t* heap, mi_page_queue_t* queue, mi_page_t* page);
void _mi_page_queue_enqueue_from(mi_heap_t* heap, mi_page_queue_t* to, mi_page_queue_t* from, mi_page_t* page);
size_t _mi_page_queue_append(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_queue_t* append);
#if MI_INVARIANTS
/* Invariant checks: each reports what is broken (EFAULT) and answers false, for the assertion
 * macros (or a test) to act on. */
bool _mi_page_queue_check(const mi_heap_t* heap, const mi_page_queue_t* pq, size_t* pages); /* `pages`: counted, may be NULL */
bool _mi_heap_check(const mi_heap_t* heap);                                                /* every queue and the direct array */
#endif
void _mi_heap_queue_first_update(mi_heap_t* heap, const mi_page_queue_t* pq);

/* ---- page.c ------------------------------------------------------------------------------ */
void* _mi_malloc_generic(mi_heap_t* heap, size_t size, bool zero, size_t huge_alignment) mi_decl_noinline;
void _mi_page_free_collect(mi_page_t* page, bool force);
void _mi_page_retire(mi_page_t* page);
void _mi_page_free(mi_page_t* page, mi_page_queue_t* pq, bool force);
void _mi_page_unfull(mi_page_t* page);
void _mi_page_use_delayed_free(mi_page_t* page, mi_delayed_t delay, bool override_never);
void _mi_page_abandon(mi_page_t* page, mi_page_queue_t* pq);
void _mi_page_reclaim(mi_heap_t* heap, mi_page_t* page);
void _mi_page_drop_lists(mi_page_t* page);

/* limit.c */
void _mi_limit_init(void);
bool _mi_limit_page_take(mi_heap_t* heap, size_t bytes);
void _mi_limit_page_cleared(size_t bytes);
void _mi_limit_heap_leave(mi_heap_t* heap, size_t bytes);
void _mi_limit_heap_adopt(mi_heap_t* heap, size_t bytes);

bool _mi_heap_delayed_free_all(mi_heap_t* heap);
void _mi_heap_delayed_free_partial(mi_heap_t* heap);
void _mi_heap_collect_retired(mi_heap_t* heap, bool force);
void _mi_deferred_free(mi_heap_t* heap, bool force);

/* ---- alloc.c / free.c ----------------------------------------------------------------------- */
#if MI_CHECK_OWNED
/* Segments this thread freed into as their owner (free.c), one slot per value of the segment
 * address's low bits: each mapped, ours and this thread's, or MI_SEGMENT_NONE, which no
 * block's segment can be (it is not aligned). Whoever gives a segment up (abandons, shares or
 * unmaps it) makes its thread forget it first. */
#define MI_SEGMENT_NONE ((const mi_segment_t*)1)
#define MI_OWNED_SLOTS 8
extern mi_decl_thread const mi_segment_t* _mi_free_owned[MI_OWNED_SLOTS];
static inline size_t _mi_free_owned_slot(const mi_segment_t* segment) {
  return ((uintptr_t)segment >> MI_SEGMENT_SHIFT) & (MI_OWNED_SLOTS - 1);
}
static inline void _mi_free_forget_segment(const mi_segment_t* segment) {
  size_t slot = _mi_free_owned_slot(segment);
  if (_mi_free_owned[slot] == segment) _mi_free_owned[slot] = MI_SEGMENT_NONE;
}
static inline void _mi_free_forget_all(void) {
  for (size_t i = 0; i < MI_OWNED_SLOTS; i++) _mi_free_owned[i] = MI_SEGMENT_NONE;
}
#else
static inline void _mi_free_forget_segment(const mi_segment_t* segment) { (void)segment; }
static inline void _mi_free_forget_all(void) {}
#endif

void* _mi_page_malloc(mi_heap_t* heap, mi_page_t* page, size_t size, bool zero);
void* _mi_heap_malloc_zero(mi_heap_t* heap, size_t size, bool zero);
void* _mi_heap_realloc_zero(mi_heap_t* heap, void* p, size_t newsize, bool zero);
void _mi_free_delayed_block(mi_block_t* block);
void _mi_free_block(mi_page_t* page, bool local, mi_block_t* block);
/* Frees into another thread's page are chained per page and pushed together (free.c); in the
 * builds with the double-free check a waiting block carries a mark that check reads. */
#ifndef MI_REMOTE_BATCH /* -DMI_REMOTE_BATCH=0 measures the cost of one CAS per block */
#define MI_REMOTE_BATCH 1
#endif
#define MI_REMOTE_BATCH_MAX 32
/* the most bytes of blocks one chain holds back from their page's owner: a thread that frees
 * into other threads' pages and then waits holds at most MI_REMOTE_SLOTS times this until its
 * next allocation slow path, collect or exit (4 MiB on 64-bit, 2 MiB on 32-bit) */
#define MI_REMOTE_CHAIN_BYTES (64 * MI_KiB)
#if MI_REMOTE_BATCH
void _mi_remote_batch_push_all(mi_tld_t* tld);
static inline void _mi_remote_batch_flush(mi_tld_t* tld) { /* pushes this thread's pending chains */
  if (tld->remote.pending != 0) _mi_remote_batch_push_all(tld);
}
#else
static inline void _mi_remote_batch_flush(mi_tld_t* tld) { (void)tld; }
#endif
mi_block_t* _mi_page_ptr_unalign(const mi_page_t* page, const void* p);
size_t _mi_usable_size(const void* p, const char* msg);
#if MI_TRACK_VALGRIND
void _mi_track_align(void* p, size_t oversize, size_t adjust, size_t size, bool zero);
void _mi_track_destroy_block(const mi_page_t* page, const mi_block_t* block);
#endif

/* ---- heap.c ---------------------------------------------------------------------------------- */
void _mi_heap_init(mi_heap_t* heap, mi_tld_t* tld, bool no_reclaim);
void _mi_heap_destroy_pages(mi_heap_t* heap);
void _mi_heap_collect_abandon(mi_heap_t* heap);
void _mi_heap_set_default_direct(mi_heap_t* heap);
void _mi_page_area(const mi_page_t* page, mi_heap_area_t* area);
bool _mi_heap_area_visit_blocks(const mi_heap_t* heap, const mi_heap_area_t* area, mi_page_t* page, mi_block_visit_fun* visitor, void* arg);

/* ---- Small helpers ------------------------------------------------------------------------- */

static inline bool _mi_is_power_of_two(uintptr_t x) { return (x & (x - 1)) == 0; }

static inline uintptr_t _mi_align_up(uintptr_t sz, size_t alignment) {
  uintptr_t mask = alignment - 1;
  if ((alignment & mask) == 0) return (sz + mask) & ~mask;
  return ((sz + mask) / alignment) * alignment;
}

static inline bool mi_mul_overflow(size_t count, size_t size, size_t* total) {
  return __builtin_mul_overflow(count, size, total);
}

/* count*size, or report EOVERFLOW and return true. */
static inline bool mi_count_size_overflow(size_t count, size_t size, size_t* total) {
  if (count == 1) { *total = size; return false; }
  if (mi_unlikely(mi_mul_overflow(count, size, total))) {
    _mi_error_message(EOVERFLOW, "allocation request is too large (%zu * %zu bytes)", count, size);
    *total = SIZE_MAX;
    return true;
  }
  return false;
}

static inline size_t _mi_wsize_from_size(size_t size) { return (size + MI_INTPTR_SIZE - 1) / MI_INTPTR_SIZE; }

/* Index of the highest set bit of x != 0; the builtin of the word's own width, so that 32-bit
 * targets use one count-leading-zeros instruction rather than a 64-bit emulation. */
static inline size_t mi_bsr(size_t x) {
#if MI_INTPTR_SIZE == 8
  return (size_t)(63 - __builtin_clzll((unsigned long long)x));
#else
  return (size_t)(31 - __builtin_clz((unsigned int)x));
#endif
}

/* Bin of a size (see types.h for the class layout). */
static inline size_t _mi_bin(size_t size) {
  if (size <= MI_MIN_BLOCK_SIZE) return 1;
  if (size <= MI_BIN_LINEAR_MAX) return 1 + ((size + 15) >> 4);
  if (size > MI_LARGE_OBJ_SIZE_MAX) return MI_BIN_HUGE;
  size_t s = size - 1;
  size_t b = mi_bsr(s); /* >= 8 */
  return 18 + (b - 8) * 8 + ((s >> (b - 3)) & 7);
}

/* Thread identity: the thread's control block address, one instruction on common targets.
 * Each OS keeps that address in another place: Windows' TEB points at itself at gs:0x30,
 * macOS keeps its thread pointer in gs (x86-64) or the read-only tpidrro_el0 (arm64, whose
 * low bits hold the CPU number), Linux and the BSDs in fs or tpidr_el0. */
static inline uintptr_t _mi_thread_id(void) {
#if defined(_WIN32) && defined(__x86_64__) && defined(__GNUC__)
  uintptr_t tid;
  __asm__("movq %%gs:0x30, %0" : "=r"(tid));
  return tid;
#elif defined(_WIN32) && defined(_MSC_VER) && defined(_M_X64)
  return (uintptr_t)__readgsqword(0x30);
#elif defined(__APPLE__) && defined(__x86_64__)
  uintptr_t tid;
  __asm__("movq %%gs:0, %0" : "=r"(tid));
  return tid;
#elif defined(__APPLE__) && defined(__aarch64__)
  uintptr_t tid;
  __asm__ volatile("mrs %0, tpidrro_el0" : "=r"(tid));
  return tid & ~(uintptr_t)7;
#elif defined(__x86_64__) && !defined(_WIN32)
  uintptr_t tid;
  __asm__("movq %%fs:0, %0" : "=r"(tid));
  return tid;
#elif defined(__aarch64__) && !defined(_WIN32)
  uintptr_t tid;
  __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tid));
  return tid;
#else
  return (uintptr_t)&_mi_heap_default;
#endif
}

#if MI_WIN_TLS_SLOT
/* Byte offset of our slot in the TEB; 0 until prim-windows.c has one (the `__thread` variable
 * serves meanwhile). A fresh thread's slot reads NULL: that is the empty heap. The loads are
 * volatile so that a heap set in between (thread init) is seen by the next read. */
extern size_t _mi_win_tls_offset;
static inline mi_heap_t* mi_prim_get_default_heap(void) {
  size_t ofs = _mi_win_tls_offset;
  if (mi_unlikely(ofs == 0)) return _mi_heap_default;
  mi_heap_t* heap;
  __asm__ volatile("movq %%gs:(%1), %0" : "=r"(heap) : "r"(ofs));
  return (mi_likely(heap != NULL) ? heap : (mi_heap_t*)&_mi_heap_empty);
}
static inline void mi_prim_set_default_heap(mi_heap_t* heap) {
  size_t ofs = _mi_win_tls_offset;
  if (ofs == 0) _mi_heap_default = heap;
  else __asm__ volatile("movq %0, %%gs:(%1)" : : "r"(heap), "r"(ofs) : "memory");
}
#else
static inline mi_heap_t* mi_prim_get_default_heap(void) { return _mi_heap_default; }
static inline void mi_prim_set_default_heap(mi_heap_t* heap) { _mi_heap_default = heap; }
#endif

static inline bool mi_heap_is_initialized(const mi_heap_t* heap) { return heap != &_mi_heap_empty; }

static inline bool mi_heap_is_backing(const mi_heap_t* heap) { return heap->tld->heap_backing == heap; }

/* Segment of a block: the block never starts at its segment's first byte, so p-1 masks right
 * even for a huge block placed exactly one segment size into its mapping. */
static inline mi_segment_t* _mi_ptr_segment(const void* p) {
  return (mi_segment_t*)(((uintptr_t)p - 1) & ~MI_SEGMENT_MASK);
}

static inline mi_page_t* _mi_segment_page_of(const mi_segment_t* segment, const void* p) {
  size_t diff = (size_t)((uintptr_t)p - (uintptr_t)segment);
  size_t idx = diff >> segment->page_shift;
  return (mi_page_t*)&segment->pages[idx];
}

/* The compiler may not re-derive `x` from what computed it: a fast path that reads several
 * fields of one descriptor then addresses them from the one pointer instead of recomputing the
 * segment-relative offset for each (GCC does, for the free path). No instruction. */
#if defined(__GNUC__)
#define mi_opaque(x) __asm__("" : "+r"(x))
#else
#define mi_opaque(x) ((void)(x))
#endif

static inline mi_page_t* _mi_ptr_page(const void* p) { return _mi_segment_page_of(_mi_ptr_segment(p), p); }

static inline mi_segment_t* _mi_page_segment(const mi_page_t* page) {
  /* page descriptors live in their segment's header */
  return (mi_segment_t*)((uintptr_t)page & ~MI_SEGMENT_MASK);
}

/* What a page in use counts against the memory limits (limit.c): its share of the segment. */
static inline size_t _mi_page_footprint(const mi_page_t* page) {
  const mi_segment_t* segment = _mi_page_segment(page);
  if (segment->page_kind >= MI_PAGE_LARGE) return segment->segment_size;
  return (size_t)1 << segment->page_shift;
}

static inline mi_heap_t* mi_page_heap(const mi_page_t* page) {
  return (mi_heap_t*)mi_atomic_load_relaxed(&((mi_page_t*)page)->xheap);
}

static inline void mi_page_set_heap(mi_page_t* page, mi_heap_t* heap) {
  mi_atomic_store_release(&page->xheap, (uintptr_t)heap);
}

static inline mi_block_t* mi_tf_block(mi_thread_free_t tf) { return (mi_block_t*)(tf & ~(uintptr_t)0x03); }
static inline mi_delayed_t mi_tf_delayed(mi_thread_free_t tf) { return (mi_delayed_t)(tf & 0x03); }
static inline mi_thread_free_t mi_tf_make(mi_block_t* block, mi_delayed_t delayed) {
  return (mi_thread_free_t)((uintptr_t)block | (uintptr_t)delayed);
}
static inline mi_thread_free_t mi_tf_set_delayed(mi_thread_free_t tf, mi_delayed_t delayed) {
  return mi_tf_make(mi_tf_block(tf), delayed);
}
static inline mi_thread_free_t mi_tf_set_block(mi_thread_free_t tf, mi_block_t* block) {
  return mi_tf_make(block, mi_tf_delayed(tf));
}
static inline mi_block_t* mi_page_thread_free(const mi_page_t* page) {
  return mi_tf_block(mi_atomic_load_relaxed(&((mi_page_t*)page)->xthread_free));
}

static inline bool mi_page_immediate_available(const mi_page_t* page) { return page->free != NULL; }
static inline bool mi_page_all_free(const mi_page_t* page) { return page->used == 0; }
static inline mi_page_flags_t mi_page_flags(const mi_page_t* page) { return __atomic_load_n(&page->flags, __ATOMIC_RELAXED); }
/* The owner's read of its own page's flags: it is their only writer and other threads only
 * read them, so a plain load races with nothing, and it folds into one compare with memory. */
static inline mi_page_flags_t mi_page_flags_owner(const mi_page_t* page) { return page->flags; }
static inline void mi_page_flag_set(mi_page_t* page, mi_page_flags_t flag, bool on) {
  mi_page_flags_t f = mi_page_flags(page); /* owner-only writer: load+store is enough */
  __atomic_store_n(&page->flags, (mi_page_flags_t)(on ? (f | flag) : (f & ~flag)), __ATOMIC_RELAXED);
}
static inline bool mi_page_is_in_full(const mi_page_t* page) { return (mi_page_flags(page) & MI_PAGE_IN_FULL) != 0; }
static inline void mi_page_set_in_full(mi_page_t* page, bool in_full) { mi_page_flag_set(page, MI_PAGE_IN_FULL, in_full); }
static inline bool mi_page_has_aligned(const mi_page_t* page) { return (mi_page_flags(page) & MI_PAGE_HAS_ALIGNED) != 0; }
static inline void mi_page_set_has_aligned(mi_page_t* page, bool has_aligned) { mi_page_flag_set(page, MI_PAGE_HAS_ALIGNED, has_aligned); }
/* Only the checked builds ever drop a page's lists: elsewhere the test folds away. */
static inline bool mi_page_is_corrupt(const mi_page_t* page) {
  return MI_ENCODE_FREELIST && (mi_page_flags(page) & MI_PAGE_CORRUPT) != 0;
}

/* ---- Free-list links ---------------------------------------------------------------------- */
/* Every read and write of a free block's link goes through these two functions, so the
 * secure mode can encode links with the page's keys without touching any caller. */

#if MI_ENCODE_FREELIST
/* Every link read and written in the checked modes pays one rotate of a word. On x86-64 the
 * instruction itself, which takes its count modulo 64 from cl: GCC 12 compiles the masked C
 * form below to the rotate too, but when a function rotates both ways by the same key (the
 * checked free decodes the block's word, then encodes its new link) it copies and re-masks the
 * count in three more instructions. Elsewhere the shifts masked to the word width, defined for
 * every count (0 too), which compilers turn into the target's rotate. */
#if defined(__x86_64__) && defined(__GNUC__) && MI_INTPTR_SIZE == 8
static inline uintptr_t mi_rotl(uintptr_t x, uintptr_t shift) {
  __asm__("rolq %%cl, %0" : "+r"(x) : "c"(shift) : "cc");
  return x;
}
static inline uintptr_t mi_rotr(uintptr_t x, uintptr_t shift) {
  __asm__("rorq %%cl, %0" : "+r"(x) : "c"(shift) : "cc");
  return x;
}
#else
static inline uintptr_t mi_rotl(uintptr_t x, uintptr_t shift) {
  return (x << (shift & (MI_INTPTR_BITS - 1))) | (x >> ((MI_INTPTR_BITS - shift) & (MI_INTPTR_BITS - 1)));
}
static inline uintptr_t mi_rotr(uintptr_t x, uintptr_t shift) {
  return (x >> (shift & (MI_INTPTR_BITS - 1))) | (x << ((MI_INTPTR_BITS - shift) & (MI_INTPTR_BITS - 1)));
}
#endif
#endif

/* Is `p` inside the block area of `page`? Pure arithmetic: `p` is never dereferenced. A page
 * not in use has an empty area, so nothing is inside it. */
static inline bool mi_page_contains_addr(const mi_page_t* page, const void* p) {
  return (size_t)((const uint8_t*)p - page->page_start) < page->block_area;
}

/* A free block's link word is no-access to memcheck; the allocator opens it for one access. */
static inline mi_encoded_t mi_block_link_read(const mi_block_t* block) {
  mi_track_mem_defined(block, sizeof(mi_block_t));
  mi_encoded_t link = block->next;
  mi_track_mem_noaccess(block, sizeof(mi_block_t));
  return link;
}
static inline void mi_block_link_write(mi_block_t* block, mi_encoded_t link) {
  mi_track_mem_undefined(block, sizeof(mi_block_t));
  block->next = link;
  mi_track_mem_noaccess(block, sizeof(mi_block_t));
}

#if MI_ENCODE_FREELIST
/* An encoded link holds the next block's offset from its page's first block, xor-ed with one
 * page key and rotated by the other: a blind write decodes to an offset inside the page with
 * odds of about page size / 2^64 (2^32 with 32-bit words, where a 64 KiB small page leaves
 * 1 in 65,536), and a partial one moves bits the rotation scattered. An
 * offset rather than an address lets one unsigned compare judge a decoded link. The list's end,
 * NULL, is the offset that wraps to address 0: encoding needs no case for it. */
static inline uintptr_t mi_link_offset(const mi_page_t* page, mi_encoded_t link) {
  return mi_rotr(link, page->keys[0]) ^ page->keys[1];
}

static inline mi_encoded_t mi_link_encode(const mi_page_t* page, const mi_block_t* next) {
  return mi_rotl(((uintptr_t)next - (uintptr_t)page->page_start) ^ page->keys[1], page->keys[0]);
}
#endif

/* Decode without judging the result (the double-free check wants the raw answer). */
static inline mi_block_t* mi_block_next_raw(const mi_page_t* page, const mi_block_t* block) {
#if MI_ENCODE_FREELIST
  return (mi_block_t*)((uintptr_t)page->page_start + mi_link_offset(page, mi_block_link_read(block)));
#else
  (void)page;
  return (mi_block_t*)mi_block_link_read(block);
#endif
}

/* Reports a bad link (EFAULT: aborts unless a handler returns) and drops the page's lists. */
void _mi_error_freelist_corrupted(const mi_page_t* page, const mi_block_t* block);

static inline mi_block_t* mi_block_next(const mi_page_t* page, const mi_block_t* block) {
#if MI_ENCODE_FREELIST
  /* a link overwritten after free decodes to an offset outside the page (with odds of about
   * page size / 2^(word bits) of passing): stop before handing that memory out */
  uintptr_t offset = mi_link_offset(page, mi_block_link_read(block));
  /* integer sums: a pointer sum is assumed never to be NULL */
  mi_block_t* next = (mi_block_t*)((uintptr_t)page->page_start + offset);
  if (mi_unlikely(offset >= page->block_area && next != NULL)) {
    _mi_error_freelist_corrupted(page, block); /* returns only when a handler chose to go on */
    return NULL;
  }
  return next;
#else
  return mi_block_next_raw(page, block);
#endif
}

static inline void mi_block_set_next(const mi_page_t* page, mi_block_t* block, const mi_block_t* next) {
#if MI_ENCODE_FREELIST
  mi_block_link_write(block, mi_link_encode(page, next));
#else
  (void)page;
  mi_block_link_write(block, (mi_encoded_t)next);
#endif
}

/* The heap's delayed list links blocks of many pages, pushed by other threads: a link holds the
 * next block's address (no single page to take an offset from) xor-ed and rotated with the
 * heap's own delayed keys, which stay fixed while the heap lives so that any thread can encode.
 * A use-after-free write then decodes to a random address, which the owner judges (page.c)
 * before it frees anything there. */
static inline mi_block_t* mi_block_nextx(const mi_heap_t* heap, const mi_block_t* block) {
#if MI_ENCODE_FREELIST
  return (mi_block_t*)(mi_rotr(mi_block_link_read(block), heap->delayed_keys[0]) ^ heap->delayed_keys[1]);
#else
  (void)heap;
  return (mi_block_t*)mi_block_link_read(block);
#endif
}
static inline void mi_block_set_nextx(const mi_heap_t* heap, mi_block_t* block, const mi_block_t* next) {
#if MI_ENCODE_FREELIST
  mi_block_link_write(block, mi_rotl((uintptr_t)next ^ heap->delayed_keys[1], heap->delayed_keys[0]));
#else
  (void)heap;
  mi_block_link_write(block, (mi_encoded_t)next);
#endif
}

/* Every push on a page's thread_free list (one block, or a chain of them) writes a descriptor
 * into the second word of its first block: the chain's block count and the offset of its last
 * block, whose link then leads to the next chain pushed before it. The owner's collect hops
 * from chain to chain instead of following each link, which is a cache miss per block (the
 * freeing thread wrote it last): with chains of up to MI_REMOTE_BATCH_MAX blocks, collecting a
 * producer's page costs two misses per chain. The misses of the blocks in between move to the
 * allocations that pop them, where they overlap the program's own work, and where the checked
 * builds judge each link as they pop it. Their descriptors are encoded with the page's keys
 * like a link, so that a write after free over one decodes to a count or an offset the owner
 * refuses (odds of passing about 2^-37); the owner then clears each one as it reads it, since
 * a block handed out must not show a function of the keys. Not in secure builds with 32-bit
 * words, where a 24-bit offset would pass one time in a few thousand (they follow every link; 32-bit debug
 * builds keep the chains, their checks being an aid, not a defence), nor for blocks of one
 * word (64-bit bin 1). */
#ifndef MI_TF_CHAINS
#define MI_TF_CHAINS (MI_SECURE == 0 || MI_INTPTR_SIZE == 8)
#endif
_Static_assert(MI_REMOTE_BATCH_MAX + 1 <= 0xFF && ((uintptr_t)MI_SEGMENT_SIZE << 8) > MI_SEGMENT_SIZE,
               "a chain descriptor holds its count in 8 bits and an in-segment offset above them");
static inline bool mi_page_tf_chains(const mi_page_t* page) {
  return MI_TF_CHAINS && page->block_size >= 2 * sizeof(uintptr_t);
}
/* A free block's second word: a chain's descriptor, or (checked builds) a waiting block's tag. */
static inline void mi_block_word1_write(mi_block_t* block, uintptr_t value) {
  uintptr_t* word = (uintptr_t*)block + 1;
  mi_track_mem_undefined(word, sizeof(*word));
  *word = value;
  mi_track_mem_noaccess(word, sizeof(*word));
}
static inline uintptr_t mi_block_word1_read(const mi_block_t* block) {
  const uintptr_t* word = (const uintptr_t*)block + 1;
  mi_track_mem_defined(word, sizeof(*word));
  uintptr_t value = *word;
  mi_track_mem_noaccess(word, sizeof(*word));
  return value;
}
/* The keys in the roles opposite to a link's: a descriptor is not a link spelled otherwise. */
static inline void mi_tf_chain_describe(const mi_page_t* page, mi_block_t* head, const mi_block_t* tail, size_t count) {
  if (!mi_page_tf_chains(page)) return;
  uintptr_t d = ((uintptr_t)((const uint8_t*)tail - page->page_start) << 8) | (uintptr_t)count;
#if MI_ENCODE_FREELIST
  d = mi_rotl(d ^ page->keys[0], page->keys[1]);
#endif
  mi_block_word1_write(head, d);
}
static inline uintptr_t mi_tf_chain_descriptor(const mi_page_t* page, const mi_block_t* head) {
  uintptr_t d = mi_block_word1_read(head);
#if MI_ENCODE_FREELIST
  d = mi_rotr(d, page->keys[1]) ^ page->keys[0];
#else
  (void)page;
#endif
  return d;
}

/* ---- Padding and canary ------------------------------------------------------------------- */

#if MI_PADDING
static inline mi_padding_t* mi_block_padding(const mi_page_t* page, const mi_block_t* block) {
  return (mi_padding_t*)((uint8_t*)block + page->block_size - sizeof(mi_padding_t));
}

/* The high half of the second key, so both keys feed the 32-bit canary with 64-bit words too. */
static inline uint32_t mi_padding_canary(const mi_page_t* page, const mi_block_t* block) {
  return (uint32_t)((uintptr_t)block ^ page->keys[0] ^ (page->keys[1] >> (MI_INTPTR_BITS / 2))) | 1;
}

#define MI_PADDING_FILL_WORD (0x0101010101010101ULL * MI_DEBUG_PADDING)

/* Inline: the allocation fast path runs it for every block. The secure build's fill is one
 * unaligned word after the requested bytes (the padding written next covers whatever of it
 * lies beyond a shorter slack), not debug's memset call of up to 256 bytes, whose cost on
 * every allocation the secure canary could not afford (`compare --allocators ours-secure`). */
static inline void _mi_padding_init(mi_page_t* page, mi_block_t* block, size_t size) {
  mi_padding_t* pad = mi_block_padding(page, block);
  size_t delta = (size_t)((uint8_t*)pad - (uint8_t*)block) - size;
#if MI_PADDING_FILL > 8
  memset((uint8_t*)block + size, MI_DEBUG_PADDING, delta < MI_PADDING_FILL ? delta : MI_PADDING_FILL);
#else
  uint64_t fill = MI_PADDING_FILL_WORD;
  memcpy((uint8_t*)block + size, &fill, sizeof(fill)); /* size + 8 <= block size: the padding is 8 bytes */
#endif
  pad->canary = mi_padding_canary(page, block);
  pad->delta = (uint32_t)delta;
#if MI_TRACK_VALGRIND
  pad->track_offset = 0;
#endif
}

#if MI_PADDING_FILL == 8
/* The free fast path's test of the canary and the fill word: a few loads and compares, no
 * branch taken for an intact block. The bytes of the word beyond the slack are the padding's
 * own and are masked off. */
static inline bool mi_padding_quick_ok(const mi_page_t* page, const mi_block_t* block) {
  const mi_padding_t* pad = mi_block_padding(page, block);
  uint32_t delta = pad->delta;
  if (pad->canary != mi_padding_canary(page, block) || delta > page->block_size - sizeof(mi_padding_t)) return false;
  uint64_t word;
  memcpy(&word, (const uint8_t*)pad - delta, sizeof(word));
  word ^= MI_PADDING_FILL_WORD;
  uint64_t mask = (delta >= 8 ? ~0ULL : 0);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  if (delta < 8 && delta > 0) mask = ~0ULL << (64 - 8 * delta);
#else
  if (delta < 8) mask = ((uint64_t)1 << (8 * delta)) - 1;
#endif
  return (word & mask) == 0;
}
#endif
#endif

/* ---- Page queues -------------------------------------------------------------------------- */

static inline mi_page_queue_t* mi_page_queue(const mi_heap_t* heap, size_t size) {
  return (mi_page_queue_t*)&heap->pages[_mi_bin(size)];
}

static inline mi_page_t* _mi_heap_get_free_small_page(mi_heap_t* heap, size_t size) {
  return heap->pages_free_direct[_mi_wsize_from_size(size)];
}

#endif /* MI_INTERNAL_H */
