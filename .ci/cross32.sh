#!/usr/bin/env bash
# The 32-bit Linux leg of CI: i686-unknown-linux-gnu and armv7-unknown-linux-gnueabihf, built
# with Debian's cross compilers and run under qemu-user. What runs, per target:
#   - default build: the raw C API tests (abi, api_alignment, api_bad_input, api_size_classes,
#     api_sweep, api_heaps, api_heaps_stats, api_fresh_thread) and the Rust layer's layout sweep,
#     size limits, cross-thread frees and heap API (mimalloc/tests/{layout_sweep,size_limits,
#     cross_thread,heap_api}.rs);
#   - the bad-input C program (c_src/test/test-bad-input.c) in the default and the secure build,
#     compiled here with the cross gcc and run under qemu directly: its Rust driver
#     (c_bad_input.rs) starts the program as a child process, which qemu-user does not follow;
#   - secure build: the death tests and api_bad_input, where the kernel can run the target's
#     binaries itself (each death scenario is a child process, which qemu-user does not follow
#     either): i686 on an x86-64 kernel with 32-bit support (test binaries are linked statically
#     for that), armv7 only where binfmt_misc hands ARM binaries to qemu. Otherwise skipped, and
#     the reason printed.
# Not here: the bindings drift test (it runs on the host and covers the 32-bit file), the
# valgrind, preload and override tests, fork, OOM and timing-dependent tests (they exercise the
# OS layer, the same code as on x86-64, and cost minutes under emulation).
# Self-contained on a fresh Debian machine with rustup and cargo; budget: 8 minutes for both
# targets on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=cross32
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; if [ $rc -ne 0 ]; then printf "\ncross32 FAILED (exit %s) in step: %s\n" "$rc" "$current_step" >&2; fi' EXIT


step "packages: cross gcc, C libraries and qemu-user; rust targets"
need=()
for pkg in gcc-i686-linux-gnu gcc-arm-linux-gnueabihf libc6-dev-i386-cross libc6-dev-armhf-cross qemu-user; do
  dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep 'install ok installed' >/dev/null || need+=("$pkg")
done
apt_install ${need[@]+"${need[@]}"}
run rustup target add i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf

export CI="${CI:-true}" # build.rs turns C warnings into errors under CI
export CC_i686_unknown_linux_gnu=i686-linux-gnu-gcc
export CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_LINKER=i686-linux-gnu-gcc
export CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_RUNNER="qemu-i386 -L /usr/i686-linux-gnu"
# static: a child process (a death scenario) is started by the kernel, not by qemu, and finds no
# i686 dynamic loader on an x86-64 machine
export CARGO_TARGET_I686_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
export CC_armv7_unknown_linux_gnueabihf=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_LINKER=arm-linux-gnueabihf-gcc
export CARGO_TARGET_ARMV7_UNKNOWN_LINUX_GNUEABIHF_RUNNER="qemu-arm -L /usr/arm-linux-gnueabihf"
export RUST_BACKTRACE=0

SYS_TESTS=(abi api_alignment api_bad_input api_size_classes api_sweep api_heaps api_heaps_stats api_fresh_thread)
RS_TESTS=(layout_sweep size_limits cross_thread heap_api)

work="$(mktemp -d)"
trap 'rc=$?; rm -rf "$work"; if [ $rc -ne 0 ]; then printf "\ncross32 FAILED (exit %s) in step: %s\n" "$rc" "$current_step" >&2; fi' EXIT

# Can this kernel start a static binary for the target by itself (no qemu in between)?
kernel_runs() { # <cross gcc>
  printf 'int main(void) { return 0; }\n' >"$work/probe.c"
  "$1" -static "$work/probe.c" -o "$work/probe" && "$work/probe" 2>/dev/null
}

# The bad-input C program with the allocator, in one build mode, run under qemu. Holds: exit 0
# and a last line `N passed, 0 failed` with the whole sweep run (over three million checks).
c_bad_input() { # <cross gcc> <qemu> <sysroot> <mode name> <defines...>
  local gcc="$1" qemu="$2" sysroot="$3" mode="$4"
  shift 4
  local exe="$work/test-bad-input-$mode" warn
  mapfile -t warn < <(grep '^-' c_src/warnings.txt)
  run "$gcc" -std=c11 -O2 "${warn[@]}" -Werror -Wno-alloc-size-larger-than \
    -D_GNU_SOURCE "$@" -Ic_src/include -Ic_src/test c_src/test/test-bad-input.c c_src/src/static.c \
    -o "$exe" -lpthread
  local out
  # stderr holds the error reports the program provokes on purpose: shown only on failure
  out="$(env -u MIMALLOC_SHOW_ERRORS -u MIMALLOC_VERBOSE "$qemu" -L "$sysroot" "$exe" 2>"$exe.stderr")" || {
    cat "$exe.stderr" >&2
    echo "$out"
    return 1
  }
  local last="${out##*$'\n'}"
  echo "$last"
  case "$last" in
    *" passed, 0 failed") ;;
    *) echo "test-bad-input ($mode) did not pass: $last" >&2; return 1 ;;
  esac
  local passed="${last%% passed*}"
  [ "$passed" -gt 3000000 ] || { echo "only $passed checks ran ($mode): the sweep is incomplete" >&2; return 1; }
}

for target in i686-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
  case "$target" in
    i686-*) gcc=i686-linux-gnu-gcc qemu=qemu-i386 sysroot=/usr/i686-linux-gnu ;;
    armv7-*) gcc=arm-linux-gnueabihf-gcc qemu=qemu-arm sysroot=/usr/arm-linux-gnueabihf ;;
  esac

  step "$target: C API, sweeps, size limits, cross-thread and heap tests (default build, under $qemu)"
  args=()
  for t in "${SYS_TESTS[@]}" "${RS_TESTS[@]}"; do args+=(--test "$t"); done
  run cargo test -q --target "$target" -p mimalloc-sys -p mimalloc "${args[@]}"

  step "$target: the bad-input C program, default and secure builds (under $qemu)"
  c_bad_input "$gcc" "$qemu" "$sysroot" default -DMI_SECURE=0 -DMI_DEBUG=0
  c_bad_input "$gcc" "$qemu" "$sysroot" secure -DMI_SECURE=4 -DMI_DEBUG=0

  step "$target: death tests and bad input, secure build"
  if kernel_runs "$gcc"; then
    run cargo test -q --target "$target" -p mimalloc-sys --features secure --test death --test api_bad_input
  else
    echo "SKIPPED: this kernel cannot start $target binaries itself (for armv7: no binfmt_misc entry for qemu-arm;"
    echo "for i686: no 32-bit support), and every death scenario runs as a child process, which qemu-user does not follow"
  fi
done

printf '\ncross32: OK (i686-unknown-linux-gnu and armv7-unknown-linux-gnueabihf)\n'
