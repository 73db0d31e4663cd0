//! The processor's alerts, pure: judging a closed alert window's counts
//! (`alert_counts.rs`) and the delay of a closed window against their
//! thresholds, and the alert records, in the original system's
//! `system-alerts` format plus the pipeline (as the operator writes its
//! own alerts to the same topic; docs/alerts.md).
//!
//! Count alerts are a function of the window's merged counts and its
//! bounds only (the timestamp is the window's end, not the clock), so a
//! window emitted again after a restart gives the byte-identical record.
//! Slow-window alerts depend on the wall clock by nature: best effort.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use serde::Serialize;

use super::alert_counts::AlertCounts;
use super::partial::Kind;
use super::window::{Millis, rfc3339};

/// What raises an alert; `None` (or 0 on the command line) switches one off.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlertRules {
    /// `namespace/name` of the pipeline (the records' `pipeline` field and key).
    pub pipeline: String,
    /// More dead letters than this in one minute.
    pub dead_letters_per_minute: Option<u64>,
    /// More high-value anomalies than this in one minute.
    pub high_value_anomalies_per_minute: Option<u64>,
    /// The anomaly threshold (for the message).
    pub anomaly_threshold: f64,
    /// A window emitted more than this many ms after its deadline
    /// (window end + allowed lateness).
    pub window_close_slower_than_ms: Option<Millis>,
}

impl AlertRules {
    /// Whether stage 1 has to count anything for the count alerts.
    pub fn counts_needed(&self) -> bool {
        self.dead_letters_per_minute.is_some() || self.high_value_anomalies_per_minute.is_some()
    }
}

/// One record of the alerts topic. Field order is the original's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    pub timestamp: String,
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub message: String,
    pub severity: &'static str,
    pub pipeline: String,
}

impl AlertRecord {
    fn new(rules: &AlertRules, at: Millis, type_: &'static str, message: String) -> Self {
        AlertRecord {
            timestamp: python_utc_iso(at),
            type_,
            message,
            severity: "warning",
            pipeline: rules.pipeline.clone(),
        }
    }

    /// The record key: the pipeline, as for the operator's alerts.
    pub fn key(&self) -> &str {
        &self.pipeline
    }

