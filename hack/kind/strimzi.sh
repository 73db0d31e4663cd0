#!/usr/bin/env bash
# `make strimzi`: installs the Strimzi cluster operator $STRIMZI_CHART_VERSION
# from its Helm chart into namespace $STRIMZI_NAMESPACE, watching
# $KAFKA_NAMESPACE, then applies examples/kafka.yaml (single-node KRaft Kafka
# with a KafkaNodePool and the topic operator) and waits until it is Ready.
#
# Where the chart comes from: Strimzi publishes it as an OCI artifact
# (oci://quay.io/strimzi-helm/strimzi-kafka-operator) and as a .tgz attached to
# its GitHub releases. Machines that cannot reach quay.io must point
# STRIMZI_CHART at a downloaded .tgz or a mirror:
#   make strimzi STRIMZI_CHART=/path/to/strimzi-kafka-operator-helm-3-chart-1.2.0.tgz
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

require_tools kind kubectl helm
need_cluster

chart_args=("$STRIMZI_CHART")
# A local .tgz or directory has its own version; --version only for remote charts.
[[ -e "$STRIMZI_CHART" ]] || chart_args+=(--version "$STRIMZI_CHART_VERSION")

kk create namespace "$KAFKA_NAMESPACE" --dry-run=client -o yaml | kk apply -f - >&2
log "installing the Strimzi operator $STRIMZI_CHART_VERSION from $STRIMZI_CHART"
if ! hh upgrade --install strimzi-cluster-operator "${chart_args[@]}" \
      --namespace "$STRIMZI_NAMESPACE" --create-namespace \
      --set "watchNamespaces={$KAFKA_NAMESPACE}" \
      --wait --timeout 5m >&2; then
  die "installing Strimzi's Helm chart from $STRIMZI_CHART failed. If the chart could not be pulled (quay.io unreachable, proxy, air gap), download strimzi-kafka-operator-helm-3-chart-$STRIMZI_CHART_VERSION.tgz from Strimzi's GitHub release $STRIMZI_CHART_VERSION on a machine that can, and run: make strimzi STRIMZI_CHART=/path/to/that.tgz"
fi

log "applying examples/kafka.yaml ($KAFKA_NAMESPACE/$KAFKA_CLUSTER)"
kk apply --server-side -f "$REPO_ROOT/examples/kafka.yaml" >&2 || die "applying examples/kafka.yaml failed"
log "waiting for Kafka $KAFKA_CLUSTER to be Ready (pulling Kafka's image takes a few minutes the first time)"
if ! kk -n "$KAFKA_NAMESPACE" wait "kafka/$KAFKA_CLUSTER" --for=condition=Ready --timeout=900s >&2; then
  kk -n "$KAFKA_NAMESPACE" get kafka,kafkanodepool,pods >&2 || true
  kk -n "$KAFKA_NAMESPACE" describe "kafka/$KAFKA_CLUSTER" | tail -n 30 >&2 || true
  die "Kafka $KAFKA_CLUSTER did not become Ready within 15 minutes; Strimzi's log: kubectl --context $KIND_CONTEXT -n $STRIMZI_NAMESPACE logs deploy/strimzi-cluster-operator"
fi
kk -n "$KAFKA_NAMESPACE" wait deployment/"$KAFKA_CLUSTER"-entity-operator --for=condition=Available --timeout=300s >&2 \
  || die "the entity (topic) operator of $KAFKA_CLUSTER did not become Available"
log "Kafka ready: bootstrap $KIND_KAFKA_BOOTSTRAP"
