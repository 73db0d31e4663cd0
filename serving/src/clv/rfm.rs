//! The default CLV model: recency, frequency and monetary value of the
//! user's history, over a one-year horizon.
//!
//! ```text
//! n        = orders                       (frequency)
//! aov      = monetary / n                 (average order value)
//! T        = as_of − first_purchase, days (tenure)
//! R        = as_of − last_purchase, days  (recency)
//! λ        = (n − 1 + α) / (T + β)        orders per day
//! p_active = exp(−λ · R)
//! CLV      = aov · λ · 365 · p_active
//! confidence = n / (n + 3)
//! ```
//!
//! - **λ** is the user's repeat-purchase rate, shrunk towards a prior of
//!   α = 1 purchase per β = 90 days (a Gamma-Poisson posterior mean): the
//!   first purchase only starts the observation, so a one-order user gets
//!   the prior rate (~4 purchases a year) and a long history its own rate.
//!   Without the prior, two purchases a second apart would predict
//!   millions of purchases a year.
//! - **p_active**: λ·R is how many purchases the user's own rate expected
//!   since the last one; 0 missing → 1, 1 → 0.37, 3 → 0.05. A regular
//!   customer who stopped buying loses value; an occasional one does not
//!   after the same silence.
//! - **confidence** grows with the number of purchases: 0.25 for one, 0.5
//!   for three, 0.75 for nine, 0.9 for 27. It says how much of λ is the
//!   user's own history rather than the prior.

use super::history::UserHistory;
use super::{Prediction, round_to};

/// α: prior purchases.
pub const PRIOR_ORDERS: f64 = 1.0;
/// β: prior observation days.
pub const PRIOR_DAYS: f64 = 90.0;
pub const HORIZON_DAYS: f64 = 365.0;
/// Orders at which confidence is 0.5.
pub const HALF_CONFIDENCE_ORDERS: f64 = 3.0;

const SECONDS_PER_DAY: f64 = 86_400.0;

fn days(from: chrono::DateTime<chrono::Utc>, to: chrono::DateTime<chrono::Utc>) -> f64 {
    // A history whose as_of precedes a purchase (clock skew between
    // producers) counts as no time elapsed, not negative time.
    ((to - from).num_milliseconds().max(0) as f64 / 1000.0) / SECONDS_PER_DAY
}

/// Expects a validated history (at least one order).
pub fn predict(history: &UserHistory) -> Prediction {
    let n = history.orders.max(1) as f64;
    let aov = history.monetary / n;
    let tenure = days(history.first_purchase, history.as_of);
    let recency = days(history.last_purchase, history.as_of);
    let rate = (n - 1.0 + PRIOR_ORDERS) / (tenure + PRIOR_DAYS);
    let p_active = (-rate * recency).exp();
    Prediction {
        predicted_clv: round_to(aov * rate * HORIZON_DAYS * p_active, 2),
        confidence: round_to(n / (n + HALF_CONFIDENCE_ORDERS), 4),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::history::LastEvent;

    fn history(orders: u64, monetary: f64, first: &str, last: &str, as_of: &str) -> UserHistory {
        UserHistory {
            user_id: "user_1".into(),
            user_segment: "regular".into(),
            orders,
            monetary,
            first_purchase: first.parse().unwrap(),
            last_purchase: last.parse().unwrap(),
            as_of: as_of.parse().unwrap(),
            last_event: LastEvent {
                timestamp: last.parse().unwrap(),
                final_amount: 1.0,
                quantity: 1,
                discount_rate: 0.0,
            },
        }
    }

    #[test]
    fn one_purchase_gets_the_prior_rate() {
        // λ = 1/90 per day; 365/90 × 9,000 = 36,500.
        let p = predict(&history(
            1,
            9_000.0,
            "2025-08-12T10:00:00Z",
            "2025-08-12T10:00:00Z",
            "2025-08-12T10:00:00Z",
        ));
        assert_eq!(
            p,
            Prediction {
                predicted_clv: 36_500.0,
                confidence: 0.25
            }
        );
    }

    #[test]
    fn a_long_history_gets_its_own_rate() {
        // 10 orders over 270 days, the last one today: λ = 10/360 per day,
        // aov 3,000, CLV = 3,000 × 365 × 10/360 = 30,416.666…
        let p = predict(&history(
            10,
            30_000.0,
            "2025-01-01T00:00:00Z",
            "2025-09-28T00:00:00Z",
            "2025-09-28T00:00:00Z",
        ));
        assert_eq!(p.predicted_clv, 30_416.67);
        assert_eq!(p.confidence, 0.7692);
    }

    #[test]
    fn silence_longer_than_the_users_rhythm_lowers_the_value() {
        // Same user, 36 days later: λ·R = 10/396 × 36 = 10/11.
        let p = predict(&history(
            10,
            30_000.0,
            "2025-01-01T00:00:00Z",
            "2025-09-28T00:00:00Z",
            "2025-11-03T00:00:00Z",
        ));
        let expected = 3_000.0 * 365.0 * (10.0 / 396.0) * (-10.0f64 / 11.0).exp();
        assert_eq!(p.predicted_clv, (expected * 100.0).round() / 100.0);
        assert!(p.predicted_clv < 30_416.67 / 2.0, "{p:?}");
    }
}
