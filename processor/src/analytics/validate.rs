//! Stage 1, pure: the ranges a parsed event must fall in to be counted.
//! Runs after parsing (which only checks the shape); an event outside these
//! ranges goes to the dead-letter topic with the reason, like a malformed
//! record, and touches neither the aggregates nor the watermark.
//!
//! Why each bound exists:
//! - event time at most `max_future_skew` ahead of the broker's clock: one
//!   event stamped in the year 3000 would otherwise move its partition's
//!   watermark past every open window, and every later event would be late;
//! - amounts finite, `0 ≤ x ≤ 10^12` yen: negative amounts are not
//!   purchases, and the bound keeps `amount × 100` an exact integer in an
//!   f64 (below 2^53), so cents are exact; sums are 128-bit besides;
//! - `discount_rate` in 0–1, `quantity` in 1–1,000,000;
//! - text fields non-empty and at most [`MAX_TEXT_BYTES`]: they become
//!   record keys and parts of output records, which must stay far below the
//!   broker's record size limit (1 MB by default) whatever the input.

use super::preagg::parse_event;
use super::window::Millis;
use crate::event::{ProductId, PurchaseEventView};

/// Largest accepted text field (UTF-8 bytes).
pub const MAX_TEXT_BYTES: usize = 1024;
/// Largest accepted amount, in yen.
pub const MAX_AMOUNT_YEN: f64 = 1e12;
/// Largest accepted quantity.
pub const MAX_QUANTITY: u32 = 1_000_000;

/// Dead-letter reasons start with one of these (stable; documented in
/// docs/processor.md).
pub const REASON_FUTURE: &str = "event time too far ahead";
pub const REASON_RANGE: &str = "value out of range";
pub const REASON_TOO_LONG: &str = "field too long";
pub const REASON_EMPTY: &str = "empty field";

/// Values of the `reason` label of
/// `shopstream_processor_invalid_events_by_reason_total`.
pub const REASON_CLASSES: [&str; 8] = [
    "invalid_json",
    "missing_field",
    "wrong_type",
    "empty_record",
    "future_event_time",
    "out_of_range",
    "field_too_long",
    "empty_field",
];

/// The class of a dead-letter reason (bounded, for a metric label).
pub fn reason_class(reason: &str) -> &'static str {
    let prefixes = [
        ("invalid JSON", "invalid_json"),
        ("unreadable", "invalid_json"),
        ("missing field", "missing_field"),
        ("wrong type", "wrong_type"),
        ("empty record", "empty_record"),
        (REASON_FUTURE, "future_event_time"),
        (REASON_RANGE, "out_of_range"),
        (REASON_TOO_LONG, "field_too_long"),
        (REASON_EMPTY, "empty_field"),
    ];
    prefixes
        .iter()
        .find(|(prefix, _)| reason.starts_with(prefix))
        .map_or("wrong_type", |(_, class)| class)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputRules {
    /// How far an event time may be ahead of the broker's clock; `None`
    /// disables the check (the in-memory simulation has no clock).
    pub max_future_skew_ms: Option<Millis>,
}

impl Default for InputRules {
    fn default() -> Self {
        InputRules {
            max_future_skew_ms: Some(300_000),
        }
    }
}

fn amount(name: &str, value: f64) -> Result<(), String> {
    if value.is_finite() && (0.0..=MAX_AMOUNT_YEN).contains(&value) {
        Ok(())
    } else {
        Err(format!(
            "{REASON_RANGE}: {name} = {value} (valid: 0 to {MAX_AMOUNT_YEN:.0} yen)"
        ))
    }
}

fn text(name: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{REASON_EMPTY}: {name}"));
    }
    bounded(name, value)
}

/// Length only: for open strings where empty is a value like any other.
fn bounded(name: &str, value: &str) -> Result<(), String> {
    if value.len() > MAX_TEXT_BYTES {
        return Err(format!(
            "{REASON_TOO_LONG}: {name} is {} bytes (max {MAX_TEXT_BYTES})",
            value.len()
        ));
    }
    Ok(())
}

