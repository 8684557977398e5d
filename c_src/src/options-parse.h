/* SPDX-License-Identifier: MIT
 * The option value syntax, written once: options.c parses the environment with it, and
 * mimalloc-sys/build.rs checks a build-time MIMALLOC_DEFAULT_<NAME> with it by compiling
 * c_src/test/option-value.c for the build machine, so a value is refused or read the same way
 * whether it is set when building or when running. Hence only the C standard library here, and
 * the target's limit is a parameter: the build machine's `long` may be narrower or wider than
 * the target's. Included, not compiled alone (static functions, no include guard needed). */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

/* The longest value the environment reader keeps, terminator included; a longer one is cut
 * short by the copy, and a prefix of a number is a wrong number, so it is refused. */
#define MI_OPTIONS_VALUE_SIZE 128

static char mi_options_upper(char c) { return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c; }
static bool mi_options_is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Trims `value` in place; false when nothing is left (`MIMALLOC_X=` is how a shell unsets a
 * variable for one command, so an empty value means "not set", not "invalid"). */
static bool mi_options_trim(char* value) {
  size_t vlen = strlen(value);
  while (vlen > 0 && mi_options_is_space(value[vlen - 1])) value[--vlen] = 0;
  size_t start = 0;
  while (mi_options_is_space(value[start])) start++;
  if (start > 0) memmove(value, value + start, vlen - start + 1);
  return value[0] != 0;
}

static bool mi_options_word_is(const char* s, const char* upper_word) {
  while (*s != 0 && mi_options_upper(*s) == *upper_word) {
    s++;
    upper_word++;
  }
  return *s == 0 && *upper_word == 0;
}

/* Parse a trimmed value: a decimal integer (optionally signed), one of the words TRUE/YES/ON
 * (1) or FALSE/NO/OFF (0) in any case, or, for a size option (`in_kib`), a non-negative number
 * with an optional K/M/G/T suffix and optional B or iB ("4GiB", "512k", "100B"). A size without
 * a unit is in bytes and is rounded up to whole KiB. Any number past `max` (the target's
 * LONG_MAX), the digits as written or the KiB they come to, is refused, not wrapped. */
static bool mi_options_parse(const char* s, bool in_kib, long long max, long long* result) {
  if (mi_options_word_is(s, "TRUE") || mi_options_word_is(s, "YES") || mi_options_word_is(s, "ON")) {
    *result = 1;
    return true;
  }
  if (mi_options_word_is(s, "FALSE") || mi_options_word_is(s, "NO") || mi_options_word_is(s, "OFF")) {
    *result = 0;
    return true;
  }
  bool negative = false;
  if (*s == '-' || *s == '+') {
    negative = (*s == '-');
    s++;
  }
  if (*s < '0' || *s > '9') return false;
  long long v = 0;
  for (; *s >= '0' && *s <= '9'; s++) {
    int digit = *s - '0';
    if (v > (max - digit) / 10) return false;
    v = v * 10 + digit;
  }
  if (!in_kib) {
    if (*s != 0) return false;
    *result = (negative ? -v : v);
    return true;
  }
  if (negative) return false; /* a negative size means nothing */
  long long kib_per_unit = 0; /* 0: the number is in bytes */
  switch (mi_options_upper(*s)) {
    case 'K': kib_per_unit = 1; break;
    case 'M': kib_per_unit = 1024LL; break;
    case 'G': kib_per_unit = 1024LL * 1024LL; break;
    case 'T': kib_per_unit = 1024LL * 1024LL * 1024LL; break;
    default: break;
  }
  if (kib_per_unit != 0) {
    s++;
    if (mi_options_upper(*s) == 'I') {
      s++;
      if (mi_options_upper(*s) != 'B') return false; /* "4Gi" is not a unit */
    }
  }
  if (mi_options_upper(*s) == 'B') s++;
  if (*s != 0) return false;
  if (kib_per_unit == 0) {
    *result = v / 1024 + (v % 1024 != 0 ? 1 : 0);
  } else {
    if (v > max / kib_per_unit) return false;
    *result = v * kib_per_unit;
  }
  return true;
}
