/* SPDX-License-Identifier: MIT
 * The C API's contract edges, swept: impossible sizes (SIZE_MAX - i, PTRDIFF_MAX + i, k << 50;
 * with 32-bit sizes PTRDIFF_MAX - i instead of the last), each right after a small malloc/free so a recycled small block sits ready to be (wrongly)
 * handed back; count * size products that overflow by one; aligned requests whose size plus
 * alignment overflows; zero sizes; non-power-of-two alignments; realloc of NULL; aligned
 * realloc to larger alignments; mi_expand that cannot grow; NULL arguments.
 *
 * Built by ctest (against the static library) and by mimalloc-sys/tests/c_bad_input.rs
 * (together with src/static.c, in the cargo build's secure/debug levels). An error hook counts
 * every report by code: overflowing requests must report EOVERFLOW, bad alignments EINVAL, and a
 * clean program like this one never sees EFAULT (corruption) or EAGAIN (double free). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mimalloc.h"
#include "testing.h"

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)
#define SWEEP ((size_t)1 << 14)
/* A size split into two factors loses up to SPLIT_BITS low bits in the product. With 32-bit
 * sizes few enough that the product stays in the range refused before the OS is asked. */
#if SIZE_MAX > UINT32_MAX
#define SPLIT_BITS 23
#else
#define SPLIT_BITS 11
#endif

/* ---- Checks that stay quiet in a sweep -------------------------------------------------------- */

static int shown; /* failures printed so far: a broken sweep must not print 100,000 lines */

static void expect(bool ok, const char* what, size_t a, size_t b) {
  if (ok) {
    mi_test_passed++;
    return;
  }
  mi_test_failed++;
  if (shown++ < 40) fprintf(stderr, "check failed: %s (0x%zx, 0x%zx), errno %d\n", what, a, b, errno);
}

/* ---- The error hook ------------------------------------------------------------------------ */

static long reports[5]; /* EOVERFLOW, ENOMEM, EINVAL, EFAULT, EAGAIN */

static void on_error(int err, void* arg) {
  (void)arg;
  switch (err) {
    case EOVERFLOW: reports[0]++; break;
    case ENOMEM: reports[1]++; break;
    case EINVAL: reports[2]++; break;
    case EFAULT: reports[3]++; break;
    case EAGAIN: reports[4]++; break;
    default: fprintf(stderr, "unexpected error code %d reported\n", err); mi_test_failed++; break;
  }
}

/* ---- Helpers ---------------------------------------------------------------------------------- */

/* A small malloc/free: the freed block heads its page's free list when the next call runs. */
static void prime(void) { mi_free(mi_malloc(16)); }

static void fill(void* p, size_t n, unsigned seed) {
  uint8_t* b = (uint8_t*)p;
  for (size_t i = 0; i < n; i++) b[i] = (uint8_t)(i * 7 + seed);
}

static bool intact(const void* p, size_t n, unsigned seed) {
  const uint8_t* b = (const uint8_t*)p;
  for (size_t i = 0; i < n; i++) {
    if (b[i] != (uint8_t)(i * 7 + seed)) return false;
  }
  return true;
}

static bool all_zero(const void* p, size_t n) {
  const uint8_t* b = (const uint8_t*)p;
  for (size_t i = 0; i < n; i++) {
    if (b[i] != 0) return false;
  }
  return true;
}

/* Heap footprint: nothing an impossible request does may make it grow. */
typedef struct footprint_s {
  int64_t reserved, segments, pages, huge;
} footprint_t;

static footprint_t footprint(void) {
  mi_stats_t st;
  memset(&st, 0, sizeof(st));
  mi_stats_get(sizeof(st), &st);
  footprint_t f = {st.reserved.current, st.segments.current, st.pages.current, st.huge.current};
  return f;
}

static void expect_no_growth(const char* what, footprint_t before) {
  footprint_t after = footprint();
  expect(after.reserved <= before.reserved, what, (size_t)before.reserved, (size_t)after.reserved);
  expect(after.segments <= before.segments, what, (size_t)before.segments, (size_t)after.segments);
  expect(after.pages <= before.pages, what, (size_t)before.pages, (size_t)after.pages);
  expect(after.huge <= before.huge, what, (size_t)before.huge, (size_t)after.huge);
}

static size_t live_in_heap_count;
static bool count_block(const mi_heap_t* heap, const mi_heap_area_t* area, void* block, size_t size, void* arg) {
  (void)heap; (void)area; (void)size; (void)arg;
  if (block != NULL) live_in_heap_count++;
  return true;
}
static size_t live_in_heap(mi_heap_t* heap) {
  live_in_heap_count = 0;
  mi_heap_visit_blocks(heap, true, &count_block, NULL);
  return live_in_heap_count;
}

