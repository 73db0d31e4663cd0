//! Event-time watermark of stage 2, from the per-input-partition markers.
//!
//! The global watermark is `min over all input partitions of (largest event
//! time seen in the partition) − allowed lateness`, and never moves back.
//! A partition without any marker yet holds it back — also one the input
//! topic gained while running (learnt from the topic's metadata or from its
//! first marker), so windows stay open for the events written to it. With
//! an idle timeout configured, a partition whose marker has not advanced
//! for that long (wall clock; for a partition without data, since it became
//! known) stops counting; if every partition is idle, the largest partition
//! watermark counts instead.

use std::collections::BTreeMap;

use super::window::Millis;

/// An input partition that holds the watermark back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holding {
    pub partition: i32,
    /// Its largest event time; `None` when it has not sent data yet.
    pub watermark: Option<Millis>,
}

/// Which input partitions hold the watermark back right now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldReport {
    /// The first few, lowest partition first: those without data, else
    /// those at the minimum.
    pub holding: Vec<Holding>,
    /// How many hold it back in all.
    pub holding_count: usize,
    /// How many are idle (not counted) because of the idle timeout.
    pub idle: usize,
}

#[derive(Debug, Clone, Copy)]
struct Part {
    /// Largest event time of its markers; `None` before the first.
    watermark: Option<Millis>,
    /// Wall clock of its last advance, or of when it became known.
    since: Millis,
}

#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    lateness: Millis,
    idle_timeout: Option<Millis>,
    /// Indexed by input partition; only grows (input topics only grow).
    parts: Vec<Part>,
    global: Option<Millis>,
}

impl WatermarkTracker {
    /// `now` is wall-clock epoch milliseconds (only used for idleness).
    pub fn new(
        partitions: i32,
        lateness: Millis,
        idle_timeout: Option<Millis>,
        now: Millis,
    ) -> Self {
        let mut tracker = WatermarkTracker {
            lateness,
            idle_timeout,
            parts: Vec::new(),
            global: None,
        };
        tracker.ensure_partitions(partitions, now);
        tracker
    }

    /// Input partitions known (the topic's count, or more once markers of
    /// newer partitions arrived).
    pub fn partitions(&self) -> i32 {
        i32::try_from(self.parts.len()).unwrap_or(i32::MAX)
    }

    /// Learns that the input topic has `partitions` partitions. New ones
    /// hold the watermark back until they send data (or go idle, counted
    /// from now), so windows stay open for the events written to them.
    pub fn ensure_partitions(&mut self, partitions: i32, now: Millis) {
        let n = usize::try_from(partitions).unwrap_or(0);
        if n > self.parts.len() {
            self.parts.resize(
                n,
                Part {
                    watermark: None,
                    since: now,
                },
            );
        }
    }

    /// Records a marker; returns whether the partition's watermark advanced.
    pub fn observe(&mut self, partition: i32, watermark: Millis, now: Millis) -> bool {
        if partition < 0 {
            return false;
        }
        self.ensure_partitions(partition.saturating_add(1), now);
        let Some(part) = self.parts.get_mut(partition as usize) else {
            return false;
        };
        match part.watermark {
            Some(wm) if watermark <= wm => false,
            _ => {
                part.watermark = Some(watermark);
                part.since = now;
                true
            }
        }
    }

    fn is_idle(&self, part: &Part, now: Millis) -> bool {
        self.idle_timeout
            .is_some_and(|timeout| now.saturating_sub(part.since) >= timeout)
    }

    /// Recomputes and returns the global watermark.
    pub fn recompute(&mut self, now: Millis) -> Option<Millis> {
        let mut min: Option<Millis> = None;
        let mut any_active = false;
        let mut blocked = false;
        for part in &self.parts {
            if self.is_idle(part, now) {
                continue;
            }
            any_active = true;
            match part.watermark {
                Some(wm) => min = Some(min.map_or(wm, |m| m.min(wm))),
                None => blocked = true,
            }
        }
        let candidate = if !any_active {
            self.parts.iter().filter_map(|p| p.watermark).max()
        } else if blocked {
            None
        } else {
            min
        };
        if let Some(c) = candidate {
            self.raise(c.saturating_sub(self.lateness));
        }
        self.global
    }

    /// Moves the global watermark to at least `to` (it never moves back).
    pub fn raise(&mut self, to: Millis) {
        self.global = Some(self.global.map_or(to, |g| g.max(to)));
    }

    pub fn global(&self) -> Option<Millis> {
        self.global
    }

