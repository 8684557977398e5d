/* SPDX-License-Identifier: MIT
 * Threaded churn for the sanitizer builds (and a plain ctest): rounds of short-lived threads
 * that allocate blocks of every page kind, hand them to each other through shared slots (so most
 * frees are remote), leave blocks behind when they exit (their segments are abandoned and the
 * next round reclaims them), destroy and delete first-class heaps with live blocks, and force
 * collections while the others run. Every block carries a pattern derived from its address and
 * size, checked when whoever ends up with it frees it: a block handed out twice or written by
 * the allocator shows up as a wrong pattern, a race as a ThreadSanitizer report.
 *
 * Usage: test-stress [threads [rounds [iterations per thread and round]]]. Uses the mi_ API
 * only, so it links against the library however that was built (static, or the unity file
 * compiled with a sanitizer). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mimalloc.h"
#include "testing.h"

#define SLOTS 1024
#define MAX_THREADS 64
#define HEAP_BLOCKS 64

static _Atomic(void*) slots[SLOTS];
/* Workers cannot use CHECK (its counters are plain ints): they count here and main checks. */
static _Atomic(long) bad_blocks;
static _Atomic(long) failed_allocs;
static _Atomic(long) blocks_checked;
static _Atomic(int) round_running;
static long iterations = 8000;

