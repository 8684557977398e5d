/* SPDX-License-Identifier: MIT
 * Randomness for the process cookie, heap and page free-list keys, and address hints: a seed
 * from the OS and a fast generator for everything derived from it. It only has to make keys
 * and layouts unguessable to an attacker who cannot read our memory; it is not for
 * cryptography. Allocates nothing and takes no locks (it runs before the first heap exists). */
#include "mimalloc.h"
#include "mimalloc/internal.h"

/* A word-sized output function: xor-shifts and odd multiplies, each a bijection, so the whole
 * is one; every input bit flips about half the output bits, so a counter goes in and noise
 * comes out. 64-bit words use splitmix64's; 32-bit words a 32-bit function of the same shape
 * (shifts and multipliers from Wellons' published "lowbias32" search), since splitmix64's
 * constants cut to 32 bits and shifts near 32 would leave the high bits barely mixed. */
#if MI_INTPTR_SIZE == 8
#define MI_RANDOM_WEYL ((uintptr_t)0x9e3779b97f4a7c15ULL) /* 2^64 / golden ratio, odd */
#define MI_RANDOM_NONZERO_SEED ((uintptr_t)0x5851f42d4c957f2dULL)
#define MI_RANDOM_NONZERO_NEXT ((uintptr_t)0x2545f4914f6cdd1dULL)
static uintptr_t mi_random_mix(uintptr_t x) {
  x ^= x >> 30;
  x *= (uintptr_t)0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= (uintptr_t)0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}
#else
#define MI_RANDOM_WEYL ((uintptr_t)0x9e3779b9UL) /* 2^32 / golden ratio, odd */
#define MI_RANDOM_NONZERO_SEED ((uintptr_t)0x5851f42dUL)
#define MI_RANDOM_NONZERO_NEXT ((uintptr_t)0x2545f491UL)
static uintptr_t mi_random_mix(uintptr_t x) {
  x ^= x >> 16;
  x *= (uintptr_t)0x7feb352dUL;
  x ^= x >> 15;
  x *= (uintptr_t)0x846ca68bUL;
  x ^= x >> 16;
  return x;
}
#endif

/* The fallback when the OS gives no randomness (seccomp filter, a kernel without getrandom):
 * what differs between runs (time, ASLR placement of code and stack) plus a counter so two
 * seeds taken in the same millisecond still differ. Weak, but never a constant. */
static _Atomic(uintptr_t) mi_random_fallback_count;

static uintptr_t mi_random_fallback(void) {
  uintptr_t x = (uintptr_t)_mi_prim_clock_now();
  x = mi_random_mix(x ^ (uintptr_t)&mi_random_mix); /* code placement */
  x = mi_random_mix(x ^ ((uintptr_t)&x << 16));     /* stack placement */
  x = mi_random_mix(x ^ mi_atomic_add_relaxed(&mi_random_fallback_count, 1));
  return x;
}

uintptr_t _mi_random_seed(void) {
  uintptr_t x = 0;
  if (!_mi_prim_random_buf(&x, sizeof(x))) x = mi_random_fallback();
  return (x == 0 ? MI_RANDOM_NONZERO_SEED : x); /* callers use seeds as keys: not 0 */
}

/* One step: advance a Weyl sequence (an odd increment, so the state runs through all 2^64, or
 * 2^32, values before repeating) and mix it. The mix is a bijection, so exactly one state maps
 * to 0; that one output is replaced so callers may use any result as a non-zero key. */
uintptr_t _mi_random_next(uintptr_t* state) {
  *state += MI_RANDOM_WEYL;
  uintptr_t x = mi_random_mix(*state);
  return (x == 0 ? MI_RANDOM_NONZERO_NEXT : x);
}
