#!/usr/bin/env bash
# Starts the vmsctl edge agent in this host's k3s cluster (run after install-k3s.sh), so the
# edge pulls its desired state from the cloud. `vmsctl edge provision` runs it over SSH and
# `vmsctl edge join` runs it on the host itself, both after registering the edge with the
# cloud, which hands back the cloud apiserver URL, its CA and the agent's token.
#
#   join-edge.sh --edge NAMESPACE/NAME (--server URL | --server-file FILE) --ca-file FILE
#                --token-file FILE --agent-version VERSION [--agent-manifest FILE]
#                [--kubeconfig FILE] [--no-wait] [--dry-run]
#
# It applies, in order: the vmsctl-system Namespace; the vmsctl-edge-bootstrap Secret (server,
# ca.crt, token, edge-namespace, edge-name); the agent (edge-agent.yaml: ServiceAccount, RBAC,
# Deployment of ghcr.io/vmsctl/vmsctl:VERSION); then waits for the Deployment's rollout
# (--no-wait skips that, e.g. when no node runs pods yet).
#
# Idempotent: everything is `kubectl apply` (server-side), so a re-run with the same input changes nothing;
# the agent's pod restarts only when the Secret's content changes (a checksum annotation).
# The token is read from a file and goes to kubectl on stdin: never in argv, env or output.
# --dry-run (or VMSCTL_DRY_RUN=1) prints every command that would change the cluster,
# prefixed "+ ", and changes nothing; input files that registration writes later may be absent.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

EDGE=""
SERVER=""
SERVER_FILE=""
CA_FILE=""
TOKEN_FILE=""
AGENT_VERSION=""
AGENT_MANIFEST="$HERE/edge-agent.yaml"
KUBECONFIG_FILE="$ROOT/etc/rancher/k3s/k3s.yaml"
WAIT=1
while [ $# -gt 0 ]; do
  case "$1" in
    --edge) need_value "$@"; EDGE="$2"; shift 2 ;;
    --server) need_value "$@"; SERVER="$2"; shift 2 ;;
    --server-file) need_value "$@"; SERVER_FILE="$2"; shift 2 ;;
    --ca-file) need_value "$@"; CA_FILE="$2"; shift 2 ;;
    --token-file) need_value "$@"; TOKEN_FILE="$2"; shift 2 ;;
    --agent-version) need_value "$@"; AGENT_VERSION="$2"; shift 2 ;;
    --agent-manifest) need_value "$@"; AGENT_MANIFEST="$2"; shift 2 ;;
    --kubeconfig) need_value "$@"; KUBECONFIG_FILE="$2"; shift 2 ;;
    --no-wait) WAIT=0; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

# --- Input: checked before anything changes ------------------------------------------------

