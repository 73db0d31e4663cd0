#!/usr/bin/env bash
# The Docker-free cluster for the local demo: on top of hack/kube/up.sh (etcd +
# kube-apiserver) starts kube-controller-manager, kube-scheduler and kwok, and
# registers simulated Nodes that kwok keeps Ready. Deployments then get Pods
# that are scheduled and turn Running/Ready (nothing runs in them: the local
# runner, hack/local-runner, runs the shopstream workloads as host processes).
# Builds the binaries once (hack/kube/build.sh --local-stack). Idempotent: what
# already runs is kept. Fails naming the component and its log. Stop with
# hack/local/down.sh (or make env-down, which stops everything).
set -euo pipefail
# shellcheck source=common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

start_time=$SECONDS
exec 3>&2   # keeps a handle on stderr for checks whose output wait_for hides
mkdir -p "$RUN_DIR" "$LOG_DIR"
# One at a time: the tests of one binary run in parallel and each calls this;
# the second waits and then finds everything running instead of racing to
# create the same Nodes. start_detached closes fd 9, so the daemons started
# here do not hold the lock after the script ends.
exec 9>"$RUN_DIR/local-up.lock"
flock 9

if [[ ! -x "$KUBE_CONTROLLER_MANAGER_BIN" || ! -x "$KUBE_SCHEDULER_BIN" || ! -x "$KWOK_BIN" || ! -s "$KWOK_STAGES" ]]; then
  log "building kube-controller-manager, kube-scheduler and kwok once (cold: several minutes on 2 cores); log: $LOG_DIR/build-local-stack.log"
fi
"$KUBE_HACK_DIR/build.sh" --local-stack >"$LOG_DIR/build-local-stack.log" 2>&1 \
  || { tail -n 30 "$LOG_DIR/build-local-stack.log" >&2; die "building kube-controller-manager/kube-scheduler/kwok failed; log: $LOG_DIR/build-local-stack.log"; }
grep -h 'took' "$LOG_DIR/build-local-stack.log" >&2 || true
for f in "$KUBE_CONTROLLER_MANAGER_BIN" "$KUBE_SCHEDULER_BIN" "$KWOK_BIN" "$KWOK_STAGES"; do
  [[ -s "$f" ]] || die "$f missing after build"
done

"$KUBE_HACK_DIR/up.sh"

PKI_DIR="$RUN_DIR/pki"

