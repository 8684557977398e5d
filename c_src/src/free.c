/* SPDX-License-Identifier: MIT
 * Freeing: the owner's fast path (mask to segment, compare thread id, push on the page's
 * local_free), the lock-free free from another thread (one CAS on the page's thread_free, or
 * the delayed-free handshake for full pages), blocks handed out at interior (aligned)
 * addresses, and usable-size queries. Never takes a lock. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

/* ---- Checks of checked builds ------------------------------------------------------------ */

/* Without a handler EFAULT aborts in checked builds; a handler that returns gets a page that
 * hands out nothing more (never memory through a corrupted list). */
void _mi_error_freelist_corrupted(const mi_page_t* page, const mi_block_t* block) {
  _mi_error_message(EFAULT, "corrupted free list: the block at %p (block size %zu) has an invalid link; "
                            "the block was probably written to after it was freed (detected by the encoded free list); "
                            "the page's free lists are dropped",
                    (const void*)block, page->block_size);
  _mi_page_drop_lists((mi_page_t*)page); /* only its owner decodes the page's lists */
}

#if MI_CHECK_OWNED
static mi_decl_noinline mi_decl_cold void mi_free_report_not_owned(const void* p) {
  if (p == NULL) return; /* the map refuses NULL for mi_free, which then needs no test of its own */
  _mi_error_message(EINVAL, "mi_free: %p was not allocated by this allocator, or its memory was already released "
                            "(detected by the %s build's ownership check); the call is ignored",
                    p, MI_SECURE > 0 ? "secure" : "debug");
}

/* Is `p` a pointer into the block area of an in-use page of ours? The segment map answers for
 * the segment without touching the memory `p` points to (a foreign or wild pointer may point
 * at nothing mapped); a map bit is set exactly while a segment of ours starts there, so the
 * header it names is ours and needs no cookie check. The block area bounds `p` inside the
 * segment too (a huge segment may be shorter than MI_SEGMENT_SIZE), and is empty while the
 * page is not in use (descriptors are cleared when a page is released). Budget: one map load
 * and bit test, then two loads and one compare on the line of the descriptor that every free
 * reads anyway. */
static inline bool mi_free_is_owned(const mi_page_t* page, const void* p) { return mi_page_contains_addr(page, p); }

/* Does the segment map know `p`'s segment? NULL too (64-bit): its p-1 lies above the map. */
static inline bool mi_free_segment_known(const void* p) { return _mi_segment_map_contains(p); }

/* Is `segment` one this thread freed into before as its owner (so mapped, ours and its)? */
static inline bool mi_free_owned_hit(const mi_segment_t* segment) { return segment == _mi_free_owned[_mi_free_owned_slot(segment)]; }

static inline void mi_free_owned_remember(const mi_segment_t* segment) { _mi_free_owned[_mi_free_owned_slot(segment)] = segment; }
#else
/* Unchecked builds trust every pointer they are given. */
static inline void mi_free_report_not_owned(const void* p) { (void)p; }
static inline bool mi_free_is_owned(const mi_page_t* page, const void* p) {
  (void)page;
  (void)p;
  return true;
}
static inline bool mi_free_segment_known(const void* p) {
  (void)p;
  return true;
}
static inline bool mi_free_owned_hit(const mi_segment_t* segment) {
  (void)segment;
  return false;
}
static inline void mi_free_owned_remember(const mi_segment_t* segment) { (void)segment; }
#endif

#if MI_CHECK_DOUBLE_FREE && MI_REMOTE_BATCH
/* A block waiting in a thread's chain (below: frees into another thread's page, pushed
 * together) is on no list of its page yet, where the check would look, and only its freeing
 * thread may walk that chain. So a waiting block carries its own mark, which any thread can
 * read: its link is encoded with a tweak (a plain decode lands far outside any page), and its
 * second word holds a tag keyed on the page and the block's address. A live block passes for
 * a waiting one only if the program's first two words happen to match both, about 2^-64 per
 * free (2^-48 with 32-bit words). A write after free can spoil the mark, so the push checks
 * every mark of its chain before it restores plain links and clears the tags: a block freed
 * twice, into one chain or into two, is found there at the latest. Blocks of one word have no
 * room for the tag and are not chained. */
