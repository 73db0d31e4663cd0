#!/usr/bin/env bash
# Stops everything hack/env-up.sh, hack/local/up.sh and hack/demo.sh started
# (demo runner and operator, kwok, scheduler, controller-manager, Redis, Kafka,
# the API server, etcd); keeps the build cache and the logs.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
status=0
"$HERE/local/down.sh" || status=1
"$HERE/redis/down.sh" || status=1
"$HERE/kafka/down.sh" || status=1
"$HERE/kube/down.sh" || status=1
exit $status
