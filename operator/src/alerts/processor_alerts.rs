//! Alerts the processor writes to the pipeline's alerts topic (dead-letter
//! rate, bursts of high-value anomalies, slow windows; docs/alerts.md),
//! turned into Events on the pipeline. Pure: which record is which Event,
//! and where the operator's read of the topic stands.
//!
//! The processor judges these itself because only it knows the facts
//! exactly (its dead letters and anomalies per minute, when a window
//! closed); the operator only relays them, so that every alert is also an
//! Event. Records of the operator's own types are skipped (their Events
//! were published when they were raised).

use std::collections::VecDeque;

use serde::Deserialize;

/// The Event one processor alert becomes. All are Warnings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlertEvent {
    pub reason: &'static str,
    pub message: String,
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "type")]
    type_: &'a str,
    message: String,
}

/// The Event for an alerts-topic record, if the processor wrote it
/// (by its `type`); `None` for the operator's own alerts and anything that
/// does not read as an alert.
pub fn event_of(value: &[u8]) -> Option<AlertEvent> {
    let record: Record<'_> = serde_json::from_slice(value).ok()?;
    let reason = match record.type_ {
        "dead_letter_rate" => "DeadLetterRateHigh",
        "high_value_anomaly_burst" => "HighValueAnomalyBurst",
        "window_close_slow" => "WindowCloseSlow",
        _ => return None,
    };
    Some(AlertEvent {
        reason,
        message: record.message,
    })
}

/// Processor alerts remembered to recognise a re-emission.
const REMEMBERED: usize = 64;

/// Where the operator's read of one pipeline's alerts topic stands.
///
/// The processor writes a count alert again, byte for byte, when it
/// re-emits a window after a crash between writing and committing; such a
/// repeat of one of the last [`REMEMBERED`] processor alerts is no new
/// Event.
#[derive(Debug, Default)]
pub struct AlertTail {
    /// The next offset to read; `None` until the end of the topic was
    /// taken as the start (alerts from before the operator first looked
    /// are not replayed as Events).
    pub position: Option<i64>,
    recent: VecDeque<Vec<u8>>,
}

impl AlertTail {
    /// The Event for the record `value`, unless it is not a processor
    /// alert or repeats a recent one.
    pub fn admit(&mut self, value: &[u8]) -> Option<AlertEvent> {
        let event = event_of(value)?;
        if self.recent.iter().any(|seen| seen == value) {
            return None;
        }
        if self.recent.len() == REMEMBERED {
            self.recent.pop_front();
        }
        self.recent.push_back(value.to_vec());
        Some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEAD: &str = r#"{"timestamp":"2026-11-30T06:01:00.000000","type":"dead_letter_rate","message":"pipeline ns/p: 7 input records went to the dead-letter topic in the minute 2026-11-30T06:00:00Z–2026-11-30T06:01:00Z (threshold 5 per minute)","severity":"warning","pipeline":"ns/p"}"#;

    #[test]
    fn processor_alerts_become_events_once() {
        let mut tail = AlertTail::default();
        let event = tail.admit(DEAD.as_bytes()).expect("a processor alert");
        assert_eq!(event.reason, "DeadLetterRateHigh");
        assert!(event.message.starts_with("pipeline ns/p: 7 input records"));
        assert_eq!(tail.admit(DEAD.as_bytes()), None, "a re-emission");
        let burst = DEAD.replace("dead_letter_rate", "high_value_anomaly_burst");
        assert_eq!(
            tail.admit(burst.as_bytes()).map(|e| e.reason),
            Some("HighValueAnomalyBurst")
        );
        let slow = DEAD.replace("dead_letter_rate", "window_close_slow");
        assert_eq!(
            tail.admit(slow.as_bytes()).map(|e| e.reason),
            Some("WindowCloseSlow")
        );
    }

    #[test]
    fn the_operators_own_alerts_and_garbage_are_skipped() {
        let mut tail = AlertTail::default();
        let own = DEAD.replace("dead_letter_rate", "lag_stop");
        assert_eq!(tail.admit(own.as_bytes()), None);
        assert_eq!(tail.admit(b"not json"), None);
        assert_eq!(tail.admit(br#"{"type":"dead_letter_rate"}"#), None);
    }

    #[test]
    fn only_recent_alerts_are_remembered() {
        let mut tail = AlertTail::default();
        for n in 0..=REMEMBERED {
            let value = DEAD.replace("7 input", &format!("{n} input"));
            assert!(tail.admit(value.as_bytes()).is_some());
        }
        let first = DEAD.replace("7 input", "0 input");
        assert!(tail.admit(first.as_bytes()).is_some(), "forgotten by now");
    }
}
