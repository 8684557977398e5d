/* SPDX-License-Identifier: MIT
 * The C++ half of the override library, built by CMake when a C++ compiler is at hand: the
 * global operator new and delete family, exported, and the two hooks through which the C
 * side's mi_new family calls the new handler and throws std::bad_alloc (alloc.c, built with
 * MI_CXX_NEW=1). Both come from mimalloc-new-delete.h. Allocates nothing itself. */
#include <new>

#define MI_NEW_DELETE_DECL __attribute__((visibility("default")))
#include "mimalloc-new-delete.h"