static uint64_t next_random(uint64_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Mostly small blocks, some medium and large ones, rarely a huge one: each page kind gets
 * abandoned, reclaimed and reused, the kinds of segment that go through the shared slots. */
static size_t pick_size(uint64_t r) {
  unsigned kind = (unsigned)(r % 1000);
  r >>= 10;
  if (kind < 900) return 1 + (size_t)(r % 1024);
  if (kind < 980) return 1024 + (size_t)(r % (128 * 1024));
  if (kind < 998) return 128 * 1024 + (size_t)(r % (1024 * 1024));
  return 4 * 1024 * 1024 + (size_t)(r % (4 * 1024 * 1024));
}

/* The first word holds the size (so whoever frees the block knows what to check); the bytes
 * after it, up to 64, and the last 8 bytes hold a pattern derived from address and size. Only
 * the ends are written: a huge block costs no more to stamp than a small one. */
static uint8_t pattern(const void* p, size_t size) {
  uintptr_t x = (uintptr_t)p ^ (size * 0x9E3779B9u);
  return (uint8_t)(x ^ (x >> 8) ^ (x >> 16) ^ (x >> 24));
}

static void stamp(void* p, size_t size) {
  uint8_t* b = p;
  uint8_t v = pattern(p, size);
  if (size >= sizeof(size_t)) {
    memcpy(b, &size, sizeof(size_t));
    size_t head = (size < 64 ? size : 64);
    memset(b + sizeof(size_t), v, head - sizeof(size_t));
    if (size > 64) memset(b + size - 8, v, 8);
  } else {
    memset(b, v, size);
  }
}

/* Checks a block stamped with `size` (or, for a block from the slots, with the size it
 * records), then frees it. */
static void check_and_free(void* p, size_t size) {
  if (p == NULL) return;
  uint8_t* b = p;
  if (size == 0) memcpy(&size, b, sizeof(size_t));
  uint8_t v = pattern(p, size);
  int ok = (mi_usable_size(p) >= size);
  size_t head = (size < 64 ? size : 64);
  for (size_t i = sizeof(size_t); ok && i < head; i++) ok = (b[i] == v);
  for (size_t i = size - 8; ok && size > 64 && i < size; i++) ok = (b[i] == v);
  if (!ok) {
    if (atomic_fetch_add(&bad_blocks, 1) < 5) fprintf(stderr, "test-stress: block %p of %zu bytes was changed\n", p, size);
  }
  atomic_fetch_add_explicit(&blocks_checked, 1, memory_order_relaxed);
  mi_free(p);
}

/* Blocks in the slots always record their size: at least a word. */
static void* alloc_for_slot(uint64_t r) {
  size_t size = pick_size(r);
  if (size < sizeof(size_t)) size = sizeof(size_t);
  void* p;
  switch ((r >> 40) % 8) {
  case 0: p = mi_malloc_aligned(size, (size_t)16 << ((r >> 44) % 10)); break; /* up to 8 KiB alignment */
  case 1: p = mi_zalloc(size); break;
  case 2: {
    /* grow or shrink through realloc: the block may move to another page or kind */
    p = mi_malloc(size / 2 + sizeof(size_t));
    if (p != NULL) {
      void* q = mi_realloc(p, size);
      if (q == NULL) mi_free(p);
      p = q;
    }
    break;
  }
  default: p = mi_malloc(size); break;
  }
  if (p == NULL) {
    atomic_fetch_add(&failed_allocs, 1);
    return NULL;
  }
  stamp(p, size);
  return p;
}

/* A heap destroyed with its blocks live: destroy frees them all at once. */
static void heap_destroy_live(uint64_t* rnd) {
  mi_heap_t* heap = mi_heap_new();
  if (heap == NULL) return;
  for (int i = 0; i < HEAP_BLOCKS; i++) {
    size_t size = pick_size(next_random(rnd)) % (256 * 1024) + sizeof(size_t);
    void* p = mi_heap_malloc(heap, size);
    if (p != NULL) stamp(p, size);
  }
  mi_heap_destroy(heap);
}

/* A heap deleted with live blocks, some already published to other threads: its pages move to
 * this thread's default heap, and the blocks stay valid wherever they went. */
static void heap_delete_live(uint64_t* rnd) {
  mi_heap_t* heap = mi_heap_new();
  if (heap == NULL) return;
  void* kept[HEAP_BLOCKS];
  size_t sizes[HEAP_BLOCKS];
  for (int i = 0; i < HEAP_BLOCKS; i++) {
    uint64_t r = next_random(rnd);
    sizes[i] = pick_size(r) % (64 * 1024) + sizeof(size_t);
    kept[i] = mi_heap_malloc(heap, sizes[i]);
    if (kept[i] != NULL) stamp(kept[i], sizes[i]);
    if (kept[i] != NULL && i % 4 == 0) {
      check_and_free(atomic_exchange(&slots[(r >> 32) % SLOTS], kept[i]), 0);
      kept[i] = NULL;
    }
  }
  mi_heap_delete(heap);
  for (int i = 0; i < HEAP_BLOCKS; i++) check_and_free(kept[i], sizes[i]);
}

static void* worker(void* arg) {
  uintptr_t id = (uintptr_t)arg;
  uint64_t rnd = (uint64_t)id * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
  for (long i = 0; i < iterations; i++) {
    uint64_t r = next_random(&rnd);
    void* p = alloc_for_slot(r);
    if (p != NULL) check_and_free(atomic_exchange(&slots[(r >> 32) % SLOTS], p), 0);
    /* a short-lived private block: freed locally, on the fast path */
    size_t local = 1 + (size_t)((r >> 20) % 256);
    void* q = mi_malloc(local);
    if (q != NULL) {
      stamp(q, local);
      check_and_free(q, local);
    }
    if (i % 2000 == 1000) heap_destroy_live(&rnd);
    if (i % 2000 == 1500) heap_delete_live(&rnd);
    if (i % 4000 == 3999) mi_collect(false);
  }
  /* exit with blocks of ours in the slots and in this thread's heap: its segments are
   * abandoned with live pages, for another thread to reclaim */
  return NULL;
}

/* Forces collections, on its own heap and the shared segments, while the workers run. */
static void* collector(void* arg) {
  (void)arg;
  while (atomic_load(&round_running)) {
    mi_collect(true);
    void* p = mi_malloc(100);
    if (p != NULL) {
      stamp(p, 100);
      check_and_free(atomic_exchange(&slots[(uintptr_t)p / 64 % SLOTS], p), 0);
    }
    sched_yield();
  }
  return NULL;
}

int main(int argc, char** argv) {
  long threads = (argc > 1 ? strtol(argv[1], NULL, 10) : 4);
  long rounds = (argc > 2 ? strtol(argv[2], NULL, 10) : 10);
  if (argc > 3) iterations = strtol(argv[3], NULL, 10);
  if (threads < 1 || threads > MAX_THREADS || rounds < 1 || iterations < 1) {
    fprintf(stderr, "usage: %s [threads (1..%d) [rounds [iterations]]]\n", argv[0], MAX_THREADS);
    return 2;
  }
  printf("test-stress: %ld threads, %ld rounds, %ld iterations\n", threads, rounds, iterations);
  pthread_t tids[MAX_THREADS];
  pthread_t coll;
  for (long round = 0; round < rounds; round++) {
    atomic_store(&round_running, 1);
    CHECK(pthread_create(&coll, NULL, collector, NULL) == 0);
    for (long t = 0; t < threads; t++) {
      CHECK(pthread_create(&tids[t], NULL, worker, (void*)(uintptr_t)(round * MAX_THREADS + t + 1)) == 0);
    }
    for (long t = 0; t < threads; t++) pthread_join(tids[t], NULL);
    atomic_store(&round_running, 0);
    pthread_join(coll, NULL);
    /* every few rounds the main thread adopts what the exited threads left */
    if (round % 3 == 2) mi_collect(true);
  }
  for (int i = 0; i < SLOTS; i++) check_and_free(atomic_exchange(&slots[i], NULL), 0);
  mi_collect(true);
  CHECK(atomic_load(&bad_blocks) == 0);
  CHECK(atomic_load(&failed_allocs) == 0);
  CHECK(atomic_load(&blocks_checked) > threads * rounds * iterations);
  printf("test-stress: %ld blocks checked\n", atomic_load(&blocks_checked));
  return mi_test_summary();
}
