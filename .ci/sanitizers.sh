#!/usr/bin/env bash
# Sanitizer legs of CI (called from .ci/run; runs on its own too). On a fresh Debian machine with
# rustup, cargo and gcc it installs what is missing, then:
#  1. ThreadSanitizer: the library (the unity file c_src/src/static.c, -O2 -g) built with
#     -fsanitize=thread, plain, secure (MI_SECURE=4) and debug (MI_DEBUG=2), each linked into the
#     C stress program (c_src/test/test-stress.c); then the Rust stress program (tools/stress),
#     plain and secure, with the library so built. Rust's std must be instrumented too, or TSan cannot see the happens-before edges of
#     std's own synchronisation (thread spawn and join, Mutex, Arc) and reports races that are
#     not there: the Rust leg builds std from source (-Zbuild-std with the rust-src component;
#     RUSTC_BOOTSTRAP=1 lets the stable toolchain take the -Z flags).
#  2. AddressSanitizer + UBSan (-fno-sanitize-recover=all: the first report fails the run): the
#     same C stress program, the C tests test-api, test-bad-input (overflowing size arithmetic is
#     a UBSan report there, not a wrong answer) and test-invariants (debug build), plain and
#     secure; then the Rust stress with the library so built (only the C side is instrumented:
#     the Rust program links the GCC runtimes first, which is all ASan needs).
# Every run must report nothing: TSan exits 66 at its first report, ASan and UBSan abort.
# What the legs can see: our segments come from mmap, not from ASan's malloc, so ASan checks
# the library's stack and global accesses and the programs' own memory, not block bounds inside
# our pages (that is the valgrind feature's job). The malloc-override build is not run under
# either sanitizer: both replace malloc themselves, and two owners of malloc in one process
# make the sanitizer blind or report its own allocations freed by us.
# Budget: about 6 minutes on 2 cores; measured 3 min 45 s with nothing cached but the packages
# (TSan's C runs 1.5 min, the instrumented std build 1 min), 2.5 min with the std build cached.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=sanitizers
# shellcheck source=.ci/lib.sh
source .ci/lib.sh


work="$(mktemp -d)"
# shellcheck disable=SC2154 # rc is assigned inside the trap's own text
trap 'rc=$?; rm -rf "$work"; if [ $rc -ne 0 ]; then printf "\nSANITIZERS FAILED (exit %s) in step: %s\n" "$rc" "$current_step" >&2; fi' EXIT

# Can gcc build and link a program with these sanitizers?
can_link() {
  echo 'int main(void) { return 0; }' | gcc -x c - "$@" -o "$work/probe" >/dev/null 2>&1
}

step "system packages and toolchain parts"
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  updated=1
fi
# The sanitizer runtimes come with gcc's libgcc-N-dev on Debian (libtsan2, libasan8, libubsan1
# for gcc 12 to 14); a trimmed machine may lack them.
if ! can_link -fsanitize=thread || ! can_link -fsanitize=address,undefined; then
  major="$(gcc -dumpversion | cut -d. -f1)"
  [ -n "${updated:-}" ] || as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "libgcc-$major-dev" libtsan2 libasan8 libubsan1
  can_link -fsanitize=thread && can_link -fsanitize=address,undefined
fi
rustup component list --installed | grep '^rust-src' >/dev/null || run rustup component add rust-src
host="$(rustc -vV | sed -n 's/^host: //p')"
echo "gcc $(gcc -dumpversion), $(rustc --version), host $host"

# Newer kernels randomise mmap over more bits than the TSan runtime of older gccs expects
# ("unexpected memory mapping"): such a runtime needs the process started without ASLR.
tsan_prefix=()
echo 'int main(void) { return 0; }' | gcc -x c - -fsanitize=thread -o "$work/tsan-probe"
if ! "$work/tsan-probe" >/dev/null 2>&1; then
  echo "the TSan runtime cannot start here with ASLR: running TSan programs under setarch -R"
  tsan_prefix=(setarch "$(uname -m)" -R)
fi

# The library's own warning set, as the other builds use it (warnings are errors here too).
mapfile -t warn < <(grep '^-' c_src/warnings.txt)
cflags=(-std=c11 -D_GNU_SOURCE "${warn[@]}" -Werror -Ic_src/include -O2 -g -fno-omit-frame-pointer)
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1"

# Runs a program that must pass and print no sanitizer report (a report fails it through the
# exit status already; the grep catches one that did not), showing its last lines.
checked() {
  local log="$work/run.log"
  printf '+ %s\n' "$*"
  if ! "$@" >"$log" 2>&1 || grep -E 'WARNING: ThreadSanitizer|ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$log" >/dev/null; then
    cat "$log"
    echo "sanitizer run failed: $*" >&2
    return 1
  fi
  tail -n 2 "$log"
}

