//! Partitions of topics and offsets of partitions, read through librdkafka's
//! admin API (`rd_kafka_DescribeTopics`, `rd_kafka_ListOffsets`), which
//! take topic names.
//!
//! The client-level calls rdkafka 0.38 offers for the same answers
//! (`fetch_metadata(Some(topic))`, `offsets_for_times`) create a topic
//! handle, its partition objects and their queues inside the client, and
//! librdkafka keeps them for the life of the client: ~44 KB per pipeline in
//! the operator's long-lived per-cluster clients, growing with every
//! pipeline ever reconciled. The admin calls create no such state; all they
//! leave behind is an entry in the client's metadata cache, which expires
//! after `metadata.max.age.ms` (see the client configurations).

use std::collections::{BTreeSet, HashMap};
use std::ffi::{CString, c_char};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::bindings as rd;
use rdkafka::client::Client;

use super::ExistingTopic;
use super::native::{AdminCall, Owned, c_array, set_isolation_level, text};
use crate::error::{Error, Result};

/// `metadata.max.age.ms` of the operator's clients: how long librdkafka
/// keeps a topic's metadata in its cache.
///
/// Every DescribeTopics reply (and every leader lookup of ListOffsets) is
/// stored in the cache, one entry per topic, for 15 minutes by default:
/// with 1,000 pipelines of 8 topics that is every topic reconciled in the
/// last 15 minutes, deleted pipelines' topics included (~0.4 KB each, per
/// client). Nothing needs an entry for longer than a few seconds: the topic
/// reconciles' admin calls always ask the broker, and the lag sampler lists
/// offsets right after the DescribeTopics that refreshed the leaders it
/// needs (only the committed-offsets request, bounded to 5 s, comes in
/// between). 10 s bounds the cache to the pipelines of the last 10 s; an
/// entry that expired anyway costs ListOffsets one Metadata request, not a
/// wrong answer.
///
/// `topic.metadata.refresh.interval.ms` stays at its default (5 min): the
/// admin client holds no topic handles, so its periodic refresh re-reads
/// only the broker list (keeping idle connections alive) and no cached
/// topic. (The lag probe consumer does hold the handles of the input topics
/// it has read records from, and is replaced after a bound; see
/// `oldest_record_probe.rs`.)
pub const METADATA_MAX_AGE_MS: &str = "10000";

/// What DescribeTopics says about one topic.
#[derive(Clone, Debug, PartialEq)]
pub enum TopicState {
    Exists(ExistingTopic),
    /// The broker does not know the topic.
    Missing,
    /// The broker refused to describe it (authorization, invalid name …).
    Unreadable(String),
}

fn c_string(name: &str) -> Result<CString> {
    CString::new(name).map_err(|_| Error::Kafka(format!("topic name {name:?} contains a NUL byte")))
}

/// Partitions and replication factor of each of `names`, in one Metadata
/// request for exactly these topics. A name missing from the map was not in
/// the broker's reply.
pub fn describe_topics<C: ClientContext>(
    client: &Client<C>,
    names: &[String],
    timeout: Duration,
) -> Result<HashMap<String, TopicState>> {
    // librdkafka refuses a request with duplicate names.
    let unique: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    if unique.is_empty() {
        return Ok(HashMap::new());
    }
    let names_c = unique
        .iter()
        .map(|name| c_string(name))
        .collect::<Result<Vec<_>>>()?;
    let mut name_ptrs: Vec<*const c_char> = names_c.iter().map(|n| n.as_ptr()).collect();
    let call = AdminCall::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        timeout,
    )?;

    // SAFETY: `name_ptrs` point into `names_c`, alive for the whole block;
    // the collection copies the names and is freed once by its guard, after
    // librdkafka has copied it into the request. Every pointer read from the
    // result belongs to the event, which its guard destroys only after the
    // last read (the strings are copied out by `text`).
    unsafe {
        let topics = Owned::new(
            rd::rd_kafka_TopicCollection_of_topic_names(name_ptrs.as_mut_ptr(), name_ptrs.len()),
            rd::rd_kafka_TopicCollection_destroy,
        )?;
        rd::rd_kafka_DescribeTopics(
            client.native_ptr(),
            topics.ptr(),
            call.options(),
            call.queue(),
        );
        let what = format!("the metadata of topics {}", names.join(", "));
        let event = call.result(&what)?;
        let result = rd::rd_kafka_event_DescribeTopics_result(event.ptr());
        if result.is_null() {
            return Err(Error::Kafka(format!(
                "unexpected reply when reading {what}"
            )));
        }
        let mut count = 0usize;
        let descriptions = rd::rd_kafka_DescribeTopics_result_topics(result, &mut count);
        let mut found = HashMap::new();
        for &description in c_array(descriptions, count) {
            let name = text(rd::rd_kafka_TopicDescription_name(description));
            let error = rd::rd_kafka_TopicDescription_error(description);
            let state = if !error.is_null() {
                if rd::rd_kafka_error_code(error)
                    == rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                {
                    TopicState::Missing
                } else {
                    TopicState::Unreadable(text(rd::rd_kafka_error_string(error)))
                }
            } else {
                let mut partition_count = 0usize;
                let partitions =
                    rd::rd_kafka_TopicDescription_partitions(description, &mut partition_count);
                let partitions = c_array(partitions, partition_count);
                // All partitions of a topic are created with the same
                // replication factor; the first one stands for all.
                let replication_factor = partitions.first().map_or(0, |&partition| {
                    let mut replica_count = 0usize;
                    rd::rd_kafka_TopicPartitionInfo_replicas(partition, &mut replica_count);
                    replica_count
                });
                TopicState::Exists(ExistingTopic {
                    partitions: i32::try_from(partitions.len()).unwrap_or(i32::MAX),
                    replication_factor: i32::try_from(replication_factor).unwrap_or(i32::MAX),
                })
            };
            found.insert(name, state);
        }
        Ok(found)
    }
}

