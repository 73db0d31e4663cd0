//! `generator --schema original`: purchase events in the dialect of the
//! original system's Python producer (`PurchaseEventGenerator.
//! generate_event`, see docs/migration.md), byte for byte as its
//! `json.dumps` wrote them, so a pipeline can be tested with what teams
//! migrating from it actually send.
//!
//! Its catalogue (8 products with integer ids 1–8, integer yen prices),
//! uniform choices of product, segment (drawn per event, not per user),
//! user (`user_1` … `user_10000`), region, device and payment method; its
//! per-segment quantities and continuous discount rates; `discount_rate`
//! rounded to 3 decimals, `discount_amount` and `final_amount` to 2 with
//! Python's `round` (both from the unrounded rate, as the original does);
//! `isoformat()` timestamps (microseconds, none at all when they are 0,
//! `+00:00`). One deliberate difference: event ids are unique
//! (`evt_<unix seconds>_<run id>-<sequence>`), where the original's
//! `evt_<unix seconds>_<random 1000–9999>` collides within a second.

use std::fmt::Write;

use chrono::{DateTime, Timelike, Utc};

use super::rng::SplitMix64;
use purchase_event::python_json::{push_float, push_str, round};

/// A product of the original's catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    pub id: i64,
    pub name: &'static str,
    pub category: &'static str,
    /// Yen, an integer in the original.
    pub price: u64,
}

pub const PRODUCTS: [Product; 8] = [
    product(1, "ノートPC", "electronics", 89800),
    product(2, "ワイヤレスマウス", "electronics", 2980),
    product(3, "コーヒー豆", "food", 1200),
    product(4, "ビジネス書", "books", 1680),
    product(5, "スマートフォン", "electronics", 78900),
    product(6, "ヘッドフォン", "electronics", 15800),
    product(7, "グリーンティー", "food", 980),
    product(8, "プログラミング本", "books", 3200),
];

const fn product(id: i64, name: &'static str, category: &'static str, price: u64) -> Product {
    Product {
        id,
        name,
        category,
        price,
    }
}

pub const SEGMENTS: [&str; 3] = ["premium", "regular", "new"];
pub const REGIONS: [&str; 5] = ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"];
pub const DEVICES: [&str; 3] = ["web", "mobile", "tablet"];
pub const PAYMENT_METHODS: [&str; 3] = ["credit_card", "bank_transfer", "digital_wallet"];
pub const USERS: u64 = 10_000;

/// Python's `random.choice`.
fn choice<T: Copy>(rng: &mut SplitMix64, items: &[T]) -> T {
    items[rng.below(items.len() as u64) as usize]
}

/// Python's `random.uniform(a, b)`: `a + (b - a) * random()`.
fn uniform(rng: &mut SplitMix64, a: f64, b: f64) -> f64 {
    a + (b - a) * rng.next_f64()
}

/// `datetime.isoformat()` of an aware UTC time: microseconds (the rest is
/// cut, as Python's datetime keeps no more), none at all when they are 0.
pub fn push_isoformat(out: &mut String, time: DateTime<Utc>) {
    let _ = write!(out, "{}", time.format("%Y-%m-%dT%H:%M:%S"));
    let micros = time.nanosecond() % 1_000_000_000 / 1_000;
    if micros != 0 {
        let _ = write!(out, ".{micros:06}");
    }
    out.push_str("+00:00");
}

/// Writes one event into `out` (replacing its content) as the original's
/// `json.dumps(generate_event())` would, drawing from `rng` in the order
/// the original draws; returns the record key (`user_id`).
pub fn write_event(
    rng: &mut SplitMix64,
    event_id: &str,
    timestamp: DateTime<Utc>,
    out: &mut String,
) -> String {
    let product = choice(rng, &PRODUCTS);
    let segment = choice(rng, &SEGMENTS);
    let (quantity, discount_rate) = match segment {
        "premium" => (rng.range_inclusive(1, 5), uniform(rng, 0.05, 0.15)),
        "regular" => (rng.range_inclusive(1, 3), uniform(rng, 0.0, 0.10)),
        _ => (1, uniform(rng, 0.10, 0.20)),
    };
    let base_amount = product.price * quantity;
    let discount_amount = base_amount as f64 * discount_rate;
    let final_amount = base_amount as f64 - discount_amount;
    let user_id = format!("user_{}", rng.range_inclusive(1, USERS));
    let region = choice(rng, &REGIONS);
    let device = choice(rng, &DEVICES);
    let payment_method = choice(rng, &PAYMENT_METHODS);

    out.clear();
    out.push_str("{\"event_id\": ");
    push_str(out, event_id);
    out.push_str(", \"timestamp\": \"");
    push_isoformat(out, timestamp);
    out.push_str("\", \"user_id\": ");
    push_str(out, &user_id);
    out.push_str(", \"user_segment\": ");
    push_str(out, segment);
    let _ = write!(out, ", \"product_id\": {}, \"product_name\": ", product.id);
    push_str(out, product.name);
    out.push_str(", \"category\": ");
    push_str(out, product.category);
    let _ = write!(
        out,
        ", \"quantity\": {quantity}, \"unit_price\": {}, \"base_amount\": {base_amount}, \
         \"discount_rate\": ",
        product.price
    );
    push_float(out, round(discount_rate, 3));
    out.push_str(", \"discount_amount\": ");
    push_float(out, round(discount_amount, 2));
    out.push_str(", \"final_amount\": ");
    push_float(out, round(final_amount, 2));
    out.push_str(", \"region\": ");
    push_str(out, region);
    out.push_str(", \"device\": ");
    push_str(out, device);
    out.push_str(", \"payment_method\": ");
    push_str(out, payment_method);
    out.push('}');
    user_id
}

