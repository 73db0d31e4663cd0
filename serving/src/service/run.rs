//! The binary's main loop: consume a batch, write it to Redis until Redis
//! acknowledges it, then commit its offsets.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use shopstream_common::http::{EndpointServer, Endpoints, Readiness};
use shopstream_common::shutdown::Shutdown;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::batch::Batch;
use super::config::Args;
use super::health::{Health, WAITING_FOR};
use super::kafka::{ReportingContext, base_config, consumer_config, probe_config};
use super::metrics::Metrics;
use super::probe::{self, Probe};
use crate::dashboard::{DashboardRoutes, Reader};
use crate::keys::KeySpace;
use crate::records::Output;
use crate::writer::{RedisTarget, RedisWriter};
use crate::writes::{RedisWrite, Ttls};

#[derive(Debug, thiserror::Error)]
pub enum ServingError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("Kafka client: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Names files, never their contents.
    #[error("Kafka security settings: {0}")]
    KafkaSecurity(#[from] kafka_security::SecurityConfigError),
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

const RETRY_INITIAL: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

pub async fn run(args: Args) -> Result<(), ServingError> {
    let target = args
        .redis_target()
        .map_err(|e| ServingError::Config(e.to_string()))?;
    let metrics = Metrics::new()?;
    let readiness = Readiness::new(WAITING_FOR);
    let health = Arc::new(Health::new(
        readiness.clone(),
        target.to_string(),
        metrics.clone(),
    ));
    let keys = args.keys();
    let shutdown = Shutdown::new();
    shutdown.on_signals();

    let routes = DashboardRoutes::new(
        Reader::new(target.clone(), keys.clone()),
        Arc::clone(&health),
        args.pipeline_namespace.clone(),
        args.pipeline_name.clone(),
    );
    let http = EndpointServer::bind(args.http_addr)
        .await
        .map_err(|source| ServingError::Bind {
            addr: args.http_addr,
            source,
        })?
        .spawn(
            Endpoints::new(Arc::new(metrics.registry.clone()), readiness)
                .with_routes(Arc::new(routes)),
        );

    let topics = args.topics();
    let base = base_config(&args.bootstrap_servers, &args.kafka_security.security())?;
    let consumer: StreamConsumer<ReportingContext> = consumer_config(&base, &args.group_id)
        .create_with_context(ReportingContext {
            health: Arc::clone(&health),
            metrics: metrics.clone(),
        })?;
    let probe = Probe {
        serving: probe_config(&base, &args.group_id).create::<BaseConsumer>()?,
        processor: probe_config(&base, &args.processor_group_id).create::<BaseConsumer>()?,
        output_topics: topics.iter().map(|(topic, _)| topic.clone()).collect(),
        input_topic: args.input_topic.clone(),
    };
    let probe = tokio::spawn(probe::run(
        probe,
        Arc::clone(&health),
        metrics.clone(),
        shutdown.clone(),
    ));

    let result = match connect(&target, &health, &metrics, &shutdown).await {
        None => Ok(()),
        Some(writer) => {
            let names: Vec<&str> = topics.iter().map(|(topic, _)| topic.as_str()).collect();
            consumer.subscribe(&names)?;
            tracing::info!(
                topics = ?names,
                group = %args.group_id,
                redis = %target,
                prefix = keys.prefix(),
                "consuming the output topics into Redis"
            );
            let mut pump = Pump {
                consumer: Arc::new(consumer),
                outputs: topics.into_iter().collect(),
                keys,
                ttls: args.ttls(),
                clv_model: args.clv_model.model(),
                writer,
                health: Arc::clone(&health),
                metrics,
                shutdown: shutdown.clone(),
                max_records: usize::try_from(args.max_batch_records).unwrap_or(usize::MAX),
                flush_interval: args.flush_interval(),
            };
            pump.run().await;
            Ok(())
        }
    };
    shutdown.trigger();
    let _ = probe.await;
    http.abort();
    tracing::info!("stopped");
    result
}

/// Connects to Redis, retrying with backoff; `None` if asked to stop first.
async fn connect(
    target: &RedisTarget,
    health: &Health,
    metrics: &Metrics,
    shutdown: &Shutdown,
) -> Option<RedisWriter> {
    let mut backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
    loop {
        match RedisWriter::connect(target.clone()).await {
            Ok(writer) => {
                health.redis_ok();
                return Some(writer);
            }
            Err(e) => {
                metrics.redis_write_failures.inc();
                health.redis_failed(&e);
                let delay = backoff.failed();
                tracing::warn!(error = %e, retry_in = ?delay, failures = backoff.failures(), "Redis is not reachable");
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.triggered() => return None,
                }
            }
        }
    }
}

struct Pump {
    consumer: Arc<StreamConsumer<ReportingContext>>,
    outputs: HashMap<String, Output>,
    keys: KeySpace,
    ttls: Ttls,
    clv_model: crate::clv::Model,
    writer: RedisWriter,
    health: Arc<Health>,
    metrics: Metrics,
    shutdown: Shutdown,
    max_records: usize,
    flush_interval: Duration,
}

impl Pump {
    async fn run(&mut self) {
        let mut kafka_backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
        while !self.shutdown.is_triggered() {
            let mut batch = Batch::new();
            let mut deadline: Option<Instant> = None;
            while batch.len() < self.max_records {
                let flush = async {
                    match deadline {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                let received = tokio::select! {
                    received = self.consumer.recv() => received,
                    () = flush => break,
                    () = self.shutdown.triggered() => break,
                };
                match received {
                    Ok(message) => {
                        kafka_backoff.succeeded();
                        deadline.get_or_insert_with(|| Instant::now() + self.flush_interval);
                        self.add(&mut batch, &message);
                    }
                    Err(e) => {
                        self.metrics.kafka_errors.inc();
                        self.health.kafka_failed(&e);
                        let delay = kafka_backoff.failed();
                        tracing::warn!(error = %e, retry_in = ?delay, "consuming the output topics failed");
                        tokio::select! {
                            () = tokio::time::sleep(delay) => {}
                            () = self.shutdown.triggered() => break,
                        }
                    }
                }
            }
            if batch.is_empty() {
                continue;
            }
            if !self.write(&batch.writes()).await {
                // Stopping with a batch Redis did not take: its offsets stay
                // uncommitted, the next consumer writes it again.
                return;
            }
            for (output, count) in batch.records() {
                self.metrics
                    .records
                    .with_label_values(&[output])
                    .inc_by(*count);
            }
            self.commit(&batch).await;
        }
    }

    fn add<M: Message>(&self, batch: &mut Batch, message: &M) {
        let topic = message.topic();
        let Some(&output) = self.outputs.get(topic) else {
            return;
        };
        if let Err(skipped) = batch.add(
            &self.keys,
            &self.ttls,
            self.clv_model,
            output,
            topic,
            message.partition(),
            message.offset(),
            message.payload(),
        ) {
            self.metrics
                .records_skipped
                .with_label_values(&[output.name()])
                .inc();
            tracing::warn!(
                topic,
                partition = skipped.partition,
                offset = skipped.offset,
                reason = %skipped.reason,
                "skipping a record that is not a {} record",
                output.name()
            );
        }
    }

    /// Writes until Redis acknowledges; `false` if asked to stop first.
    async fn write(&mut self, writes: &[RedisWrite]) -> bool {
        let mut backoff = Backoff::new(RETRY_INITIAL, RETRY_MAX);
        loop {
            let started = std::time::Instant::now();
            match self.writer.write(writes).await {
                Ok(()) => {
                    self.metrics
                        .redis_write_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.redis_batches.inc();
                    self.metrics.redis_writes.inc_by(writes.len() as u64);
                    if backoff.failures() > 0 {
                        tracing::info!(failures = backoff.failures(), "Redis acknowledged again");
                    }
                    self.health.redis_ok();
                    return true;
                }
                Err(e) => {
                    self.metrics.redis_write_failures.inc();
                    self.health.redis_failed(&e);
                    let delay = backoff.failed();
                    tracing::warn!(error = %e, retry_in = ?delay, failures = backoff.failures(), "writing to Redis failed; retrying the batch");
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        () = self.shutdown.triggered() => return false,
                    }
                }
            }
        }
    }

    /// A failed commit is not retried: the records are in Redis, and a
    /// replay after a rebalance or restart writes the same values again.
    async fn commit(&self, batch: &Batch) {
        // The consumer's position can be past the batch's last record by
        // the transaction markers it skipped; committing it keeps the lag
        // at 0 once everything is written.
        let positions = self.consumer.position().ok();
        let mut list = TopicPartitionList::new();
        for ((topic, partition), offset) in batch.next_offsets() {
            let position = positions
                .as_ref()
                .and_then(|p| p.find_partition(topic, *partition))
                .and_then(|p| match p.offset() {
                    Offset::Offset(position) => Some(position),
                    _ => None,
                });
            let offset = position.map_or(*offset, |position| position.max(*offset));
            if let Err(e) = list.add_partition_offset(topic, *partition, Offset::Offset(offset)) {
                tracing::warn!(error = %e, topic, partition, "cannot commit this offset");
            }
        }
        let consumer = Arc::clone(&self.consumer);
        let committed =
            tokio::task::spawn_blocking(move || consumer.commit(&list, CommitMode::Sync)).await;
        match committed {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.metrics.commit_failures.inc();
                tracing::warn!(error = %e, "committing offsets failed; those records will be written again (idempotent)");
            }
            Err(e) => tracing::warn!(error = %e, "the commit task panicked"),
        }
    }
}
