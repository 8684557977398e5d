/* SPDX-License-Identifier: MIT
 * Size classes and the heap's page queues: one doubly linked queue per bin plus the "full"
 * queue, and the direct lookup array that points each small word size at the first page of
 * its bin. Owner thread only; nothing here is atomic except reading a page's delayed state
 * through page.c when pages change heaps. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

size_t _mi_bin_size(size_t bin) {
  _mi_assert(bin < MI_BIN_COUNT);
  if (bin <= 1) return MI_MIN_BLOCK_SIZE;
  if (bin <= 17) return (bin - 1) * 16;
  if (bin == MI_BIN_HUGE) return MI_LARGE_OBJ_SIZE_MAX + MI_INTPTR_SIZE;
  if (bin >= MI_BIN_FULL) return MI_LARGE_OBJ_SIZE_MAX + 2 * MI_INTPTR_SIZE;
  size_t k = (bin - 18) / 8;
  size_t i = (bin - 18) % 8;
  return ((size_t)256 << k) + (i + 1) * ((size_t)32 << k);
}

/* The bytes a block for `size` has room for (its class, less the debug padding). */
size_t mi_good_size(size_t size) mi_attr_noexcept {
  if (size > MI_MAX_ALLOC_SIZE - MI_PADDING_SIZE) return size;
#if MI_PADDING
  if (size == 0) size = 1; /* as the allocation itself does: a zero-size block has one usable byte */
#endif
  size_t padded = size + MI_PADDING_SIZE;
  if (padded <= MI_LARGE_OBJ_SIZE_MAX) {
    size_t good = _mi_bin_size(_mi_bin(padded)) - MI_PADDING_SIZE;
    _mi_assert(good >= size && good + MI_PADDING_SIZE <= MI_LARGE_OBJ_SIZE_MAX);
    return good;
  }
  return _mi_align_up(padded, _mi_os_page_size()) - MI_PADDING_SIZE;
}

static bool mi_page_is_huge(const mi_page_t* page) { return _mi_page_segment(page)->page_kind == MI_PAGE_HUGE; }

/* Is `pq` one of `heap`'s queues (assertions only)? */
static inline bool mi_heap_has_queue(const mi_heap_t* heap, const mi_page_queue_t* pq) {
  return pq >= heap->pages && pq < heap->pages + MI_BIN_COUNT;
}

mi_page_queue_t* _mi_page_queue_of(mi_heap_t* heap, const mi_page_t* page) {
  _mi_assert(page->segment_in_use);
  size_t bin = (mi_page_is_in_full(page) ? MI_BIN_FULL : mi_page_is_huge(page) ? MI_BIN_HUGE : _mi_bin(page->block_size));
  /* a page of a size class has exactly its class's block size: it was made for that queue */
  _mi_assert(bin >= MI_BIN_HUGE || heap->pages[bin].block_size == page->block_size);
  return &heap->pages[bin];
}

static bool mi_page_queue_is_full(const mi_heap_t* heap, const mi_page_queue_t* pq) { return pq == &heap->pages[MI_BIN_FULL]; }

/* A page's links agree with its neighbours' and, at the ends, with the queue's (assertions only). */
static inline bool mi_page_queue_links_ok(const mi_page_queue_t* pq, const mi_page_t* page) {
  return (page->prev == NULL ? pq->first == page : page->prev->next == page) &&
         (page->next == NULL ? pq->last == page : page->next->prev == page);
}

/* Keep pages_free_direct[w] == first page of w's bin, for every word size w of that bin. */
void _mi_heap_queue_first_update(mi_heap_t* heap, const mi_page_queue_t* pq) {
  _mi_assert(mi_heap_has_queue(heap, pq) && heap != &_mi_heap_empty);
  _mi_assert((pq->first == NULL) == (pq->last == NULL));
  size_t size = pq->block_size;
  if (size > MI_SMALL_SIZE_MAX || mi_page_queue_is_full(heap, pq)) return;
  if (heap->guarded_sample_rate != 0) return; /* sampling: every allocation takes the slow path (page.c) */
  mi_page_t* page = (pq->first != NULL ? pq->first : (mi_page_t*)&_mi_page_empty);
  size_t idx = _mi_wsize_from_size(size);
  if (heap->pages_free_direct[idx] == page) return;
  size_t start = 0;
  if (pq > &heap->pages[1]) start = _mi_wsize_from_size((pq - 1)->block_size) + 1;
  _mi_assert(start <= idx && (pq->first == NULL || pq->first->block_size == size));
  for (size_t w = start; w <= idx; w++) heap->pages_free_direct[w] = page;
}

