/* SPDX-License-Identifier: MIT
 * Heaps: creation of first-class heaps, collection, deletion (live blocks move to the backing
 * heap), destruction (everything freed at once), abandonment at thread exit, ownership
 * queries and the block visitor. A heap is used by its owning thread only; other threads
 * reach it solely through its lock-free delayed-free list. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

typedef bool(mi_heap_page_visitor_fun)(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_t* page, void* arg);

/* Visit every page of every queue; the visitor may remove the page it is given. */
static bool mi_heap_visit_pages(mi_heap_t* heap, mi_heap_page_visitor_fun* fn, void* arg) {
  if (heap == NULL || heap->page_count == 0) return true;
  for (size_t bin = 0; bin < MI_BIN_COUNT; bin++) {
    mi_page_queue_t* pq = &heap->pages[bin];
    mi_page_t* page = pq->first;
    while (page != NULL) {
      mi_page_t* next = page->next;
      if (!fn(heap, pq, page, arg)) return false;
      page = next;
    }
  }
  return true;
}

void _mi_heap_init(mi_heap_t* heap, mi_tld_t* tld, bool no_reclaim) {
  _mi_assert(heap != NULL && heap != &_mi_heap_empty && tld != NULL);
  _mi_assert(tld->heap_backing == NULL || tld->heap_backing->thread_id == _mi_thread_id()); /* a thread makes its own heaps */
  memcpy(heap, &_mi_heap_empty, sizeof(mi_heap_t));
  for (size_t bin = 0; bin < MI_BIN_COUNT; bin++) heap->pages[bin].block_size = _mi_bin_size(bin);
  heap->tld = tld;
  heap->thread_id = _mi_thread_id();
  heap->no_reclaim = no_reclaim;
  /* one OS random call per thread; further heaps of the thread derive from the backing heap */
  mi_heap_t* bheap = tld->heap_backing;
  uintptr_t seed = (bheap != NULL ? _mi_random_next(&bheap->keys[0]) : _mi_random_seed()) ^ (uintptr_t)heap;
  heap->cookie = _mi_random_next(&seed) | 1;
  heap->keys[0] = _mi_random_next(&seed);
  heap->keys[1] = _mi_random_next(&seed);
#if MI_ENCODE_FREELIST
  /* apart from `keys`, which advance as pages take theirs: other threads encode with these */
  heap->delayed_keys[0] = _mi_random_next(&seed);
  heap->delayed_keys[1] = _mi_random_next(&seed);
#endif
  _mi_heap_guarded_init(heap);
  heap->next = tld->heaps;
  tld->heaps = heap;
  _mi_assert(heap->page_count == 0 && (heap->cookie & 1) != 0 && heap->pages[MI_BIN_HUGE].first == NULL);
  _mi_assert(heap->pages[1].block_size == MI_MIN_BLOCK_SIZE && heap->pages[MI_BIN_FULL].block_size > MI_LARGE_OBJ_SIZE_MAX);
}

static void mi_heap_reset_pages(mi_heap_t* heap) {
  for (size_t i = 0; i < MI_PAGES_DIRECT; i++) heap->pages_free_direct[i] = (mi_page_t*)&_mi_page_empty;
  for (size_t bin = 0; bin < MI_BIN_COUNT; bin++) {
    heap->pages[bin].first = NULL;
    heap->pages[bin].last = NULL;
  }
  heap->page_count = 0;
  heap->page_retired[0] = heap->page_retired[1] = 0;
  _mi_assert(heap->pages[MI_BIN_FULL].first == NULL && heap->pages_free_direct[MI_PAGES_DIRECT - 1] == &_mi_page_empty);
}

/* ---- Collection ---------------------------------------------------------------------------- */

typedef enum mi_collect_e { MI_NORMAL, MI_FORCE, MI_ABANDON } mi_collect_t;

static bool mi_heap_page_never_delayed(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_t* page, void* arg) {
  (void)heap; (void)pq; (void)arg;
  _mi_page_use_delayed_free(page, MI_NEVER_DELAYED_FREE, false);
  return true;
}

