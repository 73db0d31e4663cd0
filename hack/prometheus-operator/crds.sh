#!/usr/bin/env bash
# The prometheus-operator CRDs the Helm chart's optional parts need
# (PrometheusRule, ServiceMonitor), taken from the prometheus-operator Go
# module of $PROMETHEUS_OPERATOR_VERSION (its example/prometheus-operator-crd/
# folder, the CRDs upstream releases ship) and cached in
#   $CACHE_DIR/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/crds/
# The module comes through the Go toolchain's own module download (it is
# never built). Idempotent: files already cached are kept.
#
#   crds.sh           fetches the CRDs if needed; prints the cache folder
#   crds.sh --apply   also applies them to the API server in $KUBECONFIG_PATH
#                     and waits until they are Established
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

MODULE=github.com/prometheus-operator/prometheus-operator
CRD_DIR="$CACHE_DIR/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/crds"
CRDS=(monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_servicemonitors.yaml)

apply=0
for arg in "$@"; do
  case "$arg" in
    --apply) apply=1 ;;
    *) die "unknown argument: $arg (usage: $0 [--apply])" ;;
  esac
done

cached() {
  local f
  for f in "${CRDS[@]}"; do [[ -s "$CRD_DIR/$f" ]] || return 1; done
}

if ! cached; then
  command -v go >/dev/null || die "prometheus-operator CRDs: go not found on PATH (the CRDs come from the $MODULE module)"
  export GOWORK=off GOTOOLCHAIN=local GOFLAGS=-mod=mod
  mkdir -p "$CACHE_DIR"
  if command -v flock >/dev/null; then
    exec 7>"$CACHE_DIR/.prometheus-operator-crds.lock"
    flock 7
  fi
  if ! cached; then
    log "downloading the $MODULE v$PROMETHEUS_OPERATOR_VERSION module for its CRDs"
    # Outside any module, so no go.mod is consulted or written. The module
    # cache holds the zip and its extracted tree ("Dir").
    dir="$(cd / && go mod download -json "$MODULE@v$PROMETHEUS_OPERATOR_VERSION" \
      | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
    [[ -d "$dir" ]] || die "prometheus-operator CRDs: 'go mod download $MODULE@v$PROMETHEUS_OPERATOR_VERSION' gave no module directory"
    tmp="$CRD_DIR.tmp.$$"
    trap 'rm -rf "$tmp"' EXIT
    mkdir -p "$tmp"
    for f in "${CRDS[@]}"; do
      src="$dir/example/prometheus-operator-crd/$f"
      [[ -s "$src" ]] || die "prometheus-operator CRDs: $src is missing or empty"
      cp "$src" "$tmp/$f"
    done
    rm -rf "$CRD_DIR"
    mkdir -p "$(dirname "$CRD_DIR")"
    mv "$tmp" "$CRD_DIR"
    log "prometheus-operator v$PROMETHEUS_OPERATOR_VERSION CRDs: $CRD_DIR"
  fi
fi

if (( apply )); then
  [[ -s "$KUBECONFIG_PATH" ]] || die "prometheus-operator CRDs: no kubeconfig at $KUBECONFIG_PATH (is the API server up?)"
  kc() { "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
  log "applying prometheus-operator v$PROMETHEUS_OPERATOR_VERSION CRDs from $CRD_DIR"
  for f in "${CRDS[@]}"; do
    kc apply --server-side --force-conflicts --field-manager=shopstream-hack -f "$CRD_DIR/$f" >&2 \
      || die "prometheus-operator CRDs: kubectl apply of $f failed"
  done
  established() {
    local crd status
    for crd in prometheusrules.monitoring.coreos.com servicemonitors.monitoring.coreos.com; do
      status="$(kc get crd "$crd" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" || return 1
      [[ "$status" == "True" ]] || return 1
    done
  }
  wait_for "prometheus-operator CRDs (Established)" "$LOG_DIR/kube-apiserver.log" 60 established
  log "prometheus-operator CRDs established (monitoring.coreos.com/v1)"
fi
echo "$CRD_DIR"
