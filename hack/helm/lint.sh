#!/usr/bin/env bash
# `make helm-lint`: helm lint --strict and helm template of the chart with its
# default values and with every optional part switched on, cluster-wide and
# namespaced. Rendering only: nothing is sent to a cluster. (The Rust test
# operator/tests/chart_render.rs runs the same checks inside `make test`, and
# server-side dry-runs the result against the real API server.)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

HELM="${SHOPSTREAM_HELM:-$HELM_BIN}"
[[ -x "$HELM" ]] || die "helm not found at $HELM: run hack/helm/build.sh (make helm-lint does)"
CHART="$REPO_ROOT/helm/shopstream-operator"

variants=(
  ""
  "--set rbac.clusterWide=false"
  "--set rbac.clusterWide=false --set watchNamespace=apps --set replicaCount=2 --set metrics.serviceMonitor.enabled=true --set podDisruptionBudget.enabled=true --set grafanaDashboard.enabled=true"
  "--set leaderElection.enabled=false --set metrics.service.enabled=false --set serviceAccount.create=false --set serviceAccount.name=existing"
)
for v in "${variants[@]}"; do
  # shellcheck disable=SC2086 # word splitting of the --set flags is intended
  "$HELM" lint --strict "$CHART" $v >&2 || die "helm lint ${v:-(default values)} failed"
  # shellcheck disable=SC2086
  "$HELM" template shopstream-operator "$CHART" --namespace shopstream-system $v >/dev/null \
    || die "helm template ${v:-(default values)} failed"
  log "helm lint + template OK: ${v:-default values}"
done
