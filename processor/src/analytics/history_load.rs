//! Stage 2 reads the user-history topic back (`user_history.rs`): every
//! record up to the end the topic has when the read starts, so a user's
//! history resumes where the last written record left it and windows
//! replayed after a crash or rebalance are not added twice.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::error::{ProcessorError, Result};
use super::kafka::CALL_TIMEOUT;
use super::stage1::partition_count;
use super::user_history::{History, HistoryRecord};

/// Longest a load may take before stage 2 gives up (and, as on any Kafka
/// failure of stage 2, the process restarts and tries again).
const LOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Every user's latest history on `topic` (the one holding the most
/// windows when a user has several records, e.g. before compaction).
/// Unreadable records are skipped with a warning.
pub fn load(base: &ClientConfig, group: &str, topic: &str) -> Result<Vec<(String, History)>> {
    let consumer: BaseConsumer = base
        .clone()
        // Never joins or commits: assigned, read once, dropped.
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .set("isolation.level", "read_committed")
        .create()
        .map_err(ProcessorError::kafka("creating the user-history reader"))?;
    let partitions = partition_count(consumer.client(), topic)?;
    let mut ends = BTreeMap::new();
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, CALL_TIMEOUT)
            .map_err(ProcessorError::kafka(format!("offsets of {topic}")))?;
        if high > low {
            ends.insert(p, high);
            tpl.add_partition_offset(topic, p, Offset::Offset(low))
                .map_err(ProcessorError::kafka("building the offset list"))?;
        }
    }
    let mut latest: BTreeMap<String, History> = BTreeMap::new();
    if ends.is_empty() {
        return Ok(Vec::new());
    }
    consumer
        .assign(&tpl)
        .map_err(ProcessorError::kafka(format!("assigning {topic}")))?;
    let started = Instant::now();
    let mut records = 0u64;
    while !ends.is_empty() {
        if started.elapsed() > LOAD_TIMEOUT {
            return Err(ProcessorError::HistoryLoad(format!(
                "{topic}: over {}s ({records} records read)",
                LOAD_TIMEOUT.as_secs()
            )));
        }
        let Some(message) = consumer.poll(Duration::from_millis(200)) else {
            // The position passes transaction markers and compacted gaps
            // without delivering a record.
            if let Ok(positions) = consumer.position() {
                for elem in positions.elements() {
                    if let Offset::Offset(o) = elem.offset() {
                        if ends.get(&elem.partition()).is_some_and(|&end| o >= end) {
                            ends.remove(&elem.partition());
                        }
                    }
                }
            }
            continue;
        };
        let message = message.map_err(ProcessorError::kafka(format!("reading {topic}")))?;
        records += 1;
        if ends
            .get(&message.partition())
            .is_some_and(|&end| message.offset() + 1 >= end)
        {
            ends.remove(&message.partition());
        }
        let parsed = message
            .payload()
            .and_then(|p| serde_json::from_slice::<HistoryRecord>(p).ok())
            .and_then(|r| Some((r.user_id.clone(), r.history()?)));
        let Some((user, history)) = parsed else {
            tracing::warn!(
                partition = message.partition(),
                offset = message.offset(),
                "skipping an unreadable user-history record"
            );
            continue;
        };
        match latest.get(&user) {
            Some(known) if known.through >= history.through => {}
            _ => {
                latest.insert(user, history);
            }
        }
    }
    tracing::info!(
        topic,
        records,
        users = latest.len(),
        "stage 2: user histories read back"
    );
    Ok(latest.into_iter().collect())
}
