//! A user id as an element of an exact distinct-user set. Stage 2 keeps one
//! set per open sales and hourly window and group, i.e. up to tens of
//! thousands of ids per window: as `String`s each id cost a 24-byte slot
//! plus its own heap allocation (32 bytes for `user_1234` with malloc's
//! header), most of the processor's memory while a backlog is drained. Ids
//! up to [`INLINE_LEN`] bytes (every id the generator writes) are stored in
//! the slot itself; longer ones fall back to a boxed string. The id is kept
//! whole, never hashed down, so distinct counts stay exact. On the wire
//! (the partials topic) it is a plain JSON string, as before.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Longest id stored inline: with the length byte and the enum tag the
/// value is 24 bytes, the size of a `String`.
pub const INLINE_LEN: usize = 22;

/// An exact user id. The representation is canonical (inline if and only
/// if it fits), so the derived equality and hash are those of the string.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum UserId {
    Inline { len: u8, bytes: [u8; INLINE_LEN] },
    Boxed(Box<str>),
}

impl UserId {
    pub fn new(id: &str) -> Self {
        if id.len() <= INLINE_LEN {
            let mut bytes = [0u8; INLINE_LEN];
            bytes[..id.len()].copy_from_slice(id.as_bytes());
            UserId::Inline {
                len: id.len() as u8,
                bytes,
            }
        } else {
            UserId::Boxed(id.into())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            // Copied from a `&str` whole, so always valid UTF-8.
            UserId::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            UserId::Boxed(id) => id,
        }
    }
}

impl From<&str> for UserId {
    fn from(id: &str) -> Self {
        UserId::new(id)
    }
}

impl fmt::Debug for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for UserId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UserId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = UserId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a user id string")
            }
            // Borrowed or not, the id is copied once, into its final place.
            fn visit_str<E: de::Error>(self, id: &str) -> Result<UserId, E> {
                Ok(UserId::new(id))
            }
        }
        deserializer.deserialize_str(IdVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hashbrown::HashSet;

    #[test]
    fn short_ids_are_inline_and_long_ids_boxed() {
        assert_eq!(std::mem::size_of::<UserId>(), 24);
        let short = UserId::new("user_10000");
        assert!(matches!(short, UserId::Inline { .. }));
        assert_eq!(short.as_str(), "user_10000");
        let edge = "u".repeat(INLINE_LEN);
        assert!(matches!(UserId::new(&edge), UserId::Inline { .. }));
        let long = "ユーザー_000000000001";
        assert!(matches!(UserId::new(long), UserId::Boxed(_)));
        assert_eq!(UserId::new(long).as_str(), long);
        assert_eq!(UserId::new("").as_str(), "");
    }

    #[test]
    fn equal_if_and_only_if_the_strings_are_equal() {
        let mut ids: Vec<String> = ["", "a", "a\0", "user_1", "user_10"]
            .map(String::from)
            .into();
        ids.extend(["u".repeat(22), "u".repeat(23)]);
        let set: HashSet<UserId> = ids.iter().map(|s| UserId::new(s)).collect();
        assert_eq!(set.len(), ids.len());
        for a in &ids {
            for b in &ids {
                assert_eq!(UserId::new(a) == UserId::new(b), a == b);
            }
        }
    }

    #[test]
    fn a_json_string_on_the_wire() {
        let ids = vec![UserId::new("user_7"), UserId::new(&"x".repeat(30))];
        let json = serde_json::to_string(&ids).expect("serializes");
        assert_eq!(json, format!(r#"["user_7","{}"]"#, "x".repeat(30)));
        let back: Vec<UserId> = serde_json::from_str(&json).expect("parses");
        assert_eq!(back, ids);
        let escaped: UserId = serde_json::from_str(r#""user_\u0037""#).expect("escapes");
        assert_eq!(escaped, UserId::new("user_7"));
    }
}
