/* SPDX-License-Identifier: MIT
 * Segments: MI_SEGMENT_SIZE-aligned chunks of OS memory cut into pages of one kind, the
 * per-thread queues of segments with free pages, delayed purging of empty pages, a small
 * per-thread cache of empty segments, and abandonment/reclamation of segments whose thread
 * exited (a lock-free stack, ABA-tagged). No locks; only the owning thread touches a segment's
 * header, except `thread_id` and the abandoned-stack link. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#define MI_SEGMENT_CACHE_MAX 4 /* empty segments a thread keeps for reuse */
/* A huge segment is cached only up to this mapping size; below it, fresh huge segments reserve
 * address space up to a power of two, so that a freed one can take a later, larger block. */
#define MI_HUGE_CACHE_MAX (32 * MI_MiB)
/* An empty cached segment, or the written tail of a reused huge one, lingers this many purge
 * delays: long enough to absorb churn, short enough that idle memory goes back. */
#define MI_SEGMENT_LINGER 10

/* ---- Abandoned segments ------------------------------------------------------------------ */
/* Segments are MI_SEGMENT_SIZE aligned, so the low bits of the stack top hold a tag that
 * changes on every push: a pop that raced with pop+push of the same segment fails its CAS. */

static mi_subproc_t mi_subproc_default = {0, 0, true};
/* Threads that may be reading a segment's `abandoned_next` inside a pop: a segment is never
 * unmapped, nor its header cleared for reuse, while this is non-zero, so that read can neither
 * fault nor race with the clearing. A pop that loses its CAS may have read the link of a
 * segment another thread popped meanwhile: the link is atomic (the value read is discarded
 * then), and the count orders the read before any reuse of the memory. */
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

mi_subproc_t* _mi_subproc_main(void) { return &mi_subproc_default; }

static void mi_abandoned_push(mi_segment_t* segment) {
  mi_subproc_t* sp = segment->subproc;
  uintptr_t ts = mi_atomic_load_relaxed(&sp->abandoned);
  uintptr_t next;
  do {
    mi_atomic_store_relaxed(&segment->abandoned_next, mi_tagged_segment_ptr(ts)); /* published by the CAS */
    next = mi_tagged_segment(segment, ts);
  } while (!mi_atomic_cas_weak_release(&sp->abandoned, &ts, next));
  mi_atomic_add_relaxed(&sp->abandoned_count, 1);
}

/* The reader count goes up before the top is loaded, all seq_cst (the CAS too): a thread about
 * to unmap or clear a popped segment either sees this reader counted and waits, or this reader
 * loads a top from after the pop, which no longer leads to that segment. Loaded before being
 * counted, the top could name a segment that is popped, freed and unmapped before the read of
 * its link. */
static mi_segment_t* mi_abandoned_pop(mi_subproc_t* sp) {
  if (mi_tagged_segment_ptr(mi_atomic_load_relaxed(&sp->abandoned)) == NULL) return NULL; /* common case: nothing to reclaim */
  mi_atomic_add_seq_cst(&mi_abandoned_readers, 1);
  uintptr_t ts = mi_atomic_load_seq_cst(&sp->abandoned);
  mi_segment_t* segment;
  uintptr_t next = 0;
  do {
    segment = mi_tagged_segment_ptr(ts);
    if (segment != NULL) next = mi_tagged_segment(mi_atomic_load_relaxed(&segment->abandoned_next), ts);
  } while (segment != NULL && !mi_atomic_cas_weak_seq_cst(&sp->abandoned, &ts, next));
  mi_atomic_sub_seq_cst(&mi_abandoned_readers, 1);
  if (segment != NULL) {
    mi_atomic_sub_relaxed(&sp->abandoned_count, 1);
    mi_atomic_store_relaxed(&segment->abandoned_next, NULL);
  }
  return segment;
}

/* In a child after fork only the forking thread exists: a reader the fork caught inside a pop
 * will never leave, and must not keep the child from ever unmapping a segment. */
void _mi_segments_fork_child(void) { mi_atomic_store_release(&mi_abandoned_readers, 0); }

void _mi_abandoned_await_readers(void) {
  while (mi_atomic_load_seq_cst(&mi_abandoned_readers) != 0) mi_atomic_yield();
}

/* ---- Segment queues ---------------------------------------------------------------------- */

static void mi_segment_queue_remove(mi_segment_queue_t* queue, mi_segment_t* segment) {
  if (segment->prev != NULL) segment->prev->next = segment->next;
  if (segment->next != NULL) segment->next->prev = segment->prev;
  if (segment == queue->first) queue->first = segment->next;
  if (segment == queue->last) queue->last = segment->prev;
  segment->next = NULL;
  segment->prev = NULL;
}

static void mi_segment_queue_push(mi_segment_queue_t* queue, mi_segment_t* segment) {
  segment->next = NULL;
  segment->prev = queue->last;
  if (queue->last != NULL) queue->last->next = segment;
  else queue->first = segment;
  queue->last = segment;
}

static mi_segment_queue_t* mi_segment_free_queue(mi_segment_t* segment, mi_tld_t* tld) {
  if (segment->page_kind == MI_PAGE_SMALL) return &tld->segments.small_free;
  if (segment->page_kind == MI_PAGE_MEDIUM) return &tld->segments.medium_free;
  return NULL;
}

static void mi_segment_remove_from_free_queue(mi_segment_t* segment, mi_tld_t* tld) {
  if (!segment->in_free_queue) return;
  mi_segment_queue_remove(mi_segment_free_queue(segment, tld), segment);
  segment->in_free_queue = false;
}

static void mi_segment_insert_in_free_queue(mi_segment_t* segment, mi_tld_t* tld) {
  mi_segment_queue_t* queue = mi_segment_free_queue(segment, tld);
  if (queue == NULL || segment->in_free_queue) return;
  mi_segment_queue_push(queue, segment);
  segment->in_free_queue = true;
}

/* ---- Layout ------------------------------------------------------------------------------- */

/* Header bytes, plus (secure) the guard page that follows the metadata. */
static size_t mi_segment_info_size(size_t capacity) {
  size_t isize = sizeof(mi_segment_t) + (capacity - 1) * sizeof(mi_page_t);
  return _mi_align_up(isize, _mi_os_page_size()) + (MI_GUARD_PAGES ? _mi_os_page_size() : 0);
}

/* First block byte of a page and the bytes its blocks may use. */
static uint8_t* mi_segment_page_area(const mi_segment_t* segment, const mi_page_t* page, size_t* area_size) {
  size_t psize = (segment->page_kind >= MI_PAGE_LARGE ? segment->segment_size : ((size_t)1 << segment->page_shift));
  uint8_t* p = (uint8_t*)segment + (size_t)page->segment_idx * psize;
  if (page->segment_idx == 0) {
    p += segment->segment_info_size;
    psize -= segment->segment_info_size;
  }
  if (MI_GUARD_PAGES || segment->guarded) psize -= _mi_os_page_size(); /* the page's last OS page is its guard */
  *area_size = psize;
  return p;
}

#if MI_GUARD_PAGES
/* Guard pages between pages in place in the whole process, against _mi_os_guard_budget(). */
static _Atomic(size_t) mi_guards_interior;

/* Which boundaries between pages a new segment guards: all of them while more than half of
 * the budget is left, every 2nd while more than a quarter is, every 4th, ... */
static size_t mi_segment_guard_stride(void) {
  size_t budget = _mi_os_guard_budget();
  size_t used = mi_atomic_load_relaxed(&mi_guards_interior);
  size_t left = (used < budget ? budget - used : 0);
  size_t stride = 1;
  for (size_t bar = budget / 2; stride < MI_SMALL_PAGES_PER_SEGMENT && left <= bar; bar /= 2) stride *= 2;
  return stride;
}