# healthz PORT: the component's secure port answers /healthz with "ok"
# (always allowed without credentials; the certificate is self-signed).
healthz() { [[ "$(curl -ksS --max-time 3 "https://127.0.0.1:$1/healthz")" == "ok" ]]; }

# ------------------------------------------------ kube-controller-manager --
# The admin kubeconfig for everything (one shared identity instead of one
# ServiceAccount per controller), no leader election (one instance), and the
# service-account key for the token controller. Controllers that need a cloud
# or pod CIDRs (node-ipam) are off; the rest run as in a real cluster:
# Deployments -> ReplicaSets -> Pods, namespace deletion, default
# ServiceAccounts, garbage collection, node lifecycle, kube-root-ca.crt.
if pid_of "$KUBE_CONTROLLER_MANAGER_PIDFILE" "$KUBE_CONTROLLER_MANAGER_BIN" >/dev/null; then
  log "kube-controller-manager already running (pid $(<"$KUBE_CONTROLLER_MANAGER_PIDFILE"))"
else
  ensure_port_free kube-controller-manager "$KUBE_CONTROLLER_MANAGER_PORT"
  start_detached kube-controller-manager "$KUBE_CONTROLLER_MANAGER_PIDFILE" "$KUBE_CONTROLLER_MANAGER_LOG" \
    "$KUBE_CONTROLLER_MANAGER_BIN" \
    --kubeconfig="$KUBECONFIG_PATH" \
    --authentication-kubeconfig="$KUBECONFIG_PATH" \
    --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 \
    --secure-port="$KUBE_CONTROLLER_MANAGER_PORT" \
    --leader-elect=false \
    --use-service-account-credentials=false \
    --service-account-private-key-file="$PKI_DIR/sa.key" \
    --root-ca-file="$PKI_DIR/ca.crt" \
    --controllers='*,-node-ipam-controller' \
    --kube-api-qps=100 \
    --kube-api-burst=200 \
    --v=1
fi
wait_for kube-controller-manager "$KUBE_CONTROLLER_MANAGER_LOG" 60 \
  alive_and kube-controller-manager "$KUBE_CONTROLLER_MANAGER_PIDFILE" "$KUBE_CONTROLLER_MANAGER_BIN" "$KUBE_CONTROLLER_MANAGER_LOG" \
  healthz "$KUBE_CONTROLLER_MANAGER_PORT"
log "kube-controller-manager ready (https://127.0.0.1:$KUBE_CONTROLLER_MANAGER_PORT/healthz)"

# --------------------------------------------------------- kube-scheduler --
if pid_of "$KUBE_SCHEDULER_PIDFILE" "$KUBE_SCHEDULER_BIN" >/dev/null; then
  log "kube-scheduler already running (pid $(<"$KUBE_SCHEDULER_PIDFILE"))"
else
  ensure_port_free kube-scheduler "$KUBE_SCHEDULER_PORT"
  start_detached kube-scheduler "$KUBE_SCHEDULER_PIDFILE" "$KUBE_SCHEDULER_LOG" \
    "$KUBE_SCHEDULER_BIN" \
    --kubeconfig="$KUBECONFIG_PATH" \
    --authentication-kubeconfig="$KUBECONFIG_PATH" \
    --authorization-kubeconfig="$KUBECONFIG_PATH" \
    --bind-address=127.0.0.1 \
    --secure-port="$KUBE_SCHEDULER_PORT" \
    --leader-elect=false \
    --v=1
fi
wait_for kube-scheduler "$KUBE_SCHEDULER_LOG" 60 \
  alive_and kube-scheduler "$KUBE_SCHEDULER_PIDFILE" "$KUBE_SCHEDULER_BIN" "$KUBE_SCHEDULER_LOG" \
  healthz "$KUBE_SCHEDULER_PORT"
log "kube-scheduler ready (https://127.0.0.1:$KUBE_SCHEDULER_PORT/healthz)"

# ------------------------------------------------------------------- kwok --
# Only Nodes annotated kwok.x-k8s.io/node=fake are simulated (and the Pods
# bound to them). The Stages are kwok's defaults: node initialize + lease
# heartbeat, pod ready/complete/delete (see hack/kube/build.sh).
if pid_of "$KWOK_PIDFILE" "$KWOK_BIN" >/dev/null; then
  log "kwok already running (pid $(<"$KWOK_PIDFILE"))"
else
  start_detached kwok "$KWOK_PIDFILE" "$KWOK_LOG" \
    "$KWOK_BIN" \
    --kubeconfig="$KUBECONFIG_PATH" \
    --config="$KWOK_STAGES" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector="$KWOK_NODE_ANNOTATION" \
    --node-lease-duration-seconds=40 \
    --cidr=10.244.0.0/16
fi

# The simulated Nodes: no taints (workloads need no tolerations), plenty of
# room. Created once; kwok fills in conditions, addresses and heartbeats.
for node in $KWOK_NODES; do
  kubectl_admin get node "$node" >/dev/null 2>&1 && continue
  kubectl_admin create -f - >/dev/null <<YAML || die "cannot create the simulated node $node"
apiVersion: v1
kind: Node
metadata:
  name: $node
  annotations:
    ${KWOK_NODE_ANNOTATION%%=*}: "${KWOK_NODE_ANNOTATION#*=}"
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: $node
    node-role.kubernetes.io/agent: ""
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
YAML
  log "registered simulated node $node"
done

node_ready() {
  [[ "$(kubectl_admin get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" == "True" ]]
}
for node in $KWOK_NODES; do
  wait_for "kwok (node $node Ready)" "$KWOK_LOG" 60 \
    alive_and kwok "$KWOK_PIDFILE" "$KWOK_BIN" "$KWOK_LOG" node_ready "$node"
done
log "kwok ready: nodes $KWOK_NODES are Ready"

log "local cluster up in $((SECONDS - start_time))s (controller-manager, scheduler, kwok on kube-apiserver $KUBE_APISERVER_URL)"
