//! Times as the original system wrote them into Redis.

use chrono::{DateTime, Timelike, Utc};

/// `str(datetime)` of Python, which `json.dumps(..., default=str)` used for
/// the original's window bounds: `2025-08-12 10:00:00`, with `.ffffff`
/// only when the microsecond is not 0. Spark collected timestamps as naive
/// datetimes in its session time zone, UTC in the original's containers;
/// ours are UTC.
pub fn python_str(time: &DateTime<Utc>) -> String {
    let mut text = time.format("%Y-%m-%d %H:%M:%S").to_string();
    let micros = time.nanosecond() / 1_000 % 1_000_000;
    if micros != 0 {
        text.push_str(&format!(".{micros:06}"));
    }
    text
}

/// The label of a window in our keys: its start as `yyyy-MM-dd HH:mm:ss`
/// UTC. For an hourly window this is exactly the original's `hour` column
/// (`date_format(window.start, "yyyy-MM-dd HH:00:00")`), so the original's
/// `hourly:<hour>` keys keep their form; for shorter windows (1-minute
/// sales, or an hourly window configured shorter than an hour) the
/// minutes tell the windows apart where `hour` would merge them.
pub fn window_label(start: &DateTime<Utc>) -> String {
    start.format("%Y-%m-%d %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn as_python_prints_a_datetime() {
        assert_eq!(
            python_str(&at("2025-08-12T10:00:00Z")),
            "2025-08-12 10:00:00"
        );
        assert_eq!(
            python_str(&at("2025-08-12T10:00:00.5Z")),
            "2025-08-12 10:00:00.500000"
        );
    }

    #[test]
    fn hourly_window_label_is_the_original_hour() {
        assert_eq!(
            window_label(&at("2025-08-12T10:00:00Z")),
            "2025-08-12 10:00:00"
        );
        assert_eq!(
            window_label(&at("2025-08-12T10:01:00Z")),
            "2025-08-12 10:01:00"
        );
    }
}