#define MI_PENDING_TWEAK ((uintptr_t)1 << (MI_INTPTR_BITS - 1)) /* the top bit: see mi_check_is_double_free_suspect */
static inline uintptr_t mi_pending_tag(const mi_page_t* page, const mi_block_t* block) {
  return mi_rotl((uintptr_t)block ^ page->keys[0] ^ MI_PENDING_TWEAK, page->keys[1] + 1);
}
static inline uintptr_t mi_pending_link_offset(const mi_page_t* page, const mi_block_t* block) {
  return mi_link_offset(page, mi_block_link_read(block)) ^ MI_PENDING_TWEAK;
}
static inline bool mi_pending_tag_ok(const mi_page_t* page, const mi_block_t* block) {
  return mi_block_word1_read(block) == mi_pending_tag(page, block);
}
/* A chain's last block links to itself until the push, so that every waiting block's link
 * decodes into the page: the free's quick test then needs no second test for a list's end. */
static bool mi_block_links_pending(const mi_page_t* page, const mi_block_t* block) {
  return page->block_size >= 2 * sizeof(uintptr_t) && mi_pending_link_offset(page, block) < page->block_area;
}
static bool mi_block_is_pending(const mi_page_t* page, const mi_block_t* block) {
  return mi_block_links_pending(page, block) && mi_pending_tag_ok(page, block);
}
static inline void mi_block_set_pending(const mi_page_t* page, mi_block_t* block, const mi_block_t* next) {
  uintptr_t offset = ((uintptr_t)next - (uintptr_t)page->page_start) ^ MI_PENDING_TWEAK;
  mi_block_link_write(block, mi_rotl(offset ^ page->keys[1], page->keys[0]));
  mi_block_word1_write(block, mi_pending_tag(page, block));
}

/* Plain links again for a chain about to join its page's thread_free list, and no tags, once
 * every block of it shows its mark, links on to the next (the last to itself) and the chain
 * ends at its recorded last block after `count` blocks. Otherwise a block was written after its
 * free, or freed again (into this chain, rewriting its link, or into another, whose push
 * cleared the tag): reported, and the chain's blocks leak, as the owner's lists do when it
 * finds a bad link (this thread may not drop the owner's lists). Each block is checked before
 * it is touched: a block that another chain pushed first is not written. */
static bool mi_pending_settle(const mi_page_t* page, mi_block_t* head, mi_block_t* tail, size_t count) {
  mi_block_t* b = head;
  bool ok = true;
  for (size_t i = 1; i < count; i++) {
    uintptr_t offset = mi_pending_link_offset(page, b);
    mi_block_t* next = (mi_block_t*)((uintptr_t)page->page_start + offset);
    ok = (b != tail && offset < page->block_area && mi_pending_tag_ok(page, b));
    if (!ok) break;
    mi_block_word1_write(b, 0);
    mi_block_set_next(page, b, next);
    b = next;
  }
  ok = ok && b == tail && mi_pending_tag_ok(page, tail) &&
       mi_pending_link_offset(page, tail) == (uintptr_t)((uint8_t*)tail - page->page_start);
  if (mi_unlikely(!ok)) {
    _mi_error_message(EFAULT, "corrupted free list: a block freed into page %p (block size %zu) was written after its free or freed again while it waited in a batch of remote frees; the %zu blocks of the batch leak",
                      (void*)page->page_start, page->block_size, count);
    return false;
  }
  mi_block_word1_write(tail, 0);
  return true;
}

static bool mi_remote_chain_contains(const mi_page_t* page, const mi_block_t* block);

/* A block whose link decodes as a waiting one's but whose tag does not match: a live block
 * whose data happens to decode so, or a waiting block whose tag a write after free spoiled.
 * If it waits in this thread's own chain, the free is a double free; a chain of another
 * thread finds the spoiled tag at its push (mi_pending_settle). */
static bool mi_block_is_pending_here(const mi_page_t* page, const mi_block_t* block) {
  return mi_block_links_pending(page, block) && mi_remote_chain_contains(page, block);
}
#else
static inline void mi_block_set_pending(const mi_page_t* page, mi_block_t* block, const mi_block_t* next) {
  mi_block_set_next(page, block, next);
}
static inline bool mi_block_is_pending(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
  return false;
}
static inline bool mi_block_is_pending_here(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
  return false;
}
#endif

#if MI_CHECK_DOUBLE_FREE
static bool mi_list_contains(const mi_page_t* page, const mi_block_t* list, const mi_block_t* elem) {
  size_t n = 0;
  while (list != NULL && n++ <= page->capacity) {
    if (list == elem) return true;
    mi_block_t* next = mi_block_next_raw(page, list);
    if (next != NULL && !mi_page_contains_addr(page, next)) return false; /* racing owner: give up */
    list = next;
  }
  return false;
}

