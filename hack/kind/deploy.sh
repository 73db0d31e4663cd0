#!/usr/bin/env bash
# `make deploy`: installs (or upgrades) the operator's Helm chart into the
# kind cluster with the images `make images && make kind-load` put there,
# then waits for the operator to be ready. Extra helm flags: HELM_ARGS, e.g.
#   make deploy HELM_ARGS="--set metrics.serviceMonitor.enabled=true"
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

require_tools kind kubectl helm
need_cluster

# Helm installs crds/ on first install only: apply the CRD so an upgrade
# also brings its schema up to date.
kk apply --server-side --force-conflicts -f "$CHART_DIR/crds/analyticspipelines.yaml" >&2 \
  || die "applying the AnalyticsPipeline CRD failed"

log "helm upgrade --install $RELEASE_NAME into $RELEASE_NAMESPACE (images $IMAGE_PREFIX/*:$IMAGE_TAG)"
# shellcheck disable=SC2086 # HELM_ARGS is a list of flags
hh upgrade --install "$RELEASE_NAME" "$CHART_DIR" \
  --namespace "$RELEASE_NAMESPACE" --create-namespace \
  --set image.repository="$IMAGE_PREFIX/operator" --set image.tag="$IMAGE_TAG" \
  --set workloadImages.generator.repository="$IMAGE_PREFIX/generator" --set workloadImages.generator.tag="$IMAGE_TAG" \
  --set workloadImages.processor.repository="$IMAGE_PREFIX/processor" --set workloadImages.processor.tag="$IMAGE_TAG" \
  --wait --timeout 3m ${HELM_ARGS:-} >&2 || {
    kk -n "$RELEASE_NAMESPACE" get pods -o wide >&2 || true
    kk -n "$RELEASE_NAMESPACE" logs deploy/"$RELEASE_NAME" --tail=30 >&2 || true
    die "helm install of the operator failed (images loaded? 'make images kind-load')"
  }
kk -n "$RELEASE_NAMESPACE" rollout status deploy/"$RELEASE_NAME" --timeout=120s >&2
log "operator running: kubectl --context $KIND_CONTEXT -n $RELEASE_NAMESPACE logs deploy/$RELEASE_NAME"
