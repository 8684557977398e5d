/* SPDX-License-Identifier: MIT
 * Arenas: large OS reservations that segments are carved from, a MI_SEGMENT_SIZE slot at a
 * time, so that a thread that starts, allocates and exits costs bitmap updates, not mmap and
 * munmap calls. Each arena tracks its slots in four bitmaps (in use, committed, dirty = may
 * hold non-zero bytes, purge = free and not purged since: given back after the delay, or never
 * with purging off) updated with CAS on whole words; only adding an arena takes a lock. A freed
 * run of slots is purged after purge_delay * arena_purge_mult, never unmapped; an arena the
 * allocator reserved itself goes back to the OS only when every slot is free and purged. This
 * file never allocates through the allocator: its metadata comes from the OS. */
#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "mimalloc/prim.h"

#include <string.h>

#define MI_ARENA_MAX 64                  /* arenas a process can have at once */
#define MI_ARENA_RUN_MAX MI_INTPTR_BITS  /* slots of one claim: runs never cross a bitmap word */
#define MI_ARENA_GROWTH_MAX 3            /* reserve * 2^3: the largest arena the allocator adds itself */
#define MI_ARENA_MIN_SLOTS 1

typedef _Atomic(uintptr_t) mi_bitmap_field_t;

/* An arena. The bitmaps have `fields` words each, one bit per slot; bits past `slots` in the
 * last word are set in `inuse` forever, so no claim reaches them.
 * Invariants: purge ⊆ ¬inuse (outside a purge in progress, which holds the slots in `inuse`);
 * committed and dirty bits of a slot change only while someone holds it in `inuse`. */
typedef struct mi_arena_s {
  uint8_t* start;             /* first slot, MI_SEGMENT_SIZE aligned */
  size_t slots;               /* usable slots */
  size_t fields;              /* bitmap words */
  void* mem_base;             /* the OS reservation to release (NULL: the caller's memory, or never released) */
  size_t mem_size;
  int id;                     /* index + 1 */
  int numa_node;              /* -1: any */
  bool exclusive;             /* only heaps pinned to this arena allocate here */
  bool is_large;              /* huge/large OS pages: committed, pinned, never purged */
  bool is_auto;               /* reserved by the allocator on demand: may go back to the OS when empty */
  _Atomic(bool) released;     /* the reservation went back to the OS; every slot stays claimed */
  _Atomic(int64_t) purge_expire; /* when the slots in `purge` are due, 0: none */
  _Atomic(size_t) search;     /* word to start the next claim at */
  size_t meta_size;           /* bytes of this struct and its bitmaps (from the OS) */
  mi_bitmap_field_t* inuse;
  mi_bitmap_field_t* committed;
  mi_bitmap_field_t* dirty;
  mi_bitmap_field_t* purge;
} mi_arena_t;

static _Atomic(mi_arena_t*) mi_arenas[MI_ARENA_MAX];
static _Atomic(size_t) mi_arena_count;
static _Atomic(size_t) mi_arena_auto_count;   /* arenas reserved on demand so far: sizes the next one */
static _Atomic(int64_t) mi_arenas_purge_expire; /* earliest purge due in any arena (a hint), 0: none */
static _Atomic(bool) mi_arena_add_lock;

/* ---- Bitmaps -------------------------------------------------------------------------------- */

static uintptr_t mi_bitmap_mask(size_t count, size_t bit) {
  return (count >= MI_INTPTR_BITS ? ~(uintptr_t)0 : (((uintptr_t)1 << count) - 1)) << bit;
}

static size_t mi_bit_ctz(uintptr_t x) { return (size_t)__builtin_ctzll((unsigned long long)x); }

static size_t mi_bit_highest(uintptr_t x) { return 63 - (size_t)__builtin_clzll((unsigned long long)x); }

static size_t mi_bit_count(uintptr_t x) { return (size_t)__builtin_popcountll((unsigned long long)x); }

/* Claims `count` (<= word bits) consecutive zero bits of one word with a CAS; skips past the
 * highest blocking bit on each miss, so a scan is a few steps even in a fragmented word. */
static bool mi_bitmap_try_claim_field(mi_bitmap_field_t* field, size_t count, size_t* bit) {
  uintptr_t mask = mi_bitmap_mask(count, 0);
  uintptr_t map = mi_atomic_load_relaxed(field);
  for (;;) {
    if (map == ~(uintptr_t)0) return false;
    size_t i = mi_bit_ctz(~map);
    bool found = false;
    while (i + count <= MI_INTPTR_BITS) {
      uintptr_t overlap = map & (mask << i);
      if (overlap == 0) {
        found = true;
        break;
      }
      i = mi_bit_highest(overlap) + 1;
    }
    if (!found) return false;
    /* acquire: a slot freed by another thread is written by it before it clears the bit */
    if (mi_atomic_cas_weak_acq_rel(field, &map, map | (mask << i))) {
      *bit = i;
      return true;
    }
  }
}

