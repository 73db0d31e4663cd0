//! Stage 1, pure: parse input records, pick out anomalies and dead letters,
//! and fold valid events into partial aggregates per (input partition,
//! kind, window, group). Holds nothing across flushes: [`PreAggregator::drain`]
//! hands everything over and starts empty.

use std::collections::BTreeMap;

use hashbrown::HashMap;

use serde::Serialize;

pub use super::dead_letter::DeadLetter;

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use super::alert_counts::{ALERT_WINDOW_MS, AlertCounts};
use super::partial::{Partial, PartialBody};
use super::user_history::UserAgg;
use super::user_id::UserId;
use super::window::{Millis, millis, rfc3339, to_cents, window_start};
use crate::event::{ProductId, PurchaseEventView};
use crate::fixed_schema;

/// Window sizes and the anomaly threshold.
#[derive(Clone, Copy, Debug)]
pub struct WindowConfig {
    pub sales_ms: Millis,
    pub segments_ms: Millis,
    pub hourly_ms: Millis,
    pub anomaly_threshold: f64,
    /// User windows (`user_history.rs`); `None`: no user history.
    pub users_ms: Option<Millis>,
    /// Count dead letters and anomalies per alert window (`alert_counts.rs`),
    /// for the processor's count alerts.
    pub count_alerts: bool,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            sales_ms: 60_000,
            segments_ms: 120_000,
            hourly_ms: 3_600_000,
            anomaly_threshold: 50_000.0,
            users_ms: None,
            count_alerts: false,
        }
    }
}

/// Parses one input record; the error is the dead-letter reason.
pub fn parse_event(payload: Option<&[u8]>) -> Result<PurchaseEventView<'_>, String> {
    let bytes = match payload {
        None => return Err("empty record: no value".to_owned()),
        Some(b) => b,
    };
    // The common shape first; anything else (including every invalid
    // record) goes through serde, which decides and gives the reason.
    if let Some(event) = fixed_schema::parse_view(bytes) {
        return Ok(event);
    }
    serde_json::from_slice::<PurchaseEventView<'_>>(bytes).map_err(|e| {
        let class = match e.classify() {
            serde_json::error::Category::Data => {
                let text = e.to_string();
                if text.starts_with("missing field") {
                    "missing field"
                } else {
                    "wrong type or value"
                }
            }
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "invalid JSON"
            }
        };
        format!("{class}: {e}")
    })
}

/// A record of the anomalies topic; borrows from the event, since it is
/// only serialised.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Anomaly<'a> {
    pub event_id: &'a str,
    pub timestamp: String,
    pub user_id: &'a str,
    pub product_name: &'a str,
    pub final_amount: f64,
    pub region: &'a str,
    pub anomaly_type: &'static str,
}

/// The anomaly for `event`, if its amount is strictly above `threshold`.
pub fn detect_anomaly<'a>(event: &'a PurchaseEventView<'_>, threshold: f64) -> Option<Anomaly<'a>> {
    (event.final_amount > threshold).then(|| Anomaly {
        event_id: &event.event_id,
        timestamp: rfc3339(millis(&event.timestamp)),
        user_id: &event.user_id,
        product_name: &event.product_name,
        final_amount: event.final_amount,
        region: &event.region,
        anomaly_type: "high_value_transaction",
    })
}

/// What one flush hands to the partials topic.
#[derive(Debug, Default)]
pub struct Drained {
    pub partials: Vec<Partial>,
    /// Largest event time per input partition in this flush.
    pub watermarks: BTreeMap<i32, Millis>,
}

/// Per (input partition, window start).
type PerWindow<V> = HashMap<(i32, Millis), V>;

/// A sales or hourly aggregate while the batch is open: user ids are
/// interned per batch, so an event costs one string hash (in the interner)
/// and two pushes instead of a hash and a copy per distinct-user set; the
/// sets of strings are built at the drain, on the writer's thread.
#[derive(Debug, Default)]
struct PreSales {
    order_count: u64,
    total_cents: i128,
    /// Interned user ids, with repeats until [`PreSales::finish`].
    users: Vec<u32>,
}

impl PreSales {
    fn add(&mut self, event: &PurchaseEventView<'_>, user: u32) {
        self.order_count += 1;
        self.total_cents += i128::from(to_cents(event.final_amount));
        self.users.push(user);
    }