#[cfg(test)]
mod tests {
    use super::*;
    use purchase_event::{ProductId, PurchaseEvent};

    fn at(seconds: i64, nanos: u32) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, nanos).expect("valid time")
    }

    #[test]
    fn timestamps_as_isoformat_writes_them() {
        let mut out = String::new();
        push_isoformat(&mut out, at(1_764_030_600, 0));
        assert_eq!(out, "2025-11-25T00:30:00+00:00");
        out.clear();
        push_isoformat(&mut out, at(1_764_030_600, 120_000_999));
        assert_eq!(out, "2025-11-25T00:30:00.120000+00:00");
        out.clear();
        push_isoformat(&mut out, at(1_764_030_600, 999));
        assert_eq!(
            out, "2025-11-25T00:30:00+00:00",
            "below a microsecond is cut"
        );
    }

    /// The exact bytes of fixed draws. Checked with Python 3.11: for each
    /// line `json.dumps(json.loads(line)) == line`, i.e. these are the bytes
    /// `json.dumps` writes for these values (float reprs, `\uXXXX`
    /// escapes, separators, field order).
    #[test]
    fn events_are_written_as_json_dumps_writes_them() {
        let mut out = String::new();
        for (seed, nanos, python) in [
            (
                7,
                5_000,
                r#"{"event_id": "evt_1_x-0", "timestamp": "2025-11-25T00:30:00.000005+00:00", "user_id": "user_4525", "user_segment": "premium", "product_id": 4, "product_name": "\u30d3\u30b8\u30cd\u30b9\u66f8", "category": "books", "quantity": 5, "unit_price": 1680, "base_amount": 8400, "discount_rate": 0.108, "discount_amount": 909.66, "final_amount": 7490.34, "region": "Osaka", "device": "mobile", "payment_method": "credit_card"}"#,
            ),
            (
                8,
                0,
                r#"{"event_id": "evt_1_x-0", "timestamp": "2025-11-25T00:30:00+00:00", "user_id": "user_639", "user_segment": "regular", "product_id": 5, "product_name": "\u30b9\u30de\u30fc\u30c8\u30d5\u30a9\u30f3", "category": "electronics", "quantity": 3, "unit_price": 78900, "base_amount": 236700, "discount_rate": 0.054, "discount_amount": 12689.8, "final_amount": 224010.2, "region": "Osaka", "device": "tablet", "payment_method": "bank_transfer"}"#,
            ),
        ] {
            let mut rng = SplitMix64::new(seed);
            let key = write_event(&mut rng, "evt_1_x-0", at(1_764_030_600, nanos), &mut out);
            assert_eq!(out, python);
            let e: PurchaseEvent = serde_json::from_str(&out).expect("valid event");
            assert_eq!(key, e.user_id);
        }
    }

    #[test]
    fn draws_follow_the_originals_rules() {
        let mut out = String::new();
        let mut segments = std::collections::BTreeMap::<String, (u64, f64, f64)>::new();
        let mut products = std::collections::BTreeSet::new();
        for n in 0..30_000u64 {
            let mut rng = SplitMix64::for_event(3, n);
            write_event(&mut rng, "e", at(0, 0), &mut out);
            let e: PurchaseEvent = serde_json::from_str(&out).expect("valid event");
            let ProductId::Integer(id) = e.product_id else {
                panic!("integer ids: {out}");
            };
            let p = PRODUCTS[(id - 1) as usize];
            assert_eq!(
                (e.product_name.as_str(), e.unit_price),
                (p.name, p.price as f64)
            );
            assert_eq!(e.base_amount, e.unit_price * f64::from(e.quantity));
            assert_eq!(e.discount_rate, round(e.discount_rate, 3));
            assert_eq!(e.final_amount, round(e.final_amount, 2));
            // The original rounds both amounts from the unrounded rate:
            // they add up to the base amount within a cent.
            assert!((e.discount_amount + e.final_amount - e.base_amount).abs() <= 0.011);
            products.insert(id);
            let s = segments
                .entry(e.user_segment.to_string())
                .or_insert((0, 1.0, 0.0));
            s.0 = s.0.max(u64::from(e.quantity));
            s.1 = s.1.min(e.discount_rate);
            s.2 = s.2.max(e.discount_rate);
        }
        assert_eq!(products.len(), 8);
        assert_eq!(segments["premium"].0, 5);
        assert_eq!(segments["regular"].0, 3);
        assert_eq!(segments["new"].0, 1);
        assert!(segments["premium"].1 >= 0.05 && segments["premium"].2 <= 0.15);
        assert!(segments["regular"].1 >= 0.0 && segments["regular"].2 <= 0.1);
        assert!(segments["new"].1 >= 0.1 && segments["new"].2 <= 0.2);
    }
}
