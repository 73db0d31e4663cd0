//! Stage 2's memory bound: an estimate of what its open windows hold, and
//! the bound it is kept under.
//!
//! Open windows are held until the watermark passes them. When the
//! watermark cannot advance (a stalled input partition with the idle
//! timeout off) or the state is simply larger than the pod's memory,
//! stage 2 would grow until the kernel kills it, replay after the restart
//! and be killed again. Instead, at the bound it closes its oldest windows
//! early (their results are emitted with what arrived so far; later events
//! for them are counted as late), reports it (metric, log, and the
//! checkpoint the operator turns into a condition) and keeps going.
//!
//! The estimate counts the heap a group takes (key, aggregate, and 40
//! bytes per distinct user id: a 24-byte inline id in a hash table at its
//! usual load), not the allocator's slack: the bound should leave room.

use std::path::Path;

use super::agg::{ProductAgg, SalesAgg, SegmentAgg};
use crate::event::{OwnedProductId, ProductId};

/// Estimated heap bytes of a value held by stage 2.
pub trait ApproxBytes {
    fn approx_bytes(&self) -> usize;
}

/// Per map entry (B-tree node share, pointers).
const ENTRY: usize = 48;
/// Per distinct user id in a set.
const USER: usize = 40;

impl ApproxBytes for String {
    fn approx_bytes(&self) -> usize {
        24 + self.capacity()
    }
}

/// The one group of an alert window.
impl ApproxBytes for () {
    fn approx_bytes(&self) -> usize {
        0
    }
}

impl ApproxBytes for (String, String) {
    fn approx_bytes(&self) -> usize {
        self.0.approx_bytes() + self.1.approx_bytes()
    }
}

impl ApproxBytes for OwnedProductId {
    fn approx_bytes(&self) -> usize {
        match self {
            ProductId::Integer(_) => 32,
            ProductId::Text(text) => 32 + text.len(),
        }
    }
}

impl ApproxBytes for SalesAgg {
    fn approx_bytes(&self) -> usize {
        ENTRY + 64 + self.users.capacity() * USER
    }
}

impl ApproxBytes for SegmentAgg {
    fn approx_bytes(&self) -> usize {
        ENTRY + 48
    }
}

impl ApproxBytes for ProductAgg {
    fn approx_bytes(&self) -> usize {
        ENTRY + 64 + self.product_name.capacity() + self.category.capacity()
    }
}

/// Share of the container's memory limit stage 2's state may take: the
/// rest is for librdkafka's fetch queues (~40 MB at the defaults), stage
/// 1's two batches, the producers' queues and the allocator's slack.
pub const SHARE_OF_LIMIT: f64 = 0.35;
/// Without a container limit.
pub const DEFAULT_BOUND_BYTES: usize = 1 << 30;

/// The cgroup memory limit in `root` (v2 `memory.max`, else v1
/// `memory/memory.limit_in_bytes`), if one is set.
pub fn cgroup_limit(root: &Path) -> Option<u64> {
    let v2 = std::fs::read_to_string(root.join("memory.max")).ok();
    let v1 = || std::fs::read_to_string(root.join("memory/memory.limit_in_bytes")).ok();
    let text = v2.or_else(v1)?;
    let limit: u64 = text.trim().parse().ok()?;
    // v1 reports "no limit" as a huge number.
    (limit < (1 << 60)).then_some(limit)
}

/// The bound in bytes: `configured_mb` if non-zero, else a share of the
/// container's limit, else [`DEFAULT_BOUND_BYTES`].
pub fn bound_bytes(configured_mb: u64, container_limit: Option<u64>) -> usize {
    if configured_mb > 0 {
        return usize::try_from(configured_mb.saturating_mul(1 << 20)).unwrap_or(usize::MAX);
    }
    match container_limit {
        Some(limit) => (limit as f64 * SHARE_OF_LIMIT) as usize,
        None => DEFAULT_BOUND_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_from_configuration_or_the_container() {
        assert_eq!(bound_bytes(64, Some(1 << 30)), 64 << 20);
        assert_eq!(
            bound_bytes(0, Some(256 << 20)),
            ((256u64 << 20) as f64 * 0.35) as usize
        );
        assert_eq!(bound_bytes(0, None), DEFAULT_BOUND_BYTES);
    }

    #[test]
    fn reads_cgroup_limits() {
        let dir = std::env::temp_dir().join(format!("cgroup-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("memory")).expect("temp dir");
        assert_eq!(cgroup_limit(&dir), None);
        std::fs::write(
            dir.join("memory/memory.limit_in_bytes"),
            "9223372036854771712\n",
        )
        .expect("write");
        assert_eq!(cgroup_limit(&dir), None, "v1 without a limit");
        std::fs::write(dir.join("memory/memory.limit_in_bytes"), "536870912\n").expect("write");
        assert_eq!(cgroup_limit(&dir), Some(512 << 20));
        std::fs::write(dir.join("memory.max"), "max\n").expect("write");
        assert_eq!(cgroup_limit(&dir), None, "v2 without a limit");
        std::fs::write(dir.join("memory.max"), "268435456\n").expect("write");
        assert_eq!(cgroup_limit(&dir), Some(256 << 20));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn user_sets_dominate_the_estimate() {
        let mut agg = SalesAgg::default();
        let small = agg.approx_bytes();
        for i in 0..1000 {
            agg.users
                .insert(crate::analytics::user_id::UserId::new(&format!("u{i}")));
        }
        assert!(agg.approx_bytes() >= small + 1000 * USER);
    }
}
