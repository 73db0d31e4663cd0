#!/usr/bin/env bash
# Prints the variables that tools and tests use to reach the local
# environment, as shell exports:  eval "$(hack/env.sh)"
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
cat <<VARS
export KUBECONFIG='$KUBECONFIG_PATH'
export SHOPSTREAM_KUBECTL='$KUBECTL_BIN'
export SHOPSTREAM_KAFKA_BOOTSTRAP='$KAFKA_BOOTSTRAP'
export SHOPSTREAM_LOG_DIR='$LOG_DIR'
export SHOPSTREAM_HELM='$HELM_BIN'
export SHOPSTREAM_PYTHON='$SHOPSTREAM_PYTHON_BIN'
export SHOPSTREAM_KAFKA_PID_FILE='$RUN_DIR/kafka.pid'
VARS
