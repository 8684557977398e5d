/* SPDX-License-Identifier: MIT
 * A minimal check harness for the C tests: each CHECK counts a pass or a failure (with its
 * location), and the program ends with the line `N passed, N failed` and a non-zero exit status
 * when anything failed. */
#ifndef MI_TESTING_H
#define MI_TESTING_H
#include <stdio.h>

static int mi_test_passed, mi_test_failed;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (cond) mi_test_passed++;                                           \
    else {                                                                \
      mi_test_failed++;                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                     \
  } while (0)

static int mi_test_summary(void) {
  printf("%d passed, %d failed\n", mi_test_passed, mi_test_failed);
  return mi_test_failed == 0 ? 0 : 1;
}
#endif
