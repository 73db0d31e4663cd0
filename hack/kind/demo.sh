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

# The serving component needs a Redis: one plain Redis for the demo (bring
# your own in production, spec.serving.redis).
kk -n default get deployment demo-redis >/dev/null 2>&1 \
  || kk -n default create deployment demo-redis --image=redis:7-alpine --port=6379 >&2
kk -n default get service demo-redis >/dev/null 2>&1 \
  || kk -n default expose deployment demo-redis --port=6379 >&2

# examples/pipeline.yaml targets the local environment's Kafka and Redis; in
# kind the brokers are Strimzi's and Redis is the one above.
sed -e "s#bootstrapServers: .*#bootstrapServers: $KIND_KAFKA_BOOTSTRAP#" \
    -e "s#address: 127\.0\.0\.1:[0-9]*#address: demo-redis.default.svc:6379#" "$REPO_ROOT/examples/pipeline.yaml" \
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
log "dashboard: kubectl --context $KIND_CONTEXT -n default port-forward svc/shop-serving 8080, then http://127.0.0.1:8080/"
