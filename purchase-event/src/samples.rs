//! Sample records, for the tests of every crate that reads or writes the
//! schema.

/// One valid event, as the generator writes it (with an offset).
pub const SAMPLE: &str = r#"{"event_id":"g1-0","timestamp":"2026-11-25T09:30:00+09:00",
        "user_id":"user_42","user_segment":"premium","product_id":"P001",
        "product_name":"ノートPC","category":"electronics","quantity":2,
        "unit_price":89800.0,"base_amount":179600.0,"discount_rate":0.1,
        "discount_amount":17960.0,"final_amount":161640.0,"region":"Tokyo",
        "device":"mobile","payment_method":"credit_card"}"#;

/// The same purchase byte for byte as the original system's producer
/// writes it (`json.dumps` of its `generate_event` dict, produced by
/// Python 3.11): integer id and prices, `", "`/`": "` separators,
/// non-ASCII as `\uXXXX`, `isoformat()` time with microseconds.
pub const ORIGINAL: &str = r#"{"event_id": "evt_1764030600_4821", "timestamp": "2025-11-25T00:30:00.123456+00:00", "user_id": "user_42", "user_segment": "premium", "product_id": 1, "product_name": "\u30ce\u30fc\u30c8PC", "category": "electronics", "quantity": 2, "unit_price": 89800, "base_amount": 179600, "discount_rate": 0.1, "discount_amount": 17960.0, "final_amount": 161640.0, "region": "Tokyo", "device": "mobile", "payment_method": "credit_card"}"#;
