//! Customer lifetime value end to end, against the local environment's
//! real Kafka and real Redis: purchase events → two `processor` replicas
//! (one SIGKILLed and restarted between two halves of the input) → the
//! compacted user-history topic → `serving` (one per CLV model) → `clv:`
//! keys. Every key's value is compared with a recomputation from the input
//! events written here, independently of the production code (RFM formula
//! and the original's rules and features restated from docs/serving.md
//! and the seed document).
//!
//! Exactness: the hourly window stays open over the whole run, so stage 2
//! commits no partials offset past its start and every restart replays
//! every user window since then. A history that added a replayed window
//! again would count those purchases twice.

mod processor_support;
mod redis_env;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use processor_support::pipeline::{self, Replica, Settings, Topics, read_topic};
use processor_support::{bootstrap, create_topic, unique};
use redis::AsyncCommands;
use redis_env::Instance;
use serde_json::Value;

/// 2025-08-16T10:00:00Z, a Saturday.
const T0_MS: i64 = 1_755_338_400_000;
const USERS: usize = 24;
const SEGMENTS: [&str; 3] = ["premium", "regular", "new"];
const CLV_TTL: u64 = 600;

#[derive(Clone, Debug)]
struct Event {
    id: String,
    user: String,
    segment: &'static str,
    ts_ms: i64,
    quantity: u32,
    final_cents: i64,
    discount_millis: u32,
}

impl Event {
    fn json(&self) -> String {
        let time = Utc.timestamp_millis_opt(self.ts_ms).unwrap();
        let amount = self.final_cents as f64 / 100.0;
        format!(
            r#"{{"event_id":"{}","timestamp":"{}","user_id":"{}","user_segment":"{}","product_id":"P1","product_name":"Pen","category":"office","quantity":{},"unit_price":{amount},"base_amount":{amount},"discount_rate":{},"discount_amount":0.0,"final_amount":{amount},"region":"Tokyo","device":"web","payment_method":"card"}}"#,
            self.id,
            time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            self.user,
            self.segment,
            self.quantity,
            f64::from(self.discount_millis) / 1000.0,
        )
    }
}

/// A small deterministic generator (64-bit LCG).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

/// Events from `from_ms` for `minutes`, in time order, ~6 per second; the
/// segment of a user changes now and then (the latest one counts).
fn events(rng: &mut Lcg, phase: &str, from_ms: i64, minutes: i64) -> Vec<Event> {
    let mut out = Vec::new();
    let mut ts = from_ms;
    let end = from_ms + minutes * 60_000;
    let mut n = 0;
    while ts < end {
        let user = rng.next(USERS as u64);
        out.push(Event {
            id: format!("{phase}-{n:05}"),
            user: format!("user_{user}"),
            segment: SEGMENTS[((user + rng.next(8) / 7) % 3) as usize],
            ts_ms: ts,
            quantity: 1 + rng.next(4) as u32,
            final_cents: 100 + rng.next(9_000_000) as i64,
            // 0.000–0.150: every discount category, the bounds included.
            discount_millis: [0, 50, 51, 100, 101, 150][rng.next(6) as usize],
        });
        n += 1;
        ts += 50 + rng.next(300) as i64;
    }
    out
}

/// One event per input partition at `ts_ms` (a user of its own), so the
/// watermark passes every window before it.
fn closers(name: &str, ts_ms: i64) -> Vec<(i32, String)> {
    (0..3)
        .map(|p| {
            let e = Event {
                id: format!("{name}-{p}"),
                user: format!("{name}-{p}"),
                segment: "new",
                ts_ms,
                quantity: 1,
                final_cents: 100,
                discount_millis: 0,
            };
            (p, e.json())
        })
        .collect()
}

/// Round-robin over the 3 input partitions, in time order per partition.
fn records(events: &[Event]) -> Vec<(i32, String)> {
    events
        .iter()
        .enumerate()
        .map(|(i, e)| ((i % 3) as i32, e.json()))
        .collect()
}

/// What a user's `clv:` key must hold, recomputed from the events.
#[derive(Debug)]
struct Expected {
    orders: u64,
    monetary: f64,
    first_ms: i64,
    last: Event,
    as_of_ms: i64,
}

