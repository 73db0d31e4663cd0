//! One run of the generator: start-up, producer tasks, signals, flush.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, Producer};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::catalogue::{Catalogue, CatalogueSpec};
use super::config::Args;
use super::event_factory::{EventFactory, FactoryOptions};
use super::malformed::MalformedKind;
use super::metrics::Metrics;
use super::producer::{self, EventProducer};
use super::rate::{RateLimiter, batch_for_rate};
use super::rng::entropy_seed;
use shopstream_common::http::{EndpointServer, Endpoints, Readiness};
use shopstream_common::shutdown::Shutdown;

/// Events built and handed over per batch when unthrottled.
const UNTHROTTLED_BATCH: u64 = 1_000;
/// The longest flush after SIGTERM/SIGINT, whatever `--flush-timeout`
/// says: Kubernetes (and the local runner, after 10 s) kills the pod
/// after its grace period, and records still undelivered after seconds
/// against a healthy broker are not coming (a deleted topic, a broker
/// down). A run that ends by itself (`--count`) waits the full timeout.
pub const STOP_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// How long to flush: `configured`, but at most [`STOP_FLUSH_LIMIT`] when
/// a signal stopped the run.
pub fn flush_timeout(configured: Duration, interrupted: bool) -> Duration {
    if interrupted {
        configured.min(STOP_FLUSH_LIMIT)
    } else {
        configured
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub expected: Option<u64>,
    pub produced: u64,
    pub acknowledged: u64,
    pub failed: u64,
    /// From the first record to the last delivery report.
    pub elapsed: Duration,
    pub interrupted: bool,
    /// Every record handed over got its delivery report in time.
    pub flushed: bool,
}

impl Summary {
    /// All records acknowledged (all `--count` of them, if given).
    pub fn success(&self) -> bool {
        self.failed == 0
            && self.flushed
            && self.acknowledged == self.produced
            && self.expected.is_none_or(|n| self.acknowledged == n)
    }

    pub fn events_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.acknowledged as f64 / secs
        } else {
            0.0
        }
    }
}

/// What every producer task shares.
struct Shared {
    factory: EventFactory,
    producer: Arc<EventProducer>,
    topic: String,
    metrics: Arc<Metrics>,
    limiter: Option<RateLimiter>,
    count: Option<u64>,
    next_sequence: AtomicU64,
    stop: AtomicBool,
}

/// Runs until `--count` events are acknowledged, or until SIGTERM/SIGINT,
/// then flushes what is queued.
pub async fn run(args: Args) -> anyhow::Result<Summary> {
    let (factory, seed) = event_factory(&args)?;
    let metrics = Arc::new(Metrics::new().context("registering metrics")?);
    metrics.target_rate.set(args.rate().unwrap_or(0.0));
    let readiness = Readiness::new("waiting for the topic's metadata");
    let http_task = EndpointServer::bind(args.metrics_addr)
        .await
        .with_context(|| format!("binding the metrics address {}", args.metrics_addr))?
        .spawn(Endpoints::new(metrics.clone(), readiness.clone()));

    let producer =
        Arc::new(producer::create(&args, Arc::clone(&metrics)).context("creating the producer")?);
    let shutdown = Shutdown::new();
    let signals = shutdown.on_signals();
    let partitions = tokio::select! {
        found = producer::wait_for_topic(&producer, &args.topic, args.startup_timeout) => found?,
        () = shutdown.triggered() => {
            tracing::info!("stopped before the topic was available");
            signals.abort();
            http_task.abort();
            return Ok(Summary {
                expected: args.count, produced: 0, acknowledged: 0, failed: 0,
                elapsed: Duration::ZERO, interrupted: true, flushed: true,
            });
        }
    };
    readiness.set(true);
    metrics.ready.set(1);

    let tasks = announce(&args, &factory, seed, partitions);
    let shared = Arc::new(Shared {
        factory,
        producer: Arc::clone(&producer),
        topic: args.topic.clone(),
        metrics: Arc::clone(&metrics),
        limiter: args.rate().map(RateLimiter::new),
        count: args.count,
        next_sequence: AtomicU64::new(0),
        stop: AtomicBool::new(false),
    });

    let started = Instant::now();
    let sampler = tokio::spawn(sample(Arc::clone(&producer), Arc::clone(&metrics)));
    let ended = produce_until_done(&shared, tasks, &shutdown).await;
    let flushed = flush(
        &producer,
        flush_timeout(args.flush_timeout, ended.interrupted),
    )
    .await;
    let elapsed = started.elapsed();
    sampler.abort();
    metrics
        .queue_depth
        .set(i64::from(producer.in_flight_count()));
    let context = producer.context();
    let summary = Summary {
        expected: args.count,
        produced: metrics.produced.get(),
        acknowledged: context.acknowledged(),
        failed: context.failed(),
        elapsed,
        interrupted: ended.interrupted,
        flushed,
    };
    http_task.abort();
    signals.abort();
    match ended.task_error {
        Some(e) => Err(e),
        None => Ok(summary),
    }
}

