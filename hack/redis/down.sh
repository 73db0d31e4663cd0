#!/usr/bin/env bash
# Stops the local Redis instances (hack/redis/README.md).
# Usage: hack/redis/down.sh [--keep-data] [--kill] [main|auth]...   (default: both)
#   (default)     SIGTERM: Redis fsyncs its AOF and exits; SIGKILL after
#                 $REDIS_STOP_TIMEOUT s. Then deletes the data dir, so the
#                 next up.sh starts empty. Keeps the logs and the password.
#   --keep-data   keep the data dir: the next up.sh loads the AOF (a restart)
#   --kill        SIGKILL at once, as a crash would (implies nothing about data)
# Never signals a process it cannot prove is the instance's own redis-server.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/env.sh"

keep_data=0
signal=TERM
instances=()
for arg in "$@"; do
  case "$arg" in
    --keep-data) keep_data=1 ;;
    --kill) signal=KILL ;;
    -*) die "unknown option: $arg (usage: $0 [--keep-data] [--kill] [main|auth]...)" ;;
    *) redis_select "$arg"; instances+=("$arg") ;;
  esac
done
(( ${#instances[@]} )) || instances=("${REDIS_INSTANCES[@]}")

stop_instance() {
  redis_select "$1"
  if redis_process_alive; then
    local pid
    pid="$(<"$R_PID_FILE")"
    log "stopping $R_NAME (pid $pid, SIG$signal)"
    kill "-$signal" "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + REDIS_STOP_TIMEOUT))
    while redis_process_alive && (( SECONDS < deadline )); do sleep 0.1; done
    if redis_process_alive; then
      log "$R_NAME (pid $pid) still running after ${REDIS_STOP_TIMEOUT}s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in {1..50}; do redis_process_alive || break; sleep 0.1; done
    fi
    redis_process_alive && die "$R_NAME (pid $pid) would not die"
    echo "===== $(date -Is) stopped (SIG$signal)" >>"$R_LOG"
    log "$R_NAME stopped"
  elif [[ -s "$R_PID_FILE" ]] && redis_port_open; then
    # The pid file names no redis-server, yet the port answers: someone
    # else's server (or ours from another run dir). Leave it alone.
    log "$R_NAME: $R_PID_FILE is stale and port $R_PORT is served by another process; not touching it"
  else
    log "$R_NAME not running"
  fi
  rm -f "$R_PID_FILE"
  if (( ! keep_data )); then
    rm -rf "$R_DATA" "$R_CONF"
    log "removed $R_DATA (log kept in $R_LOG)"
  fi
}

for instance in "${instances[@]}"; do stop_instance "$instance"; done
