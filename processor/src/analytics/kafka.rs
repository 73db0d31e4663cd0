//! Kafka client settings and the consumer contexts of both stages.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::error::KafkaResult;
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord};
use rdkafka::statistics::Statistics;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientConfig, TopicPartitionList};

use super::error::{ProcessorError, Result};
use super::metrics::Metrics;

/// Timeout of blocking admin-ish calls (metadata, commits, transactions).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The settings every client of the processor starts from: the bootstrap
/// servers and, when configured, TLS and authentication (files read once,
/// here; a rotated credential takes effect when the pod restarts).
pub fn base_config(
    bootstrap: &str,
    security: &kafka_security::KafkaSecurity,
) -> Result<ClientConfig> {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap);
    security
        .apply(&mut c)
        .map_err(|source| ProcessorError::KafkaSecurity { source })?;
    Ok(c)
}

pub fn consumer_config(base: &ClientConfig, group: &str) -> ClientConfig {
    let mut c = base.clone();
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        // Only committed transactions; also makes the committed-offset fetch
        // on assignment wait for pending transactional offset commits.
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        // Bounded pre-fetching (RSS): at most ~8 MiB of fetched records
        // waiting per consumer, fetched 4 MiB at a time. With librdkafka's
        // default 1 s back-off after the queue is full, the consumer would
        // get at most one queue's worth per second (that capped stage 1 at
        // ~146,000 events/s with a 64 MiB queue); a short back-off refills
        // it as soon as there is room.
        .set("fetch.max.bytes", "4194304")
        // Several partitions fit in one fetch response, so a backlog is
        // read evenly across partitions: the watermark is the minimum over
        // input partitions, and skew keeps windows open (memory).
        .set("max.partition.fetch.bytes", "524288")
        // Both queue limits apply per partition (librdkafka checks them
        // per partition fetch queue): with 6 input partitions, 20,000
        // messages each held ~45 MB of decompressed records and their
        // per-message ops (heaptrack of the 5 M backlog: lz4 buffers 30 MB,
        // `rd_kafka_op_new0` 17 MB), the largest part of the heap. 4,000
        // (~1.5 MB of input records per partition) are still ~0.1 s of
        // work at 400,000 events/s, far more than a local fetch takes.
        .set("queued.max.messages.kbytes", "8192")
        .set("queued.min.messages", "4000")
        .set("fetch.queue.backoff.ms", "10")
        // Partitions added to a topic are picked up (and, for the input
        // topic, consumed from their start) within this interval instead
        // of librdkafka's default 5 minutes.
        .set("topic.metadata.refresh.interval.ms", "5000");
    c
}

fn producer_config(base: &ClientConfig, timeout_ms: u64) -> ClientConfig {
    let timeout = timeout_ms.clamp(1_000, 600_000).to_string();
    let mut c = base.clone();
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        // Bounded (RSS): a full queue makes `send` wait, which is the
        // back-pressure we want; one stage-1 batch of 100,000 events needs
        // ~5 MB here (anomalies, partials).
        .set("queue.buffering.max.messages", "100000")
        .set("queue.buffering.max.kbytes", "32768")
        // The largest record the processor writes is far smaller (records
        // are bounded: partials split at 256 KiB, dead letters cut to
        // 16 KiB, text fields validated), so this only guards the broker.
        .set("message.max.bytes", "1000000")
        .set("message.timeout.ms", &timeout)
        .set("request.timeout.ms", &timeout);
    c
}

/// The transactional producer of stage 1.
pub fn transactional_producer(
    base: &ClientConfig,
    transactional_id: &str,
    timeout_ms: u64,
) -> Result<FutureProducer> {
    // librdkafka requires message.timeout.ms <= transaction.timeout.ms.
    let txn_timeout = timeout_ms.clamp(60_000, 900_000).to_string();
    let producer: FutureProducer = producer_config(base, timeout_ms)
        .set("transactional.id", transactional_id)
        .set("transaction.timeout.ms", &txn_timeout)
        .create()
        .map_err(ProcessorError::kafka("creating the transactional producer"))?;
    Ok(producer)
}

/// The idempotent producer of stage 2.
pub fn idempotent_producer(base: &ClientConfig, timeout_ms: u64) -> Result<FutureProducer> {
    producer_config(base, timeout_ms)
        .create()
        .map_err(ProcessorError::kafka("creating the output producer"))
}

/// Context of the stage 1 consumer: readiness, lag gauges, and a flag that
/// tells the loop its partitions were revoked (the in-flight batch must be
/// dropped; it is re-read from the committed offsets); the assignment and
/// the per-partition lag for idleness (`idleness.rs`).
pub struct Stage1Context {
    pub metrics: Arc<Metrics>,
    pub ready: Arc<AtomicBool>,
    pub revoked: AtomicBool,
    pub input_topic: String,
    pub assigned: Mutex<BTreeSet<i32>>,
    /// Consumer lag per assigned partition, from the last statistics.
    pub lags: Mutex<BTreeMap<i32, i64>>,
}

