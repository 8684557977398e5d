/* SPDX-License-Identifier: MIT
 * The allocation entry points: the small-size fast path (TLS load, direct page lookup, pop the
 * page's free list), zeroing, reallocation and the string helpers. The fast path has no
 * atomics, no locks and no calls; everything else falls into `_mi_malloc_generic` (page.c). */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#include <limits.h>
#include <stdlib.h>

#if MI_ENCODE_FREELIST
/* Reached through a tail call, so the fast path below needs no stack frame for it (noipa:
 * a function the compiler knows never returns is called, never jumped to). GCC only: clang
 * (macOS, FreeBSD) has no noipa and warns about it. */
#if defined(__clang__)
#define MI_ATTR_NOIPA
#else
#define MI_ATTR_NOIPA __attribute__((noipa))
#endif
static mi_decl_noinline mi_decl_cold MI_ATTR_NOIPA void* mi_page_malloc_corrupted(mi_heap_t* heap, mi_page_t* page, const mi_block_t* block,
                                                                                 size_t size, bool zero) {
  _mi_error_freelist_corrupted(page, block);
  /* a handler went on: the page is dropped, another one serves (or NULL) */
  return _mi_malloc_generic(heap, size, zero, 0);
}
#endif

/* Budget: ~10 instructions, one predictable branch, no atomics. The encoded free list adds the
 * decode and one range compare, laid out so that a valid link runs straight through. */
void* _mi_page_malloc(mi_heap_t* heap, mi_page_t* page, size_t size, bool zero) {
  mi_block_t* const block = page->free;
  if (mi_unlikely(block == NULL)) return _mi_malloc_generic(heap, size, zero, 0);
#if MI_ENCODE_FREELIST
  /* what mi_block_next checks, laid out for this path: a list's end is the rare case here */
  uintptr_t const offset = mi_link_offset(page, mi_block_link_read(block));
  mi_block_t* const next = (mi_block_t*)((uintptr_t)page->page_start + offset); /* NULL may come out */
  if (mi_unlikely(offset >= page->block_area && next != NULL)) return mi_page_malloc_corrupted(heap, page, block, size, zero);
  page->free = next;
#else
  page->free = mi_block_next(page, block);
#endif
  page->used++;
  mi_track_mem_undefined(block, page->block_size); /* ours to write until handed out */
  if (mi_unlikely(zero)) {
    if (page->free_is_zero) block->next = 0; /* only the link word was ever written */
    else memset(block, 0, page->block_size - MI_PADDING_SIZE);
  }
#if MI_FILL
  else {
    size_t fill = page->block_size - MI_PADDING_SIZE;
    memset(block, MI_DEBUG_UNINIT, fill < 64 * MI_KiB ? fill : 64 * MI_KiB);
  }
#elif MI_ENCODE_FREELIST
  /* the encoded link would show the program a function of the page keys; and a block whose
   * first word still decodes into its page looks freed to the double-free check, which then
   * searches the page's lists on every free of a block whose first word was never written */
  else {
    block->next = 0;
  }
#endif
#if MI_PADDING
  _mi_padding_init(page, block, size);
#endif
#if MI_STAT > 1
  _mi_stat_increase(&heap->tld->stats.malloc_requested, size);
  _mi_stat_counter_increase(&heap->tld->stats.normal_count, 1);
#else
  (void)heap;
  (void)size;
#endif
  /* memcheck's block is exactly the request; the rest (padding included) is off limits */
  mi_track_malloc(block, size, zero);
  mi_track_mem_noaccess((uint8_t*)block + size, page->block_size - size);
  return block;
}

/* `size` is what the caller asked for; the block must also hold the debug padding. */
static inline void* mi_heap_malloc_small_zero(mi_heap_t* heap, size_t size, bool zero) {
  mi_page_t* page = _mi_heap_get_free_small_page(heap, size + MI_PADDING_SIZE);
  return _mi_page_malloc(heap, page, size, zero);
}

