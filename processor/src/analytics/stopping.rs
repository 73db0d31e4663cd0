//! How long stopping may take. Kubernetes (and the local runner) kill a pod
//! with SIGKILL some seconds after SIGTERM (the local runner after 10 s),
//! and a processor still waiting then looks like a crash. So every step of
//! stopping is bounded, counted from the signal:
//!
//! - the last transaction of stage 1 and the last offset commit of stage 2
//!   get [`FINAL_COMMIT`] (milliseconds with a healthy broker);
//! - a transaction that has not committed by then is aborted, within
//!   [`ABORT`] more (the next owner re-reads its batch);
//! - after [`HARD_LIMIT`] the process exits whatever still runs (e.g. a
//!   call to an unreachable broker). A transaction left open then is
//!   aborted by the broker (`transaction.timeout.ms`) or by the next owner
//!   with the same transactional id when it starts: a transaction commits
//!   as a whole or not at all, so exactly-once holds either way.

use std::time::{Duration, Instant};

use shopstream_common::shutdown::Shutdown;
use tokio::sync::watch;

/// From the signal, for the last commits of both stages.
pub const FINAL_COMMIT: Duration = Duration::from_secs(5);
/// After [`FINAL_COMMIT`], for aborting a transaction that did not commit.
pub const ABORT: Duration = Duration::from_secs(2);
/// From the signal, until the process exits regardless.
pub const HARD_LIMIT: Duration = Duration::from_secs(8);
/// The shortest timeout given to a Kafka call while stopping: a call with
/// no time at all could not even be sent.
const MIN_CALL: Duration = Duration::from_millis(500);

/// The process's stop request, with the time each stopping step has left.
#[derive(Clone, Debug)]
pub struct Stopping {
    shutdown: Shutdown,
}

/// Time left until `since + budget` at `now`; `None` when not stopping.
pub fn left_at(since: Option<Instant>, budget: Duration, now: Instant) -> Option<Duration> {
    since.map(|t| (t + budget).saturating_duration_since(now))
}

/// The timeout of a call that normally gets `normal`: no more than what is
/// left (`None`: not stopping), yet at least [`MIN_CALL`].
pub fn bounded(normal: Duration, left: Option<Duration>) -> Duration {
    match left {
        None => normal,
        Some(left) => normal.min(left.max(MIN_CALL)),
    }
}

impl Stopping {
    pub fn new(shutdown: Shutdown) -> Self {
        Stopping { shutdown }
    }

    /// A receiver that turns `true` once stopping starts.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    fn left(&self, budget: Duration) -> Option<Duration> {
        left_at(self.shutdown.since(), budget, Instant::now())
    }

    /// What is left of [`FINAL_COMMIT`] (`None`: not stopping).
    pub fn final_commit_left(&self) -> Option<Duration> {
        self.left(FINAL_COMMIT)
    }

    /// Stopping, and the time for the last commit is up.
    pub fn final_commit_over(&self) -> bool {
        self.final_commit_left() == Some(Duration::ZERO)
    }

    /// Timeout of a call of the last transaction.
    pub fn commit_call(&self, normal: Duration) -> Duration {
        bounded(normal, self.final_commit_left())
    }

    /// Timeout of an abort.
    pub fn abort_call(&self, normal: Duration) -> Duration {
        bounded(normal, self.left(FINAL_COMMIT + ABORT))
    }

    pub fn is_stopping(&self) -> bool {
        self.shutdown.is_triggered()
    }

    /// Resolves once stopping has gone on for [`FINAL_COMMIT`].
    pub async fn final_commit_expired(&self) {
        self.expired(FINAL_COMMIT).await;
    }

    /// Resolves once stopping has gone on for [`HARD_LIMIT`].
    pub async fn hard_limit_expired(&self) {
        self.expired(HARD_LIMIT).await;
    }

    async fn expired(&self, budget: Duration) {
        self.shutdown.triggered().await;
        if let Some(since) = self.shutdown.since() {
            tokio::time::sleep_until((since + budget).into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_counts_from_the_signal() {
        let since = Instant::now();
        let budget = Duration::from_secs(5);
        assert_eq!(left_at(None, budget, since), None);
        assert_eq!(left_at(Some(since), budget, since), Some(budget));
        let later = since + Duration::from_secs(2);
        assert_eq!(
            left_at(Some(since), budget, later),
            Some(Duration::from_secs(3))
        );
        let past = since + Duration::from_secs(7);
        assert_eq!(left_at(Some(since), budget, past), Some(Duration::ZERO));
    }

    #[test]
    fn calls_are_bounded_only_while_stopping() {
        let normal = Duration::from_secs(30);
        assert_eq!(bounded(normal, None), normal);
        assert_eq!(
            bounded(normal, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(bounded(normal, Some(Duration::ZERO)), MIN_CALL);
        assert_eq!(
            bounded(Duration::from_millis(100), Some(Duration::ZERO)),
            Duration::from_millis(100)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_final_commit_expires_after_its_budget_from_the_signal() {
        let shutdown = Shutdown::new();
        let stopping = Stopping::new(shutdown.clone());
        assert!(!stopping.is_stopping());
        assert_eq!(stopping.final_commit_left(), None);
        assert!(!stopping.final_commit_over());
        let expired = tokio::spawn({
            let stopping = stopping.clone();
            async move { stopping.final_commit_expired().await }
        });
        shutdown.trigger();
        assert!(stopping.is_stopping());
        assert!(!stopping.final_commit_over());
        // Measured on std's clock, which moves on meanwhile.
        let call = stopping.commit_call(Duration::from_secs(30));
        assert!(call <= FINAL_COMMIT && call > FINAL_COMMIT - Duration::from_secs(1));
        expired.await.expect("expires");
        // Paused time: the sleep ended exactly at the budget (std's clock
        // did not move, so what is left is measured on tokio's clock only).
        assert!(
            tokio::time::Instant::now()
                >= tokio::time::Instant::from_std(
                    shutdown.since().expect("triggered") + FINAL_COMMIT
                )
        );
    }
}
