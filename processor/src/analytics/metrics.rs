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

impl crate::http::RenderMetrics for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
}