/* ---- Item: one impossible size through every entry point ------------------------------------ */

/* `live` is a 16-byte block filled with seed 3: failing reallocations must leave it as it is. */
static void impossible(size_t n, void* live, mi_heap_t* heap) {
  void* p;
  void* q;
  int rc;
#define EXPECT_NULL(call, name)             \
  do {                                      \
    prime();                                \
    errno = 0;                              \
    p = (call);                             \
    expect(p == NULL, name, n, 0);          \
    expect(errno == ENOMEM, name " errno", n, 0); \
  } while (0)
  EXPECT_NULL(mi_malloc(n), "mi_malloc");
  EXPECT_NULL(mi_zalloc(n), "mi_zalloc");
  EXPECT_NULL(mi_calloc(1, n), "mi_calloc(1, n)");
  EXPECT_NULL(mi_calloc(n, 1), "mi_calloc(n, 1)");
  EXPECT_NULL(mi_mallocn(n, 1), "mi_mallocn(n, 1)");
  EXPECT_NULL(mi_realloc(NULL, n), "mi_realloc(NULL, n)");
  EXPECT_NULL(mi_realloc(live, n), "mi_realloc(live, n)");
  EXPECT_NULL(mi_rezalloc(live, n), "mi_rezalloc(live, n)");
  EXPECT_NULL(mi_heap_malloc(heap, n), "mi_heap_malloc");
  /* the size split in two factors, both ways round (the product is n with low bits dropped) */
  unsigned j = 1 + (unsigned)(n % SPLIT_BITS);
  size_t a = (size_t)1 << j, b = n >> j;
  EXPECT_NULL(mi_calloc(a, b), "mi_calloc(2^j, n >> j)");
  EXPECT_NULL(mi_calloc(b, a), "mi_calloc(n >> j, 2^j)");
  EXPECT_NULL(mi_reallocarray(NULL, a, b), "mi_reallocarray(NULL, 2^j, n >> j)");
  EXPECT_NULL(mi_reallocarray(live, b, a), "mi_reallocarray(live, n >> j, 2^j)");
  EXPECT_NULL(mi_recalloc(live, a, b), "mi_recalloc(live, 2^j, n >> j)");
  EXPECT_NULL(mi_memalign(64, n), "mi_memalign(64, n)");
  EXPECT_NULL(mi_valloc(n), "mi_valloc");
  EXPECT_NULL(mi_pvalloc(n), "mi_pvalloc");
  EXPECT_NULL(mi_aligned_alloc(64, n & ~(size_t)63), "mi_aligned_alloc(64, n)");
  EXPECT_NULL(mi_malloc_aligned(n, 16), "mi_malloc_aligned(n, 16)");
  EXPECT_NULL(mi_malloc_aligned(n, 4096), "mi_malloc_aligned(n, 4096)");
  EXPECT_NULL(mi_zalloc_aligned(n, 2 * MiB), "mi_zalloc_aligned(n, 2 MiB)"); /* the huge-alignment path */
  EXPECT_NULL(mi_malloc_aligned_at(n, 256, 8), "mi_malloc_aligned_at(n, 256, 8)");
  EXPECT_NULL(mi_realloc_aligned(live, n, 64), "mi_realloc_aligned(live, n, 64)");
#undef EXPECT_NULL
  prime();
  q = (void*)&q;
  rc = mi_posix_memalign(&q, 64, n);
  expect(rc == ENOMEM && q == (void*)&q, "mi_posix_memalign(&q, 64, n): ENOMEM, q untouched", n, (size_t)rc);
  expect(mi_expand(live, n) == NULL, "mi_expand(live, n)", n, 0);
  expect(mi_usable_size(live) >= 16 && intact(live, 16, 3), "the live block after the failed calls", n, 0);
}

