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
  _mi_assert(page->free == block && mi_page_heap(page) == heap);
  _mi_error_freelist_corrupted(page, block);
  /* a handler went on: the page is dropped, another one serves (or NULL) */
  return _mi_malloc_generic(heap, size, zero, 0);
}
#endif

/* Budget: ~10 instructions, one predictable branch, no atomics. The encoded free list adds the
 * decode and one range compare, laid out so that a valid link runs straight through. */
static mi_decl_forceinline void* mi_page_malloc(mi_heap_t* heap, mi_page_t* page, size_t size, bool zero) {
  mi_block_t* const block = page->free;
  if (mi_unlikely(block == NULL)) return _mi_malloc_generic(heap, size, zero, 0);
  /* a page with a free block is a real one, of this heap, and the block lies in its area */
  _mi_assert(mi_page_heap(page) == heap && mi_page_contains_addr(page, block) && size + MI_PADDING_SIZE <= page->block_size);
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
  /* the next call reads that block's link and the program then writes it: a block freed by
   * another thread, or long ago, is not in this core's cache, and the load would stall the
   * next call; fetched now, it arrives while the program works (NULL: a no-op) */
  mi_prefetch_write(page->free);
  _mi_assert(page->used <= page->capacity);
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

void* _mi_page_malloc(mi_heap_t* heap, mi_page_t* page, size_t size, bool zero) { return mi_page_malloc(heap, page, size, zero); }

/* `size` is what the caller asked for; the block must also hold the debug padding. */
static inline void* mi_heap_malloc_small_zero(mi_heap_t* heap, size_t size, bool zero) {
  _mi_assert(size + MI_PADDING_SIZE <= MI_SMALL_SIZE_MAX);
  mi_page_t* page = _mi_heap_get_free_small_page(heap, size + MI_PADDING_SIZE);
  return mi_page_malloc(heap, page, size, zero);
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

/* mi_malloc's way out: `size` stays in the first argument register, so the fast path keeps
 * no copy of it for a call, and the heap is loaded again here. */
static mi_decl_noinline void* mi_malloc_slow(size_t size) {
  return _mi_malloc_generic(mi_prim_get_default_heap(), size, false, 0);
}

/* What _mi_heap_malloc_zero does, with the empty free list tested here so that both slow
 * cases are one tail call that passes `size` where it arrived. Budget (default build): 15
 * instructions, two predictable branches, the TLS load and no atomics. */
void* mi_malloc(size_t size) mi_attr_noexcept {
#if MI_PADDING
  if (size == 0) size = 1;
#endif
  if (mi_likely(size <= MI_SMALL_SIZE_MAX - MI_PADDING_SIZE)) {
    mi_heap_t* const heap = mi_prim_get_default_heap();
    mi_page_t* const page = _mi_heap_get_free_small_page(heap, size + MI_PADDING_SIZE);
    if (mi_likely(page->free != NULL)) return mi_page_malloc(heap, page, size, false);
  }
  return mi_malloc_slow(size);
}

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
    _mi_assert(p != NULL); /* the usable size of NULL is 0 */
    /* rezalloc keeps every byte past the request zero up to the usable size, because the next
     * rezalloc that grows the block treats them as its zeroed growth (a shrink in place would
     * otherwise leave old data there: test-bad-input.c, test_rezalloc_tail_is_zero) */
    if (zero) memset((uint8_t*)p + newsize, 0, size - newsize);
    return p;
  }
  /* a huge block grows into the slack its segment reserved, without a copy */
  if (newsize > size && newsize > MI_LARGE_OBJ_SIZE_MAX && p != NULL && _mi_segment_huge_expand(p, newsize)) {
    if (zero) memset((uint8_t*)p + size, 0, mi_usable_size(p) - size);
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
    _mi_assert(alloc >= newsize && mi_usable_size(newp) >= newsize && newp != p);
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
  _mi_assert(t == NULL || mi_usable_size(t) > n);
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

/* ---- Sized allocation ------------------------------------------------------------------------ */

/* The usable size of a fresh block, or 0 for a failed allocation, to the out parameter. */
static inline void* mi_report_block_size(void* p, size_t* block_size) {
  if (block_size != NULL) *block_size = (p == NULL ? 0 : mi_usable_size(p));
  return p;
}

/* A small block taken straight from a page's free list has the page's block size: that saves
 * the segment and page lookup of mi_usable_size, which costs about as much as the allocation
 * (with padding the usable size is the request, so those builds take the general road). */
static inline void* mi_heap_umalloc_zero(mi_heap_t* heap, size_t size, bool zero, size_t* block_size) {
#if !MI_PADDING
  if (mi_likely(size <= MI_SMALL_SIZE_MAX)) {
    mi_page_t* page = _mi_heap_get_free_small_page(heap, size);
    if (mi_likely(page->free != NULL)) {
      _mi_assert(page->block_size >= size && page->block_size == _mi_bin_size(_mi_bin(size)));
      if (block_size != NULL) *block_size = page->block_size;
      return _mi_page_malloc(heap, page, size, zero);
    }
  }
#endif
  return mi_report_block_size(_mi_heap_malloc_zero(heap, size, zero), block_size);
}

void* mi_heap_umalloc(mi_heap_t* heap, size_t size, size_t* block_size) mi_attr_noexcept {
  return mi_heap_umalloc_zero(heap, size, false, block_size);
}
void* mi_heap_uzalloc(mi_heap_t* heap, size_t size, size_t* block_size) mi_attr_noexcept {
  return mi_heap_umalloc_zero(heap, size, true, block_size);
}
void* mi_umalloc(size_t size, size_t* block_size) mi_attr_noexcept {
  return mi_heap_umalloc_zero(mi_prim_get_default_heap(), size, false, block_size);
}
void* mi_ucalloc(size_t count, size_t size, size_t* block_size) mi_attr_noexcept {
  return mi_report_block_size(mi_calloc(count, size), block_size);
}
void* mi_umalloc_small(size_t size, size_t* block_size) mi_attr_noexcept {
  return mi_heap_umalloc_zero(mi_prim_get_default_heap(), size, false, block_size);
}
void* mi_uzalloc_small(size_t size, size_t* block_size) mi_attr_noexcept {
  return mi_heap_umalloc_zero(mi_prim_get_default_heap(), size, true, block_size);
}

void* mi_urealloc(void* p, size_t newsize, size_t* block_size_pre, size_t* block_size_post) mi_attr_noexcept {
  if (block_size_pre != NULL) *block_size_pre = mi_usable_size(p);
  return mi_report_block_size(mi_realloc(p, newsize), block_size_post);
}

void mi_ufree(void* p, size_t* block_size) mi_attr_noexcept {
  if (block_size != NULL) *block_size = mi_usable_size(p);
  mi_free(p);
}

/* ---- Wide and multibyte strings --------------------------------------------------------------- */

wchar_t* mi_wcsdup(const wchar_t* s) mi_attr_noexcept {
  if (s == NULL) return NULL;
  size_t n = 0;
  while (s[n] != 0) n++;
  wchar_t* t = (wchar_t*)mi_mallocn(n + 1, sizeof(wchar_t));
  if (t != NULL) memcpy(t, s, (n + 1) * sizeof(wchar_t));
  return t;
}

unsigned char* mi_mbsdup(const unsigned char* s) mi_attr_noexcept { return (unsigned char*)mi_strdup((const char*)s); }

/* ---- C++ allocation semantics ----------------------------------------------------------------- */

/* C++ semantics come from two hooks written in C++ (mimalloc-new-delete.h defines them):
 * `_mi_cxx_new_handler` runs the new handler (true), or finds none and throws std::bad_alloc,
 * or returns false for `nothrow`; `_mi_cxx_throw_bad_alloc` throws. The CMake override library
 * builds them in (MI_CXX_NEW, with -fexceptions so these C frames unwind); elsewhere on ELF a
 * C++ program that includes mimalloc-new-delete.h provides them, found through weak references
 * (x86-64 and AArch64 compilers emit unwind tables for C by default). Without them the new
 * handler is still called, through std::get_new_handler when a C++ runtime is linked, but what
 * cannot be thrown ends the process. */
#ifndef MI_CXX_NEW
#define MI_CXX_NEW 0
#endif
#if MI_CXX_NEW || (defined(__ELF__) && (defined(__GNUC__) || defined(__clang__)))
#define MI_CXX_HOOKS 1
#else
#define MI_CXX_HOOKS 0
#endif

#if MI_CXX_NEW
bool _mi_cxx_new_handler(bool nothrow);
void _mi_cxx_throw_bad_alloc(void);
static bool mi_cxx_hooks_present(void) { return true; }
#else
typedef void (*mi_std_new_handler_t)(void);
#if MI_CXX_HOOKS
bool _mi_cxx_new_handler(bool nothrow) __attribute__((weak));
void _mi_cxx_throw_bad_alloc(void) __attribute__((weak));
static bool mi_cxx_hooks_present(void) { return _mi_cxx_new_handler != NULL && _mi_cxx_throw_bad_alloc != NULL; }
/* std::get_new_handler, there only when the program links a C++ runtime */
extern mi_std_new_handler_t mi_std_get_new_handler(void) __asm__("_ZSt15get_new_handlerv") __attribute__((weak));
static mi_std_new_handler_t mi_get_new_handler(void) { return (mi_std_get_new_handler != NULL ? mi_std_get_new_handler() : NULL); }
#else
static mi_std_new_handler_t mi_get_new_handler(void) { return NULL; }
#endif
#endif

/* After a failed `new`-style allocation: true to retry (a new handler ran and may have freed
 * memory), false to give up (nothrow forms only). */
static bool mi_new_handler_retry(bool nothrow) {
#if MI_CXX_HOOKS
  if (mi_cxx_hooks_present()) return _mi_cxx_new_handler(nothrow);
#endif
#if !MI_CXX_NEW
  mi_std_new_handler_t handler = mi_get_new_handler();
  if (handler != NULL) {
    handler();
    return true;
  }
  if (!nothrow) {
    /* ending here beats returning NULL to a caller that was promised a block */
    _mi_error_message(ENOMEM, "out of memory in a 'new' allocation, and no C++ hooks (mimalloc-new-delete.h) to throw std::bad_alloc\n");
    abort();
  }
#endif
  return false;
}

static mi_decl_noinline mi_decl_cold void* mi_heap_try_new(mi_heap_t* heap, size_t size, size_t alignment, bool nothrow) {
  for (;;) {
    if (!mi_new_handler_retry(nothrow)) return NULL;
    void* p = (alignment == 0 ? mi_heap_malloc(heap, size) : mi_heap_malloc_aligned(heap, size, alignment));
    _mi_assert(p == NULL || alignment == 0 || ((uintptr_t)p & (alignment - 1)) == 0);
    if (p != NULL) return p;
  }
}

/* A bad request (overflowing count, bad alignment) will never succeed: no handler retries. */
static mi_decl_noinline mi_decl_cold void* mi_new_bad_request(bool nothrow) {
  if (nothrow) return NULL;
#if MI_CXX_HOOKS
  if (mi_cxx_hooks_present()) _mi_cxx_throw_bad_alloc();
#endif
  _mi_error_message(ENOMEM, "impossible 'new' allocation request, and no C++ hooks (mimalloc-new-delete.h) to throw std::bad_alloc\n");
  abort();
}

void* mi_heap_alloc_new(mi_heap_t* heap, size_t size) {
  void* p = mi_heap_malloc(heap, size);
  if (mi_unlikely(p == NULL)) return mi_heap_try_new(heap, size, 0, false);
  return p;
}

void* mi_new(size_t size) { return mi_heap_alloc_new(mi_prim_get_default_heap(), size); }

void* mi_new_nothrow(size_t size) mi_attr_noexcept {
  void* p = mi_malloc(size);
  if (mi_unlikely(p == NULL)) return mi_heap_try_new(mi_prim_get_default_heap(), size, 0, true);
  return p;
}

static void* mi_new_aligned_ex(size_t size, size_t alignment, bool nothrow) {
  if (mi_unlikely(alignment == 0 || !_mi_is_power_of_two(alignment))) {
    _mi_error_message(EINVAL, "'new' with an alignment that is not a power of two (%zu)\n", alignment);
    return mi_new_bad_request(nothrow);
  }
  void* p = mi_malloc_aligned(size, alignment);
  if (mi_unlikely(p == NULL)) return mi_heap_try_new(mi_prim_get_default_heap(), size, alignment, nothrow);
  _mi_assert(((uintptr_t)p & (alignment - 1)) == 0);
  return p;
}

void* mi_new_aligned(size_t size, size_t alignment) { return mi_new_aligned_ex(size, alignment, false); }
void* mi_new_aligned_nothrow(size_t size, size_t alignment) mi_attr_noexcept { return mi_new_aligned_ex(size, alignment, true); }

void* mi_heap_alloc_new_n(mi_heap_t* heap, size_t count, size_t size) {
  size_t total;
  if (mi_unlikely(mi_count_size_overflow(count, size, &total))) return mi_new_bad_request(false);
  return mi_heap_alloc_new(heap, total);
}

void* mi_new_n(size_t count, size_t size) { return mi_heap_alloc_new_n(mi_prim_get_default_heap(), count, size); }

void* mi_new_realloc(void* p, size_t newsize) {
  for (;;) {
    void* q = mi_realloc(p, newsize);
    if (mi_likely(q != NULL)) return q;
    (void)mi_new_handler_retry(false); /* returns only after a handler ran */
  }
}

void* mi_new_reallocn(void* p, size_t newcount, size_t size) {
  size_t total;
  if (mi_unlikely(mi_count_size_overflow(newcount, size, &total))) return mi_new_bad_request(false);
  return mi_new_realloc(p, total);
}
