//! The decisions that bring a workload's processes to what it asks for,
//! as pure functions of its current state.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the runner knows of a replica's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaStatus {
    Running,
    /// Exited; to be restarted at that instant.
    RestartAt(Instant),
}

/// The replicas a scale-down to `want` removes: every index at or above it,
/// so replicas keep the indices (and log files) `0..want`.
pub fn replicas_to_stop(current: impl IntoIterator<Item = usize>, want: usize) -> Vec<usize> {
    current.into_iter().filter(|i| *i >= want).collect()
}

/// The replicas below `want` that need a process now: never started (or
/// removed after a failed start), or exited and past their back-off.
pub fn replicas_to_start(
    want: usize,
    current: &BTreeMap<usize, ReplicaStatus>,
    now: Instant,
) -> Vec<usize> {
    (0..want)
        .filter(|i| match current.get(i) {
            None => true,
            Some(ReplicaStatus::Running) => false,
            Some(ReplicaStatus::RestartAt(at)) => now >= *at,
        })
        .collect()
}

/// After this long a process counts as healthy: its next exit restarts the
/// back-off from the start, as the kubelet does.
pub const HEALTHY_RUN: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// When an exited process is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restart {
    pub after: Duration,
    /// The replica's restarts in a row, this one included.
    pub restarts: u32,
}

/// The back-off of a process that exited after `ran_for`, having been
/// restarted `restarts` times in a row: 2 s, doubling, at most 60 s, like a
/// container's CrashLoopBackOff.
pub fn restart_backoff(restarts: u32, ran_for: Duration) -> Restart {
    let restarts = if ran_for > HEALTHY_RUN { 0 } else { restarts };
    Restart {
        after: Duration::from_secs(2u64 << restarts.min(5)).min(MAX_BACKOFF),
        restarts: restarts.saturating_add(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_down_stops_the_highest_replicas() {
        assert_eq!(replicas_to_stop([0, 1, 2, 3], 2), vec![2, 3]);
        assert_eq!(replicas_to_stop([0, 1], 2), Vec::<usize>::new());
        assert_eq!(replicas_to_stop([0, 1, 2], 0), vec![0, 1, 2]);
        // A gap (replica 1 failed to start) does not shift anything.
        assert_eq!(replicas_to_stop([0, 2, 5], 2), vec![2, 5]);
    }

    #[test]
    fn start_fills_missing_replicas_and_those_whose_back_off_passed() {
        let now = Instant::now();
        let current = BTreeMap::from([
            (0, ReplicaStatus::Running),
            (1, ReplicaStatus::RestartAt(now + Duration::from_secs(5))),
            (2, ReplicaStatus::RestartAt(now - Duration::from_secs(1))),
            (3, ReplicaStatus::RestartAt(now)),
        ]);
        assert_eq!(replicas_to_start(6, &current, now), vec![2, 3, 4, 5]);
        // Still waiting, until it is time.
        assert_eq!(
            replicas_to_start(2, &current, now + Duration::from_secs(5)),
            vec![1]
        );
    }

    #[test]
    fn a_new_workload_starts_every_replica_and_zero_starts_none() {
        let empty = BTreeMap::new();
        let now = Instant::now();
        assert_eq!(replicas_to_start(3, &empty, now), vec![0, 1, 2]);
        assert!(replicas_to_start(0, &empty, now).is_empty());
    }

    #[test]
    fn replicas_above_the_count_are_never_started() {
        let now = Instant::now();
        let current = BTreeMap::from([(4, ReplicaStatus::RestartAt(now))]);
        assert_eq!(replicas_to_start(1, &current, now), vec![0]);
    }

    #[test]
    fn the_back_off_doubles_to_a_minute() {
        let quick = Duration::from_secs(1);
        let delays: Vec<u64> = (0..8)
            .map(|n| restart_backoff(n, quick).after.as_secs())
            .collect();
        assert_eq!(delays, vec![2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(restart_backoff(3, quick).restarts, 4);
        // No overflow however often it crashed.
        assert_eq!(restart_backoff(u32::MAX - 1, quick).after, MAX_BACKOFF);
    }

    #[test]
    fn a_process_that_ran_a_minute_restarts_the_back_off() {
        let long = HEALTHY_RUN + Duration::from_secs(1);
        assert_eq!(
            restart_backoff(5, long),
            Restart {
                after: Duration::from_secs(2),
                restarts: 1
            }
        );
        assert_eq!(restart_backoff(5, HEALTHY_RUN).after, MAX_BACKOFF);
    }
}
