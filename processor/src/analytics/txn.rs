//! Stage 1's transactional writer: a task that owns the transactional
//! producer and commits one sealed batch at a time — dead letters,
//! anomalies, partials, watermark markers and the batch's input offsets in
//! ONE transaction — while the consumer loop (`stage1.rs`) already fills the
//! next batch. At most one batch is handed over at a time: the loop waits for
//! the [`Outcome`] of a batch before it seals the next one.

use std::collections::BTreeMap;
use std::sync::Arc;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::block_in_place;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::kafka::{CALL_TIMEOUT, send};
use super::metrics::Metrics;
use super::partial::PartialsRecord;
use super::preagg::PreAggregator;

/// Per input partition: first offset of the batch, next offset to read.
pub type OffsetRanges = BTreeMap<i32, (i64, i64)>;

/// A finished batch, handed from the consumer loop to the writer.
pub struct Sealed {
    pub pre: PreAggregator,
    pub dead_letters: Vec<(String, String)>,
    /// (event id, serialised anomaly, event time ms).
    pub anomalies: Vec<(String, String, i64)>,
    pub offsets: OffsetRanges,
    /// Taken when the batch was sealed: the transaction's offset commit is
    /// fenced by the broker if the group has moved to a newer generation
    /// since (KIP-447), so a batch of revoked partitions cannot commit.
    pub group: ConsumerGroupMetadata,
    pub records: usize,
}

/// What became of a sealed batch.
#[derive(Debug)]
pub enum Outcome {
    Committed,
    /// The transaction failed with an abortable error and was aborted: the
    /// loop must drop what it read after the batch and re-read from the
    /// batch's first offsets.
    Aborted(OffsetRanges),
}

pub struct Writer {
    pub args: Arc<Args>,
    pub metrics: Arc<Metrics>,
    pub producer: FutureProducer,
    pub partials_partitions: i32,
}

impl Writer {
    /// Commits batches until the loop closes the channel. Returns early with
    /// the error on a fatal (not abortable) transaction error; the loop sees
    /// the outcome channel close and stops the process.
    pub async fn run(
        self,
        mut batches: mpsc::Receiver<Sealed>,
        outcomes: mpsc::UnboundedSender<Outcome>,
    ) -> Result<()> {
        while let Some(mut batch) = batches.recv().await {
            let outcome = match self.transact(&mut batch).await {
                Ok(()) => Outcome::Committed,
                Err(ProcessorError::Kafka {
                    source: KafkaError::Transaction(e),
                    context,
                }) if e.txn_requires_abort() => {
                    tracing::warn!(%context, error = %e, "aborting the transaction; re-reading the batch");
                    self.metrics.aborted.inc();
                    block_in_place(|| self.producer.abort_transaction(CALL_TIMEOUT))
                        .map_err(ProcessorError::kafka("aborting a transaction"))?;
                    Outcome::Aborted(std::mem::take(&mut batch.offsets))
                }
                Err(e) => return Err(e),
            };
            if outcomes.send(outcome).is_err() {
                break;
            }
        }
        Ok(())
    }

    async fn transact(&self, batch: &mut Sealed) -> Result<()> {
        let a = &*self.args;
        let started = std::time::Instant::now();
        let drained = batch.pre.drain();
        let mut tpl = TopicPartitionList::new();
        for (&p, &(_, next)) in &batch.offsets {
            tpl.add_partition_offset(&a.input_topic, p, Offset::Offset(next))
                .map_err(ProcessorError::kafka("building the offset list"))?;
        }
        let producer = &self.producer;
        producer
            .begin_transaction()
            .map_err(ProcessorError::kafka("beginning a transaction"))?;
        for (key, value) in &batch.dead_letters {
            send(producer, &a.dead_letter_topic, key, value, None)
                .await
                .map(drop)?;
        }
        for (key, value, _) in &batch.anomalies {
            send(producer, &a.anomalies_topic, key, value, None)
                .await
                .map(drop)?;
        }
        let partials = drained.partials.len();
        for partial in drained.partials {
            let key = partial.key();
            let value = serde_json::to_string(&PartialsRecord::Partial(partial))?;
            send(producer, &a.partials_topic, &key, &value, None)
                .await
                .map(drop)?;
        }
        // Markers after the partials of the same transaction: stage 2 relies
        // on seeing a flush's partials before its watermark.
        for (&input_partition, &watermark) in &drained.watermarks {
            let value = serde_json::to_string(&PartialsRecord::Watermark {
                input_partition,
                watermark,
            })?;
            let key = format!("watermark|{input_partition}");
            for q in 0..self.partials_partitions {
                send(producer, &a.partials_topic, &key, &value, Some(q))
                    .await
                    .map(drop)?;
            }
        }
        let queued = started.elapsed();
        block_in_place(|| producer.send_offsets_to_transaction(&tpl, &batch.group, CALL_TIMEOUT))
            .map_err(ProcessorError::kafka("adding offsets to the transaction"))?;
        let offsets = started.elapsed();
        block_in_place(|| producer.commit_transaction(CALL_TIMEOUT))
            .map_err(ProcessorError::kafka("committing a transaction"))?;

        let m = &self.metrics;
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
        let latency = m.latency.with_label_values(&["anomalies"]);
        for (_, _, ts) in &batch.anomalies {
            latency.observe((now - ts).max(0) as f64 / 1000.0);
        }
        tracing::debug!(
            records = batch.records,
            partials,
            queued_ms = queued.as_millis() as u64,
            offsets_ms = offsets.as_millis() as u64,
            total_ms = started.elapsed().as_millis() as u64,
            "stage 1 flush committed"
        );
        Ok(())
    }
}
