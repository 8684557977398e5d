/* SPDX-License-Identifier: MIT
 * The posix- and BSD-style allocation functions under `mi_` names, with their errno and
 * argument-checking contracts (posix_memalign returns an error code and leaves the out
 * pointer alone on failure). They are thin layers over the mi_ API and never fast paths. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

size_t mi_malloc_size(const void* p) mi_attr_noexcept { return mi_usable_size(p); }
size_t mi_malloc_usable_size(const void* p) mi_attr_noexcept { return mi_usable_size(p); }
size_t mi_malloc_good_size(size_t size) mi_attr_noexcept { return mi_good_size(size); }

void mi_cfree(void* p) mi_attr_noexcept {
  if (mi_is_in_heap_region(p)) mi_free(p);
}

int mi_posix_memalign(void** p, size_t alignment, size_t size) mi_attr_noexcept {
  if (p == NULL) return EINVAL;
  if (alignment == 0 || (alignment % sizeof(void*)) != 0 || !_mi_is_power_of_two(alignment)) return EINVAL;
  void* q = mi_malloc_aligned(size, alignment);
  if (q == NULL) return ENOMEM;
  *p = q;
  return 0;
}

void* mi_memalign(size_t alignment, size_t size) mi_attr_noexcept { return mi_malloc_aligned(size, alignment); }

void* mi_valloc(size_t size) mi_attr_noexcept { return mi_malloc_aligned(size, _mi_os_page_size()); }

void* mi_pvalloc(size_t size) mi_attr_noexcept {
  size_t psize = _mi_os_page_size();
  if (size >= SIZE_MAX - psize) {
    errno = ENOMEM;
    return NULL;
  }
  return mi_malloc_aligned(_mi_align_up(size, psize), psize);
}

void* mi_aligned_alloc(size_t alignment, size_t size) mi_attr_noexcept {
  if (alignment == 0 || !_mi_is_power_of_two(alignment)) {
    errno = EINVAL;
    return NULL;
  }
  return mi_malloc_aligned(size, alignment);
}

void* mi_reallocarray(void* p, size_t count, size_t size) mi_attr_noexcept {
  void* newp = mi_reallocn(p, count, size);
  if (newp == NULL) errno = ENOMEM;
  return newp;
}

int mi_reallocarr(void* p, size_t count, size_t size) mi_attr_noexcept {
  if (p == NULL) return EINVAL;
  void** op = (void**)p;
  void* newp = mi_reallocarray(*op, count, size);
  if (newp == NULL) return errno;
  *op = newp;
  return 0;
}

void mi_free_size(void* p, size_t size) mi_attr_noexcept {
  (void)size;
  mi_free(p);
}

void mi_free_size_aligned(void* p, size_t size, size_t alignment) mi_attr_noexcept {
  (void)size;
  (void)alignment;
  mi_free(p);
}

void mi_free_aligned(void* p, size_t alignment) mi_attr_noexcept {
  (void)alignment;
  mi_free(p);
}
