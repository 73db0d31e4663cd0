use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::AdminClient;
use rdkafka::bindings::rd_kafka_OffsetSpec_t as OffsetSpec;
use rdkafka::client::{Client, DefaultClientContext};

use super::KafkaAdmin;
use super::group_offsets::committed_offsets;
use super::oldest_record_probe::OldestRecordProbe;
use super::topic_queries::{TopicState, describe_topics, list_offsets};
use crate::crd::PartitionLag;
use crate::error::{Error, Result};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One measurement of the processor group against the input topic.
#[derive(Clone, Debug, PartialEq)]
pub struct LagSample {
    pub partitions: Vec<PartitionLag>,
    pub total_lag: i64,
    /// Age of the oldest record not consumed yet; 0 when caught up; `None`
    /// when it could not be read within the probe budget.
    pub lag_seconds: Option<f64>,
    /// Active members of the consumer group, as the group coordinator sees them.
    pub group_members: usize,
    pub offsets: OffsetObservation,
}

/// Log-end offsets summed over topics at one instant; two of them give rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OffsetObservation {
    pub at: Instant,
    pub input_end: i64,
    pub output_end: i64,
}

/// Input events/s and output records/s between two observations; `None`
/// when they are too close together to mean anything.
pub fn rate_between(earlier: &OffsetObservation, later: &OffsetObservation) -> Option<(f64, f64)> {
    let seconds = later.at.checked_duration_since(earlier.at)?.as_secs_f64();
    if seconds < 1.0 {
        return None;
    }
    let per_second = |from: i64, to: i64| ((to - from).max(0) as f64) / seconds;
    Some((
        per_second(earlier.input_end, later.input_end),
        per_second(earlier.output_end, later.output_end),
    ))
}

/// Rates of one pipeline across reconciles. Reconciles can come close
/// together (a spec change right after a refresh); then the last rates stay
/// in place rather than vanishing from the status.
#[derive(Clone, Debug, PartialEq)]
pub struct RateTracker {
    last: OffsetObservation,
    rates: Option<(f64, f64)>,
}

impl RateTracker {
    pub fn new(first: OffsetObservation) -> Self {
        Self {
            last: first,
            rates: None,
        }
    }

    /// Records an observation and returns `(input/s, output/s)`.
    pub fn observe(&mut self, now: OffsetObservation) -> Option<(f64, f64)> {
        if let Some(rates) = rate_between(&self.last, &now) {
            self.last = now;
            self.rates = Some(rates);
        }
        self.rates
    }
}

/// Measures lag and throughput of any consumer group of one cluster without
/// joining it: committed offsets come from the group coordinator (admin
/// API), end offsets from the partition leaders. One per cluster, shared by
/// every pipeline, so 1,000 pipelines cost two Kafka clients, not 1,000.
pub struct LagSampler {
    /// The cluster's admin client: every offset and group question is an
    /// admin request, so the topic reconciles' client answers them too, and
    /// a separate client would only add its threads, connections and
    /// buffers. librdkafka handles are thread-safe, so concurrent reconciles
    /// share it without a lock.
    admin: Arc<AdminClient<DefaultClientContext>>,
    /// Reads the oldest unconsumed records, for `lagSeconds`.
    probe: Arc<OldestRecordProbe>,
}

/// What to measure for one pipeline.
#[derive(Clone, Debug)]
pub struct LagQuery {
    pub group: String,
    pub input_topic: String,
    /// Output topics and their declared partition counts; only their end
    /// offsets are read (for the output rate).
    pub output_topics: Vec<(String, i32)>,
}

impl LagSampler {
    /// A sampler with its own admin client.
    pub fn connect(bootstrap_servers: &str) -> Result<Self> {
        Self::sharing(&KafkaAdmin::connect(bootstrap_servers)?, bootstrap_servers)
    }

    /// A sampler asking through `admin`, the cluster's admin client.
    pub fn sharing(admin: &KafkaAdmin, bootstrap_servers: &str) -> Result<Self> {
        Ok(Self {
            admin: admin.client(),
            probe: Arc::new(OldestRecordProbe::connect(bootstrap_servers)?),
        })
    }

    pub async fn sample(&self, query: LagQuery) -> Result<LagSample> {
        let admin = self.admin.clone();
        let probe = self.probe.clone();
        // librdkafka's offset and metadata calls block.
        tokio::task::spawn_blocking(move || sample_blocking(admin.inner(), &probe, &query))
            .await
            .map_err(|e| Error::Kafka(format!("lag task failed: {e}")))?
    }
}

