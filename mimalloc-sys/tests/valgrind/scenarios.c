/* SPDX-License-Identifier: MIT
 * Programs for tests/valgrind.rs, one per argv[1], compiled with c_src/src/static.c and
 * MI_TRACK_VALGRIND=1 and run under memcheck. The faulty ones make one mistake each, in a
 * function of their own (so memcheck's stack names it), and then stop; `clean` walks the API's
 * allocation paths and frees everything, and memcheck must report nothing at all. */
#include <mimalloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define noinline __attribute__((noinline))

static int failures;
#define CHECK(c)                                                           \
  do {                                                                     \
    if (!(c)) {                                                            \
      fprintf(stderr, "check failed: %s (line %d)\n", #c, __LINE__);       \
      failures++;                                                          \
    }                                                                      \
  } while (0)

/* The compiler must not keep a copy of a pointer the program claims to have dropped. */
static void* volatile sink;

static noinline void leak_1234_bytes(void) {
  char* p = mi_malloc(1234);
  memset(p, 1, 1234);
  sink = p;
  sink = NULL;
}

/* Through libc: with the malloc override, strdup's block is ours too. */
static noinline void leak_through_libc(void) {
  sink = strdup("a string libc copies with our malloc");
  sink = NULL;
}

/* Grown by a small step: the block memcheck knows is still exactly what was asked for. */
static noinline void leak_after_realloc(void) {
  char* p = mi_malloc(1000);
  memset(p, 1, 1000);
  p = mi_realloc(p, 1100);
  memset(p, 2, 1100);
  sink = p;
  sink = NULL;
}

static noinline int read_after_free(void) {
  volatile char* p = mi_malloc(100);
  p[0] = 7;
  mi_free((void*)p);
  return p[0];
}

static noinline void free_twice(void) {
  void* p = mi_malloc(64);
  mi_free(p);
  mi_free(p);
}

static noinline void free_interior_pointer(void) {
  char* p = mi_malloc(64);
  sink = p;
  mi_free(p + 8);
}

static noinline void write_past_the_end(void) {
  volatile char* p = mi_malloc(100);
  p[100] = 1; /* the block is 100 bytes, whatever its size class */
  mi_free((void*)p);
}

/* ---- clean: every byte used is the program's, everything is freed ------------------------ */

static void* handoff[64];

static void* thread_main(void* arg) {
  (void)arg;
  for (int i = 0; i < 32; i++) mi_free(handoff[i]); /* blocks of another thread's heap */
  for (int i = 0; i < 32; i++) {
    handoff[i] = mi_malloc(24 + (size_t)i * 8); /* freed by the main thread after this one exits */
    memset(handoff[i], i, 24);
  }
  return NULL;
}

static void clean_sizes(void) {
  static const size_t sizes[] = {0, 1, 8, 15, 100, 1024, 5000, 70000, 300000, 3u << 20, 9u << 20};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    unsigned char* p = mi_malloc(sizes[i]);
    CHECK(p != NULL);
    size_t n = mi_usable_size(p);
    CHECK(n >= sizes[i]);
    memset(p, 0xAB, n); /* all of the usable size is the program's */
    unsigned char* z = mi_zalloc(sizes[i]);
    size_t zn = mi_usable_size(z);
    for (size_t k = 0; k < zn; k++) {
      if (z[k] != 0) {
        CHECK(!"zalloc memory is zero");
        break;
      }
    }
    mi_free(z);
    mi_free(p);
  }
  for (int r = 0; r < 3; r++) { /* calloc over memory just freed */
    int* c = mi_calloc(100, sizeof(int));
    for (int k = 0; k < 100; k++) CHECK(c[k] == 0);
    c[5] = 1;
    mi_free(c);
  }
}

static void clean_realloc(void) {
  char* s = mi_malloc(10);
  memcpy(s, "123456789", 10);
  s = mi_realloc(s, 20);
  CHECK(memcmp(s, "123456789", 10) == 0);
  s = mi_realloc(s, 15); /* in place */
  CHECK(memcmp(s, "123456789", 10) == 0);
  memset(s + 10, 'x', mi_usable_size(s) - 10);
  s = mi_realloc(s, 4000);
  CHECK(memcmp(s, "123456789", 10) == 0);
  s = mi_rezalloc(s, 8000);
  CHECK(s[7999] == 0);
  mi_free(s);
  char* d = mi_strdup("hello");
  CHECK(strcmp(d, "hello") == 0);
  mi_free(d);
  void* e = mi_malloc(50);
  CHECK(mi_expand(e, 10) == e);
  mi_free(e);
}

