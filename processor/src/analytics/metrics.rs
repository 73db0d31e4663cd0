//! Prometheus metrics of the processor.

use prometheus::{
    Encoder, Gauge, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

/// Values of the `output` label of `processor_records_produced_total`.
pub const OUTPUTS: [&str; 7] = [
    "sales",
    "segments",
    "hourly",
    "top_products",
    "anomalies",
    "dead_letter",
    "partials",
];

pub struct Metrics {
    registry: Registry,
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
    pub merge_state_bound_bytes: IntGauge,
    pub windows_closed_early: IntCounter,
    pub commit_failures: IntCounter,
    pub merge_rewinds: IntCounter,
    pub input_partitions: IntGauge,
    pub watermark_holding: IntGauge,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let consumed = IntCounter::new(
            "processor_events_consumed_total",
            "Input records consumed by stage 1 (valid or not).",
        )?;
        let produced = IntCounterVec::new(
            Opts::new(
                "processor_records_produced_total",
                "Records written, by output.",
            ),
            &["output"],
        )?;
        let invalid = IntCounter::new(
            "processor_invalid_events_total",
            "Input records sent to the dead-letter topic.",
        )?;
        let late = IntCounterVec::new(
            Opts::new(
                "processor_late_events_total",
                "Events that arrived for an already final window (never folded in), by the \
                 windowed output they were late for.",
            ),
            &["output"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "processor_end_to_end_latency_seconds",
                "Wall-clock delay of a result beyond its deadline, by output: window end + \
                 allowed lateness for the windowed outputs, event time for anomalies.",
            )
            .buckets(vec![
                0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
            ]),
            &["output"],
        )?;
        let watermark = Gauge::new(
            "processor_watermark_seconds",
            "Smallest event-time watermark over the partials partitions this replica merges.",
        )?;
        let partition_lag = IntGaugeVec::new(
            Opts::new(
                "processor_partition_lag",
                "Input-topic consumer lag per assigned partition, as the consumer sees it.",
            ),
            &["partition"],
        )?;
        let aborted = IntCounter::new(
            "processor_transactions_aborted_total",
            "Stage 1 transactions aborted (the batch is re-read).",
        )?;
        let open_windows = IntGauge::new(
            "processor_open_windows",
            "Windows held open by stage 2 on this replica.",
        )?;
        let segment_overflow = IntCounter::new(
            "processor_segment_overflow_events_total",
            "Events whose user segment was folded into the `(other)` group because a segment \
             window already had PROCESSOR_MAX_SEGMENTS_PER_WINDOW distinct segments.",
        )?;
        let invalid_by_reason = IntCounterVec::new(
            Opts::new(
                "processor_invalid_events_by_reason_total",
                "Input records sent to the dead-letter topic, by reason class.",
            ),
            &["reason"],
        )?;
        let transaction_open = IntGauge::new(
            "processor_transaction_open",
            "1 while a stage 1 transaction is open (between begin and commit or abort).",
        )?;
        let merge_partition_lag = IntGaugeVec::new(
            Opts::new(
                "processor_merge_partition_lag",
                "Partials-topic consumer lag of stage 2 per assigned partition.",
            ),
            &["partition"],
        )?;
        let merge_state_bytes = IntGauge::new(
            "processor_merge_state_bytes",
            "Estimated heap bytes of stage 2's open windows on this replica.",
        )?;
        let merge_state_bound_bytes = IntGauge::new(
            "processor_merge_state_bound_bytes",
            "Bound of processor_merge_state_bytes; at it the oldest windows close early.",
        )?;
        let windows_closed_early = IntCounter::new(
            "processor_windows_closed_early_total",
            "Windows stage 2 closed before the watermark passed them, at its memory bound.",
        )?;
        let commit_failures = IntCounter::new(
            "processor_offset_commit_failures_total",
            "Stage 2 offset commits the broker rejected (per partition); retried.",
        )?;
        let merge_rewinds = IntCounter::new(
            "processor_merge_rewinds_total",
            "Times stage 2 re-read from its committed offsets after results could not be \
             delivered.",
        )?;
        let input_partitions = IntGauge::new(
            "processor_input_partitions",
            "Input-topic partitions stage 2 counts in the watermark.",
        )?;
        let watermark_holding = IntGauge::new(
            "processor_watermark_holding_partitions",
            "Input partitions holding stage 2's watermark back (no data yet, or at the minimum).",
        )?;
        registry.register(Box::new(invalid_by_reason.clone()))?;
        registry.register(Box::new(transaction_open.clone()))?;
        registry.register(Box::new(merge_partition_lag.clone()))?;
        registry.register(Box::new(merge_state_bytes.clone()))?;
        registry.register(Box::new(merge_state_bound_bytes.clone()))?;
        registry.register(Box::new(windows_closed_early.clone()))?;
        registry.register(Box::new(commit_failures.clone()))?;
        registry.register(Box::new(merge_rewinds.clone()))?;
        registry.register(Box::new(input_partitions.clone()))?;
        registry.register(Box::new(watermark_holding.clone()))?;
        for reason in super::validate::REASON_CLASSES {
            invalid_by_reason.with_label_values(&[reason]);
        }
        registry.register(Box::new(consumed.clone()))?;
        registry.register(Box::new(produced.clone()))?;
        registry.register(Box::new(invalid.clone()))?;
        registry.register(Box::new(late.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(watermark.clone()))?;
        registry.register(Box::new(partition_lag.clone()))?;
        registry.register(Box::new(aborted.clone()))?;
        registry.register(Box::new(open_windows.clone()))?;
        registry.register(Box::new(segment_overflow.clone()))?;
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
            merge_state_bound_bytes,
            windows_closed_early,
            commit_failures,
            merge_rewinds,
            input_partitions,
            watermark_holding,
        })
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buf) {
            tracing::warn!(error = %e, "encoding metrics failed");
        }
        String::from_utf8_lossy(&buf).into_owned()
    }
}

impl shopstream_common::http::RenderMetrics for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
}
