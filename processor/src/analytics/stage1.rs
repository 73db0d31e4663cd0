//! Stage 1, Kafka side: consume the input topic as group `<group>` into an
//! in-flight batch, and per flush hand the batch to the transactional writer
//! (`txn.rs`), which writes dead letters, anomalies, partial aggregates and
//! watermark markers in ONE transaction together with the batch's input
//! offsets. The loop keeps consuming into the next batch while the previous
//! one commits; at most one batch is committing and one is being filled.
//! Nothing is held across committed batches, so a crash loses and duplicates
//! nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::StreamExt;
use rdkafka::consumer::{Consumer, ConsumerGroupMetadata, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Message};
use rdkafka::producer::Producer;
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use shopstream_common::contract::processor::kafka_names;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, block_in_place};

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::idleness::IdleTracker;
use super::kafka::{
    CALL_TIMEOUT, Stage1Context, base_config, consumer_config, transactional_producer,
};
use super::metrics::Metrics;
use super::preagg::{DeadLetter, PreAggregator, WindowConfig, detect_anomaly};
use super::routing::{initial_routing, pinned_routing};
use super::stopping::Stopping;
use super::txn::{OffsetRanges, Outcome, Sealed, Writer};
use super::validate::{InputRules, read_event, reason_class};
use super::window::millis;

/// Partition count of `topic`, from the broker's metadata.
pub fn partition_count<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
) -> Result<i32> {
    partition_count_within(client, topic, CALL_TIMEOUT)
}

/// [`partition_count`], waiting at most `timeout`.
pub fn partition_count_within<C: rdkafka::client::ClientContext>(
    client: &rdkafka::client::Client<C>,
    topic: &str,
    timeout: Duration,
) -> Result<i32> {
    let metadata = block_in_place(|| client.fetch_metadata(Some(topic), timeout))
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

/// The batch being filled: everything derived from the records consumed
/// since the last sealed batch.
struct Batch {
    pre: PreAggregator,
    rules: InputRules,
    /// Input partitions found idle when the batch was sealed.
    idle: Vec<i32>,
    dead_letters: Vec<(String, String)>,
    anomalies: Vec<(String, String, i64)>,
    offsets: OffsetRanges,
    records: usize,
}

impl Batch {
    fn new(config: WindowConfig, rules: InputRules) -> Self {
        Batch {
            pre: PreAggregator::new(config),
            rules,
            idle: Vec::new(),
            dead_letters: Vec::new(),
            anomalies: Vec::new(),
            offsets: OffsetRanges::new(),
            records: 0,
        }
    }

    fn clear(&mut self) {
        *self = Batch::new(*self.pre.config(), self.rules);
    }

    /// Hands the batch over and starts an empty one.
    fn seal(&mut self, group: ConsumerGroupMetadata) -> Sealed {
        let done = std::mem::replace(self, Batch::new(*self.pre.config(), self.rules));
        Sealed {
            pre: done.pre,
            idle: done.idle,
            dead_letters: done.dead_letters,
            anomalies: done.anomalies,
            offsets: done.offsets,
            group,
            records: done.records,
        }
    }

    fn add(&mut self, m: &BorrowedMessage<'_>, metrics: &Metrics) {
        let (p, offset) = (m.partition(), m.offset());
        let entry = self.offsets.entry(p).or_insert((offset, offset + 1));
        entry.1 = offset + 1;
        self.records += 1;
        metrics.consumed.inc();
        // The broker's clock: the record's log-append time if the topic
        // keeps it, else ours (brokers and pods are NTP-synchronised).
        let broker_now = match m.timestamp() {
            Timestamp::LogAppendTime(t) => t,
            _ => chrono::Utc::now().timestamp_millis(),
        };
        match read_event(m.payload(), &self.rules, broker_now) {
            Ok(event) => {
                let threshold = self.pre.config().anomaly_threshold;
                if let Some(a) = detect_anomaly(&event, threshold)
                    && let Ok(json) = serde_json::to_string(&a)
                {
                    self.anomalies
                        .push((a.event_id.to_owned(), json, millis(&event.timestamp)));
                }
                self.pre.add(p, &event);
            }
            Err(reason) => {
                metrics.invalid.inc();
                metrics
                    .invalid_by_reason
                    .with_label_values(&[reason_class(&reason)])
                    .inc();
                self.pre.add_dead_letter(p, m.timestamp().to_millis());
                let dl = DeadLetter::new(reason, m.topic(), p, offset, m.payload());
                if let Ok(json) = serde_json::to_string(&dl) {
                    self.dead_letters.push((dl.key(), json));
                }
            }
        }
    }
}

struct Stage1<'a> {
    args: &'a Args,
    consumer: &'a StreamConsumer<Stage1Context>,
    batches: mpsc::Sender<Sealed>,
}

