#!/usr/bin/env bash
# Brings up the whole local test environment on 127.0.0.1:
#   etcd + kube-apiserver (+ kubectl), Apache Kafka (KRaft), Strimzi's CRDs,
#   prometheus-operator's PrometheusRule and ServiceMonitor CRDs,
#   Redis (Debian's redis-server, installed with apt-get when missing).
# Cold (fresh machine): builds everything once into $CACHE_DIR, in parallel.
# Warm: every build step is a no-op and the start takes seconds.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/lib.sh"
mkdir -p "$LOG_DIR"

start=$SECONDS
log "cache: $CACHE_DIR   logs: $LOG_DIR"

# The Go build of kube-apiserver is the long pole on a cold machine
# (several minutes); the Maven steps run beside it.
"$HERE/kube/build.sh" >"$LOG_DIR/build-kube.log" 2>&1 &
kube_build=$!
"$HERE/kafka/build.sh" >"$LOG_DIR/build-kafka.log" 2>&1 \
  || { tail -n 30 "$LOG_DIR/build-kafka.log" >&2; die "building Apache Kafka failed; log: $LOG_DIR/build-kafka.log"; }
"$HERE/strimzi/build.sh" >"$LOG_DIR/build-strimzi.log" 2>&1 \
  || { tail -n 30 "$LOG_DIR/build-strimzi.log" >&2; die "generating Strimzi CRDs failed; log: $LOG_DIR/build-strimzi.log"; }
"$HERE/kafka/up.sh"
"$HERE/redis/up.sh"
if ! wait "$kube_build"; then
  tail -n 30 "$LOG_DIR/build-kube.log" >&2
  die "building etcd/kube-apiserver failed; log: $LOG_DIR/build-kube.log"
fi
grep -h 'took' "$LOG_DIR"/build-*.log >&2 || true
"$HERE/kube/up.sh"
"$HERE/strimzi/apply.sh"
"$HERE/prometheus-operator/crds.sh" --apply >/dev/null

log "environment up in $((SECONDS - start))s"
"$HERE/env.sh"