/* No-access pages after the metadata and at the end of the last page, always: a linear overflow
 * out of the segment, or back into its metadata, faults instead of corrupting a neighbour.
 * Between pages, each guard splits a mapping, so those come out of a process-wide budget:
 * unbounded, a secure heap of a few GiB (130 mappings per small segment) would exhaust the
 * kernel's vm.max_map_count and make every mmap in the process fail. As the budget runs low,
 * new segments guard fewer boundaries, at an offset that differs per segment; a boundary left
 * unguarded keeps its guard page unused (and never touched), so the layout is the same.
 * Interior guards are reserved here and placed when their page is first used: a guard costs an
 * mprotect (2.4 us here), 63 of them a fresh small segment, and a short program touches only
 * some of its pages. */
static void mi_segment_protect_guards(mi_segment_t* segment) {
  size_t ps = _mi_os_page_size();
  segment->interior_guards = 0;
  segment->guards_pending = 0;
  if (!_mi_os_protect((uint8_t*)segment + mi_segment_info_size(segment->capacity) - ps, ps)) return;
  size_t last = segment->capacity - 1;
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, &segment->pages[last], &area);
  if (!_mi_os_protect(start + area, ps) || last == 0) return;
  size_t stride = mi_segment_guard_stride();
  size_t offset = (size_t)((segment->cookie >> MI_SEGMENT_SHIFT) % stride);
  size_t count = 0;
  for (size_t i = offset; i < last; i += stride) count++;
  if (count == 0) return;
  if (mi_atomic_add_relaxed(&mi_guards_interior, count) + count > _mi_os_guard_budget()) {
    mi_atomic_sub_relaxed(&mi_guards_interior, count);
    return;
  }
  for (size_t i = offset; i < last; i += stride) segment->guards_pending |= (uint64_t)1 << i;
  segment->interior_guards = count;
}

/* The guard at the end of `page`, if one was reserved and is not in place yet. */
static void mi_segment_page_guard(mi_segment_t* segment, mi_page_t* page) {
  uint64_t bit = (uint64_t)1 << page->segment_idx;
  if (mi_likely((segment->guards_pending & bit) == 0)) return;
  segment->guards_pending &= ~bit;
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, page, &area);
  if (!_mi_os_protect(start + area, _mi_os_page_size())) { /* refused (warned once): give it back */
    segment->interior_guards--;
    mi_atomic_sub_relaxed(&mi_guards_interior, 1);
  }
}
#endif

static int64_t mi_segment_purge_delay(void) { return (int64_t)mi_option_get(mi_option_purge_delay); }

/* The thread's next timed segment work is due no later than `expire`. */
static void mi_segments_due_by(mi_tld_t* tld, int64_t expire) {
  mi_segments_tld_t* st = &tld->segments;
  if (st->purge_expire == 0 || expire < st->purge_expire) st->purge_expire = expire;
}

static void mi_segment_page_purge(mi_segment_t* segment, mi_page_t* page, mi_tld_t* tld) {
  page->purge_pending = 0;
  if (page->is_purged) return;
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, page, &area);
  page->is_zero_init = _mi_os_purge(start, area, &tld->stats);
  page->is_purged = 1;
}

static void mi_segment_schedule_purge(mi_segment_t* segment, mi_page_t* page, bool force, mi_tld_t* tld) {
  int64_t delay = mi_segment_purge_delay();
  if (delay < 0 && !force) return;
  if (delay == 0 || force) {
    mi_segment_page_purge(segment, page, tld);
    return;
  }
  int64_t expire = _mi_clock_now() + delay;
  page->purge_pending = 1;
  page->purge_expire = expire;
  mi_segments_due_by(tld, expire);
}

/* Purges pages first..last (adjacent, all due) with one OS call: a thread that exits with
 * its pages empty would otherwise make one call per 64 KiB page (thread churn: 18,000 madvise
 * calls against upstream's 1,000). Guard pages sit between pages in secure builds, and a purge
 * must not cross one (Windows recommits what it purges), so there every page goes alone. */
static void mi_segment_purge_run(mi_segment_t* segment, size_t first, size_t last, mi_tld_t* tld) {
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, &segment->pages[first], &area);
  uint8_t* end = mi_segment_page_area(segment, &segment->pages[last], &area) + area;
  bool zero = _mi_os_purge(start, (size_t)(end - start), &tld->stats);
  for (size_t i = first; i <= last; i++) {
    mi_page_t* page = &segment->pages[i];
    if (!page->purge_pending) continue; /* a free page the run spans: its state stays */
    page->purge_pending = 0;
    page->is_zero_init = zero;
    page->is_purged = 1;
  }
}

/* Runs of due pages are purged together, and a run also spans free pages in between that are
 * not due (purged already, or never used): purging those again costs the OS nothing, and an
 * exited thread's segment is mostly such a mix (one call per segment instead of one per page). */
static void mi_segment_purge_pending(mi_segment_t* segment, bool force, int64_t now, int64_t* next, mi_tld_t* tld) {
  size_t first = SIZE_MAX, last = 0; /* the run of due pages being gathered */
  bool can_span = !MI_GUARD_PAGES && segment->mem_is_committed;
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    bool due = false;
    if (!page->segment_in_use && page->purge_pending) {
      if (page->is_purged) page->purge_pending = 0;
      else if (force || page->purge_expire <= now) due = true;
      else if (*next == 0 || page->purge_expire < *next) *next = page->purge_expire;
    }
    if (due && can_span) {
      if (first == SIZE_MAX) first = i;
      last = i;
    } else if (due) {
      mi_segment_page_purge(segment, page, tld);
    } else if (first != SIZE_MAX && (page->segment_in_use || page->purge_pending)) {
      mi_segment_purge_run(segment, first, last, tld); /* in use, or pending and not due: the run ends */
      first = SIZE_MAX;
    }
  }
  if (first != SIZE_MAX) mi_segment_purge_run(segment, first, last, tld);
}

/* ---- Huge segments: reserved slack and written tails --------------------------------------- */

/* Bytes to map for a fresh huge segment: the next power of two while it can be cached. Only
 * touched pages get backed, so the slack costs address space only, and it lets the segment
 * take any later block up to that size: with exact fits, a program whose huge blocks differ in
 * size would map, fault in and unmap nearly every one of them. */
static size_t mi_segment_huge_reserve(size_t segment_size) {
  if (segment_size > MI_HUGE_CACHE_MAX || mi_segment_purge_delay() == 0) return segment_size;
  size_t reserve = MI_SEGMENT_SIZE;
  while (reserve < segment_size) reserve *= 2;
  return reserve;
}

/* Gives back the pages an earlier, larger block wrote past this segment's block. */
static void mi_segment_huge_tail_purge(mi_segment_t* segment, mi_tld_t* tld) {
  if (segment->tail_expire != 0) mi_segment_queue_remove(&tld->segments.huge_tails, segment);
  segment->tail_expire = 0;
  size_t end = _mi_align_up(segment->zero_from, _mi_os_page_size()); /* the rest of that page is unwritten */
  if (end <= segment->segment_size) return;
  if (_mi_os_purge((uint8_t*)segment + segment->segment_size, end - segment->segment_size, &tld->stats)) {
    segment->zero_from = segment->segment_size;
  }
}

/* A reused huge segment keeps its written tail as long as a cached segment would linger: the
 * next block in it may need those pages, and faulting them back in is what reuse saves. */
