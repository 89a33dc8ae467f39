#!/usr/bin/env bash
# A real Kubernetes control plane for tests: etcd (Debian etcd-server), kube-apiserver and a
# kube-controller-manager running only the garbage collector, namespace and quota controllers
# (owner references cascade, namespaces finish terminating, quotas report usage). Binaries
# come from scripts/kube/install.sh. No kubelet: nothing here runs pods.
#
#   tests/servers/kube.sh start <dir> [port]      start all (or what is not running; same ports)
#   tests/servers/kube.sh stop <dir>              stop all (SIGTERM, SIGKILL after a timeout)
#   tests/servers/kube.sh stop-apiserver <dir>    stop only the apiserver (etcd keeps the data)
#   tests/servers/kube.sh status <dir>            "running <apiserver-pid> <port>" or "stopped" (exit 3)
#
# Everything lives in <dir>: pki/ (CA, serving cert, service-account key), tokens.csv,
# kubeconfig (cluster-admin by token), etcd/, logs/, *.pid, port, etcd-port.
# Env: KUBE_BIN (binary dir, default: install.sh's), KUBE_START_TIMEOUT (seconds, default 90),
# KUBE_OWNER_PID (everything is killed when that process is gone), KUBE_APISERVER_EXTRA_ARGS
# (word-split and appended to the kube-apiserver command line, e.g. "--watch-cache=false").
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
PROCS=(controller-manager apiserver etcd)