/// Offsets of many partitions, batched into one ListOffsets request per
/// partition leader. `at` is `RD_KAFKA_OFFSET_SPEC_LATEST` (log-end
/// offsets) or `RD_KAFKA_OFFSET_SPEC_EARLIEST` (earliest retained).
/// Partitions that do not exist (yet) or could not be read are left out.
pub fn list_offsets<C: ClientContext>(
    client: &Client<C>,
    partitions: &[(&str, i32)],
    at: rd::rd_kafka_OffsetSpec_t,
    timeout: Duration,
) -> Result<HashMap<(String, i32), i64>> {
    // librdkafka refuses a request with duplicate partitions.
    let unique: BTreeSet<(&str, i32)> = partitions.iter().copied().collect();
    if unique.is_empty() {
        return Ok(HashMap::new());
    }
    let call = AdminCall::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTOFFSETS,
        timeout,
    )?;
    // The same end offsets the processor's read_committed consumers can
    // reach (and the consumer call used before returned): the last stable
    // offset, not the high watermark of open transactions.
    set_isolation_level(
        &call,
        rd::rd_kafka_IsolationLevel_t::RD_KAFKA_ISOLATION_LEVEL_READ_COMMITTED,
    )?;
    let wanted: Vec<(CString, i32)> = unique
        .iter()
        .map(|(topic, partition)| Ok((c_string(topic)?, *partition)))
        .collect::<Result<_>>()?;

    // SAFETY: the partition list is created here, checked for NULL and
    // freed once by its guard after librdkafka has copied it into the
    // request; it copies the topic names of `wanted` as they are added; the
    // element pointers `rd_kafka_topic_partition_list_add`
    // returns are valid until the next add, and each is written right away.
    // Everything read from the result belongs to the event, which its guard
    // destroys only after the last read (topic names are copied by `text`).
    unsafe {
        let request = Owned::new(
            rd::rd_kafka_topic_partition_list_new(i32::try_from(wanted.len()).unwrap_or(i32::MAX)),
            rd::rd_kafka_topic_partition_list_destroy,
        )?;
        for (topic, partition) in &wanted {
            let element =
                rd::rd_kafka_topic_partition_list_add(request.ptr(), topic.as_ptr(), *partition);
            if element.is_null() {
                return Err(Error::Kafka("cannot build the offsets request".into()));
            }
            (*element).offset = at as i64;
        }
        rd::rd_kafka_ListOffsets(
            client.native_ptr(),
            request.ptr(),
            call.options(),
            call.queue(),
        );
        let event = call.result("partition offsets")?;
        let result = rd::rd_kafka_event_ListOffsets_result(event.ptr());
        if result.is_null() {
            return Err(Error::Kafka(
                "unexpected reply to the offsets request".into(),
            ));
        }
        let mut count = 0usize;
        let infos = rd::rd_kafka_ListOffsets_result_infos(result, &mut count);
        let mut offsets = HashMap::new();
        for &info in c_array(infos, count) {
            let element = rd::rd_kafka_ListOffsetsResultInfo_topic_partition(info);
            if element.is_null()
                || (*element).err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                || (*element).offset < 0
            {
                continue;
            }
            offsets.insert(
                (text((*element).topic), (*element).partition),
                (*element).offset,
            );
        }
        Ok(offsets)
    }
}
