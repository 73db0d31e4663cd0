//! The counts behind the processor's own alerts (`alerts.rs`): dead letters
//! and high-value anomalies per alert window. Stage 1 counts them per
//! (input partition, window) in its transaction, as an `alerts` partial;
//! stage 2 merges the partials of a window like any other aggregate, so a
//! window's counts are exact with any number of replicas and across
//! crashes, and the alerts judged from them are deterministic.

use serde::{Deserialize, Serialize};

use super::agg::Aggregate;
use super::memory::ApproxBytes;
use super::window::Millis;

/// Size of an alert window: thresholds are "per minute".
pub const ALERT_WINDOW_MS: Millis = 60_000;

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlertCounts {
    /// Input records sent to the dead-letter topic, by the window of their
    /// Kafka record timestamp (a dead letter has no valid event time).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dead_letters: u64,
    /// Anomalies (`final_amount` above the anomaly threshold), by the
    /// window of their event time.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub high_value_anomalies: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Aggregate for AlertCounts {
    fn merge(&mut self, other: Self) {
        self.dead_letters = self.dead_letters.saturating_add(other.dead_letters);
        self.high_value_anomalies = self
            .high_value_anomalies
            .saturating_add(other.high_value_anomalies);
    }

    /// Not events of an output: a late alert partial is dropped without
    /// counting in `late_events_total`.
    fn events(&self) -> u64 {
        0
    }
}

impl ApproxBytes for AlertCounts {
    fn approx_bytes(&self) -> usize {
        48 + 16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_merge_and_travel_compactly() {
        let mut a = AlertCounts {
            dead_letters: 2,
            high_value_anomalies: 0,
        };
        a.merge(AlertCounts {
            dead_letters: 1,
            high_value_anomalies: 5,
        });
        assert_eq!((a.dead_letters, a.high_value_anomalies), (3, 5));
        let only_dead = AlertCounts {
            dead_letters: 4,
            ..AlertCounts::default()
        };
        assert_eq!(
            serde_json::to_string(&only_dead).expect("json"),
            r#"{"dead_letters":4}"#
        );
        let back: AlertCounts = serde_json::from_str("{}").expect("read");
        assert_eq!(back, AlertCounts::default());
    }
}
