//! The Kafka clients of `serving`: the consumer of the output topics, and
//! the probe's clients that read offsets without joining any group.

use std::sync::Arc;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

use super::health::Health;
use super::metrics::Metrics;

/// Reports the client's errors (brokers down, say) to the health state.
pub struct ReportingContext {
    pub health: Arc<Health>,
    pub metrics: Metrics,
}

impl ClientContext for ReportingContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.metrics.kafka_errors.inc();
        tracing::warn!(error = %error, reason, "Kafka client error");
        self.health.kafka_failed(&format_args!("{error}: {reason}"));
    }
}

impl ConsumerContext for ReportingContext {}

/// The output topics' consumer: committed transactions only, offsets
/// committed by hand after Redis acknowledged.
pub fn consumer_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("isolation.level", "read_committed")
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000")
        .set("topic.metadata.refresh.interval.ms", "10000");
    config
}

/// A client that only reads offsets (`group` for committed offsets; it
/// never subscribes, so it never joins or disturbs that group).
/// read_uncommitted: a pending transactional offset commit of the
/// processor must not make the probe wait.
pub fn probe_config(bootstrap: &str, group: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted");
    config
}
