//! Stage 2's checkpoint, stored as the metadata of its offset commit on each
//! partials partition, so it is committed atomically with the offset.
//!
//! Kafka limits commit metadata to `offset.metadata.max.bytes` (4,096 by
//! default) and rejects a larger commit. The checkpoint therefore has a
//! bounded encoding ([`Checkpoint::encode`] never exceeds
//! [`MAX_METADATA_BYTES`], whatever the input partition count, up to the
//! CRD's 10,000 and beyond):
//!
//! - what correctness needs is small and always present: the **global
//!   watermark** `g` (windows ending at or before it are final and were
//!   emitted) and the **position** `p` (records below it were processed);
//! - the per-input-partition watermarks only speed up the restart (without
//!   them the watermark stays at `g` until every input partition has sent a
//!   marker again, or gone idle); they are stored as whole seconds above
//!   the smallest one (rounding down is safe: a lower partition watermark
//!   only delays the next advance) and left out when they do not fit;
//! - the rest is for the operator's status: which input partitions hold the
//!   watermark back, how many are idle, when stage 2 last closed windows
//!   early at its memory bound.
//!
//! The format (JSON, version 2) is documented in docs/processor.md; version 1
//! (`{"watermarks":{..},"position":n}`) is still read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::watermark::{HoldReport, Holding};
use super::window::Millis;

/// Largest encoded checkpoint, below Kafka's default limit of 4,096 bytes.
pub const MAX_METADATA_BYTES: usize = 4_000;
/// How many holding partitions are listed.
pub const HOLDING_LISTED: usize = 8;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    /// Offset after the last record processed before the commit: records
    /// below it that belong to final windows are replays, not late events.
    pub position: i64,
    /// The global watermark at the commit.
    pub global: Option<Millis>,
    /// Largest event time per input partition (possibly rounded down, or
    /// empty when it did not fit).
    pub watermarks: BTreeMap<i32, Millis>,
    /// For the status: partitions holding the watermark back.
    pub hold: HoldReport,
    /// Wall clock (epoch ms) of the last early close at the memory bound.
    pub forced_close_at: Option<Millis>,
}

#[derive(Serialize, Deserialize)]
struct WireV2 {
    v: u32,
    p: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    g: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    wb: Option<Millis>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    w: String,
    #[serde(default)]
    h: Vec<(i32, Option<Millis>)>,
    #[serde(default)]
    hn: usize,
    #[serde(default)]
    i: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    fc: Option<Millis>,
}

