/* SPDX-License-Identifier: MIT
 * The assertion tiers fire. Each case runs in a child process that breaks one precondition or
 * invariant on purpose; the child must die of SIGABRT after printing "assertion failed" with the
 * broken expression. Tier 1 (MI_DEBUG >= 1): a page pushed on the queue it is already in, and a
 * heap collected by a thread that does not own it; tier 2: a queue's broken back link, caught by
 * the heap check at the next collect; tier 3: a page of another heap in the full queue, caught by
 * the queue walk at the next change of that queue. Below its tier a case is skipped: the same
 * corruption then goes unnoticed by design. Linked against the static library, so it reaches the
 * internal structures directly. */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mimalloc.h"
#include "mimalloc/internal.h"
#include "testing.h"

#if MI_DEBUG < 1
int main(void) {
  printf("assertions are compiled out in this build (MI_DEBUG = 0)\n");
  CHECK(MI_DEBUG == 0);
  return mi_test_summary();
}
#else

static int out_fd = -1;

static void on_output(const char* msg, void* arg) {
  (void)arg;
  size_t n = strlen(msg);
  while (n > 0) {
    ssize_t w = write(out_fd, msg, n);
    if (w <= 0) return;
    msg += w;
    n -= (size_t)w;
  }
}

/* a reported invariant goes on to its assertion, which must then end the process */
static void on_error(int err, void* arg) {
  (void)err;
  (void)arg;
}

/* Runs `breaker` in a child; true when the child aborted with an assertion naming `expr`. */
static bool dies_asserting(void (*breaker)(void), const char* expr) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    close(fds[0]);
    out_fd = fds[1];
    mi_register_output(on_output, NULL);
    mi_register_error(on_error, NULL);
    breaker();
    _exit(3); /* the assertion did not fire */
  }
  close(fds[1]);
  char buf[8192];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof(buf) - 1 && (n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0) len += (size_t)n;
  buf[len] = 0;
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  bool ok = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT && strstr(buf, "assertion failed") != NULL &&
            strstr(buf, expr) != NULL;
  if (!ok) {
    fprintf(stderr, "expected an abort on the assertion '%s'; got %s %d, output:\n%s\n", expr,
            WIFSIGNALED(status) ? "signal" : "exit status", WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), buf);
  }
  return ok;
}

/* ---- tier 1 ---- */

static void push_twice(void) {
  mi_heap_t* heap = mi_heap_new();
  mi_page_t* page = _mi_ptr_page(mi_heap_malloc(heap, 48));
  _mi_page_queue_push(heap, _mi_page_queue_of(heap, page), page); /* it is that queue's page already */
}

static void* collect_foreign(void* heap) {
  mi_heap_collect((mi_heap_t*)heap, false);
  return NULL;
}

static void collect_from_another_thread(void) {
  mi_heap_t* heap = mi_heap_new();
  if (mi_heap_malloc(heap, 48) == NULL) _exit(2);
  pthread_t t;
  if (pthread_create(&t, NULL, collect_foreign, heap) != 0) _exit(2);
  pthread_join(t, NULL);
}

/* ---- tier 2 ---- */

static void broken_back_link(void) {
  mi_heap_t* heap = mi_heap_new();
  mi_page_t* page = _mi_ptr_page(mi_heap_malloc(heap, 48));
  page->prev = page;
  mi_heap_collect(heap, false);
}

/* ---- tier 3 ---- */

/* Fill pages of one size class until two are in the full queue, give the first of them to
 * another heap behind the allocator's back, then free a block of the second: moving it out of
 * the full queue walks that queue. */
static void foreign_page_in_full_queue(void) {
  mi_heap_t* heap = mi_heap_new();
  mi_heap_t* other = mi_heap_new();
  mi_page_t* pages[3] = {NULL, NULL, NULL};
  void* in_second = NULL;
  size_t seen = 0;
  while (seen < 3) {
    void* p = mi_heap_malloc(heap, 48);
    if (p == NULL) _exit(2);
    mi_page_t* page = _mi_ptr_page(p);
    if (seen == 0 || pages[seen - 1] != page) pages[seen++] = page;
    if (seen == 2) in_second = p;
  }
  const mi_page_queue_t* full = &heap->pages[MI_BIN_FULL];
  if (full->first != pages[0] || full->last != pages[1] || !mi_page_is_in_full(pages[1])) _exit(2);
  mi_page_set_heap(pages[0], other);
  mi_free(in_second);
}

int main(void) {
  CHECK(dies_asserting(push_twice, "queue->first != page"));
  CHECK(dies_asserting(collect_from_another_thread, "heap->thread_id == _mi_thread_id()"));
#if MI_DEBUG >= 2
  CHECK(dies_asserting(broken_back_link, "_mi_heap_check(heap)"));
#else
  (void)broken_back_link;
#endif
#if MI_DEBUG >= 3
  CHECK(dies_asserting(foreign_page_in_full_queue, "_mi_page_queue_check(heap, queue, " /* NULL comes out expanded */));
#else
  (void)foreign_page_in_full_queue;
#endif
  /* the parent's own heap is untouched */
  void* p = mi_malloc(48);
  CHECK(p != NULL);
  mi_free(p);
  return mi_test_summary();
}
#endif