/* ---- Arena lookup ------------------------------------------------------------------------- */

static mi_arena_t* mi_arena_from_id(int id) {
  if (id <= 0 || id > MI_ARENA_MAX) return NULL;
  return mi_atomic_load_acquire(&mi_arenas[id - 1]);
}

static bool mi_arena_is_suitable(const mi_arena_t* arena, int req_arena_id) {
  if (arena == NULL || mi_atomic_load_relaxed(&((mi_arena_t*)arena)->released)) return false;
  return (req_arena_id == 0 ? !arena->exclusive : arena->id == req_arena_id);
}

bool _mi_arena_memid_is_suitable(int arena_id, int req_arena_id) {
  if (req_arena_id == 0) {
    mi_arena_t* arena = mi_arena_from_id(arena_id);
    return arena == NULL || !arena->exclusive; /* OS memory and shared arenas */
  }
  return arena_id == req_arena_id;
}

/* Arenas to scan: the count can pass MI_ARENA_MAX for a moment while an add that found no
 * room backs out. */
static size_t mi_arena_count_now(void) {
  size_t n = mi_atomic_load_acquire(&mi_arena_count);
  return (n > MI_ARENA_MAX ? MI_ARENA_MAX : n);
}

/* The bits of word f past the last slot (set in `inuse` for good). */
static uintptr_t mi_arena_tail(const mi_arena_t* arena, size_t f) {
  size_t used = arena->slots % MI_INTPTR_BITS;
  return (f + 1 == arena->fields && used != 0 ? mi_bitmap_mask(MI_INTPTR_BITS - used, used) : 0);
}

static void mi_arenas_note_expire(int64_t expire) {
  int64_t cur = mi_atomic_load_relaxed(&mi_arenas_purge_expire);
  while ((cur == 0 || expire < cur) && !mi_atomic_cas_weak_acq_rel(&mi_arenas_purge_expire, &cur, expire)) {}
}

/* ---- Claiming and freeing slots -------------------------------------------------------------- */

/* Claims one free slot not purged since it was freed (waiting for its purge, or kept with
 * purging off): its pages are resident, so taking it saves both the purge and the page faults
 * of touching purged or untouched memory. */
static bool mi_arena_try_claim_unpurged(mi_arena_t* arena, size_t* field, size_t* bit) {
  for (size_t f = 0; f < arena->fields; f++) {
    uintptr_t map = mi_atomic_load_relaxed(&arena->inuse[f]);
    uintptr_t waiting;
    while ((waiting = mi_atomic_load_relaxed(&arena->purge[f]) & ~map) != 0) {
      size_t i = mi_bit_ctz(waiting);
      if (mi_atomic_cas_weak_acq_rel(&arena->inuse[f], &map, map | ((uintptr_t)1 << i))) {
        *field = f;
        *bit = i;
        return true;
      }
    }
  }
  return false;
}

/* Makes slots f:bit..bit+count, just claimed in `inuse`, ready for use: committed if asked. */
static bool mi_arena_take(mi_arena_t* arena, size_t f, size_t bit, size_t count, bool commit, mi_arena_mem_t* mem, mi_stats_t* stats) {
  uintptr_t mask = mi_bitmap_mask(count, bit);
  size_t slot = f * MI_INTPTR_BITS + bit;
  uint8_t* p = arena->start + slot * MI_SEGMENT_SIZE;
  size_t size = count * MI_SEGMENT_SIZE;
  /* ours now: a pending purge of these slots is moot (they are hot, reuse them as they are) */
  atomic_fetch_and_explicit(&arena->purge[f], ~mask, memory_order_relaxed);
  uintptr_t was_dirty = atomic_fetch_or_explicit(&arena->dirty[f], mask, memory_order_relaxed) & mask;
  uintptr_t was_committed = mi_atomic_load_relaxed(&arena->committed[f]) & mask;
  bool is_committed = (was_committed == mask);
  if (!is_committed && (commit || arena->is_large)) {
    size_t newly = mi_bit_count(mask & ~was_committed) * MI_SEGMENT_SIZE;
    if (!_mi_os_commit(p, size, newly, stats)) {
      atomic_fetch_and_explicit(&arena->dirty[f], ~mask | was_dirty, memory_order_relaxed);
      atomic_fetch_and_explicit(&arena->inuse[f], ~mask, memory_order_release);
      return false;
    }
    atomic_fetch_or_explicit(&arena->committed[f], mask, memory_order_relaxed);
    is_committed = true;
  }
  mem->start = p;
  mem->size = size;
  mem->arena = arena->id;
  mem->is_zero = (was_dirty == 0);
  mem->is_committed = is_committed;
  mem->is_large = arena->is_large;
  return true;
}

