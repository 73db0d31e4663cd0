//! The purchase event: the schema the generator writes and the processor
//! reads. Field names are the wire format (JSON), shared with every consumer
//! of the input topic.
//!
//! Two producers write it: ours (string product ids such as `P001`,
//! decimal amounts, compact JSON) and the original system's Python producer
//! (integer product ids and prices, `json.dumps` with spaces and `\uXXXX`
//! escapes, `isoformat()` timestamps). Both are read the same way: a
//! product id keeps its JSON type ([`ProductId`]), amounts may be integers
//! or decimals, and `user_segment`, `device` and `payment_method` are open
//! strings — a purchase with a payment method we have not heard of is still
//! a purchase, and dead-lettering it would take its revenue out of every
//! total. Value ranges (negative amounts, far-future times) are not checked
//! here: parsing and validation are separate steps.
//!
//! A crate of its own because it is the contract between two binaries
//! (and every other consumer of the input topic): the generator and the
//! processor depend on it, not on each other. The processor's fast reader
//! for it (`fixed_schema`) stays in the processor.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod product_id;
pub mod python_json;
pub mod samples;

pub use product_id::{OwnedProductId, ProductId};

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
    /// `premium`, `regular` or `new` from our generator; any string is
    /// accepted.
    pub user_segment: Cow<'static, str>,
    /// A string (`P001`) from our generator, an integer from the original's.
    pub product_id: OwnedProductId,
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
    /// `web`, `mobile` or `tablet` from our generator; any string is accepted.
    pub device: Cow<'static, str>,
    /// `credit_card`, `bank_transfer` or `digital_wallet` from our
    /// generator; any string is accepted.
    pub payment_method: Cow<'static, str>,
}

/// The same schema as [`PurchaseEvent`], read without copying: string fields
/// borrow from the record's bytes (they are only copied when they contain
/// JSON escapes). The processor parses every input record into this, which
/// saves the allocations per event; it accepts and rejects exactly what
/// [`PurchaseEvent`] does (every field, with the same types, is required).
/// The processor reads the common shapes with `fixed_schema::parse_view`
/// first, which yields the same view for what it accepts and leaves the
/// rest to this type's serde path.
#[derive(Deserialize, Clone, Debug, PartialEq)]
pub struct PurchaseEventView<'a> {
    #[serde(borrow)]
    pub event_id: Cow<'a, str>,
    pub timestamp: DateTime<Utc>,
    #[serde(borrow)]
    pub user_id: Cow<'a, str>,
    #[serde(borrow)]
    pub user_segment: Cow<'a, str>,
    #[serde(borrow, deserialize_with = "crate::product_id::borrowed")]
    pub product_id: ProductId<'a>,
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
    #[serde(borrow)]
    pub device: Cow<'a, str>,
    #[serde(borrow)]
    pub payment_method: Cow<'a, str>,
}

/// The user segments our generator draws (the processor accepts any).
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

/// The devices our generator draws (the processor accepts any string).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Device {
    Web,
    Mobile,
    Tablet,
}

impl Device {
    pub const ALL: [Device; 3] = [Device::Web, Device::Mobile, Device::Tablet];

    pub fn as_str(self) -> &'static str {
        match self {
            Device::Web => "web",
            Device::Mobile => "mobile",
            Device::Tablet => "tablet",
        }
    }
}

/// The payment methods our generator draws (the processor accepts any
/// string).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    CreditCard,
    BankTransfer,
    DigitalWallet,
}

impl PaymentMethod {
    pub const ALL: [PaymentMethod; 3] = [
        PaymentMethod::CreditCard,
        PaymentMethod::BankTransfer,
        PaymentMethod::DigitalWallet,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentMethod::CreditCard => "credit_card",
            PaymentMethod::BankTransfer => "bank_transfer",
            PaymentMethod::DigitalWallet => "digital_wallet",
        }
    }
}

