/* SPDX-License-Identifier: MIT
 * The posix- and BSD-style allocation functions under `mi_` names, with their errno and
 * argument-checking contracts (posix_memalign returns an error code and leaves the out
 * pointer alone on failure). They are thin layers over the mi_ API and never fast paths. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

#include <stdlib.h> /* getenv */
#include <wchar.h>

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

/* ---- Windows-style helpers ------------------------------------------------------------------- */

void* mi__expand(void* p, size_t newsize) mi_attr_noexcept {
  void* q = mi_expand(p, newsize);
  if (q == NULL) errno = ENOMEM;
  return q;
}

int mi_dupenv_s(char** buf, size_t* size, const char* name) mi_attr_noexcept {
  if (buf == NULL || name == NULL) return EINVAL;
  if (size != NULL) *size = 0;
  *buf = NULL;
  const char* value = getenv(name); /* case-sensitive, as the platform's own lookup */
  if (value == NULL) return 0;
  size_t n = strlen(value) + 1;
  char* copy = (char*)mi_malloc(n);
  if (copy == NULL) return ENOMEM;
  memcpy(copy, value, n);
  *buf = copy;
  if (size != NULL) *size = n;
  return 0;
}

#if defined(_WIN32)
static const wchar_t* mi_wgetenv(const wchar_t* name, int* err) {
  *err = 0;
  return _wgetenv(name);
}
static wchar_t* mi_wenv_copy(const wchar_t* value, size_t* n) {
  *n = wcslen(value) + 1;
  wchar_t* copy = (wchar_t*)mi_mallocn(*n, sizeof(wchar_t));
  if (copy != NULL) memcpy(copy, value, *n * sizeof(wchar_t));
  return copy;
}
#else
/* No wide environment here: look the name up in its multibyte form and widen the value, both
 * in the current locale. A name that has no multibyte form cannot be set, so it is "not set". */
static const char* mi_wgetenv(const wchar_t* name, int* err) {
  *err = 0;
  mbstate_t state;
  memset(&state, 0, sizeof(state));
  const wchar_t* src = name;
  size_t len = wcsrtombs(NULL, &src, 0, &state);
  if (len == (size_t)-1) return NULL;
  char small[256];
  char* narrow = (len < sizeof(small) ? small : (char*)mi_malloc(len + 1));
  if (narrow == NULL) {
    *err = ENOMEM;
    return NULL;
  }
  memset(&state, 0, sizeof(state));
  src = name;
  (void)wcsrtombs(narrow, &src, len + 1, &state);
  const char* value = getenv(narrow);
  if (narrow != small) mi_free(narrow);
  return value;
}
static wchar_t* mi_wenv_copy(const char* value, size_t* n) {
  mbstate_t state;
  memset(&state, 0, sizeof(state));
  const char* src = value;
  size_t len = mbsrtowcs(NULL, &src, 0, &state);
  if (len == (size_t)-1) {
    *n = 0;
    errno = EILSEQ;
    return NULL;
  }
  *n = len + 1;
  wchar_t* copy = (wchar_t*)mi_mallocn(len + 1, sizeof(wchar_t));
  if (copy == NULL) return NULL;
  memset(&state, 0, sizeof(state));
  src = value;
  (void)mbsrtowcs(copy, &src, len + 1, &state);
  return copy;
}
#endif

int mi_wdupenv_s(wchar_t** buf, size_t* size, const wchar_t* name) mi_attr_noexcept {
  if (buf == NULL || name == NULL) return EINVAL;
  if (size != NULL) *size = 0;
  *buf = NULL;
  int err;
  const void* value = mi_wgetenv(name, &err);
  if (value == NULL) return err;
  size_t n;
  errno = 0;
  wchar_t* copy = mi_wenv_copy(value, &n);
  if (copy == NULL) return (errno == EILSEQ ? EILSEQ : ENOMEM);
  *buf = copy;
  if (size != NULL) *size = n;
  return 0;
}
