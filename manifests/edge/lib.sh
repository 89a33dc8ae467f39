#!/usr/bin/env bash
# shellcheck disable=SC2034 # variables set here (ROOT, K3S_BIN, CHANGED...) are read by the scripts sourcing this file
# Shared by the edge provisioning scripts (sourced, never run on its own).
#
# Every command that changes the host goes through `run`. In dry-run mode (--dry-run or
# VMSCTL_DRY_RUN=1) `run` prints the command instead of running it, so the printed plan is
# complete by construction: a change that does not go through `run` is a bug.
#
# Output conventions, one line each:
#   + CMD ...          a command that changes the host (printed before it runs, or instead of it)
#   = WHAT: skipped    something already in the wanted state (idempotence)
#   # TEXT             a note
#       | TEXT         in a dry run, the content of a file about to be written (never a secret)
#   error: / warning:  on stderr
#
# VMSCTL_ROOT (default empty) is prepended to every host path the scripts read or write, like
# DESTDIR: tests point it at a temporary folder. Paths written *into* files (the systemd unit,
# kubeconfig locations) stay the real ones.

set -euo pipefail

ROOT="${VMSCTL_ROOT:-}"
DRY_RUN="${VMSCTL_DRY_RUN:-0}"
case "$DRY_RUN" in 1 | true | yes) DRY_RUN=1 ;; *) DRY_RUN=0 ;; esac
K3S_BIN="$ROOT/usr/local/bin/k3s"

# Functions inherit the ERR trap (-E), so a failing command anywhere says what failed.
set -E
RUNNING=''
trap 'echo "error: ${RUNNING:-$BASH_COMMAND} failed (exit $?)" >&2' ERR

die() {
  echo "error: $*" >&2
  exit 1
}

usage_error() {
  echo "error: $*" >&2
  echo "Run with --help for usage." >&2
  exit 2
}

warn() { echo "warning: $*" >&2; }
note() { echo "# $*"; }
skip() { echo "= $*: skipped"; }
dry() { [ "$DRY_RUN" = 1 ]; }

# need_value "$@" in an argument loop: the flag ($1) must be followed by a value ($2).
need_value() {
  if [ $# -lt 2 ] || [ -z "$2" ] || [ "${2#--}" != "$2" ]; then
    usage_error "$1 needs a value"
  fi
}

# run [--stdin LABEL] CMD ARGS...: the one door for side effects. LABEL says, in the plan,
# what the command reads on stdin (the caller redirects it), e.g. a unit file or a Secret.
run() {
  local label=''
  if [ "${1-}" = --stdin ]; then
    label="  # stdin: $2"
    shift 2
  fi
  local shown
  shown="$(printf '%q ' "$@")"
  printf '+ %s%s\n' "${shown% }" "$label"
  if dry; then
    return 0
  fi
  RUNNING="${shown% }"
  "$@"
  RUNNING=''
}

# Set to 1 by write_file and install_copy when they change something, so a caller can tell
# whether to restart what uses the file. (They always return 0: a function called as an `if`
# condition runs without `set -e`, which would hide its failures.)
CHANGED=0

# write_file MODE PATH [secret] < CONTENT: installs CONTENT at PATH unless it is already there.
# A dry run shows the content under the command (never for a secret).
write_file() {
  local mode="$1" dest="$2" secret="${3:-}" content
  content="$(cat)"
  if [ -f "$dest" ] && [ "$(cat "$dest")" = "$content" ]; then
    skip "$dest is up to date"
    return 0
  fi
  CHANGED=1
  if [ -n "$secret" ]; then
    run --stdin "$(basename "$dest") (secret, not shown)" \
      install -D -m "$mode" /dev/stdin "$dest" <<<"$content"
  else
    run --stdin "$(basename "$dest"), below" install -D -m "$mode" /dev/stdin "$dest" <<<"$content"
    if dry; then
      printf '%s\n' "$content" | sed 's/^/    | /'
    fi
  fi
}

# install_copy MODE SRC DEST: copies SRC to DEST unless DEST already has the same bytes.
install_copy() {
  local mode="$1" src="$2" dest="$3"
  if [ -f "$dest" ] && cmp -s "$src" "$dest"; then
    skip "$dest is up to date"
    return 0
  fi
  CHANGED=1
  run install -D -m "$mode" "$src" "$dest"
}

# A file the user handed us must exist and be readable, also in a dry run (the plan would lie).
need_file() {
  if [ ! -f "$2" ] || [ ! -r "$2" ]; then
    usage_error "$1 $2: no such readable file"
  fi
}

require_root() {
  if dry; then
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "this script changes system files and services: run it as root (sudo)"
}

# k3s-style architecture name of this host.
host_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo amd64 ;;
    aarch64 | arm64) echo arm64 ;;
    armv7l | armhf) echo arm ;;
    *) die "unsupported CPU architecture $(uname -m) (k3s ships amd64, arm64, arm)" ;;
  esac
}
