/* SPDX-License-Identifier: MIT
 * The option value parser of options.c (src/options-parse.h) as a program. mimalloc-sys's
 * build script compiles it for the build machine and runs it on each MIMALLOC_DEFAULT_<NAME>,
 * so a compiled-in default is read by the very code that reads MIMALLOC_<NAME> at run time;
 * the option_values test checks its answers against the library's.
 *
 *   option-value MAX UNIT VALUE [UNIT VALUE]...
 *
 * MAX is the target's LONG_MAX, UNIT is NUM or KIB (options.def's unit column). One line per
 * value: "ok N" (N in the option's unit), "invalid", or "empty" (which means "not set"). */
#include "../src/options-parse.h"

#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc < 2 || argc % 2 != 0) {
    fprintf(stderr, "usage: option-value MAX UNIT VALUE [UNIT VALUE]...\n");
    return 2;
  }
  long long max = strtoll(argv[1], NULL, 10);
  for (int i = 2; i + 1 < argc; i += 2) {
    const char* raw = argv[i + 1];
    char value[MI_OPTIONS_VALUE_SIZE];
    long long result;
    /* as the environment reader: a value that does not fit its buffer is refused */
    if (strlen(raw) + 1 >= sizeof(value)) {
      puts("invalid");
      continue;
    }
    memcpy(value, raw, strlen(raw) + 1);
    if (!mi_options_trim(value)) {
      puts("empty");
    } else if (mi_options_parse(value, strcmp(argv[i], "KIB") == 0, max, &result)) {
      printf("ok %lld\n", result);
    } else {
      puts("invalid");
    }
  }
  return 0;
}
