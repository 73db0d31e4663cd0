//! Stage 2, Kafka side: consume the partials topic as group `<group>-merge`
//! (read_committed), merge per partials partition, emit final results when
//! the watermark passes a window's end, and commit offsets only up to the
//! earliest partial of a still-open window, with the watermarks as the
//! commit's metadata.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureProducer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::watch;
use tokio::task::block_in_place;

use super::config::Args;
use super::error::{ProcessorError, Result};
use super::kafka::{
    AssignmentChange, CALL_TIMEOUT, Stage2Context, consumer_config, idempotent_producer, send,
};
use super::merge::{Applied, Checkpoint, MergeConfig, MergeState};
use super::metrics::Metrics;
use super::output::finalize;
use super::partial::{Kind, PartialsRecord};
use super::stage1::partition_count;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

struct Stage2<'a> {
    args: &'a Args,
    metrics: &'a Metrics,
    config: MergeConfig,
    consumer: &'a StreamConsumer<Stage2Context>,
    producer: &'a FutureProducer,
    states: BTreeMap<i32, MergeState>,
    pending: Vec<DeliveryFuture>,
    committed: BTreeMap<i32, (i64, String)>,
}

impl Stage2<'_> {
    fn topic(&self, kind: Kind) -> &str {
        match kind {
            Kind::Sales => &self.args.sales_topic,
            Kind::Segments => &self.args.segments_topic,
            Kind::Hourly => &self.args.hourly_topic,
            Kind::TopProducts => &self.args.top_products_topic,
        }
    }

    /// Applies assignment changes: a newly assigned partition starts from
    /// the checkpoint committed with its offset.
    fn handle_changes(&mut self) -> Result<()> {
        for change in self.consumer.context().take() {
            match change {
                AssignmentChange::Revoked(partitions) => {
                    for q in partitions {
                        self.states.remove(&q);
                        self.committed.remove(&q);
                    }
                }
                AssignmentChange::Assigned(partitions) => {
                    let mut tpl = TopicPartitionList::new();
                    for &q in &partitions {
                        tpl.add_partition(&self.args.partials_topic, q);
                    }
                    let committed =
                        block_in_place(|| self.consumer.committed_offsets(tpl, CALL_TIMEOUT))
                            .map_err(ProcessorError::kafka("fetching committed offsets"))?;
                    for elem in committed.elements() {
                        let checkpoint: Checkpoint =
                            serde_json::from_str(elem.metadata()).unwrap_or_default();
                        tracing::info!(
                            partition = elem.partition(),
                            offset = ?elem.offset(),
                            watermarks = ?checkpoint.watermarks,
                            "stage 2: partition assigned"
                        );
                        self.states.insert(
                            elem.partition(),
                            MergeState::restore(self.config, &checkpoint, now_ms()),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    async fn apply(&mut self, q: i32, offset: i64, payload: Option<&[u8]>) -> Result<()> {
        let record = match serde_json::from_slice::<PartialsRecord>(payload.unwrap_or_default()) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(partition = q, offset, error = %e, "skipping an unreadable partial");
                return Ok(());
            }
        };
        let now = now_ms();
        let config = self.config;
        let state = self
            .states
            .entry(q)
            .or_insert_with(|| MergeState::new(config, now));
        let applied = state.apply(offset, record, now);
        self.metrics
            .segment_overflow
            .inc_by(state.take_overflowed_events());
        match applied {
            Applied::Late(kind, n) => self
                .metrics
                .late
                .with_label_values(&[kind.as_str()])
                .inc_by(n),
            Applied::Watermark => self.close(q, now).await?,
            Applied::Folded | Applied::Replayed => {}
        }
        Ok(())
    }

    /// Emits the windows the watermark of partials partition `q` closes.
    async fn close(&mut self, q: i32, now: i64) -> Result<()> {
        let Some(state) = self.states.get_mut(&q) else {
            return Ok(());
        };
        let closed = state.close(now);
        if closed.is_empty() {
            return Ok(());
        }
        let lateness = self.config.lateness_ms;
        for record in finalize(&closed) {
            let topic = self.topic(record.kind).to_owned();
            let delivery = send(self.producer, &topic, &record.key, &record.value, None).await?;
            self.pending.push(delivery);
            self.metrics
                .produced
                .with_label_values(&[record.kind.as_str()])
                .inc();
            let delay = now - (record.window_end + lateness);
            self.metrics
                .latency
                .with_label_values(&[record.kind.as_str()])
                .observe(delay.max(0) as f64 / 1000.0);
        }
        Ok(())
    }

    /// Waits for every emitted result, then commits each partition's safe
    /// offset with its checkpoint.
    async fn commit(&mut self, mode: CommitMode) -> Result<()> {
        if self.config.idle_timeout_ms.is_some() {
            let partitions: Vec<i32> = self.states.keys().copied().collect();
            for q in partitions {
                self.close(q, now_ms()).await?;
            }
        }
        for delivery in std::mem::take(&mut self.pending) {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => return Err(ProcessorError::Delivery(e.to_string())),
                Err(_) => return Err(ProcessorError::Delivery("delivery canceled".into())),
            }
        }
        let mut tpl = TopicPartitionList::new();
        let mut changed = Vec::new();
        for (&q, state) in &self.states {
            let Some(offset) = state.commit_offset() else {
                continue;
            };
            let metadata = serde_json::to_string(&state.checkpoint())?;
            if self.committed.get(&q) == Some(&(offset, metadata.clone())) {
                continue;
            }
            tpl.add_partition_offset(&self.args.partials_topic, q, Offset::Offset(offset))
                .map_err(ProcessorError::kafka("building the offset list"))?;
            if let Some(mut elem) = tpl.find_partition(&self.args.partials_topic, q) {
                elem.set_metadata(&metadata);
            }
            changed.push((q, (offset, metadata)));
        }
        let watermark = self.states.values().filter_map(MergeState::watermark).min();
        if let Some(w) = watermark {
            self.metrics.watermark.set(w as f64 / 1000.0);
        }
        let open: usize = self.states.values().map(MergeState::open_windows).sum();
        self.metrics.open_windows.set(open as i64);
        if changed.is_empty() {
            return Ok(());
        }
        match block_in_place(|| self.consumer.commit(&tpl, mode)) {
            Ok(()) => self.committed.extend(changed),
            Err(e) => tracing::warn!(error = %e, "stage 2: offset commit failed; will retry"),
        }
        Ok(())
    }
}

/// Runs stage 2 until `shutdown` turns true, then commits and leaves.
pub async fn run(
    args: Arc<Args>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<()> {
    let group = format!("{}-merge", args.group_id);
    let consumer: StreamConsumer<Stage2Context> = consumer_config(&args.bootstrap_servers, &group)
        .create_with_context(Stage2Context::new())
        .map_err(ProcessorError::kafka("creating the stage 2 consumer"))?;
    let producer = idempotent_producer(&args.bootstrap_servers)?;
    let input_partitions = partition_count(consumer.client(), &args.input_topic)?;
    partition_count(consumer.client(), &args.partials_topic)?;
    let config = args.merge_config(input_partitions)?;
    consumer
        .subscribe(&[&args.partials_topic])
        .map_err(ProcessorError::kafka("subscribing to the partials topic"))?;
    tracing::info!(%group, input_partitions, "stage 2 running");

    let mut stage = Stage2 {
        args: &args,
        metrics: &metrics,
        config,
        consumer: &consumer,
        producer: &producer,
        states: BTreeMap::new(),
        pending: Vec::new(),
        committed: BTreeMap::new(),
    };
    let mut ticker = tokio::time::interval(Duration::from_millis(args.flush_interval_ms.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = consumer.stream();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = ticker.tick() => {
                stage.handle_changes()?;
                stage.commit(CommitMode::Async).await?;
            }
            next = stream.next() => match next {
                None => break,
                Some(Err(e)) => tracing::warn!(error = %e, "stage 2: consume error"),
                Some(Ok(m)) => {
                    stage.handle_changes()?;
                    stage.apply(m.partition(), m.offset(), m.payload()).await?;
                }
            },
        }
    }
    stage.handle_changes()?;
    stage.commit(CommitMode::Sync).await?;
    drop(stream);
    consumer.unsubscribe();
    tracing::info!("stage 2 stopped");
    Ok(())
}
