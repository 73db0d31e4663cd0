//! A deliberately simple recomputation of every result from the raw input
//! records, written for the tests without the processor's code: JSON read
//! with `serde_json::Value`, times with chrono's RFC 3339 parser, one pass
//! over all events. It states the output contract (docs/processor.md):
//! amounts summed in exact cents, `revenue_rank` as SQL `rank()` over
//! exact revenue, product ids keeping their JSON type (`5` and `"5"` being
//! different products), the original's `hour` on hourly results, any
//! segment string grouped as it is.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat};
use serde_json::{Value, json};

use super::pipeline::{OUTPUTS, Results, Settings};

/// A product id as the processor orders it: integers first, then strings.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Product {
    Integer(i64),
    Text(String),
}

impl Product {
    fn json(&self) -> Value {
        match self {
            Product::Integer(n) => json!(n),
            Product::Text(s) => json!(s),
        }
    }

    /// The key component: digits for integers; strings as they are, quoted
    /// when they read as an integer or start with a quote.
    fn key(&self) -> String {
        match self {
            Product::Integer(n) => n.to_string(),
            Product::Text(s) => {
                let digits = s.strip_prefix('-').unwrap_or(s);
                let integer = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit());
                if integer || s.starts_with('"') {
                    format!("\"{s}\"")
                } else {
                    s.clone()
                }
            }
        }
    }
}

/// What the recomputation needs of a valid event.
struct Event {
    ms: i64,
    event_id: String,
    user: String,
    segment: String,
    product: Product,
    name: String,
    category: String,
    region: String,
    quantity: u64,
    final_amount: f64,
    discount_rate: f64,
}

/// The event in `text`, if the processor must accept it: a JSON object
/// with the sixteen fields, strings where strings belong, an integer or a
/// string product id, a non-negative integer quantity, numbers for the
/// amounts, an RFC 3339 time; and in range (docs/processor.md, "Valid
/// events and dead letters"): amounts 0–10^12, discount rate 0–1, quantity
/// 1–1,000,000, the text fields of 1–1,024 bytes (the segment may be
/// empty), an event time at most 300 s ahead of now.
fn valid(text: &str) -> Option<Event> {
    let e = parsed(text)?;
    let v: Value = serde_json::from_str(text).ok()?;
    let amount = |k: &str| v[k].as_f64().is_some_and(|a| (0.0..=1e12).contains(&a));
    let text_ok = |s: &str| !s.is_empty() && s.len() <= 1024;
    let in_range = [
        "unit_price",
        "base_amount",
        "discount_amount",
        "final_amount",
    ]
    .iter()
    .all(|k| amount(k))
        && (0.0..=1.0).contains(&e.discount_rate)
        && (1..=1_000_000).contains(&e.quantity)
        && [&e.event_id, &e.user, &e.name, &e.category, &e.region]
            .iter()
            .all(|s| text_ok(s))
        && match &e.product {
            Product::Text(s) => text_ok(s),
            Product::Integer(_) => true,
        }
        && e.segment.len() <= 1024
        && e.ms <= chrono::Utc::now().timestamp_millis() + 300_000;
    in_range.then_some(e)
}

/// The record key: parts joined by `|`, each with `\` and `|` escaped by
/// a backslash.
fn key(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.replace('\\', "\\\\").replace('|', "\\|"))
        .collect::<Vec<_>>()
        .join("|")
}

/// [`valid`] without the ranges.
fn parsed(text: &str) -> Option<Event> {
    let v: Value = serde_json::from_str(text).ok()?;
    let s = |k: &str| v.get(k)?.as_str().map(str::to_owned);
    let n = |k: &str| v.get(k)?.as_f64();
    for k in ["unit_price", "base_amount", "discount_amount"] {
        n(k)?;
    }
    let product = match v.get("product_id")? {
        Value::String(s) => Product::Text(s.clone()),
        Value::Number(x) => Product::Integer(x.as_i64()?),
        _ => return None,
    };
    let quantity = v
        .get("quantity")?
        .as_u64()
        .filter(|q| *q <= u64::from(u32::MAX))?;
    let ms = DateTime::parse_from_rfc3339(&s("timestamp")?)
        .ok()?
        .timestamp_millis();
    s("device")?;
    s("payment_method")?;
    Some(Event {
        ms,
        event_id: s("event_id")?,
        user: s("user_id")?,
        segment: s("user_segment")?,
        product,
        name: s("product_name")?,
        category: s("category")?,
        region: s("region")?,
        quantity,
        final_amount: n("final_amount")?,
        discount_rate: n("discount_rate")?,
    })
}

