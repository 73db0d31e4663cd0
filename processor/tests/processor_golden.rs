//! Golden tests of the pure pipeline (no Kafka): a small hand-written event
//! list → the expected outputs in tests/fixtures/golden_expected.json, the
//! same whatever the batching and the number of partials partitions.
//! Regenerate the expectation (then review it!) with
//! `UPDATE_GOLDEN=1 cargo test -p processor --test processor_golden`.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use shopstream_processor::analytics::merge::MergeConfig;
use shopstream_processor::analytics::preagg::WindowConfig;
use shopstream_processor::analytics::simulate::{InputRecord, SimOutput, simulate};

const INPUT: &str = include_str!("fixtures/golden_input.json");
const EXPECTED: &str = "tests/fixtures/golden_expected.json";

fn config() -> MergeConfig {
    MergeConfig {
        windows: WindowConfig::default(),
        input_partitions: 3,
        lateness_ms: 10_000,
        max_segments_per_window: 100,
    }
}

fn records(v: &Value) -> Vec<InputRecord> {
    v.as_array()
        .expect("a list of records")
        .iter()
        .map(|r| {
            let partition = r[0].as_i64().expect("partition") as i32;
            let value = r[1].as_str().expect("record value").as_bytes().to_vec();
            (partition, Some(value))
        })
        .collect()
}

fn to_json(out: &SimOutput) -> Value {
    let mut outputs = serde_json::Map::new();
    for (topic, records) in &out.outputs {
        let parsed: BTreeMap<&String, Value> = records
            .iter()
            .map(|(k, v)| (k, serde_json::from_str(v).expect("output is JSON")))
            .collect();
        outputs.insert(topic.clone(), json!(parsed));
    }
    let dead: Vec<Value> = out
        .dead_letters
        .iter()
        .map(|d| json!({"partition": d.partition, "offset": d.offset, "reason": d.reason}))
        .collect();
    json!({"outputs": outputs, "dead_letters": dead, "late_events": out.late_events, "events": out.events})
}

/// `on_time` in batches of `size`, then the late records in a batch of
/// their own (after the watermark-advancing events were flushed).
fn run(size: usize, partials_partitions: usize) -> Value {
    let input: Value = serde_json::from_str(INPUT).expect("fixture parses");
    let mut batches: Vec<Vec<InputRecord>> = records(&input["on_time"])
        .chunks(size)
        .map(<[InputRecord]>::to_vec)
        .collect();
    batches.push(records(&input["late"]));
    to_json(&simulate(&batches, config(), partials_partitions))
}

#[test]
fn golden_outputs_independent_of_batching_and_partitioning() {
    let reference = run(1, 1);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text = serde_json::to_string_pretty(&reference).expect("serializes");
        std::fs::write(EXPECTED, text + "\n").expect("writing the golden file");
    }
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(EXPECTED)
            .expect("golden file exists (UPDATE_GOLDEN=1 creates it)"),
    )
    .expect("golden file parses");
    for size in [1, 2, 3, 5, 100] {
        for partitions in [1, 3, 7] {
            assert_eq!(
                run(size, partitions),
                expected,
                "batches of {size}, {partitions} partials partitions"
            );
        }
    }
}

fn sales(out: &Value, key: &str) -> Value {
    out["outputs"]["sales"][key].clone()
}

#[test]
fn window_boundaries_and_offsets() {
    let out = run(2, 3);
    // 00:00:00 is in [00:00, 00:01); 00:00:59.999 too; 09:01:00+09:00 is
    // 00:01:00Z, the next window's start.
    let first = sales(&out, "2026-11-25T00:00:00Z|electronics|Tokyo");
    assert_eq!(first["order_count"], 3);
    assert_eq!(first["unique_customers"], 2);
    assert_eq!(first["window_end"], "2026-11-25T00:01:00Z");
    let next = sales(&out, "2026-11-25T00:01:00Z|books|Osaka");
    assert_eq!(next["order_count"], 1);
    // 19:02:30-05:00 on the 24th is 00:02:30Z on the 25th.
    let shifted = sales(&out, "2026-11-25T00:02:00Z|electronics|Tokyo");
    assert_eq!(shifted["total_sales"], 1.0);
    // Exactly the threshold is not an anomaly; strictly above is.
    let anomalies = out["outputs"]["anomalies"].as_object().expect("anomalies");
    assert!(anomalies.contains_key("g-3"));
    assert!(!anomalies.contains_key("g-5"));
    assert_eq!(anomalies["g-3"]["timestamp"], "2026-11-25T00:01:00Z");
}

#[test]
fn late_events_are_counted_not_folded() {
    let out = run(3, 3);
    for kind in ["sales", "segments", "hourly", "top_products"] {
        assert_eq!(out["late_events"][kind], 1, "{kind}");
    }
    let first = sales(&out, "2026-11-25T00:00:00Z|electronics|Tokyo");
    assert_eq!(first["total_sales"], 4001.0, "the late 999.00 is not in it");
}