fn expected(events: &[Event]) -> BTreeMap<String, Expected> {
    let mut users: BTreeMap<String, Expected> = BTreeMap::new();
    for e in events {
        let u = users.entry(e.user.clone()).or_insert_with(|| Expected {
            orders: 0,
            monetary: 0.0,
            first_ms: i64::MAX,
            last: e.clone(),
            as_of_ms: 0,
        });
        u.orders += 1;
        u.monetary += e.final_cents as f64;
        u.first_ms = u.first_ms.min(e.ts_ms);
        if (e.ts_ms, &e.id) > (u.last.ts_ms, &u.last.id) {
            u.last = e.clone();
        }
    }
    for u in users.values_mut() {
        u.monetary /= 100.0;
        // The end of the 1-minute user window of the latest purchase.
        u.as_of_ms = u.last.ts_ms.div_euclid(60_000) * 60_000 + 60_000;
    }
    users
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// docs/serving.md: λ = n / (T + 90), CLV = aov · λ · 365 · e^(−λR),
/// confidence n / (n + 3).
fn rfm(u: &Expected) -> (f64, f64) {
    let n = u.orders as f64;
    let day = 86_400_000.0;
    let tenure = (u.as_of_ms - u.first_ms) as f64 / day;
    let recency = (u.as_of_ms - u.last.ts_ms) as f64 / day;
    let rate = n / (tenure + 90.0);
    let clv = u.monetary / n * rate * 365.0 * (-rate * recency).exp();
    (round(clv, 2), round(n / (n + 3.0), 4))
}

/// The original: premium × 10, regular × 5, otherwise × 3; 0.85.
fn original_rules(u: &Expected) -> (f64, f64) {
    let factor = match u.last.segment {
        "premium" => 10.0,
        "regular" => 5.0,
        _ => 3.0,
    };
    (round(u.last.final_cents as f64 / 100.0 * factor, 2), 0.85)
}

fn rfc3339(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).unwrap()
}

fn check_value(user: &str, u: &Expected, value: &Value, model: &str) -> Result<(), String> {
    let (clv, confidence) = match model {
        "rfm" => rfm(u),
        _ => original_rules(u),
    };
    let number = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let time = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    let last = rfc3339(u.last.ts_ms);
    let features = &value["features"];
    let history = &value["history"];
    let price = u.last.final_cents as f64 / 100.0 / f64::from(u.last.quantity);
    let category = match u.last.discount_millis {
        d if d > 100 => "high",
        d if d > 50 => "medium",
        _ => "low",
    };
    let checks: [(&str, bool); 14] = [
        ("model", value["model"] == model),
        ("user_id", value["user_id"] == user),
        (
            "predicted_clv",
            (number(&value["predicted_clv"]) - clv).abs() < 0.011,
        ),
        (
            "confidence",
            (number(&value["confidence"]) - confidence).abs() < 1e-9,
        ),
        ("timestamp", time(&value["timestamp"]) == Some(last)),
        ("orders", history["orders"].as_u64() == Some(u.orders)),
        (
            "monetary",
            (number(&history["monetary"]) - u.monetary).abs() < 1e-6,
        ),
        (
            "first_purchase",
            time(&history["first_purchase"]) == Some(rfc3339(u.first_ms)),
        ),
        (
            "as_of",
            time(&history["as_of"]) == Some(rfc3339(u.as_of_ms)),
        ),
        (
            "hour",
            features["hour"].as_u64() == Some(u64::from(last.hour())),
        ),
        (
            "day_of_week",
            features["day_of_week"].as_u64()
                == Some(u64::from(last.weekday().number_from_sunday())),
        ),
        (
            "is_weekend",
            features["is_weekend"].as_u64()
                == Some(u64::from(matches!(
                    last.weekday(),
                    chrono::Weekday::Sat | chrono::Weekday::Sun
                ))),
        ),
        (
            "price_per_quantity",
            (number(&features["price_per_quantity"]) - round(price, 2)).abs() < 1e-9,
        ),
        (
            "discount_category",
            features["discount_category"] == category,
        ),
    ];
    let wrong: Vec<&str> = checks.iter().filter(|c| !c.1).map(|c| c.0).collect();
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{user}: {wrong:?} differ; expected clv {clv} confidence {confidence} from {u:?}, got {value}"
        ))
    }
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap()
}

struct Serving {
    child: tokio::process::Child,
    log: std::path::PathBuf,
    prefix: String,
}

