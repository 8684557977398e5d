#!/usr/bin/env bash
# The drop-in leg of CI, called by .ci/run: checks what a user switching from the crates.io
# mimalloc / libmimalloc-sys pair meets first.
#   - every ```rust block of README.md builds and runs from a separate crate that depends on
#     ours by path with default features only (.ci/readme-blocks.py);
#   - both crates package with a LICENSE, keywords and categories, and each one's own tests pass
#     from its unpacked .crate file (nothing outside the package is needed);
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=dropin
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
target_base=$(realpath -m "${CARGO_TARGET_DIR:-target}")
scratch=$(mktemp -d)
trap 'rc=$?; rm -rf "$scratch"; [ $rc -eq 0 ] || echo "dropin leg FAILED in step: $current_step (exit $rc)"' EXIT

step "README code blocks, built and run from a separate crate"
run env CARGO_TARGET_DIR="$target_base/dropin-readme" python3 .ci/readme-blocks.py . "$scratch/readme"

step "both crates package (LICENSE, keywords, categories) and their own tests pass from the unpacked .crate files"
run env CARGO_TARGET_DIR="$target_base/dropin-package" cargo package -q -p mimalloc-sys -p mimalloc --allow-dirty --no-verify
pkg="$scratch/package"
mkdir -p "$pkg"
for c in mimalloc-sys mimalloc; do
  tar xzf "$target_base/dropin-package/package/$c-0.1.0.crate" -C "$pkg"
  test -f "$pkg/$c-0.1.0/LICENSE" || { echo "$c: no LICENSE in the package"; false; }
  grep -q '^keywords = ' "$pkg/$c-0.1.0/Cargo.toml" || { echo "$c: no keywords"; false; }
  grep -q '^categories = ' "$pkg/$c-0.1.0/Cargo.toml" || { echo "$c: no categories"; false; }
done
# The unpacked mimalloc asks for mimalloc-sys 0.1.0 from a registry: point it at the unpacked one.
patch_sys="patch.crates-io.mimalloc-sys.path=\"$pkg/mimalloc-sys-0.1.0\""
(cd "$pkg/mimalloc-sys-0.1.0" && run env CARGO_TARGET_DIR="$target_base/dropin-package" cargo test -q -j 2)
(cd "$pkg/mimalloc-0.1.0" && run env CARGO_TARGET_DIR="$target_base/dropin-package" cargo test -q -j 2 --config "$patch_sys")

step "done"
echo "dropin leg passed"
