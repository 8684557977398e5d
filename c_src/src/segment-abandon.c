/* SPDX-License-Identifier: MIT
 * Segments whose thread exited with live blocks in them: the sub-process's lock-free abandoned
 * stacks, one per kind of page (ABA-tagged, with a reader count that keeps a popped segment
 * mapped while a pop may still read its link), abandoning a thread's segments, and reclaiming
 * them into another thread's heap; also the sub-process API and the walk of abandoned blocks.
 * Calls segment.c (clearing and freeing pages and segments), segment-purge.c, and up a layer
 * page.c and heap.c, whose pages a reclaim hands over (c_src/README.md, "Layers"). */
#include "segment-internal.h"

/* ---- Abandoned segments ------------------------------------------------------------------ */
/* Segments are MI_SEGMENT_SIZE aligned, so the low bits of the stack top hold a tag that
 * changes on every push: a pop that raced with pop+push of the same segment fails its CAS. */

static mi_subproc_t mi_subproc_default = {{0}, {0}, true};
/* Threads that may be reading a segment's `abandoned_next` inside a pop: a segment is never
 * unmapped or given back to its arena while this is non-zero, so that read cannot fault. A pop
 * that loses its CAS may have read the link of a segment another thread popped meanwhile: the
 * link is atomic (the value read is discarded then), and a reused segment's header is cleared
 * around it (segment.c), so reuse need not wait for this count. */
static _Atomic(size_t) mi_abandoned_readers;
/* Bytes of empty pages that abandoned segments keep unpurged for their next owner. The budget
 * for them is half the memory in use (mi_memory_in_use), and at least MI_ABANDONED_UNPURGED_MIN;
 * past it, a segment's pages are purged as it is abandoned. A program whose exited threads'
 * segments are never adopted keeps at most that much; one whose threads come and go while much
 * memory is live (thread-churn) has its next threads reuse those pages resident, instead of
 * faulting them in again after a purge. */
static _Atomic(size_t) mi_abandoned_unpurged;
#define MI_ABANDONED_UNPURGED_MIN (64 * MI_MiB)

static mi_segment_t* mi_tagged_segment_ptr(uintptr_t ts) { return (mi_segment_t*)(ts & ~MI_SEGMENT_MASK); }

static uintptr_t mi_tagged_segment(mi_segment_t* segment, uintptr_t prev) {
  uintptr_t tag = ((prev & MI_SEGMENT_MASK) + 1) & MI_SEGMENT_MASK;
  return (uintptr_t)segment | tag;
}

mi_subproc_t* _mi_tld_subproc(const mi_tld_t* tld) { return (tld->subproc != NULL ? tld->subproc : &mi_subproc_default); }

/* Which stack a segment of `kind` waits on. A thread short of small pages adopts a segment of
 * small pages: one of another kind serves none of its requests, and under thread churn (each
 * thread leaving segments of every kind) adopting whatever lies on top made each thread take
 * over dozens of segments it then abandoned again at its exit, their empty pages purged on the
 * way and faulted in by the next owner. */
static size_t mi_abandoned_stack(mi_page_kind_t kind) { return (kind < MI_PAGE_LARGE ? (size_t)kind : MI_ABANDONED_STACKS - 1); }

static size_t mi_abandoned_waiting(mi_subproc_t* sp) {
  size_t n = 0;
  for (size_t k = 0; k < MI_ABANDONED_STACKS; k++) n += mi_atomic_load_acquire(&sp->abandoned_count[k]);
  return n;
}

static void mi_abandoned_push(mi_segment_t* segment) {
  _mi_assert(((uintptr_t)segment & MI_SEGMENT_MASK) == 0 && mi_atomic_load_relaxed(&segment->thread_id) == 0);
  mi_subproc_t* sp = segment->subproc;
  size_t k = mi_abandoned_stack(segment->page_kind);
  uintptr_t ts = mi_atomic_load_relaxed(&sp->abandoned[k]);
  uintptr_t next;
  do {
    mi_atomic_store_relaxed(&segment->abandoned_next, mi_tagged_segment_ptr(ts)); /* published by the CAS */
    next = mi_tagged_segment(segment, ts);
  } while (!mi_atomic_cas_weak_release(&sp->abandoned[k], &ts, next));
  mi_atomic_add_relaxed(&sp->abandoned_count[k], 1);
}