fn sample_blocking(
    client: &Client<DefaultClientContext>,
    probe: &OldestRecordProbe,
    query: &LagQuery,
) -> Result<LagSample> {
    let input_topic = query.input_topic.as_str();
    // The output topics are described too, although only their offsets are
    // read: the reply refreshes the client's cached partition leaders of
    // all these topics, which ListOffsets below then finds without a
    // metadata request of its own (one round trip for all of them).
    let mut described: Vec<String> = vec![query.input_topic.clone()];
    described.extend(query.output_topics.iter().map(|(topic, _)| topic.clone()));
    let topics = describe_topics(client, &described, REQUEST_TIMEOUT)?;
    let input_partitions = match topics.get(input_topic) {
        Some(TopicState::Exists(topic)) if topic.partitions > 0 => topic.partitions,
        Some(TopicState::Unreadable(reason)) => {
            return Err(Error::Kafka(format!(
                "cannot describe input topic {input_topic}: {reason}"
            )));
        }
        _ => {
            return Err(Error::Kafka(format!(
                "input topic {input_topic} does not exist"
            )));
        }
    };

    let committed = committed_offsets(
        client,
        &query.group,
        input_topic,
        input_partitions,
        REQUEST_TIMEOUT,
    )?;

    let mut wanted: Vec<(&str, i32)> = (0..input_partitions).map(|p| (input_topic, p)).collect();
    for (topic, count) in &query.output_topics {
        wanted.extend((0..*count).map(|p| (topic.as_str(), p)));
    }
    let ends = list_offsets(
        client,
        &wanted,
        OffsetSpec::RD_KAFKA_OFFSET_SPEC_LATEST,
        REQUEST_TIMEOUT,
    )?;
    let never_committed: Vec<(&str, i32)> = committed
        .iter()
        .filter(|(_, c)| c.is_none())
        .map(|(p, _)| (input_topic, *p))
        .collect();
    let starts = if never_committed.is_empty() {
        HashMap::new()
    } else {
        list_offsets(
            client,
            &never_committed,
            OffsetSpec::RD_KAFKA_OFFSET_SPEC_EARLIEST,
            REQUEST_TIMEOUT,
        )?
    };

    let mut partitions = Vec::new();
    let mut input_end = 0;
    let mut unconsumed = HashMap::new();
    for (&p, &committed_offset) in &committed {
        let key = (input_topic.to_string(), p);
        let Some(&high) = ends.get(&key) else {
            return Err(Error::Kafka(format!(
                "no end offset for {input_topic}[{p}]"
            )));
        };
        input_end += high;
        // Without a commit the group would start from the earliest retained
        // record, so the whole retained backlog counts as lag.
        let low = starts.get(&key).copied().unwrap_or(0);
        let next = committed_offset.unwrap_or(low);
        let lag = (high - next).max(0);
        if lag > 0 {
            unconsumed.insert(p, next);
        }
        partitions.push(PartitionLag {
            partition: p,
            log_end_offset: high,
            committed_offset,
            lag,
        });
    }
    let output_end = query
        .output_topics
        .iter()
        .flat_map(|(topic, count)| (0..*count).map(move |p| (topic.clone(), p)))
        .filter_map(|key| ends.get(&key))
        .sum();

    let group_members = client
        .fetch_group_list(Some(&query.group), REQUEST_TIMEOUT)
        .map_err(|e| Error::Kafka(format!("cannot describe the consumer group: {e}")))?
        .groups()
        .first()
        .map(|g| g.members().len())
        .unwrap_or(0);

    let lag_seconds = probe.oldest_age(input_topic, &unconsumed);
    Ok(LagSample {
        total_lag: partitions.iter().map(|p| p.lag).sum(),
        partitions,
        lag_seconds,
        group_members,
        offsets: OffsetObservation {
            at: Instant::now(),
            input_end,
            output_end,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_come_from_offset_deltas() {
        let t0 = Instant::now();
        let a = OffsetObservation {
            at: t0,
            input_end: 1000,
            output_end: 10,
        };
        let b = OffsetObservation {
            at: t0 + Duration::from_secs(10),
            input_end: 1500,
            output_end: 60,
        };
        assert_eq!(rate_between(&a, &b), Some((50.0, 5.0)));
    }

    #[test]
    fn tracker_keeps_rates_across_close_observations() {
        let t0 = Instant::now();
        let at = |secs: u64, input: i64| OffsetObservation {
            at: t0 + Duration::from_millis(secs),
            input_end: input,
            output_end: 0,
        };
        let mut tracker = RateTracker::new(at(0, 0));
        assert_eq!(tracker.observe(at(200, 10)), None);
        assert_eq!(tracker.observe(at(2000, 100)), Some((50.0, 0.0)));
        assert_eq!(tracker.observe(at(2100, 500)), Some((50.0, 0.0)));
        assert_eq!(tracker.observe(at(4000, 300)), Some((100.0, 0.0)));
    }

    #[test]
    fn observations_too_close_give_no_rate() {
        let t0 = Instant::now();
        let a = OffsetObservation {
            at: t0,
            input_end: 0,
            output_end: 0,
        };
        let b = OffsetObservation {
            at: t0 + Duration::from_millis(200),
            ..a
        };
        assert_eq!(rate_between(&a, &b), None);
    }

    #[test]
    fn deleted_and_recreated_topics_never_give_negative_rates() {
        let t0 = Instant::now();
        let a = OffsetObservation {
            at: t0,
            input_end: 500,
            output_end: 50,
        };
        let b = OffsetObservation {
            at: t0 + Duration::from_secs(5),
            input_end: 0,
            output_end: 0,
        };
        assert_eq!(rate_between(&a, &b), Some((0.0, 0.0)));
    }
}
