#!/usr/bin/env bash
# Applies the generated Strimzi CRDs (Kafka, KafkaNodePool, KafkaTopic, KafkaUser) to the
# local API server in $KUBECONFIG_PATH and waits until they are Established.
# Server-side apply: the Kafka CRD (~330 KB) is too big for the
# last-applied-configuration annotation of client-side apply.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/versions.sh"

CRD_DIR="$CACHE_DIR/strimzi-$STRIMZI_VERSION/crds"
"$HERE/build.sh" >/dev/null
[[ -s "$KUBECONFIG_PATH" ]] || die "Strimzi CRDs: no kubeconfig at $KUBECONFIG_PATH (is the API server up?)"

# Prefer the kubectl built alongside the API server (lib.sh), else the one on PATH.
KUBECTL="kubectl"
[[ -n "${KUBECTL_BIN:-}" && -x "${KUBECTL_BIN:-}" ]] && KUBECTL="$KUBECTL_BIN"
command -v "$KUBECTL" >/dev/null || die "Strimzi CRDs: no kubectl (expected ${KUBECTL_BIN:-$CACHE_DIR/kube-*/bin/kubectl} or kubectl on PATH)"
kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
log "applying Strimzi $STRIMZI_VERSION CRDs from $CRD_DIR"
kc apply --server-side --force-conflicts --field-manager=shopstream-hack -f "$CRD_DIR" >&2 \
  || die "Strimzi CRDs: kubectl apply failed against $(kc config view --minify -o jsonpath='{.clusters[0].cluster.server}' 2>/dev/null)"
# Polled rather than `kubectl wait`: right after creation a CRD can have no
# status yet, and `kubectl wait` then fails at once ("accessor error")
# instead of waiting.
established() {
  local crd status
  for crd in kafkas.kafka.strimzi.io kafkanodepools.kafka.strimzi.io kafkatopics.kafka.strimzi.io kafkausers.kafka.strimzi.io; do
    status="$(kc get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" || return 1
    [[ "$status" == "True" ]] || return 1
  done
}
wait_for "Strimzi CRDs (Established)" "$LOG_DIR/kube-apiserver.log" 60 established
log "Strimzi CRDs established (kafka.strimzi.io/v1)"
