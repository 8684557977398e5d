/* SPDX-License-Identifier: MIT
 * Public C API of our allocator. It follows the names, signatures and documented semantics of
 * upstream mimalloc's v2 line (same function names, same `mi_option_t` members with the same
 * numbering, same MIMALLOC_* environment variables), so code written against that
 * documentation builds unchanged. Only declarations live here: no internal types leak out.
 *
 * Each declaration carries a doc comment (the bindings of mimalloc-sys show it). Common rules:
 * - Every allocation function returns NULL on failure and sets errno: ENOMEM when memory (or a
 *   memory limit) runs out, for a `count * size` that overflows, and for a request above
 *   PTRDIFF_MAX bytes; EINVAL for an alignment that is not a power of two. The registered
 *   error hook (mi_register_error) hears of the same failures, a too-large request and an
 *   overflowing `count * size` as EOVERFLOW.
 * - Functions without `heap` use the calling thread's default heap. A heap belongs to the thread
 *   that created it: only that thread may allocate in it, collect, delete or destroy it. Any
 *   thread may free any block, whichever heap it came from.
 * - A reallocation that fails leaves the block passed in valid, unchanged and owned by the
 *   caller (only the reallocf forms free it). */
#ifndef MIMALLOC_H
#define MIMALLOC_H

/** Our own version, `major * 100 + minor` (what `mi_version` returns); not upstream's number. */
#define MI_MALLOC_VERSION 10

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Attributes of the declarations below, for the compiler's diagnostics and optimiser; they
 * change no calling convention. */
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

/** Allocates `size` bytes (not initialised) in the calling thread's default heap. `size` 0
 * gives a minimum-size block of its own. A block is aligned to 16 bytes, or for a `size` below
 * 16 to the largest power of two not above `size`.
 * Failure: NULL with errno ENOMEM, out of memory (after one forced collection of the heap and a
 * retry), refused by a memory limit, or for a `size` above PTRDIFF_MAX (EOVERFLOW to the error
 * hook). Free the block with `mi_free`. */
mi_decl_nodiscard mi_decl_export void* mi_malloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** Allocates `count * size` bytes, zeroed, in the calling thread's default heap.
 * Failure: NULL with errno ENOMEM (see `mi_malloc`), also when `count * size` overflows
 * (EOVERFLOW to the error hook). */
