#!/usr/bin/env bash
# The original's Spark job against our processor, on the same pre-loaded topic,
# one after the other in one run (make bench-spark; docs/benchmarks.md).
#
#   flock -o /tmp/shopstream-bench.lock hack/bench/spark-vs-processor.sh
#
# 1. Builds what it needs once: pyspark + spark-sql-kafka jars
#    (hack/spark/build.sh, cached in $CACHE_DIR/spark-$SPARK_VERSION), the local
#    environment (hack/env-up.sh), the release generator/processor binaries.
# 2. Loads one topic with the release generator at full speed: BENCH_EVENTS
#    events 1 ms apart in event time + 1,000 closing events one day later
#    (the `preload` test of processor/tests/processor_e2e_bench.rs).
# 3. Spark (hack/spark/realtime_analytics.py): the original's three streaming
#    queries over the whole topic, Trigger.AvailableNow, noop sinks, local[2];
#    timed from the first query's start until all three have finished.
# 4. The processor (release, 1 replica, fresh consumer group and output
#    topics): the `backlog` test of the same file drains the same topic, timed
#    from process spawn until every record is consumed and every window final,
#    then checks every result against a recomputation of the topic.
# 5. Prints both rates and the ratio; exits non-zero if either side fails,
#    reads fewer records than the topic holds, or the processor's results differ.
#
# Knobs (environment): BENCH_EVENTS (default 2000000), BENCH_PARTITIONS
# (input partitions, default 3), BENCH_PARTIALS_PARTITIONS (default 6),
# SPARK_MASTER (default local[2]), SPARK_DRIVER_MEMORY (default 1g),
# SPARK_SHUFFLE_PARTITIONS (default 2, one per core of local[2]: Spark's own
# default of 200, which the original keeps, costs Spark 1.7-1.9x the CPU on this
# job; 0 = Spark's default), SPARK_VERSION (hack/lib.sh), BENCH_KEEP_TOPIC=1
# keeps the loaded topic, PROCESSOR_* (inherited by the processor).
# Measures the whole 2-core machine: run it on a quiet one, and serialise
# benchmarks with the flock above (make bench-spark takes it itself).
# shellcheck source-path=SCRIPTDIR
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
# shellcheck source=../lib.sh
source hack/lib.sh
# shellcheck source=../spark/env.sh
source hack/spark/env.sh

export BENCH_EVENTS="${BENCH_EVENTS:-2000000}"
export BENCH_PARTITIONS="${BENCH_PARTITIONS:-3}"
SPARK_MASTER="${SPARK_MASTER:-local[2]}"
SPARK_DRIVER_MEMORY="${SPARK_DRIVER_MEMORY:-1g}"
SPARK_SHUFFLE_PARTITIONS="${SPARK_SHUFFLE_PARTITIONS:-2}"

