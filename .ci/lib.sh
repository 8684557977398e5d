# Shared by the CI legs (.ci/windows.sh, .ci/unix-targets.sh, .ci/cross32.sh, .ci/sanitizers.sh):
# sourced, not run. A leg sets `ci_leg` (the prefix of its step headings) before sourcing it.
# shellcheck shell=bash

current_step="set-up"
step_start=$SECONDS

# Starts a named step; the leg's EXIT trap reports `current_step` when something fails. The time
# the previous step took is printed, so a slow leg shows where its minutes went.
step() {
  [ "$current_step" = "set-up" ] || printf '(%s s)\n' "$((SECONDS - step_start))"
  current_step="$*"
  step_start=$SECONDS
  printf '\n==== %s: %s\n' "${ci_leg:-ci}" "$*"
}

# Prints each command before running it.
run() {
  printf '+ %s\n' "$*"
  "$@"
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "need root (or sudo) to run: $*" >&2
    return 1
  fi
}

# Installs the Debian packages named (the ones a leg found missing); says so when none are.
apt_install() {
  if [ $# -gt 0 ]; then
    echo "installing: $*"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
  else
    echo "nothing to install"
  fi
}
