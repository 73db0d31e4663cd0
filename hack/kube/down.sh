#!/usr/bin/env bash
# Stops the local kube-apiserver and etcd started by hack/kube/up.sh (SIGTERM,
# then SIGKILL after a grace period) and deletes etcd's data. Logs, the PKI
# and the kubeconfig are kept, so the next up.sh reuses the same CA and token.
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

# The API server first, so it does not spend its shutdown retrying etcd.
stop kube-apiserver "$KUBE_APISERVER_PIDFILE" "$KUBE_APISERVER_BIN"
stop etcd "$ETCD_PIDFILE" "$ETCD_BIN"
rm -rf "$ETCD_DATA_DIR"
log "down; etcd data removed, logs kept in $LOG_DIR"
