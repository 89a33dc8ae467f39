#!/usr/bin/env bash
# A real Apache Kafka 3.9 broker for tests: KRaft, one node acting as broker and controller,
# run from the Maven Central jars that scripts/kafka/install.sh caches.
#
#   tests/servers/kafka.sh start <dir> [port]   start (or restart with the same data and port)
#   tests/servers/kafka.sh stop <dir>           graceful stop (SIGTERM, SIGKILL after a timeout)
#   tests/servers/kafka.sh kill <dir>           SIGKILL, to simulate a crashed broker
#   tests/servers/kafka.sh status <dir>         "running <pid> <port>" (exit 0) or "stopped" (exit 3)
#
# Everything lives in <dir>: server.properties, data/, logs/, pid, port, controller-port.
# Env: KAFKA_LIBS (jar dir, default: install.sh's), KAFKA_HEAP (default -Xmx384m),
# KAFKA_START_TIMEOUT (seconds, default 120), KAFKA_STOP_TIMEOUT (seconds, default 30),
# KAFKA_OWNER_PID (the broker is killed when that process is gone, so a crashed test run
# leaves no broker behind).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

usage() {
  echo "usage: $0 start <dir> [port] | stop <dir> | kill <dir> | status <dir>" >&2
  exit 2
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

broker_pid() {
  local pid
  pid="$(cat "$1/pid" 2>/dev/null || true)"
  if alive "$pid"; then echo "$pid"; fi
}

log_tail() {
  # The cause is usually an ERROR far above the shutdown chatter at the end.
  echo "--- $1/logs/server.log (errors) ---" >&2
  grep -E '^\[[^]]*\] (ERROR|FATAL) ' "$1/logs/server.log" 2>/dev/null | tail -n 5 >&2 || true
  echo "--- $1/logs/server.log (tail) ---" >&2
  tail -n 20 "$1/logs/server.log" >&2 2>/dev/null || true
  echo "--- $1/logs/stdout.log (tail) ---" >&2
  tail -n 20 "$1/logs/stdout.log" >&2 2>/dev/null || true
}

# Two distinct free ports, held open together so they cannot collide with each other.
free_ports() {
  node -e '
    const net = require("node:net");
    const a = net.createServer(), b = net.createServer();
    a.listen(0, "127.0.0.1", () => b.listen(0, "127.0.0.1", () => {
      console.log(a.address().port, b.address().port);
      a.close(); b.close();
    }));'
}

# Kafka cluster ids are 16 random bytes in URL-safe base64; a leading "-" would read as an option.
cluster_id() {
  node -e '
    const { randomBytes } = require("node:crypto");
    let id;
    do id = randomBytes(16).toString("base64url"); while (id.startsWith("-"));
    console.log(id);'
}

write_config() {
  local dir="$1" port="$2" cport="$3"
  cat >"$dir/server.properties" <<PROPS
# Written by tests/servers/kafka.sh on every start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
auto.create.topics.enable=false
delete.topic.enable=true
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
# A killed broker's registration blocks its restart until this session expires (default 9 s).
broker.session.timeout.ms=3000
broker.heartbeat.interval.ms=750
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
background.threads=2
log.retention.hours=24
log.segment.bytes=16777216
PROPS
  cat >"$dir/log4j.properties" <<'LOG4J'
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File=${kafka.logs.dir}/server.log
log4j.appender.file.MaxFileSize=10MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
LOG4J
}

# Sets java_opts for a broker in $1. Small heap, single-threaded GC and the quick C1 JIT:
# the test machines have 2 cores and run other servers besides this one.
set_java_opts() {
  local heap
  read -ra heap <<<"${KAFKA_HEAP:--Xmx384m -Xms64m}"
  java_opts=("${heap[@]}" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
    "-Dkafka.logs.dir=$1/logs" "-Dlog4j.configuration=file:$1/log4j.properties")
}

wait_ready() {
  local dir="$1" port="$2" pid="$3" deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-120}))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if ! alive "$pid"; then
      echo "kafka: broker exited during start-up" >&2
      log_tail "$dir"
      return 1
    fi
    # The broker is usable once it lists itself in metadata (registered and unfenced).
    if kcat -b "127.0.0.1:$port" -L -m 3 -q 2>/dev/null | grep -q '^ *1 brokers:'; then
      return 0
    fi
    sleep 0.5
  done
  echo "kafka: broker not ready on 127.0.0.1:$port after ${KAFKA_START_TIMEOUT:-120}s" >&2
  log_tail "$dir"
  return 1
}