void _mi_page_queue_remove(mi_heap_t* heap, mi_page_queue_t* queue, mi_page_t* page) {
  _mi_assert(mi_heap_has_queue(heap, queue) && mi_page_heap(page) == heap && heap->page_count > 0);
  _mi_assert(_mi_page_queue_of(heap, page) == queue);
  _mi_assert(mi_page_queue_links_ok(queue, page));
  if (page->prev != NULL) page->prev->next = page->next;
  if (page->next != NULL) page->next->prev = page->prev;
  if (page == queue->last) queue->last = page->prev;
  if (page == queue->first) {
    queue->first = page->next;
    _mi_heap_queue_first_update(heap, queue);
  }
  heap->page_count--;
  page->next = NULL;
  page->prev = NULL;
  mi_page_set_in_full(page, false);
  _mi_assert(queue->first != page && queue->last != page && (queue->first == NULL) == (queue->last == NULL));
  _mi_assert_expensive(_mi_page_queue_check(heap, queue, NULL));
}

void _mi_page_queue_push(mi_heap_t* heap, mi_page_queue_t* queue, mi_page_t* page) {
  _mi_assert(mi_heap_has_queue(heap, queue) && mi_page_heap(page) == heap && page->segment_in_use);
  _mi_assert(page->next == NULL && page->prev == NULL && queue->first != page); /* in no queue */
  mi_page_set_in_full(page, mi_page_queue_is_full(heap, queue));
  page->next = queue->first;
  page->prev = NULL;
  if (queue->first != NULL) queue->first->prev = page;
  else queue->last = page;
  queue->first = page;
  _mi_heap_queue_first_update(heap, queue);
  heap->page_count++;
  _mi_assert(queue->first == page && queue->last != NULL && _mi_page_queue_of(heap, page) == queue);
  _mi_assert(mi_page_queue_links_ok(queue, page));
  _mi_assert_expensive(_mi_page_queue_check(heap, queue, NULL));
}

/* Move a page to the end of `to`: a page that just got room back is used after the current
 * first page, which keeps allocation sequential within one page at a time. */
void _mi_page_queue_enqueue_from(mi_heap_t* heap, mi_page_queue_t* to, mi_page_queue_t* from, mi_page_t* page) {
  _mi_assert(to != from && mi_heap_has_queue(heap, to));
  /* between size classes only through the full queue */
  _mi_assert(to->block_size == from->block_size || mi_page_queue_is_full(heap, to) || mi_page_queue_is_full(heap, from));
  _mi_page_queue_remove(heap, from, page);
  heap->page_count++;
  mi_page_set_in_full(page, mi_page_queue_is_full(heap, to));
  page->prev = to->last;
  page->next = NULL;
  if (to->last != NULL) {
    to->last->next = page;
    to->last = page;
  } else {
    to->first = to->last = page;
    _mi_heap_queue_first_update(heap, to);
  }
  _mi_assert(to->last == page && _mi_page_queue_of(heap, page) == to && mi_page_queue_links_ok(to, page));
  _mi_assert_expensive(_mi_page_queue_check(heap, to, NULL));
}

/* Append every page of `append` (another heap's queue) to `pq`. Each page's heap is switched
 * first and then any concurrent delayed free is waited out, so a remote free either saw the
 * old heap (and its block is drained from the old heap's list by the caller) or the new one. */