/* The reader count goes up before the top is loaded, all seq_cst (the CAS too): a thread about
 * to unmap or clear a popped segment either sees this reader counted and waits, or this reader
 * loads a top from after the pop, which no longer leads to that segment. Loaded before being
 * counted, the top could name a segment that is popped, freed and unmapped before the read of
 * its link. */
static mi_segment_t* mi_abandoned_pop(mi_subproc_t* sp, size_t k) {
  if (mi_tagged_segment_ptr(mi_atomic_load_relaxed(&sp->abandoned[k])) == NULL) return NULL; /* common case: nothing to reclaim */
  mi_atomic_add_seq_cst(&mi_abandoned_readers, 1);
  uintptr_t ts = mi_atomic_load_seq_cst(&sp->abandoned[k]);
  mi_segment_t* segment;
  uintptr_t next = 0;
  do {
    segment = mi_tagged_segment_ptr(ts);
    if (segment != NULL) next = mi_tagged_segment(mi_atomic_load_relaxed(&segment->abandoned_next), ts);
  } while (segment != NULL && !mi_atomic_cas_weak_seq_cst(&sp->abandoned[k], &ts, next));
  mi_atomic_sub_seq_cst(&mi_abandoned_readers, 1);
  if (segment != NULL) {
    mi_atomic_sub_relaxed(&sp->abandoned_count[k], 1);
    mi_atomic_store_relaxed(&segment->abandoned_next, NULL);
  }
  return segment;
}

/* In a child after fork only the forking thread exists: a reader the fork caught inside a pop
 * will never leave, and must not keep the child from ever unmapping a segment. */
void _mi_segments_fork_child(void) { mi_atomic_store_release(&mi_abandoned_readers, 0); }

/* A pop leaves within a few instructions, unless its thread was preempted halfway (mi_spin_wait). */
void _mi_abandoned_await_readers(void) {
  size_t spins = 0;
  while (mi_atomic_load_seq_cst(&mi_abandoned_readers) != 0) mi_spin_wait(&spins);
}

/* ---- Abandonment ------------------------------------------------------------------------ */

/* An abandoned segment keeps its empty pages' pending purges, within a process-wide budget
 * (and unless abandoned_page_purge is set): its next owner runs them, or reuses the pages
 * before they are due, where purging now would make it fault them in again. A huge segment's
 * written tail is purged now: no queue of this thread will reach it. */
mi_decl_segment void _mi_segment_abandon(mi_segment_t* segment, mi_tld_t* tld) {
  _mi_assert(segment->used > 0 && segment->abandoned == segment->used);
  size_t pending = 0;
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    size_t area;
    if (!page->segment_in_use && page->purge_pending) {
      (void)mi_segment_page_area(segment, page, &area);
      pending += area;
    }
  }
  size_t budget = mi_memory_in_use() / 2;
  if (budget < MI_ABANDONED_UNPURGED_MIN) budget = MI_ABANDONED_UNPURGED_MIN;
  if (pending > 0 && (mi_option_is_enabled(mi_option_abandoned_page_purge) ||
                      mi_atomic_add_relaxed(&mi_abandoned_unpurged, pending) + pending > budget)) {
    if (!mi_option_is_enabled(mi_option_abandoned_page_purge)) mi_atomic_sub_relaxed(&mi_abandoned_unpurged, pending);
    int64_t next = 0;
    _mi_segment_purge_pending(segment, true, 0, &next, tld);
    pending = 0;
  }
  segment->abandoned_unpurged = pending;
  if (segment->tail_expire != 0) _mi_segment_huge_tail_purge(segment, tld);
  mi_segment_remove_from_free_queue(segment, tld);
  _mi_segment_count(segment, -1, &tld->segments);
  _mi_stat_increase(&tld->stats.segments_abandoned, 1);
  _mi_stat_increase(&tld->stats.pages_abandoned, segment->abandoned);
  _mi_free_forget_segment(segment);
  mi_atomic_store_release(&segment->thread_id, 0);
  mi_abandoned_push(segment);
}