/// Whether the processor must accept `text` (see [`valid`]).
pub fn is_valid(text: &str) -> bool {
    valid(text).is_some()
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

fn round_to(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn fmt(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .expect("time in range")
        .to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn hour(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .expect("time in range")
        .format("%Y-%m-%d %H:00:00")
        .to_string()
}

#[derive(Default)]
struct Sums {
    orders: u64,
    cents: i64,
    users: BTreeSet<String>,
    micros: i64,
    items: u64,
    name: String,
    category: String,
}

impl Sums {
    fn add(&mut self, e: &Event) {
        self.orders += 1;
        self.cents += cents(e.final_amount);
        self.users.insert(e.user.clone());
        self.micros += (e.discount_rate * 1e6).round() as i64;
        self.items += e.quantity;
        // The processor keeps the smallest name if events disagree.
        if self.orders == 1 || e.name < self.name {
            self.name = e.name.clone();
        }
        if self.orders == 1 || e.category < self.category {
            self.category = e.category.clone();
        }
    }

    fn total(&self) -> f64 {
        self.cents as f64 / 100.0
    }

    fn average(&self) -> f64 {
        round_to(self.total() / self.orders as f64, 2)
    }
}

/// Every result the processor must emit for `records` (raw input values):
/// anomalies of every valid event, and every window of the events before
/// `open_from_ms` (later events are the closing ones, whose windows stay
/// open).
pub fn recompute(records: &[&str], s: &Settings, open_from_ms: i64) -> Results {
    let start = |t: i64, size_s: i64| t - t.rem_euclid(size_s * 1000);
    let mut sales: BTreeMap<(i64, String, String), Sums> = BTreeMap::new();
    let mut segments: BTreeMap<(i64, String), Sums> = BTreeMap::new();
    let mut hourly: BTreeMap<(i64, String), Sums> = BTreeMap::new();
    let mut products: BTreeMap<i64, BTreeMap<Product, Sums>> = BTreeMap::new();
    let mut anomalies = Vec::new();
    for e in records.iter().filter_map(|text| valid(text)) {
        if e.final_amount > s.threshold {
            anomalies.push(json!({
                "event_id": e.event_id, "timestamp": fmt(e.ms), "user_id": e.user,
                "product_name": e.name, "final_amount": e.final_amount, "region": e.region,
                "anomaly_type": "high_value_transaction"}));
        }
        if e.ms >= open_from_ms {
            continue;
        }
        let key = (start(e.ms, s.sales_s), e.category.clone(), e.region.clone());
        sales.entry(key).or_default().add(&e);
        let key = (start(e.ms, s.segment_s), e.segment.clone());
        segments.entry(key).or_default().add(&e);
        let key = (start(e.ms, s.hourly_s), e.category.clone());
        hourly.entry(key).or_default().add(&e);
        products
            .entry(start(e.ms, s.hourly_s))
            .or_default()
            .entry(e.product.clone())
            .or_default()
            .add(&e);
    }
    let mut windowed: BTreeMap<String, BTreeMap<String, Value>> = OUTPUTS
        .iter()
        .filter(|o| **o != "anomalies")
        .map(|o| ((*o).to_owned(), BTreeMap::new()))
        .collect();
    let mut put = |output: &str, key: String, value: Value| {
        windowed
            .get_mut(output)
            .expect("known output")
            .insert(key, value);
    };
    for ((w, cat, region), a) in &sales {
        put(
            "sales",
            key(&[&fmt(*w), cat, region]),
            json!({
            "window_start": fmt(*w), "window_end": fmt(w + s.sales_s * 1000),
            "category": cat, "region": region, "order_count": a.orders,
            "total_sales": a.total(), "avg_order_value": a.average(),
            "unique_customers": a.users.len()}),
        );
    }
    for ((w, segment), a) in &segments {
        put(
            "segments",
            key(&[&fmt(*w), segment]),
            json!({
            "window_start": fmt(*w), "window_end": fmt(w + s.segment_s * 1000),
            "user_segment": segment, "orders": a.orders, "revenue": a.total(),
            "avg_discount": round_to(a.micros as f64 / 1e6 / a.orders as f64, 4),
            "total_items": a.items, "revenue_per_order": a.average()}),
        );
    }
    for ((w, cat), a) in &hourly {
        put(
            "hourly",
            key(&[&fmt(*w), cat]),
            json!({
            "window_start": fmt(*w), "window_end": fmt(w + s.hourly_s * 1000),
            "category": cat, "total_sales": a.total(), "order_count": a.orders,
            "avg_order_value": a.average(), "unique_customers": a.users.len(),
            "hour": hour(*w)}),
        );
    }
    for (w, list) in &products {
        for (product, a) in list {
            // SQL rank(): 1 + the number of products with more revenue.
            let rank = 1 + list.values().filter(|b| b.cents > a.cents).count();
            put(
                "top_products",
                key(&[&fmt(*w), &product.key()]),
                json!({
                "window_start": fmt(*w), "window_end": fmt(w + s.hourly_s * 1000),
                "product_id": product.json(), "product_name": a.name, "category": a.category,
                "total_quantity": a.items, "total_revenue": a.total(),
                "order_count": a.orders, "revenue_rank": rank}),
            );
        }
    }
    anomalies.sort_by_cached_key(Value::to_string);
    Results {
        windowed,
        anomalies,
    }
}

/// JSON equality with numbers compared to within a cent.
pub fn close_enough(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 0.011
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| close_enough(v, w)))
        }
        _ => a == b,
    }
}

/// Every windowed result key and value, and every anomaly, as recomputed.
pub fn assert_matches(got: &Results, want: &Results) {
    for (output, w) in &want.windowed {
        let g = &got.windowed[output];
        let gk: Vec<_> = g.keys().collect();
        let wk: Vec<_> = w.keys().collect();
        assert_eq!(gk, wk, "{output}: key sets differ");
        for (k, v) in w {
            assert!(
                close_enough(&g[k], v),
                "{output} {k}:\n got  {}\n want {v}",
                g[k]
            );
            // Product ids keep their JSON type exactly (5 is not 5.0).
            if output == "top_products" {
                assert_eq!(g[k]["product_id"], v["product_id"], "{k}");
            }
        }
    }
    assert_eq!(
        got.anomalies.len(),
        want.anomalies.len(),
        "number of anomalies"
    );
    for (g, w) in got.anomalies.iter().zip(&want.anomalies) {
        assert_eq!(g, w, "anomalies differ");
    }
}