size_t _mi_page_queue_append(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_queue_t* append) {
  _mi_assert(mi_heap_has_queue(heap, pq) && !mi_heap_has_queue(heap, append) && pq->block_size == append->block_size);
  _mi_assert((append->first == NULL) == (append->last == NULL));
  if (append->first == NULL) return 0;
  size_t count = 0;
  bool full = mi_page_queue_is_full(heap, pq);
  for (mi_page_t* page = append->first; page != NULL; page = page->next) {
    _mi_assert(page->segment_in_use && mi_page_heap(page) != heap && mi_page_is_in_full(page) == full);
    mi_page_set_heap(page, heap);
    _mi_page_use_delayed_free(page, full ? MI_USE_DELAYED_FREE : MI_NO_DELAYED_FREE, false);
    count++;
  }
  if (pq->last == NULL) {
    pq->first = append->first;
    pq->last = append->last;
    _mi_heap_queue_first_update(heap, pq);
  } else {
    pq->last->next = append->first;
    append->first->prev = pq->last;
    pq->last = append->last;
  }
  heap->page_count += count;
  _mi_assert(pq->last == append->last && (pq->first == append->first) == (append->first->prev == NULL));
  _mi_assert_expensive(_mi_page_queue_check(heap, pq, NULL));
  return count;
}

/* ---- Invariants ------------------------------------------------------------------------------ */

#if MI_INVARIANTS
static void mi_page_queue_broken(const mi_page_queue_t* pq, const mi_page_t* page, const char* what) {
  _mi_error_message(EFAULT, "page queue invariant broken (%s): queue of block size %zu, page %p (block size %zu)\n", what,
                    pq->block_size, (void*)page, (page != NULL ? page->block_size : 0));
}

/* A queue is a well-formed doubly linked list (first->prev == NULL, p->next->prev == p,
 * last == the final page) of in-use pages that belong to `heap` and to the queue's class, with
 * the in-full flag set exactly in the full queue. A broken one is reported (EFAULT) and the
 * answer is false; `pages` (if not NULL) gets the pages counted before any break. */
bool _mi_page_queue_check(const mi_heap_t* heap, const mi_page_queue_t* pq, size_t* pages) {
  const bool full = mi_page_queue_is_full(heap, pq);
  const mi_page_t* prev = NULL;
  size_t n = 0;
  bool ok = true;
  for (const mi_page_t* page = pq->first; page != NULL; page = page->next) {
    const char* broken = NULL;
    if (++n > heap->page_count) broken = "more pages than the heap counts (a cycle?)";
    else if (page->prev != prev) broken = "back link";
    else if (!page->segment_in_use) broken = "page not in use";
    else if (mi_page_heap(page) != heap) broken = "owning heap";
    else if (mi_page_is_in_full(page) != full) broken = "in-full flag";
    else if (!full && _mi_page_queue_of((mi_heap_t*)heap, page) != pq) broken = "size class";
    if (broken != NULL) {
      mi_page_queue_broken(pq, page, broken);
      n--;
      ok = false;
      break;
    }
    prev = page;
  }
  if (ok && pq->last != prev) {
    mi_page_queue_broken(pq, pq->last, "last page");
    ok = false;
  }
  if (pages != NULL) *pages = n;
  return ok;
}

/* Every queue holds, their pages add up to `page_count`, and the direct array points each
 * small word size at the first page of its bin (or at the empty page). Reports the first
 * broken invariant (EFAULT) and answers false. */
bool _mi_heap_check(const mi_heap_t* heap) {
  size_t total = 0;
  for (size_t bin = 0; bin < MI_BIN_COUNT; bin++) {
    size_t pages;
    if (!_mi_page_queue_check(heap, &heap->pages[bin], &pages)) return false;
    total += pages;
  }
  if (total != heap->page_count) {
    _mi_error_message(EFAULT, "heap invariant broken: its queues hold %zu pages, it counts %zu\n", total, heap->page_count);
    return false;
  }
  for (size_t w = 0; w < MI_PAGES_DIRECT; w++) {
    const mi_page_queue_t* pq = &heap->pages[_mi_bin(w * MI_INTPTR_SIZE)];
    const mi_page_t* expected = (pq->first != NULL && heap->guarded_sample_rate == 0 ? pq->first : &_mi_page_empty);
    if (heap->pages_free_direct[w] != expected) {
      _mi_error_message(EFAULT, "heap invariant broken: direct entry for %zu bytes is page %p, its bin's first page is %p\n",
                        w * MI_INTPTR_SIZE, (void*)heap->pages_free_direct[w], (void*)expected);
      return false;
    }
  }
  return true;
}
#endif
