//! Stage 2, pure: the merge state of ONE partials-topic partition. Every
//! window's partials hash to a single partials partition, and every
//! partition carries every watermark marker, so what a window's final
//! result contains depends only on that partition's content.

use super::agg::{Aggregate, ProductAgg, SalesAgg, SegmentAgg};
use super::alert_counts::{ALERT_WINDOW_MS, AlertCounts};
pub use super::checkpoint::Checkpoint;
use super::checkpoint::HOLDING_LISTED;
use super::partial::{Kind, Partial, PartialBody, PartialsRecord};
use super::preagg::WindowConfig;
use super::store::{Window, WindowStore};
use super::user_history::UserAgg;
use super::watermark::{HoldReport, WatermarkTracker};
use super::window::Millis;
use crate::event::{OwnedProductId, ProductId};

/// The segment group that takes the segments of a window beyond
/// [`MergeConfig::max_segments_per_window`], so their revenue stays in the
/// totals.
pub const OTHER_SEGMENT: &str = "(other)";

#[derive(Clone, Copy, Debug)]
pub struct MergeConfig {
    pub windows: WindowConfig,
    /// Partition count of the input topic (at start; it may grow).
    pub input_partitions: i32,
    pub lateness_ms: Millis,
    /// Distinct user segments one partials partition keeps per segment
    /// window; the segments arriving after that go into [`OTHER_SEGMENT`].
    /// `user_segment` is an open string, and this bounds the state (and the
    /// output) a producer writing, say, user ids into it would create.
    pub max_segments_per_window: usize,
}

impl MergeConfig {
    pub fn size_of(&self, kind: Kind) -> Millis {
        match kind {
            Kind::Sales => self.windows.sales_ms,
            Kind::Segments => self.windows.segments_ms,
            Kind::Hourly | Kind::TopProducts => self.windows.hourly_ms,
            Kind::Users => self.windows.users_ms.unwrap_or(self.windows.sales_ms),
            Kind::Alerts => ALERT_WINDOW_MS,
        }
    }
}

/// The outcome of applying one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Folded,
    /// For an already final window: never folded; carries the kind and
    /// the event count.
    Late(Kind, u64),
    /// Re-read after a restart, for a window already final before it.
    Replayed,
    Watermark,
}

/// Windows closed by a watermark advance, oldest first per kind.
#[derive(Debug, Default)]
pub struct Closed {
    pub sales: Vec<Window<(String, String), SalesAgg>>,
    pub segments: Vec<Window<String, SegmentAgg>>,
    pub hourly: Vec<Window<String, SalesAgg>>,
    pub top_products: Vec<Window<OwnedProductId, ProductAgg>>,
    /// Closed user windows (`user_history.rs`): not output records
    /// themselves; stage 2 folds them into the users' histories.
    pub users: Vec<Window<String, UserAgg>>,
    /// Closed alert windows (`alerts.rs`): judged, not output.
    pub alerts: Vec<Window<(), AlertCounts>>,
}

impl Closed {
    /// How many windows were closed.
    pub fn windows(&self) -> usize {
        self.sales.len()
            + self.segments.len()
            + self.hourly.len()
            + self.top_products.len()
            + self.users.len()
            + self.alerts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sales.is_empty()
            && self.segments.is_empty()
            && self.hourly.is_empty()
            && self.top_products.is_empty()
            && self.users.is_empty()
            && self.alerts.is_empty()
    }
}

#[derive(Debug)]
pub struct MergeState {
    config: MergeConfig,
    tracker: WatermarkTracker,
    sales: WindowStore<(String, String), SalesAgg>,
    segments: WindowStore<String, SegmentAgg>,
    hourly: WindowStore<String, SalesAgg>,
    top_products: WindowStore<OwnedProductId, ProductAgg>,
    users: WindowStore<String, UserAgg>,
    alerts: WindowStore<(), AlertCounts>,
    replay_until: i64,
    next_offset: Option<i64>,
    /// Events folded into [`OTHER_SEGMENT`] since the last
    /// [`MergeState::take_overflowed_events`].
    overflowed_events: u64,
    /// Wall clock of the last early close at the memory bound.
    forced_close_at: Option<Millis>,
}

impl MergeState {
    pub fn new(config: MergeConfig) -> Self {
        MergeState {
            config,
            tracker: WatermarkTracker::new(config.input_partitions, config.lateness_ms),
            sales: WindowStore::default(),
            segments: WindowStore::default(),
            hourly: WindowStore::default(),
            top_products: WindowStore::default(),
            users: WindowStore::default(),
            alerts: WindowStore::default(),
            replay_until: i64::MIN,
            next_offset: None,
            overflowed_events: 0,
            forced_close_at: None,
        }
    }

