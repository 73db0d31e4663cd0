//! Topics: describe, create, add partitions, delete.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::metadata_response::MetadataResponseTopic;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::{ItemOutcome, PerItem, server_timeout_ms};
use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::retry::{Backoff, Deadline};

/// One partition as metadata describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: i32,
    /// `None` while a leader is being elected.
    pub leader: Option<i32>,
    pub replicas: Vec<i32>,
    pub in_sync_replicas: Vec<i32>,
}

/// An existing topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub internal: bool,
    /// Sorted by partition index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    pub fn partition_count(&self) -> i32 {
        i32::try_from(self.partitions.len()).unwrap_or(i32::MAX)
    }

    /// The replica count of the lowest partition: Kafka creates every
    /// partition of a topic with the same replication factor.
    pub fn replication_factor(&self) -> i32 {
        self.partitions
            .first()
            .map_or(0, |p| i32::try_from(p.replicas.len()).unwrap_or(i32::MAX))
    }
}

/// What the cluster says about one requested topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicDescription {
    Exists(TopicInfo),
    /// The cluster does not know the topic.
    Missing,
    /// The cluster refused to describe it (authorization, invalid name, a
    /// leader election that outlasted the deadline, …).
    Unreadable(BrokerError),
}

/// How a topic came to exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Creation {
    Created,
    /// It existed before this request. Also said when an earlier attempt
    /// of the same call timed out and may have created it: a caller that
    /// only claims topics it surely created never claims someone else's.
    AlreadyExisted,
}

/// A topic to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: BTreeMap<String, String>,
}

fn topic_name(name: &str) -> TopicName {
    TopicName(StrBytes::from_string(name.to_string()))
}

fn describe(topic: &MetadataResponseTopic, name: String) -> TopicDescription {
    match ErrorCode::from_code(topic.error_code) {
        None => {
            let mut partitions: Vec<PartitionInfo> = topic
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                    replicas: p.replica_nodes.iter().map(|n| n.0).collect(),
                    in_sync_replicas: p.isr_nodes.iter().map(|n| n.0).collect(),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            TopicDescription::Exists(TopicInfo {
                name,
                internal: topic.is_internal,
                partitions,
            })
        }
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => TopicDescription::Missing,
        Some(code) => TopicDescription::Unreadable(BrokerError::new(code, None)),
    }
}