/* Called by page.c for each page with live blocks when its heap is abandoned: the segment goes
 * to the abandoned stack once every page in use is abandoned. */
void _mi_segment_page_abandon(mi_page_t* page, mi_tld_t* tld) {
  mi_segment_t* segment = _mi_page_segment(page);
  _mi_assert(page->segment_in_use && segment->abandoned < segment->used);
  segment->abandoned++;
  if (segment->abandoned == segment->used) _mi_segment_abandon(segment, tld);
}

/* Take over an abandoned segment: its live pages join `heap`, its empty pages are released.
 * Returns false when every page was empty and the segment was freed: into this thread's cache
 * if `cache`, else straight back to its arena (or the OS). */
static bool mi_segment_reclaim(mi_segment_t* segment, mi_heap_t* heap, bool cache, mi_tld_t* tld) {
  _mi_assert(_mi_segment_is_valid(segment) && mi_atomic_load_relaxed(&segment->thread_id) == 0);
  _mi_assert(segment->used > 0 && segment->abandoned == segment->used);
  mi_atomic_store_release(&segment->thread_id, _mi_thread_id());
  _mi_segment_count(segment, 1, &tld->segments);
  _mi_stat_decrease(&tld->stats.segments_abandoned, 1);
  _mi_stat_decrease(&tld->stats.pages_abandoned, segment->abandoned);
  _mi_stat_counter_increase(&tld->stats.reclaimed, 1);
  segment->abandoned = 0;
  mi_atomic_sub_relaxed(&mi_abandoned_unpurged, segment->abandoned_unpurged);
  segment->abandoned_unpurged = 0;
  _mi_segment_purge_adopted(segment, tld);
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    if (!page->segment_in_use) continue;
    _mi_page_free_collect(page, false);
    if (mi_page_all_free(page)) {
      _mi_limit_page_cleared(_mi_page_footprint(page)); /* its heap was left at abandonment */
      _mi_segment_page_clear(segment, page, false, tld);
    } else {
      _mi_page_reclaim(heap, page);
    }
  }
  if (segment->used == 0) {
    _mi_segment_free(segment, !cache, tld);
    return false;
  }
  if (segment->used < segment->capacity) mi_segment_insert_in_free_queue(segment, tld);
  return true;
}

/* A segment `heap` may not adopt (an exclusive arena's, or any other for a heap pinned to an
 * arena) is freed all the same by the thread that popped it once every block in it was freed:
 * left on the stack, an exclusive arena's would hold its slot, resident, until a heap pinned to
 * that arena needs a segment, which may be never. Such a one skips this thread's cache, where
 * only a pinned heap could reuse it. Popped, the segment is ours to read; with every page empty
 * none joins `heap`, which is why the reclaim may run for a heap that could not adopt it (it
 * counts as a reclaim in the statistics). */
static bool mi_segment_free_if_empty(mi_segment_t* segment, mi_heap_t* heap, mi_tld_t* tld) {
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    if (!page->segment_in_use) continue;
    _mi_page_free_collect(page, false);
    if (!mi_page_all_free(page)) return false;
  }
  bool cache = _mi_arena_memid_is_suitable(segment->mem_arena, 0);
  bool alive = mi_segment_reclaim(segment, heap, cache, tld);
  _mi_assert(!alive);
  return !alive;
}

/* May `heap` adopt `segment`? Not when the memory is an exclusive arena's the heap is not
 * pinned to: its pages would then serve allocations of heaps outside the arena. */
static bool mi_segment_reclaim_suitable(const mi_segment_t* segment, const mi_heap_t* heap) {
  return _mi_arena_memid_is_suitable(segment->mem_arena, heap->arena_id);
}

/* Puts back the segments a pass took and could not adopt (each linked through `next`). */
static void mi_abandoned_push_skipped(mi_segment_t* skipped) {
  while (skipped != NULL) {
    mi_segment_t* segment = skipped;
    skipped = segment->next;
    segment->next = NULL;
    mi_abandoned_push(segment);
  }
}

