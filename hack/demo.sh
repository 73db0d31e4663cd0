#!/usr/bin/env bash
# `make demo`, the README's first command: an AnalyticsPipeline running end to
# end, ending with `kubectl get analyticspipelines` showing live lag and
# events/s. Two paths:
#   kind   when `docker info` works and `kind` is installed: hack/kind/demo.sh
#          (a kind cluster with Strimzi, the images and the Helm chart, as
#          make kind-up strimzi images kind-load deploy), then
#          examples/pipeline.yaml against Strimzi's Kafka.
#   local  otherwise (CI, machines without Docker): everything on 127.0.0.1 —
#          etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok
#          (simulated nodes), Kafka, the operator as a host process, and the
#          local runner, which runs the operator's Deployments (generator,
#          processor) as host processes against the local Kafka.
# DEMO_MODE=kind|local forces a path. DEMO_NAMESPACE=NS (local path) puts the
# pipeline in NS and has the operator and the runner watch only NS (default:
# all namespaces, the pipeline in its file's namespace or "default").
# Everything is left running; stop it with `make env-down` (local) or
# `make kind-down` (kind).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=local/common.sh
source "$HERE/local/common.sh"
exec 3>&2

PIPELINE_FILE="${DEMO_PIPELINE:-$REPO_ROOT/examples/pipeline.yaml}"
RUNNING_TIMEOUT="${DEMO_RUNNING_TIMEOUT:-300}"
SETTLE_SECONDS="${DEMO_SETTLE_SECONDS:-20}"

mode="${DEMO_MODE:-}"
if [[ -z "$mode" ]]; then
  if command -v kind >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    mode=kind
  else
    mode=local
  fi
fi
case "$mode" in kind|local) ;; *) die "DEMO_MODE must be kind or local, not '$mode'" ;; esac

pipeline_name="$(sed -n 's/^  name: *//p' "$PIPELINE_FILE" | head -n 1)"
pipeline_ns="$(sed -n 's/^  namespace: *//p' "$PIPELINE_FILE" | head -n 1)"
pipeline_ns="${DEMO_NAMESPACE:-${pipeline_ns:-default}}"
[[ -n "$pipeline_name" ]] || die "cannot read metadata.name from $PIPELINE_FILE"

# show_and_wait KUBECTL...: waits for phase Running, then for a measured
# input rate, lets the pipeline settle and prints the resource. On a timeout
# it prints what is known (the resource, its events, the operator's log).
show_and_wait() {
  local -a kc=("$@")
  local ap=(-n "$pipeline_ns" get analyticspipeline "$pipeline_name")
  local start=$SECONDS phase="" rate=""
  log "waiting for analyticspipeline $pipeline_ns/$pipeline_name to reach phase Running (up to ${RUNNING_TIMEOUT}s)"
  while :; do
    phase="$("${kc[@]}" "${ap[@]}" -o 'jsonpath={.status.phase}' 2>/dev/null || true)"
    [[ "$phase" == Running ]] && break
    if (( SECONDS - start >= RUNNING_TIMEOUT )); then
      "${kc[@]}" "${ap[@]}" -o yaml >&2 || true
      "${kc[@]}" -n "$pipeline_ns" get events --sort-by=.lastTimestamp >&2 || true
      echo "----- last lines of $OPERATOR_LOG -----" >&2; tail -n 30 "$OPERATOR_LOG" >&2
      die "the pipeline did not reach Running within ${RUNNING_TIMEOUT}s (phase: '${phase:-none}')"
    fi
    sleep 2
  done
  log "phase Running after $((SECONDS - start))s; waiting for the first measured events/s"
  while :; do
    rate="$("${kc[@]}" "${ap[@]}" -o 'jsonpath={.status.processor.inputEventsPerSecond}' 2>/dev/null || true)"
    [[ -n "$rate" && "$rate" != 0 && "$rate" != 0.0 ]] && break
    if (( SECONDS - start >= RUNNING_TIMEOUT )); then
      "${kc[@]}" "${ap[@]}" -o yaml >&2 || true
      die "no input events/s measured within ${RUNNING_TIMEOUT}s: is the generator running? (logs: $LOCAL_RUNNER_LOG, $LOG_DIR/local-runner/)"
    fi
    sleep 2
  done
  log "events flowing ($rate/s); letting the pipeline run ${SETTLE_SECONDS}s"
  sleep "$SETTLE_SECONDS"
  echo
  "${kc[@]}" -n "$pipeline_ns" get analyticspipelines
  echo
}

