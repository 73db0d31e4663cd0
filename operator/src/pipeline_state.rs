//! Everything the operator remembers about one pipeline between reconciles,
//! in one [`PipelineState`] per `namespace/name`: created on first use,
//! dropped in one place ([`PipelineStates::forget`], when the pipeline is
//! deleted). Nothing here survives a restart; each part says what losing it
//! costs.
//!
//! The parts with logic of their own keep it in their modules, as
//! `impl PipelineStates` blocks over their field: [`crate::applied_workloads`]
//! (skipping unchanged applies) and [`crate::written_status`] (the last status
//! written).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::alerts::AlertOutbox;
use crate::applied_workloads::AppliedRecord;
use crate::autoscale::Stabilizer;
use crate::crd::{GroupLagVerdict, Phase};
use crate::kafka::{CommitRate, OffsetObservation, RateTracker};
use crate::status::lag_verdict::{GroupSample, Judgement, LagWindow};
use crate::status::merge::{MergeSummary, StallTracker};
use crate::written_status::WrittenStatus;

/// Every phase, in the order [`PipelineStates::set_phase`] counts them.
pub const PHASES: [Phase; 5] = [
    Phase::Pending,
    Phase::Provisioning,
    Phase::Running,
    Phase::Degraded,
    Phase::Failed,
];

/// One pipeline's memory.
#[derive(Default)]
pub struct PipelineState {
    /// Consecutive failed reconciles, for the backoff (lost: the backoff
    /// starts over at 1 s).
    pub failures: u32,
    /// Failed cleanup attempts since the deletion began: their own budget,
    /// so failures from before the deletion do not shorten it.
    pub cleanup_failures: u32,
    /// Offset observations, for the throughput in the status (lost: one
    /// refresh without rates).
    pub rates: Option<RateTracker>,
    /// The serving group's commits, for its writes per second (lost: one
    /// refresh without the rate).
    pub serving_writes: CommitRate,
    /// Since when the merge stage has not moved (lost: a stall is noticed
    /// one refresh later).
    pub merge_stall: Option<StallTracker>,
    /// Lag samples per consumer group, for the lag verdicts (lost: the
    /// verdicts say OK until a whole window is sampled again).
    pub lag_windows: HashMap<String, LagWindow>,
    /// The lag verdicts last written (lost: the status's are used).
    pub lag_verdicts: Option<Vec<GroupLagVerdict>>,
    /// Alerts not written to the alerts topic yet (lost: those alerts;
    /// their Events were published).
    pub alerts: AlertOutbox,
    /// The processor pods' recent restart counts (lost: an operator
    /// restart takes the counts it then sees as the baseline).
    pub restarts: crate::alerts::restarts::RestartWatch,
    /// Where the read of the alerts topic for the processor's alerts
    /// stands (lost: the next read starts at the topic's end, so alerts
    /// the processor wrote while the operator was away are no Events).
    pub processor_alerts: crate::alerts::AlertTail,
    /// The autoscaler's recent recommendations (lost: the stabilization
    /// windows start over).
    pub autoscaler: Stabilizer,
    /// Input and consumption rates the autoscaler derives from successive
    /// lag samples (lost: known again after two samples).
    pub throughput: crate::autoscale::Throughput,
    /// The replicas the autoscaler decided last (lost: the status's).
    pub autoscaled_replicas: Option<i32>,
    /// When the autoscaler last changed the replicas (lost: the status's).
    pub last_scale_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// The last phase, for the pipelines-by-phase gauge.
    pub phase: Option<Phase>,
    /// What was last applied (lost: one apply that finds nothing to do).
    pub applied: AppliedRecord,
    /// The status last written.
    pub written: Option<WrittenStatus>,
}

/// Every pipeline's [`PipelineState`], by `namespace/name`.
#[derive(Default)]
pub struct PipelineStates {
    by_key: Mutex<HashMap<String, PipelineState>>,
}

