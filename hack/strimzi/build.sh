#!/usr/bin/env bash
# Generates the Strimzi Kafka, KafkaNodePool, KafkaTopic and KafkaUser CRDs from Strimzi's
# own Maven Central artifacts (io.strimzi:api model classes run through
# io.strimzi:crd-generator, with the arguments Strimzi's api/pom.xml uses).
# Output: $CACHE_DIR/strimzi-$STRIMZI_VERSION/crds/*.yaml. Idempotent: a
# complete cache is reused without starting Maven or Java.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$HERE/../lib.sh"
source "$HERE/versions.sh"

STRIMZI_HOME="$CACHE_DIR/strimzi-$STRIMZI_VERSION"
CRD_DIR="$STRIMZI_HOME/crds"
LIBS="$STRIMZI_HOME/libs"
# model class = file name (Strimzi's own install/cluster-operator file names)
CRDS=(
  "io.strimzi.api.kafka.model.kafka.Kafka=040-Crd-kafka.yaml"
  "io.strimzi.api.kafka.model.topic.KafkaTopic=043-Crd-kafkatopic.yaml"
  "io.strimzi.api.kafka.model.user.KafkaUser=044-Crd-kafkauser.yaml"
  "io.strimzi.api.kafka.model.nodepool.KafkaNodePool=045-Crd-kafkanodepool.yaml"
)

crds_present() {
  local c
  for c in "${CRDS[@]}"; do [[ -s "$CRD_DIR/${c#*=}" ]] || return 1; done
}

fetch_jars() {
  command -v mvn >/dev/null || die "Strimzi: mvn not found (apt-get install maven)"
  local tmp="$LIBS.tmp.$$"
  rm -rf "$tmp"
  # -B: no colours/progress; the local repo is the user's default (~/.m2).
  local mvnlog="$LOG_DIR/strimzi-build.log"
  mkdir -p "$LOG_DIR"
  mvn -B -Dstyle.color=never -f "$HERE/pom.xml" -Dstrimzi.version="$STRIMZI_VERSION" \
      -Dstrimzi.libs.dir="$tmp" package >"$mvnlog" 2>&1 || {
    rm -rf "$tmp"
    grep -E 'ERROR|BUILD' "$mvnlog" | tail -n 20 >&2
    die "Strimzi: mvn could not fetch io.strimzi:api/crd-generator $STRIMZI_VERSION; log: $mvnlog"
  }
  rm -rf "$LIBS" && mv "$tmp" "$LIBS"
}

generate() {
  local java="$STRIMZI_JAVA_HOME/bin/java"
  [[ -x "$java" ]] || java="$(command -v java)"
  local tmp="$CRD_DIR.tmp.$$" c args=()
  rm -rf "$tmp" && mkdir -p "$tmp"
  for c in "${CRDS[@]}"; do args+=("${c%%=*}=$tmp/${c#*=}"); done
  # Same flags as the generate-crd-co-install-v1 execution in Strimzi's api/pom.xml.
  "$java" -cp "$LIBS/*" io.strimzi.crdgenerator.CrdGenerator \
      --label app:strimzi --label strimzi.io/crd-install:true \
      --target-kube 1.16+ --crd-api-version v1 \
      --api-versions v1 --storage-version v1 \
      --yaml "${args[@]}" >&2 \
    || { rm -rf "$tmp"; die "Strimzi: CrdGenerator failed (needs Java 21+; tried $java)"; }
  for c in "${CRDS[@]}"; do
    [[ -s "$tmp/${c#*=}" ]] || { rm -rf "$tmp"; die "Strimzi: CrdGenerator wrote no ${c#*=}"; }
  done
  # Structural sanity check (skipped where python3 lacks PyYAML).
  if python3 -c 'import yaml' 2>/dev/null; then
    python3 "$HERE/check-crds.py" "$tmp"/*.yaml >&2 \
      || { rm -rf "$tmp"; die "Strimzi: generated CRDs failed check-crds.py"; }
  fi
  rm -rf "$CRD_DIR" && mv "$tmp" "$CRD_DIR"
}

build() {
  if crds_present; then
    log "Strimzi $STRIMZI_VERSION CRDs already in $CRD_DIR"
    return 0
  fi
  mkdir -p "$STRIMZI_HOME"
  [[ -n "$(ls "$LIBS"/crd-generator-*.jar 2>/dev/null)" ]] || fetch_jars
  generate
  log "Strimzi $STRIMZI_VERSION CRDs written to $CRD_DIR"
}

timed "strimzi $STRIMZI_VERSION crds" build
ls -1 "$CRD_DIR"/*.yaml
