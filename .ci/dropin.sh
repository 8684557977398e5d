#!/usr/bin/env bash
# The drop-in leg of CI, called by .ci/run: checks what a user switching from the crates.io
# mimalloc / libmimalloc-sys pair meets first.
#   - every ```rust block of README.md builds and runs from a separate crate that depends on
#     ours by path with default features only (.ci/readme-blocks.py);
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=dropin
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
target_base=${CARGO_TARGET_DIR:-target}
scratch=$(mktemp -d)
trap 'rc=$?; rm -rf "$scratch"; [ $rc -eq 0 ] || echo "dropin leg FAILED in step: $current_step (exit $rc)"' EXIT

step "README code blocks, built and run from a separate crate"
run env CARGO_TARGET_DIR="$target_base/dropin-readme" python3 .ci/readme-blocks.py . "$scratch/readme"

step "done"
echo "dropin leg passed"
