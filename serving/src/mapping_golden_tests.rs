//! Golden tests: records of the processor's topics (docs/processor.md
//! #outputs) and the literal Redis writes they become. The values of the
//! `hourly` and `top_products` keys are what the original's dashboard
//! aggregator writes for the same row (seed document, 監視とアラート機能 ›
//! 2. ダッシュボード用集約処理, `save_to_redis`: `json.dumps(row.asDict(),
//! default=str)`, `setex(key, 7200, value)`); the expected strings were
//! produced by running that `json.dumps` call in Python 3 on the
//! corresponding `Row` (a tuple of naive datetimes for `window`).

use super::*;
use crate::clv::{self, Model, UserHistory};
use crate::records::{Output, parse};

fn pipeline_keys() -> KeySpace {
    KeySpace::for_pipeline("shop", "orders")
}

fn of(output: Output, json: &str) -> Vec<RedisWrite> {
    writes(
        &pipeline_keys(),
        &Ttls::default(),
        Model::default(),
        &parse(output, json).unwrap(),
    )
}

const HOURLY: &str = r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","category":"electronics","total_sales":161640.0,"order_count":2,"avg_order_value":80820.0,"unique_customers":2,"hour":"2025-08-12 10:00:00"}"#;

#[test]
fn hourly_sales_as_the_original_wrote_them_one_key_per_category() {
    let expected = vec![
        RedisWrite::Set {
            key: "shopstream:shop:orders:hourly:2025-08-12 10:00:00:electronics".into(),
            value: r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "category": "electronics", "total_sales": 161640.0, "order_count": 2, "avg_order_value": 80820.0, "unique_customers": 2, "hour": "2025-08-12 10:00:00"}"#.into(),
            ttl: 7200,
        },
        RedisWrite::SortedMember {
            key: "shopstream:shop:orders:rank:hourly:2025-08-12 10:00:00".into(),
            member: "electronics".into(),
            score: 161_640.0,
            ttl: 7200,
            keep_highest: None,
        },
        RedisWrite::SortedMember {
            key: "shopstream:shop:orders:windows:hourly".into(),
            member: "2025-08-12 10:00:00".into(),
            score: 1_754_992_800.0,
            ttl: 7200,
            keep_highest: Some(24),
        },
    ];
    assert_eq!(of(Output::Hourly, HOURLY), expected);
}

#[test]
fn bare_keys_are_the_originals_names() {
    let record = parse(Output::Hourly, HOURLY).unwrap();
    let keys: Vec<String> = writes(
        &KeySpace::bare(),
        &Ttls::default(),
        Model::default(),
        &record,
    )
    .iter()
    .map(|w| w.key().to_owned())
    .collect();
    assert_eq!(
        keys,
        [
            "hourly:2025-08-12 10:00:00:electronics",
            "rank:hourly:2025-08-12 10:00:00",
            "windows:hourly"
        ]
    );
}

#[test]
fn top_products_as_the_original_wrote_them_with_a_ranking() {
    let json = r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":1,"product_name":"ノートPC","category":"electronics","total_quantity":3,"total_revenue":255930.5,"order_count":2,"revenue_rank":1}"#;
    let writes = of(Output::TopProducts, json);
    assert_eq!(
        writes[..2],
        [
            RedisWrite::Set {
                key: "shopstream:shop:orders:top_products:2025-08-12 10:00:00:1".into(),
                value: r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "product_id": 1, "product_name": "\u30ce\u30fc\u30c8PC", "category": "electronics", "total_quantity": 3, "total_revenue": 255930.5, "order_count": 2, "revenue_rank": 1}"#.into(),
                ttl: 7200,
            },
            RedisWrite::SortedMember {
                key: "shopstream:shop:orders:rank:top_products:2025-08-12 10:00:00".into(),
                member: "1".into(),
                score: 255_930.5,
                ttl: 7200,
                keep_highest: None,
            },
        ]
    );
    assert_eq!(writes[2].key(), "shopstream:shop:orders:windows:hourly");
}

#[test]
fn string_product_ids_stay_strings_and_never_share_a_key_with_integers() {
    let json = r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":"P001","product_name":"Laptop \"Pro\"","category":"electronics","total_quantity":1,"total_revenue":1e16,"order_count":1,"revenue_rank":2}"#;
    let Some(RedisWrite::Set { key, value, .. }) = of(Output::TopProducts, json).into_iter().next()
    else {
        panic!("a SET first")
    };
    assert_eq!(
        key,
        "shopstream:shop:orders:top_products:2025-08-12 10:00:00:P001"
    );
    assert_eq!(
        value,
        r#"{"window": ["2025-08-12 10:00:00", "2025-08-12 11:00:00"], "product_id": "P001", "product_name": "Laptop \"Pro\"", "category": "electronics", "total_quantity": 1, "total_revenue": 1e+16, "order_count": 1, "revenue_rank": 2}"#
    );
    let quoted = json.replace(r#""P001""#, r#""5""#);
    assert_eq!(
        of(Output::TopProducts, &quoted)[0].key(),
        r#"shopstream:shop:orders:top_products:2025-08-12 10:00:00:"5""#
    );
}