static bool mi_heap_page_collect(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_t* page, void* arg) {
  (void)heap;
  _mi_assert(mi_page_heap(page) == heap && pq == _mi_page_queue_of(heap, page));
  mi_collect_t collect = *(mi_collect_t*)arg;
  /* Abandoning collects the other threads' frees (the page's count decides whether it is
   * empty) but leaves local_free beside free: merging them walks local_free to its end, a
   * cache miss per block freed, on every page of an exiting thread, and the next owner takes
   * local_free over in one step once free runs out. */
  _mi_page_free_collect(page, collect == MI_FORCE);
  /* at thread exit empty pages take the normal road (delayed purge, segment cache): the
   * segments go on to an adopter or to other threads, who may reuse the memory */
  if (mi_page_all_free(page)) _mi_page_free(page, pq, collect == MI_FORCE);
  else if (collect == MI_ABANDON) _mi_page_abandon(page, pq);
  return true;
}

static void mi_heap_collect_ex(mi_heap_t* heap, mi_collect_t collect) {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return;
  mi_tld_t* tld = heap->tld;
  _mi_assert(heap->thread_id == _mi_thread_id() && tld != NULL); /* a heap is collected by its own thread */
  _mi_assert_internal(_mi_heap_check(heap));
  _mi_deferred_free(heap, collect >= MI_FORCE);
  _mi_remote_batch_flush(tld); /* this thread's frees into other threads' pages reach them */
  /* a forced collect also adopts the segments of exited threads, so their empty pages return */
  if (collect == MI_FORCE && !heap->no_reclaim) _mi_abandoned_reclaim_all(heap, tld);
  if (collect == MI_ABANDON) {
    /* first stop remote frees from using our delayed list, then drain it: after this no
     * block can reach a heap that is going away */
    mi_heap_visit_pages(heap, &mi_heap_page_never_delayed, NULL);
  }
  _mi_heap_delayed_free_all(heap);
  _mi_heap_collect_retired(heap, collect == MI_FORCE); /* abandoning: the visit frees the rest */
  mi_heap_visit_pages(heap, &mi_heap_page_collect, &collect);
  if (collect != MI_ABANDON) _mi_segments_collect(tld, collect == MI_FORCE); /* else _mi_segments_thread_done */
  _mi_assert(collect != MI_ABANDON || heap->page_count == 0); /* every page freed or abandoned */
  _mi_assert(collect != MI_FORCE || (heap->page_retired[0] == 0 && heap->page_retired[1] == 0));
  _mi_assert_internal(_mi_heap_check(heap));
}

void _mi_heap_collect_abandon(mi_heap_t* heap) { mi_heap_collect_ex(heap, MI_ABANDON); }

void mi_heap_collect(mi_heap_t* heap, bool force) mi_attr_noexcept { mi_heap_collect_ex(heap, force ? MI_FORCE : MI_NORMAL); }

void mi_collect(bool force) mi_attr_noexcept { mi_heap_collect(mi_prim_get_default_heap(), force); }

void mi_collect_reduce(size_t target_thread_owned) mi_attr_noexcept {
  mi_heap_t* heap = mi_prim_get_default_heap();
  if (!mi_heap_is_initialized(heap)) return;
  /* a forced collect gives cached segments back and adopts abandoned ones to empty them; worth
   * it only when the thread holds more than the caller wants it to (cached ones count: they
   * are still the thread's memory) */
  size_t owned = heap->tld->segments.count + heap->tld->segments.cache_count;
  mi_heap_collect_ex(heap, owned > target_thread_owned ? MI_FORCE : MI_NORMAL);
}

/* ---- Creation and defaults ---------------------------------------------------------------- */

mi_heap_t* mi_heap_get_default(void) {
  mi_heap_t* heap = mi_prim_get_default_heap();
  if (mi_unlikely(!mi_heap_is_initialized(heap))) {
    mi_thread_init();
    heap = mi_prim_get_default_heap();
  }
  /* the empty heap when thread data could not be had */
  _mi_assert(heap != NULL && (!mi_heap_is_initialized(heap) || heap->thread_id == _mi_thread_id()));
  return heap;
}

mi_heap_t* mi_heap_get_backing(void) {
  mi_heap_t* heap = mi_heap_get_default();
  if (!mi_heap_is_initialized(heap)) return heap;
  _mi_assert(heap->tld->heap_backing != NULL && mi_heap_is_backing(heap->tld->heap_backing));
  return heap->tld->heap_backing;
}

void _mi_heap_set_default_direct(mi_heap_t* heap) {
  _mi_assert(heap != NULL && (!mi_heap_is_initialized(heap) || heap->thread_id == _mi_thread_id()));
  mi_prim_set_default_heap(heap);
}

