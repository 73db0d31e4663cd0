//! Lag verdicts in Burrow's manner: every refresh samples each consumer
//! group's committed offsets and lag; a sliding window of those samples
//! per group decides, per partition, whether the group keeps up. Pure (the
//! clock comes in with the samples), so every rule is golden-tested
//! (tests/lag_verdicts.rs).
//!
//! Per partition, over the samples of the last `window`:
//! 1. lag 0 in any sample: **OK** (Burrow's first rule: a consumer that
//!    caught up once in the window is not behind);
//! 2. the committed offset never moved while records waited: **STOP** when
//!    the group has no active member (nothing can commit), else **STALL**
//!    (members are there but do not make progress);
//! 3. the offset moved but the lag never shrank and ended higher: **WARN**
//!    (consuming slower than records arrive);
//! 4. otherwise **OK**.
//!
//! Until the samples span the whole window a partition is OK: a verdict
//! from a shorter history would flap on every restart of the operator.
//! Burrow reads commit timestamps from `__consumer_offsets`; the operator
//! does not, so "no commits for longer than the window" is read as an
//! offset that did not move over the window with nobody in the group.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::crd::{LagVerdict, PartitionLagVerdict};

/// The partitions listed in a group's verdict at most.
pub const LISTED_PARTITIONS: usize = 16;

/// One partition in one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionPoint {
    pub partition: i32,
    /// Where the group is: its committed offset (for the merge stage, the
    /// checkpoint's position); `None` before its first commit.
    pub committed: Option<i64>,
    /// Records waiting.
    pub lag: i64,
}

/// One sample of a consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupSample {
    pub at: Instant,
    pub partitions: Vec<PartitionPoint>,
    /// Active members of the group (for the merge stage: of the processor's
    /// group, whose pods run both stages).
    pub active_members: usize,
}

/// The samples of one group that the verdict needs: those of the last
/// `window`, and the newest one before it, so that the history spans the
/// whole window.
#[derive(Clone, Debug, Default)]
pub struct LagWindow {
    samples: VecDeque<GroupSample>,
}

impl LagWindow {
    /// Adds `sample` and forgets what no longer matters, then judges.
    pub fn record(&mut self, sample: GroupSample, window: Duration) -> Judgement {
        let newest = sample.at;
        self.samples.push_back(sample);
        while self.samples.len() >= 2
            && newest.saturating_duration_since(self.samples[1].at) >= window
        {
            self.samples.pop_front();
        }
        judge(self.samples.iter(), window)
    }
}

/// A group's verdict: the worst of its partitions'.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    pub verdict: LagVerdict,
    /// A sentence for the status, Events and alerts.
    pub reason: String,
    /// Partitions not OK, worst first (at most [`LISTED_PARTITIONS`]).
    pub partitions: Vec<PartitionLagVerdict>,
    /// Every partition with records waiting has been sampled for a whole
    /// window. An unsettled OK says nothing yet: it must not clear an
    /// earlier verdict (after an operator restart, say).
    pub settled: bool,
}

/// One partition's history over the window, oldest first.
struct History {
    points: Vec<(Instant, PartitionPoint, usize)>,
}

impl History {
    fn judge(&self, window: Duration) -> (LagVerdict, Duration) {
        let (Some(first), Some(last)) = (self.points.first(), self.points.last()) else {
            return (LagVerdict::Ok, Duration::ZERO);
        };
        let span = last.0.saturating_duration_since(first.0);
        if last.1.lag == 0 || span < window {
            return (LagVerdict::Ok, span);
        }
        if self.points.iter().any(|(_, p, _)| p.lag == 0) {
            return (LagVerdict::Ok, span);
        }
        let unmoved = self
            .points
            .iter()
            .all(|(_, p, _)| p.committed == first.1.committed);
        if unmoved {
            let verdict = if last.2 == 0 {
                LagVerdict::Stop
            } else {
                LagVerdict::Stall
            };
            return (verdict, span);
        }
        let never_shrank = self.points.windows(2).all(|w| w[1].1.lag >= w[0].1.lag);
        if never_shrank && last.1.lag > first.1.lag {
            return (LagVerdict::Warn, span);
        }
        (LagVerdict::Ok, span)
    }
}

