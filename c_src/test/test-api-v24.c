/* SPDX-License-Identifier: MIT
 * The v2.4 additions as C code calls them: the typed macros, sized allocation with its
 * out-parameters, wide and multibyte strings, _dupenv_s-style buffers, mi__expand, and
 * mimalloc-override.h, which must turn this file's malloc & co. into mi_ calls (the program is
 * linked with the static, non-overriding library, so only the macros can route them to us). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "mimalloc-override.h"
#include "mimalloc-stats.h"
#include "testing.h"

typedef struct point_s {
  double x, y, z;
} point_t;

static void test_typed_macros(void) {
  point_t* p = mi_malloc_tp(point_t);
  CHECK(p != NULL && mi_usable_size(p) >= sizeof(point_t));
  point_t* z = mi_zalloc_tp(point_t);
  CHECK(z != NULL && z->x == 0 && z->y == 0 && z->z == 0);
  point_t* a = mi_calloc_tp(point_t, 10);
  CHECK(a != NULL && a[9].z == 0 && mi_usable_size(a) >= 10 * sizeof(point_t));
  a[0].x = 42;
  a = mi_reallocn_tp(a, point_t, 100);
  CHECK(a != NULL && a[0].x == 42 && mi_usable_size(a) >= 100 * sizeof(point_t));
  a = mi_recalloc_tp(a, point_t, 200);
  CHECK(a != NULL && a[0].x == 42 && a[199].y == 0);
  point_t* n = mi_mallocn_tp(point_t, 5);
  CHECK(n != NULL && mi_usable_size(n) >= 5 * sizeof(point_t));
  CHECK(mi_mallocn_tp(point_t, SIZE_MAX / 8) == NULL); /* count * size overflows */
  mi_free(p);
  mi_free(z);
  mi_free(a);
  mi_free(n);

  mi_heap_t* heap = mi_heap_new();
  point_t* hp = mi_heap_malloc_tp(heap, point_t);
  point_t* hz = mi_heap_zalloc_tp(heap, point_t);
  point_t* hc = mi_heap_calloc_tp(heap, point_t, 8);
  point_t* hn = mi_heap_mallocn_tp(heap, point_t, 8);
  CHECK(hz != NULL && hz->x == 0);
  CHECK(hc != NULL && hc[7].z == 0);
  hc[0].y = 7;
  hc = mi_heap_reallocn_tp(heap, hc, point_t, 64);
  CHECK(hc != NULL && hc[0].y == 7);
  hc = mi_heap_recalloc_tp(heap, hc, point_t, 128);
  CHECK(hc != NULL && hc[0].y == 7 && hc[127].x == 0);
  CHECK(mi_heap_contains_block(heap, hp) && mi_heap_contains_block(heap, hz) && mi_heap_contains_block(heap, hc) &&
        mi_heap_contains_block(heap, hn));
  mi_heap_destroy(heap);
}

static void test_sized(void) {
  size_t bs = 0;
  void* p = mi_umalloc(100, &bs);
  CHECK(p != NULL && bs >= 100 && bs == mi_usable_size(p));
  memset(p, 1, bs);
  size_t pre = 0, post = 0;
  p = mi_urealloc(p, 5000, &pre, &post);
  CHECK(p != NULL && pre == bs && post >= 5000 && post == mi_usable_size(p));
  size_t freed = 0;
  mi_ufree(p, &freed);
  CHECK(freed == post);
  bs = 99;
  errno = 0;
  CHECK(mi_umalloc(SIZE_MAX, &bs) == NULL && bs == 0 && errno == ENOMEM);
  bs = 99;
  CHECK(mi_ucalloc(SIZE_MAX / 2, 4, &bs) == NULL && bs == 0);
  bs = 99;
  errno = 0;
  CHECK(mi_umalloc_aligned(10, 24, &bs) == NULL && bs == 0 && errno == EINVAL);
  p = mi_uzalloc_aligned(1000, 256, &bs);
  CHECK(p != NULL && ((uintptr_t)p % 256) == 0 && bs >= 1000);
  mi_free(p);
  p = mi_uzalloc_small(MI_SMALL_SIZE_MAX, &bs);
  CHECK(p != NULL && bs >= MI_SMALL_SIZE_MAX && ((unsigned char*)p)[bs - 1] == 0);
  mi_free(p);
}

