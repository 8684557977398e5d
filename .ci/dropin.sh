#!/usr/bin/env bash
# The drop-in leg of CI, called by .ci/run: checks what a user switching from the crates.io
# mimalloc / libmimalloc-sys pair meets first.
#   - every ```rust block of README.md builds and runs from a separate crate that depends on
#     ours by path with default features only (.ci/readme-blocks.py);
#   - both crates package with a LICENSE, keywords and categories, and each one's own tests pass
#     from its unpacked .crate file (nothing outside the package is needed);
#   - the quick check (.ci/quick) passes, with stable and with the declared rust-version (MSRV,
#     installed with rustup when missing; all test targets of both crates must also build);
#   - MIMALLOC_SYS_USE_PKG_CONFIG=1: our CMake build installed into a temporary prefix is found
#     through pkg-config and linked, and the quick check passes against it; with no library to
#     find, the build refuses with a clear message.
# Every step but the MSRV one shares the caller's target directory (in CI the main run's), so
# the dependencies are compiled once; the MSRV toolchain needs its own. Budget: about 19
# minutes with empty target directories, most of it compiling; well under half that in CI.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=dropin
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
target_base=$(realpath -m "${CARGO_TARGET_DIR:-target}")
scratch=$(mktemp -d)
trap 'rc=$?; rm -rf "$scratch"; [ $rc -eq 0 ] || echo "dropin leg FAILED in step: $current_step (exit $rc)"' EXIT

step "README code blocks, built and run from a separate crate"
run env CARGO_TARGET_DIR="$target_base" python3 .ci/readme-blocks.py . "$scratch/readme"

step "both crates package (LICENSE, keywords, categories) and their own tests pass from the unpacked .crate files"
run env CARGO_TARGET_DIR="$target_base" cargo package -q -p mimalloc-sys -p mimalloc --allow-dirty --no-verify
pkg="$scratch/package"
mkdir -p "$pkg"
for c in mimalloc-sys mimalloc; do
  tar xzf "$target_base/package/$c-0.1.0.crate" -C "$pkg"
  test -f "$pkg/$c-0.1.0/LICENSE" || { echo "$c: no LICENSE in the package"; false; }
  grep -q '^keywords = ' "$pkg/$c-0.1.0/Cargo.toml" || { echo "$c: no keywords"; false; }
  grep -q '^categories = ' "$pkg/$c-0.1.0/Cargo.toml" || { echo "$c: no categories"; false; }
done
# Tests that use the unpublished test kit stay out of the packages (its dev-dependency line is
# dropped by `cargo package`); every other test must come along, so the packaged test runs keep
# their weight.
for c in mimalloc-sys mimalloc; do
  for t in "$c"/tests/*.rs; do
    grep -q mimalloc_testkit "$t" && continue
    test -f "$pkg/$c-0.1.0/tests/$(basename "$t")" || { echo "$t uses no test kit but is not in the $c package"; false; }
  done
  if grep -ql mimalloc_testkit "$pkg/$c-0.1.0"/tests/*.rs; then echo "$c: a packaged test uses the test kit"; false; fi
done
# The unpacked mimalloc asks for mimalloc-sys 0.1.0 from a registry: point it at the unpacked one.
patch_sys="patch.crates-io.mimalloc-sys.path=\"$pkg/mimalloc-sys-0.1.0\""
(cd "$pkg/mimalloc-sys-0.1.0" && run env CARGO_TARGET_DIR="$target_base" cargo test -q -j 2)
(cd "$pkg/mimalloc-0.1.0" && run env CARGO_TARGET_DIR="$target_base" cargo test -q -j 2 --config "$patch_sys")

step "the quick check (.ci/quick), as a newcomer runs it"
run env CARGO_TARGET_DIR="$target_base" bash .ci/quick

step "MSRV: both crates build and their core tests pass with the declared rust-version"
msrv=$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
rustup toolchain list | grep -q "^$msrv" || run rustup toolchain install "$msrv" --profile minimal
run env CARGO_TARGET_DIR="$target_base/dropin-msrv" cargo "+$msrv" test -q -j 2 -p mimalloc-sys -p mimalloc --no-run
run env CARGO_TARGET_DIR="$target_base/dropin-msrv" RUSTUP_TOOLCHAIN="$msrv" bash .ci/quick

step "a system library: our CMake build installed into a prefix, found through pkg-config, core tests linked against it"
command -v cmake >/dev/null && command -v pkg-config >/dev/null || apt_install cmake pkg-config
prefix="$scratch/prefix"
run cmake -S c_src -B "$scratch/cmake" -DCMAKE_BUILD_TYPE=Release >/dev/null
run cmake --build "$scratch/cmake" -j 2 >/dev/null
run cmake --install "$scratch/cmake" --prefix "$prefix" >/dev/null
pcdir=$(dirname "$(find "$prefix" -name mimalloc.pc | head -n 1)")
# the shared target directory: only mimalloc-sys (its build script sees the new environment)
# and what depends on it are rebuilt, not the dev-dependencies
syslib_env=(env CARGO_TARGET_DIR="$target_base" MIMALLOC_SYS_USE_PKG_CONFIG=1 PKG_CONFIG_PATH="$pcdir")
# the build says which library it linked; the tests then run against that one
"${syslib_env[@]}" cargo build -p mimalloc-sys -vv 2>&1 | grep -F "linking the installed mimalloc" | grep -F "$prefix"
run "${syslib_env[@]}" bash .ci/quick
# refused with a clear message when pkg-config finds none
if env CARGO_TARGET_DIR="$target_base" MIMALLOC_SYS_USE_PKG_CONFIG=1 \
  PKG_CONFIG_PATH="$scratch/nowhere" PKG_CONFIG_LIBDIR="$scratch/nowhere" \
  cargo build -q -p mimalloc-sys 2> "$scratch/missing.log"; then
  echo "the build succeeded without any installed library"; false
fi
grep -F "pkg-config finds no \`mimalloc\` package" "$scratch/missing.log"

step "done"
echo "dropin leg passed"
