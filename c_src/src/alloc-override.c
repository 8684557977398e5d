/* SPDX-License-Identifier: MIT
 * With MI_MALLOC_OVERRIDE, export the standard allocation interface (and glibc's __libc_*
 * entry points) as aliases of our mi_ functions, so every allocation of the process, C code
 * included, goes through us. Aliases must sit in the translation unit that defines their
 * targets: this file is included by static.c only. It allocates nothing itself. */
#ifndef MI_IN_STATIC_C
#error "alloc-override.c is included by static.c, not compiled on its own"
#endif

#include "mimalloc.h"
#include "mimalloc/internal.h"

#if MI_MALLOC_OVERRIDE

#define MI_FORWARD(fun) __attribute__((alias(#fun), used, visibility("default")))

/* glibc's internal entry points are declared here without the malloc/alloc_size hints their
 * targets carry; those only guide the optimiser, so the mismatch is harmless. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmissing-attributes"
#endif

void* malloc(size_t size) MI_FORWARD(mi_malloc);
void* calloc(size_t count, size_t size) MI_FORWARD(mi_calloc);
void* realloc(void* p, size_t newsize) MI_FORWARD(mi_realloc);
void free(void* p) MI_FORWARD(mi_free);
void cfree(void* p) MI_FORWARD(mi_free);
int posix_memalign(void** p, size_t alignment, size_t size) MI_FORWARD(mi_posix_memalign);
void* aligned_alloc(size_t alignment, size_t size) MI_FORWARD(mi_aligned_alloc);
void* memalign(size_t alignment, size_t size) MI_FORWARD(mi_memalign);
void* valloc(size_t size) MI_FORWARD(mi_valloc);
void* pvalloc(size_t size) MI_FORWARD(mi_pvalloc);
size_t malloc_usable_size(void* p) MI_FORWARD(mi_malloc_usable_size);
void* reallocarray(void* p, size_t count, size_t size) MI_FORWARD(mi_reallocarray);
void* reallocf(void* p, size_t newsize) MI_FORWARD(mi_reallocf);
/* NetBSD's: returns 0 or an errno value and replaces the pointer at `ptrp` only on success */
int reallocarr(void* ptrp, size_t count, size_t size) MI_FORWARD(mi_reallocarr);

/* glibc calls these directly from inside itself (and some programs do too) */
void* __libc_malloc(size_t size) MI_FORWARD(mi_malloc);
void* __libc_calloc(size_t count, size_t size) MI_FORWARD(mi_calloc);
void* __libc_realloc(void* p, size_t newsize) MI_FORWARD(mi_realloc);
void __libc_free(void* p) MI_FORWARD(mi_free);
void __libc_cfree(void* p) MI_FORWARD(mi_free);
void* __libc_valloc(size_t size) MI_FORWARD(mi_valloc);
void* __libc_pvalloc(size_t size) MI_FORWARD(mi_pvalloc);
void* __libc_memalign(size_t alignment, size_t size) MI_FORWARD(mi_memalign);
int __posix_memalign(void** p, size_t alignment, size_t size) MI_FORWARD(mi_posix_memalign);

#endif /* MI_MALLOC_OVERRIDE */
