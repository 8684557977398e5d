/* SPDX-License-Identifier: MIT
 * Pages and the allocation slow path: page initialisation and incremental free-list
 * extension, collection of the local and thread-free lists, moving pages to and from the full
 * queue with the delayed-free protocol, retiring empty pages, and `_mi_malloc_generic`.
 * Runs on the owning thread only; the only shared state touched is a page's `xthread_free`
 * and a heap's `thread_delayed_free`, both lock-free. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

/* ---- Assertion helpers ----------------------------------------------------------------------- */

/* A page's counters agree with each other and with its area: a block is handed out (`used`),
 * on one of the lists, or never linked (beyond `capacity`). */
static inline bool mi_page_counts_ok(const mi_page_t* page) {
  return page->segment_in_use && page->reserved > 0 && page->used <= page->capacity && page->capacity <= page->reserved &&
         page->block_area == (size_t)page->reserved * page->block_size;
}

/* `heap` is in use by the calling thread (the only one that may touch its queues). */
static inline bool mi_heap_is_owned(const mi_heap_t* heap) {
  return mi_heap_is_initialized(heap) && heap->thread_id == _mi_thread_id();
}

/* ---- Delayed-free state ---------------------------------------------------------------------- */

void _mi_page_use_delayed_free(mi_page_t* page, mi_delayed_t delay, bool override_never) {
  _mi_assert(delay != MI_DELAYED_FREEING && page->segment_in_use); /* FREEING is set by remote frees only */
  mi_thread_free_t tfree = mi_atomic_load_acquire(&page->xthread_free);
  size_t spins = 0;
  for (;;) {
    mi_delayed_t old = mi_tf_delayed(tfree);
    if (mi_unlikely(old == MI_DELAYED_FREEING)) {
      /* another thread is pushing on our heap's delayed list: it finishes in a few
       * instructions (unless preempted) and never waits for us */
      mi_spin_wait(&spins);
      tfree = mi_atomic_load_acquire(&page->xthread_free);
      continue;
    }
    if (old == delay || (old == MI_NEVER_DELAYED_FREE && !override_never)) return;
    mi_thread_free_t tfreex = mi_tf_set_delayed(tfree, delay);
    if (mi_atomic_cas_weak_acq_rel(&page->xthread_free, &tfree, tfreex)) return;
  }
}

/* ---- Collecting free lists --------------------------------------------------------------- */

/* Counts a thread_free list chain by chain (internal.h, mi_tf_chain_describe) and finds its
 * last block; a descriptor that does not describe blocks of this page gives a count above the
 * page's capacity, which the caller reports as a corrupted list. */
static uint32_t mi_page_tf_chains_count(const mi_page_t* page, mi_block_t* head, mi_block_t** tail) {
  uint32_t count = 0;
  mi_block_t* b = head;
  do {
    uintptr_t d = mi_tf_chain_descriptor(page, b);
    uint32_t n = (uint32_t)(d & 0xFF);
    size_t offset = (size_t)(d >> 8);
    if (mi_unlikely(n == 0 || n > page->capacity - count || offset >= page->block_area ||
                    (MI_ENCODE_FREELIST && offset % page->block_size != 0))) {
      return page->capacity + 1;
    }
    count += n;
#if MI_ENCODE_FREELIST
    mi_block_word1_write(b, 0); /* a function of the keys: never in a block handed out */
#endif
    *tail = (mi_block_t*)(page->page_start + offset);
    b = mi_block_next(page, *tail);
  } while (b != NULL);
  return count;
}

static void mi_page_thread_free_collect(mi_page_t* page) {
  mi_thread_free_t tfree = mi_atomic_load_relaxed(&page->xthread_free);
  mi_block_t* head;
  do {
    head = mi_tf_block(tfree);
    if (head == NULL) return;
  } while (!mi_atomic_cas_weak_acq_rel(&page->xthread_free, &tfree, mi_tf_set_block(tfree, NULL)));
  /* count and find the tail; a list longer than the page's capacity is corrupt */
  uint32_t count = 1;
  mi_block_t* tail = head;
  if (mi_page_tf_chains(page)) {
    count = mi_page_tf_chains_count(page, head, &tail);
  } else {
    mi_block_t* next;
    while ((next = mi_block_next(page, tail)) != NULL && count <= page->capacity) {
      count++;
      tail = next;
    }
  }
  if (mi_unlikely(mi_page_is_corrupt(page))) return; /* a bad link was reported and the page dropped */
  if (mi_unlikely(count > page->capacity || count > page->used)) {
    _mi_error_message(EFAULT, "corrupted thread-free list in page %p (block size %zu)", (void*)page->page_start, page->block_size);
    _mi_page_drop_lists(page); /* a handler went on: the list's blocks leak */
    return;
  }
  mi_block_set_next(page, tail, page->local_free);
  page->local_free = head;
  page->used -= count;
}