void _mi_abandoned_reclaim_all(mi_heap_t* heap, mi_tld_t* tld) {
  mi_segment_t* skipped = NULL; /* pushed back at the end, so the loop ends */
  for (size_t k = 0; k < MI_ABANDONED_STACKS; k++) {
    mi_segment_t* segment;
    while ((segment = mi_abandoned_pop(_mi_tld_subproc(tld), k)) != NULL) {
      if (mi_segment_reclaim_suitable(segment, heap)) {
        mi_segment_reclaim(segment, heap, true, tld);
      } else if (!mi_segment_free_if_empty(segment, heap, tld)) {
        segment->next = skipped;
        skipped = segment;
      }
    }
  }
  mi_abandoned_push_skipped(skipped);
}

/* Pops up to `max_tries` segments of stack k: empty ones are freed, the others adopted until
 * `kind` has a segment with a free page (small, medium) or `adopt_max` were adopted. Returns
 * whether one was adopted. */
static bool mi_segment_try_reclaim_from(mi_heap_t* heap, size_t k, mi_page_kind_t kind, long max_tries, long adopt_max, mi_tld_t* tld) {
  mi_segment_t* skipped = NULL; /* an exclusive arena's: back on the stack afterwards */
  long adopted = 0;
  for (long i = 0; i < max_tries && adopted < adopt_max; i++) {
    mi_segment_t* segment = mi_abandoned_pop(_mi_tld_subproc(tld), k);
    if (segment == NULL) break;
    if (!mi_segment_reclaim_suitable(segment, heap)) {
      if (!mi_segment_free_if_empty(segment, heap, tld)) {
        segment->next = skipped;
        skipped = segment;
      }
      continue;
    }
    /* a segment all of whose blocks were freed meanwhile went back to the cache or its arena:
     * that is cleanup, not adoption, so keep going (an exited thread's segments otherwise wait
     * deep in the stack, resident, while newer ones are adopted) */
    if (!mi_segment_reclaim(segment, heap, true, tld)) continue;
    adopted++;
    if (kind == MI_PAGE_SMALL && tld->segments.small_free.first != NULL) break;
    if (kind == MI_PAGE_MEDIUM && tld->segments.medium_free.first != NULL) break;
  }
  mi_abandoned_push_skipped(skipped);
  return adopted > 0;
}

/* Before mapping fresh memory, adopt abandoned segments of the kind needed: their free pages
 * are as good as new ones (resident, if their purge was not due yet), and their live blocks
 * get an owner that collects frees into them. A large or huge request makes a segment of its
 * own whatever it adopts (a large segment serves one size class), so it adopts all it pops:
 * each thread of a churning program leaves several behind, and they would pile up if each
 * request took one. Only when none of the kind waits does the thread adopt one of another
 * kind, so that no stack waits for a thread that may never need its kind while its segments
 * keep their memory. */
mi_decl_segment void _mi_segment_try_reclaim(mi_heap_t* heap, mi_page_kind_t kind, mi_tld_t* tld) {
  if (heap->no_reclaim) return;
  mi_subproc_t* sp = _mi_tld_subproc(tld);
  /* max_segment_reclaim tries, or a tenth of what waits if that is more: under thread churn
   * hundreds wait, and a fixed handful never reaches the old ones, freed meanwhile */
  long max_tries = mi_option_get_clamp(mi_option_max_segment_reclaim, 1, 1024);
  size_t own = mi_abandoned_stack(kind);
  size_t waiting = mi_atomic_load_relaxed(&sp->abandoned_count[own]) / 10;
  long tries = (waiting > (size_t)max_tries ? (long)(waiting > 1024 ? 1024 : waiting) : max_tries);
  if (mi_segment_try_reclaim_from(heap, own, kind, tries, tries, tld)) return;
  if (mi_atomic_load_relaxed(&sp->abandoned_count[own]) != 0) return; /* more of its kind wait, for the next request */
  for (size_t k = 0; k < MI_ABANDONED_STACKS; k++) {
    if (k != own && mi_segment_try_reclaim_from(heap, k, kind, max_tries, 1, tld)) return;
  }
}