/// SQL `rank()`: ties share a rank and the next rank skips. Product ids
/// keep their JSON type; `5` (the original producer's integer) and `"5"`
/// are different products with different keys; integers order first among
/// equal revenues.
#[test]
fn revenue_rank_is_sql_rank_and_ids_keep_their_type() {
    let out = run(100, 3);
    let top = &out["outputs"]["top_products"];
    let row = |p: &str| top[format!("2026-11-25T00:00:00Z|{p}")].clone();
    let ranks: Vec<(Value, Value, Value)> = ["P3", "5", "P1", "P2", "\"5\"", "P4", "P5"]
        .iter()
        .map(|p| {
            let r = row(p);
            (
                r["product_id"].clone(),
                r["revenue_rank"].clone(),
                r["total_revenue"].clone(),
            )
        })
        .collect();
    assert_eq!(
        ranks,
        [
            (json!("P3"), json!(1), json!(110000.0)),
            (json!(5), json!(2), json!(2001.0)),
            (json!("P1"), json!(2), json!(2001.0)),
            (json!("P2"), json!(2), json!(2001.0)),
            (json!("5"), json!(5), json!(600.5)),
            (json!("P4"), json!(5), json!(600.5)),
            (json!("P5"), json!(7), json!(123.45)),
        ]
    );
    assert_eq!(
        row("5")["product_name"],
        "スマートフォン",
        "escapes decoded"
    );
}

/// The original producer's events (json.dumps, `isoformat()` times) are
/// counted like ours; an unknown segment is grouped as it is; hourly
/// results carry the original's `hour`.
#[test]
fn original_shape_events_and_open_segments() {
    let out = run(2, 3);
    let vip = &out["outputs"]["segments"]["2026-11-25T00:10:00Z|vip"];
    assert_eq!(vip["orders"], 1);
    assert_eq!(vip["revenue"], 2001.0);
    let hourly = &out["outputs"]["hourly"]["2026-11-25T00:00:00Z|food"];
    assert_eq!(hourly["hour"], "2026-11-25 00:00:00");
    assert_eq!(hourly["window_start"], "2026-11-25T00:00:00Z");
    // 00:20:00.000001+00:00 (microseconds) is in [00:20, 00:21).
    let micro = sales(&out, "2026-11-25T00:20:00Z|food|Nagoya");
    assert_eq!(micro["total_sales"], 600.5);
}

#[test]
fn malformed_records_are_dead_lettered_with_reasons() {
    let out = run(4, 3);
    let dead = out["dead_letters"].as_array().expect("dead letters");
    assert_eq!(dead.len(), 3);
    assert!(
        dead[0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("invalid JSON"))
    );
    assert!(
        dead[1]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("missing field"))
    );
    // A float is not a product id (the original's Spark schema read it
    // as null): dead-lettered with a reason naming what is expected.
    assert!(
        dead[2]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("expected a product id"))
    );
}

/// One valid event of the first minute, with `edit` applied.
fn edited(id: &str, edit: impl FnOnce(&mut Value)) -> InputRecord {
    let mut e = json!({"event_id": id, "timestamp": "2026-11-25T00:00:10Z", "user_id": "user_1",
        "user_segment": "new", "product_id": format!("X-{id}"), "product_name": "Pen",
        "category": "office", "quantity": 1, "unit_price": 10.0, "base_amount": 10.0,
        "discount_rate": 0.0, "discount_amount": 0.0, "final_amount": 10.0, "region": "Tokyo",
        "device": "web", "payment_method": "credit_card"});
    edit(&mut e);
    (0, Some(e.to_string().into_bytes()))
}

#[test]
fn out_of_range_values_are_dead_lettered_and_keys_stay_apart() {
    let mut batch = vec![
        edited("neg", |e| e["final_amount"] = json!(-5.0)),
        edited("huge", |e| e["final_amount"] = json!(1e17)),
        edited("rate", |e| e["discount_rate"] = json!(1.5)),
        edited("qty", |e| e["quantity"] = json!(0)),
        edited("pipe-1", |e| {
            e["category"] = json!("a|b");
            e["region"] = json!("c");
        }),
        edited("pipe-2", |e| {
            e["category"] = json!("a");
            e["region"] = json!("b|c");
        }),
    ];
    // Moves the watermark of every input partition past the first minute.
    for p in 0..3 {
        let (_, value) = edited(&format!("close-{p}"), |e| {
            e["timestamp"] = json!("2026-11-25T02:00:00Z")
        });
        batch.push((p, value));
    }
    let out = to_json(&simulate(&[batch], config(), 3));
    let reasons: Vec<&str> = out["dead_letters"]
        .as_array()
        .expect("dead letters")
        .iter()
        .filter_map(|d| d["reason"].as_str())
        .collect();
    assert_eq!(reasons.len(), 4, "{reasons:?}");
    assert!(reasons.iter().all(|r| r.starts_with("value out of range")));
    let sales = &out["outputs"]["sales"];
    let a = &sales["2026-11-25T00:00:00Z|a\\|b|c"];
    let b = &sales["2026-11-25T00:00:00Z|a|b\\|c"];
    assert_eq!(
        (a["category"].as_str(), a["region"].as_str()),
        (Some("a|b"), Some("c"))
    );
    assert_eq!(
        (b["category"].as_str(), b["region"].as_str()),
        (Some("a"), Some("b|c"))
    );
    assert_eq!(a["order_count"], 1);
    assert_eq!(b["order_count"], 1);
    assert_eq!(out["events"], 5, "only the valid events are counted");
}