/* The page's lists agree with its counters. Not an assertion: the lists live in freed blocks,
 * which a program's use-after-free can overwrite, so a broken count is reported (EFAULT) like
 * any corrupted free list, and a handler may go on. */
#if MI_INVARIANTS
static size_t mi_page_list_count(const mi_page_t* page, const mi_block_t* b) {
  size_t n = 0;
  for (; b != NULL && n <= page->capacity; b = mi_block_next(page, b)) n++;
  return n;
}

/* used + |free| + |local_free| == capacity <= reserved: blocks are never lost or doubled. */
static void mi_page_check(const mi_page_t* page) {
  if (mi_page_is_corrupt(page)) return; /* its dropped blocks are counted as used forever */
  size_t nfree = mi_page_list_count(page, page->free);
  size_t nlocal = mi_page_list_count(page, page->local_free);
  if (page->capacity > page->reserved || page->used + nfree + nlocal != page->capacity) {
    _mi_error_message(EFAULT, "page invariant broken (block size %zu): used %u + free %zu + local %zu != capacity %u (reserved %u)",
                      page->block_size, page->used, nfree, nlocal, page->capacity, page->reserved);
  }
}
#else
static inline void mi_page_check(const mi_page_t* page) { (void)page; }
#endif

/* May run on a thread that does not own the page: mi_abandoned_visit_blocks collects the pages
 * of the abandoned segments it holds. */
void _mi_page_free_collect(mi_page_t* page, bool force) {
  _mi_assert(mi_page_counts_ok(page));
  if (force || MI_INVARIANTS_EXPENSIVE) mi_page_check(page);
  if (mi_unlikely(mi_page_is_corrupt(page))) return;
  if (force || mi_page_thread_free(page) != NULL) mi_page_thread_free_collect(page);
  if (page->local_free == NULL) return;
  if (mi_likely(page->free == NULL)) {
    page->free = page->local_free;
    page->local_free = NULL;
    page->free_is_zero = false;
  } else if (force) {
    mi_block_t* tail = page->local_free;
    mi_block_t* next;
    while ((next = mi_block_next(page, tail)) != NULL) tail = next;
    if (mi_unlikely(mi_page_is_corrupt(page))) return;
    mi_block_set_next(page, tail, page->free);
    page->free = page->local_free;
    page->local_free = NULL;
    page->free_is_zero = false;
  }
  _mi_assert(mi_page_counts_ok(page) && (!force || page->local_free == NULL));
}

/* ---- Fresh pages ------------------------------------------------------------------------------- */

/* Link the next few never-used blocks into `free`: at most MI_MAX_EXTEND_SIZE bytes worth, so a
 * fresh page costs a bounded amount of work (and touches little memory) per step. */
