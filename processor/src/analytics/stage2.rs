//! Stage 2, Kafka side: consume the partials topic as group `<group>-merge`
//! (read_committed), merge per partials partition, emit final results when
//! the watermark passes a window's end, and commit offsets only up to the
//! earliest partial of a still-open window, with the checkpoint
//! (`checkpoint.rs`) as the commit's metadata. Every commit's outcome is
//! checked per partition; results that cannot be delivered make it re-read
//! from the committed offsets instead of stopping.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::Message;
use rdkafka::producer::{DeliveryFuture, FutureProducer, Producer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::block_in_place;

use super::alerts::{AlertRecord, AlertRules, SlowWindows, judge_counts};
use super::config::Args;
use super::error::{ProcessorError, Result};
use super::kafka::{
    AssignmentChange, CALL_TIMEOUT, Stage2Context, base_config, consumer_config,
    idempotent_producer, send,
};
use super::merge::{Applied, Checkpoint, Closed, MergeConfig, MergeState};
use super::metrics::Metrics;
use super::output::finalize;
use super::partial::{Kind, PartialsRecord};
use super::stage1::{partition_count, partition_count_within};
use super::stopping::{FINAL_COMMIT, Stopping};
use super::user_history::Histories;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// How often the input topic's partition count is re-read. It must be well
/// below the allowed lateness: events written to a new partition before
/// stage 2 knows it could miss windows it closes meanwhile.
const PARTITION_REFRESH: Duration = Duration::from_secs(1);

struct Stage2<'a> {
    args: &'a Args,
    metrics: &'a Metrics,
    config: MergeConfig,
    consumer: &'a StreamConsumer<Stage2Context>,
    producer: &'a FutureProducer,
    states: BTreeMap<i32, MergeState>,
    pending: Vec<DeliveryFuture>,
    committed: BTreeMap<i32, (i64, String)>,
    /// Bound of the open windows' estimated size, bytes (`memory.rs`).
    bound: usize,
    refreshed: Instant,
    /// Users' histories (`user_history.rs`), when the user-history topic
    /// is configured.
    histories: Histories,
    /// Client settings of the user-history read-back.
    base: rdkafka::config::ClientConfig,
    group: String,
    /// What raises an alert (`alerts.rs`), with an alerts topic.
    rules: Option<AlertRules>,
    slow: SlowWindows,
}

