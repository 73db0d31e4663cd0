//! The CLV value stored in Redis.
//!
//! The original stored `str(dict)` — Python's repr, not JSON
//! (`{'predicted_clv': 808200.0, 'confidence': 0.85, 'timestamp':
//! '2025-08-12T10:00:00.123456'}`), readable only with `ast.literal_eval`.
//! Ours is JSON with the same three fields first, then what the issue asks
//! for: the model, the latest event's features and the history. A reader
//! of the original's fields gets them by name; `ast.literal_eval` still
//! reads it while no feature is `null`.

use serde::Serialize;

use super::features::{self, Features};
use super::history::UserHistory;
use super::{Model, Prediction};

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClvRecord {
    pub predicted_clv: f64,
    pub confidence: f64,
    /// The latest purchase's time, RFC 3339 UTC (the original: the event's
    /// `timestamp.isoformat()`, naive).
    pub timestamp: String,
    pub user_id: String,
    pub model: &'static str,
    pub features: Features,
    pub history: HistorySummary,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistorySummary {
    pub orders: u64,
    pub monetary: f64,
    pub first_purchase: String,
    pub last_purchase: String,
    pub as_of: String,
}

fn rfc3339(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl ClvRecord {
    pub fn new(model: Model, history: &UserHistory, prediction: Prediction) -> ClvRecord {
        ClvRecord {
            predicted_clv: prediction.predicted_clv,
            confidence: prediction.confidence,
            timestamp: rfc3339(&history.last_event.timestamp),
            user_id: history.user_id.clone(),
            model: model.name(),
            features: features::of(&history.last_event),
            history: HistorySummary {
                orders: history.orders,
                monetary: history.monetary,
                first_purchase: rfc3339(&history.first_purchase),
                last_purchase: rfc3339(&history.last_purchase),
                as_of: rfc3339(&history.as_of),
            },
        }
    }

    pub fn to_json(&self) -> String {
        // Plain structs of strings and finite numbers: cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}
