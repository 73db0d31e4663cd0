//! End-to-end tests of the `processor` binary against the real local broker:
//! a seeded data set processed by 1 replica and by 3 replicas gives the same
//! final outputs, equal to a deliberately simple recomputation written here;
//! malformed records are dead-lettered; late events are counted and change
//! nothing; replicas killed with SIGKILL and restarted change nothing.
//!
//! Outputs are idempotent per key (a re-emission after a restart writes the
//! identical record on the same key), so every read dedupes by key, last
//! value wins.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{bootstrap, create_topics, unique};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{Value, json};

const SALES_S: i64 = 10;
const SEGMENT_S: i64 = 20;
const HOURLY_S: i64 = 60;
const LATENESS_S: i64 = 2;
const THRESHOLD: f64 = 50_000.0;
/// 2026-01-01T00:00:00Z: simulated event time starts here.
const T0_MS: i64 = 1_767_225_600_000;
const FUTURE_MS: i64 = T0_MS + 86_400_000;
const OUTPUTS: [&str; 5] = ["sales", "segments", "anomalies", "hourly", "top_products"];

/// Topic names of one processor deployment.
#[derive(Clone)]
struct Topics {
    input: String,
    partials: String,
    outputs: BTreeMap<&'static str, String>,
    dead_letter: String,
}

impl Topics {
    async fn create(input: &str, prefix: &str) -> Topics {
        let outputs: BTreeMap<&'static str, String> = OUTPUTS
            .iter()
            .map(|o| (*o, unique(&format!("{prefix}-{o}"))))
            .collect();
        let t = Topics {
            input: input.to_owned(),
            partials: unique(&format!("{prefix}-partials")),
            outputs,
            dead_letter: unique(&format!("{prefix}-dlq")),
        };
        let mut names: Vec<(&str, i32)> = vec![(&t.partials, 3), (&t.dead_letter, 1)];
        names.extend(t.outputs.values().map(|n| (n.as_str(), 2)));
        create_topics(&names).await;
        t
    }
}