static void mi_segment_huge_tail_schedule(mi_segment_t* segment, mi_tld_t* tld) {
  if (segment->zero_from <= segment->segment_size) return;
  int64_t delay = mi_segment_purge_delay();
  if (delay < 0) return; /* never purge */
  if (delay == 0) {
    mi_segment_huge_tail_purge(segment, tld);
    return;
  }
  segment->tail_expire = _mi_clock_now() + MI_SEGMENT_LINGER * delay;
  mi_segment_queue_push(&tld->segments.huge_tails, segment);
  mi_segments_due_by(tld, segment->tail_expire);
}

#if MI_GUARD_PAGES
/* Where a huge block starts: so that it ends on a huge OS page boundary, with padding (address
 * space only, never touched) between the metadata's guard and the block. The end guard then
 * opens a huge page the block does not use. An mprotect inside a transparent huge page splits
 * it into 4 KiB pages, and each reuse of a cached segment by a block of another size moves the
 * end guard: placed right after the block, it split one of the block's huge pages each time. */
static size_t mi_segment_huge_block_offset(size_t info_size, size_t huge_size) {
  size_t lps = _mi_os_large_page_size();
  if (lps == 0 || lps >= MI_SEGMENT_SIZE) return info_size; /* the block must start in the first MI_SEGMENT_SIZE */
  size_t block = _mi_align_up(huge_size, _mi_os_page_size());
  return _mi_align_up(info_size + block, lps) - block;
}

/* A cached huge segment has its guard after its metadata (which stays) and one at its old end.
 * Where the new block's end moves that one, the old guard page turns read-write first; false
 * when the OS refuses, and the segment is not reused. */
static bool mi_segment_huge_unguard(mi_segment_t* segment, size_t segment_size) {
  size_t ps = _mi_os_page_size();
  return segment->segment_size == segment_size || _mi_os_unprotect((uint8_t*)segment + segment->segment_size - ps, ps);
}

static void mi_segment_huge_reguard(mi_segment_t* segment, size_t old_segment_size) {
  size_t ps = _mi_os_page_size();
  if (segment->segment_size != old_segment_size) (void)_mi_os_protect((uint8_t*)segment + segment->segment_size - ps, ps);
}
#endif

/* ---- Lazy commit (eager_commit = 0, or a thread's first eager_commit_delay segments) --------- */
/* Where committing is real (Windows), a segment not committed whole commits its header when
 * made and each page when first used; elsewhere those calls cost nothing but keep the
 * committed statistic close to what is used. Before it is cached or returned to its arena it
 * is committed whole again, so a reused one never needs to know which pages were. */

static void mi_segment_commit_all(mi_segment_t* segment, mi_tld_t* tld) {
  if (segment->mem_is_committed) return;
  if (_mi_os_commit(segment->mem_base, segment->mem_size, segment->mem_size - segment->mem_committed, &tld->stats)) {
    segment->mem_is_committed = true;
    segment->commit_mask = 0;
    segment->mem_committed = 0;
  }
}

static bool mi_segment_page_commit(mi_segment_t* segment, mi_page_t* page, mi_tld_t* tld) {
  uint64_t bit = (uint64_t)1 << page->segment_idx;
  if (mi_likely(segment->mem_is_committed || (segment->commit_mask & bit) != 0)) return true;
  size_t psize = (segment->page_kind >= MI_PAGE_LARGE ? segment->segment_size : ((size_t)1 << segment->page_shift));
  size_t start = (size_t)page->segment_idx * psize;
  size_t counted = (page->segment_idx == 0 ? psize - segment->segment_info_size : psize); /* the header is committed already */
  if (!_mi_os_commit((uint8_t*)segment + start, psize, counted, &tld->stats)) return false;
  segment->commit_mask |= bit;
  segment->mem_committed += counted;
  return true;
}

/* Is a fresh segment of `kind` committed whole? Huge and secure ones always are (their block
 * or their guards span the segment). */
static bool mi_segment_eager_commit(mi_page_kind_t kind, mi_tld_t* tld) {
  if (kind == MI_PAGE_HUGE || MI_GUARD_PAGES) return true;
  if (!mi_option_is_enabled(mi_option_eager_commit)) return false;
  long delay = mi_option_get(mi_option_eager_commit_delay);
  return delay <= 0 || tld->segments.count >= (size_t)delay;
}

/* ---- Allocation and release of whole segments --------------------------------------------- */

static void mi_segment_os_free(mi_segment_t* segment, mi_tld_t* tld) {
  _mi_free_forget_segment(segment);
#if MI_GUARD_PAGES
  mi_atomic_sub_relaxed(&mi_guards_interior, segment->interior_guards);
#endif
  mi_track_meta_unhide(segment, segment->segment_info_size);
  _mi_segment_map_freed_at(segment);
  _mi_abandoned_await_readers();
  if (segment->mem_arena != 0) {
    mi_segment_commit_all(segment, tld);
    mi_arena_mem_t mem = {segment->mem_base, segment->mem_size, segment->mem_arena, false, segment->mem_is_committed, segment->mem_is_large};
#if MI_GUARD_PAGES
    /* the slots' next segment may put its pages where these guards are */
    (void)_mi_os_unprotect(mem.start, mem.size);
#else
    if (segment->guarded) (void)_mi_os_unprotect((uint8_t*)segment + segment->segment_size - _mi_os_page_size(), _mi_os_page_size());
#endif
    _mi_arena_free(&mem, &tld->stats);
    return;
  }
  _mi_os_free(segment->mem_base, segment->mem_size, &tld->stats);
}

/* Which of two cached huge segments that can hold `size` bytes to reuse: one whose written
 * bytes cover it (no page faults), the least written of those (least left to purge), else the
 * most written. */
static bool mi_segment_huge_better(const mi_segment_t* a, const mi_segment_t* b, size_t size) {
  bool a_covers = a->zero_from >= size, b_covers = b->zero_from >= size;
  if (a_covers != b_covers) return a_covers;
  return (a_covers ? a->zero_from < b->zero_from : a->zero_from > b->zero_from);
}

/* A cached segment for `kind`; a huge one must map at least `map_size` bytes. */
static mi_segment_t* mi_segment_cache_pop(mi_page_kind_t kind, size_t map_size, int req_arena_id, mi_tld_t* tld) {
  mi_segment_t* segment = NULL;
  for (mi_segment_t* s = tld->segments.cache.first; s != NULL; s = s->next) {
    if (!_mi_arena_memid_is_suitable(s->mem_arena, req_arena_id)) continue;
    if (kind == MI_PAGE_HUGE) {
      if (s->page_kind == MI_PAGE_HUGE && s->mem_size >= map_size && (segment == NULL || mi_segment_huge_better(s, segment, map_size))) {
        segment = s;
      }
      continue;
    }
    if (s->page_kind == MI_PAGE_HUGE) continue;
#if MI_GUARD_PAGES
    /* guard pages sit where this kind's pages end: only a segment of the same kind fits */
    if (s->page_kind != kind) continue;
#endif
    segment = s;
    break;
  }
  if (segment == NULL) return NULL;
  mi_segment_queue_remove(&tld->segments.cache, segment);
  tld->segments.cache_count--;
  _mi_stat_decrease(&tld->stats.segments_cache, 1);
  return segment;
}

