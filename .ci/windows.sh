#!/usr/bin/env bash
# The Windows leg of CI, called by .ci/run: cross-builds for x86_64-pc-windows-gnu with MinGW
# gcc and runs the test binaries that matter under Wine (a real Windows runtime, though not
# Windows itself). On a fresh Debian machine it installs what it needs: gcc-mingw-w64-x86-64,
# wine64 and the Rust target. Budget: about 10 minutes on 2 cores with a warm cargo registry.
#
# Run under Wine: the C API contract and bad-input tests, the layout/alignment sweeps,
# cross-thread and thread-churn tests (Rust threads, and bare CreateThread threads in
# win_threads), first calls on fresh threads, heaps, options and statistics, out-of-memory
# (win_oom: the OS refuses a commit), the death tests of the secure and debug builds (double
# free, corrupted free list, guard pages, foreign frees). Not run here, with the reason:
#   preload, override (LD_PRELOAD / replacing the CRT's malloc: not possible on Windows),
#   fork (no fork), valgrind (no valgrind), bindings (needs libclang; the drift check runs on
#   Linux, and the committed layout asserts are compiled into every test binary here),
#   c_bad_input (compiles a C program at test time: no C compiler inside Wine),
#   oom (RLIMIT_AS; win_oom is the Windows counterpart), abandoned_budget and
#   thread_lifecycle (raw pthreads: cfg(unix), the reason is in each file).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=x86_64-pc-windows-gnu
ci_leg=windows
# shellcheck source=.ci/lib.sh
source .ci/lib.sh


find_wine() {
  for w in wine64 /usr/lib/wine/wine64 wine; do
    if command -v "$w" >/dev/null 2>&1; then
      command -v "$w"
      return 0
    fi
  done
  return 1
}

WINEPREFIX=""
cleanup() {
  rc=$?
  # a wineserver left running keeps CI waiting on its pipes: always stop it
  if [ -n "$WINEPREFIX" ]; then
    WINEPREFIX="$WINEPREFIX" wineserver -k >/dev/null 2>&1 || true
    rm -rf "$WINEPREFIX"
  fi
  if [ $rc -ne 0 ]; then printf '\nWINDOWS CI FAILED (exit %s) in step: %s\n' "$rc" "$current_step" >&2; fi
}
trap cleanup EXIT

step "packages: MinGW gcc, Wine, the Rust target"
need=()
command -v x86_64-w64-mingw32-gcc >/dev/null || need+=(gcc-mingw-w64-x86-64)
find_wine >/dev/null || need+=(wine64)
apt_install ${need[@]+"${need[@]}"}
rustup target list --installed | grep -qx "$TARGET" || run rustup target add "$TARGET"
WINE="$(find_wine)"
echo "wine: $WINE ($("$WINE" --version))"
# wineserver lives beside wine64 on Debian, not always on PATH
PATH="$PATH:$(dirname "$(readlink -f "$WINE")"):/usr/lib/wine"
export PATH

step "C sources compile with MinGW gcc, warning-free (c_src/warnings.txt, -Werror)"
mapfile -t warn < <(grep '^-' c_src/warnings.txt)
MINGW_FLAGS=(-std=c11 -D_GNU_SOURCE "${warn[@]}" -Werror -Ic_src/include)
checked=0
for f in c_src/src/*.c; do
  case "$f" in */prim-unix.c) echo "skipped (Unix OS layer): $f"; continue ;; esac
  if head -n 20 "$f" | grep '^[[:space:]]*#[[:space:]]*error' >/dev/null && [ "$f" != c_src/src/prim-windows.c ]; then
    echo "skipped (include-only): $f"
    continue
  fi
  x86_64-w64-mingw32-gcc "${MINGW_FLAGS[@]}" -fsyntax-only "$f"
  checked=$((checked + 1))
done
for level in "" -DMI_SECURE=4 -DMI_DEBUG=2 -DMI_DEBUG=3; do
  run x86_64-w64-mingw32-gcc "${MINGW_FLAGS[@]}" -O2 $level -c c_src/src/static.c -o /dev/null
done
echo "ok: $checked files, and the unity build in 4 modes"

step "Wine prefix (temporary) and the bcryptprimitives.dll stand-in"
WINEPREFIX="$(mktemp -d)"
export WINEPREFIX WINEDEBUG=-all
# one wineserver for the whole leg, started before anything else connects to it: otherwise it
# exits 3 s after each test binary and the next one starts a new Wine session (services,
# explorer) while the old one may still be going down
run wineserver -p
# first start creates the prefix (slow once); its exit status is not meaningful
"$WINE" wineboot -i >/dev/null 2>&1 || true
# Rust's std imports ProcessPrng from bcryptprimitives.dll, which Wine 8 lacks: forward it to
# Wine's BCryptGenRandom (our own source, .ci/wine/), or no Rust program loads at all
run x86_64-w64-mingw32-gcc -O2 -Wall -Wextra -Werror -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
  .ci/wine/bcryptprimitives.c .ci/wine/bcryptprimitives.def -lbcrypt
export WINE
# runs each binary under Wine, and once more if Wine failed to start it (the reason is in the file)
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$PWD/.ci/wine/runner"
export CI="${CI:-true}" # build.rs turns C warnings into errors

SYS_TESTS=(--test abi --test api_alignment --test api_bad_input --test api_fresh_thread --test api_heaps
  --test api_heaps_stats --test api_size_classes --test api_sweep --test compat --test death --test win_threads
  --test win_oom --test api_v24 --test api_documented --test remote_frees --test huge_reuse)
CRATE_TESTS=(--test cross_thread --test thread_churn --test heap_api --test layout_sweep --test segment_reuse
  --test size_limits --test memory_return --test fuzz_seeds --test heap_usable_size --test heap_limit
  --test process_limit --test process_limit_env --test purge_delay_adapts)

step "tests under Wine, default build"
run cargo test -q --target "$TARGET" -p mimalloc-sys "${SYS_TESTS[@]}"
run cargo test -q --target "$TARGET" -p mimalloc "${CRATE_TESTS[@]}"
# one test at a time: process-wide statistics move when another test's thread exits meanwhile
run cargo test -q --target "$TARGET" -p mimalloc --test options_stats -- --test-threads=1

step "tests under Wine, purge by discard (DiscardVirtualMemory/MEM_RESET) instead of decommit"
run env MIMALLOC_PURGE_DECOMMITS=0 cargo test -q --target "$TARGET" -p mimalloc --test memory_return --test segment_reuse

step "tests under Wine, secure build (guard pages, encoded free lists, double-free refusal)"
run cargo test -q --target "$TARGET" -p mimalloc-sys --features secure --test death --test api_alignment --test win_threads \
  --test api_heaps --test win_oom
run cargo test -q --target "$TARGET" -p mimalloc --features secure --test cross_thread --test layout_sweep --test thread_churn

step "tests under Wine, debug build (padding canaries, invariant checks)"
run cargo test -q --target "$TARGET" -p mimalloc-sys --features debug --test death --test api_alignment --test win_threads
run cargo test -q --target "$TARGET" -p mimalloc --features debug --test cross_thread --test heap_api

step "the global allocator example runs under Wine"
run cargo run -q --target "$TARGET" -p mimalloc --example global_allocator

printf '\nWINDOWS CI PASSED: MinGW build warning-free, tests ran under %s\n' "$("$WINE" --version)"