/// A running replica (killed on drop).
struct Replica {
    child: Child,
    metrics: SocketAddr,
    log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

fn spawn(topics: &Topics, group: &str, replica: &str) -> Replica {
    let metrics = free_addr();
    let log = std::env::temp_dir().join(format!("{group}-{replica}-{}.log", unique("r")));
    let file = std::fs::File::create(&log).expect("log file");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_processor"));
    cmd.env("KAFKA_BOOTSTRAP_SERVERS", bootstrap())
        .env("PROCESSOR_GROUP_ID", group)
        .env("PROCESSOR_REPLICA_ID", replica)
        .env("PROCESSOR_INPUT_TOPIC", &topics.input)
        .env("PROCESSOR_PARTIALS_TOPIC", &topics.partials)
        .env("PROCESSOR_DEAD_LETTER_TOPIC", &topics.dead_letter)
        .env("PROCESSOR_SALES_TOPIC", &topics.outputs["sales"])
        .env("PROCESSOR_SEGMENTS_TOPIC", &topics.outputs["segments"])
        .env("PROCESSOR_ANOMALIES_TOPIC", &topics.outputs["anomalies"])
        .env("PROCESSOR_HOURLY_TOPIC", &topics.outputs["hourly"])
        .env(
            "PROCESSOR_TOP_PRODUCTS_TOPIC",
            &topics.outputs["top_products"],
        )
        .env("PROCESSOR_SALES_WINDOW_SECONDS", SALES_S.to_string())
        .env("PROCESSOR_SEGMENT_WINDOW_SECONDS", SEGMENT_S.to_string())
        .env("PROCESSOR_HOURLY_WINDOW_SECONDS", HOURLY_S.to_string())
        .env("PROCESSOR_ALLOWED_LATENESS_SECONDS", LATENESS_S.to_string())
        .env("PROCESSOR_ANOMALY_THRESHOLD", THRESHOLD.to_string())
        .env("PROCESSOR_FLUSH_INTERVAL_MS", "200")
        .env("METRICS_ADDR", metrics.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file.try_clone().expect("log file handle"));
    let child = cmd.spawn().expect("starting the processor binary");
    Replica {
        child,
        metrics,
        log,
    }
}

fn sigterm(replica: &mut Replica) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(replica.child.id().to_string())
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = replica.child.try_wait().expect("wait") {
            let log = std::fs::read_to_string(&replica.log).unwrap_or_default();
            assert!(
                status.success(),
                "graceful shutdown failed: {status}\n{log}"
            );
            return;
        }
        assert!(Instant::now() < deadline, "no exit 30 s after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn scrape(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

/// Sum of a metric's samples whose line starts with `prefix`.
fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

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

async fn produce(topic: &str, records: &[(i32, String)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .expect("producer");
    let sends = records.iter().map(|(p, v)| {
        producer.send(
            FutureRecord::<(), _>::to(topic).partition(*p).payload(v),
            Duration::from_secs(30),
        )
    });
    for r in futures::future::join_all(sends).await {
        r.unwrap_or_else(|(e, _)| panic!("producing test input failed: {e}"));
    }
}

// ----------------------------------------------- deliberately simple recompute

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Per output: key → JSON value, over every window that the closing events
/// close (all windows before FUTURE_MS).
/// (name, category, quantity, revenue, orders) of a product in a window.
type ProductSums = (String, String, u64, f64, u64);
/// (orders, total, distinct users).
type SalesSums = (u64, f64, BTreeSet<String>);

fn recompute(records: &[(i32, String)]) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut out: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    let events: Vec<Value> = records
        .iter()
        .filter_map(|(_, v)| serde_json::from_str::<Value>(v).ok())
        .filter(|e| e.get("user_segment").is_some())
        .collect();
    let ms = |e: &Value| {
        chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().expect("ts"))
            .expect("rfc3339")
            .timestamp_millis()
    };
    let fmt = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .expect("time")
            .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    };
    let start = |t: i64, s: i64| t - t.rem_euclid(s * 1000);
    let mut sales: BTreeMap<(i64, String, String), SalesSums> = BTreeMap::new();
    let mut segs: BTreeMap<(i64, String), (u64, f64, f64, u64)> = BTreeMap::new();
    let mut hourly: BTreeMap<(i64, String), SalesSums> = BTreeMap::new();
    let mut products: BTreeMap<(i64, String), ProductSums> = BTreeMap::new();
    for e in &events {
        let t = ms(e);
        let amount = e["final_amount"].as_f64().expect("amount");
        let user = e["user_id"].as_str().expect("user").to_owned();
        let s = |k: &str| e[k].as_str().expect("string").to_owned();
        if amount > THRESHOLD {
            out.entry("anomalies".into()).or_default().insert(
                s("event_id"),
                json!({"event_id": s("event_id"), "timestamp": fmt(t), "user_id": user,
                    "product_name": s("product_name"), "final_amount": amount,
                    "region": s("region"), "anomaly_type": "high_value_transaction"}),
            );
        }
        if t >= FUTURE_MS - HOURLY_S * 1000 {
            continue;
        }
        let a = sales
            .entry((start(t, SALES_S), s("category"), s("region")))
            .or_default();
        a.0 += 1;
        a.1 += amount;
        a.2.insert(user.clone());
        let b = segs
            .entry((start(t, SEGMENT_S), s("user_segment")))
            .or_default();
        b.0 += 1;
        b.1 += amount;
        b.2 += e["discount_rate"].as_f64().expect("rate");
        b.3 += e["quantity"].as_u64().expect("qty");
        let c = hourly
            .entry((start(t, HOURLY_S), s("category")))
            .or_default();
        c.0 += 1;
        c.1 += amount;
        c.2.insert(user);
        let d = products
            .entry((start(t, HOURLY_S), s("product_id")))
            .or_insert_with(|| (s("product_name"), s("category"), 0, 0.0, 0));
        d.2 += e["quantity"].as_u64().expect("qty");
        d.3 += amount;
        d.4 += 1;
    }
    for ((w, cat, region), (n, total, users)) in sales {
        out.entry("sales".into()).or_default().insert(
            format!("{}|{cat}|{region}", fmt(w)),
            json!({"window_start": fmt(w), "window_end": fmt(w + SALES_S * 1000),
                "category": cat, "region": region, "order_count": n,
                "total_sales": round2(total), "avg_order_value": round2(total / n as f64),
                "unique_customers": users.len()}),
        );
    }
    for ((w, seg), (n, revenue, discount, items)) in segs {
        out.entry("segments".into()).or_default().insert(
            format!("{}|{seg}", fmt(w)),
            json!({"window_start": fmt(w), "window_end": fmt(w + SEGMENT_S * 1000),
                "user_segment": seg, "orders": n, "revenue": round2(revenue),
                "avg_discount": (discount / n as f64 * 10_000.0).round() / 10_000.0,
                "total_items": items, "revenue_per_order": round2(revenue / n as f64)}),
        );
    }
    for ((w, cat), (n, total, users)) in hourly {
        out.entry("hourly".into()).or_default().insert(
            format!("{}|{cat}", fmt(w)),
            json!({"window_start": fmt(w), "window_end": fmt(w + HOURLY_S * 1000),
                "category": cat, "total_sales": round2(total), "order_count": n,
                "avg_order_value": round2(total / n as f64), "unique_customers": users.len()}),
        );
    }
    let mut by_window: BTreeMap<i64, Vec<(String, ProductSums)>> = BTreeMap::new();
    for ((w, id), v) in products {
        by_window.entry(w).or_default().push((id, v));
    }
    for (w, mut list) in by_window {
        list.sort_by(|a, b| round2(b.1.3).total_cmp(&round2(a.1.3)).then(a.0.cmp(&b.0)));
        for (rank, (id, (name, cat, qty, revenue, n))) in list.into_iter().enumerate() {
            out.entry("top_products".into()).or_default().insert(
                format!("{}|{id}", fmt(w)),
                json!({"window_start": fmt(w), "window_end": fmt(w + HOURLY_S * 1000),
                    "product_id": id, "product_name": name, "category": cat,
                    "total_quantity": qty, "total_revenue": round2(revenue),
                    "order_count": n, "revenue_rank": rank + 1}),
            );
        }
    }
    out
}