static void test_too_large_sweep(void) {
  mi_heap_t* heap = mi_heap_new();
  void* live = mi_malloc(16);
  fill(live, 16, 3);
  prime();
  footprint_t before = footprint();
  long overflow_before = reports[0];
  for (size_t i = 0; i < SWEEP; i++) impossible(SIZE_MAX - i, live, heap);
  for (size_t i = 1; i < SWEEP; i++) impossible((size_t)PTRDIFF_MAX + i, live, heap);
  /* above PTRDIFF_MAX every request is refused up front, and the debug/secure builds say so */
  expect(reports[0] > overflow_before, "impossible sizes report EOVERFLOW", (size_t)reports[0], 0);
#if SIZE_MAX > UINT32_MAX
  /* below it: k << 50 and (k << 50) | (2^50 - 1) are more address space than any machine has
   * (2^50 is a petabyte), so these reach the OS and fail there; above k = 2^13 they pass
   * PTRDIFF_MAX and are refused up front again */
  for (size_t k = 1; k < SWEEP; k++) {
    impossible(k << 50, live, heap);
    impossible((k << 50) | (((size_t)1 << 50) - 1), live, heap);
  }
#else
  /* with 32-bit sizes a GiB can be had (a 64-bit kernel gives a 32-bit process 4 GiB of
   * address space): below it, only the sizes the allocator refuses before asking the OS,
   * within a MiB of PTRDIFF_MAX (a huge block's segment needs its header and a segment of
   * alignment room on top) */
  for (size_t k = 1; k < SWEEP; k++) {
    impossible((size_t)PTRDIFF_MAX - k, live, heap);
    impossible((size_t)PTRDIFF_MAX - 64 * k, live, heap);
  }
#endif
  expect(intact(live, 16, 3), "the live block survived the sweep", 0, 0);
  expect_no_growth("impossible sizes left no memory behind", before);
  expect(live_in_heap(heap) == 0, "no block was left in the heap", live_in_heap(heap), 0);
  mi_heap_delete(heap);
  mi_free(live);
  /* and the allocator still works */
  for (size_t n = 1; n <= 5 * MiB; n = n * 3 + 1) {
    void* p = mi_malloc(n);
    expect(p != NULL && mi_usable_size(p) >= n, "mi_malloc after the sweep", n, 0);
    if (p != NULL) memset(p, 0x5a, n);
    mi_free(p);
  }
}

/* ---- count * size overflow ------------------------------------------------------------------ */

static void overflowing_product(size_t count, size_t size) {
  void* live = mi_malloc(32);
  fill(live, 32, 9);
  prime();
  footprint_t before = footprint();
  long overflow_before = reports[0];
  void* p;
#define EXPECT_NULL(call, name)                  \
  do {                                           \
    prime();                                     \
    errno = 0;                                   \
    p = (call);                                  \
    expect(p == NULL, name, count, size);        \
    expect(errno == ENOMEM, name " errno", count, size); \
  } while (0)
  EXPECT_NULL(mi_calloc(count, size), "mi_calloc overflow");
  EXPECT_NULL(mi_mallocn(count, size), "mi_mallocn overflow");
  EXPECT_NULL(mi_calloc_aligned(count, size, 64), "mi_calloc_aligned overflow");
  EXPECT_NULL(mi_calloc_aligned_at(count, size, 64, 16), "mi_calloc_aligned_at overflow");
  EXPECT_NULL(mi_heap_calloc(mi_heap_get_default(), count, size), "mi_heap_calloc overflow");
  EXPECT_NULL(mi_heap_mallocn(mi_heap_get_default(), count, size), "mi_heap_mallocn overflow");
  EXPECT_NULL(mi_reallocarray(NULL, count, size), "mi_reallocarray(NULL) overflow");
  EXPECT_NULL(mi_reallocarray(live, count, size), "mi_reallocarray(live) overflow");
  EXPECT_NULL(mi_reallocn(live, count, size), "mi_reallocn overflow");
  EXPECT_NULL(mi_recalloc(live, count, size), "mi_recalloc overflow");
  EXPECT_NULL(mi_recalloc_aligned(live, count, size, 128), "mi_recalloc_aligned overflow");
#undef EXPECT_NULL
  void* q = live;
  int rc = mi_reallocarr(&q, count, size);
  expect(rc == ENOMEM && q == live, "mi_reallocarr overflow: ENOMEM, pointer untouched", count, size);
  expect(reports[0] >= overflow_before + 12, "each overflow is reported as EOVERFLOW", count, size);
  expect(intact(live, 32, 9), "the live block after overflowing calls", count, size);
  expect_no_growth("an overflowing product allocated nothing", before);
  mi_free(live);
}