impl Stage1<'_> {
    /// Drops the batch if partitions were revoked since it was started: the
    /// new owner re-reads those records from the committed offsets.
    fn drop_if_revoked(&self, batch: &mut Batch) -> bool {
        let flag = &self.consumer.context().revoked;
        // A plain load first: this runs once per record.
        let revoked = flag.load(Ordering::Acquire) && flag.swap(false, Ordering::AcqRel);
        if revoked {
            tracing::info!(
                records = batch.records,
                "dropping the batch of revoked partitions"
            );
            batch.clear();
        }
        revoked
    }

    /// Hands the batch to the writer; false if there was nothing to hand
    /// over. Also reports the assigned partitions that are idle now.
    async fn seal(&self, batch: &mut Batch, idle: &mut IdleTracker) -> Result<bool> {
        if self.drop_if_revoked(batch) {
            return Ok(false);
        }
        let now = chrono::Utc::now().timestamp_millis();
        let context = self.consumer.context();
        idle.assigned(&context.assignment(), now);
        for &p in batch.offsets.keys() {
            idle.record(p, now);
        }
        batch.idle = idle.due(&context.lag_snapshot(), now);
        if batch.records == 0 && batch.idle.is_empty() {
            return Ok(false);
        }
        let group = self
            .consumer
            .group_metadata()
            .ok_or_else(|| ProcessorError::Config("stage 1 consumer has no group".into()))?;
        self.batches
            .send(batch.seal(group))
            .await
            .map_err(|_| ProcessorError::Task("the stage 1 writer stopped".into()))?;
        Ok(true)
    }

    /// After an aborted transaction: drops the batch read since, and rewinds
    /// every partition to the first offset of the aborted batch (or, for a
    /// partition only in the newer batch, to that batch's first offset),
    /// i.e. to the last committed offsets.
    ///
    /// A partition that cannot be rewound although still assigned would
    /// skip the aborted records, so that stops the process (a restart
    /// re-reads from the committed offsets); one revoked meanwhile is the
    /// new owner's to re-read.
    fn rewind(&self, batch: &mut Batch, mut aborted: OffsetRanges) -> Result<()> {
        for (&p, &range) in &batch.offsets {
            aborted.entry(p).or_insert(range);
        }
        batch.clear();
        tracing::info!(?aborted, "rewinding to the aborted batch's first offsets");
        for (p, (start, _)) in aborted {
            let seek = block_in_place(|| {
                self.consumer.seek(
                    &self.args.input_topic,
                    p,
                    Offset::Offset(start),
                    CALL_TIMEOUT,
                )
            });
            if let Err(e) = seek {
                let assigned = self
                    .consumer
                    .assignment()
                    .map(|a| a.find_partition(&self.args.input_topic, p).is_some())
                    .unwrap_or(true);
                if assigned {
                    return Err(ProcessorError::kafka(format!(
                        "rewinding input partition {p} after an abort"
                    ))(e));
                }
                tracing::info!(partition = p, "not rewinding a partition revoked meanwhile");
            }
        }
        Ok(())
    }
}

