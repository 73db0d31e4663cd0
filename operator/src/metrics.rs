//! Prometheus metrics of the operator. Label sets are bounded: results and
//! error categories are fixed lists; pipelines are bounded by the objects
//! in the cluster and removed when a pipeline is deleted.

use prometheus::{
    Gauge, Histogram, HistogramOpts, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::crd::Phase;

pub struct Metrics {
    pub registry: Registry,
    pub reconciliations: IntCounterVec,
    pub failures: IntCounterVec,
    pub reconcile_duration: Histogram,
    pub pipelines_by_phase: IntGaugeVec,
    pub pipeline_lag: IntGaugeVec,
    pub status_refresh_interval: Gauge,
    pub workload_applies: IntCounterVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("shopstream_operator".into()), None)?;
        let reconciliations = IntCounterVec::new(
            Opts::new("reconciliations_total", "Reconciliations by result"),
            &["result"],
        )?;
        let failures = IntCounterVec::new(
            Opts::new(
                "reconcile_failures_total",
                "Failed reconciliations by error category",
            ),
            &["reason"],
        )?;
        let reconcile_duration = Histogram::with_opts(
            HistogramOpts::new(
                "reconcile_duration_seconds",
                "Duration of one reconciliation",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
        )?;
        let pipelines_by_phase =
            IntGaugeVec::new(Opts::new("pipelines", "Pipelines by phase"), &["phase"])?;
        let pipeline_lag = IntGaugeVec::new(
            Opts::new(
                "pipeline_lag_records",
                "Processor consumer lag per pipeline",
            ),
            &["namespace", "pipeline"],
        )?;
        let status_refresh_interval = Gauge::new(
            "status_refresh_interval_seconds",
            "Effective interval between status refreshes of a pipeline (--status-interval, stretched when the pipelines would need more than half of the reconcile slots)",
        )?;
        let workload_applies = IntCounterVec::new(
            Opts::new(
                "workload_applies_total",
                "Workload steps by outcome: applied (server-side apply sent) or unchanged (skipped: same desired objects, untouched since)",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(workload_applies.clone()))?;
        registry.register(Box::new(status_refresh_interval.clone()))?;
        registry.register(Box::new(reconciliations.clone()))?;
        registry.register(Box::new(failures.clone()))?;
        registry.register(Box::new(reconcile_duration.clone()))?;
        registry.register(Box::new(pipelines_by_phase.clone()))?;
        registry.register(Box::new(pipeline_lag.clone()))?;
        Ok(Self {
            registry,
            reconciliations,
            failures,
            reconcile_duration,
            pipelines_by_phase,
            pipeline_lag,
            status_refresh_interval,
            workload_applies,
        })
    }

    pub fn render(&self) -> String {
        TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# encoding failed: {e}\n"))
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
