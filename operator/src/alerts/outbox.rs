//! Alerts waiting for Kafka. Every reconcile appends the new ones and
//! tries to write all waiting ones to the alerts topic in one request, so
//! an alert raised while Kafka is unreachable is written once it is back.
//! Bounded: past [`CAPACITY`] waiting alerts the oldest are dropped and
//! counted. In memory only: alerts not written when the operator stops are
//! lost (their Events are not).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use kafka_admin::{KafkaClient, ProducedRecord};

use super::record::Alert;

/// Alerts kept per pipeline while Kafka cannot take them.
pub const CAPACITY: usize = 256;
/// Bounds one write, retries included.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// One pipeline's waiting alerts.
#[derive(Clone, Debug, Default)]
pub struct AlertOutbox {
    waiting: VecDeque<ProducedRecord>,
}

impl AlertOutbox {
    /// Queues `alert`; returns how many old alerts were dropped for room.
    pub fn push(&mut self, alert: &Alert, key: &str) -> usize {
        self.waiting.push_back(ProducedRecord {
            key: Some(Bytes::from(key.to_string())),
            value: Bytes::from(alert.to_json()),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
        });
        let mut dropped = 0;
        while self.waiting.len() > CAPACITY {
            self.waiting.pop_front();
            dropped += 1;
        }
        dropped
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Every waiting alert, oldest first; the outbox is empty after.
    pub fn take(&mut self) -> Vec<ProducedRecord> {
        self.waiting.drain(..).collect()
    }

    /// Puts back alerts a write did not take, before any queued since.
    pub fn restore(&mut self, records: Vec<ProducedRecord>) {
        for record in records.into_iter().rev() {
            self.waiting.push_front(record);
        }
        while self.waiting.len() > CAPACITY {
            self.waiting.pop_front();
        }
    }
}

/// Writes `records` to `topic` (one partition) in one request.
pub async fn write(
    client: &KafkaClient,
    topic: &str,
    records: &[ProducedRecord],
) -> Result<(), kafka_admin::Error> {
    if records.is_empty() {
        return Ok(());
    }
    client
        .produce(topic, 0, records, WRITE_TIMEOUT)
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::LagVerdict;

    fn alert(n: usize) -> Alert {
        Alert::lag_verdict("ns/p", LagVerdict::Warn, format!("{n}"), chrono::Utc::now())
    }

    #[test]
    fn the_outbox_is_bounded_and_keeps_order_across_a_failed_write() {
        let mut outbox = AlertOutbox::default();
        for n in 0..CAPACITY + 3 {
            let dropped = outbox.push(&alert(n), "ns/p");
            assert_eq!(dropped, usize::from(n >= CAPACITY));
        }
        let taken = outbox.take();
        assert_eq!(taken.len(), CAPACITY);
        assert!(String::from_utf8_lossy(&taken[0].value).contains(r#""message":"3""#));
        outbox.push(&alert(999), "ns/p");
        outbox.restore(taken);
        let again = outbox.take();
        assert_eq!(
            again.len(),
            CAPACITY,
            "the newest one stays, the oldest goes"
        );
        assert!(String::from_utf8_lossy(&again[CAPACITY - 1].value).contains(r#""message":"999""#));
    }
}
