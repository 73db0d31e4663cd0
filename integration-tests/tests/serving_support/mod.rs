//! The serving suites' shared data: a batch of the processor's output
//! records and the golden Redis state they become (keys without the
//! pipeline's prefix, values byte for byte, maximum TTLs).
#![allow(dead_code)] // each test crate uses a different subset

pub mod process;

use std::collections::BTreeMap;

use redis::AsyncCommands;
use shopstream_serving::keys::KeySpace;
use shopstream_serving::records::Output;

pub const RECORDS: &[(Output, &str)] = &[
    (
        Output::Hourly,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","category":"electronics","total_sales":161640.0,"order_count":2,"avg_order_value":80820.0,"unique_customers":2,"hour":"2025-08-12 10:00:00"}"#,
    ),
    (
        Output::Hourly,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","category":"food","total_sales":2180.0,"order_count":2,"avg_order_value":1090.0,"unique_customers":1,"hour":"2025-08-12 10:00:00"}"#,
    ),
    (
        Output::TopProducts,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":1,"product_name":"ノートPC","category":"electronics","total_quantity":3,"total_revenue":255930.5,"order_count":2,"revenue_rank":1}"#,
    ),
    (
        Output::TopProducts,
        r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":"P001","product_name":"Laptop","category":"electronics","total_quantity":1,"total_revenue":89800.0,"order_count":1,"revenue_rank":2}"#,
    ),
    (
        Output::Sales,
        r#"{"window_start":"2025-08-12T10:01:00Z","window_end":"2025-08-12T10:02:00Z","category":"food","region":"Tokyo","order_count":1,"total_sales":1140.0,"avg_order_value":1140.0,"unique_customers":1}"#,
    ),
    (
        Output::Anomalies,
        r#"{"event_id":"evt_1","timestamp":"2025-08-12T10:00:00.123Z","user_id":"user_42","product_name":"Laptop","final_amount":80820.0,"region":"Osaka","anomaly_type":"high_value_transaction"}"#,
    ),
];

pub const HISTORY: &str = r#"{"user_id":"user_42","user_segment":"premium","orders":2,"monetary":100000.0,
    "first_purchase":"2025-08-11T09:00:00Z","last_purchase":"2025-08-16T10:00:00.5Z",
    "as_of":"2025-08-16T10:00:10Z",
    "last_event":{"timestamp":"2025-08-16T10:00:00.5Z","final_amount":80820.0,"quantity":1,"discount_rate":0.12}}"#;

#[derive(Debug, PartialEq)]
pub enum Content {
    Text(String),
    Hash(BTreeMap<String, String>),
    Sorted(Vec<(String, f64)>),
}