static void mi_page_extend_free(mi_page_t* page) {
  _mi_assert(mi_page_counts_ok(page) && !mi_page_is_corrupt(page));
  if (page->free != NULL || page->capacity >= page->reserved) return;
  size_t bsize = page->block_size;
  size_t extend = page->reserved - page->capacity;
  size_t max_extend = (bsize >= MI_MAX_EXTEND_SIZE ? MI_MIN_EXTEND : MI_MAX_EXTEND_SIZE / bsize);
  if (max_extend < MI_MIN_EXTEND) max_extend = MI_MIN_EXTEND;
  /* blocks above 16 KiB one at a time, secure builds included: each link written marks its
   * whole block as not known to be zero (below), which would cost a calloc a memset of memory
   * never touched, and makes an OS page of the block resident, so a sparse page extended 4
   * blocks at a time held up to 4 times the memory (the stress program's secure run peaked
   * 20-30 % higher). Only blocks up to MI_EXTEND_SEVERAL_MAX come in random order, the
   * smallest medium sizes included. */
  if (bsize > MI_EXTEND_SEVERAL_MAX) max_extend = 1;
  if (extend > max_extend) extend = max_extend;
  uint8_t* start = page->page_start + (size_t)page->capacity * bsize;
  _mi_assert(extend >= 1 && (size_t)page->capacity + extend <= page->reserved); /* the new blocks lie in the area */
  /* blocks above everything ever written in the segment are zero, even in a reused segment */
  mi_segment_t* segment = _mi_page_segment(page);
  size_t offset = (size_t)(start - (uint8_t*)segment);
  bool zero = page->is_zero_init || offset >= segment->zero_from;
  if (offset + extend * bsize > segment->zero_from) segment->zero_from = offset + extend * bsize;
#if MI_RANDOM_FREELIST
  if (extend > 2) {
    /* link the new blocks in a random order, so neither the first address handed out nor
     * the distance between consecutive blocks can be predicted */
    uint32_t order[MI_MAX_EXTEND_SIZE / MI_MIN_BLOCK_SIZE]; /* offsets from page_start */
    size_t n = (extend < sizeof(order) / sizeof(order[0]) ? extend : sizeof(order) / sizeof(order[0]));
    /* Fisher-Yates "inside out": one pass both fills and shuffles, writing block offsets, so
     * linking needs no multiply. Each 64-bit random number serves two steps, 32 bits each,
     * scaled to 0..i by a multiply and shift instead of a division (bias below i / 2^32,
     * i < 512): this loop runs for every fresh block of the secure build. */
    mi_heap_t* heap = mi_page_heap(page);
    uint64_t state = heap->keys[1]; /* a local: the stores to `order` leave it in a register */
    uint32_t off = (uint32_t)(start - page->page_start);
    order[0] = off;
    for (size_t i = 1; i < n; i += 2) {
      uint64_t r = _mi_random_bulk(&state);
      size_t j = (size_t)(((r & 0xFFFFFFFFu) * (uint64_t)(i + 1)) >> 32);
      off += (uint32_t)bsize;
      order[i] = order[j]; /* j == i copies the not yet written slot onto itself, then: */
      order[j] = off;
      if (i + 1 == n) break;
      j = (size_t)(((r >> 32) * (uint64_t)(i + 2)) >> 32);
      off += (uint32_t)bsize;
      order[i + 1] = order[j];
      order[j] = off;
    }
    heap->keys[1] = (uintptr_t)state; /* with 32-bit keys the low half goes on: still a secret that moves */
    uint8_t* const base = page->page_start;
    uint32_t prev = order[0];
    for (size_t i = 1; i < n; i++) {
      uint32_t cur = order[i];
      mi_block_set_next(page, (mi_block_t*)(base + prev), (mi_block_t*)(base + cur));
      prev = cur;
    }
    mi_block_set_next(page, (mi_block_t*)(base + prev), NULL);
    page->free = (mi_block_t*)(base + order[0]);
    page->free_is_zero = zero;
    page->capacity += (uint32_t)n;
    _mi_assert(mi_page_counts_ok(page) && page->free != NULL);
    return;
  }
#endif
  mi_block_t* block = (mi_block_t*)start;
  for (size_t i = 1; i < extend; i++) {
    mi_block_t* next = (mi_block_t*)((uint8_t*)block + bsize);
    mi_block_set_next(page, block, next);
    block = next;
  }
  mi_block_set_next(page, block, NULL);
  page->free = (mi_block_t*)start;
  page->free_is_zero = zero;
  page->capacity += (uint32_t)extend;
  _mi_assert(mi_page_counts_ok(page) && page->free != NULL);
}

static void mi_page_init(mi_heap_t* heap, mi_page_t* page) {
  _mi_assert(mi_heap_is_owned(heap) && page->segment_in_use && page->reserved > 0 && page->page_start != NULL);
  _mi_assert(page->block_size >= sizeof(mi_block_t) && page->block_area == (size_t)page->reserved * page->block_size);
  _mi_assert(page->next == NULL && page->prev == NULL && mi_page_heap(page) == NULL); /* in no queue, of no heap */
  mi_page_set_heap(page, heap);
  page->heap_may_destroy = heap->no_reclaim; /* only such heaps are destroyed (heap.c), and no page moves into one */
  page->free = NULL;
  page->local_free = NULL;
  page->used = 0;
  page->capacity = 0;
  __atomic_store_n(&page->flags, 0, __ATOMIC_RELAXED);
  page->retire_expire = 0;
  /* no block is live yet: to memcheck the whole block area is off limits until handed out */
  mi_track_mem_noaccess(page->page_start, (size_t)page->reserved * page->block_size);
#if MI_CHECK_INTERIOR
  /* block_size = odd * 2^shift: Newton's iteration doubles the correct low bits of the inverse
   * of `odd` each step (odd * odd == 1 mod 8 to start with: 3 bits, then 6, 12, 24, 48) */
  size_t bsize = page->block_size;
  if (bsize <= UINT32_MAX) {
    uint32_t shift = (uint32_t)__builtin_ctzll((unsigned long long)bsize);
    uint32_t odd = (uint32_t)(bsize >> shift);
    uint32_t inv = odd;
    for (int i = 0; i < 4; i++) inv *= 2 - odd * inv;
    page->block_shift = (uint8_t)shift;
    page->block_inv = inv;
  } else {
    /* one block of 4 GiB or more: the test then only sees the offset's low 32 bits, so it
     * misses an interior pointer a multiple of 4 GiB into the block */
    page->block_shift = 0;
    page->block_inv = 1;
  }
#endif
#if MI_PAGE_KEYS
  page->keys[0] = _mi_random_next(&heap->keys[0]);
  page->keys[1] = _mi_random_next(&heap->keys[1]);
#endif
  /* A huge page has one block: its only free from another thread is best handed straight to
   * the owner (delayed list) so the memory goes back promptly. */
  bool huge = (_mi_page_segment(page)->page_kind == MI_PAGE_HUGE);
  mi_atomic_store_release(&page->xthread_free, mi_tf_make(NULL, huge ? MI_USE_DELAYED_FREE : MI_NO_DELAYED_FREE));
  mi_page_extend_free(page);
  _mi_assert(page->used == 0 && page->capacity > 0 && page->free != NULL && mi_page_counts_ok(page));
}