# ------------------------------------------------------------------- kind --
# hack/kind/demo.sh runs the make targets' steps (kind-up strimzi images
# kind-load deploy), applies examples/pipeline.yaml pointed at Strimzi's
# Kafka, waits for Running and shows the pipelines.
if [[ "$mode" == kind ]]; then
  log "Docker and kind found: the kind + Strimzi demo (DEMO_MODE=local for the Docker-free one)"
  [[ -x "$HERE/kind/demo.sh" ]] || die "hack/kind/demo.sh is missing"
  "$HERE/kind/demo.sh"
  echo "Everything keeps running in the kind cluster. Stop it with: make kind-down"
  exit 0
fi

# ------------------------------------------------------------------ local --
log "no Docker/kind: the local demo (kube-apiserver + controller-manager + scheduler + kwok, Kafka, operator and runner as host processes)"
"$HERE/env-up.sh" >/dev/null
"$HERE/local/up.sh"

log "building the workspace (operator, processor, generator, serving, local-runner)"
(cd "$REPO_ROOT" && cargo build --workspace --locked) || die "cargo build --workspace failed"
for bin in "$OPERATOR_BIN" "$LOCAL_RUNNER_BIN" "$SHOPSTREAM_BIN_DIR/processor" "$SHOPSTREAM_BIN_DIR/generator" "$SHOPSTREAM_BIN_DIR/serving"; do
  [[ -x "$bin" ]] || die "$bin missing after cargo build --workspace"
done

kc=("$KUBECTL_BIN" --kubeconfig "$KUBECONFIG_PATH")
"${kc[@]}" apply --server-side --force-conflicts --field-manager=shopstream-demo -f "$REPO_ROOT/crds/analyticspipelines.yaml" >/dev/null
"${kc[@]}" wait --for=condition=Established --timeout=60s crd/analyticspipelines.analytics.shopstream.dev >/dev/null
scope=()
if [[ -n "${DEMO_NAMESPACE:-}" ]]; then
  scope=(WATCH_NAMESPACE="$DEMO_NAMESPACE" LOCAL_RUNNER_NAMESPACE="$DEMO_NAMESPACE")
  "${kc[@]}" get namespace "$DEMO_NAMESPACE" >/dev/null 2>&1 || "${kc[@]}" create namespace "$DEMO_NAMESPACE" >/dev/null
fi

# The operator and the runner are restarted on every run, so a rebuilt binary
# is the one that runs.
"$LOCAL_HACK_DIR/down.sh" --apps-only >/dev/null 2>&1 || true

ensure_port_free "operator (metrics)" "$DEMO_OPERATOR_METRICS_PORT"
start_detached operator "$OPERATOR_PIDFILE" "$OPERATOR_LOG" \
  env "${scope[@]}" KUBECONFIG="$KUBECONFIG_PATH" \
      POD_NAMESPACE=default \
      POD_NAME="demo-operator-$(hostname)" \
      LEADER_ELECTION=true \
      LEASE_NAME=shopstream-operator \
      STATUS_INTERVAL=5s \
      METRICS_ADDR="127.0.0.1:$DEMO_OPERATOR_METRICS_PORT" \
      RUST_LOG="${RUST_LOG:-info,kube=warn}" \
  "$OPERATOR_BIN"
operator_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$DEMO_OPERATOR_METRICS_PORT/healthz" >/dev/null; }
wait_for operator "$OPERATOR_LOG" 60 alive_and operator "$OPERATOR_PIDFILE" "$OPERATOR_BIN" "$OPERATOR_LOG" operator_healthy

