//! A product id as its producer wrote it. The original system's producer
//! writes integers (`"product_id": 5`), ours strings (`"P005"`); results keep
//! the JSON type an id came in, so a reader of either sees its own ids back.
//! `5` and `"5"` are different products: an id is its JSON value, not its
//! text (a producer that mixes both for one product has two products).

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Integer ids order before text ids; integers numerically, text by bytes.
/// This is the tie-break order of equal revenue in the top-products ranking.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProductId<'a> {
    /// A JSON integer (`-2^63 … 2^63 − 1`). Numbers with a fraction or an
    /// exponent are not ids (the original's Spark schema read them as null).
    Integer(i64),
    /// A JSON string, escapes decoded.
    Text(Cow<'a, str>),
}

/// An id that owns its text: what the aggregates keep.
pub type OwnedProductId = ProductId<'static>;

impl ProductId<'_> {
    pub fn into_owned(self) -> OwnedProductId {
        match self {
            ProductId::Integer(n) => ProductId::Integer(n),
            ProductId::Text(text) => ProductId::Text(Cow::Owned(text.into_owned())),
        }
    }

    pub fn to_owned_id(&self) -> OwnedProductId {
        match self {
            ProductId::Integer(n) => ProductId::Integer(*n),
            ProductId::Text(text) => ProductId::Text(Cow::Owned(text.to_string())),
        }
    }

    /// The id as one component of a record key: integers as their digits,
    /// text as it is — except text that reads as an integer, which is
    /// quoted (`"5"`), so that `5` and `"5"` never share a key, and text
    /// that starts with a quote, quoted too, so that the id `"5"` (quotes
    /// included) does not share the key of the id `5`.
    pub fn key_text(&self) -> Cow<'_, str> {
        match self {
            ProductId::Integer(n) => Cow::Owned(n.to_string()),
            ProductId::Text(text) if looks_like_integer(text) || text.starts_with('"') => {
                Cow::Owned(format!("\"{text}\""))
            }
            ProductId::Text(text) => Cow::Borrowed(text),
        }
    }
}

/// `-?[0-9]+`: text that a reader could take for an integer id.
fn looks_like_integer(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit())
}

impl fmt::Display for ProductId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key_text())
    }
}

impl From<i64> for OwnedProductId {
    fn from(n: i64) -> Self {
        ProductId::Integer(n)
    }
}

impl From<&str> for OwnedProductId {
    fn from(text: &str) -> Self {
        ProductId::Text(Cow::Owned(text.to_owned()))
    }
}

impl Serialize for ProductId<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            ProductId::Integer(n) => serializer.serialize_i64(*n),
            ProductId::Text(text) => serializer.serialize_str(text),
        }
    }
}

/// Reads an id from JSON: an integer below 2^63 or a string. Rejects
/// everything else (fractions, exponents, `null`, …) with a message naming
/// what is expected.
struct IdVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for IdVisitor<'a> {
    type Value = ProductId<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a product id (an integer or a string)")
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(ProductId::Integer(n))
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        i64::try_from(n)
            .map(ProductId::Integer)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &"an integer below 2^63"))
    }
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(ProductId::Text(Cow::Borrowed(text)))
    }
    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(ProductId::Text(Cow::Owned(text.to_owned())))
    }
    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(ProductId::Text(Cow::Owned(text)))
    }
}

/// Reads an id that owns its text (like serde's `Cow`, which never
/// borrows unless asked to: see [`borrowed`]).
impl<'de> Deserialize<'de> for ProductId<'_> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = deserializer.deserialize_any(IdVisitor(PhantomData))?;
        Ok(id.into_owned())
    }
}

/// Reads an id whose text borrows from the input when it has no escapes:
/// `#[serde(borrow, deserialize_with = "crate::product_id::borrowed")]`.
pub fn borrowed<'de: 'a, 'a, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<ProductId<'a>, D::Error> {
    deserializer.deserialize_any(IdVisitor(PhantomData))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<ProductId<'_>, String> {
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let id = borrowed(&mut deserializer).map_err(|e| e.to_string())?;
        deserializer.end().map_err(|e| e.to_string())?;
        let owned: OwnedProductId = serde_json::from_str(json).map_err(|e| e.to_string())?;
        assert_eq!(owned, id);
        Ok(id)
    }

    #[test]
    fn keeps_the_json_type() {
        assert_eq!(parse("5"), Ok(ProductId::Integer(5)));
        assert_eq!(parse("-7"), Ok(ProductId::Integer(-7)));
        assert_eq!(parse(r#""P001""#), Ok(ProductId::from("P001")));
        assert!(matches!(
            parse(r#""P001""#),
            Ok(ProductId::Text(Cow::Borrowed(_)))
        ));
        assert_eq!(parse(r#""\u00501""#), Ok(ProductId::from("P1")));
        assert_eq!(
            parse("9223372036854775807"),
            Ok(ProductId::Integer(i64::MAX))
        );
        for id in [
            ProductId::Integer(5),
            ProductId::from("5"),
            ProductId::from("ノート"),
        ] {
            let json = serde_json::to_string(&id).expect("serialises");
            assert_eq!(parse(&json), Ok(id));
        }
        assert_eq!(
            serde_json::to_string(&ProductId::Integer(5))
                .ok()
                .as_deref(),
            Some("5")
        );
    }

    #[test]
    fn other_json_values_are_not_ids() {
        for bad in [
            "5.0",
            "5e0",
            "9223372036854775808",
            "null",
            "true",
            "[5]",
            "{}",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(
                err.contains("product id") || err.contains("2^63"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn integers_and_text_are_different_products_with_different_keys() {
        let (n, s) = (ProductId::Integer(5), ProductId::from("5"));
        assert_ne!(n, s);
        assert!(n < s, "integers order first");
        assert!(ProductId::Integer(10) > ProductId::Integer(9));
        assert_eq!(n.key_text(), "5");
        assert_eq!(s.key_text(), "\"5\"");
        assert_eq!(ProductId::from("-5").key_text(), "\"-5\"");
        assert_eq!(ProductId::from("P001").key_text(), "P001");
        assert_eq!(ProductId::from("5a").key_text(), "5a");
        assert_eq!(ProductId::from("").key_text(), "");
        assert_eq!(ProductId::from("\"5\"").key_text(), "\"\"5\"\"");
        assert_ne!(
            ProductId::from("\"5\"").key_text(),
            ProductId::from("5").key_text()
        );
    }
}
