//! Shared helpers of the processor's and generator's suites: the broker
//! address, unique names, topics, running the generator, reading a topic
//! back; running processor replicas ([`pipeline`]), the end-to-end data
//! set ([`dataset`]) and recomputing results independently ([`recompute`]).
#![allow(dead_code)] // each test crate uses a different subset

pub mod dataset;
pub mod pipeline;
pub mod recompute;

use std::collections::BTreeMap;
use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::process::Command;

pub fn bootstrap() -> String {
    integration_tests::environment::kafka_bootstrap()
}

/// The Python interpreter with kafka-python (`hack/python/venv.sh`), for
/// the tests that play the original system's producer.
pub fn python() -> String {
    integration_tests::environment::require("SHOPSTREAM_PYTHON")
}

pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{prefix}-{nanos}")
}

/// Removes test topics once their records were read back.
pub async fn delete_topics(topics: &[&str]) {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    admin()
        .delete_topics(topics, &options)
        .await
        .expect("DeleteTopics request reaches the broker");
}

fn admin() -> AdminClient<DefaultClientContext> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("admin client")
}

async fn create(topics: &[NewTopic<'_>]) {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin()
        .create_topics(topics, &options)
        .await
        .expect("CreateTopics request reaches the broker")
    {
        result.unwrap_or_else(|(name, code)| panic!("creating {name} failed: {code}"));
    }
}

/// Grows `topic` to `total` partitions.
pub async fn grow_topic(topic: &str, total: usize) {
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    for result in admin()
        .create_partitions(&[NewPartitions::new(topic, total)], &options)
        .await
        .expect("CreatePartitions request reaches the broker")
    {
        result.unwrap_or_else(|(name, code)| panic!("growing {name} failed: {code}"));
    }
}

/// High watermark (end offset) of every partition of `topic`.
pub fn partition_ends(topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let consumer: rdkafka::consumer::BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("consumer");
    (0..partitions)
        .map(|p| {
            let (_, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .expect("watermarks");
            (p, high)
        })
        .collect()
}

/// Creates a topic named `<prefix>-<unique suffix>` and returns its name.
pub async fn create_topic(prefix: &str, partitions: i32, config: &[(&str, &str)]) -> String {
    let topic = unique(prefix);
    let mut new_topic = NewTopic::new(&topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in config {
        new_topic = new_topic.set(k, v);
    }
    create(&[new_topic]).await;
    topic
}

/// Creates the named topics (name, partitions) in one request, and waits
/// until the broker's metadata shows them with all their partitions (a
/// processor started right after would otherwise find none and exit).
pub async fn create_topics(names: &[(&str, i32)]) {
    let topics: Vec<NewTopic> = names
        .iter()
        .map(|(n, p)| NewTopic::new(n, *p, TopicReplication::Fixed(1)))
        .collect();
    create(&topics).await;
    let client: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .create()
        .expect("metadata client");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    for (name, partitions) in names {
        loop {
            let metadata = client
                .fetch_metadata(Some(name), Duration::from_secs(5))
                .expect("metadata request reaches the broker");
            let found = metadata
                .topics()
                .iter()
                .any(|t| t.error().is_none() && t.partitions().len() == *partitions as usize);
            if found {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "topic {name} not in the metadata 30 s after its creation"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// The generator binary with a clean environment (no GENERATOR_* leaking in
/// from the caller's shell) and a free metrics port.
pub fn generator(topic: &str, args: &[&str]) -> Command {
    let mut command = Command::new(integration_tests::binaries::path("generator"));
    for (name, _) in std::env::vars() {
        if name.starts_with("GENERATOR_")
            || ["KAFKA_BOOTSTRAP_SERVERS", "METRICS_ADDR", "LOG_FORMAT"].contains(&name.as_str())
        {
            command.env_remove(name);
        }
    }
    if !args.contains(&"--metrics-addr") {
        command.args(["--metrics-addr", "127.0.0.1:0"]);
    }
    command
        .env("RUST_LOG", "warn")
        .args(["--bootstrap-servers", &bootstrap(), "--topic", topic])
        .args(["--startup-timeout", "20s"])
        .args(args)
        .kill_on_drop(true);
    command
}

pub async fn run_ok(topic: &str, args: &[&str]) -> Output {
    let output = generator(topic, args)
        .output()
        .await
        .expect("the generator starts");
    assert!(
        output.status.success(),
        "generator {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub struct Record {
    pub partition: i32,
    pub key: String,
    pub payload: Vec<u8>,
    pub timestamp_ms: i64,
}

/// Every record of the topic, in offset order per partition. The high
/// watermarks are read first: after the generator exits they are final.
pub async fn consume_all(topic: &str, partitions: i32) -> Vec<Record> {
    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", unique("generator-test"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut remaining = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .expect("watermarks");
        assert_eq!(low, 0, "nothing deleted from partition {p}");
        if high > 0 {
            remaining.insert(p, high);
        }
        assignment
            .add_partition_offset(topic, p, Offset::Beginning)
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");
    let mut records = Vec::new();
    let mut stream = consumer.stream();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !remaining.is_empty() {
        let message = tokio::time::timeout_at(deadline, stream.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "consumed only {} records; waiting for {remaining:?}",
                    records.len()
                )
            })
            .expect("stream ended")
            .expect("consume error");
        let p = message.partition();
        if remaining
            .get(&p)
            .is_some_and(|high| message.offset() + 1 >= *high)
        {
            remaining.remove(&p);
        }
        records.push(Record {
            partition: p,
            key: String::from_utf8_lossy(message.key().expect("record key")).into_owned(),
            payload: message.payload().expect("record value").to_vec(),
            timestamp_ms: message.timestamp().to_millis().expect("record timestamp"),
        });
    }
    records
}

/// `{run_id:016x}-{sequence}` → sequence.
pub fn sequence_of(event_id: &str) -> u64 {
    let (run, seq) = event_id.split_once('-').expect("run-sequence id");
    assert_eq!(run.len(), 16, "{event_id}");
    seq.parse().expect("numeric sequence")
}
