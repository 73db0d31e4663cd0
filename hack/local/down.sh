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
# The binaries are matched by name, not path (see pid_of).
runner_name="${LOCAL_RUNNER_BIN##*/}"
operator_name="${OPERATOR_BIN##*/}"

# strays NAME: pids of NAME processes pointed at this environment's API server
# (KUBECONFIG in their environment) that no pid file names any more, e.g. a
# demo started twice, or a pid file removed by hand. Left running, a stray
# runner starts real processors for every StatefulSet it sees.
strays() {
  local name="$1" pid argv0
  for pid in $(pgrep -x "$name" 2>/dev/null); do
    argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)" || continue
    [[ "${argv0##*/}" == "$name" ]] || continue
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "KUBECONFIG=$KUBECONFIG_PATH" || continue
    echo "$pid"
  done
}

runner_pgid=""
if pid="$(pid_of "$LOCAL_RUNNER_PIDFILE" "$runner_name")"; then
  runner_pgid="$(ps -o pgid= -p "$pid" | tr -d ' ')"
fi
GRACE_SECONDS=40 stop "local runner" "$LOCAL_RUNNER_PIDFILE" "$runner_name"
# live_in_group PGID: true if a (non-zombie) process of that group is left.
live_in_group() { ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ {found=1} END {exit !found}'; }
if [[ -n "$runner_pgid" && "$runner_pgid" != "$(ps -o pgid= -p $$ | tr -d ' ')" ]] \
   && live_in_group "$runner_pgid"; then
  log "ending leftover processes of the local runner (process group $runner_pgid)"
  kill -TERM -- "-$runner_pgid" 2>/dev/null || true
  sleep 2
  kill -KILL -- "-$runner_pgid" 2>/dev/null || true
fi
stop "operator" "$OPERATOR_PIDFILE" "$operator_name"
for name in "$runner_name" "$operator_name"; do
  for pid in $(strays "$name"); do
    log "stopping a stray $name (pid $pid) of this environment, named by no pid file"
    pgid="$(ps -o pgid= -p "$pid" | tr -d ' ')"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in {1..100}; do alive "$pid" || break; sleep 0.2; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    # The runner's workload processes share its process group.
    if [[ -n "$pgid" && "$pgid" == "$pid" ]] && live_in_group "$pgid"; then
      kill -TERM -- "-$pgid" 2>/dev/null || true
      sleep 2
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
  done
done
(( apps_only )) && exit 0

stop kwok "$KWOK_PIDFILE" "$KWOK_BIN"
stop kube-scheduler "$KUBE_SCHEDULER_PIDFILE" "$KUBE_SCHEDULER_BIN"
stop kube-controller-manager "$KUBE_CONTROLLER_MANAGER_PIDFILE" "$KUBE_CONTROLLER_MANAGER_BIN"
log "local cluster components down (logs kept in $LOG_DIR)"
