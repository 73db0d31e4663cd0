use bytes::{Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use super::*;

/// A batch of `count` records from `offset`, timestamps `ts`, `ts + 1`, ….
fn batch(
    offset: i64,
    count: i64,
    ts: i64,
    producer: Option<i64>,
    compression: Compression,
) -> Bytes {
    let records: Vec<Record> = (0..count)
        .map(|i| Record {
            transactional: producer.is_some(),
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: producer.unwrap_or(-1),
            producer_epoch: if producer.is_some() { 0 } else { -1 },
            timestamp_type: TimestampType::Creation,
            offset: offset + i,
            // One batch needs offset − sequence constant over its records.
            sequence: (offset + i) as i32,
            timestamp: ts + i,
            key: None,
            value: Some(Bytes::from(format!("value {}", offset + i))),
            headers: IndexMap::new(),
        })
        .collect();
    encode(&records, compression)
}

/// A transaction marker of `producer` at `offset`.
fn marker(offset: i64, producer: i64, abort: bool) -> Bytes {
    let record = Record {
        transactional: true,
        control: true,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: producer,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: -1,
        timestamp: 0,
        key: Some(Bytes::from_static(if abort {
            &[0, 0, 0, 0]
        } else {
            &[0, 0, 0, 1]
        })),
        value: Some(Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: IndexMap::new(),
    };
    encode(&[record], Compression::None)
}

fn encode(records: &[Record], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("batch encodes");
    buf.freeze()
}

fn concat(parts: &[Bytes]) -> Bytes {
    let mut all = BytesMut::new();
    for part in parts {
        all.extend_from_slice(part);
    }
    all.freeze()
}

#[test]
fn the_first_record_at_or_after_the_offset_is_found_inside_a_batch() {
    let data = concat(&[
        batch(0, 5, 1000, None, Compression::None),
        batch(5, 5, 2000, None, Compression::None),
    ]);
    assert_eq!(
        first_committed_timestamp(data.clone(), 0, &[]),
        Ok(Some(1000))
    );
    assert_eq!(
        first_committed_timestamp(data.clone(), 3, &[]),
        Ok(Some(1003))
    );
    assert_eq!(
        first_committed_timestamp(data.clone(), 7, &[]),
        Ok(Some(2002))
    );
    assert_eq!(first_committed_timestamp(data, 10, &[]), Ok(None));
}

#[test]
fn every_compression_codec_decodes() {
    for compression in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let data = batch(10, 20, 5000, None, compression);
        assert_eq!(
            first_committed_timestamp(data, 15, &[]),
            Ok(Some(5005)),
            "{compression:?}"
        );
    }
}

#[test]
fn aborted_transactions_and_markers_are_skipped() {
    // Producer 7's transaction (offsets 0..3) aborted at 3; producer 8's
    // committed one follows (4..6, marker at 6).
    let data = concat(&[
        batch(0, 3, 100, Some(7), Compression::None),
        marker(3, 7, true),
        batch(4, 2, 400, Some(8), Compression::None),
        marker(6, 8, false),
        batch(7, 1, 700, None, Compression::None),
    ]);
    let aborted = [AbortedTransaction {
        producer_id: 7,
        first_offset: 0,
    }];
    assert_eq!(
        first_committed_timestamp(data.clone(), 0, &aborted),
        Ok(Some(400))
    );
    // Without the abort list (read uncommitted), the aborted records count.
    assert_eq!(
        first_committed_timestamp(data.clone(), 0, &[]),
        Ok(Some(100))
    );
    // A marker is never a record.
    assert_eq!(first_committed_timestamp(data, 6, &aborted), Ok(Some(700)));
}

#[test]
fn a_producer_is_skipped_only_within_its_aborted_transaction() {
    // Producer 7 aborts its first transaction, then commits a second one.
    let data = concat(&[
        batch(0, 2, 100, Some(7), Compression::None),
        marker(2, 7, true),
        batch(3, 2, 300, Some(7), Compression::None),
        marker(5, 7, false),
    ]);
    let aborted = [AbortedTransaction {
        producer_id: 7,
        first_offset: 0,
    }];
    assert_eq!(first_committed_timestamp(data, 0, &aborted), Ok(Some(300)));
}

#[test]
fn a_batch_cut_off_by_the_byte_limit_is_ignored() {
    let whole = batch(0, 3, 100, None, Compression::None);
    let cut = whole.slice(..whole.len() - 5);
    assert_eq!(first_committed_timestamp(cut.clone(), 0, &[]), Ok(None));
    let data = concat(&[batch(0, 1, 50, None, Compression::None), cut]);
    assert_eq!(first_committed_timestamp(data, 1, &[]), Ok(None));
}

#[test]
fn corrupt_batches_are_errors_not_panics() {
    let mut corrupt = BytesMut::from(&batch(0, 3, 100, None, Compression::None)[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let error = first_committed_timestamp(corrupt.freeze(), 0, &[]).expect_err("CRC mismatch");
    assert!(error.contains("cannot decode"), "{error}");

    let mut negative = BytesMut::from(&batch(0, 1, 100, None, Compression::None)[..]);
    negative[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(first_committed_timestamp(negative.freeze(), 0, &[]).is_err());

    let mut old_format = BytesMut::from(&batch(0, 1, 100, None, Compression::None)[..]);
    old_format[16] = 1;
    let error = first_committed_timestamp(old_format.freeze(), 0, &[]).expect_err("magic 1");
    assert!(error.contains("v1"), "{error}");

    // Garbage of every length up to a header and a bit.
    for len in 0..80 {
        let garbage = Bytes::from(vec![0xA5u8; len]);
        let _ = first_committed_timestamp(garbage, 0, &[]);
    }
}

#[test]
fn a_reply_of_only_skipped_batches_says_where_to_read_on() {
    let data = concat(&[
        batch(0, 2, 100, Some(7), Compression::None),
        marker(2, 7, true),
    ]);
    let aborted = [AbortedTransaction {
        producer_id: 7,
        first_offset: 0,
    }];
    assert_eq!(
        first_committed_record(data, 0, &aborted),
        Ok(Scan {
            found: None,
            next: 3
        })
    );
    assert_eq!(
        first_committed_record(Bytes::new(), 5, &[]),
        Ok(Scan {
            found: None,
            next: 5
        })
    );
}

#[test]
fn every_committed_record_from_the_offset_is_read_with_its_value() {
    // Producer 7 aborted 0..3; producer 8 committed 4..6; 7 is plain.
    let data = concat(&[
        batch(0, 3, 100, Some(7), Compression::None),
        marker(3, 7, true),
        batch(4, 2, 400, Some(8), Compression::Lz4),
        marker(6, 8, false),
        batch(7, 1, 700, None, Compression::None),
    ]);
    let aborted = [AbortedTransaction {
        producer_id: 7,
        first_offset: 0,
    }];
    let (records, next) = committed_records(data.clone(), 0, &aborted).expect("decodes");
    let read: Vec<(i64, i64, Option<Bytes>)> = records
        .into_iter()
        .map(|r| (r.offset, r.timestamp, r.value))
        .collect();
    let value = |s: &'static str| Some(Bytes::from_static(s.as_bytes()));
    assert_eq!(
        read,
        [
            (4, 400, value("value 4")),
            (5, 401, value("value 5")),
            (7, 700, value("value 7")),
        ]
    );
    assert_eq!(next, 8);
    // From inside a batch; the cut-off tail of a reply is left for later.
    let (records, next) =
        committed_records(data.slice(..data.len() - 3), 5, &aborted).expect("decodes");
    assert_eq!(
        records.iter().map(|r| r.offset).collect::<Vec<_>>(),
        [5],
        "{records:?}"
    );
    assert_eq!(next, 7);
}
