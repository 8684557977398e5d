/* SPDX-License-Identifier: MIT
 * Load the library with dlopen (as a plugin would) and allocate through it: the case the
 * local-dynamic TLS option exists for. */
#include <dlfcn.h>
#include <stddef.h>
#include <string.h>

#include "testing.h"

typedef void* mi_malloc_fun(size_t);
typedef void mi_free_fun(void*);
typedef size_t mi_usable_size_fun(const void*);

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  CHECK(lib != NULL);
  if (lib == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return mi_test_summary();
  }
  mi_malloc_fun* mal = (mi_malloc_fun*)dlsym(lib, "mi_malloc");
  mi_free_fun* fre = (mi_free_fun*)dlsym(lib, "mi_free");
  mi_usable_size_fun* usable = (mi_usable_size_fun*)dlsym(lib, "mi_usable_size");
  CHECK(mal != NULL && fre != NULL && usable != NULL);
  if (mal == NULL || fre == NULL || usable == NULL) return mi_test_summary();
  for (size_t n = 1; n < 100000; n = n * 3 + 1) {
    void* p = mal(n);
    CHECK(p != NULL && usable(p) >= n);
    memset(p, 9, n);
    fre(p);
  }
  return mi_test_summary();
}