start_detached "local runner" "$LOCAL_RUNNER_PIDFILE" "$LOCAL_RUNNER_LOG" \
  env "${scope[@]}" KUBECONFIG="$KUBECONFIG_PATH" \
      SHOPSTREAM_LOG_DIR="$LOG_DIR" \
      SHOPSTREAM_BIN_DIR="$SHOPSTREAM_BIN_DIR" \
      RUST_LOG="${RUST_LOG:-info,kube=warn}" \
  "$LOCAL_RUNNER_BIN"
runner_started() { grep -q "local runner started" "$LOCAL_RUNNER_LOG"; }
wait_for "local runner" "$LOCAL_RUNNER_LOG" 30 \
  alive_and "local runner" "$LOCAL_RUNNER_PIDFILE" "$LOCAL_RUNNER_BIN" "$LOCAL_RUNNER_LOG" runner_started

# The example names the default local Kafka and Redis; point it at this
# environment's.
sed -e "s#bootstrapServers: .*#bootstrapServers: $KAFKA_BOOTSTRAP#" \
    -e "s#address: 127\.0\.0\.1:[0-9]*#address: 127.0.0.1:$REDIS_PORT#" "$PIPELINE_FILE" \
  | "${kc[@]}" apply --server-side --force-conflicts --field-manager=shopstream-demo -n "$pipeline_ns" -f -
show_and_wait "${kc[@]}"

# The dashboard. In a cluster it is `kubectl port-forward svc/<name>-serving
# 8080`; here the runner gave the serving process a loopback port of its own,
# which its log names.
dashboard=""
serving_enabled="$("${kc[@]}" -n "$pipeline_ns" get analyticspipeline "$pipeline_name" -o 'jsonpath={.spec.serving.enabled}')"
if [[ "$serving_enabled" == true ]]; then
  dashboard_url() {
    local port
    port="$(grep -F "workload=Deployment $pipeline_ns/$pipeline_name-serving replica=0 " "$LOCAL_RUNNER_LOG" \
      | grep -o 'metrics=Some("127\.0\.0\.1:[0-9]*")' | tail -n 1 | grep -o '[0-9]*")$' | tr -d '")')" || return 1
    [[ -n "$port" ]] || return 1
    curl -fsS --max-time 2 "http://127.0.0.1:$port/readyz" >/dev/null || return 1
    echo "http://127.0.0.1:$port/"
  }
  log "waiting for the serving component (dashboard) to be ready"
  start=$SECONDS
  until dashboard="$(dashboard_url)"; do
    if (( SECONDS - start >= 90 )); then
      echo "----- last lines of $LOG_DIR/local-runner/$pipeline_ns.$pipeline_name-serving-0.log -----" >&2
      tail -n 30 "$LOG_DIR/local-runner/$pipeline_ns.$pipeline_name-serving-0.log" >&2 || true
      die "the serving component did not become ready within 90s (is Redis up on 127.0.0.1:$REDIS_PORT? hack/redis/up.sh)"
    fi
    sleep 2
  done
fi

cat <<MSG
Everything keeps running on 127.0.0.1. Use it with:
  eval "\$(hack/env.sh)"
  \$SHOPSTREAM_KUBECTL -n $pipeline_ns get analyticspipelines -w   # live lag and events/s
  \$SHOPSTREAM_KUBECTL -n $pipeline_ns get deployments,pods        # Pods on the simulated (kwok) nodes
Logs: $OPERATOR_LOG
      $LOCAL_RUNNER_LOG and $LOG_DIR/local-runner/ (generator, processor, serving)
Stop everything with: make env-down
MSG
if [[ -n "$dashboard" ]]; then
  cat <<MSG

Live dashboard: $dashboard   (JSON: ${dashboard}api/dashboard)
  Sales per minute appear once the first window closes (window + allowed
  lateness, about 70 s); hourly sales and the top 10 once the hour closes.
MSG
fi
