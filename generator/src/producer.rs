//! The Kafka side: producer configuration, delivery accounting and the
//! start-up metadata check.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use kafka_security::SecurityConfigError;
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::config::Args;
use super::metrics::Metrics;

/// The producer used by every task: one client, so batching spans all tasks.
pub type EventProducer = ThreadedProducer<DeliveryCounter>;

/// Counts delivery reports; the delivery opaque is the event's sequence
/// number, for context in error logs.
pub struct DeliveryCounter {
    metrics: Arc<Metrics>,
    acknowledged: AtomicU64,
    failed: AtomicU64,
}

/// Failed deliveries logged one by one before switching to every 1,000th.
const LOGGED_FAILURES: u64 = 20;

impl DeliveryCounter {
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            acknowledged: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    pub fn acknowledged(&self) -> u64 {
        self.acknowledged.load(Ordering::Acquire)
    }

    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Acquire)
    }
}

impl ClientContext for DeliveryCounter {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => tracing::error!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Warning => tracing::warn!(target: "librdkafka", fac, "{message}"),
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", fac, "{message}")
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", fac, "{message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, reason, "Kafka client error");
    }
}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, sequence: usize) {
        match result {
            Ok(_) => {
                self.acknowledged.fetch_add(1, Ordering::AcqRel);
                self.metrics.sent.inc();
            }
            Err((error, message)) => {
                let failures = self.failed.fetch_add(1, Ordering::AcqRel) + 1;
                self.metrics.delivery_errors.inc();
                if failures <= LOGGED_FAILURES || failures % 1_000 == 0 {
                    let key = message
                        .key()
                        .map(|k| String::from_utf8_lossy(k).into_owned())
                        .unwrap_or_default();
                    tracing::error!(
                        %error,
                        sequence,
                        topic = message.topic(),
                        partition = message.partition(),
                        key,
                        failures,
                        "delivery failed"
                    );
                }
            }
        }
    }
}

/// The producer configuration: idempotent, acks=all, compressed, batched for
/// throughput, secured as `--kafka-*` says; `-X` properties are applied
/// last.
pub fn client_config(args: &Args) -> Result<ClientConfig, SecurityConfigError> {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.bootstrap_servers)
        .set("client.id", "shopstream-generator")
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", args.compression.as_str())
        .set("linger.ms", args.linger.as_millis().to_string())
        .set("batch.size", "1048576")
        .set("batch.num.messages", "100000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576")
        .set("message.timeout.ms", "120000")
        .set("statistics.interval.ms", "0");
    args.kafka_security.security().apply(&mut config)?;
    for (key, value) in &args.producer_properties {
        config.set(key, value);
    }
    Ok(config)
}

pub fn create(args: &Args, metrics: Arc<Metrics>) -> anyhow::Result<EventProducer> {
    let producer = client_config(args)
        .context("Kafka security settings")?
        .create_with_context(DeliveryCounter::new(metrics))?;
    Ok(producer)
}

/// Polls the topic's metadata until it lists partitions without error, or
/// `timeout` passes. Returns the partition count.
pub async fn wait_for_topic(
    producer: &Arc<EventProducer>,
    topic: &str,
    timeout: Duration,
) -> anyhow::Result<usize> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let p = Arc::clone(producer);
        let t = topic.to_string();
        let fetched = tokio::task::spawn_blocking(move || {
            let metadata = p
                .client()
                .fetch_metadata(Some(&t), Duration::from_secs(5))?;
            let found = metadata
                .topics()
                .iter()
                .find(|m| m.name() == t)
                .map(|m| (m.error(), m.partitions().len()));
            Ok::<_, KafkaError>(found)
        })
        .await?;
        let problem = match fetched {
            Ok(Some((None, partitions))) if partitions > 0 => return Ok(partitions),
            Ok(Some((Some(code), _))) => format!("broker reports {code:?}"),
            Ok(_) => "topic has no partitions".to_string(),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!(
                "no usable metadata for topic {topic} after {attempt} attempts ({}s): {problem}",
                timeout.as_secs()
            );
        }
        tracing::warn!(topic, attempt, problem, "topic not available yet; retrying");
        tokio::time::sleep(Duration::from_secs(1).min(deadline - tokio::time::Instant::now()))
            .await;
    }
}
