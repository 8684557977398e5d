/* SPDX-License-Identifier: MIT
 * OS-independent memory policy: aligned mappings, purging, metadata chunks, and the byte
 * counts behind the reserved/committed/purged statistics. Everything OS-specific is behind
 * prim.h; this file decides how to use it. It never allocates through the allocator.
 *
 * Reserved and committed bytes are counted in the process-wide statistics directly (atomics),
 * never in the calling thread's: with arenas one thread commits memory that another purges,
 * and counts split over threads that have not merged yet would let mi_process_info's commit
 * figure fall below what is really committed. Calls here are system calls anyway. */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

static mi_os_config_t mi_os_config = {.page_size = 4096, .large_page_size = 2 * 1024 * 1024, .has_overcommit = true};

/* Next address to try for an aligned mapping. Hinting at a region no one else uses makes the
 * kernel hand back aligned memory on the first try, avoiding the over-map-and-trim dance. */
static _Atomic(uintptr_t) mi_os_aligned_hint;
#if MI_INTPTR_SIZE == 8
#define MI_HINT_BASE ((uintptr_t)2 << 40) /* 2 TiB */
#define MI_HINT_MAX ((uintptr_t)30 << 40)
#else
/* 32-bit: no region of the address space is free to claim; over-map and trim instead */
#define MI_HINT_BASE ((uintptr_t)0)
#define MI_HINT_MAX ((uintptr_t)0)
#endif

void _mi_os_init(void) {
  _mi_prim_config(&mi_os_config);
}

size_t _mi_os_page_size(void) { return mi_os_config.page_size; }

size_t _mi_os_large_page_size(void) { return mi_os_config.large_page_size; }

const char* _mi_os_thp_off(void) {
  if (mi_os_config.thp_off != NULL) return mi_os_config.thp_off;
  if (mi_os_config.thp_control == 0) return NULL;
  if (!mi_option_is_enabled(mi_option_allow_thp)) return "allow_thp=0";
  if (mi_os_config.thp_control == 1 && mi_option_get(mi_option_allow_large_os_pages) <= 0) return "allow_large_os_pages=0";
  return NULL;
}

bool _mi_os_has_overcommit(void) { return mi_os_config.has_overcommit; }

bool _mi_os_purge_keeps_protection(void) { return mi_os_config.purge_keeps_protection; }

/* Guard pages between the pages of a segment the process may hold at once. Each one splits a
 * mapping, costing up to two of the mappings the kernel allows a process; at that limit every
 * mmap and mprotect in the process fails with ENOMEM. A 64th of the limit keeps them to about
 * 3 % of it (Linux's default 65,530 gives 1,023); where an administrator raises the limit, as
 * secure builds want, more pages are guarded. */
size_t _mi_os_guard_budget(void) {
  size_t max = (mi_os_config.max_map_count != 0 ? mi_os_config.max_map_count : 65530);
  return max / 64;
}

static void* mi_os_aligned_hint_next(size_t size, size_t alignment) {
  if (MI_HINT_MAX == 0 || alignment != MI_SEGMENT_SIZE || size > 1024 * MI_MiB) return NULL;
  uintptr_t hint = mi_atomic_add_acq_rel(&mi_os_aligned_hint, _mi_align_up(size, MI_SEGMENT_SIZE));
  if (hint == 0 || hint > MI_HINT_MAX) {
    /* (re)start the hint region; a random offset keeps layouts different between runs */
    uintptr_t start = MI_HINT_BASE + ((_mi_random_seed() % 4096) << MI_SEGMENT_SHIFT);
    uintptr_t expected = mi_atomic_load_relaxed(&mi_os_aligned_hint);
    mi_atomic_cas_strong_acq_rel(&mi_os_aligned_hint, &expected, start + _mi_align_up(size, MI_SEGMENT_SIZE));
    hint = start;
  }
  return (void*)hint;
}

static void mi_os_stat_mapped(size_t size, mi_stats_t* stats) {
  _mi_stat_increase(&_mi_stats_main.reserved, size);
  _mi_stat_increase(&_mi_stats_main.committed, size);
  _mi_stat_counter_increase(&stats->mmap_calls, 1);
}

static void* mi_os_map(void* hint, size_t size, bool allow_large, mi_stats_t* stats) {
  if (mi_option_is_enabled(mi_option_disallow_os_alloc)) return NULL;
  void* p = NULL;
  int err = _mi_prim_mmap(hint, size, allow_large, &p);
  if (err != 0) {
    _mi_warning_message("unable to map %zu bytes from the OS (error %d)", size, err);
    return NULL;
  }
  mi_os_stat_mapped(size, stats);
  return p;
}

