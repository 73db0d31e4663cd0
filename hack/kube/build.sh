#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kubectl from Go modules with the local Go
# toolchain (no Docker, no prebuilt downloads) into the version-keyed cache:
#   $CACHE_DIR/etcd-$ETCD_VERSION/bin/etcd
#   $CACHE_DIR/kube-$KUBE_VERSION/bin/{kube-apiserver,kubectl}
# With --local-stack (the Docker-free demo stack, hack/local/up.sh) also:
#   $CACHE_DIR/kube-$KUBE_VERSION/bin/{kube-controller-manager,kube-scheduler}
#   $CACHE_DIR/kwok-$KWOK_VERSION/bin/kwok          (sigs.k8s.io/kwok, hack/kwok/go.mod)
#   $CACHE_DIR/kwok-$KWOK_VERSION/stages.yaml       (kwok's default node/pod Stages)
# Idempotent: a binary already in the cache is not rebuilt (delete it, or the
# whole version directory, to force a rebuild).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

command -v go >/dev/null || die "go not found on PATH (Go >= 1.26 is needed to build the Kubernetes components)"

# The build modules must never pick up a go.work from a parent directory, nor
# silently fetch another toolchain. GOCACHE/GOMODCACHE keep Go's defaults.
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0

KUBE_BIN="$CACHE_DIR/kube-$KUBE_VERSION/bin"
KWOK_DIR="$CACHE_DIR/kwok-$KWOK_VERSION"
ETCD_BIN="$CACHE_DIR/etcd-$ETCD_VERSION/bin"

# go.mod must pin the version lib.sh asks for; otherwise the cache directory
# would be keyed by one version and hold another.
check_pin() {
  local modfile="$1" pattern="$2" what="$3"
  grep -Eq "$pattern" "$modfile" || die "$modfile does not pin $what; edit its versions (and the replace block) then run 'GOWORK=off go mod tidy' in $(dirname "$modfile")"
}

# go_build MODULE_DIR OUTPUT PACKAGE [extra ldflags]: builds into a temporary
# file next to OUTPUT and renames it, so an interrupted build leaves nothing
# that a later run would mistake for a finished binary.
go_build() {
  local moddir="$1" out="$2" pkg="$3" extra="${4:-}"
  mkdir -p "$(dirname "$out")"
  local tmp="$out.tmp.$$"
  (cd "$moddir" && go build -trimpath -ldflags="-s -w $extra" -o "$tmp" "$pkg") || { rm -f "$tmp"; return 1; }
  mv -f "$tmp" "$out"
}

local_stack=0
for arg in "$@"; do
  case "$arg" in
    --local-stack) local_stack=1 ;;
    *) die "unknown argument: $arg (usage: $0 [--local-stack])" ;;
  esac
done

built=()
skipped=()

# Serialize concurrent runs (e.g. hack/env-up.sh building in the background
# while someone runs up.sh): the second waits, then finds the binaries built.
mkdir -p "$CACHE_DIR"
if command -v flock >/dev/null; then
  exec 8>"$CACHE_DIR/.kube-build.lock"
  flock 8
fi

etcd_pkg=go.etcd.io/etcd/server/v3
check_pin "$HERE/etcd/go.mod" "^require go\.etcd\.io/etcd/server/v3 v${ETCD_VERSION//./\\.}\$" "etcd v$ETCD_VERSION"
check_pin "$HERE/apiserver/go.mod" "^require k8s\.io/kubernetes v${KUBE_VERSION//./\\.}\$" "k8s.io/kubernetes v$KUBE_VERSION"
(( local_stack )) && check_pin "$HERE/../kwok/go.mod" "^require sigs\.k8s\.io/kwok v${KWOK_VERSION//./\\.}\$" "sigs.k8s.io/kwok v$KWOK_VERSION"

# Version stamps as Kubernetes' own hack/lib/version.sh sets them, so that
# `kubectl version` and /version report the release instead of v0.0.0-master.
kube_major="${KUBE_VERSION%%.*}"
kube_minor="${KUBE_VERSION#*.}"; kube_minor="${kube_minor%%.*}"
kube_ldflags=""
for pkg in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
  kube_ldflags+=" -X $pkg.gitVersion=v$KUBE_VERSION -X $pkg.gitMajor=$kube_major -X $pkg.gitMinor=$kube_minor -X $pkg.gitTreeState=clean"
done

build() {
  local label="$1" out="$2" moddir="$3" pkg="$4" extra="${5:-}"
  if [[ -x "$out" ]]; then
    skipped+=("$label")
    return 0
  fi
  log "building $label (a cold build downloads modules and compiles for minutes)"
  timed "build $label" go_build "$moddir" "$out" "$pkg" "$extra"
  built+=("$label")
}

total_start=$SECONDS
build "etcd v$ETCD_VERSION"           "$ETCD_BIN/etcd"           "$HERE/etcd"      "$etcd_pkg"
build "kube-apiserver v$KUBE_VERSION" "$KUBE_BIN/kube-apiserver" "$HERE/apiserver" k8s.io/kubernetes/cmd/kube-apiserver "$kube_ldflags"
build "kubectl v$KUBE_VERSION"        "$KUBE_BIN/kubectl"        "$HERE/apiserver" k8s.io/kubernetes/cmd/kubectl        "$kube_ldflags"
if (( local_stack )); then
  build "kube-controller-manager v$KUBE_VERSION" "$KUBE_BIN/kube-controller-manager" "$HERE/apiserver" k8s.io/kubernetes/cmd/kube-controller-manager "$kube_ldflags"
  build "kube-scheduler v$KUBE_VERSION"          "$KUBE_BIN/kube-scheduler"          "$HERE/apiserver" k8s.io/kubernetes/cmd/kube-scheduler          "$kube_ldflags"
  build "kwok v$KWOK_VERSION" "$KWOK_DIR/bin/kwok" "$HERE/../kwok" sigs.k8s.io/kwok/cmd/kwok \
    "-X sigs.k8s.io/kwok/pkg/consts.Version=v$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=v$KUBE_VERSION"
  # The kwok binary has no built-in Stages (kwokctl writes them into its
  # config); take the defaults kwokctl uses from the pinned module's source:
  # node initialize + lease heartbeat, pod ready/complete/delete.
  if [[ ! -s "$KWOK_DIR/stages.yaml" ]]; then
    kwok_src="$(cd "$HERE/../kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)" || die "cannot locate the sigs.k8s.io/kwok module source"
    tmp="$KWOK_DIR/stages.yaml.tmp.$$"
    for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      [[ -s "$kwok_src/kustomize/stage/$f" ]] || { rm -f "$tmp"; die "kwok stage $f not found in $kwok_src"; }
      { echo "---"; cat "$kwok_src/kustomize/stage/$f"; } >>"$tmp"
    done
    mv -f "$tmp" "$KWOK_DIR/stages.yaml"
    built+=("kwok stages")
  fi
fi

(( ${#built[@]} ))   && log "built: ${built[*]} in $((SECONDS - total_start))s"
(( ${#skipped[@]} )) && log "already built (skipped): ${skipped[*]}"
log "binaries: $ETCD_BIN/etcd $KUBE_BIN/kube-apiserver $KUBE_BIN/kubectl"
(( local_stack )) && log "          $KUBE_BIN/kube-controller-manager $KUBE_BIN/kube-scheduler $KWOK_DIR/bin/kwok"
exit 0