static bool mi_segment_cache_push(mi_segment_t* segment, mi_tld_t* tld) {
  int64_t delay = mi_segment_purge_delay();
  if (delay == 0 || tld->segments.cache_count >= MI_SEGMENT_CACHE_MAX) return false;
  if (segment->mem_base != (void*)segment) return false;
  if (segment->page_kind == MI_PAGE_HUGE) {
    /* a program that replaces huge blocks would otherwise map, fault in and unmap every one */
    if (segment->mem_size > MI_HUGE_CACHE_MAX) return false;
  } else if (segment->segment_size != MI_SEGMENT_SIZE) {
    return false;
  }
  int64_t expire = (delay < 0 ? 0 : _mi_clock_now() + MI_SEGMENT_LINGER * delay);
  segment->cache_expire = expire;
  mi_segment_queue_push(&tld->segments.cache, segment);
  tld->segments.cache_count++;
  _mi_stat_increase(&tld->stats.segments_cache, 1);
  if (expire != 0) mi_segments_due_by(tld, expire);
  return true;
}

/* ---- Empty segments shared between threads -------------------------------------------------- */
/* An exiting thread leaves its cached empty segments here, and a thread that starts soon after
 * takes them instead of mapping fresh memory that faults in again: a program that keeps
 * starting short-lived threads otherwise maps, faults and unmaps a few segments per thread.
 * Slots rather than a list: whoever exchanges a segment out of a slot owns it, so no thread
 * reads a segment that another may be unmapping. The kind rides in the pointer's low bits (a
 * secure segment's guards fit only its own kind). */
#define MI_SEGMENTS_SHARED_MAX 16
static _Atomic(uintptr_t) mi_segments_shared[MI_SEGMENTS_SHARED_MAX];
static _Atomic(int64_t) mi_segments_shared_expire; /* earliest expiry among them (a hint), 0 if none */

static void mi_segments_shared_note_expire(int64_t expire) {
  int64_t cur = mi_atomic_load_relaxed(&mi_segments_shared_expire);
  while ((cur == 0 || expire < cur) && !mi_atomic_cas_weak_acq_rel(&mi_segments_shared_expire, &cur, expire)) {}
}

/* Once the CAS publishes the segment, another thread may pop it and clear its header at once:
 * everything needed afterwards is read before. */
static bool mi_segments_shared_push(mi_segment_t* segment) {
  if (!_mi_arena_memid_is_suitable(segment->mem_arena, 0)) return false; /* an exclusive arena's: back to it */
  uintptr_t tagged = (uintptr_t)segment | (uintptr_t)segment->page_kind;
  int64_t expire = segment->cache_expire;
  _mi_free_forget_segment(segment);
  mi_atomic_store_release(&segment->thread_id, 0);
  for (size_t i = 0; i < MI_SEGMENTS_SHARED_MAX; i++) {
    uintptr_t expected = 0;
    if (mi_atomic_load_relaxed(&mi_segments_shared[i]) == 0 && mi_atomic_cas_strong_acq_rel(&mi_segments_shared[i], &expected, tagged)) {
      if (expire != 0) mi_segments_shared_note_expire(expire);
      return true;
    }
  }
  return false;
}

static mi_segment_t* mi_segments_shared_pop(mi_page_kind_t kind, int req_arena_id) {
  /* only memory of shared arenas and the OS is left here (see mi_segments_shared_push) */
  if (req_arena_id != 0) return NULL;
  for (size_t i = 0; i < MI_SEGMENTS_SHARED_MAX; i++) {
    uintptr_t tagged = mi_atomic_load_relaxed(&mi_segments_shared[i]);
    if (tagged == 0) continue;
#if MI_GUARD_PAGES
    if ((mi_page_kind_t)(tagged & MI_SEGMENT_MASK) != kind) continue;
#else
    (void)kind;
#endif
    if (mi_atomic_cas_strong_acq_rel(&mi_segments_shared[i], &tagged, 0)) return (mi_segment_t*)(tagged & ~MI_SEGMENT_MASK);
  }
  return NULL;
}

/* Unmaps the shared segments whose time is up (all of them when forced). */
static void mi_segments_shared_collect(bool force, int64_t now, mi_tld_t* tld) {
  int64_t expire = mi_atomic_load_relaxed(&mi_segments_shared_expire);
  if (!force && (expire == 0 || now < expire)) return;
  mi_atomic_store_release(&mi_segments_shared_expire, 0); /* survivors note theirs again */
  for (size_t i = 0; i < MI_SEGMENTS_SHARED_MAX; i++) {
    uintptr_t tagged = mi_atomic_exchange_acq_rel(&mi_segments_shared[i], 0);
    if (tagged == 0) continue;
    mi_segment_t* segment = (mi_segment_t*)(tagged & ~MI_SEGMENT_MASK);
    if (force || (segment->cache_expire != 0 && segment->cache_expire <= now) || !mi_segments_shared_push(segment)) {
      mi_segment_os_free(segment, tld);
    }
  }
}

/* Transparent huge pages: allow_large_os_pages=1 asks for them for every segment, 2 (the
 * default on Linux, as upstream's) for huge blocks only. A block of 2 MiB or more is mostly
 * touched in whole 2 MiB runs, so one fault per run instead of 512 costs little memory, while
 * small-object segments would pin 2 MiB for every page purge the huge page prevents. */
static bool mi_segment_use_large_os_pages(mi_page_kind_t kind) {
  long mode = mi_option_get(mi_option_allow_large_os_pages);
  return mode == 1 || (mode >= 2 && kind == MI_PAGE_HUGE);
}

/* Does a mapping end at the very top of the address space? Never used: its last block would
 * end at address 0, which `p + size` bounds (ours and the program's) cannot express. Linux
 * keeps the last pages of a 32-bit process's address space to itself, so only an emulator
 * could hand such a mapping out; below that, the top segment slot is used like any other. */
static bool mi_segment_mapping_at_top(const void* base, size_t mapped) {
  return mapped > UINTPTR_MAX - (uintptr_t)base;
}

/* Does a new segment come from an arena? Every kind does, except huge segments that want
 * transparent huge pages (the madvise would stay on the arena's slots when small pages reuse
 * them, and pin 2 MiB per purge there), blocks aligned beyond a segment (their mapping is
 * offset), and runs longer than a bitmap word: those are mapped from the OS one by one. */
static bool mi_segment_from_arena(mi_page_kind_t kind, size_t page_alignment, int req_arena_id) {
  if (req_arena_id != 0) return page_alignment < MI_SEGMENT_SIZE;
  if (page_alignment >= MI_SEGMENT_SIZE) return false;
  return kind != MI_PAGE_HUGE || !mi_segment_use_large_os_pages(kind);
}

/* A new segment for pages of `kind`; `huge_size` > 0 sizes a huge segment for one block placed
 * at `page_alignment` (0 = no special alignment), or (`guarded`) so that it ends where the
 * segment's last OS page, made no-access, begins. */
