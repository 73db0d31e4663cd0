use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kafka_admin::{IsolationLevel, KafkaClient, OffsetSpec, TopicDescription, TopicPartition};

use super::KafkaAdmin;
use super::errors::from_client;
use crate::error::{Error, Result};

/// Bounds each Kafka call of a sample, retries included.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds reading the oldest unconsumed records (for `lagSeconds`); when it
/// runs out the sample has no `lagSeconds` rather than no sample at all.
const OLDEST_RECORD_BUDGET: Duration = Duration::from_secs(2);

/// One input partition, as measured: the reconcile turns it into the
/// status's `partitionLag` entry (this module knows nothing of the CRD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    pub partition: i32,
    /// Offset of the next record to be appended (the last stable offset).
    pub log_end_offset: i64,
    /// What the group committed; `None` when it never committed.
    pub committed_offset: Option<i64>,
    /// Records not consumed yet: log end minus committed offset, or the
    /// partition's whole retained backlog when nothing was committed.
    pub lag: i64,
}

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
    /// The group coordinator's state of the group: `Stable`, `Empty`,
    /// `PreparingRebalance`, `CompletingRebalance`, …
    pub group_state: String,
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
/// joining it: committed offsets come from the group coordinator, end
/// offsets from the partition leaders, the oldest unconsumed record from a
/// read-committed fetch. One per cluster, sharing the cluster's admin
/// client (and so its connections), whatever the number of pipelines.
#[derive(Clone, Debug)]
pub struct LagSampler {
    client: KafkaClient,
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

/// The processor's merge stage: its consumer group on the partials topic.
#[derive(Clone, Debug)]
pub struct MergeQuery {
    /// `<processor group>-merge`.
    pub group: String,
    pub partials_topic: String,
    pub partitions: i32,
}

/// One partials partition: its end offset (read-committed) and the merge
/// group's commit there (offset and metadata: the processor's checkpoint).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeCommit {
    pub partition: i32,
    pub end_offset: i64,
    pub committed: Option<(i64, String)>,
}

impl LagSampler {
    /// The merge group's commits, with their metadata, and the partials
    /// topic's end offsets. Partitions without an end offset (not created
    /// yet) are left out.
    pub async fn merge(&self, query: &MergeQuery) -> Result<Vec<MergeCommit>> {
        let partitions: Vec<TopicPartition> = (0..query.partitions)
            .map(|p| (query.partials_topic.clone(), p))
            .collect();
        let ends: HashMap<TopicPartition, i64> = self
            .client
            .list_offsets(
                &partitions,
                OffsetSpec::Latest,
                IsolationLevel::ReadCommitted,
                REQUEST_TIMEOUT,
            )
            .await
            .map_err(from_client)?
            .into_iter()
            .filter_map(|(partition, offset)| Some((partition, offset.ok()?)))
            .collect();
        let commits = self
            .client
            .committed_offsets(&query.group, &partitions, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        let mut out = Vec::new();
        for (key, result) in commits {
            let commit = result.map_err(|e| {
                Error::kafka_caused_by(
                    format!(
                        "cannot read the committed offset of {}[{}] for group {}: {e}",
                        key.0, key.1, query.group
                    ),
                    e,
                )
            })?;
            let Some(&end_offset) = ends.get(&key) else {
                continue;
            };
            out.push(MergeCommit {
                partition: key.1,
                end_offset,
                committed: commit.map(|c| (c.offset, c.metadata)),
            });
        }
        out.sort_by_key(|c| c.partition);
        Ok(out)
    }

    /// A sampler with its own client.
    pub fn connect(bootstrap_servers: &str) -> Result<Self> {
        Ok(Self::sharing(&KafkaAdmin::connect(
            bootstrap_servers,
            None,
        )?))
    }

    /// A sampler asking through `admin`'s connections.
    pub fn sharing(admin: &KafkaAdmin) -> Self {
        Self {
            client: admin.client().clone(),
        }
    }

    /// The client the sampler asks through (for the other measurements of
    /// this module's siblings).
    pub(super) fn client(&self) -> &KafkaClient {
        &self.client
    }

    pub async fn sample(&self, query: LagQuery) -> Result<LagSample> {
        let input_topic = query.input_topic.as_str();
        let input_partitions = self.input_partitions(&query).await?;
        let inputs: Vec<TopicPartition> = (0..input_partitions)
            .map(|p| (input_topic.to_string(), p))
            .collect();
        let committed = self.committed(&query, &inputs).await?;
        let mut wanted = inputs;
        for (topic, count) in &query.output_topics {
            wanted.extend((0..*count).map(|p| (topic.clone(), p)));
        }
        // The same end offsets the processor's read_committed consumers can
        // reach: the last stable offset, not the high watermark of open
        // transactions. Partitions that do not exist (yet) are left out.
        let ends = self.offsets(&wanted, OffsetSpec::Latest).await?;
        let never_committed: Vec<TopicPartition> = committed
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(p, _)| (input_topic.to_string(), *p))
            .collect();
        let starts = self.offsets(&never_committed, OffsetSpec::Earliest).await?;

        let (partitions, unconsumed) = partition_lags(input_topic, &committed, &ends, &starts)?;
        let input_end = partitions.iter().map(|p| p.log_end_offset).sum();
        let output_end = query
            .output_topics
            .iter()
            .flat_map(|(topic, count)| (0..*count).map(move |p| (topic.clone(), p)))
            .filter_map(|key| ends.get(&key))
            .sum();
        let group = self
            .client
            .describe_group(&query.group, REQUEST_TIMEOUT)
            .await
            .map_err(|e| {
                Error::kafka_caused_by(
                    format!(
                        "cannot describe the consumer group: {}",
                        super::errors::chain(&e)
                    ),
                    e,
                )
            })?;

        let lag_seconds = self.oldest_age(input_topic, &unconsumed).await;
        Ok(LagSample {
            total_lag: partitions.iter().map(|p| p.lag).sum(),
            partitions,
            lag_seconds,
            group_members: group.members,
            group_state: group.state,
            offsets: OffsetObservation {
                at: Instant::now(),
                input_end,
                output_end,
            },
        })
    }

