//! The original's CLV "prediction" (`predict_customer_lifetime_value`):
//!
//! ```python
//! .withColumn("predicted_clv",
//!            when(col("user_segment") == "premium", col("final_amount") * 10)
//!            .when(col("user_segment") == "regular", col("final_amount") * 5)
//!            .otherwise(col("final_amount") * 3))
//! .withColumn("confidence_score", lit(0.85))
//! ```
//!
//! A multiple of the one purchase being processed. `otherwise` covers `new`
//! and every other segment string, so an unknown segment gets ×3 here too.
//! We round the product to 2 decimals (the original kept the double).

use super::{Prediction, round_to};

pub const CONFIDENCE: f64 = 0.85;

pub fn multiplier(segment: &str) -> f64 {
    match segment {
        "premium" => 10.0,
        "regular" => 5.0,
        _ => 3.0,
    }
}

pub fn predict(segment: &str, final_amount: f64) -> Prediction {
    Prediction {
        predicted_clv: round_to(final_amount * multiplier(segment), 2),
        confidence: CONFIDENCE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_times_the_purchase() {
        assert_eq!(predict("premium", 80_820.0).predicted_clv, 808_200.0);
        assert_eq!(predict("regular", 1_140.1).predicted_clv, 5_700.5);
        assert_eq!(predict("new", 1_020.0).predicted_clv, 3_060.0);
        assert_eq!(predict("vip", 100.0).predicted_clv, 300.0);
        // 0.1 × 3 is 0.30000000000000004 as a double.
        assert_eq!(predict("new", 0.1).predicted_clv, 0.3);
        assert_eq!(predict("premium", 1.0).confidence, 0.85);
    }
}
