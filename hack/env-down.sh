#!/usr/bin/env bash
# Stops everything hack/env-up.sh started; keeps the build cache and the logs.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
status=0
"$HERE/kafka/down.sh" || status=1
"$HERE/kube/down.sh" || status=1
exit $status
