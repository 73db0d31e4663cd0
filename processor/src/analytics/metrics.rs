//! Prometheus metrics of the processor, all named `shopstream_processor_*`.

use prometheus::{Gauge, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec};
use shopstream_common::metrics::{Binary, MetricRegistry};

/// Values of the `output` label of `shopstream_processor_records_produced_total`.
pub const OUTPUTS: [&str; 7] = [
    "sales",
    "segments",
    "hourly",
    "top_products",
    "anomalies",
    "dead_letter",
    "partials",
];

/// Values of the `type` label of `shopstream_processor_alerts_total`.
pub const ALERT_TYPES: [&str; 3] = [
    "dead_letter_rate",
    "high_value_anomaly_burst",
    "window_close_slow",
];

pub struct Metrics {
    registry: MetricRegistry,
    pub consumed: IntCounter,
    pub produced: IntCounterVec,
    pub invalid: IntCounter,
    pub late: IntCounterVec,
    pub latency: HistogramVec,
    pub watermark: Gauge,
    pub partition_lag: IntGaugeVec,
    pub aborted: IntCounter,
    pub open_windows: IntGauge,
    pub segment_overflow: IntCounter,
    pub invalid_by_reason: IntCounterVec,
    pub transaction_open: IntGauge,
    pub merge_partition_lag: IntGaugeVec,
    pub merge_state_bytes: IntGauge,
    /// Users whose history (CLV input) this replica's stage 2 holds.
    pub user_histories: IntGauge,
    pub merge_state_bound_bytes: IntGauge,
    pub windows_closed_early: IntCounter,
    pub commit_failures: IntCounter,
    pub merge_rewinds: IntCounter,
    pub input_partitions: IntGauge,
    pub watermark_holding: IntGauge,
    /// Alerts stage 2 wrote to the alerts topic, by type.
    pub alerts: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = MetricRegistry::new(Binary::Processor)?;
        let consumed = registry.counter(
            "events_consumed_total",
            "Input records consumed by stage 1 (valid or not).",
        )?;
        let produced = registry.counter_vec(
            "records_produced_total",
            "Records written, by output.",
            &["output"],
        )?;
        let invalid = registry.counter(
            "invalid_events_total",
            "Input records sent to the dead-letter topic.",
        )?;
        let late = registry.counter_vec(
            "late_events_total",
            "Events that arrived for an already final window (never folded in), by the \
                 windowed output they were late for.",
            &["output"],
        )?;
        let latency = registry.seconds_histogram_vec(
            "end_to_end_latency_seconds",
            "Wall-clock delay of a result beyond its deadline, by output: window end + \
                 allowed lateness for the windowed outputs, event time for anomalies.",
            &["output"],
            vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ],
        )?;
        let watermark = registry.gauge(
            "watermark_seconds",
            "Smallest event-time watermark over the partials partitions this replica merges.",
        )?;
        let partition_lag = registry.int_gauge_vec(
            "partition_lag_records",
            "Input-topic consumer lag per assigned partition, as the consumer sees it.",
            &["partition"],
        )?;
        let aborted = registry.counter(
            "transactions_aborted_total",
            "Stage 1 transactions aborted (the batch is re-read).",
        )?;
        let open_windows = registry.int_gauge(
            "open_windows",
            "Windows held open by stage 2 on this replica.",
        )?;
        let segment_overflow = registry.counter(
            "segment_overflow_events_total",
            "Events whose user segment was folded into the `(other)` group because a segment \
             window already had PROCESSOR_MAX_SEGMENTS_PER_WINDOW distinct segments.",
        )?;
        let invalid_by_reason = registry.counter_vec(
            "invalid_events_by_reason_total",
            "Input records sent to the dead-letter topic, by reason class.",
            &["reason"],
        )?;
        let transaction_open = registry.int_gauge(
            "transaction_open",
            "1 while a stage 1 transaction is open (between begin and commit or abort).",
        )?;
        let merge_partition_lag = registry.int_gauge_vec(
            "merge_partition_lag_records",
            "Partials-topic consumer lag of stage 2 per assigned partition.",
            &["partition"],
        )?;
        let merge_state_bytes = registry.int_gauge(
            "merge_state_bytes",
            "Estimated heap bytes of stage 2's open windows on this replica.",
        )?;
        let user_histories = registry.int_gauge(
            "user_histories",
            "Users whose purchase history stage 2 of this replica holds (0 without the \
             user-history topic).",
        )?;
        let merge_state_bound_bytes = registry.int_gauge(
            "merge_state_bound_bytes",
            "Bound of shopstream_processor_merge_state_bytes; at it the oldest windows close early.",
        )?;
        let windows_closed_early = registry.counter(
            "windows_closed_early_total",
            "Windows stage 2 closed before the watermark passed them, at its memory bound.",
        )?;
        let commit_failures = registry.counter(
            "offset_commit_failures_total",
            "Stage 2 offset commits the broker rejected (per partition); retried.",
        )?;
        let merge_rewinds = registry.counter(
            "merge_rewinds_total",
            "Times stage 2 re-read from its committed offsets after results could not be \
             delivered.",
        )?;
        let input_partitions = registry.int_gauge(
            "input_partitions",
            "Input-topic partitions stage 2 counts in the watermark.",
        )?;
        let watermark_holding = registry.int_gauge(
            "watermark_holding_partitions",
            "Input partitions holding stage 2's watermark back (no data yet, or at the minimum).",
        )?;
        let alerts = registry.counter_vec(
            "alerts_total",
            "Alerts stage 2 wrote to the pipeline's alerts topic, by type (a window emitted \
                 again after a restart writes its count alerts again).",
            &["type"],
        )?;
        for alert in ALERT_TYPES {
            alerts.with_label_values(&[alert]);
        }
        for reason in super::validate::REASON_CLASSES {
            invalid_by_reason.with_label_values(&[reason]);
        }
        for output in OUTPUTS {
            produced.with_label_values(&[output]);
        }
        for output in &OUTPUTS[..4] {
            late.with_label_values(&[output]);
        }
        // Pre-registered so every series is exported from the start; these
        // five are the only values (bounded cardinality).
        for output in &OUTPUTS[..5] {
            latency.with_label_values(&[output]);
        }
        Ok(Metrics {
            registry,
            consumed,
            produced,
            invalid,
            late,
            latency,
            watermark,
            partition_lag,
            aborted,
            open_windows,
            segment_overflow,
            invalid_by_reason,
            transaction_open,
            merge_partition_lag,
            merge_state_bytes,
            user_histories,
            merge_state_bound_bytes,
            windows_closed_early,
            commit_failures,
            merge_rewinds,
            input_partitions,
            watermark_holding,
            alerts,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        self.registry.render()
    }
}

impl shopstream_common::http::RenderMetrics for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
}
