#!/usr/bin/env bash
# Paths shared by hack/local/{up,down}.sh and hack/demo.sh. Sourced, not run.
# shellcheck source=../kube/common.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../kube/common.sh"

LOCAL_HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KUBE_CONTROLLER_MANAGER_BIN="$CACHE_DIR/kube-$KUBE_VERSION/bin/kube-controller-manager"
KUBE_SCHEDULER_BIN="$CACHE_DIR/kube-$KUBE_VERSION/bin/kube-scheduler"
KWOK_BIN="$CACHE_DIR/kwok-$KWOK_VERSION/bin/kwok"
KWOK_STAGES="$CACHE_DIR/kwok-$KWOK_VERSION/stages.yaml"

KUBE_CONTROLLER_MANAGER_LOG="$LOG_DIR/kube-controller-manager.log"
KUBE_SCHEDULER_LOG="$LOG_DIR/kube-scheduler.log"
KWOK_LOG="$LOG_DIR/kwok.log"
KUBE_CONTROLLER_MANAGER_PIDFILE="$RUN_DIR/kube-controller-manager.pid"
KUBE_SCHEDULER_PIDFILE="$RUN_DIR/kube-scheduler.pid"
KWOK_PIDFILE="$RUN_DIR/kwok.pid"

# The simulated nodes: kwok manages the Nodes carrying this annotation.
KWOK_NODE_ANNOTATION="kwok.x-k8s.io/node=fake"
KWOK_NODES="${KWOK_NODES:-kwok-node-0 kwok-node-1}"

# The demo's applications (hack/demo.sh), run from the workspace's binaries.
# Cargo puts them under CARGO_TARGET_DIR when the user sets one (relative to
# the workspace root, as cargo reads it), else under target/.
case "${CARGO_TARGET_DIR:-}" in
  "") CARGO_TARGET_BASE="$REPO_ROOT/target" ;;
  /*) CARGO_TARGET_BASE="$CARGO_TARGET_DIR" ;;
  *) CARGO_TARGET_BASE="$REPO_ROOT/$CARGO_TARGET_DIR" ;;
esac
SHOPSTREAM_BIN_DIR="${SHOPSTREAM_BIN_DIR:-$CARGO_TARGET_BASE/debug}"
OPERATOR_BIN="$SHOPSTREAM_BIN_DIR/analytics-operator"
LOCAL_RUNNER_BIN="$SHOPSTREAM_BIN_DIR/local-runner"
OPERATOR_LOG="$LOG_DIR/operator.log"
LOCAL_RUNNER_LOG="$LOG_DIR/local-runner.log"
OPERATOR_PIDFILE="$RUN_DIR/operator.pid"
LOCAL_RUNNER_PIDFILE="$RUN_DIR/local-runner.pid"
