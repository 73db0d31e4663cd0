//! Reading the committed records at or after an offset (or only the first
//! one) in the record batches of a read-committed Fetch reply. Pure: bytes
//! in, answer out.
//!
//! Read-committed replies still contain records of aborted transactions;
//! the reply lists, per partition, the aborted transactions in its range
//! (producer id and first offset), and the reader drops them itself, as
//! Kafka's own consumer does: a producer's transactional batches are
//! skipped from the first offset of its aborted transaction until that
//! transaction's ABORT marker. Control batches (the markers) are never
//! records.

use std::collections::HashSet;

use bytes::{Buf, Bytes};
use kafka_protocol::records::RecordBatchDecoder;

/// An aborted transaction from the Fetch reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AbortedTransaction {
    pub(crate) producer_id: i64,
    pub(crate) first_offset: i64,
}

/// The batch header fields this reader needs (record batch format v2).
#[derive(Debug)]
struct BatchHeader {
    base_offset: i64,
    magic: i8,
    attributes: i16,
    last_offset_delta: i32,
    max_timestamp: i64,
    producer_id: i64,
}

const HEADER_LEN: usize = 61;
const COMPRESSION_MASK: i16 = 0x07;
const TIMESTAMP_LOG_APPEND: i16 = 0x08;
const TRANSACTIONAL: i16 = 0x10;
const CONTROL: i16 = 0x20;
/// Control record type of an ABORT marker (key: version i16, type i16).
const ABORT_MARKER: i16 = 0;

impl BatchHeader {
    fn parse(mut batch: &[u8]) -> Option<Self> {
        if batch.len() < HEADER_LEN {
            return None;
        }
        let base_offset = batch.get_i64();
        let _length = batch.get_i32();
        let _leader_epoch = batch.get_i32();
        let magic = batch.get_i8();
        let _crc = batch.get_u32();
        let attributes = batch.get_i16();
        let last_offset_delta = batch.get_i32();
        let _first_timestamp = batch.get_i64();
        let max_timestamp = batch.get_i64();
        let producer_id = batch.get_i64();
        Some(Self {
            base_offset,
            magic,
            attributes,
            last_offset_delta,
            max_timestamp,
            producer_id,
        })
    }

    fn is(&self, flag: i16) -> bool {
        self.attributes & flag != 0
    }

    fn last_offset(&self) -> i64 {
        self.base_offset
            .saturating_add(i64::from(self.last_offset_delta))
    }
}

/// What one reply's records say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The timestamp (ms) of the first committed data record at `from` or
    /// later, if the reply holds one.
    pub(crate) found: Option<i64>,
    /// Where to fetch next when nothing was found: after the last whole
    /// batch of the reply (brokers may return fewer batches than fit).
    pub(crate) next: i64,
}

/// The first committed data record at offset `from` or later in `records`
/// (skipping records before `from`, aborted ones, and control batches). A
/// batch cut off at the end of the reply (the broker fills up to the byte
/// limit) is ignored, as it is by every Kafka client. Err for a batch that
/// cannot be decoded.
pub(crate) fn first_committed_record(
    records: Bytes,
    from: i64,
    aborted: &[AbortedTransaction],
) -> Result<Scan, String> {
    let mut found = None;
    let next = scan_committed(records, from, aborted, |timestamp, _| {
        found = Some(timestamp);
        false
    })?;
    Ok(Scan { found, next })
}

/// One committed data record of a Fetch reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchedRecord {
    pub offset: i64,
    /// Milliseconds since the epoch (the broker's append time when the
    /// topic keeps log-append time).
    pub timestamp: i64,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
}

/// Every committed data record at offset `from` or later in `records`, in
/// offset order, and where to fetch next (after the last whole batch).
pub(crate) fn committed_records(
    records: Bytes,
    from: i64,
    aborted: &[AbortedTransaction],
) -> Result<(Vec<FetchedRecord>, i64), String> {
    let mut out = Vec::new();
    let next = scan_committed(records, from, aborted, |timestamp, record| {
        out.push(FetchedRecord {
            offset: record.offset,
            timestamp,
            key: record.key.clone(),
            value: record.value.clone(),
        });
        true
    })?;
    Ok((out, next))
}

/// Calls `visit` with each committed data record at `from` or later (and
/// its timestamp) until it returns false; returns the offset after the
/// last whole batch read.
fn scan_committed(
    mut records: Bytes,
    from: i64,
    aborted: &[AbortedTransaction],
    mut visit: impl FnMut(i64, &kafka_protocol::records::Record) -> bool,
) -> Result<i64, String> {
    let mut next = from;
    let mut aborted: Vec<AbortedTransaction> = aborted.to_vec();
    aborted.sort_by_key(|a| a.first_offset);
    let mut pending_aborts = aborted.into_iter().peekable();
    let mut aborting: HashSet<i64> = HashSet::new();

    while records.len() >= 12 {
        let length = i32::from_be_bytes([records[8], records[9], records[10], records[11]]);
        let length =
            usize::try_from(length).map_err(|_| format!("negative batch length {length}"))?;
        let Some(total) = length.checked_add(12) else {
            return Err(format!("batch length {length} overflows"));
        };
        if records.len() < total {
            break;
        }
        let batch = records.split_to(total);
        let header = BatchHeader::parse(&batch)
            .ok_or_else(|| format!("batch of {total} bytes is shorter than its header"))?;
        if header.magic != 2 {
            return Err(format!(
                "record batch format v{} is not supported",
                header.magic
            ));
        }
        next = next.max(header.last_offset().saturating_add(1));
        if header.last_offset() < from {
            continue;
        }
        while let Some(next) = pending_aborts.next_if(|a| a.first_offset <= header.last_offset()) {
            aborting.insert(next.producer_id);
        }
        if header.is(CONTROL) {
            if aborting.contains(&header.producer_id) && is_abort_marker(batch)? {
                aborting.remove(&header.producer_id);
            }
            continue;
        }
        if header.is(TRANSACTIONAL) && aborting.contains(&header.producer_id) {
            continue;
        }
        let compression = header.attributes & COMPRESSION_MASK;
        let set = RecordBatchDecoder::decode(&mut batch.clone()).map_err(|e| {
            format!(
                "cannot decode the batch at offset {} (compression {compression}): {e}",
                header.base_offset
            )
        })?;
        for record in set.records.iter().filter(|r| r.offset >= from) {
            // With log-append time every record of the batch carries the
            // broker's append time, stored as the batch's max timestamp.
            let timestamp = if header.is(TIMESTAMP_LOG_APPEND) {
                header.max_timestamp
            } else {
                record.timestamp
            };
            if !visit(timestamp, record) {
                return Ok(next);
            }
        }
    }
    Ok(next)
}

/// [`first_committed_record`]'s timestamp only.
#[cfg(test)]
pub(crate) fn first_committed_timestamp(
    records: Bytes,
    from: i64,
    aborted: &[AbortedTransaction],
) -> Result<Option<i64>, String> {
    first_committed_record(records, from, aborted).map(|scan| scan.found)
}

fn is_abort_marker(batch: Bytes) -> Result<bool, String> {
    let set = RecordBatchDecoder::decode(&mut batch.clone())
        .map_err(|e| format!("cannot decode a control batch: {e}"))?;
    Ok(set.records.iter().any(|record| {
        record
            .key
            .as_ref()
            .and_then(|key| key.get(2..4))
            .is_some_and(|kind| i16::from_be_bytes([kind[0], kind[1]]) == ABORT_MARKER)
    }))
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
