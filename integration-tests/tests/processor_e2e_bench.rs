//! End-to-end benchmark of `processor` through the real local broker, with the
//! real `generator` binary as the source: targets (b) events/s end to end,
//! (c) processor RSS, (d) event-to-result latency beyond window end +
//! allowed lateness (issue 4). Ignored by default; run one at a time on a
//! quiet machine:
//!
//! ```text
//! eval "$(hack/env.sh)"
//! cargo test --release -p integration-tests --test processor_e2e_bench -- --ignored --nocapture --test-threads 1 backlog
//! cargo test --release -p integration-tests --test processor_e2e_bench -- --ignored --nocapture --test-threads 1 steady
//! ```
//!
//! * `backlog`: the generator pre-loads BENCH_EVENTS (default 5,000,000)
//!   events with simulated event time (1 ms apart from 2026-01-01T00:00:00Z)
//!   plus 1,000 "closing" events one day later (they move every input
//!   partition's watermark past every pre-loaded window). Then the processor
//!   starts; the run ends when it has consumed everything and its published
//!   watermark (set only after every emitted result was acknowledged) passed
//!   the closing time − lateness, i.e. every pre-loaded window is final.
//!   With BENCH_INPUT_TOPIC set, `backlog` drains that topic instead, which
//!   the `preload` test created and loaded the same way (BENCH_EVENTS,
//!   BENCH_PARTITIONS) and which may have been read by others since: the
//!   comparison with Spark (`hack/bench/spark-vs-processor.sh`, `make
//!   bench-spark`) loads one topic, runs Spark's job on it, then this.
//! * `steady`: the processor runs first, then the generator writes
//!   BENCH_RATE events/s (default 200,000) stamped with the wall clock for
//!   BENCH_SECONDS (default 180). Every second the processor's consumed
//!   counter is compared with the generator's; a live consumer of the
//!   windowed outputs measures, per result record, arrival time −
//!   (window_end + allowed lateness).
//!
//! Both check correctness afterwards: the whole input topic is re-read and
//! recomputed here (order counts, cent totals, distinct users, anomalies) and
//! compared with every final window of the outputs (last value per key).
//! Both sample the processor's VmRSS every 250 ms and report its VmHWM, and
//! the CPU seconds of processor, generator and broker from /proc.
//! Window sizes, lateness, flush interval etc. are the processor's defaults
//! unless the PROCESSOR_* variables are set (they are inherited).

#[path = "processor_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::{bootstrap, create_topics, unique};

use futures::StreamExt;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, StreamConsumer};
use rdkafka::message::Message;
use serde::Deserialize;
use serde_json::Value;