static bool mi_arena_try_claim(mi_arena_t* arena, size_t count, bool commit, mi_arena_mem_t* mem, mi_stats_t* stats) {
  size_t f, bit;
  /* a single slot (one segment, the common case) comes from those still resident first */
  bool resident = count == 1 && (mi_atomic_load_relaxed(&mi_arenas_purge_expire) != 0 || mi_option_get(mi_option_purge_delay) < 0);
  if (resident && mi_arena_try_claim_unpurged(arena, &f, &bit)) {
    return mi_arena_take(arena, f, bit, count, commit, mem, stats);
  }
  size_t fields = arena->fields;
  size_t start = mi_atomic_load_relaxed(&arena->search) % fields;
  for (size_t n = 0; n < fields; n++) {
    f = (start + n) % fields;
    if (!mi_bitmap_try_claim_field(&arena->inuse[f], count, &bit)) continue;
    if (n > 0) mi_atomic_store_relaxed(&arena->search, f);
    return mi_arena_take(arena, f, bit, count, commit, mem, stats);
  }
  return false;
}

static mi_arena_t* mi_arena_reserve_auto(size_t min_size, mi_stats_t* stats);

/* `size` bytes (whole slots, at most a bitmap word of them) from an arena; false when no arena
 * may serve it, and the caller maps from the OS instead (unless pinned to an arena). */
bool _mi_arena_alloc(size_t size, bool commit, int req_arena_id, mi_arena_mem_t* mem, mi_stats_t* stats) {
  memset(mem, 0, sizeof(*mem));
  size_t count = _mi_align_up(size, MI_SEGMENT_SIZE) / MI_SEGMENT_SIZE;
  if (count == 0 || count > MI_ARENA_RUN_MAX) return false;
  if (req_arena_id == 0 && mi_option_is_enabled(mi_option_disallow_arena_alloc)) return false;
  if (req_arena_id != 0) {
    mi_arena_t* arena = mi_arena_from_id(req_arena_id);
    return mi_arena_is_suitable(arena, req_arena_id) && count <= arena->slots && mi_arena_try_claim(arena, count, commit, mem, stats);
  }
  for (int round = 0; round < 2; round++) {
    size_t n = mi_arena_count_now();
    for (size_t i = 0; i < n; i++) {
      mi_arena_t* arena = mi_atomic_load_acquire(&mi_arenas[i]);
      if (!mi_arena_is_suitable(arena, 0) || count > arena->slots) continue;
      if (mi_arena_try_claim(arena, count, commit, mem, stats)) return true;
    }
    if (round > 0) break;
    /* all full: add one. The lock keeps threads that run out together from each reserving
     * an arena; whoever waited finds the new one in the second round. */
    bool expected = false;
    size_t spins = 0;
    while (!mi_atomic_cas_weak_acq_rel(&mi_arena_add_lock, &expected, true)) {
      expected = false;
      mi_spin_wait(&spins); /* the holder maps memory: a system call, perhaps preempted */
    }
    if (mi_arena_count_now() == n) (void)mi_arena_reserve_auto(size, stats);
    mi_atomic_store_release(&mi_arena_add_lock, false);
  }
  return false;
}

/* A fork while another thread held the lock leaves it held in the child, where that thread
 * does not exist: the child's next reservation would wait forever. An arena that thread was
 * adding is either published (mi_arena_add's CAS) or not; the child loses nothing but, at
 * worst, the address space of one unpublished reservation. */
void _mi_arenas_fork_child(void) { mi_atomic_store_release(&mi_arena_add_lock, false); }

/* Slots come back in use-state "free, dirty, committed as they were"; their purge is due after
 * purge_delay * arena_purge_mult (at once with a zero delay, never with a negative one). With
 * purging off they are marked in `purge` all the same, with no expiry: the next claim takes
 * them before slots never touched, or a process that churns threads would spread its segments
 * over every slot of its arenas and keep them all resident (thread-churn with purge_delay=-1:
 * a peak RSS of 1132 MiB instead of 1217). */