/// How many producer tasks to run, logged with what the run does. Idle
/// (rate 0): none; the generator stays up and ready until it is stopped.
fn announce(args: &Args, factory: &EventFactory, seed: u64, partitions: usize) -> usize {
    let tasks = if args.idle() {
        0
    } else {
        args.producer_tasks()
    };
    tracing::info!(
        topic = %args.topic,
        partitions,
        run_id = format!("{:016x}", factory.run_id()),
        seed,
        seeded = args.seed.is_some(),
        schema = ?args.schema,
        unthrottled = args.unthrottled,
        rate = args.rate().unwrap_or(0.0),
        idle = args.idle(),
        count = args.count,
        producer_tasks = tasks,
        "producing"
    );
    tasks
}

/// The factory of this run's events and its seed (given or random), after
/// the checks of the options that cannot run together.
fn event_factory(args: &Args) -> anyhow::Result<(EventFactory, u64)> {
    args.check().map_err(anyhow::Error::msg)?;
    let clock = args.clock().map_err(anyhow::Error::msg)?;
    args.check_schema().map_err(anyhow::Error::msg)?;
    let spec = match &args.catalogue {
        Some(path) => CatalogueSpec::from_path(path)?,
        None => CatalogueSpec::builtin(),
    };
    let seed = args.seed.unwrap_or_else(entropy_seed);
    let factory = EventFactory::new(
        Catalogue::new(spec),
        FactoryOptions {
            seed,
            clock,
            out_of_order_share: args.out_of_order_share,
            out_of_order_max: args.out_of_order_max(),
            malformed_share: args.malformed_share,
            schema: args.schema,
        },
    );
    Ok((factory, seed))
}

/// How producing ended.
struct Ended {
    /// Stopped by a signal (not by reaching `--count`).
    interrupted: bool,
    /// The first producer task's failure: the run fails with it.
    task_error: Option<anyhow::Error>,
}

/// Runs `tasks` producer tasks until they finish (`--count` reached), one
/// fails (then the others stop), or a shutdown is asked for (then they
/// stop handing over new events). With no task (idle), waits for the
/// shutdown.
async fn produce_until_done(shared: &Arc<Shared>, tasks: usize, shutdown: &Shutdown) -> Ended {
    let mut workers = JoinSet::new();
    for _ in 0..tasks {
        workers.spawn(produce(Arc::clone(shared)));
    }
    let mut ended = Ended {
        interrupted: false,
        task_error: None,
    };
    loop {
        if workers.is_empty() && (ended.interrupted || tasks > 0) {
            return ended;
        }
        tokio::select! {
            joined = workers.join_next(), if !workers.is_empty() => match joined {
                None => return ended,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    tracing::error!(error = %format!("{e:#}"), "a producer task failed; stopping");
                    shared.stop.store(true, Ordering::Release);
                    ended.task_error.get_or_insert(e);
                }
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a producer task panicked; stopping");
                    shared.stop.store(true, Ordering::Release);
                    ended.task_error.get_or_insert(anyhow::anyhow!("producer task: {e}"));
                }
            },
            () = shutdown.triggered(), if !ended.interrupted => {
                tracing::info!("stopping: no new events, flushing what is queued");
                ended.interrupted = true;
                shared.stop.store(true, Ordering::Release);
            }
        }
    }
}

