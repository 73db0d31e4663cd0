//! End-to-end tests of the `processor` binary against the real local broker:
//! a seeded data set processed by 1 replica and by 3 replicas gives the same
//! final outputs, equal to a deliberately simple recomputation
//! (`support/recompute.rs`); malformed records are dead-lettered; late
//! events are counted and change nothing; replicas killed with SIGKILL and
//! restarted change nothing.
//!
//! Window results are idempotent per key (a re-emission after a restart
//! writes the identical record on the same key), so every read of them
//! dedupes by key, last value wins; anomalies are read whole.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::pipeline::{
    Replica, Results, Settings, Topics, logs, metric_sum, produce, read_results, read_topic,
    scrape, sigterm, spawn,
};
use support::recompute::{assert_matches, is_valid, recompute};
use support::{create_topics, unique};

const SETTINGS: Settings = Settings {
    sales_s: 10,
    segment_s: 20,
    hourly_s: 60,
    lateness_s: 2,
    threshold: 50_000.0,
};
/// 2026-01-01T00:00:00Z: simulated event time starts here.
const T0_MS: i64 = 1_767_225_600_000;
const FUTURE_MS: i64 = T0_MS + 86_400_000;

// ---------------------------------------------------------------- data set

struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
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

fn event(id: &str, ts_ms: i64, rng: &mut Lcg) -> Value {
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
fn data_set(seed: u64, n: usize, span_s: i64) -> Vec<(i32, String)> {
    let mut rng = Lcg(seed);
    let mut out = Vec::new();
    for i in 0..n {
        for p in 0..3 {
            let base = T0_MS + (i as i64 * span_s * 1000) / n as i64;
            let ts = base - rng.next(1000) as i64;
            let value = match rng.next(100) {
                0 => "{\"event_id\": broken".to_owned(),
                1 => json!({"event_id": format!("s{seed}-{p}-{i}"), "timestamp": "x"}).to_string(),
                _ => event(&format!("s{seed}-{p}-{i}"), ts.max(T0_MS), &mut rng).to_string(),
            };
            out.push((p, value));
        }
    }
    out
}

fn closing_events(seed: u64) -> Vec<(i32, String)> {
    let mut rng = Lcg(seed);
    (0..3)
        .map(|p| {
            let mut e = event(&format!("close-{seed}-{p}"), FUTURE_MS, &mut rng);
            e["final_amount"] = json!(1.0);
            (p, e.to_string())
        })
        .collect()
}

/// The results the processor must emit for `records`.
fn expected(records: &[(i32, String)]) -> Results {
    let values: Vec<&str> = records.iter().map(|(_, v)| v.as_str()).collect();
    recompute(&values, &SETTINGS, FUTURE_MS)
}

// ------------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_and_three_replicas_equal_the_recompute() {
    let input = unique("e2e-input");
    create_topics(&[(&input, 3)]).await;
    let single = Topics::create(&input, "e2e-one").await;
    let triple = Topics::create(&input, "e2e-three").await;
    let mut records = data_set(7, 600, 150);
    produce(&input, &records).await;
    let closing = closing_events(7);
    produce(&input, &closing).await;
    records.extend(closing);
    let want = expected(&records);

    let group_one = unique("e2e-g1");
    let group_three = unique("e2e-g3");
    let mut one = vec![spawn(&single, &group_one, "0", &SETTINGS)];
    let mut three: Vec<Replica> = (0..3)
        .map(|i| spawn(&triple, &group_three, &i.to_string(), &SETTINGS))
        .collect();

    let got_one = read_results(&single, &want, Duration::from_secs(60)).await;
    let got_three = read_results(&triple, &want, Duration::from_secs(30)).await;
    assert_eq!(
        got_one,
        got_three,
        "1 replica and 3 replicas differ\n{}",
        logs(&three)
    );
    assert_matches(&got_one, &want);

    // Dead letters: every malformed record, with a reason and its source.
    let malformed = records.iter().filter(|(_, v)| !is_valid(v)).count();
    let dead = read_topic(&single.dead_letter, malformed, Duration::from_secs(20)).await;
    assert_eq!(dead.len(), malformed);
    for d in dead.values() {
        assert!(!d["reason"].as_str().unwrap_or_default().is_empty());
        assert_eq!(d["source_topic"], json!(input));
        assert!(d["offset"].as_i64().is_some() && d["partition"].as_i64().is_some());
    }
    let metrics = scrape(one[0].metrics, "/metrics");
    assert_eq!(
        metric_sum(&metrics, "processor_invalid_events_total"),
        malformed as f64
    );
    assert!(scrape(one[0].metrics, "/readyz").contains("200 OK"));
    assert!(scrape(one[0].metrics, "/healthz").contains("200 OK"));

    // Late events: old event times after everything was closed. Counted,
    // never folded: outputs unchanged.
    let mut rng = Lcg(99);
    let late: Vec<(i32, String)> = (0..3)
        .map(|p| (p, event(&format!("late-{p}"), T0_MS + 1_000, &mut rng)))
        .map(|(p, mut e)| {
            e["final_amount"] = json!(5.0);
            (p, e.to_string())
        })
        .collect();
    produce(&input, &late).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let late_sales = |r: &Replica| {
        metric_sum(
            &scrape(r.metrics, "/metrics"),
            "processor_late_events_total{output=\"sales\"}",
        )
    };
    while late_sales(&one[0]) < 3.0 || three.iter().map(late_sales).sum::<f64>() < 3.0 {
        assert!(
            Instant::now() < deadline,
            "late events not counted\n{}",
            logs(&one)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = read_results(&single, &want, Duration::from_secs(10)).await;
    assert_eq!(again, got_one, "late events changed the results");

    for r in one.iter_mut().chain(three.iter_mut()) {
        sigterm(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_and_restart_change_nothing() {
    let input = unique("e2e-crash-input");
    create_topics(&[(&input, 3)]).await;
    let topics = Topics::create(&input, "e2e-crash").await;
    let group = unique("e2e-crash-g");
    let mut records = data_set(11, 900, 150);
    let want_all = {
        let mut all = records.clone();
        all.extend(closing_events(11));
        expected(&all)
    };

    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| spawn(&topics, &group, &i.to_string(), &SETTINGS))
        .collect();
    // Feed the input in slices while replicas are killed and restarted.
    let slices: Vec<Vec<(i32, String)>> = records.chunks(300).map(<[_]>::to_vec).collect();
    for (i, slice) in slices.iter().enumerate() {
        produce(&input, slice).await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        if i % 3 == 1 {
            let victim = (i / 3) % 3;
            replicas[victim].child.kill().expect("SIGKILL");
            let _ = replicas[victim].child.wait();
            tokio::time::sleep(Duration::from_millis(500)).await;
            replicas[victim] = spawn(&topics, &group, &victim.to_string(), &SETTINGS);
        }
    }
    let closing = closing_events(11);
    produce(&input, &closing).await;
    records.extend(closing);

    let got = read_results(&topics, &want_all, Duration::from_secs(90)).await;
    let keys: usize = got.windowed.values().map(BTreeMap::len).sum();
    assert!(keys > 0, "no outputs\n{}", logs(&replicas));
    assert_matches(&got, &want_all);
    for r in &mut replicas {
        sigterm(r);
    }
}

#[test]
fn recompute_sanity() {
    let records = data_set(3, 50, 30);
    let mut all = records.clone();
    all.extend(closing_events(3));
    let out = expected(&all);
    let orders: u64 = out.windowed["sales"]
        .values()
        .map(|v| v["order_count"].as_u64().unwrap_or(0))
        .sum();
    let valid = records.iter().filter(|(_, v)| is_valid(v)).count();
    assert_eq!(orders as usize, valid);
    // The malformed records of the data set are not valid.
    assert!(valid < records.len());
}
