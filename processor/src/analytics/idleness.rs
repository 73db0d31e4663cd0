//! Stage 1, pure: which of its input partitions are idle.
//!
//! The watermark is the minimum over input partitions, so a partition
//! without data would hold every window open forever. An input partition
//! is **idle** when stage 1 has read it to its end (consumer lag 0, from
//! librdkafka's statistics) and no record has arrived on it for the idle
//! timeout. Stage 1 then tells stage 2 so in its watermark record, and
//! repeats it every timeout while the partition stays idle (so a restarted
//! stage 2 learns it again); stage 2 leaves idle partitions out of the
//! minimum until their next data.
//!
//! Deciding this where the partition is read, instead of from the time
//! since stage 2 last heard of a partition, matters: a partition that is
//! merely *behind* (a backlog being read, a consumer restarting) is never
//! idle, so its events are never made late by the timeout.

use std::collections::{BTreeMap, BTreeSet};

use super::window::Millis;

#[derive(Debug, Clone, Copy)]
struct Partition {
    /// Wall clock of its last record, or of its assignment.
    last_record: Millis,
    /// Wall clock of the last time it was reported idle.
    reported: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct IdleTracker {
    /// `None`: partitions are never idle.
    timeout: Option<Millis>,
    partitions: BTreeMap<i32, Partition>,
}

impl IdleTracker {
    pub fn new(timeout: Option<Millis>) -> Self {
        IdleTracker {
            timeout,
            partitions: BTreeMap::new(),
        }
    }

    /// The partitions assigned now: new ones start their quiet time now,
    /// revoked ones are forgotten.
    pub fn assigned(&mut self, assigned: &BTreeSet<i32>, now: Millis) {
        self.partitions.retain(|p, _| assigned.contains(p));
        for &p in assigned {
            self.partitions.entry(p).or_insert(Partition {
                last_record: now,
                reported: None,
            });
        }
    }

    /// A record of `partition` was read.
    pub fn record(&mut self, partition: i32, now: Millis) {
        let entry = self.partitions.entry(partition).or_insert(Partition {
            last_record: now,
            reported: None,
        });
        entry.last_record = now;
        entry.reported = None;
    }

    /// The partitions to report idle now: read to their end (`lags`, from
    /// the consumer's statistics; a partition without a known lag is not
    /// idle), quiet for the timeout, and not reported within the timeout.
    pub fn due(&mut self, lags: &BTreeMap<i32, i64>, now: Millis) -> Vec<i32> {
        let Some(timeout) = self.timeout else {
            return Vec::new();
        };
        let mut due = Vec::new();
        for (&p, part) in self.partitions.iter_mut() {
            let quiet = now.saturating_sub(part.last_record) >= timeout;
            let caught_up = lags.get(&p) == Some(&0);
            let repeat = part
                .reported
                .is_none_or(|at| now.saturating_sub(at) >= timeout);
            if quiet && caught_up && repeat {
                part.reported = Some(now);
                due.push(p);
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lags(entries: &[(i32, i64)]) -> BTreeMap<i32, i64> {
        entries.iter().copied().collect()
    }

    #[test]
    fn quiet_partitions_read_to_their_end_are_idle_and_reported_again() {
        let mut t = IdleTracker::new(Some(3_000));
        t.assigned(&BTreeSet::from([0, 1, 2]), 0);
        t.record(0, 1_000);
        let caught_up = lags(&[(0, 0), (1, 0), (2, 0)]);
        assert!(t.due(&caught_up, 2_999).is_empty());
        assert_eq!(t.due(&caught_up, 3_000), vec![1, 2]);
        assert!(t.due(&caught_up, 3_500).is_empty(), "already reported");
        assert_eq!(t.due(&caught_up, 4_000), vec![0]);
        // Repeated every timeout while idle.
        assert_eq!(t.due(&caught_up, 6_000), vec![1, 2]);
        // A record makes it active again.
        t.record(1, 6_500);
        assert_eq!(t.due(&caught_up, 9_000), vec![0, 2]);
        assert_eq!(t.due(&caught_up, 9_500), vec![1]);
    }

    #[test]
    fn a_partition_with_unread_records_is_never_idle() {
        let mut t = IdleTracker::new(Some(3_000));
        t.assigned(&BTreeSet::from([0, 1]), 0);
        // A backlog on 0 (lag), and 1 not measured yet.
        assert!(t.due(&lags(&[(0, 5_000)]), 60_000).is_empty());
        assert_eq!(t.due(&lags(&[(0, 0), (1, 0)]), 60_000), vec![0, 1]);
    }

    #[test]
    fn revoked_partitions_are_forgotten_and_the_timeout_can_be_off() {
        let mut t = IdleTracker::new(Some(1_000));
        t.assigned(&BTreeSet::from([0, 1]), 0);
        t.assigned(&BTreeSet::from([1, 2]), 500);
        assert_eq!(t.due(&lags(&[(0, 0), (1, 0), (2, 0)]), 1_000), vec![1]);
        assert_eq!(t.due(&lags(&[(0, 0), (1, 0), (2, 0)]), 1_500), vec![2]);
        let mut off = IdleTracker::new(None);
        off.assigned(&BTreeSet::from([0]), 0);
        assert!(off.due(&lags(&[(0, 0)]), i64::MAX).is_empty());
    }
}