/// (output, window end ms, ms from window end + lateness to arrival at the reader, ms from window end + lateness to the record's producer timestamp)
type WindowDelay = (&'static str, i64, i64, i64);

const WINDOWED: [&str; 4] = ["sales", "segments", "hourly", "top_products"];
const T0: &str = "2026-01-01T00:00:00Z";
const CLOSING: &str = "2026-01-02T00:00:00Z";
const CLOSING_EVENTS: u64 = 1_000;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

fn parse_ms(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad time {s}: {e}"))
        .timestamp_millis()
}

/// Window sizes etc., as the processor will see them.
#[derive(Clone, Copy, Debug)]
struct Config {
    sales_ms: i64,
    segments_ms: i64,
    hourly_ms: i64,
    lateness_ms: i64,
    threshold: f64,
}

impl Config {
    fn from_env() -> Config {
        let s = |n, d| env_u64(n, d) as i64 * 1000;
        Config {
            sales_ms: s("PROCESSOR_SALES_WINDOW_SECONDS", 60),
            segments_ms: s("PROCESSOR_SEGMENT_WINDOW_SECONDS", 120),
            hourly_ms: s("PROCESSOR_HOURLY_WINDOW_SECONDS", 3600),
            lateness_ms: s("PROCESSOR_ALLOWED_LATENESS_SECONDS", 10),
            threshold: std::env::var("PROCESSOR_ANOMALY_THRESHOLD")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(50_000.0),
        }
    }
}

// ------------------------------------------------------------------ topics

struct Topics {
    /// Fresh, or the pre-loaded BENCH_INPUT_TOPIC.
    input: String,
    partials: String,
    dead_letter: String,
    anomalies: String,
    outputs: BTreeMap<&'static str, String>,
}

impl Topics {
    async fn create() -> Topics {
        let prefix = unique("bench-e2e");
        let preloaded = preloaded_input();
        let t = Topics {
            input: preloaded
                .clone()
                .unwrap_or_else(|| format!("{prefix}-input")),
            partials: format!("{prefix}-partials"),
            dead_letter: format!("{prefix}-dlq"),
            anomalies: format!("{prefix}-anomalies"),
            outputs: WINDOWED
                .iter()
                .map(|o| (*o, format!("{prefix}-{o}")))
                .collect(),
        };
        let input_partitions = env_u64("BENCH_PARTITIONS", 6) as i32;
        let partials_partitions = env_u64("BENCH_PARTIALS_PARTITIONS", 6) as i32;
        let mut names: Vec<(&str, i32)> = vec![
            (&t.partials, partials_partitions),
            (&t.dead_letter, 1),
            (&t.anomalies, 1),
        ];
        if preloaded.is_none() {
            names.push((&t.input, input_partitions));
        }
        names.extend(t.outputs.values().map(|n| (n.as_str(), 1)));
        create_topics(&names).await;
        match preloaded {
            Some(input) => println!(
                "topics: input {input} (pre-loaded), {prefix}-* (partials {partials_partitions} partitions)"
            ),
            None => println!(
                "topics: {prefix}-* (input {input_partitions} partitions, partials {partials_partitions})"
            ),
        }
        t
    }
}

/// The pre-loaded input topic named by BENCH_INPUT_TOPIC, if any.
fn preloaded_input() -> Option<String> {
    std::env::var("BENCH_INPUT_TOPIC")
        .ok()
        .filter(|t| !t.is_empty())
}

/// Records in a topic: the sum of its partitions' end offsets minus their
/// start offsets (the generator's producer is not transactional, so every
/// offset is a record).
fn topic_records(topic: &str) -> u64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("consumer");
    let timeout = Duration::from_secs(10);
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .unwrap_or_else(|e| panic!("metadata of {topic}: {e}"));
    let partitions = metadata
        .topics()
        .first()
        .map(|t| t.partitions().len())
        .unwrap_or_default();
    assert!(partitions > 0, "topic {topic} does not exist");
    (0..partitions as i32)
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, timeout)
                .unwrap_or_else(|e| panic!("offsets of {topic}/{p}: {e}"));
            (high - low) as u64
        })
        .sum()
}

// --------------------------------------------------------------- processes

struct Proc {
    child: Child,
    metrics: SocketAddr,
    log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// The measured process: the child, or under `BENCH_PROCESSOR_WRAPPER`
    /// (e.g. `heaptrack -o /tmp/heap`, whose script runs the program as one
    /// of its children, next to its own helper) the wrapper's child that
    /// runs the processor binary.
    fn pid(&self) -> u32 {
        let own = self.child.id();
        if std::env::var_os("BENCH_PROCESSOR_WRAPPER").is_none() {
            return own;
        }
        let binary = integration_tests::binaries::path("processor");
        let children = format!("/proc/{own}/task/{own}/children");
        std::fs::read_to_string(children)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|pid| pid.parse::<u32>().ok())
            .find(|pid| {
                std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == binary)
            })
            .unwrap_or(own)
    }

    fn sigterm_and_wait(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn scrape(&self) -> String {
        let Ok(mut s) = TcpStream::connect(self.metrics) else {
            return String::new();
        };
        let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n");
        let mut body = String::new();
        let _ = s.read_to_string(&mut body);
        body
    }
}

fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn log_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("{}.log", unique(name)))
}

fn spawn_processor(t: &Topics) -> Proc {
    let metrics = free_addr();
    let log = log_path("bench-processor");
    let file = std::fs::File::create(&log).expect("log");
    let wrapper = std::env::var("BENCH_PROCESSOR_WRAPPER").unwrap_or_default();
    let mut words = wrapper.split_whitespace();
    let mut command = match words.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(words)
                .arg(integration_tests::binaries::path("processor"));
            c
        }
        None => Command::new(integration_tests::binaries::path("processor")),
    };
    let child = command
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap())
        .env("PROCESSOR_GROUP_ID", unique("bench-group"))
        .env("PROCESSOR_REPLICA_ID", "0")
        .env("PROCESSOR_INPUT_TOPIC", &t.input)
        .env("PROCESSOR_PARTIALS_TOPIC", &t.partials)
        .env("PROCESSOR_DEAD_LETTER_TOPIC", &t.dead_letter)
        .env("PROCESSOR_ANOMALIES_TOPIC", &t.anomalies)
        .env("PROCESSOR_SALES_TOPIC", &t.outputs["sales"])
        .env("PROCESSOR_SEGMENTS_TOPIC", &t.outputs["segments"])
        .env("PROCESSOR_HOURLY_TOPIC", &t.outputs["hourly"])
        .env("PROCESSOR_TOP_PRODUCTS_TOPIC", &t.outputs["top_products"])
        .env("METRICS_ADDR", metrics.to_string())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("processor binary");
    println!("processor pid {} log {}", child.id(), log.display());
    Proc {
        child,
        metrics,
        log,
    }
}

