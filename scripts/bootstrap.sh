#!/usr/bin/env bash
# Prepares a fresh machine for vmsctl: system packages, npm packages, a build.
# Safe to re-run; installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the platform and its tests run on: git (fleet repos), ffmpeg/ffprobe (edge
# ingest), kcat (independent Kafka client in tests), GStreamer's RTSP server through
# python3-gi (the camera simulator), opencv-doc (the real vtest.avi footage), shellcheck
# (lints the edge provisioning scripts in manifests/edge), etcd-server, openssl and curl (the
# Kubernetes control plane the operator tests run on) and kubectl's independent view of it.
need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v kcat >/dev/null || need_apt+=(kcat)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl)
command -v kubectl >/dev/null || need_apt+=(kubernetes-client)
[ -f /usr/share/doc/opencv-doc/examples/data/vtest.avi ] || need_apt+=(opencv-doc)
if ! /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0')" 2>/dev/null ||
  ! command -v gst-inspect-1.0 >/dev/null || ! gst-inspect-1.0 x265enc >/dev/null 2>&1; then
  need_apt+=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "bootstrap: please install: ${need_apt[*]} (needs root)" >&2
    exit 1
  fi
  echo "bootstrap: installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "bootstrap: Node.js 20 or newer is required (found $(node --version))" >&2
  exit 1
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
npm run --silent build >/dev/null
# Kubernetes' CRD validation, compiled once and cached outside the repo (tests use it).
if command -v go >/dev/null; then
  scripts/build-crd-validate.sh >/dev/null
else
  echo "bootstrap: Go 1.26+ is needed for the CRD validation tests (tools/crd-validate)" >&2
  exit 1
fi
# Apache Kafka for the edge tests: Maven Central artifacts, cached outside the repo.
if command -v mvn >/dev/null && command -v java >/dev/null; then
  scripts/kafka/install.sh >/dev/null
else
  echo "bootstrap: Java 17+ and Maven are needed for the Kafka tests (scripts/kafka/install.sh)" >&2
  exit 1
fi
# kube-apiserver and kube-controller-manager for the operator tests: built from the
# k8s.io/kubernetes Go module once (about 7 minutes on 2 cores) and cached outside the repo.
if command -v go >/dev/null; then
  scripts/kube/install.sh >/dev/null
fi
echo "bootstrap: ready ($(./bin/run.js --version))"
