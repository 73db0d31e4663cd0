//! Per-user customer lifetime value (CLV).
//!
//! The original (seed document, 監視とアラート機能 › 2. リアルタイム機械学習予測,
//! `MLStreamingPredictor`) computed, per event, a few features
//! ([`features`]) and a "prediction" that is a multiple of that one
//! purchase ([`original_rules`]), cached as `SETEX <prefix>:<user_id> 3600
//! str(dict)`. We keep those rules as the `original-rules` model and add
//! `rfm` ([`rfm`]), the default, on each user's purchase history.
//!
//! Input is a user's history as of some event time ([`UserHistory`]); the
//! processor will emit it per user on a compacted topic (not wired yet, see
//! `docs/serving.md`). Everything here is a pure function of that record:
//! no wall clock, so a replay computes the same value.

pub mod features;
pub mod history;
pub mod original_rules;
pub mod record;
pub mod rfm;

pub use features::Features;
pub use history::UserHistory;
pub use record::ClvRecord;

/// Which CLV model a pipeline uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Model {
    /// The original's segment × last purchase, confidence 0.85.
    OriginalRules,
    /// Recency, frequency and monetary value of the user's history.
    #[default]
    Rfm,
}

impl Model {
    pub fn name(self) -> &'static str {
        match self {
            Model::OriginalRules => "original-rules",
            Model::Rfm => "rfm",
        }
    }
}

/// A model's output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Prediction {
    /// Yen, rounded to 2 decimals.
    pub predicted_clv: f64,
    /// In `[0, 1]`, rounded to 4 decimals.
    pub confidence: f64,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidHistory {
    #[error("user {0}: a history needs at least one order")]
    NoOrders(String),
    #[error("user {0}: the first purchase is after the last one")]
    FirstAfterLast(String),
}

/// The CLV record of `history` under `model`.
pub fn compute(model: Model, history: &UserHistory) -> Result<ClvRecord, InvalidHistory> {
    history.validate()?;
    let prediction = match model {
        Model::OriginalRules => {
            original_rules::predict(&history.user_segment, history.last_event.final_amount)
        }
        Model::Rfm => rfm::predict(history),
    };
    Ok(ClvRecord::new(model, history, prediction))
}

/// `value` rounded to `digits` decimals, as Python's `round` (the decimal
/// nearest to the binary value).
pub(crate) fn round_to(value: f64, digits: usize) -> f64 {
    purchase_event::python_json::round(value, digits)
}