static void test_overflowing_products(void) {
  /* products that overflow by exactly one: count * size == SIZE_MAX + 1 */
  for (unsigned k = 1; k < 8 * sizeof(size_t); k++) {
    overflowing_product((size_t)1 << k, (SIZE_MAX >> k) + 1);
    overflowing_product((SIZE_MAX >> k) + 1, (size_t)1 << k);
  }
  /* and by a little more: odd factors, so the product is SIZE_MAX + something */
  for (size_t c = 3; c < 200; c += 2) {
    overflowing_product(c, SIZE_MAX / c + 1);
    overflowing_product(SIZE_MAX / c + 1, c);
  }
  overflowing_product(SIZE_MAX, SIZE_MAX);
  overflowing_product(SIZE_MAX, 2);
  overflowing_product((size_t)1 << (4 * sizeof(size_t)), (size_t)1 << (4 * sizeof(size_t))); /* 2^64, or 2^32 */
  /* the products that just fit are not an overflow, only too large */
  for (size_t c = 3; c < 200; c += 2) {
    errno = 0;
    expect(mi_calloc(c, SIZE_MAX / c) == NULL && errno == ENOMEM, "mi_calloc(c, SIZE_MAX / c)", c, 0);
  }
  /* a zero count or size never overflows */
  void* z1 = mi_calloc(0, SIZE_MAX);
  void* z2 = mi_calloc(SIZE_MAX, 0);
  void* z3 = mi_mallocn(0, SIZE_MAX);
  expect(z1 != NULL && z2 != NULL && z3 != NULL && z1 != z2 && z2 != z3, "zero-count products", 0, 0);
  mi_free(z1); mi_free(z2); mi_free(z3);
  /* a product that fits is allocated and zeroed */
  uint8_t* p = (uint8_t*)mi_calloc((size_t)1 << 10, (size_t)1 << 10);
  expect(p != NULL && all_zero(p, MiB), "mi_calloc(1024, 1024)", 0, 0);
  mi_free(p);
  expect(mi_reallocarr(NULL, 1, 1) == EINVAL, "mi_reallocarr(NULL)", 0, 0);
}

/* ---- size + alignment overflow -------------------------------------------------------------- */

static void test_alignment_rounding_overflow(void) {
  void* live = mi_malloc(16);
  fill(live, 16, 5);
  /* from a = 2 on: with a = 1 the first size below wraps to 0, which is an ordinary request */
  for (unsigned k = 1; k < 8 * sizeof(size_t) - 1; k++) {
    size_t a = (size_t)1 << k;
    size_t sizes[] = {
      SIZE_MAX - a + 2,                 /* 1 - a + 1: wraps to 1 when rounded up */
      (size_t)0 - a,                    /* rounds up to exactly 2^64, i.e. 0 */
      SIZE_MAX & ~(a - 1),              /* a multiple of a, as aligned_alloc wants */
      (size_t)PTRDIFF_MAX - a + 2,      /* fits, but size + alignment does not */
      (size_t)PTRDIFF_MAX - a / 2,
    };
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
      size_t n = sizes[s];
      void* p;
      prime();
      errno = 0;
      p = mi_malloc_aligned(n, a);
      expect(p == NULL && errno == ENOMEM, "mi_malloc_aligned(n, a)", n, a);
      prime();
      p = mi_zalloc_aligned(n, a);
      expect(p == NULL, "mi_zalloc_aligned(n, a)", n, a);
      prime();
      p = mi_malloc_aligned_at(n, a, a / 2);
      expect(p == NULL, "mi_malloc_aligned_at(n, a, a / 2)", n, a);
      prime();
      errno = 0;
      p = mi_memalign(a, n);
      expect(p == NULL && errno == ENOMEM, "mi_memalign(a, n)", n, a);
      prime();
      errno = 0;
      p = mi_aligned_alloc(a, n);
      expect(p == NULL && errno == ENOMEM, "mi_aligned_alloc(a, n)", n, a);
      prime();
      p = mi_realloc_aligned(live, n, a);
      expect(p == NULL, "mi_realloc_aligned(live, n, a)", n, a);
      prime();
      p = mi_heap_malloc_aligned(mi_heap_get_default(), n, a);
      expect(p == NULL, "mi_heap_malloc_aligned(n, a)", n, a);
      if (a >= sizeof(void*)) {
        void* q = (void*)&q;
        prime();
        int rc = mi_posix_memalign(&q, a, n);
        expect(rc == ENOMEM && q == (void*)&q, "mi_posix_memalign(&q, a, n)", n, a);
      }
    }
  }
  expect(intact(live, 16, 5), "the live block after aligned overflows", 0, 0);
  mi_free(live);
}

/* ---- zero sizes ------------------------------------------------------------------------------ */

