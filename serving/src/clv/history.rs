//! A user's purchase history: the input of every CLV model.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::InvalidHistory;

/// The user's latest purchase: what the original's per-event features and
/// rules read.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct LastEvent {
    pub timestamp: DateTime<Utc>,
    pub final_amount: f64,
    pub quantity: u64,
    pub discount_rate: f64,
}

/// Everything a user's CLV depends on. Amounts are yen (summed by the
/// processor in exact cents). `as_of` is the event time the history is
/// valid at (the processor's watermark when it emitted the record), so
/// recency is measured in event time, the same on every replay.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct UserHistory {
    pub user_id: String,
    /// The segment of the latest purchase.
    pub user_segment: String,
    /// Frequency: number of purchases.
    pub orders: u64,
    /// Monetary value: sum of `final_amount`.
    pub monetary: f64,
    pub first_purchase: DateTime<Utc>,
    pub last_purchase: DateTime<Utc>,
    pub as_of: DateTime<Utc>,
    pub last_event: LastEvent,
}

impl UserHistory {
    pub fn validate(&self) -> Result<(), InvalidHistory> {
        if self.orders == 0 {
            return Err(InvalidHistory::NoOrders(self.user_id.clone()));
        }
        if self.first_purchase > self.last_purchase {
            return Err(InvalidHistory::FirstAfterLast(self.user_id.clone()));
        }
        Ok(())
    }
}