static mi_decl_noinline bool mi_check_is_double_free_slow(const mi_page_t* page, const mi_block_t* block) {
  if (mi_block_is_pending(page, block)) {
    _mi_error_message(EAGAIN, "double free detected of block %p (block size %zu), which waits in a thread's batch of frees to its page; the second free is refused",
                      (const void*)block, page->block_size);
    return true;
  }
  if (!mi_list_contains(page, page->free, block) && !mi_list_contains(page, page->local_free, block) &&
      !mi_list_contains(page, mi_page_thread_free(page), block) && !mi_block_is_pending_here(page, block)) {
    return false;
  }
  _mi_error_message(EAGAIN, "double free detected of block %p (block size %zu); the second free is refused",
                    (const void*)block, page->block_size);
  return true;
}

/* A live block's first word is user data, which decodes to a random address (a block handed
 * out has its link word cleared, which decodes to noise too); a free block's decodes into its
 * own page or to NULL at a list's end, or (a block waiting in a chain) into its page with the
 * tweak, which is the top bit alone: so with that bit cleared the offset is below the area
 * either way (one instruction, on the fast path of every checked free). Only then are the
 * page's lists and the tag looked at to be sure. */
static inline bool mi_check_is_double_free_suspect(const mi_page_t* page, const mi_block_t* block) {
  uintptr_t offset = mi_link_offset(page, mi_block_link_read(block));
  bool at_end = ((uintptr_t)page->page_start + offset == 0);
#if MI_REMOTE_BATCH
  offset &= ~MI_PENDING_TWEAK;
#endif
  return offset < page->block_area || at_end;
}

static inline bool mi_check_is_double_free(const mi_page_t* page, const mi_block_t* block) {
  if (mi_likely(!mi_check_is_double_free_suspect(page, block))) return false;
  return mi_check_is_double_free_slow(page, block);
}
#else
static inline bool mi_check_is_double_free(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
  return false;
}
#endif

#if MI_CHECK_INTERIOR
/* Is `p` (inside the page's block area) the start of a block? offset = q * block_size exactly
 * when offset * inverse(odd part), rotated right by the shift, is q: every other offset comes
 * out at least 2^32 / block_size >= reserved (the multiplicative divisibility test). A
 * multiply and a rotate, against a division's 20 to 40 cycles. */
static inline bool mi_page_is_block_start(const mi_page_t* page, const void* p) {
  uint32_t off = (uint32_t)((const uint8_t*)p - page->page_start);
  uint32_t x = off * page->block_inv;
  uint32_t shift = page->block_shift;
  uint32_t q = (x >> shift) | (x << ((32 - shift) & 31)); /* a 32-bit rotate (shift 0: x | x) */
  return q < page->reserved;
}

static mi_decl_noinline mi_decl_cold void mi_free_report_interior(const mi_page_t* page, const void* p) {
  _mi_error_message(EINVAL, "mi_free: %p points inside a block (block size %zu), not at its start; "
                            "the call is ignored and the block stays allocated",
                    p, page->block_size);
}

/* Is `p` a pointer inside a block the program may not free by? A page that handed out aligned
 * blocks takes any pointer into a block as that block. */
static inline bool mi_free_is_interior(const mi_page_t* page, const void* p) {
  return mi_unlikely(!mi_page_has_aligned(page) && !mi_page_is_block_start(page, p));
}
#else
/* Without the test any pointer into a block frees that block's start, and there is nothing to
 * report. */
static inline bool mi_page_is_block_start(const mi_page_t* page, const void* p) {
  (void)page;
  (void)p;
  return true;
}
static inline bool mi_free_is_interior(const mi_page_t* page, const void* p) {
  (void)page;
  (void)p;
  return false;
}
static inline void mi_free_report_interior(const mi_page_t* page, const void* p) {
  (void)page;
  (void)p;
}
#endif

#if MI_PADDING
/* Requested bytes of a block, or the whole block when its padding is damaged. */
static size_t mi_padding_requested(const mi_page_t* page, const mi_block_t* block, bool* ok) {
  const mi_padding_t* pad = mi_block_padding(page, block);
  size_t room = page->block_size - sizeof(mi_padding_t);
  mi_track_mem_defined(pad, sizeof(mi_padding_t)); /* never part of the program's block */
  *ok = (pad->canary == mi_padding_canary(page, block) && pad->delta <= room);
  size_t delta = pad->delta;
  mi_track_mem_noaccess(pad, sizeof(mi_padding_t));
  return (*ok ? room - delta : room);
}