LABEL='[a-z0-9]([-a-z0-9]*[a-z0-9])?'
if ! [[ "$EDGE" =~ ^($LABEL)/($LABEL)$ ]] || [ ${#BASH_REMATCH[1]} -gt 63 ] || [ ${#BASH_REMATCH[3]} -gt 63 ]; then
  usage_error "--edge '$EDGE' must be NAMESPACE/NAME of the EdgeServer (lower-case DNS labels)"
fi
EDGE_NAMESPACE="${EDGE%%/*}"
EDGE_NAME="${EDGE#*/}"
[[ "$AGENT_VERSION" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] ||
  usage_error "--agent-version '$AGENT_VERSION' is not an image tag (e.g. 0.1.0)"
if [ -z "$CA_FILE" ] || [ -z "$TOKEN_FILE" ]; then
  usage_error "--ca-file and --token-file are required"
fi
[ -n "$SERVER" ] || [ -n "$SERVER_FILE" ] || usage_error "--server URL or --server-file FILE is required"
need_file --agent-manifest "$AGENT_MANIFEST"

# read_input FLAG FILE PLACEHOLDER: sets INPUT to FILE's content. In a dry run a file that
# registration has not written yet is allowed, and PLACEHOLDER stands in for it.
read_input() {
  if [ -f "$2" ] && [ -r "$2" ]; then
    INPUT="$(cat "$2")"
  elif dry; then
    note "$1 $2 does not exist yet (dry run): it is written when the edge is registered"
    INPUT="$3"
  else
    usage_error "$1 $2: no such readable file"
  fi
}

if [ -z "$SERVER" ]; then
  read_input --server-file "$SERVER_FILE" https://registration.invalid:6443
  SERVER="$(printf '%s' "$INPUT" | tr -d '[:space:]')"
fi
[[ "$SERVER" =~ ^https://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$ ]] ||
  usage_error "cloud server '$SERVER' is not an https:// URL"
read_input --ca-file "$CA_FILE" '-----BEGIN CERTIFICATE-----'
CA="$INPUT"
[[ "$CA" == *"-----BEGIN CERTIFICATE-----"* ]] || usage_error "--ca-file $CA_FILE holds no PEM certificate"
read_input --token-file "$TOKEN_FILE" dry-run-placeholder
TOKEN="$INPUT"
[ -n "$TOKEN" ] || usage_error "--token-file $TOKEN_FILE is empty"

# k3s carries its own kubectl; a host that has another one in PATH may use it too.
if [ -x "$K3S_BIN" ]; then
  KUBECTL=("$K3S_BIN" kubectl --kubeconfig "$KUBECONFIG_FILE")
else
  KUBECTL=(kubectl --kubeconfig "$KUBECONFIG_FILE")
  dry || command -v kubectl >/dev/null || die "neither k3s nor kubectl is installed: run install-k3s.sh first"
fi
# Root is not needed as such: what it takes is reading the cluster's admin kubeconfig.
if ! dry && [ ! -r "$KUBECONFIG_FILE" ]; then
  die "cannot read $KUBECONFIG_FILE: run as root on the edge host, after install-k3s.sh (or pass --kubeconfig)"
fi

note "vmsctl edge agent $AGENT_VERSION for edge $EDGE_NAMESPACE/$EDGE_NAME, cloud $SERVER$(dry && echo ' — dry run: nothing is changed')"

# Server-side apply: no last-applied annotation (which would copy the Secret's data into its
# metadata) and an unchanged object is not touched.
APPLY=(apply --server-side --field-manager vmsctl-edge-join --force-conflicts -f -)

b64() { printf '%s' "$1" | base64 | tr -d '\n'; }

# --- 1. Namespace ---------------------------------------------------------------------------

# The agent runs under the "restricted" Pod Security Standard, like everything it deploys.
run --stdin "Namespace vmsctl-system" "${KUBECTL[@]}" "${APPLY[@]}" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: vmsctl-system
  labels:
    app.kubernetes.io/managed-by: vmsctl
    pod-security.kubernetes.io/enforce: restricted
YAML

# --- 2. Bootstrap Secret (built in memory; values never printed) ----------------------------

SECRET="apiVersion: v1
kind: Secret
metadata:
  name: vmsctl-edge-bootstrap
  namespace: vmsctl-system
  labels:
    app.kubernetes.io/name: vmsctl-edge-agent
    app.kubernetes.io/managed-by: vmsctl
type: Opaque
data:
  server: $(b64 "$SERVER")
  ca.crt: $(b64 "$CA"$'\n')
  token: $(b64 "$TOKEN")
  edge-namespace: $(b64 "$EDGE_NAMESPACE")
  edge-name: $(b64 "$EDGE_NAME")"
run --stdin "Secret vmsctl-system/vmsctl-edge-bootstrap (token from $TOKEN_FILE, values not shown)" \
  "${KUBECTL[@]}" "${APPLY[@]}" <<<"$SECRET"

# --- 3. The agent: RBAC and Deployment --------------------------------------------------------

# The checksum in the pod template restarts the agent when its credentials change, and only then.
CHECKSUM="$(printf '%s' "$SECRET" | sha256sum | cut -c1-16)"
AGENT="$(sed -e "s/@VMSCTL_VERSION@/$AGENT_VERSION/g" -e "s/@BOOTSTRAP_CHECKSUM@/$CHECKSUM/g" "$AGENT_MANIFEST")"
run --stdin "$(basename "$AGENT_MANIFEST") (image ghcr.io/vmsctl/vmsctl:$AGENT_VERSION)" \
  "${KUBECTL[@]}" "${APPLY[@]}" <<<"$AGENT"

if [ "$WAIT" = 1 ]; then
  run "${KUBECTL[@]}" -n vmsctl-system rollout status deployment/vmsctl-edge-agent --timeout 300s
fi
note "edge agent $(dry && echo 'would be' || echo 'is') applied in namespace vmsctl-system"
