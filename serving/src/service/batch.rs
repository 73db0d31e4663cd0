//! A batch of consumed records: the Redis writes they become and the
//! offsets to commit once Redis has acknowledged them. Pure, so what is
//! written and committed for a given input is unit-tested.

use std::collections::{BTreeMap, HashMap};

use crate::clv::Model;
use crate::keys::KeySpace;
use crate::mapping;
use crate::records::{self, Output};
use crate::writes::{RedisWrite, Ttls};

/// A record that is not one of its topic's records: skipped (it stays in
/// Kafka), counted and logged with where it is.
#[derive(Debug)]
pub struct Skipped {
    pub output: Output,
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
}

pub struct Batch {
    writes: Vec<RedisWrite>,
    /// (topic, partition) → the offset after the last record read.
    next_offsets: BTreeMap<(String, i32), i64>,
    records: BTreeMap<&'static str, u64>,
    len: usize,
}

impl Batch {
    pub fn new() -> Batch {
        Batch {
            writes: Vec::new(),
            next_offsets: BTreeMap::new(),
            records: BTreeMap::new(),
            len: 0,
        }
    }

    /// Adds the record at `offset`; a record that cannot be parsed adds
    /// no write but still moves the offset (returned as [`Skipped`]).
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        keys: &KeySpace,
        ttls: &Ttls,
        model: Model,
        output: Output,
        topic: &str,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
    ) -> Result<(), Skipped> {
        self.len += 1;
        let next = self
            .next_offsets
            .entry((topic.to_owned(), partition))
            .or_insert(offset + 1);
        *next = (*next).max(offset + 1);
        let skipped = |reason: String| Skipped {
            output,
            partition,
            offset,
            reason,
        };
        let text = match payload.map(std::str::from_utf8) {
            None => return Err(skipped("no value".into())),
            Some(Err(e)) => return Err(skipped(format!("not UTF-8: {e}"))),
            Some(Ok(text)) => text,
        };
        let record = records::parse(output, text).map_err(|e| skipped(e.to_string()))?;
        *self.records.entry(output.name()).or_default() += 1;
        self.writes
            .extend(mapping::writes(keys, ttls, model, &record));
        Ok(())
    }

    /// Records read (parsed or skipped).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Parsed records per output name.
    pub fn records(&self) -> &BTreeMap<&'static str, u64> {
        &self.records
    }

    /// The writes, with repeated identical index updates (every record of
    /// a window re-adds the window to its index) sent once: the first
    /// occurrence is kept, so the order of distinct writes is unchanged.
    pub fn writes(&self) -> Vec<RedisWrite> {
        let mut seen: HashMap<(&str, &str), u64> = HashMap::new();
        let mut out = Vec::with_capacity(self.writes.len());
        for write in &self.writes {
            if let RedisWrite::SortedMember {
                key,
                member,
                score,
                keep_highest: Some(_),
                ..
            } = write
            {
                // The same member with the same score is the same write.
                if seen.insert((key, member), score.to_bits()) == Some(score.to_bits()) {
                    continue;
                }
            }
            out.push(write.clone());
        }
        out
    }

    /// What to commit: per (topic, partition), the offset after the last
    /// record of the batch.
    pub fn next_offsets(&self) -> &BTreeMap<(String, i32), i64> {
        &self.next_offsets
    }
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALES: &str = r#"{"window_start":"2025-08-12T10:01:00Z","window_end":"2025-08-12T10:02:00Z","category":"food","region":"Tokyo","order_count":1,"total_sales":1140.0,"avg_order_value":1140.0,"unique_customers":1}"#;
    const SALES_OSAKA: &str = r#"{"window_start":"2025-08-12T10:01:00Z","window_end":"2025-08-12T10:02:00Z","category":"food","region":"Osaka","order_count":2,"total_sales":100.0,"avg_order_value":50.0,"unique_customers":1}"#;

    fn add(batch: &mut Batch, partition: i32, offset: i64, value: &[u8]) -> Result<(), Skipped> {
        batch.add(
            &KeySpace::for_pipeline("ns", "p"),
            &Ttls::default(),
            Model::default(),
            Output::Sales,
            "sales",
            partition,
            offset,
            Some(value),
        )
    }

    #[test]
    fn offsets_to_commit_follow_the_last_record_of_each_partition() {
        let mut batch = Batch::new();
        add(&mut batch, 0, 7, SALES.as_bytes()).unwrap();
        add(&mut batch, 0, 8, SALES_OSAKA.as_bytes()).unwrap();
        add(&mut batch, 1, 3, SALES.as_bytes()).unwrap();
        let offsets: Vec<_> = batch.next_offsets().iter().collect();
        assert_eq!(
            offsets,
            [
                (&("sales".to_owned(), 0), &9),
                (&("sales".to_owned(), 1), &4)
            ]
        );
        assert_eq!(batch.len(), 3);
        assert_eq!(batch.records()["sales"], 3);
    }

    #[test]
    fn a_window_index_is_updated_once_per_batch() {
        let mut batch = Batch::new();
        add(&mut batch, 0, 0, SALES.as_bytes()).unwrap();
        add(&mut batch, 0, 1, SALES_OSAKA.as_bytes()).unwrap();
        let writes = batch.writes();
        let keys: Vec<&str> = writes.iter().map(RedisWrite::key).collect();
        assert_eq!(
            keys,
            [
                "shopstream:ns:p:sales:2025-08-12 10:01:00",
                "shopstream:ns:p:windows:sales",
                "shopstream:ns:p:sales:2025-08-12 10:01:00",
            ]
        );
    }

    #[test]
    fn an_unreadable_record_is_skipped_but_its_offset_moves() {
        let mut batch = Batch::new();
        let skipped = add(&mut batch, 2, 41, b"{\"window_start\":1}").unwrap_err();
        assert_eq!((skipped.partition, skipped.offset), (2, 41));
        assert!(
            skipped.reason.starts_with("invalid sales record"),
            "{skipped:?}"
        );
        assert!(
            add(&mut batch, 2, 42, &[0xff])
                .unwrap_err()
                .reason
                .contains("UTF-8")
        );
        assert!(batch.writes().is_empty());
        assert_eq!(batch.next_offsets()[&("sales".to_owned(), 2)], 43);
    }
}
