#!/usr/bin/env bash
# Prints the variables that tools and tests use to reach the local
# environment, as shell exports:  eval "$(hack/env.sh)"
# The Kafka security files are described in hack/kafka/README.md; the SCRAM
# admin user is `admin`, the TLS admin's principal User:CN=admin-tls.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/lib.sh"
source "$REPO_ROOT/hack/redis/env.sh"
cat <<VARS
export KUBECONFIG='$KUBECONFIG_PATH'
export SHOPSTREAM_KUBECTL='$KUBECTL_BIN'
export SHOPSTREAM_KAFKA_BOOTSTRAP='$KAFKA_BOOTSTRAP'
export SHOPSTREAM_KAFKA_SASL_SSL_BOOTSTRAP='$KAFKA_SASL_SSL_BOOTSTRAP'
export SHOPSTREAM_KAFKA_MTLS_BOOTSTRAP='$KAFKA_MTLS_BOOTSTRAP'
export SHOPSTREAM_KAFKA_SECURITY_DIR='$KAFKA_SECURITY_DIR'
export SHOPSTREAM_KAFKA_CA_FILE='$KAFKA_SECURITY_DIR/cluster-ca/ca.crt'
export SHOPSTREAM_KAFKA_ADMIN_PASSWORD_FILE='$KAFKA_SECURITY_DIR/users/admin/password'
export SHOPSTREAM_KAFKA_ADMIN_TLS_DIR='$KAFKA_SECURITY_DIR/users/admin-tls'
export SHOPSTREAM_KAFKA_UNTRUSTED_CA_FILE='$KAFKA_SECURITY_DIR/untrusted-ca/ca.crt'
export SHOPSTREAM_KAFKA_UNTRUSTED_TLS_DIR='$KAFKA_SECURITY_DIR/users/untrusted'
export SHOPSTREAM_LOG_DIR='$LOG_DIR'
export SHOPSTREAM_HELM='$HELM_BIN'
export SHOPSTREAM_PROMETHEUS_OPERATOR_CRDS='$CACHE_DIR/prometheus-operator-$PROMETHEUS_OPERATOR_VERSION/crds'
export SHOPSTREAM_PYTHON='$SHOPSTREAM_PYTHON_BIN'
export SHOPSTREAM_KAFKA_PID_FILE='$RUN_DIR/kafka.pid'
export SHOPSTREAM_REDIS_ADDR='127.0.0.1:$REDIS_PORT'
export SHOPSTREAM_REDIS_AUTH_ADDR='127.0.0.1:$REDIS_AUTH_PORT'
export SHOPSTREAM_REDIS_PASSWORD_FILE='$REDIS_AUTH_PASSWORD_FILE'
export SHOPSTREAM_ARTIFACTS_DIR='$RUN_DIR/artifacts'
VARS
