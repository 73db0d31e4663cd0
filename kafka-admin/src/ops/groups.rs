//! Consumer groups, read without joining them: committed offsets
//! (OffsetFetch) and membership (DescribeGroups), both from the group's
//! coordinator (FindCoordinator).
//!
//! Coordinator errors are the normal state of a young cluster: until
//! `__consumer_offsets` exists FindCoordinator answers
//! COORDINATOR_NOT_AVAILABLE, and while a coordinator loads or moves the
//! group requests answer COORDINATOR_LOAD_IN_PROGRESS or NOT_COORDINATOR.
//! Each of them means "find the coordinator again and repeat", within the
//! call's deadline.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::offset_fetch_request::{
    OffsetFetchRequestGroup, OffsetFetchRequestTopic, OffsetFetchRequestTopics,
};
use kafka_protocol::messages::{
    DescribeGroupsRequest, FindCoordinatorRequest, GroupId, OffsetFetchRequest,
    OffsetFetchResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::TopicPartition;
use crate::client::KafkaClient;
use crate::config::BrokerAddress;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::retry::{Deadline, retrying};

/// FindCoordinator's key type for consumer groups.
const GROUP_KEY: i8 = 0;

/// A committed offset of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommittedOffset {
    /// The next offset the group will consume.
    pub offset: i64,
    /// The metadata string committed with the offset (empty when none).
    pub metadata: String,
    /// The leader epoch committed with it, when the committer sent one.
    pub leader_epoch: Option<i32>,
}

/// A group as its coordinator describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// `Stable`, `PreparingRebalance`, `Empty`, `Dead`, …
    pub state: String,
    pub protocol_type: String,
    pub members: usize,
}

/// Per partition: the commit, `None` when the group has none for it, or
/// the broker's error for that partition.
pub type CommittedOffsets =
    BTreeMap<TopicPartition, std::result::Result<Option<CommittedOffset>, BrokerError>>;

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

fn by_topic(partitions: &[TopicPartition]) -> BTreeMap<&str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (topic, partition) in partitions {
        topics.entry(topic).or_default().push(*partition);
    }
    topics
}

/// An error that is the coordinator's, not the partition's or group's:
/// forget the coordinator, find it again, repeat.
fn coordinator_moved(group: &str, error: BrokerError) -> Error {
    Error::broker(format!("coordinator of group {group}"), error)
}

