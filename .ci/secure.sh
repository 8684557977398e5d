#!/usr/bin/env bash
# The secure-mitigations leg of CI, called by .ci/run: the `secure_canary` build (secure plus a
# canary after every block), which no other leg builds, through the tests a canary can break:
# the death tests (faults without and with a returning error handler), the secure mitigations,
# alignment in every layout (the canary's 8 bytes move size classes), heaps, cross-thread frees.
# The default, secure and debug builds run death.rs and secure_mitigations.rs in the main leg
# already (`cargo test` of each build). Budget: a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=secure
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
trap 'rc=$?; [ $rc -eq 0 ] || printf "\nSECURE LEG FAILED in step: %s\n" "$current_step"; exit $rc' EXIT

step "secure_canary build: death tests, mitigations, alignment, heaps"
run cargo test -q -p mimalloc-sys --features secure_canary --test death --test secure_mitigations \
  --test api_alignment --test api_heaps
run cargo test -q -p mimalloc --features secure_canary --test cross_thread --test layout_sweep

step "done"
printf '\nSECURE LEG PASSED\n'
