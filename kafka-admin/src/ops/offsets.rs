//! ListOffsets: log-end or log-start offsets of many partitions, batched
//! into one request per partition leader, the leaders asked concurrently.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::join_all;
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{BrokerId, ListOffsetsRequest, ListOffsetsResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::leaders::{Placement, missing};
use super::{ItemOutcome, PerItem};
use crate::TopicPartition;
use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::retry::{Backoff, Deadline};

/// Which offset of a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OffsetSpec {
    /// The end of the log: the next offset to be written (under
    /// read-committed isolation, the last stable offset).
    Latest,
    /// The first offset still retained.
    Earliest,
}

impl OffsetSpec {
    fn timestamp(self) -> i64 {
        match self {
            OffsetSpec::Latest => -1,
            OffsetSpec::Earliest => -2,
        }
    }
}

/// Which records count for `Latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsolationLevel {
    /// The high watermark, records of open transactions included.
    ReadUncommitted,
    /// The last stable offset: what a read-committed consumer can reach.
    ReadCommitted,
}

impl IsolationLevel {
    fn code(self) -> i8 {
        match self {
            IsolationLevel::ReadUncommitted => 0,
            IsolationLevel::ReadCommitted => 1,
        }
    }
}

fn request(
    partitions: &[TopicPartition],
    spec: OffsetSpec,
    isolation: IsolationLevel,
) -> ListOffsetsRequest {
    let mut by_topic: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        by_topic.entry(topic).or_default().push(*partition);
    }
    ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_isolation_level(isolation.code())
        .with_topics(
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    ListOffsetsTopic::default()
                        .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                        .with_partitions(
                            partitions
                                .into_iter()
                                .map(|p| {
                                    ListOffsetsPartition::default()
                                        .with_partition_index(p)
                                        .with_timestamp(spec.timestamp())
                                })
                                .collect(),
                        )
                })
                .collect(),
        )
}

impl KafkaClient {
    /// The `spec` offset of each partition. Per partition: the offset, or
    /// the broker's error (UNKNOWN_TOPIC_OR_PARTITION for partitions that
    /// do not exist, answered without waiting for the deadline).
    pub async fn list_offsets(
        &self,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
        isolation: IsolationLevel,
        timeout: Duration,
    ) -> Result<BTreeMap<TopicPartition, std::result::Result<i64, BrokerError>>> {
        let deadline = Deadline::after(timeout);
        let mut items: PerItem<TopicPartition, i64> = PerItem::new(partitions.iter().cloned());
        let mut refreshed = BTreeSet::new();
        let mut backoff = Backoff::new();
        while !items.finished() {
            let todo: Vec<TopicPartition> = items.todo().cloned().collect();
            match self.place(todo.iter(), &mut refreshed, &deadline).await {
                Ok(placed) => {
                    let mut by_leader: BTreeMap<i32, Vec<TopicPartition>> = BTreeMap::new();
                    for (partition, placement) in placed {
                        match placement {
                            Placement::Leader(node) => {
                                by_leader.entry(node).or_default().push(partition)
                            }
                            Placement::Retry(error) => {
                                items.record(&partition, ItemOutcome::Retry(error))
                            }
                            Placement::Missing => {
                                items.record(&partition, ItemOutcome::Done(Err(missing())))
                            }
                        }
                    }
                    let asked = by_leader.into_iter().map(|(node, partitions)| async move {
                        let reply = self
                            .list_offsets_at(node, &partitions, spec, isolation, &deadline)
                            .await;
                        (partitions, reply)
                    });
                    for (asked, reply) in join_all(asked).await {
                        match reply {
                            Ok(response) => self.record_offsets(&mut items, &asked, response),
                            Err(e) => {
                                for (topic, _) in &asked {
                                    self.cluster.invalidate(topic);
                                }
                                items.failed(e)?;
                            }
                        }
                    }
                }
                Err(e) => items.failed(e)?,
            }
            if !items.finished() && !backoff.wait(&deadline).await {
                break;
            }
        }
        items.finish(&deadline, "list offsets")
    }

    async fn list_offsets_at(
        &self,
        node: i32,
        partitions: &[TopicPartition],
        spec: OffsetSpec,
        isolation: IsolationLevel,
        deadline: &Deadline,
    ) -> Result<ListOffsetsResponse> {
        let connection = self.cluster.node(node, deadline).await?;
        let version = connection
            .versions()
            .negotiate::<ListOffsetsRequest>()
            .ok_or_else(|| Error::UnsupportedApi {
                api: "ListOffsets",
                broker: connection.broker().to_string(),
            })?;
        // Version 1 has no isolation level: it always reads uncommitted.
        if version < 2 && isolation == IsolationLevel::ReadCommitted {
            return Err(Error::UnsupportedApi {
                api: "ListOffsets (read committed)",
                broker: connection.broker().to_string(),
            });
        }
        let request = request(partitions, spec, isolation);
        let request = if version < 2 {
            request.with_isolation_level(0)
        } else {
            request
        };
        connection
            .send_version(&request, version, deadline.remaining())
            .await
    }

    fn record_offsets(
        &self,
        items: &mut PerItem<TopicPartition, i64>,
        asked: &[TopicPartition],
        response: ListOffsetsResponse,
    ) {
        let mut answered = BTreeSet::new();
        for topic in response.topics {
            let name = topic.name.0.to_string();
            for partition in topic.partitions {
                let key = (name.clone(), partition.partition_index);
                answered.insert(key.clone());
                let outcome = match ErrorCode::from_code(partition.error_code) {
                    None => ItemOutcome::Done(Ok(partition.offset)),
                    Some(code) if code.is_stale_metadata() => {
                        self.cluster.invalidate(&name);
                        ItemOutcome::Retry(BrokerError::new(code, None))
                    }
                    Some(code) if code.is_retriable() => {
                        ItemOutcome::Retry(BrokerError::new(code, None))
                    }
                    Some(code) => ItemOutcome::Done(Err(BrokerError::new(code, None))),
                };
                items.record(&key, outcome);
            }
        }
        // A partition the reply left out is asked again.
        for key in asked.iter().filter(|key| !answered.contains(*key)) {
            items.record(
                key,
                ItemOutcome::Retry(BrokerError::new(
                    ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                    Some("left out of the broker's reply".into()),
                )),
            );
        }
    }
}