    /// The state after a restart from a committed checkpoint.
    pub fn restore(config: MergeConfig, checkpoint: &Checkpoint) -> Self {
        let mut state = MergeState::new(config);
        state
            .tracker
            .restore(&checkpoint.watermarks, checkpoint.global);
        state.replay_until = checkpoint.position;
        state.forced_close_at = checkpoint.forced_close_at;
        state
    }

    /// The global watermark (windows ending at or before it are final).
    pub fn watermark(&self) -> Option<Millis> {
        self.tracker.global()
    }

    fn is_final(&self, end: Millis) -> bool {
        self.tracker.global().is_some_and(|g| end <= g)
    }

    /// Applies the record at `offset`. Watermark markers only record the
    /// partition's progress: call [`MergeState::close`] to emit.
    pub fn apply(&mut self, offset: i64, record: PartialsRecord) -> Applied {
        self.next_offset = Some(self.next_offset.map_or(offset + 1, |n| n.max(offset + 1)));
        match record {
            PartialsRecord::Watermark {
                input_partition,
                watermark,
            } => {
                self.tracker.observe(input_partition, watermark);
                Applied::Watermark
            }
            PartialsRecord::Watermarks { watermarks, idle } => {
                for (input_partition, watermark) in watermarks {
                    self.tracker.observe(input_partition, watermark);
                }
                for input_partition in idle {
                    self.tracker.mark_idle(input_partition);
                }
                Applied::Watermark
            }
            PartialsRecord::Partial(partial) => self.fold(offset, partial),
        }
    }

    fn fold(&mut self, offset: i64, partial: Partial) -> Applied {
        let start = partial.window_start;
        let end = start.saturating_add(self.config.size_of(partial.body.kind()));
        if self.is_final(end) {
            if offset < self.replay_until {
                return Applied::Replayed;
            }
            let events = match &partial.body {
                PartialBody::Sales { agg, .. } | PartialBody::Hourly { agg, .. } => agg.events(),
                PartialBody::Segments { agg, .. } => agg.events(),
                PartialBody::TopProducts {
                    products,
                    integer_products,
                } => products
                    .values()
                    .chain(integer_products.values())
                    .map(|p| p.events())
                    .sum(),
                PartialBody::Users { agg, .. } => agg.events(),
                PartialBody::Alerts { counts } => counts.events(),
            };
            return Applied::Late(partial.body.kind(), events);
        }
        match partial.body {
            PartialBody::Sales {
                category,
                region,
                agg,
            } => self
                .sales
                .merge(start, end, offset, (category, region), agg),
            PartialBody::Segments { user_segment, agg } => {
                let bound = self.config.max_segments_per_window;
                let group = if self.segments.admits(end, &user_segment, bound) {
                    user_segment
                } else {
                    self.overflowed_events += agg.events();
                    OTHER_SEGMENT.to_owned()
                };
                self.segments.merge(start, end, offset, group, agg)
            }
            PartialBody::Hourly { category, agg } => {
                self.hourly.merge(start, end, offset, category, agg)
            }
            PartialBody::TopProducts {
                products,
                integer_products,
            } => {
                for (id, agg) in integer_products {
                    let id = ProductId::Integer(id);
                    self.top_products.merge(start, end, offset, id, agg);
                }
                for (id, agg) in products {
                    let id = ProductId::Text(id.into());
                    self.top_products.merge(start, end, offset, id, agg);
                }
            }
            PartialBody::Users { user_id, agg } => {
                self.users.merge(start, end, offset, user_id, agg)
            }
            PartialBody::Alerts { counts } => self.alerts.merge(start, end, offset, (), counts),
        }
        Applied::Folded
    }

    /// Learns the input topic's current partition count (it only grows).
    pub fn ensure_input_partitions(&mut self, partitions: i32) {
        self.tracker.ensure_partitions(partitions);
    }

    /// Advances the watermark and pops every window it closes.
    pub fn close(&mut self) -> Closed {
        let Some(g) = self.tracker.recompute() else {
            return Closed::default();
        };
        self.pop_closed(g)
    }

    fn pop_closed(&mut self, g: Millis) -> Closed {
        Closed {
            sales: self.sales.pop_closed(g),
            segments: self.segments.pop_closed(g),
            hourly: self.hourly.pop_closed(g),
            top_products: self.top_products.pop_closed(g),
            users: self.users.pop_closed(g),
            alerts: self.alerts.pop_closed(g),
        }
    }