static void test_zero_sizes(void) {
  enum { N = 26 };
  void* p[N];
  int i = 0;
  for (int twice = 0; twice < 2; twice++) {
    p[i++] = mi_malloc(0);
    p[i++] = mi_zalloc(0);
    p[i++] = mi_calloc(0, 16);
    p[i++] = mi_calloc(16, 0);
    p[i++] = mi_calloc(0, 0);
    p[i++] = mi_mallocn(0, 8);
    p[i++] = mi_malloc_small(0);
    p[i++] = mi_zalloc_small(0);
    p[i++] = mi_heap_malloc(mi_heap_get_default(), 0);
    errno = 0;
    p[i++] = mi_realloc(NULL, 0);
    p[i++] = mi_reallocarray(NULL, 0, 16);
    expect(errno == 0, "zero-size realloc(NULL) forms leave errno alone", 0, 0);
    p[i++] = mi_rezalloc(NULL, 0);
    p[i++] = mi_strndup("abc", 0);
  }
  expect(i == N, "zero-size case count", (size_t)i, N);
  for (int a = 0; a < N; a++) {
    expect(p[a] != NULL, "zero-size allocation is non-NULL", (size_t)a, 0);
    size_t u = mi_usable_size(p[a]);
    expect(u > 0 && u <= 16, "zero-size allocation has a small usable size", (size_t)a, u);
    if (p[a] != NULL) memset(p[a], 0xee, u);
    for (int b = 0; b < a; b++) expect(p[a] != p[b], "zero-size allocations are distinct", (size_t)a, (size_t)b);
  }
  for (int a = 0; a < N; a++) mi_free(p[a]);
  /* aligned forms of size 0 */
  for (size_t al = 1; al <= 4 * MiB; al *= 4) {
    void* x = mi_malloc_aligned(0, al);
    void* y = mi_zalloc_aligned(0, al);
    void* z = mi_aligned_alloc(al, 0);
    void* w = mi_memalign(al, 0);
    expect(x != NULL && y != NULL && z != NULL && w != NULL, "aligned size 0 is non-NULL", al, 0);
    expect(((uintptr_t)x | (uintptr_t)y | (uintptr_t)z | (uintptr_t)w) % al == 0, "aligned size 0 is aligned", al, 0);
    expect(x != y && y != z && z != w && x != w, "aligned size 0 blocks are distinct", al, 0);
    expect(mi_usable_size(x) > 0 && mi_usable_size(y) > 0, "aligned size 0 usable > 0", al, 0);
    if (al >= sizeof(void*)) {
      void* v = NULL;
      expect(mi_posix_memalign(&v, al, 0) == 0 && v != NULL && (uintptr_t)v % al == 0, "mi_posix_memalign(al, 0)", al, 0);
      mi_free(v);
    }
    mi_free(x); mi_free(y); mi_free(z); mi_free(w);
  }
  void* v = mi_valloc(0);
  void* pv = mi_pvalloc(0);
  expect(v != NULL && pv != NULL && (uintptr_t)v % 4096 == 0 && (uintptr_t)pv % 4096 == 0, "valloc/pvalloc(0)", 0, 0);
  mi_free(v); mi_free(pv);
  /* realloc to 0 returns a minimal block (our documented choice) and frees the old one */
  mi_heap_t* heap = mi_heap_new();
  for (size_t n = 1; n <= 8 * MiB; n *= 8) {
    void* b = mi_heap_malloc(heap, n);
    void* c = mi_heap_realloc(heap, b, 0);
    expect(c != NULL && mi_usable_size(c) <= 16, "realloc(p, 0) is a minimal block", n, 0);
    expect(live_in_heap(heap) == 1, "realloc(p, 0) freed p", n, live_in_heap(heap));
    mi_free(c);
  }
  mi_heap_delete(heap);
}

/* ---- non-power-of-two alignments -------------------------------------------------------------- */

static void bad_alignment(size_t al) {
  void* live = mi_malloc(40);
  fill(live, 40, 11);
  long einval_before = reports[2];
  void* p;
#define EXPECT_EINVAL(call, name)            \
  do {                                       \
    errno = 0;                               \
    p = (call);                              \
    expect(p == NULL, name, al, 0);          \
    expect(errno == EINVAL, name " errno", al, 0); \
  } while (0)
  EXPECT_EINVAL(mi_malloc_aligned(64, al), "mi_malloc_aligned(64, bad)");
  EXPECT_EINVAL(mi_malloc_aligned(0, al), "mi_malloc_aligned(0, bad)");
  EXPECT_EINVAL(mi_zalloc_aligned(64, al), "mi_zalloc_aligned(64, bad)");
  EXPECT_EINVAL(mi_calloc_aligned(4, 16, al), "mi_calloc_aligned(4, 16, bad)");
  EXPECT_EINVAL(mi_malloc_aligned_at(64, al, 8), "mi_malloc_aligned_at(64, bad, 8)");
  EXPECT_EINVAL(mi_heap_malloc_aligned(mi_heap_get_default(), 64, al), "mi_heap_malloc_aligned(64, bad)");
  EXPECT_EINVAL(mi_realloc_aligned(live, 80, al), "mi_realloc_aligned(live, 80, bad)");
  EXPECT_EINVAL(mi_realloc_aligned(NULL, 80, al), "mi_realloc_aligned(NULL, 80, bad)");
  EXPECT_EINVAL(mi_rezalloc_aligned(live, 80, al), "mi_rezalloc_aligned(live, 80, bad)");
  EXPECT_EINVAL(mi_memalign(al, 64), "mi_memalign(bad, 64)");
  EXPECT_EINVAL(mi_aligned_alloc(al, 64), "mi_aligned_alloc(bad, 64)");
#undef EXPECT_EINVAL
  void* q = (void*)&q;
  expect(mi_posix_memalign(&q, al, 64) == EINVAL && q == (void*)&q, "mi_posix_memalign(bad): EINVAL, q untouched", al, 0);
  expect(reports[2] >= einval_before + 9, "bad alignments are reported as EINVAL", al, (size_t)(reports[2] - einval_before));
  expect(intact(live, 40, 11), "the live block after bad alignments", al, 0);
  mi_free(live);
}

