//! The processor's output records as Redis writes (see `docs/serving.md`
//! for the table of keys, next to the original's).

use crate::clv::{self, ClvRecord, Model};
use crate::keys::KeySpace;
use crate::original_json;
use crate::records::{Anomaly, Hourly, Record, Sales, Segment, TopProduct};
use crate::time::window_label;
use crate::writes::{RedisWrite, Ttls};

/// How many windows the `windows:<output>` indexes keep: the 2 h of the
/// default TTL for 1-minute sales and 2-minute segments, a day of hours.
pub const KEEP_SALES_WINDOWS: usize = 120;
pub const KEEP_SEGMENT_WINDOWS: usize = 60;
pub const KEEP_HOURLY_WINDOWS: usize = 24;
/// How many anomalies `anomalies:recent` keeps.
pub const KEEP_ANOMALIES: usize = 100;

/// The writes of one record.
pub fn writes(keys: &KeySpace, ttls: &Ttls, model: Model, record: &Record) -> Vec<RedisWrite> {
    let ttl = ttls.aggregates;
    match record {
        // Parsing validated the history, so every model can compute it.
        Record::UserHistory(history) => clv::compute(model, history)
            .map(|record| vec![clv(keys, ttls, &record)])
            .unwrap_or_default(),
        Record::Hourly(row) => hourly(keys, ttl, row),
        Record::TopProduct(row) => top_product(keys, ttl, row),
        Record::Sales(row, json) => sales(keys, ttl, row, json),
        Record::Segment(row, json) => segment(keys, ttl, row, json),
        Record::Anomaly(row, json) => anomaly(keys, ttl, row, json),
    }
}

fn window_index(
    keys: &KeySpace,
    output: &str,
    label: &str,
    start: i64,
    ttl: u64,
    keep: usize,
) -> RedisWrite {
    RedisWrite::SortedMember {
        key: keys.windows(output),
        member: label.to_owned(),
        score: start as f64,
        ttl,
        keep_highest: Some(keep),
    }
}

fn hourly(keys: &KeySpace, ttl: u64, row: &Hourly) -> Vec<RedisWrite> {
    let label = window_label(&row.window_start);
    vec![
        RedisWrite::Set {
            key: keys.hourly(&label, &row.category),
            value: original_json::hourly(row),
            ttl,
        },
        RedisWrite::SortedMember {
            key: keys.hourly_ranking(&label),
            member: row.category.clone(),
            score: row.total_sales,
            ttl,
            keep_highest: None,
        },
        window_index(
            keys,
            "hourly",
            &label,
            row.window_start.timestamp(),
            ttl,
            KEEP_HOURLY_WINDOWS,
        ),
    ]
}

fn top_product(keys: &KeySpace, ttl: u64, row: &TopProduct) -> Vec<RedisWrite> {
    let label = window_label(&row.window_start);
    let product = row.product_id.key_text();
    vec![
        RedisWrite::Set {
            key: keys.top_product(&label, &product),
            value: original_json::top_product(row),
            ttl,
        },
        RedisWrite::SortedMember {
            key: keys.top_products_ranking(&label),
            member: product.into_owned(),
            score: row.total_revenue,
            ttl,
            keep_highest: None,
        },
        window_index(
            keys,
            "hourly",
            &label,
            row.window_start.timestamp(),
            ttl,
            KEEP_HOURLY_WINDOWS,
        ),
    ]
}

fn sales(keys: &KeySpace, ttl: u64, row: &Sales, json: &str) -> Vec<RedisWrite> {
    let label = window_label(&row.window_start);
    vec![
        RedisWrite::HashField {
            key: keys.sales(&label),
            field: format!("{}|{}", row.category, row.region),
            value: json.to_owned(),
            ttl,
        },
        window_index(
            keys,
            "sales",
            &label,
            row.window_start.timestamp(),
            ttl,
            KEEP_SALES_WINDOWS,
        ),
    ]
}

fn segment(keys: &KeySpace, ttl: u64, row: &Segment, json: &str) -> Vec<RedisWrite> {
    let label = window_label(&row.window_start);
    vec![
        RedisWrite::HashField {
            key: keys.segments(&label),
            field: row.user_segment.clone(),
            value: json.to_owned(),
            ttl,
        },
        window_index(
            keys,
            "segments",
            &label,
            row.window_start.timestamp(),
            ttl,
            KEEP_SEGMENT_WINDOWS,
        ),
    ]
}

/// The member is the record itself: the processor writes an anomaly's
/// record once, byte for byte the same on a replay, so `ZADD` of it again
/// changes nothing.
fn anomaly(keys: &KeySpace, ttl: u64, row: &Anomaly, json: &str) -> Vec<RedisWrite> {
    vec![RedisWrite::SortedMember {
        key: keys.recent_anomalies(),
        member: json.to_owned(),
        score: row.timestamp.timestamp_millis() as f64,
        ttl,
        keep_highest: Some(KEEP_ANOMALIES),
    }]
}

/// The write of a user's CLV: `SET clv:<user_id> <json> EX <clv ttl>`.
pub fn clv(keys: &KeySpace, ttls: &Ttls, record: &ClvRecord) -> RedisWrite {
    RedisWrite::Set {
        key: keys.clv(&record.user_id),
        value: record.to_json(),
        ttl: ttls.clv,
    }
}

#[cfg(test)]
#[path = "mapping_golden_tests.rs"]
mod golden_tests;
