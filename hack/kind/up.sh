#!/usr/bin/env bash
# `make kind-up`: creates the kind cluster from kind-config.yaml (one
# control-plane and one worker node) unless it exists. Idempotent.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

need_docker
require_tools kind kubectl
if kind_cluster_exists; then
  log "kind cluster '$KIND_CLUSTER' already exists"
else
  log "creating kind cluster '$KIND_CLUSTER' from $KIND_CONFIG"
  "$KIND" create cluster --name "$KIND_CLUSTER" --config "$KIND_CONFIG" --wait 180s \
    || die "kind create cluster failed (see the output above; 'kind delete cluster --name $KIND_CLUSTER' cleans up)"
fi
kk wait --for=condition=Ready nodes --all --timeout=180s >&2 \
  || die "the kind nodes did not become Ready within 180s"
kk get nodes -o wide >&2
log "kubectl context: $KIND_CONTEXT"