    /// At the memory bound: closes the oldest open window(s) now, by moving
    /// the watermark to the oldest window end (so partials for them that
    /// arrive later are counted as late, as for any final window).
    pub fn close_oldest(&mut self, now: Millis) -> Closed {
        let oldest = [
            self.sales.oldest_end(),
            self.segments.oldest_end(),
            self.hourly.oldest_end(),
            self.top_products.oldest_end(),
            self.users.oldest_end(),
            self.alerts.oldest_end(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(end) = oldest else {
            return Closed::default();
        };
        self.tracker.raise(end);
        self.forced_close_at = Some(now);
        self.pop_closed(end)
    }

    /// Estimated heap bytes of the open windows.
    pub fn bytes(&self) -> usize {
        self.sales.bytes()
            + self.segments.bytes()
            + self.hourly.bytes()
            + self.top_products.bytes()
            + self.users.bytes()
            + self.alerts.bytes()
    }

    /// Which input partitions hold the watermark back.
    pub fn holding(&self) -> HoldReport {
        self.tracker.holding(HOLDING_LISTED)
    }

    /// The offset stage 2 may commit: the earliest offset of a still-open
    /// window, else the position after the last record applied.
    pub fn commit_offset(&self) -> Option<i64> {
        [
            self.sales.first_offset(),
            self.segments.first_offset(),
            self.hourly.first_offset(),
            self.top_products.first_offset(),
            self.users.first_offset(),
            self.alerts.first_offset(),
        ]
        .into_iter()
        .flatten()
        .min()
        .or(self.next_offset)
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            position: self.next_offset.unwrap_or(self.replay_until),
            global: self.tracker.global(),
            watermarks: self.tracker.snapshot(),
            hold: self.holding(),
            forced_close_at: self.forced_close_at,
        }
    }

    /// Events folded into [`OTHER_SEGMENT`] since the last call (for the
    /// overflow metric).
    pub fn take_overflowed_events(&mut self) -> u64 {
        std::mem::take(&mut self.overflowed_events)
    }

    /// Offset after the last record applied, if any.
    pub fn position(&self) -> Option<i64> {
        self.next_offset
    }

    /// The consumer's position: past the last record applied and past the
    /// transaction markers after it (which are never delivered), so the
    /// checkpoint's position reaches the end of a partition that was read
    /// to its end.
    pub fn advance_position(&mut self, position: i64) {
        if self.next_offset.is_some_and(|n| position > n) {
            self.next_offset = Some(position);
        }
    }

    /// Open windows over all kinds.
    pub fn open_windows(&self) -> usize {
        self.sales.len()
            + self.segments.len()
            + self.hourly.len()
            + self.top_products.len()
            + self.users.len()
            + self.alerts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(name: &str, orders: u64) -> PartialsRecord {
        PartialsRecord::Partial(Partial {
            window_start: 0,
            input_partition: 0,
            watermark: 0,
            body: PartialBody::Segments {
                user_segment: name.to_owned(),
                agg: SegmentAgg {
                    orders,
                    revenue_cents: 100 * i128::from(orders),
                    ..SegmentAgg::default()
                },
            },
        })
    }

    #[test]
    fn segments_beyond_the_bound_go_to_other_with_their_revenue() {
        let config = MergeConfig {
            windows: WindowConfig::default(),
            input_partitions: 1,
            lateness_ms: 0,
            max_segments_per_window: 2,
        };
        let mut state = MergeState::new(config);
        for (offset, (name, orders)) in [("a", 1), ("b", 2), ("c", 3), ("a", 4), ("d", 5)]
            .into_iter()
            .enumerate()
        {
            state.apply(offset as i64, segment(name, orders));
        }
        assert_eq!(state.take_overflowed_events(), 8);
        assert_eq!(state.take_overflowed_events(), 0);
        state.apply(
            9,
            PartialsRecord::Watermark {
                input_partition: 0,
                watermark: Millis::MAX / 2,
            },
        );
        let closed = state.close();
        let groups: Vec<(&str, u64, i128)> = closed.segments[0]
            .groups
            .iter()
            .map(|(k, a)| (k.as_str(), a.orders, a.revenue_cents))
            .collect();
        assert_eq!(groups, [("(other)", 8, 800), ("a", 5, 500), ("b", 2, 200)]);
    }
}