    pub fn to_json(&self) -> String {
        // A struct of strings always serializes.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `datetime.utcnow().isoformat()` of the original's monitor, always with
/// microseconds (as the operator writes it).
fn python_utc_iso(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
        None => ms.to_string(),
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// The alerts of the closed alert window `[start, end)` with `counts`:
/// `dead_letter_rate` and `high_value_anomaly_burst`, each when its count
/// is strictly above its threshold.
pub fn judge_counts(
    rules: &AlertRules,
    start: Millis,
    end: Millis,
    counts: &AlertCounts,
) -> Vec<AlertRecord> {
    let mut out = Vec::new();
    let minute = format!("{}–{}", rfc3339(start), rfc3339(end));
    if let Some(limit) = rules.dead_letters_per_minute
        && counts.dead_letters > limit
    {
        let message = format!(
            "pipeline {}: {} went to the dead-letter topic in the minute {minute} (threshold {limit} per minute)",
            rules.pipeline,
            plural(counts.dead_letters, "input record", "input records"),
        );
        out.push(AlertRecord::new(rules, end, "dead_letter_rate", message));
    }
    if let Some(limit) = rules.high_value_anomalies_per_minute
        && counts.high_value_anomalies > limit
    {
        let message = format!(
            "pipeline {}: {} above {} in the minute {minute} (threshold {limit} per minute)",
            rules.pipeline,
            plural(
                counts.high_value_anomalies,
                "high-value transaction",
                "high-value transactions"
            ),
            rules.anomaly_threshold,
        );
        out.push(AlertRecord::new(
            rules,
            end,
            "high_value_anomaly_burst",
            message,
        ));
    }
    out
}

/// Slow window closes, one alert per episode and output: raised by the
/// first window of an output emitted later than the threshold, again only
/// after a window of that output was on time. Held in memory: a restart
/// starts a new episode.
#[derive(Debug, Default)]
pub struct SlowWindows {
    slow: BTreeMap<Kind, bool>,
}

impl SlowWindows {
    /// A window of `kind` ending at `end` was emitted `delay_ms` after its
    /// deadline, at wall-clock `now`.
    pub fn observe(
        &mut self,
        rules: &AlertRules,
        kind: Kind,
        (start, end): (Millis, Millis),
        delay_ms: Millis,
        now: Millis,
    ) -> Option<AlertRecord> {
        let limit = rules.window_close_slower_than_ms?;
        let slow = delay_ms > limit;
        let was = self.slow.insert(kind, slow).unwrap_or(false);
        if !slow || was {
            return None;
        }
        let message = format!(
            "pipeline {}: the {} window {}–{} closed {:.1} s after its deadline (window end + allowed lateness; threshold {} s)",
            rules.pipeline,
            kind.as_str(),
            rfc3339(start),
            rfc3339(end),
            delay_ms as f64 / 1000.0,
            limit / 1000,
        );
        Some(AlertRecord::new(rules, now, "window_close_slow", message))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> AlertRules {
        AlertRules {
            pipeline: "team-a/shop".into(),
            dead_letters_per_minute: Some(5),
            high_value_anomalies_per_minute: Some(2),
            anomaly_threshold: 50_000.0,
            window_close_slower_than_ms: Some(30_000),
        }
    }

    const START: Millis = 1_764_482_400_000; // 2025-11-30T06:00:00Z

    fn counts(dead_letters: u64, high_value_anomalies: u64) -> AlertCounts {
        AlertCounts {
            dead_letters,
            high_value_anomalies,
        }
    }

    #[test]
    fn counts_at_the_threshold_raise_nothing() {
        assert!(judge_counts(&rules(), START, START + 60_000, &counts(5, 2)).is_empty());
        assert!(
            judge_counts(
                &AlertRules::default(),
                START,
                START + 60_000,
                &counts(99, 99)
            )
            .is_empty()
        );
    }

    /// Golden: the records, byte for byte (the original's four keys, then
    /// the pipeline; the window's end as the timestamp).
    #[test]
    fn counts_above_the_threshold_raise_deterministic_records() {
        let alerts = judge_counts(&rules(), START, START + 60_000, &counts(6, 3));
        let json: Vec<String> = alerts.iter().map(AlertRecord::to_json).collect();
        assert_eq!(
            json,
            [
                r#"{"timestamp":"2025-11-30T06:01:00.000000","type":"dead_letter_rate","message":"pipeline team-a/shop: 6 input records went to the dead-letter topic in the minute 2025-11-30T06:00:00Z–2025-11-30T06:01:00Z (threshold 5 per minute)","severity":"warning","pipeline":"team-a/shop"}"#,
                r#"{"timestamp":"2025-11-30T06:01:00.000000","type":"high_value_anomaly_burst","message":"pipeline team-a/shop: 3 high-value transactions above 50000 in the minute 2025-11-30T06:00:00Z–2025-11-30T06:01:00Z (threshold 2 per minute)","severity":"warning","pipeline":"team-a/shop"}"#,
            ]
        );
        assert_eq!(alerts[0].key(), "team-a/shop");
        let only_anomalies = judge_counts(&rules(), START, START + 60_000, &counts(0, 3));
        assert_eq!(only_anomalies.len(), 1);
        assert_eq!(only_anomalies[0].type_, "high_value_anomaly_burst");
    }

    #[test]
    fn slow_windows_alert_once_per_episode_and_output() {
        let r = rules();
        let mut slow = SlowWindows::default();
        let w = (START, START + 60_000);
        assert!(
            slow.observe(&r, Kind::Sales, w, 30_000, 0).is_none(),
            "at the threshold"
        );
        let first = slow
            .observe(&r, Kind::Sales, w, 45_500, START + 200_000)
            .expect("slow");
        assert_eq!(first.type_, "window_close_slow");
        assert_eq!(first.timestamp, "2025-11-30T06:03:20.000000");
        assert_eq!(
            first.message,
            "pipeline team-a/shop: the sales window 2025-11-30T06:00:00Z–2025-11-30T06:01:00Z closed 45.5 s after its deadline (window end + allowed lateness; threshold 30 s)"
        );
        assert!(
            slow.observe(&r, Kind::Sales, w, 90_000, 0).is_none(),
            "same episode"
        );
        assert!(
            slow.observe(&r, Kind::Segments, w, 90_000, 0).is_some(),
            "another output"
        );
        assert!(
            slow.observe(&r, Kind::Sales, w, 1_000, 0).is_none(),
            "on time again"
        );
        assert!(
            slow.observe(&r, Kind::Sales, w, 31_000, 0).is_some(),
            "a new episode"
        );
        let off = AlertRules {
            window_close_slower_than_ms: None,
            ..rules()
        };
        assert!(
            SlowWindows::default()
                .observe(&off, Kind::Sales, w, 1 << 40, 0)
                .is_none()
        );
    }
}
