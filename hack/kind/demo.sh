#!/usr/bin/env bash
# The kind flavour of `make demo` (when Docker and kind are present): cluster,
# Strimzi + Kafka, images, operator, then examples/pipeline.yaml pointed at
# Strimzi's Kafka; waits for Running and shows `kubectl get analyticspipelines`
# with its lag and events/s. Each step is idempotent, so rerunning is cheap.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

"$HERE/tools.sh"
"$HERE/up.sh"
"$HERE/strimzi.sh"
"$HERE/images.sh"
"$HERE/load.sh"
"$HERE/deploy.sh"
require_tools kind kubectl

# examples/pipeline.yaml targets the local environment's Kafka; in kind the
# brokers are Strimzi's.
sed "s#bootstrapServers: .*#bootstrapServers: $KIND_KAFKA_BOOTSTRAP#" "$REPO_ROOT/examples/pipeline.yaml" \
  | kk apply -n default --server-side -f - >&2
log "waiting for pipeline default/shop to reach Running"
start=$SECONDS
until [[ "$(kk -n default get analyticspipeline shop -o jsonpath='{.status.phase}' 2>/dev/null)" == Running ]]; do
  (( SECONDS - start < 300 )) || { kk -n default describe analyticspipeline shop >&2; die "pipeline shop not Running after 300s"; }
  sleep 5
done
# Events/s needs two observations a status interval apart.
sleep 20
kk get analyticspipelines -A
log "watch it live: kubectl --context $KIND_CONTEXT get analyticspipelines -A -w"
