/* SPDX-License-Identifier: MIT
 * Aligned allocation. Small alignments ride on the plain API's guarantee or on a free block
 * that happens to be aligned; up to MI_ALIGN_OVERALLOC_MAX we over-allocate and hand out an
 * interior pointer (the page is flagged so free finds the block start); above that a huge
 * segment is placed so that its single block starts on the alignment. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

static mi_decl_noinline void* mi_heap_malloc_zero_aligned_at_generic(mi_heap_t* heap, size_t size, size_t alignment, size_t offset, bool zero) {
  _mi_assert(alignment > 0 && _mi_is_power_of_two(alignment) && size <= MI_MAX_ALLOC_SIZE && alignment <= MI_MAX_ALLOC_SIZE - size);
  if (alignment > MI_ALIGN_OVERALLOC_MAX) {
    if (offset != 0) {
      _mi_error_message(EOVERFLOW, "aligned allocation with an offset is limited to alignments of %zu bytes (asked for %zu)", (size_t)MI_ALIGN_OVERALLOC_MAX, alignment);
      errno = ENOMEM;
      return NULL;
    }
    void* block = _mi_malloc_generic(heap, (size == 0 ? 1 : size), zero, alignment);
    _mi_assert(block == NULL || ((uintptr_t)block & (alignment - 1)) == 0);
    return block;
  }
  size_t oversize = size + alignment - 1; /* cannot overflow: both are checked by the caller */
  void* p = _mi_heap_malloc_zero(heap, oversize, zero);
  if (p == NULL) return NULL;
  uintptr_t poffset = ((uintptr_t)p + offset) & (alignment - 1);
  uintptr_t adjust = (poffset == 0 ? 0 : alignment - poffset);
  _mi_assert(adjust < alignment && mi_usable_size(p) >= oversize);
#if MI_TRACK_VALGRIND
  _mi_track_align(p, oversize, adjust, size, zero);
#endif
  if (adjust == 0) return p;
  mi_page_set_has_aligned(_mi_ptr_page(p), true);
  /* the interior pointer stays inside its block, with `size` bytes after it */
  _mi_assert(((uintptr_t)p + adjust + offset) % alignment == 0 && mi_usable_size((uint8_t*)p + adjust) >= size);
  return (uint8_t*)p + adjust;
}

static void* mi_heap_malloc_zero_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset, bool zero) {
  if (mi_unlikely(alignment == 0 || !_mi_is_power_of_two(alignment))) {
    _mi_error_message(EINVAL, "aligned allocation requires a power-of-two alignment (asked for %zu)", alignment);
    errno = EINVAL;
    return NULL;
  }
  if (mi_unlikely(size > MI_MAX_ALLOC_SIZE || alignment > MI_MAX_ALLOC_SIZE - size)) {
    _mi_error_message(EOVERFLOW, "aligned allocation request is too large (size %zu, alignment %zu)", size, alignment);
    errno = ENOMEM;
    return NULL;
  }
#if MI_PADDING
  /* the usable size is the request here: keep a zero-size block usable (>= 1 byte), as
   * _mi_heap_malloc_zero does (the small fast path below would hand out 0 bytes otherwise) */
  if (size == 0) size = 1;
#endif
  if (offset == 0 && alignment <= MI_MAX_ALIGN_SIZE) {
    /* mi_malloc(n) is aligned to min(16, largest power of two <= n) */
    void* p = _mi_heap_malloc_zero(heap, (size < alignment ? alignment : size), zero);
    _mi_assert(p == NULL || ((uintptr_t)p & (alignment - 1)) == 0);
    return p;
  }
  if (size <= MI_SMALL_SIZE_MAX - MI_PADDING_SIZE && alignment <= MI_ALIGN_OVERALLOC_MAX) {
    mi_page_t* page = _mi_heap_get_free_small_page(heap, size + MI_PADDING_SIZE);
    if (page->free != NULL && (((uintptr_t)page->free + offset) & (alignment - 1)) == 0) {
      _mi_assert(page->block_size >= size + MI_PADDING_SIZE);
      return _mi_page_malloc(heap, page, size, zero);
    }
  }
  return mi_heap_malloc_zero_aligned_at_generic(heap, size, alignment, offset, zero);
}

void* mi_heap_malloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_malloc_zero_aligned_at(heap, size, alignment, offset, false);
}
void* mi_heap_malloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_malloc_zero_aligned_at(heap, size, alignment, 0, false);
}
void* mi_heap_zalloc_aligned_at(mi_heap_t* heap, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_malloc_zero_aligned_at(heap, size, alignment, offset, true);
}
void* mi_heap_zalloc_aligned(mi_heap_t* heap, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_malloc_zero_aligned_at(heap, size, alignment, 0, true);
}
void* mi_heap_calloc_aligned_at(mi_heap_t* heap, size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  size_t total;
  if (mi_count_size_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_heap_zalloc_aligned_at(heap, total, alignment, offset);
}
void* mi_heap_calloc_aligned(mi_heap_t* heap, size_t count, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_calloc_aligned_at(heap, count, size, alignment, 0);
}

void* mi_malloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_malloc_aligned_at(mi_prim_get_default_heap(), size, alignment, offset);
}
void* mi_malloc_aligned(size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_malloc_aligned(mi_prim_get_default_heap(), size, alignment);
}
void* mi_zalloc_aligned_at(size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_zalloc_aligned_at(mi_prim_get_default_heap(), size, alignment, offset);
}
void* mi_zalloc_aligned(size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_zalloc_aligned(mi_prim_get_default_heap(), size, alignment);
}
void* mi_calloc_aligned_at(size_t count, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_calloc_aligned_at(mi_prim_get_default_heap(), count, size, alignment, offset);
}
void* mi_calloc_aligned(size_t count, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_calloc_aligned(mi_prim_get_default_heap(), count, size, alignment);
}

