#!/usr/bin/env bash
# `make kind-load`: copies the images `make images` built into every node of
# the kind cluster, so pods start them without a registry (the chart and the
# operator use imagePullPolicy IfNotPresent).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

require_tools kind
need_cluster
for component in "${IMAGE_COMPONENTS[@]}"; do
  image="$IMAGE_PREFIX/$component:$IMAGE_TAG"
  docker image inspect "$image" >/dev/null 2>&1 || die "image $image not found locally: run 'make images' first"
  log "loading $image into kind cluster '$KIND_CLUSTER'"
  "$KIND" load docker-image "$image" --name "$KIND_CLUSTER" || die "kind load of $image failed"
done
