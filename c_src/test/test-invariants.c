/* SPDX-License-Identifier: MIT
 * The debug build's invariant validators (MI_DEBUG >= 2; MI_DEBUG = 3 walks whole queues after
 * every change): quiet under a threaded load with cross-thread frees, abandonment, heaps and
 * forced collects, and loud (EFAULT through the error hook, a message naming the invariant) when
 * a page counter, a page-queue link or a segment counter is corrupted on purpose. Linked against
 * the static library, so it reaches the internal structures and the check functions directly. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "testing.h"

#if !MI_INVARIANTS
int main(void) {
  printf("invariant checks are compiled out in this build (MI_DEBUG < 2)\n");
  CHECK(!MI_INVARIANTS);
  return mi_test_summary();
}
#else

static int errors_seen;
static int last_error;
static char messages[8192];
static size_t messages_len;

static void on_error(int err, void* arg) {
  (void)arg;
  errors_seen++;
  last_error = err;
}

static void on_output(const char* msg, void* arg) {
  (void)arg;
  size_t n = strlen(msg);
  if (messages_len + n + 1 < sizeof(messages)) {
    memcpy(messages + messages_len, msg, n + 1);
    messages_len += n;
  }
}

static void reset_reports(void) {
  errors_seen = 0;
  last_error = 0;
  messages_len = 0;
  messages[0] = 0;
}

/* ---- quiet under load ---- */

#define SLOTS 512
static _Atomic(void*) shared_slots[SLOTS];

static uint64_t next_random(uint64_t* x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Allocate mixed sizes, swap blocks through the shared slots (so most frees are remote), and
 * leave some blocks behind at exit so the thread's segments are abandoned and reclaimed. */
static void* worker(void* arg) {
  uint64_t rnd = (uint64_t)(uintptr_t)arg * 0x9E3779B97F4A7C15ull + 1;
  for (int i = 0; i < 20000; i++) {
    uint64_t r = next_random(&rnd);
    size_t size = (r % 16 == 0 ? (size_t)(r >> 8) % (300 * 1024) : (size_t)(r >> 8) % 1024);
    void* p = mi_malloc(size);
    if (p == NULL) continue;
    memset(p, 0x5A, size < 64 ? size : 64);
    void* old = atomic_exchange(&shared_slots[(r >> 32) % SLOTS], p);
    mi_free(old);
    if (i % 5000 == 0) mi_collect(i % 10000 == 0);
  }
  return NULL;
}

static void quiet_under_load(void) {
  reset_reports();
  for (int round = 0; round < 3; round++) {
    pthread_t threads[4];
    for (uintptr_t t = 0; t < 4; t++) pthread_create(&threads[t], NULL, worker, (void*)(t + 1 + 4 * (uintptr_t)round));
    for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
    mi_collect(true); /* reclaims the exited threads' segments and validates everything */
  }
  mi_heap_t* heap = mi_heap_new();
  for (int i = 0; i < 1000; i++) {
    size_t n = (size_t)(i % 200) * 8;
    void* hp = mi_heap_malloc(heap, n);
    if (hp != NULL) memset(hp, 1, n);
  }
  mi_heap_collect(heap, true);
  mi_heap_delete(heap); /* its blocks move to the default heap */
  mi_collect(true);
  for (int i = 0; i < SLOTS; i++) mi_free(atomic_exchange(&shared_slots[i], NULL));
  mi_collect(true);
  CHECK(errors_seen == 0);
  if (errors_seen != 0) fprintf(stderr, "unexpected reports under load:\n%s", messages);
}

/* ---- loud when corrupted ---- */

static int expect_report(const char* what) {
  int ok = (errors_seen > 0 && last_error == EFAULT && strstr(messages, what) != NULL);
  if (!ok) fprintf(stderr, "expected an EFAULT report containing '%s'; got %d reports:\n%s", what, errors_seen, messages);
  reset_reports();
  return ok;
}

static void loud_when_corrupted(void) {
  mi_heap_t* heap = mi_heap_new();
  void* blocks[4];
  for (int i = 0; i < 4; i++) blocks[i] = mi_heap_malloc(heap, 48);
  mi_page_t* page = _mi_ptr_page(blocks[0]);
  mi_segment_t* segment = _mi_page_segment(page);

  /* a counter that no longer matches the free lists */
  reset_reports();
  page->used++;
  mi_heap_collect(heap, true);
  CHECK(expect_report("page invariant broken"));
  page->used--;

  /* a queue link that points elsewhere */
  mi_page_t* saved_prev = page->prev;
  page->prev = page;
  _mi_heap_check(heap);
  CHECK(expect_report("page queue invariant broken (back link)"));
  page->prev = saved_prev;

  /* the direct array out of step with the queue */
  size_t w = _mi_wsize_from_size(page->block_size);
  mi_page_t* saved_direct = heap->pages_free_direct[w];
  CHECK(saved_direct == page);
  heap->pages_free_direct[w] = (mi_page_t*)&_mi_page_empty;
  _mi_heap_check(heap);
  CHECK(expect_report("heap invariant broken: direct entry"));
  heap->pages_free_direct[w] = saved_direct;

  /* a segment that miscounts its pages */
  segment->used++;
  _mi_segments_check(heap->tld);
  CHECK(expect_report("segment invariant broken (used count)"));
  segment->used--;

  /* repaired, everything is quiet again and the heap still works */
  _mi_heap_check(heap);
  _mi_segments_check(heap->tld);
  mi_heap_collect(heap, true);
  CHECK(errors_seen == 0);
  void* p = mi_heap_malloc(heap, 48);
  CHECK(p != NULL && mi_heap_contains_block(heap, p));
  mi_heap_destroy(heap);
  CHECK(errors_seen == 0);
}

int main(void) {
  mi_register_output(on_output, NULL);
  mi_register_error(on_error, NULL);
  quiet_under_load();
  loud_when_corrupted();
  mi_register_error(NULL, NULL);
  mi_register_output(NULL, NULL);
  return mi_test_summary();
}
#endif