static mi_segment_t* mi_segment_alloc(mi_page_kind_t kind, size_t huge_size, size_t page_alignment, bool guarded, int req_arena_id, mi_tld_t* tld) {
  size_t capacity = (kind == MI_PAGE_SMALL ? MI_SMALL_PAGES_PER_SEGMENT : kind == MI_PAGE_MEDIUM ? MI_MEDIUM_PAGES_PER_SEGMENT : 1);
  size_t meta_size = mi_segment_info_size(capacity); /* header and its guard: fixed per kind */
  size_t info_size = meta_size;                      /* where page 0's blocks start */
  size_t segment_size = MI_SEGMENT_SIZE;
  size_t align_offset = 0; /* extra leading bytes of the mapping before the segment */
  if (kind == MI_PAGE_HUGE) {
    if (page_alignment >= MI_SEGMENT_SIZE) {
      /* the block goes exactly one segment size in, where (p-1) still masks to the header */
      info_size = MI_SEGMENT_SIZE;
      align_offset = page_alignment - MI_SEGMENT_SIZE;
    } else if (page_alignment > 0) {
      info_size = _mi_align_up(info_size, page_alignment);
    }
    if (huge_size > MI_MAX_ALLOC_SIZE - info_size - page_alignment - MI_SEGMENT_SIZE) return NULL;
    if (guarded) {
      /* the block's end is the guard's start; the block is as aligned as its size (an object's
       * size is a multiple of its alignment), so 16-byte rounded sizes keep malloc's alignment */
      info_size = _mi_align_up(info_size + huge_size, _mi_os_page_size()) - huge_size;
    }
#if MI_GUARD_PAGES
    else if (page_alignment == 0) info_size = mi_segment_huge_block_offset(info_size, huge_size);
#endif
    segment_size = _mi_align_up(info_size + huge_size, _mi_os_page_size()) + (MI_GUARD_PAGES || guarded ? _mi_os_page_size() : 0);
  }

  mi_segment_t* segment = NULL;
  bool is_zero = false;
  size_t zero_from = 0;
  /* a guarded segment is always fresh and never cached: its guard is placed once, at its end */
  if (page_alignment < MI_SEGMENT_SIZE && !guarded) segment = mi_segment_cache_pop(kind, segment_size, req_arena_id, tld);
  if (segment == NULL && kind != MI_PAGE_HUGE) segment = mi_segments_shared_pop(kind, req_arena_id);
#if MI_GUARD_PAGES
  size_t old_segment_size = (segment != NULL ? segment->segment_size : 0);
  if (segment != NULL && kind == MI_PAGE_HUGE && !mi_segment_huge_unguard(segment, segment_size)) {
    mi_segment_os_free(segment, tld);
    segment = NULL;
  }
#endif
  void* base;
  size_t mapped;
  bool is_large = false;
  size_t interior_guards = 0; /* a cached segment keeps its guards, and their count */
  uint64_t guards_pending = 0;
  bool fresh = (segment == NULL);   /* from an arena or the OS: no guards in place yet */
  bool is_committed = true;
  int arena = 0;
  if (segment != NULL) {
    base = segment->mem_base;
    mapped = segment->mem_size;
    is_large = segment->mem_is_large;
    arena = segment->mem_arena; /* committed whole before it was cached */
    zero_from = segment->zero_from; /* survives the header reset below */
    interior_guards = segment->interior_guards;
    guards_pending = segment->guards_pending;
    /* a header of this kind may cover blocks of the segment's previous kind (no-access to memcheck) */
    mi_track_meta_unhide(segment, segment->segment_info_size);
    mi_track_mem_undefined(segment, meta_size - (MI_GUARD_PAGES ? _mi_os_page_size() : 0));
    _mi_abandoned_await_readers(); /* a pop that lost its race may still read the old link */
    memset(segment, 0, meta_size - (MI_GUARD_PAGES ? _mi_os_page_size() : 0)); /* not the guard */
  } else {
    size_t map_size = (page_alignment < MI_SEGMENT_SIZE && kind == MI_PAGE_HUGE && !guarded ? mi_segment_huge_reserve(segment_size) : segment_size + align_offset);
    size_t alignment = (page_alignment >= MI_SEGMENT_SIZE ? page_alignment : MI_SEGMENT_SIZE);
    void* p = NULL;
    is_zero = true;
    if (mi_segment_from_arena(kind, page_alignment, req_arena_id)) {
      mi_arena_mem_t mem;
      if (_mi_arena_alloc(map_size, mi_segment_eager_commit(kind, tld), req_arena_id, &mem, &tld->stats)) {
        p = base = mem.start;
        mapped = mem.size;
        is_large = mem.is_large;
        is_zero = mem.is_zero;
        is_committed = mem.is_committed;
        arena = mem.arena;
        if (!is_zero) zero_from = mapped; /* any byte may have been written */
      } else if (req_arena_id != 0) {
        return NULL; /* a heap pinned to an arena takes memory from nowhere else */
      }
    }
    if (p == NULL) p = _mi_os_alloc_aligned(map_size, alignment, mi_segment_use_large_os_pages(kind), &is_large, &base, &mapped, &tld->stats);
    if (p == NULL) return NULL;
    if (!is_committed && !_mi_os_commit(p, meta_size, meta_size, &tld->stats)) {
      mi_arena_mem_t mem = {p, mapped, arena, false, false, is_large};
      _mi_arena_free(&mem, &tld->stats);
      return NULL;
    }
    if (mi_unlikely(arena == 0 && mi_segment_mapping_at_top(base, mapped))) {
      _mi_os_free(base, mapped, &tld->stats);
      _mi_warning_message("the OS placed a mapping of %zu bytes at %p, ending at the top of the address space, which we never use; allocation fails\n",
                          mapped, base);
      return NULL;
    }
    segment = (mi_segment_t*)((uint8_t*)p + align_offset);
    _mi_segment_map_allocated_at(segment);
  }
  segment->mem_base = base;
  segment->mem_size = mapped;
  segment->mem_is_large = is_large;
  segment->mem_arena = arena;
  segment->mem_is_committed = is_committed;
  segment->commit_mask = 0;
  segment->mem_committed = (is_committed ? 0 : meta_size);
  segment->interior_guards = interior_guards;
  segment->guards_pending = guards_pending;
  segment->guarded = guarded;
  segment->segment_size = segment_size;
  segment->zero_from = (zero_from > info_size ? zero_from : info_size);
  segment->segment_info_size = info_size;
  mi_track_meta_hide(segment, info_size);
  segment->capacity = capacity;
  segment->page_kind = kind;
  /* one page: every offset inside a segment (< PTRDIFF_MAX) shifts to index 0 */
  segment->page_shift = (kind == MI_PAGE_SMALL ? MI_SMALL_PAGE_SHIFT : kind == MI_PAGE_MEDIUM ? MI_MEDIUM_PAGE_SHIFT : MI_INTPTR_BITS - 1);
  segment->cookie = (uintptr_t)segment ^ _mi_process_cookie;
  segment->used = 0;
  segment->abandoned = 0;
  segment->next = segment->prev = NULL;
  mi_atomic_store_relaxed(&segment->abandoned_next, NULL);
  segment->in_free_queue = false;
  for (size_t i = 0; i < capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    memset(page, 0, sizeof(*page));
    page->segment_idx = (uint8_t)i;
    page->is_zero_init = is_zero;
  }
#if !MI_GUARD_PAGES
  if (guarded && !_mi_os_protect((uint8_t*)segment + segment_size - _mi_os_page_size(), _mi_os_page_size())) {
    mi_segment_os_free(segment, tld); /* refused (warned once): the caller serves the block unguarded */
    return NULL;
  }
#else
  if (fresh) mi_segment_protect_guards(segment);
  else if (kind == MI_PAGE_HUGE) mi_segment_huge_reguard(segment, old_segment_size);
  /* other cached segments keep their guards: they are reused by their own kind only */
#endif
  if (!fresh && kind == MI_PAGE_HUGE) mi_segment_huge_tail_schedule(segment, tld);
  segment->subproc = _mi_tld_subproc(tld);
  mi_atomic_store_release(&segment->thread_id, _mi_thread_id());
  tld->segments.count++;
  _mi_stat_increase(&tld->stats.segments, 1);
  return segment;
}

static void mi_segment_free(mi_segment_t* segment, bool force, mi_tld_t* tld) {
  mi_segment_remove_from_free_queue(segment, tld);
  if (segment->tail_expire != 0) { /* the cache keeps the written tail: the next block may use it */
    mi_segment_queue_remove(&tld->segments.huge_tails, segment);
    segment->tail_expire = 0;
  }
  tld->segments.count--;
  _mi_stat_decrease(&tld->stats.segments, 1);
  mi_segment_commit_all(segment, tld);
  if (!force && !segment->guarded && mi_segment_cache_push(segment, tld)) return;
  mi_segment_os_free(segment, tld);
}