impl PipelineStates {
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, PipelineState>> {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` on `key`'s state, creating it if needed.
    pub fn with<R>(&self, key: &str, f: impl FnOnce(&mut PipelineState) -> R) -> R {
        let mut states = self.lock();
        f(states.entry(key.to_string()).or_default())
    }

    /// Runs `f` on `key`'s state if there is one.
    pub fn peek<R>(&self, key: &str, f: impl FnOnce(&PipelineState) -> R) -> Option<R> {
        self.lock().get(key).map(f)
    }

    /// The pipeline is gone: everything about it goes.
    pub fn forget(&self, key: &str) {
        self.lock().remove(key);
    }

    /// Records a failure and returns how many happened in a row.
    pub fn record_failure(&self, key: &str) -> u32 {
        self.with(key, |s| {
            s.failures += 1;
            s.failures
        })
    }

    pub fn reset_failures(&self, key: &str) {
        if let Some(state) = self.lock().get_mut(key) {
            state.failures = 0;
        }
    }

    /// Records a failed cleanup attempt and returns how many happened.
    pub fn record_cleanup_failure(&self, key: &str) -> u32 {
        self.with(key, |s| {
            s.cleanup_failures += 1;
            s.cleanup_failures
        })
    }

    pub fn cleanup_failure_count(&self, key: &str) -> u32 {
        self.peek(key, |s| s.cleanup_failures).unwrap_or(0)
    }

    /// Records an offset observation; returns `(input/s, output/s)` once
    /// two observations far enough apart exist.
    pub fn observe_rates(&self, key: &str, now: OffsetObservation) -> Option<(f64, f64)> {
        self.with(key, |s| match &mut s.rates {
            Some(tracker) => tracker.observe(now),
            None => {
                s.rates = Some(RateTracker::new(now));
                None
            }
        })
    }

    /// Records the merge stage's progress; returns how long it has made
    /// none while partials waited (`None`: it moves, or is caught up).
    pub fn observe_merge(&self, key: &str, summary: &MergeSummary) -> Option<Duration> {
        let now = Instant::now();
        self.with(key, |s| match &mut s.merge_stall {
            Some(tracker) => tracker.observe(summary, now),
            None => {
                s.merge_stall = Some(StallTracker::new(summary.progress, now));
                None
            }
        })
    }

    /// Adds a lag sample of consumer group `group` and judges its window.
    pub fn judge_lag(
        &self,
        key: &str,
        group: &str,
        sample: GroupSample,
        window: Duration,
    ) -> Judgement {
        self.with(key, |s| {
            // Only the groups of the current spec: a renamed group's
            // window goes.
            if !s.lag_windows.contains_key(group) && s.lag_windows.len() >= 2 {
                s.lag_windows.clear();
            }
            s.lag_windows
                .entry(group.to_string())
                .or_default()
                .record(sample, window)
        })
    }

    /// Sets `key`'s phase and returns how many pipelines are in each of
    /// [`PHASES`], in that order.
    pub fn set_phase(&self, key: &str, phase: Phase) -> [usize; 5] {
        let mut states = self.lock();
        states.entry(key.to_string()).or_default().phase = Some(phase);
        PHASES.map(|p| states.values().filter(|s| s.phase == Some(p)).count())
    }

    /// Pipelines in `phase`.
    pub fn count_in(&self, phase: Phase) -> usize {
        self.lock()
            .values()
            .filter(|s| s.phase == Some(phase))
            .count()
    }

    /// Pipelines with a phase: those the operator reconciled since it
    /// started and that still exist.
    pub fn with_phase(&self) -> usize {
        self.lock().values().filter(|s| s.phase.is_some()).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_state_per_pipeline_forgotten_as_a_whole() {
        let states = PipelineStates::default();
        assert_eq!(states.record_failure("a/x"), 1);
        assert_eq!(states.record_failure("a/x"), 2);
        assert_eq!(states.record_cleanup_failure("a/x"), 1);
        let running = PHASES
            .iter()
            .position(|p| *p == Phase::Running)
            .expect("listed");
        assert_eq!(states.set_phase("a/x", Phase::Running)[running], 1);
        assert_eq!(states.set_phase("a/y", Phase::Running)[running], 2);
        assert_eq!(states.set_phase("a/y", Phase::Failed)[running], 1);
        assert_eq!(states.with_phase(), 2);
        states.reset_failures("a/x");
        assert_eq!(states.record_failure("a/x"), 1);
        assert_eq!(states.cleanup_failure_count("a/x"), 1, "its own budget");
        states.forget("a/x");
        assert_eq!(states.cleanup_failure_count("a/x"), 0);
        assert_eq!(states.record_failure("a/x"), 1);
        assert_eq!(states.with_phase(), 1);
    }
}