static mi_page_t* mi_page_fresh_alloc(mi_heap_t* heap, mi_page_queue_t* pq, size_t block_size, size_t page_alignment, bool guarded) {
  _mi_assert(mi_heap_is_owned(heap) && pq >= heap->pages && pq < &heap->pages[MI_BIN_FULL]);
  _mi_assert(pq == &heap->pages[MI_BIN_HUGE] ? page_alignment == 0 || page_alignment > MI_ALIGN_OVERALLOC_MAX
                                             : block_size == pq->block_size && page_alignment == 0 && !guarded);
  mi_page_t* page = _mi_segment_page_alloc(heap, block_size, page_alignment, guarded, heap->tld);
  if (page == NULL) return NULL;
  size_t footprint = _mi_page_footprint(page);
  if (mi_unlikely(!_mi_limit_page_take(heap, footprint))) {
    _mi_segment_page_free(page, false, heap->tld); /* never counted, so nothing to give back */
    return NULL;
  }
  mi_page_init(heap, page);
  _mi_page_queue_push(heap, pq, page);
  _mi_assert(page->block_size >= block_size && pq->first == page);
  _mi_assert(page_alignment == 0 || ((uintptr_t)page->page_start & (page_alignment - 1)) == 0);
  return page;
}

/* ---- Full pages ----------------------------------------------------------------------------- */

static void mi_page_to_full(mi_page_t* page, mi_page_queue_t* pq) {
  mi_heap_t* heap = mi_page_heap(page);
  _mi_assert(mi_heap_is_owned(heap) && pq == _mi_page_queue_of(heap, page) && !mi_page_is_in_full(page));
  _mi_assert(page->free == NULL && page->capacity == page->reserved); /* nothing left to hand out */
  /* from now on the first free by another thread tells us through the delayed list */
  _mi_page_use_delayed_free(page, MI_USE_DELAYED_FREE, false);
  if (mi_page_is_in_full(page)) return;
  _mi_page_queue_enqueue_from(heap, &heap->pages[MI_BIN_FULL], pq, page);
  _mi_page_free_collect(page, false); /* a free may have landed before the flag was set */
  _mi_assert(mi_page_is_in_full(page) && heap->pages[MI_BIN_FULL].last == page);
}

void _mi_page_unfull(mi_page_t* page) {
  if (!mi_page_is_in_full(page)) return;
  mi_heap_t* heap = mi_page_heap(page);
  _mi_assert(mi_heap_is_owned(heap) && page->segment_in_use);
  mi_page_queue_t* pqfull = &heap->pages[MI_BIN_FULL];
  mi_page_set_in_full(page, false);
  mi_page_queue_t* pq = _mi_page_queue_of(heap, page);
  mi_page_set_in_full(page, true);
  _mi_page_queue_enqueue_from(heap, pq, pqfull, page);
  _mi_page_use_delayed_free(page, MI_NO_DELAYED_FREE, false);
  _mi_assert(!mi_page_is_in_full(page) && pq->last == page && pq != pqfull);
}

/* ---- Retiring and freeing -------------------------------------------------------------------- */

void _mi_page_free(mi_page_t* page, mi_page_queue_t* pq, bool force) {
  mi_heap_t* heap = mi_page_heap(page);
  _mi_assert(mi_heap_is_owned(heap) && pq == _mi_page_queue_of(heap, page));
  _mi_assert(mi_page_all_free(page) && mi_page_counts_ok(page));
  mi_page_set_has_aligned(page, false);
  _mi_page_queue_remove(heap, pq, page);
  mi_page_set_heap(page, NULL);
  _mi_limit_page_cleared(_mi_page_footprint(page));
  _mi_limit_heap_leave(heap, _mi_page_footprint(page));
  _mi_segment_page_free(page, force, heap->tld);
}

/* A page just became empty. If it is the only page of its size class, keep it for a few
 * heartbeats: a program that frees its last object of a size and allocates another right
 * away would otherwise free and re-initialise the page every time. */
void _mi_page_retire(mi_page_t* page) {
  mi_heap_t* heap = mi_page_heap(page);
  _mi_assert(mi_heap_is_owned(heap) && mi_page_all_free(page) && !mi_page_is_in_full(page));
  mi_page_set_has_aligned(page, false);
  mi_page_queue_t* pq = _mi_page_queue_of(heap, page);
  size_t bin = (size_t)(pq - heap->pages);
  if (bin < MI_BIN_HUGE && pq->first == page && pq->last == page) {
    _mi_stat_counter_increase(&heap->tld->stats.page_no_retire, 1);
    /* as long for medium and large pages as for small ones: a large page is its segment, and
     * freeing it sooner sends segments around the cache and back to the OS, every new mapping
     * faulting in again */
    page->retire_expire = 16;
    heap->page_retired[bin / 64] |= (uint64_t)1 << (bin % 64);
    _mi_assert(mi_page_counts_ok(page));
    return;
  }
  _mi_page_free(page, pq, false);
}