void _mi_arena_free(const mi_arena_mem_t* mem, mi_stats_t* stats) {
  mi_arena_t* arena = mi_arena_from_id(mem->arena);
  if (arena == NULL || mem->size == 0) return;
  size_t slot = (size_t)((uint8_t*)mem->start - arena->start) / MI_SEGMENT_SIZE;
  size_t count = mem->size / MI_SEGMENT_SIZE;
  size_t f = slot / MI_INTPTR_BITS;
  uintptr_t mask = mi_bitmap_mask(count, slot % MI_INTPTR_BITS);
  if (mem->is_committed) atomic_fetch_or_explicit(&arena->committed[f], mask, memory_order_relaxed);
  long mult = mi_option_get(mi_option_arena_purge_mult);
  int64_t delay = (int64_t)mi_option_get(mi_option_purge_delay) * (mult < 0 ? 0 : mult);
  bool purge = (!arena->is_large && mi_option_get(mi_option_purge_delay) >= 0);
  bool keep = (!arena->is_large && !purge);
  if (purge && delay == 0) { /* purge while we still hold the slots */
    if (mi_option_is_enabled(mi_option_purge_decommits)) {
      uintptr_t committed = mi_atomic_load_relaxed(&arena->committed[f]) & mask;
      if (committed != 0 && _mi_os_decommit(mem->start, mem->size, stats)) {
        _mi_stat_increase(&_mi_stats_main.committed, mem->size - mi_bit_count(committed) * MI_SEGMENT_SIZE); /* only committed slots counted */
        atomic_fetch_and_explicit(&arena->committed[f], ~mask, memory_order_relaxed);
        atomic_fetch_and_explicit(&arena->dirty[f], ~mask, memory_order_relaxed);
      }
    } else {
      (void)_mi_os_purge(mem->start, mem->size, stats);
    }
    purge = false;
  }
  if (purge || keep) atomic_fetch_or_explicit(&arena->purge[f], mask, memory_order_relaxed);
  atomic_fetch_and_explicit(&arena->inuse[f], ~mask, memory_order_release); /* publishes the bits above */
  if (purge) {
    /* one expiry per arena, set by the first pending free: slots freed later are purged with
     * it (a little early), so a burst of frees costs one pass, and a steady stream of frees
     * can not push the purge back for ever */
    int64_t expire = mi_atomic_load_relaxed(&arena->purge_expire);
    if (expire == 0) {
      expire = _mi_clock_coarse() + delay;
      mi_atomic_store_relaxed(&arena->purge_expire, expire);
    }
    mi_arenas_note_expire(expire);
  }
}

/* ---- Purging ----------------------------------------------------------------------------------- */

/* Purges one maximal run of `bits` (slots claimed by us for the purge) in word f. */
static void mi_arena_purge_run(mi_arena_t* arena, size_t f, size_t bit, size_t count, bool decommit, mi_stats_t* stats) {
  uintptr_t mask = mi_bitmap_mask(count, bit);
  uint8_t* p = arena->start + (f * MI_INTPTR_BITS + bit) * MI_SEGMENT_SIZE;
  size_t size = count * MI_SEGMENT_SIZE;
  uintptr_t committed = mi_atomic_load_relaxed(&arena->committed[f]) & mask;
  if (decommit) {
    if (committed == 0) {
      atomic_fetch_and_explicit(&arena->dirty[f], ~mask, memory_order_relaxed);
      return;
    }
    if (_mi_os_decommit(p, size, stats)) {
      _mi_stat_increase(&_mi_stats_main.committed, size - mi_bit_count(committed) * MI_SEGMENT_SIZE);
      atomic_fetch_and_explicit(&arena->committed[f], ~mask, memory_order_relaxed);
      atomic_fetch_and_explicit(&arena->dirty[f], ~mask, memory_order_relaxed);
    }
  } else if (committed == mask) {
    (void)_mi_os_purge(p, size, stats); /* MADV_FREE-like: stays committed, may keep its bytes */
  }
}

/* Purges what is due in one arena; true when it is now entirely free with nothing pending. Slots to purge
 * are claimed in `inuse` first, so no thread can get them while the OS call runs. */
static bool mi_arena_purge(mi_arena_t* arena, bool force, int64_t now, mi_stats_t* stats) {
  int64_t expire = mi_atomic_load_relaxed(&arena->purge_expire);
  if (expire == 0) return false;
  if (!force && now < expire) {
    mi_arenas_note_expire(expire);
    return false;
  }
  mi_atomic_store_relaxed(&arena->purge_expire, 0);
  bool decommit = mi_option_is_enabled(mi_option_purge_decommits);
  bool all_free = true;
  for (size_t f = 0; f < arena->fields; f++) {
    uintptr_t bits = mi_atomic_load_relaxed(&arena->purge[f]);
    while (bits != 0) {
      uintptr_t inuse = mi_atomic_load_relaxed(&arena->inuse[f]);
      uintptr_t claim = bits & ~inuse;
      if (claim == 0) break;
      if (!mi_atomic_cas_weak_acq_rel(&arena->inuse[f], &inuse, inuse | claim)) continue;
      atomic_fetch_and_explicit(&arena->purge[f], ~claim, memory_order_relaxed);
      uintptr_t rest = claim;
      while (rest != 0) { /* one OS call per run of adjacent slots */
        size_t bit = mi_bit_ctz(rest);
        uintptr_t run = rest >> bit;
        size_t count = (run == ~(uintptr_t)0 ? MI_INTPTR_BITS - bit : mi_bit_ctz(~run));
        mi_arena_purge_run(arena, f, bit, count, decommit, stats);
        rest &= ~mi_bitmap_mask(count, bit);
      }
      atomic_fetch_and_explicit(&arena->inuse[f], ~claim, memory_order_release);
      bits &= ~claim;
    }
    /* dirty slots count as free: with purge_decommits=0 they stay dirty after their purge,
     * and releasing the arena gives them back all the same */
    if ((mi_atomic_load_relaxed(&arena->inuse[f]) & ~mi_arena_tail(arena, f)) != 0 || mi_atomic_load_relaxed(&arena->purge[f]) != 0) all_free = false;
  }
  return all_free;
}

