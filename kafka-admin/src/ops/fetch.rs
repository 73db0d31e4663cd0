//! The timestamp of the first committed record at an offset: one
//! read-committed Fetch per partition leader, without a consumer group and
//! without a fetch session, never waiting for new data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::join_all;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, FetchResponse, TopicName};
use kafka_protocol::protocol::StrBytes;

use super::leaders::{Placement, missing};
use super::{ItemOutcome, PerItem};
use crate::TopicPartition;
use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::records::{AbortedTransaction, Scan, first_committed_record};
use crate::retry::{Backoff, Deadline};

/// Bytes read per partition: enough for the first batch of ordinary
/// records; a larger first batch is still returned whole by the broker
/// for the first partition of the reply (KIP-74).
const PARTITION_MAX_BYTES: i32 = 256 * 1024;
/// Bytes per Fetch reply, all partitions together.
const FETCH_MAX_BYTES: i32 = 4 * 1024 * 1024;
/// The last Fetch version that names topics (later ones use topic ids).
const LAST_VERSION_WITH_NAMES: i16 = 12;

impl KafkaClient {
    /// For each partition of `topic` (→ offset), the timestamp (ms since
    /// the epoch) of the first committed record at that offset or later:
    /// `None` when there is none yet (the offset is the end of the
    /// committed log). Records of aborted transactions and transaction
    /// markers are skipped.
    pub async fn first_committed_timestamps(
        &self,
        topic: &str,
        offsets: &BTreeMap<i32, i64>,
        timeout: Duration,
    ) -> Result<BTreeMap<i32, std::result::Result<Option<i64>, BrokerError>>> {
        let deadline = Deadline::after(timeout);
        let keys: Vec<TopicPartition> = offsets.keys().map(|p| (topic.to_string(), *p)).collect();
        let mut items: PerItem<TopicPartition, Option<i64>> = PerItem::new(keys);
        let mut positions = offsets.clone();
        let mut refreshed = BTreeSet::new();
        let mut backoff = Backoff::new();
        while !items.finished() {
            let mut progressed = false;
            let todo: Vec<TopicPartition> = items.todo().cloned().collect();
            match self.place(todo.iter(), &mut refreshed, &deadline).await {
                Ok(placed) => {
                    let mut by_leader: BTreeMap<i32, Vec<(i32, i64)>> = BTreeMap::new();
                    for ((t, partition), placement) in placed {
                        let key = (t, partition);
                        match placement {
                            Placement::Leader(node) => {
                                let offset = positions.get(&partition).copied().unwrap_or(0);
                                by_leader.entry(node).or_default().push((partition, offset));
                            }
                            Placement::Retry(error) => {
                                items.record(&key, ItemOutcome::Retry(error))
                            }
                            Placement::Missing => {
                                items.record(&key, ItemOutcome::Done(Err(missing())))
                            }
                        }
                    }
                    let fetched = by_leader.into_iter().map(|(node, partitions)| async move {
                        let reply = self.fetch_from(node, topic, &partitions, &deadline).await;
                        (partitions, reply)
                    });
                    for (asked, reply) in join_all(fetched).await {
                        match reply {
                            Ok(response) => {
                                progressed |= self.record_fetch(
                                    &mut items,
                                    &mut positions,
                                    topic,
                                    &asked,
                                    response,
                                );
                            }
                            Err(e) => {
                                self.cluster.invalidate(topic);
                                items.failed(e)?;
                            }
                        }
                    }
                }
                Err(e) => items.failed(e)?,
            }
            if items.finished() || (progressed && deadline.remaining() > Duration::ZERO) {
                continue;
            }
            if !backoff.wait(&deadline).await {
                break;
            }
        }
        Ok(items
            .finish(&deadline, "read the first committed records")?
            .into_iter()
            .map(|((_, partition), result)| (partition, result))
            .collect())
    }