_Static_assert(MI_BIN_HUGE <= 128, "retired bins fit the heap's two-word bitmap");

/* Visits only the bins whose bit is set, so the cost follows the retired pages, not the
 * distance between the smallest and largest retired class (a program that grows blocks by
 * realloc has retired pages of small and large classes at once). A bit is cleared once its
 * bin holds no retired page. */
void _mi_heap_collect_retired(mi_heap_t* heap, bool force) {
  _mi_assert(mi_heap_is_owned(heap));
  for (size_t w = 0; w < 2; w++) {
    uint64_t bits = heap->page_retired[w];
    while (bits != 0) {
      size_t bin = w * 64 + (size_t)__builtin_ctzll(bits);
      bits &= bits - 1;
      _mi_assert(bin > 0 && bin < MI_BIN_HUGE); /* _mi_page_retire sets bits of size classes only */
      mi_page_queue_t* pq = &heap->pages[bin];
      mi_page_t* page = pq->first;
      bool still_retired = false;
      if (page != NULL && page->retire_expire != 0) {
        if (!mi_page_all_free(page)) {
          page->retire_expire = 0;
        } else if (force || --page->retire_expire == 0) {
          _mi_page_free(page, pq, force);
        } else {
          still_retired = true;
        }
      }
      if (!still_retired) heap->page_retired[w] &= ~((uint64_t)1 << (bin % 64));
    }
  }
  _mi_assert(!force || (heap->page_retired[0] == 0 && heap->page_retired[1] == 0));
}

/* ---- Abandon and reclaim ------------------------------------------------------------------------ */

void _mi_page_abandon(mi_page_t* page, mi_page_queue_t* pq) {
  mi_heap_t* heap = mi_page_heap(page);
  _mi_assert(mi_heap_is_owned(heap) && pq == _mi_page_queue_of(heap, page));
  _mi_assert(!mi_page_all_free(page) && mi_page_counts_ok(page)); /* empty pages are freed, not abandoned */
  mi_tld_t* tld = heap->tld;
  _mi_page_use_delayed_free(page, MI_NEVER_DELAYED_FREE, false);
  _mi_page_queue_remove(heap, pq, page);
  mi_page_set_heap(page, NULL);
  _mi_limit_heap_leave(heap, _mi_page_footprint(page));
  _mi_segment_page_abandon(page, tld);
}

void _mi_page_reclaim(mi_heap_t* heap, mi_page_t* page) {
  _mi_assert(mi_heap_is_owned(heap) && mi_page_heap(page) == NULL && page->next == NULL && page->prev == NULL);
  _mi_assert(!mi_page_all_free(page) && mi_page_counts_ok(page)); /* the reclaimer frees empty pages itself */
  mi_page_set_heap(page, heap);
  _mi_limit_heap_adopt(heap, _mi_page_footprint(page));
  bool huge = (_mi_page_segment(page)->page_kind == MI_PAGE_HUGE);
  _mi_page_use_delayed_free(page, huge ? MI_USE_DELAYED_FREE : MI_NO_DELAYED_FREE, true);
  mi_page_set_in_full(page, false);
  _mi_page_queue_push(heap, _mi_page_queue_of(heap, page), page);
  _mi_assert(mi_page_heap(page) == heap && _mi_page_queue_of(heap, page)->first == page);
}

/* ---- Dropping a corrupted page -------------------------------------------------------------- */

/* A free list of the page failed its check and an error handler returned: the lists may lead
 * anywhere, so nothing on them is handed out again. The page keeps its blocks counted as used
 * (so it is never freed or reused while the heap lives), is never extended, and frees into it
 * are refused (_mi_free_block): its blocks leak instead of corrupting anything else. The next
 * search moves it to the full queue, from which nothing brings it back. Owner only. */
void _mi_page_drop_lists(mi_page_t* page) {
  _mi_assert(page->segment_in_use && page->capacity <= page->reserved);
  page->free = NULL;
  page->local_free = NULL;
  page->capacity = page->reserved;
  mi_page_flag_set(page, MI_PAGE_CORRUPT, true);
  _mi_assert(!MI_ENCODE_FREELIST || mi_page_is_corrupt(page));
}

/* ---- Delayed frees -------------------------------------------------------------------------- */