static void mi_os_unmap(void* p, size_t size, mi_stats_t* stats) {
  if (p == NULL || size == 0) return;
  int err = _mi_prim_munmap(p, size);
  if (err != 0) _mi_warning_message("unable to unmap %p (%zu bytes, error %d)", p, size, err);
  _mi_stat_decrease(&_mi_stats_main.reserved, size);
  _mi_stat_decrease(&_mi_stats_main.committed, size);
  _mi_stat_counter_increase(&stats->munmap_calls, 1);
}

void* _mi_os_alloc_aligned(size_t size, size_t alignment, bool allow_large, bool* is_large,
                           void** base, size_t* mapped, mi_stats_t* stats) {
  size = _mi_align_up(size, mi_os_config.page_size);
  *is_large = false;
  *base = NULL;
  *mapped = 0;
  if (size == 0 || alignment == 0 || !_mi_is_power_of_two(alignment)) return NULL;
  if (size > MI_MAX_ALLOC_SIZE - alignment) return NULL;
  allow_large = allow_large && mi_option_is_enabled(mi_option_allow_large_os_pages);

  /* 1. try the hinted address, which is usually free and aligned */
  void* hint = mi_os_aligned_hint_next(size, alignment);
  void* p = mi_os_map(hint, size, allow_large, stats);
  if (p == NULL) return NULL;
  if (((uintptr_t)p & (alignment - 1)) == 0) {
    *base = p;
    *mapped = size;
    *is_large = allow_large;
    return p;
  }
  mi_os_unmap(p, size, stats);
  /* 2. the OS layer's own way to an aligned mapping (Windows can not trim a reservation) */
  int err = _mi_prim_mmap_aligned(size, alignment, allow_large, &p);
  if (err == 0) {
    mi_os_stat_mapped(size, stats);
    *base = p;
    *mapped = size;
    *is_large = allow_large;
    return p;
  }
  if (err != ENOTSUP) {
    _mi_warning_message("unable to map %zu bytes aligned to %zu from the OS (error %d)", size, alignment, err);
    return NULL;
  }
  /* 3. over-map by the alignment and trim both ends */
  size_t over = size + alignment;
  p = mi_os_map(NULL, over, allow_large, stats);
  if (p == NULL) return NULL;
  uintptr_t aligned = _mi_align_up((uintptr_t)p, alignment);
  size_t pre = aligned - (uintptr_t)p;
  size_t post = over - pre - size;
  if (pre > 0) mi_os_unmap(p, pre, stats);
  if (post > 0) mi_os_unmap((void*)(aligned + size), post, stats);
  *base = (void*)aligned;
  *mapped = size;
  *is_large = allow_large;
  return (void*)aligned;
}

void _mi_os_free(void* base, size_t mapped, mi_stats_t* stats) { mi_os_unmap(base, mapped, stats); }

bool _mi_os_purge(void* p, size_t size, mi_stats_t* stats) {
  /* purge whole OS pages inside the range only: partial pages still hold live data */
  uintptr_t start = _mi_align_up((uintptr_t)p, mi_os_config.page_size);
  uintptr_t end = ((uintptr_t)p + size) & ~(uintptr_t)(mi_os_config.page_size - 1);
  if (end <= start) return false;
  bool zeroing = mi_option_is_enabled(mi_option_purge_decommits);
  int err = _mi_prim_purge((void*)start, end - start, zeroing);
  if (err != 0) {
    _mi_warning_message("unable to purge %p (%zu bytes, error %d)", (void*)start, (size_t)(end - start), err);
    return false;
  }
  _mi_stat_increase(&stats->purged, end - start);
  _mi_stat_counter_increase(&stats->purge_calls, 1);
  return zeroing && start == (uintptr_t)p && end == (uintptr_t)p + size;
}

bool _mi_os_protect(void* p, size_t size) {
  static _Atomic(bool) warned;
  int err = _mi_prim_protect(p, size, true);
  if (err == 0) return true;
  /* typically ENOMEM from vm.max_map_count: every guard splits a mapping in two. Allocation
   * goes on without this guard rather than failing. */
  bool expected = false;
  if (mi_atomic_cas_strong_acq_rel(&warned, &expected, true)) {
    _mi_warning_message("unable to protect a guard page at %p (error %d); further guard pages are skipped while the OS refuses them\n", p, err);
  }
  return false;
}

bool _mi_os_advise_huge(void* p, size_t size) {
  if (mi_os_config.large_page_size == 0 || !mi_option_is_enabled(mi_option_allow_thp)) return false;
  return _mi_prim_advise_huge(p, size, true) == 0;
}

void _mi_os_unadvise_huge(void* p, size_t size) { (void)_mi_prim_advise_huge(p, size, false); }