static void test_bad_alignments(void) {
  size_t fixed[] = {0, 3, 5, 6, 7, 12, 24, 48, 100, 3 * MiB, SIZE_MAX, SIZE_MAX - 1};
  for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) bad_alignment(fixed[i]);
  for (unsigned k = 1; k < 8 * sizeof(size_t) - 1; k++) {
    bad_alignment(((size_t)1 << k) + 1);
    if (k >= 2) bad_alignment(((size_t)1 << k) - 1);
    if (k >= 2) bad_alignment(((size_t)1 << k) | ((size_t)1 << (k - 1)));
  }
  /* posix_memalign also refuses powers of two below the pointer size */
  for (size_t al = 1; al < sizeof(void*); al *= 2) {
    void* q = (void*)&q;
    expect(mi_posix_memalign(&q, al, 64) == EINVAL && q == (void*)&q, "mi_posix_memalign(< sizeof(void*))", al, 0);
  }
  expect(mi_posix_memalign(NULL, 64, 64) == EINVAL, "mi_posix_memalign(NULL, ...)", 0, 0);
}

/* ---- realloc of NULL ------------------------------------------------------------------------- */

static void test_realloc_null(void) {
  size_t sizes[] = {1, 8, 16, 100, 1000, 5000, 40 * KiB, 100 * KiB, 600 * KiB, 3 * MiB, 9 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t n = sizes[i];
    size_t nat = n >= 16 ? 16 : n >= 8 ? 8 : n >= 4 ? 4 : n >= 2 ? 2 : 1;
    void* p = mi_realloc(NULL, n);
    expect(p != NULL && mi_usable_size(p) >= n && (uintptr_t)p % nat == 0, "mi_realloc(NULL, n)", n, 0);
    if (p != NULL) fill(p, n, 1);
    void* r = mi_reallocn(NULL, n, 1);
    void* f = mi_reallocf(NULL, n);
    void* ra = mi_reallocarray(NULL, 1, n);
    expect(r != NULL && f != NULL && ra != NULL, "mi_reallocn/f/array(NULL, n)", n, 0);
    void* z = mi_rezalloc(NULL, n);
    void* c = mi_recalloc(NULL, n, 1);
    expect(z != NULL && all_zero(z, n) && c != NULL && all_zero(c, n), "mi_rezalloc/recalloc(NULL, n) are zero", n, 0);
    for (size_t al = 16; al <= 8 * MiB; al *= 32) {
      void* a = mi_realloc_aligned(NULL, n, al);
      void* az = mi_rezalloc_aligned(NULL, n, al);
      void* aat = mi_realloc_aligned_at(NULL, n, al > 64 * KiB ? 64 * KiB : al, 8);
      expect(a != NULL && (uintptr_t)a % al == 0 && mi_usable_size(a) >= n, "mi_realloc_aligned(NULL, n, al)", n, al);
      expect(az != NULL && (uintptr_t)az % al == 0 && all_zero(az, n), "mi_rezalloc_aligned(NULL, n, al)", n, al);
      expect(aat != NULL && ((uintptr_t)aat + 8) % (al > 64 * KiB ? 64 * KiB : al) == 0, "mi_realloc_aligned_at(NULL, n, al, 8)", n, al);
      mi_free(a); mi_free(az); mi_free(aat);
    }
    expect(p != NULL && intact(p, n, 1), "mi_realloc(NULL, n) block kept its contents", n, 0);
    mi_free(p); mi_free(r); mi_free(f); mi_free(ra); mi_free(z); mi_free(c);
  }
  void* q = NULL;
  expect(mi_reallocarr(&q, 10, 10) == 0 && q != NULL && mi_usable_size(q) >= 100, "mi_reallocarr(&NULL, 10, 10)", 0, 0);
  mi_free(q);
}

/* ---- aligned realloc to a larger alignment ----------------------------------------------------- */

