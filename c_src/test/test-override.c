/* SPDX-License-Identifier: MIT
 * Run with our shared library preloaded: plain malloc & co. must be served by it (their blocks
 * are owned by our heap), threads must work, and a fork from a multi-threaded process must
 * leave a child that can allocate. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testing.h"

typedef bool mi_check_owned_fun(const void*);
typedef int reallocarr_fun(void* ptrp, size_t count, size_t size);

#ifndef MI_TEST_CXX
#define MI_TEST_CXX 0 /* 1: the library was built with its C++ half (operator new/delete) */
#endif

/* `name` resolves, and to the same shared object as mi_check_owned. */
static bool exported_by_us(const char* name, void* owned_fn) {
  void* sym = dlsym(RTLD_DEFAULT, name);
  Dl_info a, b;
  if (sym == NULL || dladdr(sym, &a) == 0 || dladdr(owned_fn, &b) == 0) return false;
  return a.dli_fbase == b.dli_fbase;
}
static volatile bool stop;

static void* churn(void* arg) {
  (void)arg;
  unsigned n = 1;
  while (!stop) {
    void* p = malloc(n % 5000 + 1);
    memset(p, 1, n % 5000 + 1);
    free(p);
    n = n * 1103515245u + 12345u;
  }
  return NULL;
}

int main(void) {
  mi_check_owned_fun* owned = (mi_check_owned_fun*)dlsym(RTLD_DEFAULT, "mi_check_owned");
  CHECK(owned != NULL); /* the library is preloaded */
  if (owned == NULL) return mi_test_summary();
  void* a = malloc(100);
  void* b = calloc(10, 10);
  void* c = realloc(NULL, 5000);
  void* d = NULL;
  CHECK(posix_memalign(&d, 256, 1000) == 0 && ((uintptr_t)d % 256) == 0);
  void* e = aligned_alloc(64, 640);
  void* f = memalign(128, 10);
  void* g = valloc(10);
  void* h = strdup("hello");
  CHECK(owned(a) && owned(b) && owned(c) && owned(d) && owned(e) && owned(f) && owned(g) && owned(h));
  CHECK(malloc_usable_size(a) >= 100);
  void* big = malloc(10 << 20);
  CHECK(owned(big));
  free(big);
  free(a); free(b); free(c); free(d); free(e); free(f); free(g); free(h);

  /* NetBSD's reallocarr (glibc has none): 0 or an errno value, the pointer replaced on success only */
  CHECK(exported_by_us("reallocarr", (void*)owned));
  reallocarr_fun* rarr = (reallocarr_fun*)dlsym(RTLD_DEFAULT, "reallocarr");
  if (rarr != NULL) {
    void* q = malloc(10);
    CHECK(rarr(&q, 100, 10) == 0 && owned(q) && malloc_usable_size(q) >= 1000);
    void* keep = q;
    CHECK(rarr(&q, SIZE_MAX / 2, 4) == ENOMEM && q == keep);
    free(q);
  }
#if MI_TEST_CXX
  /* operator new/delete (a few of the forms, by their Itanium-ABI names) */
  CHECK(exported_by_us("_Znwm", (void*)owned) && exported_by_us("_ZdlPv", (void*)owned));
  CHECK(exported_by_us("_ZnamSt11align_val_t", (void*)owned) && exported_by_us("_ZdlPvmSt11align_val_t", (void*)owned));
#endif

  /* fork while four threads allocate: the child allocates and exits cleanly, 100 times */
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, churn, NULL);
  int good = 0;
  for (int i = 0; i < 100; i++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int j = 0; j < 1000; j++) {
        void* p = malloc((size_t)j * 7 + 1);
        memset(p, 2, (size_t)j * 7 + 1);
        free(p);
      }
      _exit(owned(malloc(10)) ? 0 : 3);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    good += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }
  stop = true;
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(good == 100);
  return mi_test_summary();
}
