//! Produce: append a few records to one partition, acknowledged by every
//! in-sync replica. For low-volume writes of the operator itself (alerts),
//! not a producer: no batching across calls, no idempotence (a retry after
//! a lost reply may append a record twice), no transactions.

use std::collections::BTreeSet;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, NO_PARTITION_LEADER_EPOCH, NO_PRODUCER_EPOCH, NO_PRODUCER_ID, NO_SEQUENCE, Record,
    RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::leaders::{Placement, missing};
use super::server_timeout_ms;
use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::retry::{Backoff, Deadline};

/// One record to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducedRecord {
    pub key: Option<Bytes>,
    pub value: Bytes,
    /// Create time, ms since the epoch.
    pub timestamp_ms: i64,
}

/// Version 13 names topics by id only; the client names them.
const PRODUCE_BY_NAME_MAX: i16 = 12;
/// Version 3 is the first with record batch format v2.
const PRODUCE_MIN: i16 = 3;

/// The records as one uncompressed record batch (format v2).
fn encode(records: &[ProducedRecord]) -> Result<Bytes> {
    let records: Vec<Record> = records
        .iter()
        .enumerate()
        .map(|(i, r)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: NO_PARTITION_LEADER_EPOCH,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: NO_PRODUCER_EPOCH,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // The encoder starts a new batch where offset − sequence
            // changes, and a Produce request takes one batch per partition:
            // the sequence follows the offset, from NO_SEQUENCE (the batch's
            // base sequence, as a producer without idempotence sends it).
            sequence: NO_SEQUENCE.wrapping_add(i as i32),
            timestamp: r.timestamp_ms,
            key: r.key.clone(),
            value: Some(r.value.clone()),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &records,
        &RecordEncodeOptions {
            version: 2,
            compression: Compression::None,
        },
    )
    .map_err(|e| Error::Encode {
        api: "Produce",
        reason: e.to_string(),
    })?;
    Ok(buf.freeze())
}

impl KafkaClient {
    /// Appends `records` to `topic`[`partition`] with `acks=all` and returns
    /// the offset of the first. Retriable failures (a moved leader, a lost
    /// connection, too few in-sync replicas) are retried until `timeout`.
    pub async fn produce(
        &self,
        topic: &str,
        partition: i32,
        records: &[ProducedRecord],
        timeout: Duration,
    ) -> Result<i64> {
        let deadline = Deadline::after(timeout);
        let batch = encode(records)?;
        let key = (topic.to_string(), partition);
        let mut refreshed = BTreeSet::new();
        let mut backoff = Backoff::new();
        loop {
            let attempt = match self
                .place(std::iter::once(&key), &mut refreshed, &deadline)
                .await
            {
                Ok(placed) => match placed.get(&key) {
                    Some(Placement::Leader(node)) => {
                        match self
                            .produce_at(*node, topic, partition, batch.clone(), &deadline)
                            .await
                        {
                            Ok(response) => self.produced(topic, partition, response),
                            Err(e) => {
                                self.cluster.invalidate(topic);
                                Err(e)
                            }
                        }
                    }
                    Some(Placement::Retry(error)) => Err(Error::broker(
                        format!("produce to {topic}[{partition}]"),
                        error.clone(),
                    )),
                    Some(Placement::Missing) | None => {
                        return Err(Error::broker(
                            format!("produce to {topic}[{partition}]"),
                            missing(),
                        ));
                    }
                },
                Err(e) => Err(e),
            };
            let error = match attempt {
                Ok(offset) => return Ok(offset),
                Err(e) if e.is_retriable() => e,
                Err(e) => return Err(e),
            };
            if !backoff.wait(&deadline).await {
                return Err(
                    deadline.exceeded(format!("produce to {topic}[{partition}]"), Some(error))
                );
            }
        }
    }

    async fn produce_at(
        &self,
        node: i32,
        topic: &str,
        partition: i32,
        records: Bytes,
        deadline: &Deadline,
    ) -> Result<ProduceResponse> {
        let connection = self.cluster.node(node, deadline).await?;
        let version = connection
            .versions()
            .negotiate_within::<ProduceRequest>(PRODUCE_BY_NAME_MAX)
            .filter(|v| *v >= PRODUCE_MIN)
            .ok_or_else(|| Error::UnsupportedApi {
                api: "Produce",
                broker: connection.broker().to_string(),
            })?;
        let request = ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(server_timeout_ms(deadline))
            .with_topic_data(vec![
                TopicProduceData::default()
                    .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partition_data(vec![
                        PartitionProduceData::default()
                            .with_index(partition)
                            .with_records(Some(records)),
                    ]),
            ]);
        connection
            .send_version(&request, version, deadline.remaining())
            .await
    }

    fn produced(&self, topic: &str, partition: i32, response: ProduceResponse) -> Result<i64> {
        let answer = response
            .responses
            .iter()
            .filter(|t| t.name.0.as_str() == topic)
            .flat_map(|t| t.partition_responses.iter())
            .find(|p| p.index == partition)
            .ok_or_else(|| Error::Malformed {
                api: "Produce",
                broker: format!("the leader of {topic}[{partition}]"),
                reason: format!("the reply does not mention {topic}[{partition}]"),
                source: None,
            })?;
        match ErrorCode::from_code(answer.error_code) {
            None => Ok(answer.base_offset),
            Some(code) => {
                if code.is_stale_metadata() {
                    self.cluster.invalidate(topic);
                }
                let message = answer.error_message.as_ref().map(|m| m.to_string());
                Err(Error::broker(
                    format!("produce to {topic}[{partition}]"),
                    BrokerError::new(code, message),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use kafka_protocol::records::RecordBatchDecoder;

    use super::*;

    #[test]
    fn records_round_trip_through_the_batch_encoding() {
        let records = [
            ProducedRecord {
                key: Some(Bytes::from_static(b"k")),
                value: Bytes::from_static(b"{\"a\":1}"),
                timestamp_ms: 1_767_225_600_000,
            },
            ProducedRecord {
                key: None,
                value: Bytes::from_static(b"{}"),
                timestamp_ms: 1_767_225_600_001,
            },
        ];
        let mut bytes = encode(&records).expect("encodes");
        let decoded = RecordBatchDecoder::decode(&mut bytes).expect("decodes");
        assert!(bytes.is_empty(), "one batch holds every record");
        let got: Vec<(Option<Bytes>, Option<Bytes>, i64)> = decoded
            .records
            .into_iter()
            .map(|r| (r.key, r.value, r.timestamp))
            .collect();
        assert_eq!(
            got,
            records
                .iter()
                .map(|r| (r.key.clone(), Some(r.value.clone()), r.timestamp_ms))
                .collect::<Vec<_>>()
        );
    }
}