#if MI_ENCODE_FREELIST
/* A decoded delayed-list link must be the start of a block in an in-use page of a segment this
 * thread owns: a link rewritten without the heap's keys decodes to a random address, which fails
 * one of these with near certainty. The segment map judges the address before anything is read
 * there. Not "a page of this heap": mi_heap_absorb drains a deleted heap's list after its pages
 * moved to the backing heap. Slow path only (a remote free into a full page): the division is
 * fine. */
static bool mi_delayed_block_is_valid(const mi_heap_t* heap, const mi_block_t* block) {
  if (!_mi_segment_map_contains(block)) return false;
  const mi_segment_t* segment = _mi_ptr_segment(block);
  const mi_page_t* page = _mi_segment_page_of(segment, block);
  if (!mi_page_contains_addr(page, block) || mi_atomic_load_relaxed(&((mi_segment_t*)segment)->thread_id) != heap->thread_id) {
    return false;
  }
  return ((size_t)((const uint8_t*)block - page->page_start) % page->block_size) == 0;
}
#endif

bool _mi_heap_delayed_free_all(mi_heap_t* heap) {
  _mi_assert(mi_heap_is_owned(heap)); /* only the owner frees into its pages */
  while (mi_atomic_load_relaxed(&heap->thread_delayed_free) != NULL) _mi_heap_delayed_free_partial(heap);
  return true;
}

void _mi_heap_delayed_free_partial(mi_heap_t* heap) {
  _mi_assert(mi_heap_is_owned(heap));
  mi_block_t* block = mi_atomic_load_relaxed(&heap->thread_delayed_free);
  if (mi_likely(block == NULL)) return;
  block = mi_atomic_exchange_acq_rel(&heap->thread_delayed_free, NULL);
  while (block != NULL) {
    mi_block_t* next = mi_block_nextx(heap, block); /* before the free reuses the link word */
#if MI_ENCODE_FREELIST
    if (mi_unlikely(next != NULL && !mi_delayed_block_is_valid(heap, next))) {
      _mi_error_message(EFAULT, "corrupted free list: the heap's delayed-free list has an invalid link in block %p "
                                "(block size %zu); the block was probably written to after it was freed; the rest "
                                "of the list is dropped and its blocks leak",
                        (void*)block, _mi_ptr_page(block)->block_size);
      next = NULL; /* a handler went on */
    }
#endif
    _mi_free_delayed_block(block);
    block = next;
  }
}

/* ---- Deferred-free hook ----------------------------------------------------------------------- */

static _Atomic(mi_deferred_free_fun*) mi_deferred_free_hook;
static _Atomic(void*) mi_deferred_free_arg;

void mi_register_deferred_free(mi_deferred_free_fun* fn, void* arg) mi_attr_noexcept {
  mi_atomic_store_release(&mi_deferred_free_arg, arg);
  mi_atomic_store_release(&mi_deferred_free_hook, fn);
}

void _mi_deferred_free(mi_heap_t* heap, bool force) {
  _mi_assert(mi_heap_is_owned(heap) && heap->tld != NULL);
  mi_tld_t* tld = heap->tld;
  tld->heartbeat++;
  mi_deferred_free_fun* fn = mi_atomic_load_acquire(&mi_deferred_free_hook);
  if (fn != NULL && !tld->recurse) {
    tld->recurse = true; /* the hook may free (and allocate): never re-enter it */
    fn(force, tld->heartbeat, mi_atomic_load_acquire(&mi_deferred_free_arg));
    tld->recurse = false;
  }
}

/* ---- Finding a page --------------------------------------------------------------------------- */

/* The first page of the queue with a free block, after collecting its frees or extending its
 * free list; pages with none left move to the full queue on the way. */
static mi_page_t* mi_page_queue_scan(mi_page_queue_t* pq, size_t* searched) {
  mi_page_t* page = pq->first;
  while (page != NULL) {
    mi_page_t* next = page->next;
    (*searched)++;
    _mi_page_free_collect(page, false);
    if (mi_page_immediate_available(page)) return page;
    if (page->capacity < page->reserved) {
      mi_page_extend_free(page);
      return page;
    }
    mi_page_to_full(page, pq);
    page = next;
  }
  return NULL;
}

static mi_page_t* mi_page_queue_find_free(mi_heap_t* heap, mi_page_queue_t* pq) {
  _mi_assert(pq > heap->pages && pq < &heap->pages[MI_BIN_HUGE]); /* a size class */
  size_t searched = 0;
  mi_page_t* page = mi_page_queue_scan(pq, &searched);
  if (page == NULL && pq->block_size > MI_MEDIUM_OBJ_SIZE_MAX) {
    /* A large page is a segment for one size class: before a fresh one, adopt exited threads'
     * large segments, whose pages join this heap's queues, this one's among them if one is of
     * this class and has room (under thread churn most such requests find one). */
    _mi_segment_reclaim_large(heap, heap->tld);
    page = mi_page_queue_scan(pq, &searched);
  }
  _mi_stat_counter_increase(&heap->tld->stats.searches, searched);
  if (page == NULL) {
    _mi_heap_collect_retired(heap, false);
    page = mi_page_fresh_alloc(heap, pq, pq->block_size, 0, false);
  } else {
    page->retire_expire = 0;
  }
  _mi_assert(page == NULL || (page->free != NULL && page->block_size == pq->block_size && pq->first != NULL));
  return page;
}

