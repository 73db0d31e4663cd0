//! Per-user purchase history: the input of serving's customer lifetime
//! value (CLV), one record per user on a compacted topic. Pure.
//!
//! A user's history is cumulative (every purchase since the first), so it
//! cannot be a window's result like the other outputs; it is built from
//! windows anyway, so that it inherits their exactness:
//!
//! 1. Stage 1 folds each event into a [`UserAgg`] per (input partition,
//!    user window, user), a partial routed by the **user** alone
//!    (`users|<user>`), so every window of a user is merged by one partials
//!    partition, in window order.
//! 2. Stage 2 merges them like any windowed aggregate; when the watermark
//!    closes a user window, the window's aggregate is final and identical
//!    on every replica and replay.
//! 3. The user's [`History`] absorbs it **only if** the window ends after
//!    the last window it already holds ([`History::through`]). Each history
//!    record carries `through` (as `as_of`), and stage 2 reloads the
//!    records from the compacted topic when it is assigned partials
//!    partitions or rewinds: a window replayed after a crash, whose
//!    history was already written, is not added twice; one whose history
//!    was lost with the crash is added again. The value of "a user's
//!    history through window W" is a function of the input alone, so
//!    whichever replica writes it writes the same bytes.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use super::agg::{Aggregate, wide};
use super::memory::ApproxBytes;
use super::output::record_key;
use super::store::Window;
use super::window::{Millis, millis, rfc3339, to_cents};
use crate::event::PurchaseEventView;

/// The latest purchase of a user (by event time; equal times by event id,
/// then by the other fields, so the choice never depends on arrival order).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LastPurchase {
    pub timestamp_ms: Millis,
    pub event_id: String,
    pub user_segment: String,
    pub final_amount: f64,
    pub quantity: u32,
    pub discount_rate: f64,
}

impl LastPurchase {
    fn of(event: &PurchaseEventView<'_>) -> LastPurchase {
        LastPurchase {
            timestamp_ms: millis(&event.timestamp),
            event_id: event.event_id.to_string(),
            user_segment: event.user_segment.to_string(),
            final_amount: event.final_amount,
            quantity: event.quantity,
            discount_rate: event.discount_rate,
        }
    }

    fn later_than(&self, other: &LastPurchase) -> bool {
        let order = self
            .timestamp_ms
            .cmp(&other.timestamp_ms)
            .then_with(|| self.event_id.cmp(&other.event_id))
            .then_with(|| self.final_amount.total_cmp(&other.final_amount))
            .then_with(|| self.quantity.cmp(&other.quantity))
            .then_with(|| self.discount_rate.total_cmp(&other.discount_rate))
            .then_with(|| self.user_segment.cmp(&other.user_segment));
        order == std::cmp::Ordering::Greater
    }
}

/// A user's purchases in one window (or, as a [`History`], since the
/// first): exact and order-independent like every aggregate.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct UserAgg {
    pub orders: u64,
    #[serde(with = "wide")]
    pub monetary_cents: i128,
    pub first_ms: Millis,
    pub last: Option<LastPurchase>,
}

impl Default for UserAgg {
    fn default() -> Self {
        UserAgg {
            orders: 0,
            monetary_cents: 0,
            first_ms: Millis::MAX,
            last: None,
        }
    }
}

impl UserAgg {
    pub fn add(&mut self, event: &PurchaseEventView<'_>) {
        self.orders = self.orders.saturating_add(1);
        self.monetary_cents += i128::from(to_cents(event.final_amount));
        self.first_ms = self.first_ms.min(millis(&event.timestamp));
        let candidate = LastPurchase::of(event);
        if self.last.as_ref().is_none_or(|l| candidate.later_than(l)) {
            self.last = Some(candidate);
        }
    }
}

impl Aggregate for UserAgg {
    fn merge(&mut self, other: Self) {
        self.orders = self.orders.saturating_add(other.orders);
        self.monetary_cents += other.monetary_cents;
        self.first_ms = self.first_ms.min(other.first_ms);
        if let Some(candidate) = other.last {
            if self.last.as_ref().is_none_or(|l| candidate.later_than(l)) {
                self.last = Some(candidate);
            }
        }
    }
    fn events(&self) -> u64 {
        self.orders
    }
}

impl ApproxBytes for UserAgg {
    fn approx_bytes(&self) -> usize {
        let last = self.last.as_ref().map_or(0, |l| {
            64 + l.event_id.capacity() + l.user_segment.capacity()
        });
        48 + 40 + last
    }
}

/// A user's history: every purchase of the windows up to `through`.
#[derive(Clone, Debug, PartialEq)]
pub struct History {
    pub agg: UserAgg,
    /// End of the latest window included (epoch ms).
    pub through: Millis,
}

impl History {
    /// Adds a closed window's aggregate unless the history already holds
    /// that window (a replay); true if it changed.
    pub fn absorb(&mut self, window_end: Millis, agg: UserAgg) -> bool {
        if window_end <= self.through {
            return false;
        }
        self.agg.merge(agg);
        self.through = window_end;
        true
    }
}

/// The original's per-event features (`MLStreamingPredictor.prepare_features`)
/// of the user's latest purchase.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct Features {
    /// 0–23, UTC (Spark's `hour`, in the original containers' UTC).
    pub hour: u32,
    /// Spark's `dayofweek`: 1 = Sunday … 7 = Saturday.
    pub day_of_week: u32,
    /// 1 on Saturday and Sunday, else 0.
    pub is_weekend: u8,
    /// `final_amount / quantity`, rounded to 2 decimals; `null` for a
    /// quantity of 0 (Spark's division by zero; validation refuses it).
    pub price_per_quantity: Option<f64>,
    /// `high` above 0.1, `medium` above 0.05, else `low` (strictly above).
    pub discount_category: String,
}

