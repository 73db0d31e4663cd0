//! Stage 1, pure: which partials partition a partial goes to.
//!
//! Every partial of one result must land on ONE partials partition (stage 2
//! merges per partition). Routing by the topic's *current* partition count
//! splits a window's partials as soon as the topic grows, and each half is
//! then emitted as if complete. So the count partials are routed over — the
//! **routing count** — is pinned: it is chosen once per consumer group (the
//! partials topic's partition count at the group's first transaction,
//! capped at [`MAX_ROUTING_PARTITIONS`]) and stored with every stage 1
//! offset commit ([`Stage1OffsetMetadata`]); every later replica reads it
//! back before its first transaction. Partitions added to the partials
//! topic later stay empty; the routing function (CRC-32 of the key modulo
//! the count) is librdkafka's default partitioner, so pipelines that ran
//! before the pin keep their routing.

use serde::{Deserialize, Serialize};

/// Upper bound of the routing count. Stage 1 writes one watermark record
/// per routing partition per transaction, and stage 2 tracks every input
/// partition per routing partition: both grow with this count.
pub const MAX_ROUTING_PARTITIONS: i32 = 256;

/// CRC-32 (IEEE 802.3, as librdkafka's `rd_crc32`).
pub fn crc32(bytes: &[u8]) -> u32 {
    const fn table() -> [u32; 256] {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    }
    static TABLE: [u32; 256] = table();
    let mut crc = !0u32;
    for &b in bytes {
        crc = TABLE[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// The partials partition of `key` among `routing` partitions.
pub fn partials_partition(key: &str, routing: i32) -> i32 {
    let n = routing.max(1) as u32;
    (crc32(key.as_bytes()) % n) as i32
}

/// The routing count for a group that has none pinned yet.
pub fn initial_routing(partials_partitions: i32) -> i32 {
    partials_partitions.clamp(1, MAX_ROUTING_PARTITIONS)
}

/// Metadata of stage 1's input-offset commits.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage1OffsetMetadata {
    pub partials_routing: i32,
}

impl Stage1OffsetMetadata {
    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The pinned routing count among committed offsets' metadata (empty or
/// foreign metadata is ignored). Replicas must agree, so if commits ever
/// disagree the smallest wins, deterministically.
pub fn pinned_routing<'a>(metadata: impl IntoIterator<Item = &'a str>) -> Option<i32> {
    metadata
        .into_iter()
        .filter_map(|m| serde_json::from_str::<Stage1OffsetMetadata>(m).ok())
        .map(|m| m.partials_routing)
        .filter(|&r| r >= 1)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_ieee_checksum() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn routing_does_not_depend_on_the_topic_size() {
        let keys = [
            "sales|0|books|Tokyo",
            "segments|60000|new",
            "top_products|0",
        ];
        let before: Vec<i32> = keys.iter().map(|k| partials_partition(k, 3)).collect();
        for (k, p) in keys.iter().zip(&before) {
            assert!((0..3).contains(p));
            assert_eq!(partials_partition(k, initial_routing(3)), *p);
        }
        assert_eq!(initial_routing(0), 1);
        assert_eq!(initial_routing(10_000), MAX_ROUTING_PARTITIONS);
    }

    #[test]
    fn the_pin_survives_in_commit_metadata() {
        let m = Stage1OffsetMetadata {
            partials_routing: 3,
        }
        .encode();
        assert_eq!(m, r#"{"partials_routing":3}"#);
        assert_eq!(pinned_routing(["", "garbage", m.as_str()]), Some(3));
        assert_eq!(
            pinned_routing([r#"{"partials_routing":6}"#, m.as_str()]),
            Some(3)
        );
        assert_eq!(pinned_routing(["", r#"{"partials_routing":0}"#]), None);
    }
}
