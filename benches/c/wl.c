/* SPDX-License-Identifier: MIT
 * Workload-style allocation loops in C, run against whatever malloc is loaded (LD_PRELOAD), so
 * our libmimalloc.so, upstream mimalloc's C library and glibc are compared on the same binary.
 * `wl NAME [scale]` prints the wall time of one workload; see compare.sh. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline uint64_t rnd(uint64_t* s) {
  uint64_t x = *s;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  return *s = x;
}
static double now(void) {
  struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static long SCALE = 1;

/* cfrac-like: many short-lived 8..64 B objects with a small live set */
static void w_cfrac(void) {
  enum { LIVE = 64 };
  void* live[LIVE] = {0};
  uint64_t s = 1;
  long n = 3000000 * SCALE;
  for (long i = 0; i < n; i++) {
    size_t sz = 8 + (rnd(&s) & 56);
    void* p = malloc(sz);
    *(volatile char*)p = 1;
    void* q = malloc(sz + 8);
    *(volatile char*)q = 1;
    free(q);
    size_t k = rnd(&s) % LIVE;
    free(live[k]);
    live[k] = p;
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
}

/* alloc-test: random sizes 8..4 KiB, live set of 20000 */
static void w_alloctest(void) {
  enum { LIVE = 20000 };
  void** live = calloc(LIVE, sizeof(void*));
  uint64_t s = 2;
  long n = 1500000 * SCALE;
  for (long i = 0; i < n; i++) {
    size_t k = rnd(&s) % LIVE;
    free(live[k]);
    size_t sz = 8 + rnd(&s) % 4089;
    if ((rnd(&s) & 7) != 0) sz = 8 + (sz & 255); /* mostly small */
    live[k] = malloc(sz);
    memset(live[k], 0, sz < 64 ? sz : 64);
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  free(live);
}

/* sh6bench-like: allocate runs of blocks, free in reverse order */
static void w_sh6(void) {
  enum { N = 4000 };
  void* a[N];
  uint64_t s = 3;
  long rounds = 300 * SCALE;
  for (long r = 0; r < rounds; r++) {
    size_t base = 1 + (r % 7) * 16;
    for (int i = 0; i < N; i++) {
      a[i] = malloc(base + (rnd(&s) & 127));
      *(char*)a[i] = 1;
    }
    for (int i = N - 1; i >= 0; i--) free(a[i]);
  }
}

/* realloc growth: strings that grow by small steps to up to 64 KiB */
static void w_realloc(void) {
  uint64_t s = 4;
  long rounds = 3000 * SCALE;
  for (long r = 0; r < rounds; r++) {
    char* p = NULL;
    size_t len = 0, max = 256 + rnd(&s) % 65536;
    while (len < max) {
      len += 1 + rnd(&s) % 64;
      p = realloc(p, len);
      p[len - 1] = 1;
    }
    free(p);
  }
}

/* large blocks 5..25 MiB, 8 slots replaced at random */
static void w_large(void) {
  enum { SLOTS = 8 };
  void* slot[SLOTS] = {0};
  uint64_t s = 5;
  long n = 400 * SCALE;
  for (long i = 0; i < n; i++) {
    int k = rnd(&s) % SLOTS;
    free(slot[k]);
    size_t sz = (5 + rnd(&s) % 21) << 20;
    char* p = malloc(sz);
    for (size_t o = 0; o < sz; o += 1 << 16) p[o] = 1; /* touch sparsely */
    slot[k] = p;
  }
  for (int k = 0; k < SLOTS; k++) free(slot[k]);
}

/* calloc of fresh memory: medium/large zeroed blocks */
static void w_calloc(void) {
  uint64_t s = 6;
  long n = 20000 * SCALE;
  void* keep[16] = {0};
  for (long i = 0; i < n; i++) {
    size_t sz = 1024 + rnd(&s) % (256 * 1024);
    int k = rnd(&s) % 16;
    free(keep[k]);
    keep[k] = calloc(1, sz);
    ((char*)keep[k])[sz - 1] = 1;
  }
  for (int k = 0; k < 16; k++) free(keep[k]);
}

/* ---- multi-threaded ---- */
#define NT 4

/* xmalloc-like: producers allocate, consumers free (through a lock-free-ish ring per pair) */
typedef struct { void* volatile ring[1024]; volatile long head, tail; volatile int done; } ring_t;
static ring_t rings[NT / 2];
static void* xprod(void* arg) {
  ring_t* r = arg;
  uint64_t s = (uintptr_t)arg;
  long n = 400000 * SCALE;
  for (long i = 0; i < n; i++) {
    void* p = malloc(8 + rnd(&s) % 120);
    *(char*)p = 1;
    while (r->head - __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) >= 1024) sched_yield();
    r->ring[r->head & 1023] = p;
    __atomic_store_n(&r->head, r->head + 1, __ATOMIC_RELEASE);
  }
  r->done = 1;
  return NULL;
}
static void* xcons(void* arg) {
  ring_t* r = arg;
  for (;;) {
    long h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    if (r->tail == h) {
      if (r->done && r->tail == r->head) break;
      sched_yield();
      continue;
    }
    while (r->tail < h) {
      free(r->ring[r->tail & 1023]);
      __atomic_store_n(&r->tail, r->tail + 1, __ATOMIC_RELEASE);
    }
  }
  return NULL;
}
static void w_xmalloc(void) {
  pthread_t t[NT];
  for (int i = 0; i < NT / 2; i++) {
    memset(&rings[i], 0, sizeof(rings[i]));
    pthread_create(&t[2 * i], NULL, xprod, &rings[i]);
    pthread_create(&t[2 * i + 1], NULL, xcons, &rings[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
}

/* larson-like: each thread replaces random slots of its array; the array then migrates to a
 * fresh thread that frees the old blocks (server object migration) */
typedef struct { void** slots; int n; uint64_t seed; int rounds; } larson_t;
static void* larson_thread(void* arg) {
  larson_t* l = arg;
  long iters = 20000 * SCALE;
  for (long i = 0; i < iters; i++) {
    int k = rnd(&l->seed) % l->n;
    free(l->slots[k]);
    size_t sz = 16 + rnd(&l->seed) % 112;
    l->slots[k] = malloc(sz);
    *(char*)l->slots[k] = 1;
  }
  if (--l->rounds > 0) {
    pthread_t t;
    pthread_create(&t, NULL, larson_thread, l);
    pthread_join(t, NULL);
  }
  return NULL;
}
static void w_larson(void) {
  larson_t L[NT];
  pthread_t t[NT];
  for (int i = 0; i < NT; i++) {
    L[i].n = 1000;
    L[i].slots = calloc(L[i].n, sizeof(void*));
    L[i].seed = 77 + i;
    L[i].rounds = 10;
    pthread_create(&t[i], NULL, larson_thread, &L[i]);
  }
  for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < NT; i++) {
    for (int k = 0; k < L[i].n; k++) free(L[i].slots[k]);
    free(L[i].slots);
  }
}

/* thread churn: short threads allocate; a third of their blocks outlive them (freed by main) */
static void* churn_thread(void* arg) {
  void** out = arg;
  uint64_t s = (uintptr_t)arg;
  void* tmp[200];
  for (int i = 0; i < 200; i++) tmp[i] = malloc(16 + rnd(&s) % 2000);
  for (int i = 0; i < 200; i++) {
    if (i % 3 == 0) out[i / 3] = tmp[i];
    else free(tmp[i]);
  }
  return NULL;
}
static void w_churn(void) {
  long rounds = 300 * SCALE;
  void* out[NT][67];
  for (long r = 0; r < rounds; r++) {
    pthread_t t[NT];
    for (int i = 0; i < NT; i++) pthread_create(&t[i], NULL, churn_thread, out[i]);
    for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < NT; i++) for (int k = 0; k < 67; k++) free(out[i][k]);
  }
}

/* mstress-like multi-threaded: per-thread random alloc/free with transfer of some blocks */
static void* volatile transfer[64];
static void* mstress_thread(void* arg) {
  uint64_t s = (uintptr_t)arg * 7919 + 1;
  enum { LIVE = 2000 };
  void** live = calloc(LIVE, sizeof(void*));
  long n = 300000 * SCALE;
  for (long i = 0; i < n; i++) {
    int k = rnd(&s) % LIVE;
    free(live[k]);
    size_t sz = 8 + rnd(&s) % 500;
    live[k] = malloc(sz);
    *(char*)live[k] = 1;
    if ((i & 31) == 0) {
      int j = rnd(&s) % 64;
      void* p = __atomic_exchange_n(&transfer[j], live[k], __ATOMIC_ACQ_REL);
      live[k] = NULL;
      free(p);
    }
  }
  for (int k = 0; k < LIVE; k++) free(live[k]);
  free(live);
  return NULL;
}
static void w_mstress(void) {
  pthread_t t[NT];
  for (long i = 0; i < NT; i++) pthread_create(&t[i], NULL, mstress_thread, (void*)(i + 1));
  for (int i = 0; i < NT; i++) pthread_join(t[i], NULL);
  for (int j = 0; j < 64; j++) { free(transfer[j]); transfer[j] = NULL; }
}

struct { const char* name; void (*fn)(void); } W[] = {
  {"cfrac", w_cfrac}, {"alloctest", w_alloctest}, {"sh6", w_sh6}, {"realloc", w_realloc},
  {"large", w_large}, {"calloc", w_calloc}, {"xmalloc", w_xmalloc}, {"larson", w_larson},
  {"churn", w_churn}, {"mstress", w_mstress},
};

int main(int argc, char** argv) {
  if (argc < 2) { fprintf(stderr, "usage: wl NAME [scale]\n"); return 2; }
  if (argc > 2) SCALE = atol(argv[2]);
  for (size_t i = 0; i < sizeof(W) / sizeof(W[0]); i++) {
    if (strcmp(W[i].name, argv[1]) == 0) {
      double t0 = now();
      W[i].fn();
      printf("%s %.4f\n", argv[1], now() - t0);
      return 0;
    }
  }
  fprintf(stderr, "unknown workload\n");
  return 2;
}
