/* SPDX-License-Identifier: MIT
 * The C API's contract edges, linked against the static library: impossible sizes, overflowing
 * products, bad alignments, NULL arguments, realloc/expand semantics and heaps. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "mimalloc.h"
#include "testing.h"

int main(void) {
  /* too large: NULL and ENOMEM, and a recycled small block is never handed back */
  size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, (size_t)PTRDIFF_MAX + 1, (size_t)PTRDIFF_MAX + 4096, (size_t)7 << 60};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    mi_free(mi_malloc(16));
    errno = 0;
    CHECK(mi_malloc(sizes[i]) == NULL && errno == ENOMEM);
    CHECK(mi_malloc_aligned(sizes[i], 64) == NULL);
    void* p = mi_malloc(16);
    memset(p, 7, 16);
    CHECK(mi_realloc(p, sizes[i]) == NULL && ((unsigned char*)p)[15] == 7);
    mi_free(p);
  }
  /* count * size overflow */
  CHECK(mi_calloc(SIZE_MAX / 2, 3) == NULL);
  CHECK(mi_calloc(3, SIZE_MAX / 2) == NULL);
  CHECK(mi_mallocn(SIZE_MAX / 8 + 1, 16) == NULL);
  CHECK(mi_reallocarray(NULL, SIZE_MAX / 2, 4) == NULL && errno == ENOMEM);
  /* alignment */
  CHECK(mi_malloc_aligned(10, 24) == NULL);
  CHECK(mi_malloc_aligned(10, 0) == NULL);
  void* q = (void*)1;
  CHECK(mi_posix_memalign(&q, 24, 10) == EINVAL && q == (void*)1);
  CHECK(mi_posix_memalign(&q, 4, 10) == EINVAL);
  CHECK(mi_posix_memalign(&q, 64, 100) == 0 && ((uintptr_t)q % 64) == 0);
  mi_free(q);
  for (size_t a = 1; a <= (size_t)4 << 20; a *= 2) {
    void* p = mi_malloc_aligned(a + 3, a);
    CHECK(p != NULL && ((uintptr_t)p % a) == 0 && mi_usable_size(p) >= a + 3);
    void* r = mi_realloc_aligned(p, 3 * a + 1, a);
    CHECK(r != NULL && ((uintptr_t)r % a) == 0);
    mi_free(r);
  }
  /* natural alignment of the plain API */
  for (size_t n = 1; n <= 4096; n++) {
    void* p = mi_malloc(n);
    size_t align = n >= 16 ? 16 : n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
    if (((uintptr_t)p % align) != 0) CHECK(!"mi_malloc(n) is naturally aligned");
    mi_free(p);
  }
  /* NULL and zero */
  mi_free(NULL);
  CHECK(mi_usable_size(NULL) == 0);
  void* z = mi_malloc(0);
  CHECK(z != NULL && mi_usable_size(z) > 0);
  void* r0 = mi_realloc(z, 0);
  CHECK(r0 != NULL);
  mi_free(r0);
  void* p = mi_realloc(NULL, 100);
  CHECK(p != NULL && mi_usable_size(p) >= 100);
  CHECK(mi_expand(p, mi_usable_size(p)) == p);
  CHECK(mi_expand(p, (size_t)1 << 40) == NULL);
  mi_free(p);
  /* heaps */
  mi_heap_t* heap = mi_heap_new();
  void* blocks[1000];
  for (int i = 0; i < 1000; i++) blocks[i] = mi_heap_malloc(heap, (size_t)(i % 300) + 1);
  int owned = 0;
  for (int i = 0; i < 1000; i++) owned += mi_heap_contains_block(heap, blocks[i]) && mi_check_owned(blocks[i]);
  CHECK(owned == 1000);
  int local = 0;
  CHECK(!mi_check_owned(&local));
  mi_heap_destroy(heap);
  printf("mi_version %d, redirected %d\n", mi_version(), (int)mi_is_redirected());
  return mi_test_summary();
}