impl KafkaClient {
    /// Describes each of `names` (duplicates allowed) with one Metadata
    /// request. A topic-level error that may pass (a leader election
    /// after creation) is retried within `timeout`; what remains is
    /// reported per topic.
    pub async fn describe_topics(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<BTreeMap<String, TopicDescription>> {
        let unique: Vec<String> = names
            .iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if unique.is_empty() {
            return Ok(BTreeMap::new());
        }
        let deadline = Deadline::after(timeout);
        let mut backoff = Backoff::new();
        loop {
            let response = match self.cluster.metadata(&unique, &deadline).await {
                Ok(response) => response,
                Err(e) if e.is_retriable() => {
                    if backoff.wait(&deadline).await {
                        continue;
                    }
                    return Err(deadline.exceeded("describe topics", Some(e)));
                }
                Err(e) => return Err(e),
            };
            let mut described: BTreeMap<String, TopicDescription> = response
                .topics
                .iter()
                .filter_map(|t| {
                    let name = t.name.as_ref()?.0.to_string();
                    Some((name.clone(), describe(t, name)))
                })
                .filter(|(name, _)| unique.contains(name))
                .collect();
            for name in &unique {
                described.entry(name.clone()).or_insert_with(|| {
                    TopicDescription::Unreadable(BrokerError::new(
                        ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                        Some("not in the broker's metadata reply".into()),
                    ))
                });
            }
            let transient = described
                .values()
                .any(|d| matches!(d, TopicDescription::Unreadable(e) if e.is_retriable()));
            if transient && backoff.wait(&deadline).await {
                continue;
            }
            return Ok(described);
        }
    }

    /// Creates `topics` (one request per attempt, for all of them). Per
    /// topic: whether it was created or existed already, or the broker's
    /// refusal.
    pub async fn create_topics(
        &self,
        topics: &[NewTopic],
        timeout: Duration,
    ) -> Result<BTreeMap<String, std::result::Result<Creation, BrokerError>>> {
        let by_name: BTreeMap<&str, &NewTopic> =
            topics.iter().map(|t| (t.name.as_str(), t)).collect();
        let deadline = Deadline::after(timeout);
        let mut items = PerItem::new(by_name.keys().map(|n| n.to_string()));
        let mut backoff = Backoff::new();
        loop {
            let request = CreateTopicsRequest::default()
                .with_timeout_ms(server_timeout_ms(&deadline))
                .with_topics(
                    items
                        .todo()
                        .filter_map(|name| by_name.get(name.as_str()))
                        .map(|t| {
                            CreatableTopic::default()
                                .with_name(topic_name(&t.name))
                                .with_num_partitions(t.partitions)
                                .with_replication_factor(t.replication_factor)
                                .with_configs(
                                    t.configs
                                        .iter()
                                        .map(|(k, v)| {
                                            CreatableTopicConfig::default()
                                                .with_name(StrBytes::from_string(k.clone()))
                                                .with_value(Some(StrBytes::from_string(v.clone())))
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
            match self.send_to_controller(&request, &deadline).await {
                Ok(response) => {
                    for result in response.topics {
                        let message = result.error_message.map(|m| m.to_string());
                        let outcome = match ErrorCode::from_code(result.error_code) {
                            None => ItemOutcome::Done(Ok(Creation::Created)),
                            Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
                                ItemOutcome::Done(Ok(Creation::AlreadyExisted))
                            }
                            Some(code) => self.admin_item_error(code, message),
                        };
                        items.record(result.name.0.as_str(), outcome);
                    }
                }
                Err(e) => items.failed(e)?,
            }
            if items.finished() || !backoff.wait(&deadline).await {
                return items.finish(&deadline, "create topics");
            }
        }
    }

    /// Grows `topic` to `total` partitions.
    pub async fn create_partitions(
        &self,
        topic: &str,
        total: i32,
        timeout: Duration,
    ) -> Result<()> {
        let deadline = Deadline::after(timeout);
        let mut items = PerItem::new([topic.to_string()]);
        let mut backoff = Backoff::new();
        loop {
            let request = CreatePartitionsRequest::default()
                .with_timeout_ms(server_timeout_ms(&deadline))
                .with_topics(vec![
                    CreatePartitionsTopic::default()
                        .with_name(topic_name(topic))
                        .with_count(total)
                        .with_assignments(None),
                ]);
            match self.send_to_controller(&request, &deadline).await {
                Ok(response) => {
                    for result in response.results {
                        let message = result.error_message.map(|m| m.to_string());
                        let outcome = match ErrorCode::from_code(result.error_code) {
                            None => ItemOutcome::Done(Ok(())),
                            Some(code) => self.admin_item_error(code, message),
                        };
                        items.record(result.name.0.as_str(), outcome);
                    }
                }
                Err(e) => items.failed(e)?,
            }
            if items.finished() || !backoff.wait(&deadline).await {
                let results = items.finish(&deadline, "add partitions")?;
                return match results.into_values().next() {
                    Some(Err(error)) => Err(Error::broker(
                        format!("cannot add partitions to topic {topic}"),
                        error,
                    )),
                    _ => Ok(()),
                };
            }
        }
    }

    /// Deletes `names`; a topic that does not exist counts as deleted.
    pub async fn delete_topics(
        &self,
        names: &[String],
        timeout: Duration,
    ) -> Result<BTreeMap<String, std::result::Result<(), BrokerError>>> {
        let deadline = Deadline::after(timeout);
        let mut items = PerItem::new(names.iter().cloned());
        let mut backoff = Backoff::new();
        loop {
            let todo: Vec<String> = items.todo().cloned().collect();
            let v6 = DeleteTopicsRequest::default()
                .with_timeout_ms(server_timeout_ms(&deadline))
                .with_topics(
                    todo.iter()
                        .map(|n| DeleteTopicState::default().with_name(Some(topic_name(n))))
                        .collect(),
                );
            let v1 = DeleteTopicsRequest::default()
                .with_timeout_ms(server_timeout_ms(&deadline))
                .with_topic_names(todo.iter().map(|n| topic_name(n)).collect());
            match self
                .send_to_controller_versioned(&v6, &v1, 6, &deadline)
                .await
            {
                Ok(response) => {
                    for result in response.responses {
                        let Some(name) = result.name else { continue };
                        let message = result.error_message.map(|m| m.to_string());
                        let outcome = match ErrorCode::from_code(result.error_code) {
                            None | Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION) => {
                                ItemOutcome::Done(Ok(()))
                            }
                            Some(code) => self.admin_item_error(code, message),
                        };
                        items.record(name.0.as_str(), outcome);
                    }
                }
                Err(e) => items.failed(e)?,
            }
            if items.finished() || !backoff.wait(&deadline).await {
                return items.finish(&deadline, "delete topics");
            }
        }
    }

    /// A per-topic admin error: NOT_CONTROLLER sends the next attempt to a
    /// freshly looked-up controller; other retriable codes are retried;
    /// the rest is the topic's answer.
    fn admin_item_error<T>(&self, code: ErrorCode, message: Option<String>) -> ItemOutcome<T> {
        if code == ErrorCode::NOT_CONTROLLER {
            self.cluster.forget_controller();
        }
        let error = BrokerError::new(code, message);
        if code.is_retriable() {
            ItemOutcome::Retry(error)
        } else {
            ItemOutcome::Done(Err(error))
        }
    }
}
