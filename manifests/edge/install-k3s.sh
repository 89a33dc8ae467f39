#!/usr/bin/env bash
# Installs a pinned k3s server on this host: the Kubernetes cluster of a vmsctl edge.
# `vmsctl edge provision` copies this folder to the host over SSH and runs it as root.
#
#   install-k3s.sh --version v1.31.4+k3s1 [--node-name NAME] [--token-file FILE]
#                  [--tls-san HOST]... [--air-gapped --k3s-binary FILE --images FILE]
#                  [--gpu] [--dry-run]
#
# Online, the k3s binary comes from the GitHub release of that version and must match the
# release's sha256sum file. Air-gapped, the binary and the images tarball were copied to the
# host beforehand (`vmsctl edge provision --air-gapped` does it). --gpu adds the NVIDIA
# container toolkit (k3s finds the nvidia runtime when it starts), the `nvidia` RuntimeClass
# and the NVIDIA device plugin, so pods can request nvidia.com/gpu.
#
# Idempotent: what is already in place is reported as "= ...: skipped" and left alone, and
# k3s is restarted only when its binary, unit, token or container runtimes changed.
# --dry-run (or VMSCTL_DRY_RUN=1) prints every command that would change the host, prefixed
# "+ ", and changes nothing. Env equivalents: VMSCTL_K3S_VERSION for --version.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

VERSION="${VMSCTL_K3S_VERSION:-}"
NODE_NAME=""
TOKEN_FILE=""
AIR_GAPPED=0
K3S_BINARY=""
IMAGES=""
GPU=0
TLS_SANS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --version) need_value "$@"; VERSION="$2"; shift 2 ;;
    --node-name) need_value "$@"; NODE_NAME="$2"; shift 2 ;;
    --token-file) need_value "$@"; TOKEN_FILE="$2"; shift 2 ;;
    --tls-san) need_value "$@"; TLS_SANS+=("$2"); shift 2 ;;
    --air-gapped) AIR_GAPPED=1; shift ;;
    --k3s-binary) need_value "$@"; K3S_BINARY="$2"; shift 2 ;;
    --images) need_value "$@"; IMAGES="$2"; shift 2 ;;
    --gpu) GPU=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

# --- Input: checked before anything changes ------------------------------------------------

[ -n "$VERSION" ] || usage_error "--version is required (a k3s release such as v1.31.4+k3s1)"
[[ "$VERSION" =~ ^v[0-9]+\.[0-9]+\.[0-9]+\+k3s[0-9]+$ ]] ||
  usage_error "--version $VERSION is not a k3s release name (e.g. v1.31.4+k3s1)"
if [ -z "$NODE_NAME" ]; then
  NODE_NAME="$(hostname | tr '[:upper:]' '[:lower:]')"
fi
# A Kubernetes node name is a DNS subdomain; it also goes unquoted into the systemd unit.
if ! [[ "$NODE_NAME" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ ]] ||
  [ ${#NODE_NAME} -gt 253 ]; then
  usage_error "--node-name $NODE_NAME is not a valid node name (lower-case letters, digits, '-' and '.')"
fi
for san in "${TLS_SANS[@]}"; do
  if ! [[ "$san" =~ ^[A-Za-z0-9.:-]+$ ]] || [ "${san#-}" != "$san" ]; then
    usage_error "--tls-san $san is not a host name or IP address"
  fi
done
if [ -n "$TOKEN_FILE" ]; then
  need_file --token-file "$TOKEN_FILE"
fi
if [ "$AIR_GAPPED" = 1 ]; then
  if [ -z "$K3S_BINARY" ] || [ -z "$IMAGES" ]; then
    usage_error "--air-gapped needs --k3s-binary FILE and --images FILE (copied to this host beforehand)"
  fi
  need_file --k3s-binary "$K3S_BINARY"
  need_file --images "$IMAGES"
  # k3s imports every tarball in its images folder that has one of these extensions.
  case "$IMAGES" in
    *.tar.zst) IMAGES_EXT=tar.zst ;;
    *.tar.gz) IMAGES_EXT=tar.gz ;;
    *.tar.lz4) IMAGES_EXT=tar.lz4 ;;
    *.tar.bz2) IMAGES_EXT=tar.bz2 ;;
    *.tar) IMAGES_EXT=tar ;;
    *) usage_error "--images $IMAGES: expected a k3s images tarball (.tar, .tar.zst, .tar.gz, .tar.lz4, .tar.bz2)" ;;
  esac
elif [ -n "$K3S_BINARY$IMAGES" ]; then
  usage_error "--k3s-binary and --images are for --air-gapped installs"
