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
  # A bare name matches the program wherever it was built: the demo's
  # binaries live under whatever CARGO_TARGET_DIR the run that started them
  # had, which the run that stops them may not share.
  if [[ "$bin" == */* ]]; then
    [[ "$argv0" == "$bin" ]] || return 1
  else
    [[ "${argv0##*/}" == "$bin" ]] || return 1
  fi
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

# start_detached NAME PIDFILE LOG BIN ARGS...: starts BIN in its own session
# (so a Ctrl-C on the caller does not reach it), output to LOG, and records its
# exact pid (the inner shell execs BIN, keeping its pid).
start_detached() {
  local name="$1" pidfile="$2" logfile="$3"; shift 3
  [[ -f "$logfile" ]] && mv -f "$logfile" "$logfile.prev"
  rm -f "$pidfile"
  # fd 9 is hack/local/up.sh's lock: the daemon must not keep it.
  setsid bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$@" >"$logfile" 2>&1 </dev/null 3>&- 9>&- &
  local _
  for _ in {1..50}; do [[ -s "$pidfile" ]] && break; sleep 0.1; done
  [[ -s "$pidfile" ]] || die "$name failed to launch; log: $logfile"
  log "started $name (pid $(<"$pidfile")), log: $logfile"
}

# alive_and NAME PIDFILE BIN LOG CMD...: fails fast (exits the script) if the
# process has died, else runs CMD. Meant as wait_for's command.
alive_and() {
  local name="$1" pidfile="$2" bin="$3" logfile="$4"; shift 4
  if ! pid_of "$pidfile" "$bin" >/dev/null; then
    {
      echo "----- last lines of $logfile -----"
      tail -n 40 "$logfile" 2>/dev/null || true
    } >&3
    die "$name exited during startup; full log: $logfile" 2>&3
  fi
  "$@"
}

# stop NAME PIDFILE BIN: SIGTERM, then SIGKILL after $GRACE_SECONDS (20).
stop() {
  local name="$1" pidfile="$2" bin="$3" pid
  if pid="$(pid_of "$pidfile" "$bin")"; then
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + ${GRACE_SECONDS:-20}))
    while alive "$pid" && (( SECONDS < deadline )); do sleep 0.2; done
    if alive "$pid"; then
      log "$name did not exit within ${GRACE_SECONDS:-20}s of SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in {1..50}; do alive "$pid" || break; sleep 0.1; done
    fi
  else
    log "$name not running"
  fi
  rm -f "$pidfile"
}

# ensure_port_free NAME PORT: a listener that is not ours would make the
# health checks below talk to the wrong server.
ensure_port_free() {
  local name="$1" port="$2"
  if port_busy "$port"; then
    die "cannot start $name: 127.0.0.1:$port is already in use by another process ($(port_owner "$port")); stop it or change the port in hack/lib.sh"
  fi
}
