//! Deliberately broken records, to exercise a consumer's dead-letter path.
//! Each is derived from a valid event, so it still carries its key and most
//! of its content.

use serde_json::{Map, Value};

use super::rng::SplitMix64;

/// Every field of the purchase event; a "missing field" record lacks one.
pub const FIELDS: [&str; 16] = [
    "event_id",
    "timestamp",
    "user_id",
    "user_segment",
    "product_id",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "base_amount",
    "discount_rate",
    "discount_amount",
    "final_amount",
    "region",
    "device",
    "payment_method",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MalformedKind {
    /// Not JSON at all: the valid text cut short.
    InvalidJson,
    /// A JSON object lacking one required field.
    MissingField,
    /// A JSON object with one field of the wrong JSON type.
    WrongType,
}

impl MalformedKind {
    pub const ALL: [MalformedKind; 3] = [
        MalformedKind::InvalidJson,
        MalformedKind::MissingField,
        MalformedKind::WrongType,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MalformedKind::InvalidJson => "invalid_json",
            MalformedKind::MissingField => "missing_field",
            MalformedKind::WrongType => "wrong_type",
        }
    }

    /// One of the three kinds, equally likely.
    pub fn pick(rng: &mut SplitMix64) -> Self {
        Self::ALL[rng.below(3) as usize]
    }
}

/// Rewrites `payload` (a valid event's JSON object) into a malformed record
/// of `kind`.
pub fn corrupt(payload: &mut Vec<u8>, kind: MalformedKind, rng: &mut SplitMix64) {
    match kind {
        MalformedKind::InvalidJson => truncate(payload, rng),
        MalformedKind::MissingField | MalformedKind::WrongType => {
            let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(payload) else {
                // Not an object to begin with: cutting it is still malformed.
                truncate(payload, rng);
                return;
            };
            let field = FIELDS[rng.below(FIELDS.len() as u64) as usize];
            if kind == MalformedKind::MissingField {
                object.remove(field);
            } else {
                retype(&mut object, field);
            }
            payload.clear();
            if serde_json::to_writer(&mut *payload, &object).is_err() {
                truncate(payload, rng);
            }
        }
    }
}

/// Cuts the text somewhere strictly inside it, on a character boundary: a
/// proper prefix of a JSON object never parses (its closing brace is gone).
fn truncate(payload: &mut Vec<u8>, rng: &mut SplitMix64) {
    if payload.len() < 2 {
        payload.clear();
        payload.push(b'{');
        return;
    }
    let mut cut = rng.range_inclusive(1, payload.len() as u64 - 1) as usize;
    // Back up to the start of a UTF-8 character (never a continuation byte).
    while cut > 1 && (payload[cut] & 0b1100_0000) == 0b1000_0000 {
        cut -= 1;
    }
    payload.truncate(cut);
}

/// Replaces a field's value by one of another JSON type: strings become
/// numbers, numbers become their text; `product_id`, which may be either,
/// becomes `true`.
fn retype(object: &mut Map<String, Value>, field: &str) {
    let replacement = match object.get(field) {
        _ if field == "product_id" => Value::Bool(true),
        Some(Value::String(_)) => Value::from(12345),
        Some(Value::Number(n)) => Value::String(n.to_string()),
        Some(_) | None => Value::Bool(true),
    };
    object.insert(field.to_string(), replacement);
}

#[cfg(test)]
mod tests {
    use super::*;
    use purchase_event::PurchaseEvent;

    const VALID: &str = r#"{"event_id":"a-1","timestamp":"2026-01-01T00:00:00Z","user_id":"user_1","user_segment":"new","product_id":"P007","product_name":"グリーンティー","category":"food","quantity":1,"unit_price":980.0,"base_amount":980.0,"discount_rate":0.1,"discount_amount":98.0,"final_amount":882.0,"region":"Tokyo","device":"web","payment_method":"credit_card"}"#;

    fn corrupted(kind: MalformedKind, seed: u64) -> Vec<u8> {
        let mut payload = VALID.as_bytes().to_vec();
        corrupt(&mut payload, kind, &mut SplitMix64::new(seed));
        payload
    }

    #[test]
    fn sample_is_valid() {
        serde_json::from_str::<PurchaseEvent>(VALID).expect("valid sample");
    }

    #[test]
    fn invalid_json_never_parses() {
        for seed in 0..500 {
            let payload = corrupted(MalformedKind::InvalidJson, seed);
            assert!(serde_json::from_slice::<Value>(&payload).is_err());
            assert!(std::str::from_utf8(&payload).is_ok(), "stays UTF-8");
        }
    }

    #[test]
    fn missing_field_lacks_exactly_one() {
        for seed in 0..200 {
            let payload = corrupted(MalformedKind::MissingField, seed);
            let Value::Object(object) = serde_json::from_slice(&payload).expect("still JSON")
            else {
                panic!("not an object");
            };
            assert_eq!(object.len(), FIELDS.len() - 1);
            assert!(serde_json::from_slice::<PurchaseEvent>(&payload).is_err());
        }
    }

    #[test]
    fn wrong_type_keeps_every_field_but_fails_the_schema() {
        for seed in 0..200 {
            let payload = corrupted(MalformedKind::WrongType, seed);
            let Value::Object(object) = serde_json::from_slice(&payload).expect("still JSON")
            else {
                panic!("not an object");
            };
            assert!(FIELDS.iter().all(|f| object.contains_key(*f)));
            assert!(serde_json::from_slice::<PurchaseEvent>(&payload).is_err());
        }
    }

    #[test]
    fn kinds_are_equally_likely_and_deterministic() {
        let mut rng = SplitMix64::new(3);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[MalformedKind::pick(&mut rng) as usize] += 1;
        }
        assert!(
            counts.iter().all(|c| (9_500..10_500).contains(c)),
            "{counts:?}"
        );
        assert_eq!(
            corrupted(MalformedKind::MissingField, 9),
            corrupted(MalformedKind::MissingField, 9)
        );
    }
}