#if MI_CHECK_PADDING
/* False (after the report) when the canary or the fill between request and canary changed. */
static bool mi_check_padding(const mi_page_t* page, const mi_block_t* block) {
  bool ok;
  size_t size = mi_padding_requested(page, block, &ok);
  size_t room = page->block_size - sizeof(mi_padding_t);
  size_t bad = room; /* first damaged byte offset */
  if (ok) {
    const uint8_t* fill = (const uint8_t*)block + size;
    size_t checked = (room - size < MI_PADDING_FILL ? room - size : MI_PADDING_FILL);
    for (size_t i = 0; i < checked; i++) {
      if (fill[i] != MI_DEBUG_PADDING) {
        bad = size + i;
        ok = false;
        break;
      }
    }
  }
  if (!ok) {
    _mi_error_message(EFAULT, "buffer overflow in heap block %p of size %zu: %s at byte offset %zu "
                              "(detected by the %s build's padding canary); the free is refused",
                      (const void*)block, size, bad == room ? "the canary after the block was overwritten" : "write past the end", bad,
                      MI_DEBUG >= 2 ? "debug" : "secure");
  }
  return ok;
}
#else
static inline bool mi_check_padding(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
  return true;
}
#endif

/* The bytes of the block the program may use from `offset` on: what it asked for, so that
 * writing all of it never trips the canary. */
static inline size_t mi_block_usable_from(const mi_page_t* page, const mi_block_t* block, size_t offset) {
  bool ok;
  size_t size = mi_padding_requested(page, block, &ok);
  return (size > offset ? size - offset : 0);
}
#else
static inline size_t mi_block_usable_from(const mi_page_t* page, const mi_block_t* block, size_t offset) {
  (void)block;
  return page->block_size - offset;
}
static inline bool mi_check_padding(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
  return true;
}
#endif

/* The fast path's test of the canary (the quick test needs the 8-byte fill of release builds;
 * debug builds take the checked path for every free). */
#if MI_CHECK_PADDING && MI_PADDING_FILL == 8
static inline bool mi_free_padding_quick_ok(const mi_page_t* page, const mi_block_t* block) { return mi_padding_quick_ok(page, block); }
#elif !MI_CHECK_PADDING
static inline bool mi_free_padding_quick_ok(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
  return true;
}
#endif

#if MI_PADDING && MI_STAT > 1
/* Exact statistics: the padding knows the request, so the freeing thread can subtract it. */
static void mi_free_stat_requested(const mi_page_t* page, const mi_block_t* block) {
  mi_heap_t* heap = mi_prim_get_default_heap();
  if (mi_heap_is_initialized(heap)) {
    bool ok;
    _mi_stat_decrease(&heap->tld->stats.malloc_requested, mi_padding_requested(page, block, &ok));
  }
}
#else
static inline void mi_free_stat_requested(const mi_page_t* page, const mi_block_t* block) {
  (void)page;
  (void)block;
}
#endif

#if MI_FILL
/* Everything but the link word and the padding; a block of a zero-size request is all padding
 * (and so `fill` must not be computed by a subtraction that can wrap). */
static void mi_free_fill(const mi_page_t* page, mi_block_t* block) {
  size_t used_part = sizeof(mi_block_t) + MI_PADDING_SIZE;
  if (page->block_size > used_part) {
    size_t fill = page->block_size - used_part;
    memset((uint8_t*)block + sizeof(mi_block_t), MI_DEBUG_FREED, fill < 64 * MI_KiB ? fill : 64 * MI_KiB);
  }
}
#else
static inline void mi_free_fill(const mi_page_t* page, mi_block_t* block) {
  (void)page;
  (void)block;
}
#endif

#if MI_TRACK_VALGRIND
/* The aligned path hands out `adjust` bytes into a block it allocated for `oversize` bytes:
 * from now on the block is the `size` bytes the program sees, to memcheck and to
 * mi_usable_size alike, and heap destruction can find the pointer memcheck knows. */
void _mi_track_align(void* p, size_t oversize, size_t adjust, size_t size, bool zero) {
  mi_page_t* page = _mi_ptr_page(p);
  mi_block_t* block = (mi_block_t*)p;
  mi_track_free(p);
  mi_track_mem_undefined(block, page->block_size);
  _mi_padding_init(page, block, adjust + size);
  mi_block_padding(page, block)->track_offset = (uint32_t)adjust;
  mi_track_mem_noaccess(block, page->block_size);
  mi_track_malloc((uint8_t*)p + adjust, size, zero);
#if MI_STAT > 1
  _mi_stat_decrease(&mi_page_heap(page)->tld->stats.malloc_requested, oversize - adjust - size);
#else
  (void)oversize;
#endif
}

/* A live block freed by heap destruction, without the program calling free. */
void _mi_track_destroy_block(const mi_page_t* page, const mi_block_t* block) {
  mi_padding_t* pad = mi_block_padding(page, block);
  mi_track_mem_defined(pad, sizeof(mi_padding_t));
  size_t offset = pad->track_offset;
  mi_track_mem_noaccess(pad, sizeof(mi_padding_t));
  mi_track_free((const uint8_t*)block + offset);
}
#endif