/* ---- Invariants ------------------------------------------------------------------------------ */

#if MI_INVARIANTS
static void mi_segment_broken(const mi_segment_t* segment, const char* what) {
  _mi_error_message(EFAULT, "segment invariant broken (%s): segment %p (page kind %d, %zu of %zu pages used, %zu abandoned)\n",
                    what, (void*)segment, (int)segment->page_kind, segment->used, segment->capacity, segment->abandoned);
}

/* An owned segment: its cookie is right, `used` counts its in-use pages, every descriptor knows
 * its index, and a small or medium segment sits in its thread's free queue exactly when it has
 * a free page. */
static const char* mi_segment_fault(const mi_segment_t* segment) {
  static const size_t max_capacity[] = {MI_SMALL_PAGES_PER_SEGMENT, MI_MEDIUM_PAGES_PER_SEGMENT, 1, 1};
  if (!_mi_segment_is_valid(segment)) return "cookie";
  if (segment->page_kind > MI_PAGE_HUGE || segment->capacity == 0 || segment->capacity > max_capacity[segment->page_kind]) {
    return "capacity";
  }
  if (mi_atomic_load_relaxed(&((mi_segment_t*)segment)->thread_id) != _mi_thread_id()) return "owner";
  size_t used = 0;
  for (size_t i = 0; i < segment->capacity; i++) {
    if (segment->pages[i].segment_idx != i) return "page index";
    used += segment->pages[i].segment_in_use;
  }
  if (used != segment->used) return "used count";
  if (segment->abandoned > segment->used) return "abandoned count";
  bool has_room = (segment->used < segment->capacity && segment->page_kind <= MI_PAGE_MEDIUM);
  if (segment->used > 0 && segment->in_free_queue != has_room) return "free-queue membership";
  return NULL;
}

static void mi_segment_check(const mi_segment_t* segment) {
  const char* what = mi_segment_fault(segment);
  if (what != NULL) mi_segment_broken(segment, what);
}

typedef enum mi_segment_queue_role_e { MI_QUEUE_SMALL_FREE, MI_QUEUE_MEDIUM_FREE, MI_QUEUE_CACHE, MI_QUEUE_HUGE_TAILS } mi_segment_queue_role_t;

/* A thread's segment queue: well linked, and every member is where it says it is. */
static size_t mi_segment_queue_check(const mi_segment_queue_t* queue, mi_segment_queue_role_t role) {
  size_t n = 0;
  const mi_segment_t* prev = NULL;
  for (const mi_segment_t* s = queue->first; s != NULL; prev = s, s = s->next) {
    n++;
    const char* what = NULL;
    bool free_queue = (role == MI_QUEUE_SMALL_FREE || role == MI_QUEUE_MEDIUM_FREE);
    if (s->prev != prev) what = "back link in a segment queue";
    else if (role == MI_QUEUE_CACHE && (s->used != 0 || s->in_free_queue || s->tail_expire != 0)) what = "cached segment in use";
    else if (free_queue && (!s->in_free_queue || s->page_kind != (role == MI_QUEUE_SMALL_FREE ? MI_PAGE_SMALL : MI_PAGE_MEDIUM))) {
      what = "member of the wrong free queue";
    } else if (role == MI_QUEUE_HUGE_TAILS && (s->page_kind != MI_PAGE_HUGE || s->used != 1 || s->tail_expire == 0)) {
      what = "member of the huge-tail queue without a pending tail";
    } else if (role != MI_QUEUE_CACHE) {
      what = mi_segment_fault(s);
    }
    if (what != NULL) {
      mi_segment_broken(s, what);
      return n;
    }
  }
  if (queue->last != prev) {
    _mi_error_message(EFAULT, "segment invariant broken: a segment queue's last is %p, its final member %p\n", (void*)queue->last,
                      (const void*)prev);
  }
  return n;
}

void _mi_segments_check(const mi_tld_t* tld) {
  const mi_segments_tld_t* st = &tld->segments;
  mi_segment_queue_check(&st->small_free, MI_QUEUE_SMALL_FREE);
  mi_segment_queue_check(&st->medium_free, MI_QUEUE_MEDIUM_FREE);
  mi_segment_queue_check(&st->huge_tails, MI_QUEUE_HUGE_TAILS);
  size_t cached = mi_segment_queue_check(&st->cache, MI_QUEUE_CACHE);
  if (cached != st->cache_count) {
    _mi_error_message(EFAULT, "segment invariant broken: %zu segments cached, %zu counted\n", cached, st->cache_count);
  }
}
#endif

/* ---- Pages ---------------------------------------------------------------------------------- */

static bool mi_segment_page_claim(mi_segment_t* segment, mi_page_t* page, mi_tld_t* tld) {
  if (!mi_segment_page_commit(segment, page, tld)) return false;
  page->segment_in_use = 1;
  page->purge_pending = 0;
  page->is_purged = 0;
  segment->used++;
  size_t area;
  page->page_start = mi_segment_page_area(segment, page, &area);
#if MI_GUARD_PAGES
  mi_segment_page_guard(segment, page);
#endif
  if (segment->used == segment->capacity) mi_segment_remove_from_free_queue(segment, tld);
  _mi_stat_increase(&tld->stats.pages, 1);
  return true;
}

/* Reserved blocks of a page: computed here because only the segment knows the page's area. */
static void mi_segment_page_setup(mi_segment_t* segment, mi_page_t* page, size_t block_size) {
  size_t area;
  (void)mi_segment_page_area(segment, page, &area);
  /* a huge page's single block gets the whole area: realloc can grow into it in place */
  page->block_size = (segment->page_kind == MI_PAGE_HUGE ? area : block_size);
  size_t reserved = area / page->block_size;
  page->reserved = (uint32_t)(reserved > UINT32_MAX ? UINT32_MAX : reserved);
  page->block_area = (size_t)page->reserved * page->block_size;
}

/* A free page still waiting for its purge comes first: it is resident, so taking it saves the
 * purge and the page faults of touching purged memory again. */
static mi_page_t* mi_segment_find_free_page(mi_segment_t* segment) {
  mi_page_t* first = NULL;
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    if (page->segment_in_use) continue;
    if (page->purge_pending && !page->is_purged) return page;
    if (first == NULL) first = page;
  }
  return first;
}

/* Releases a page to its segment without freeing the segment itself. */
static void mi_segment_page_clear(mi_segment_t* segment, mi_page_t* page, bool force, mi_tld_t* tld) {
  size_t bin = _mi_bin(page->block_size);
  _mi_stat_decrease(&tld->stats.pages, 1);
  _mi_stat_decrease(&tld->stats.normal_bins[bin < MI_STAT_BINS ? bin : 0], 1);
  if (segment->page_kind == MI_PAGE_HUGE) _mi_stat_decrease(&tld->stats.huge, page->block_size);
  else _mi_stat_decrease(&tld->stats.normal, (size_t)page->reserved * page->block_size);
  uint8_t idx = page->segment_idx;
  memset(page, 0, sizeof(*page)); /* the blocks' memory is dirty: is_zero_init stays 0 */
  page->segment_idx = idx;
  segment->used--;
  if (segment->used > 0) mi_segment_schedule_purge(segment, page, force, tld);
}

static void mi_segment_abandon(mi_segment_t* segment, mi_tld_t* tld);

