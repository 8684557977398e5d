#!/usr/bin/env bash
# The build-time option defaults of CI (MIMALLOC_DEFAULT_<NAME>, read by mimalloc-sys/build.rs
# with the run-time parser of c_src/src/options-parse.h):
#   - values in other forms than a plain number (a size with a unit and spaces around it, a
#     boolean word for a count) are compiled in as the run-time parser reads them
#     (tests/option_values.rs, compiled_in_defaults_are_what_the_parser_reads);
#   - a value the run-time parser refuses fails the build, and the message names the forms.
# Each step rebuilds mimalloc-sys's C code once: about a minute in all on two cores.
set -euo pipefail
cd "$(dirname "$0")/.."

ci_leg=options
# shellcheck source=.ci/lib.sh
source .ci/lib.sh
log="$(mktemp)"
trap 'rc=$?; rm -f "$log"; [ $rc -eq 0 ] || echo "options leg FAILED in step: $current_step (exit $rc)"' EXIT

step "compiled-in defaults in several value forms reach the library as the run-time parser reads them"
run env MIMALLOC_DEFAULT_ARENA_RESERVE=" 256MiB " MIMALLOC_DEFAULT_MAX_SEGMENT_RECLAIM=yes \
  cargo test -q -p mimalloc-sys --test option_values

step "a value the run-time parser refuses fails the build"
for bad in "ARENA_RESERVE=4Gi" "MAX_SEGMENT_RECLAIM=9223372036854775808" "PURGE_DELAY=10ms"; do
  if env "MIMALLOC_DEFAULT_$bad" cargo build -q -p mimalloc-sys >"$log" 2>&1; then
    echo "MIMALLOC_DEFAULT_$bad was accepted" >&2
    exit 1
  fi
  grep -q "MIMALLOC_DEFAULT_${bad%%=*}=\"${bad#*=}\" is not a valid value: expected" "$log" || {
    cat "$log"
    exit 1
  }
  echo "refused: MIMALLOC_DEFAULT_$bad"
done
step "done"