impl Stage1Context {
    pub fn new(metrics: Arc<Metrics>, ready: Arc<AtomicBool>, input_topic: String) -> Self {
        Stage1Context {
            metrics,
            ready,
            revoked: AtomicBool::new(false),
            input_topic,
            assigned: Mutex::new(BTreeSet::new()),
            lags: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn assignment(&self) -> BTreeSet<i32> {
        self.assigned.lock().map(|a| a.clone()).unwrap_or_default()
    }

    pub fn lag_snapshot(&self) -> BTreeMap<i32, i64> {
        self.lags.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl ClientContext for Stage1Context {
    fn stats(&self, statistics: Statistics) {
        let Some(topic) = statistics.topics.get(&self.input_topic) else {
            return;
        };
        let mut lags = BTreeMap::new();
        for (id, p) in &topic.partitions {
            if *id >= 0 && p.consumer_lag >= 0 {
                self.metrics
                    .partition_lag
                    .with_label_values(&[&id.to_string()])
                    .set(p.consumer_lag);
                lags.insert(*id, p.consumer_lag);
            } else if *id >= 0 && p.lo_offset >= 0 && p.lo_offset == p.hi_offset {
                // Never consumed nor committed, so librdkafka has no lag
                // for it, but there is nothing to read: an empty partition.
                lags.insert(*id, 0);
            }
        }
        if let Ok(mut current) = self.lags.lock() {
            *current = lags;
        }
    }
}

impl ConsumerContext for Stage1Context {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            tracing::info!(partitions = tpl.count(), "stage 1: partitions revoked");
            self.revoked.store(true, Ordering::Release);
            self.metrics.partition_lag.reset();
            if let Ok(mut assigned) = self.assigned.lock() {
                assigned.clear();
            }
            if let Ok(mut lags) = self.lags.lock() {
                lags.clear();
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let partitions: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
                tracing::info!(?partitions, "stage 1: partitions assigned");
                if let Ok(mut assigned) = self.assigned.lock() {
                    *assigned = partitions.iter().copied().collect();
                }
                self.ready.store(true, Ordering::Release);
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "stage 1: rebalance error"),
        }
    }
}

/// A change of the stage 2 assignment, handled by its loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

/// The outcome of committing one partition's offset, as the broker
/// reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    pub partition: i32,
    pub offset: i64,
    pub metadata: String,
    /// `None` when committed.
    pub error: Option<String>,
}

/// Context of the stage 2 consumer: queues assignment changes and the
/// outcomes of offset commits (a commit can fail per partition, e.g. with
/// metadata over the broker's limit, while the request succeeds), and
/// exports the lag on the partials topic.
pub struct Stage2Context {
    pub changes: Mutex<Vec<AssignmentChange>>,
    pub pending: AtomicBool,
    pub commits: Mutex<Vec<CommitOutcome>>,
    pub metrics: Option<Arc<Metrics>>,
    pub partials_topic: String,
}

impl Stage2Context {
    pub fn new() -> Self {
        Stage2Context {
            changes: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            commits: Mutex::new(Vec::new()),
            metrics: None,
            partials_topic: String::new(),
        }
    }

    /// Takes the commit outcomes reported since the last call.
    pub fn take_commits(&self) -> Vec<CommitOutcome> {
        self.commits
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }

    fn push(&self, change: AssignmentChange) {
        if let Ok(mut changes) = self.changes.lock() {
            changes.push(change);
        }
        self.pending.store(true, Ordering::Release);
    }

    /// Takes the queued changes, oldest first.
    pub fn take(&self) -> Vec<AssignmentChange> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        self.changes
            .lock()
            .map(|mut c| std::mem::take(&mut *c))
            .unwrap_or_default()
    }
}

impl Default for Stage2Context {
    fn default() -> Self {
        Stage2Context::new()
    }
}

impl ClientContext for Stage2Context {
    fn stats(&self, statistics: Statistics) {
        let Some(metrics) = &self.metrics else {
            return;
        };
        let Some(topic) = statistics.topics.get(&self.partials_topic) else {
            return;
        };
        for (id, p) in &topic.partitions {
            if *id >= 0 && p.consumer_lag >= 0 {
                metrics
                    .merge_partition_lag
                    .with_label_values(&[&id.to_string()])
                    .set(p.consumer_lag);
            }
        }
    }
}

impl ConsumerContext for Stage2Context {
    fn commit_callback(&self, result: KafkaResult<()>, offsets: &TopicPartitionList) {
        let request_error = result.err().map(|e| e.to_string());
        let outcomes = offsets.elements().into_iter().map(|e| CommitOutcome {
            partition: e.partition(),
            offset: e.offset().to_raw().unwrap_or(-1),
            metadata: e.metadata().to_owned(),
            error: match e.error() {
                Err(err) => Some(err.to_string()),
                Ok(()) => request_error.clone(),
            },
        });
        if let Ok(mut commits) = self.commits.lock() {
            commits.extend(outcomes);
        }
    }

    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let partitions = tpl.elements().iter().map(|e| e.partition()).collect();
            self.push(AssignmentChange::Revoked(partitions));
            if let Some(m) = &self.metrics {
                m.merge_partition_lag.reset();
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        match rebalance {
            Rebalance::Assign(tpl) => {
                let partitions = tpl.elements().iter().map(|e| e.partition()).collect();
                self.push(AssignmentChange::Assigned(partitions));
            }
            Rebalance::Revoke(_) => {}
            Rebalance::Error(e) => tracing::warn!(error = %e, "stage 2: rebalance error"),
        }
    }
}

/// Enqueues one record, waiting while the producer's queue is full.
pub async fn send(
    producer: &FutureProducer,
    topic: &str,
    key: &str,
    value: &str,
    partition: Option<i32>,
) -> Result<DeliveryFuture> {
    let mut record = FutureRecord::to(topic).key(key).payload(value);
    if let Some(p) = partition {
        record = record.partition(p);
    }
    loop {
        match producer.send_result(record) {
            Ok(delivery) => return Ok(delivery),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                record = back;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Err((e, _)) => return Err(ProcessorError::kafka(format!("producing to {topic}"))(e)),
        }
    }
}