/* An empty arena of ours (every slot free and purged) goes back to the OS, unless it is the only one (the next allocation
 * would reserve it again). Its slots are claimed for good first: a thread still scanning it
 * finds nothing, and its metadata stays, since a scanner may hold a pointer to it. */
static void mi_arena_try_release(mi_arena_t* arena, mi_stats_t* stats) {
  if (!arena->is_auto || arena->mem_base == NULL || mi_option_get(mi_option_arena_purge_mult) <= 0) return;
  size_t live = 0;
  size_t n = mi_arena_count_now();
  for (size_t i = 0; i < n; i++) {
    mi_arena_t* a = mi_atomic_load_acquire(&mi_arenas[i]);
    if (a != NULL && !a->exclusive && !mi_atomic_load_relaxed(&a->released)) live++;
  }
  if (live <= 1) return;
  size_t f;
  bool ok = true;
  for (f = 0; f < arena->fields && ok; f++) {
    uintptr_t expected = mi_arena_tail(arena, f);
    if (!mi_atomic_cas_strong_acq_rel(&arena->inuse[f], &expected, ~(uintptr_t)0)) break;
    ok = (mi_atomic_load_relaxed(&arena->purge[f]) == 0); /* idle past its purge delay */
  }
  if (!ok || f < arena->fields) { /* in use, or raced with a claim: give back what we took */
    for (size_t g = 0; g < f; g++) mi_atomic_store_release(&arena->inuse[g], mi_arena_tail(arena, g));
    return;
  }
  size_t committed = 0;
  for (size_t g = 0; g < arena->fields; g++) committed += mi_bit_count(mi_atomic_load_relaxed(&arena->committed[g])) * MI_SEGMENT_SIZE;
  mi_atomic_store_release(&arena->released, true);
  _mi_verbose_message("arena %d: every slot free and purged; %zu MiB go back to the OS\n", arena->id, arena->mem_size / MI_MiB);
  _mi_os_release(arena->mem_base, arena->mem_size, committed, stats);
}

void _mi_arenas_collect(bool force, mi_stats_t* stats) {
  int64_t expire = mi_atomic_load_relaxed(&mi_arenas_purge_expire);
  if (expire == 0) return;
  /* switched to never purging with a purge pending: it waits (slots freed since are marked
   * too), and runs once purging is back on */
  if (mi_option_get(mi_option_purge_delay) < 0) return;
  int64_t now = _mi_clock_coarse();
  if (!force && now < expire) return;
  if (!mi_atomic_cas_strong_acq_rel(&mi_arenas_purge_expire, &expire, 0)) return; /* another thread runs it */
  size_t n = mi_arena_count_now();
  for (size_t i = n; i-- > 0;) { /* newest first: the larger ones go back, the first one stays */
    mi_arena_t* arena = mi_atomic_load_acquire(&mi_arenas[i]);
    if (arena == NULL || mi_atomic_load_relaxed(&arena->released) || arena->is_large) continue;
    if (mi_arena_purge(arena, force, now, stats)) mi_arena_try_release(arena, stats);
  }
}

/* ---- Adding arenas ----------------------------------------------------------------------------- */

