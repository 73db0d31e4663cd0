//! Running `processor` replicas against the local broker and reading their
//! outputs back: shared by the end-to-end tests.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use serde_json::Value;

use super::{bootstrap, create_topics, unique};

/// The windowed outputs and anomalies, in the order results are compared.
pub const OUTPUTS: [&str; 5] = ["sales", "segments", "anomalies", "hourly", "top_products"];

/// Window sizes, lateness and threshold a deployment runs with (and the
/// recomputation uses).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub sales_s: i64,
    pub segment_s: i64,
    pub hourly_s: i64,
    pub lateness_s: i64,
    pub threshold: f64,
}

impl Settings {
    /// The processor's defaults.
    pub const DEFAULTS: Settings = Settings {
        sales_s: 60,
        segment_s: 120,
        hourly_s: 3600,
        lateness_s: 10,
        threshold: 50_000.0,
    };
}

/// Topic names of one processor deployment.
#[derive(Clone)]
pub struct Topics {
    pub input: String,
    pub partials: String,
    pub outputs: BTreeMap<&'static str, String>,
    pub dead_letter: String,
}

impl Topics {
    /// Partials topic of 3 partitions, outputs of 2, dead letters of 1.
    pub async fn create(input: &str, prefix: &str) -> Topics {
        Topics::create_with(input, prefix, 3).await
    }

    pub async fn create_with(input: &str, prefix: &str, partials_partitions: i32) -> Topics {
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
        let mut names: Vec<(&str, i32)> =
            vec![(&t.partials, partials_partitions), (&t.dead_letter, 1)];
        names.extend(t.outputs.values().map(|n| (n.as_str(), 2)));
        create_topics(&names).await;
        t
    }
}