/// The partials routing count pinned in the group's committed offsets
/// (`routing.rs`), or the one to pin now (blocking). Asked before the
/// first transaction; the committed-offset fetch waits for transactions in
/// flight (read_committed), so it sees what they commit.
fn partials_routing(
    consumer: &StreamConsumer<Stage1Context>,
    input_topic: &str,
    input_partitions: i32,
    partials_partitions: i32,
) -> Result<i32> {
    let mut tpl = TopicPartitionList::new();
    for p in 0..input_partitions {
        tpl.add_partition(input_topic, p);
    }
    let mut last_error = None;
    for attempt in 0..4u32 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_secs(u64::from(attempt) * 2));
        }
        match consumer.committed_offsets(tpl.clone(), CALL_TIMEOUT) {
            Ok(committed) => {
                let elements = committed.elements();
                let pinned = pinned_routing(elements.iter().map(|e| e.metadata()));
                let routing = pinned.unwrap_or_else(|| initial_routing(partials_partitions));
                if routing > partials_partitions {
                    return Err(ProcessorError::Config(format!(
                        "the group routes partials over {routing} partitions, but the partials \
                         topic has {partials_partitions}: was it re-created smaller? Use a new \
                         group id"
                    )));
                }
                tracing::info!(
                    routing,
                    pinned = pinned.is_some(),
                    partials_partitions,
                    "partials routing"
                );
                return Ok(routing);
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading the group's committed offsets; retrying");
                last_error = Some(e);
            }
        }
    }
    Err(ProcessorError::kafka(
        "reading the group's committed offsets",
    )(
        last_error.unwrap_or(rdkafka::error::KafkaError::NoMessageReceived),
    ))
}

/// The writer's error once it has stopped (it only stops early on one).
async fn writer_error(writer: JoinHandle<Result<()>>) -> ProcessorError {
    match writer.await {
        Ok(Err(e)) => e,
        Ok(Ok(())) => ProcessorError::Task("the stage 1 writer stopped".into()),
        Err(e) => ProcessorError::Task(e.to_string()),
    }
}

/// Shutdown: lets the committing batch finish, then commits the rest.
/// Returns the writer task, to be joined once nothing more is sent to it.
async fn finish(
    stage: &Stage1<'_>,
    mut batch: Batch,
    mut idle: IdleTracker,
    in_flight: bool,
    outcomes: &mut mpsc::UnboundedReceiver<Outcome>,
    writer: JoinHandle<Result<()>>,
) -> Result<JoinHandle<Result<()>>> {
    let mut last = Some(Outcome::Committed);
    if in_flight {
        last = outcomes.recv().await;
    }
    match last {
        Some(Outcome::Committed) => {
            if stage.seal(&mut batch, &mut idle).await? {
                match outcomes.recv().await {
                    Some(Outcome::Committed) => {}
                    Some(Outcome::Aborted(_)) => {
                        tracing::warn!("the last batch was aborted; the next owner re-reads it")
                    }
                    None => return Err(writer_error(writer).await),
                }
            }
        }
        Some(Outcome::Aborted(_)) => {
            tracing::warn!("a batch was aborted at shutdown; the next owner re-reads it")
        }
        None => return Err(writer_error(writer).await),
    }
    Ok(writer)
}

