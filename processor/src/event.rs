//! The purchase event: the one schema the generator writes and the processor
//! reads. Field names are the wire format (JSON), shared with every consumer
//! of the input topic.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One purchase, as written to the pipeline's input topic (record key =
/// `user_id`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct PurchaseEvent {
    /// Unique across generator processes and restarts.
    pub event_id: String,
    /// Event time, RFC 3339. Written in UTC; any offset is accepted on read
    /// and normalised to UTC.
    pub timestamp: DateTime<Utc>,
    /// `user_1` … `user_10000`.
    pub user_id: String,
    pub user_segment: UserSegment,
    pub product_id: String,
    pub product_name: String,
    pub category: String,
    pub quantity: u32,
    /// Price of one item, in yen.
    pub unit_price: f64,
    /// `unit_price × quantity`.
    pub base_amount: f64,
    /// Share of `base_amount` taken off, 0.0–1.0.
    pub discount_rate: f64,
    /// `base_amount × discount_rate`, rounded to 2 decimals.
    pub discount_amount: f64,
    /// `base_amount − discount_amount`, rounded to 2 decimals.
    pub final_amount: f64,
    pub region: String,
    pub device: Device,
    pub payment_method: PaymentMethod,
}

/// The same schema as [`PurchaseEvent`], read without copying: string fields
/// borrow from the record's bytes (they are only copied when they contain
/// JSON escapes). The processor parses every input record into this, which
/// saves seven allocations per event; it accepts and rejects exactly what
/// [`PurchaseEvent`] does (every field, with the same types, is required).
/// The processor reads the common shape with `fixed_schema::parse_view`
/// first, which yields the same view for what it accepts and leaves the
/// rest to this type's serde path.
#[derive(Deserialize, Clone, Debug, PartialEq)]
pub struct PurchaseEventView<'a> {
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    pub timestamp: DateTime<Utc>,
    #[serde(borrow)]
    pub user_id: Cow<'a, str>,
    pub user_segment: UserSegment,
    #[serde(borrow)]
    pub product_id: Cow<'a, str>,
    #[serde(borrow)]
    pub product_name: Cow<'a, str>,
    #[serde(borrow)]
    pub category: Cow<'a, str>,
    pub quantity: u32,
    pub unit_price: f64,
    pub base_amount: f64,
    pub discount_rate: f64,
    pub discount_amount: f64,
    pub final_amount: f64,
    #[serde(borrow)]
    pub region: Cow<'a, str>,
    pub device: Device,
    pub payment_method: PaymentMethod,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum UserSegment {
    Premium,
    Regular,
    New,
}

impl UserSegment {
    pub const ALL: [UserSegment; 3] =
        [UserSegment::Premium, UserSegment::Regular, UserSegment::New];

    pub fn as_str(self) -> &'static str {
        match self {
            UserSegment::Premium => "premium",
            UserSegment::Regular => "regular",
            UserSegment::New => "new",
        }
    }
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    Web,
    Mobile,
    Tablet,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    CreditCard,
    BankTransfer,
    DigitalWallet,
}

/// Rounds a yen amount to 2 decimals, the precision every amount is written with.
pub fn round_cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// One valid event, as the generator writes it (with an offset).
    pub(crate) const SAMPLE: &str = r#"{"event_id":"g1-0","timestamp":"2026-11-25T09:30:00+09:00",
        "user_id":"user_42","user_segment":"premium","product_id":"P001",
        "product_name":"ノートPC","category":"electronics","quantity":2,
        "unit_price":89800.0,"base_amount":179600.0,"discount_rate":0.1,
        "discount_amount":17960.0,"final_amount":161640.0,"region":"Tokyo",
        "device":"mobile","payment_method":"credit_card"}"#;

    #[test]
    fn offsets_are_normalised_to_utc() {
        let event: PurchaseEvent = serde_json::from_str(SAMPLE).expect("sample parses");
        assert_eq!(event.timestamp.to_rfc3339(), "2026-11-25T00:30:00+00:00");
        assert_eq!(event.user_segment, UserSegment::Premium);
        assert_eq!(event.payment_method, PaymentMethod::CreditCard);
    }

    #[test]
    fn round_trips_through_json() {
        let event: PurchaseEvent = serde_json::from_str(SAMPLE).expect("sample parses");
        let again: PurchaseEvent =
            serde_json::from_str(&serde_json::to_string(&event).expect("serializes"))
                .expect("parses again");
        assert_eq!(event, again);
    }

    #[test]
    fn the_view_reads_what_the_event_reads() {
        let event: PurchaseEvent = serde_json::from_str(SAMPLE).expect("sample parses");
        let view: PurchaseEventView<'_> = serde_json::from_str(SAMPLE).expect("view parses");
        assert!(matches!(view.product_name, Cow::Borrowed(_)));
        assert_eq!(view.product_name, event.product_name);
        assert_eq!(view.timestamp, event.timestamp);
        assert_eq!(view.final_amount, event.final_amount);
        // The fast path for the common shape (`fixed_schema`) reads the same
        // view, and leaves escapes and every invalid record to serde.
        let fast = crate::fixed_schema::parse_view(SAMPLE.as_bytes()).expect("common shape");
        assert_eq!(fast, view);
        let utc = SAMPLE.replace("09:30:00+09:00", "00:30:00.250Z");
        let fast = crate::fixed_schema::parse_view(utc.as_bytes()).expect("common shape");
        assert_eq!(Some(fast), serde_json::from_str(&utc).ok());
        let escaped = SAMPLE.replace("user_42", "user_\\u0034\\u0032");
        let view: PurchaseEventView<'_> = serde_json::from_str(&escaped).expect("escapes parse");
        assert_eq!(view.user_id, "user_42");
        assert!(crate::fixed_schema::parse_view(escaped.as_bytes()).is_none());
        for bad in [
            SAMPLE.replace(r#""quantity":2,"#, ""),
            SAMPLE.replace(r#""device":"mobile""#, r#""device":"fax""#),
            SAMPLE.replace(r#""unit_price":89800.0"#, r#""unit_price":"cheap""#),
        ] {
            let a = serde_json::from_str::<PurchaseEvent>(&bad).map_err(|e| e.to_string());
            let b = serde_json::from_str::<PurchaseEventView<'_>>(&bad).map_err(|e| e.to_string());
            assert_eq!(a.err(), b.err(), "{bad}");
            assert!(
                crate::fixed_schema::parse_view(bad.as_bytes()).is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn cents_rounding() {
        assert_eq!(round_cents(17960.004), 17960.0);
        assert_eq!(round_cents(1.005 * 1000.0), 1005.0);
        assert_eq!(round_cents(2.675), 2.68);
    }
}
