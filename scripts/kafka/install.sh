#!/usr/bin/env bash
# Resolves the Apache Kafka 3.9.1 broker and its runtime jars from Maven Central into
#   ${VMSCTL_CACHE:-$HOME/.cache/vmsctl}/kafka-3.9.1/libs
# and prints that directory. Idempotent: a complete cache is reused without touching Maven.
# tests/servers/kafka.sh runs the broker from these jars with the machine's Java.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
version=3.9.1
cache="${VMSCTL_CACHE:-$HOME/.cache/vmsctl}"
home="$cache/kafka-$version"
libs="$home/libs"

# The marker is written last, so an interrupted install is never mistaken for a complete one.
if [ -f "$home/.complete" ] && [ -d "$libs" ]; then
  echo "$libs"
  exit 0
fi

for tool in java mvn flock; do
  if ! command -v "$tool" >/dev/null; then
    echo "kafka install: '$tool' is required (Java 17+, Maven 3.8+, util-linux)" >&2
    exit 1
  fi
done

mkdir -p "$home"
# Test files start brokers in parallel; only one of them resolves, the others wait and reuse.
exec 9>"$home/.install.lock"
flock 9
if [ -f "$home/.complete" ] && [ -d "$libs" ]; then
  echo "$libs"
  exit 0
fi
staging="$(mktemp -d "$home/.libs.XXXXXX")"
trap 'rm -rf "$staging"' EXIT

if ! mvn -B -q -f "$here/pom.xml" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$staging" >"$home/install.log" 2>&1; then
  echo "kafka install: Maven could not resolve kafka_2.13:$version (see $home/install.log):" >&2
  tail -n 20 "$home/install.log" >&2
  exit 1
fi
if ! ls "$staging"/kafka_2.13-"$version".jar >/dev/null 2>&1; then
  echo "kafka install: kafka_2.13-$version.jar missing from the resolved classpath" >&2
  exit 1
fi

# Staged and moved in whole, so an interrupted run never leaves a partial libs dir behind.
rm -rf "$libs"
mv "$staging" "$libs"
trap - EXIT
touch "$home/.complete"
echo "$libs"
