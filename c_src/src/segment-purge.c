/* SPDX-License-Identifier: MIT
 * Purge timing: an empty page of a segment in use, and the part a huge segment's earlier block
 * wrote past its current one, go back to the OS after purge_delay (runs of adjacent due pages
 * in one call), not at once, so that memory reused soon costs no faults. A thread that takes
 * its purged pages back soon after their purge waits longer before the next ones (up to 8
 * times the delay, "The delay adapts" below). Owns the pages' purge_pending/purge_expire/
 * is_purged and the huge segments' tail_expire (an adopter of an abandoned segment, or the
 * reuser of an empty one, takes over its pages' through _mi_segment_purge_adopted); the thread's collection (segment-cache.c) and
 * abandonment run what is due. Calls only os.c and the clock. */
#include "segment-internal.h"

/* What a purged page keeps in purge_expire: the time of the purge if it was due then, else 0
 * (a forced purge, of a page that was not due or not pending): a page purged before its time
 * and taken back at once says nothing about the delay. */
static int64_t mi_segment_purge_stamp(const mi_page_t* page, int64_t now) {
  return (now != 0 && page->purge_pending && page->purge_expire <= now ? now : 0);
}

static void mi_segment_page_purge(mi_segment_t* segment, mi_page_t* page, int64_t now, mi_tld_t* tld) {
  _mi_assert(!page->segment_in_use && page == &segment->pages[page->segment_idx]);
  int64_t stamp = mi_segment_purge_stamp(page, now);
  page->purge_pending = 0;
  if (page->is_purged) return;
  _mi_segment_unadvise_huge(segment);
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, page, &area);
  page->is_zero_init = _mi_os_purge(start, area, &tld->stats);
  page->is_purged = 1;
  page->purge_expire = stamp;
}

/* ---- The delay adapts ------------------------------------------------------------------- */
/* A thread whose pages empty and fill again in a steady cycle slower than purge_delay (rptest's
 * threads: a working set that moves between size classes) would purge a page and fault it back
 * in moments later, over and over. So a page taken again within one delay of its purge doubles
 * the thread's delay, up to MI_PURGE_SHIFT_MAX doublings; each calm spell of MI_PURGE_CALM
 * delays with no such page halves it again. Only a page purged since the last doubling can
 * double it again: the pages of one purge run, taken back one after another, are one lesson.
 * A page taken back while still pending after more than half the delay (a purge at the halved
 * delay would have come too soon) counts against calm too: once the delay covers the cycle,
 * no purge happens to show that it still must.
 * Memory still goes back within 8 * purge_delay of its last use, and a thread that never
 * reuses purged pages keeps the plain delay. Every thread starts with the plain one. */
#define MI_PURGE_CALM 8

static int64_t mi_segment_page_purge_delay(const mi_tld_t* tld) {
  int64_t delay = mi_segment_purge_delay();
  return (delay <= 0 ? delay : delay << tld->segments.purge_shift);
}

/* A purged page taken again within the delay: a lesson, unless it was taught already. */
static void mi_segment_purge_regret(const mi_page_t* page, mi_tld_t* tld) {
  _mi_assert(page->is_purged);
  if (page->purge_expire == 0) return;
  int64_t delay = mi_segment_page_purge_delay(tld);
  int64_t now = _mi_clock_coarse();
  if (delay <= 0 || now - page->purge_expire >= delay) return;
  mi_segments_tld_t* st = &tld->segments;
  st->purge_regret_at = now;
  if (st->purge_shift < MI_PURGE_SHIFT_MAX && page->purge_expire > st->purge_raised_at) {
    st->purge_shift++;
    st->purge_raised_at = now;
  }
}

/* A page still waiting for its purge taken again late in its wait: no calm yet. */
static void mi_segment_purge_near_miss(const mi_page_t* page, mi_tld_t* tld) {
  _mi_assert(page->purge_pending && !page->is_purged);
  mi_segments_tld_t* st = &tld->segments;
  if (st->purge_shift == 0) return;
  int64_t delay = mi_segment_page_purge_delay(tld);
  int64_t now = _mi_clock_coarse();
  int64_t freed = page->purge_expire - delay; /* as scheduled at this shift */
  if (2 * (now - freed) > delay) st->purge_regret_at = now;
}

/* Called as a free page is taken for a new use: its pending purge is moot, and its purge, or
 * its wait for one, tells the delay something. */
mi_decl_segment void _mi_segment_purge_page_taken(mi_page_t* page, mi_tld_t* tld) {
  if (page->is_purged) {
    mi_segment_purge_regret(page, tld);
  } else if (page->purge_pending) {
    mi_segment_purge_near_miss(page, tld);
  }
  page->purge_pending = 0;
  page->is_purged = 0;
}

/* Called when the thread's due purges run, and as a page is scheduled for one. */
mi_decl_segment void _mi_segment_purge_calm(int64_t now, mi_tld_t* tld) {
  mi_segments_tld_t* st = &tld->segments;
  if (st->purge_shift == 0 || now - st->purge_regret_at < MI_PURGE_CALM * mi_segment_page_purge_delay(tld)) return;
  st->purge_shift--;
  st->purge_regret_at = now; /* the next halving after another calm spell */
}

