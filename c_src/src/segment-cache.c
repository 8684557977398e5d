/* SPDX-License-Identifier: MIT
 * What a thread keeps of the segments it no longer uses, and when it gives them back: its cache
 * of a few empty segments (huge ones picked by what their earlier blocks wrote), the
 * process-wide slots where an exiting thread leaves its cached segments for the next thread,
 * and the thread's collection, which runs the purges that are due (segment-purge.c), unmaps
 * expired cached and shared segments and then lets the arenas purge. Calls segment.c to
 * release a segment, segment-purge.c, arena.c and os.c; takes no lock. */
#include "segment-internal.h"

#define MI_SEGMENT_CACHE_MAX 4 /* empty segments a thread keeps for reuse */
/* Secure 64-bit builds keep up to one per segment the thread owns, at most this many: a
 * secure segment that goes back to its arena has its guards lifted and the next one in its
 * slot places them again, each an mprotect that takes the address-space lock for writing. A
 * thread that adopts dozens of segments under thread churn frees many of them at once; with 4
 * kept, a secure thread-churn run made about 5,500 mprotect calls of its own, with up to 16
 * about 2,900, in 0.91-0.93x the time at 1.06x the peak RSS. A fixed 16 saved a little more but held mstress's
 * short-lived threads' empty segments resident: its peak RSS grew by a third. */
#define MI_SEGMENT_CACHE_GUARDED_MAX 16

static size_t mi_segment_cache_max(const mi_segments_tld_t* st) {
  if (!MI_GUARD_PAGES || MI_INTPTR_SIZE < 8 || st->count <= MI_SEGMENT_CACHE_MAX) return MI_SEGMENT_CACHE_MAX;
  return (st->count < MI_SEGMENT_CACHE_GUARDED_MAX ? st->count : MI_SEGMENT_CACHE_GUARDED_MAX);
}

/* ---- The thread's cache of empty segments --------------------------------------------------- */

/* Which of two cached huge segments that can hold `size` bytes to reuse: one whose written
 * bytes cover it (no page faults), the least written of those (least left to purge), else the
 * most written. */
static bool mi_segment_huge_better(const mi_segment_t* a, const mi_segment_t* b, size_t size) {
  bool a_covers = a->zero_from >= size, b_covers = b->zero_from >= size;
  if (a_covers != b_covers) return a_covers;
  return (a_covers ? a->zero_from < b->zero_from : a->zero_from > b->zero_from);
}

/* A cached segment for `kind`; a huge one must map at least `map_size` bytes. */
mi_decl_segment mi_segment_t* _mi_segment_cache_pop(mi_page_kind_t kind, size_t map_size, int req_arena_id, mi_tld_t* tld) {
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
    /* guard pages sit where this kind's pages end: only a segment of the same kind fits */
    if (MI_GUARD_PAGES && s->page_kind != kind) continue;
    segment = s;
    break;
  }
  if (segment == NULL) return NULL;
  _mi_assert(segment->used == 0 && !segment->in_free_queue && tld->segments.cache_count > 0);
  mi_segment_queue_remove(&tld->segments.cache, segment);
  tld->segments.cache_count--;
  _mi_stat_decrease(&tld->stats.segments_cache, 1);
  return segment;
}

