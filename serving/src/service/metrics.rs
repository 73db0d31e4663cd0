//! `shopstream_serving_*` metrics.

use prometheus::{Histogram, IntCounter, IntCounterVec, IntGauge};
use shopstream_common::metrics::{Binary, MetricRegistry};

use crate::records::Output;

#[derive(Clone)]
pub struct Metrics {
    pub registry: MetricRegistry,
    /// Records parsed, by output (5 values).
    pub records: IntCounterVec,
    /// Records skipped as unreadable, by output.
    pub records_skipped: IntCounterVec,
    pub redis_batches: IntCounter,
    pub redis_writes: IntCounter,
    pub redis_write_failures: IntCounter,
    pub redis_write_seconds: Histogram,
    pub redis_up: IntGauge,
    pub kafka_up: IntGauge,
    pub kafka_errors: IntCounter,
    pub commit_failures: IntCounter,
    /// Records of the output topics not written to Redis yet.
    pub lag_records: IntGauge,
    /// The processor's lag on the input topic, and the input's rate.
    pub pipeline_input_lag_records: IntGauge,
    pub pipeline_input_events_per_second: IntGauge,
}

impl Metrics {
    /// Records written to Redis so far, all outputs.
    pub fn records_written(&self) -> u64 {
        Output::ALL
            .iter()
            .map(|output| self.records.with_label_values(&[output.name()]).get())
            .sum()
    }

    pub fn new() -> prometheus::Result<Metrics> {
        let registry = MetricRegistry::new(Binary::Serving)?;
        Ok(Metrics {
            records: registry.counter_vec(
                "records_total",
                "Output records written to Redis, by output",
                &["output"],
            )?,
            records_skipped: registry.counter_vec(
                "records_skipped_total",
                "Output records that are not records of their topic, skipped",
                &["output"],
            )?,
            redis_batches: registry
                .counter("redis_batches_total", "MULTI/EXEC batches Redis acknowledged")?,
            redis_writes: registry.counter(
                "redis_writes_total",
                "Key writes (SET, HSET, ZADD) Redis acknowledged",
            )?,
            redis_write_failures: registry.counter(
                "redis_write_failures_total",
                "Batches Redis did not acknowledge (retried with backoff)",
            )?,
            redis_write_seconds: registry.seconds_histogram(
                "redis_write_seconds",
                "Time to write one batch to Redis",
                vec![0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
            )?,
            redis_up: registry.int_gauge("redis_up", "1 while the last Redis call succeeded")?,
            kafka_up: registry.int_gauge(
                "kafka_up",
                "1 while the last Kafka metadata and offsets probe succeeded",
            )?,
            kafka_errors: registry.counter(
                "kafka_errors_total",
                "Errors reported by the Kafka consumer or the probe",
            )?,
            commit_failures: registry.counter(
                "commit_failures_total",
                "Offset commits that failed after Redis acknowledged (the records are written again, idempotently)",
            )?,
            lag_records: registry.int_gauge(
                "lag_records",
                "Records of the output topics not yet in Redis (end offsets minus committed)",
            )?,
            pipeline_input_lag_records: registry.int_gauge(
                "pipeline_input_lag_records",
                "The processor's lag on the input topic (end offsets minus its committed offsets)",
            )?,
            pipeline_input_events_per_second: registry.int_gauge(
                "pipeline_input_events_per_second",
                "Records appended to the input topic per second",
            )?,
            registry,
        })
    }
}