impl KafkaClient {
    /// The broker coordinating `group`, remembered briefly.
    async fn find_coordinator(&self, group: &str, deadline: &Deadline) -> Result<i32> {
        if let Some(node) = self.cluster.coordinator(group) {
            return Ok(node);
        }
        let connection = self.cluster.any(deadline).await?;
        let request_v4 = FindCoordinatorRequest::default()
            .with_key_type(GROUP_KEY)
            .with_coordinator_keys(vec![StrBytes::from_string(group.to_string())]);
        let request_v0 =
            FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string()));
        let version = connection
            .versions()
            .negotiate::<FindCoordinatorRequest>()
            .ok_or_else(|| Error::UnsupportedApi {
                api: "FindCoordinator",
                broker: connection.broker().to_string(),
            })?;
        let request = match version {
            4.. => request_v4,
            1..=3 => request_v0.with_key_type(GROUP_KEY),
            _ => request_v0,
        };
        let response = connection
            .send_version(&request, version, deadline.remaining())
            .await?;
        let (error_code, message, node, host, port) = if version >= 4 {
            let Some(found) = response.coordinators.into_iter().next() else {
                return Err(Error::Malformed {
                    api: "FindCoordinator",
                    broker: connection.broker().to_string(),
                    reason: "no coordinator in the reply".into(),
                    source: None,
                });
            };
            (
                found.error_code,
                found.error_message,
                found.node_id.0,
                found.host,
                found.port,
            )
        } else {
            (
                response.error_code,
                response.error_message,
                response.node_id.0,
                response.host,
                response.port,
            )
        };
        if let Some(error) = BrokerError::from_code(error_code, message.map(|m| m.to_string())) {
            return Err(Error::broker(
                format!("cannot find the coordinator of group {group}"),
                error,
            ));
        }
        let address = u16::try_from(port).ok().map(|port| BrokerAddress {
            host: host.to_string(),
            port,
        });
        self.cluster.set_coordinator(group, node, address);
        Ok(node)
    }

    /// Sends a group request to the group's coordinator; on a lost
    /// connection the coordinator is looked up again next time.
    async fn coordinator_connection(
        &self,
        group: &str,
        deadline: &Deadline,
    ) -> Result<std::sync::Arc<crate::connection::Connection>> {
        let node = self.find_coordinator(group, deadline).await?;
        self.cluster.node(node, deadline).await.inspect_err(|_| {
            self.cluster.forget_coordinator(group);
        })
    }

    /// The committed offsets of `group` for `partitions`, commit metadata
    /// included. A group that never committed (or does not exist) has
    /// `None` everywhere: that is an answer, not an error.
    pub async fn committed_offsets(
        &self,
        group: &str,
        partitions: &[TopicPartition],
        timeout: Duration,
    ) -> Result<CommittedOffsets> {
        let deadline = Deadline::after(timeout);
        let topics = by_topic(partitions);
        retrying(
            &format!("committed offsets of group {group}"),
            &deadline,
            || async {
                let connection = self.coordinator_connection(group, &deadline).await?;
                let version = connection
                    .versions()
                    .negotiate::<OffsetFetchRequest>()
                    .ok_or_else(|| Error::UnsupportedApi {
                        api: "OffsetFetch",
                        broker: connection.broker().to_string(),
                    })?;
                let request = if version >= 8 {
                    OffsetFetchRequest::default().with_groups(vec![
                        OffsetFetchRequestGroup::default()
                            .with_group_id(group_id(group))
                            .with_topics(Some(
                                topics
                                    .iter()
                                    .map(|(topic, partitions)| {
                                        OffsetFetchRequestTopics::default()
                                            .with_name(TopicName(StrBytes::from_string(
                                                topic.to_string(),
                                            )))
                                            .with_partition_indexes(partitions.clone())
                                    })
                                    .collect(),
                            )),
                    ])
                } else {
                    OffsetFetchRequest::default()
                        .with_group_id(group_id(group))
                        .with_topics(Some(
                            topics
                                .iter()
                                .map(|(topic, partitions)| {
                                    OffsetFetchRequestTopic::default()
                                        .with_name(TopicName(StrBytes::from_string(
                                            topic.to_string(),
                                        )))
                                        .with_partition_indexes(partitions.clone())
                                })
                                .collect(),
                        ))
                };
                let response = connection
                    .send_version(&request, version, deadline.remaining())
                    .await
                    .inspect_err(|_| self.cluster.forget_coordinator(group))?;
                self.read_offset_fetch(group, partitions, response, version)
            },
        )
        .await
    }

    fn read_offset_fetch(
        &self,
        group: &str,
        partitions: &[TopicPartition],
        response: OffsetFetchResponse,
        version: i16,
    ) -> Result<CommittedOffsets> {
        // (group error, [(topic, partition, offset, epoch, metadata, error)])
        type Row = (String, i32, i64, i32, Option<StrBytes>, i16);
        let (group_error, rows): (i16, Vec<Row>) = if version >= 8 {
            let Some(found) = response
                .groups
                .into_iter()
                .find(|g| g.group_id.0.as_str() == group)
            else {
                return Err(Error::Malformed {
                    api: "OffsetFetch",
                    broker: String::new(),
                    reason: format!("group {group} is not in the reply"),
                    source: None,
                });
            };
            let rows = found
                .topics
                .into_iter()
                .flat_map(|t| {
                    let name = t.name.0.to_string();
                    t.partitions.into_iter().map(move |p| {
                        (
                            name.clone(),
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.metadata,
                            p.error_code,
                        )
                    })
                })
                .collect();
            (found.error_code, rows)
        } else {
            let rows = response
                .topics
                .into_iter()
                .flat_map(|t| {
                    let name = t.name.0.to_string();
                    t.partitions.into_iter().map(move |p| {
                        (
                            name.clone(),
                            p.partition_index,
                            p.committed_offset,
                            p.committed_leader_epoch,
                            p.metadata,
                            p.error_code,
                        )
                    })
                })
                .collect();
            (response.error_code, rows)
        };

        let mut committed: CommittedOffsets =
            partitions.iter().map(|tp| (tp.clone(), Ok(None))).collect();
        match ErrorCode::from_code(group_error) {
            None => {}
            // Nothing was ever committed by this group.
            Some(ErrorCode::GROUP_ID_NOT_FOUND) => return Ok(committed),
            Some(code) => {
                if code.is_coordinator_error() {
                    self.cluster.forget_coordinator(group);
                }
                let error = BrokerError::new(code, None);
                return Err(coordinator_moved(group, error));
            }
        }
        for (topic, partition, offset, epoch, metadata, error_code) in rows {
            let key = (topic, partition);
            if !committed.contains_key(&key) {
                continue;
            }
            let value = match ErrorCode::from_code(error_code) {
                None if offset < 0 => Ok(None),
                None => Ok(Some(CommittedOffset {
                    offset,
                    metadata: metadata.map(|m| m.to_string()).unwrap_or_default(),
                    leader_epoch: (epoch >= 0).then_some(epoch),
                })),
                // Version 1 reports group errors on each partition.
                Some(ErrorCode::GROUP_ID_NOT_FOUND) => Ok(None),
                Some(code) if code.is_coordinator_error() || code.is_retriable() => {
                    if code.is_coordinator_error() {
                        self.cluster.forget_coordinator(group);
                    }
                    return Err(coordinator_moved(group, BrokerError::new(code, None)));
                }
                Some(code) => Err(BrokerError::new(code, None)),
            };
            committed.insert(key, value);
        }
        Ok(committed)
    }

    /// The group's state and member count. A group the coordinator does
    /// not know is `Dead` with no members.
    pub async fn describe_group(&self, group: &str, timeout: Duration) -> Result<GroupDescription> {
        let deadline = Deadline::after(timeout);
        let request = DescribeGroupsRequest::default().with_groups(vec![group_id(group)]);
        retrying(&format!("describe group {group}"), &deadline, || async {
            let connection = self.coordinator_connection(group, &deadline).await?;
            let (response, _) = connection
                .send(&request, deadline.remaining())
                .await
                .inspect_err(|_| self.cluster.forget_coordinator(group))?;
            let Some(described) = response
                .groups
                .into_iter()
                .find(|g| g.group_id.0.as_str() == group)
            else {
                return Err(Error::Malformed {
                    api: "DescribeGroups",
                    broker: connection.broker().to_string(),
                    reason: format!("group {group} is not in the reply"),
                    source: None,
                });
            };
            match ErrorCode::from_code(described.error_code) {
                None => Ok(GroupDescription {
                    state: described.group_state.to_string(),
                    protocol_type: described.protocol_type.to_string(),
                    members: described.members.len(),
                }),
                Some(ErrorCode::GROUP_ID_NOT_FOUND) => Ok(GroupDescription {
                    state: "Dead".into(),
                    protocol_type: String::new(),
                    members: 0,
                }),
                Some(code) => {
                    if code.is_coordinator_error() {
                        self.cluster.forget_coordinator(group);
                    }
                    Err(Error::broker(
                        format!("cannot describe group {group}"),
                        BrokerError::new(code, described.error_message.map(|m| m.to_string())),
                    ))
                }
            }
        })
        .await
    }
}