/// Waits (at most `timeout`) for the delivery report of every record handed
/// over; whether all came.
async fn flush(producer: &Arc<EventProducer>, timeout: Duration) -> bool {
    let in_flight = producer.in_flight_count();
    tracing::info!(in_flight, "waiting for outstanding delivery reports");
    let flushing = Arc::clone(producer);
    match tokio::task::spawn_blocking(move || flushing.flush(timeout)).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::error!(error = %e, remaining = producer.in_flight_count(), "flush did not complete");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "flush task failed");
            false
        }
    }
}

/// One producer task: claims batches of sequence numbers, waits for the
/// rate limiter, builds and hands over the records.
async fn produce(shared: Arc<Shared>) -> anyhow::Result<()> {
    let batch = match &shared.limiter {
        Some(limiter) => batch_for_rate(limiter.rate()),
        None => UNTHROTTLED_BATCH,
    };
    let malformed_counters =
        MalformedKind::ALL.map(|kind| shared.metrics.malformed.with_label_values(&[kind.as_str()]));
    let mut payload = Vec::with_capacity(1024);
    while !shared.stop.load(Ordering::Acquire) {
        let first = shared.next_sequence.fetch_add(batch, Ordering::AcqRel);
        let end = match shared.count {
            Some(count) if first >= count => return Ok(()),
            Some(count) => first.saturating_add(batch).min(count),
            None => first.saturating_add(batch),
        };
        if let Some(limiter) = &shared.limiter {
            limiter.acquire(end - first).await;
        }
        let mut out_of_order = 0;
        for sequence in first..end {
            let (key, info) = shared.factory.write_record(sequence, &mut payload);
            if !send(&shared, sequence, &key, &payload).await? {
                // Stopped while the queue was full: this record and the
                // rest of the batch were never handed over.
                shared.metrics.produced.inc_by(sequence - first);
                shared.metrics.out_of_order.inc_by(out_of_order);
                return Ok(());
            }
            out_of_order += u64::from(info.out_of_order);
            if let Some(kind) = info.malformed {
                malformed_counters[kind as usize].inc();
            }
        }
        shared.metrics.produced.inc_by(end - first);
        shared.metrics.out_of_order.inc_by(out_of_order);
        // Long unthrottled batches must not starve the HTTP server or signals.
        tokio::task::yield_now().await;
    }
    Ok(())
}

/// Hands one record to the producer, waiting while its queue is full;
/// false if the run was stopped meanwhile (a full queue does not drain
/// while the broker is down or the topic deleted, and would hold the stop).
async fn send(shared: &Shared, sequence: u64, key: &str, payload: &[u8]) -> anyhow::Result<bool> {
    let opaque = usize::try_from(sequence).unwrap_or(usize::MAX);
    let mut record = BaseRecord::with_opaque_to(&shared.topic, opaque)
        .key(key)
        .payload(payload);
    loop {
        match shared.producer.send(record) {
            Ok(()) => return Ok(true),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                if shared.stop.load(Ordering::Acquire) {
                    return Ok(false);
                }
                record = returned;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err((e, _)) => {
                anyhow::bail!("producing event {sequence} (key {key}) failed: {e}")
            }
        }
    }
}

/// Updates the rate and queue-depth gauges every second.
async fn sample(producer: Arc<EventProducer>, metrics: Arc<Metrics>) {
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = (Instant::now(), producer.context().acknowledged());
    loop {
        ticker.tick().await;
        let now = (Instant::now(), producer.context().acknowledged());
        let secs = now.0.duration_since(last.0).as_secs_f64();
        if secs > 0.0 {
            metrics.rate.set(now.1.saturating_sub(last.1) as f64 / secs);
        }
        metrics
            .queue_depth
            .set(i64::from(producer.in_flight_count()));
        tracing::debug!(
            acknowledged = now.1,
            rate = metrics.rate.get(),
            queue = metrics.queue_depth.get(),
            "progress"
        );
        last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_caps_the_flush_a_finished_run_does_not() {
        let configured = Duration::from_secs(60);
        assert_eq!(flush_timeout(configured, false), configured);
        assert_eq!(flush_timeout(configured, true), STOP_FLUSH_LIMIT);
        let short = Duration::from_secs(1);
        assert_eq!(flush_timeout(short, true), short);
    }
}