void _mi_segment_page_free(mi_page_t* page, bool force, mi_tld_t* tld) {
  mi_segment_t* segment = _mi_page_segment(page);
  mi_segment_page_clear(segment, page, force, tld);
  if (segment->used == 0) {
    mi_segment_free(segment, force, tld);
  } else if (segment->abandoned > 0 && segment->abandoned == segment->used) {
    /* thread exit freed this page after abandoning the others: the rest is all abandoned */
    mi_segment_abandon(segment, tld);
  } else {
    if (segment->used + 1 == segment->capacity) mi_segment_insert_in_free_queue(segment, tld); /* it was full: it has room again */
#if MI_INVARIANTS
    mi_segment_check(segment);
#endif
  }
}

/* ---- Abandonment ------------------------------------------------------------------------ */

/* An abandoned segment keeps its empty pages' pending purges, within a process-wide budget
 * (and unless abandoned_page_purge is set): its next owner runs them, or reuses the pages
 * before they are due, where purging now would make it fault them in again (thread churn:
 * 28 k page faults against 16 k). A huge segment's written tail is purged now: no queue of
 * this thread will reach it. */
static void mi_segment_abandon(mi_segment_t* segment, mi_tld_t* tld) {
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
    mi_segment_purge_pending(segment, true, 0, &next, tld);
    pending = 0;
  }
  segment->abandoned_unpurged = pending;
  if (segment->tail_expire != 0) mi_segment_huge_tail_purge(segment, tld);
  mi_segment_remove_from_free_queue(segment, tld);
  tld->segments.count--;
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
  segment->abandoned++;
  if (segment->abandoned == segment->used) mi_segment_abandon(segment, tld);
}

/* Take over an abandoned segment: its live pages join `heap`, its empty pages are released. */
/* Returns false when every page was empty and the segment was freed. */
static bool mi_segment_reclaim(mi_segment_t* segment, mi_heap_t* heap, mi_tld_t* tld) {
  mi_atomic_store_release(&segment->thread_id, _mi_thread_id());
  tld->segments.count++;
  _mi_stat_decrease(&tld->stats.segments_abandoned, 1);
  _mi_stat_decrease(&tld->stats.pages_abandoned, segment->abandoned);
  _mi_stat_counter_increase(&tld->stats.reclaimed, 1);
  segment->abandoned = 0;
  mi_atomic_sub_relaxed(&mi_abandoned_unpurged, segment->abandoned_unpurged);
  segment->abandoned_unpurged = 0;
  /* the adopter gets a whole purge delay to reuse the empty pages before it purges them */
  int64_t reuse_by = _mi_clock_now() + mi_segment_purge_delay();
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    if (!page->segment_in_use) {
      if (page->purge_pending) {
        if (page->purge_expire < reuse_by) page->purge_expire = reuse_by;
        mi_segments_due_by(tld, page->purge_expire);
      }
      continue;
    }
    _mi_page_free_collect(page, false);
    if (mi_page_all_free(page)) {
      _mi_limit_page_cleared(_mi_page_footprint(page)); /* its heap was left at abandonment */
      mi_segment_page_clear(segment, page, false, tld);
    } else {
      _mi_page_reclaim(heap, page);
    }
  }
  if (segment->used == 0) {
    mi_segment_free(segment, false, tld);
    return false;
  }
  if (segment->used < segment->capacity) mi_segment_insert_in_free_queue(segment, tld);
  return true;
}

/* May `heap` adopt `segment`? Not when the memory is an exclusive arena's the heap is not
 * pinned to: its pages would then serve allocations of heaps outside the arena. */
static bool mi_segment_reclaim_suitable(const mi_segment_t* segment, const mi_heap_t* heap) {
  return _mi_arena_memid_is_suitable(segment->mem_arena, heap->arena_id);
}

void _mi_abandoned_reclaim_all(mi_heap_t* heap, mi_tld_t* tld) {
  mi_segment_t* segment;
  mi_segment_t* skipped = NULL; /* pushed back at the end, so the loop ends */
  while ((segment = mi_abandoned_pop(_mi_tld_subproc(tld))) != NULL) {
    if (mi_segment_reclaim_suitable(segment, heap)) {
      mi_segment_reclaim(segment, heap, tld);
    } else {
      segment->next = skipped;
      skipped = segment;
    }
  }
  while (skipped != NULL) {
    segment = skipped;
    skipped = segment->next;
    segment->next = NULL;
    mi_abandoned_push(segment);
  }
}

/* Before mapping fresh memory, adopt a few abandoned segments: their free pages are as good as
 * new ones, and their live blocks get an owner that collects frees into them. */
static void mi_segment_try_reclaim(mi_heap_t* heap, mi_page_kind_t kind, mi_tld_t* tld) {
  if (heap->no_reclaim) return;
  /* max_segment_reclaim tries, or a tenth of what waits if that is more: under thread churn
   * hundreds wait, and a fixed handful never reaches the old ones, freed meanwhile */
  long max_tries = mi_option_get_clamp(mi_option_max_segment_reclaim, 1, 1024);
  size_t waiting = mi_atomic_load_relaxed(&_mi_tld_subproc(tld)->abandoned_count) / 10;
  if (waiting > (size_t)max_tries) max_tries = (long)(waiting > 1024 ? 1024 : waiting);
  mi_segment_t* skipped = NULL; /* an exclusive arena's: back on the stack afterwards */
  for (long i = 0; i < max_tries; i++) {
    mi_segment_t* segment = mi_abandoned_pop(_mi_tld_subproc(tld));
    if (segment == NULL) break;
    if (!mi_segment_reclaim_suitable(segment, heap)) {
      segment->next = skipped;
      skipped = segment;
      continue;
    }
    bool alive = mi_segment_reclaim(segment, heap, tld);
    /* a segment all of whose blocks were freed meanwhile went back to the cache or its arena:
     * that is cleanup, not adoption, so keep going (an exited thread's segments otherwise wait
     * deep in the stack, resident, while newer ones are adopted: thread churn, 2.6 GiB) */
    if (!alive) continue;
    if (kind == MI_PAGE_SMALL && tld->segments.small_free.first != NULL) break;
    if (kind == MI_PAGE_MEDIUM && tld->segments.medium_free.first != NULL) break;
    if (kind >= MI_PAGE_LARGE) break;
  }
  while (skipped != NULL) {
    mi_segment_t* segment = skipped;
    skipped = segment->next;
    segment->next = NULL;
    mi_abandoned_push(segment);
  }
}

/* ---- Page allocation -------------------------------------------------------------------- */

/* The first segment of a free queue whose memory the heap may use: the thread's heaps share
 * the queues, and a heap pinned to an exclusive arena shares none of its segments. */
static mi_segment_t* mi_segment_queue_first_suitable(mi_segment_queue_t* queue, int req_arena_id) {
  mi_segment_t* s = queue->first;
  while (s != NULL && !_mi_arena_memid_is_suitable(s->mem_arena, req_arena_id)) s = s->next;
  return s;
}

static mi_page_t* mi_segment_queue_page_alloc(mi_heap_t* heap, mi_page_kind_t kind, mi_segment_queue_t* queue, mi_tld_t* tld) {
  mi_segment_t* segment = mi_segment_queue_first_suitable(queue, heap->arena_id);
  if (segment == NULL) {
    mi_segment_try_reclaim(heap, kind, tld);
    segment = mi_segment_queue_first_suitable(queue, heap->arena_id);
  }
  if (segment == NULL) {
    segment = mi_segment_alloc(kind, 0, 0, false, heap->arena_id, tld);
    if (segment == NULL) return NULL;
    mi_segment_insert_in_free_queue(segment, tld);
  }
  mi_page_t* page = mi_segment_find_free_page(segment);
  if (!mi_segment_page_claim(segment, page, tld)) return NULL;
  return page;
}

