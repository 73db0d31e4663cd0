//! The whole pipeline in memory, without Kafka: stage 1 over batches of
//! input records (parsed and validated; without a clock, so without the
//! event-time skew check), the partials "topic" as in-memory logs (records
//! go through their JSON wire format, split to the size budget, and are
//! routed as stage 1 routes them), stage 2 per partials partition. Used by
//! the golden tests and the in-memory benchmark.

use std::collections::BTreeMap;

use super::merge::{Applied, MergeConfig, MergeState};
use super::output::{OutputRecord, finalize};
use super::partial::{PARTIAL_BUDGET_BYTES, PartialsRecord, encode_partial};
use super::preagg::{DeadLetter, PreAggregator, detect_anomaly};
use super::routing::partials_partition;
use super::validate::{InputRules, read_event};

/// Results of a simulated run: per output, key → JSON value (last wins).
#[derive(Debug, Default, PartialEq)]
pub struct SimOutput {
    pub outputs: BTreeMap<String, BTreeMap<String, String>>,
    pub dead_letters: Vec<DeadLetter>,
    /// Late events per windowed output.
    pub late_events: BTreeMap<String, u64>,
    pub events: u64,
}

fn insert(out: &mut SimOutput, topic: &str, key: String, value: String) {
    out.outputs
        .entry(topic.to_owned())
        .or_default()
        .insert(key, value);
}

/// One input record: (input partition, record value).
pub type InputRecord = (i32, Option<Vec<u8>>);

/// Runs `batches` of input records in order; stage 1 flushes after each.
pub fn simulate(
    batches: &[Vec<InputRecord>],
    config: MergeConfig,
    partials_partitions: usize,
) -> SimOutput {
    let mut out = SimOutput::default();
    let mut pre = PreAggregator::new(config.windows);
    let mut merges: Vec<MergeState> = (0..partials_partitions)
        .map(|_| MergeState::new(config))
        .collect();
    let mut offsets = vec![0i64; partials_partitions];
    let mut emitted: Vec<OutputRecord> = Vec::new();
    let mut next_offset: BTreeMap<i32, i64> = BTreeMap::new();
    for batch in batches {
        for (partition, payload) in batch {
            let offset = next_offset.entry(*partition).or_default();
            *offset += 1;
            let offset = *offset - 1;
            let rules = InputRules {
                max_future_skew_ms: None,
            };
            match read_event(payload.as_deref(), &rules, 0) {
                Ok(event) => {
                    out.events += 1;
                    if let Some(a) = detect_anomaly(&event, config.windows.anomaly_threshold) {
                        let value = serde_json::to_string(&a).unwrap_or_default();
                        insert(&mut out, "anomalies", a.event_id.to_owned(), value);
                    }
                    pre.add(*partition, &event);
                }
                Err(reason) => out.dead_letters.push(DeadLetter::new(
                    reason,
                    "input",
                    *partition,
                    offset,
                    payload.as_deref(),
                )),
            }
        }
        let drained = pre.drain();
        {
            let mut logs: Vec<Vec<String>> = vec![Vec::new(); partials_partitions];
            let routing = i32::try_from(partials_partitions).unwrap_or(i32::MAX);
            for partial in drained.partials {
                let q = partials_partition(&partial.key(), routing) as usize;
                let records = encode_partial(partial, PARTIAL_BUDGET_BYTES).unwrap_or_default();
                logs[q].extend(records);
            }
            if !drained.watermarks.is_empty() {
                let marker = PartialsRecord::Watermarks {
                    watermarks: drained.watermarks.into_iter().collect(),
                    idle: Vec::new(),
                };
                let wire = serde_json::to_string(&marker).unwrap_or_default();
                logs.iter_mut().for_each(|log| log.push(wire.clone()));
            }
            for (q, log) in logs.into_iter().enumerate() {
                for wire in log {
                    let Ok(record) = serde_json::from_str::<PartialsRecord>(&wire) else {
                        continue;
                    };
                    let is_marker = matches!(
                        record,
                        PartialsRecord::Watermark { .. } | PartialsRecord::Watermarks { .. }
                    );
                    if let Applied::Late(kind, n) = merges[q].apply(offsets[q], record) {
                        *out.late_events.entry(kind.as_str().to_owned()).or_default() += n;
                    }
                    offsets[q] += 1;
                    if is_marker {
                        emitted.extend(finalize(&merges[q].close()));
                    }
                }
            }
        }
    }
    for record in emitted {
        insert(&mut out, record.kind.as_str(), record.key, record.value);
    }
    out
}