watch_owner() {
  local dir="$1" pid="$2" owner="$3"
  (
    while alive "$owner" && alive "$pid"; do sleep 2; done
    if alive "$pid" && [ "$(cat "$dir/pid" 2>/dev/null)" = "$pid" ]; then kill -9 "$pid"; fi
  ) </dev/null >/dev/null 2>&1 &
}

cmd_start() {
  local dir="$1" port="${2:-}" cport="" libs pid p1 p2
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  pid="$(broker_pid "$dir")"
  if [ -n "$pid" ]; then
    echo "kafka: already running (pid $pid) on 127.0.0.1:$(cat "$dir/port")" >&2
    cat "$dir/port"
    return 0
  fi
  command -v kcat >/dev/null || { echo "kafka: kcat is required (Debian package kcat)" >&2; return 1; }
  libs="${KAFKA_LIBS:-$("$repo/scripts/kafka/install.sh")}"

  # A restart keeps the ports it had, so clients reconnect to the same address.
  [ -n "$port" ] || port="$(cat "$dir/port" 2>/dev/null || true)"
  cport="$(cat "$dir/controller-port" 2>/dev/null || true)"
  if [ -z "$port" ] || [ -z "$cport" ]; then
    read -r p1 p2 < <(free_ports)
    [ -n "$port" ] || port="$p1"
    [ -n "$cport" ] || cport="$p2"
    [ "$cport" != "$port" ] || cport="$p1"
  fi
  mkdir -p "$dir/data" "$dir/logs"
  write_config "$dir" "$port" "$cport"
  echo "$port" >"$dir/port"
  echo "$cport" >"$dir/controller-port"

  set_java_opts "$dir"
  if [ ! -f "$dir/data/meta.properties" ]; then
    if ! java "${java_opts[@]}" -cp "$libs/*" kafka.tools.StorageTool format \
      -t "$(cluster_id)" -c "$dir/server.properties" >"$dir/logs/format.log" 2>&1; then
      echo "kafka: formatting storage failed" >&2
      tail -n 20 "$dir/logs/format.log" >&2
      return 1
    fi
  fi

  nohup java "${java_opts[@]}" -cp "$libs/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/logs/stdout.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  if [ -n "${KAFKA_OWNER_PID:-}" ]; then watch_owner "$dir" "$pid" "$KAFKA_OWNER_PID"; fi

  if ! wait_ready "$dir" "$port" "$pid"; then
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
    return 1
  fi
  echo "$port"
}

wait_gone() {
  local pid="$1" deadline=$((SECONDS + $2))
  while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
  ! alive "$pid"
}

cmd_stop() {
  local dir="$1" pid
  pid="$(broker_pid "$dir")"
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null || true
    if ! wait_gone "$pid" "${KAFKA_STOP_TIMEOUT:-30}"; then
      echo "kafka: broker $pid ignored SIGTERM, killing it" >&2
      kill -9 "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || { echo "kafka: broker $pid would not die" >&2; return 1; }
    fi
  fi
  rm -f "$dir/pid"
}

cmd_kill() {
  local dir="$1" pid
  pid="$(broker_pid "$dir")"
  if [ -n "$pid" ]; then
    kill -9 "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || { echo "kafka: broker $pid would not die" >&2; return 1; }
  fi
  rm -f "$dir/pid"
}

cmd_status() {
  local dir="$1" pid
  pid="$(broker_pid "$dir")"
  if [ -n "$pid" ]; then
    echo "running $pid $(cat "$dir/port")"
  else
    echo "stopped"
    return 3
  fi
}

[ $# -ge 2 ] || usage
case "$1" in
  start) [ $# -le 3 ] || usage; cmd_start "$2" "${3:-}" ;;
  stop) cmd_stop "$2" ;;
  kill) cmd_kill "$2" ;;
  status) cmd_status "$2" ;;
  *) usage ;;
esac