impl Stage2<'_> {
    fn topic(&self, kind: Kind) -> &str {
        match kind {
            Kind::Sales => &self.args.sales_topic,
            Kind::Segments => &self.args.segments_topic,
            Kind::Hourly => &self.args.hourly_topic,
            Kind::TopProducts => &self.args.top_products_topic,
            Kind::Users => self.args.user_history().unwrap_or_default(),
            Kind::Alerts => self.args.alerts().unwrap_or_default(),
        }
    }

    /// Rebuilds the state of `partitions` from their committed checkpoints;
    /// returns where each must be read from.
    fn restore(&mut self, partitions: &[i32]) -> Result<Vec<(i32, Offset)>> {
        let mut tpl = TopicPartitionList::new();
        for &q in partitions {
            tpl.add_partition(&self.args.partials_topic, q);
        }
        let committed = block_in_place(|| self.consumer.committed_offsets(tpl, CALL_TIMEOUT))
            .map_err(ProcessorError::kafka("fetching committed offsets"))?;
        let mut positions = Vec::new();
        for elem in committed.elements() {
            let checkpoint = Checkpoint::decode(elem.metadata());
            tracing::info!(
                partition = elem.partition(),
                offset = ?elem.offset(),
                watermark = ?checkpoint.global,
                "stage 2: partition restored"
            );
            self.states.insert(
                elem.partition(),
                MergeState::restore(self.config, &checkpoint),
            );
            self.committed.remove(&elem.partition());
            let from = match elem.offset() {
                Offset::Offset(o) => Offset::Offset(o),
                _ => Offset::Beginning,
            };
            positions.push((elem.partition(), from));
        }
        self.reload_histories()?;
        Ok(positions)
    }

    /// Reads the user histories back from their topic: what every window
    /// already final (and all written after the last commit) contributed.
    /// Histories known here and holding more windows are kept.
    fn reload_histories(&mut self) -> Result<()> {
        let Some(topic) = self.args.user_history() else {
            return Ok(());
        };
        let loaded = block_in_place(|| super::history_load::load(&self.base, &self.group, topic))?;
        for (user, history) in loaded {
            self.histories.learn(user, history);
        }
        self.metrics
            .user_histories
            .set(i64::try_from(self.histories.len()).unwrap_or(i64::MAX));
        Ok(())
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
                    self.restore(&partitions)?;
                }
            }
        }
        Ok(())
    }

    /// Results could not be delivered: forget everything since the last
    /// commit and re-read from the committed offsets, exactly as a restart
    /// would (re-emitted results are identical, on the same keys).
    fn rewind(&mut self) -> Result<()> {
        self.metrics.merge_rewinds.inc();
        self.pending.clear();
        let partitions: Vec<i32> = self.states.keys().copied().collect();
        self.states.clear();
        // Histories may hold windows whose records were not delivered:
        // only what the topic has counts, the rest is replayed.
        self.histories.clear();
        for (q, from) in self.restore(&partitions)? {
            block_in_place(|| {
                self.consumer
                    .seek(&self.args.partials_topic, q, from, CALL_TIMEOUT)
            })
            .map_err(ProcessorError::kafka(format!(
                "rewinding partials partition {q}"
            )))?;
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
            .or_insert_with(|| MergeState::new(config));
        let applied = state.apply(offset, record);
        self.metrics
            .segment_overflow
            .inc_by(state.take_overflowed_events());
        match applied {
            Applied::Late(Kind::Alerts, _) => {}
            Applied::Late(kind, n) => self
                .metrics
                .late
                .with_label_values(&[kind.as_str()])
                .inc_by(n),
            Applied::Watermark => {
                self.close(q, now).await?;
                self.enforce_bound(now).await?;
            }
            Applied::Folded | Applied::Replayed => {}
        }
        Ok(())
    }

    /// Emits the windows the watermark of partials partition `q` closes.
    async fn close(&mut self, q: i32, now: i64) -> Result<()> {
        let Some(state) = self.states.get_mut(&q) else {
            return Ok(());
        };
        let closed = state.close();
        self.emit(closed, now).await
    }

    async fn emit(&mut self, mut closed: Closed, now: i64) -> Result<()> {
        if closed.is_empty() {
            return Ok(());
        }
        let lateness = self.config.lateness_ms;
        let users = std::mem::take(&mut closed.users);
        let counted = std::mem::take(&mut closed.alerts);
        let mut alerts = Vec::new();
        if let Some(rules) = &self.rules {
            for w in &counted {
                for counts in w.groups.values() {
                    alerts.extend(judge_counts(rules, w.start, w.end, counts));
                }
            }
        }
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
            if let Some(rules) = &self.rules {
                let start = record.window_end - self.config.size_of(record.kind);
                let window = (start, record.window_end);
                alerts.extend(self.slow.observe(rules, record.kind, window, delay, now));
            }
        }
        self.write_alerts(alerts).await?;
        let Some(topic) = self.args.user_history().map(str::to_owned) else {
            return Ok(());
        };
        let label = Kind::Users.as_str();
        for record in self.histories.absorb(users) {
            let delivery = send(self.producer, &topic, &record.key, &record.value, None).await?;
            self.pending.push(delivery);
            self.metrics.produced.with_label_values(&[label]).inc();
            let delay = now - (record.window_end + lateness);
            self.metrics
                .latency
                .with_label_values(&[label])
                .observe(delay.max(0) as f64 / 1000.0);
        }
        self.metrics
            .user_histories
            .set(i64::try_from(self.histories.len()).unwrap_or(i64::MAX));
        Ok(())
    }

    /// Writes alerts (idempotent producer, like the results: delivered
    /// before the next commit).
    async fn write_alerts(&mut self, alerts: Vec<AlertRecord>) -> Result<()> {
        let Some(topic) = self.args.alerts().map(str::to_owned) else {
            return Ok(());
        };
        for alert in alerts {
            tracing::warn!(r#type = alert.type_, message = %alert.message, "alert");
            let value = alert.to_json();
            let delivery = send(self.producer, &topic, alert.key(), &value, None).await?;
            self.pending.push(delivery);
            self.metrics.alerts.with_label_values(&[alert.type_]).inc();
        }
        Ok(())
    }

    /// Keeps the open windows under the memory bound: closes the oldest
    /// windows of the largest state until 90 % of the bound.
    async fn enforce_bound(&mut self, now: i64) -> Result<()> {
        let total = |states: &BTreeMap<i32, MergeState>| -> usize {
            states.values().map(MergeState::bytes).sum()
        };
        let mut bytes = total(&self.states);
        self.metrics.merge_state_bytes.set(bytes as i64);
        if bytes <= self.bound {
            return Ok(());
        }
        let target = self.bound / 10 * 9;
        let before = bytes;
        let mut windows = 0;
        while bytes > target {
            let largest = self
                .states
                .iter()
                .max_by_key(|(_, s)| s.bytes())
                .map(|(&q, _)| q);
            let Some(q) = largest else { break };
            let closed = match self.states.get_mut(&q) {
                Some(state) => state.close_oldest(now),
                None => break,
            };
            if closed.is_empty() {
                break;
            }
            windows += closed.windows();
            self.emit(closed, now).await?;
            bytes = total(&self.states);
        }
        self.metrics.windows_closed_early.inc_by(windows as u64);
        self.metrics.merge_state_bytes.set(bytes as i64);
        tracing::warn!(
            before,
            after = bytes,
            bound = self.bound,
            windows,
            "stage 2 reached its memory bound: closed the oldest windows early (events for \
             them arriving later count as late); see the partitions holding the watermark back"
        );
        Ok(())
    }

    /// Learns partitions added to the input topic.
    fn refresh_input_partitions(&mut self) {
        if self.refreshed.elapsed() < PARTITION_REFRESH {
            return;
        }
        self.refreshed = Instant::now();
        let count = partition_count_within(
            self.consumer.client(),
            &self.args.input_topic,
            Duration::from_secs(5),
        );
        match count {
            Ok(n) if n > self.config.input_partitions => {
                tracing::info!(
                    from = self.config.input_partitions,
                    to = n,
                    "the input topic grew: new partitions hold the watermark until they send data"
                );
                self.config.input_partitions = n;
                for state in self.states.values_mut() {
                    state.ensure_input_partitions(n);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, "reading the input topic's partition count"),
        }
    }

    /// Waits for every emitted result. False if one failed and the state
    /// was rewound (nothing may be committed then).
    async fn settle_deliveries(&mut self) -> Result<bool> {
        let mut failure = None;
        for delivery in std::mem::take(&mut self.pending) {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => failure = Some(e.to_string()),
                Err(_) => failure = Some("delivery canceled".into()),
            }
        }
        let Some(reason) = failure else {
            return Ok(true);
        };
        if let Some((code, fatal)) = self.producer.client().fatal_error() {
            tracing::error!(?code, %fatal, "the output producer failed fatally");
            return Err(ProcessorError::Delivery(reason));
        }
        tracing::warn!(error = %reason, "results could not be delivered; re-reading from the last commit");
        self.rewind()?;
        Ok(false)
    }

    /// Takes the outcomes the broker reported for earlier commits.
    fn record_commit_outcomes(&mut self) {
        for outcome in self.consumer.context().take_commits() {
            match outcome.error {
                None => {
                    if self.states.contains_key(&outcome.partition) {
                        self.committed
                            .insert(outcome.partition, (outcome.offset, outcome.metadata));
                    }
                }
                Some(error) => {
                    self.metrics.commit_failures.inc();
                    tracing::warn!(
                        partition = outcome.partition,
                        offset = outcome.offset,
                        %error,
                        "stage 2: offset commit rejected; retrying"
                    );
                }
            }
        }
    }

    /// Waits for every emitted result, then commits each partition's safe
    /// offset with its checkpoint.
    async fn commit(&mut self, mode: CommitMode) -> Result<()> {
        let now = now_ms();
        self.enforce_bound(now).await?;
        if !self.settle_deliveries().await? {
            return Ok(());
        }
        self.record_commit_outcomes();
        if let Ok(positions) = self.consumer.position() {
            for elem in positions.elements() {
                if let (Offset::Offset(o), Some(state)) =
                    (elem.offset(), self.states.get_mut(&elem.partition()))
                {
                    state.advance_position(o);
                }
            }
        }
        let mut tpl = TopicPartitionList::new();
        let mut changed = Vec::new();
        let mut holding = 0;
        for (&q, state) in &self.states {
            let checkpoint = state.checkpoint();
            holding = holding.max(checkpoint.hold.holding_count);
            let Some(offset) = state.commit_offset() else {
                continue;
            };
            let metadata = checkpoint.encode();
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
        let m = self.metrics;
        if let Some(w) = self.states.values().filter_map(MergeState::watermark).min() {
            m.watermark.set(w as f64 / 1000.0);
        }
        let open: usize = self.states.values().map(MergeState::open_windows).sum();
        m.open_windows.set(open as i64);
        m.input_partitions
            .set(i64::from(self.config.input_partitions));
        m.watermark_holding.set(holding as i64);
        m.merge_state_bound_bytes.set(self.bound as i64);
        if changed.is_empty() {
            return Ok(());
        }
        match mode {
            // Outcomes arrive in the consumer context's commit callback.
            CommitMode::Async => {
                if let Err(e) = block_in_place(|| self.consumer.commit(&tpl, CommitMode::Async)) {
                    m.commit_failures.inc();
                    tracing::warn!(error = %e, "stage 2: offset commit failed; will retry");
                }
            }
            CommitMode::Sync => match block_in_place(|| self.consumer.commit(&tpl, mode)) {
                Ok(()) => self.committed.extend(changed),
                Err(e) => {
                    m.commit_failures.inc();
                    tracing::error!(
                        error = %e,
                        "stage 2: final offset commit failed; the next owner re-reads from the \
                         previous commit"
                    );
                }
            },
        }
        Ok(())
    }
}

/// Runs stage 2 until `shutdown` turns true, then commits and leaves.
pub async fn run(args: Arc<Args>, metrics: Arc<Metrics>, stopping: Stopping) -> Result<()> {
    let mut shutdown = stopping.subscribe();
    let group = shopstream_common::contract::processor::kafka_names::merge_group(&args.group_id);
    let context = Stage2Context {
        metrics: Some(Arc::clone(&metrics)),
        partials_topic: args.partials_topic.clone(),
        ..Stage2Context::new()
    };
    let base = base_config(&args.bootstrap_servers, &args.kafka_security.security())?;
    let consumer: StreamConsumer<Stage2Context> = consumer_config(&base, &group)
        .set("statistics.interval.ms", "5000")
        .create_with_context(context)
        .map_err(ProcessorError::kafka("creating the stage 2 consumer"))?;
    let producer = idempotent_producer(&base, args.produce_timeout_ms)?;
    let input_partitions = partition_count(consumer.client(), &args.input_topic)?;
    partition_count(consumer.client(), &args.partials_topic)?;
    let config = args.merge_config(input_partitions)?;
    let bound = args.merge_state_bound();
    consumer
        .subscribe(&[&args.partials_topic])
        .map_err(ProcessorError::kafka("subscribing to the partials topic"))?;
    tracing::info!(%group, input_partitions, bound, "stage 2 running");

    let mut stage = Stage2 {
        args: &args,
        metrics: &metrics,
        config,
        consumer: &consumer,
        producer: &producer,
        states: BTreeMap::new(),
        pending: Vec::new(),
        committed: BTreeMap::new(),
        bound,
        refreshed: Instant::now(),
        histories: Histories::default(),
        base: base.clone(),
        group: format!("{group}-history"),
        rules: args.alert_rules(),
        slow: SlowWindows::default(),
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
                stage.refresh_input_partitions();
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
    // Results to a deleted topic or an unreachable broker are only failed
    // after the produce timeout: the last commit waits no longer than it
    // may (`stopping.rs`). Not committing is safe: the next owner re-reads
    // from the previous commit and re-emits the same results on the same
    // keys.
    let left = stopping.final_commit_left().unwrap_or(FINAL_COMMIT);
    match tokio::time::timeout(left, stage.commit(CommitMode::Sync)).await {
        Ok(committed) => committed?,
        Err(_) => tracing::warn!(
            "stage 2: results not delivered in time at shutdown; not committing (the next owner \
             re-reads from the previous commit)"
        ),
    }
    drop(stream);
    consumer.unsubscribe();
    tracing::info!("stage 2 stopped");
    Ok(())
}
