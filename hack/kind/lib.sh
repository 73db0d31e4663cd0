#!/usr/bin/env bash
# Shared settings of the kind + Strimzi path (make tools, kind-up, strimzi,
# images, kind-load, deploy, e2e-kind, kind-down). Sourced after hack/lib.sh.
# This path needs Docker (kind runs its nodes as containers); the Docker-free
# path is `make demo` / `make test` on the local environment.
# shellcheck disable=SC2034 # the variables are used by the scripts that source this

# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"
# shellcheck source=../strimzi/versions.sh
source "$REPO_ROOT/hack/strimzi/versions.sh"

KIND_VERSION="${KIND_VERSION:-0.33.0}"
KIND_CLUSTER="${KIND_CLUSTER:-shopstream}"
KIND_CONTEXT="kind-$KIND_CLUSTER"
KIND_CONFIG="${KIND_CONFIG:-$REPO_ROOT/kind-config.yaml}"
# kind installed by `make tools` (go install) when none is on PATH.
KIND_CACHE_BIN="$CACHE_DIR/kind-$KIND_VERSION/bin/kind"

# Images: shopstream/{operator,processor,generator}:<workspace version>.
IMAGE_PREFIX="${IMAGE_PREFIX:-shopstream}"
IMAGE_COMPONENTS=(operator processor generator serving)
workspace_version() {
  sed -n '/^\[workspace\.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' "$REPO_ROOT/Cargo.toml" | head -n1
}
IMAGE_TAG="${IMAGE_TAG:-$(workspace_version)}"
[[ -n "$IMAGE_TAG" ]] || die "cannot read [workspace.package] version from $REPO_ROOT/Cargo.toml"

# The operator's Helm release.
RELEASE_NAME="${RELEASE_NAME:-shopstream-operator}"
RELEASE_NAMESPACE="${RELEASE_NAMESPACE:-shopstream-system}"
CHART_DIR="$REPO_ROOT/helm/shopstream-operator"

# Strimzi's operator chart. Strimzi publishes it as an OCI artifact on
# quay.io (and as a .tgz on its GitHub releases); neither is a package
# registry every machine reaches. Override STRIMZI_CHART with a local .tgz or
# a mirror, e.g. STRIMZI_CHART=/path/strimzi-kafka-operator-helm-3-chart-1.2.0.tgz
STRIMZI_CHART="${STRIMZI_CHART:-oci://quay.io/strimzi-helm/strimzi-kafka-operator}"
STRIMZI_CHART_VERSION="${STRIMZI_CHART_VERSION:-$STRIMZI_VERSION}"
STRIMZI_NAMESPACE="${STRIMZI_NAMESPACE:-strimzi}"
KAFKA_NAMESPACE="${KAFKA_NAMESPACE:-kafka}"
KAFKA_CLUSTER="${KAFKA_CLUSTER:-my-cluster}"
# In-cluster bootstrap address of examples/kafka.yaml's plain listener.
KIND_KAFKA_BOOTSTRAP="$KAFKA_CLUSTER-kafka-bootstrap.$KAFKA_NAMESPACE:9092"

need_docker() {
  command -v docker >/dev/null \
    || die "docker not found: the kind path runs Kubernetes nodes as Docker containers. Without Docker use 'make demo' (local processes) or 'make test'."
  docker info >/dev/null 2>&1 \
    || die "docker is installed but the daemon does not answer ('docker info' fails): start Docker, or use 'make demo' without it."
}

# require_tools kind|helm|kubectl...: sets $KIND, $HELM, $KUBECTL to the tool
# on PATH, else the one this repository builds; dies naming how to get it.
require_tools() {
  local tool
  for tool in "$@"; do
    case "$tool" in
      kind)
        if command -v kind >/dev/null; then KIND="$(command -v kind)"
        elif [[ -x "$KIND_CACHE_BIN" ]]; then KIND="$KIND_CACHE_BIN"
        else die "kind not found on PATH nor at $KIND_CACHE_BIN: run 'make tools'"
        fi ;;
      helm)
        if command -v helm >/dev/null; then HELM="$(command -v helm)"
        elif [[ -x "$HELM_BIN" ]]; then HELM="$HELM_BIN"
        else die "helm not found on PATH nor at $HELM_BIN: run 'make tools'"
        fi ;;
      kubectl)
        if command -v kubectl >/dev/null; then KUBECTL="$(command -v kubectl)"
        elif [[ -x "$KUBECTL_BIN" ]]; then KUBECTL="$KUBECTL_BIN"
        else die "kubectl not found on PATH nor at $KUBECTL_BIN: install kubectl, or run 'make env-up' once to build it"
        fi ;;
      *) die "require_tools: unknown tool $tool" ;;
    esac
  done
}

# Every kubectl/helm call of this path names the kind cluster's context,
# never whatever the user's current context is.
kk() { "$KUBECTL" --context "$KIND_CONTEXT" "$@"; }
hh() { "$HELM" --kube-context "$KIND_CONTEXT" "$@"; }

kind_cluster_exists() {
  "$KIND" get clusters 2>/dev/null | grep -qx "$KIND_CLUSTER"
}

# need_cluster: Docker answers and the kind cluster exists (needs $KIND).
need_cluster() {
  need_docker
  kind_cluster_exists || die "kind cluster '$KIND_CLUSTER' does not exist: run 'make kind-up'"
}
