/* SPDX-License-Identifier: MIT
 * Freeing: the owner's fast path (mask to segment, compare thread id, push on the page's
 * local_free), the lock-free free from another thread (one CAS on the page's thread_free, or
 * the delayed-free handshake for full pages), blocks handed out at interior (aligned)
 * addresses, and usable-size queries. Never takes a lock. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

mi_block_t* _mi_page_ptr_unalign(const mi_page_t* page, const void* p) {
  size_t diff = (size_t)((const uint8_t*)p - page->page_start);
  size_t adjust = diff % page->block_size;
  return (mi_block_t*)((uintptr_t)p - adjust);
}

/* Free from a thread that does not own the page. Ordinarily one CAS pushes the block on the
 * page's thread_free list. When the page sits in its owner's full queue (MI_USE_DELAYED_FREE),
 * the block goes on the owning heap's delayed list instead, so the owner learns that the page
 * has room again; DELAYED_FREEING keeps the owner from changing the page's heap meanwhile. */
static mi_decl_noinline void mi_free_block_mt(mi_page_t* page, mi_block_t* block) {
  mi_thread_free_t tfree = mi_atomic_load_relaxed(&page->xthread_free);
  mi_thread_free_t tfreex;
  bool use_delayed;
  do {
    use_delayed = (mi_tf_delayed(tfree) == MI_USE_DELAYED_FREE);
    if (mi_unlikely(use_delayed)) {
      tfreex = mi_tf_set_delayed(tfree, MI_DELAYED_FREEING);
    } else {
      mi_block_set_next(page, block, mi_tf_block(tfree));
      tfreex = mi_tf_set_block(tfree, block);
    }
  } while (!mi_atomic_cas_weak_acq_rel(&page->xthread_free, &tfree, tfreex));
  if (mi_likely(!use_delayed)) return;

  mi_heap_t* heap = (mi_heap_t*)mi_atomic_load_acquire(&page->xheap);
  if (heap != NULL) {
    mi_block_t* dfree = mi_atomic_load_relaxed(&heap->thread_delayed_free);
    do {
      mi_block_set_nextx(block, dfree);
    } while (!mi_atomic_cas_weak_release(&heap->thread_delayed_free, &dfree, block));
  }
  tfree = mi_atomic_load_relaxed(&page->xthread_free);
  do {
    tfreex = mi_tf_set_delayed(tfree, MI_NO_DELAYED_FREE);
    if (heap == NULL) {
      /* no heap to tell: the block goes on the page itself */
      mi_block_set_next(page, block, mi_tf_block(tfree));
      tfreex = mi_tf_make(block, MI_NO_DELAYED_FREE);
    }
  } while (!mi_atomic_cas_weak_acq_rel(&page->xthread_free, &tfree, tfreex));
}

void _mi_free_block(mi_page_t* page, bool local, mi_block_t* block) {
  if (mi_likely(local)) {
    mi_block_set_next(page, block, page->local_free);
    page->local_free = block;
    page->used--;
    if (mi_unlikely(mi_page_is_in_full(page))) _mi_page_unfull(page);
    if (mi_unlikely(page->used == 0)) _mi_page_retire(page);
  } else {
    mi_free_block_mt(page, block);
  }
}

/* A block that another thread put on this heap's delayed list. */
void _mi_free_delayed_block(mi_block_t* block) {
  mi_page_t* page = _mi_ptr_page(block);
  _mi_page_use_delayed_free(page, MI_NO_DELAYED_FREE, false);
  _mi_page_free_collect(page, false);
  _mi_free_block(page, true, block);
}

static mi_decl_noinline void mi_free_generic(mi_page_t* page, bool local, void* p) {
  mi_block_t* block = (mi_page_has_aligned(page) ? _mi_page_ptr_unalign(page, p) : (mi_block_t*)p);
  _mi_free_block(page, local, block);
}

/* Budget (owner, ordinary page): mask, one compare of the thread id, one flags test, two
 * stores, one decrement; no atomics. */
void mi_free(void* p) mi_attr_noexcept {
  if (mi_unlikely(p == NULL)) return;
  mi_segment_t* const segment = _mi_ptr_segment(p);
#if MI_SECURE >= 1 || MI_DEBUG >= 1
  if (mi_unlikely(!_mi_segment_map_contains(p) || segment->cookie != ((uintptr_t)segment ^ _mi_process_cookie))) {
    _mi_error_message(EINVAL, "mi_free: pointer %p was not allocated by this allocator", p);
    return;
  }
#endif
  mi_page_t* const page = _mi_segment_page_of(segment, p);
  if (mi_likely(mi_atomic_load_relaxed(&segment->thread_id) == _mi_thread_id())) {
    if (mi_likely(mi_page_flags(page) == 0)) {
      mi_block_t* const block = (mi_block_t*)p;
      mi_block_set_next(page, block, page->local_free);
      page->local_free = block;
      if (mi_unlikely(--page->used == 0)) _mi_page_retire(page);
      return;
    }
    mi_free_generic(page, true, p);
  } else {
    mi_free_generic(page, false, p);
  }
}

void mi_free_small(void* p) mi_attr_noexcept { mi_free(p); }

size_t _mi_usable_size(const void* p, const char* msg) {
  (void)msg;
  if (p == NULL) return 0;
  const mi_segment_t* segment = _mi_ptr_segment(p);
  const mi_page_t* page = _mi_segment_page_of(segment, p);
  if (mi_unlikely(mi_page_has_aligned(page))) {
    const mi_block_t* block = _mi_page_ptr_unalign(page, p);
    return page->block_size - (size_t)((const uint8_t*)p - (const uint8_t*)block);
  }
  return page->block_size;
}

size_t mi_usable_size(const void* p) mi_attr_noexcept { return _mi_usable_size(p, "mi_usable_size"); }