/// Rounds a yen amount to 2 decimals, the precision every amount is written with.
pub fn round_cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{ORIGINAL, SAMPLE};

    #[test]
    fn offsets_are_normalised_to_utc() {
        let event: PurchaseEvent = serde_json::from_str(SAMPLE).expect("sample parses");
        assert_eq!(event.timestamp.to_rfc3339(), "2026-11-25T00:30:00+00:00");
        assert_eq!(event.user_segment, "premium");
        assert_eq!(event.payment_method, "credit_card");
        assert_eq!(event.product_id, ProductId::from("P001"));
    }

    #[test]
    fn the_original_producers_event_is_read() {
        let event: PurchaseEvent = serde_json::from_str(ORIGINAL).expect("original parses");
        assert_eq!(event.product_id, ProductId::Integer(1));
        assert_eq!(event.product_name, "ノートPC");
        assert_eq!(event.unit_price, 89_800.0);
        assert_eq!(
            event.timestamp.to_rfc3339(),
            "2025-11-25T00:30:00.123456+00:00"
        );
        let view: PurchaseEventView<'_> = serde_json::from_str(ORIGINAL).expect("view parses");
        assert!(
            matches!(view.product_name, Cow::Owned(_)),
            "escapes decoded"
        );
        assert_eq!(view.product_name, event.product_name);
    }

    #[test]
    fn values_outside_our_generators_choices_are_accepted() {
        let open = SAMPLE
            .replace(r#""premium""#, r#""vip""#)
            .replace(r#""mobile""#, r#""smart_tv""#)
            .replace(r#""credit_card""#, r#""convenience_store""#);
        let event: PurchaseEvent = serde_json::from_str(&open).expect("open strings");
        assert_eq!(
            (&*event.user_segment, &*event.device, &*event.payment_method),
            ("vip", "smart_tv", "convenience_store")
        );
    }

    #[test]
    fn round_trips_through_json() {
        for text in [SAMPLE, ORIGINAL] {
            let event: PurchaseEvent = serde_json::from_str(text).expect("sample parses");
            let again: PurchaseEvent =
                serde_json::from_str(&serde_json::to_string(&event).expect("serializes"))
                    .expect("parses again");
            assert_eq!(event, again);
        }
    }

    #[test]
    fn the_view_reads_what_the_event_reads() {
        let event: PurchaseEvent = serde_json::from_str(SAMPLE).expect("sample parses");
        let view: PurchaseEventView<'_> = serde_json::from_str(SAMPLE).expect("view parses");
        assert!(matches!(view.product_name, Cow::Borrowed(_)));
        assert_eq!(view.product_name, event.product_name);
        assert_eq!(view.timestamp, event.timestamp);
        assert_eq!(view.final_amount, event.final_amount);
        let escaped = SAMPLE.replace("user_42", "user_\\u0034\\u0032");
        let view: PurchaseEventView<'_> = serde_json::from_str(&escaped).expect("escapes parse");
        assert_eq!(view.user_id, "user_42");
        for bad in [
            SAMPLE.replace(r#""quantity":2,"#, ""),
            SAMPLE.replace(r#""device":"mobile""#, r#""device":5"#),
            SAMPLE.replace(r#""unit_price":89800.0"#, r#""unit_price":"cheap""#),
            SAMPLE.replace(r#""product_id":"P001""#, r#""product_id":1.0"#),
        ] {
            let a = serde_json::from_str::<PurchaseEvent>(&bad).map_err(|e| e.to_string());
            let b = serde_json::from_str::<PurchaseEventView<'_>>(&bad).map_err(|e| e.to_string());
            assert!(a.is_err(), "{bad}");
            assert_eq!(a.err(), b.err(), "{bad}");
        }
    }

    #[test]
    fn cents_rounding() {
        assert_eq!(round_cents(17960.004), 17960.0);
        assert_eq!(round_cents(1.005 * 1000.0), 1005.0);
        assert_eq!(round_cents(2.675), 2.68);
    }
}