/// Checks `event`, read at `broker_now` (epoch ms of the broker's clock:
/// the record's log-append time, or the processor's clock when the topic
/// keeps the producer's time). The error is the dead-letter reason.
pub fn check(
    event: &PurchaseEventView<'_>,
    rules: &InputRules,
    broker_now: Millis,
) -> Result<(), String> {
    if let Some(skew) = rules.max_future_skew_ms {
        let ts = event.timestamp.timestamp_millis();
        let ahead = ts.saturating_sub(broker_now);
        if ahead > skew {
            return Err(format!(
                "{REASON_FUTURE}: {} is {} s ahead of the broker clock (max {} s)",
                super::window::rfc3339(ts),
                ahead / 1000,
                skew / 1000
            ));
        }
    }
    text("event_id", &event.event_id)?;
    text("user_id", &event.user_id)?;
    // An integer id is bounded by its type; a string id becomes part of
    // record keys like the other text fields.
    if let ProductId::Text(id) = &event.product_id {
        text("product_id", id)?;
    }
    text("product_name", &event.product_name)?;
    text("category", &event.category)?;
    text("region", &event.region)?;
    // Any segment string is a group of its own (part of a key and of the
    // segments output); device and payment method are never written out.
    bounded("user_segment", &event.user_segment)?;
    if !(1..=MAX_QUANTITY).contains(&event.quantity) {
        return Err(format!(
            "{REASON_RANGE}: quantity = {} (valid: 1 to {MAX_QUANTITY})",
            event.quantity
        ));
    }
    amount("unit_price", event.unit_price)?;
    amount("base_amount", event.base_amount)?;
    amount("discount_amount", event.discount_amount)?;
    amount("final_amount", event.final_amount)?;
    let rate = event.discount_rate;
    if !(rate.is_finite() && (0.0..=1.0).contains(&rate)) {
        return Err(format!(
            "{REASON_RANGE}: discount_rate = {rate} (valid: 0 to 1)"
        ));
    }
    Ok(())
}