/* Registers `size` bytes at `start` (MI_SEGMENT_SIZE aligned, whole slots). */
static bool mi_arena_add(void* start, size_t size, void* mem_base, size_t mem_size, bool is_committed, bool is_large, bool is_zero,
                         int numa_node, bool exclusive, bool is_auto, int* arena_id, mi_stats_t* stats) {
  size_t slots = size / MI_SEGMENT_SIZE;
  size_t fields = (slots + MI_INTPTR_BITS - 1) / MI_INTPTR_BITS;
  size_t meta_size = sizeof(mi_arena_t) + 4 * fields * sizeof(mi_bitmap_field_t);
  mi_arena_t* arena = (mi_arena_t*)_mi_os_alloc_meta(meta_size, stats);
  if (arena == NULL) return false;
  mi_bitmap_field_t* bits = (mi_bitmap_field_t*)(arena + 1);
  arena->inuse = bits;
  arena->committed = bits + fields;
  arena->dirty = bits + 2 * fields;
  arena->purge = bits + 3 * fields;
  arena->start = (uint8_t*)start;
  arena->slots = slots;
  arena->fields = fields;
  arena->mem_base = mem_base;
  arena->mem_size = mem_size;
  arena->numa_node = numa_node;
  arena->exclusive = exclusive;
  arena->is_large = is_large;
  arena->is_auto = is_auto;
  arena->meta_size = meta_size;
  for (size_t f = 0; f < fields; f++) {
    mi_atomic_store_relaxed(&arena->committed[f], is_committed ? ~(uintptr_t)0 : 0);
    mi_atomic_store_relaxed(&arena->dirty[f], is_zero ? 0 : ~(uintptr_t)0);
  }
  if (slots % MI_INTPTR_BITS != 0) {
    mi_atomic_store_relaxed(&arena->inuse[fields - 1], mi_arena_tail(arena, fields - 1));
    mi_atomic_store_relaxed(&arena->dirty[fields - 1], is_zero ? 0 : mi_bitmap_mask(slots % MI_INTPTR_BITS, 0));
  }
  if (is_committed) _mi_stat_increase(&_mi_stats_main.committed, slots * MI_SEGMENT_SIZE);
  /* a free entry: past the end, or one whose arena went back to the OS is not reused (a
   * scanner may still read it), so entries only grow */
  size_t i = mi_atomic_add_acq_rel(&mi_arena_count, 1);
  if (i >= MI_ARENA_MAX) {
    mi_atomic_sub_acq_rel(&mi_arena_count, 1);
    _mi_os_free_meta(arena, meta_size, stats);
    _mi_warning_message("no room for another arena (%d at most)\n", MI_ARENA_MAX);
    return false;
  }
  arena->id = (int)i + 1;
  mi_atomic_store_release(&mi_arenas[i], arena);
  if (arena_id != NULL) *arena_id = arena->id;
  _mi_verbose_message("arena %d: %zu MiB at %p%s%s%s\n", arena->id, size / MI_MiB, start, exclusive ? ", exclusive" : "",
                      is_large ? ", huge OS pages" : "", is_committed ? ", committed" : "");
  return true;
}

/* Does arena_eager_commit ask to commit a whole arena when it is reserved? 2: only where
 * committing costs nothing (an OS that overcommits). */
static bool mi_arena_eager_commit(bool os_committed) {
  long mode = mi_option_get(mi_option_arena_eager_commit);
  return mode == 1 || (mode == 2 && os_committed);
}

static mi_arena_t* mi_arena_reserve(size_t size, bool commit, bool allow_large, bool exclusive, bool is_auto, int* arena_id,
                                    mi_stats_t* stats) {
  size = _mi_align_up(size, MI_SEGMENT_SIZE);
  bool os_committed = false;
  void* base;
  size_t mapped;
  void* p = _mi_os_reserve_aligned(size, MI_SEGMENT_SIZE, allow_large, &os_committed, &base, &mapped, stats);
  if (p == NULL) return NULL;
  commit = commit || mi_arena_eager_commit(os_committed);
  if (commit && !os_committed && !_mi_os_commit(p, size, 0, stats)) commit = false;
  int id = 0;
  if (!mi_arena_add(p, size, base, mapped, commit, false, true, -1, exclusive, is_auto, &id, stats)) {
    _mi_os_release(base, mapped, 0, stats);
    return NULL;
  }
  if (arena_id != NULL) *arena_id = id;
  return mi_arena_from_id(id);
}

/* On demand: arena_reserve bytes, doubling with each arena added this way (up to 2^3 times) so
 * that a growing process adds few arenas; never less than the request. */
static mi_arena_t* mi_arena_reserve_auto(size_t min_size, mi_stats_t* stats) {
  size_t reserve = (size_t)mi_option_get_size(mi_option_arena_reserve);
  if (reserve == 0) return NULL;
  size_t k = mi_atomic_load_relaxed(&mi_arena_auto_count);
  size_t size = reserve << (k < MI_ARENA_GROWTH_MAX ? k : MI_ARENA_GROWTH_MAX);
  if (size / MI_SEGMENT_SIZE > MI_ARENA_MAX * MI_INTPTR_BITS) size = MI_ARENA_MAX * MI_INTPTR_BITS * MI_SEGMENT_SIZE;
  if (size < min_size) size = min_size;
  if (size < MI_ARENA_MIN_SLOTS * MI_SEGMENT_SIZE) size = MI_ARENA_MIN_SLOTS * MI_SEGMENT_SIZE;
  bool large = (mi_option_get(mi_option_allow_large_os_pages) == 1);
  mi_arena_t* arena = mi_arena_reserve(size, false, large, false, true, NULL, stats);
  if (arena == NULL && size > min_size) {
    arena = mi_arena_reserve(_mi_align_up(min_size, MI_SEGMENT_SIZE) * 4, false, large, false, true, NULL, stats); /* address space is short (32-bit) */
  }
  if (arena != NULL) mi_atomic_add_relaxed(&mi_arena_auto_count, 1);
  return arena;
}

/* ---- Public API --------------------------------------------------------------------------------- */