static mi_page_t* mi_find_page(mi_heap_t* heap, size_t req_size, size_t huge_alignment) {
  _mi_assert(mi_heap_is_owned(heap));
  if (mi_unlikely(req_size > MI_MAX_ALLOC_SIZE)) {
    _mi_error_message(EOVERFLOW, "allocation request is too large (%zu bytes)", req_size);
    return NULL;
  }
  size_t size = req_size + MI_PADDING_SIZE; /* the block also holds the debug padding */
  if (mi_unlikely(size > MI_LARGE_OBJ_SIZE_MAX || huge_alignment > 0)) {
    if (mi_unlikely(size > MI_MAX_ALLOC_SIZE)) {
      _mi_error_message(EOVERFLOW, "allocation request is too large (%zu bytes)", size);
      return NULL;
    }
    return mi_page_fresh_alloc(heap, &heap->pages[MI_BIN_HUGE], size, huge_alignment, false);
  }
  mi_page_queue_t* pq = mi_page_queue(heap, size);
  _mi_assert(pq->block_size >= size && _mi_bin(size) < MI_BIN_HUGE);
  mi_page_t* page = pq->first;
  if (page != NULL) {
    _mi_page_free_collect(page, false);
    if (mi_page_immediate_available(page)) {
      page->retire_expire = 0;
      return page;
    }
  }
  return mi_page_queue_find_free(heap, pq);
}

/* ---- Sampled guard pages ------------------------------------------------------------------------ */
/* 1 in `rate` allocations whose size is in [min, max] gets a huge-kind segment of its own, with
 * the block right before the segment's last OS page, which is made no-access: a linear overflow
 * faults at its first byte past the block. All the work is in the slow path: while a heap
 * samples, its direct entries stay on the empty page (page-queue.c), so every small allocation
 * comes here; at rate 0 (the default) the fast path is what it was. */

static void mi_heap_guarded_direct_update(mi_heap_t* heap) {
  for (size_t i = 0; i < MI_PAGES_DIRECT; i++) heap->pages_free_direct[i] = (mi_page_t*)&_mi_page_empty;
  for (size_t bin = 0; bin < MI_BIN_HUGE; bin++) _mi_heap_queue_first_update(heap, &heap->pages[bin]);
}

/* The first sampled allocation is at a position in [1, rate] that `seed` (0: random) picks, so
 * that threads with the same program order do not all sample the same objects. */
static void mi_heap_guarded_arm(mi_heap_t* heap, size_t rate, size_t seed) {
  heap->guarded_sample_rate = rate;
  if (seed == 0) seed = (size_t)_mi_random_next(&heap->keys[1]);
  heap->guarded_sample_count = (rate == 0 ? 0 : 1 + seed % rate);
  _mi_assert(rate == 0 || (heap->guarded_sample_count >= 1 && heap->guarded_sample_count <= rate));
}

void _mi_heap_guarded_init(mi_heap_t* heap) {
  long rate = mi_option_get(mi_option_guarded_sample_rate);
  long seed = mi_option_get(mi_option_guarded_sample_seed);
  long min = mi_option_get(mi_option_guarded_min);
  long max = mi_option_get(mi_option_guarded_max);
  heap->guarded_size_min = (min < 0 ? 0 : (size_t)min);
  heap->guarded_size_max = (max <= 0 ? SIZE_MAX : (size_t)max);
  mi_heap_guarded_arm(heap, (rate < 0 ? 0 : (size_t)rate), (seed < 0 ? 0 : (size_t)seed));
}

static bool mi_heap_guarded_owned(mi_heap_t* heap, const char* fun) {
  if (heap == NULL || !mi_heap_is_initialized(heap)) return false;
  if (heap->thread_id != _mi_thread_id()) {
    _mi_error_message(EINVAL, "%s: heap %p belongs to another thread", fun, (void*)heap);
    return false;
  }
  return true;
}

void mi_heap_guarded_set_sample_rate(mi_heap_t* heap, size_t sample_rate, size_t seed) mi_attr_noexcept {
  if (!mi_heap_guarded_owned(heap, "mi_heap_guarded_set_sample_rate")) return;
  mi_heap_guarded_arm(heap, sample_rate, seed);
  mi_heap_guarded_direct_update(heap);
}

void mi_heap_guarded_set_size_bound(mi_heap_t* heap, size_t min, size_t max) mi_attr_noexcept {
  if (!mi_heap_guarded_owned(heap, "mi_heap_guarded_set_size_bound")) return;
  heap->guarded_size_min = min;
  heap->guarded_size_max = (max == 0 ? SIZE_MAX : max);
}

