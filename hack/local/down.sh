#!/usr/bin/env bash
# Stops what hack/local/up.sh and hack/demo.sh started on top of the API
# server: the demo's local runner (and the processes it runs) and operator,
# then kwok, kube-scheduler and kube-controller-manager. Leaves etcd,
# kube-apiserver and Kafka to hack/env-down.sh, which calls this first.
#   --apps-only   stop only the demo's runner and operator (hack/test.sh does
#                 this so a demo left running cannot reconcile the tests' objects)
set -uo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

apps_only=0
case "${1:-}" in
  --apps-only) apps_only=1 ;;
  "") ;;
  *) die "unknown argument: $1 (usage: $0 [--apps-only])" ;;
esac

# The runner stops its processes on SIGTERM; should it have died or hung,
# its process group (it runs in its own session, see start_detached) still
# names the workload processes it started: end them too.
runner_pgid=""
if pid="$(pid_of "$LOCAL_RUNNER_PIDFILE" "$LOCAL_RUNNER_BIN")"; then
  runner_pgid="$(ps -o pgid= -p "$pid" | tr -d ' ')"
fi
GRACE_SECONDS=40 stop "local runner" "$LOCAL_RUNNER_PIDFILE" "$LOCAL_RUNNER_BIN"
# live_in_group PGID: true if a (non-zombie) process of that group is left.
live_in_group() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found=1} END {exit !found}'; }
if [[ -n "$runner_pgid" && "$runner_pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ]] \
   && live_in_group "$runner_pgid"; then
  log "ending leftover processes of the local runner (process group $runner_pgid)"
  kill -TERM -- "-$runner_pgid" 2>/dev/null || true
  sleep 2
  kill -KILL -- "-$runner_pgid" 2>/dev/null || true
fi
stop "operator" "$OPERATOR_PIDFILE" "$OPERATOR_BIN"
(( apps_only )) && exit 0

stop kwok "$KWOK_PIDFILE" "$KWOK_BIN"
stop kube-scheduler "$KUBE_SCHEDULER_PIDFILE" "$KUBE_SCHEDULER_BIN"
stop kube-controller-manager "$KUBE_CONTROLLER_MANAGER_PIDFILE" "$KUBE_CONTROLLER_MANAGER_BIN"
log "local cluster components down (logs kept in $LOG_DIR)"