/// Stage 1's Kafka clients before the first record: the consumer
/// subscribed to the input topic, and the writer's transactional producer
/// initialised (fencing a predecessor with the same replica identity) with
/// the partials routing pinned. Blocking calls run in `block_in_place`.
fn connect(
    args: &Arc<Args>,
    metrics: &Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stopping: Stopping,
) -> Result<(StreamConsumer<Stage1Context>, Writer)> {
    let context = Stage1Context::new(Arc::clone(metrics), ready, args.input_topic.clone());
    let base = base_config(&args.bootstrap_servers, &args.kafka_security.security())?;
    let consumer: StreamConsumer<Stage1Context> = consumer_config(&base, &args.group_id)
        .set("statistics.interval.ms", "5000")
        .create_with_context(context)
        .map_err(ProcessorError::kafka("creating the stage 1 consumer"))?;
    let transactional_id = format!(
        "{}{}",
        kafka_names::stage1_transactional_id_prefix(&args.group_id),
        args.replica()
    );
    let producer = transactional_producer(&base, &transactional_id, args.produce_timeout_ms)?;
    block_in_place(|| producer.init_transactions(CALL_TIMEOUT))
        .map_err(ProcessorError::kafka("initialising transactions"))?;
    let input_partitions = partition_count(consumer.client(), &args.input_topic)?;
    let partials_partitions = partition_count(producer.client(), &args.partials_topic)?;
    let routing = block_in_place(|| {
        partials_routing(
            &consumer,
            &args.input_topic,
            input_partitions,
            partials_partitions,
        )
    })?;
    consumer
        .subscribe(&[&args.input_topic])
        .map_err(ProcessorError::kafka("subscribing to the input topic"))?;
    tracing::info!(%transactional_id, routing, "stage 1 running");
    let writer = Writer {
        args: Arc::clone(args),
        metrics: Arc::clone(metrics),
        producer,
        routing,
        stopping,
    };
    Ok((consumer, writer))
}

/// Runs stage 1 until `shutdown` turns true: then commits the in-flight
/// batches and leaves the group.
pub async fn run(
    args: Arc<Args>,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    stopping: Stopping,
) -> Result<()> {
    let mut shutdown = stopping.subscribe();
    let windows = args.window_config()?;
    let rules = args.input_rules();
    let mut idle = IdleTracker::new(args.idle_timeout_ms());
    let (consumer, writer) = connect(&args, &metrics, ready, stopping)?;
    let (batches, batches_rx) = mpsc::channel(1);
    let (outcomes_tx, mut outcomes) = mpsc::unbounded_channel();
    let writer = tokio::spawn(writer.run(batches_rx, outcomes_tx));
    let stage = Stage1 {
        args: &args,
        consumer: &consumer,
        batches,
    };
    let mut batch = Batch::new(windows, rules);
    // A batch is committing; the next one is only sealed after its outcome.
    let mut in_flight = false;
    // The flush interval has passed since the last seal.
    let mut due = false;
    let mut ticker = tokio::time::interval(Duration::from_millis(args.flush_interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = consumer.stream();
    loop {
        // A full batch waits for the writer instead of growing: this bounds
        // memory to two batches.
        let full = batch.records >= args.max_batch_records;
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            outcome = outcomes.recv(), if in_flight => {
                in_flight = false;
                match outcome {
                    Some(Outcome::Committed) => {}
                    Some(Outcome::Aborted(aborted)) => stage.rewind(&mut batch, aborted)?,
                    None => return Err(writer_error(writer).await),
                }
            }
            _ = ticker.tick() => due = true,
            next = stream.next(), if !full => match next {
                None => break,
                Some(Err(e)) => tracing::warn!(error = %e, "stage 1: consume error"),
                Some(Ok(m)) => {
                    stage.drop_if_revoked(&mut batch);
                    batch.add(&m, &metrics);
                }
            },
        }
        if !in_flight && (due || batch.records >= args.max_batch_records) {
            due = false;
            in_flight = stage.seal(&mut batch, &mut idle).await?;
        }
    }
    let writer = finish(&stage, batch, idle, in_flight, &mut outcomes, writer).await?;
    drop(stage);
    match writer.await {
        Ok(r) => r?,
        Err(e) => return Err(ProcessorError::Task(e.to_string())),
    }
    drop(stream);
    consumer.unsubscribe();
    tracing::info!("stage 1 stopped");
    Ok(())
}
