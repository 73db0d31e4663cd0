//! The end-to-end tests' seeded data set: purchase events over 3 input
//! partitions (some timestamps with a +09:00 offset, ~2 % malformed), the
//! closing events that close every window, the window settings the
//! replicas run with, and the results the processor must emit for them.

use serde_json::{Value, json};

use super::pipeline::{Results, Settings};
use super::recompute::recompute;

pub const SALES_S: i64 = 10;
pub const SEGMENT_S: i64 = 20;
pub const HOURLY_S: i64 = 60;
pub const LATENESS_S: i64 = 2;
pub const THRESHOLD: f64 = 50_000.0;
/// What the replicas of these tests run with.
pub const SETTINGS: Settings = Settings {
    sales_s: SALES_S,
    segment_s: SEGMENT_S,
    hourly_s: HOURLY_S,
    lateness_s: LATENESS_S,
    threshold: THRESHOLD,
};
/// 2026-01-01T00:00:00Z: simulated event time starts here.
pub const T0_MS: i64 = 1_767_225_600_000;
pub const FUTURE_MS: i64 = T0_MS + 86_400_000;

pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

const CATEGORIES: [&str; 4] = ["electronics", "books", "food", "fashion"];
const REGIONS: [&str; 3] = ["Tokyo", "Osaka", "Nagoya"];
const SEGMENTS: [&str; 3] = ["premium", "regular", "new"];

pub fn event(id: &str, ts_ms: i64, rng: &mut Lcg) -> Value {
    let product = rng.next(8);
    let category = CATEGORIES[(product % 4) as usize];
    let quantity = 1 + rng.next(4);
    let percent = rng.next(4) * 5;
    let final_cents = 100 + rng.next(8_000_000) as i64;
    let final_amount = final_cents as f64 / 100.0;
    // Write some timestamps with a +09:00 offset: they must normalise.
    let ts = chrono::DateTime::from_timestamp_millis(ts_ms).expect("valid time");
    let ts = if rng.next(3) == 0 {
        let tokyo = chrono::FixedOffset::east_opt(9 * 3600).expect("offset");
        ts.with_timezone(&tokyo).to_rfc3339()
    } else {
        ts.to_rfc3339()
    };
    json!({
        "event_id": id, "timestamp": ts,
        "user_id": format!("user_{}", rng.next(40)),
        "user_segment": SEGMENTS[rng.next(3) as usize],
        "product_id": format!("P{product}"), "product_name": format!("Product {product}"),
        "category": category, "quantity": quantity,
        "unit_price": final_amount, "base_amount": final_amount,
        "discount_rate": percent as f64 / 100.0, "discount_amount": 0.0,
        "final_amount": final_amount,
        "region": REGIONS[rng.next(3) as usize], "device": "web", "payment_method": "credit_card",
    })
}

/// `n` records per input partition over `span_s` seconds of event time,
/// each partition out of order by at most 1 s (< the allowed lateness), with
/// roughly 1 % malformed records. Returns (partition, value) in send order.
pub fn data_set(seed: u64, n: usize, span_s: i64) -> Vec<(i32, String)> {
    data_set_on(seed, n, T0_MS, span_s, 0..3)
}

/// [`data_set`] over the given input partitions, event time starting at
/// `start_ms`.
pub fn data_set_on(
    seed: u64,
    n: usize,
    start_ms: i64,
    span_s: i64,
    partitions: std::ops::Range<i32>,
) -> Vec<(i32, String)> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for i in 0..n {
        for p in partitions.clone() {
            let base = start_ms + (i as i64 * span_s * 1000) / n as i64;
            let ts = base - rng.next(1000) as i64;
            let value = match rng.next(100) {
                0 => "{\"event_id\": broken".to_owned(),
                1 => json!({"event_id": format!("s{seed}-{p}-{i}"), "timestamp": "x"}).to_string(),
                _ => event(&format!("s{seed}-{p}-{i}"), ts.max(start_ms), &mut rng).to_string(),
            };
            out.push((p, value));
        }
    }
    out
}

pub fn closing_events(seed: u64) -> Vec<(i32, String)> {
    closing_events_on(seed, 0..3)
}

/// One event per partition at [`FUTURE_MS`]: moves every partition's
/// watermark past every window of the data sets.
pub fn closing_events_on(seed: u64, partitions: std::ops::Range<i32>) -> Vec<(i32, String)> {
    let mut rng = Lcg(seed);
    partitions
        .map(|p| {
            let mut e = event(&format!("close-{seed}-{p}"), FUTURE_MS, &mut rng);
            e["final_amount"] = json!(1.0);
            (p, e.to_string())
        })
        .collect()
}

/// The results the processor must emit for `records`: every window before
/// the closing events, and every anomaly.
pub fn expected(records: &[(i32, String)]) -> Results {
    let values: Vec<&str> = records.iter().map(|(_, v)| v.as_str()).collect();
    recompute(&values, &SETTINGS, FUTURE_MS)
}