usage() {
  echo "usage: $0 start <dir> [port] | stop <dir> | stop-apiserver <dir> | status <dir>" >&2
  exit 2
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

proc_pid() {
  local pid
  pid="$(cat "$1/$2.pid" 2>/dev/null || true)"
  if alive "$pid"; then echo "$pid"; fi
}

free_ports() {
  node -e '
    const net = require("node:net");
    const n = Number(process.argv[1]), servers = [];
    const next = () => {
      if (servers.length === n) {
        console.log(servers.map((s) => s.address().port).join(" "));
        servers.forEach((s) => s.close());
        return;
      }
      const s = net.createServer();
      servers.push(s);
      s.listen(0, "127.0.0.1", next);
    };
    next();' "$1"
}

log_tail() {
  echo "--- $1/logs/$2.log (tail) ---" >&2
  tail -n 25 "$1/logs/$2.log" >&2 2>/dev/null || true
}

# CA, a serving certificate for 127.0.0.1/localhost and the service-account signing key.
# Made once per dir: a restarted apiserver keeps its identity and clients keep trusting it.
make_pki() {
  local pki="$1/pki"
  [ -f "$pki/.complete" ] && return 0
  mkdir -p "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 \
      -subj "/CN=vmsctl-test-ca" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr \
      -subj "/CN=kube-apiserver" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\n' >san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out apiserver.crt -days 30 -extfile san.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  touch "$pki/.complete"
}

write_access() {
  local dir="$1" port="$2" token
  if [ ! -f "$dir/tokens.csv" ]; then
    token="$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))')"
    # token,user,uid,"groups": the test admin is a cluster-admin through system:masters.
    echo "$token,vmsctl-test-admin,vmsctl-test-admin,\"system:masters\"" >"$dir/tokens.csv"
    chmod 600 "$dir/tokens.csv"
  fi
  token="$(cut -d, -f1 "$dir/tokens.csv" | head -n1)"
  cat >"$dir/kubeconfig" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster:
      server: https://127.0.0.1:$port
      certificate-authority-data: $(base64 -w0 "$dir/pki/ca.crt")
users:
  - name: admin
    user:
      token: $token
contexts:
  - name: test
    context: { cluster: test, user: admin }
current-context: test
KUBECONFIG
  chmod 600 "$dir/kubeconfig"
}

watch_owner() {
  local dir="$1" owner="$2"
  (
    while alive "$owner"; do sleep 2; done
    for p in "${PROCS[@]}"; do
      pid="$(proc_pid "$dir" "$p")"
      if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
    done
  ) </dev/null >/dev/null 2>&1 &
}

start_etcd() {
  local dir="$1" eport="$2" pport="$3" pid deadline
  [ -n "$(proc_pid "$dir" etcd)" ] && return 0
  nohup etcd --name test --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "test=http://127.0.0.1:$pport" --quota-backend-bytes 4294967296 \
    --snapshot-count 20000 --log-level warn \
    </dev/null >>"$dir/logs/etcd.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/etcd.pid"
  deadline=$((SECONDS + ${KUBE_START_TIMEOUT:-90}))
  until curl -fsS "http://127.0.0.1:$eport/health" 2>/dev/null | grep -q '"health":"true"'; do
    if ! alive "$pid" || [ "$SECONDS" -ge "$deadline" ]; then
      echo "kube: etcd did not become healthy on 127.0.0.1:$eport" >&2
      log_tail "$dir" etcd
      return 1
    fi
    sleep 0.2
  done
}

start_apiserver() {
  local dir="$1" port="$2" eport="$3" bin="$4" pid deadline token
  local -a extra=()
  [ -n "$(proc_pid "$dir" apiserver)" ] && return 0
  # Word-split on purpose: several flags in one variable.
  read -r -a extra <<<"${KUBE_APISERVER_EXTRA_ARGS:-}"

  # Priority and fairness is off so benchmarks measure our controllers, not request shaping;
  # the in-flight limits are raised for the same reason.
  nohup "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$eport" --bind-address 127.0.0.1 --advertise-address 127.0.0.1 \
    --secure-port "$port" --tls-cert-file "$dir/pki/apiserver.crt" \
    --tls-private-key-file "$dir/pki/apiserver.key" --client-ca-file "$dir/pki/ca.crt" \
    --token-auth-file "$dir/tokens.csv" --authorization-mode RBAC --anonymous-auth=false \
    --service-account-issuer https://kubernetes.default.svc --service-account-key-file "$dir/pki/sa.pub" \
    --service-account-signing-key-file "$dir/pki/sa.key" --service-cluster-ip-range 10.96.0.0/16 \
    --enable-priority-and-fairness=false --max-requests-inflight 1000 \
    --max-mutating-requests-inflight 500 --profiling=false --v=1 ${extra[@]+"${extra[@]}"} \
    </dev/null >>"$dir/logs/apiserver.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/apiserver.pid"
  token="$(cut -d, -f1 "$dir/tokens.csv" | head -n1)"
  deadline=$((SECONDS + ${KUBE_START_TIMEOUT:-90}))
  until [ "$(curl -sS --cacert "$dir/pki/ca.crt" -H "Authorization: Bearer $token" \
    "https://127.0.0.1:$port/readyz" 2>/dev/null)" = "ok" ]; do
    if ! alive "$pid" || [ "$SECONDS" -ge "$deadline" ]; then
      echo "kube: kube-apiserver not ready on 127.0.0.1:$port" >&2
      log_tail "$dir" apiserver
      return 1
    fi
    sleep 0.3
  done
}

start_controller_manager() {
  local dir="$1" bin="$2" pid
  [ -n "$(proc_pid "$dir" controller-manager)" ] && return 0
  nohup "$bin/kube-controller-manager" --kubeconfig "$dir/kubeconfig" \
    --authentication-kubeconfig "$dir/kubeconfig" --authorization-kubeconfig "$dir/kubeconfig" \
    --controllers garbagecollector,namespace,resourcequota --leader-elect=false \
    --bind-address 127.0.0.1 --secure-port 0 --v=1 \
    </dev/null >>"$dir/logs/controller-manager.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/controller-manager.pid"
  sleep 0.5
  if ! alive "$pid"; then
    echo "kube: kube-controller-manager exited at start" >&2
    log_tail "$dir" controller-manager
    return 1
  fi
}

cmd_start() {
  local dir="$1" port="${2:-}" eport pport bin p1 p2 p3
  mkdir -p "$dir/logs"
  dir="$(cd "$dir" && pwd)"
  for tool in etcd openssl curl node; do
    command -v "$tool" >/dev/null || { echo "kube: '$tool' is required" >&2; return 1; }
  done
  bin="${KUBE_BIN:-$("$repo/scripts/kube/install.sh")}"
  # A restart keeps the ports it had, so clients and kubeconfigs stay valid.
  [ -n "$port" ] || port="$(cat "$dir/port" 2>/dev/null || true)"
  eport="$(cat "$dir/etcd-port" 2>/dev/null || true)"
  pport="$(cat "$dir/etcd-peer-port" 2>/dev/null || true)"
  if [ -z "$port" ] || [ -z "$eport" ] || [ -z "$pport" ]; then
    read -r p1 p2 p3 < <(free_ports 3)
    [ -n "$port" ] || port="$p1"
    [ -n "$eport" ] || eport="$p2"
    [ -n "$pport" ] || pport="$p3"
  fi
  echo "$port" >"$dir/port"
  echo "$eport" >"$dir/etcd-port"
  echo "$pport" >"$dir/etcd-peer-port"
  make_pki "$dir"
  write_access "$dir" "$port"
  if [ -n "${KUBE_OWNER_PID:-}" ] && [ ! -f "$dir/owner-watch" ]; then
    watch_owner "$dir" "$KUBE_OWNER_PID"
    touch "$dir/owner-watch"
  fi
  start_etcd "$dir" "$eport" "$pport"
  start_apiserver "$dir" "$port" "$eport" "$bin"
  start_controller_manager "$dir" "$bin"
  echo "$port"
}

stop_proc() {
  local dir="$1" name="$2" pid deadline grace=20
  # kube-apiserver 1.34 hangs after it stops listening on SIGTERM; its data is in etcd, so
  # it gets a short grace before SIGKILL instead of the full 20 s.
  [ "$name" = apiserver ] && grace=3
  pid="$(proc_pid "$dir" "$name")"
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + grace))
    while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if alive "$pid"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$dir/$name.pid"
}

cmd_stop() {
  for p in "${PROCS[@]}"; do stop_proc "$1" "$p"; done
}

cmd_status() {
  local pid
  pid="$(proc_pid "$1" apiserver)"
  if [ -n "$pid" ]; then
    echo "running $pid $(cat "$1/port")"
  else
    echo "stopped"
    return 3
  fi
}

[ $# -ge 2 ] || usage
case "$1" in
  start) [ $# -le 3 ] || usage; cmd_start "$2" "${3:-}" ;;
  stop) cmd_stop "$2" ;;
  stop-apiserver) stop_proc "$2" apiserver ;;
  status) cmd_status "$2" ;;
  *) usage ;;
esac
