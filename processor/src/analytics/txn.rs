//! Stage 1's transactional writer: a task that owns the transactional
//! producer and commits one sealed batch at a time — dead letters,
//! anomalies, partials, watermark markers and the batch's input offsets in
//! ONE transaction — while the consumer loop (`stage1.rs`) already fills the
//! next batch. At most one batch is handed over at a time: the loop waits for
//! the [`Outcome`] of a batch before it seals the next one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, Producer};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::mpsc;
use tokio::task::block_in_place;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::kafka::{CALL_TIMEOUT, send};
use super::metrics::Metrics;
use super::partial::{PARTIAL_BUDGET_BYTES, PartialsRecord, encode_partial};
use super::preagg::PreAggregator;
use super::routing::{Stage1OffsetMetadata, partials_partition};
use super::stopping::Stopping;

/// Per input partition: first offset of the batch, next offset to read.
pub type OffsetRanges = BTreeMap<i32, (i64, i64)>;

/// A finished batch, handed from the consumer loop to the writer.
pub struct Sealed {
    pub pre: PreAggregator,
    /// Input partitions stage 1 found idle (`idleness.rs`).
    pub idle: Vec<i32>,
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
    /// Partials are routed over partitions `0..routing` (`routing.rs`).
    pub routing: i32,
    /// Bounds the last transaction once the process is stopping.
    pub stopping: Stopping,
}

/// How a failed transaction is handled.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// Abort, re-read the batch.
    Abortable,
    /// Stop the process: this producer can no longer be used (fenced by a
    /// newer instance with the same transactional id, or librdkafka raised
    /// a fatal error).
    Fatal,
}

/// Attempts of a retriable transaction call (a timeout while the broker
/// is unreachable) before the transaction is aborted instead.
const RETRIES: u32 = 3;
/// Attempts to abort before giving up (the process then exits; a restart
/// aborts the transaction in `init_transactions`).
const ABORT_ATTEMPTS: u32 = 10;
/// The transaction's records are awaited in slices this long, so that a
/// stop request is noticed while they are still in flight (records to a
/// deleted topic are only failed after the produce timeout, 30 s).
const DELIVERY_SLICE: Duration = Duration::from_millis(200);
/// `commit_transaction` is resumable (librdkafka): it is called in slices
/// this long, for the same reason.
const COMMIT_SLICE: Duration = Duration::from_secs(1);
/// Timeout of adding the offsets (milliseconds with a healthy broker). Not
/// resumable, so not sliced: a stop request arriving during the call waits
/// for it, and this bounds that wait. A timeout is retried ([`RETRIES`]).
const OFFSETS_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// Fatal only when librdkafka says so (`producer_fatal`, or a fatal
/// transaction error); any other Kafka error — a record the producer
/// refused because the transaction already failed (librdkafka's `_STATE`
/// "Producing not allowed in transactional state", which arrives as a
/// production error), a timed-out delivery, a fenced offset commit after a
/// rebalance — is abortable. Other errors are the writer's own and stop it.
pub fn classify(e: &ProcessorError, producer_fatal: bool) -> Failure {
    if producer_fatal {
        return Failure::Fatal;
    }
    match e {
        ProcessorError::Kafka {
            source: KafkaError::Transaction(t),
            ..
        } if t.is_fatal() => Failure::Fatal,
        ProcessorError::Kafka { .. }
        | ProcessorError::Delivery(_)
        | ProcessorError::StopTimeout(_) => Failure::Abortable,
        _ => Failure::Fatal,
    }
}

impl Writer {
    /// Commits batches until the loop closes the channel. Returns early with
    /// the error only on a fatal error; every other failure aborts the
    /// transaction, and the loop re-reads the batch.
    pub async fn run(
        self,
        mut batches: mpsc::Receiver<Sealed>,
        outcomes: mpsc::UnboundedSender<Outcome>,
    ) -> Result<()> {
        while let Some(mut batch) = batches.recv().await {
            let bounded = async {
                tokio::select! {
                    r = self.transact(&mut batch) => r,
                    () = self.stopping.final_commit_expired() => Err(ProcessorError::StopTimeout(
                        "the transaction was still producing".into(),
                    )),
                }
            };
            let outcome = match bounded.await {
                Ok(()) => Outcome::Committed,
                Err(e) => match self.classify(&e) {
                    Failure::Fatal => {
                        self.metrics.transaction_open.set(0);
                        return Err(e);
                    }
                    Failure::Abortable => {
                        tracing::warn!(error = %e, "aborting the transaction; re-reading the batch");
                        self.metrics.aborted.inc();
                        self.abort().await?;
                        Outcome::Aborted(std::mem::take(&mut batch.offsets))
                    }
                },
            };
            self.metrics.transaction_open.set(0);
            if outcomes.send(outcome).is_err() {
                break;
            }
        }
        Ok(())
    }