mi_decl_segment void _mi_segment_schedule_purge(mi_segment_t* segment, mi_page_t* page, bool force, mi_tld_t* tld) {
  _mi_assert(!page->segment_in_use && segment->used > 0);
  int64_t delay = mi_segment_purge_delay();
  if (delay < 0 && !force) return;
  if (delay == 0 || force) {
    mi_segment_page_purge(segment, page, 0, tld);
    return;
  }
  int64_t now = _mi_clock_coarse();
  _mi_segment_purge_calm(now, tld); /* a thread idle since its last doubling starts lower */
  int64_t expire = now + mi_segment_page_purge_delay(tld);
  page->purge_pending = 1;
  page->purge_expire = expire;
  mi_segments_due_by(tld, expire);
}

/* Called as a thread adopts an abandoned segment, or reuses an empty one for the same kind of
 * pages (segment.c): its empty pages' purge state passes to the new owner. A page purged by
 * the earlier owner teaches the new owner's delay nothing; one still pending gets at least a
 * whole delay of the new owner's to be reused before its purge. */
mi_decl_segment void _mi_segment_purge_adopted(mi_segment_t* segment, mi_tld_t* tld) {
  int64_t reuse_by = _mi_clock_coarse() + mi_segment_purge_delay();
  for (size_t i = 0; i < segment->capacity; i++) {
    mi_page_t* page = &segment->pages[i];
    if (page->segment_in_use) continue;
    if (page->is_purged) page->purge_expire = 0;
    if (page->purge_pending) {
      if (page->purge_expire < reuse_by) page->purge_expire = reuse_by;
      mi_segments_due_by(tld, page->purge_expire);
    }
  }
}

/* Purges pages first..last (adjacent, all due) with one OS call: a thread that exits with
 * its pages empty would otherwise make one call per 64 KiB page. Guard pages sit between pages
 * in secure builds; a run spans them only where a purge leaves them no-access (Linux), not
 * where it maps the range read-write again (Windows' recommit, other Unix systems' fresh
 * mapping), and there every page goes alone. */
static void mi_segment_purge_run(mi_segment_t* segment, size_t first, size_t last, int64_t now, mi_tld_t* tld) {
  _mi_assert(first <= last && last < segment->capacity);
  _mi_segment_unadvise_huge(segment);
  size_t area;
  uint8_t* start = mi_segment_page_area(segment, &segment->pages[first], &area);
  uint8_t* end = mi_segment_page_area(segment, &segment->pages[last], &area) + area;
  bool zero = _mi_os_purge(start, (size_t)(end - start), &tld->stats);
  for (size_t i = first; i <= last; i++) {
    mi_page_t* page = &segment->pages[i];
    if (!page->purge_pending) continue; /* a free page the run spans: its state stays */
    page->purge_expire = mi_segment_purge_stamp(page, now);
    page->purge_pending = 0;
    page->is_zero_init = zero;
    page->is_purged = 1;
  }
}

/* Runs of due pages are purged together, and a run also spans free pages in between that are
 * not due (purged already, or never used): purging those again costs the OS nothing, and an
 * exited thread's segment is mostly such a mix (one call per segment instead of one per page). */
mi_decl_segment void _mi_segment_purge_pending(mi_segment_t* segment, bool force, int64_t now, int64_t* next, mi_tld_t* tld) {
  size_t first = SIZE_MAX, last = 0; /* the run of due pages being gathered */
  bool can_span = (!MI_GUARD_PAGES || _mi_os_purge_keeps_protection()) && segment->mem_is_committed;
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
      mi_segment_page_purge(segment, page, now, tld);
    } else if (first != SIZE_MAX && (page->segment_in_use || page->purge_pending)) {
      mi_segment_purge_run(segment, first, last, now, tld); /* in use, or pending and not due: the run ends */
      first = SIZE_MAX;
    }
  }
  if (first != SIZE_MAX) mi_segment_purge_run(segment, first, last, now, tld);
}

/* Gives back the pages an earlier, larger block wrote past this segment's block. */
mi_decl_segment void _mi_segment_huge_tail_purge(mi_segment_t* segment, mi_tld_t* tld) {
  _mi_assert(segment->page_kind == MI_PAGE_HUGE);
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
mi_decl_segment void _mi_segment_huge_tail_schedule(mi_segment_t* segment, mi_tld_t* tld) {
  _mi_assert(segment->page_kind == MI_PAGE_HUGE && segment->tail_expire == 0);
  if (segment->zero_from <= segment->segment_size) return;
  int64_t delay = mi_segment_purge_delay();
  if (delay < 0) return; /* never purge */
  if (delay == 0) {
    _mi_segment_huge_tail_purge(segment, tld);
    return;
  }
  segment->tail_expire = _mi_clock_coarse() + MI_SEGMENT_LINGER * delay;
  mi_segment_queue_push(&tld->segments.huge_tails, segment);
  mi_segments_due_by(tld, segment->tail_expire);
}