mi_heap_t* mi_heap_set_default(mi_heap_t* heap) {
  mi_heap_t* old = mi_heap_get_default();
  if (heap == NULL || !mi_heap_is_initialized(heap) || heap->thread_id != _mi_thread_id()) return old;
  _mi_heap_set_default_direct(heap);
  return old;
}

mi_heap_t* mi_heap_new(void) {
  mi_heap_t* bheap = mi_heap_get_backing();
  if (!mi_heap_is_initialized(bheap)) return NULL;
  mi_heap_t* heap = (mi_heap_t*)mi_heap_malloc(bheap, sizeof(mi_heap_t));
  if (heap == NULL) return NULL;
  /* a first-class heap never adopts abandoned segments: destroying it must not free blocks
   * that other code still holds */
  _mi_heap_init(heap, bheap->tld, true);
  _mi_assert(heap->no_reclaim && !mi_heap_is_backing(heap) && heap->tld->heaps == heap);
  return heap;
}

mi_heap_t* mi_heap_new_ex(int heap_tag, bool allow_destroy, mi_arena_id_t arena_id) {
  (void)heap_tag;
  if (arena_id != 0 && mi_arena_area(arena_id, NULL) == NULL) return NULL; /* no such arena */
  mi_heap_t* bheap = mi_heap_get_backing();
  if (!mi_heap_is_initialized(bheap)) return NULL;
  mi_heap_t* heap = (mi_heap_t*)mi_heap_malloc(bheap, sizeof(mi_heap_t));
  if (heap == NULL) return NULL;
  _mi_heap_init(heap, bheap->tld, allow_destroy);
  heap->arena_id = arena_id;
  _mi_assert(!mi_heap_is_backing(heap) && heap->tld->heaps == heap);
  return heap;
}

mi_heap_t* mi_heap_new_in_arena(mi_arena_id_t arena_id) { return mi_heap_new_ex(0, true, arena_id); }

/* Release the heap structure itself (not its pages). */
static void mi_heap_free(mi_heap_t* heap) {
  if (mi_heap_is_backing(heap)) return;
  /* its pages went to the backing heap or were destroyed */
  _mi_assert(heap->thread_id == _mi_thread_id() && heap->page_count == 0 && heap->mem_used == 0);
  mi_tld_t* tld = heap->tld;
  if (mi_prim_get_default_heap() == heap) _mi_heap_set_default_direct(tld->heap_backing);
  mi_heap_t** link = &tld->heaps;
  while (*link != NULL && *link != heap) link = &(*link)->next;
  if (*link == heap) *link = heap->next;
  _mi_assert(*link != heap && mi_prim_get_default_heap() != heap); /* found and unlinked */
  mi_free(heap);
}

/* ---- Deletion -------------------------------------------------------------------------------- */

/* Move every page of `from` into `heap`, blocks and all. */
static void mi_heap_absorb(mi_heap_t* heap, mi_heap_t* from) {
  _mi_assert(heap != from && mi_heap_is_backing(heap) && heap->tld == from->tld && heap->thread_id == _mi_thread_id());
  if (from->page_count == 0) return;
  _mi_heap_delayed_free_partial(from);
  for (size_t bin = 0; bin < MI_BIN_COUNT; bin++) {
    _mi_page_queue_append(heap, &heap->pages[bin], &from->pages[bin]);
  }
  /* frees that raced with the move went to `from`'s list; its pages now belong to `heap` */
  _mi_heap_delayed_free_all(from);
  _mi_limit_heap_adopt(heap, from->mem_used);
  from->mem_used = 0;
  mi_heap_reset_pages(from);
  _mi_assert(from->page_count == 0 && mi_atomic_load_relaxed(&from->thread_delayed_free) == NULL);
}

void mi_heap_delete(mi_heap_t* heap) {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return;
  if (heap->thread_id != _mi_thread_id()) {
    _mi_error_message(EINVAL, "mi_heap_delete: heap %p belongs to another thread", (void*)heap);
    return;
  }
  if (mi_heap_is_backing(heap)) {
    mi_heap_collect_ex(heap, MI_NORMAL); /* the backing heap lives as long as its thread */
    return;
  }
  mi_heap_absorb(heap->tld->heap_backing, heap);
  mi_heap_free(heap);
}