    /// The partitions holding the watermark back, at most `limit` listed.
    pub fn holding(&self, now: Millis, limit: usize) -> HoldReport {
        let mut report = HoldReport::default();
        let mut min: Option<Millis> = None;
        let mut without_data = 0;
        for part in &self.parts {
            if self.is_idle(part, now) {
                report.idle += 1;
            } else {
                match part.watermark {
                    None => without_data += 1,
                    Some(wm) => min = Some(min.map_or(wm, |m| m.min(wm))),
                }
            }
        }
        let holds = |part: &Part| {
            if without_data > 0 {
                part.watermark.is_none()
            } else {
                part.watermark.is_some() && part.watermark == min
            }
        };
        for (i, part) in self.parts.iter().enumerate() {
            if self.is_idle(part, now) || !holds(part) {
                continue;
            }
            report.holding_count += 1;
            if report.holding.len() < limit {
                report.holding.push(Holding {
                    partition: i as i32,
                    watermark: part.watermark,
                });
            }
        }
        report
    }

    /// Per-partition watermarks, for a checkpoint.
    pub fn snapshot(&self) -> BTreeMap<i32, Millis> {
        self.parts
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((i as i32, p.watermark?)))
            .collect()
    }

    /// Restores per-partition watermarks and the global watermark from a
    /// checkpoint. The per-partition values may be lower than they were
    /// (a checkpoint may round them down or omit them): that only delays
    /// the next advance, since the global watermark never moves back.
    pub fn restore(
        &mut self,
        watermarks: &BTreeMap<i32, Millis>,
        global: Option<Millis>,
        now: Millis,
    ) {
        for (&p, &wm) in watermarks {
            self.observe(p, wm, now);
        }
        self.recompute(now);
        if let Some(g) = global {
            self.raise(g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_over_partitions_minus_lateness_never_retreats() {
        let mut t = WatermarkTracker::new(2, 10, None, 0);
        t.observe(0, 1_000, 0);
        assert_eq!(t.recompute(0), None, "partition 1 holds it back");
        t.observe(1, 500, 0);
        assert_eq!(t.recompute(0), Some(490));
        t.observe(1, 2_000, 0);
        assert_eq!(t.recompute(0), Some(990));
        t.observe(0, 100, 0);
        assert_eq!(t.recompute(0), Some(990));
    }

    #[test]
    fn idle_partitions_stop_counting_after_the_timeout() {
        let mut t = WatermarkTracker::new(3, 0, Some(5_000), 0);
        t.observe(0, 1_000, 0);
        t.observe(1, 3_000, 4_000);
        assert_eq!(t.recompute(4_000), None, "partition 2 not idle yet");
        assert_eq!(t.recompute(5_000), Some(3_000), "0 and 2 idle");
        assert_eq!(t.recompute(20_000), Some(3_000), "all idle: the largest");
    }

    #[test]
    fn partitions_added_later_hold_the_watermark_until_they_send_data() {
        let mut t = WatermarkTracker::new(2, 0, Some(30_000), 0);
        t.observe(0, 1_000, 0);
        t.observe(1, 1_000, 0);
        assert_eq!(t.recompute(0), Some(1_000));
        t.ensure_partitions(3, 10_000);
        t.observe(0, 5_000, 10_000);
        t.observe(1, 5_000, 10_000);
        assert_eq!(t.recompute(20_000), Some(1_000), "partition 2 is new");
        let report = t.holding(20_000, 8);
        assert_eq!(
            report.holding,
            vec![Holding {
                partition: 2,
                watermark: None
            }]
        );
        assert_eq!((report.holding_count, report.idle), (1, 0));
        // Its idle clock started when it became known, not at creation.
        assert_eq!(t.recompute(39_999), Some(1_000));
        assert_eq!(t.recompute(40_000), Some(5_000));
        // A marker of a partition beyond the known count extends it.
        assert!(t.observe(4, 7_000, 40_000));
        assert_eq!(t.partitions(), 5);
        assert_eq!(
            t.holding(40_001, 8).holding_count,
            1,
            "partition 3 has no data"
        );
    }

    #[test]
    fn reports_the_partitions_at_the_minimum() {
        let mut t = WatermarkTracker::new(4, 0, Some(60_000), 0);
        for (p, wm) in [(0, 500), (1, 900), (2, 500), (3, 700)] {
            t.observe(p, wm, 0);
        }
        let report = t.holding(0, 1);
        assert_eq!(
            report.holding,
            vec![Holding {
                partition: 0,
                watermark: Some(500)
            }]
        );
        assert_eq!(report.holding_count, 2);
        assert_eq!(
            t.holding(60_000, 8),
            HoldReport {
                holding: vec![],
                holding_count: 0,
                idle: 4
            }
        );
    }

    #[test]
    fn restore_keeps_the_global_watermark_of_the_checkpoint() {
        let mut t = WatermarkTracker::new(2, 10, None, 0);
        // Per-partition values rounded down (or missing) in the checkpoint.
        t.restore(&BTreeMap::from([(0, 900)]), Some(5_000), 0);
        assert_eq!(t.global(), Some(5_000));
        t.observe(1, 2_000, 0);
        assert_eq!(t.recompute(0), Some(5_000), "never moves back");
        t.raise(4_000);
        assert_eq!(t.global(), Some(5_000));
        t.raise(6_000);
        assert_eq!(t.global(), Some(6_000));
    }
}
