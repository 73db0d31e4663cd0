//! Event-time watermark of stage 2, from the per-input-partition markers.
//!
//! The global watermark is `min over all input partitions of (largest event
//! time seen in the partition) − allowed lateness`, and never moves back.
//! A partition without any marker yet holds it back — also one the input
//! topic gained while running (learnt from the topic's metadata or from its
//! first marker), so windows stay open for the events written to it. A
//! partition stage 1 reported **idle** (read to its end, no new records for
//! the idle timeout: `idleness.rs`) does not count until its next data; if
//! every partition is idle, the largest partition watermark counts instead.

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
    /// How many are idle (not counted).
    pub idle: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Part {
    /// Largest event time of its markers; `None` before the first.
    watermark: Option<Millis>,
    /// Reported idle by stage 1 since its last data.
    idle: bool,
}

#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    lateness: Millis,
    /// Indexed by input partition; only grows (input topics only grow).
    parts: Vec<Part>,
    global: Option<Millis>,
}

impl WatermarkTracker {
    pub fn new(partitions: i32, lateness: Millis) -> Self {
        let mut tracker = WatermarkTracker {
            lateness,
            parts: Vec::new(),
            global: None,
        };
        tracker.ensure_partitions(partitions);
        tracker
    }

    /// Input partitions known (the topic's count, or more once markers of
    /// newer partitions arrived).
    pub fn partitions(&self) -> i32 {
        i32::try_from(self.parts.len()).unwrap_or(i32::MAX)
    }

    /// Learns that the input topic has `partitions` partitions. New ones
    /// hold the watermark back until they send data or are reported idle,
    /// so windows stay open for the events written to them.
    pub fn ensure_partitions(&mut self, partitions: i32) {
        let n = usize::try_from(partitions).unwrap_or(0);
        if n > self.parts.len() {
            self.parts.resize(n, Part::default());
        }
    }

    fn part(&mut self, partition: i32) -> Option<&mut Part> {
        let index = usize::try_from(partition).ok()?;
        self.ensure_partitions(partition.saturating_add(1));
        self.parts.get_mut(index)
    }

    /// Records a marker: the partition has data up to `watermark` (and is
    /// therefore not idle). Returns whether its watermark advanced.
    pub fn observe(&mut self, partition: i32, watermark: Millis) -> bool {
        let Some(part) = self.part(partition) else {
            return false;
        };
        part.idle = false;
        match part.watermark {
            Some(wm) if watermark <= wm => false,
            _ => {
                part.watermark = Some(watermark);
                true
            }
        }
    }

    /// Stage 1 reported the partition idle: it stops counting until its
    /// next data.
    pub fn mark_idle(&mut self, partition: i32) {
        if let Some(part) = self.part(partition) {
            part.idle = true;
        }
    }

    /// Recomputes and returns the global watermark.
    pub fn recompute(&mut self) -> Option<Millis> {
        let mut min: Option<Millis> = None;
        let mut any_active = false;
        let mut blocked = false;
        for part in self.parts.iter().filter(|p| !p.idle) {
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
    pub fn holding(&self, limit: usize) -> HoldReport {
        let mut report = HoldReport::default();
        let mut min: Option<Millis> = None;
        let mut without_data = 0;
        for part in &self.parts {
            if part.idle {
                report.idle += 1;
            } else {
                match part.watermark {
                    None => without_data += 1,
                    Some(wm) => min = Some(min.map_or(wm, |m| m.min(wm))),
                }
            }
        }
        let holds = |part: &Part| {
            !part.idle
                && if without_data > 0 {
                    part.watermark.is_none()
                } else {
                    part.watermark.is_some() && part.watermark == min
                }
        };
        for (i, part) in self.parts.iter().enumerate() {
            if !holds(part) {
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
    pub fn restore(&mut self, watermarks: &BTreeMap<i32, Millis>, global: Option<Millis>) {
        for (&p, &wm) in watermarks {
            self.observe(p, wm);
        }
        self.recompute();
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
        let mut t = WatermarkTracker::new(2, 10);
        t.observe(0, 1_000);
        assert_eq!(t.recompute(), None, "partition 1 holds it back");
        t.observe(1, 500);
        assert_eq!(t.recompute(), Some(490));
        t.observe(1, 2_000);
        assert_eq!(t.recompute(), Some(990));
        t.observe(0, 100);
        assert_eq!(t.recompute(), Some(990));
    }

    #[test]
    fn idle_partitions_stop_counting_until_their_next_data() {
        let mut t = WatermarkTracker::new(3, 0);
        t.observe(0, 1_000);
        t.observe(1, 3_000);
        assert_eq!(t.recompute(), None, "partition 2 has no data");
        t.mark_idle(2);
        assert_eq!(t.recompute(), Some(1_000));
        t.mark_idle(0);
        assert_eq!(t.recompute(), Some(3_000));
        t.mark_idle(1);
        assert_eq!(t.recompute(), Some(3_000), "all idle: the largest");
        // Data on 2 makes it count again.
        t.observe(2, 2_000);
        t.observe(1, 9_000);
        assert_eq!(t.recompute(), Some(3_000), "never moves back");
        t.observe(2, 5_000);
        assert_eq!(t.recompute(), Some(5_000));
    }

    #[test]
    fn partitions_added_later_hold_the_watermark_until_they_send_data() {
        let mut t = WatermarkTracker::new(2, 0);
        t.observe(0, 1_000);
        t.observe(1, 1_000);
        assert_eq!(t.recompute(), Some(1_000));
        t.ensure_partitions(3);
        t.observe(0, 5_000);
        t.observe(1, 5_000);
        assert_eq!(t.recompute(), Some(1_000), "partition 2 is new");
        let report = t.holding(8);
        assert_eq!(
            report.holding,
            vec![Holding {
                partition: 2,
                watermark: None
            }]
        );
        assert_eq!((report.holding_count, report.idle), (1, 0));
        // A marker of a partition beyond the known count extends it.
        assert!(t.observe(4, 7_000));
        assert_eq!(t.partitions(), 5);
        assert_eq!(t.holding(8).holding_count, 2, "2 and 3 have no data");
    }

    #[test]
    fn reports_the_partitions_at_the_minimum() {
        let mut t = WatermarkTracker::new(4, 0);
        for (p, wm) in [(0, 500), (1, 900), (2, 500), (3, 700)] {
            t.observe(p, wm);
        }
        let report = t.holding(1);
        assert_eq!(
            report.holding,
            vec![Holding {
                partition: 0,
                watermark: Some(500)
            }]
        );
        assert_eq!(report.holding_count, 2);
        t.mark_idle(0);
        t.mark_idle(2);
        let report = t.holding(8);
        assert_eq!((report.holding_count, report.idle), (1, 2));
        assert_eq!(report.holding[0].partition, 3);
    }

    #[test]
    fn restore_keeps_the_global_watermark_of_the_checkpoint() {
        let mut t = WatermarkTracker::new(2, 10);
        // Per-partition values rounded down (or missing) in the checkpoint.
        t.restore(&BTreeMap::from([(0, 900)]), Some(5_000));
        assert_eq!(t.global(), Some(5_000));
        t.observe(1, 2_000);
        assert_eq!(t.recompute(), Some(5_000), "never moves back");
        t.raise(4_000);
        assert_eq!(t.global(), Some(5_000));
        t.raise(6_000);
        assert_eq!(t.global(), Some(6_000));
    }
}
