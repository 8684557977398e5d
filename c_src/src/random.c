/* SPDX-License-Identifier: MIT
 * Randomness for cookies, free-list keys and address hints: a seed from the OS (getrandom)
 * and a fast generator for everything derived from it. Not for cryptography; it must only
 * make layouts and keys unpredictable to an attacker who cannot read our memory. */
#include "mimalloc.h"
#include "mimalloc/internal.h"

/* When the OS has no randomness (very early boot, seccomp), mix what varies between runs. */
static uintptr_t mi_random_fallback(void) {
  uintptr_t x = (uintptr_t)_mi_prim_clock_now();
  x ^= (uintptr_t)&mi_random_fallback; /* ASLR */
  x ^= (uintptr_t)&x << 17;            /* stack placement */
  return x;
}

/* A 64-bit mixing step (an avalanche of shifts, xors and odd multipliers). */
static uintptr_t mi_random_mix(uintptr_t x) {
  x ^= x >> 31;
  x *= (uintptr_t)0x7fb5d329728ea185ULL;
  x ^= x >> 27;
  x *= (uintptr_t)0x81dadef4bc2dd44dULL;
  x ^= x >> 33;
  return x;
}

uintptr_t _mi_random_seed(void) {
  uintptr_t x;
  if (!_mi_prim_random_buf(&x, sizeof(x))) x = mi_random_mix(mi_random_fallback());
  return (x == 0 ? 1 : x);
}

/* Weyl sequence + mixer: every state value is visited once per 2^64 steps and the output is
 * never 0, so callers may use it as a non-zero key. */
uintptr_t _mi_random_next(uintptr_t* state) {
  *state += (uintptr_t)0x9e3779b97f4a7c15ULL;
  uintptr_t x = mi_random_mix(*state);
  return (x == 0 ? 1 : x);
}
