/* SPDX-License-Identifier: MIT
 * Replaces the C++ program's global operator new and delete (every form: plain, array,
 * nothrow, sized, aligned) with ones that allocate through this library. Include it in exactly
 * one C++ source file of the program: the definitions here are the program's replacements.
 * Out of memory, the throwing forms call the new handler while there is one and then throw
 * std::bad_alloc; the nothrow forms return NULL instead (also when the handler throws). It also
 * gives the library's mi_new family these semantics (on ELF platforms). */
#ifndef MIMALLOC_NEW_DELETE_H
#define MIMALLOC_NEW_DELETE_H

#if defined(__cplusplus)
#include <cstddef>
#include <new>

#include "mimalloc.h"

/** Declaration specifiers of the replacement operators: empty for a program. The library's own
 * copy (alloc-new-delete.cpp) defines it to export them from a library built with hidden
 * visibility. */
#ifndef MI_NEW_DELETE_DECL
#define MI_NEW_DELETE_DECL
#endif

/** Allocates `size` bytes (aligned to `alignment`, 0 meaning the default) with the C++
 * out-of-memory rules: while allocation fails, call the new handler and retry; without a
 * handler, throw `std::bad_alloc`. Never returns NULL. */
static inline void* mi_cxx_new_loop(std::size_t size, std::size_t alignment) {
  for (;;) {
    void* p = (alignment == 0 ? mi_malloc(size) : mi_malloc_aligned(size, alignment));
    if (p != NULL) return p;
    std::new_handler handler = std::get_new_handler();
    if (handler == NULL) throw std::bad_alloc();
    handler(); /* may free memory, throw, or end the program */
  }
}

/** `mi_cxx_new_loop` that returns NULL instead of throwing (also when the new handler
 * throws). */
static inline void* mi_cxx_new_loop_nothrow(std::size_t size, std::size_t alignment) noexcept {
  try {
    return mi_cxx_new_loop(size, alignment);
  } catch (...) {
    return NULL;
  }
}

/** For the library's `mi_new` family, which finds it (weakly, or built in) to get the same
 * behaviour: runs the new handler and returns true; without a handler, throws
 * `std::bad_alloc`, or under `nothrow` returns false (also when the handler throws). */
extern "C" bool _mi_cxx_new_handler(bool nothrow) {
  std::new_handler handler = std::get_new_handler();
  if (handler == NULL) {
    if (nothrow) return false;
    throw std::bad_alloc();
  }
  if (!nothrow) {
    handler();
    return true;
  }
  try {
    handler();
  } catch (...) {
    return false;
  }
  return true;
}
/** For the library's `mi_new` family: throws `std::bad_alloc` (a request that can never
 * succeed, such as an overflowing count). */
extern "C" void _mi_cxx_throw_bad_alloc(void) { throw std::bad_alloc(); }

/** Plain and array `new`: `mi_malloc` with the C++ out-of-memory rules (new handler, then
 * `std::bad_alloc`); the nothrow forms return NULL instead. */
MI_NEW_DELETE_DECL void* operator new(std::size_t n) { return mi_cxx_new_loop(n, 0); }
MI_NEW_DELETE_DECL void* operator new[](std::size_t n) { return mi_cxx_new_loop(n, 0); }
MI_NEW_DELETE_DECL void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return mi_cxx_new_loop_nothrow(n, 0); }
MI_NEW_DELETE_DECL void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return mi_cxx_new_loop_nothrow(n, 0); }

/** Every `delete` form frees with `mi_free` (NULL is ignored); sizes and alignments passed to
 * the sized and aligned forms are not checked. */
MI_NEW_DELETE_DECL void operator delete(void* p) noexcept { mi_free(p); }
MI_NEW_DELETE_DECL void operator delete[](void* p) noexcept { mi_free(p); }
MI_NEW_DELETE_DECL void operator delete(void* p, const std::nothrow_t&) noexcept { mi_free(p); }
MI_NEW_DELETE_DECL void operator delete[](void* p, const std::nothrow_t&) noexcept { mi_free(p); }

#if defined(__cpp_sized_deallocation)
MI_NEW_DELETE_DECL void operator delete(void* p, std::size_t n) noexcept { mi_free_size(p, n); }
MI_NEW_DELETE_DECL void operator delete[](void* p, std::size_t n) noexcept { mi_free_size(p, n); }
#endif

#if defined(__cpp_aligned_new)
/** Aligned `new` (C++17): `mi_malloc_aligned` with the same out-of-memory rules. */
MI_NEW_DELETE_DECL void* operator new(std::size_t n, std::align_val_t al) { return mi_cxx_new_loop(n, static_cast<std::size_t>(al)); }
MI_NEW_DELETE_DECL void* operator new[](std::size_t n, std::align_val_t al) { return mi_cxx_new_loop(n, static_cast<std::size_t>(al)); }
MI_NEW_DELETE_DECL void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return mi_cxx_new_loop_nothrow(n, static_cast<std::size_t>(al));
}
MI_NEW_DELETE_DECL void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return mi_cxx_new_loop_nothrow(n, static_cast<std::size_t>(al));
}
MI_NEW_DELETE_DECL void operator delete(void* p, std::align_val_t al) noexcept { mi_free_aligned(p, static_cast<std::size_t>(al)); }
MI_NEW_DELETE_DECL void operator delete[](void* p, std::align_val_t al) noexcept { mi_free_aligned(p, static_cast<std::size_t>(al)); }
MI_NEW_DELETE_DECL void operator delete(void* p, std::align_val_t al, const std::nothrow_t&) noexcept { mi_free_aligned(p, static_cast<std::size_t>(al)); }
MI_NEW_DELETE_DECL void operator delete[](void* p, std::align_val_t al, const std::nothrow_t&) noexcept { mi_free_aligned(p, static_cast<std::size_t>(al)); }
MI_NEW_DELETE_DECL void operator delete(void* p, std::size_t n, std::align_val_t al) noexcept {
  mi_free_size_aligned(p, n, static_cast<std::size_t>(al));
}
MI_NEW_DELETE_DECL void operator delete[](void* p, std::size_t n, std::align_val_t al) noexcept {
  mi_free_size_aligned(p, n, static_cast<std::size_t>(al));
}
#endif

#endif /* __cplusplus */
#endif /* MIMALLOC_NEW_DELETE_H */