    fn finish(mut self, names: &[&str]) -> SalesAgg {
        self.users.sort_unstable();
        self.users.dedup();
        SalesAgg {
            order_count: self.order_count,
            total_cents: self.total_cents,
            users: self
                .users
                .iter()
                .filter_map(|&u| names.get(u as usize))
                .map(|&name| UserId::new(name))
                .collect(),
        }
    }
}

/// The products of one window while the batch is open: integer and string
/// ids apart (as on the partials topic), so a lookup never allocates.
#[derive(Debug, Default)]
struct PreProducts {
    integers: HashMap<i64, ProductAgg>,
    strings: HashMap<String, ProductAgg>,
}

impl PreProducts {
    fn add(&mut self, event: &PurchaseEventView<'_>) {
        match &event.product_id {
            ProductId::Integer(n) => self.integers.entry(*n).or_default().add(event),
            ProductId::Text(text) => self
                .strings
                .entry_ref(text.as_ref())
                .or_default()
                .add(event),
        }
    }
}

/// Folds events into partial aggregates.
#[derive(Debug)]
pub struct PreAggregator {
    config: WindowConfig,
    /// User id → its number in this batch.
    users: HashMap<String, u32>,
    /// category → region → aggregate.
    sales: PerWindow<HashMap<String, HashMap<String, PreSales>>>,
    /// user segment → aggregate.
    segments: PerWindow<HashMap<String, SegmentAgg>>,
    /// category → aggregate.
    hourly: PerWindow<HashMap<String, PreSales>>,
    /// product id → aggregate.
    top: PerWindow<PreProducts>,
    /// user id → aggregate (with user history only).
    user_windows: PerWindow<HashMap<String, UserAgg>>,
    /// Dead letters and anomalies (with `count_alerts` only).
    alerts: PerWindow<AlertCounts>,
    watermarks: BTreeMap<i32, Millis>,
    events: u64,
}

impl PreAggregator {
    pub fn new(config: WindowConfig) -> Self {
        PreAggregator {
            config,
            users: HashMap::new(),
            sales: HashMap::new(),
            segments: HashMap::new(),
            hourly: HashMap::new(),
            top: HashMap::new(),
            user_windows: HashMap::new(),
            alerts: HashMap::new(),
            watermarks: BTreeMap::new(),
            events: 0,
        }
    }

    pub fn config(&self) -> &WindowConfig {
        &self.config
    }

    /// Events folded since the last drain.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Folds a valid event read from input partition `partition`.
    pub fn add(&mut self, partition: i32, event: &PurchaseEventView<'_>) {
        let ts = millis(&event.timestamp);
        let c = &self.config;
        self.events += 1;
        let wm = self.watermarks.entry(partition).or_insert(ts);
        *wm = (*wm).max(ts);
        let next = u32::try_from(self.users.len()).unwrap_or(u32::MAX);
        let user = *self.users.entry_ref(event.user_id.as_ref()).or_insert(next);

        // Keys are looked up by reference and only cloned for a new group.
        self.sales
            .entry((partition, window_start(ts, c.sales_ms)))
            .or_default()
            .entry_ref(event.category.as_ref())
            .or_default()
            .entry_ref(event.region.as_ref())
            .or_default()
            .add(event, user);
        self.segments
            .entry((partition, window_start(ts, c.segments_ms)))
            .or_default()
            .entry_ref(event.user_segment.as_ref())
            .or_default()
            .add(event);
        let hour = window_start(ts, c.hourly_ms);
        self.hourly
            .entry((partition, hour))
            .or_default()
            .entry_ref(event.category.as_ref())
            .or_default()
            .add(event, user);
        self.top.entry((partition, hour)).or_default().add(event);
        // The same comparison as `detect_anomaly`.
        if c.count_alerts && event.final_amount > c.anomaly_threshold {
            self.alerts
                .entry((partition, window_start(ts, ALERT_WINDOW_MS)))
                .or_default()
                .high_value_anomalies += 1;
        }
        if let Some(size) = c.users_ms {
            self.user_windows
                .entry((partition, window_start(ts, size)))
                .or_default()
                .entry_ref(event.user_id.as_ref())
                .or_default()
                .add(event);
        }
    }

