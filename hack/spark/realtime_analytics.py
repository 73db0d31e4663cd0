"""The original design's Spark job, ported for the comparison benchmark.

The original (`RealTimeAnalyticsProcessor` in the design document of the
docker-compose system this project replaces) parses purchase events from
Kafka with a fixed schema and a 10 s watermark and runs three streaming
queries on them: 1-minute sales by category x region, 2-minute metrics per
user segment, and high-value transactions (`final_amount > 50000`). This is
our own port of that job, with the changes a benchmark needs and nothing
else:

* the whole topic is read once, from the earliest offsets, with
  ``Trigger.AvailableNow`` (the original tails the topic from ``latest`` with
  processing-time triggers and console sinks, which cannot be timed);
* the sinks are Spark's ``noop`` sink: every result row is computed and
  handed to the sink, which discards it, so the time measured is reading,
  parsing and aggregating, not printing or writing;
* ``unique_customers`` is ``approx_count_distinct`` (HyperLogLog++, ~5 %
  relative error): Spark rejects exact ``countDistinct`` on streaming
  DataFrames, so the original's query does not run as written;
* ``spark.sql.shuffle.partitions`` comes from the caller (the benchmark
  uses 2, one per core of ``local[2]``; the original keeps Spark's 200, which
  makes every micro-batch of the two aggregations run 200 tiny tasks with a
  state store each);
* ``product_id`` is read as a string: the events of this project's generator
  carry ids such as ``P001`` (the original's integer column is not used by
  any of the three queries).

Prints one line ``SPARK_RESULT {json}`` on stdout; exits non-zero when a
query fails, when a query did not read every record of the topic, or when a
sample of the topic does not parse with the schema (which would make Spark
aggregate nulls, i.e. measure nothing).
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

# The original's schema, field for field (product_id: see the module doc).
PURCHASE_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), True),
        T.StructField("timestamp", T.StringType(), True),
        T.StructField("user_id", T.StringType(), True),
        T.StructField("user_segment", T.StringType(), True),
        T.StructField("product_id", T.StringType(), True),
        T.StructField("product_name", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("quantity", T.IntegerType(), True),
        T.StructField("unit_price", T.DoubleType(), True),
        T.StructField("base_amount", T.DoubleType(), True),
        T.StructField("discount_rate", T.DoubleType(), True),
        T.StructField("discount_amount", T.DoubleType(), True),
        T.StructField("final_amount", T.DoubleType(), True),
        T.StructField("region", T.StringType(), True),
        T.StructField("device", T.StringType(), True),
        T.StructField("payment_method", T.StringType(), True),
    ]
)

WATERMARK = "10 seconds"
ANOMALY_THRESHOLD = 50000
# Fields the three queries group, filter or aggregate on: a sample of the
# topic must have them all, or the measurement would be of nulls.
REQUIRED_FIELDS = ("timestamp", "user_id", "user_segment", "category", "region",
                   "quantity", "discount_rate", "final_amount")


def session(args: argparse.Namespace, work_dir: str) -> SparkSession:
    builder = (
        SparkSession.builder.appName("RealTimeAnalytics")
        .master(args.master)
        .config("spark.jars", ",".join(args.jars))
        .config("spark.driver.memory", args.driver_memory)
        .config("spark.local.dir", os.path.join(work_dir, "local"))
        # As in the original (adaptive execution does not apply to streaming
        # queries, so these change nothing measured).
        .config("spark.streaming.stopGracefullyOnShutdown", "true")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        # Keep every micro-batch's progress, for the record count check.
        .config("spark.sql.streaming.numRecentProgressUpdates", "10000")
        # No web UI (nothing reads it, and parallel runs would fight over
        # port 4040) and no progress bars in the log.
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # Everything on loopback, like the broker.
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
    )
    if args.shuffle_partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(args.shuffle_partitions))
    return builder.getOrCreate()


def kafka_stream(spark: SparkSession, args: argparse.Namespace) -> DataFrame:
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap_servers)
        .option("subscribe", args.topic)
        .option("startingOffsets", "earliest")
        # A benchmark must not silently skip records (the original: false).
        .option("failOnDataLoss", "true")
        .load()
    )


def parse_events(raw: DataFrame) -> DataFrame:
    return (
        raw.select(F.from_json(F.col("value").cast("string"), PURCHASE_SCHEMA).alias("data"))
        .select("data.*")
        .withColumn("timestamp", F.to_timestamp(F.col("timestamp")))
        .withWatermark("timestamp", WATERMARK)
    )


def sales_metrics(events: DataFrame) -> DataFrame:
    """1-minute sales per category x region."""
    return (
        events.groupBy(F.window(F.col("timestamp"), "1 minute"), F.col("category"), F.col("region"))
        .agg(
            F.count("*").alias("order_count"),
            F.sum("final_amount").alias("total_sales"),
            F.avg("final_amount").alias("avg_order_value"),
            # Exact countDistinct is rejected on streams (see module doc).
            F.approx_count_distinct("user_id").alias("unique_customers"),
        )
        .withColumn("window_start", F.col("window.start"))
        .withColumn("window_end", F.col("window.end"))
        .drop("window")
    )


def segment_metrics(events: DataFrame) -> DataFrame:
    """2-minute metrics per user segment."""
    return (
        events.groupBy(F.window(F.col("timestamp"), "2 minutes"), F.col("user_segment"))
        .agg(
            F.count("*").alias("orders"),
            F.sum("final_amount").alias("revenue"),
            F.avg("discount_rate").alias("avg_discount"),
            F.sum("quantity").alias("total_items"),
        )
        .withColumn("revenue_per_order", F.col("revenue") / F.col("orders"))
        .withColumn("window_start", F.col("window.start"))
        .drop("window")
    )


def anomalies(events: DataFrame) -> DataFrame:
    """High-value transactions."""
    return events.filter(F.col("final_amount") > ANOMALY_THRESHOLD).select(
        F.col("event_id"),
        F.col("timestamp"),
        F.col("user_id"),
        F.col("product_name"),
        F.col("final_amount"),
        F.col("region"),
        F.lit("high_value_transaction").alias("anomaly_type"),
    )


def check_sample(spark: SparkSession, args: argparse.Namespace) -> int:
    """Parses the first records of the topic (a batch read that stops after
    `limit` rows) and fails unless every field the queries use is set."""
    raw = (
        spark.read.format("kafka")
        .option("kafka.bootstrap.servers", args.bootstrap_servers)
        .option("subscribe", args.topic)
        .option("startingOffsets", "earliest")
        .option("endingOffsets", "latest")
        .load()
    )
    rows = parse_events(raw).limit(args.sample).collect()
    if not rows:
        fail(f"topic {args.topic} is empty")
    for row in rows:
        missing = [f for f in REQUIRED_FIELDS if row[f] is None]
        if missing:
            fail(f"an event of {args.topic} does not parse with the original's schema "
                 f"(null {', '.join(missing)}): {row.asDict()}")
    return len(rows)


def jvm_pid(spark: SparkSession):
    """The driver JVM's pid (pyspark's launcher execs java in the process it
    started), or None when this pyspark does not expose it."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)  # noqa: SLF001
    return getattr(proc, "pid", None)


