//! In-memory throughput of the processor's pure path on one core: parse +
//! pre-aggregate (stage 1), and the whole pipeline (stage 1, partials
//! through their JSON wire format, stage 2 merge + finalize). Ignored by
//! default; run with
//! `cargo test --release -p processor --test processor_bench -- --ignored --nocapture`.

use std::time::Instant;

use serde_json::json;
use shopstream_processor::analytics::merge::MergeConfig;
use shopstream_processor::analytics::preagg::{
    PreAggregator, WindowConfig, detect_anomaly, parse_event,
};
use shopstream_processor::analytics::simulate::{InputRecord, simulate};

const N: usize = 1_000_000;
const SEGMENTS: [&str; 3] = ["premium", "regular", "new"];
const CATEGORIES: [&str; 5] = ["electronics", "books", "food", "fashion", "home"];
const REGIONS: [&str; 5] = ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"];

fn payloads() -> Vec<InputRecord> {
    let mut x: u64 = 42;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 33) % n
    };
    let t0 = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
    (0..N)
        .map(|i| {
            // 1,000 events per second of event time, like a busy shop.
            let ts = t0 + chrono::Duration::milliseconds(i as i64);
            let product = next(200);
            let final_amount = (100 + next(8_000_000)) as f64 / 100.0;
            let v = json!({
                "event_id": format!("g0-{i}"), "timestamp": ts.to_rfc3339(),
                "user_id": format!("user_{}", next(10_000) + 1),
                "user_segment": (SEGMENTS[next(3) as usize]),
                "product_id": format!("P{product:03}"), "product_name": format!("Product {product}"),
                "category": (CATEGORIES[(product % 5) as usize]),
                "quantity": 1 + next(5), "unit_price": final_amount, "base_amount": final_amount,
                "discount_rate": next(4) as f64 * 0.05, "discount_amount": 0.0,
                "final_amount": final_amount,
                "region": (REGIONS[next(5) as usize]),
                "device": "mobile", "payment_method": "credit_card",
            });
            ((i % 3) as i32, Some(v.to_string().into_bytes()))
        })
        .collect()
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn in_memory_throughput() {
    let input = payloads();
    let bytes: usize = input
        .iter()
        .map(|(_, p)| p.as_ref().map_or(0, Vec::len))
        .sum();
    println!(
        "{N} events, {:.0} bytes/event on average",
        bytes as f64 / N as f64
    );

    let started = Instant::now();
    let parsed = input
        .iter()
        .filter(|(_, p)| parse_event(p.as_deref()).is_ok())
        .count();
    let parse = started.elapsed();
    println!(
        "parse only: {:.2} s, {:.0} events/s",
        parse.as_secs_f64(),
        parsed as f64 / parse.as_secs_f64()
    );

    let config = WindowConfig::default();
    let started = Instant::now();
    let mut pre = PreAggregator::new(config);
    let mut partials = 0usize;
    let mut anomalies = 0usize;
    for (i, (p, payload)) in input.iter().enumerate() {
        if let Ok(event) = parse_event(payload.as_deref()) {
            anomalies += usize::from(detect_anomaly(&event, config.anomaly_threshold).is_some());
            pre.add(*p, &event);
        }
        if (i + 1) % 100_000 == 0 {
            partials += pre.drain().partials.len();
        }
    }
    partials += pre.drain().partials.len();
    let stage1 = started.elapsed();
    println!(
        "parse + pre-aggregate: {:.2} s, {:.0} events/s ({partials} partials, {anomalies} anomalies)",
        stage1.as_secs_f64(),
        N as f64 / stage1.as_secs_f64()
    );

    let batches: Vec<Vec<InputRecord>> = input.chunks(100_000).map(<[_]>::to_vec).collect();
    let merge = MergeConfig {
        windows: config,
        input_partitions: 3,
        lateness_ms: 10_000,
        idle_timeout_ms: None,
    };
    let started = Instant::now();
    let out = simulate(&batches, merge, 6);
    let full = started.elapsed();
    let results: usize = out.outputs.values().map(|m| m.len()).sum();
    println!(
        "full pipeline in memory: {:.2} s, {:.0} events/s ({results} results)",
        full.as_secs_f64(),
        N as f64 / full.as_secs_f64()
    );
    assert_eq!(out.events, N as u64);
}
