#!/usr/bin/env bash
# `make tools`: installs what the kind path needs when it is missing:
#   kind  sigs.k8s.io/kind v$KIND_VERSION, `go install`ed into $CACHE_DIR/kind-$KIND_VERSION/bin
#   helm  helm.sh/helm/v3, built from its module by hack/helm/build.sh
# Both come from the Go module proxy: no prebuilt download. Docker itself is
# not installed here (see README).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

if command -v kind >/dev/null; then
  log "kind: $(command -v kind) ($(kind version 2>/dev/null || echo '?'))"
elif [[ -x "$KIND_CACHE_BIN" ]]; then
  log "kind: $KIND_CACHE_BIN"
else
  command -v go >/dev/null || die "go not found on PATH: it is needed to install kind v$KIND_VERSION"
  mkdir -p "$(dirname "$KIND_CACHE_BIN")"
  exec 9>"$CACHE_DIR/.kind-build.lock"
  flock 9
  if [[ ! -x "$KIND_CACHE_BIN" ]]; then
    tmpdir="$(mktemp -d "$CACHE_DIR/kind-$KIND_VERSION/bin.tmp.XXXXXX")"
    trap 'rm -rf "$tmpdir"' EXIT
    log "installing kind v$KIND_VERSION with go install"
    timed "go install sigs.k8s.io/kind@v$KIND_VERSION" \
      env GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$tmpdir" \
      go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kind@v$KIND_VERSION"
    mv -f "$tmpdir/kind" "$KIND_CACHE_BIN"
  fi
  log "kind: $KIND_CACHE_BIN (add $(dirname "$KIND_CACHE_BIN") to PATH to use it directly)"
fi

if command -v helm >/dev/null; then
  log "helm: $(command -v helm) ($(helm version --short 2>/dev/null || echo '?'))"
else
  "$REPO_ROOT/hack/helm/build.sh"
  log "helm: $HELM_BIN (add $(dirname "$HELM_BIN") to PATH to use it directly)"
fi

command -v docker >/dev/null || log "note: docker is not on PATH; kind-up, images and kind-load need it"
