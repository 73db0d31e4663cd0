//! Event-time windows: tumbling windows over epoch milliseconds. A window
//! `[start, end)` includes its start and excludes its end.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Epoch milliseconds (UTC).
pub type Millis = i64;

/// Start of the tumbling window of `size_ms` containing `ts_ms`.
pub fn window_start(ts_ms: Millis, size_ms: Millis) -> Millis {
    ts_ms.div_euclid(size_ms) * size_ms
}

/// Epoch milliseconds of a UTC timestamp.
pub fn millis(ts: &DateTime<Utc>) -> Millis {
    ts.timestamp_millis()
}

/// RFC 3339 in UTC with a `Z` suffix; sub-second digits only when non-zero.
pub fn rfc3339(ms: Millis) -> String {
    if let Some(text) = crate::rfc3339::format_millis(ms) {
        return text;
    }
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        None => ms.to_string(),
    }
}

/// The original system's `hour` column: `date_format(window.start,
/// "yyyy-MM-dd HH:00:00")`, in UTC (Spark's session time zone in the
/// original's containers). The minutes are the literal `00` of that
/// pattern, as in the original: windows shorter than an hour share it.
pub fn hour_label(ms: Millis) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d %H:00:00").to_string(),
        None => ms.to_string(),
    }
}

/// A yen amount in whole cents (amounts carry 2 decimals). Summing cents is
/// exact and independent of order, so partial sums merge to the same total
/// however the input was batched or spread over replicas.
pub fn to_cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// A rate (0.0–1.0) in millionths, for the same reason as [`to_cents`].
pub fn to_micros(rate: f64) -> i64 {
    (rate * 1_000_000.0).round() as i64
}

/// Rounds to `decimals` decimal places.
pub fn round_to(value: f64, decimals: i32) -> f64 {
    let factor = 10f64.powi(decimals);
    (value * factor).round() / factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_includes_start_excludes_end() {
        assert_eq!(window_start(60_000, 60_000), 60_000);
        assert_eq!(window_start(119_999, 60_000), 60_000);
        assert_eq!(window_start(120_000, 60_000), 120_000);
        assert_eq!(window_start(-1, 60_000), -60_000);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.500Z");
        assert_eq!(hour_label(0), "1970-01-01 00:00:00");
        assert_eq!(hour_label(1_764_034_199_999), "2025-11-25 01:00:00");
    }

    #[test]
    fn fixed_point() {
        assert_eq!(to_cents(161_640.0), 16_164_000);
        assert_eq!(to_cents(0.07), 7);
        assert_eq!(to_micros(0.15), 150_000);
        assert_eq!(round_to(2.675_01, 2), 2.68);
    }
}
