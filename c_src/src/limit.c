/* SPDX-License-Identifier: MIT
 * Memory limits: a process-wide one (mi_set_memory_limit, MIMALLOC_MEMORY_LIMIT) and one per
 * heap (mi_heap_set_memory_limit). Neither is in upstream mimalloc; both are ours.
 *
 * What is counted is the memory of pages handed to heaps: a small or medium page counts its
 * whole page, a large or huge one its whole segment, from the moment a heap takes it fresh
 * from a segment (page.c) until the page is cleared back into its segment: by its heap
 * (page.c, heap.c) or, abandoned, by the thread that reclaims its segment (segment.c). A page
 * the limit refuses goes back uncounted, so the total never passes the limit, not even for a
 * moment. An abandoned page still counts for the process (its blocks are live) but no longer
 * for the heap that left it; a reclaimed one counts for its new heap again. Segment headers,
 * cached empty segments and pages waiting to be purged are not counted: they are the
 * allocator's own slack, which it gives back on its own schedule.
 *
 * Counting whole pages keeps the cost off the fast paths (one relaxed atomic add per page
 * taken or cleared, a few per megabyte allocated) and makes the limit exact: a page is taken
 * only if it fits under the limit, with a compare-and-swap, so racing threads never push the
 * total past it. Allocation refused by a limit returns NULL with ENOMEM, after the caller's
 * heap gave back what it could (a forced collect) and retried (_mi_malloc_generic); nothing
 * already handed out is touched, and every page cleared brings its bytes back. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

static _Atomic(size_t) mi_limit_process_used; /* bytes of pages in use, all heaps, abandoned too */
static _Atomic(size_t) mi_limit_process_max;  /* 0: no limit */

/* Fails without changing anything when `bytes` more would pass the process limit. */
static bool mi_limit_process_take(size_t bytes) {
  size_t max = mi_atomic_load_relaxed(&mi_limit_process_max);
  if (mi_likely(max == 0)) {
    mi_atomic_add_relaxed(&mi_limit_process_used, bytes);
    return true;
  }
  size_t used = mi_atomic_load_relaxed(&mi_limit_process_used);
  do {
    if (used > max || bytes > max - used) return false;
  } while (!mi_atomic_cas_weak_acq_rel(&mi_limit_process_used, &used, used + bytes));
  return true;
}

bool _mi_limit_page_take(mi_heap_t* heap, size_t bytes) {
  if (mi_unlikely(heap->mem_limit != 0) && (heap->mem_used > heap->mem_limit || bytes > heap->mem_limit - heap->mem_used)) {
    return false;
  }
  if (!mi_limit_process_take(bytes)) return false;
  heap->mem_used += bytes;
  return true;
}

void _mi_limit_page_cleared(size_t bytes) { mi_atomic_sub_relaxed(&mi_limit_process_used, bytes); }

void _mi_limit_heap_leave(mi_heap_t* heap, size_t bytes) {
  heap->mem_used = (bytes < heap->mem_used ? heap->mem_used - bytes : 0);
}

/* Adopted pages (a reclaimed segment's, or a deleted heap's) are counted without a check: their
 * blocks exist already, and refusing them would not free anything. */
void _mi_limit_heap_adopt(mi_heap_t* heap, size_t bytes) { heap->mem_used += bytes; }

void _mi_limit_init(void) {
  size_t bytes;
  if (_mi_options_env_size("MIMALLOC_MEMORY_LIMIT", &bytes)) {
    mi_atomic_store_relaxed(&mi_limit_process_max, bytes);
    _mi_verbose_message("memory limit: %zu KiB (environment)\n", bytes / 1024);
  }
}

/* ---- Public API ------------------------------------------------------------------------------ */

void mi_set_memory_limit(size_t bytes) mi_attr_noexcept { mi_atomic_store_relaxed(&mi_limit_process_max, bytes); }

size_t mi_get_memory_limit(void) mi_attr_noexcept { return mi_atomic_load_relaxed(&mi_limit_process_max); }

size_t mi_memory_in_use(void) mi_attr_noexcept { return mi_atomic_load_relaxed(&mi_limit_process_used); }

bool mi_heap_set_memory_limit(mi_heap_t* heap, size_t bytes) mi_attr_noexcept {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return false;
  if (heap->thread_id != _mi_thread_id()) {
    _mi_error_message(EINVAL, "mi_heap_set_memory_limit: heap %p belongs to another thread", (void*)heap);
    return false;
  }
  heap->mem_limit = bytes;
  return true;
}

size_t mi_heap_get_memory_limit(const mi_heap_t* heap) mi_attr_noexcept {
  return (heap == NULL ? 0 : heap->mem_limit);
}

size_t mi_heap_memory_in_use(const mi_heap_t* heap) mi_attr_noexcept {
  return (heap == NULL ? 0 : heap->mem_used);
}