/// Judges the samples (oldest first) of one group.
pub fn judge<'a>(samples: impl Iterator<Item = &'a GroupSample>, window: Duration) -> Judgement {
    let mut histories: BTreeMap<i32, History> = BTreeMap::new();
    let mut newest: Option<&GroupSample> = None;
    for sample in samples {
        for p in &sample.partitions {
            histories
                .entry(p.partition)
                .or_insert_with(|| History { points: Vec::new() })
                .points
                .push((sample.at, *p, sample.active_members));
        }
        newest = Some(sample);
    }
    let Some(newest) = newest else {
        return Judgement {
            verdict: LagVerdict::Ok,
            reason: "no lag sampled yet".into(),
            partitions: Vec::new(),
            settled: false,
        };
    };
    // Partitions that no longer exist (a recreated topic) are not judged.
    let current: Vec<i32> = newest.partitions.iter().map(|p| p.partition).collect();
    let mut judged: Vec<(i32, LagVerdict, i64, i64, Duration)> = Vec::new();
    let mut shortest_span = None::<Duration>;
    for partition in current {
        let Some(history) = histories.get(&partition) else {
            continue;
        };
        let (verdict, span) = history.judge(window);
        let lag_at = |i: usize| history.points.get(i).map(|(_, p, _)| p.lag).unwrap_or(0);
        let first_lag = lag_at(0);
        let last_lag = lag_at(history.points.len().saturating_sub(1));
        if last_lag > 0 && span < window {
            shortest_span = Some(shortest_span.map_or(span, |s| s.min(span)));
        }
        judged.push((partition, verdict, first_lag, last_lag, span));
    }
    let verdict = judged.iter().map(|j| j.1).max().unwrap_or(LagVerdict::Ok);
    let total_lag: i64 = judged.iter().map(|j| j.3).sum();
    let mut worst: Vec<&(i32, LagVerdict, i64, i64, Duration)> =
        judged.iter().filter(|j| j.1 == verdict).collect();
    worst.sort_by_key(|j| j.0);
    let span = worst.iter().map(|j| j.4).min().unwrap_or_default();
    let names = partition_list(worst.iter().map(|j| j.0));
    let waiting: i64 = worst.iter().map(|j| j.3).sum();
    let reason = match verdict {
        LagVerdict::Stop => format!(
            "the group has no active member and nothing was committed on {names} for {} s \
             while {waiting} records waited",
            span.as_secs()
        ),
        LagVerdict::Stall => format!(
            "the committed offset of {names} did not move for {} s while {waiting} records \
             waited, although the group has {} active member{}",
            span.as_secs(),
            newest.active_members,
            if newest.active_members == 1 { "" } else { "s" }
        ),
        LagVerdict::Warn => {
            let from: i64 = worst.iter().map(|j| j.2).sum();
            format!(
                "the lag of {names} grew for {} s, from {from} to {waiting} records: the \
                 group consumes slower than records arrive",
                span.as_secs()
            )
        }
        LagVerdict::Ok => match shortest_span {
            Some(s) => format!(
                "lag {total_lag} records; judged once it has been sampled for {} s ({} s so far)",
                window.as_secs(),
                s.as_secs()
            ),
            None if total_lag == 0 => "caught up".to_string(),
            None => format!("lag {total_lag} records, keeping up"),
        },
    };
    let mut partitions: Vec<PartitionLagVerdict> = judged
        .iter()
        .filter(|j| j.1 != LagVerdict::Ok)
        .map(|j| PartitionLagVerdict {
            partition: j.0,
            verdict: j.1,
            lag: j.3,
        })
        .collect();
    partitions.sort_by(|a, b| {
        b.verdict
            .cmp(&a.verdict)
            .then(a.partition.cmp(&b.partition))
    });
    partitions.truncate(LISTED_PARTITIONS);
    Judgement {
        verdict,
        reason,
        partitions,
        settled: shortest_span.is_none(),
    }
}

/// "partition 3" / "partitions 0, 1, 2" / "partitions 0, 1, … (20 in all)".
fn partition_list(partitions: impl Iterator<Item = i32>) -> String {
    let all: Vec<i32> = partitions.collect();
    let shown: Vec<String> = all.iter().take(8).map(i32::to_string).collect();
    match all.len() {
        1 => format!("partition {}", shown.join("")),
        n if n <= 8 => format!("partitions {}", shown.join(", ")),
        n => format!("partitions {}, … ({n} in all)", shown.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(
        t0: Instant,
        secs: u64,
        members: usize,
        points: &[(Option<i64>, i64)],
    ) -> GroupSample {
        GroupSample {
            at: t0 + Duration::from_secs(secs),
            partitions: points
                .iter()
                .enumerate()
                .map(|(i, &(committed, lag))| PartitionPoint {
                    partition: i as i32,
                    committed,
                    lag,
                })
                .collect(),
            active_members: members,
        }
    }

    #[test]
    fn the_window_keeps_one_sample_before_its_start() {
        let t0 = Instant::now();
        let window = Duration::from_secs(10);
        let mut w = LagWindow::default();
        for secs in [0, 4, 8, 12, 16] {
            w.record(sample(t0, secs, 1, &[(Some(0), 5)]), window);
        }
        let kept: Vec<u64> = w
            .samples
            .iter()
            .map(|s| s.at.duration_since(t0).as_secs())
            .collect();
        assert_eq!(
            kept,
            [4, 8, 12, 16],
            "4 s is the newest at or before 16 - 10"
        );
    }

    #[test]
    fn a_stopped_group_is_judged_only_once_the_window_is_covered() {
        let t0 = Instant::now();
        let window = Duration::from_secs(10);
        let mut w = LagWindow::default();
        let early = w.record(sample(t0, 0, 0, &[(Some(5), 7)]), window);
        assert_eq!(early.verdict, LagVerdict::Ok);
        let still = w.record(sample(t0, 9, 0, &[(Some(5), 7)]), window);
        assert_eq!(still.verdict, LagVerdict::Ok);
        assert!(still.reason.contains("(9 s so far)"), "{}", still.reason);
        let stopped = w.record(sample(t0, 10, 0, &[(Some(5), 7)]), window);
        assert_eq!(stopped.verdict, LagVerdict::Stop);
    }
}