    fn classify(&self, e: &ProcessorError) -> Failure {
        let fatal = self.producer.client().fatal_error();
        if let Some((code, reason)) = &fatal {
            tracing::error!(?code, %reason, "the transactional producer failed fatally");
        }
        classify(e, fatal.is_some())
    }

    async fn abort(&self) -> Result<()> {
        if self.stopping.is_stopping() {
            return self.abort_while_stopping();
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match block_in_place(|| self.producer.abort_transaction(CALL_TIMEOUT)) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let fatal = self.producer.client().fatal_error().is_some()
                        || matches!(&e, KafkaError::Transaction(t) if t.is_fatal());
                    if fatal || attempt >= ABORT_ATTEMPTS {
                        return Err(ProcessorError::kafka("aborting a transaction")(e));
                    }
                    tracing::warn!(error = %e, attempt, "aborting the transaction failed; retrying");
                    tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
                }
            }
        }
    }

    /// One bounded attempt: the process exits right after. A transaction
    /// that cannot be aborted now is left open, which commits nothing: the
    /// broker aborts it after `transaction.timeout.ms`, or the next owner
    /// with this transactional id when it starts.
    fn abort_while_stopping(&self) -> Result<()> {
        let timeout = self.stopping.abort_call(CALL_TIMEOUT);
        match block_in_place(|| self.producer.abort_transaction(timeout)) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Never half-committed: a commit already under way in
                // librdkafka completes as a whole, anything else is aborted
                // by the broker or the next owner.
                tracing::warn!(
                    error = %e,
                    "stopping: the transaction could not be aborted in time; its outcome is left \
                     to the broker (it commits or aborts as a whole)"
                );
                Ok(())
            }
        }
    }

    /// Waits until every record of the transaction is delivered (or
    /// failed), in short slices: at most [`CALL_TIMEOUT`], and no longer
    /// than the last commit may take once stopping.
    fn await_deliveries(&self) -> Result<()> {
        let started = Instant::now();
        loop {
            match block_in_place(|| self.producer.flush(DELIVERY_SLICE)) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    if self.stopping.final_commit_over() {
                        return Err(ProcessorError::StopTimeout(format!(
                            "{} record(s) still undelivered",
                            self.producer.in_flight_count()
                        )));
                    }
                    if started.elapsed() >= CALL_TIMEOUT {
                        return Err(ProcessorError::kafka(
                            "delivering the transaction's records",
                        )(KafkaError::Flush(
                            RDKafkaErrorCode::OperationTimedOut,
                        )));
                    }
                }
                Err(e) => {
                    return Err(ProcessorError::kafka(
                        "delivering the transaction's records",
                    )(e));
                }
            }
        }
    }

    /// Commits the transaction whose records are delivered, resuming the
    /// call after each [`COMMIT_SLICE`] until it succeeds, fails, was
    /// retried [`RETRIES`] times for another retriable error, took
    /// [`CALL_TIMEOUT`] or the last commit's time when stopping is up.
    fn commit(&self) -> Result<()> {
        let started = Instant::now();
        let mut failures = 0;
        loop {
            match block_in_place(|| self.producer.commit_transaction(COMMIT_SLICE)) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Transaction(t)) if t.is_retriable() => {
                    let timed_out = t.code() == RDKafkaErrorCode::OperationTimedOut;
                    if !timed_out {
                        failures += 1;
                    }
                    let stop = self.stopping.final_commit_over();
                    if stop || failures >= RETRIES || started.elapsed() >= CALL_TIMEOUT {
                        return Err(ProcessorError::kafka("committing a transaction")(
                            KafkaError::Transaction(t),
                        ));
                    }
                    if !timed_out {
                        tracing::warn!(error = %t, attempt = failures, "committing a transaction: retrying");
                    }
                }
                Err(e) => return Err(ProcessorError::kafka("committing a transaction")(e)),
            }
        }
    }

    /// Runs a transaction call, repeating it while it fails with a
    /// retriable error (librdkafka's contract for these calls), but not
    /// past the time the last commit has once stopping.
    fn retrying(
        &self,
        context: &str,
        mut call: impl FnMut() -> std::result::Result<(), KafkaError>,
    ) -> Result<()> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match block_in_place(&mut call) {
                Ok(()) => return Ok(()),
                Err(KafkaError::Transaction(t))
                    if t.is_retriable()
                        && attempt < RETRIES
                        && !self.stopping.final_commit_over() =>
                {
                    tracing::warn!(error = %t, attempt, "{context}: retrying");
                }
                Err(e) => return Err(ProcessorError::kafka(context)(e)),
            }
        }
    }

    async fn transact(&self, batch: &mut Sealed) -> Result<()> {
        let a = &*self.args;
        let started = std::time::Instant::now();
        let drained = batch.pre.drain();
        let metadata = Stage1OffsetMetadata {
            partials_routing: self.routing,
        }
        .encode();
        let mut tpl = TopicPartitionList::new();
        for (&p, &(_, next)) in &batch.offsets {
            tpl.add_partition_offset(&a.input_topic, p, Offset::Offset(next))
                .map_err(ProcessorError::kafka("building the offset list"))?;
            if let Some(mut elem) = tpl.find_partition(&a.input_topic, p) {
                elem.set_metadata(&metadata);
            }
        }
        let producer = &self.producer;
        // Every failed transaction was aborted, so this only fails in a
        // state the writer cannot reason about: stop (classified fatal).
        producer
            .begin_transaction()
            .map_err(|e| ProcessorError::Task(format!("beginning a transaction: {e}")))?;
        self.metrics.transaction_open.set(1);
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
        let mut partials = 0;
        for partial in drained.partials {
            let key = partial.key();
            let q = partials_partition(&key, self.routing);
            for value in encode_partial(partial, PARTIAL_BUDGET_BYTES)? {
                send(producer, &a.partials_topic, &key, &value, Some(q))
                    .await
                    .map(drop)?;
                partials += 1;
            }
        }
        // Markers after the partials of the same transaction: stage 2 relies
        // on seeing a flush's partials before its watermark. One record per
        // routing partition carries every input partition of the batch.
        let markers = if drained.watermarks.is_empty() && batch.idle.is_empty() {
            0
        } else {
            let value = serde_json::to_string(&PartialsRecord::Watermarks {
                watermarks: drained.watermarks.into_iter().collect(),
                idle: batch.idle.clone(),
            })?;
            for q in 0..self.routing {
                send(producer, &a.partials_topic, "watermarks", &value, Some(q))
                    .await
                    .map(drop)?;
            }
            self.routing as usize
        };
        let queued = started.elapsed();
        // A batch of idle reports only has no offsets to commit.
        if tpl.count() > 0 {
            self.retrying("adding offsets to the transaction", || {
                let timeout = self.stopping.commit_call(OFFSETS_CALL_TIMEOUT);
                producer.send_offsets_to_transaction(&tpl, &batch.group, timeout)
            })?;
        }
        let offsets = started.elapsed();
        // Delivered first, in slices: `commit_transaction` would wait for
        // them in one blocking call that a stop request cannot shorten.
        self.await_deliveries()?;
        self.commit()?;

        let m = &self.metrics;
        m.produced
            .with_label_values(&["dead_letter"])
            .inc_by(batch.dead_letters.len() as u64);
        m.produced
            .with_label_values(&["anomalies"])
            .inc_by(batch.anomalies.len() as u64);
        m.produced
            .with_label_values(&["partials"])
            .inc_by((partials + markers) as u64);
        let now = chrono::Utc::now().timestamp_millis();
        let latency = m.latency.with_label_values(&["anomalies"]);
        for (_, _, ts) in &batch.anomalies {
            latency.observe((now - ts).max(0) as f64 / 1000.0);
        }
        tracing::debug!(
            offsets = ?batch.offsets,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::kafka::transactional_producer;

    /// What librdkafka answers a send once the transaction has failed
    /// (here: before `init_transactions`, which needs no broker) is the
    /// same `_STATE` production error: abortable, not a reason to exit.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_send_refused_by_the_transaction_state_is_abortable() {
        let mut base = rdkafka::ClientConfig::new();
        base.set("bootstrap.servers", "127.0.0.1:1");
        let producer = transactional_producer(&base, "classify-test", 1_000)
            .expect("producer without a broker");
        let e = send(&producer, "topic", "key", "value", Some(0))
            .await
            .err()
            .expect("producing outside a transaction is refused");
        assert!(
            matches!(
                &e,
                ProcessorError::Kafka {
                    source: KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::State),
                    ..
                }
            ),
            "{e:?}"
        );
        assert_eq!(classify(&e, false), Failure::Abortable);
        assert_eq!(classify(&e, true), Failure::Fatal);
        let own = ProcessorError::Task("beginning a transaction: x".into());
        assert_eq!(classify(&own, false), Failure::Fatal);
    }
}
