#!/usr/bin/env bash
# Builds tools/crd-validate (CRD / custom resource validation with the real
# kube-apiserver code) into a cache outside the repository and prints the
# binary's path on the last line of stdout. Rebuilds only when go.mod, go.sum,
# the *.go sources or the Go version change. Needs only Go (modules come from
# the Go module proxy). Build output goes to stderr.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$root/tools/crd-validate"
dir="${VMSCTL_CACHE:-$HOME/.cache/vmsctl}/bin"
bin="$dir/crd-validate"
stamp="$bin.sha256"

if ! command -v go >/dev/null 2>&1; then
  echo "build-crd-validate: Go is not installed (https://go.dev/dl/)" >&2
  exit 1
fi

cd "$src"
export GOWORK=off GOFLAGS=-mod=readonly CGO_ENABLED=0

sum="$(
  {
    go env GOVERSION
    find . -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) -print | LC_ALL=C sort |
      while IFS= read -r f; do
        printf '== %s\n' "$f"
        cat "$f"
      done
  } | sha256sum | cut -d' ' -f1
)"

if [[ ! -x "$bin" || ! -f "$stamp" || "$(cat "$stamp")" != "$sum" ]]; then
  echo "build-crd-validate: building $bin (the first build takes a few minutes)" >&2
  mkdir -p "$dir"
  tmp="$bin.tmp.$$"
  trap 'rm -f "$tmp"' EXIT
  go mod download >&2
  go build -trimpath -ldflags='-s -w' -o "$tmp" . >&2
  mv -f "$tmp" "$bin"
  printf '%s\n' "$sum" >"$stamp"
fi

echo "$bin"
