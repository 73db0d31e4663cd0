//! How soon a healthy pipeline is reconciled again to refresh its lag and
//! throughput.
//!
//! Every refresh is a full reconcile, and reconciles share a fixed number of
//! slots (`--concurrency`). With many pipelines, refreshing each one every
//! `--status-interval` can need more slots than exist; the queue then fills
//! with refreshes and new or changed pipelines wait behind them (1,000
//! pipelines at 15 s stalled that way). So the interval stretches until
//! periodic refreshes need at most half of the slots, leaving the other
//! half for spec changes, new pipelines and retries.

use std::sync::Mutex;
use std::time::Duration;

/// Share of the reconcile slots periodic refreshes may use.
const REFRESH_SHARE: f64 = 0.5;
/// How often a new pipeline on its way to `Running` is refreshed: its
/// consumer group and pods become ready between two refreshes, and at the
/// 15 s interval a new pipeline waited ~17 s for a phase it had reached
/// after ~2 s (docs/benchmarks.md, `make bench-apply`).
pub const STARTING_REFRESH: Duration = Duration::from_secs(1);
/// Only this young: a pipeline that cannot start (a pod that never
/// schedules) falls back to the normal interval instead of being
/// refreshed every second for ever.
pub const STARTING_WINDOW: Duration = Duration::from_secs(120);
/// Weight of the newest reconcile duration in the moving average.
const SMOOTHING: f64 = 0.1;

pub struct RefreshPacer {
    interval: Duration,
    concurrency: f64,
    /// Exponential moving average of reconcile durations, in seconds.
    average_seconds: Mutex<Option<f64>>,
}

impl RefreshPacer {
    pub fn new(interval: Duration, concurrency: u16) -> Self {
        Self {
            interval,
            concurrency: f64::from(concurrency.max(1)),
            average_seconds: Mutex::new(None),
        }
    }

    /// Records how long one reconcile took.
    pub fn record(&self, took: Duration) {
        let mut average = self
            .average_seconds
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let took = took.as_secs_f64();
        *average = Some(match *average {
            Some(a) => a + SMOOTHING * (took - a),
            None => took,
        });
    }

    /// The effective refresh interval for `pipelines` pipelines: the
    /// configured one, or longer when that would overload the slots.
    pub fn interval(&self, pipelines: usize) -> Duration {
        let average = self
            .average_seconds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(0.0);
        let needed = pipelines as f64 * average / (self.concurrency * REFRESH_SHARE);
        self.interval
            .max(Duration::from_secs_f64(needed.min(3600.0)))
    }

    /// The delay before `key`'s next refresh: the interval plus up to 10 %,
    /// fixed per key, so pipelines created together do not stay in lockstep.
    /// The delay for a pipeline created `age` ago that is still starting
    /// (Pending or Provisioning), while `starting` pipelines are: every
    /// [`STARTING_REFRESH`] as long as refreshing all starting ones that
    /// often fits in the refresh share of the slots (1,000 pipelines
    /// applied at once go at the paced interval, as before), else
    /// [`Self::delay`].
    pub fn starting_delay(
        &self,
        age: Duration,
        starting: usize,
        pipelines: usize,
        key: &str,
    ) -> Duration {
        let average = self
            .average_seconds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .unwrap_or(0.0);
        let round = starting as f64 * average / (self.concurrency * REFRESH_SHARE);
        if age < STARTING_WINDOW && round <= STARTING_REFRESH.as_secs_f64() {
            STARTING_REFRESH.min(self.delay(pipelines, key))
        } else {
            self.delay(pipelines, key)
        }
    }

    pub fn delay(&self, pipelines: usize, key: &str) -> Duration {
        let interval = self.interval(pipelines);
        let spread = key
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)))
            % 1000;
        interval + interval.mul_f64(f64::from(spread) / 10_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_pipelines_refresh_at_the_configured_interval() {
        let pacer = RefreshPacer::new(Duration::from_secs(15), 16);
        pacer.record(Duration::from_millis(500));
        assert_eq!(pacer.interval(10), Duration::from_secs(15));
    }

    #[test]
    fn many_pipelines_stretch_the_interval_to_half_the_slots() {
        let pacer = RefreshPacer::new(Duration::from_secs(15), 16);
        pacer.record(Duration::from_millis(400));
        // 1,000 × 0.4 s over 8 slots = 50 s.
        assert_eq!(pacer.interval(1000), Duration::from_secs(50));
    }

    #[test]
    fn the_average_follows_recent_durations() {
        let pacer = RefreshPacer::new(Duration::from_secs(1), 1);
        pacer.record(Duration::from_secs(1));
        for _ in 0..100 {
            pacer.record(Duration::from_millis(100));
        }
        let interval = pacer.interval(5).as_secs_f64();
        assert!((interval - 1.0).abs() < 0.01, "{interval}");
    }

    #[test]
    fn young_starting_pipelines_refresh_every_second_while_they_fit() {
        let pacer = RefreshPacer::new(Duration::from_secs(15), 16);
        pacer.record(Duration::from_millis(500));
        let young = Duration::from_secs(5);
        assert_eq!(pacer.starting_delay(young, 3, 10, "ns/a"), STARTING_REFRESH);
        // Too old to be starting: the normal interval.
        let old = pacer.starting_delay(STARTING_WINDOW, 3, 10, "ns/a");
        assert_eq!(old, pacer.delay(10, "ns/a"));
        // 1,000 starting × 0.5 s over 8 slots is 62.5 s a round: paced.
        let many = pacer.starting_delay(young, 1000, 1000, "ns/a");
        assert_eq!(many, pacer.delay(1000, "ns/a"));
        assert!(many > Duration::from_secs(60));
        // A configured interval below 1 s stays the shorter one.
        let fast = RefreshPacer::new(Duration::from_millis(500), 16);
        assert!(fast.starting_delay(young, 1, 1, "ns/a") < STARTING_REFRESH);
    }

    #[test]
    fn delays_are_spread_but_bounded() {
        let pacer = RefreshPacer::new(Duration::from_secs(15), 16);
        let a = pacer.delay(1, "ns/a");
        let b = pacer.delay(1, "ns/b");
        assert_ne!(a, b);
        for d in [a, b] {
            assert!(d >= Duration::from_secs(15) && d <= Duration::from_millis(16_500));
        }
        assert_eq!(pacer.delay(1, "ns/a"), a, "stable per key");
    }
}
