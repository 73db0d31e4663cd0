//! The state shared by every reconcile.

use std::sync::OnceLock;
use std::time::Duration;

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;

use crate::crd::{AnalyticsPipeline, AnalyticsPipelineStatus, Phase};
use crate::kafka::KafkaConnections;
use crate::metrics::Metrics;
use crate::model::DefaultImages;
use crate::pipeline_state::{PHASES, PipelineStates};
use crate::refresh_pacer::RefreshPacer;
use crate::status::merge::MergeSummary;
use crate::strimzi_api::StrimziApi;

/// Settings from the operator's command line.
#[derive(Clone, Debug)]
pub struct Settings {
    pub images: DefaultImages,
    /// How often lag and throughput are refreshed when nothing changes.
    pub status_interval: Duration,
    /// How long the merge stage may make no progress, with partials
    /// waiting, before it counts as stalled.
    pub merge_stall_timeout: Duration,
    /// The window of lag samples a lag verdict judges (`--lag-window`).
    pub lag_window: Duration,
    /// Reconciles running at once (`--concurrency`).
    pub concurrency: u16,
    /// The operator's own Kafka credential (`--kafka-*`, chart
    /// `kafka.operatorCredentials`); `None`: each pipeline's.
    pub operator_kafka: Option<crate::kafka_security::operator_credential::OperatorCredential>,
}

pub struct Context {
    pub client: Client,
    pub kafka: KafkaConnections,
    pub recorder: Recorder,
    pub metrics: Metrics,
    pub settings: Settings,
    /// What the operator remembers per pipeline (failures, rates, phase,
    /// what was applied and written): one entry each, forgotten as a whole.
    pub state: PipelineStates,
    /// Paces the periodic status refreshes.
    pub refresh: RefreshPacer,
    /// Strimzi's KafkaTopic API, discovered once.
    pub strimzi: StrimziApi,
    /// The controller's cache of every pipeline it watches, once it runs.
    pub pipelines: OnceLock<Store<AnalyticsPipeline>>,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: "shopstream-operator".into(),
            instance: std::env::var(shopstream_common::contract::shared::POD_NAME).ok(),
        };
        Self {
            refresh: RefreshPacer::new(settings.status_interval, settings.concurrency),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            kafka: KafkaConnections::default()
                .with_operator_credential(settings.operator_kafka.clone()),
            metrics,
            settings,
            state: PipelineStates::default(),
            strimzi: StrimziApi::default(),
            pipelines: OnceLock::new(),
        }
    }

    /// `p` with the status last written for it, when the
    /// cache may not have caught up with that write yet.
    pub fn freshest(&self, p: &AnalyticsPipeline) -> Option<AnalyticsPipeline> {
        let status = self.state.freshen(&crate::model::pipeline_key(p), p)?;
        Some(AnalyticsPipeline {
            status: Some(status),
            ..p.clone()
        })
    }

    /// The statuses of every watched pipeline but `key`, by
    /// `namespace/name`.
    pub fn other_statuses(&self, key: &str) -> Vec<(String, AnalyticsPipelineStatus)> {
        let Some(store) = self.pipelines.get() else {
            return Vec::new();
        };
        store
            .state()
            .iter()
            .filter_map(|p| {
                let other = crate::model::pipeline_key(p);
                let status = p.status.clone()?;
                (other != key).then_some((other, status))
            })
            .collect()
    }

    /// Records the merge stage's progress; returns how long it has made
    /// none while partials waited (`None`: it moves, or is caught up).
    pub fn observe_merge(&self, key: &str, summary: &MergeSummary) -> Option<Duration> {
        self.state.observe_merge(key, summary)
    }

    pub fn set_phase(&self, key: &str, phase: Phase) {
        let counts = self.state.set_phase(key, phase);
        for (phase, count) in PHASES.iter().zip(counts) {
            self.metrics
                .pipelines_by_phase
                .with_label_values(&[Metrics::phase_label(*phase)])
                .set(count as i64);
        }
    }

    /// When to refresh `key` next, given how many pipelines there are; a
    /// pipeline created `age` ago still in `phase` Pending or Provisioning
    /// sooner ([`crate::refresh_pacer::STARTING_REFRESH`]).
    pub fn refresh_delay(&self, key: &str, phase: Phase, age: Duration) -> Duration {
        let pipelines = self.state.with_phase();
        let delay = if matches!(phase, Phase::Pending | Phase::Provisioning) {
            let starting =
                self.state.count_in(Phase::Pending) + self.state.count_in(Phase::Provisioning);
            self.refresh.starting_delay(age, starting, pipelines, key)
        } else {
            self.refresh.delay(pipelines, key)
        };
        self.metrics
            .status_refresh_interval
            .set(self.refresh.interval(pipelines).as_secs_f64());
        delay
    }

    /// The pipeline is deleted: its state, its gauges and (unless another
    /// pipeline uses the cluster) its Kafka client go.
    pub fn forget(&self, key: &str) {
        self.state.forget(key);
        let counts = PHASES.map(|p| self.state.count_in(p));
        for (phase, count) in PHASES.iter().zip(counts) {
            self.metrics
                .pipelines_by_phase
                .with_label_values(&[Metrics::phase_label(*phase)])
                .set(count as i64);
        }
        self.kafka.release(key);
    }
}