def proc_status_kb(pid, field: str):
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def proc_cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def fail(message: str):
    print(f"spark job: ERROR: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def run(args: argparse.Namespace, work_dir: str) -> dict:
    t_launch = time.monotonic()
    spark = session(args, work_dir)
    spark.sparkContext.setLogLevel("WARN")
    session_s = time.monotonic() - t_launch
    pid = jvm_pid(spark)
    sampled = check_sample(spark, args)

    events = parse_events(kafka_stream(spark, args))
    plans = {
        "sales_metrics": sales_metrics(events),
        "segment_metrics": segment_metrics(events),
        "anomaly_detection": anomalies(events),
    }
    cpu_before = proc_cpu_seconds(pid) if pid else None
    t0 = time.monotonic()
    queries = {}
    for name, df in plans.items():
        queries[name] = (
            df.writeStream.format("noop")
            .outputMode("update")
            .trigger(availableNow=True)
            .queryName(name)
            .option("checkpointLocation", os.path.join(work_dir, "checkpoints", name))
            .start()
        )
    # Poll rather than await one after the other, to get each query's own end.
    finished = {}
    while len(finished) < len(queries):
        for name, q in queries.items():
            if name not in finished and not q.isActive:
                finished[name] = time.monotonic() - t0
        if time.monotonic() - t0 > args.timeout:
            for q in queries.values():
                q.stop()
            fail(f"the queries did not finish within {args.timeout} s")
        time.sleep(0.02)
    seconds = max(finished.values())
    cpu_after = proc_cpu_seconds(pid) if pid else None

    per_query = {}
    for name, q in queries.items():
        err = q.exception()
        if err is not None:
            fail(f"query {name} failed: {err}")
        progress = q.recentProgress
        rows = sum(p["numInputRows"] for p in progress)
        per_query[name] = {"seconds": round(finished[name], 3), "input_rows": rows,
                           "batches": len(progress)}
        if args.expected_events is not None and rows != args.expected_events:
            fail(f"query {name} read {rows} records, the topic holds {args.expected_events}")
    result = {
        "spark_version": spark.version,
        "master": args.master,
        "shuffle_partitions": int(spark.conf.get("spark.sql.shuffle.partitions")),
        "sink": "noop",
        "distinct_users": "approx_count_distinct",
        "events": args.expected_events,
        "seconds": round(seconds, 3),
        "events_per_second": round(args.expected_events / seconds) if args.expected_events else None,
        "session_start_seconds": round(session_s, 3),
        "sample_rows_checked": sampled,
        "queries": per_query,
        "jvm_cpu_seconds": round(cpu_after - cpu_before, 2) if cpu_before is not None and cpu_after is not None else None,
        "jvm_peak_rss_mb": round(proc_status_kb(pid, "VmHWM:") / 1024, 1) if pid and proc_status_kb(pid, "VmHWM:") else None,
    }
    spark.stop()
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    p.add_argument("--bootstrap-servers", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--expected-events", type=int,
                   help="records in the topic; every query must read exactly this many")
    p.add_argument("--jars", required=True, type=lambda s: [j for j in s.split(",") if j],
                   help="comma-separated jars for spark.jars (spark-sql-kafka and its dependencies)")
    p.add_argument("--master", default="local[2]")
    p.add_argument("--driver-memory", default="1g")
    p.add_argument("--shuffle-partitions", type=int, default=0,
                   help="spark.sql.shuffle.partitions (0: Spark's default, 200, as in the original)")
    p.add_argument("--sample", type=int, default=1000, help="records parsed before timing, as a schema check")
    p.add_argument("--timeout", type=float, default=1800.0, help="seconds before the queries are stopped")
    args = p.parse_args()
    work_dir = tempfile.mkdtemp(prefix="shopstream-spark-")
    try:
        result = run(args, work_dir)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    print("SPARK_RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
