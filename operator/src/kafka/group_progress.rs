//! How far a consumer group that reads whole topics has come: the serving
//! component's group over the pipeline's output topics. Its committed
//! offsets move only after Redis acknowledged a batch, so their rate is
//! the rate of records written to Redis, measured from Kafka alone (no
//! scraping of pods).

use std::collections::BTreeMap;
use std::time::Instant;

use kafka_admin::{OffsetSpec, TopicPartition};

use super::errors::from_client;
use super::lag::{LagSampler, REQUEST_TIMEOUT};
use crate::error::{Error, Result};

/// Committed and end offsets of a group, summed over its topics.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GroupProgress {
    pub at: Instant,
    /// Committed offsets; a partition never committed counts at its
    /// earliest retained offset (where the group starts reading).
    pub committed: i64,
    /// Last stable offsets (what a read_committed consumer can reach).
    pub end: i64,
}

impl GroupProgress {
    /// Records not consumed (and so not written) yet.
    pub fn lag(&self) -> i64 {
        (self.end - self.committed).max(0)
    }
}

/// Records per second the group committed between two measurements.
/// Measurements closer than a second keep the previous rate, as the
/// processor's rates do.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CommitRate {
    last: Option<(Instant, i64)>,
    rate: Option<f64>,
}

impl CommitRate {
    pub fn observe(&mut self, now: &GroupProgress) -> Option<f64> {
        match self.last {
            Some((at, committed)) => {
                let seconds = now.at.saturating_duration_since(at).as_secs_f64();
                if seconds >= 1.0 {
                    self.rate = Some((now.committed - committed).max(0) as f64 / seconds);
                    self.last = Some((now.at, now.committed));
                }
            }
            None => self.last = Some((now.at, now.committed)),
        }
        self.rate
    }
}

impl LagSampler {
    /// The group's progress over `topics` (name, partitions).
    pub async fn group_progress(
        &self,
        group: &str,
        topics: &[(String, i32)],
    ) -> Result<GroupProgress> {
        let partitions: Vec<TopicPartition> = topics
            .iter()
            .flat_map(|(topic, count)| (0..*count).map(move |p| (topic.clone(), p)))
            .collect();
        let committed_offsets = self
            .client()
            .committed_offsets(group, &partitions, REQUEST_TIMEOUT)
            .await
            .map_err(from_client)?;
        let mut committed = BTreeMap::new();
        for (partition, result) in committed_offsets {
            let commit = result.map_err(|e| {
                Error::kafka_caused_by(
                    format!(
                        "cannot read the committed offset of {}[{}] for group {group}: {e}",
                        partition.0, partition.1
                    ),
                    e,
                )
            })?;
            committed.insert(partition, commit.map(|c| c.offset));
        }
        let ends = self.offsets(&partitions, OffsetSpec::Latest).await?;
        let never: Vec<TopicPartition> = committed
            .iter()
            .filter(|(_, c)| c.is_none())
            .map(|(p, _)| p.clone())
            .collect();
        let starts = self.offsets(&never, OffsetSpec::Earliest).await?;
        let committed = committed
            .iter()
            .map(|(p, c)| c.unwrap_or_else(|| starts.get(p).copied().unwrap_or(0)))
            .sum();
        Ok(GroupProgress {
            at: Instant::now(),
            committed,
            end: ends.values().sum(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn at(start: Instant, seconds: f64, committed: i64) -> GroupProgress {
        GroupProgress {
            at: start + Duration::from_secs_f64(seconds),
            committed,
            end: committed + 5,
        }
    }

    #[test]
    fn the_rate_is_commits_per_second_between_measurements() {
        let t0 = Instant::now();
        let mut rate = CommitRate::default();
        assert_eq!(rate.observe(&at(t0, 0.0, 100)), None, "one measurement");
        assert_eq!(rate.observe(&at(t0, 2.0, 300)), Some(100.0));
        // Too close to the last one: the previous rate stays.
        assert_eq!(rate.observe(&at(t0, 2.5, 900)), Some(100.0));
        assert_eq!(rate.observe(&at(t0, 4.0, 600)), Some(150.0));
        // Offsets never go back; a reset group does not give a negative rate.
        assert_eq!(rate.observe(&at(t0, 6.0, 0)), Some(0.0));
        assert_eq!(at(t0, 0.0, 10).lag(), 5);
    }
}