int mi_reserve_os_memory_ex(size_t size, bool commit, bool allow_large, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept {
  if (arena_id != NULL) *arena_id = 0;
  if (size < MI_SEGMENT_SIZE) size = MI_SEGMENT_SIZE;
  int id = 0;
  mi_arena_t* arena = mi_arena_reserve(size, commit, allow_large, exclusive, false, &id, &_mi_stats_main);
  if (arena == NULL) {
    _mi_verbose_message("failed to reserve %zu KiB of OS memory for an arena\n", size / MI_KiB);
    return ENOMEM;
  }
  if (arena_id != NULL) *arena_id = id;
  return 0;
}

int mi_reserve_os_memory(size_t size, bool commit, bool allow_large) mi_attr_noexcept {
  return mi_reserve_os_memory_ex(size, commit, allow_large, false, NULL);
}

/* The caller's memory: the whole slots inside [start, start+size) become an arena. It is never
 * released (the caller owns it) and, when not committed, committed slot by slot. */
bool mi_manage_os_memory_ex(const void* start_in, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node,
                            bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept {
  void* start = (void*)(uintptr_t)start_in; /* const in the signature only (see mimalloc.h) */
  if (arena_id != NULL) *arena_id = 0;
  if (start == NULL || size == 0) {
    _mi_error_message(EINVAL, "mi_manage_os_memory: no memory given (%p, %zu bytes)\n", start, size);
    return false;
  }
  if (((uintptr_t)start & (_mi_os_page_size() - 1)) != 0) {
    _mi_error_message(EINVAL, "mi_manage_os_memory: %p is not aligned to an OS page (%zu bytes)\n", start, _mi_os_page_size());
    return false;
  }
  uintptr_t first = _mi_align_up((uintptr_t)start, MI_SEGMENT_SIZE);
  uintptr_t end = (size > UINTPTR_MAX - (uintptr_t)start ? UINTPTR_MAX : (uintptr_t)start + size) & ~(uintptr_t)MI_SEGMENT_MASK;
  if (end <= first) {
    _mi_error_message(ENOMEM, "mi_manage_os_memory: %zu bytes at %p hold no whole %zu KiB slot aligned to its size; an arena needs one\n",
                      size, start, (size_t)(MI_SEGMENT_SIZE / MI_KiB));
    return false;
  }
  int id = 0;
  if (!mi_arena_add((void*)first, end - first, NULL, 0, is_committed || is_large, is_large, is_zero, numa_node, exclusive, false, &id,
                    &_mi_stats_main)) {
    return false;
  }
  if (arena_id != NULL) *arena_id = id;
  return true;
}

bool mi_manage_os_memory(void* start, size_t size, bool is_committed, bool is_large, bool is_zero, int numa_node) mi_attr_noexcept {
  return mi_manage_os_memory_ex(start, size, is_committed, is_large, is_zero, numa_node, false, NULL);
}

int mi_reserve_huge_os_pages_at_ex(size_t pages, int numa_node, size_t timeout_msecs, bool exclusive, mi_arena_id_t* arena_id) mi_attr_noexcept {
  (void)timeout_msecs; /* one mmap: it succeeds or fails at once */
  if (arena_id != NULL) *arena_id = 0;
  if (pages == 0) return 0;
  if (pages > (SIZE_MAX >> 30)) return ENOMEM;
  size_t size = pages << 30;
  void* p = NULL;
  int err = _mi_os_alloc_huge_os_pages(size, numa_node, &p, &_mi_stats_main);
  if (err != 0) {
    _mi_warning_message("unable to reserve %zu huge (1 GiB) OS pages (error %d): %s\n", pages, err, err == ENOTSUP ? "this OS layer has none" : "the OS has not set that many aside (Linux: /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages)");
    return ENOMEM; /* whatever the OS said (qemu-user: EINVAL), as upstream documents */
  }
  int id = 0;
  if (!mi_arena_add(p, size, p, size, true, true, true, numa_node, exclusive, false, &id, &_mi_stats_main)) {
    _mi_os_release(p, size, size, &_mi_stats_main);
    return ENOMEM;
  }
  _mi_stat_decrease(&_mi_stats_main.committed, size); /* mi_arena_add counted it again */
  if (arena_id != NULL) *arena_id = id;
  return 0;
}

int mi_reserve_huge_os_pages_at(size_t pages, int numa_node, size_t timeout_msecs) mi_attr_noexcept {
  return mi_reserve_huge_os_pages_at_ex(pages, numa_node, timeout_msecs, false, NULL);
}

/* No NUMA topology is read: the pages are split evenly over `numa_nodes` nodes (0: one). */
int mi_reserve_huge_os_pages_interleave(size_t pages, size_t numa_nodes, size_t timeout_msecs) mi_attr_noexcept {
  if (pages == 0) return 0;
  size_t nodes = (numa_nodes == 0 ? 1 : numa_nodes);
  size_t per = pages / nodes, extra = pages % nodes;
  for (size_t node = 0; node < nodes; node++) {
    size_t n = per + (node < extra ? 1 : 0);
    if (n == 0) continue;
    int err = mi_reserve_huge_os_pages_at(n, (int)node, timeout_msecs / nodes);
    if (err != 0) return err;
  }
  return 0;
}

int mi_reserve_huge_os_pages(size_t pages, double max_secs, size_t* pages_reserved) mi_attr_noexcept {
  if (pages_reserved != NULL) *pages_reserved = 0;
  int err = mi_reserve_huge_os_pages_interleave(pages, 0, (size_t)(max_secs * 1000.0));
  if (err == 0 && pages_reserved != NULL) *pages_reserved = pages;
  return err;
}

void* mi_arena_area(mi_arena_id_t arena_id, size_t* size) mi_attr_noexcept {
  if (size != NULL) *size = 0;
  mi_arena_t* arena = mi_arena_from_id((int)arena_id);
  if (arena == NULL || mi_atomic_load_relaxed(&arena->released)) return NULL;
  if (size != NULL) *size = arena->slots * MI_SEGMENT_SIZE;
  return arena->start;
}

static void mi_arena_print_bitmap(const char* name, mi_bitmap_field_t* bits, size_t slots) {
  char line[MI_INTPTR_BITS + 1];
  for (size_t f = 0; f * MI_INTPTR_BITS < slots; f++) {
    uintptr_t w = mi_atomic_load_relaxed(&bits[f]);
    size_t n = 0;
    for (size_t b = 0; b < MI_INTPTR_BITS && f * MI_INTPTR_BITS + b < slots; b++) line[n++] = ((w >> b) & 1) ? 'x' : '.';
    line[n] = 0;
    _mi_message("  %-9s %4zu: %s\n", (f == 0 ? name : ""), f * MI_INTPTR_BITS, line);
  }
}

/* One line per arena and, with `show_bitmaps`, its slots ('x' = set) per bitmap. */
static void mi_arenas_show(bool show_bitmaps) {
  size_t n = mi_arena_count_now();
  size_t total_inuse = 0;
  for (size_t i = 0; i < n; i++) {
    mi_arena_t* arena = mi_atomic_load_acquire(&mi_arenas[i]);
    if (arena == NULL) continue;
    size_t inuse = 0;
    bool released = mi_atomic_load_relaxed(&arena->released);
    for (size_t f = 0; f < arena->fields && !released; f++) inuse += mi_bit_count(mi_atomic_load_relaxed(&arena->inuse[f]));
    if (!released) inuse -= arena->fields * MI_INTPTR_BITS - arena->slots;
    total_inuse += inuse;
    _mi_message("arena %d: %p, %zu slots of %zu KiB, %zu in use%s%s%s%s\n", arena->id, (void*)arena->start, arena->slots,
                (size_t)(MI_SEGMENT_SIZE / MI_KiB), inuse, arena->exclusive ? ", exclusive" : "", arena->is_large ? ", huge OS pages" : "",
                arena->mem_base == NULL ? ", caller's memory" : "", released ? ", released to the OS" : "");
    if (show_bitmaps && !released) {
      mi_arena_print_bitmap("in use", arena->inuse, arena->slots);
      mi_arena_print_bitmap("committed", arena->committed, arena->slots);
      mi_arena_print_bitmap("dirty", arena->dirty, arena->slots);
      mi_arena_print_bitmap("unpurged", arena->purge, arena->slots);
    }
  }
  _mi_message("arenas: %zu, slots in use: %zu\n", n, total_inuse);
}

void mi_debug_show_arenas(void) mi_attr_noexcept { mi_arenas_show(true); }

void mi_arenas_print(void) mi_attr_noexcept { mi_arenas_show(true); }

/* ---- Start-up ------------------------------------------------------------------------------- */

void _mi_arenas_init(void) {
  long huge = mi_option_get(mi_option_reserve_huge_os_pages);
  if (huge > 0) {
    long node = mi_option_get(mi_option_reserve_huge_os_pages_at);
    if (node >= 0) (void)mi_reserve_huge_os_pages_at((size_t)huge, (int)node, (size_t)huge * 500);
    else (void)mi_reserve_huge_os_pages_interleave((size_t)huge, 0, (size_t)huge * 500);
  }
  size_t reserve = mi_option_get_size(mi_option_reserve_os_memory);
  if (reserve > 0) {
    bool commit = (mi_option_get(mi_option_arena_eager_commit) == 1);
    bool large = (mi_option_get(mi_option_allow_large_os_pages) == 1);
    if (mi_reserve_os_memory(reserve, commit, large) != 0) _mi_warning_message("could not reserve %zu KiB of OS memory at start-up (reserve_os_memory)\n", reserve / MI_KiB);
  }
}
