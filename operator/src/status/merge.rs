//! The processor's stage 2 (the merge group `<group>-merge` on the
//! partials topic), as the operator sees it from Kafka alone: the
//! checkpoint the processor commits as the metadata of each partials
//! partition's offset (format in docs/processor.md, "The checkpoint"), and
//! the partitions' end offsets. Pure, so the summary, the stall detection
//! and the resulting condition are unit-tested.

use std::time::{Duration, Instant};

use serde::Deserialize;

/// What the processor's checkpoint says (version 2; version 1 only has the
/// position).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Offset after the last partials record stage 2 processed.
    pub position: i64,
    /// Epoch ms up to which windows are final.
    pub watermark: Option<i64>,
    /// Input partitions holding the watermark back: (partition, largest
    /// event time, `None` without data yet).
    pub holding: Vec<(i32, Option<i64>)>,
    pub holding_count: usize,
    pub idle: usize,
    /// Wall clock (epoch ms) of the last early close at the memory bound.
    pub closed_early_at: Option<i64>,
}

#[derive(Deserialize)]
struct WireV2 {
    v: u32,
    p: i64,
    #[serde(default)]
    g: Option<i64>,
    #[serde(default)]
    h: Vec<(i32, Option<i64>)>,
    #[serde(default)]
    hn: usize,
    #[serde(default)]
    i: usize,
    #[serde(default)]
    fc: Option<i64>,
}

#[derive(Deserialize)]
struct WireV1 {
    position: i64,
}

impl Checkpoint {
    /// `None` for metadata that is not a processor checkpoint.
    pub fn decode(metadata: &str) -> Option<Checkpoint> {
        if let Ok(w) = serde_json::from_str::<WireV2>(metadata)
            && w.v == 2
        {
            return Some(Checkpoint {
                position: w.p,
                watermark: w.g,
                holding: w.h,
                holding_count: w.hn,
                idle: w.i,
                closed_early_at: w.fc,
            });
        }
        let v1 = serde_json::from_str::<WireV1>(metadata).ok()?;
        Some(Checkpoint {
            position: v1.position,
            ..Checkpoint::default()
        })
    }
}

/// One partials partition: its end offset and the merge group's commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartialsPartition {
    pub partition: i32,
    pub end_offset: i64,
    /// The committed offset, if the merge group committed one.
    pub committed: Option<i64>,
    /// Its metadata, decoded.
    pub checkpoint: Option<Checkpoint>,
}

/// The merge summed over partials partitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeSummary {
    /// Partials records not processed yet.
    pub lag: i64,
    /// Sum of the positions (moves whenever stage 2 makes progress).
    pub progress: i64,
    /// The smallest watermark over partitions with one (epoch ms).
    pub watermark: Option<i64>,
    /// Of the partition with the smallest watermark.
    pub holding: Vec<(i32, Option<i64>)>,
    pub holding_count: usize,
    pub idle: usize,
    pub closed_early_at: Option<i64>,
}

pub fn summarize(partitions: &[PartialsPartition]) -> MergeSummary {
    let mut s = MergeSummary::default();
    for p in partitions {
        // Where stage 2 is: the checkpoint's position (past the records of
        // windows still open), else the committed offset, else nothing.
        let position = p
            .checkpoint
            .as_ref()
            .map(|c| c.position)
            .or(p.committed)
            .unwrap_or(0);
        s.lag += (p.end_offset - position).max(0);
        s.progress += position;
        if let Some(c) = &p.checkpoint {
            s.closed_early_at = s.closed_early_at.max(c.closed_early_at);
        }
    }
    // The partition furthest behind (no watermark yet counts as furthest)
    // says what holds the results back.
    let lowest = partitions
        .iter()
        .filter_map(|p| p.checkpoint.as_ref())
        .min_by_key(|c| c.watermark.unwrap_or(i64::MIN));
    if let Some(c) = lowest {
        s.watermark = c.watermark;
        s.holding = c.holding.clone();
        s.holding_count = c.holding_count;
        s.idle = c.idle;
    }
    s
}

/// How long after closing windows early at the memory bound the condition
/// stays False.
pub const MEMORY_BOUND_REPORTED_FOR: Duration = Duration::from_secs(600);

/// Across reconciles of one pipeline: since when the merge has not moved.
#[derive(Clone, Debug)]
pub struct StallTracker {
    progress: i64,
    since: Instant,
}

impl StallTracker {
    pub fn new(progress: i64, now: Instant) -> Self {
        StallTracker {
            progress,
            since: now,
        }
    }

    /// How long the merge has made no progress while records waited
    /// (`None`: it is moving, or has nothing to do).
    pub fn observe(&mut self, summary: &MergeSummary, now: Instant) -> Option<Duration> {
        if summary.progress != self.progress || summary.lag == 0 {
            self.progress = summary.progress;
            self.since = now;
            return None;
        }
        Some(now.saturating_duration_since(self.since))
    }
}

/// The merge's health, for the MergeReady condition.
#[derive(Clone, Debug, PartialEq)]
pub enum MergeHealth {
    Merging {
        lag: i64,
    },
    /// No progress for `stalled_for` while `lag` records waited.
    Stalled {
        lag: i64,
        stalled_for: Duration,
    },
    /// Windows were closed early at the memory bound `ago` ago.
    MemoryBound {
        ago: Duration,
    },
}

