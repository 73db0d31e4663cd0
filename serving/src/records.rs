//! The processor's output records, as its topics carry them (JSON values;
//! fields in docs/processor.md#outputs). Serving reads the topics, not the
//! processor's types: the topics are the contract, and a record that does
//! not match it is an error with serde's reason, never a partial write.

use chrono::{DateTime, Utc};
use purchase_event::product_id::OwnedProductId;
use serde::Deserialize;

pub use crate::clv::UserHistory;

/// Which output topic a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Sales,
    Segments,
    Hourly,
    TopProducts,
    Anomalies,
    /// The compacted per-user history topic: the CLV input.
    UserHistory,
}

impl Output {
    pub const ALL: [Output; 6] = [
        Output::Sales,
        Output::Segments,
        Output::Hourly,
        Output::TopProducts,
        Output::Anomalies,
        Output::UserHistory,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Output::Sales => "sales",
            Output::Segments => "segments",
            Output::Hourly => "hourly",
            Output::TopProducts => "top-products",
            Output::Anomalies => "anomalies",
            Output::UserHistory => "user-history",
        }
    }
}

/// Sales per category and region of a 1-minute window.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Sales {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub category: String,
    pub region: String,
    pub order_count: u64,
    pub total_sales: f64,
    pub avg_order_value: f64,
    pub unique_customers: u64,
}

/// Metrics per user segment of a 2-minute window.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Segment {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub user_segment: String,
    pub orders: u64,
    pub revenue: f64,
    pub avg_discount: f64,
    pub total_items: u64,
    pub revenue_per_order: f64,
}

/// Sales per category of an hourly window; `hour` is the original's
/// `yyyy-MM-dd HH:00:00` (UTC).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Hourly {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub category: String,
    pub total_sales: f64,
    pub order_count: u64,
    pub avg_order_value: f64,
    pub unique_customers: u64,
    pub hour: String,
}

/// One product of an hourly window, with its SQL `rank()` by revenue.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct TopProduct {
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// The JSON type it came in: `5` or `"P005"`.
    pub product_id: OwnedProductId,
    pub product_name: String,
    pub category: String,
    pub total_quantity: u64,
    pub total_revenue: f64,
    pub order_count: u64,
    pub revenue_rank: u64,
}

/// A high-value transaction.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Anomaly {
    pub event_id: String,
    pub timestamp: DateTime<Utc>,
    pub user_id: String,
    pub product_name: String,
    pub final_amount: f64,
    pub region: String,
    pub anomaly_type: String,
}

/// A parsed record, with the JSON it was read from (stored as it is where
/// our own format is the contract).
#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Sales(Sales, String),
    Segment(Segment, String),
    Hourly(Hourly),
    TopProduct(TopProduct),
    Anomaly(Anomaly, String),
    UserHistory(UserHistory),
}

#[derive(Debug, thiserror::Error)]
#[error("invalid {} record: {source}", output.name())]
pub struct InvalidRecord {
    pub output: Output,
    #[source]
    pub source: serde_json::Error,
}

/// Parses a record value of the topic `output`.
pub fn parse(output: Output, value: &str) -> Result<Record, InvalidRecord> {
    let invalid = |source| InvalidRecord { output, source };
    let owned = || value.to_owned();
    Ok(match output {
        Output::Sales => Record::Sales(serde_json::from_str(value).map_err(invalid)?, owned()),
        Output::Segments => Record::Segment(serde_json::from_str(value).map_err(invalid)?, owned()),
        Output::Hourly => Record::Hourly(serde_json::from_str(value).map_err(invalid)?),
        Output::TopProducts => Record::TopProduct(serde_json::from_str(value).map_err(invalid)?),
        Output::Anomalies => {
            Record::Anomaly(serde_json::from_str(value).map_err(invalid)?, owned())
        }
        Output::UserHistory => {
            let history: UserHistory = serde_json::from_str(value).map_err(invalid)?;
            // A history no model can read (no orders, first after last) is
            // refused here, with the reason, like a record of another shape.
            history
                .validate()
                .map_err(|e| invalid(serde::de::Error::custom(e)))?;
            Record::UserHistory(history)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_processors_records() {
        let value = r#"{"window_start":"2025-08-12T10:00:00Z","window_end":"2025-08-12T11:00:00Z","product_id":5,"product_name":"x","category":"c","total_quantity":1,"total_revenue":1.5,"order_count":1,"revenue_rank":1}"#;
        let Record::TopProduct(top) = parse(Output::TopProducts, value).unwrap() else {
            panic!("a top product")
        };
        assert_eq!(top.product_id, OwnedProductId::from(5));
        assert_eq!(top.window_start.timestamp(), 1_754_992_800);
    }

    #[test]
    fn a_record_of_another_shape_is_an_error_naming_the_topic() {
        let error = parse(Output::Hourly, r#"{"window_start":"x"}"#).unwrap_err();
        assert!(
            error.to_string().starts_with("invalid hourly record: "),
            "{error}"
        );
    }
}