void* _mi_heap_malloc_zero(mi_heap_t* heap, size_t size, bool zero) {
#if MI_PADDING
  /* the usable size is the requested size here: keep a zero-size block usable (>= 1 byte) */
  if (size == 0) size = 1;
#endif
  if (mi_likely(size <= MI_SMALL_SIZE_MAX - MI_PADDING_SIZE)) return mi_heap_malloc_small_zero(heap, size, zero);
  return _mi_malloc_generic(heap, size, zero, 0);
}

void* mi_heap_malloc(mi_heap_t* heap, size_t size) mi_attr_noexcept { return _mi_heap_malloc_zero(heap, size, false); }

void* mi_malloc(size_t size) mi_attr_noexcept { return _mi_heap_malloc_zero(mi_prim_get_default_heap(), size, false); }

void* mi_heap_malloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept { return _mi_heap_malloc_zero(heap, size, false); }

void* mi_malloc_small(size_t size) mi_attr_noexcept { return mi_heap_malloc_small(mi_prim_get_default_heap(), size); }

void* mi_zalloc_small(size_t size) mi_attr_noexcept { return _mi_heap_malloc_zero(mi_prim_get_default_heap(), size, true); }

void* mi_heap_zalloc(mi_heap_t* heap, size_t size) mi_attr_noexcept { return _mi_heap_malloc_zero(heap, size, true); }

void* mi_heap_zalloc_small(mi_heap_t* heap, size_t size) mi_attr_noexcept { return _mi_heap_malloc_zero(heap, size, true); }

void* mi_zalloc(size_t size) mi_attr_noexcept { return mi_heap_zalloc(mi_prim_get_default_heap(), size); }