fi
# GPU prerequisites, checked now so that a host that cannot get the toolkit is left untouched.
if [ "$GPU" = 1 ] && [ ! -x "$ROOT/usr/bin/nvidia-container-runtime" ]; then
  if [ "$AIR_GAPPED" = 1 ]; then
    die "air-gapped GPU install: the NVIDIA container toolkit is not installed and its apt repository is out of reach; install the nvidia-container-toolkit package from your mirror, then re-run"
  fi
  command -v apt-get >/dev/null || die "--gpu installs the NVIDIA container toolkit with apt; this host has no apt-get"
fi
require_root
ARCH="$(host_arch)"

# The version a k3s binary reports ("k3s version v1.31.4+k3s1 (a1b2c3d4)"), empty if none.
k3s_version_of() {
  if [ -x "$1" ]; then
    { "$1" --version 2>/dev/null || true; } | awk '$1 == "k3s" && $2 == "version" { print $3; exit }'
  fi
}

if [ "$AIR_GAPPED" = 1 ] && [ -x "$K3S_BINARY" ]; then
  supplied="$(k3s_version_of "$K3S_BINARY")"
  # Installing a different version than the one asked for would make the pin a lie.
  [ -z "$supplied" ] || [ "$supplied" = "$VERSION" ] ||
    usage_error "--k3s-binary $K3S_BINARY is k3s $supplied, but --version asks for $VERSION"
fi

note "k3s $VERSION on $NODE_NAME ($ARCH)$([ "$AIR_GAPPED" = 1 ] && echo ', air-gapped')$([ "$GPU" = 1 ] && echo ', NVIDIA GPU')$(dry && echo ' — dry run: nothing is changed')"

CACHE="$ROOT/var/cache/vmsctl/k3s/$VERSION"
NEED_RESTART=0

# --- 1. The k3s binary ---------------------------------------------------------------------

# DIR SUMS NAME: NAME must have the sha256 that the release's SUMS file lists for it.
verify_sha256() {
  local want got
  want="$(awk -v n="$3" '{ f = $2; sub(/^\*/, "", f) } f == n { print $1; exit }' "$1/$2")"
  [ -n "$want" ] || die "$2 lists no checksum for $3"
  got="$(sha256sum "$1/$3" | cut -d' ' -f1)"
  [ "$got" = "$want" ] || die "checksum mismatch for $3: got $got, the release says $want"
}

installed="$(k3s_version_of "$K3S_BIN")"
if [ "$installed" = "$VERSION" ]; then
  skip "k3s $VERSION is already installed at $K3S_BIN"
elif [ "$AIR_GAPPED" = 1 ]; then
  run install -D -m 0755 "$K3S_BINARY" "$K3S_BIN"
  NEED_RESTART=1
else
  # GitHub release assets: "k3s" for amd64, "k3s-arm64"/"k3s-arm" otherwise; "+" is %2B in URLs.
  asset=k3s
  [ "$ARCH" = amd64 ] || asset="k3s-$ARCH"
  base="https://github.com/k3s-io/k3s/releases/download/${VERSION//+/%2B}"
  run install -d -m 0700 "$CACHE"
  run curl -fsSL --retry 3 -o "$CACHE/$asset" "$base/$asset"
  run curl -fsSL --retry 3 -o "$CACHE/sha256sum-$ARCH.txt" "$base/sha256sum-$ARCH.txt"
  run verify_sha256 "$CACHE" "sha256sum-$ARCH.txt" "$asset"
  run install -D -m 0755 "$CACHE/$asset" "$K3S_BIN"
  run rm -rf "$CACHE"
  NEED_RESTART=1
fi
if [ "$NEED_RESTART" = 1 ] && ! dry; then
  # Whatever its source, the installed binary must be the pinned version.
  got="$(k3s_version_of "$K3S_BIN")"
  [ "$got" = "$VERSION" ] || die "$K3S_BIN reports version '${got:-none}', expected $VERSION"
fi

# --- 2. Air-gapped images: k3s imports every tarball in this folder when it starts ----------

if [ "$AIR_GAPPED" = 1 ]; then
  CHANGED=0
  install_copy 0644 "$IMAGES" "$ROOT/var/lib/rancher/k3s/agent/images/k3s-airgap-images-$ARCH.$IMAGES_EXT"
  [ "$CHANGED" = 0 ] || NEED_RESTART=1
fi

# --- 3. Cluster token and systemd unit ------------------------------------------------------

