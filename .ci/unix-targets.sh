#!/usr/bin/env bash
# The Unix targets beyond x86_64 glibc (issue 14), each as far as this x86_64 Debian machine
# can take it. Called by .ci/run; runs on its own too. On a fresh Debian machine with rustup,
# cargo and gcc it installs what it needs (Debian packages, rustup targets, the ziglang and
# cargo-zigbuild Python packages).
#
#   target                        how
#   x86_64-unknown-linux-musl     RUN natively: the whole test suite of mimalloc-sys and
#                                 mimalloc, then the stress program for a minute
#   aarch64-unknown-linux-gnu     RUN under qemu-user: every test binary but three that measure
#                                 the emulator rather than us (below), then stress for 20 s
#                                 (contents checked, RSS bounds off: the RSS is qemu's)
#   aarch64-unknown-linux-musl    built with zig; size limits, heaps, cross-thread frees and
#                                 the fuzz seeds RUN under qemu-user
#   aarch64-apple-darwin          BUILT and LINKED with zig (cargo-zigbuild): the mimalloc test
#   x86_64-apple-darwin             binaries and the stress program; the C core compiled in the
#   x86_64-unknown-freebsd          secure and debug modes too. Nothing runs: no macOS or
#                                   FreeBSD machine here.
#
# Left out under qemu-user, each for a reason of the emulator, not of the allocator:
#   oom.rs        caps the address space with RLIMIT_AS, which caps qemu's own reservations
#   thread_churn  bounds resident memory across thread waves; qemu-user keeps memory for every
#                 thread it ever ran (our reserved bytes stay flat there, RSS does not)
#   preload.rs    preloads a host-built library into host programs: the glibc leg's test again
#   allow_thp_off_means_no_huge_pages_for_any_block   qemu-user does not pass madvise hints
#                                      on to the host, so smaps never shows MADV_NOHUGEPAGE
#   fork_while_four_threads_allocate   under qemu-user the child of a fork taken while other
#                 threads run exits with 127, a code neither the test nor we use; natively (musl
#                 and glibc) it passes, and under qemu the fork from a second thread passes
#
# Budget: at most 14 minutes on the 2-core machine (most of it compiling the same crates for
# six targets). Any failure stops the run with a non-zero exit and names the step.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=unix-targets
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; if [ $rc -ne 0 ]; then printf "\nUNIX TARGETS FAILED (exit %s) in step: %s\n" "$rc" "$current_step" >&2; fi' EXIT


export CI="${CI:-true}"     # build.rs: C warnings are errors
export MIMALLOC_SYS_WERROR=1 # also where CI is set to something build.rs does not read

