//! The original's per-event features (`prepare_features`):
//!
//! ```python
//! .withColumn("hour", hour(col("timestamp")))
//! .withColumn("day_of_week", dayofweek(col("timestamp")))
//! .withColumn("is_weekend", when(col("day_of_week").isin([1, 7]), 1).otherwise(0))
//! .withColumn("price_per_quantity", col("final_amount") / col("quantity"))
//! .withColumn("discount_category", when(col("discount_rate") > 0.1, "high")
//!                                  .when(col("discount_rate") > 0.05, "medium")
//!                                  .otherwise("low"))
//! ```

use chrono::{Datelike, Timelike};
use serde::Serialize;

use super::history::LastEvent;
use super::round_to;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Features {
    /// 0–23, UTC (Spark's session time zone in the original's containers).
    pub hour: u32,
    /// Spark's `dayofweek`: 1 = Sunday … 7 = Saturday.
    pub day_of_week: u32,
    /// 1 on Saturday and Sunday, else 0 (an integer, as in the original).
    pub is_weekend: u8,
    /// `final_amount / quantity`, rounded to 2 decimals; `null` for a
    /// quantity of 0 (Spark's division by zero is null).
    pub price_per_quantity: Option<f64>,
    /// `high` above 0.10, `medium` above 0.05, else `low` (strictly above,
    /// compared as doubles: a rate of exactly 0.1 is `medium`).
    pub discount_category: &'static str,
}

pub fn of(event: &LastEvent) -> Features {
    let day_of_week = event.timestamp.weekday().number_from_sunday();
    Features {
        hour: event.timestamp.hour(),
        day_of_week,
        is_weekend: u8::from(day_of_week == 1 || day_of_week == 7),
        price_per_quantity: (event.quantity > 0)
            .then(|| round_to(event.final_amount / event.quantity as f64, 2)),
        discount_category: if event.discount_rate > 0.1 {
            "high"
        } else if event.discount_rate > 0.05 {
            "medium"
        } else {
            "low"
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(timestamp: &str, final_amount: f64, quantity: u64, discount_rate: f64) -> LastEvent {
        LastEvent {
            timestamp: timestamp.parse().unwrap(),
            final_amount,
            quantity,
            discount_rate,
        }
    }

    #[test]
    fn as_the_original_computes_them() {
        // 2025-08-16 is a Saturday.
        let f = of(&event("2025-08-16T23:59:59Z", 170_640.0, 2, 0.05));
        assert_eq!(
            f,
            Features {
                hour: 23,
                day_of_week: 7,
                is_weekend: 1,
                price_per_quantity: Some(85_320.0),
                discount_category: "low",
            }
        );
        // 2025-08-17, Sunday; 2025-08-18, Monday.
        assert_eq!(
            of(&event("2025-08-17T00:00:00Z", 1.0, 1, 0.1)).day_of_week,
            1
        );
        let monday = of(&event("2025-08-18T10:00:00Z", 100.0, 3, 0.100_001));
        assert_eq!((monday.day_of_week, monday.is_weekend), (2, 0));
        assert_eq!(monday.price_per_quantity, Some(33.33));
        assert_eq!(monday.discount_category, "high");
    }

    #[test]
    fn discount_bounds_are_strict() {
        let category = |rate| of(&event("2025-08-18T10:00:00Z", 1.0, 1, rate)).discount_category;
        assert_eq!(category(0.1), "medium");
        assert_eq!(category(0.05), "low");
        assert_eq!(category(0.051), "medium");
        assert_eq!(category(0.0), "low");
    }

    #[test]
    fn quantity_zero_has_no_price_per_quantity() {
        assert_eq!(
            of(&event("2025-08-18T10:00:00Z", 1.0, 0, 0.0)).price_per_quantity,
            None
        );
    }
}
