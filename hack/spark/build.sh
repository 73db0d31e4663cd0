#!/usr/bin/env bash
# Fetches Apache Spark $SPARK_VERSION for the comparison benchmark
# (make bench-spark) into the version-keyed cache:
#   $CACHE_DIR/spark-$SPARK_VERSION/venv   python3 venv with pyspark==$SPARK_VERSION (PyPI)
#   $CACHE_DIR/spark-$SPARK_VERSION/jars   spark-sql-kafka-0-10_2.12:$SPARK_VERSION and the
#                                          run-time jars pyspark lacks (Maven, hack/spark/pom.xml)
# No Spark distribution tarball and no resolution at run time (spark.jars.packages):
# the job gets exactly these jars. Idempotent: a complete cache is left alone
# (delete the version directory to force a rebuild). Fails naming the component
# that could not be obtained. Progress on stderr; logs in $LOG_DIR/spark-build-*.log.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"
# shellcheck source=env.sh
source "$HERE/env.sh"

mkdir -p "$CACHE_DIR" "$LOG_DIR"
# Serialize concurrent runs: the second waits, then finds the cache complete.
if command -v flock >/dev/null; then
  exec 9>"$CACHE_DIR/.spark-build.lock"
  flock 9
fi

# pyspark starts its JVM with `java` from JAVA_HOME or PATH; Spark 3.5 runs on 8/11/17.
java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"
command -v "$java_bin" >/dev/null || die "Spark: java not found (JAVA_HOME or PATH); Spark $SPARK_VERSION needs Java 8, 11 or 17"

build_venv() {
  if spark_venv_present; then
    log "pyspark $SPARK_VERSION already in $SPARK_VENV"
    return 0
  fi
  command -v python3 >/dev/null || die "pyspark: python3 not found (Spark $SPARK_VERSION supports Python 3.8-3.11)"
  local piplog="$LOG_DIR/spark-build-pip.log"
  # A venv cannot be moved after creation, so build it in place and mark it
  # complete last; a leftover from an interrupted run is removed first.
  rm -rf "$SPARK_VENV"
  python3 -m venv "$SPARK_VENV" >"$piplog" 2>&1 || {
    tail -n 20 "$piplog" >&2
    die "pyspark: python3 -m venv $SPARK_VENV failed (Debian: apt-get install python3-venv); log: $piplog"
  }
  log "pyspark $SPARK_VERSION: pip install (a ~300 MB download on a cold cache)"
  "$SPARK_PYTHON" -m pip install --disable-pip-version-check --no-input \
      "pyspark==$SPARK_VERSION" >>"$piplog" 2>&1 || {
    tail -n 20 "$piplog" >&2
    die "pyspark: pip could not install pyspark==$SPARK_VERSION; log: $piplog"
  }
  local got
  got="$("$SPARK_PYTHON" -c 'import pyspark; print(pyspark.__version__)' 2>>"$piplog")" \
    || die "pyspark: installed but does not import; log: $piplog"
  [[ "$got" == "$SPARK_VERSION" ]] || die "pyspark: installed version $got, expected $SPARK_VERSION"
  touch "$SPARK_VENV_DONE"
  log "pyspark $SPARK_VERSION installed in $SPARK_VENV"
}

build_jars() {
  if spark_jars_present; then
    log "spark-sql-kafka $SPARK_VERSION jars already in $SPARK_JARS_DIR"
    return 0
  fi
  command -v mvn >/dev/null || die "spark-sql-kafka: mvn not found (apt-get install maven)"
  local mvnlog="$LOG_DIR/spark-build-mvn.log" tmp="$SPARK_JARS_DIR.tmp.$$"
  rm -rf "$tmp"
  # Copy into a temp dir and rename, so an interrupted build never looks complete.
  # The local repository is Maven's default (~/.m2); nothing lands in the repo.
  mvn -B -Dstyle.color=never -f "$HERE/pom.xml" \
      -Dspark.version="$SPARK_VERSION" -Dspark.jars.dir="$tmp" package >"$mvnlog" 2>&1 || {
    rm -rf "$tmp"
    grep -E 'ERROR|BUILD' "$mvnlog" | tail -n 20 >&2
    die "spark-sql-kafka: mvn could not fetch org.apache.spark:spark-sql-kafka-0-10_2.12:$SPARK_VERSION and its dependencies; log: $mvnlog"
  }
  # Drop every artifact pyspark already ships, in whatever version: its own
  # (newer) slf4j-api, snappy-java, ... must be the only ones on the classpath.
  local pyspark_jars dropped=() line gav artifact version
  pyspark_jars="$("$SPARK_PYTHON" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "jars"))')"
  [[ -d "$pyspark_jars" ]] || die "pyspark: no jars directory at $pyspark_jars"
  [[ -s "$tmp/dependencies.txt" ]] || die "spark-sql-kafka: Maven wrote no dependency list; log: $mvnlog"
  while read -r line; do
    # "group:artifact:jar:version" (the list goal's format without scope), maybe " -- module ..." after it
    gav="${line%% *}"
    IFS=: read -r _ artifact _ version _ <<<"$gav"
    [[ -n "$version" && -f "$tmp/$artifact-$version.jar" ]] || continue
    if compgen -G "$pyspark_jars/$artifact-[0-9]*.jar" >/dev/null; then
      rm -f "$tmp/$artifact-$version.jar"
      dropped+=("$artifact-$version")
    fi
  done <"$tmp/dependencies.txt"
  [[ -f "$tmp/spark-sql-kafka-0-10_2.12-$SPARK_VERSION.jar" ]] \
    || die "spark-sql-kafka: Maven finished but spark-sql-kafka-0-10_2.12-$SPARK_VERSION.jar is missing; log: $mvnlog"
  rm -rf "$SPARK_JARS_DIR" && mv "$tmp" "$SPARK_JARS_DIR"
  log "spark-sql-kafka $SPARK_VERSION: $(find "$SPARK_JARS_DIR" -name '*.jar' | wc -l) jars in $SPARK_JARS_DIR: $(cd "$SPARK_JARS_DIR" && echo *.jar); pyspark has its own: ${dropped[*]:-none}"
}

timed "pyspark $SPARK_VERSION install" build_venv
timed "spark-sql-kafka $SPARK_VERSION jars" build_jars