static void test_aligned_realloc_grows_alignment(void) {
  size_t sizes[] = {24, 1000, 70 * KiB, 3 * MiB};
  size_t aligns[] = {16, 64, 4096, 64 * KiB, MiB, 8 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t n = sizes[i];
    uint8_t* p = (uint8_t*)mi_malloc_aligned(n, 8);
    fill(p, n, 2);
    size_t have = n;
    for (size_t j = 0; j < sizeof(aligns) / sizeof(aligns[0]); j++) {
      size_t al = aligns[j];
      /* same size, larger alignment: must move if the old address is not aligned enough */
      p = (uint8_t*)mi_realloc_aligned(p, have, al);
      expect(p != NULL && (uintptr_t)p % al == 0, "mi_realloc_aligned to a larger alignment", n, al);
      expect(p != NULL && intact(p, have, 2), "contents kept across an alignment increase", n, al);
      /* and grow at that alignment */
      size_t grown = have + have / 2 + 1;
      p = (uint8_t*)mi_realloc_aligned(p, grown, al);
      expect(p != NULL && (uintptr_t)p % al == 0 && mi_usable_size(p) >= grown, "mi_realloc_aligned grow", n, al);
      expect(p != NULL && intact(p, have, 2), "contents kept across an aligned grow", n, al);
      fill(p, grown, 2);
      have = grown;
    }
    /* a plain realloc of the (interior, aligned) block keeps the contents too */
    p = (uint8_t*)mi_realloc(p, have + 100);
    expect(p != NULL && intact(p, have, 2), "mi_realloc of an aligned block", n, 0);
    mi_free(p);
  }
  /* rezalloc to a larger alignment: the grown part is zero */
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t n = sizes[i];
    uint8_t* z = (uint8_t*)mi_zalloc_aligned(n, 16);
    memset(z, 0x11, n);
    for (size_t j = 1; j < sizeof(aligns) / sizeof(aligns[0]); j++) {
      size_t al = aligns[j];
      z = (uint8_t*)mi_rezalloc_aligned(z, 2 * n, al);
      bool ok = z != NULL && (uintptr_t)z % al == 0;
      for (size_t b = 0; ok && b < n; b++) ok = z[b] == 0x11;
      expect(ok && all_zero(z + n, n), "mi_rezalloc_aligned to a larger alignment", n, al);
      z = (uint8_t*)mi_rezalloc_aligned(z, n, al); /* shrink back (may stay in place) */
      expect(z != NULL && (uintptr_t)z % al == 0, "mi_rezalloc_aligned shrink", n, al);
    }
    mi_free(z);
  }
  /* an offset alignment after a plain one */
  uint8_t* o = (uint8_t*)mi_malloc(200);
  fill(o, 200, 4);
  o = (uint8_t*)mi_realloc_aligned_at(o, 200, 4096, 24);
  expect(o != NULL && ((uintptr_t)o + 24) % 4096 == 0 && intact(o, 200, 4), "mi_realloc_aligned_at(p, 200, 4096, 24)", 0, 0);
  mi_free(o);
}

/* ---- rezalloc: the grown part is zero, whatever happened before ------------------------------ */

typedef void* (*rezalloc_fun)(void* p, size_t n, size_t alignment);
static void* plain_rezalloc(void* p, size_t n, size_t alignment) { (void)alignment; return mi_rezalloc(p, n); }
static void* plain_recalloc(void* p, size_t n, size_t alignment) { (void)alignment; return mi_recalloc(p, n, 1); }
static void* aligned_rezalloc(void* p, size_t n, size_t alignment) { return mi_rezalloc_aligned(p, n, alignment); }

/* Regression: a rezalloc that shrank a block (in place, or by moving it to a block that was not
 * zeroed past the request) left non-zero bytes between the request and the usable size, and the
 * next rezalloc that grew it handed them out as its "zeroed" growth. */
static void test_rezalloc_tail_is_zero(void) {
  /* dirty the small and medium classes, so reused blocks carry old data */
  for (size_t n = 8; n < 20000; n += 8) {
    void* d = mi_malloc(n);
    memset(d, 0x77, n);
    mi_free(d);
  }
  rezalloc_fun funs[] = {plain_rezalloc, plain_recalloc, aligned_rezalloc};
  size_t aligns[] = {16, 64, 4096};
  size_t firsts[] = {100, 1000, 5000, 16000};
  for (size_t f = 0; f < 3; f++) {
    for (size_t a = 0; a < 3; a++) {
      size_t al = aligns[a];
      for (size_t i = 0; i < 4; i++) {
        size_t big = firsts[i];
        size_t smalls[] = {big - big / 3, big / 10, 1}; /* in place, moved, moved to the smallest */
        for (size_t s = 0; s < 3; s++) {
          size_t small = smalls[s];
          uint8_t* p = (uint8_t*)funs[f](NULL, big, al);
          expect(p != NULL && all_zero(p, big), "rezalloc(NULL, big) is zero", big, al);
          memset(p, 0x11, big);
          p = (uint8_t*)funs[f](p, small, al);
          expect(p != NULL && p[0] == 0x11 && p[small - 1] == 0x11, "rezalloc shrink keeps the prefix", small, al);
          p = (uint8_t*)funs[f](p, big, al);
          bool ok = p != NULL;
          for (size_t b = 0; ok && b < small; b++) ok = p[b] == 0x11;
          expect(ok, "rezalloc grow keeps the prefix", big, small);
          expect(p != NULL && all_zero(p + small, big - small), "rezalloc: the grown part is zero", big + 100000 * f, small);
          mi_free(p);
        }
      }
    }
  }
}

