//! The original system's data contract, end to end against the real local
//! broker: its producer's events in (built as its `generate_event` builds
//! them and serialised with `json.dumps`), results a reader of the original
//! can use out. Two producers: a small Python producer written for this
//! test (`integration-tests/tests/python/original_producer.py`, python3 + kafka-python from
//! `hack/python/venv.sh`), and `generator --schema original`. Each feeds a
//! pipeline run by 1 replica and one run by 3 replicas (every replica
//! consuming); every windowed result and anomaly must equal the
//! recomputation from the input topic's records (`support/recompute.rs`),
//! and nothing may be dead-lettered.

#[path = "processor_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::pipeline::{
    Replica, Settings, Topics, logs, metric_sum, read_records, read_results, scrape, sigterm,
    spawn, wait_ready,
};
use support::recompute::{assert_matches, is_valid, recompute};
use support::{consume_all, create_topics, python, run_ok, unique};

/// The processor's defaults: what a team migrating from the original runs.
const SETTINGS: Settings = Settings::DEFAULTS;
const PARTITIONS: i32 = 3;
const EVENTS: usize = 6_000;
/// 2026-11-25T00:40:00Z: 6,000 events 400 ms apart span 00:40–01:20, so
/// two hourly windows (and their `hour`) are covered.
const START: &str = "2026-11-25T00:40:00Z";
const START_MS: i64 = 1_795_567_200_000;
/// The closing events are a day later; windows from here on stay open.
const OPEN_FROM_MS: i64 = START_MS + 86_400_000 / 2;

/// Two deployments (1 and 3 replicas) on one input topic, started and
/// ready (every replica joined and got its partitions) before any input.
struct Deployments {
    input: String,
    single: Topics,
    triple: Topics,
    one: Vec<Replica>,
    three: Vec<Replica>,
}

async fn deploy(name: &str) -> Deployments {
    let input = unique(&format!("{name}-input"));
    create_topics(&[(&input, PARTITIONS)]).await;
    let single = Topics::create(&input, &format!("{name}-one")).await;
    let triple = Topics::create(&input, &format!("{name}-three")).await;
    let (group_one, group_three) = (unique(&format!("{name}-g1")), unique(&format!("{name}-g3")));
    let one = vec![spawn(&single, &group_one, "0", &SETTINGS)];
    let three: Vec<Replica> = (0..3)
        .map(|i| spawn(&triple, &group_three, &i.to_string(), &SETTINGS))
        .collect();
    wait_ready(&one, Duration::from_secs(60)).await;
    wait_ready(&three, Duration::from_secs(60)).await;
    Deployments {
        input,
        single,
        triple,
        one,
        three,
    }
}

/// Reads the input topic back, recomputes, and compares both deployments'
/// results with it; then checks dead letters and that all three replicas
/// of the second deployment consumed events.
async fn check(mut d: Deployments) -> Vec<Value> {
    let records = consume_all(&d.input, PARTITIONS).await;
    let values: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8(r.payload.clone()).expect("UTF-8 (json.dumps writes ASCII)"))
        .collect();
    for (record, value) in records.iter().zip(&values) {
        assert!(
            is_valid(value),
            "the producer wrote an invalid event: {value}"
        );
        let event: Value = serde_json::from_str(value).expect("JSON");
        assert_eq!(
            Some(record.key.as_str()),
            event["user_id"].as_str(),
            "key = user_id"
        );
    }
    let texts: Vec<&str> = values.iter().map(String::as_str).collect();
    let want = recompute(&texts, &SETTINGS, OPEN_FROM_MS);
    assert!(!want.windowed["top_products"].is_empty());

    let got_one = read_results(&d.single, &want, Duration::from_secs(90)).await;
    assert_matches(&got_one, &want);
    let got_three = read_results(&d.triple, &want, Duration::from_secs(60)).await;
    assert_matches(&got_three, &want);
    assert_eq!(
        got_one,
        got_three,
        "1 and 3 replicas differ\n{}",
        logs(&d.three)
    );

    for topics in [&d.single, &d.triple] {
        let dead = read_records(&topics.dead_letter, 0, Duration::from_secs(5)).await;
        assert!(dead.is_empty(), "valid events were dead-lettered: {dead:?}");
    }
    for (i, replica) in d.one.iter().chain(&d.three).enumerate() {
        let metrics = scrape(replica.metrics, "/metrics");
        assert_eq!(
            metric_sum(&metrics, "shopstream_processor_invalid_events_total"),
            0.0
        );
        let consumed = metric_sum(&metrics, "shopstream_processor_events_consumed_total");
        assert!(
            consumed > 0.0,
            "replica {i} consumed nothing\n{}",
            logs(&d.three)
        );
    }
    for r in d.one.iter_mut().chain(d.three.iter_mut()) {
        sigterm(r);
    }
    values
        .iter()
        .map(|v| serde_json::from_str(v).expect("JSON"))
        .collect()
}