/* Checks run before a block is freed; false refuses the free. Memcheck already considers the
 * block free: the checks open it for themselves and close it again. */
static inline bool mi_free_checks(mi_page_t* page, mi_block_t* block) {
  if (mi_check_is_double_free(page, block)) return false; /* reads only the link, opened by itself */
  mi_track_mem_defined(block, page->block_size);
  if (!mi_check_padding(page, block)) {
    /* a handler went on: the block leaks rather than going back on a list next to damage */
    mi_track_mem_noaccess(block, page->block_size);
    return false;
  }
  mi_free_stat_requested(page, block);
  mi_free_fill(page, block);
  mi_track_mem_noaccess(block, page->block_size);
  return true;
}

#define MI_FREE_CHECKS (MI_CHECK_DOUBLE_FREE || MI_CHECK_PADDING || MI_FILL) /* MI_STAT > 1 implies padding checks */

/* Does mi_free test for NULL itself? Not when the segment map refuses it (checked builds, 64-bit),
 * but always under valgrind, and with 32-bit pointers: there the map covers the whole address
 * space, and the top slot, where NULL's p-1 falls, may hold one of our segments (qemu-user maps
 * there). */
#define MI_FREE_TESTS_NULL (!MI_CHECK_OWNED || MI_TRACK_VALGRIND || MI_INTPTR_SIZE < 8)

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
  mi_tf_chain_describe(page, block, block, 1); /* a chain of one, for either list it joins */
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
    /* no descriptor on this road: none may stay behind (a function of the keys) */
    if (MI_ENCODE_FREELIST && mi_page_tf_chains(page)) mi_block_word1_write(block, 0);
    mi_block_t* dfree = mi_atomic_load_relaxed(&heap->thread_delayed_free);
    do {
      mi_block_set_nextx(heap, block, dfree);
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

#if MI_REMOTE_BATCH
_Static_assert(MI_REMOTE_SLOTS <= MI_INTPTR_BITS && (MI_REMOTE_SLOTS & (MI_REMOTE_SLOTS - 1)) == 0,
               "slots are a power of two with a bit each in `pending`");

/* Pushes slot i's chain head..tail on its page's thread_free list with one CAS. When the owner
 * has meanwhile moved the page to its full queue, the newest block takes the delayed road to
 * tell it, after the others went on thread_free, where the owner collects them when it handles
 * that block. */
static mi_decl_noinline void mi_remote_chain_push(mi_remote_batch_t* rb, size_t i) {
  mi_remote_chain_t* const c = &rb->slot[i];
  mi_page_t* const page = c->page;
  mi_block_t* const head = c->head;
  mi_block_t* const tail = c->tail;
  c->page = NULL;
  rb->pending &= ~((size_t)1 << i);
#if MI_CHECK_DOUBLE_FREE
  if (mi_unlikely(!mi_pending_settle(page, head, tail, c->count))) return;
#endif
  mi_tf_chain_describe(page, head, tail, c->count);
  mi_thread_free_t tfree = mi_atomic_load_relaxed(&page->xthread_free);
  mi_thread_free_t tfreex;
  do {
    if (mi_unlikely(mi_tf_delayed(tfree) == MI_USE_DELAYED_FREE)) {
      if (head != tail) {
        mi_block_t* rest = mi_block_next_raw(page, head); /* written by this thread */
        mi_tf_chain_describe(page, rest, tail, c->count - 1);
        do {
          mi_block_set_next(page, tail, mi_tf_block(tfree));
          tfreex = mi_tf_set_block(tfree, rest);
        } while (!mi_atomic_cas_weak_acq_rel(&page->xthread_free, &tfree, tfreex));
      }
      mi_free_block_mt(page, head);
      return;
    }
    mi_block_set_next(page, tail, mi_tf_block(tfree));
    tfreex = mi_tf_set_block(tfree, head);
  } while (!mi_atomic_cas_weak_acq_rel(&page->xthread_free, &tfree, tfreex));
}

void _mi_remote_batch_push_all(mi_tld_t* tld) {
  mi_remote_batch_t* const rb = &tld->remote;
  while (rb->pending != 0) mi_remote_chain_push(rb, (size_t)__builtin_ctzll((unsigned long long)rb->pending));
}

/* Descriptors lie 192 bytes apart, 3 * 64 with 3 odd, so consecutive pages of a segment take
 * distinct slots in runs of MI_REMOTE_SLOTS. Segments are aligned to their size, so without the
 * segment's number in it the same page of every segment would take the same slot: a consumer
 * freeing into a producer's pages of many size classes, spread over a few segments, pushed
 * most chains early because another page wanted the slot (xmalloc: 85-95 % of the pushes,
 * 5.3 blocks a chain; with the segment's number xor-ed in, 14-17 blocks a chain). */
static inline size_t mi_remote_slot(const mi_page_t* page) {
  return (size_t)(((uintptr_t)page >> 6) ^ ((uintptr_t)page >> MI_SEGMENT_SHIFT)) & (MI_REMOTE_SLOTS - 1);
}

#if MI_CHECK_DOUBLE_FREE
/* Does this thread's chain into `page` hold `block`? At most the chain's count of blocks; a
 * link that leaves the page ends the walk (the push reports it). */
static bool mi_remote_chain_contains(const mi_page_t* page, const mi_block_t* block) {
  mi_heap_t* heap = mi_prim_get_default_heap();
  if (!mi_heap_is_initialized(heap)) return false;
  const mi_remote_chain_t* c = &heap->tld->remote.slot[mi_remote_slot(page)];
  if (c->page != page) return false;
  const mi_block_t* b = c->head;
  for (size_t i = 0; i < c->count; i++) {
    if (b == block) return true;
    uintptr_t offset = mi_pending_link_offset(page, b);
    if (offset >= page->block_area) return false;
    b = (const mi_block_t*)((uintptr_t)page->page_start + offset);
  }
  return false;
}
#endif

/* A free from a thread that does not own the page. Frees into one page (a consumer freeing
 * what a producer allocated, in allocation order) are chained here, a chain per page in up to
 * MI_REMOTE_SLOTS pages, and pushed with one CAS per MI_REMOTE_BATCH_MAX blocks (fewer for blocks
 * over 2 KiB: a chain holds at most MI_REMOTE_CHAIN_BYTES) or when another page needs the slot, instead of one CAS per block on the cache line that the owner takes
 * back whenever it collects. Every chain is pushed too when this thread takes its allocation
 * slow path, collects, or ends, so a block waits at most until then. Not chained: pages of heaps
 * that mi_heap_destroy may free while blocks are live, pages of blocks over half of MI_REMOTE_CHAIN_BYTES (their memory
 * should go back promptly), pages in the owner's full queue (their first free tells the owner
 * at once), and pages without an owner (abandoned or being abandoned: no owner collects them
 * soon, and the thread that adopts the segment should find every block it can free). This is
 * the rest of the road; mi_free_block_remote takes the common case. */
static mi_decl_noinline void mi_free_block_remote_chain(mi_page_t* page, mi_block_t* block) {
  mi_heap_t* heap = mi_prim_get_default_heap();
  if (mi_unlikely(!mi_heap_is_initialized(heap))) {
    /* a thread that only frees (a consumer) gets its thread state now: its exit then pushes
     * its chains like any other thread's; one whose exit already ran frees unchained */
    if (!_mi_thread_has_ended()) {
      mi_thread_init();
      heap = mi_prim_get_default_heap();
    }
    if (!mi_heap_is_initialized(heap)) {
      mi_free_block_mt(page, block);
      return;
    }
  }
  mi_remote_batch_t* const rb = &heap->tld->remote;
  const size_t i = mi_remote_slot(page);
  mi_remote_chain_t* const c = &rb->slot[i];
  if (c->page == page) { /* the chain is full with this block */
    mi_block_set_pending(page, block, c->head);
    c->head = block;
    c->count++;
    mi_remote_chain_push(rb, i);
    return;
  }
  if (c->page != NULL) mi_remote_chain_push(rb, i);
  c->page = page;
  c->head = block;
  c->tail = block;
  c->count = 1;
#if MI_CHECK_DOUBLE_FREE
  mi_block_set_pending(page, block, block); /* the tail's link is written at the push */
#endif
  size_t blocks = MI_REMOTE_CHAIN_BYTES / page->block_size; /* >= 2: see mi_free_block_remote_slow */
  c->full_at = (uint32_t)(blocks < MI_REMOTE_BATCH_MAX ? blocks : MI_REMOTE_BATCH_MAX) - 1;
  rb->pending |= (size_t)1 << i;
}

/* Both of its roads are tail calls: no stack frame for a page that is not chained. */
static mi_decl_noinline void mi_free_block_remote_slow(mi_page_t* page, mi_block_t* block) {
  if (page->heap_may_destroy || page->block_size > MI_REMOTE_CHAIN_BYTES / 2 ||
      (MI_CHECK_DOUBLE_FREE && page->block_size < 2 * sizeof(uintptr_t)) || /* no room for the mark */
      mi_tf_delayed(mi_atomic_load_relaxed(&page->xthread_free)) != MI_NO_DELAYED_FREE) {
    mi_free_block_mt(page, block); /* any chain in its slot stays */
  } else {
    mi_free_block_remote_chain(page, block);
  }
}

/* Budget: the heap's TLS load, the tld, the slot, one compare of the page and of the count,
 * three stores; no atomics, and no stack frame (anything else is a tail call). */
static inline void mi_free_block_remote(mi_page_t* page, mi_block_t* block) {
  mi_heap_t* const heap = mi_prim_get_default_heap();
  if (mi_likely(mi_heap_is_initialized(heap))) {
    mi_remote_chain_t* const c = &heap->tld->remote.slot[mi_remote_slot(page)];
    if (mi_likely(c->page == page && c->count < c->full_at)) {
      mi_block_set_pending(page, block, c->head);
      c->head = block;
      c->count++;
      return;
    }
  }
  mi_free_block_remote_slow(page, block);
}
#else
static inline void mi_free_block_remote(mi_page_t* page, mi_block_t* block) { mi_free_block_mt(page, block); }
#endif

void _mi_free_block(mi_page_t* page, bool local, mi_block_t* block) {
  if (mi_unlikely(mi_page_is_corrupt(page))) return; /* refused: the block leaks (page.c, dropping) */
  _mi_assert(_mi_ptr_page(block) == page && page->segment_in_use);
  if (mi_likely(local)) {
    mi_block_set_next(page, block, page->local_free);
    page->local_free = block;
    page->used--;
    if (mi_unlikely(mi_page_is_in_full(page))) _mi_page_unfull(page);
    if (mi_unlikely(page->used == 0)) _mi_page_retire(page);
  } else {
    mi_free_block_remote(page, block);
  }
}

/* A block that another thread put on this heap's delayed list. */
void _mi_free_delayed_block(mi_block_t* block) {
  mi_page_t* page = _mi_ptr_page(block);
  _mi_page_use_delayed_free(page, MI_NO_DELAYED_FREE, false);
  _mi_page_free_collect(page, false);
  _mi_free_block(page, true, block);
}

/* Whether a free of `block`, known to be a block start, may skip mi_free_checks: only when the
 * checks are the double-free test alone and the block's link word does not look freed. The
 * debug checks (padding, fill, exact statistics) always take the checked path. */
static inline bool mi_free_checks_pass_fast_at_start(const mi_page_t* page, const mi_block_t* block) {
#if MI_CHECK_DOUBLE_FREE && !MI_FILL && !(MI_PADDING && MI_STAT > 1)
  if (!mi_free_padding_quick_ok(page, block)) return false; /* mi_free_checked reports it */
  return !mi_check_is_double_free_suspect(page, block);
#else
  (void)page;
  (void)block;
  return !MI_FREE_CHECKS;
#endif
}

/* The same for the owner's fast path, which has not asked whether `block` is a block start. */
static inline bool mi_free_checks_pass_fast(const mi_page_t* page, const mi_block_t* block) {
  if (!mi_page_is_block_start(page, block)) return false; /* mi_free_generic reports it */
  return mi_free_checks_pass_fast_at_start(page, block);
}

/* A free whose block the quick test could not clear, or (debug) any free. Unchecked builds
 * never call it: their quick test always passes. */
static mi_decl_noinline void mi_free_checked(mi_page_t* page, bool local, mi_block_t* block) {
  if (mi_free_checks(page, block)) _mi_free_block(page, local, block);
}

/* Everything but the owner's free of an ordinary block: interior (aligned) pointers, pages in
 * the full queue, frees from other threads, and in checked builds every free whose block the
 * fast path could not clear. The full checks are a tail call away, so a free from another
 * thread whose block passes the quick test needs no stack frame here either. */
static mi_decl_forceinline void mi_free_generic(mi_page_t* page, bool local, void* p) {
  _mi_assert(local == (mi_atomic_load_relaxed(&_mi_page_segment(page)->thread_id) == _mi_thread_id()));
  if (mi_free_is_interior(page, p)) {
    mi_free_report_interior(page, p);
    return;
  }
  /* a block start now: `p` passed the interior test, or its page's blocks were unaligned */
  mi_block_t* block = (mi_page_has_aligned(page) ? _mi_page_ptr_unalign(page, p) : (mi_block_t*)p);
  if (mi_unlikely(!mi_free_checks_pass_fast_at_start(page, block))) {
    mi_free_checked(page, local, block);
    return;
  }
  _mi_free_block(page, local, block);
}

/* mi_free's three roads out of its fast path. Each takes `p` first, where it arrived, so the
 * fast path copies nothing out of the way of the page argument; and each is its own function
 * with `local` fixed, so that the remote road keeps the page in an argument register instead
 * of saving it across the owner's calls (which would cost it a stack frame). */
static mi_decl_noinline void mi_free_generic_local(void* p, mi_page_t* page) { mi_free_generic(page, true, p); }

static mi_decl_noinline void mi_free_generic_remote(void* p, mi_page_t* page) { mi_free_generic(page, false, p); }

static mi_decl_noinline void mi_free_retire(void* p, mi_page_t* page) {
  (void)p;
  _mi_page_retire(page);
}

/* The owner's free once the page is known to be in use and the block inside it. */
static inline void mi_free_local(mi_page_t* page, void* p) {
  _mi_assert(_mi_ptr_page(p) == page && mi_atomic_load_relaxed(&_mi_page_segment(page)->thread_id) == _mi_thread_id());
  if (mi_likely(mi_page_flags_owner(page) == 0 && mi_free_checks_pass_fast(page, (mi_block_t*)p))) {
    mi_block_t* const block = (mi_block_t*)p;
    mi_block_set_next(page, block, page->local_free);
    page->local_free = block;
    if (mi_unlikely(--page->used == 0)) mi_free_retire(p, page);
    return;
  }
  mi_free_generic_local(p, page);
}

#if MI_CHECK_OWNED
mi_decl_thread const mi_segment_t* _mi_free_owned[MI_OWNED_SLOTS] = {
    MI_SEGMENT_NONE, MI_SEGMENT_NONE, MI_SEGMENT_NONE, MI_SEGMENT_NONE,
    MI_SEGMENT_NONE, MI_SEGMENT_NONE, MI_SEGMENT_NONE, MI_SEGMENT_NONE,
};
_Static_assert(MI_OWNED_SLOTS == 8, "the initialiser above has a value per slot");
#endif

/* Budget (owner, ordinary page): mask, one compare of the thread id, one flags test, two
 * stores, one decrement; no atomics (24 instructions on x86-64 with GCC). Checked builds add the ownership test (map bit, in-use
 * page, block area) and the double-free test (decode the link word, one range compare); every
 * call out of the fast path is a tail call, so it saves no registers. A free into a segment
 * this thread freed into before as its owner (found in _mi_free_owned) skips the map bit and
 * the owner's thread id: three instructions and a compare instead of thirteen. Eight slots
 * rather than one, so that a program freeing into small and medium segments in turn does not
 * keep missing. */
void mi_free(void* p) mi_attr_noexcept {
  if (MI_FREE_TESTS_NULL && mi_unlikely(p == NULL)) return;
  mi_track_free(p); /* first: memcheck itself names a double, foreign or interior-pointer free */
  mi_segment_t* const segment = _mi_ptr_segment(p);
  if (mi_likely(mi_free_owned_hit(segment))) {
    mi_page_t* page = _mi_segment_page_of(segment, p);
    mi_opaque(page);
    if (mi_unlikely(!mi_free_is_owned(page, p))) {
      mi_free_report_not_owned(p);
      return;
    }
    mi_free_local(page, p);
    return;
  }
  if (mi_unlikely(!mi_free_segment_known(p))) {
    mi_free_report_not_owned(p);
    return;
  }
  mi_page_t* page = _mi_segment_page_of(segment, p);
  mi_opaque(page);
  if (mi_unlikely(!mi_free_is_owned(page, p))) {
    mi_free_report_not_owned(p);
    return;
  }
  if (mi_likely(mi_atomic_load_relaxed(&segment->thread_id) == _mi_thread_id())) {
    mi_free_owned_remember(segment);
    mi_free_local(page, p);
  } else {
    mi_free_generic_remote(p, page);
  }
}

void mi_free_small(void* p) mi_attr_noexcept { mi_free(p); }

size_t _mi_usable_size(const void* p, const char* msg) {
  (void)msg;
  if (p == NULL) return 0;
  const mi_segment_t* segment = _mi_ptr_segment(p);
  const mi_page_t* page = _mi_segment_page_of(segment, p);
  const mi_block_t* block = (mi_page_has_aligned(page) ? _mi_page_ptr_unalign(page, p) : (const mi_block_t*)p);
  size_t offset = (size_t)((const uint8_t*)p - (const uint8_t*)block);
  return mi_block_usable_from(page, block, offset);
}

size_t mi_usable_size(const void* p) mi_attr_noexcept { return _mi_usable_size(p, "mi_usable_size"); }