impl Features {
    pub fn of(last: &LastPurchase) -> Features {
        let time = Utc
            .timestamp_millis_opt(last.timestamp_ms)
            .single()
            .unwrap_or_default();
        let day_of_week = time.weekday().number_from_sunday();
        let discount_category = if last.discount_rate > 0.1 {
            "high"
        } else if last.discount_rate > 0.05 {
            "medium"
        } else {
            "low"
        };
        Features {
            hour: time.hour(),
            day_of_week,
            is_weekend: u8::from(day_of_week == 1 || day_of_week == 7),
            price_per_quantity: (last.quantity > 0).then(|| {
                purchase_event::python_json::round(last.final_amount / f64::from(last.quantity), 2)
            }),
            discount_category: discount_category.to_owned(),
        }
    }
}

/// The latest purchase as written in a history record.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct LastEventOut {
    pub event_id: String,
    pub timestamp: String,
    pub final_amount: f64,
    pub quantity: u32,
    pub discount_rate: f64,
}

/// A record of the user-history topic (key: the user id, escaped like
/// every record-key part). `monetary` is for readers; `monetary_cents` is
/// exact and what a restart reads back.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct HistoryRecord {
    pub user_id: String,
    /// The segment of the latest purchase.
    pub user_segment: String,
    pub orders: u64,
    pub monetary: f64,
    #[serde(with = "wide")]
    pub monetary_cents: i128,
    pub first_purchase: String,
    pub last_purchase: String,
    /// End of the latest user window included: the event time the history
    /// is valid at.
    pub as_of: String,
    pub last_event: LastEventOut,
    pub features: Features,
}

fn parse_ms(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| millis(&t.with_timezone(&Utc)))
}

impl HistoryRecord {
    /// `None` for a history without purchases (never written).
    pub fn new(user_id: &str, history: &History) -> Option<HistoryRecord> {
        let last = history.agg.last.as_ref()?;
        Some(HistoryRecord {
            user_id: user_id.to_owned(),
            user_segment: last.user_segment.clone(),
            orders: history.agg.orders,
            monetary: history.agg.monetary_cents as f64 / 100.0,
            monetary_cents: history.agg.monetary_cents,
            first_purchase: rfc3339(history.agg.first_ms),
            last_purchase: rfc3339(last.timestamp_ms),
            as_of: rfc3339(history.through),
            last_event: LastEventOut {
                event_id: last.event_id.clone(),
                timestamp: rfc3339(last.timestamp_ms),
                final_amount: last.final_amount,
                quantity: last.quantity,
                discount_rate: last.discount_rate,
            },
            features: Features::of(last),
        })
    }

    /// The history this record describes (what a restart resumes from).
    pub fn history(&self) -> Option<History> {
        Some(History {
            agg: UserAgg {
                orders: self.orders,
                monetary_cents: self.monetary_cents,
                first_ms: parse_ms(&self.first_purchase)?,
                last: Some(LastPurchase {
                    timestamp_ms: parse_ms(&self.last_event.timestamp)?,
                    event_id: self.last_event.event_id.clone(),
                    user_segment: self.user_segment.clone(),
                    final_amount: self.last_event.final_amount,
                    quantity: self.last_event.quantity,
                    discount_rate: self.last_event.discount_rate,
                }),
            },
            through: parse_ms(&self.as_of)?,
        })
    }
}

/// One record for the user-history topic.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryOut {
    pub key: String,
    pub value: String,
    pub window_end: Millis,
}

/// Every user's history known to one stage 2 (its users are those of the
/// partials partitions it merges, plus what it loaded from the topic).
#[derive(Debug, Default)]
pub struct Histories {
    users: HashMap<String, History>,
}

impl Histories {
    /// Learns a history read back from the topic: kept if it holds more
    /// windows than the one known (a stale record never replaces a newer
    /// history, whatever order the topic was read in).
    pub fn learn(&mut self, user_id: String, history: History) {
        match self.users.get_mut(&user_id) {
            Some(known) if known.through >= history.through => {}
            Some(known) => *known = history,
            None => {
                self.users.insert(user_id, history);
            }
        }
    }

    pub fn clear(&mut self) {
        self.users.clear();
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    pub fn get(&self, user_id: &str) -> Option<&History> {
        self.users.get(user_id)
    }

    /// Absorbs closed user windows (oldest first) and returns the records
    /// of the users whose history changed, one per window and user.
    pub fn absorb(&mut self, windows: Vec<Window<String, UserAgg>>) -> Vec<HistoryOut> {
        let mut out = Vec::new();
        for window in windows {
            for (user_id, agg) in window.groups {
                let history = self.users.entry(user_id.clone()).or_insert(History {
                    agg: UserAgg::default(),
                    through: Millis::MIN,
                });
                if !history.absorb(window.end, agg) {
                    continue;
                }
                if let Some(record) = HistoryRecord::new(&user_id, history) {
                    out.push(HistoryOut {
                        key: record_key(&[&user_id]),
                        // Plain strings and finite numbers: cannot fail.
                        value: serde_json::to_string(&record).unwrap_or_default(),
                        window_end: window.end,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "user_history_tests.rs"]
mod tests;
