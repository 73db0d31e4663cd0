//! Final results: the JSON records of the output topics, computed from
//! closed windows. Record key = window start + group ([`record_key`]).

use serde::Serialize;

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use super::merge::Closed;
use super::partial::Kind;
use super::store::Window;
use super::window::{Millis, hour_label, rfc3339, round_to};
use crate::event::OwnedProductId;

/// One record for an output topic.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRecord {
    pub kind: Kind,
    pub key: String,
    pub value: String,
    pub window_end: Millis,
}

#[derive(Serialize)]
struct SalesOut<'a> {
    window_start: String,
    window_end: String,
    category: &'a str,
    region: &'a str,
    order_count: u64,
    total_sales: f64,
    avg_order_value: f64,
    unique_customers: usize,
}

#[derive(Serialize)]
struct SegmentOut<'a> {
    window_start: String,
    window_end: String,
    user_segment: &'a str,
    orders: u64,
    revenue: f64,
    avg_discount: f64,
    total_items: u64,
    revenue_per_order: f64,
}

#[derive(Serialize)]
struct HourlyOut<'a> {
    window_start: String,
    window_end: String,
    category: &'a str,
    total_sales: f64,
    order_count: u64,
    avg_order_value: f64,
    unique_customers: usize,
    /// The original system's column: the window start as
    /// `yyyy-MM-dd HH:00:00`, UTC.
    hour: &'a str,
}

#[derive(Serialize)]
struct TopProductOut<'a> {
    window_start: String,
    window_end: String,
    /// The JSON type it came in: `5` stays `5`, `"P001"` stays `"P001"`.
    product_id: &'a OwnedProductId,
    product_name: &'a str,
    category: &'a str,
    total_quantity: u64,
    total_revenue: f64,
    order_count: u64,
    revenue_rank: usize,
}

/// The record key of a result: its parts joined by `|`, each with `\\` and
/// `|` escaped by a backslash, so no two groups share a key (category
/// `a|b` in region `c` is `…|a\\|b|c`, category `a` in region `b|c` is
/// `…|a|b\\|c`). Parts without either character are written as they are,
/// so the keys of ordinary names are what they always were.
pub fn record_key(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            key.push('|');
        }
        for c in part.chars() {
            if c == '|' || c == '\\' {
                key.push('\\');
            }
            key.push(c);
        }
    }
    key
}

fn yen(cents: i128) -> f64 {
    cents as f64 / 100.0
}

fn per(cents: i128, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        round_to(cents as f64 / 100.0 / count as f64, 2)
    }
}

fn record(kind: Kind, key: String, value: &impl Serialize, end: Millis) -> OutputRecord {
    OutputRecord {
        kind,
        key,
        // Serializing these plain structs cannot fail.
        value: serde_json::to_string(value).unwrap_or_default(),
        window_end: end,
    }
}

pub fn sales(w: &Window<(String, String), SalesAgg>, out: &mut Vec<OutputRecord>) {
    let start = rfc3339(w.start);
    for ((category, region), a) in &w.groups {
        let v = SalesOut {
            window_start: start.clone(),
            window_end: rfc3339(w.end),
            category,
            region,
            order_count: a.order_count,
            total_sales: yen(a.total_cents),
            avg_order_value: per(a.total_cents, a.order_count),
            unique_customers: a.users.len(),
        };
        let key = record_key(&[&start, category, region]);
        out.push(record(Kind::Sales, key, &v, w.end));
    }
}

pub fn segments(w: &Window<String, SegmentAgg>, out: &mut Vec<OutputRecord>) {
    let start = rfc3339(w.start);
    for (segment, a) in &w.groups {
        let avg_discount = if a.orders == 0 {
            0.0
        } else {
            round_to(a.discount_micros as f64 / 1e6 / a.orders as f64, 4)
        };
        let v = SegmentOut {
            window_start: start.clone(),
            window_end: rfc3339(w.end),
            user_segment: segment,
            orders: a.orders,
            revenue: yen(a.revenue_cents),
            avg_discount,
            total_items: a.total_items,
            revenue_per_order: per(a.revenue_cents, a.orders),
        };
        let key = record_key(&[&start, segment]);
        out.push(record(Kind::Segments, key, &v, w.end));
    }
}

pub fn hourly(w: &Window<String, SalesAgg>, out: &mut Vec<OutputRecord>) {
    let start = rfc3339(w.start);
    let hour = hour_label(w.start);
    for (category, a) in &w.groups {
        let v = HourlyOut {
            window_start: start.clone(),
            window_end: rfc3339(w.end),
            category,
            total_sales: yen(a.total_cents),
            order_count: a.order_count,
            avg_order_value: per(a.total_cents, a.order_count),
            unique_customers: a.users.len(),
            hour: &hour,
        };
        let key = record_key(&[&start, category]);
        out.push(record(Kind::Hourly, key, &v, w.end));
    }
}

