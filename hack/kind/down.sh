#!/usr/bin/env bash
# `make kind-down`: deletes the kind cluster (and everything in it).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

need_docker
require_tools kind
if kind_cluster_exists; then
  "$KIND" delete cluster --name "$KIND_CLUSTER"
else
  log "kind cluster '$KIND_CLUSTER' does not exist; nothing to do"
fi
