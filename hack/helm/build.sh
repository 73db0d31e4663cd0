#!/usr/bin/env bash
# Builds the Helm CLI from its Go module (helm.sh/helm/v3, pinned in
# hack/helm/go.mod) with the local Go toolchain into the version-keyed cache:
#   $CACHE_DIR/helm-$HELM_VERSION/bin/helm     (= $HELM_BIN from hack/lib.sh)
# No prebuilt download, no Docker. Idempotent: a binary already in the cache is
# not rebuilt (delete it, or the version directory, to force a rebuild).
# Prints nothing on stdout; progress goes to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

if [[ -x "$HELM_BIN" ]]; then
  exit 0
fi

command -v go >/dev/null || die "go not found on PATH (Go >= 1.26 is needed to build helm $HELM_VERSION from its module)"
# Never pick up a go.work from a parent directory, nor fetch another toolchain.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0

# go.mod must pin the version lib.sh asks for: the cache directory is keyed by it.
grep -Eq "^require helm\.sh/helm/v3 v${HELM_VERSION//./\\.}\$" "$HERE/go.mod" \
  || die "$HERE/go.mod does not pin helm.sh/helm/v3 v$HELM_VERSION; edit it then run 'GOWORK=off go mod tidy' in $HERE"

# Serialize concurrent runs: the second waits, then finds the binary built.
mkdir -p "$CACHE_DIR"
if command -v flock >/dev/null; then
  exec 9>"$CACHE_DIR/.helm-build.lock"
  flock 9
  [[ -x "$HELM_BIN" ]] && exit 0
fi

# The same version stamps as Helm's own Makefile: `helm version` reports the
# release, and the Kubernetes version helm lint/template assume by default
# follows the client-go it is built with (client-go v0.N.x -> Kubernetes 1.N).
client_go="$(cd "$HERE" && go list -m -f '{{.Version}}' k8s.io/client-go)" \
  || die "cannot resolve k8s.io/client-go in $HERE/go.mod (run 'GOWORK=off go mod download' there)"
client_go="${client_go#v}"
k8s_major=$(( ${client_go%%.*} + 1 ))
k8s_minor="${client_go#*.}"; k8s_minor="${k8s_minor%%.*}"
ldflags="-s -w"
ldflags+=" -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$k8s_major"
ldflags+=" -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor"
ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$k8s_major"
ldflags+=" -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"

mkdir -p "$(dirname "$HELM_BIN")"
tmp="$HELM_BIN.tmp.$$"
trap 'rm -f "$tmp"' EXIT
log "building helm v$HELM_VERSION (a cold build downloads modules and compiles for a few minutes)"
timed "build helm v$HELM_VERSION" \
  bash -c 'cd "$1" && go build -trimpath -ldflags="$2" -o "$3" helm.sh/helm/v3/cmd/helm' _ "$HERE" "$ldflags" "$tmp"
mv -f "$tmp" "$HELM_BIN"
log "helm: $HELM_BIN"