/// `serving` on the processor's topics, with `model`.
fn spawn_serving(topics: &Topics, history: &str, model: &str) -> Serving {
    let pipeline = unique("clv");
    let log = std::env::temp_dir().join(format!("{pipeline}-{model}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = tokio::process::Command::new(integration_tests::binaries::path("serving"))
        .env_clear()
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap())
        .env("SERVING_GROUP_ID", format!("{pipeline}-serving"))
        .env("PROCESSOR_GROUP_ID", format!("{pipeline}-processor"))
        .env("PROCESSOR_INPUT_TOPIC", &topics.input)
        .env("PROCESSOR_SALES_TOPIC", &topics.outputs["sales"])
        .env("PROCESSOR_SEGMENTS_TOPIC", &topics.outputs["segments"])
        .env("PROCESSOR_HOURLY_TOPIC", &topics.outputs["hourly"])
        .env(
            "PROCESSOR_TOP_PRODUCTS_TOPIC",
            &topics.outputs["top_products"],
        )
        .env("PROCESSOR_ANOMALIES_TOPIC", &topics.outputs["anomalies"])
        .env("PROCESSOR_USER_HISTORY_TOPIC", history)
        .env("SERVING_CLV_MODEL", model)
        .env("SERVING_CLV_TTL_SECONDS", CLV_TTL.to_string())
        .env("SERVING_REDIS_ADDRESS", Instance::Open.addr())
        .env("SERVING_PIPELINE_NAMESPACE", "clv-e2e")
        .env("SERVING_PIPELINE_NAME", &pipeline)
        .env("SERVING_FLUSH_INTERVAL_MS", "50")
        .env("METRICS_ADDR", free_addr().to_string())
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    Serving {
        child,
        log,
        prefix: format!("shopstream:clv-e2e:{pipeline}:clv:"),
    }
}

/// Polls Redis until every expected user's key matches (or the deadline),
/// then checks there is no other key and every TTL is the configured one.
async fn assert_clv_keys(
    serving: &mut Serving,
    users: &BTreeMap<String, Expected>,
    model: &str,
    replicas: &[Replica],
) {
    let mut redis = redis_env::connect(Instance::Open).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let mut problems = Vec::new();
        for (user, u) in users {
            let raw: Option<String> = redis
                .get(format!("{}{user}", serving.prefix))
                .await
                .unwrap();
            match raw.map(|r| serde_json::from_str::<Value>(&r).unwrap()) {
                None => problems.push(format!("{user}: no key")),
                Some(value) => {
                    if let Err(e) = check_value(user, u, &value, model) {
                        problems.push(e);
                    }
                }
            }
        }
        if problems.is_empty() {
            break;
        }
        if let Ok(Some(status)) = serving.child.try_wait() {
            panic!(
                "serving exited ({status}):\n{}",
                std::fs::read_to_string(&serving.log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{model}: {} of {} users wrong, e.g.:\n{}\nprocessor logs:\n{}",
            problems.len(),
            users.len(),
            problems
                .iter()
                .take(3)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n"),
            pipeline::logs(replicas)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let keys: Vec<String> = redis.keys(format!("{}*", serving.prefix)).await.unwrap();
    let users_only: Vec<&String> = keys.iter().filter(|k| !k.contains(":clv:closer")).collect();
    assert_eq!(users_only.len(), users.len(), "{keys:?}");
    for key in &keys {
        let ttl: i64 = redis.ttl(key).await.unwrap();
        assert!(ttl > 0 && ttl <= CLV_TTL as i64, "{key}: TTL {ttl}");
    }
    let () = redis.del(keys).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clv_keys_equal_a_recomputation_across_a_processor_crash() {
    let input = create_topic("clv-input", 3, &[]).await;
    let topics = Topics::create(&input, "clv").await;
    let history = create_topic("clv-user-history", 2, &[("cleanup.policy", "compact")]).await;
    let group = unique("clv-processor");
    let env = [("PROCESSOR_USER_HISTORY_TOPIC", history.as_str())];
    let spawn =
        |replica: &str| pipeline::spawn_with(&topics, &group, replica, &Settings::DEFAULTS, &env);
    let mut replicas = vec![spawn("a"), spawn("b")];
    pipeline::wait_ready(&replicas, Duration::from_secs(60)).await;

    // First half: 10:00–10:05, then a closer at 10:07 on every partition.
    let mut rng = Lcg(14);
    let first = events(&mut rng, "one", T0_MS, 5);
    pipeline::produce(&input, &records(&first)).await;
    pipeline::produce(&input, &closers("closer-one", T0_MS + 7 * 60_000)).await;
    let first_users = expected(&first);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let written = read_topic(&history, first_users.len(), Duration::from_secs(60)).await;
        let wrong: Vec<String> = first_users
            .iter()
            .filter(|(user, u)| {
                written.get(*user).and_then(|r| r["orders"].as_u64()) != Some(u.orders)
            })
            .map(|(user, _)| user.clone())
            .collect();
        if wrong.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "first half: histories of {wrong:?} missing or wrong: {written:?}\n{}",
            pipeline::logs(&replicas)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    // A replica dies; the other takes its partitions over and replays from
    // the start of the still-open hour. Second half while it is down.
    let mut a = replicas.remove(0);
    a.child.kill().unwrap();
    let _ = a.child.wait();
    drop(a);
    let second = events(&mut rng, "two", T0_MS + 8 * 60_000, 5);
    pipeline::produce(&input, &records(&second)).await;
    // It comes back (same replica id) and the group rebalances again.
    replicas.push(spawn("a"));
    pipeline::wait_ready(&replicas, Duration::from_secs(60)).await;
    pipeline::produce(&input, &closers("closer-two", T0_MS + 20 * 60_000)).await;

    let all: Vec<Event> = first.iter().chain(&second).cloned().collect();
    let users = expected(&all);
    for model in ["rfm", "original-rules"] {
        let mut serving = spawn_serving(&topics, &history, model);
        assert_clv_keys(&mut serving, &users, model, &replicas).await;
    }
    for r in &mut replicas {
        assert!(r.alive(), "{}", r.log_text());
    }
}
