/* SPDX-License-Identifier: MIT
 * The contract between the allocator and the operating system. Exactly one file per OS family
 * implements it (prim-unix.c, prim-windows.c); a new platform is one new file. None of these
 * functions allocate through the allocator, and all may be called before the process is
 * initialised. Errors come back as an errno value (0 = success) and are reported by the
 * caller, never here. */
#ifndef MI_PRIM_H
#define MI_PRIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t mi_msecs_t;

/* Facts about the OS, filled once at start-up. */
typedef struct mi_os_config_s {
  size_t page_size;            /* OS page */
  size_t large_page_size;      /* huge/large OS page, 0 if none */
  bool has_overcommit;         /* mapped memory is committed on first touch */
  size_t max_map_count;        /* mappings the OS allows a process (Linux vm.max_map_count), 0 if unknown */
  bool purge_keeps_protection; /* `_mi_prim_purge` leaves no-access pages in its range no-access, so
                                  one call may span guard pages (Linux madvise) */
  const char* thp_off;         /* why segments get no transparent huge pages of that size (NULL: they may) */
  uint8_t thp_control;         /* which options keep them off: 0 none (FreeBSD promotes unasked), 1 allow_thp and
                                  allow_large_os_pages (Linux "madvise"), 2 allow_thp only (Linux "always") */
} mi_os_config_t;

void _mi_prim_config(mi_os_config_t* config);

/* Map `size` fresh zeroed read-write bytes, preferring address `hint` (may be NULL). */
int _mi_prim_mmap(void* hint, size_t size, bool allow_large, void** addr);
/* Map `size` fresh zeroed read-write bytes at an address aligned to `alignment` (a power of
 * two), in one mapping that `_mi_prim_munmap` later releases whole. ENOTSUP where the OS
 * layer has no better way than the caller's: over-map and unmap the unaligned ends (Unix).
 * An OS that can only release whole mappings (Windows) must implement it. */
int _mi_prim_mmap_aligned(size_t size, size_t alignment, bool allow_large, void** addr);
/* Unmap: os.c unmaps part of a mapping only where `_mi_prim_mmap_aligned` said ENOTSUP. */
int _mi_prim_munmap(void* addr, size_t size);
/* Give memory back; with `zeroing` it reads as zero afterwards (Linux MADV_DONTNEED, a fresh
 * mapping over the range on other Unix systems, decommit and commit again on Windows), else
 * the OS takes the pages when it needs them and the contents may linger (MADV_FREE, Windows'
 * discard). Either way the range stays mapped read-write: a caller may touch it again without
 * asking. A range that holds no-access pages keeps them so where `purge_keeps_protection`
 * says; elsewhere they turn read-write, and a caller purges around them. */
int _mi_prim_purge(void* addr, size_t size, bool zeroing);
/* Arenas (arena.c) reserve big ranges and use them a segment at a time. Reserve `size` bytes
 * of address space aligned to `alignment`, to be released whole with `_mi_prim_munmap`, that
 * need `_mi_prim_commit` before use: where the OS tells reserving and committing apart
 * (Windows), so a 1 GiB arena costs no commit charge. ENOTSUP where the OS overcommits
 * (Unix): os.c maps read-write instead and commit is free there. */
int _mi_prim_reserve_aligned(size_t size, size_t alignment, void** addr);
/* Make a range of a reservation read-write (0 on Unix, where mapped memory is committed on first touch). */
int _mi_prim_commit(void* addr, size_t size);
/* Give a range back so that it costs neither physical pages nor commit charge; it reads as zero
 * after the next `_mi_prim_commit` (which the caller must do before touching it again). */
int _mi_prim_decommit(void* addr, size_t size);
/* Map `size` bytes (a multiple of 1 GiB) of huge OS pages that the OS has set aside (Linux:
 * MAP_HUGETLB from vm.nr_hugepages). `numa_node` (-1: any) is a preference an OS layer may
 * ignore (the Unix one leaves placement to the kernel). ENOMEM where none are reserved, ENOTSUP
 * where the OS layer has no such pages (all but Linux here). Never touched by the OS
 * layer; the memory is pinned and cannot be purged. */
int _mi_prim_alloc_huge_os_pages(size_t size, int numa_node, void** addr);
/* Make memory inaccessible (guard page) or accessible again. */
int _mi_prim_protect(void* addr, size_t size, bool protect);
/* Ask that pages of the range not yet backed come as transparent huge pages where the OS can
 * (Linux MADV_HUGEPAGE), or (huge false) that they no longer do and that the kernel's background
 * collapse leave the range alone (MADV_NOHUGEPAGE); ENOTSUP where it cannot be asked per range. */
int _mi_prim_advise_huge(void* addr, size_t size, bool huge);
/* Back each `huge_size` run of the range (both aligned to it) whose OS pages of `page_size`
 * are nearly all resident already with one transparent huge page now, copying them (Linux
 * MADV_COLLAPSE, 6.1 and later): the pages it has to add are at most an eighth of the run.
 * Such a run is advised as `_mi_prim_advise_huge` does first; one the kernel cannot collapse
 * now (no huge page free) keeps the advice, one it never can (before 6.1) too. Returns how
 * many runs were advised; 0 where the OS has no such call or the system's THP setting is
 * "never". */
size_t _mi_prim_collapse_huge(void* addr, size_t size, size_t huge_size, size_t page_size);

mi_msecs_t _mi_prim_clock_now(void);
/* The same clock at a few milliseconds' resolution where the OS has a cheaper read of it (Linux:
 * CLOCK_MONOTONIC_COARSE, the last tick's time, a fifth of the cost, where it ticks at 4 ms or
 * finer): for purge deadlines, which are read and set on every page retire and only need to be
 * right to a fraction of the delay. */
mi_msecs_t _mi_prim_clock_coarse(void);

/* What the OS tells of the process; 0 for what it does not. */
typedef struct mi_process_info_s {
  mi_msecs_t elapsed, utime, stime;      /* ms; elapsed is left 0 (stats.c reads the clock) */
  size_t current_rss, peak_rss, page_faults; /* resident bytes now and at the peak; faults */
} mi_process_info_t;
void _mi_prim_process_info(mi_process_info_t* pinfo);

/* Write a message to stderr without allocating. */
void _mi_prim_out_stderr(const char* msg);
/* Copy the value of environment variable `name` (ASCII, case-insensitive) without allocating. */
bool _mi_prim_getenv(const char* name, char* result, size_t result_size);
/* The absolute path of an existing file into `resolved` (PATH_MAX bytes), without allocating;
 * NULL with errno set where there is none. */
char* _mi_prim_realpath(const char* fname, char* resolved);
/* Fill `buf` with OS randomness; false when none is available. */
bool _mi_prim_random_buf(void* buf, size_t buf_len);

/* Arrange for `_mi_thread_done(heap)` to run when the calling thread exits: every thread, also
 * those the program did not start through Rust or pthreads (Windows: an FLS callback). */
void _mi_prim_thread_init_auto_done(void);
/* The heap the exit hook hands to `_mi_thread_done` for the calling thread (NULL: none). */
void _mi_prim_thread_associate_default_heap(void* heap);
/* Give the core to another runnable thread, if any: a waiter whose wait outlasts a short spin
 * is likely waiting for a thread that was preempted and needs the core to go on. */
void _mi_prim_thread_yield(void);

#endif /* MI_PRIM_H */
