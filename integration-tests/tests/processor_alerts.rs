//! The processor's own alerts (docs/alerts.md), against the real local
//! broker with the real processor binary: malformed records and a burst of
//! high-value anomalies, spread over two input partitions, raise exactly
//! one `dead_letter_rate` and one `high_value_anomaly_burst` record on the
//! alerts topic for the minute they fall in (counts at the threshold raise
//! none), in the original `system-alerts` format plus `pipeline`, byte for
//! byte; slow windows raise `window_close_slow` once per output; and a
//! processor killed (SIGKILL) and restarted writes no count alert twice.

#[path = "processor_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};
use support::dataset::*;
use support::pipeline::*;
use support::{consume_all, create_topics, unique};

const PIPELINE: &str = "team-a/shop";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The start of the minute `ms` falls in.
fn minute_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(60_000)
}

/// Records with an explicit Kafka timestamp (the dead letters' minute is
/// their record timestamp's; recent ones, so retention keeps them),
/// keyless, acknowledged.
async fn produce_at(topic: &str, records: &[(i32, i64, String)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", support::bootstrap())
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for (p, ts, value) in records {
        producer
            .send(
                FutureRecord::<(), _>::to(topic)
                    .partition(*p)
                    .timestamp(*ts)
                    .payload(value),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing test input failed: {e}"));
    }
}

fn broken(n: usize) -> String {
    format!("{{\"event_id\": \"broken-{n}\", ")
}

fn purchase(id: &str, ts: i64, amount: f64) -> String {
    let mut rng = Lcg(ts as u64);
    let mut e = event(id, ts, &mut rng);
    e["final_amount"] = json!(amount);
    e["unit_price"] = json!(amount);
    e["base_amount"] = json!(amount);
    e.to_string()
}

/// Minute `m0`: 7 dead letters (4 + 3 over two partitions, threshold 5)
/// and 4 high-value purchases (threshold 3); the next minute: exactly the
/// thresholds (5 and 3), which raise nothing; then events at `close` on
/// both partitions close both minutes.
fn phase_one(m0: i64, close: i64) -> Vec<(i32, i64, String)> {
    let (m1, mut out) = (m0 + 60_000, Vec::new());
    for n in 0..4 {
        out.push((0, m0 + 1_000 + n as i64, broken(n)));
    }
    for n in 4..7 {
        out.push((1, m0 + 30_000 + n as i64, broken(n)));
    }
    for (p, n) in [(0, 0), (0, 1), (1, 2), (1, 3)] {
        let ts = m0 + 10_000 + n;
        out.push((p, ts, purchase(&format!("hv0-{n}"), ts, 60_000.0)));
    }
    out.push((0, m0 + 5_000, purchase("low0", m0 + 5_000, 1_000.0)));
    for n in 0..5 {
        out.push((n % 2, m1 + 2_000 + n as i64, broken(100 + n as usize)));
    }
    for n in 0..3 {
        let ts = m1 + 20_000 + n as i64;
        out.push((n % 2, ts, purchase(&format!("hv1-{n}"), ts, 50_000.01)));
    }
    // Exactly the anomaly threshold is not an anomaly.
    out.push((1, m1 + 21_000, purchase("at", m1 + 21_000, 50_000.0)));
    for p in 0..2 {
        out.push((p, close, purchase(&format!("close-a-{p}"), close, 1.0)));
    }
    out
}

/// Minute `m2`: 6 dead letters on one partition; then events at `close`
/// close it.
fn phase_two(m2: i64, close: i64) -> Vec<(i32, i64, String)> {
    let mut out: Vec<(i32, i64, String)> = (0..6)
        .map(|n| (1, m2 + 500 + n as i64, broken(200 + n)))
        .collect();
    for p in 0..2 {
        out.push((p, close, purchase(&format!("close-b-{p}"), close, 1.0)));
    }
    out
}

fn spawn_alerting(topics: &Topics, alerts: &str, group: &str) -> Replica {
    spawn_with(
        topics,
        group,
        "0",
        &SETTINGS,
        &[
            ("PROCESSOR_ALERTS_TOPIC", alerts),
            ("PROCESSOR_PIPELINE", PIPELINE),
            ("PROCESSOR_ALERT_DEAD_LETTERS_PER_MINUTE", "5"),
            ("PROCESSOR_ALERT_HIGH_VALUE_ANOMALIES_PER_MINUTE", "3"),
            ("PROCESSOR_ALERT_WINDOW_CLOSE_SLOWER_THAN_SECONDS", "1"),
        ],
    )
}

/// The alerts topic's records as raw JSON text, in order.
async fn alert_texts(alerts: &str) -> Vec<String> {
    consume_all(alerts, 1)
        .await
        .into_iter()
        .map(|r| {
            assert_eq!(r.key, PIPELINE, "record key");
            String::from_utf8(r.payload).expect("UTF-8")
        })
        .collect()
}

fn of_type(texts: &[String], type_: &str) -> Vec<String> {
    texts
        .iter()
        .filter(|t| serde_json::from_str::<Value>(t).expect("alert JSON")["type"] == type_)
        .cloned()
        .collect()
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Python's `datetime.utcnow().isoformat()`, with microseconds.
fn python_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .expect("time")
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

fn dead_letter_alert(count: u64, minute: i64) -> String {
    format!(
        r#"{{"timestamp":"{}","type":"dead_letter_rate","message":"pipeline {PIPELINE}: {count} input records went to the dead-letter topic in the minute {}–{} (threshold 5 per minute)","severity":"warning","pipeline":"{PIPELINE}"}}"#,
        python_time(minute + 60_000),
        rfc3339(minute),
        rfc3339(minute + 60_000),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_and_anomaly_bursts_raise_exact_alerts_once_across_a_crash() {
    let input = unique("alerts-input");
    let alerts = unique("alerts-alerts");
    create_topics(&[(&input, 2), (&alerts, 1)]).await;
    let topics = Topics::create_with(&input, "alerts", 2).await;
    let group = unique("alerts-g");
    let mut replica = spawn_alerting(&topics, &alerts, &group);
    wait_ready(std::slice::from_ref(&replica), Duration::from_secs(60)).await;

    // A minute two to three minutes ago; the closing events' time is now.
    let m0 = minute_of(now_ms()) - 120_000;
    produce_at(&input, &phase_one(m0, now_ms())).await;
    let counted = |r: &Replica| {
        r.metric("shopstream_processor_alerts_total{type=\"dead_letter_rate\"}")
            + r.metric("shopstream_processor_alerts_total{type=\"high_value_anomaly_burst\"}")
    };
    wait_until(
        "two count alerts written",
        Duration::from_secs(60),
        std::slice::from_ref(&replica),
        || counted(&replica) >= 2.0,
    )
    .await;
    // Stage 2 commits every flush: after this, a restart replays nothing
    // already judged.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts = alert_texts(&alerts).await;
    assert_eq!(
        of_type(&texts, "dead_letter_rate"),
        [dead_letter_alert(7, m0)],
        "{texts:#?}"
    );
    let burst = format!(
        r#"{{"timestamp":"{}","type":"high_value_anomaly_burst","message":"pipeline team-a/shop: 4 high-value transactions above 50000 in the minute {}–{} (threshold 3 per minute)","severity":"warning","pipeline":"team-a/shop"}}"#,
        python_time(m0 + 60_000),
        rfc3339(m0),
        rfc3339(m0 + 60_000),
    );
    assert_eq!(
        of_type(&texts, "high_value_anomaly_burst"),
        [burst],
        "{texts:#?}"
    );
    // The original's keys in its order, then the pipeline; nothing else.
    for text in &texts {
        let keys: Vec<String> = text
            .trim_start_matches('{')
            .split(",\"")
            .filter_map(|part| part.trim_start_matches('"').split('"').next())
            .filter(|k| ["timestamp", "type", "message", "severity", "pipeline"].contains(k))
            .map(str::to_owned)
            .collect();
        assert_eq!(
            keys,
            ["timestamp", "type", "message", "severity", "pipeline"],
            "{text}"
        );
        let value: Value = serde_json::from_str(text).expect("JSON");
        assert_eq!(value.as_object().map(|o| o.len()), Some(5), "{text}");
    }
    // Every window of these events closed long after its deadline: one
    // slow-window alert per output that closed windows, not one per window.
    let slow = of_type(&texts, "window_close_slow");
    let mut per_output: BTreeMap<String, usize> = BTreeMap::new();
    for text in &slow {
        let message = serde_json::from_str::<Value>(text).expect("JSON")["message"]
            .as_str()
            .expect("message")
            .to_owned();
        let output = message
            .split("the ")
            .nth(1)
            .and_then(|m| m.split(' ').next())
            .expect("output named")
            .to_owned();
        *per_output.entry(output).or_default() += 1;
    }
    assert_eq!(per_output.get("sales"), Some(&1), "{slow:#?}");
    assert!(per_output.values().all(|&n| n == 1), "{slow:#?}");

    // SIGKILL and restart under the same replica id: the committed
    // windows are not judged again; the next minute's alert comes once.
    replica.child.kill().expect("SIGKILL");
    let _ = replica.child.wait();
    let replica = spawn_alerting(&topics, &alerts, &group);
    wait_ready(std::slice::from_ref(&replica), Duration::from_secs(60)).await;
    // The current minute: not closed by the first phase's events.
    let m2 = minute_of(now_ms());
    produce_at(&input, &phase_two(m2, m2 + 125_000)).await;
    wait_until(
        "the second phase's dead-letter alert",
        Duration::from_secs(60),
        std::slice::from_ref(&replica),
        || counted(&replica) >= 1.0,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let texts = alert_texts(&alerts).await;
    assert_eq!(
        of_type(&texts, "dead_letter_rate"),
        [dead_letter_alert(7, m0), dead_letter_alert(6, m2)],
        "{texts:#?}"
    );
    assert_eq!(of_type(&texts, "high_value_anomaly_burst").len(), 1);
    assert_eq!(
        counted(&replica),
        1.0,
        "the restarted replica judged no window twice"
    );
}