#[test]
fn latest_sales_and_segment_windows_are_hashes_of_our_records() {
    let sales = r#"{"window_start":"2025-08-12T10:01:00Z","window_end":"2025-08-12T10:02:00Z","category":"food","region":"Tokyo","order_count":1,"total_sales":1140.0,"avg_order_value":1140.0,"unique_customers":1}"#;
    assert_eq!(
        of(Output::Sales, sales),
        [
            RedisWrite::HashField {
                key: "shopstream:shop:orders:sales:2025-08-12 10:01:00".into(),
                field: "food|Tokyo".into(),
                value: sales.into(),
                ttl: 7200,
            },
            RedisWrite::SortedMember {
                key: "shopstream:shop:orders:windows:sales".into(),
                member: "2025-08-12 10:01:00".into(),
                score: 1_754_992_860.0,
                ttl: 7200,
                keep_highest: Some(120),
            },
        ]
    );
    let segment = r#"{"window_start":"2025-08-12T10:02:00Z","window_end":"2025-08-12T10:04:00Z","user_segment":"premium","orders":2,"revenue":170640.0,"avg_discount":0.1,"total_items":3,"revenue_per_order":85320.0}"#;
    assert_eq!(
        of(Output::Segments, segment)[0],
        RedisWrite::HashField {
            key: "shopstream:shop:orders:segments:2025-08-12 10:02:00".into(),
            field: "premium".into(),
            value: segment.into(),
            ttl: 7200,
        }
    );
}

#[test]
fn anomalies_are_a_capped_sorted_set_by_event_time() {
    let anomaly = r#"{"event_id":"evt_1","timestamp":"2025-08-12T10:00:00.123Z","user_id":"user_42","product_name":"Laptop","final_amount":80820.0,"region":"Osaka","anomaly_type":"high_value_transaction"}"#;
    assert_eq!(
        of(Output::Anomalies, anomaly),
        [RedisWrite::SortedMember {
            key: "shopstream:shop:orders:anomalies:recent".into(),
            member: anomaly.into(),
            score: 1_754_992_800_123.0,
            ttl: 7200,
            keep_highest: Some(100),
        }]
    );
}

/// The original's `cache_predictions`: key `<prefix>:<user_id>`,
/// `setex(key, 3600, …)`; `predict_customer_lifetime_value`: premium ×10,
/// confidence 0.85 (seed document, 2. リアルタイム機械学習予測).
#[test]
fn clv_original_rules_under_the_originals_key_and_ttl() {
    let history: UserHistory = serde_json::from_str(
        r#"{"user_id":"user_42","user_segment":"premium","orders":2,"monetary":100000.0,
            "first_purchase":"2025-08-11T09:00:00Z","last_purchase":"2025-08-16T10:00:00.5Z",
            "as_of":"2025-08-16T10:00:10Z",
            "last_event":{"timestamp":"2025-08-16T10:00:00.5Z","final_amount":80820.0,"quantity":1,"discount_rate":0.12}}"#,
    )
    .unwrap();
    let record = clv::compute(Model::OriginalRules, &history).unwrap();
    assert_eq!(
        clv(&pipeline_keys(), &Ttls::default(), &record),
        RedisWrite::Set {
            key: "shopstream:shop:orders:clv:user_42".into(),
            value: r#"{"predicted_clv":808200.0,"confidence":0.85,"timestamp":"2025-08-16T10:00:00.500Z","user_id":"user_42","model":"original-rules","features":{"hour":10,"day_of_week":7,"is_weekend":1,"price_per_quantity":80820.0,"discount_category":"high"},"history":{"orders":2,"monetary":100000.0,"first_purchase":"2025-08-11T09:00:00Z","last_purchase":"2025-08-16T10:00:00.500Z","as_of":"2025-08-16T10:00:10Z"}}"#.into(),
            ttl: 3600,
        }
    );
}

/// The processor's user-history record, byte for byte as its golden test
/// (`processor/src/analytics/user_history_tests.rs`) writes it, becomes the
/// user's `clv:` key under the default model: the contract between the
/// two, checked on both sides.
#[test]
fn processor_user_history_becomes_the_rfm_clv_key() {
    let record = r#"{"user_id":"user_1","user_segment":"regular","orders":2,"monetary":81960.1,"monetary_cents":8196010,"first_purchase":"2025-08-16T10:00:00Z","last_purchase":"2025-08-16T10:00:01.250Z","as_of":"2025-08-16T10:01:00Z","last_event":{"event_id":"e1","timestamp":"2025-08-16T10:00:01.250Z","final_amount":80820.0,"quantity":2,"discount_rate":0.1},"features":{"hour":10,"day_of_week":7,"is_weekend":1,"price_per_quantity":40410.0,"discount_category":"medium"}}"#;
    assert_eq!(
        of(Output::UserHistory, record),
        [RedisWrite::Set {
            key: "shopstream:shop:orders:clv:user_1".into(),
            // n = 2, aov = 40,980.05, T = 60 s, R = 58.75 s:
            // λ = 2 / (90 + 60/86400), CLV = aov · λ · 365 · e^(−λR).
            value: r#"{"predicted_clv":332386.15,"confidence":0.4,"timestamp":"2025-08-16T10:00:01.250Z","user_id":"user_1","model":"rfm","features":{"hour":10,"day_of_week":7,"is_weekend":1,"price_per_quantity":40410.0,"discount_category":"medium"},"history":{"orders":2,"monetary":81960.1,"first_purchase":"2025-08-16T10:00:00Z","last_purchase":"2025-08-16T10:00:01.250Z","as_of":"2025-08-16T10:01:00Z"}}"#.into(),
            ttl: 3600,
        }]
    );
    // A history no model can read is refused with the topic's name.
    let none = record.replace(r#""orders":2"#, r#""orders":0"#);
    let error = parse(Output::UserHistory, &none).unwrap_err().to_string();
    assert!(
        error.starts_with("invalid user-history record: "),
        "{error}"
    );
}