/// What a reader of the original relies on, in the results of `events`:
/// integer product ids stay integers, names are decoded, `hour` is there.
async fn spot_checks(topics: &Topics, events: &[Value]) {
    let top = read_records(&topics.outputs["top_products"], 1, Duration::from_secs(10)).await;
    for (_, row) in &top {
        assert!(row["product_id"].is_i64(), "integer id kept: {row}");
        assert!(
            row["product_name"].as_str().is_some_and(|n| !n.is_ascii()),
            "{row}"
        );
    }
    let hourly = read_records(&topics.outputs["hourly"], 1, Duration::from_secs(10)).await;
    let hours: BTreeSet<&str> = hourly
        .iter()
        .filter_map(|(_, r)| r["hour"].as_str())
        .collect();
    assert_eq!(
        hours,
        BTreeSet::from(["2026-11-25 00:00:00", "2026-11-25 01:00:00"])
    );
    let times: Vec<&str> = events
        .iter()
        .filter_map(|e| e["timestamp"].as_str())
        .collect();
    assert!(
        times
            .iter()
            .any(|t| t.len() == "2026-11-25T00:40:00+00:00".len()),
        "some timestamps without a fraction (microsecond 0)"
    );
    assert!(times.iter().any(|t| t.contains('.')));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_original_producers_events_give_the_recomputed_results() {
    let d = deploy("orig-py").await;
    let output = tokio::process::Command::new(python())
        .arg(integration_tests::checkout::package_dir().join("tests/python/original_producer.py"))
        .args([
            "--bootstrap-servers",
            &support::bootstrap(),
            "--topic",
            &d.input,
        ])
        .args([
            "--seed",
            "42",
            "--count",
            &EVENTS.to_string(),
            "--start",
            START,
        ])
        .args(["--step-ms", "400", "--close"])
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("the Python producer starts");
    assert!(
        output.status.success(),
        "the Python producer failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let single = d.single.clone();
    let events = check(d).await;
    assert_eq!(events.len(), EVENTS + PARTITIONS as usize);
    spot_checks(&single, &events).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generator_schema_original_gives_the_recomputed_results() {
    let d = deploy("orig-gen").await;
    let count = EVENTS.to_string();
    run_ok(
        &d.input,
        &[
            "--schema",
            "original",
            "--seed",
            "42",
            "--count",
            &count,
            "--unthrottled",
            "--start-time",
            START,
            "--time-step",
            "400ms",
        ],
    )
    .await;
    // Closing events a day later; seeded, so the same 30 every run, which
    // reach every partition (checked below).
    run_ok(
        &d.input,
        &[
            "--schema",
            "original",
            "--seed",
            "43",
            "--count",
            "30",
            "--unthrottled",
            "--start-time",
            "2026-11-26T00:40:00Z",
            "--time-step",
            "1ms",
        ],
    )
    .await;
    let single = d.single.clone();
    let records = consume_all(&d.input, PARTITIONS).await;
    let closing: BTreeSet<i32> = records
        .iter()
        .filter(|r| String::from_utf8_lossy(&r.payload).contains("2026-11-26T"))
        .map(|r| r.partition)
        .collect();
    assert_eq!(
        closing.len(),
        PARTITIONS as usize,
        "closing events on every partition"
    );
    let events = check(d).await;
    assert_eq!(events.len(), EVENTS + 30);
    let ids: BTreeSet<&str> = events
        .iter()
        .filter_map(|e| e["event_id"].as_str())
        .collect();
    assert_eq!(ids.len(), events.len(), "event ids are unique");
    spot_checks(&single, &events).await;
}
