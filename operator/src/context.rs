//! The state shared by every reconcile.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::Store;

use crate::applied_workloads::AppliedWorkloads;
use crate::crd::{AnalyticsPipeline, AnalyticsPipelineStatus, Phase};
use crate::kafka::{KafkaConnections, OffsetObservation, RateTracker};
use crate::metrics::Metrics;
use crate::reconcile::validate::DefaultImages;
use crate::refresh_pacer::RefreshPacer;
use crate::status::merge::{MergeSummary, StallTracker};
use crate::written_topics::WrittenTopics;

/// Settings from the operator's command line.
#[derive(Clone, Debug)]
pub struct Settings {
    pub images: DefaultImages,
    /// How often lag and throughput are refreshed when nothing changes.
    pub status_interval: Duration,
    /// How long the merge stage may make no progress, with partials
    /// waiting, before it counts as stalled.
    pub merge_stall_timeout: Duration,
    /// Reconciles running at once (`--concurrency`).
    pub concurrency: u16,
}

pub struct Context {
    pub client: Client,
    pub kafka: KafkaConnections,
    pub recorder: Recorder,
    pub metrics: Metrics,
    pub settings: Settings,
    /// Per pipeline (namespace/name): consecutive failures, for backoff.
    pub failures: Mutex<HashMap<String, u32>>,
    /// Per pipeline being deleted: failed cleanup attempts. Its own budget,
    /// so failures from before the deletion do not shorten it.
    pub cleanup_failures: Mutex<HashMap<String, u32>>,
    /// Per pipeline: offset observations, for rates.
    pub rates: Mutex<HashMap<String, RateTracker>>,
    /// Per pipeline: since when the merge stage has not moved.
    pub merge_stalls: Mutex<HashMap<String, StallTracker>>,
    /// Per pipeline: last phase, for the phase gauge.
    pub phases: Mutex<HashMap<String, Phase>>,
    /// Paces the periodic status refreshes.
    pub refresh: RefreshPacer,
    /// Per pipeline: what was last applied, so refreshes can skip it.
    pub applied: AppliedWorkloads,
    /// Per pipeline: the topics of the last status written, fresher than
    /// the cache right after a write.
    pub written_topics: WrittenTopics,
    /// The controller's cache of every pipeline it watches, once it runs.
    pub pipelines: OnceLock<Store<AnalyticsPipeline>>,
}

impl Context {
    pub fn new(client: Client, metrics: Metrics, settings: Settings) -> Self {
        let reporter = Reporter {
            controller: "shopstream-operator".into(),
            instance: std::env::var("POD_NAME").ok(),
        };
        Self {
            refresh: RefreshPacer::new(settings.status_interval, settings.concurrency),
            recorder: Recorder::new(client.clone(), reporter),
            client,
            kafka: KafkaConnections::default(),
            metrics,
            settings,
            failures: Mutex::default(),
            cleanup_failures: Mutex::default(),
            rates: Mutex::default(),
            merge_stalls: Mutex::default(),
            phases: Mutex::default(),
            applied: AppliedWorkloads::default(),
            written_topics: WrittenTopics::default(),
            pipelines: OnceLock::new(),
        }
    }

    /// `p` with the topics of the status last written for it, when the
    /// cache may not have caught up with that write yet.
    pub fn freshest(&self, p: &AnalyticsPipeline) -> Option<AnalyticsPipeline> {
        let status = self
            .written_topics
            .freshen(&crate::reconcile::pipeline_key(p), p)?;
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
                let other = crate::reconcile::pipeline_key(p);
                let status = p.status.clone()?;
                (other != key).then_some((other, status))
            })
            .collect()
    }

    /// Records a failure and returns how many happened in a row.
    pub fn record_failure(&self, key: &str) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    /// Records a failed cleanup attempt and returns how many happened.
    pub fn record_cleanup_failure(&self, key: &str) -> u32 {
        let mut failures = self
            .cleanup_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let count = failures.entry(key.to_string()).or_insert(0);
        *count += 1;
        *count
    }

    pub fn cleanup_failure_count(&self, key: &str) -> u32 {
        self.cleanup_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    pub fn reset_failures(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    /// Records an offset observation; returns `(input/s, output/s)` once
    /// two observations far enough apart exist.
    pub fn observe_rates(&self, key: &str, now: OffsetObservation) -> Option<(f64, f64)> {
        let mut rates = self.rates.lock().unwrap_or_else(|p| p.into_inner());
        match rates.get_mut(key) {
            Some(tracker) => tracker.observe(now),
            None => {
                rates.insert(key.to_string(), RateTracker::new(now));
                None
            }
        }
    }

    /// Records the merge stage's progress; returns how long it has made
    /// none while partials waited (`None`: it moves, or is caught up).
    pub fn observe_merge(&self, key: &str, summary: &MergeSummary) -> Option<Duration> {
        let now = Instant::now();
        let mut stalls = self.merge_stalls.lock().unwrap_or_else(|p| p.into_inner());
        match stalls.get_mut(key) {
            Some(tracker) => tracker.observe(summary, now),
            None => {
                stalls.insert(key.to_string(), StallTracker::new(summary.progress, now));
                None
            }
        }
    }

    pub fn set_phase(&self, key: &str, phase: Option<Phase>) {
        let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner());
        match phase {
            Some(phase) => phases.insert(key.to_string(), phase),
            None => phases.remove(key),
        };
        for p in [
            Phase::Pending,
            Phase::Provisioning,
            Phase::Running,
            Phase::Degraded,
            Phase::Failed,
        ] {
            let count = phases.values().filter(|v| **v == p).count() as i64;
            self.metrics
                .pipelines_by_phase
                .with_label_values(&[Metrics::phase_label(p)])
                .set(count);
        }
    }

    /// When to refresh `key` next, given how many pipelines there are.
    pub fn refresh_delay(&self, key: &str) -> Duration {
        let pipelines = self.phases.lock().unwrap_or_else(|p| p.into_inner()).len();
        let delay = self.refresh.delay(pipelines, key);
        self.metrics
            .status_refresh_interval
            .set(self.refresh.interval(pipelines).as_secs_f64());
        delay
    }

    pub fn forget(&self, key: &str) {
        self.reset_failures(key);
        self.cleanup_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.rates
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.merge_stalls
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.set_phase(key, None);
        self.applied.forget(key);
        self.written_topics.forget(key);
        // Its Kafka client goes too, unless another pipeline uses the cluster.
        self.kafka.release(key);
    }
}
