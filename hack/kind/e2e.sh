#!/usr/bin/env bash
# `make e2e-kind`: end-to-end on the kind cluster, after kind-up, strimzi,
# images, kind-load and deploy. Applies a pipeline against Strimzi's Kafka
# (direct mode, topics through the admin API) in its own namespace, then
# asserts, from the pipeline's status as the operator writes it:
#   1. phase Running within E2E_TIMEOUT seconds (default 300);
#   2. throughput: status.processor.inputEventsPerSecond > 0;
#   3. lag bounded: status.processor.totalLag <= E2E_MAX_LAG (default 500
#      records, 25 s of the 20 events/s generated) in every one of
#      E2E_SAMPLES samples (default 6), E2E_SAMPLE_INTERVAL seconds apart (10).
# Deletes the pipeline at the end unless E2E_KEEP=1. Exit status 0 = passed.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

E2E_NAMESPACE="${E2E_NAMESPACE:-shopstream-e2e}"
E2E_PIPELINE="${E2E_PIPELINE:-e2e}"
E2E_TIMEOUT="${E2E_TIMEOUT:-300}"
E2E_MAX_LAG="${E2E_MAX_LAG:-500}"
E2E_SAMPLES="${E2E_SAMPLES:-6}"
E2E_SAMPLE_INTERVAL="${E2E_SAMPLE_INTERVAL:-10}"

require_tools kind kubectl helm
need_cluster
hh status "$RELEASE_NAME" -n "$RELEASE_NAMESPACE" >/dev/null 2>&1 \
  || die "the operator is not installed (helm release $RELEASE_NAMESPACE/$RELEASE_NAME): run 'make deploy'"
kk -n "$KAFKA_NAMESPACE" get "kafka/$KAFKA_CLUSTER" >/dev/null 2>&1 \
  || die "Kafka $KAFKA_NAMESPACE/$KAFKA_CLUSTER not found: run 'make strimzi'"

ap() { kk -n "$E2E_NAMESPACE" get analyticspipeline "$E2E_PIPELINE" "$@"; }
field() { ap -o jsonpath="{$1}" 2>/dev/null || true; }
show() {
  kk -n "$E2E_NAMESPACE" get analyticspipelines >&2 || true
  kk -n "$E2E_NAMESPACE" get deploy,pods >&2 || true
}
fail() {
  echo "----- pipeline status -----" >&2
  ap -o yaml 2>/dev/null | sed -n '/^status:/,$p' >&2 || true
  show
  kk -n "$E2E_NAMESPACE" get events --sort-by=.lastTimestamp 2>/dev/null | tail -n 15 >&2 || true
  die "e2e-kind FAILED: $*"
}
cleanup() {
  if [[ "${E2E_KEEP:-0}" != 1 ]]; then
    kk -n "$E2E_NAMESPACE" delete analyticspipeline "$E2E_PIPELINE" --ignore-not-found --wait=true --timeout=120s >&2 || true
  fi
}
trap cleanup EXIT

kk create namespace "$E2E_NAMESPACE" --dry-run=client -o yaml | kk apply -f - >&2
log "applying pipeline $E2E_NAMESPACE/$E2E_PIPELINE (Kafka $KIND_KAFKA_BOOTSTRAP)"
kk apply --server-side -f - >&2 <<YAML
apiVersion: analytics.shopstream.dev/v1alpha1
kind: AnalyticsPipeline
metadata:
  name: $E2E_PIPELINE
  namespace: $E2E_NAMESPACE
spec:
  kafka:
    bootstrapServers: $KIND_KAFKA_BOOTSTRAP
  topics:
    input:
      partitions: 3
      replicationFactor: 1
  generator:
    enabled: true
    eventsPerSecond: 20
  processor:
    replicas: 1
  deletionPolicy: Delete
YAML

# 1. Running
start=$SECONDS
until [[ "$(field .status.phase)" == Running ]]; do
  (( SECONDS - start < E2E_TIMEOUT )) || fail "phase is '$(field .status.phase)' after ${E2E_TIMEOUT}s, expected Running"
  sleep 5
done
log "1/3 phase Running after $((SECONDS - start))s"

# 2. events/s > 0 (needs two status observations a status interval apart)
start=$SECONDS
until awk -v r="$(field .status.processor.inputEventsPerSecond)" 'BEGIN { exit !(r + 0 > 0) }'; do
  (( SECONDS - start < E2E_TIMEOUT )) || fail "inputEventsPerSecond is '$(field .status.processor.inputEventsPerSecond)' after ${E2E_TIMEOUT}s, expected > 0"
  sleep 5
done
log "2/3 throughput: $(field .status.processor.inputEventsPerSecond) events/s"

# 3. lag bounded
max=0
for ((i = 1; i <= E2E_SAMPLES; i++)); do
  lag="$(field .status.processor.totalLag)"
  phase="$(field .status.phase)"
  [[ "$lag" =~ ^[0-9]+$ ]] || fail "sample $i: totalLag is '$lag', expected a number"
  [[ "$phase" == Running ]] || fail "sample $i: phase left Running ($phase)"
  (( lag <= E2E_MAX_LAG )) || fail "sample $i: lag $lag records exceeds the bound $E2E_MAX_LAG"
  if (( lag > max )); then max=$lag; fi
  log "   sample $i/$E2E_SAMPLES: lag $lag, $(field .status.processor.inputEventsPerSecond) events/s"
  if (( i < E2E_SAMPLES )); then sleep "$E2E_SAMPLE_INTERVAL"; fi
done
log "3/3 lag bounded: at most $max records over $((E2E_SAMPLES * E2E_SAMPLE_INTERVAL))s (bound $E2E_MAX_LAG)"
show
log "e2e-kind PASSED"
