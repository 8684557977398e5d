/* SPDX-License-Identifier: MIT
 * The C++ half of the override library, built by CMake when a C++ compiler is at hand: the
 * global operator new and delete family (from mimalloc-new-delete.h, exported), and the two
 * hooks through which the C side's mi_new family gets C++ out-of-memory behaviour (calling the
 * new handler, throwing std::bad_alloc). Allocates nothing itself. */
#include <new>

#define MI_NEW_DELETE_DECL __attribute__((visibility("default")))
#include "mimalloc-new-delete.h"

/* alloc.c (built with MI_CXX_NEW=1): true after running the handler, false when there is none
 * and `nothrow`, else throws. A handler that throws under `nothrow` counts as "none". */
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

/* A request that can never succeed (an overflowing count, a bad alignment). */
extern "C" void _mi_cxx_throw_bad_alloc(void) { throw std::bad_alloc(); }