/// Products by revenue, highest first, ties in product id order (the
/// record order), each with its SQL `rank()`: 1 + the number of products
/// with a strictly higher revenue, so ties share a rank and the next rank
/// skips (1, 2, 2, 4). Revenue is compared in exact cents.
pub fn rank(w: &Window<OwnedProductId, ProductAgg>) -> Vec<(usize, &OwnedProductId, &ProductAgg)> {
    let mut ordered: Vec<_> = w.groups.iter().collect();
    ordered.sort_by(|a, b| {
        b.1.revenue_cents
            .cmp(&a.1.revenue_cents)
            .then_with(|| a.0.cmp(b.0))
    });
    let mut ranked = Vec::with_capacity(ordered.len());
    let mut previous: Option<(i128, usize)> = None;
    for (i, (id, agg)) in ordered.into_iter().enumerate() {
        let rank = match previous {
            Some((cents, rank)) if cents == agg.revenue_cents => rank,
            _ => i + 1,
        };
        previous = Some((agg.revenue_cents, rank));
        ranked.push((rank, id, agg));
    }
    ranked
}

pub fn top_products(w: &Window<OwnedProductId, ProductAgg>, out: &mut Vec<OutputRecord>) {
    let start = rfc3339(w.start);
    for (rank, product_id, a) in rank(w) {
        let v = TopProductOut {
            window_start: start.clone(),
            window_end: rfc3339(w.end),
            product_id,
            product_name: &a.product_name,
            category: &a.category,
            total_quantity: a.total_quantity,
            total_revenue: yen(a.revenue_cents),
            order_count: a.order_count,
            revenue_rank: rank,
        };
        let key = record_key(&[&start, &product_id.key_text()]);
        out.push(record(Kind::TopProducts, key, &v, w.end));
    }
}

/// Every output record of the closed windows.
pub fn finalize(closed: &Closed) -> Vec<OutputRecord> {
    let mut out = Vec::new();
    closed.sales.iter().for_each(|w| sales(w, &mut out));
    closed.segments.iter().for_each(|w| segments(w, &mut out));
    closed.hourly.iter().for_each(|w| hourly(w, &mut out));
    closed
        .top_products
        .iter()
        .for_each(|w| top_products(w, &mut out));
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn product(cents: i128) -> ProductAgg {
        ProductAgg {
            product_name: "x".into(),
            category: "c".into(),
            total_quantity: 1,
            revenue_cents: cents,
            order_count: 1,
        }
    }

    #[test]
    fn revenue_rank_is_sql_rank() {
        let groups: BTreeMap<OwnedProductId, ProductAgg> = [
            (OwnedProductId::from("B"), product(500)),
            (OwnedProductId::from(7), product(900)),
            (OwnedProductId::from("A"), product(500)),
            (OwnedProductId::from(3), product(500)),
            (OwnedProductId::from("C"), product(100)),
        ]
        .into();
        let w = Window {
            start: 0,
            end: 3_600_000,
            groups,
            first_offset: 0,
            bytes: 0,
        };
        let ranked: Vec<(usize, String)> = rank(&w)
            .into_iter()
            .map(|(r, id, _)| (r, id.key_text().into_owned()))
            .collect();
        let expected = [(1, "7"), (2, "3"), (2, "A"), (2, "B"), (5, "C")];
        assert_eq!(ranked, expected.map(|(r, id)| (r, id.to_owned())).to_vec());
        let mut out = Vec::new();
        top_products(&w, &mut out);
        let value: serde_json::Value = serde_json::from_str(&out[1].value).expect("JSON");
        assert_eq!(value["product_id"], serde_json::json!(3));
        assert_eq!(value["revenue_rank"], serde_json::json!(2));
        assert_eq!(out[1].key, "1970-01-01T00:00:00Z|3");
        let value: serde_json::Value = serde_json::from_str(&out[2].value).expect("JSON");
        assert_eq!(value["product_id"], serde_json::json!("A"));
    }

    #[test]
    fn hourly_carries_the_original_hour() {
        let w = Window {
            start: 1_764_030_600_000, // 2025-11-25T00:30:00Z
            end: 1_764_034_200_000,
            groups: BTreeMap::from([("food".to_owned(), SalesAgg::default())]),
            first_offset: 0,
            bytes: 0,
        };
        let mut out = Vec::new();
        hourly(&w, &mut out);
        let value: serde_json::Value = serde_json::from_str(&out[0].value).expect("JSON");
        assert_eq!(value["hour"], "2025-11-25 00:00:00");
        assert_eq!(value["window_start"], "2025-11-25T00:30:00Z");
    }

    #[test]
    fn keys_are_unambiguous() {
        let t = "2026-11-25T00:00:00Z";
        assert_eq!(
            record_key(&[t, "books", "Tokyo"]),
            "2026-11-25T00:00:00Z|books|Tokyo"
        );
        let a = record_key(&[t, "a|b", "c"]);
        let b = record_key(&[t, "a", "b|c"]);
        assert_ne!(a, b);
        assert_eq!(a, r"2026-11-25T00:00:00Z|a\|b|c");
        assert_eq!(b, r"2026-11-25T00:00:00Z|a|b\|c");
        // A trailing backslash cannot swallow the separator.
        assert_ne!(record_key(&[t, "a\\", "b"]), record_key(&[t, "a|b"]));
        assert_eq!(record_key(&[t, "a\\", "b"]), r"2026-11-25T00:00:00Z|a\\|b");
    }
}