#[derive(Deserialize)]
struct WireV1 {
    watermarks: BTreeMap<i32, Millis>,
    position: i64,
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `(base, list)`: per partition, whole seconds above the smallest
/// watermark in base 36, comma separated, empty for a partition without one.
fn encode_watermarks(watermarks: &BTreeMap<i32, Millis>) -> Option<(Millis, String)> {
    let base = *watermarks.values().min()?;
    let last = *watermarks.keys().max()?;
    let mut out = String::new();
    for p in 0..=last.max(0) {
        if p > 0 {
            out.push(',');
        }
        if let Some(&wm) = watermarks.get(&p) {
            let seconds = wm.saturating_sub(base) / 1000;
            out.push_str(&base36(seconds.max(0) as u64));
        }
    }
    Some((base, out))
}

fn decode_watermarks(base: Millis, list: &str) -> BTreeMap<i32, Millis> {
    list.split(',')
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .filter_map(|(p, s)| {
            let seconds = i64::from_str_radix(s, 36).ok()?;
            let p = i32::try_from(p).ok()?;
            Some((p, base.saturating_add(seconds.saturating_mul(1000))))
        })
        .collect()
}

impl Checkpoint {
    /// The commit metadata: at most [`MAX_METADATA_BYTES`].
    pub fn encode(&self) -> String {
        let (wb, w) = match encode_watermarks(&self.watermarks) {
            Some((base, list)) => (Some(base), list),
            None => (None, String::new()),
        };
        let mut wire = WireV2 {
            v: 2,
            p: self.position,
            g: self.global,
            wb,
            w,
            h: self
                .hold
                .holding
                .iter()
                .take(HOLDING_LISTED)
                .map(|h| (h.partition, h.watermark))
                .collect(),
            hn: self.hold.holding_count,
            i: self.hold.idle,
            fc: self.forced_close_at,
        };
        let text = serde_json::to_string(&wire).unwrap_or_default();
        if text.len() <= MAX_METADATA_BYTES {
            return text;
        }
        // Too many input partitions to list: keep what correctness needs.
        wire.wb = None;
        wire.w.clear();
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Reads commit metadata of version 2 or 1; anything else (none, or
    /// not ours) is an empty checkpoint.
    pub fn decode(metadata: &str) -> Checkpoint {
        if let Ok(wire) = serde_json::from_str::<WireV2>(metadata)
            && wire.v == 2
        {
            return Checkpoint {
                position: wire.p,
                global: wire.g,
                watermarks: match wire.wb {
                    Some(base) => decode_watermarks(base, &wire.w),
                    None => BTreeMap::new(),
                },
                hold: HoldReport {
                    holding: wire
                        .h
                        .into_iter()
                        .map(|(partition, watermark)| Holding {
                            partition,
                            watermark,
                        })
                        .collect(),
                    holding_count: wire.hn,
                    idle: wire.i,
                },
                forced_close_at: wire.fc,
            };
        }
        if let Ok(v1) = serde_json::from_str::<WireV1>(metadata) {
            return Checkpoint {
                position: v1.position,
                watermarks: v1.watermarks,
                ..Checkpoint::default()
            };
        }
        Checkpoint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = 1_767_225_600_000;

    fn sample(partitions: i32) -> Checkpoint {
        Checkpoint {
            position: 123_456_789,
            global: Some(T - 10_000),
            watermarks: (0..partitions)
                .map(|p| (p, T + i64::from(p % 7) * 1_000 + 999))
                .collect(),
            hold: HoldReport {
                holding: (0..20)
                    .map(|p| Holding {
                        partition: p,
                        watermark: Some(T),
                    })
                    .collect(),
                holding_count: 20,
                idle: 3,
            },
            forced_close_at: Some(T + 5),
        }
    }

    #[test]
    fn round_trips_rounding_partition_watermarks_down_to_seconds() {
        let c = sample(6);
        let text = c.encode();
        let back = Checkpoint::decode(&text);
        assert_eq!(back.position, c.position);
        assert_eq!(back.global, c.global);
        assert_eq!(back.forced_close_at, c.forced_close_at);
        assert_eq!(back.hold.holding.len(), HOLDING_LISTED);
        assert_eq!((back.hold.holding_count, back.hold.idle), (20, 3));
        for (p, wm) in &c.watermarks {
            let restored = back.watermarks[p];
            assert!(
                restored <= *wm && wm - restored < 1_000,
                "{p}: {restored} vs {wm}"
            );
        }
    }

    #[test]
    fn gaps_in_the_partition_list_survive() {
        let c = Checkpoint {
            watermarks: BTreeMap::from([(1, T), (4, T + 3_600_000)]),
            ..Checkpoint::default()
        };
        let back = Checkpoint::decode(&c.encode());
        assert_eq!(back.watermarks, c.watermarks);
    }

    #[test]
    fn never_exceeds_the_metadata_limit_up_to_the_crd_maximum() {
        for partitions in [1, 100, 300, 1_000, 10_000, 100_000] {
            let c = sample(partitions);
            let text = c.encode();
            assert!(
                text.len() <= MAX_METADATA_BYTES,
                "{partitions}: {}",
                text.len()
            );
            let back = Checkpoint::decode(&text);
            assert_eq!((back.position, back.global), (c.position, c.global));
            if !back.watermarks.is_empty() {
                assert_eq!(back.watermarks.len(), partitions as usize);
            }
        }
        // Typical spreads of a few seconds keep the watermarks up to ~1,000
        // input partitions.
        assert_eq!(
            Checkpoint::decode(&sample(1_000).encode()).watermarks.len(),
            1_000
        );
    }

    #[test]
    fn reads_version_1_and_ignores_foreign_metadata() {
        let v1 = r#"{"watermarks":{"0":5000,"2":7000},"position":42}"#;
        let c = Checkpoint::decode(v1);
        assert_eq!(c.position, 42);
        assert_eq!(c.watermarks, BTreeMap::from([(0, 5000), (2, 7000)]));
        assert_eq!(c.global, None);
        assert_eq!(Checkpoint::decode(""), Checkpoint::default());
        assert_eq!(Checkpoint::decode("{\"v\":3}"), Checkpoint::default());
    }
}
