#!/usr/bin/env bash
# Stops the local Kafka: SIGTERM, up to 20s for a clean shutdown, then SIGKILL.
# Deletes the data dir (the next up.sh formats a fresh cluster); keeps the logs.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/env.sh"

if pid="$(kafka_pid)"; then
  log "stopping Kafka (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 40); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "Kafka (pid $pid) still running after 20s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  kill -0 "$pid" 2>/dev/null && die "Kafka (pid $pid) would not die"
  log "Kafka stopped"
else
  log "Kafka not running"
fi
rm -f "$KAFKA_PID_FILE"
rm -rf "$KAFKA_DATA" "$KAFKA_CONFIG"
log "removed $KAFKA_DATA (logs kept in $KAFKA_LOG)"