say() { printf '[bench-spark %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

run_dir="$LOG_DIR/bench-spark-$(date +%Y%m%dT%H%M%S)"
mkdir -p "$run_dir"
say "logs: $run_dir"
say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(free -g | awk '/^Mem:/ {print $2}') GiB"
say "uptime before: $(uptime)"
load1="$(cut -d' ' -f1 /proc/loadavg)"
if awk -v l="$load1" -v n="$(nproc)" 'BEGIN { exit !(l > n / 2) }'; then
  say "WARNING: load average $load1 on $(nproc) cores: other work is running, the numbers will be lower than on a quiet machine"
fi

hack/spark/build.sh
hack/env-up.sh >/dev/null 2>"$run_dir/env-up.log" || {
  tail -n 30 "$run_dir/env-up.log" >&2
  die "the local environment (Kafka) did not come up; log: $run_dir/env-up.log"
}
eval "$(hack/env.sh)"
timed "cargo build --release (processor, generator, bench)" bash -c \
  'cargo build --release -p processor --bins && cargo test --release -p integration-tests --test processor_e2e_bench --no-run'

bench_test() {
  cargo test --release -p integration-tests --test processor_e2e_bench -- \
    --ignored --nocapture --test-threads 1 --exact "$1"
}

topic="bench-spark-$(date +%s)-$$"
cleanup() {
  [[ "${BENCH_KEEP_TOPIC:-0}" == 1 ]] && return 0
  hack/kafka/kafka-cli.sh topics --bootstrap-server "$SHOPSTREAM_KAFKA_BOOTSTRAP" \
    --delete --topic "$topic" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# --- load
say "loading $topic: $BENCH_EVENTS events + closing events, $BENCH_PARTITIONS partitions"
BENCH_INPUT_TOPIC="$topic" bench_test preload >"$run_dir/preload.log" 2>&1 || {
  tail -n 30 "$run_dir/preload.log" >&2
  die "loading the topic failed; log: $run_dir/preload.log"
}
records="$(sed -n 's/.*PRELOADED .* records=\([0-9]*\).*/\1/p' "$run_dir/preload.log")"
[[ "$records" =~ ^[0-9]+$ ]] || die "the preload printed no record count; log: $run_dir/preload.log"
say "loaded $records records ($(grep -m1 'pre-loaded' "$run_dir/preload.log"))"

# --- Spark
jars="$(find "$SPARK_JARS_DIR" -name '*.jar' | sort | paste -sd, -)"
# pyspark must use its own Spark, not one the caller may have configured.
unset SPARK_HOME PYSPARK_SUBMIT_ARGS SPARK_CONF_DIR
export SPARK_LOCAL_IP=127.0.0.1
say "Spark $SPARK_VERSION ($SPARK_MASTER, shuffle partitions $SPARK_SHUFFLE_PARTITIONS): the original's three queries over $topic; uptime $(uptime | sed 's/.*load/load/')"
"$SPARK_PYTHON" hack/spark/realtime_analytics.py \
    --bootstrap-servers "$SHOPSTREAM_KAFKA_BOOTSTRAP" --topic "$topic" \
    --expected-events "$records" --jars "$jars" --master "$SPARK_MASTER" \
    --driver-memory "$SPARK_DRIVER_MEMORY" --shuffle-partitions "$SPARK_SHUFFLE_PARTITIONS" \
    >"$run_dir/spark.out" 2>"$run_dir/spark.log" || {
  tail -n 40 "$run_dir/spark.log" >&2
  die "the Spark job failed; log: $run_dir/spark.log"
}
spark_json="$(sed -n 's/^SPARK_RESULT //p' "$run_dir/spark.out")"
[[ -n "$spark_json" ]] || die "the Spark job printed no result; logs: $run_dir/spark.{out,log}"
say "Spark done; uptime $(uptime | sed 's/.*load/load/')"

# --- processor
say "processor: draining $topic (release, 1 replica, fresh group and output topics)"
BENCH_INPUT_TOPIC="$topic" bench_test backlog >"$run_dir/processor.log" 2>&1 || {
  tail -n 40 "$run_dir/processor.log" >&2
  die "the processor's run or its result check failed; log: $run_dir/processor.log"
}
grep -q '^CORRECT:' "$run_dir/processor.log" \
  || die "the processor's results were not confirmed correct; log: $run_dir/processor.log"
processor_json="$(sed -n 's/^BENCH_BACKLOG_RESULT //p' "$run_dir/processor.log")"
[[ -n "$processor_json" ]] || die "the processor run printed no result; log: $run_dir/processor.log"
say "processor done, results correct; uptime $(uptime | sed 's/.*load/load/')"

python3 - "$spark_json" "$processor_json" "$records" <<'PY' | tee "$run_dir/result.txt"
import json, sys
spark, proc, records = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
assert spark["events"] == records == proc["events"], (spark["events"], records, proc["events"])
s_rate = records / spark["seconds"]
p_rate = records / proc["seconds_from_spawn"]
def num(x):
    return "n/a" if x is None else f"{x:.1f}"
rows = [
    ("engine", "events", "seconds", "events/s", "CPU s", "peak RSS MB"),
    (f"Spark {spark['spark_version']} ({spark['master']})", f"{records:,}", f"{spark['seconds']:.1f}",
     f"{s_rate:,.0f}", num(spark["jvm_cpu_seconds"]), num(spark["jvm_peak_rss_mb"])),
    ("processor (release, 1 replica)", f"{records:,}", f"{proc['seconds_from_spawn']:.1f}",
     f"{p_rate:,.0f}", f"{proc['cpu_seconds']:.1f}", f"{proc['peak_rss_mb']:.1f}"),
]
widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
for r in rows:
    print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
print(f"ratio: processor {p_rate / s_rate:.1f}x Spark's events/s", end="")
if spark["jvm_cpu_seconds"]:
    # CPU per event depends far less on what else runs on the machine than wall time.
    print(f"; Spark used {spark['jvm_cpu_seconds'] / proc['cpu_seconds']:.1f}x the processor's CPU seconds", end="")
print()
q = spark["queries"]
print("Spark: " + ", ".join(f"{n} {v['seconds']:.1f} s ({v['batches']} batches)" for n, v in q.items())
      + f"; sinks {spark['sink']}, shuffle partitions {spark['shuffle_partitions']}; "
      f"unique_customers via {spark['distinct_users']} (Spark rejects exact distinct counts on streams); "
      f"seconds from the first query's start to the last one's end; "
      f"JVM + SparkSession start {spark['session_start_seconds']:.1f} s before that, not counted")
print(f"processor: seconds from process spawn until every record was consumed and every window "
      f"final ({proc['seconds_from_first_record']:.1f} s from its first record); results equal to the recompute")
PY
say "uptime after: $(uptime)"
