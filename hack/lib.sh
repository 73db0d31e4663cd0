#!/usr/bin/env bash
# Shared settings for the local test environment. Sourced by every hack/ script
# so that ports, versions and directories are defined exactly once.

# Versions: each one keys its own cache directory, so bumping a version builds
# the new component once and leaves the old cache untouched.
KUBE_VERSION="${KUBE_VERSION:-1.36.3}"
ETCD_VERSION="${ETCD_VERSION:-3.6.16}"
KAFKA_VERSION="${KAFKA_VERSION:-4.2.1}"
KWOK_VERSION="${KWOK_VERSION:-0.8.0}"    # sigs.k8s.io/kwok, pinned in hack/kwok/go.mod
HELM_VERSION="${HELM_VERSION:-3.22.0}"   # pinned in hack/helm/go.mod too
# The prometheus-operator Go module whose CRDs (PrometheusRule, ServiceMonitor)
# the chart tests dry-run against (hack/prometheus-operator/crds.sh).
PROMETHEUS_OPERATOR_VERSION="${PROMETHEUS_OPERATOR_VERSION:-0.89.0}"
# Apache Spark, only for the comparison benchmark (make bench-spark): pyspark
# from PyPI and spark-sql-kafka-0-10_2.12 of the same version (hack/spark/).
# 3.5.3: the spark-sql-kafka jar of later 3.5 patches (3.5.9) could not be
# obtained from Maven when this was written.
SPARK_VERSION="${SPARK_VERSION:-3.5.3}"
# The Kafka client of the original system's Python producer, for the tests
# that play it (hack/python/venv.sh).
KAFKA_PYTHON_VERSION="${KAFKA_PYTHON_VERSION:-2.2.15}"

# Everything built or downloaded lives outside the repository.
CACHE_DIR="${SHOPSTREAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/shopstream}"
# Runtime state (data dirs, pid files, logs, kubeconfig) of the running environment.
RUN_DIR="${SHOPSTREAM_RUN_DIR:-$CACHE_DIR/run}"
LOG_DIR="$RUN_DIR/logs"
KUBECONFIG_PATH="$RUN_DIR/kubeconfig"
# Certificates and credentials of the broker's secured listeners
# (hack/kafka/certs.sh); outside the broker's data dir so a restart keeps them.
KAFKA_SECURITY_DIR="$RUN_DIR/kafka-security"

# Loopback ports, away from the usual defaults so a developer's own etcd,
# Kafka or cluster keeps running undisturbed.
ETCD_CLIENT_PORT="${ETCD_CLIENT_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"
KUBE_APISERVER_PORT="${KUBE_APISERVER_PORT:-16443}"
KAFKA_PORT="${KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-19093}"
KAFKA_BOOTSTRAP="127.0.0.1:$KAFKA_PORT"
# The broker's secured listeners (hack/kafka/README.md): SASL_SSL with
# SCRAM-SHA-512, and SSL with required client certificates (mTLS). By default
# the two ports after the controller's, so an instance that moves KAFKA_PORT
# moves them too.
KAFKA_SASL_SSL_PORT="${KAFKA_SASL_SSL_PORT:-$((KAFKA_PORT + 2))}"
KAFKA_MTLS_PORT="${KAFKA_MTLS_PORT:-$((KAFKA_PORT + 3))}"
KAFKA_SASL_SSL_BOOTSTRAP="127.0.0.1:$KAFKA_SASL_SSL_PORT"
KAFKA_MTLS_BOOTSTRAP="127.0.0.1:$KAFKA_MTLS_PORT"
# The Docker-free demo stack (hack/local/): controller-manager and scheduler
# serve /healthz here; the demo's operator serves its metrics here.
KUBE_CONTROLLER_MANAGER_PORT="${KUBE_CONTROLLER_MANAGER_PORT:-16257}"
KUBE_SCHEDULER_PORT="${KUBE_SCHEDULER_PORT:-16259}"
DEMO_OPERATOR_METRICS_PORT="${DEMO_OPERATOR_METRICS_PORT:-18080}"
# Redis (Debian's redis-server, hack/redis/): an open instance and one that
# requires a password. By default a few ports above Kafka's, so an instance
# that moves KAFKA_PORT moves Redis too; 6379 stays free for a developer's own.
REDIS_PORT="${REDIS_PORT:-$((KAFKA_PORT + 6))}"
REDIS_AUTH_PORT="${REDIS_AUTH_PORT:-$((KAFKA_PORT + 7))}"

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

log() { printf '[env %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[env %s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2; exit 1; }

# wait_for NAME LOGFILE TIMEOUT_SECONDS COMMAND...: polls COMMAND until it
# succeeds; on timeout names the component and shows the tail of its log.
wait_for() {
  local name="$1" logfile="$2" timeout="$3"; shift 3
  local start=$SECONDS
  until "$@" >/dev/null 2>&1; do
    if (( SECONDS - start >= timeout )); then
      echo "----- last lines of $logfile -----" >&2
      tail -n 40 "$logfile" >&2 2>/dev/null || true
      die "$name did not become ready within ${timeout}s; full log: $logfile"
    fi
    sleep 1
  done
}

# timed LABEL COMMAND...: runs a build step and reports how long it took.
timed() {
  local label="$1"; shift
  local start=$SECONDS
  "$@" || die "$label failed"
  log "$label took $((SECONDS - start))s"
}

# The kubectl built with the API server (same version), used by every script.
KUBECTL_BIN="$CACHE_DIR/kube-$KUBE_VERSION/bin/kubectl"

# Helm, built from its Go module by hack/helm/build.sh.
HELM_BIN="$CACHE_DIR/helm-$HELM_VERSION/bin/helm"

# python3 + kafka-python in a venv, built by hack/python/venv.sh.
PYTHON_KAFKA_DIR="$CACHE_DIR/python-kafka-$KAFKA_PYTHON_VERSION"
SHOPSTREAM_PYTHON_BIN="$PYTHON_KAFKA_DIR/bin/python"
