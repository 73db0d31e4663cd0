//! Final results: the JSON records of the output topics, computed from
//! closed windows. Record key = window start + group.

use serde::Serialize;

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use super::merge::Closed;
use super::partial::Kind;
use super::store::Window;
use super::window::{Millis, rfc3339, round_to};
use crate::event::UserSegment;

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
struct SegmentOut {
    window_start: String,
    window_end: String,
    user_segment: UserSegment,
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
}

#[derive(Serialize)]
struct TopProductOut<'a> {
    window_start: String,
    window_end: String,
    product_id: &'a str,
    product_name: &'a str,
    category: &'a str,
    total_quantity: u64,
    total_revenue: f64,
    order_count: u64,
    revenue_rank: usize,
}

fn yen(cents: i64) -> f64 {
    cents as f64 / 100.0
}

fn per(cents: i64, count: u64) -> f64 {
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
        out.push(record(
            Kind::Sales,
            format!("{start}|{category}|{region}"),
            &v,
            w.end,
        ));
    }
}

pub fn segments(w: &Window<UserSegment, SegmentAgg>, out: &mut Vec<OutputRecord>) {
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
            user_segment: *segment,
            orders: a.orders,
            revenue: yen(a.revenue_cents),
            avg_discount,
            total_items: a.total_items,
            revenue_per_order: per(a.revenue_cents, a.orders),
        };
        let key = format!("{start}|{}", segment.as_str());
        out.push(record(Kind::Segments, key, &v, w.end));
    }
}

pub fn hourly(w: &Window<String, SalesAgg>, out: &mut Vec<OutputRecord>) {
    let start = rfc3339(w.start);
    for (category, a) in &w.groups {
        let v = HourlyOut {
            window_start: start.clone(),
            window_end: rfc3339(w.end),
            category,
            total_sales: yen(a.total_cents),
            order_count: a.order_count,
            avg_order_value: per(a.total_cents, a.order_count),
            unique_customers: a.users.len(),
        };
        out.push(record(
            Kind::Hourly,
            format!("{start}|{category}"),
            &v,
            w.end,
        ));
    }
}

/// Products ranked by revenue, highest first; ties by product id.
pub fn rank(w: &Window<String, ProductAgg>) -> Vec<(&String, &ProductAgg)> {
    let mut ranked: Vec<_> = w.groups.iter().collect();
    ranked.sort_by(|a, b| {
        b.1.revenue_cents
            .cmp(&a.1.revenue_cents)
            .then_with(|| a.0.cmp(b.0))
    });
    ranked
}

pub fn top_products(w: &Window<String, ProductAgg>, out: &mut Vec<OutputRecord>) {
    let start = rfc3339(w.start);
    for (i, (product_id, a)) in rank(w).into_iter().enumerate() {
        let v = TopProductOut {
            window_start: start.clone(),
            window_end: rfc3339(w.end),
            product_id,
            product_name: &a.product_name,
            category: &a.category,
            total_quantity: a.total_quantity,
            total_revenue: yen(a.revenue_cents),
            order_count: a.order_count,
            revenue_rank: i + 1,
        };
        let key = format!("{start}|{product_id}");
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
