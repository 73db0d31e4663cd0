#!/usr/bin/env bash
# `make images`: builds shopstream/{operator,processor,generator,serving}:<workspace
# version> from docker/Dockerfile (one build stage, four runtime targets).
# Needs Docker with BuildKit (the default since Docker 23).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

need_docker
for component in "${IMAGE_COMPONENTS[@]}"; do
  image="$IMAGE_PREFIX/$component:$IMAGE_TAG"
  log "building $image"
  DOCKER_BUILDKIT=1 docker build \
    --file "$REPO_ROOT/docker/Dockerfile" \
    --target "$component" \
    --tag "$image" \
    "$REPO_ROOT" || die "docker build of $image failed"
done
log "built: $(printf "$IMAGE_PREFIX/%s:$IMAGE_TAG " "${IMAGE_COMPONENTS[@]}")"