void* mi_heap_calloc(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept {
  size_t total;
  if (mi_count_size_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_heap_zalloc(heap, total);
}

void* mi_calloc(size_t count, size_t size) mi_attr_noexcept { return mi_heap_calloc(mi_prim_get_default_heap(), count, size); }

void* mi_heap_mallocn(mi_heap_t* heap, size_t count, size_t size) mi_attr_noexcept {
  size_t total;
  if (mi_count_size_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_heap_malloc(heap, total);
}

void* mi_mallocn(size_t count, size_t size) mi_attr_noexcept { return mi_heap_mallocn(mi_prim_get_default_heap(), count, size); }

/* ---- Reallocation ------------------------------------------------------------------------- */

void* mi_expand(void* p, size_t newsize) mi_attr_noexcept {
  if (p == NULL) return NULL;
  size_t size = _mi_usable_size(p, "mi_expand");
  return (newsize > size ? NULL : p);
}

void* _mi_heap_realloc_zero(mi_heap_t* heap, void* p, size_t newsize, bool zero) {
  size_t size = _mi_usable_size(p, "mi_realloc");
  /* stay in place while the block is big enough and at most half of it would be wasted */
  if (mi_unlikely(newsize <= size && newsize >= size / 2 && newsize > 0)) {
    /* rezalloc keeps every byte past the request zero up to the usable size, because the next
     * rezalloc that grows the block treats them as its zeroed growth (a shrink in place would
     * otherwise leave old data there: test-bad-input.c, test_rezalloc_tail_is_zero) */
    if (zero) memset((uint8_t*)p + newsize, 0, size - newsize);
    return p;
  }
  /* A block that grows by small steps (a string or vector appended to) takes one size class of
   * headroom: our classes are an eighth of a doubling apart, so without it such a block is
   * copied at every eighth of a doubling, twice as often as with four classes per doubling. */
  size_t alloc = newsize;
  /* (not under valgrind: memcheck's block is the request, exactly; tests/valgrind.rs realloc-leak) */
  if (!MI_TRACK_VALGRIND && p != NULL && newsize > size && newsize > MI_BIN_LINEAR_MAX && newsize <= MI_LARGE_OBJ_SIZE_MAX && newsize - size <= size / 4) {
    alloc = newsize + newsize / 8;
  }
  void* newp = mi_heap_malloc(heap, alloc);
  if (mi_likely(newp != NULL)) {
    size_t copied = (newsize > size ? size : newsize);
    if (p != NULL) memcpy(newp, p, copied);
    /* zero to the new block's usable size, not just to the request: see above */
    if (zero) memset((uint8_t*)newp + copied, 0, mi_usable_size(newp) - copied);
    if (p != NULL) mi_free(p);
  }
  return newp;
}

void* mi_heap_realloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept { return _mi_heap_realloc_zero(heap, p, newsize, false); }

void* mi_heap_reallocn(mi_heap_t* heap, void* p, size_t count, size_t size) mi_attr_noexcept {
  size_t total;
  if (mi_count_size_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_heap_realloc(heap, p, total);
}

void* mi_heap_reallocf(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept {
  void* newp = mi_heap_realloc(heap, p, newsize);
  if (newp == NULL && p != NULL) mi_free(p);
  return newp;
}

void* mi_heap_rezalloc(mi_heap_t* heap, void* p, size_t newsize) mi_attr_noexcept { return _mi_heap_realloc_zero(heap, p, newsize, true); }

void* mi_heap_recalloc(mi_heap_t* heap, void* p, size_t count, size_t size) mi_attr_noexcept {
  size_t total;
  if (mi_count_size_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_heap_rezalloc(heap, p, total);
}

void* mi_realloc(void* p, size_t newsize) mi_attr_noexcept { return mi_heap_realloc(mi_prim_get_default_heap(), p, newsize); }
void* mi_reallocn(void* p, size_t count, size_t size) mi_attr_noexcept { return mi_heap_reallocn(mi_prim_get_default_heap(), p, count, size); }
void* mi_reallocf(void* p, size_t newsize) mi_attr_noexcept { return mi_heap_reallocf(mi_prim_get_default_heap(), p, newsize); }
void* mi_rezalloc(void* p, size_t newsize) mi_attr_noexcept { return mi_heap_rezalloc(mi_prim_get_default_heap(), p, newsize); }
void* mi_recalloc(void* p, size_t count, size_t size) mi_attr_noexcept { return mi_heap_recalloc(mi_prim_get_default_heap(), p, count, size); }

/* ---- Strings ------------------------------------------------------------------------------- */

char* mi_heap_strdup(mi_heap_t* heap, const char* s) mi_attr_noexcept {
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  char* t = (char*)mi_heap_malloc(heap, n + 1);
  if (t != NULL) memcpy(t, s, n + 1);
  return t;
}

char* mi_heap_strndup(mi_heap_t* heap, const char* s, size_t n) mi_attr_noexcept {
  if (s == NULL) return NULL;
  size_t m = strnlen(s, n);
  char* t = (char*)mi_heap_malloc(heap, m + 1);
  if (t == NULL) return NULL;
  memcpy(t, s, m);
  t[m] = 0;
  return t;
}

char* mi_heap_realpath(mi_heap_t* heap, const char* fname, char* resolved_name) mi_attr_noexcept {
  if (resolved_name != NULL) return _mi_prim_realpath(fname, resolved_name);
  /* resolve into a stack buffer: libc's own allocation would not come from our heap */
  char buf[PATH_MAX];
  char* rname = _mi_prim_realpath(fname, buf);
  if (rname == NULL) return NULL;
  return mi_heap_strdup(heap, buf);
}

char* mi_strdup(const char* s) mi_attr_noexcept { return mi_heap_strdup(mi_prim_get_default_heap(), s); }
char* mi_strndup(const char* s, size_t n) mi_attr_noexcept { return mi_heap_strndup(mi_prim_get_default_heap(), s, n); }
char* mi_realpath(const char* fname, char* resolved_name) mi_attr_noexcept {
  return mi_heap_realpath(mi_prim_get_default_heap(), fname, resolved_name);
}
