//! Stage 1, Kafka side: consume the input topic as group `<group>`, and per
//! flush write dead letters, anomalies, partial aggregates and watermark
//! markers in ONE transaction together with the consumed input offsets.
//! Nothing is held across flushes, so a crash loses and duplicates nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::block_in_place;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::kafka::{CALL_TIMEOUT, Stage1Context, consumer_config, send, transactional_producer};
use super::metrics::Metrics;
use super::partial::PartialsRecord;
use super::preagg::{DeadLetter, PreAggregator, WindowConfig, detect_anomaly, parse_event};
use super::window::millis;

/// Partition count of `topic`, from the broker's metadata.
pub fn partition_count<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<i32> {
    let metadata = block_in_place(|| client.fetch_metadata(Some(topic), CALL_TIMEOUT))
        .map_err(ProcessorError::kafka(format!("metadata of {topic}")))?;
    let count = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    if count == 0 {
        return Err(ProcessorError::MissingTopic(topic.to_owned()));
    }
    i32::try_from(count).map_err(|_| ProcessorError::MissingTopic(topic.to_owned()))
}

/// The in-flight batch: everything derived from the records consumed since
/// the last committed transaction.
struct Batch {
    pre: PreAggregator,
    dead_letters: Vec<(String, String)>,
    anomalies: Vec<(String, String, i64)>,
    /// Per input partition: first offset of the batch, next offset to read.
    offsets: BTreeMap<i32, (i64, i64)>,
    records: usize,
}

impl Batch {
    fn new(config: WindowConfig) -> Self {
        Batch {
            pre: PreAggregator::new(config),
            dead_letters: Vec::new(),
            anomalies: Vec::new(),
            offsets: BTreeMap::new(),
            records: 0,
        }
    }

    fn clear(&mut self) {
        self.pre.drain();
        self.dead_letters.clear();
        self.anomalies.clear();
        self.offsets.clear();
        self.records = 0;
    }

    fn add(&mut self, m: &BorrowedMessage<'_>, metrics: &Metrics) {
        let (p, offset) = (m.partition(), m.offset());
        let entry = self.offsets.entry(p).or_insert((offset, offset + 1));
        entry.1 = offset + 1;
        self.records += 1;
        metrics.consumed.inc();
        match parse_event(m.payload()) {
            Ok(event) => {
                let threshold = self.pre.config().anomaly_threshold;
                if let Some(a) = detect_anomaly(&event, threshold)
                    && let Ok(json) = serde_json::to_string(&a)
                {
                    self.anomalies
                        .push((a.event_id, json, millis(&event.timestamp)));
                }
                self.pre.add(p, &event);
            }
            Err(reason) => {
                metrics.invalid.inc();
                let dl = DeadLetter {
                    reason,
                    source_topic: m.topic().to_owned(),
                    partition: p,
                    offset,
                    raw: String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned(),
                };
                if let Ok(json) = serde_json::to_string(&dl) {
                    self.dead_letters.push((format!("{p}:{offset}"), json));
                }
            }
        }
    }
}

struct Stage1<'a> {
    args: &'a Args,
    metrics: &'a Metrics,
    consumer: &'a StreamConsumer<Stage1Context>,
    producer: &'a FutureProducer,
    partials_partitions: i32,
}