fn spawn_generator(topic: &str, args: &[&str]) -> Proc {
    let metrics = free_addr();
    let log = log_path("bench-generator");
    let file = std::fs::File::create(&log).expect("log");
    let child = Command::new(integration_tests::binaries::path("generator"))
        .env_remove("METRICS_ADDR")
        .arg("--bootstrap-servers")
        .arg(bootstrap())
        .arg("--topic")
        .arg(topic)
        .arg("--metrics-addr")
        .arg(metrics.to_string())
        .args(args)
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("generator binary");
    Proc {
        child,
        metrics,
        log,
    }
}

fn run_generator(topic: &str, args: &[&str]) {
    let mut g = spawn_generator(topic, args);
    let status = g.child.wait().expect("generator");
    let log = std::fs::read_to_string(&g.log).unwrap_or_default();
    assert!(status.success(), "generator failed:\n{log}");
    if let Some(last) = log.lines().rev().find(|l| l.contains("events")) {
        println!("generator {args:?}: {last}");
    }
}

/// Sum of a metric's samples whose line starts with `prefix`.
fn metric(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Upper bucket bound holding quantile `q` of a Prometheus histogram, over
/// the series whose `output` label is one of `outputs` (buckets summed).
fn histogram_quantile(text: &str, name: &str, outputs: &[&str], q: f64) -> Option<String> {
    let mut buckets: Vec<(String, f64)> = Vec::new();
    for l in text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket")))
    {
        let output = l.split("output=\"").nth(1)?.split('"').next()?;
        if !outputs.contains(&output) {
            continue;
        }
        let le = l.split("le=\"").nth(1)?.split('"').next()?.to_owned();
        let n: f64 = l.rsplit(' ').next()?.parse().ok()?;
        match buckets.iter_mut().find(|(b, _)| *b == le) {
            Some(b) => b.1 += n,
            None => buckets.push((le, n)),
        }
    }
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    buckets
        .into_iter()
        .find(|(_, n)| *n >= q * total)
        .map(|(le, _)| format!("<= {le} s (of {total} observations)"))
}

// ------------------------------------------------------------------- /proc

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime in seconds (USER_HZ = 100).
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// The Kafka broker's JVM, for its CPU time. With SHOPSTREAM_RUN_DIR set
/// (several local environments on one machine), the one started from that
/// run directory (its config file lives there).
fn broker_pid() -> Option<u32> {
    let run_dir = std::env::var("SHOPSTREAM_RUN_DIR").unwrap_or_default();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmd = String::from_utf8_lossy(&cmd);
        (cmd.contains("java") && cmd.contains("kafka.Kafka") && cmd.contains(&run_dir))
            .then_some(pid)
    })
}

/// (busy, total) jiffies of the whole machine.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// CPU seconds per thread name (summed over threads of the same name).
fn thread_cpu(pid: u32) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/comm"))
            .unwrap_or_default()
            .trim()
            .to_owned();
        let stat =
            std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap_or_default();
        let Some(rest) = stat.rsplit(')').next() else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        *out.entry(comm).or_default() += (ticks(11) + ticks(12)) as f64 / 100.0;
    }
    out
}

