//! Fast paths for the one timestamp format the pipeline writes:
//! `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`. chrono's parser is general
//! (relaxed separators, `UTC`, leap seconds, any year width) and cost about
//! a tenth of an event's parse time; these functions handle the fixed layout
//! only and return `None` for anything else, so callers fall back to chrono
//! and the results (and what is rejected) stay exactly chrono's.

use chrono::{DateTime, Utc};

/// Parses the fixed RFC 3339 layout into UTC, as
/// `s.parse::<DateTime<Utc>>()` would (offsets such as `+09:00` are
/// normalised to UTC). `None` when `s` is not in the fixed layout or not a
/// valid time: the caller must then ask chrono, which decides.
pub fn parse_utc(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = digits(&b[0..4])?;
    let month = digits(&b[5..7])?;
    let day = digits(&b[8..10])?;
    let hour = digits(&b[11..13])?;
    let minute = digits(&b[14..16])?;
    let second = digits(&b[17..19])?;
    // Leap seconds (60) and out-of-range fields are chrono's to judge.
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut nanos = 0u32;
    if let [b'.', tail @ ..] = rest {
        let count = tail.iter().take_while(|c| c.is_ascii_digit()).count();
        // chrono reads up to 9 digits and ignores further ones; longer
        // fractions are rare enough to leave to it.
        if count == 0 || count > 9 {
            return None;
        }
        nanos = digits(&tail[..count])? * 10u32.pow(9 - count as u32);
        rest = &tail[count..];
    }
    let offset_seconds = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let local = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    DateTime::from_timestamp(local - offset_seconds, nanos)
}

/// Epoch milliseconds as RFC 3339 UTC with a `Z` suffix and milliseconds
/// only when non-zero, exactly like chrono's
/// `to_rfc3339_opts(SecondsFormat::AutoSi, true)` for a millisecond
/// timestamp. `None` outside years 0000–9999 (chrono's format differs
/// there).
pub fn format_millis(ms: i64) -> Option<String> {
    let seconds = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = seconds.div_euclid(86_400);
    let of_day = seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = String::with_capacity(24);
    push_digits(&mut out, year, 4);
    out.push('-');
    push_digits(&mut out, i64::from(month), 2);
    out.push('-');
    push_digits(&mut out, i64::from(day), 2);
    out.push('T');
    push_digits(&mut out, of_day / 3600, 2);
    out.push(':');
    push_digits(&mut out, of_day / 60 % 60, 2);
    out.push(':');
    push_digits(&mut out, of_day % 60, 2);
    if millis != 0 {
        out.push('.');
        push_digits(&mut out, millis, 3);
    }
    out.push('Z');
    Some(out)
}

/// `value` with exactly `width` decimal digits (zero-padded; `value` fits).
fn push_digits(out: &mut String, value: i64, width: u32) {
    for position in (0..width).rev() {
        let digit = (value / 10i64.pow(position) % 10) as u8;
        out.push(char::from(b'0' + digit));
    }
}

/// The number written with ASCII digits only (no sign, no spaces).
fn digits(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

fn is_leap_year(year: u32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y.rem_euclid(400);
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::SecondsFormat;

    fn chrono_utc(s: &str) -> Option<DateTime<Utc>> {
        s.parse::<DateTime<Utc>>().ok()
    }

    #[test]
    fn parses_what_chrono_parses() {
        for s in [
            "2026-11-25T09:30:00+09:00",
            "2026-11-25T00:30:00Z",
            "2026-11-24T19:30:00-05:00",
            "2026-01-01T00:00:00.5Z",
            "2026-01-01T00:00:00.123Z",
            "2026-01-01T00:00:00.123456789Z",
            "2026-01-01T00:00:00.999+14:00",
            "2024-02-29T23:59:59-00:00",
            "2000-02-29T12:00:00Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "0000-03-01T00:00:00Z",
            "9999-12-31T23:59:59+23:59",
            "2026-03-01T00:00:00+00:30",
        ] {
            let fast = parse_utc(s);
            assert!(fast.is_some(), "{s} should take the fast path");
            assert_eq!(fast, chrono_utc(s), "{s}");
        }
    }

    #[test]
    fn leaves_everything_else_to_chrono() {
        for s in [
            "2026-11-25 09:30:00Z",
            "2026-11-25t09:30:00Z",
            "2026-11-25T09:30:00z",
            "2026-11-25T09:30:00UTC",
            "2026-11-25T09:30:00+0900",
            "2026-11-25T09:30:00",
            "2026-11-25T09:30:60Z",
            "2026-11-25T24:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-11-25T09:30:00.Z",
            "2026-11-25T09:30:00.1234567891Z",
            "2026-11-25T09:30:00+24:00",
            "2026-11-25T09:30:00Z ",
            "+2026-11-25T09:30:00Z",
            "2026-1a-25T09:30:00Z",
            "",
        ] {
            assert_eq!(parse_utc(s), None, "{s}");
        }
    }

    #[test]
    fn formats_like_chrono() {
        for ms in [
            0,
            1_500,
            -1,
            -86_400_000,
            1_767_225_600_000,
            1_767_225_600_007,
            951_782_400_000, // 2000-02-29
            253_402_300_799_999,
            -62_167_219_200_000, // 0000-01-01
        ] {
            let chrono = DateTime::from_timestamp_millis(ms)
                .expect("in range")
                .to_rfc3339_opts(SecondsFormat::AutoSi, true);
            assert_eq!(format_millis(ms).as_deref(), Some(chrono.as_str()), "{ms}");
        }
        assert_eq!(format_millis(253_402_300_800_000), None);
        assert_eq!(format_millis(-62_167_219_200_001), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