/// The golden state, key names without the pipeline's prefix.
pub fn golden() -> BTreeMap<String, (Content, u64)> {
    let text = |s: &str| Content::Text(s.to_owned());
    let hour = "2025-08-12 10:00:00";
    BTreeMap::from([
        (
            format!("hourly:{hour}:electronics"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "category": "electronics", "total_sales": 161640.0, "order_count": 2, "avg_order_value": 80820.0, "unique_customers": 2, "hour": "2025-08-12 10:00:00"}"#,
                ),
                7200,
            ),
        ),
        (
            format!("hourly:{hour}:food"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "category": "food", "total_sales": 2180.0, "order_count": 2, "avg_order_value": 1090.0, "unique_customers": 1, "hour": "2025-08-12 10:00:00"}"#,
                ),
                7200,
            ),
        ),
        (
            format!("rank:hourly:{hour}"),
            (
                Content::Sorted(vec![
                    ("electronics".into(), 161_640.0),
                    ("food".into(), 2180.0),
                ]),
                7200,
            ),
        ),
        (
            format!("top_products:{hour}:1"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "product_id": 1, "product_name": "\u30ce\u30fc\u30c8PC", "category": "electronics", "total_quantity": 3, "total_revenue": 255930.5, "order_count": 2, "revenue_rank": 1}"#,
                ),
                7200,
            ),
        ),
        (
            format!("top_products:{hour}:P001"),
            (
                text(
                    r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "product_id": "P001", "product_name": "Laptop", "category": "electronics", "total_quantity": 1, "total_revenue": 89800.0, "order_count": 1, "revenue_rank": 2}"#,
                ),
                7200,
            ),
        ),
        (
            format!("rank:top_products:{hour}"),
            (
                Content::Sorted(vec![("1".into(), 255_930.5), ("P001".into(), 89_800.0)]),
                7200,
            ),
        ),
        (
            "windows:hourly".into(),
            (Content::Sorted(vec![(hour.into(), 1_754_992_800.0)]), 7200),
        ),
        (
            "sales:2025-08-12 10:01:00".into(),
            (
                Content::Hash(BTreeMap::from([("food|Tokyo".into(), RECORDS[4].1.into())])),
                7200,
            ),
        ),
        (
            "windows:sales".into(),
            (
                Content::Sorted(vec![("2025-08-12 10:01:00".into(), 1_754_992_860.0)]),
                7200,
            ),
        ),
        (
            "anomalies:recent".into(),
            (
                Content::Sorted(vec![(RECORDS[5].1.into(), 1_754_992_800_123.0)]),
                7200,
            ),
        ),
        (
            "clv:user_42".into(),
            (
                text(
                    r#"{"predicted_clv":808200.0,"confidence":0.85,"timestamp":"2025-08-16T10:00:00.500Z","user_id":"user_42","model":"original-rules","features":{"hour":10,"day_of_week":7,"is_weekend":1,"price_per_quantity":80820.0,"discount_category":"high"},"history":{"orders":2,"monetary":100000.0,"first_purchase":"2025-08-11T09:00:00Z","last_purchase":"2025-08-16T10:00:00.500Z","as_of":"2025-08-16T10:00:10Z"}}"#,
                ),
                3600,
            ),
        ),
    ])
}

/// Every key under the pipeline's prefix, with its content and TTL.
pub async fn snapshot(
    conn: &mut redis::aio::MultiplexedConnection,
    keys: &KeySpace,
) -> BTreeMap<String, (Content, i64)> {
    let names: Vec<String> = conn.keys(format!("{}*", keys.prefix())).await.unwrap();
    let mut state = BTreeMap::new();
    for name in names {
        let kind: String = redis::cmd("TYPE")
            .arg(&name)
            .query_async(conn)
            .await
            .unwrap();
        let content = match kind.as_str() {
            "string" => Content::Text(conn.get(&name).await.unwrap()),
            "hash" => Content::Hash(conn.hgetall(&name).await.unwrap()),
            "zset" => Content::Sorted(conn.zrevrange_withscores(&name, 0, -1).await.unwrap()),
            other => panic!("{name}: unexpected type {other}"),
        };
        let ttl: i64 = conn.ttl(&name).await.unwrap();
        let short = name.strip_prefix(keys.prefix()).unwrap().to_owned();
        state.insert(short, (content, ttl));
    }
    state
}

/// `state` is exactly the golden state; `without_clv`: except the CLV key
/// (no CLV topic feeds the binary yet).
pub fn assert_golden_except(
    state: &BTreeMap<String, (Content, i64)>,
    when: &str,
    without_clv: bool,
) {
    let mut golden = golden();
    if without_clv {
        golden.remove("clv:user_42");
    }
    assert_eq!(
        state.keys().collect::<Vec<_>>(),
        golden.keys().collect::<Vec<_>>(),
        "{when}: the keys"
    );
    for (key, (content, ttl)) in state {
        let (expected, max_ttl) = &golden[key];
        assert_eq!(content, expected, "{when}: {key}");
        assert!(
            *ttl > 0 && *ttl <= *max_ttl as i64,
            "{when}: {key} has TTL {ttl}, expected (0, {max_ttl}]"
        );
    }
}

pub fn assert_golden(state: &BTreeMap<String, (Content, i64)>, when: &str) {
    assert_golden_except(state, when, false);
}
