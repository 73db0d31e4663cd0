//! Prometheus metrics of the operator. Label sets are bounded: results and
//! error categories are fixed lists; pipelines are bounded by the objects
//! in the cluster and removed when a pipeline is deleted.

use prometheus::{Gauge, GaugeVec, Histogram, IntCounter, IntCounterVec, IntGaugeVec};
use shopstream_common::metrics::{Binary, MetricRegistry};

use crate::crd::{LagVerdict, Phase};

pub struct Metrics {
    pub registry: MetricRegistry,
    pub reconciliations: IntCounterVec,
    pub failures: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub pipelines_by_phase: IntGaugeVec,
    pub pipeline_lag: IntGaugeVec,
    pub pipeline_lag_seconds: GaugeVec,
    pub pipeline_lag_verdict: IntGaugeVec,
    pub status_refresh_interval: Gauge,
    pub workload_applies: IntCounterVec,
    pub lag_verdict_changes: IntCounterVec,
    pub alerts_written: IntCounter,
    pub autoscaler_changes: IntCounterVec,
    pub alerts_dropped: IntCounter,
    pub alert_write_failures: IntCounter,
    /// Events raised for alerts the processors wrote, by reason.
    pub processor_alert_events: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = MetricRegistry::new(Binary::Operator)?;
        let workload_applies = registry.counter_vec(
            "workload_applies_total",
            "Workload steps by outcome: applied (server-side apply sent) or unchanged (skipped: same desired objects, untouched since)",
            &["outcome"],
        )?;
        let status_refresh_interval = registry.gauge(
            "status_refresh_interval_seconds",
            "Effective interval between status refreshes of a pipeline (--status-interval, stretched when the pipelines would need more than half of the reconcile slots)",
        )?;
        let reconciliations = registry.counter_vec(
            "reconciliations_total",
            "Reconciliations by result",
            &["result"],
        )?;
        let failures = registry.counter_vec(
            "reconcile_failures_total",
            "Failed reconciliations by error category",
            &["reason"],
        )?;
        let reconcile_duration = registry.seconds_histogram(
            "reconcile_duration_seconds",
            "Duration of one reconciliation",
            vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
        )?;
        let pipelines_by_phase =
            registry.int_gauge_vec("pipelines", "Pipelines by phase", &["phase"])?;
        let pipeline_lag = registry.int_gauge_vec(
            "pipeline_lag_records",
            "Processor consumer lag per pipeline",
            &["namespace", "pipeline"],
        )?;
        let pipeline_lag_seconds = registry.gauge_vec(
            "pipeline_lag_seconds",
            "Age of the oldest input record the processor has not consumed, per pipeline (0 when caught up)",
            &["namespace", "pipeline"],
        )?;
        // One series per verdict (1 for the current one), so that alerts can
        // select `verdict=~"STALL|STOP"` without knowing an encoding.
        let pipeline_lag_verdict = registry.int_gauge_vec(
            "pipeline_lag_verdict",
            "1 for the current overall lag verdict of a pipeline's processor (OK, WARN, STALL, STOP), 0 for the others",
            &["namespace", "pipeline", "verdict"],
        )?;
        let lag_verdict_changes = registry.counter_vec(
            "lag_verdict_changes_total",
            "Changes of a consumer group's lag verdict, by the verdict changed to (OK, WARN, STALL, STOP)",
            &["verdict"],
        )?;
        let alerts_written = registry.counter(
            "alerts_written_total",
            "Alerts written to the pipelines' alerts topics",
        )?;
        let alerts_dropped = registry.counter(
            "alerts_dropped_total",
            "Alerts dropped unwritten because too many waited for an unreachable Kafka",
        )?;
        let alert_write_failures = registry.counter(
            "alert_write_failures_total",
            "Failed writes to an alerts topic (the alerts wait for the next reconcile)",
        )?;
        let processor_alert_events = registry.counter_vec(
            "processor_alert_events_total",
            "Events raised for alerts the processors wrote to the alerts topics, by reason",
            &["reason"],
        )?;
        for reason in [
            "DeadLetterRateHigh",
            "HighValueAnomalyBurst",
            "WindowCloseSlow",
        ] {
            processor_alert_events.with_label_values(&[reason]);
        }
        let autoscaler_changes = registry.counter_vec(
            "autoscaler_changes_total",
            "Processor replica changes the autoscaler made, by direction (up, down)",
            &["direction"],
        )?;
        Ok(Self {
            autoscaler_changes,
            lag_verdict_changes,
            alerts_written,
            alerts_dropped,
            alert_write_failures,
            processor_alert_events,
            registry,
            reconciliations,
            failures,
            reconcile_duration,
            pipelines_by_phase,
            pipeline_lag,
            pipeline_lag_seconds,
            pipeline_lag_verdict,
            status_refresh_interval,
            workload_applies,
        })
    }

    pub fn render(&self) -> String {
        self.registry.render()
    }

    /// Sets the per-pipeline lag gauges from a status refresh.
    pub fn set_pipeline_lag(
        &self,
        namespace: &str,
        pipeline: &str,
        records: Option<i64>,
        seconds: Option<f64>,
        verdict: Option<LagVerdict>,
    ) {
        if let Some(records) = records {
            self.pipeline_lag
                .with_label_values(&[namespace, pipeline])
                .set(records);
        }
        if let Some(seconds) = seconds {
            self.pipeline_lag_seconds
                .with_label_values(&[namespace, pipeline])
                .set(seconds);
        }
        if let Some(verdict) = verdict {
            for v in LagVerdict::ALL {
                self.pipeline_lag_verdict
                    .with_label_values(&[namespace, pipeline, v.as_str()])
                    .set(i64::from(v == verdict));
            }
        }
    }

    /// Drops a deleted pipeline's series, so the label sets stay bounded by
    /// the pipelines that exist.
    pub fn forget_pipeline(&self, namespace: &str, pipeline: &str) {
        let _ = self
            .pipeline_lag
            .remove_label_values(&[namespace, pipeline]);
        let _ = self
            .pipeline_lag_seconds
            .remove_label_values(&[namespace, pipeline]);
        for v in LagVerdict::ALL {
            let _ =
                self.pipeline_lag_verdict
                    .remove_label_values(&[namespace, pipeline, v.as_str()]);
        }
    }

    pub fn phase_label(phase: Phase) -> &'static str {
        match phase {
            Phase::Pending => "Pending",
            Phase::Provisioning => "Provisioning",
            Phase::Running => "Running",
            Phase::Degraded => "Degraded",
            Phase::Failed => "Failed",
        }
    }
}

impl shopstream_common::http::RenderMetrics for Metrics {
    fn render(&self) -> String {
        Metrics::render(self)
    }
}
