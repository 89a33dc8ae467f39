#!/usr/bin/env bash
# Builds kube-apiserver and kube-controller-manager from the k8s.io/kubernetes Go module into
#   ${VMSCTL_CACHE:-$HOME/.cache/vmsctl}/kube-$version/bin
# and prints that directory. Idempotent: a complete cache is reused without touching Go.
# k8s.io/kubernetes cannot be required as a plain module: its go.mod points every k8s.io/*
# staging module at ./staging/src/..., so a throw-away module replaces each of them with the
# published v0.X.Y of the same release. tests/servers/kube.sh runs the binaries with etcd.
set -euo pipefail

version="${KUBE_VERSION:-1.34.4}"
cache="${VMSCTL_CACHE:-$HOME/.cache/vmsctl}"
home="$cache/kube-$version"
bin="$home/bin"

# Bumped when the build recipe changes, so a cache built the old way is rebuilt.
recipe=2
complete() { [ "$(cat "$home/.complete" 2>/dev/null)" = "$recipe" ] && [ -x "$bin/kube-apiserver" ] && [ -x "$bin/kube-controller-manager" ]; }
if complete; then
  echo "$bin"
  exit 0
fi
for tool in go flock; do
  if ! command -v "$tool" >/dev/null; then
    echo "kube install: '$tool' is required (Go 1.24+, util-linux)" >&2
    exit 1
  fi
done

mkdir -p "$home"
# Test files may start apiservers in parallel; one builds, the others wait and reuse.
exec 9>"$home/.install.lock"
flock 9
if complete; then
  echo "$bin"
  exit 0
fi

work="$(mktemp -d "$home/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log="$home/install.log"
: >"$log"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local

staging_version="v0.${version#1.}"
gomod="$(cd "$work" && go mod download -json "k8s.io/kubernetes@v$version" 2>>"$log" |
  sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
if [ -z "$gomod" ] || [ ! -f "$gomod" ]; then
  echo "kube install: could not download k8s.io/kubernetes@v$version (see $log)" >&2
  tail -n 20 "$log" >&2
  exit 1
fi

{
  echo "module vmsctl.local/kube-build"
  echo
  echo "go 1.24"
  echo
  echo "require k8s.io/kubernetes v$version"
  echo
  # Every "k8s.io/x => ./staging/src/k8s.io/x" line of the upstream go.mod, pinned instead.
  sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\) => \./staging/src/.*#replace \1 => \1 '"$staging_version"'#p' "$gomod"
} >"$work/go.mod"
cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
GO

# The version the binaries report (kubectl and discovery read it); upstream sets it the same way.
minor="${version#1.}"
minor="${minor%%.*}"
version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags="$version_flags -X $pkg.gitVersion=v$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  version_flags="$version_flags -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

echo "kube install: building kube-apiserver and kube-controller-manager v$version (several minutes, once)" >&2
if ! (cd "$work" && go mod tidy -e >>"$log" 2>&1 &&
  CGO_ENABLED=0 go build -trimpath -ldflags="-s -w $version_flags" -o "$work/out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager >>"$log" 2>&1); then
  echo "kube install: the build failed (see $log):" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

rm -rf "$bin"
mv "$work/out" "$bin"
echo "$recipe" >"$home/.complete"
echo "$bin"