/// `stall_after`: how long the merge may make no progress with records
/// waiting before it counts as stalled (the operator's
/// `--merge-stall-timeout`, 60 s: well above a refresh interval and a
/// processor restart; stage 2 commits its position every 250 ms while it
/// works). `now_ms`: the operator's wall clock, epoch ms.
pub fn health(
    summary: &MergeSummary,
    stalled_for: Option<Duration>,
    stall_after: Duration,
    now_ms: i64,
) -> MergeHealth {
    if let Some(stalled_for) = stalled_for.filter(|d| *d >= stall_after) {
        return MergeHealth::Stalled {
            lag: summary.lag,
            stalled_for,
        };
    }
    if let Some(at) = summary.closed_early_at {
        let ago = Duration::from_millis(u64::try_from(now_ms - at).unwrap_or(0));
        if ago < MEMORY_BOUND_REPORTED_FOR {
            return MergeHealth::MemoryBound { ago };
        }
    }
    MergeHealth::Merging { lag: summary.lag }
}

/// "partition 4 (no data yet), partition 2 (at 2026-…)" for messages.
pub fn describe_holding(summary: &MergeSummary) -> String {
    let listed: Vec<String> = summary
        .holding
        .iter()
        .map(|(p, wm)| match wm.and_then(rfc3339) {
            Some(t) => format!("input partition {p} (event time {t})"),
            None => format!("input partition {p} (no data yet)"),
        })
        .collect();
    let more = summary.holding_count.saturating_sub(listed.len());
    match (listed.is_empty(), more) {
        (true, _) => String::new(),
        (false, 0) => listed.join(", "),
        (false, n) => format!("{} and {n} more", listed.join(", ")),
    }
}

pub fn rfc3339(ms: i64) -> Option<String> {
    let t = k8s_openapi::jiff::Timestamp::from_millisecond(ms).ok()?;
    Some(t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const V2: &str = r#"{"v":2,"p":120,"g":1767225590000,"wb":1767225600000,"w":"0,1,,5","h":[[2,null]],"hn":1,"i":1,"fc":1767225700000}"#;

    fn partition(p: i32, end: i64, metadata: Option<&str>) -> PartialsPartition {
        let checkpoint = metadata.and_then(Checkpoint::decode);
        PartialsPartition {
            partition: p,
            end_offset: end,
            committed: checkpoint.as_ref().map(|c| c.position - 10),
            checkpoint,
        }
    }

    #[test]
    fn decodes_the_processor_checkpoint() {
        let c = Checkpoint::decode(V2).expect("v2");
        assert_eq!(c.position, 120);
        assert_eq!(c.watermark, Some(1_767_225_590_000));
        assert_eq!(c.holding, vec![(2, None)]);
        assert_eq!((c.holding_count, c.idle), (1, 1));
        assert_eq!(c.closed_early_at, Some(1_767_225_700_000));
        let v1 = Checkpoint::decode(r#"{"watermarks":{"0":5},"position":42}"#).expect("v1");
        assert_eq!(v1.position, 42);
        assert_eq!(Checkpoint::decode(""), None);
        assert_eq!(Checkpoint::decode("{\"v\":3,\"p\":1}"), None);
    }

    #[test]
    fn sums_the_lag_and_takes_the_lowest_watermark() {
        let other = V2
            .replace("1767225590000", "1767225000000")
            .replace("[[2,null]]", "[[1,1767225010000]]");
        let s = summarize(&[
            partition(0, 150, Some(V2)),
            partition(1, 120, Some(&other)),
            // Beyond the routing count: never used, never committed.
            partition(2, 0, None),
        ]);
        assert_eq!(s.lag, 30);
        assert_eq!(s.progress, 240);
        assert_eq!(s.watermark, Some(1_767_225_000_000));
        assert_eq!(s.holding, vec![(1, Some(1_767_225_010_000))]);
        assert_eq!(
            describe_holding(&s),
            "input partition 1 (event time 2025-12-31T23:50:10Z)"
        );
        // Nothing committed yet: everything is lag.
        let fresh = summarize(&[partition(0, 500, None)]);
        assert_eq!((fresh.lag, fresh.watermark), (500, None));
    }

    #[test]
    fn a_merge_without_progress_while_records_wait_is_stalled() {
        let t0 = Instant::now();
        let moving = MergeSummary {
            lag: 50,
            progress: 100,
            ..MergeSummary::default()
        };
        let mut t = StallTracker::new(0, t0);
        assert_eq!(t.observe(&moving, t0), None);
        let still = t.observe(&moving, t0 + Duration::from_secs(61));
        assert_eq!(still, Some(Duration::from_secs(61)));
        assert!(matches!(
            health(&moving, still, MINUTE, 0),
            MergeHealth::Stalled { lag: 50, .. }
        ));
        assert!(matches!(
            health(&moving, Some(Duration::from_secs(30)), MINUTE, 0),
            MergeHealth::Merging { lag: 50 }
        ));
        // Caught up: nothing to wait for is not a stall.
        let idle = MergeSummary {
            lag: 0,
            progress: 100,
            ..MergeSummary::default()
        };
        assert_eq!(t.observe(&idle, t0 + Duration::from_secs(120)), None);
    }

    #[test]
    fn a_recent_early_close_is_reported_for_ten_minutes() {
        let s = MergeSummary {
            closed_early_at: Some(1_000_000),
            ..MergeSummary::default()
        };
        assert!(matches!(
            health(&s, None, MINUTE, 1_000_000 + 60_000),
            MergeHealth::MemoryBound { .. }
        ));
        assert!(matches!(
            health(&s, None, MINUTE, 1_000_000 + 601_000),
            MergeHealth::Merging { .. }
        ));
    }

    #[test]
    fn holding_lists_say_how_many_more() {
        let s = MergeSummary {
            holding: vec![(3, None), (4, None)],
            holding_count: 5,
            ..MergeSummary::default()
        };
        assert_eq!(
            describe_holding(&s),
            "input partition 3 (no data yet), input partition 4 (no data yet) and 3 more"
        );
    }
}
