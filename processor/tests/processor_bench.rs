//! In-memory throughput of the processor's pure path on one core: parse +
//! pre-aggregate (stage 1), and the whole pipeline (stage 1, partials
//! through their JSON wire format, stage 2 merge + finalize). Ignored by
//! default; run with
//! `cargo test --release -p processor --test processor_bench -- --ignored --nocapture`.
//!
//! Three data sets: the synthetic one of the first measurements (37 % of
//! the events above the anomaly threshold, far more than real traffic),
//! the generator's own events (seed 42, 1 ms apart; its realistic amounts,
//! users and products, ~14 % anomalies), and the original system's
//! producer shape (`generator --schema original`: `json.dumps` spacing,
//! integer ids and prices, `\uXXXX`-escaped product names, `isoformat()`
//! times).

use std::time::Instant;

use serde_json::json;
use shopstream_generator::catalogue::{Catalogue, CatalogueSpec};
use shopstream_generator::clock::EventClock;
use shopstream_generator::config::Schema;
use shopstream_generator::event_factory::{EventFactory, FactoryOptions};
use shopstream_processor::analytics::merge::MergeConfig;
use shopstream_processor::analytics::preagg::{
    PreAggregator, WindowConfig, detect_anomaly, parse_event,
};
use shopstream_processor::analytics::simulate::{InputRecord, simulate};
use shopstream_processor::analytics::validate::{InputRules, read_event};

const N: usize = 1_000_000;
const SEGMENTS: [&str; 3] = ["premium", "regular", "new"];
const CATEGORIES: [&str; 5] = ["electronics", "books", "food", "fashion", "home"];
const REGIONS: [&str; 5] = ["Tokyo", "Osaka", "Nagoya", "Fukuoka", "Sapporo"];

fn synthetic_payloads() -> Vec<InputRecord> {
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

/// The generator's records (as `generator --seed 42 --start-time
/// 2026-01-01T00:00:00Z --time-step 1ms [--schema original]` writes them),
/// spread over 3 input partitions.
fn generator_payloads(schema: Schema) -> Vec<InputRecord> {
    let start = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("time");
    let factory = EventFactory::new(
        Catalogue::new(CatalogueSpec::builtin()),
        FactoryOptions {
            seed: 42,
            clock: EventClock::Simulated {
                start,
                step: chrono::TimeDelta::milliseconds(1),
            },
            out_of_order_share: 0.0,
            out_of_order_max: std::time::Duration::from_secs(30),
            malformed_share: 0.0,
            schema,
        },
    );
    (0..N as u64)
        .map(|i| {
            let mut payload = Vec::new();
            factory.write_record(i, &mut payload);
            ((i % 3) as i32, Some(payload))
        })
        .collect()
}

/// Nanoseconds this thread has spent on a CPU
/// (`/proc/thread-self/schedstat`). On a shared machine the wall-clock
/// rate also counts the time the thread waited for a core; the rate per
/// CPU second does not, so runs under different loads can be compared.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A measurement's start: wall clock and the thread's CPU time.
struct Start(Instant, Option<u64>);

fn start() -> Start {
    Start(Instant::now(), thread_cpu_ns())
}

fn rate(label: &str, started: Start, events: usize, detail: &str) {
    let secs = started.0.elapsed().as_secs_f64();
    let cpu = match (started.1, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => {
            let cpu_secs = (b - a) as f64 / 1e9;
            format!(
                "; {:.0} events per CPU second, on a CPU {:.0} % of the time",
                events as f64 / cpu_secs,
                100.0 * cpu_secs / secs
            )
        }
        _ => String::new(),
    };
    println!(
        "  {label}: {secs:.2} s, {:.0} events/s{detail}{cpu}",
        events as f64 / secs
    );
}

fn measure(name: &str, input: &[InputRecord]) {
    let bytes: usize = input
        .iter()
        .map(|(_, p)| p.as_ref().map_or(0, Vec::len))
        .sum();
    println!(
        "{name}: {N} events, {:.0} bytes/event on average",
        bytes as f64 / N as f64
    );

    let started = start();
    let parsed = input
        .iter()
        .filter(|(_, p)| parse_event(p.as_deref()).is_ok())
        .count();
    rate("parse only", started, parsed, "");

    let rules = InputRules::default();
    let now = chrono::Utc::now().timestamp_millis();
    let started = start();
    let valid = input
        .iter()
        .filter(|(_, p)| read_event(p.as_deref(), &rules, now).is_ok())
        .count();
    rate("parse + validate", started, valid, "");

    let config = WindowConfig::default();
    let started = start();
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
    let detail = format!(" ({partials} partials, {anomalies} anomalies)");
    rate("parse + anomaly check + pre-aggregate", started, N, &detail);

    // What stage 1's consumer loop does per record (`stage1.rs`): the same,
    // with validation, plus each anomaly serialised to its output JSON.
    let started = start();
    let mut pre = PreAggregator::new(config);
    let mut anomaly_bytes = 0usize;
    for (i, (p, payload)) in input.iter().enumerate() {
        if let Ok(event) = read_event(payload.as_deref(), &rules, now) {
            if let Some(a) = detect_anomaly(&event, config.anomaly_threshold)
                && let Ok(json) = serde_json::to_string(&a)
            {
                anomaly_bytes += json.len();
            }
            pre.add(*p, &event);
        }
        if (i + 1) % 100_000 == 0 {
            pre.drain();
        }
    }
    pre.drain();
    let detail = format!(" ({anomaly_bytes} bytes of anomalies)");
    rate(
        "+ validation, anomalies serialised (stage 1 loop)",
        started,
        N,
        &detail,
    );

    let batches: Vec<Vec<InputRecord>> = input.chunks(100_000).map(<[_]>::to_vec).collect();
    let merge = MergeConfig {
        windows: config,
        input_partitions: 3,
        lateness_ms: 10_000,
        max_segments_per_window: 100,
    };
    let started = start();
    let out = simulate(&batches, merge, 6);
    let results: usize = out.outputs.values().map(|m| m.len()).sum();
    let detail = format!(" ({results} results)");
    rate("full pipeline in memory", started, N, &detail);
    assert_eq!(out.events, N as u64);
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn in_memory_throughput() {
    measure("synthetic data (37 % anomalies)", &synthetic_payloads());
    measure(
        "generator data (seed 42)",
        &generator_payloads(Schema::Shopstream),
    );
    measure(
        "the original producer's shape (generator --schema original, seed 42)",
        &generator_payloads(Schema::Original),
    );
}