#if MI_TRACK_VALGRIND
static bool mi_heap_track_destroyed_block(const mi_heap_t* heap, const mi_heap_area_t* area, void* block, size_t size, void* arg) {
  (void)heap; (void)area; (void)size; (void)arg;
  _mi_track_destroy_block(_mi_ptr_page(block), (const mi_block_t*)block);
  return true;
}
#endif

static bool mi_heap_page_destroy(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_t* page, void* arg) {
  (void)arg; (void)pq;
  _mi_assert(mi_page_heap(page) == heap && page->segment_in_use && heap->no_reclaim);
  _mi_page_use_delayed_free(page, MI_NEVER_DELAYED_FREE, false);
#if MI_TRACK_VALGRIND
  /* memcheck must learn that every block still live here is gone, or it reports them leaked */
  _mi_heap_area_visit_blocks(heap, NULL, page, &mi_heap_track_destroyed_block, NULL);
#endif
  mi_page_set_heap(page, NULL);
  _mi_limit_page_cleared(_mi_page_footprint(page));
  _mi_limit_heap_leave(heap, _mi_page_footprint(page));
  page->used = 0;
  page->next = page->prev = NULL;
  _mi_segment_page_free(page, false, heap->tld);
  return true;
}

void _mi_heap_destroy_pages(mi_heap_t* heap) {
  _mi_assert(heap->thread_id == _mi_thread_id());
#if MI_TRACK_VALGRIND
  /* blocks other threads freed wait on the delayed list, still counted live in their pages */
  _mi_heap_delayed_free_all(heap);
#endif
  mi_heap_visit_pages(heap, &mi_heap_page_destroy, NULL);
  mi_atomic_store_release(&heap->thread_delayed_free, NULL);
  mi_heap_reset_pages(heap);
  _mi_assert(heap->page_count == 0);
}

void mi_heap_destroy(mi_heap_t* heap) {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return;
  if (heap->thread_id != _mi_thread_id()) {
    _mi_error_message(EINVAL, "mi_heap_destroy: heap %p belongs to another thread", (void*)heap);
    return;
  }
  if (!heap->no_reclaim) {
    /* may hold adopted pages of other threads' blocks: only deleting is safe */
    mi_heap_delete(heap);
    return;
  }
  _mi_heap_destroy_pages(heap);
  mi_heap_free(heap);
}

/* ---- Ownership ------------------------------------------------------------------------------- */

/* The in-use page holding `p`, or NULL when `p` is not inside one of our pages' blocks. */
static mi_page_t* mi_page_containing(const void* p) {
  if (p == NULL || !_mi_segment_map_contains(p)) return NULL;
  mi_segment_t* segment = _mi_ptr_segment(p);
  if (segment->cookie != ((uintptr_t)segment ^ _mi_process_cookie)) return NULL;
  if ((uintptr_t)p < (uintptr_t)segment + segment->segment_info_size && segment->page_kind >= MI_PAGE_LARGE) return NULL;
  if ((uintptr_t)p - (uintptr_t)segment >= segment->segment_size) return NULL; /* an offset: no end address to wrap */
  mi_page_t* page = _mi_segment_page_of(segment, p);
  if (!page->segment_in_use || !mi_page_contains_addr(page, p)) return NULL;
  _mi_assert(page->segment_idx < segment->capacity && page->capacity <= page->reserved);
  return page;
}

bool mi_heap_contains_block(mi_heap_t* heap, const void* p) {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return false;
  mi_page_t* page = mi_page_containing(p);
  return page != NULL && mi_page_heap(page) == heap;
}

bool mi_heap_check_owned(mi_heap_t* heap, const void* p) {
  if (((uintptr_t)p & (MI_INTPTR_SIZE - 1)) != 0) return false;
  return mi_heap_contains_block(heap, p);
}

bool mi_check_owned(const void* p) {
  if (((uintptr_t)p & (MI_INTPTR_SIZE - 1)) != 0) return false;
  return mi_page_containing(p) != NULL;
}

bool mi_is_in_heap_region(const void* p) mi_attr_noexcept { return mi_page_containing(p) != NULL; }