static void clean_aligned(void) {
  for (size_t a = 8; a <= 4096; a *= 2) {
    char* p = mi_malloc_aligned(100, a);
    CHECK(((uintptr_t)p & (a - 1)) == 0);
    memset(p, 1, mi_usable_size(p));
    char* q = mi_zalloc_aligned(33, a);
    for (int k = 0; k < 33; k++) CHECK(q[k] == 0);
    q = mi_realloc_aligned(q, 500, a);
    CHECK(((uintptr_t)q & (a - 1)) == 0);
    memset(q, 2, mi_usable_size(q));
    char* o = mi_malloc_aligned_at(64, a, 8);
    CHECK((((uintptr_t)o + 8) & (a - 1)) == 0);
    memset(o, 3, 64);
    mi_free(mi_malloc_aligned(0, a));
    mi_free(o);
    mi_free(q);
    mi_free(p);
  }
  void* big = mi_malloc_aligned(1000, (size_t)1 << 20); /* a huge segment placed on the alignment */
  memset(big, 4, 1000);
  mi_free(big);
  void* pm = NULL;
  CHECK(mi_posix_memalign(&pm, 64, 200) == 0);
  memset(pm, 5, 200);
  mi_free(pm);
}

static void clean_heaps(void) {
  /* destroyed with live blocks: plain, aligned (interior pointers), large, freed by another thread */
  mi_heap_t* heap = mi_heap_new();
  for (int i = 0; i < 200; i++) memset(mi_heap_malloc(heap, 16 + (size_t)i), 6, 16);
  for (int i = 0; i < 20; i++) memset(mi_heap_malloc_aligned(heap, 48, 256), 7, 48);
  memset(mi_heap_malloc(heap, (size_t)1 << 20), 8, 100);
  for (int i = 0; i < 64; i++) handoff[i] = mi_heap_malloc(heap, 40);
  pthread_t t;
  CHECK(pthread_create(&t, NULL, thread_main, NULL) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  mi_heap_destroy(heap);
  /* deleted: its live blocks move to the default heap and are freed later */
  mi_heap_t* h2 = mi_heap_new();
  void* moved = mi_heap_malloc(h2, 77);
  memset(moved, 9, 77);
  mi_heap_delete(h2);
  mi_free(moved);
  for (int i = 0; i < 32; i++) mi_free(handoff[i]); /* from the exited thread's abandoned heap */
}

static void clean_churn(void) {
  void* ptrs[500];
  for (int r = 0; r < 3; r++) {
    for (int i = 0; i < 500; i++) ptrs[i] = mi_malloc((size_t)(i * 7 + r) % 3000);
    for (int i = 0; i < 500; i += 2) mi_free(ptrs[i]);
    for (int i = 1; i < 500; i += 2) mi_free(ptrs[i]);
  }
  mi_collect(true);
}

int main(int argc, char** argv) {
  const char* what = (argc > 1 ? argv[1] : "");
  if (strcmp(what, "leak") == 0) leak_1234_bytes();
  else if (strcmp(what, "libc-leak") == 0) leak_through_libc();
  else if (strcmp(what, "realloc-leak") == 0) leak_after_realloc();
  else if (strcmp(what, "use-after-free") == 0) sink = (void*)(intptr_t)read_after_free();
  else if (strcmp(what, "double-free") == 0) free_twice();
  else if (strcmp(what, "interior-free") == 0) free_interior_pointer();
  else if (strcmp(what, "overflow") == 0) write_past_the_end();
  else if (strcmp(what, "clean") == 0) {
    clean_sizes();
    clean_realloc();
    clean_aligned();
    clean_heaps();
    clean_churn();
  } else {
    fprintf(stderr, "unknown scenario '%s'\n", what);
    return 2;
  }
  printf("scenario %s: %d failed checks\n", what, failures);
  return failures == 0 ? 0 : 1;
}
