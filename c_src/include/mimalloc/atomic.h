/* SPDX-License-Identifier: MIT
 * Thin C11 atomic wrappers named by operation and memory order, so each call site states the
 * ordering it needs (and why, in a comment where it is not obvious). No locks live here. */
#ifndef MI_ATOMIC_H
#define MI_ATOMIC_H

#include <stdatomic.h>
#include <stdint.h>

#define mi_atomic_load_relaxed(p) atomic_load_explicit(p, memory_order_relaxed)
#define mi_atomic_load_acquire(p) atomic_load_explicit(p, memory_order_acquire)
#define mi_atomic_store_relaxed(p, x) atomic_store_explicit(p, x, memory_order_relaxed)
#define mi_atomic_store_release(p, x) atomic_store_explicit(p, x, memory_order_release)
#define mi_atomic_exchange_acq_rel(p, x) atomic_exchange_explicit(p, x, memory_order_acq_rel)
#define mi_atomic_add_relaxed(p, x) atomic_fetch_add_explicit(p, x, memory_order_relaxed)
#define mi_atomic_sub_relaxed(p, x) atomic_fetch_sub_explicit(p, x, memory_order_relaxed)
#define mi_atomic_add_acq_rel(p, x) atomic_fetch_add_explicit(p, x, memory_order_acq_rel)
#define mi_atomic_sub_acq_rel(p, x) atomic_fetch_sub_explicit(p, x, memory_order_acq_rel)
#define mi_atomic_cas_weak_release(p, exp, des) \
  atomic_compare_exchange_weak_explicit(p, exp, des, memory_order_release, memory_order_relaxed)
#define mi_atomic_cas_weak_acq_rel(p, exp, des) \
  atomic_compare_exchange_weak_explicit(p, exp, des, memory_order_acq_rel, memory_order_acquire)
#define mi_atomic_cas_strong_acq_rel(p, exp, des) \
  atomic_compare_exchange_strong_explicit(p, exp, des, memory_order_acq_rel, memory_order_acquire)
/* Sequentially consistent: for the store-then-load handshakes (a thread announces itself, then
 * reads what another thread may just have changed) that acquire/release cannot order. */
#define mi_atomic_load_seq_cst(p) atomic_load_explicit(p, memory_order_seq_cst)
#define mi_atomic_add_seq_cst(p, x) atomic_fetch_add_explicit(p, x, memory_order_seq_cst)
#define mi_atomic_sub_seq_cst(p, x) atomic_fetch_sub_explicit(p, x, memory_order_seq_cst)
#define mi_atomic_cas_weak_seq_cst(p, exp, des) \
  atomic_compare_exchange_weak_explicit(p, exp, des, memory_order_seq_cst, memory_order_seq_cst)

static inline void mi_atomic_yield(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield" ::: "memory");
#endif
}

#endif /* MI_ATOMIC_H */