bool mi_unsafe_heap_page_is_under_utilized(mi_heap_t* heap, void* p, size_t perc_threshold) mi_attr_noexcept {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return false;
  mi_page_t* page = mi_page_containing(p);
  if (page == NULL || mi_page_heap(page) != heap || page->reserved == 0) return false;
  /* `used` counts blocks freed by other threads but not yet collected: an over-estimate, so
   * the answer errs towards "utilized" (no lock is taken to be exact) */
  return (size_t)page->used * 100 < perc_threshold * (size_t)page->reserved;
}

/* ---- Visiting blocks -------------------------------------------------------------------------- */

#define MI_VISIT_BITS (MI_SMALL_PAGE_SIZE / MI_MIN_BLOCK_SIZE) /* most blocks a page can have */

bool _mi_heap_area_visit_blocks(const mi_heap_t* heap, const mi_heap_area_t* area, mi_page_t* page, mi_block_visit_fun* visitor, void* arg) {
  _mi_assert(visitor != NULL && page->segment_in_use && (heap == NULL || mi_page_heap(page) == heap));
  _mi_page_free_collect(page, true);
  if (page->used == 0) return true;
  _mi_assert(page->used <= page->capacity && page->local_free == NULL); /* all free blocks are on `free` now */
  size_t bsize = page->block_size;
  size_t usable = bsize - MI_PADDING_SIZE; /* what the program may use of each block */
  if (page->capacity == 1) return visitor(heap, area, page->page_start, usable, arg);
  /* mark the free blocks, then every unmarked block below capacity is live */
  uint64_t free_map[MI_VISIT_BITS / 64];
  size_t words = ((size_t)page->capacity + 63) / 64;
  if (words > MI_VISIT_BITS / 64) words = MI_VISIT_BITS / 64;
  memset(free_map, 0, words * sizeof(uint64_t));
  for (mi_block_t* b = page->free; b != NULL; b = mi_block_next(page, b)) {
    size_t idx = (size_t)((uint8_t*)b - page->page_start) / bsize;
    if (idx < words * 64) free_map[idx / 64] |= ((uint64_t)1 << (idx % 64));
  }
  size_t live = 0;
  for (size_t i = 0; i < page->capacity && live < page->used; i++) {
    if (free_map[i / 64] & ((uint64_t)1 << (i % 64))) continue;
    live++;
    if (!visitor(heap, area, page->page_start + i * bsize, usable, arg)) return false;
  }
  return true;
}

typedef struct mi_visit_blocks_args_s {
  bool visit_blocks;
  mi_block_visit_fun* visitor;
  void* arg;
} mi_visit_blocks_args_t;

/* The area a visitor is shown for `page` (of a heap, or of an abandoned segment). */
void _mi_page_area(const mi_page_t* page, mi_heap_area_t* area) {
  _mi_assert(page->segment_in_use && page->block_size > MI_PADDING_SIZE && page->capacity <= page->reserved);
  size_t bsize = page->block_size;
  area->blocks = page->page_start;
  area->reserved = (size_t)page->reserved * bsize;
  area->committed = (size_t)page->capacity * bsize;
  area->used = page->used;
  area->block_size = bsize - MI_PADDING_SIZE;
  area->full_block_size = bsize;
  area->heap_tag = 0; /* we have no heap tags */
}

static bool mi_heap_visit_areas_page(mi_heap_t* heap, mi_page_queue_t* pq, mi_page_t* page, void* vargs) {
  (void)pq;
  mi_visit_blocks_args_t* args = (mi_visit_blocks_args_t*)vargs;
  _mi_page_free_collect(page, true);
  mi_heap_area_t area;
  _mi_page_area(page, &area);
  if (!args->visitor(heap, &area, NULL, area.block_size, args->arg)) return false;
  if (args->visit_blocks) return _mi_heap_area_visit_blocks(heap, &area, page, args->visitor, args->arg);
  return true;
}

bool mi_heap_visit_blocks(const mi_heap_t* heap, bool visit_blocks, mi_block_visit_fun* visitor, void* arg) {
  if (heap == NULL || visitor == NULL || !mi_heap_is_initialized(heap)) return true;
  /* blocks other threads freed into full pages wait on the heap's delayed list: free them
   * first (only the owner may), or the walk would report them as live */
  if (heap->thread_id == _mi_thread_id()) _mi_heap_delayed_free_all((mi_heap_t*)heap);
  mi_visit_blocks_args_t args = {visit_blocks, visitor, arg};
  return mi_heap_visit_pages((mi_heap_t*)heap, &mi_heap_visit_areas_page, &args);
}
