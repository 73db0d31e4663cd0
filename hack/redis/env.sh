#!/usr/bin/env bash
# shellcheck disable=SC2034  # the R_* variables are used by the scripts that source this
# Redis paths and process helpers shared by hack/redis/*.sh. Sourced after
# hack/lib.sh, not run.
#
# Two instances of Debian's redis-server, each with its own port, data dir,
# config, pid file and log:
#   main  127.0.0.1:$REDIS_PORT       no password (what most tests use)
#   auth  127.0.0.1:$REDIS_AUTH_PORT  requirepass, the password in
#                                     $REDIS_AUTH_PASSWORD_FILE (like a Secret's value)
REDIS_SERVER_BIN="${REDIS_SERVER_BIN:-redis-server}"
REDIS_CLI_BIN="${REDIS_CLI_BIN:-redis-cli}"
REDIS_RUN="$RUN_DIR/redis"
REDIS_INSTANCES=(main auth)
REDIS_AUTH_PASSWORD_FILE="$REDIS_RUN/auth/password"
# Redis writes each command to its AOF before it replies, so a killed
# server (restart.sh --kill) loses nothing it acknowledged; fsync policy only
# matters when the machine itself goes down. `everysec` is Redis's default,
# and what a production Redis runs; `always` (an fsync per event-loop turn)
# is there to measure its cost (hack/redis/README.md).
REDIS_APPENDFSYNC="${REDIS_APPENDFSYNC:-everysec}"
# A test that leaks keys fails loudly with OOM errors instead of growing
# until the machine swaps; nothing is evicted behind a test's back.
REDIS_MAXMEMORY="${REDIS_MAXMEMORY:-1gb}"
REDIS_START_TIMEOUT="${REDIS_START_TIMEOUT:-30}"
REDIS_STOP_TIMEOUT="${REDIS_STOP_TIMEOUT:-20}"

# redis_select INSTANCE: sets R_NAME, R_PORT, R_DIR, R_DATA, R_CONF,
# R_PID_FILE, R_LOG and R_PASSWORD_FILE (empty for the open instance).
redis_select() {
  case "$1" in
    main) R_PORT="$REDIS_PORT"; R_NAME="Redis"; R_LOG="$LOG_DIR/redis.log"; R_PASSWORD_FILE="" ;;
    auth) R_PORT="$REDIS_AUTH_PORT"; R_NAME="Redis (auth)"; R_LOG="$LOG_DIR/redis-auth.log"
          R_PASSWORD_FILE="$REDIS_AUTH_PASSWORD_FILE" ;;
    *) die "unknown Redis instance '$1' (known: ${REDIS_INSTANCES[*]})" ;;
  esac
  R_DIR="$REDIS_RUN/$1"
  R_DATA="$R_DIR/data"
  R_CONF="$R_DIR/redis.conf"
  R_PID_FILE="$R_DIR/redis.pid"
}

# redis_cli ARGS...: redis-cli against the selected instance. The password
# travels in REDISCLI_AUTH, never on a command line that `ps` shows.
redis_cli() {
  local auth=""
  [[ -n "$R_PASSWORD_FILE" && -s "$R_PASSWORD_FILE" ]] && auth="$(<"$R_PASSWORD_FILE")"
  REDISCLI_AUTH="$auth" timeout 10 "$REDIS_CLI_BIN" -h 127.0.0.1 -p "$R_PORT" --no-auth-warning "$@"
}

redis_port_open() { (exec 9<>"/dev/tcp/127.0.0.1/$R_PORT") 2>/dev/null; }

# redis_answering: the selected instance answers PING with PONG (not LOADING
# while it replays its AOF, not NOAUTH).
redis_answering() { [[ "$(redis_cli PING 2>/dev/null)" == PONG ]]; }

# redis_server_pid: the pid the server on R_PORT reports for itself.
redis_server_pid() {
  redis_cli INFO server 2>/dev/null | tr -d '\r' | sed -n 's/^process_id://p'
}

# redis_pid: prints the pid from the selected instance's pid file if that
# process is alive and is the server answering on R_PORT (guards against a
# stale pid file whose pid was reused); fails otherwise.
redis_pid() {
  local pid
  [[ -s "$R_PID_FILE" ]] || return 1
  pid="$(<"$R_PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]] || return 1
  [[ "$(redis_server_pid)" == "$pid" ]] || return 1
  echo "$pid"
}

# redis_process_alive: the pid file names a live (non-zombie) process,
# answering or not (e.g. still replaying its AOF).
redis_process_alive() {
  local pid
  [[ -s "$R_PID_FILE" ]] || return 1
  pid="$(<"$R_PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" =~ ^[^Z]$ ]] || return 1
  # A reused pid would run something else: ours is a redis-server.
  [[ "$(readlink -f "/proc/$pid/exe" 2>/dev/null)" == "$(readlink -f "$(command -v "$REDIS_SERVER_BIN")")" ]]
}
