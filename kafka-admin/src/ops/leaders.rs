//! Which broker leads each partition, from recent metadata or a fresh
//! Metadata request for the topics not known recently.

use std::collections::{BTreeMap, BTreeSet};

use crate::TopicPartition;
use crate::client::KafkaClient;
use crate::error::{BrokerError, ErrorCode, Result};
use crate::retry::Deadline;

/// Where to send a request about one partition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Placement {
    Leader(i32),
    /// Not now: no leader yet, or metadata was stale; try again.
    Retry(BrokerError),
    /// The topic or partition does not exist (per metadata read during
    /// this call).
    Missing,
}

impl KafkaClient {
    /// Places each partition. `refreshed` collects the topics whose
    /// metadata was read during this call, so a partition is declared
    /// missing only on fresh information.
    pub(crate) async fn place<'a>(
        &self,
        partitions: impl Iterator<Item = &'a TopicPartition>,
        refreshed: &mut BTreeSet<String>,
        deadline: &Deadline,
    ) -> Result<BTreeMap<TopicPartition, Placement>> {
        let partitions: Vec<&TopicPartition> = partitions.collect();
        let unknown: Vec<String> = partitions
            .iter()
            .map(|(topic, _)| topic)
            .filter(|topic| self.cluster.route(topic).is_none())
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !unknown.is_empty() {
            self.cluster.metadata(&unknown, deadline).await?;
            refreshed.extend(unknown);
        }
        let mut placed = BTreeMap::new();
        for (topic, partition) in partitions {
            let placement = match self.cluster.route(topic) {
                None => Placement::Missing,
                Some(route) => match route.leaders.get(partition) {
                    Some(Some(leader)) => Placement::Leader(*leader),
                    Some(None) => {
                        Placement::Retry(BrokerError::new(ErrorCode::LEADER_NOT_AVAILABLE, None))
                    }
                    None if refreshed.contains(topic) => Placement::Missing,
                    None => {
                        // Partitions may have been added since: look again.
                        self.cluster.invalidate(topic);
                        Placement::Retry(BrokerError::new(
                            ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                            None,
                        ))
                    }
                },
            };
            placed.insert((topic.clone(), *partition), placement);
        }
        Ok(placed)
    }
}

/// The error for a partition that does not exist.
pub(crate) fn missing() -> BrokerError {
    BrokerError::new(
        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
        Some("no such topic or partition in the cluster's metadata".into()),
    )
}