server_args=(--node-name "$NODE_NAME" --disable traefik --write-kubeconfig-mode 0600 --secrets-encryption)
for san in "${TLS_SANS[@]}"; do
  server_args+=(--tls-san "$san")
done
if [ -n "$TOKEN_FILE" ]; then
  CHANGED=0
  install_copy 0600 "$TOKEN_FILE" "$ROOT/etc/rancher/k3s/cluster-token"
  [ "$CHANGED" = 0 ] || NEED_RESTART=1
  server_args+=(--token-file /etc/rancher/k3s/cluster-token)
fi

# Traefik is disabled: the edge serves no ingress; its API is reached through the agent.
# The kubeconfig is root-only (0600) and Secrets (the agent's cloud token) are encrypted at rest.
CHANGED=0
write_file 0644 "$ROOT/etc/systemd/system/k3s.service" <<UNIT
[Unit]
Description=k3s server of the vmsctl edge (written by vmsctl install-k3s.sh)
Documentation=https://docs.k3s.io
Wants=network-online.target
After=network-online.target

[Service]
Type=notify
EnvironmentFile=-/etc/default/k3s
KillMode=process
Delegate=yes
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s server ${server_args[*]}

[Install]
WantedBy=multi-user.target
UNIT
[ "$CHANGED" = 0 ] || NEED_RESTART=1

# --- 4. NVIDIA container toolkit (before k3s starts: it looks for the runtime at start) ------

if [ "$GPU" = 1 ]; then
  if [ ! -e "$ROOT/proc/driver/nvidia/version" ]; then
    warn "no NVIDIA driver is loaded on this host; install the driver, or pods will see no GPU"
  fi
  if [ -x "$ROOT/usr/bin/nvidia-container-runtime" ]; then
    skip "the NVIDIA container toolkit is already installed"
  else
    # apt reads an ASCII-armored key when the file ends in .asc, so gpg is not needed.
    keyring="/usr/share/keyrings/nvidia-container-toolkit-keyring.asc"
    if [ -s "$ROOT$keyring" ]; then
      skip "$ROOT$keyring is present"
    else
      run curl -fsSL --retry 3 --create-dirs -o "$ROOT$keyring" https://nvidia.github.io/libnvidia-container/gpgkey
    fi
    # $(ARCH) is apt's own variable, expanded by apt, not by the shell.
    write_file 0644 "$ROOT/etc/apt/sources.list.d/nvidia-container-toolkit.list" <<'LIST'
deb [signed-by=/usr/share/keyrings/nvidia-container-toolkit-keyring.asc] https://nvidia.github.io/libnvidia-container/stable/deb/$(ARCH) /
LIST
    run apt-get update
    run env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nvidia-container-toolkit
    NEED_RESTART=1
  fi
fi

# --- 5. Start k3s and wait for the node --------------------------------------------------------

# SECONDS: waits until the node is registered and Ready.
wait_node_ready() {
  local deadline=$((SECONDS + $1)) left
  until "$K3S_BIN" kubectl get node "$NODE_NAME" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "k3s did not register node $NODE_NAME within $1 s; see: journalctl -u k3s"
    sleep 2
  done
  left=$((deadline - SECONDS))
  [ "$left" -gt 0 ] || left=1
  "$K3S_BIN" kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout="${left}s" >/dev/null
}

if [ "$NEED_RESTART" = 1 ]; then
  run systemctl daemon-reload
  run systemctl enable k3s.service
  run systemctl restart k3s.service
  run wait_node_ready 300
elif systemctl is-enabled --quiet k3s.service 2>/dev/null && systemctl is-active --quiet k3s.service 2>/dev/null; then
  skip "k3s.service is enabled and running"
else
  run systemctl enable --now k3s.service
  run wait_node_ready 300
fi

# --- 6. GPU objects in the cluster ------------------------------------------------------------

if [ "$GPU" = 1 ]; then
  if ! dry && ! grep -qs nvidia "$ROOT/var/lib/rancher/k3s/agent/etc/containerd/config.toml"; then
    warn "k3s found no NVIDIA runtime at start (no 'nvidia' in its containerd config.toml); check the toolkit and restart k3s"
  fi
  # RuntimeClass "nvidia" + the device plugin DaemonSet; apply leaves unchanged objects alone.
  run "$K3S_BIN" kubectl apply -f "$HERE/nvidia-device-plugin.yaml"
fi

note "k3s $VERSION $(dry && echo 'would be' || echo 'is') running on $NODE_NAME; admin kubeconfig: /etc/rancher/k3s/k3s.yaml (root only)"
