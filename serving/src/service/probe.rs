//! Every few seconds: the output topics' lag (records not yet in Redis),
//! the processor's lag on the input topic and the input's rate, and the
//! write rate; whether Kafka answers at all.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::health::Health;
use super::metrics::Metrics;
use shopstream_common::shutdown::Shutdown;

pub const INTERVAL: Duration = Duration::from_secs(3);
const CALL_TIMEOUT: Duration = Duration::from_secs(5);

pub struct Probe {
    pub serving: BaseConsumer,
    pub processor: BaseConsumer,
    pub output_topics: Vec<String>,
    pub input_topic: String,
}

/// Sum over partitions of (end − committed); a partition without a commit
/// counts from its start.
fn lag(
    consumer: &BaseConsumer,
    topics: &[String],
) -> Result<(i64, i64), rdkafka::error::KafkaError> {
    let mut ends = Vec::new();
    let mut list = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), CALL_TIMEOUT)?;
        for meta in metadata.topics() {
            for partition in meta.partitions() {
                let (low, high) = consumer.fetch_watermarks(topic, partition.id(), CALL_TIMEOUT)?;
                ends.push((topic.clone(), partition.id(), low, high));
                list.add_partition(topic, partition.id());
            }
        }
    }
    let committed = consumer.committed_offsets(list, CALL_TIMEOUT)?;
    let mut lag = 0i64;
    let mut end_sum = 0i64;
    for (topic, partition, low, high) in ends {
        end_sum += high;
        let from = match committed
            .find_partition(&topic, partition)
            .map(|p| p.offset())
        {
            Some(Offset::Offset(offset)) => offset.max(low),
            _ => low,
        };
        lag += (high - from).max(0);
    }
    Ok((lag, end_sum))
}

pub struct Reading {
    pub lag: i64,
    pub input_lag: i64,
    pub input_end: i64,
}

impl Probe {
    fn read(&self) -> Result<Reading, rdkafka::error::KafkaError> {
        let (lag, _) = lag(&self.serving, &self.output_topics)?;
        let (input_lag, input_end) = lag_of(&self.processor, &self.input_topic)?;
        Ok(Reading {
            lag,
            input_lag,
            input_end,
        })
    }
}

fn lag_of(consumer: &BaseConsumer, topic: &str) -> Result<(i64, i64), rdkafka::error::KafkaError> {
    lag(consumer, &[topic.to_owned()])
}

/// Runs until shutdown.
pub async fn run(probe: Probe, health: Arc<Health>, metrics: Metrics, shutdown: Shutdown) {
    let probe = Arc::new(probe);
    let mut previous: Option<(Instant, i64, u64)> = None;
    loop {
        let reading = {
            let probe = Arc::clone(&probe);
            tokio::task::spawn_blocking(move || probe.read()).await
        };
        let now = Instant::now();
        let written = metrics.records_written();
        match reading {
            Ok(Ok(reading)) => {
                health.kafka_ok();
                metrics.lag_records.set(reading.lag);
                metrics.pipeline_input_lag_records.set(reading.input_lag);
                let rates = previous.map(|(at, input_end, records)| {
                    let seconds = now.duration_since(at).as_secs_f64().max(0.001);
                    (
                        (reading.input_end - input_end).max(0) as f64 / seconds,
                        written.saturating_sub(records) as f64 / seconds,
                    )
                });
                if let Some((input_rate, _)) = rates {
                    metrics
                        .pipeline_input_events_per_second
                        .set(input_rate.round() as i64);
                }
                health.progress(|p| {
                    p.records_written_total = written;
                    p.lag_records = Some(reading.lag);
                    p.pipeline_input_lag_records = Some(reading.input_lag);
                    if let Some((input_rate, write_rate)) = rates {
                        p.pipeline_input_events_per_second = Some(round1(input_rate));
                        p.writes_per_second = round1(write_rate);
                    }
                });
                previous = Some((now, reading.input_end, written));
            }
            Ok(Err(e)) => {
                metrics.kafka_errors.inc();
                tracing::warn!(error = %e, "reading Kafka offsets failed");
                health.kafka_failed(&e);
                health.progress(|p| p.records_written_total = written);
            }
            Err(e) => tracing::warn!(error = %e, "the offsets probe panicked"),
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            () = shutdown.triggered() => return,
        }
    }
}

fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}