    /// Counts a dead letter of input partition `partition` whose record
    /// carries the Kafka timestamp `record_ms` (without one, it is not
    /// counted: there is no time to put it in a window by).
    pub fn add_dead_letter(&mut self, partition: i32, record_ms: Option<Millis>) {
        if !self.config.count_alerts {
            return;
        }
        if let Some(ts) = record_ms {
            self.alerts
                .entry((partition, window_start(ts, ALERT_WINDOW_MS)))
                .or_default()
                .dead_letters += 1;
        }
    }

    /// Hands over every partial and the flush's watermarks, in a
    /// deterministic order, and starts empty.
    pub fn drain(&mut self) -> Drained {
        let watermarks = std::mem::take(&mut self.watermarks);
        let wm = |p: i32| watermarks.get(&p).copied().unwrap_or(Millis::MIN);
        let users = std::mem::take(&mut self.users);
        let mut names = vec![""; users.len()];
        for (name, &id) in &users {
            if let Some(slot) = names.get_mut(id as usize) {
                *slot = name.as_str();
            }
        }
        let mut partials = Vec::new();
        let mut sales: Vec<_> = self
            .sales
            .drain()
            .flat_map(|((p, start), categories)| {
                categories.into_iter().flat_map(move |(category, regions)| {
                    regions
                        .into_iter()
                        .map(move |(region, agg)| ((p, start, category.clone(), region), agg))
                })
            })
            .collect();
        sales.sort_by(|a, b| a.0.cmp(&b.0));
        for ((p, start, category, region), agg) in sales {
            partials.push(Partial {
                window_start: start,
                input_partition: p,
                watermark: wm(p),
                body: PartialBody::Sales {
                    category,
                    region,
                    agg: agg.finish(&names),
                },
            });
        }
        let mut segments: Vec<_> = self
            .segments
            .drain()
            .flat_map(|((p, start), groups)| {
                groups
                    .into_iter()
                    .map(move |(user_segment, agg)| ((p, start, user_segment), agg))
            })
            .collect();
        segments.sort_by(|a, b| a.0.cmp(&b.0));
        for ((p, start, user_segment), agg) in segments {
            partials.push(Partial {
                window_start: start,
                input_partition: p,
                watermark: wm(p),
                body: PartialBody::Segments { user_segment, agg },
            });
        }
        let mut hourly: Vec<_> = self
            .hourly
            .drain()
            .flat_map(|((p, start), categories)| {
                categories
                    .into_iter()
                    .map(move |(category, agg)| ((p, start, category), agg))
            })
            .collect();
        hourly.sort_by(|a, b| a.0.cmp(&b.0));
        for ((p, start, category), agg) in hourly {
            partials.push(Partial {
                window_start: start,
                input_partition: p,
                watermark: wm(p),
                body: PartialBody::Hourly {
                    category,
                    agg: agg.finish(&names),
                },
            });
        }
        let mut top: Vec<_> = self.top.drain().collect();
        top.sort_by_key(|e| e.0);
        for ((p, start), products) in top {
            partials.push(Partial {
                window_start: start,
                input_partition: p,
                watermark: wm(p),
                body: PartialBody::TopProducts {
                    products: products.strings.into_iter().collect(),
                    integer_products: products.integers.into_iter().collect(),
                },
            });
        }
        let mut per_user: Vec<_> = self
            .user_windows
            .drain()
            .flat_map(|((p, start), users)| {
                users
                    .into_iter()
                    .map(move |(user_id, agg)| ((p, start, user_id), agg))
            })
            .collect();
        per_user.sort_by(|a, b| a.0.cmp(&b.0));
        for ((p, start, user_id), agg) in per_user {
            partials.push(Partial {
                window_start: start,
                input_partition: p,
                watermark: wm(p),
                body: PartialBody::Users { user_id, agg },
            });
        }
        let mut alerts: Vec<_> = self.alerts.drain().collect();
        alerts.sort_by_key(|e| e.0);
        for ((p, start), counts) in alerts {
            partials.push(Partial {
                window_start: start,
                input_partition: p,
                watermark: wm(p),
                body: PartialBody::Alerts { counts },
            });
        }
        self.events = 0;
        Drained {
            partials,
            watermarks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::partial::Kind;

    const GOOD: &str = r#"{"event_id":"e1","timestamp":"2026-11-25T09:30:00+09:00",
        "user_id":"user_1","user_segment":"new","product_id":"P1","product_name":"Pen",
        "category":"office","quantity":2,"unit_price":30000.0,"base_amount":60000.0,
        "discount_rate":0.0,"discount_amount":0.0,"final_amount":60000.0,"region":"Tokyo",
        "device":"web","payment_method":"credit_card"}"#;

    #[test]
    fn dead_letter_reasons() {
        assert!(parse_event(None).unwrap_err().starts_with("empty record"));
        let e = parse_event(Some(b"{not json")).unwrap_err();
        assert!(e.starts_with("invalid JSON"), "{e}");
        let e = parse_event(Some(br#"{"event_id":"x"}"#)).unwrap_err();
        assert!(e.starts_with("missing field"), "{e}");
        let wrong = GOOD.replace(r#""quantity":2"#, r#""quantity":"two""#);
        let e = parse_event(Some(wrong.as_bytes())).unwrap_err();
        assert!(e.starts_with("wrong type"), "{e}");
    }

    #[test]
    fn anomaly_is_strictly_above_threshold() {
        let event = parse_event(Some(GOOD.as_bytes())).expect("valid");
        let a = detect_anomaly(&event, 50_000.0).expect("60000 > 50000");
        assert_eq!(a.timestamp, "2026-11-25T00:30:00Z");
        assert_eq!(a.anomaly_type, "high_value_transaction");
        assert!(detect_anomaly(&event, 60_000.0).is_none());
    }

    #[test]
    fn drain_empties_and_tracks_watermark() {
        let event = parse_event(Some(GOOD.as_bytes())).expect("valid");
        let mut pre = PreAggregator::new(WindowConfig::default());
        pre.add(2, &event);
        pre.add(2, &event);
        let drained = pre.drain();
        assert_eq!(drained.partials.len(), 4);
        assert_eq!(drained.watermarks[&2], millis(&event.timestamp));
        assert_eq!(pre.events(), 0);
        assert!(pre.drain().partials.is_empty());
    }

    #[test]
    fn alert_counts_go_by_minute_only_when_asked_for() {
        // GOOD is 60,000 yen at 2026-11-25T00:30:00Z.
        let event = parse_event(Some(GOOD.as_bytes())).expect("valid");
        let mut off = PreAggregator::new(WindowConfig::default());
        off.add(0, &event);
        off.add_dead_letter(0, Some(0));
        assert!(
            off.drain()
                .partials
                .iter()
                .all(|p| p.body.kind() != Kind::Alerts)
        );

        let config = WindowConfig {
            count_alerts: true,
            ..WindowConfig::default()
        };
        let mut pre = PreAggregator::new(config);
        pre.add(1, &event);
        pre.add(1, &event);
        let minute = window_start(millis(&event.timestamp), 60_000);
        pre.add_dead_letter(1, Some(minute + 59_999));
        pre.add_dead_letter(0, Some(minute));
        pre.add_dead_letter(0, None);
        let below = WindowConfig {
            anomaly_threshold: 60_000.0,
            ..config
        };
        let mut not_high = PreAggregator::new(below);
        not_high.add(1, &event);
        assert!(
            not_high
                .drain()
                .partials
                .iter()
                .all(|p| p.body.kind() != Kind::Alerts)
        );

        let alerts: Vec<(i32, Millis, AlertCounts, String)> = pre
            .drain()
            .partials
            .into_iter()
            .filter_map(|p| {
                let key = p.key();
                match p.body {
                    PartialBody::Alerts { counts } => {
                        Some((p.input_partition, p.window_start, counts, key))
                    }
                    _ => None,
                }
            })
            .collect();
        let counts = |dead_letters, high_value_anomalies| AlertCounts {
            dead_letters,
            high_value_anomalies,
        };
        assert_eq!(
            alerts,
            [
                (0, minute, counts(1, 0), format!("alerts|{minute}")),
                (1, minute, counts(1, 2), format!("alerts|{minute}")),
            ]
        );
    }
}
