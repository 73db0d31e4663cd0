#!/usr/bin/env bash
# Stops the local kube-apiserver and etcd started by hack/kube/up.sh (SIGTERM,
# then SIGKILL after a grace period) and deletes etcd's data. Logs, the PKI
# and the kubeconfig are kept, so the next up.sh reuses the same CA and token.
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

GRACE_SECONDS="${GRACE_SECONDS:-20}"

# stop NAME PIDFILE BIN
stop() {
  local name="$1" pidfile="$2" bin="$3" pid
  if pid="$(pid_of "$pidfile" "$bin")"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + GRACE_SECONDS))
    while alive "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
    if alive "$pid"; then
      log "$name did not exit within ${GRACE_SECONDS}s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in {1..50}; do alive "$pid" || break; sleep 0.1; done
    fi
  else
    log "$name not running"
  fi
  rm -f "$pidfile"
}

# The API server first, so it does not spend its shutdown retrying etcd.
stop kube-apiserver "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_BIN"
stop etcd "$ETCD_PIDFILE" "$ETCD_BIN"
rm -rf "$ETCD_DATA_DIR"
log "down; etcd data removed, logs kept in $LOG_DIR"