static void test_strings_and_windows_helpers(void) {
  const wchar_t* w = L"wide string";
  wchar_t* wc = mi_wcsdup(w);
  CHECK(wc != NULL && wcscmp(wc, w) == 0 && mi_is_in_heap_region(wc));
  mi_free(wc);
  unsigned char* mb = mi_mbsdup((const unsigned char*)"bytes");
  CHECK(mb != NULL && strcmp((char*)mb, "bytes") == 0);
  mi_free(mb);

  setenv("MI_TEST_API_V24", "value!", 1);
  char* buf = NULL;
  size_t size = 0;
  CHECK(mi_dupenv_s(&buf, &size, "MI_TEST_API_V24") == 0 && buf != NULL && strcmp(buf, "value!") == 0 && size == 7);
  mi_free(buf);
  unsetenv("MI_TEST_API_V24");
  buf = (char*)&size;
  CHECK(mi_dupenv_s(&buf, &size, "MI_TEST_API_V24") == 0 && buf == NULL && size == 0);
  CHECK(mi_dupenv_s(NULL, &size, "PATH") == EINVAL);
  CHECK(mi_dupenv_s(&buf, &size, NULL) == EINVAL);

  void* p = mi_malloc(64);
  size_t usable = mi_usable_size(p);
  CHECK(mi__expand(p, usable) == p);
  errno = 0;
  CHECK(mi__expand(p, usable + 1) == NULL && errno == ENOMEM);
  mi_free(p);

  p = mi_aligned_recalloc(NULL, 8, 8, 128);
  CHECK(p != NULL && ((uintptr_t)p % 128) == 0 && ((char*)p)[63] == 0);
  CHECK(mi_aligned_recalloc(p, SIZE_MAX / 4, 8, 128) == NULL); /* overflow: p still valid */
  mi_free(p);
}

/* malloc & co. here are the macros of mimalloc-override.h */
static void test_override_header(void) {
  void* p = malloc(100);
  CHECK(p != NULL && mi_is_in_heap_region(p));
  p = realloc(p, 1000);
  CHECK(p != NULL && mi_is_in_heap_region(p) && malloc_usable_size(p) >= 1000);
  free(p);
  char* s = strdup("override");
  CHECK(s != NULL && mi_is_in_heap_region(s) && strcmp(s, "override") == 0);
  free(s);
  void* q = NULL;
  CHECK(posix_memalign(&q, 64, 100) == 0 && q != NULL && mi_is_in_heap_region(q) && ((uintptr_t)q % 64) == 0);
  CHECK(reallocarr(&q, SIZE_MAX / 2, 4) == ENOMEM); /* NetBSD contract: error code, q untouched */
  CHECK(mi_is_in_heap_region(q));
  CHECK(reallocarr(&q, 100, 4) == 0 && mi_usable_size(q) >= 400);
  free(q);
  void* a = _aligned_malloc(100, 512);
  CHECK(a != NULL && ((uintptr_t)a % 512) == 0 && _msize(a) >= 100);
  _aligned_free(a);
}

static void test_misc(void) {
  mi_heap_t* heap = mi_heap_new();
  void* p = mi_heap_malloc(heap, 32);
  CHECK(mi_unsafe_heap_page_is_under_utilized(heap, p, 50));
  CHECK(!mi_unsafe_heap_page_is_under_utilized(mi_heap_get_backing(), p, 100));
  mi_heap_destroy(heap);
  mi_thread_set_in_threadpool();
  mi_collect_reduce(0);
  p = mi_new_nothrow(SIZE_MAX);
  CHECK(p == NULL);
  p = mi_new_n(10, 10);
  CHECK(p != NULL && mi_usable_size(p) >= 100);
  mi_free(p);
}

int main(void) {
  test_typed_macros();
  test_sized();
  test_strings_and_windows_helpers();
  test_override_header();
  test_misc();
  return mi_test_summary();
}
