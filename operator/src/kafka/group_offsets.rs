//! Committed offsets of any consumer group through the admin API
//! (OffsetFetch via librdkafka's `rd_kafka_ListConsumerGroupOffsets`).
//!
//! librdkafka's consumer API reads only the commits of its own `group.id`,
//! which would take one client (and its sockets and threads) per pipeline;
//! rdkafka 0.38 does not wrap the admin call, so it is called here directly.
//! One client per cluster then serves every pipeline.

use std::collections::BTreeMap;
use std::ffi::CString;
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::TopicPartitionList;
use rdkafka::bindings as rd;
use rdkafka::client::Client;

use super::native::{AdminCall, Owned, text};
use crate::error::{Error, Result};

/// Committed offset per partition of `topic` for `group`; `None` for a
/// partition the group has never committed.
pub fn committed_offsets<C: ClientContext>(
    client: &Client<C>,
    group: &str,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<BTreeMap<i32, Option<i64>>> {
    let group_c = CString::new(group)
        .map_err(|_| Error::Kafka(format!("consumer group {group:?} contains a NUL byte")))?;
    let mut wanted = TopicPartitionList::new();
    for p in 0..partitions {
        wanted.add_partition(topic, p);
    }
    let call = AdminCall::new(
        client,
        rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS,
        timeout,
    )?;

    // SAFETY: every pointer below is created here, checked for NULL, and
    // released exactly once by the guards; librdkafka copies the request and
    // the options when the call is made, and the result stays valid until
    // the event is destroyed, which happens after it has been read.
    unsafe {
        let request = Owned::new(
            rd::rd_kafka_ListConsumerGroupOffsets_new(group_c.as_ptr(), wanted.ptr()),
            rd::rd_kafka_ListConsumerGroupOffsets_destroy,
        )?;
        let mut requests = [request.ptr()];
        rd::rd_kafka_ListConsumerGroupOffsets(
            client.native_ptr(),
            requests.as_mut_ptr(),
            1,
            call.options(),
            call.queue(),
        );
        let event = call.result(&format!("committed offsets of group {group}"))?;
        let result = rd::rd_kafka_event_ListConsumerGroupOffsets_result(event.ptr());
        if result.is_null() {
            return Err(Error::Kafka(
                "unexpected reply to the committed-offsets request".into(),
            ));
        }
        let mut count = 0usize;
        let groups = rd::rd_kafka_ListConsumerGroupOffsets_result_groups(result, &mut count);
        if groups.is_null() || count == 0 {
            return Err(Error::Kafka(format!(
                "no committed-offsets result for group {group}"
            )));
        }
        let group_result = *groups;
        let group_error = rd::rd_kafka_group_result_error(group_result);
        if !group_error.is_null() {
            return Err(Error::Kafka(format!(
                "cannot read committed offsets of group {group}: {}",
                text(rd::rd_kafka_error_string(group_error))
            )));
        }
        let list = rd::rd_kafka_group_result_partitions(group_result);
        let mut committed: BTreeMap<i32, Option<i64>> =
            (0..partitions).map(|p| (p, None)).collect();
        if list.is_null() {
            return Ok(committed);
        }
        let elems = std::slice::from_raw_parts((*list).elems, (*list).cnt.max(0) as usize);
        for elem in elems {
            if elem.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                return Err(Error::Kafka(format!(
                    "cannot read the committed offset of {topic}[{}] for group {group}: {}",
                    elem.partition,
                    text(rd::rd_kafka_err2str(elem.err))
                )));
            }
            // A negative offset is librdkafka's "no commit" (OFFSET_INVALID).
            if elem.offset >= 0 && committed.contains_key(&elem.partition) {
                committed.insert(elem.partition, Some(elem.offset));
            }
        }
        Ok(committed)
    }
}