struct CpuMeter {
    threads: BTreeMap<String, f64>,
    pids: Vec<(&'static str, u32)>,
    start: Vec<f64>,
    machine: (u64, u64),
    t: Instant,
}

impl CpuMeter {
    fn start(pids: Vec<(&'static str, u32)>) -> CpuMeter {
        let start = pids.iter().map(|(_, p)| cpu_s(*p)).collect();
        CpuMeter {
            threads: thread_cpu(pids[0].1),
            pids,
            start,
            machine: machine_jiffies(),
            t: Instant::now(),
        }
    }

    fn report(&self) {
        let wall = self.t.elapsed().as_secs_f64();
        let (b, t) = machine_jiffies();
        let busy = (b - self.machine.0) as f64 / (t - self.machine.1).max(1) as f64;
        print!(
            "CPU over {wall:.1} s wall: machine {:.0} % busy (of 2 cores)",
            busy * 100.0
        );
        for ((name, pid), s) in self.pids.iter().zip(&self.start) {
            let used = cpu_s(*pid) - s;
            print!("; {name} {used:.1} s = {:.2} cores", used / wall);
        }
        println!("; load {}", loadavg());
        let mut threads: Vec<(String, f64)> = thread_cpu(self.pids[0].1)
            .into_iter()
            .map(|(k, v)| {
                let before = self.threads.get(&k).copied().unwrap_or(0.0);
                (k, v - before)
            })
            .filter(|(_, v)| *v > 0.0)
            .collect();
        threads.sort_by(|a, b| b.1.total_cmp(&a.1));
        let list: Vec<String> = threads
            .iter()
            .map(|(k, v)| format!("{k} {v:.1} s"))
            .collect();
        println!("  {} threads (CPU s): {}", self.pids[0].0, list.join(", "));
    }
}

// ------------------------------------------------------------- recompute

#[derive(Deserialize)]
struct Ev<'a> {
    timestamp: &'a str,
    event_id: &'a str,
    user_id: &'a str,
    user_segment: &'a str,
    product_id: &'a str,
    category: &'a str,
    region: &'a str,
    quantity: u64,
    final_amount: f64,
}

fn cents(x: f64) -> i64 {
    (x * 100.0).round() as i64
}

fn h(s: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    s.hash(&mut hasher);
    hasher.finish()
}

/// (events, cents, quantity, distinct users) of one window and group.
#[derive(Default)]
struct Sums {
    n: u64,
    cents: i64,
    qty: u64,
    users: HashSet<u64>,
}

/// Output → (window start ms, group) → sums; plus anomaly event ids.
#[derive(Default)]
struct Expected {
    windows: HashMap<&'static str, HashMap<(i64, String), Sums>>,
    anomalies: HashSet<String>,
    events: u64,
    invalid: u64,
}

fn start(t: i64, size: i64) -> i64 {
    t - t.rem_euclid(size)
}

impl Expected {
    fn add(&mut self, c: &Config, payload: &[u8]) {
        let Ok(e) = serde_json::from_slice::<Ev>(payload) else {
            self.invalid += 1;
            return;
        };
        self.events += 1;
        let t = parse_ms(e.timestamp);
        if e.final_amount > c.threshold {
            self.anomalies.insert(e.event_id.to_owned());
        }
        let mut fold = |out: &'static str, size: i64, group: String, distinct: bool| {
            let s = self
                .windows
                .entry(out)
                .or_default()
                .entry((start(t, size), group))
                .or_default();
            s.n += 1;
            s.cents += cents(e.final_amount);
            s.qty += e.quantity;
            if distinct {
                s.users.insert(h(e.user_id));
            }
        };
        fold(
            "sales",
            c.sales_ms,
            format!("{}|{}", e.category, e.region),
            true,
        );
        fold("segments", c.segments_ms, e.user_segment.to_owned(), false);
        fold("hourly", c.hourly_ms, e.category.to_owned(), true);
        fold("top_products", c.hourly_ms, e.product_id.to_owned(), false);
    }
}

