#!/usr/bin/env bash
# Restarts a local Redis instance on the same data dir, so what it had
# acknowledged must come back from its AOF: what the serving tests use for
# "a Redis restart in the middle of a run loses nothing".
# Usage: hack/redis/restart.sh [--kill] [main|auth]   (default: main)
#   (default)  clean stop (SIGTERM: Redis fsyncs and exits), then start
#   --kill     SIGKILL, as a crash or an OOM kill would; Redis appends each
#              write to its AOF before acknowledging it, so nothing
#              acknowledged is lost either
# Prints nothing on stdout; progress goes to stderr. Exits non-zero, naming
# the instance and its log, when the server does not come back.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/env.sh"

stop_args=(--keep-data)
instance=main
for arg in "$@"; do
  case "$arg" in
    --kill) stop_args+=(--kill) ;;
    -*) die "unknown option: $arg (usage: $0 [--kill] [main|auth])" ;;
    *) instance="$arg" ;;
  esac
done
redis_select "$instance"
redis_pid >/dev/null || die "$R_NAME is not running on 127.0.0.1:$R_PORT from $R_DIR; start it with hack/redis/up.sh (or hack/env-up.sh) first"

start=$SECONDS
"$HERE/down.sh" "${stop_args[@]}" "$instance"
"$HERE/up.sh" "$instance"
log "$R_NAME restarted in $((SECONDS - start))s"
