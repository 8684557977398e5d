/* SPDX-License-Identifier: MIT
 * What the segment files (segment.c, segment-cache.c, segment-purge.c, segment-guard.c,
 * segment-abandon.c) share and nothing else includes: a segment's layout, its thread's segment
 * queues, and the functions one of them calls in another. Guard pages have real versions in
 * segment-guard.c and no-op inline ones here, so their call sites need no `#if`. */
#ifndef MI_SEGMENT_INTERNAL_H
#define MI_SEGMENT_INTERNAL_H
#include "mimalloc.h"
#include "mimalloc/internal.h"

/* The functions below cross between the segment files. In the unity build (static.c) they are
 * static, as they were while the files were one: the compiler may then inline a function into
 * its only caller and drop it, which it does not do for one with external linkage. Compiled
 * alone, a file gets external declarations. */
#if defined(MI_IN_STATIC_C)
#define mi_decl_segment static
#else
#define mi_decl_segment
#endif

/* A huge segment is cached only up to this mapping size; below it, fresh huge segments reserve
 * address space beyond their block (mi_segment_huge_reserve), so that a freed one can take a
 * later, larger block, and a block can grow in place. */
#define MI_HUGE_CACHE_MAX (32 * MI_MiB)
/* An empty cached segment, or the written tail of a reused huge one, lingers this many purge
 * delays: long enough to absorb churn, short enough that idle memory goes back. */
#define MI_SEGMENT_LINGER 10

/* ---- Segment queues ---------------------------------------------------------------------- */

static inline void mi_segment_queue_remove(mi_segment_queue_t* queue, mi_segment_t* segment) {
  if (segment->prev != NULL) segment->prev->next = segment->next;
  if (segment->next != NULL) segment->next->prev = segment->prev;
  if (segment == queue->first) queue->first = segment->next;
  if (segment == queue->last) queue->last = segment->prev;
  segment->next = NULL;
  segment->prev = NULL;
}

static inline void mi_segment_queue_push(mi_segment_queue_t* queue, mi_segment_t* segment) {
  segment->next = NULL;
  segment->prev = queue->last;
  if (queue->last != NULL) queue->last->next = segment;
  else queue->first = segment;
  queue->last = segment;
}

static inline mi_segment_queue_t* mi_segment_free_queue(mi_segment_t* segment, mi_tld_t* tld) {
  if (segment->page_kind == MI_PAGE_SMALL) return &tld->segments.small_free;
  if (segment->page_kind == MI_PAGE_MEDIUM) return &tld->segments.medium_free;
  return NULL;
}

static inline void mi_segment_remove_from_free_queue(mi_segment_t* segment, mi_tld_t* tld) {
  if (!segment->in_free_queue) return;
  mi_segment_queue_remove(mi_segment_free_queue(segment, tld), segment);
  segment->in_free_queue = false;
}

static inline void mi_segment_insert_in_free_queue(mi_segment_t* segment, mi_tld_t* tld) {
  mi_segment_queue_t* queue = mi_segment_free_queue(segment, tld);
  if (queue == NULL || segment->in_free_queue) return;
  mi_segment_queue_push(queue, segment);
  segment->in_free_queue = true;
}

/* ---- Layout ------------------------------------------------------------------------------- */

/* Header bytes, plus (secure) the guard page that follows the metadata. */
static inline size_t mi_segment_info_size(size_t capacity) {
  size_t isize = sizeof(mi_segment_t) + (capacity - 1) * sizeof(mi_page_t);
  return _mi_align_up(isize, _mi_os_page_size()) + (MI_GUARD_PAGES ? _mi_os_page_size() : 0);
}

