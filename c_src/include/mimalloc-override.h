/* SPDX-License-Identifier: MIT
 * Source-level redirection: included after the system headers, these macros make the calls of
 * that source file to the standard and Windows allocation functions call this library's mi_
 * functions instead, without overriding anything at link time. Blocks allocated this way must
 * be freed in a file that includes this header too (or with mi_free). */
#ifndef MIMALLOC_OVERRIDE_H
#define MIMALLOC_OVERRIDE_H

#include "mimalloc.h"

/** C standard and POSIX: the `mi_` function of the same name (see each for its failures). */
#define malloc(n) mi_malloc(n)
#define calloc(n, c) mi_calloc(n, c)
#define realloc(p, n) mi_realloc(p, n)
#define free(p) mi_free(p)
#define strdup(s) mi_strdup(s)
#define strndup(s, n) mi_strndup(s, n)
#define realpath(f, n) mi_realpath(f, n)
#define aligned_alloc(a, n) mi_aligned_alloc(a, n)
#define posix_memalign(p, a, n) mi_posix_memalign(p, a, n)

/** BSD, glibc and macOS extensions; `malloc_size` and `malloc_usable_size` are
 * `mi_usable_size`, `cfree` is `mi_free`. */
#define reallocf(p, n) mi_reallocf(p, n)
#define reallocarray(p, c, n) mi_reallocarray(p, c, n)
#define reallocarr(p, c, n) mi_reallocarr(p, c, n)
#define malloc_size(p) mi_usable_size(p)
#define malloc_usable_size(p) mi_usable_size(p)
#define malloc_good_size(n) mi_malloc_good_size(n)
#define cfree(p) mi_free(p)
#define valloc(n) mi_valloc(n)
#define pvalloc(n) mi_pvalloc(n)
#define memalign(a, n) mi_memalign(a, n)
#define _posix_memalign(p, a, n) mi_posix_memalign(p, a, n)

/** Microsoft C runtime: `_msize` and `_aligned_msize` are `mi_usable_size`, `_aligned_free` is
 * `mi_free`, and the `_aligned_offset_*` forms are the `mi_*_aligned_at` ones. */
#define _expand(p, n) mi__expand(p, n)
#define _msize(p) mi_usable_size(p)
#define _recalloc(p, c, n) mi_recalloc(p, c, n)
#define _strdup(s) mi_strdup(s)
#define _strndup(s, n) mi_strndup(s, n)
#define _wcsdup(s) mi_wcsdup(s)
#define _mbsdup(s) mi_mbsdup(s)
#define _dupenv_s(b, n, v) mi_dupenv_s(b, n, v)
#define _wdupenv_s(b, n, v) mi_wdupenv_s(b, n, v)
#define _aligned_malloc(n, a) mi_malloc_aligned(n, a)
#define _aligned_realloc(p, n, a) mi_realloc_aligned(p, n, a)
#define _aligned_recalloc(p, c, n, a) mi_aligned_recalloc(p, c, n, a)
#define _aligned_msize(p, a, o) mi_usable_size(p)
#define _aligned_free(p) mi_free(p)
#define _aligned_offset_malloc(n, a, o) mi_malloc_aligned_at(n, a, o)
#define _aligned_offset_realloc(p, n, a, o) mi_realloc_aligned_at(p, n, a, o)
#define _aligned_offset_recalloc(p, c, n, a, o) mi_aligned_offset_recalloc(p, c, n, a, o)

#endif /* MIMALLOC_OVERRIDE_H */