    /// The input topic's partition count. The output topics are described
    /// too, although only their offsets are read: the reply tells the client
    /// their partition leaders, which ListOffsets then needs no request of
    /// its own for.
    async fn input_partitions(&self, query: &LagQuery) -> Result<i32> {
        let input_topic = query.input_topic.as_str();
        let mut described: Vec<String> = vec![query.input_topic.clone()];
        described.extend(query.output_topics.iter().map(|(topic, _)| topic.clone()));
        let topics = self
            .client
            .describe_topics(&described, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        match topics.get(input_topic) {
            Some(TopicDescription::Exists(topic)) if topic.partition_count() > 0 => {
                Ok(topic.partition_count())
            }
            Some(TopicDescription::Unreadable(reason)) => Err(Error::kafka(format!(
                "cannot describe input topic {input_topic}: {reason}"
            ))),
            _ => Err(Error::kafka(format!(
                "input topic {input_topic} does not exist"
            ))),
        }
    }

    /// The group's committed offset per input partition (`None`: never).
    async fn committed(
        &self,
        query: &LagQuery,
        inputs: &[TopicPartition],
    ) -> Result<BTreeMap<i32, Option<i64>>> {
        let committed_offsets = self
            .client
            .committed_offsets(&query.group, inputs, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        let mut committed = BTreeMap::new();
        for ((topic, partition), result) in committed_offsets {
            let commit = result.map_err(|e| {
                Error::kafka_caused_by(
                    format!(
                        "cannot read the committed offset of {topic}[{partition}] for group {}: {e}",
                        query.group
                    ),
                    e,
                )
            })?;
            committed.insert(partition, commit.map(|c| c.offset));
        }
        Ok(committed)
    }

    /// Offsets of `partitions` as a read_committed consumer sees them;
    /// partitions without one (not there yet) are left out.
    pub(super) async fn offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
    ) -> Result<HashMap<TopicPartition, i64>> {
        if partitions.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .client
            .list_offsets(
                partitions,
                spec,
                IsolationLevel::ReadCommitted,
                REQUEST_TIMEOUT,
            )
            .await
            .map_err(from_client)?
            .into_iter()
            .filter_map(|(partition, offset)| Some((partition, offset.ok()?)))
            .collect())
    }

    /// The age in seconds of the oldest committed record at the given
    /// offsets (partition → first unconsumed offset): 0 when nothing is
    /// unconsumed, `None` when no record could be read within the budget.
    async fn oldest_age(&self, topic: &str, unconsumed: &BTreeMap<i32, i64>) -> Option<f64> {
        if unconsumed.is_empty() {
            return Some(0.0);
        }
        let timestamps = match self
            .client
            .first_committed_timestamps(topic, unconsumed, OLDEST_RECORD_BUDGET)
            .await
        {
            Ok(timestamps) => timestamps,
            Err(e) => {
                tracing::debug!(topic, error = %super::errors::chain(&e), "cannot read the oldest unconsumed records");
                return None;
            }
        };
        let oldest_ms = timestamps
            .into_values()
            .filter_map(|t| t.ok().flatten())
            .min()?;
        let now_ms = chrono::Utc::now().timestamp_millis();
        Some(((now_ms - oldest_ms).max(0) as f64) / 1000.0)
    }
}

/// Each input partition's lag, and where the unconsumed records start
/// (for their age). Pure. Without a commit the group would start from the
/// earliest retained record, so the whole retained backlog counts as lag.
fn partition_lags(
    input_topic: &str,
    committed: &BTreeMap<i32, Option<i64>>,
    ends: &HashMap<TopicPartition, i64>,
    starts: &HashMap<TopicPartition, i64>,
) -> Result<(Vec<PartitionLag>, BTreeMap<i32, i64>)> {
    let mut partitions = Vec::new();
    let mut unconsumed = BTreeMap::new();
    for (&p, &committed_offset) in committed {
        let key = (input_topic.to_string(), p);
        let Some(&high) = ends.get(&key) else {
            return Err(Error::kafka(format!(
                "no end offset for {input_topic}[{p}]"
            )));
        };
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
    Ok((partitions, unconsumed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_counts_the_backlog_of_a_group_that_never_committed() {
        let t = |p: i32| ("in".to_string(), p);
        let committed = BTreeMap::from([(0, Some(90)), (1, None), (2, Some(50))]);
        let ends = HashMap::from([(t(0), 100), (t(1), 40), (t(2), 50)]);
        let starts = HashMap::from([(t(1), 10)]);
        let (partitions, unconsumed) =
            partition_lags("in", &committed, &ends, &starts).expect("every end known");
        let lags: Vec<i64> = partitions.iter().map(|p| p.lag).collect();
        assert_eq!(
            lags,
            [10, 30, 0],
            "partition 1 from its earliest retained record"
        );
        assert_eq!(unconsumed, BTreeMap::from([(0, 90), (1, 10)]));
        let missing = HashMap::from([(t(0), 100)]);
        assert!(partition_lags("in", &committed, &missing, &starts).is_err());
    }

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
