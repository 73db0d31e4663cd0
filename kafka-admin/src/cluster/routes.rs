//! Partition leaders and group coordinators, each remembered briefly.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use kafka_protocol::messages::MetadataResponse;

/// Where the partitions of one topic live.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TopicRoute {
    /// Zero when the broker's Metadata version has no topic ids.
    pub(crate) topic_id: [u8; 16],
    /// Partition → leader node (`None` while a leader is being elected).
    pub(crate) leaders: BTreeMap<i32, Option<i32>>,
}

/// Entries older than `max_age` are neither returned nor kept: each insert
/// sweeps them, so the maps hold only what was asked within `max_age`.
pub(crate) struct Routes {
    max_age: Duration,
    topics: HashMap<String, (Instant, TopicRoute)>,
    coordinators: HashMap<String, (Instant, i32)>,
}

impl Routes {
    pub(crate) fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            topics: HashMap::new(),
            coordinators: HashMap::new(),
        }
    }

    fn sweep(&mut self) {
        let max_age = self.max_age;
        self.topics.retain(|_, (at, _)| at.elapsed() < max_age);
        self.coordinators
            .retain(|_, (at, _)| at.elapsed() < max_age);
    }

    pub(crate) fn learn(&mut self, response: &MetadataResponse) {
        self.sweep();
        let now = Instant::now();
        for topic in &response.topics {
            let Some(name) = &topic.name else { continue };
            let name = name.0.to_string();
            if topic.error_code != 0 {
                self.topics.remove(&name);
                continue;
            }
            let route = TopicRoute {
                topic_id: *topic.topic_id.as_bytes(),
                leaders: topic
                    .partitions
                    .iter()
                    .map(|p| {
                        let leader = (p.leader_id.0 >= 0).then_some(p.leader_id.0);
                        (p.partition_index, leader)
                    })
                    .collect(),
            };
            self.topics.insert(name, (now, route));
        }
    }

    pub(crate) fn get(&self, topic: &str) -> Option<TopicRoute> {
        self.topics
            .get(topic)
            .filter(|(at, _)| at.elapsed() < self.max_age)
            .map(|(_, route)| route.clone())
    }

    pub(crate) fn forget(&mut self, topic: &str) {
        self.topics.remove(topic);
    }

    pub(crate) fn coordinator(&self, group: &str) -> Option<i32> {
        self.coordinators
            .get(group)
            .filter(|(at, _)| at.elapsed() < self.max_age)
            .map(|(_, node)| *node)
    }

    pub(crate) fn set_coordinator(&mut self, group: &str, node: i32) {
        self.sweep();
        self.coordinators
            .insert(group.to_string(), (Instant::now(), node));
    }

    pub(crate) fn forget_coordinator(&mut self, group: &str) {
        self.coordinators.remove(group);
    }

    #[cfg(test)]
    fn len(&self) -> (usize, usize) {
        (self.topics.len(), self.coordinators.len())
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::metadata_response::{
        MetadataResponsePartition, MetadataResponseTopic,
    };
    use kafka_protocol::messages::{BrokerId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    use super::*;

    /// (topic, error code, [(partition, leader)])
    type TopicRow<'a> = (&'a str, i16, &'a [(i32, i32)]);

    fn metadata(topics: &[TopicRow<'_>]) -> MetadataResponse {
        MetadataResponse::default().with_topics(
            topics
                .iter()
                .map(|(name, error, partitions)| {
                    MetadataResponseTopic::default()
                        .with_name(Some(TopicName(StrBytes::from_string(name.to_string()))))
                        .with_error_code(*error)
                        .with_partitions(
                            partitions
                                .iter()
                                .map(|&(index, leader)| {
                                    MetadataResponsePartition::default()
                                        .with_partition_index(index)
                                        .with_leader_id(BrokerId(leader))
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
    }

    #[test]
    fn leaders_are_learned_and_leaderless_partitions_kept() {
        let mut routes = Routes::new(Duration::from_secs(10));
        routes.learn(&metadata(&[("t", 0, &[(0, 1), (1, -1)])]));
        let route = routes.get("t").expect("learned");
        assert_eq!(route.leaders, BTreeMap::from([(0, Some(1)), (1, None)]));
        // A later error for the topic (deleted) forgets it.
        routes.learn(&metadata(&[("t", 3, &[])]));
        assert!(routes.get("t").is_none());
    }

    #[test]
    fn old_entries_are_neither_returned_nor_kept() {
        let mut routes = Routes::new(Duration::ZERO);
        routes.learn(&metadata(&[("a", 0, &[(0, 1)])]));
        routes.set_coordinator("g", 1);
        assert!(routes.get("a").is_none());
        assert!(routes.coordinator("g").is_none());
        routes.learn(&metadata(&[]));
        routes.set_coordinator("h", 2);
        // Only the entry just inserted survives the sweep of each insert.
        assert_eq!(routes.len(), (0, 1));
    }
}