void _mi_segment_reclaim_large(mi_heap_t* heap, mi_tld_t* tld) { _mi_segment_try_reclaim(heap, MI_PAGE_LARGE, tld); }

/* ---- Sub-processes ---------------------------------------------------------------------------- */
/* A thread joins a sub-process before it owns any segment; from then on the segments it
 * abandons go on that sub-process's stacks and it adopts only from there. Arenas and the empty
 * segment caches stay process-wide: they hold no blocks. */

mi_subproc_id_t mi_subproc_main(void) mi_attr_noexcept { return NULL; }

mi_subproc_id_t mi_subproc_new(void) mi_attr_noexcept {
  mi_subproc_t* sp = (mi_subproc_t*)_mi_os_alloc_meta(sizeof(mi_subproc_t), &_mi_stats_main);
  return sp; /* zeroed: empty stacks */
}

/* Freed only once no segment waits in it: an abandoned segment points at its sub-process. A
 * sub-process still holding some is kept (and reported with verbose). */
void mi_subproc_delete(mi_subproc_id_t subproc) mi_attr_noexcept {
  mi_subproc_t* sp = (mi_subproc_t*)subproc;
  if (sp == NULL || sp == &mi_subproc_default || sp->is_main) return;
  size_t waiting = mi_abandoned_waiting(sp);
  if (waiting != 0) {
    _mi_verbose_message("sub-process %p still has %zu abandoned segments; it is not deleted\n", subproc, waiting);
    return;
  }
  _mi_os_free_meta(sp, sizeof(mi_subproc_t), &_mi_stats_main);
}

void mi_subproc_add_current_thread(mi_subproc_id_t subproc) mi_attr_noexcept {
  mi_heap_t* heap = mi_heap_get_backing();
  if (heap == NULL || heap->tld == NULL) return;
  mi_tld_t* tld = heap->tld;
  mi_subproc_t* sp = (subproc == NULL ? NULL : (mi_subproc_t*)subproc);
  if (sp == tld->subproc) return;
  if (tld->segments.count != 0) {
    _mi_warning_message("mi_subproc_add_current_thread: the thread already owns %zu segments of another sub-process; it stays there\n",
                        tld->segments.count);
    return;
  }
  tld->subproc = sp;
}

/* The blocks in the abandoned segments of a sub-process. The segments are taken off its stack
 * for the walk, so no thread adopts one meanwhile (a thread that wants one maps or reuses
 * another), and go back after it. Blocks may be freed by other threads during the walk, as
 * with any walk of live memory; the visitor sees a NULL heap. Our heaps carry no tags: every
 * block has tag 0 (heap_tag -1 means any). */
bool mi_abandoned_visit_blocks(mi_subproc_id_t subproc_id, int heap_tag, bool visit_blocks, mi_block_visit_fun* visitor, void* arg) {
  if (visitor == NULL || heap_tag > 0) return true;
  mi_subproc_t* sp = (subproc_id == NULL ? &mi_subproc_default : (mi_subproc_t*)subproc_id);
  mi_segment_t* taken = NULL;
  mi_segment_t* segment;
  for (size_t k = 0; k < MI_ABANDONED_STACKS; k++) {
    while ((segment = mi_abandoned_pop(sp, k)) != NULL) {
      segment->next = taken;
      taken = segment;
    }
  }
  bool ok = true;
  for (segment = taken; segment != NULL && ok; segment = segment->next) {
    for (size_t i = 0; i < segment->capacity && ok; i++) {
      mi_page_t* page = &segment->pages[i];
      if (!page->segment_in_use) continue;
      _mi_page_free_collect(page, true);
      if (page->used == 0) continue;
      mi_heap_area_t area;
      _mi_page_area(page, &area);
      ok = visitor(NULL, &area, NULL, area.block_size, arg);
      if (ok && visit_blocks) ok = _mi_heap_area_visit_blocks(NULL, &area, page, visitor, arg);
    }
  }
  while (taken != NULL) { /* back in the order they were, oldest first */
    segment = taken;
    taken = segment->next;
    segment->next = NULL;
    mi_abandoned_push(segment);
  }
  return ok;
}
