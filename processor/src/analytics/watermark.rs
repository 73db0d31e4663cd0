//! Event-time watermark of stage 2, from the per-input-partition markers.
//!
//! The global watermark is `min over all input partitions of (largest event
//! time seen in the partition) − allowed lateness`, and never moves back.
//! A partition without any marker yet holds it back. With an idle timeout
//! configured, a partition whose marker has not advanced for that long
//! (wall clock) stops counting; if every partition is idle, the largest
//! partition watermark counts instead.

use std::collections::BTreeMap;

use super::window::Millis;

#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    partitions: i32,
    lateness: Millis,
    idle_timeout: Option<Millis>,
    created: Millis,
    /// Per input partition: largest event time, wall clock of its last advance.
    seen: BTreeMap<i32, (Millis, Millis)>,
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
        WatermarkTracker {
            partitions,
            lateness,
            idle_timeout,
            created: now,
            seen: BTreeMap::new(),
            global: None,
        }
    }

    /// Records a marker; returns whether the partition's watermark advanced.
    pub fn observe(&mut self, partition: i32, watermark: Millis, now: Millis) -> bool {
        match self.seen.get_mut(&partition) {
            Some((wm, last)) if watermark > *wm => {
                *wm = watermark;
                *last = now;
                true
            }
            Some(_) => false,
            None => {
                self.seen.insert(partition, (watermark, now));
                true
            }
        }
    }

    /// Recomputes and returns the global watermark.
    pub fn recompute(&mut self, now: Millis) -> Option<Millis> {
        let mut min: Option<Millis> = None;
        let mut any_active = false;
        let mut blocked = false;
        for p in 0..self.partitions {
            let (wm, last) = match self.seen.get(&p) {
                Some(&(wm, last)) => (Some(wm), last),
                None => (None, self.created),
            };
            if let Some(timeout) = self.idle_timeout
                && now.saturating_sub(last) >= timeout
            {
                continue;
            }
            any_active = true;
            match wm {
                Some(wm) => min = Some(min.map_or(wm, |m| m.min(wm))),
                None => blocked = true,
            }
        }
        let candidate = if !any_active {
            self.seen.values().map(|&(wm, _)| wm).max()
        } else if blocked {
            None
        } else {
            min
        };
        if let Some(c) = candidate {
            let c = c.saturating_sub(self.lateness);
            self.global = Some(self.global.map_or(c, |g| g.max(c)));
        }
        self.global
    }

    pub fn global(&self) -> Option<Millis> {
        self.global
    }

    /// Per-partition watermarks, for a checkpoint.
    pub fn snapshot(&self) -> BTreeMap<i32, Millis> {
        self.seen.iter().map(|(&p, &(wm, _))| (p, wm)).collect()
    }

    /// Restores per-partition watermarks from a checkpoint.
    pub fn restore(&mut self, watermarks: &BTreeMap<i32, Millis>, now: Millis) {
        for (&p, &wm) in watermarks {
            self.observe(p, wm, now);
        }
        self.recompute(now);
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
}