/* First block byte of a page and the bytes its blocks may use. */
static inline uint8_t* mi_segment_page_area(const mi_segment_t* segment, const mi_page_t* page, size_t* area_size) {
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

/* ---- Timing ------------------------------------------------------------------------------- */

/* A delay past MI_PURGE_DELAY_MAX (35 years) is "never" in practice; the bound keeps the delay
 * scaled up (segment-purge.c) and added to a clock within 64 bits. */
#define MI_PURGE_DELAY_MAX ((int64_t)1 << 40)
static inline int64_t mi_segment_purge_delay(void) {
  int64_t delay = (int64_t)mi_option_get(mi_option_purge_delay);
  return (delay > MI_PURGE_DELAY_MAX ? MI_PURGE_DELAY_MAX : delay);
}

/* How far the delay of a thread's page purges may grow (segment-purge.c): 8 times purge_delay. */
#define MI_PURGE_SHIFT_MAX 3

/* The thread's next timed segment work is due no later than `expire`. */
static inline void mi_segments_due_by(mi_tld_t* tld, int64_t expire) {
  mi_segments_tld_t* st = &tld->segments;
  if (st->purge_expire == 0 || expire < st->purge_expire) st->purge_expire = expire;
}

/* ---- segment.c ------------------------------------------------------------------------------ */
/* A segment joins (+1) or leaves (-1) the thread's owned count. */
mi_decl_segment void _mi_segment_early_note(mi_segment_t* segment, int delta, mi_segments_tld_t* tld);

static inline void _mi_segment_count(mi_segment_t* segment, int delta, mi_segments_tld_t* tld) {
  tld->count += (size_t)(ptrdiff_t)delta;
  if (segment->page_kind != MI_PAGE_SMALL && segment->page_kind != MI_PAGE_MEDIUM) return;
  tld->dense_count += (size_t)(ptrdiff_t)delta;
  if (!MI_GUARD_PAGES && (tld->early_count > 0 || (delta > 0 && !segment->mem_thp))) _mi_segment_early_note(segment, delta, tld);
}

mi_decl_segment void _mi_segment_os_free(mi_segment_t* segment, mi_tld_t* tld);            /* unmaps, or back to its arena */
mi_decl_segment void _mi_segment_unadvise_huge(mi_segment_t* segment);                      /* withdraws its transparent huge pages */
mi_decl_segment void _mi_segment_free(mi_segment_t* segment, bool force, mi_tld_t* tld);  /* to the cache, unless forced */
mi_decl_segment void _mi_segment_page_clear(mi_segment_t* segment, mi_page_t* page, bool force, mi_tld_t* tld);

/* ---- segment-cache.c ------------------------------------------------------------------------ */
mi_decl_segment mi_segment_t* _mi_segment_cache_pop(mi_page_kind_t kind, size_t map_size, int req_arena_id, mi_tld_t* tld);
mi_decl_segment bool _mi_segment_cache_push(mi_segment_t* segment, mi_tld_t* tld);
mi_decl_segment mi_segment_t* _mi_segments_shared_pop(mi_page_kind_t kind, int req_arena_id);

/* ---- segment-purge.c ------------------------------------------------------------------------ */
mi_decl_segment void _mi_segment_schedule_purge(mi_segment_t* segment, mi_page_t* page, bool force, mi_tld_t* tld);
mi_decl_segment void _mi_segment_purge_page_taken(mi_page_t* page, mi_tld_t* tld);
mi_decl_segment void _mi_segment_purge_calm(int64_t now, mi_tld_t* tld);
mi_decl_segment void _mi_segment_purge_adopted(mi_segment_t* segment, mi_tld_t* tld);
mi_decl_segment void _mi_segment_purge_pending(mi_segment_t* segment, bool force, int64_t now, int64_t* next, mi_tld_t* tld);
mi_decl_segment void _mi_segment_huge_tail_purge(mi_segment_t* segment, mi_tld_t* tld);
mi_decl_segment void _mi_segment_huge_tail_schedule(mi_segment_t* segment, mi_tld_t* tld);

/* ---- segment-abandon.c ---------------------------------------------------------------------- */
mi_decl_segment void _mi_segment_abandon(mi_segment_t* segment, mi_tld_t* tld);
mi_decl_segment void _mi_segment_try_reclaim(mi_heap_t* heap, mi_page_kind_t kind, mi_tld_t* tld);

/* ---- segment-guard.c (MI_GUARD_PAGES) ------------------------------------------------------- */
#if MI_GUARD_PAGES
mi_decl_segment void _mi_segment_protect_guards(mi_segment_t* segment);
mi_decl_segment void _mi_segment_page_guard(mi_segment_t* segment, mi_page_t* page);
mi_decl_segment void _mi_segment_guards_release(mi_segment_t* segment);
mi_decl_segment size_t _mi_segment_huge_block_offset(size_t info_size, size_t huge_size);
mi_decl_segment bool _mi_segment_huge_unguard(mi_segment_t* segment, size_t segment_size);
mi_decl_segment void _mi_segment_huge_reguard(mi_segment_t* segment, size_t old_segment_size);
#else
/* Without guard pages a segment has none to place, count or move. */
static inline void _mi_segment_protect_guards(mi_segment_t* segment) { (void)segment; }
static inline void _mi_segment_page_guard(mi_segment_t* segment, mi_page_t* page) {
  (void)segment;
  (void)page;
}
static inline void _mi_segment_guards_release(mi_segment_t* segment) { (void)segment; }
static inline size_t _mi_segment_huge_block_offset(size_t info_size, size_t huge_size) {
  (void)huge_size;
  return info_size;
}
static inline bool _mi_segment_huge_unguard(mi_segment_t* segment, size_t segment_size) {
  (void)segment;
  (void)segment_size;
  return true;
}
static inline void _mi_segment_huge_reguard(mi_segment_t* segment, size_t old_segment_size) {
  (void)segment;
  (void)old_segment_size;
}
#endif

#endif