static bool mi_heap_guarded_sample(mi_heap_t* heap, size_t size) {
  _mi_assert(heap->guarded_sample_rate != 0 && heap->guarded_sample_count != 0);
  if (size < heap->guarded_size_min || size > heap->guarded_size_max) return false;
  if (--heap->guarded_sample_count != 0) return false;
  heap->guarded_sample_count = heap->guarded_sample_rate;
  return true;
}

/* NULL when no guarded segment could be had: the caller serves the request as usual. */
static mi_page_t* mi_heap_guarded_page_alloc(mi_heap_t* heap, size_t size) {
  if (size > MI_MAX_ALLOC_SIZE) return NULL;
  size_t bsize = size + MI_PADDING_SIZE;
  if (bsize < sizeof(mi_block_t)) bsize = sizeof(mi_block_t); /* the free list links through it */
  /* precise: the guard starts at the first byte past the block, at the cost of blocks aligned
   * only as their size is (a 13-byte block at an odd address) */
  if (!mi_option_is_enabled(mi_option_guarded_precise)) bsize = _mi_align_up(bsize, MI_MAX_ALIGN_SIZE);
  return mi_page_fresh_alloc(heap, &heap->pages[MI_BIN_HUGE], bsize, 0, true);
}

/* The page a sampling heap serves `size` from without the rest of the slow path: a guarded one
 * for a sampled allocation, else the size class's first page while it has a free block (what
 * the fast path would have taken; the direct entries stay on the empty page while a heap
 * samples, so every small allocation comes here and must stay cheap). NULL: the usual slow
 * path. */
static mi_decl_noinline mi_page_t* mi_heap_guarded_page(mi_heap_t* heap, size_t size) {
  _mi_assert(mi_heap_is_owned(heap));
  if (mi_heap_guarded_sample(heap, size)) return mi_heap_guarded_page_alloc(heap, size);
  if (size > MI_SMALL_SIZE_MAX - MI_PADDING_SIZE) return NULL;
  mi_page_t* first = mi_page_queue(heap, size + MI_PADDING_SIZE)->first;
  return (first != NULL && first->free != NULL ? first : NULL);
}

/* The allocation slow path: reached when the first page of the size class has no free block,
 * for sizes above MI_SMALL_SIZE_MAX, and on a thread's very first allocation. */
void* _mi_malloc_generic(mi_heap_t* heap, size_t size, bool zero, size_t huge_alignment) {
  _mi_assert(heap != NULL);
  _mi_assert(huge_alignment == 0 || (_mi_is_power_of_two(huge_alignment) && huge_alignment > MI_ALIGN_OVERALLOC_MAX));
  if (mi_unlikely(!mi_heap_is_initialized(heap))) {
    heap = mi_heap_get_default(); /* initialises the thread */
    if (mi_unlikely(!mi_heap_is_initialized(heap))) {
      errno = ENOMEM;
      return NULL;
    }
  }
  _mi_assert(mi_heap_is_owned(heap)); /* a heap allocates on its own thread only */
  mi_page_t* page = NULL;
  if (mi_unlikely(heap->guarded_sample_rate != 0) && huge_alignment == 0) {
    page = mi_heap_guarded_page(heap, size);
    if (page != NULL) goto found; /* one call of _mi_page_malloc here: more change its inlining elsewhere */
  }
  _mi_deferred_free(heap, false);
  _mi_remote_batch_flush(heap->tld);
  _mi_heap_delayed_free_partial(heap);
  /* Retired pages are counted down when a fresh page is wanted (mi_page_queue_find_free) and
   * here on every 16th slow call, with the segments' pending purges and cache expiries: both
   * are housekeeping by heartbeat and time, which a program that reallocates in a loop would
   * otherwise pay on each of its many slow calls. */
  if ((heap->tld->heartbeat & 15) == 0) {
    _mi_heap_collect_retired(heap, false);
    _mi_segments_collect(heap->tld, false);
  }

  page = mi_find_page(heap, size, huge_alignment);
  if (mi_unlikely(page == NULL) && size <= MI_MAX_ALLOC_SIZE) {
    /* out of memory: give back what we can and try once more */
    mi_heap_collect(heap, true);
    page = mi_find_page(heap, size, huge_alignment);
  }
  if (mi_unlikely(page == NULL)) {
    if (size <= MI_MAX_ALLOC_SIZE) _mi_error_message(ENOMEM, "unable to allocate memory (%zu bytes)", size);
    errno = ENOMEM;
    return NULL;
  }
found:
  _mi_assert(page->free != NULL && mi_page_heap(page) == heap && page->block_size >= size + MI_PADDING_SIZE);
  _mi_assert(huge_alignment == 0 || ((uintptr_t)page->free & (huge_alignment - 1)) == 0);
  return _mi_page_malloc(heap, page, size, zero);
}