step "ThreadSanitizer: the C library under the C stress program, plain, secure and debug"
tsan=(-fsanitize=thread)
# build mode, then threads, rounds and iterations (the debug build's checks cost 3x the time)
for mode in "-DMI_SECURE=0 8 12 8000" "-DMI_SECURE=4 8 12 8000" "-DMI_DEBUG=2 8 4 4000"; do
  read -r define threads rounds iters <<<"$mode"
  run gcc "${cflags[@]}" "${tsan[@]}" "$define" -c c_src/src/static.c -o "$work/tsan.o"
  run gcc "${cflags[@]}" "${tsan[@]}" c_src/test/test-stress.c "$work/tsan.o" -pthread -o "$work/stress-tsan"
  checked "${tsan_prefix[@]}" "$work/stress-tsan" "$threads" "$rounds" "$iters"
done

step "ThreadSanitizer: the Rust stress program, std and the library instrumented, plain and secure"
# Own target directory per leg: each leg's flags would otherwise rebuild the other's crates.
tsan_target="${CARGO_TARGET_DIR:-target}/sanitizers/tsan"
for features in "" secure; do
  run env RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zsanitizer=thread" MIMALLOC_SYS_CFLAGS="-fsanitize=thread -O2 -g" \
    cargo build -q --release -Zbuild-std --target "$host" --target-dir "$tsan_target" -p mimalloc-stress --features "$features"
  # The stress checks resident memory against bounds made for the allocator alone; TSan's shadow
  # (several bytes per byte touched) would exceed them. Small runs, and a TSan that drops its
  # shadow past 96 MiB (it forgets older accesses then: races closer in time are still seen),
  # keep the resident size at about 60 % of the bound.
  TSAN_OPTIONS="$TSAN_OPTIONS memory_limit_mb=96" \
    checked "${tsan_prefix[@]}" "$tsan_target/$host/release/mimalloc-stress" --threads 4 --scale 5 --iterations 8 --quiet
done

step "AddressSanitizer + UBSan: the C stress program and the C tests, plain and secure"
asan=("-fsanitize=address,undefined" -fno-sanitize-recover=all)
for secure in 0 4; do
  run gcc "${cflags[@]}" "${asan[@]}" -DMI_SECURE="$secure" -c c_src/src/static.c -o "$work/asan$secure.o"
  run gcc "${cflags[@]}" "${asan[@]}" c_src/test/test-stress.c "$work/asan$secure.o" -pthread -o "$work/stress-asan$secure"
  checked "$work/stress-asan$secure" 8 10 8000
  for t in test-api test-bad-input; do
    # these pass impossible sizes on purpose
    run gcc "${cflags[@]}" "${asan[@]}" -Wno-alloc-size-larger-than "c_src/test/$t.c" "$work/asan$secure.o" -pthread -o "$work/$t-asan$secure"
    checked "$work/$t-asan$secure"
  done
done
# the invariant validators need a debug build (they read the internals, with its flags)
run gcc "${cflags[@]}" "${asan[@]}" -DMI_DEBUG=3 -c c_src/src/static.c -o "$work/asan-debug.o"
run gcc "${cflags[@]}" "${asan[@]}" -DMI_DEBUG=3 c_src/test/test-invariants.c "$work/asan-debug.o" -pthread -o "$work/test-invariants-asan"
checked "$work/test-invariants-asan"

step "AddressSanitizer + UBSan: the Rust stress program with the library so built"
# rustc links with -nodefaultlibs, so gcc adds no runtime of its own: the link names libasan
# first (ASan insists on coming first in the initial library list), then libubsan.
asan_target="${CARGO_TARGET_DIR:-target}/sanitizers/asan"
run env RUSTC_BOOTSTRAP=1 \
  RUSTFLAGS="-Zpre-link-arg=-Wl,--no-as-needed -Zpre-link-arg=-lasan -Zpre-link-arg=-lubsan -Zpre-link-arg=-Wl,--as-needed" \
  MIMALLOC_SYS_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O2 -g" \
  cargo build -q --release --target "$host" --target-dir "$asan_target" -p mimalloc-stress
checked "$asan_target/$host/release/mimalloc-stress" --threads 8 --scale 10 --iterations 8 --quiet

printf '(%s s)\n' "$((SECONDS - step_start))"
printf '\nSANITIZERS PASSED: TSan, ASan and UBSan found nothing in the C stress, the C tests and the Rust stress\n'