step "system packages, rust targets, zig"
need=()
command -v musl-gcc >/dev/null || need+=(musl-tools)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu)
[ -f /usr/aarch64-linux-gnu/lib/libc.so.6 ] || need+=(libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
apt_install ${need[@]+"${need[@]}"}
run rustup target add x86_64-unknown-linux-musl aarch64-unknown-linux-gnu aarch64-unknown-linux-musl \
  aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd
pip_install() {
  # Debian's own python refuses --user installs without the override (PEP 668)
  python3 -m pip install --quiet --user "$@" 2>/dev/null ||
    python3 -m pip install --quiet --user --break-system-packages "$@" ||
    python3 -m pip install --quiet "$@"
}
python3 -m ziglang version >/dev/null 2>&1 || pip_install ziglang
user_bin="$(python3 -m site --user-base)/bin"
export PATH="$PATH:$user_bin"
command -v cargo-zigbuild >/dev/null || pip_install cargo-zigbuild
echo "zig $(python3 -m ziglang version), $(cargo-zigbuild --version)"
zigcc() { python3 -m ziglang cc "$@"; }

# ---- x86_64 musl: native ----------------------------------------------------------------------
step "x86_64-unknown-linux-musl: the whole test suite, natively"
run cargo test -q --target x86_64-unknown-linux-musl -p mimalloc-sys -p mimalloc

step "x86_64-unknown-linux-musl: stress, one minute"
run cargo run -q --release --target x86_64-unknown-linux-musl -p mimalloc-stress -- --seconds 60 --quiet

# ---- aarch64 glibc: qemu-user -----------------------------------------------------------------
step "aarch64: qemu-user runs aarch64 programs started by the tests too (binfmt_misc)"
# cargo starts the test binaries through the runner; the binaries start children of their own
# (death tests, the C bad-input program), which need the kernel to hand aarch64 ELF files to qemu.
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/register" ]; then
  as_root mount -t binfmt_misc binfmt_misc "$binfmt"
fi
if [ ! -e "$binfmt/qemu-aarch64" ]; then
  # ELF64, little endian, machine 0xb7 (aarch64), executable or shared object
  printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:'"$(command -v qemu-aarch64)"':' |
    as_root tee "$binfmt/register" >/dev/null
fi
grep -q enabled "$binfmt/qemu-aarch64"
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu # children find the aarch64 glibc here
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu"

step "aarch64-unknown-linux-gnu: the test suite under qemu-user (but oom, thread_churn, preload)"
tests=()
for f in mimalloc-sys/tests/*.rs mimalloc/tests/*.rs; do
  name="$(basename "$f" .rs)"
  case "$name" in oom | thread_churn | preload) continue ;; esac
  tests+=(--test "$name")
done
run cargo test -q --target aarch64-unknown-linux-gnu -p mimalloc-sys -p mimalloc "${tests[@]}" \
  -- --skip fork_while_four_threads_allocate --skip allow_thp_off_means_no_huge_pages_for_any_block

step "aarch64-unknown-linux-gnu: stress under qemu-user, 20 seconds (block contents checked; RSS bounds off: the RSS is qemu's)"
MIMALLOC_STRESS_NO_RSS=1 run cargo run -q --release --target aarch64-unknown-linux-gnu -p mimalloc-stress -- --seconds 20 --quiet

# ---- aarch64 musl: zig, qemu-user --------------------------------------------------------------
step "aarch64-unknown-linux-musl: built with zig; size limits, heaps, cross-thread frees, fuzz seeds under qemu-user"
# not thread_lifecycle: its reused-thread case needs the C library to hand a new thread an old
# thread's control block, which musl's fresh mappings do natively but not under qemu-user
# cargo-zigbuild builds (zig is the C compiler and linker); the static binaries need no sysroot
exes="$(cargo zigbuild -q --target aarch64-unknown-linux-musl -p mimalloc --test size_limits --test heap_api \
  --test cross_thread --test fuzz_seeds --message-format=json-render-diagnostics |
  python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable"): print(m["executable"])')"
[ -n "$exes" ]
for exe in $exes; do
  run qemu-aarch64 "$exe" -q
done

# ---- macOS and FreeBSD: build and link only -----------------------------------------------------
for target in aarch64-apple-darwin x86_64-apple-darwin x86_64-unknown-freebsd; do
  step "$target: build and link the mimalloc test binaries and the stress program (not run: no such machine here)"
  run cargo zigbuild -q --target "$target" -p mimalloc --tests
  run cargo zigbuild -q --release --target "$target" -p mimalloc-stress
done

# cargo-zigbuild's compiler probes leave an empty a.o beside the build script: not ours to keep
rm -f mimalloc-sys/a.o

step "the C core for macOS and FreeBSD in every build mode, warning-free (zig cc, -Werror)"
# zig cc does not write to -o /dev/null (it drops static.o in the current directory instead)
zout="$(mktemp -d)"
mapfile -t warn < <(grep '^-' c_src/warnings.txt)
for ztarget in aarch64-macos x86_64-macos x86_64-freebsd; do
  for mode in "" "-DMI_SECURE=4" "-DMI_DEBUG=3" "-DMI_SECURE=4 -DMI_DEBUG=2" "-DMI_LOCAL_DYNAMIC_TLS=1"; do
    # shellcheck disable=SC2086 # the mode is a list of flags
    run zigcc -target "$ztarget" -std=c11 -O2 -D_GNU_SOURCE $mode "${warn[@]}" \
      -Werror -Ic_src/include -c c_src/src/static.c -o "$zout/static.o"
  done
done
# FreeBSD exports malloc with the override (ELF aliases); macOS refuses it in build.rs
run zigcc -target x86_64-freebsd -std=c11 -O2 -D_GNU_SOURCE -DMI_MALLOC_OVERRIDE=1 -fno-builtin-malloc \
  "${warn[@]}" -Werror -Ic_src/include -c c_src/src/static.c -o "$zout/static.o"

rm -rf "$zout"

printf '\nUNIX TARGETS PASSED: musl and aarch64 run, macOS and FreeBSD built and linked\n'