mi_page_t* _mi_segment_page_alloc(mi_heap_t* heap, size_t block_size, size_t page_alignment, bool guarded, mi_tld_t* tld) {
  mi_page_t* page;
  if (guarded || page_alignment > MI_ALIGN_OVERALLOC_MAX || block_size > MI_LARGE_OBJ_SIZE_MAX) {
    mi_segment_try_reclaim(heap, MI_PAGE_HUGE, tld);
    mi_segment_t* segment = mi_segment_alloc(MI_PAGE_HUGE, block_size, page_alignment, guarded, heap->arena_id, tld);
    if (segment == NULL) return NULL;
    page = &segment->pages[0];
    if (!mi_segment_page_claim(segment, page, tld)) {
      mi_segment_free(segment, false, tld);
      return NULL;
    }
  } else if (block_size <= MI_SMALL_OBJ_SIZE_MAX) {
    page = mi_segment_queue_page_alloc(heap, MI_PAGE_SMALL, &tld->segments.small_free, tld);
  } else if (block_size <= MI_MEDIUM_OBJ_SIZE_MAX) {
    page = mi_segment_queue_page_alloc(heap, MI_PAGE_MEDIUM, &tld->segments.medium_free, tld);
  } else {
    mi_segment_try_reclaim(heap, MI_PAGE_LARGE, tld);
    mi_segment_t* segment = mi_segment_alloc(MI_PAGE_LARGE, 0, 0, false, heap->arena_id, tld);
    if (segment == NULL) return NULL;
    page = &segment->pages[0];
    if (!mi_segment_page_claim(segment, page, tld)) {
      mi_segment_free(segment, false, tld);
      return NULL;
    }
  }
  if (page == NULL) return NULL;
  mi_segment_t* segment = _mi_page_segment(page);
  mi_segment_page_setup(segment, page, block_size);
  size_t bin = _mi_bin(block_size);
  _mi_stat_increase(&tld->stats.normal_bins[bin < MI_STAT_BINS ? bin : 0], 1);
  if (segment->page_kind == MI_PAGE_HUGE) {
    _mi_stat_increase(&tld->stats.huge, page->block_size); /* as released: the whole area */
    _mi_stat_counter_increase(&tld->stats.huge_count, 1);
  } else {
    _mi_stat_increase(&tld->stats.normal, (size_t)page->reserved * block_size);
  }
#if MI_INVARIANTS
  mi_segment_check(segment);
#endif
  return page;
}

/* ---- Collection ------------------------------------------------------------------------- */

/* `shared`: also the segments exited threads left for others (not when this thread is exiting:
 * it just left its own there). */
static void mi_segments_collect_local(mi_tld_t* tld, bool force, bool shared);

/* Arenas are purged after the thread's own segments went back to them; a thread that exits
 * (not `shared`) runs only what is due: forcing would purge every slot freed just before,
 * which the next thread would fault in again. */
static void mi_segments_collect(mi_tld_t* tld, bool force, bool shared) {
  mi_segments_collect_local(tld, force, shared);
  _mi_arenas_collect(force && shared, &tld->stats);
}

static void mi_segments_collect_local(mi_tld_t* tld, bool force, bool shared) {
  mi_segments_tld_t* st = &tld->segments;
#if MI_INVARIANTS
  /* a walk of every segment: on forced collects only, unless expensive checks are on */
  if (force || MI_INVARIANTS_EXPENSIVE) _mi_segments_check(tld);
#endif
  shared = shared && (force || mi_atomic_load_relaxed(&mi_segments_shared_expire) != 0);
  if (!force && !shared && st->purge_expire == 0) return;
  int64_t now = _mi_clock_now();
  if (shared) mi_segments_shared_collect(force, now, tld);
  if (!force && (st->purge_expire == 0 || now < st->purge_expire)) return;
  int64_t next = 0;
  mi_segment_queue_t* queues[2] = {&st->small_free, &st->medium_free};
  for (int q = 0; q < 2; q++) {
    for (mi_segment_t* s = queues[q]->first; s != NULL; s = s->next) mi_segment_purge_pending(s, force, now, &next, tld);
  }
  for (mi_segment_t* s = st->huge_tails.first, *snext; s != NULL; s = snext) {
    snext = s->next;
    if (force || s->tail_expire <= now) mi_segment_huge_tail_purge(s, tld);
    else if (next == 0 || s->tail_expire < next) next = s->tail_expire;
  }
  mi_segment_t* s = st->cache.first;
  while (s != NULL) {
    mi_segment_t* snext = s->next;
    if (force || (s->cache_expire != 0 && s->cache_expire <= now)) {
      mi_segment_queue_remove(&st->cache, s);
      st->cache_count--;
      _mi_stat_decrease(&tld->stats.segments_cache, 1);
      mi_segment_os_free(s, tld);
    } else if (s->cache_expire != 0 && (next == 0 || s->cache_expire < next)) {
      next = s->cache_expire;
    }
    s = snext;
  }
  st->purge_expire = next;
}

void _mi_segments_collect(mi_tld_t* tld, bool force) { mi_segments_collect(tld, force, true); }

void _mi_segments_thread_done(mi_tld_t* tld) {
  mi_segments_tld_t* st = &tld->segments;
  for (mi_segment_t* s = st->cache.first, *snext; s != NULL; s = snext) {
    snext = s->next;
    if (s->page_kind == MI_PAGE_HUGE) continue; /* a huge one is unmapped: too big to share */
    mi_segment_queue_remove(&st->cache, s);
    st->cache_count--;
    _mi_stat_decrease(&tld->stats.segments_cache, 1);
    if (!mi_segments_shared_push(s)) mi_segment_os_free(s, tld);
  }
  mi_segments_collect(tld, true, false);
}

/* ---- Ownership queries ---------------------------------------------------------------------- */

/* Is `p` inside a live segment of ours? Checks the cookie, so a foreign pointer is answered
 * without faulting only when its masked address is mapped; callers use it for blocks that are
 * at least plausibly ours. */
bool _mi_segment_is_valid(const mi_segment_t* segment) {
  return segment != NULL && (segment->cookie == ((uintptr_t)segment ^ _mi_process_cookie));
}

/* ---- Sub-processes ---------------------------------------------------------------------------- */
/* A thread joins a sub-process before it owns any segment; from then on the segments it
 * abandons go on that sub-process's stack and it adopts only from there. Arenas and the empty
 * segment caches stay process-wide: they hold no blocks. */

mi_subproc_id_t mi_subproc_main(void) mi_attr_noexcept { return NULL; }

mi_subproc_id_t mi_subproc_new(void) mi_attr_noexcept {
  mi_subproc_t* sp = (mi_subproc_t*)_mi_os_alloc_meta(sizeof(mi_subproc_t), &_mi_stats_main);
  return sp; /* zeroed: an empty stack */
}

/* Freed only once no segment waits in it: an abandoned segment points at its sub-process. A
 * sub-process still holding some is kept (and reported with verbose). */
void mi_subproc_delete(mi_subproc_id_t subproc) mi_attr_noexcept {
  mi_subproc_t* sp = (mi_subproc_t*)subproc;
  if (sp == NULL || sp == &mi_subproc_default || sp->is_main) return;
  if (mi_atomic_load_acquire(&sp->abandoned_count) != 0) {
    _mi_verbose_message("sub-process %p still has %zu abandoned segments; it is not deleted\n", subproc,
                        mi_atomic_load_relaxed(&sp->abandoned_count));
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
  while ((segment = mi_abandoned_pop(sp)) != NULL) {
    segment->next = taken;
    taken = segment;
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