impl Stage1<'_> {
    /// Writes the batch and commits it with its input offsets in one
    /// transaction. A revoked assignment drops the batch instead (the new
    /// owner re-reads it from the committed offsets).
    async fn flush(&self, batch: &mut Batch) -> Result<()> {
        if self
            .consumer
            .context()
            .revoked
            .swap(false, Ordering::AcqRel)
        {
            tracing::info!(
                records = batch.records,
                "dropping the batch of revoked partitions"
            );
            batch.clear();
            return Ok(());
        }
        if batch.records == 0 {
            return Ok(());
        }
        match self.transact(batch).await {
            Ok(()) => {
                batch.clear();
                Ok(())
            }
            Err(ProcessorError::Kafka {
                source: KafkaError::Transaction(e),
                context,
            }) if e.txn_requires_abort() => {
                tracing::warn!(%context, error = %e, "aborting the transaction; re-reading the batch");
                self.metrics.aborted.inc();
                block_in_place(|| self.producer.abort_transaction(CALL_TIMEOUT))
                    .map_err(ProcessorError::kafka("aborting a transaction"))?;
                for (&p, &(start, _)) in &batch.offsets {
                    let seek = block_in_place(|| {
                        self.consumer.seek(
                            &self.args.input_topic,
                            p,
                            Offset::Offset(start),
                            CALL_TIMEOUT,
                        )
                    });
                    if let Err(e) = seek {
                        tracing::warn!(partition = p, error = %e, "rewinding after abort failed");
                    }
                }
                batch.clear();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn transact(&self, batch: &mut Batch) -> Result<()> {
        let a = self.args;
        let drained = batch.pre.drain();
        let mut tpl = TopicPartitionList::new();
        for (&p, &(_, next)) in &batch.offsets {
            tpl.add_partition_offset(&a.input_topic, p, Offset::Offset(next))
                .map_err(ProcessorError::kafka("building the offset list"))?;
        }
        let group = self
            .consumer
            .group_metadata()
            .ok_or_else(|| ProcessorError::Config("stage 1 consumer has no group".into()))?;

        self.producer
            .begin_transaction()
            .map_err(ProcessorError::kafka("beginning a transaction"))?;
        for (key, value) in &batch.dead_letters {
            send(self.producer, &a.dead_letter_topic, key, value, None)
                .await
                .map(drop)?;
        }
        for (key, value, _) in &batch.anomalies {
            send(self.producer, &a.anomalies_topic, key, value, None)
                .await
                .map(drop)?;
        }
        let partials = drained.partials.len();
        for partial in drained.partials {
            let key = partial.key();
            let value = serde_json::to_string(&PartialsRecord::Partial(partial))?;
            send(self.producer, &a.partials_topic, &key, &value, None)
                .await
                .map(drop)?;
        }
        for (&input_partition, &watermark) in &drained.watermarks {
            let value = serde_json::to_string(&PartialsRecord::Watermark {
                input_partition,
                watermark,
            })?;
            let key = format!("watermark|{input_partition}");
            for q in 0..self.partials_partitions {
                send(self.producer, &a.partials_topic, &key, &value, Some(q))
                    .await
                    .map(drop)?;
            }
        }
        block_in_place(|| {
            self.producer
                .send_offsets_to_transaction(&tpl, &group, CALL_TIMEOUT)
        })
        .map_err(ProcessorError::kafka("adding offsets to the transaction"))?;
        block_in_place(|| self.producer.commit_transaction(CALL_TIMEOUT))
            .map_err(ProcessorError::kafka("committing a transaction"))?;

        let m = self.metrics;
        m.produced
            .with_label_values(&["dead_letter"])
            .inc_by(batch.dead_letters.len() as u64);
        m.produced
            .with_label_values(&["anomalies"])
            .inc_by(batch.anomalies.len() as u64);
        let markers = drained.watermarks.len() * self.partials_partitions as usize;
        m.produced
            .with_label_values(&["partials"])
            .inc_by((partials + markers) as u64);
        let now = chrono::Utc::now().timestamp_millis();
        for (_, _, ts) in &batch.anomalies {
            m.latency.observe((now - ts).max(0) as f64 / 1000.0);
        }
        tracing::debug!(records = batch.records, partials, "stage 1 flush committed");
        Ok(())
    }
}

/// Runs stage 1 until `shutdown` turns true: then commits the in-flight
/// batch and leaves the group.
pub async fn run(
    args: Arc<Args>,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let windows = args.window_config()?;
    let context = Stage1Context {
        metrics: Arc::clone(&metrics),
        ready,
        revoked: AtomicBool::new(false),
        input_topic: args.input_topic.clone(),
    };
    let consumer: StreamConsumer<Stage1Context> =
        consumer_config(&args.bootstrap_servers, &args.group_id)
            .set("statistics.interval.ms", "5000")
            .create_with_context(context)
            .map_err(ProcessorError::kafka("creating the stage 1 consumer"))?;
    let transactional_id = format!("{}-stage1-{}", args.group_id, args.replica());
    let producer = transactional_producer(&args.bootstrap_servers, &transactional_id)?;
    block_in_place(|| producer.init_transactions(CALL_TIMEOUT))
        .map_err(ProcessorError::kafka("initialising transactions"))?;
    partition_count(consumer.client(), &args.input_topic)?;
    let partials_partitions = partition_count(producer.client(), &args.partials_topic)?;
    consumer
        .subscribe(&[&args.input_topic])
        .map_err(ProcessorError::kafka("subscribing to the input topic"))?;
    tracing::info!(%transactional_id, partials_partitions, "stage 1 running");

    let stage = Stage1 {
        args: &args,
        metrics: &metrics,
        consumer: &consumer,
        producer: &producer,
        partials_partitions,
    };
    let mut batch = Batch::new(windows);
    let mut ticker = tokio::time::interval(Duration::from_millis(args.flush_interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = consumer.stream();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = ticker.tick() => stage.flush(&mut batch).await?,
            next = stream.next() => match next {
                None => break,
                Some(Err(e)) => tracing::warn!(error = %e, "stage 1: consume error"),
                Some(Ok(m)) => {
                    if consumer.context().revoked.load(Ordering::Acquire) {
                        stage.flush(&mut batch).await?;
                    }
                    batch.add(&m, &metrics);
                    if batch.records >= args.max_batch_records {
                        stage.flush(&mut batch).await?;
                    }
                }
            },
        }
    }
    stage.flush(&mut batch).await?;
    drop(stream);
    consumer.unsubscribe();
    tracing::info!("stage 1 stopped");
    Ok(())
}
