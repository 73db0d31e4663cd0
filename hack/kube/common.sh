#!/usr/bin/env bash
# Paths and process helpers shared by hack/kube/{up,down}.sh. Sourced, not run.
# shellcheck source=../lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

KUBE_HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ETCD_BIN="$CACHE_DIR/etcd-$ETCD_VERSION/bin/etcd"
KUBE_APISERVER_BIN="$CACHE_DIR/kube-$KUBE_VERSION/bin/kube-apiserver"
KUBECTL_BIN="$CACHE_DIR/kube-$KUBE_VERSION/bin/kubectl"

ETCD_DATA_DIR="$RUN_DIR/etcd"
PKI_DIR="$RUN_DIR/pki"
ETCD_LOG="$LOG_DIR/etcd.log"
KUBE_APISERVER_LOG="$LOG_DIR/kube-apiserver.log"
ETCD_PIDFILE="$RUN_DIR/etcd.pid"
KUBE_APISERVER_PIDFILE="$RUN_DIR/kube-apiserver.pid"
ETCD_URL="http://127.0.0.1:$ETCD_CLIENT_PORT"
KUBE_APISERVER_URL="https://127.0.0.1:$KUBE_APISERVER_PORT"

# pid_of PIDFILE BINARY: prints the pid recorded in PIDFILE if that process is
# alive and still runs BINARY (guards against a stale file whose pid has been
# reused by an unrelated process); fails otherwise.
pid_of() {
  local pidfile="$1" bin="$2" pid argv0
  [[ -s "$pidfile" ]] || return 1
  pid="$(<"$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  alive "$pid" || return 1
  argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)" || return 1
  [[ "$argv0" == "$bin" ]] || return 1
  echo "$pid"
}

# alive PID: true if PID exists and is not a zombie (an exited process whose
# parent has not reaped it yet still answers kill -0).
alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z ]]
}

# port_busy PORT: true if something listens on 127.0.0.1:PORT.
port_busy() {
  (exec 9<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# port_owner PORT: best-effort description of who listens on PORT.
port_owner() {
  ss -Hltnp "sport = :$1" 2>/dev/null | sed -n 's/.*users:(\(.*\))/\1/p' | head -n 1
}

kubectl_admin() {
  "$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_PATH" --request-timeout=10s "$@"
}
