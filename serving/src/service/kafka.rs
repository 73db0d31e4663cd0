//! The Kafka clients of `serving`: the consumer of the output topics, and
//! the probe's clients that read offsets without joining any group.

use std::sync::Arc;

use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError;

use kafka_security::{KafkaSecurity, SecurityConfigError, SecurityFailure};

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
        // A wrong password or CA looks like an unreachable cluster unless
        // it is named; librdkafka keeps retrying either way.
        match SecurityFailure::from_client_error(&error, reason) {
            Some(failure) => {
                tracing::warn!(error = %error, reason, failure = failure.reason(), "Kafka refused the connection");
                self.health
                    .kafka_failed(&format_args!("{failure}: {error}: {reason}"));
            }
            None => {
                tracing::warn!(error = %error, reason, "Kafka client error");
                self.health.kafka_failed(&format_args!("{error}: {reason}"));
            }
        }
    }
}

impl ConsumerContext for ReportingContext {}

/// The settings every client of `serving` starts from: the bootstrap
/// servers and, when configured, TLS and authentication, exactly as the
/// processor's (files read here, once; a rotated credential takes effect
/// when the pod restarts, which the operator's Secret revision annotation
/// triggers).
pub fn base_config(
    bootstrap: &str,
    security: &KafkaSecurity,
) -> Result<ClientConfig, SecurityConfigError> {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    security.apply(&mut config)?;
    Ok(config)
}

/// The output topics' consumer: committed transactions only, offsets
/// committed by hand after Redis acknowledged.
pub fn consumer_config(base: &ClientConfig, group: &str) -> ClientConfig {
    let mut config = base.clone();
    config
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
pub fn probe_config(base: &ClientConfig, group: &str) -> ClientConfig {
    let mut config = base.clone();
    config
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("isolation.level", "read_uncommitted");
    config
}