/// JSON equality with numbers compared to within a cent (the recompute
/// sums floats; the processor sums exact cents).
fn close_enough(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            (x - y).abs() <= 0.011
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| close_enough(v, w)))
        }
        _ => a == b,
    }
}

fn assert_matches_recompute(
    got: &BTreeMap<String, BTreeMap<String, Value>>,
    want: &BTreeMap<String, BTreeMap<String, Value>>,
) {
    for output in OUTPUTS {
        let (g, w) = (&got[output], &want[output]);
        let gk: Vec<_> = g.keys().collect();
        let wk: Vec<_> = w.keys().collect();
        assert_eq!(gk, wk, "{output}: key sets differ");
        for (k, v) in w {
            assert!(
                close_enough(&g[k], v),
                "{output} {k}:\n got  {}\n want {v}",
                g[k]
            );
        }
    }
}

// ------------------------------------------------------------ reading outputs

/// Reads `topic` from the start for `settle` after the last record (and at
/// least until `want` keys were seen or `deadline`), deduped by key.
async fn read_topic(topic: &str, want: usize, deadline: Duration) -> BTreeMap<String, Value> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("e2e-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = BTreeMap::new();
    let mut stream = consumer.stream();
    let end = tokio::time::Instant::now() + deadline;
    let settle = Duration::from_millis(1500);
    loop {
        let wait = if out.len() >= want {
            settle
        } else {
            end.saturating_duration_since(tokio::time::Instant::now())
        };
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(m))) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let value: Value =
                    serde_json::from_slice(m.payload().unwrap_or_default()).expect("output JSON");
                out.insert(key, value);
            }
            Ok(Some(Err(e))) => panic!("reading {topic}: {e}"),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

async fn read_outputs(
    topics: &Topics,
    want: &BTreeMap<String, BTreeMap<String, Value>>,
    deadline: Duration,
) -> BTreeMap<String, BTreeMap<String, Value>> {
    let mut got = BTreeMap::new();
    for output in OUTPUTS {
        let n = want.get(output).map_or(0, BTreeMap::len);
        got.insert(
            output.to_owned(),
            read_topic(&topics.outputs[output], n, deadline).await,
        );
    }
    got
}

fn logs(replicas: &[Replica]) -> String {
    replicas
        .iter()
        .map(|r| std::fs::read_to_string(&r.log).unwrap_or_default())
        .map(|l| l.lines().rev().take(40).collect::<Vec<_>>().join("\n"))
        .collect::<Vec<_>>()
        .join("\n-----\n")
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
    let want = recompute(&records);

    let group_one = unique("e2e-g1");
    let group_three = unique("e2e-g3");
    let mut one = vec![spawn(&single, &group_one, "0")];
    let mut three: Vec<Replica> = (0..3)
        .map(|i| spawn(&triple, &group_three, &i.to_string()))
        .collect();

    let got_one = read_outputs(&single, &want, Duration::from_secs(60)).await;
    let got_three = read_outputs(&triple, &want, Duration::from_secs(30)).await;
    assert_eq!(
        got_one,
        got_three,
        "1 replica and 3 replicas differ\n{}",
        logs(&three)
    );
    assert_matches_recompute(&got_one, &want);

    // Dead letters: every malformed record, with a reason and its source.
    let malformed = records
        .iter()
        .filter(|(_, v)| {
            serde_json::from_str::<Value>(v).map_or(true, |e| e.get("user_segment").is_none())
        })
        .count();
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
    let again = read_outputs(&single, &want, Duration::from_secs(10)).await;
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
        recompute(&all)
    };

    let mut replicas: Vec<Replica> = (0..3)
        .map(|i| spawn(&topics, &group, &i.to_string()))
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
            replicas[victim] = spawn(&topics, &group, &victim.to_string());
        }
    }
    let closing = closing_events(11);
    produce(&input, &closing).await;
    records.extend(closing);

    let got = read_outputs(&topics, &want_all, Duration::from_secs(90)).await;
    let keys: usize = got.values().map(BTreeMap::len).sum();
    assert!(keys > 0, "no outputs\n{}", logs(&replicas));
    assert_matches_recompute(&got, &want_all);
    for r in &mut replicas {
        sigterm(r);
    }
}

#[test]
fn recompute_sanity() {
    let records = data_set(3, 50, 30);
    let mut all = records.clone();
    all.extend(closing_events(3));
    let out = recompute(&all);
    let orders: u64 = out["sales"]
        .values()
        .map(|v| v["order_count"].as_u64().unwrap_or(0))
        .sum();
    let valid = records
        .iter()
        .filter(|(_, v)| {
            serde_json::from_str::<Value>(v).is_ok_and(|e| e.get("user_segment").is_some())
        })
        .count();
    assert_eq!(orders as usize, valid);
}