/// Reads a whole topic (`want` records) with one consumer.
async fn read_all(topic: &str, want: u64, mut f: impl FnMut(&[u8], &[u8])) -> u64 {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("bench-reader"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut stream = consumer.stream();
    let mut n = 0;
    let idle = if want == u64::MAX { 3 } else { 30 };
    while n < want {
        match tokio::time::timeout(Duration::from_secs(idle), stream.next()).await {
            Ok(Some(Ok(m))) => {
                n += 1;
                f(m.key().unwrap_or_default(), m.payload().unwrap_or_default());
            }
            Ok(Some(Err(e))) => panic!("reading {topic}: {e}"),
            Ok(None) | Err(_) => break,
        }
    }
    n
}

/// Compares every final window (end <= `watermark`) of the outputs with the
/// recompute of the whole input topic; panics on a difference.
async fn check(t: &Topics, c: &Config, input_records: u64, watermark: i64) {
    let started = Instant::now();
    let mut exp = Expected::default();
    let n = read_all(&t.input, input_records, |_, v| exp.add(c, v)).await;
    assert_eq!(n, input_records, "input records read back");
    let mut problems = Vec::new();
    let mut total_final_events = BTreeMap::new();
    for out in WINDOWED {
        let size = match out {
            "sales" => c.sales_ms,
            "segments" => c.segments_ms,
            _ => c.hourly_ms,
        };
        let mut got: HashMap<String, Value> = HashMap::new();
        read_all(&t.outputs[out], u64::MAX, |k, v| {
            got.insert(
                String::from_utf8_lossy(k).into_owned(),
                serde_json::from_slice(v).expect("output JSON"),
            );
        })
        .await;
        let want = exp.windows.remove(out).unwrap_or_default();
        let mut matched = 0u64;
        let mut final_events = 0u64;
        let mut seen = HashSet::new();
        for v in got.values() {
            let ws = parse_ms(v["window_start"].as_str().expect("window_start"));
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            let group = match out {
                "sales" => format!("{}|{}", s("category"), s("region")),
                "segments" => s("user_segment"),
                "hourly" => s("category"),
                _ => s("product_id"),
            };
            let (n_field, cents_field) = match out {
                "segments" => ("orders", "revenue"),
                "top_products" => ("order_count", "total_revenue"),
                _ => ("order_count", "total_sales"),
            };
            let Some(w) = want.get(&(ws, group.clone())) else {
                problems.push(format!("{out}: unexpected result {v}"));
                continue;
            };
            seen.insert((ws, group.clone()));
            let mut ok = v[n_field].as_u64() == Some(w.n)
                && v[cents_field].as_f64().map(cents) == Some(w.cents);
            if matches!(out, "sales" | "hourly") {
                ok &= v["unique_customers"].as_u64() == Some(w.users.len() as u64);
            }
            if out == "segments" {
                ok &= v["total_items"].as_u64() == Some(w.qty);
            }
            if out == "top_products" {
                ok &= v["total_quantity"].as_u64() == Some(w.qty);
            }
            if ok {
                matched += 1;
            } else if problems.len() < 20 {
                problems.push(format!(
                    "{out} {ws}|{group}: got {v}, want n={} cents={} qty={} users={}",
                    w.n,
                    w.cents,
                    w.qty,
                    w.users.len()
                ));
            }
            final_events += v[n_field].as_u64().unwrap_or(0);
        }
        let mut missing = 0;
        for ((ws, group), w) in &want {
            if ws + size <= watermark && !seen.contains(&(*ws, group.clone())) {
                missing += 1;
                if problems.len() < 20 {
                    problems.push(format!(
                        "{out}: missing final window {ws}|{group} ({} events)",
                        w.n
                    ));
                }
            }
        }
        let open: u64 = want
            .iter()
            .filter(|(k, _)| !seen.contains(*k))
            .map(|(_, w)| w.n)
            .sum();
        println!(
            "check {out}: {} final results, {matched} equal to the recompute, {missing} missing; \
             {final_events} events in final windows + {open} in still-open ones",
            got.len()
        );
        total_final_events.insert(out, final_events + open);
    }
    let mut anomalies = HashSet::new();
    read_all(&t.anomalies, u64::MAX, |k, _| {
        anomalies.insert(String::from_utf8_lossy(k).into_owned());
    })
    .await;
    println!(
        "check anomalies: {} emitted, {} expected; valid input events {}, invalid {} ({:.1} s)",
        anomalies.len(),
        exp.anomalies.len(),
        exp.events,
        exp.invalid,
        started.elapsed().as_secs_f64()
    );
    if anomalies != exp.anomalies {
        problems.push(format!(
            "anomalies differ: {} emitted, {} expected",
            anomalies.len(),
            exp.anomalies.len()
        ));
    }
    for (out, n) in total_final_events {
        if n != exp.events {
            problems.push(format!(
                "{out}: final+open windows hold {n} events, input has {}",
                exp.events
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "results differ:\n{}",
        problems.join("\n")
    );
    println!("CORRECT: every final window equals the recompute of the input");
}

// ------------------------------------------------------------------ tests

fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Writes the backlog: `n` events 1 ms apart from T0, then the closing
/// events; returns the number of records written.
fn load_backlog(topic: &str, n: u64) -> u64 {
    let pre = Instant::now();
    let count = n.to_string();
    run_generator(
        topic,
        &[
            "--unthrottled",
            "--count",
            &count,
            "--seed",
            "42",
            "--start-time",
            T0,
            "--time-step",
            "1ms",
        ],
    );
    let closing = CLOSING_EVENTS.to_string();
    run_generator(
        topic,
        &[
            "--unthrottled",
            "--count",
            &closing,
            "--seed",
            "43",
            "--start-time",
            CLOSING,
            "--time-step",
            "1ms",
        ],
    );
    let total = n + CLOSING_EVENTS;
    println!(
        "pre-loaded {total} events in {:.1} s; load {}",
        pre.elapsed().as_secs_f64(),
        loadavg()
    );
    total
}

/// Creates BENCH_INPUT_TOPIC (BENCH_PARTITIONS partitions) and loads the
/// backlog into it, for `backlog` and other engines to drain later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: needs the local broker"]
async fn preload() {
    let topic = preloaded_input().expect("BENCH_INPUT_TOPIC names the topic to create and load");
    let n = env_u64("BENCH_EVENTS", 5_000_000);
    let partitions = env_u64("BENCH_PARTITIONS", 6) as i32;
    create_topics(&[(&topic, partitions)]).await;
    let total = load_backlog(&topic, n);
    assert_eq!(topic_records(&topic), total, "records in {topic}");
    println!("PRELOADED topic={topic} partitions={partitions} records={total}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: needs the local broker and a quiet machine"]
async fn backlog() {
    let c = Config::from_env();
    let n = env_u64("BENCH_EVENTS", 5_000_000);
    let preloaded = preloaded_input();
    if let Some(input) = &preloaded {
        // Loaded by `preload` with the same BENCH_EVENTS: the closing time
        // and the recompute below rely on exactly that content.
        assert_eq!(
            topic_records(input),
            n + CLOSING_EVENTS,
            "{input} must hold BENCH_EVENTS + {CLOSING_EVENTS} records, as `preload` writes them"
        );
    }
    let t = Topics::create().await;
    let total = match preloaded {
        Some(_) => n + CLOSING_EVENTS,
        None => load_backlog(&t.input, n),
    };
    let final_wm = parse_ms(CLOSING) - c.lateness_ms;

    let mut p = spawn_processor(&t);
    let t_spawn = Instant::now();
    let mut cpu = vec![("processor", p.pid())];
    if let Some(b) = broker_pid() {
        cpu.push(("broker", b));
    }
    let meter = CpuMeter::start(cpu);
    let (mut t_first, mut t_consumed, mut t_final) = (None, None, None);
    let mut peak_rss = 0;
    let mut last_print = Instant::now();
    let mut text = String::new();
    while t_final.is_none() {
        assert!(
            t_spawn.elapsed() < Duration::from_secs(1200),
            "no end after 20 min:\n{}",
            std::fs::read_to_string(&p.log).unwrap_or_default()
        );
        assert!(
            p.child.try_wait().expect("wait").is_none(),
            "processor exited"
        );
        std::thread::sleep(Duration::from_millis(250));
        peak_rss = peak_rss.max(status_kb(p.pid(), "VmRSS:"));
        text = p.scrape();
        let consumed = metric(&text, "shopstream_processor_events_consumed_total") as u64;
        let wm = (metric(&text, "shopstream_processor_watermark_seconds") * 1000.0) as i64;
        let el = t_spawn.elapsed();
        if consumed > 0 && t_first.is_none() {
            t_first = Some(el);
        }
        if consumed >= total && t_consumed.is_none() {
            t_consumed = Some(el);
        }
        if consumed >= total && wm >= final_wm {
            t_final = Some(el);
        }
        if last_print.elapsed() >= Duration::from_secs(5) {
            last_print = Instant::now();
            println!(
                "  t={:>5.1}s consumed {consumed:>9} rss {:>6.1} MB open windows {} load {}",
                el.as_secs_f64(),
                mb(status_kb(p.pid(), "VmRSS:")),
                metric(&text, "shopstream_processor_open_windows"),
                loadavg()
            );
        }
    }
    meter.report();
    let cpu_total = cpu_s(p.pid());
    let hwm = status_kb(p.pid(), "VmHWM:");
    let (first, consumed_at, fin) = (
        t_first.unwrap().as_secs_f64(),
        t_consumed.unwrap().as_secs_f64(),
        t_final.unwrap().as_secs_f64(),
    );
    println!(
        "RESULT backlog: {total} events; first record consumed at {first:.1} s after spawn, \
         all consumed at {consumed_at:.1} s, all windows final+acknowledged at {fin:.1} s"
    );
    println!(
        "RESULT (b) {:.0} events/s from first record to final results ({:.0} from process spawn)",
        total as f64 / (fin - first),
        total as f64 / fin
    );
    println!(
        "RESULT (c) RSS peak {:.1} MB (VmHWM; sampled VmRSS max {:.1} MB)",
        mb(hwm),
        mb(peak_rss)
    );
    // One line for scripts (hack/bench/spark-vs-processor.sh); the run only
    // counts if the check below passes, i.e. the test succeeds.
    println!(
        "BENCH_BACKLOG_RESULT {}",
        serde_json::json!({
            "events": total,
            "seconds_from_spawn": fin,
            "seconds_from_first_record": fin - first,
            "cpu_seconds": cpu_total,
            "peak_rss_mb": mb(hwm),
        })
    );
    println!(
        "processor: produced {}, late {}, invalid {}, aborted {}",
        metric(&text, "shopstream_processor_records_produced_total"),
        metric(&text, "shopstream_processor_late_events_total"),
        metric(&text, "shopstream_processor_invalid_events_total"),
        metric(&text, "shopstream_processor_transactions_aborted_total"),
    );
    p.sigterm_and_wait();
    check(&t, &c, total, final_wm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: needs the local broker and a quiet machine"]
async fn steady() {
    assert!(
        preloaded_input().is_none(),
        "steady writes its own input: unset BENCH_INPUT_TOPIC"
    );
    let c = Config::from_env();
    let rate = env_u64("BENCH_RATE", 200_000);
    let secs = env_u64("BENCH_SECONDS", 180);
    let t = Topics::create().await;
    let mut p = spawn_processor(&t);
    // Ready = stage 1 joined its group.
    let ready_by = Instant::now() + Duration::from_secs(60);
    while !p
        .scrape()
        .contains("shopstream_processor_events_consumed_total")
        && Instant::now() < ready_by
    {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(5));

    // Live reader of the windowed outputs: arrival − (window end + lateness).
    let delays: Arc<Mutex<Vec<WindowDelay>>> = Arc::default();
    let reader = {
        let delays = Arc::clone(&delays);
        let topics: Vec<(String, &'static str)> =
            t.outputs.iter().map(|(o, n)| (n.clone(), *o)).collect();
        let lateness = c.lateness_ms;
        tokio::spawn(async move {
            let consumer: StreamConsumer = ClientConfig::new()
                .set("bootstrap.servers", bootstrap())
                .set("group.id", unique("bench-latency"))
                .set("auto.offset.reset", "earliest")
                .set("enable.auto.commit", "false")
                .set("fetch.wait.max.ms", "50")
                .create()
                .expect("consumer");
            let names: Vec<&str> = topics.iter().map(|(n, _)| n.as_str()).collect();
            consumer.subscribe(&names).expect("subscribe");
            let mut stream = consumer.stream();
            while let Some(Ok(m)) = stream.next().await {
                let now = now_ms();
                let out = topics
                    .iter()
                    .find(|(n, _)| n == m.topic())
                    .map_or("?", |(_, o)| *o);
                let v: Value =
                    serde_json::from_slice(m.payload().unwrap_or_default()).expect("output JSON");
                let end = parse_ms(v["window_end"].as_str().expect("window_end"));
                let deadline = end + lateness;
                let produced = m.timestamp().to_millis().unwrap_or(now);
                delays
                    .lock()
                    .unwrap()
                    .push((out, end, now - deadline, produced - deadline));
            }
        })
    };

    let count = (rate * secs).to_string();
    let rate_s = rate.to_string();
    let mut g = spawn_generator(
        &t.input,
        &[
            "--events-per-second",
            &rate_s,
            "--count",
            &count,
            "--seed",
            "44",
        ],
    );
    let mut cpu = vec![("processor", p.pid()), ("generator", g.pid())];
    if let Some(b) = broker_pid() {
        cpu.push(("broker", b));
    }
    let meter = CpuMeter::start(cpu);
    let t0 = Instant::now();
    let mut peak_rss = 0;
    let mut samples: Vec<(f64, u64, u64)> = Vec::new();
    let mut last_print = Instant::now();
    let mut generator_done = None;
    let mut text;
    loop {
        std::thread::sleep(Duration::from_millis(250));
        assert!(
            p.child.try_wait().expect("wait").is_none(),
            "processor exited"
        );
        peak_rss = peak_rss.max(status_kb(p.pid(), "VmRSS:"));
        text = p.scrape();
        let consumed = metric(&text, "shopstream_processor_events_consumed_total") as u64;
        let gen_text = g.scrape();
        let sent = metric(&gen_text, "shopstream_generator_events_sent_total") as u64;
        let el = t0.elapsed().as_secs_f64();
        if generator_done.is_none() {
            if !gen_text.is_empty() {
                samples.push((el, sent, consumed));
            }
            if let Ok(Some(status)) = g.child.try_wait() {
                assert!(status.success(), "generator failed");
                generator_done = Some(el);
                meter.report();
            }
        }
        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            let lag = samples.last().map_or(0, |s| s.1.saturating_sub(s.2));
            println!(
                "  t={el:>5.1}s generator {sent:>9} processor consumed {consumed:>9} \
                 (lag {lag:>8}) rss {:>6.1} MB load {}",
                mb(status_kb(p.pid(), "VmRSS:")),
                loadavg()
            );
        }
        if let Some(done) = generator_done
            && (consumed >= rate * secs || el > done + 120.0)
        {
            break;
        }
    }
    let gen_end = generator_done.unwrap();
    // Rates over the steady middle (skip the first 10 s).
    let from = samples
        .iter()
        .find(|s| s.0 >= 10.0)
        .copied()
        .unwrap_or(samples[0]);
    let to = *samples.last().unwrap();
    let dt = to.0 - from.0;
    println!(
        "RESULT steady: target {rate}/s for {secs} s; generator achieved {:.0}/s, processor \
         consumed {:.0}/s over t={:.0}..{:.0} s; lag at generator end {}; all consumed {:.1} s \
         after the generator finished",
        (to.1 - from.1) as f64 / dt,
        (to.2 - from.2) as f64 / dt,
        from.0,
        to.0,
        to.1.saturating_sub(to.2),
        t0.elapsed().as_secs_f64() - gen_end
    );
    let log = std::fs::read_to_string(&g.log).unwrap_or_default();
    if let Some(last) = log.lines().rev().find(|l| l.contains("events")) {
        println!("generator: {last}");
    }
    println!(
        "RESULT (c) RSS peak {:.1} MB (VmHWM; sampled VmRSS max {:.1} MB)",
        mb(status_kb(p.pid(), "VmHWM:")),
        mb(peak_rss)
    );
    // Let the last windows' results arrive before reading the latency.
    std::thread::sleep(Duration::from_secs(3));
    text = {
        let s = p.scrape();
        if s.is_empty() { text } else { s }
    };
    let mut d = delays.lock().unwrap().clone();
    reader.abort();
    let pct = |v: &mut Vec<i64>, q: f64| -> i64 {
        v.sort_unstable();
        let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i]
    };
    for out in WINDOWED.iter().copied().chain(["all"]) {
        let sel: Vec<_> = d.iter().filter(|x| out == "all" || x.0 == out).collect();
        if sel.is_empty() {
            println!("latency {out}: no results");
            continue;
        }
        let mut arrival: Vec<i64> = sel.iter().map(|x| x.2).collect();
        let mut produced: Vec<i64> = sel.iter().map(|x| x.3).collect();
        let windows: HashSet<i64> = sel.iter().map(|x| x.1).collect();
        println!(
            "RESULT (d) latency {out}: {} results of {} windows; arrival at a reader − (end + \
             lateness): p50 {} ms, p99 {} ms, max {} ms; record timestamp − (end + lateness): \
             p50 {} ms, p99 {} ms",
            sel.len(),
            windows.len(),
            pct(&mut arrival, 0.5),
            pct(&mut arrival, 0.99),
            arrival.iter().max().unwrap(),
            pct(&mut produced, 0.5),
            pct(&mut produced, 0.99),
        );
    }
    d.clear();
    for (what, outputs) in [
        ("window results", &WINDOWED[..]),
        ("anomalies", &["anomalies"][..]),
    ] {
        println!(
            "processor histogram shopstream_processor_end_to_end_latency_seconds, {what}: p50 {:?}, p99 {:?}",
            histogram_quantile(
                &text,
                "shopstream_processor_end_to_end_latency_seconds",
                outputs,
                0.5
            ),
            histogram_quantile(
                &text,
                "shopstream_processor_end_to_end_latency_seconds",
                outputs,
                0.99
            ),
        );
    }
    println!(
        "processor: consumed {}, produced {}, late {}, invalid {}, aborted {}",
        metric(&text, "shopstream_processor_events_consumed_total"),
        metric(&text, "shopstream_processor_records_produced_total"),
        metric(&text, "shopstream_processor_late_events_total"),
        metric(&text, "shopstream_processor_invalid_events_total"),
        metric(&text, "shopstream_processor_transactions_aborted_total"),
    );
    let wm = (metric(&text, "shopstream_processor_watermark_seconds") * 1000.0) as i64;
    let consumed = metric(&text, "shopstream_processor_events_consumed_total") as u64;
    p.sigterm_and_wait();
    drop(g);
    if consumed >= rate * secs {
        check(&t, &c, rate * secs, wm).await;
    } else {
        println!("not checking correctness: the processor did not consume everything");
    }
}
