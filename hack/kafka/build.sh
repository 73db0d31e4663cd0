#!/usr/bin/env bash
# Fetches Apache Kafka $KAFKA_VERSION (broker + CLI tools + log4j2 binding) from
# Maven Central into $CACHE_DIR/kafka-$KAFKA_VERSION/libs. Idempotent: when the
# jars are already there it returns without starting Maven.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/env.sh"

build() {
  if kafka_libs_present; then
    log "Kafka $KAFKA_VERSION jars already in $KAFKA_LIBS"
    return 0
  fi
  command -v mvn >/dev/null || die "Kafka: mvn not found (apt-get install maven)"
  mkdir -p "$KAFKA_HOME"
  local tmp="$KAFKA_LIBS.tmp.$$"
  rm -rf "$tmp"
  # Copy into a temp dir and rename, so an interrupted build never looks complete.
  # The local repository is Maven's default (~/.m2); nothing lands in the repo.
  local mvnlog="$LOG_DIR/kafka-build.log"
  mkdir -p "$LOG_DIR"
  mvn -B -Dstyle.color=never -f "$HERE/pom.xml" \
      -Dkafka.version="$KAFKA_VERSION" -Dkafka.libs.dir="$tmp" package >"$mvnlog" 2>&1 || {
    rm -rf "$tmp"
    grep -E 'ERROR|BUILD' "$mvnlog" | tail -n 20 >&2
    die "Kafka: mvn could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION; log: $mvnlog"
  }
  rm -rf "$KAFKA_LIBS" && mv "$tmp" "$KAFKA_LIBS"
  log "Kafka $KAFKA_VERSION: $(ls "$KAFKA_LIBS" | wc -l) jars in $KAFKA_LIBS"
}

timed "kafka $KAFKA_VERSION build" build
