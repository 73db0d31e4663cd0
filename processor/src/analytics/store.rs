//! The window store of stage 2: open windows of one aggregate kind, ordered
//! by window end so the windows a watermark closes are a prefix.

use std::collections::BTreeMap;

use super::agg::Aggregate;
use super::memory::ApproxBytes;
use super::window::Millis;

/// One open (or just closed) window and its merged groups.
#[derive(Debug, Clone, PartialEq)]
pub struct Window<K, A> {
    pub start: Millis,
    pub end: Millis,
    pub groups: BTreeMap<K, A>,
    /// Smallest partials-topic offset merged into this window: stage 2 may
    /// commit only below it while the window is open.
    pub first_offset: i64,
    /// Estimated heap bytes of the groups (`memory.rs`).
    pub bytes: usize,
}

#[derive(Debug)]
pub struct WindowStore<K, A> {
    windows: BTreeMap<Millis, Window<K, A>>,
    bytes: usize,
}

impl<K, A> Default for WindowStore<K, A> {
    fn default() -> Self {
        WindowStore {
            windows: BTreeMap::new(),
            bytes: 0,
        }
    }
}

impl<K: Ord + ApproxBytes, A: Aggregate + ApproxBytes> WindowStore<K, A> {
    /// Merges `agg` into group `key` of window `[start, end)`.
    pub fn merge(&mut self, start: Millis, end: Millis, offset: i64, key: K, agg: A) {
        let window = self.windows.entry(end).or_insert_with(|| Window {
            start,
            end,
            groups: BTreeMap::new(),
            first_offset: offset,
            bytes: 0,
        });
        window.first_offset = window.first_offset.min(offset);
        let (before, after) = match window.groups.get_mut(&key) {
            Some(existing) => {
                let before = existing.approx_bytes();
                existing.merge(agg);
                (before, existing.approx_bytes())
            }
            None => {
                let after = key.approx_bytes() + agg.approx_bytes();
                window.groups.insert(key, agg);
                (0, after)
            }
        };
        window.bytes = (window.bytes + after).saturating_sub(before);
        self.bytes = (self.bytes + after).saturating_sub(before);
    }

    /// Whether group `key` of the window ending at `end` is kept as a group
    /// of its own: it exists already, or the window has fewer than `bound`
    /// groups (so a window holds at most `bound` groups plus the one
    /// taking the overflow).
    pub fn admits<Q>(&self, end: Millis, key: &Q, bound: usize) -> bool
    where
        K: std::borrow::Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.windows
            .get(&end)
            .is_none_or(|w| w.groups.contains_key(key) || w.groups.len() < bound)
    }

    /// Removes and returns the windows with `end <= watermark`, oldest first.
    pub fn pop_closed(&mut self, watermark: Millis) -> Vec<Window<K, A>> {
        let closed: Vec<Window<K, A>> = match watermark.checked_add(1) {
            None => std::mem::take(&mut self.windows).into_values().collect(),
            Some(bound) => {
                let open = self.windows.split_off(&bound);
                std::mem::replace(&mut self.windows, open)
                    .into_values()
                    .collect()
            }
        };
        let freed: usize = closed.iter().map(|w| w.bytes).sum();
        self.bytes = self.bytes.saturating_sub(freed);
        closed
    }

    /// End of the oldest open window.
    pub fn oldest_end(&self) -> Option<Millis> {
        self.windows.keys().next().copied()
    }

    /// Estimated heap bytes of the open windows.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Smallest offset merged into a still-open window.
    pub fn first_offset(&self) -> Option<i64> {
        self.windows.values().map(|w| w.first_offset).min()
    }

    pub fn len(&self) -> usize {
        self.windows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::agg::SegmentAgg;

    impl ApproxBytes for &str {
        fn approx_bytes(&self) -> usize {
            self.len()
        }
    }

    fn agg(orders: u64) -> SegmentAgg {
        SegmentAgg {
            orders,
            ..SegmentAgg::default()
        }
    }

    #[test]
    fn pops_windows_whose_end_is_at_or_below_the_watermark() {
        let mut store: WindowStore<&str, SegmentAgg> = WindowStore::default();
        store.merge(0, 10, 5, "a", agg(1));
        store.merge(0, 10, 3, "a", agg(2));
        store.merge(10, 20, 7, "a", agg(1));
        assert_eq!(store.first_offset(), Some(3));
        assert_eq!(store.oldest_end(), Some(10));
        let two = store.bytes();
        assert!(two > 0);
        assert!(store.pop_closed(9).is_empty());
        let closed = store.pop_closed(10);
        assert_eq!(closed.len(), 1);
        assert_eq!(closed[0].groups["a"].orders, 3);
        assert_eq!(store.first_offset(), Some(7));
        assert!(store.bytes() < two);
        assert_eq!(store.pop_closed(Millis::MAX).len(), 1);
        assert!(store.is_empty());
        assert_eq!(store.bytes(), 0);
    }

    #[test]
    fn admits_existing_groups_and_new_ones_below_the_bound() {
        let mut store: WindowStore<&str, SegmentAgg> = WindowStore::default();
        assert!(store.admits(10, &"a", 2));
        store.merge(0, 10, 0, "a", agg(1));
        store.merge(0, 10, 1, "b", agg(1));
        assert!(store.admits(10, &"a", 2));
        assert!(!store.admits(10, &"c", 2));
        assert!(store.admits(20, &"c", 2), "another window");
    }
}