mi_decl_nodiscard mi_decl_export void* mi_calloc(size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
/** Resizes block `p` to `newsize` bytes, keeping its contents up to the smaller of the old and
 * new sizes. The result is `p` itself while the block holds `newsize` bytes and at most half of
 * it would be unused; otherwise a new block of the calling thread's default heap, and `p` is
 * freed (whichever heap or thread it came from). A growing block may get more room than asked
 * for (see `mi_usable_size`). `p` NULL: as `mi_malloc(newsize)`. `newsize` 0: `p` is freed and
 * a minimum-size block is returned, not NULL.
 * Failure: NULL with errno ENOMEM (see `mi_malloc`); `p` is untouched: still valid, same
 * contents, still the caller's to free. */
mi_decl_nodiscard mi_decl_export void* mi_realloc(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);
/** Resizes in place only: returns `p` when its block already holds `newsize` bytes (its usable
 * size is at least `newsize`), NULL otherwise. Nothing is moved, changed or freed either way,
 * and errno is not set (`mi__expand` sets ENOMEM). NULL for a NULL `p`. */
mi_decl_export void* mi_expand(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);
/** Frees block `p`; NULL is ignored. Any thread may free any block. `p` must be what an
 * allocation function of this library returned (an aligned one's interior pointer included) and
 * not freed since; anything else is undefined behaviour in a release build. Checked builds
 * refuse some of it and tell the error hook: with debug level 1 or more, or any secure level, a
 * pointer this allocator never handed out is ignored (EINVAL); with debug level 2 or more, or
 * secure level 4, a pointer inside a block is ignored (EINVAL) and a double free is refused
 * (EAGAIN); a block whose padding canary was overwritten (debug level 2 or more, secure canary)
 * is reported as EFAULT. Without a registered error hook a refused double free aborts the
 * process, and so does EFAULT in debug and secure builds. */
mi_decl_export void mi_free(void* p) mi_attr_noexcept;
/** Same as `mi_free` (kept for source compatibility). */
mi_decl_export void mi_free_small(void* p) mi_attr_noexcept;
/** A copy of the NUL-terminated string `s` in a new block. NULL when `s` is NULL (errno not
 * set) or when out of memory (errno ENOMEM). */
mi_decl_nodiscard mi_decl_export char* mi_strdup(const char* s) mi_attr_noexcept mi_attr_malloc;
/** A copy of at most the first `n` bytes of the string `s`, always NUL-terminated, in a new
 * block. NULL when `s` is NULL (errno not set) or when out of memory (errno ENOMEM). */
mi_decl_nodiscard mi_decl_export char* mi_strndup(const char* s, size_t n) mi_attr_noexcept mi_attr_malloc;
/** The canonical absolute path of `fname`, as POSIX `realpath`. With `resolved_name` not NULL
 * the path is written there (it must have room for PATH_MAX bytes) and `resolved_name` is
 * returned; with NULL it is returned in a new block of this allocator (free it with `mi_free`).
 * Failure: NULL with errno set by the OS lookup (ENOENT, EACCES, ENAMETOOLONG, ...) or ENOMEM. */
mi_decl_nodiscard mi_decl_export char* mi_realpath(const char* fname, char* resolved_name) mi_attr_noexcept mi_attr_malloc;

/* ---- Extended functionality ------------------------------------------------------------ */

/** Words served by the small-size functions (`mi_malloc_small`); see `MI_SMALL_SIZE_MAX`. */
#define MI_SMALL_WSIZE_MAX (128)
/** Largest size, in bytes, that portable code passes to `mi_malloc_small` and the other
 * `_small` functions (upstream requires it; ours accept any size). */
#define MI_SMALL_SIZE_MAX (MI_SMALL_WSIZE_MAX * sizeof(void*))

/** Same as `mi_malloc`. Upstream requires `size` to be at most `MI_SMALL_SIZE_MAX`; this
 * library accepts any size, but portable code keeps to that bound. */
mi_decl_nodiscard mi_decl_export void* mi_malloc_small(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** Same as `mi_zalloc` (`size` at most `MI_SMALL_SIZE_MAX` in portable code). */
mi_decl_nodiscard mi_decl_export void* mi_zalloc_small(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_malloc` with the block zeroed. Failure: NULL with errno ENOMEM. */
mi_decl_nodiscard mi_decl_export void* mi_zalloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);

/** Allocates `count * size` bytes, not initialised. Failure: NULL with errno ENOMEM, also when
 * `count * size` overflows. */
mi_decl_nodiscard mi_decl_export void* mi_mallocn(size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
/** `mi_realloc(p, count * size)`. Failure: NULL with errno ENOMEM, also when `count * size`
 * overflows; `p` stays valid, unchanged and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_reallocn(void* p, size_t count, size_t size) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
/** As `mi_realloc`, but a failure also frees `p` (BSD's `reallocf`): after a NULL result the
 * caller owns nothing. errno is ENOMEM then. */
mi_decl_nodiscard mi_decl_export void* mi_reallocf(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);

/** The bytes the program may use in block `p`: at least what was asked for; 0 for NULL. `p`
 * must be a live block of this allocator (or an aligned allocation's pointer). In builds with
 * padding (debug level 2 or more, secure canary, valgrind) it is exactly the size asked for. */
mi_decl_nodiscard mi_decl_export size_t mi_usable_size(const void* p) mi_attr_noexcept;
/** The usable size a request of `size` bytes would get (its size class; above 2 MiB, whole OS
 * pages). Allocates nothing; a `size` above PTRDIFF_MAX comes back unchanged. */
mi_decl_nodiscard mi_decl_export size_t mi_good_size(size_t size) mi_attr_noexcept;

/* ---- Internals and hooks --------------------------------------------------------------- */

/** A deferred-free hook: the allocator calls it now and then so that a program can free memory
 * it keeps for later, on the allocating thread, from the allocation slow path and from
 * collections. `force` is true in a forced collection (`mi_collect(true)`); `heartbeat` counts
 * the calls on this thread; `arg` is what was registered. Never re-entered on the same thread;
 * it may allocate and free. */
typedef void(mi_cdecl mi_deferred_free_fun)(bool force, unsigned long long heartbeat, void* arg);
/** Registers the deferred-free hook for every thread (NULL removes it); `arg` goes to each
 * call. */
mi_decl_export void mi_register_deferred_free(mi_deferred_free_fun* deferred_free, void* arg) mi_attr_noexcept;

/** An output hook: receives the allocator's messages and reports, a NUL-terminated piece of
 * text at a time (normally a whole line), with the `arg` that was registered. It may run on any
 * thread, also in the middle of an allocation; output asked for on a thread while the hook runs
 * there is dropped, so the hook may allocate. */
typedef void(mi_cdecl mi_output_fun)(const char* msg, void* arg);
/** Sends every message and report of the process to `out` with `arg`; NULL restores the
 * default, stderr. */
mi_decl_export void mi_register_output(mi_output_fun* out, void* arg) mi_attr_noexcept;

/** An error hook: hears of every error, shown or not, on the thread where it happened. `err`
 * is an errno value: ENOMEM (out of memory), EOVERFLOW (a request too large, or an overflowing
 * `count * size`), EINVAL (an invalid argument or pointer, or a heap used from a thread that
 * does not own it), EFAULT (corrupted metadata, free list or padding), EAGAIN (a double free).
 * While a hook is registered the allocator does not abort on EFAULT or EAGAIN: the hook
 * decides, by returning (the operation is refused) or by ending the process. An error raised
 * inside the hook on the same thread is printed but not handed to it again. */
typedef void(mi_cdecl mi_error_fun)(int err, void* arg);
/** Registers the error hook for the process (NULL removes it); `arg` goes to each call.
 * Messages are printed as well when the `show_errors` or `verbose` option is on. */
mi_decl_export void mi_register_error(mi_error_fun* fun, void* arg);

/** Gives memory the calling thread's default heap no longer needs back: empty pages go back to
 * their segments, and memory whose purge delay has passed goes back to the OS. `force` does it
 * all now, without waiting for the delays, and also adopts the segments that exited threads
 * left, to free what is empty in them (unless the default heap is one that never adopts, such
 * as `mi_heap_new`'s). */
mi_decl_export void mi_collect(bool force) mi_attr_noexcept;
/** `MI_MALLOC_VERSION` of the library built in. */
mi_decl_export int mi_version(void) mi_attr_noexcept;
/** Restarts the process-wide statistics: totals and peaks restart at the current value, event
 * counters at 0, while current values (what is live) are kept. The calling thread's numbers
 * are merged first; other threads' unmerged numbers still come in when they merge. */
mi_decl_export void mi_stats_reset(void) mi_attr_noexcept;
/** Adds the calling thread's statistics into the process-wide ones and zeroes the thread's own.
 * A thread merges on its own when it exits. */
mi_decl_export void mi_stats_merge(void) mi_attr_noexcept;
/** `mi_stats_print_out(out, NULL)`: `out` is an `mi_output_fun*`, or NULL for the registered
 * output. `stdout` or `stderr` (a `FILE*`, as older documentation has it) also mean the
 * registered output, never a call into the `FILE`. */
mi_decl_export void mi_stats_print(void* out) mi_attr_noexcept;
/** Prints the process-wide statistics as text, after merging the calling thread's, through
 * `out` with `arg` (NULL: the registered output, stderr by default). */
mi_decl_export void mi_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept;

/** Initialises the allocator for the process and the calling thread. It runs on its own (a
 * load-time constructor, or else the first allocation); calling it again does nothing. */
mi_decl_export void mi_process_init(void) mi_attr_noexcept;
/** Sets up the calling thread's allocator state now rather than at its first allocation; does
 * nothing when the thread has it already. When its thread data cannot be allocated the error
 * hook hears ENOMEM and the thread stays as it was (its next allocation tries again). */
mi_decl_export void mi_thread_init(void) mi_attr_noexcept;
/** Releases the calling thread's allocator state ahead of its exit, as thread exit does on its
 * own: heaps the thread did not delete are deleted (their live blocks go to its backing heap),
 * pages that still hold blocks are abandoned for other threads to adopt, and its statistics are
 * merged. Its blocks stay valid. An allocation on the thread afterwards starts a fresh state. */
mi_decl_export void mi_thread_done(void) mi_attr_noexcept;
/** Prints the calling thread's own statistics that are not merged yet (what it did since it
 * started or last merged) through `out` with `arg` (NULL: the registered output). */
mi_decl_export void mi_thread_stats_print_out(mi_output_fun* out, void* arg) mi_attr_noexcept;

/** Process figures, each written where its pointer is not NULL: milliseconds since start-up
 * (`elapsed_msecs`), of user and of system CPU time; bytes resident now and at the peak; bytes
 * committed by this allocator now and at the peak (the calling thread's unmerged share
 * included); page faults. What the OS does not tell reads 0. */
mi_decl_export void mi_process_info(size_t* elapsed_msecs, size_t* user_msecs, size_t* system_msecs,
                                    size_t* current_rss, size_t* peak_rss,
                                    size_t* current_commit, size_t* peak_commit, size_t* page_faults) mi_attr_noexcept;

/* ---- Aligned allocation ---------------------------------------------------------------- */
/* `alignment` must be a power of two (NULL otherwise); `offset` asks for `p + offset` to be
 * aligned instead of `p`. Blocks are freed with mi_free. */

/** `size` bytes aligned to `alignment`, a power of two. Failure: NULL with errno EINVAL for an
 * alignment that is not a power of two (0 included); ENOMEM when out of memory or when
 * `size + alignment` passes PTRDIFF_MAX (EOVERFLOW to the error hook). */
mi_decl_nodiscard mi_decl_export void* mi_malloc_aligned(size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/** `size` bytes placed so that `p + offset` is aligned to `alignment` (a power of two). With a
 * non-zero `offset` the alignment may be at most 64 KiB: above, NULL with errno ENOMEM
 * (EOVERFLOW to the error hook). Other failures as `mi_malloc_aligned`. */
mi_decl_nodiscard mi_decl_export void* mi_malloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_malloc_aligned` with the block zeroed; failures the same. */
mi_decl_nodiscard mi_decl_export void* mi_zalloc_aligned(size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/** `mi_malloc_aligned_at` with the block zeroed; failures the same. */
mi_decl_nodiscard mi_decl_export void* mi_zalloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `count * size` bytes, zeroed, aligned to `alignment`. Failure: NULL with errno ENOMEM (an
 * overflowing `count * size` included) or EINVAL (see `mi_malloc_aligned`). */
mi_decl_nodiscard mi_decl_export void* mi_calloc_aligned(size_t count, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2) mi_attr_alloc_align(3);
/** `count * size` bytes, zeroed, with `p + offset` aligned to `alignment`; failures as
 * `mi_calloc_aligned` and `mi_malloc_aligned_at`. */
mi_decl_nodiscard mi_decl_export void* mi_calloc_aligned_at(size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
/** As `mi_realloc`, with the result aligned to `alignment` (a power of two): the block stays in
 * place only if it is aligned already. `p` NULL: as `mi_malloc_aligned`.
 * Failure: NULL with errno EINVAL (alignment not a power of two) or ENOMEM; `p` is untouched:
 * still valid, same contents, still the caller's to free. */
mi_decl_nodiscard mi_decl_export void* mi_realloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(2) mi_attr_alloc_align(3);
/** As `mi_realloc_aligned`, with `p + offset` aligned instead of the result itself; failures
 * the same (`p` untouched and still owned by the caller). */
mi_decl_nodiscard mi_decl_export void* mi_realloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(2);

/* ---- Heaps ------------------------------------------------------------------------------ */
/* A heap belongs to the thread that created it: only that thread allocates in it; any thread
 * may free a block of it. */

/** The heap structure; opaque to programs, which hold `mi_heap_t` pointers. */
struct mi_heap_s;
/** A heap (opaque). It belongs to the thread that created it: only that thread may allocate in
 * it, collect, delete or destroy it (the allocation functions do not check this; delete,
 * destroy and the setters refuse other threads). Any thread may free its blocks with `mi_free`.
 * Every thread has a backing heap, which lives as long as the thread, and a default heap (the
 * backing one unless `mi_heap_set_default` chose another) that the functions without a heap
 * argument use. */
typedef struct mi_heap_s mi_heap_t;

/** A new heap owned by the calling thread; NULL when out of memory. It never adopts the
 * segments of exited threads, so `mi_heap_destroy` can free all of it at once. Release it with
 * `mi_heap_delete` or `mi_heap_destroy`; heaps a thread leaves are deleted when it exits. */
mi_decl_nodiscard mi_decl_export mi_heap_t* mi_heap_new(void);
/** Deletes `heap` without freeing its blocks: they move to the thread's backing heap and stay
 * valid (free them with `mi_free`). If `heap` was the default heap, the backing heap becomes the
 * default. The backing heap itself is only collected. Only the owner may delete a heap: from
 * another thread nothing happens and the error hook hears EINVAL. NULL is ignored. */
mi_decl_export void mi_heap_delete(mi_heap_t* heap);
/** Frees `heap` and every block in it at once: pointers into it dangle afterwards. A heap that
 * may hold pages adopted from exited threads (the backing heap, or one from `mi_heap_new_ex`
 * with `allow_destroy` false) is deleted instead, as by `mi_heap_delete`, because those pages
 * hold other code's blocks. Only the owner may destroy a heap: from another thread nothing
 * happens and the error hook hears EINVAL. NULL is ignored. */
mi_decl_export void mi_heap_destroy(mi_heap_t* heap);
/** Makes `heap`, which the calling thread owns, the thread's default heap (the one `mi_malloc`
 * and the other functions without a heap use) and returns the previous default. NULL, or a
 * heap of another thread, changes nothing (the current default is returned). */
mi_decl_export mi_heap_t* mi_heap_set_default(mi_heap_t* heap);
/** The calling thread's default heap (setting the thread up if it has no allocator state yet). */
mi_decl_export mi_heap_t* mi_heap_get_default(void);
/** The calling thread's backing heap: the heap it started with, which lives as long as the
 * thread and takes over the blocks of deleted heaps. */
mi_decl_export mi_heap_t* mi_heap_get_backing(void);
/** `mi_collect` for `heap`. Only the owner may call it (not checked: from another thread it
 * races with the owner). NULL is ignored. */
mi_decl_export void mi_heap_collect(mi_heap_t* heap, bool force) mi_attr_noexcept;

/** `mi_malloc` in `heap`. Only the thread that owns `heap` may allocate in it (not checked). */
mi_decl_nodiscard mi_decl_export void* mi_heap_malloc(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
/** `mi_zalloc` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
/** `mi_calloc` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_calloc(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3);
/** `mi_mallocn` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_mallocn(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3);
/** `mi_malloc_small` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_malloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
/** `mi_zalloc_small` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);

/** `mi_realloc` whose new block, when the block moves, comes from `heap` (owner thread only);
 * `p` may belong to any heap. Failure: NULL with errno ENOMEM, and `p` stays valid, unchanged
 * and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_heap_realloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(3);
/** `mi_reallocn` with a moved block from `heap` (owner thread only); on failure `p` stays
 * valid and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_heap_reallocn(mi_heap_t* heap, void* p, size_t count, size_t size) mi_attr_noexcept mi_attr_alloc_size2(3, 4);
/** `mi_reallocf` with a moved block from `heap` (owner thread only): a failure frees `p`. */
mi_decl_nodiscard mi_decl_export void* mi_heap_reallocf(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(3);

/** `mi_strdup` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export char* mi_heap_strdup(mi_heap_t* heap, const char* s) mi_attr_noexcept mi_attr_malloc;
/** `mi_strndup` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export char* mi_heap_strndup(mi_heap_t* heap, const char* s, size_t n) mi_attr_noexcept mi_attr_malloc;
/** `mi_realpath` whose result, when `resolved_name` is NULL, is a block of `heap` (owner thread
 * only). */
mi_decl_nodiscard mi_decl_export char* mi_heap_realpath(mi_heap_t* heap, const char* fname, char* resolved_name) mi_attr_noexcept mi_attr_malloc;

/** `mi_malloc_aligned` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_malloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(3);
/** `mi_malloc_aligned_at` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_malloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
/** `mi_zalloc_aligned` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(3);
/** `mi_zalloc_aligned_at` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_zalloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
/** `mi_calloc_aligned` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_calloc_aligned(mi_heap_t* heap, size_t count, size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3) mi_attr_alloc_align(4);
/** `mi_calloc_aligned_at` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_calloc_aligned_at(mi_heap_t* heap, size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(2, 3);
/** `mi_realloc_aligned` with a moved block from `heap` (owner thread only); on failure `p`
 * stays valid and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_heap_realloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(3) mi_attr_alloc_align(4);
/** `mi_realloc_aligned_at` with a moved block from `heap` (owner thread only); on failure `p`
 * stays valid and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_heap_realloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(3);

/* ---- Zero-initialising reallocation ---------------------------------------------------- */
/* The grown part of the block is zero; the block must itself have been zero-initialised. */

/** As `mi_realloc`, and every byte past the old block's usable size is zero in the result (a
 * shrink in place zeroes the bytes past `newsize`). `p` must come from a zeroing allocation
 * (`mi_zalloc`, `mi_calloc`, `mi_rezalloc`, ...): the old block's bytes past what was asked for
 * are kept, not zeroed. Failure: NULL with errno ENOMEM; `p` is untouched and still owned by the
 * caller. */
mi_decl_nodiscard mi_decl_export void* mi_rezalloc(void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(2);
/** `mi_rezalloc(p, newcount * size)`. Failure: NULL with errno ENOMEM, also when the product
 * overflows; `p` is untouched and still owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_recalloc(void* p, size_t newcount, size_t size) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
/** `mi_rezalloc` with the result aligned to `alignment` (a power of two). Failure: NULL with
 * errno EINVAL or ENOMEM; `p` is untouched and still owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_rezalloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(2) mi_attr_alloc_align(3);
/** `mi_rezalloc` with `p + offset` aligned to `alignment`; failures as
 * `mi_rezalloc_aligned`. */
mi_decl_nodiscard mi_decl_export void* mi_rezalloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(2);
/** `mi_recalloc` with the result aligned to `alignment`. Failure: NULL with errno EINVAL or
 * ENOMEM (an overflowing product included); `p` is untouched and still owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_recalloc_aligned(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept mi_attr_alloc_size2(2, 3) mi_attr_alloc_align(4);
/** `mi_recalloc` with `p + offset` aligned to `alignment`; failures as
 * `mi_recalloc_aligned`. */
mi_decl_nodiscard mi_decl_export void* mi_recalloc_aligned_at(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
/** `mi_rezalloc` with a moved block from `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_rezalloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept mi_attr_alloc_size(3);
/** `mi_recalloc` with a moved block from `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_recalloc(mi_heap_t* heap, void* p, size_t newcount, size_t size) mi_attr_noexcept mi_attr_alloc_size2(3, 4);
/** `mi_rezalloc_aligned` with a moved block from `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_rezalloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept mi_attr_alloc_size(3) mi_attr_alloc_align(4);
/** `mi_rezalloc_aligned_at` with a moved block from `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_rezalloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size(3);
/** `mi_recalloc_aligned` with a moved block from `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_recalloc_aligned(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept mi_attr_alloc_size2(3, 4) mi_attr_alloc_align(5);
/** `mi_recalloc_aligned_at` with a moved block from `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_recalloc_aligned_at(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept mi_attr_alloc_size2(3, 4);

/* ---- Memory limits (an extension: not in upstream mimalloc) ------------------------------ */

/* Limits count the memory of pages handed to heaps: a small (64 KiB) or medium (512 KiB) page
 * whole, a large or huge block's whole segment; segment headers and empty cached memory are
 * not counted. An allocation that would pass a limit returns NULL with errno ENOMEM; blocks
 * already handed out are never touched, and freeing brings the headroom back once a page is
 * empty. The process limit is exact under concurrency (pages are taken with compare-and-swap).
 * The environment variable MIMALLOC_MEMORY_LIMIT (a size: "512MiB", "2G") sets it at start. */

/** Sets the process-wide memory limit to `bytes` (0: no limit); any thread may. It counts the
 * pages handed to heaps (a 64 KiB small or 512 KiB medium page whole, a large or huge block's
 * whole segment), not segment headers or cached empty memory. An allocation that would pass it
 * fails with NULL and errno ENOMEM. Memory in use is never taken back: after lowering the
 * limit, usage may stay above it until blocks are freed. `MIMALLOC_MEMORY_LIMIT` (a size such
 * as `512MiB` or `2G`) sets it at start-up. */
mi_decl_export void mi_set_memory_limit(size_t bytes) mi_attr_noexcept;
/** The process-wide memory limit in bytes (0: none). */
mi_decl_nodiscard mi_decl_export size_t mi_get_memory_limit(void) mi_attr_noexcept;
/** Bytes counted against the process-wide limit now (pages of every heap, abandoned ones
 * included); counted whether or not a limit is set. */
mi_decl_nodiscard mi_decl_export size_t mi_memory_in_use(void) mi_attr_noexcept;
/** Sets `heap`'s own memory limit in bytes (0: none), checked on top of the process-wide one.
 * Only the heap's own thread may: false for another thread's heap (EINVAL to the error hook)
 * and for NULL. Pages the heap adopts (from an exited thread's segment, or from a deleted heap)
 * are counted without a check. */
mi_decl_export bool mi_heap_set_memory_limit(mi_heap_t* heap, size_t bytes) mi_attr_noexcept;
/** Sampled guard pages for `heap`, which must be the calling thread's own: 1 in `sample_rate`
 * allocations in the size bound (see `mi_heap_guarded_set_size_bound`; 0: none) gets a segment
 * of its own and ends right before a no-access page, so an overflow faults at once. `seed`
 * picks the first sampled allocation (0: random). A heap starts with the values of the
 * `guarded_*` options. NULL, or another thread's heap, changes nothing (EINVAL to the error
 * hook for another thread's). */
mi_decl_export void mi_heap_guarded_set_sample_rate(mi_heap_t* heap, size_t sample_rate, size_t seed) mi_attr_noexcept;
/** Only allocations of `min` to `max` bytes are sampled for guard pages (`max` 0: no upper
 * bound). Owner thread only, as `mi_heap_guarded_set_sample_rate`. */
mi_decl_export void mi_heap_guarded_set_size_bound(mi_heap_t* heap, size_t min, size_t max) mi_attr_noexcept;
/** `heap`'s own memory limit in bytes (0: none, and for NULL). Read without synchronisation:
 * exact on the owner thread. */
mi_decl_nodiscard mi_decl_export size_t mi_heap_get_memory_limit(const mi_heap_t* heap) mi_attr_noexcept;
/** Bytes of pages counted to `heap` now (0 for NULL). Read without synchronisation: exact on
 * the owner thread, a recent value elsewhere. */
mi_decl_nodiscard mi_decl_export size_t mi_heap_memory_in_use(const mi_heap_t* heap) mi_attr_noexcept;

/* ---- Analysis --------------------------------------------------------------------------- */

/** True when `p` points into the blocks of a page that belongs to `heap` (any address inside a
 * block, live or free). `p` may be any pointer, also one this allocator never handed out; false
 * for a NULL `heap`. Meant for the owner thread; elsewhere the answer may be out of date. */
mi_decl_export bool mi_heap_contains_block(mi_heap_t* heap, const void* p);
/** `mi_heap_contains_block`, and false for a `p` that is not aligned to a pointer's size. */
mi_decl_export bool mi_heap_check_owned(mi_heap_t* heap, const void* p);
/** True when `p`, aligned to a pointer's size, points into the blocks of an in-use page of any
 * heap of this allocator; safe for any pointer value, from any thread. */
mi_decl_export bool mi_check_owned(const void* p);

/** A run of memory holding blocks of one size (one allocator page), as the block visitors
 * see it. */
typedef struct mi_heap_area_s {
  /** Start of the blocks. */
  void* blocks;
  /** Bytes of address space set aside for the blocks. */
  size_t reserved;
  /** Bytes of it that are committed. */
  size_t committed;
  /** Blocks in use (a count, not bytes). */
  size_t used;
  /** Usable bytes of each block. */
  size_t block_size;
  /** Bytes each block takes, padding included. */
  size_t full_block_size;
  /** Upstream's heap tag; always 0 here (heaps carry no tag). */
  int heap_tag;
} mi_heap_area_t;

/** A block visitor: called once per area with `block` NULL, then (when asked for) once per
 * live block of that area with its usable size in `block_size`. Returning false stops the walk.
 * `heap` is NULL for the areas of abandoned segments. */
typedef bool(mi_cdecl mi_block_visit_fun)(const mi_heap_t* heap, const mi_heap_area_t* area, void* block, size_t block_size, void* arg);
/** Walks `heap`'s areas and, with `visit_all_blocks`, their live blocks, calling `visitor` with
 * `arg`. Returns false when the visitor stopped the walk, true otherwise (also for a NULL heap or
 * visitor). Call it on the heap's owner thread (elsewhere it races with the owner, and blocks
 * other threads freed into full pages may show as live); the visitor should not allocate in or
 * free into `heap`. */
mi_decl_export bool mi_heap_visit_blocks(const mi_heap_t* heap, bool visit_all_blocks, mi_block_visit_fun* visitor, void* arg);

/** True when `p` points into the blocks of an in-use page of this allocator (any heap, any
 * thread); safe for any pointer value. */
mi_decl_nodiscard mi_decl_export bool mi_is_in_heap_region(const void* p) mi_attr_noexcept;
/** True when the library was built to replace `malloc` and friends (the `override` feature,
 * `MI_MALLOC_OVERRIDE`); it does not tell whether the program's calls actually reach it. */
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

/** A quantity that goes up and down: bytes or objects, as the field of `mi_stats_t` says. */
typedef struct mi_stat_count_s {
  /** Everything ever added. */
  mi_decl_align8 int64_t total;
  /** The highest `current` seen. */
  int64_t peak;
  /** What is live now. */
  int64_t current;
} mi_stat_count_t;

/** An event counter that only goes up. */
typedef struct mi_stat_counter_s {
  /** Events so far. */
  mi_decl_align8 int64_t total;
} mi_stat_counter_t;

/** The version of `mi_stats_t`'s layout, in its `version` field. */
#define MI_STAT_VERSION 1
/** Entries of `mi_stats_t.normal_bins`: one per size class. */
#define MI_STAT_BINS 124

/** The statistics, as `mi_stats_get` fills them. `size` and `version` come first so that a
 * caller built against an older header still gets a prefix it understands. Counts are
 * process-wide: every thread's numbers merged in (threads merge at exit and on
 * `mi_stats_merge`; `mi_stats_get` merges the calling thread's). Our own layout: it differs from
 * upstream's `mi_stats_t`. */
typedef struct mi_stats_s {
  /** `sizeof(mi_stats_t)` as this library knows it. */
  size_t size;
  /** `MI_STAT_VERSION`. */
  size_t version;
  /** Bytes of address space reserved from the OS. */
  mi_stat_count_t reserved;
  /** Bytes committed (or presumed so). */
  mi_stat_count_t committed;
  /** Bytes given back to the OS by purges. */
  mi_stat_count_t purged;
  /** Segments owned: in use, cached or abandoned. */
  mi_stat_count_t segments;
  /** Segments whose thread exited and that no thread has adopted yet. */
  mi_stat_count_t segments_abandoned;
  /** Empty segments kept for reuse. */
  mi_stat_count_t segments_cache;
  /** Allocator pages in use. */
  mi_stat_count_t pages;
  /** Pages in abandoned segments. */
  mi_stat_count_t pages_abandoned;
  /** Threads with allocator state. */
  mi_stat_count_t threads;
  /** Bytes in small, medium and large blocks, counted per page. */
  mi_stat_count_t normal;
  /** Bytes in huge blocks. */
  mi_stat_count_t huge;
  /** Bytes asked for (debug level 2 or more only; 0 otherwise). */
  mi_stat_count_t malloc_requested;
  /** OS mappings made. */
  mi_stat_counter_t mmap_calls;
  /** OS unmappings made. */
  mi_stat_counter_t munmap_calls;
  /** Purge requests sent to the OS. */
  mi_stat_counter_t purge_calls;
  /** Empty pages kept a while instead of being retired, to avoid thrashing. */
  mi_stat_counter_t page_no_retire;
  /** Pages looked at in the allocation slow path. */
  mi_stat_counter_t searches;
  /** Blocks handed out from pages (debug level 2 or more only; 0 otherwise). */
  mi_stat_counter_t normal_count;
  /** Huge blocks handed out. */
  mi_stat_counter_t huge_count;
  /** Abandoned segments adopted by another thread. */
  mi_stat_counter_t reclaimed;
  /** Pages per size class, indexed by bin (see `mi_stats_bin_block_size`). */
  mi_stat_count_t normal_bins[MI_STAT_BINS];
} mi_stats_t;

/** Copies the process-wide statistics into `stats`, after merging the calling thread's. At most
 * `stats_size` bytes are written (pass `sizeof(mi_stats_t)`); bytes past what this library
 * knows are zeroed. Nothing happens for a NULL `stats` or a `stats_size` of 0. Upstream v2.4's
 * `mi_stats_get` takes only the pointer and returns a bool: this one is ours. */
mi_decl_export void mi_stats_get(size_t stats_size, mi_stats_t* stats) mi_attr_noexcept;

/** Block size in bytes of size class `bin` (an index of `mi_stats_t.normal_bins`); 0 for an
 * index that is not a size class. */
mi_decl_export size_t mi_stats_bin_block_size(size_t bin) mi_attr_noexcept;

/** The statistics as a JSON object in upstream v2.4's schema (`stat_version` 4: the same keys,
 * order, nesting and units; what this allocator does not count reads 0). Written into `buf`
 * when it is not NULL and `buf_size` bytes hold the text and its NUL; otherwise returned in a
 * new block of `mi_malloc` (free it with `mi_free`). NULL only when the text does not fit and
 * no block could be allocated. */
mi_decl_export char* mi_stats_get_json(size_t buf_size, char* buf) mi_attr_noexcept;

/* ---- Options ------------------------------------------------------------------------------ */
/* Members and numbering are those of upstream's v2 line: a raw integer names the same option.
 * Each is read once, lazily, from MIMALLOC_<NAME> (case-insensitive). Options marked "not
 * supported by this build" are stored and returned but change nothing: verbose mode lists them
 * so, and one set from the environment is warned about (seen with MIMALLOC_VERBOSE=1 or
 * MIMALLOC_SHOW_ERRORS=1). The `supported` column of src/options.def decides which ones
 * they are, and the defaults are that file's too (a build may replace them:
 * MIMALLOC_DEFAULT_<NAME> for cargo, -DMI_DEFAULT_<NAME> for C); the notes below follow it. */

/* Bindings see the enum as C `int` (MI_OPTION_AS_INT, set by the bindgen run only): crates.io
 * libmimalloc-sys declares `mi_option_t` as `c_int`, and Rust code passing an `i32` must keep
 * compiling. Fixed underlying types are C23 (a clang extension before), so C keeps the plain
 * enum; both are 32-bit integers holding the same small values, the same in every ABI. */
#if defined(MI_OPTION_AS_INT)
#define mi_option_enum_base : int
#else
#define mi_option_enum_base
#endif
/** The options, numbered as in upstream's v2 line. Each is read once, lazily, from the
 * environment variable `MIMALLOC_<NAME>` (the member's name without `mi_option_`, in any case),
 * or set with `mi_option_set`. Values are integers, or for on/off options `1`/`0` (also
 * `true`/`false`, `yes`/`no`, `on`/`off`); size options are kept in KiB and accept a size with
 * a K, M, G or T suffix in the environment (a plain number there is in bytes). An option "not
 * supported by this build" is stored and returned but changes nothing; setting one from the
 * environment is warned about (shown with `MIMALLOC_VERBOSE=1` or `MIMALLOC_SHOW_ERRORS=1`).
 * Defaults may be replaced at build time. */
typedef enum mi_option_e mi_option_enum_base {
  /** Print error messages (through the registered output, stderr by default). On/off; default
   * 0, 1 in debug and secure builds. `MIMALLOC_SHOW_ERRORS`. */
  mi_option_show_errors,
  /** Print the statistics when the process exits. On/off; default 0. `MIMALLOC_SHOW_STATS`. */
  mi_option_show_stats,
  /** Print informational messages (and warnings, errors and the exit statistics too). On/off;
   * default 0. `MIMALLOC_VERBOSE`. */
  mi_option_verbose,
  /** 1: a segment is committed whole when it is taken; 0: page by page as its pages are used
   * (see also `mi_option_eager_commit_delay`). Default 1. `MIMALLOC_EAGER_COMMIT`. */
  mi_option_eager_commit,
  /** Commit a whole arena when it is reserved: 1 always, 2 only where the OS overcommits (it
   * costs nothing there), 0 never. Default 2. `MIMALLOC_ARENA_EAGER_COMMIT` (older name
   * `MIMALLOC_EAGER_REGION_COMMIT`). */
  mi_option_arena_eager_commit,
  /** How memory is purged: 1 decommits it (Linux `MADV_DONTNEED`, reads back zero; Windows
   * decommit), 0 only marks it reusable (`MADV_FREE`, Windows reset). Default 1.
   * `MIMALLOC_PURGE_DECOMMITS` (older name `MIMALLOC_RESET_DECOMMITS`). */
  mi_option_purge_decommits,
  /** Large OS pages (Linux transparent huge pages, Windows large pages): 0 none, 1 for every
   * segment, 2 for huge blocks and, on Linux, for the further small- and medium-object
   * segments of a thread that already holds 16 of them (64 MiB), or 4 packed with live
   * blocks; its earlier packed ones are then collapsed into huge pages (Linux 6.1 and later,
   * not when the system's THP setting is "never"). Default 2 on Linux, 0
   * elsewhere. Supported on Linux and Windows only. `MIMALLOC_ALLOW_LARGE_OS_PAGES` (older name `MIMALLOC_LARGE_OS_PAGES`). */
  mi_option_allow_large_os_pages,
  /** How many 1 GiB huge OS pages to reserve as an arena at start-up (spread over NUMA nodes).
   * Default 0. `MIMALLOC_RESERVE_HUGE_OS_PAGES`. */
  mi_option_reserve_huge_os_pages,
  /** Reserve the huge OS pages on this NUMA node instead of spreading them (-1, the default:
   * spread). `MIMALLOC_RESERVE_HUGE_OS_PAGES_AT`. */
  mi_option_reserve_huge_os_pages_at,
  /** Bytes to reserve as an arena at start-up; a size, kept in KiB. Default 0 (none).
   * `MIMALLOC_RESERVE_OS_MEMORY`. */
  mi_option_reserve_os_memory,
  /** Deprecated upstream too; not supported by this build (no effect). Default 0. */
  mi_option_deprecated_segment_cache,
  /** Deprecated upstream too; not supported by this build (no effect). Default 0. */
  mi_option_deprecated_page_reset,
  /** 1: the free pages of a segment whose thread exited are purged at once, not when the next
   * owner gets to them. On/off; default 0. `MIMALLOC_ABANDONED_PAGE_PURGE` (older name
   * `MIMALLOC_ABANDONED_PAGE_RESET`). */
  mi_option_abandoned_page_purge,
  /** Deprecated upstream too; not supported by this build (no effect). Default 0. */
  mi_option_deprecated_segment_reset,
  /** A thread's first N segments are committed page by page, not whole (with
   * `mi_option_eager_commit` on). Default 1. `MIMALLOC_EAGER_COMMIT_DELAY`. */
  mi_option_eager_commit_delay,
  /** Milliseconds before memory that is no longer used (an empty page, a free segment) is
   * purged; 0 at once, -1 never. A thread that takes pages back within its current delay of
   * their purge doubles that delay, up to 8 times this value. Default 10.
   * `MIMALLOC_PURGE_DELAY` (older name `MIMALLOC_RESET_DELAY`). */
  mi_option_purge_delay,
  /** Not supported by this build (accepted, no effect). Default 0.
   * `MIMALLOC_USE_NUMA_NODES`. */
  mi_option_use_numa_nodes,
  /** 1: never map new memory from the OS; allocation fails instead once the arenas are full.
   * On/off; default 0. `MIMALLOC_DISALLOW_OS_ALLOC` (older name `MIMALLOC_LIMIT_OS_ALLOC`). */
  mi_option_disallow_os_alloc,
  /** macOS: the VM tag of the allocator's mappings (what `vmmap` shows). Default 100. Not
   * supported elsewhere. `MIMALLOC_OS_TAG`. */
  mi_option_os_tag,
  /** Print at most this many error messages (negative: no bound). Default 16.
   * `MIMALLOC_MAX_ERRORS`. */
  mi_option_max_errors,
  /** Print at most this many warnings (negative: no bound). Default 16.
   * `MIMALLOC_MAX_WARNINGS`. */
  mi_option_max_warnings,
  /** Look at most at this many abandoned segments per attempt to adopt one (clamped to 1 to
   * 1024). Default 10. `MIMALLOC_MAX_SEGMENT_RECLAIM`. */
  mi_option_max_segment_reclaim,
  /** Not supported by this build (accepted, no effect). Default 0.
   * `MIMALLOC_DESTROY_ON_EXIT`. */
  mi_option_destroy_on_exit,
  /** Size of the arena reserved when all arenas are full; a size, kept in KiB. Each new one
   * doubles it, up to 8 times the option. Default 1 GiB (128 MiB on 32-bit targets).
   * `MIMALLOC_ARENA_RESERVE`. */
  mi_option_arena_reserve,
  /** Free arena slots are purged after `purge_delay` times this; 0 or less also keeps empty
   * arenas reserved instead of giving them back. Default 1 (upstream's is 10).
   * `MIMALLOC_ARENA_PURGE_MULT`. */
  mi_option_arena_purge_mult,
  /** Not supported by this build (accepted, no effect). Default 1.
   * `MIMALLOC_PURGE_EXTEND_DELAY`. */
  mi_option_purge_extend_delay,
  /** Not supported by this build: abandoned segments are adopted when a thread needs one, not
   * on a free. Default 0. `MIMALLOC_ABANDONED_RECLAIM_ON_FREE`. */
  mi_option_abandoned_reclaim_on_free,
  /** 1: segments are mapped from the OS one by one; arenas serve only the heaps created in
   * them. On/off; default 0. `MIMALLOC_DISALLOW_ARENA_ALLOC`. */
  mi_option_disallow_arena_alloc,
  /** Not supported by this build (accepted, no effect). Default 400.
   * `MIMALLOC_RETRY_ON_OOM`. */
  mi_option_retry_on_oom,
  /** Not supported by this build (accepted, no effect; `mi_abandoned_visit_blocks` works
   * without it). Default 0. `MIMALLOC_VISIT_ABANDONED`. */
  mi_option_visit_abandoned,
  /** Sampled guard pages: only allocations of at least this many bytes. Default 0. Read when a
   * heap is created. `MIMALLOC_GUARDED_MIN`. */
  mi_option_guarded_min,
  /** Sampled guard pages: only allocations of at most this many bytes (0, the default: no
   * bound). Read when a heap is created. `MIMALLOC_GUARDED_MAX`. */
  mi_option_guarded_max,
  /** 1: a sampled block ends exactly at its guard page (then aligned only as its size is); 0:
   * its size is rounded up to 16 bytes. On/off; default 0. `MIMALLOC_GUARDED_PRECISE`. */
  mi_option_guarded_precise,
  /** 1 in N allocations between `guarded_min` and `guarded_max` bytes sits right before a
   * no-access guard page (0, the default: none). Read when a heap is created.
   * `MIMALLOC_GUARDED_SAMPLE_RATE`. */
  mi_option_guarded_sample_rate,
  /** Picks which of the first N allocations is sampled first (0, the default: random). Read
   * when a heap is created. `MIMALLOC_GUARDED_SAMPLE_SEED`. */
  mi_option_guarded_sample_seed,
  /** Not supported by this build (accepted, no effect). Default 0.
   * `MIMALLOC_TARGET_SEGMENTS_PER_THREAD`. */
  mi_option_target_segments_per_thread,
  /** Not supported by this build (accepted, no effect). Default 10000.
   * `MIMALLOC_GENERIC_COLLECT`. */
  mi_option_generic_collect,
  /** Linux: 0 marks memory mapped from then on as not for transparent huge pages. On/off;
   * default 1 (0 in the `no_thp` build; set it in the environment so that it covers the first
   * arena too). Not supported elsewhere. `MIMALLOC_ALLOW_THP`. */
  mi_option_allow_thp,
  /** The number of options; not an option. */
  _mi_option_last,
  /* older names of the same options */
  /** Older name of `mi_option_allow_large_os_pages`. */
  mi_option_large_os_pages = mi_option_allow_large_os_pages,
  /** Older name of `mi_option_arena_eager_commit`. */
  mi_option_eager_region_commit = mi_option_arena_eager_commit,
  /** Older name of `mi_option_purge_decommits`. */
  mi_option_reset_decommits = mi_option_purge_decommits,
  /** Older name of `mi_option_purge_delay`. */
  mi_option_reset_delay = mi_option_purge_delay,
  /** Older name of `mi_option_abandoned_page_purge`. */
  mi_option_abandoned_page_reset = mi_option_abandoned_page_purge,
  /** Older name of `mi_option_disallow_os_alloc`. */
  mi_option_limit_os_alloc = mi_option_disallow_os_alloc
} mi_option_t;

/** `mi_option_get(option) != 0`. */
mi_decl_nodiscard mi_decl_export bool mi_option_is_enabled(mi_option_t option);
/** `mi_option_set(option, 1)`. */
mi_decl_export void mi_option_enable(mi_option_t option);
/** `mi_option_set(option, 0)`. */
mi_decl_export void mi_option_disable(mi_option_t option);
/** `mi_option_set(option, enable ? 1 : 0)`. */
mi_decl_export void mi_option_set_enabled(mi_option_t option, bool enable);
/** `mi_option_set_default(option, enable ? 1 : 0)`. */
mi_decl_export void mi_option_set_enabled_default(mi_option_t option, bool enable);
/** The option's value: what `mi_option_set` stored, else the environment variable's value,
 * else the default. The environment is read once (for every option at start-up); a value there
 * that does not parse is warned about and the default used. Size options are in KiB (see
 * `mi_option_get_size`). 0 for a value that is not an option. Any thread may call it. */
mi_decl_nodiscard mi_decl_export long mi_option_get(mi_option_t option);
/** `mi_option_get(option)` clamped to `min ..= max`. */
mi_decl_nodiscard mi_decl_export long mi_option_get_clamp(mi_option_t option, long min, long max);
/** A size option's value in bytes (the KiB value times 1024, saturating at SIZE_MAX); the plain
 * value for other options. 0 for a value of 0 or less, and for a value that is not an option. */
mi_decl_nodiscard mi_decl_export size_t mi_option_get_size(mi_option_t option);
/** Sets the option (in KiB for a size option), over the environment and the default; any
 * thread may. It counts from the allocator's next read of it: some are read only at start-up
 * (the `reserve_*` options), the `guarded_*` ones when a heap is created. A value that is not an
 * option is ignored; an unsupported option stores the value and changes nothing. */
mi_decl_export void mi_option_set(mi_option_t option, long value);
/** Replaces the option's default: it applies unless the environment or `mi_option_set` chose
 * a value (an environment variable still wins when it is read later). */
mi_decl_export void mi_option_set_default(mi_option_t option, long value);

/* ---- Build configuration -------------------------------------------------------------- */

/** What this library was compiled with, so a test can prove a cargo feature reached C. */
typedef struct mi_build_config_s {
  /** `MI_SECURE` level (0 to 4). */
  int secure;
  /** `MI_DEBUG` level (0 to 3). */
  int debug;
  /** Blocks carry a checked canary after the requested size. */
  bool padding;
  /** Free-list links are encoded. */
  bool encoded_freelist;
  /** The library exports `malloc`, `free` and the rest. */
  bool override;
  /** Built for loading with `dlopen` (local-dynamic thread-locals). */
  bool local_dynamic_tls;
  /** Blocks are annotated for valgrind's memcheck (`MI_TRACK_VALGRIND`). */
  bool valgrind;
} mi_build_config_t;
/** Fills `config` with the build's configuration; nothing happens for NULL. */
mi_decl_export void mi_build_config(mi_build_config_t* config) mi_attr_noexcept;

/* ---- Arenas ------------------------------------------------------------------------------ */
/* Large regions segments are carved from (see the arena_* options). An arena id is 1 and up; 0
 * means "none"/"any". An exclusive arena serves only heaps created in it, and such a heap takes
 * memory from nowhere else. */

/** An arena: a large region that segments (4 MiB each) are carved from. Ids are 1 and up; 0
 * means "none" or "any". An exclusive arena serves only the heaps created in it
 * (`mi_heap_new_in_arena`), and such a heap takes memory from nowhere else. */
typedef int mi_arena_id_t;

/** Reserves `size` bytes of address space (rounded up to whole 4 MiB slots, one at least) from
 * the OS as an arena that every heap may use. `commit` commits it at once; `allow_large` lets it
 * use large OS pages where `mi_option_allow_large_os_pages` allows them. Returns 0, or ENOMEM
 * when the OS refuses or no more arenas can be added. */
mi_decl_export int mi_reserve_os_memory(size_t size, bool commit, bool allow_large) mi_attr_noexcept;
/** `mi_reserve_os_memory`; `exclusive` makes the arena serve only heaps created in it, and its
 * id is stored in `*arena_id` when that is not NULL (0 on failure). Returns 0 or ENOMEM. */
mi_decl_export int mi_reserve_os_memory_ex(size_t size, bool commit, bool allow_large, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
/** Gives memory the caller provides to the allocator as an arena every heap may use: the whole
 * 4 MiB slots, aligned to 4 MiB, inside `start` to `start + size` (the rest is not touched).
 * `start` must be aligned to an OS page. `is_committed`: the memory is committed (else the
 * allocator commits it slot by slot); `is_large`: it is on large OS pages (never decommitted);
 * `is_zero`: it reads zero; `numa_node` is recorded. The memory is the allocator's from then on
 * and is never given back. false when no memory or an unaligned start is given (EINVAL to the
 * error hook), when it holds no whole slot (ENOMEM to the error hook), or when no more arenas
 * can be added. */
mi_decl_export bool mi_manage_os_memory(void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node) mi_attr_noexcept;
/** `mi_manage_os_memory`; `exclusive` makes the arena serve only heaps created in it, and its
 * id is stored in `*arena_id` when that is not NULL (0 on failure). `start` is const only to
 * match crates.io libmimalloc-sys: the allocator writes the memory from then on. */
mi_decl_export bool mi_manage_os_memory_ex(const void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
/** Reserves `pages` huge (1 GiB) OS pages, split evenly over `numa_nodes` NUMA nodes (0: one),
 * each part an arena of its own; `timeout_msecs` is not used (each part is one OS call).
 * Returns 0 (also for 0 pages), or the first part's error, ENOMEM; parts reserved before it
 * stay reserved. */
mi_decl_export int mi_reserve_huge_os_pages_interleave(size_t pages, size_t numa_nodes, size_t timeout_msecs) mi_attr_noexcept;
/** Reserves `pages` huge (1 GiB) OS pages as one arena, committed and never purged;
 * `numa_node` is recorded (the OS places the pages) and `timeout_msecs` is not used. Returns 0
 * (also for 0 pages) or ENOMEM, whatever the OS said (none set aside, or no huge OS pages in
 * this OS layer). */
mi_decl_export int mi_reserve_huge_os_pages_at(size_t pages, int numa_node, size_t timeout_msecs) mi_attr_noexcept;
/** `mi_reserve_huge_os_pages_at`; `exclusive` makes the arena serve only heaps created in it,
 * and its id is stored in `*arena_id` when that is not NULL (0 on failure). */
mi_decl_export int mi_reserve_huge_os_pages_at_ex(size_t pages, int numa_node, size_t timeout_msecs, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept;
/** Deprecated: use `mi_reserve_huge_os_pages_interleave`. Reserves `pages` huge OS pages
 * (`max_secs` is not used); `*pages_reserved`, when not NULL, is `pages` on success and 0 on
 * failure. Returns 0 or ENOMEM. */
mi_decl_export int mi_reserve_huge_os_pages(size_t pages, double max_secs, size_t* pages_reserved) mi_attr_noexcept;
/** The start of arena `arena_id`, with its size in bytes in `*size` when that is not NULL; NULL
 * (and size 0) for an unknown arena or one given back to the OS. */
mi_decl_export void* mi_arena_area(mi_arena_id_t arena_id, size_t* size) mi_attr_noexcept;
/** Prints every arena (address, slots, slots in use) and its slot bitmaps through the
 * registered output. */
mi_decl_export void mi_debug_show_arenas(void) mi_attr_noexcept;
/** Same as `mi_debug_show_arenas`. */
mi_decl_export void mi_arenas_print(void) mi_attr_noexcept;
/** A new heap of the calling thread that allocates only from arena `arena_id` (exclusive or
 * not); NULL if there is no such arena, or when out of memory. */
mi_decl_nodiscard mi_decl_export mi_heap_t* mi_heap_new_in_arena(mi_arena_id_t arena_id);
/** A new heap of the calling thread. `heap_tag` is not used (heaps carry no tag here).
 * `allow_destroy`: the heap never adopts the segments of exited threads, so `mi_heap_destroy`
 * frees only its own blocks (`mi_heap_new`'s heaps are made so); without it, `mi_heap_destroy`
 * deletes the heap instead. `arena_id`: allocate only from that arena (0: from any). NULL when
 * there is no such arena, or when out of memory. */
mi_decl_nodiscard mi_decl_export mi_heap_t* mi_heap_new_ex(int heap_tag, bool allow_destroy, mi_arena_id_t arena_id);

/* ---- Sub-processes ---------------------------------------------------------------------- */
/* Threads of different sub-processes never adopt each other's abandoned segments. A thread
 * joins one before it allocates (mi_subproc_add_current_thread); NULL is the main one. */

/** A sub-process: threads of different sub-processes never adopt each other's abandoned
 * segments. NULL is the main one. */
typedef void* mi_subproc_id_t;

/** The main sub-process, every thread's until it joins another: NULL. */
mi_decl_export mi_subproc_id_t mi_subproc_main(void) mi_attr_noexcept;
/** A new, empty sub-process; NULL when out of memory. */
mi_decl_export mi_subproc_id_t mi_subproc_new(void) mi_attr_noexcept;
/** Deletes `subproc` once none of its segments waits to be adopted; one that still has some is
 * kept (a verbose message says so). The main sub-process (NULL) is never deleted. */
mi_decl_export void mi_subproc_delete(mi_subproc_id_t subproc) mi_attr_noexcept;
/** Makes the calling thread a member of `subproc` (NULL: the main one). It must do so before it
 * owns any segment, that is before its first allocation; later, a warning is printed and the
 * thread stays where it is. */
mi_decl_export void mi_subproc_add_current_thread(mi_subproc_id_t subproc) mi_attr_noexcept;
/** Visits the areas (and with `visit_blocks` the live blocks) of the segments the
 * sub-process's exited threads left behind; the visitor gets a NULL heap. `heap_tag` 0 or -1
 * visits them all (every block has tag 0 here), a positive tag none. The segments are taken off
 * the sub-process's stack for the walk, so no thread adopts one meanwhile; other threads may
 * still free blocks in them. false when the visitor stopped the walk. Any thread may call it. */
mi_decl_export bool mi_abandoned_visit_blocks(mi_subproc_id_t subproc_id, int heap_tag, bool visit_blocks, mi_block_visit_fun* visitor, void* arg);

/* ---- posix-style helpers ---------------------------------------------------------------- */

/** Frees `p` only when it is a block of this allocator (see `mi_is_in_heap_region`); any other
 * pointer, NULL included, is ignored. */
mi_decl_export void mi_cfree(void* p) mi_attr_noexcept;
/** Same as `mi_usable_size` (macOS's name). */
mi_decl_nodiscard mi_decl_export size_t mi_malloc_size(const void* p) mi_attr_noexcept;
/** Same as `mi_good_size` (macOS's name). */
mi_decl_nodiscard mi_decl_export size_t mi_malloc_good_size(size_t size) mi_attr_noexcept;
/** Same as `mi_usable_size` (glibc's name). */
mi_decl_nodiscard mi_decl_export size_t mi_malloc_usable_size(const void* p) mi_attr_noexcept;
/** POSIX `posix_memalign`: stores a block of `size` bytes aligned to `alignment` in `*p` and
 * returns 0. Returns EINVAL when `p` is NULL or `alignment` is not a power of two that is a
 * multiple of `sizeof(void*)`, ENOMEM when out of memory; `*p` is left alone on failure. */
mi_decl_export int mi_posix_memalign(void** p, size_t alignment, size_t size) mi_attr_noexcept;
/** `mi_malloc_aligned(size, alignment)` (the old `memalign`). */
mi_decl_nodiscard mi_decl_export void* mi_memalign(size_t alignment, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(1);
/** `size` bytes aligned to the OS page size. Failures as `mi_malloc`. */
mi_decl_nodiscard mi_decl_export void* mi_valloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `size` rounded up to whole OS pages, aligned to the OS page size. Failure: NULL with errno
 * ENOMEM, also when the rounding overflows. */
mi_decl_nodiscard mi_decl_export void* mi_pvalloc(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** C11 `aligned_alloc`: `size` bytes aligned to `alignment`, which must be a power of two
 * (`size` need not be a multiple of it). Failure: NULL with errno EINVAL or ENOMEM. */
mi_decl_nodiscard mi_decl_export void* mi_aligned_alloc(size_t alignment, size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2) mi_attr_alloc_align(1);
/** BSD `reallocarray`: `mi_realloc(p, count * size)`. Failure: NULL with errno ENOMEM (an
 * overflowing product included); `p` stays valid, unchanged and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_reallocarray(void* p, size_t count, size_t size) mi_attr_noexcept mi_attr_alloc_size2(2, 3);
/** NetBSD `reallocarr`: `p` is the address of the block pointer (a `void**` passed as
 * `void*`). Resizes `*p` to `count * size` bytes, updates `*p` and returns 0. Returns EINVAL
 * for a NULL `p`, ENOMEM when out of memory or when the product overflows; `*p` is then
 * unchanged, and its block still valid and owned by the caller. */
mi_decl_nodiscard mi_decl_export int mi_reallocarr(void* p, size_t count, size_t size) mi_attr_noexcept;
/** `mi_free(p)`; `size` is not checked. */
mi_decl_export void mi_free_size(void* p, size_t size) mi_attr_noexcept;
/** `mi_free(p)`; `size` and `alignment` are not checked. */
mi_decl_export void mi_free_size_aligned(void* p, size_t size, size_t alignment) mi_attr_noexcept;
/** `mi_free(p)`; `alignment` is not checked. */
mi_decl_export void mi_free_aligned(void* p, size_t alignment) mi_attr_noexcept;

/* ---- Sized allocation --------------------------------------------------------------------- */
/* Each reports the block's usable size (what mi_usable_size would return) through its out
 * parameter when that is not NULL, so a caller can use the slack without a second call. On
 * failure the result is NULL and the out parameter is set to 0. */

/** `mi_malloc`, and the block's usable size (what `mi_usable_size` returns) in `*block_size`
 * when that is not NULL; 0 there on failure (NULL, errno ENOMEM). */
mi_decl_nodiscard mi_decl_export void* mi_umalloc(size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_calloc` with the usable size in `*block_size` (0 on failure). */
mi_decl_nodiscard mi_decl_export void* mi_ucalloc(size_t count, size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size2(1, 2);
/** `mi_malloc_small` with the usable size in `*block_size` (0 on failure); `size` at most
 * `MI_SMALL_SIZE_MAX` in portable code. */
mi_decl_nodiscard mi_decl_export void* mi_umalloc_small(size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_zalloc_small` with the usable size in `*block_size` (0 on failure). */
mi_decl_nodiscard mi_decl_export void* mi_uzalloc_small(size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_malloc_aligned` with the usable size in `*block_size` (0 on failure). */
mi_decl_nodiscard mi_decl_export void* mi_umalloc_aligned(size_t size, size_t alignment, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/** `mi_zalloc_aligned` with the usable size in `*block_size` (0 on failure). */
mi_decl_nodiscard mi_decl_export void* mi_uzalloc_aligned(size_t size, size_t alignment, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/** `mi_realloc`, reporting the usable size of `p` before the call in `*block_size_pre` (0 for
 * NULL; set also on failure) and that of the result in `*block_size_post` (0 on failure). On
 * failure `p` stays valid, unchanged and owned by the caller. Either pointer may be NULL. */
mi_decl_nodiscard mi_decl_export void* mi_urealloc(void* p, size_t newsize, size_t* block_size_pre, size_t* block_size_post) mi_attr_noexcept mi_attr_alloc_size(2);
/** Stores the usable size of `p` in `*block_size` (0 for NULL; the pointer may be NULL), then
 * frees `p` as `mi_free`. */
mi_decl_export void mi_ufree(void* p, size_t* block_size) mi_attr_noexcept;
/** Our own: `mi_umalloc` in `heap` (owner thread only); the Rust crate's `Heap` uses it. */
mi_decl_nodiscard mi_decl_export void* mi_heap_umalloc(mi_heap_t* heap, size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);
/** Our own: `mi_zalloc` in `heap` with the usable size in `*block_size` (0 on failure; owner
 * thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_uzalloc(mi_heap_t* heap, size_t size, size_t* block_size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(2);

/* ---- Typed allocation ---------------------------------------------------------------------- */

/** Typed forms for C: `mi_malloc_tp(T)` allocates one `T`, `mi_calloc_tp(T, n)` `n` zeroed,
 * and so on; each casts the result to `T*` and fails as the function it calls. */
#define mi_malloc_tp(tp) ((tp*)mi_malloc(sizeof(tp)))
#define mi_zalloc_tp(tp) ((tp*)mi_zalloc(sizeof(tp)))
#define mi_calloc_tp(tp, n) ((tp*)mi_calloc(n, sizeof(tp)))
#define mi_mallocn_tp(tp, n) ((tp*)mi_mallocn(n, sizeof(tp)))
#define mi_reallocn_tp(p, tp, n) ((tp*)mi_reallocn(p, n, sizeof(tp)))
#define mi_recalloc_tp(p, tp, n) ((tp*)mi_recalloc(p, n, sizeof(tp)))

/** The typed forms in a given heap (owner thread only). */
#define mi_heap_malloc_tp(hp, tp) ((tp*)mi_heap_malloc(hp, sizeof(tp)))
#define mi_heap_zalloc_tp(hp, tp) ((tp*)mi_heap_zalloc(hp, sizeof(tp)))
#define mi_heap_calloc_tp(hp, tp, n) ((tp*)mi_heap_calloc(hp, n, sizeof(tp)))
#define mi_heap_mallocn_tp(hp, tp, n) ((tp*)mi_heap_mallocn(hp, n, sizeof(tp)))
#define mi_heap_reallocn_tp(hp, p, tp, n) ((tp*)mi_heap_reallocn(hp, p, n, sizeof(tp)))
#define mi_heap_recalloc_tp(hp, p, tp, n) ((tp*)mi_heap_recalloc(hp, p, n, sizeof(tp)))

/* ---- Process, threads, collection ---------------------------------------------------------- */

/** Runs the process-exit work now (the statistics report, when `show_stats` or `verbose` asks
 * for it); it runs once, whichever of this call and the process exit comes first. */
mi_decl_export void mi_process_done(void) mi_attr_noexcept;
/** `mi_collect(true)` when the calling thread owns more than `target_thread_owned` segments
 * (its cached empty ones included), `mi_collect(false)` otherwise. */
mi_decl_export void mi_collect_reduce(size_t target_thread_owned) mi_attr_noexcept;
/** Marks the calling thread as a thread-pool worker (recorded; it changes no policy here). */
mi_decl_export void mi_thread_set_in_threadpool(void) mi_attr_noexcept;
/** Prints every option with its value and where that came from (default, environment or set),
 * through the registered output. */
mi_decl_export void mi_options_print(void) mi_attr_noexcept;
/** True when `p` lies in a page of `heap` that has fewer than `perc_threshold` percent of its
 * blocks in use. Only the thread that owns `heap` may call it; it takes no lock, and blocks other
 * threads freed but the owner has not collected yet count as in use. false when `p` is not in a
 * page of `heap`. */
mi_decl_nodiscard mi_decl_export bool mi_unsafe_heap_page_is_under_utilized(mi_heap_t* heap, void* p, size_t perc_threshold) mi_attr_noexcept;

/* ---- More strings and Windows-style helpers ------------------------------------------------ */

/* (wchar_t comes from <stddef.h>) */
/** A copy of the wide string `s` in a new block. NULL when `s` is NULL (errno not set) or when
 * out of memory (errno ENOMEM). */
mi_decl_nodiscard mi_decl_export wchar_t* mi_wcsdup(const wchar_t* s) mi_attr_noexcept mi_attr_malloc;
/** A copy of the multibyte string `s` (as `mi_strdup`). */
mi_decl_nodiscard mi_decl_export unsigned char* mi_mbsdup(const unsigned char* s) mi_attr_noexcept mi_attr_malloc;
/** As Windows' `_dupenv_s`: a copy of environment variable `name` in `*buf` (free it with
 * `mi_free`) and its size in bytes, terminator included, in `*size` (which may be NULL). A
 * variable that is not set gives `*buf` NULL, size 0 and result 0. Returns EINVAL for a NULL
 * `buf` or `name`, ENOMEM when the copy cannot be allocated (`*buf` NULL then). */
mi_decl_export int mi_dupenv_s(char** buf, size_t* size, const char* name) mi_attr_noexcept;
/** `mi_dupenv_s` for wide strings; `*size` counts wide characters. Outside Windows the name and
 * value are converted with the C library's multibyte functions in the current locale (EILSEQ
 * when the value cannot be). */
mi_decl_export int mi_wdupenv_s(wchar_t** buf, size_t* size, const wchar_t* name) mi_attr_noexcept;
/** As Windows' `_aligned_recalloc`: `mi_recalloc_aligned` (same failures; `p` untouched and
 * still owned by the caller on failure). */
mi_decl_nodiscard mi_decl_export void* mi_aligned_recalloc(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept;
/** As Windows' `_aligned_offset_recalloc`: `mi_recalloc_aligned_at` (same failures). */
mi_decl_nodiscard mi_decl_export void* mi_aligned_offset_recalloc(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept;
/** As Windows' `_expand`: `p` when the block can hold `newsize` bytes in place, else NULL with
 * errno ENOMEM (the block is untouched and still owned by the caller). */
mi_decl_nodiscard mi_decl_export void* mi__expand(void* p, size_t newsize) mi_attr_noexcept;

/* ---- C++ allocation semantics (callable from C too) ---------------------------------------- */
/* Out of memory, these call the C++ new handler (std::get_new_handler) and retry while there
 * is one; without one, the throwing forms throw std::bad_alloc when the library was built
 * with the C++ part (the CMake override library) and otherwise report ENOMEM and abort. The
 * _nothrow forms return NULL instead. A `count * size` that overflows fails the same way
 * without consulting the handler. */

/** C++ `operator new`: `mi_malloc(size)`, and out of memory the new handler is called and the
 * allocation retried while there is one. Without a handler it throws `std::bad_alloc` where the
 * C++ hooks are present (the CMake library's C++ part, or a program that includes
 * `mimalloc-new-delete.h`, on ELF platforms); elsewhere it reports ENOMEM and aborts. Never
 * returns NULL. */
mi_decl_nodiscard mi_decl_export void* mi_new(size_t size) mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_new` with the block aligned to `alignment`; an alignment that is not a power of two is
 * reported (EINVAL) and fails as out of memory does, without calling the handler. */
mi_decl_nodiscard mi_decl_export void* mi_new_aligned(size_t size, size_t alignment) mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/** `mi_new` that returns NULL where `mi_new` would throw or abort (with the C++ hooks present,
 * also when the new handler throws). */
mi_decl_nodiscard mi_decl_export void* mi_new_nothrow(size_t size) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1);
/** `mi_new_aligned` that returns NULL where it would throw or abort. */
mi_decl_nodiscard mi_decl_export void* mi_new_aligned_nothrow(size_t size, size_t alignment) mi_attr_noexcept mi_attr_malloc mi_attr_alloc_size(1) mi_attr_alloc_align(2);
/** `mi_new(count * size)`; an overflowing product throws (or aborts) without calling the new
 * handler. */
mi_decl_nodiscard mi_decl_export void* mi_new_n(size_t count, size_t size) mi_attr_malloc mi_attr_alloc_size2(1, 2);
/** `mi_realloc` with `mi_new`'s out-of-memory rules: it calls the new handler and retries;
 * without a handler it throws or aborts, and `p` stays valid and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_new_realloc(void* p, size_t newsize) mi_attr_alloc_size(2);
/** `mi_new_realloc(p, newcount * size)`; an overflowing product throws (or aborts) without
 * calling the new handler, `p` staying valid and owned by the caller. */
mi_decl_nodiscard mi_decl_export void* mi_new_reallocn(void* p, size_t newcount, size_t size) mi_attr_alloc_size2(2, 3);
/** `mi_new` in `heap` (owner thread only). */
mi_decl_nodiscard mi_decl_export void* mi_heap_alloc_new(mi_heap_t* heap, size_t size) mi_attr_malloc mi_attr_alloc_size(2);
/** `mi_new_n` in `heap` (owner thread only). */
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

/** A standard-library allocator that allocates through `mi_new_n` (new-handler loop, then
 * `std::bad_alloc`) and frees with `mi_free`; all instances are equal. */
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

/** Shared part of the heap allocators: copies (and rebinds) share one heap, released when the
 * last copy goes; `destroy` picks `mi_heap_destroy` (blocks freed with the heap) over
 * `mi_heap_delete` (live blocks move to the owner thread's backing heap). The last copy must go
 * on the heap's own thread: elsewhere the release is refused (EINVAL to the error hook). */
template <class T, bool destroy> struct mi_heap_stl_allocator_base {
  typedef T value_type;
  typedef std::size_t size_type;
  typedef std::ptrdiff_t difference_type;
  typedef std::false_type is_always_equal;
  typedef std::true_type propagate_on_container_copy_assignment;
  typedef std::true_type propagate_on_container_move_assignment;
  typedef std::true_type propagate_on_container_swap;

  std::shared_ptr<mi_heap_t> heap;

  /** A fresh heap of the calling thread (`std::bad_alloc` when none can be made). Like any heap,
   * only that thread may allocate through the allocator; any thread may deallocate. */
  mi_heap_stl_allocator_base() {
    mi_heap_t* h = mi_heap_new();
    if (h == NULL) throw std::bad_alloc();
    heap.reset(h, &release);
  }
  /** A heap the caller owns and releases itself. */
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

/** Allocates in its own heap (or one given); frees each block with `mi_free`. */
template <class T> struct mi_heap_stl_allocator : public mi_heap_stl_allocator_base<T, false> {
  template <class U> struct rebind { typedef mi_heap_stl_allocator<U> other; };
  mi_heap_stl_allocator() : mi_heap_stl_allocator_base<T, false>() {}
  explicit mi_heap_stl_allocator(mi_heap_t* h) : mi_heap_stl_allocator_base<T, false>(h) {}
  template <class U> mi_heap_stl_allocator(const mi_heap_stl_allocator<U>& other) noexcept : mi_heap_stl_allocator_base<T, false>(other) {}
  mi_heap_stl_allocator select_on_container_copy_construction() const { return *this; }
  void deallocate(T* p, std::size_t) noexcept { mi_free(p); }
};

/** Allocates in its own heap and frees nothing block by block: the heap and every block in it go
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
