#!/usr/bin/env bash
# Kafka paths and java helpers shared by hack/kafka/*.sh. Sourced after hack/lib.sh.
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_HOME/libs"
KAFKA_RUN="$RUN_DIR/kafka"
KAFKA_DATA="$KAFKA_RUN/data"
KAFKA_CONFIG="$KAFKA_RUN/server.properties"
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
KAFKA_LOG="$LOG_DIR/kafka.log"
KAFKA_HACK_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Kafka 4.x brokers and tools need Java 17+; the machine default is 17.
KAFKA_JAVA="${KAFKA_JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/}java}"
KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"

kafka_libs_present() { compgen -G "$KAFKA_LIBS/kafka_2.13-*.jar" >/dev/null; }

# kafka_cli CLASS ARGS...: runs a Kafka tool class in a short-lived, quick-to-start
# JVM; logging at WARN to stderr so stdout carries only the tool's output.
KAFKA_CLI_JAVA=("$KAFKA_JAVA" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto
  -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$KAFKA_HACK_DIR/log4j2-tools.properties"
  -cp "$KAFKA_LIBS/*")
kafka_cli() {
  kafka_libs_present || die "Kafka jars missing in $KAFKA_LIBS; run hack/kafka/build.sh"
  "${KAFKA_CLI_JAVA[@]}" "$@"
}

# kafka_pid: prints the pid from the pid file if that process is alive and
# really is our broker (guards against a reused pid); fails otherwise.
kafka_pid() {
  local pid
  [[ -s "$KAFKA_PID_FILE" ]] || return 1
  pid="$(<"$KAFKA_PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  grep -qa 'kafka\.Kafka' "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

KAFKA_ADMIN_PASSWORD_FILE="$KAFKA_SECURITY_DIR/users/admin/password"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
kafka_port_open() { port_open "$KAFKA_PORT"; }
kafka_secure_ports_open() { port_open "$KAFKA_SASL_SSL_PORT" && port_open "$KAFKA_MTLS_PORT"; }

# kafka_config_current: the running broker was started with this up.sh's
# secured listeners on the current ports, and after its certificates and admin
# password were last renewed (certs.sh only rewrites files that change).
kafka_config_current() {
  [[ -f "$KAFKA_CONFIG" ]] || return 1
  grep -q "^listeners=.*SASL_SSL://127.0.0.1:$KAFKA_SASL_SSL_PORT,MTLS://127.0.0.1:$KAFKA_MTLS_PORT," "$KAFKA_CONFIG" || return 1
  grep -q "^listener.name.sasl_ssl.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256$" "$KAFKA_CONFIG" || return 1
  local f
  for f in "$KAFKA_SECURITY_DIR/broker/keystore.pem" "$KAFKA_SECURITY_DIR/clients-ca/ca.crt" "$KAFKA_ADMIN_PASSWORD_FILE"; do
    [[ "$f" -nt "$KAFKA_PID_FILE" ]] && return 1
  done
  return 0
}

# kafka_healthy: the broker answers a real request (topic listing), bounded in time.
kafka_healthy() {
  kafka_port_open || return 1
  timeout 30 "${KAFKA_CLI_JAVA[@]}" org.apache.kafka.tools.TopicCommand \
    --bootstrap-server "$KAFKA_BOOTSTRAP" \
    --command-config "$KAFKA_HACK_DIR/admin-fast.properties" --list >/dev/null 2>&1
}

# kafka_secure_healthy NAME BOOTSTRAP CLIENT_PROPERTIES: an admin user lists
# topics over a secured listener, bounded in time; on failure the tool's own
# error (handshake, authentication) goes to stderr.
kafka_secure_healthy() {
  local name="$1" bootstrap="$2" properties="$3" out
  if ! out="$(timeout 30 "${KAFKA_CLI_JAVA[@]}" org.apache.kafka.tools.TopicCommand \
      --bootstrap-server "$bootstrap" --command-config "$properties" --list 2>&1 >/dev/null)"; then
    printf '%s\n' "$out" | grep -v '^\s*at ' | tail -n 15 >&2
    echo "Kafka $name check failed (client settings: $properties)" >&2
    return 1
  fi
}
