//! Reading one partition's committed records from an offset: one
//! read-committed Fetch to the partition's leader, without a consumer
//! group, never waiting for new data. For small topics a client tails
//! (the operator reads its pipelines' alerts topics this way).

use std::collections::BTreeSet;
use std::time::Duration;

use super::leaders::{Placement, missing};
use crate::client::KafkaClient;
use crate::error::{BrokerError, Error, ErrorCode, Result};
use crate::records::{FetchedRecord, committed_records};
use crate::retry::{Backoff, Deadline};

/// What one read returned.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FetchedRecords {
    /// The committed data records from the asked offset, in offset order
    /// (possibly not all up to `end`: a reply is bounded).
    pub records: Vec<FetchedRecord>,
    /// Where to read next.
    pub next: i64,
    /// The partition's last stable offset (its end for read-committed
    /// readers).
    pub end: i64,
}

impl KafkaClient {
    /// The committed records of `topic`/`partition` from offset `from`
    /// (at most one reply's worth, about 256 KiB), retrying a moved or
    /// unavailable leader until `timeout`. An offset out of range (before
    /// the log start after retention, or past the end) is the broker's
    /// error OFFSET_OUT_OF_RANGE.
    pub async fn read_committed(
        &self,
        topic: &str,
        partition: i32,
        from: i64,
        timeout: Duration,
    ) -> Result<FetchedRecords> {
        let deadline = Deadline::after(timeout);
        let key = (topic.to_string(), partition);
        let mut refreshed = BTreeSet::new();
        let mut backoff = Backoff::new();
        loop {
            let placed = self
                .place(std::iter::once(&key), &mut refreshed, &deadline)
                .await?;
            let retry = match placed.get(&key) {
                Some(Placement::Leader(node)) => {
                    let response = self
                        .fetch_from(*node, topic, &[(partition, from)], &deadline)
                        .await;
                    match response {
                        Ok(response) => match Self::records_of(response, partition, from) {
                            Ok(read) => return Ok(read),
                            Err(error) => error,
                        },
                        Err(error) if error.is_retriable() => error,
                        Err(error) => return Err(error),
                    }
                }
                Some(Placement::Retry(error)) => broker(error.clone()),
                Some(Placement::Missing) | None => return Err(broker(missing())),
            };
            if let Some(e) = retry.broker_error()
                && e.code.is_stale_metadata()
            {
                self.cluster.invalidate(topic);
            }
            if !retry.is_retriable() {
                return Err(retry);
            }
            if !backoff.wait(&deadline).await {
                return Err(Error::DeadlineExceeded {
                    what: format!("read {topic}/{partition} from offset {from}"),
                    after: timeout,
                    last: Some(Box::new(retry)),
                });
            }
        }
    }

    fn records_of(
        response: kafka_protocol::messages::FetchResponse,
        partition: i32,
        from: i64,
    ) -> Result<FetchedRecords> {
        if let Some(code) = ErrorCode::from_code(response.error_code) {
            return Err(broker(BrokerError::new(code, None)));
        }
        let reply = response
            .responses
            .into_iter()
            .flat_map(|t| t.partitions)
            .find(|p| p.partition_index == partition)
            .ok_or_else(|| broker(missing()))?;
        if let Some(code) = ErrorCode::from_code(reply.error_code) {
            return Err(broker(BrokerError::new(code, None)));
        }
        let aborted = super::fetch::aborted_transactions(reply.aborted_transactions);
        let end = if reply.last_stable_offset >= 0 {
            reply.last_stable_offset
        } else {
            reply.high_watermark
        };
        let (records, next) = committed_records(reply.records.unwrap_or_default(), from, &aborted)
            .map_err(|why| {
                // CORRUPT_MESSAGE: the reply's records cannot be decoded.
                let code = ErrorCode::from_code(2).unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                broker(BrokerError::new(code, Some(why)))
            })?;
        let records = records.into_iter().filter(|r| r.offset < end).collect();
        Ok(FetchedRecords {
            records,
            next: next.min(end.max(from)),
            end,
        })
    }
}

fn broker(error: BrokerError) -> Error {
    Error::Broker {
        context: "reading committed records".into(),
        error,
    }
}
