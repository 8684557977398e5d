#!/usr/bin/env bash
# The v2.4 API additions under AddressSanitizer + UBSan (called from .ci/run; runs on its own
# too): the library (c_src/src/static.c) built plain and secure with -fsanitize=address,undefined
# -fno-sanitize-recover=all, linked into the C test test-api-v24 and into the C++ test
# (test-cpp, with the program's own operator new/delete from mimalloc-new-delete.h, so mi_new
# throws std::bad_alloc through the library's C frames). Any report fails the run. The CMake
# build already runs both tests uninstrumented (ctest), with the override library's C++ half.
# Needs gcc, g++ and the sanitizer runtimes (.ci/sanitizers.sh installs those on a fresh
# machine). Budget: about a minute on 2 cores; measured 21 s (12 s CPU) with warm caches.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=api
# shellcheck source=.ci/lib.sh
source .ci/lib.sh

work="$(mktemp -d)"
# shellcheck disable=SC2154 # rc is assigned inside the trap's own text
trap 'rc=$?; rm -rf "$work"; if [ $rc -ne 0 ]; then printf "\nAPI LEG FAILED (exit %s) in step: %s\n" "$rc" "$current_step" >&2; fi' EXIT

step "tools"
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v g++ >/dev/null || need+=(g++)
apt_install "${need[@]}"

san=("-fsanitize=address,undefined" -fno-sanitize-recover=all -O2 -g -fno-omit-frame-pointer)
mapfile -t warn < <(grep '^-' c_src/warnings.txt) # the house warning set
cflags=(-std=c11 -D_GNU_SOURCE "${warn[@]}" -Werror -Ic_src/include)
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1"

# Runs a test; fails on a non-zero exit or any sanitizer report in its output.
checked() {
  local log="$work/run.log"
  printf '+ %s\n' "$*"
  if ! "$@" >"$log" 2>&1 || grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$log" >/dev/null; then
    cat "$log"
    return 1
  fi
  tail -n 1 "$log"
}

for secure in 0 4; do
  step "AddressSanitizer + UBSan, MI_SECURE=$secure: test-api-v24 (C) and test-cpp (C++, mimalloc-new-delete.h)"
  run gcc "${cflags[@]}" "${san[@]}" -DMI_SECURE="$secure" -c c_src/src/static.c -o "$work/lib$secure.o"
  # the tests pass impossible sizes on purpose
  run gcc "${cflags[@]}" "${san[@]}" -Wno-alloc-size-larger-than c_src/test/test-api-v24.c "$work/lib$secure.o" -pthread \
    -o "$work/test-api-v24-$secure"
  checked "$work/test-api-v24-$secure"
  run g++ -std=c++17 -Wall -Wextra -Werror -Wno-alloc-size-larger-than -Ic_src/include "${san[@]}" \
    -DMI_TEST_NEW_DELETE_HEADER=1 c_src/test/test-cpp.cpp "$work/lib$secure.o" -pthread -o "$work/test-cpp-$secure"
  checked "$work/test-cpp-$secure"
done
step "done"