/// Parses and checks one input record; the error is the dead-letter reason.
pub fn read_event<'a>(
    payload: Option<&'a [u8]>,
    rules: &InputRules,
    broker_now: Millis,
) -> Result<PurchaseEventView<'a>, String> {
    let event = parse_event(payload)?;
    check(&event, rules, broker_now)?;
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_764_030_600_000; // 2025-11-25T00:30:00Z

    fn sample() -> String {
        purchase_event::samples::SAMPLE
            .replace("2026-11-25T09:30:00+09:00", "2025-11-25T09:30:00+09:00")
    }

    fn verdict(json: &str) -> Result<(), String> {
        let event = parse_event(Some(json.as_bytes())).expect("parses");
        check(&event, &InputRules::default(), NOW)
    }

    #[test]
    fn every_reason_has_a_listed_class() {
        for reason in [
            "invalid JSON: x",
            "missing field: x",
            "wrong type or value: x",
            "empty record: no value",
            "event time too far ahead: x",
            "value out of range: x",
            "field too long: x",
            "empty field: x",
        ] {
            assert!(REASON_CLASSES.contains(&reason_class(reason)), "{reason}");
        }
        assert_eq!(
            reason_class("event time too far ahead: 3000"),
            "future_event_time"
        );
    }

    #[test]
    fn the_sample_is_valid() {
        assert_eq!(verdict(&sample()), Ok(()));
    }

    /// The original producer's dialect: integer product id and prices, a
    /// 3-decimal discount rate, an `isoformat()` time.
    #[test]
    fn the_original_producers_events_are_valid() {
        let original = purchase_event::samples::ORIGINAL;
        assert_eq!(verdict(original), Ok(()));
        let rate = original.replace("\"discount_rate\": 0.1", "\"discount_rate\": 0.125");
        assert_eq!(verdict(&rate), Ok(()));
    }

    #[test]
    fn open_strings_are_bounded() {
        let vip = sample().replace("\"premium\"", "\"vip\"");
        assert_eq!(verdict(&vip), Ok(()));
        let huge = "s".repeat(MAX_TEXT_BYTES + 1);
        let long = sample().replace("\"premium\"", &format!("\"{huge}\""));
        let e = verdict(&long).unwrap_err();
        assert!(
            e.starts_with(REASON_TOO_LONG) && e.contains("user_segment"),
            "{e}"
        );
        let empty = sample().replace("\"premium\"", "\"\"");
        assert_eq!(verdict(&empty), Ok(()), "an empty segment is a segment");
        let long_id = purchase_event::samples::ORIGINAL
            .replace("\"product_id\": 1", &format!("\"product_id\": \"{huge}\""));
        let e = verdict(&long_id).unwrap_err();
        assert!(e.contains("product_id"), "{e}");
    }

    #[test]
    fn far_future_event_times_are_rejected_with_the_skew() {
        let far = sample().replace("2025-11-25T09:30:00+09:00", "3000-01-01T00:00:00Z");
        let e = verdict(&far).unwrap_err();
        assert!(e.starts_with(REASON_FUTURE), "{e}");
        assert!(
            e.contains("3000-01-01T00:00:00Z") && e.contains("max 300 s"),
            "{e}"
        );
        // Within the skew (4 min ahead) is fine; past events always are.
        let near = sample().replace("2025-11-25T09:30:00+09:00", "2025-11-25T00:34:00Z");
        assert_eq!(verdict(&near), Ok(()));
        let old = sample().replace("2025-11-25T09:30:00+09:00", "2001-01-01T00:00:00Z");
        assert_eq!(verdict(&old), Ok(()));
        let off = InputRules {
            max_future_skew_ms: None,
        };
        let event = parse_event(Some(far.as_bytes())).expect("parses");
        assert_eq!(check(&event, &off, NOW), Ok(()));
    }

    #[test]
    fn amounts_outside_their_ranges_are_rejected() {
        let cases = [
            (
                r#""final_amount":161640.0"#,
                r#""final_amount":-5.0"#,
                "final_amount = -5",
            ),
            (
                r#""final_amount":161640.0"#,
                r#""final_amount":1e17"#,
                "final_amount = 100000000000000000",
            ),
            (
                r#""unit_price":89800.0"#,
                r#""unit_price":-0.01"#,
                "unit_price = -0.01",
            ),
            (
                r#""discount_rate":0.1"#,
                r#""discount_rate":1.5"#,
                "discount_rate = 1.5",
            ),
            (
                r#""discount_rate":0.1"#,
                r#""discount_rate":-0.1"#,
                "discount_rate = -0.1",
            ),
            (r#""quantity":2"#, r#""quantity":0"#, "quantity = 0"),
            (
                r#""quantity":2"#,
                r#""quantity":1000001"#,
                "quantity = 1000001",
            ),
        ];
        for (from, to, says) in cases {
            let json = sample().replace(from, to);
            assert_ne!(json, sample(), "{from}");
            let e = verdict(&json).unwrap_err();
            assert!(e.starts_with(REASON_RANGE) && e.contains(says), "{to}: {e}");
        }
        // The edges are valid.
        let edges = sample()
            .replace(
                r#""final_amount":161640.0"#,
                r#""final_amount":1000000000000"#,
            )
            .replace(r#""discount_rate":0.1"#, r#""discount_rate":1"#)
            .replace(r#""quantity":2"#, r#""quantity":1"#);
        assert_eq!(verdict(&edges), Ok(()));
    }

    #[test]
    fn non_finite_amounts_are_rejected() {
        let json = sample();
        let mut event = parse_event(Some(json.as_bytes())).expect("parses");
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            event.final_amount = bad;
            let e = check(&event, &InputRules::default(), NOW).unwrap_err();
            assert!(e.starts_with(REASON_RANGE), "{e}");
        }
    }

    #[test]
    fn text_fields_must_be_present_and_bounded() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        let json = sample().replace("electronics", &long);
        let e = verdict(&json).unwrap_err();
        assert_eq!(
            e,
            format!("{REASON_TOO_LONG}: category is 1025 bytes (max 1024)")
        );
        let json = sample().replace(r#""user_id":"user_42""#, r#""user_id":"""#);
        assert_eq!(
            verdict(&json).unwrap_err(),
            format!("{REASON_EMPTY}: user_id")
        );
    }
}