/* ---- Aligned reallocation ------------------------------------------------------------------ */

static void* mi_heap_realloc_zero_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset, bool zero) {
  _mi_assert(heap != NULL);
  if (alignment == 0 || !_mi_is_power_of_two(alignment)) {
    _mi_error_message(EINVAL, "aligned reallocation requires a power-of-two alignment (asked for %zu)", alignment);
    errno = EINVAL;
    return NULL;
  }
  /* every fresh block is word-aligned, so plain realloc serves small alignments, but it may keep
   * the block in place: only when `p` itself is aligned (one from mi_malloc_aligned_at need not
   * be; regression seed fuzz/seeds/api_ops/realloc_aligned_unaligned_in_place) */
  if (alignment <= MI_INTPTR_SIZE && offset == 0 && ((uintptr_t)p & (alignment - 1)) == 0) {
    return _mi_heap_realloc_zero(heap, p, newsize, zero);
  }
  if (p == NULL) return mi_heap_malloc_zero_aligned_at(heap, newsize, alignment, offset, zero);
  size_t size = mi_usable_size(p);
  if (newsize <= size && newsize >= size - size / 2 && (((uintptr_t)p + offset) & (alignment - 1)) == 0) {
    /* still fits, still aligned, at most half wasted; rezalloc keeps the bytes past the request
     * zero up to the usable size (see _mi_heap_realloc_zero) */
    if (zero) memset((uint8_t*)p + newsize, 0, size - newsize);
    return p;
  }
  void* newp = mi_heap_malloc_zero_aligned_at(heap, newsize, alignment, offset, false);
  if (newp == NULL) return NULL;
  _mi_assert((((uintptr_t)newp + offset) & (alignment - 1)) == 0 && mi_usable_size(newp) >= newsize);
  size_t copied = (newsize > size ? size : newsize);
  memcpy(newp, p, copied);
  if (zero) memset((uint8_t*)newp + copied, 0, mi_usable_size(newp) - copied);
  mi_free(p);
  return newp;
}


void* mi_heap_realloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_realloc_zero_aligned_at(heap, p, newsize, alignment, offset, false);
}
void* mi_heap_realloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept {
  return mi_heap_realloc_zero_aligned_at(heap, p, newsize, alignment, 0, false);
}
void* mi_heap_rezalloc_aligned_at(mi_heap_t* heap, void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_realloc_zero_aligned_at(heap, p, newsize, alignment, offset, true);
}
void* mi_heap_rezalloc_aligned(mi_heap_t* heap, void* p, size_t newsize, size_t alignment) mi_attr_noexcept {
  return mi_heap_realloc_zero_aligned_at(heap, p, newsize, alignment, 0, true);
}
void* mi_heap_recalloc_aligned_at(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  size_t total;
  if (mi_count_size_overflow(newcount, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_heap_rezalloc_aligned_at(heap, p, total, alignment, offset);
}
void* mi_heap_recalloc_aligned(mi_heap_t* heap, void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_recalloc_aligned_at(heap, p, newcount, size, alignment, 0);
}
void* mi_realloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_realloc_aligned_at(mi_prim_get_default_heap(), p, newsize, alignment, offset);
}
void* mi_realloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept {
  return mi_heap_realloc_aligned(mi_prim_get_default_heap(), p, newsize, alignment);
}
void* mi_rezalloc_aligned_at(void* p, size_t newsize, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_rezalloc_aligned_at(mi_prim_get_default_heap(), p, newsize, alignment, offset);
}
void* mi_rezalloc_aligned(void* p, size_t newsize, size_t alignment) mi_attr_noexcept {
  return mi_heap_rezalloc_aligned(mi_prim_get_default_heap(), p, newsize, alignment);
}
void* mi_recalloc_aligned_at(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_heap_recalloc_aligned_at(mi_prim_get_default_heap(), p, newcount, size, alignment, offset);
}
void* mi_recalloc_aligned(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_heap_recalloc_aligned(mi_prim_get_default_heap(), p, newcount, size, alignment);
}

/* ---- Sized and Windows-named forms ---------------------------------------------------------- */

void* mi_umalloc_aligned(size_t size, size_t alignment, size_t* block_size) mi_attr_noexcept {
  void* p = mi_malloc_aligned(size, alignment);
  if (block_size != NULL) *block_size = (p == NULL ? 0 : mi_usable_size(p));
  return p;
}
void* mi_uzalloc_aligned(size_t size, size_t alignment, size_t* block_size) mi_attr_noexcept {
  void* p = mi_zalloc_aligned(size, alignment);
  if (block_size != NULL) *block_size = (p == NULL ? 0 : mi_usable_size(p));
  return p;
}
void* mi_aligned_recalloc(void* p, size_t newcount, size_t size, size_t alignment) mi_attr_noexcept {
  return mi_recalloc_aligned(p, newcount, size, alignment);
}
void* mi_aligned_offset_recalloc(void* p, size_t newcount, size_t size, size_t alignment, size_t offset) mi_attr_noexcept {
  return mi_recalloc_aligned_at(p, newcount, size, alignment, offset);
}