/* ---- mi_expand that cannot grow ------------------------------------------------------------------ */

static void test_expand(void) {
  size_t sizes[] = {1, 100, 5000, 40 * KiB, 100 * KiB, 3 * MiB};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    size_t n = sizes[i];
    for (int aligned = 0; aligned < 2; aligned++) {
      void* p = aligned ? mi_malloc_aligned(n, 4096) : mi_malloc(n);
      size_t u = mi_usable_size(p);
      fill(p, u, 6);
      expect(mi_expand(p, u + 1) == NULL, "mi_expand beyond the usable size", n, u);
      expect(mi_expand(p, 2 * u) == NULL, "mi_expand to twice the usable size", n, u);
      expect(mi_expand(p, (size_t)PTRDIFF_MAX) == NULL, "mi_expand(PTRDIFF_MAX)", n, u);
      expect(mi_expand(p, SIZE_MAX) == NULL, "mi_expand(SIZE_MAX)", n, u);
      expect(mi_expand(p, u) == p && mi_expand(p, n) == p && mi_expand(p, 0) == p, "mi_expand within the block", n, u);
      expect(mi_usable_size(p) == u && intact(p, u, 6), "a failed mi_expand changed nothing", n, u);
      mi_free(p);
    }
  }
  expect(mi_expand(NULL, 10) == NULL && mi_expand(NULL, 0) == NULL, "mi_expand(NULL)", 0, 0);
}

/* ---- NULL arguments ------------------------------------------------------------------------ */

static void test_null_arguments(void) {
  errno = 1234;
  mi_free(NULL);
  mi_cfree(NULL);
  mi_free_size(NULL, 10);
  mi_free_aligned(NULL, 64);
  mi_free_size_aligned(NULL, 10, 64);
  mi_heap_collect(mi_heap_get_default(), false);
  expect(errno == 1234, "freeing NULL leaves errno alone", 0, 0);
  expect(mi_usable_size(NULL) == 0, "mi_usable_size(NULL)", 0, 0);
  expect(mi_malloc_size(NULL) == 0 && mi_malloc_usable_size(NULL) == 0, "mi_malloc_size(NULL)", 0, 0);
  expect(mi_strdup(NULL) == NULL && mi_strndup(NULL, 4) == NULL, "mi_strdup(NULL)", 0, 0);
  expect(!mi_check_owned(NULL) && !mi_is_in_heap_region(NULL), "NULL is not ours", 0, 0);
  /* a failing reallocf frees its block */
  mi_heap_t* heap = mi_heap_new();
  void* p = mi_heap_malloc(heap, 100);
  expect(live_in_heap(heap) == 1, "one block in the heap", 0, 0);
  expect(mi_heap_reallocf(heap, p, SIZE_MAX) == NULL, "mi_heap_reallocf(p, SIZE_MAX)", 0, 0);
  expect(live_in_heap(heap) == 0, "a failed reallocf freed the block", 0, 0);
  mi_heap_delete(heap);
}

int main(void) {
  mi_register_error(&on_error, NULL);
  mi_build_config_t cfg;
  mi_build_config(&cfg);
  test_null_arguments();
  test_zero_sizes();
  test_bad_alignments();
  test_realloc_null();
  test_aligned_realloc_grows_alignment();
  test_rezalloc_tail_is_zero();
  test_expand();
  test_overflowing_products();
  test_alignment_rounding_overflow();
  test_too_large_sweep();
  expect(reports[3] == 0, "no corruption (EFAULT) reported", (size_t)reports[3], 0);
  expect(reports[4] == 0, "no double free (EAGAIN) reported", (size_t)reports[4], 0);
  printf("secure %d, debug %d; reports: %ld EOVERFLOW, %ld ENOMEM, %ld EINVAL\n", cfg.secure, cfg.debug, reports[0],
         reports[1], reports[2]);
  return mi_test_summary();
}