    pub(super) async fn fetch_from(
        &self,
        node: i32,
        topic: &str,
        partitions: &[(i32, i64)],
        deadline: &Deadline,
    ) -> Result<FetchResponse> {
        let connection = self.cluster.node(node, deadline).await?;
        let topic_id = self
            .cluster
            .route(topic)
            .map(|route| route.topic_id)
            .filter(|id| id.iter().any(|b| *b != 0));
        let cap = if topic_id.is_some() {
            i16::MAX
        } else {
            LAST_VERSION_WITH_NAMES
        };
        let version = connection
            .versions()
            .negotiate_within::<FetchRequest>(cap)
            .ok_or_else(|| Error::UnsupportedApi {
                api: "Fetch",
                broker: connection.broker().to_string(),
            })?;
        let mut fetch_topic = FetchTopic::default().with_partitions(
            partitions
                .iter()
                .map(|&(partition, offset)| {
                    FetchPartition::default()
                        .with_partition(partition)
                        .with_fetch_offset(offset)
                        .with_partition_max_bytes(PARTITION_MAX_BYTES)
                })
                .collect(),
        );
        fetch_topic = match topic_id {
            Some(id) if version > LAST_VERSION_WITH_NAMES => {
                fetch_topic.with_topic_id(uuid::Uuid::from_bytes(id))
            }
            _ => fetch_topic.with_topic(TopicName(StrBytes::from_string(topic.to_string()))),
        };
        let request = FetchRequest::default()
            .with_max_wait_ms(0)
            .with_min_bytes(0)
            .with_max_bytes(FETCH_MAX_BYTES)
            .with_isolation_level(1)
            .with_topics(vec![fetch_topic]);
        connection
            .send_version(&request, version, deadline.remaining())
            .await
    }

    /// Records the reply's answers; a partition whose records were all
    /// skipped moves its position on (returns whether any did).
    fn record_fetch(
        &self,
        items: &mut PerItem<TopicPartition, Option<i64>>,
        positions: &mut BTreeMap<i32, i64>,
        topic: &str,
        asked: &[(i32, i64)],
        response: FetchResponse,
    ) -> bool {
        let mut progressed = false;
        if let Some(code) = ErrorCode::from_code(response.error_code) {
            // A request-level error (a fetch session problem): every
            // partition is asked again.
            for &(partition, _) in asked {
                items.record(
                    &(topic.to_string(), partition),
                    ItemOutcome::Retry(BrokerError::new(code, None)),
                );
            }
            return false;
        }
        let offsets: BTreeMap<i32, i64> = asked.iter().copied().collect();
        // One topic was asked for; its reply is the only one used.
        for reply in response.responses.into_iter().take(1) {
            for partition in reply.partitions {
                let key = (topic.to_string(), partition.partition_index);
                let Some(&from) = offsets.get(&partition.partition_index) else {
                    continue;
                };
                let outcome = match ErrorCode::from_code(partition.error_code) {
                    None => {
                        let aborted = aborted_transactions(partition.aborted_transactions);
                        let records = partition.records.unwrap_or_default();
                        // Read-committed replies end at the last stable offset.
                        let end = if partition.last_stable_offset >= 0 {
                            partition.last_stable_offset
                        } else {
                            partition.high_watermark
                        };
                        match first_committed_record(records, from, &aborted) {
                            Ok(Scan {
                                found: Some(timestamp),
                                ..
                            }) => ItemOutcome::Done(Ok(Some(timestamp))),
                            // The broker returned fewer batches than there
                            // are (all aborted, say): read on from there.
                            Ok(Scan { found: None, next }) if next > from && next < end => {
                                positions.insert(partition.partition_index, next);
                                progressed = true;
                                continue;
                            }
                            Ok(Scan { found: None, .. }) => ItemOutcome::Done(Ok(None)),
                            Err(why) => ItemOutcome::Done(Err(BrokerError::new(
                                ErrorCode::from_code(2)
                                    .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
                                Some(why),
                            ))),
                        }
                    }
                    Some(code) if code.is_stale_metadata() => {
                        self.cluster.invalidate(topic);
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
        progressed
    }
}

/// A fetch reply's aborted transactions, which a read-committed reader
/// skips ([`crate::records`]).
pub(super) fn aborted_transactions(
    reply: Option<Vec<kafka_protocol::messages::fetch_response::AbortedTransaction>>,
) -> Vec<AbortedTransaction> {
    reply
        .unwrap_or_default()
        .iter()
        .map(|a| AbortedTransaction {
            producer_id: a.producer_id.0,
            first_offset: a.first_offset,
        })
        .collect()
}