size_t _mi_os_collapse_huge(void* p, size_t size) {
  if (mi_os_config.large_page_size == 0 || !mi_option_is_enabled(mi_option_allow_thp)) return 0;
  return _mi_prim_collapse_huge(p, size, mi_os_config.large_page_size, mi_os_config.page_size);
}

bool _mi_os_unprotect(void* p, size_t size) {
  int err = _mi_prim_protect(p, size, false);
  if (err != 0) _mi_warning_message("unable to unprotect a guard page at %p (error %d)\n", p, err);
  return err == 0;
}

void* _mi_os_alloc_meta(size_t size, mi_stats_t* stats) {
  size = _mi_align_up(size, mi_os_config.page_size);
  return mi_os_map(NULL, size, false, stats);
}

void _mi_os_free_meta(void* p, size_t size, mi_stats_t* stats) {
  mi_os_unmap(p, _mi_align_up(size, mi_os_config.page_size), stats);
}

/* ---- Reservations for arenas ------------------------------------------------------------- */
/* The statistics count a reservation as reserved only; arena.c counts commits as it makes them
 * (committed <= reserved), so the two differ by the address space no segment has used yet. */

void* _mi_os_reserve_aligned(size_t size, size_t alignment, bool allow_large, bool* is_committed, void** base,
                             size_t* mapped, mi_stats_t* stats) {
  size = _mi_align_up(size, mi_os_config.page_size);
  *is_committed = false;
  *base = NULL;
  *mapped = 0;
  if (mi_option_is_enabled(mi_option_disallow_os_alloc)) return NULL;
  void* p = NULL;
  int err = _mi_prim_reserve_aligned(size, alignment, &p);
  if (err == 0) {
    _mi_stat_increase(&_mi_stats_main.reserved, size);
    _mi_stat_counter_increase(&stats->mmap_calls, 1);
    *base = p;
    *mapped = size;
    return p;
  }
  if (err != ENOTSUP) {
    _mi_warning_message("unable to reserve %zu bytes of address space from the OS (error %d)\n", size, err);
    return NULL;
  }
  /* an overcommitting OS: the read-write mapping is the reservation */
  bool is_large = false;
  p = _mi_os_alloc_aligned(size, alignment, allow_large, &is_large, base, mapped, stats);
  if (p == NULL) return NULL;
  _mi_stat_decrease(&_mi_stats_main.committed, *mapped); /* counted by arena.c as it commits */
  *is_committed = true;
  return p;
}

/* Releases a whole reservation, of which `committed` bytes were counted as committed. */
void _mi_os_release(void* base, size_t mapped, size_t committed, mi_stats_t* stats) {
  if (base == NULL || mapped == 0) return;
  int err = _mi_prim_munmap(base, mapped);
  if (err != 0) _mi_warning_message("unable to release %p (%zu bytes, error %d)\n", base, mapped, err);
  _mi_stat_decrease(&_mi_stats_main.reserved, mapped);
  _mi_stat_decrease(&_mi_stats_main.committed, committed);
  _mi_stat_counter_increase(&stats->munmap_calls, 1);
}

bool _mi_os_commit(void* p, size_t size, size_t stat_size, mi_stats_t* stats) {
  (void)stats; /* commits are counted process-wide (see the top of the file) */
  int err = _mi_prim_commit(p, size);
  if (err != 0) {
    _mi_warning_message("unable to commit %p (%zu bytes, error %d)\n", p, size, err);
    return false;
  }
  _mi_stat_increase(&_mi_stats_main.committed, stat_size);
  return true;
}

bool _mi_os_decommit(void* p, size_t size, mi_stats_t* stats) {
  int err = _mi_prim_decommit(p, size);
  if (err != 0) {
    _mi_warning_message("unable to decommit %p (%zu bytes, error %d)\n", p, size, err);
    return false;
  }
  _mi_stat_decrease(&_mi_stats_main.committed, size);
  _mi_stat_increase(&stats->purged, size);
  _mi_stat_counter_increase(&stats->purge_calls, 1);
  return true;
}

/* Huge OS pages the OS set aside: ENOMEM/ENOTSUP come back to the caller, which reports them. */
int _mi_os_alloc_huge_os_pages(size_t size, int numa_node, void** addr, mi_stats_t* stats) {
  int err = _mi_prim_alloc_huge_os_pages(size, numa_node, addr);
  if (err != 0) return err;
  _mi_stat_increase(&_mi_stats_main.reserved, size);
  _mi_stat_increase(&_mi_stats_main.committed, size);
  _mi_stat_counter_increase(&stats->mmap_calls, 1);
  return 0;
}