/// A running replica (killed on drop).
pub struct Replica {
    pub child: Child,
    pub metrics: SocketAddr,
    pub log: PathBuf,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Replica {
    /// Still running (not exited).
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Sum of the samples of a metric (line prefix) on its /metrics.
    pub fn metric(&self, prefix: &str) -> f64 {
        metric_sum(&scrape(self.metrics, "/metrics"), prefix)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr")
}

pub fn spawn(topics: &Topics, group: &str, replica: &str, settings: &Settings) -> Replica {
    spawn_with(topics, group, replica, settings, &[])
}

/// A replica with `settings` and `env` on top.
pub fn spawn_with(
    topics: &Topics,
    group: &str,
    replica: &str,
    settings: &Settings,
    env: &[(&str, &str)],
) -> Replica {
    let metrics = free_addr();
    let log = std::env::temp_dir().join(format!("{group}-{replica}-{}.log", unique("r")));
    let file = std::fs::File::create(&log).expect("log file");
    // SHOPSTREAM_PROCESSOR_BIN runs the scenarios against another build
    // (e.g. to see a test fail without the change it covers).
    let binary = std::env::var("SHOPSTREAM_PROCESSOR_BIN").unwrap_or_else(|_| {
        integration_tests::binaries::path("processor")
            .display()
            .to_string()
    });
    let mut cmd = Command::new(binary);
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
        .env(
            "PROCESSOR_SALES_WINDOW_SECONDS",
            settings.sales_s.to_string(),
        )
        .env(
            "PROCESSOR_SEGMENT_WINDOW_SECONDS",
            settings.segment_s.to_string(),
        )
        .env(
            "PROCESSOR_HOURLY_WINDOW_SECONDS",
            settings.hourly_s.to_string(),
        )
        .env(
            "PROCESSOR_ALLOWED_LATENESS_SECONDS",
            settings.lateness_s.to_string(),
        )
        .env(
            "PROCESSOR_ANOMALY_THRESHOLD",
            settings.threshold.to_string(),
        )
        .env("PROCESSOR_FLUSH_INTERVAL_MS", "200")
        .env("METRICS_ADDR", metrics.to_string())
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(file.try_clone().expect("log file handle"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("starting the processor binary");
    Replica {
        child,
        metrics,
        log,
    }
}

/// Waits until every replica answers `/readyz` with 200 (stage 1 joined
/// its group and got its assignment).
pub async fn wait_ready(replicas: &[Replica], within: Duration) {
    let deadline = Instant::now() + within;
    while !replicas
        .iter()
        .all(|r| scrape(r.metrics, "/readyz").contains("200 OK"))
    {
        assert!(
            Instant::now() < deadline,
            "replicas not ready within {within:?}\n{}",
            logs(replicas)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `check` every 100 ms until it holds; panics with `what` (and the
/// replicas' logs) after `timeout`.
pub async fn wait_until(
    what: &str,
    timeout: Duration,
    replicas: &[Replica],
    mut check: impl FnMut() -> bool,
) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {timeout:?}\n{}",
            logs(replicas)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// SIGKILLs `victim` once its transaction gauge has shown an open
/// transaction for ~20 ms (so its first records have reached the broker),
/// or after 5 s; true if it was killed inside one.
pub async fn kill_mid_transaction(victim: &mut Replica) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut open = false;
    let open_now = |r: &Replica| r.metric("shopstream_processor_transaction_open") == 1.0;
    while Instant::now() < deadline {
        if open_now(victim) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if open_now(victim) {
                open = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    victim.child.kill().expect("SIGKILL");
    let _ = victim.child.wait();
    open
}

pub fn sigterm(replica: &mut Replica) {
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

pub fn scrape(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = write!(s, "GET {path} HTTP/1.0\r\nHost: x\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    body
}

/// Sum of a metric's samples whose line starts with `prefix`.
pub fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Produces `(partition, value)` records, keyless, and waits for every
/// acknowledgement.
pub async fn produce(topic: &str, records: &[(i32, String)]) {
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

/// Every record of `topic` from the start (`read_committed`), as (key,
/// value), until `settle` passed without a record after at least `want`
/// records (distinct keys if `distinct`) arrived, or until `deadline`.
async fn read(
    topic: &str,
    want: usize,
    deadline: Duration,
    distinct: bool,
) -> Vec<(String, Value)> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("e2e-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut out = Vec::new();
    let mut keys = std::collections::BTreeSet::new();
    let mut stream = consumer.stream();
    let end = tokio::time::Instant::now() + deadline;
    let settle = Duration::from_millis(1500);
    loop {
        let seen = if distinct { keys.len() } else { out.len() };
        let wait = if seen >= want {
            settle
        } else {
            end.saturating_duration_since(tokio::time::Instant::now())
        };
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(Some(Ok(m))) => {
                let key = String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned();
                let value: Value =
                    serde_json::from_slice(m.payload().unwrap_or_default()).expect("output JSON");
                keys.insert(key.clone());
                out.push((key, value));
            }
            Ok(Some(Err(e))) => panic!("reading {topic}: {e}"),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

/// Every record of `topic`, in the order read.
pub async fn read_records(topic: &str, want: usize, deadline: Duration) -> Vec<(String, Value)> {
    read(topic, want, deadline, false).await
}

/// `topic` deduplicated by key, last value wins (window results are
/// idempotent per key: a re-emission after a restart is identical).
pub async fn read_topic(topic: &str, want: usize, deadline: Duration) -> BTreeMap<String, Value> {
    read(topic, want, deadline, true)
        .await
        .into_iter()
        .collect()
}

/// The windowed outputs (deduplicated by key) and the anomalies (every
/// record: anomalies are written exactly once, in stage 1's transactions,
/// and event ids may repeat), as JSON values by key.
#[derive(Debug, PartialEq)]
pub struct Results {
    pub windowed: BTreeMap<String, BTreeMap<String, Value>>,
    /// Sorted by their JSON text.
    pub anomalies: Vec<Value>,
}

pub async fn read_results(topics: &Topics, want: &Results, deadline: Duration) -> Results {
    let mut windowed = BTreeMap::new();
    for output in OUTPUTS.into_iter().filter(|o| *o != "anomalies") {
        let n = want.windowed.get(output).map_or(0, BTreeMap::len);
        windowed.insert(
            output.to_owned(),
            read_topic(&topics.outputs[output], n, deadline).await,
        );
    }
    let anomalies =
        read_records(&topics.outputs["anomalies"], want.anomalies.len(), deadline).await;
    let mut anomalies: Vec<Value> = anomalies.into_iter().map(|(_, v)| v).collect();
    anomalies.sort_by_cached_key(Value::to_string);
    Results {
        windowed,
        anomalies,
    }
}

pub fn logs(replicas: &[Replica]) -> String {
    replicas
        .iter()
        .map(|r| std::fs::read_to_string(&r.log).unwrap_or_default())
        .map(|l| l.lines().rev().take(40).collect::<Vec<_>>().join("\n"))
        .collect::<Vec<_>>()
        .join("\n-----\n")
}

/// Produces raw byte values.
pub async fn produce_bytes(topic: &str, records: &[(i32, Vec<u8>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("enable.idempotence", "true")
        .create()
        .expect("producer");
    for (p, v) in records {
        producer
            .send(
                FutureRecord::<(), _>::to(topic).partition(*p).payload(v),
                Duration::from_secs(30),
            )
            .await
            .unwrap_or_else(|(e, _)| panic!("producing test input failed: {e}"));
    }
}

/// Committed (offset, metadata) of `group` on every partition of `topic`.
pub fn committed(group: &str, topic: &str, partitions: i32) -> Vec<(i32, Option<i64>, String)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer
        .committed_offsets(tpl, Duration::from_secs(10))
        .expect("committed offsets");
    committed
        .elements()
        .iter()
        .map(|e| {
            let offset = match e.offset() {
                Offset::Offset(o) => Some(o),
                _ => None,
            };
            (e.partition(), offset, e.metadata().to_owned())
        })
        .collect()
}