mi_decl_segment bool _mi_segment_cache_push(mi_segment_t* segment, mi_tld_t* tld) {
  _mi_assert(_mi_segment_is_valid(segment) && segment->used == 0 && !segment->in_free_queue && segment->tail_expire == 0);
  int64_t delay = mi_segment_purge_delay();
  if (delay == 0 || tld->segments.cache_count >= mi_segment_cache_max(&tld->segments)) return false;
  if (segment->mem_base != (void*)segment) return false;
  if (segment->page_kind == MI_PAGE_HUGE) {
    /* a program that replaces huge blocks would otherwise map, fault in and unmap every one */
    if (segment->mem_size > MI_HUGE_CACHE_MAX) return false;
  } else if (segment->segment_size != MI_SEGMENT_SIZE) {
    return false;
  }
  int64_t expire = (delay < 0 ? 0 : _mi_clock_coarse() + MI_SEGMENT_LINGER * delay);
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
/* Secure builds keep more of them: a secure segment given back to its arena has its guard
 * pages lifted (an mprotect), and the next segment in its slot places them again (two or more).
 * Each such call takes the process's address-space lock for writing, which every other
 * thread's mmap, munmap and mprotect (thread stacks included) then waits for. With 16 slots a
 * secure thread-churn run made 13-16k mprotect calls, their times summed over threads 5.0 s in
 * a 2 s run; with 64, 10.4-10.6k, and 0.84-0.90x the run's time at 1.04-1.06x its peak RSS.
 * The default build gains nothing from more (no guards to place; its peak RSS grew 8 %), so
 * it keeps 16, and so do 32-bit processes, where 64 idle segments would hold 256 MiB of a
 * 3-4 GiB address space. */
#define MI_SEGMENTS_SHARED_MAX (MI_GUARD_PAGES && MI_INTPTR_SIZE == 8 ? 64 : 16)
static _Atomic(uintptr_t) mi_segments_shared[MI_SEGMENTS_SHARED_MAX];
static _Atomic(int64_t) mi_segments_shared_expire; /* earliest expiry among them (a hint), 0 if none */

static void mi_segments_shared_note_expire(int64_t expire) {
  int64_t cur = mi_atomic_load_relaxed(&mi_segments_shared_expire);
  while ((cur == 0 || expire < cur) && !mi_atomic_cas_weak_acq_rel(&mi_segments_shared_expire, &cur, expire)) {}
}

/* Once the CAS publishes the segment, another thread may pop it and clear its header at once:
 * everything needed afterwards is read before. */
static bool mi_segments_shared_push(mi_segment_t* segment) {
  _mi_assert(_mi_segment_is_valid(segment) && segment->used == 0 && segment->page_kind != MI_PAGE_HUGE);
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

mi_decl_segment mi_segment_t* _mi_segments_shared_pop(mi_page_kind_t kind, int req_arena_id) {
  /* only memory of shared arenas and the OS is left here (see mi_segments_shared_push) */
  if (req_arena_id != 0) return NULL;
  for (size_t i = 0; i < MI_SEGMENTS_SHARED_MAX; i++) {
    uintptr_t tagged = mi_atomic_load_relaxed(&mi_segments_shared[i]);
    if (tagged == 0) continue;
    if (MI_GUARD_PAGES && (mi_page_kind_t)(tagged & MI_SEGMENT_MASK) != kind) continue;
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
      _mi_segment_os_free(segment, tld);
    }
  }
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
  /* a walk of every segment: on forced collects only, unless expensive checks are on */
  if (force || MI_INVARIANTS_EXPENSIVE) _mi_segments_check(tld);
  shared = shared && (force || mi_atomic_load_relaxed(&mi_segments_shared_expire) != 0);
  if (!force && !shared && st->purge_expire == 0) return;
  int64_t now = _mi_clock_coarse();
  if (shared) mi_segments_shared_collect(force, now, tld);
  if (!force && (st->purge_expire == 0 || now < st->purge_expire)) return;
  _mi_segment_purge_calm(now, tld);
  int64_t next = 0;
  mi_segment_queue_t* queues[2] = {&st->small_free, &st->medium_free};
  for (int q = 0; q < 2; q++) {
    for (mi_segment_t* s = queues[q]->first; s != NULL; s = s->next) _mi_segment_purge_pending(s, force, now, &next, tld);
  }
  for (mi_segment_t* s = st->huge_tails.first, *snext; s != NULL; s = snext) {
    snext = s->next;
    if (force || s->tail_expire <= now) _mi_segment_huge_tail_purge(s, tld);
    else if (next == 0 || s->tail_expire < next) next = s->tail_expire;
  }
  mi_segment_t* s = st->cache.first;
  while (s != NULL) {
    mi_segment_t* snext = s->next;
    if (force || (s->cache_expire != 0 && s->cache_expire <= now)) {
      mi_segment_queue_remove(&st->cache, s);
      st->cache_count--;
      _mi_stat_decrease(&tld->stats.segments_cache, 1);
      _mi_segment_os_free(s, tld);
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
    if (!mi_segments_shared_push(s)) _mi_segment_os_free(s, tld);
  }
  mi_segments_collect(tld, true, false);
}
