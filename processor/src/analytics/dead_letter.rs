//! Records of the dead-letter topic: the reason, where the input record is
//! (topic, partition, offset), and as much of its value as fits a bounded
//! record. A dead letter must always be storable: a 400 KB binary record
//! grows past the broker's 1 MB limit once JSON-escaped (a NUL byte becomes
//! `\u0000`, six bytes), and a dead letter that cannot be written would
//! stop the pipeline. The original stays findable by partition and offset.

use serde::Serialize;

/// Budget of the `raw` field once JSON-escaped, in bytes.
pub const MAX_RAW_JSON_BYTES: usize = 16 * 1024;

/// A record of the dead-letter topic.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct DeadLetter {
    pub reason: String,
    pub source_topic: String,
    pub partition: i32,
    pub offset: i64,
    /// The record's value, lossily decoded as UTF-8, cut to
    /// [`MAX_RAW_JSON_BYTES`] of JSON.
    pub raw: String,
    /// Size of the record's value in bytes.
    pub raw_bytes: usize,
    /// Whether `raw` is only the beginning of the value.
    pub raw_truncated: bool,
}

/// Bytes `c` takes inside a JSON string as serde_json writes it.
fn escaped_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// The longest prefix of `text` whose JSON-escaped form fits `budget`.
fn prefix_within(text: &str, budget: usize) -> (&str, bool) {
    let mut used = 0;
    for (i, c) in text.char_indices() {
        used += escaped_len(c);
        if used > budget {
            return (&text[..i], true);
        }
    }
    (text, false)
}

impl DeadLetter {
    pub fn new(
        reason: String,
        source_topic: &str,
        partition: i32,
        offset: i64,
        payload: Option<&[u8]>,
    ) -> Self {
        let bytes = payload.unwrap_or_default();
        let text = String::from_utf8_lossy(bytes);
        let (raw, raw_truncated) = prefix_within(&text, MAX_RAW_JSON_BYTES);
        DeadLetter {
            reason,
            source_topic: source_topic.to_owned(),
            partition,
            offset,
            raw: raw.to_owned(),
            raw_bytes: bytes.len(),
            raw_truncated,
        }
    }

    /// Record key on the dead-letter topic: where the original is.
    pub fn key(&self) -> String {
        format!("{}:{}", self.partition, self.offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_kept_whole() {
        let d = DeadLetter::new("invalid JSON".into(), "in", 2, 7, Some(b"{oops"));
        assert_eq!(
            (d.raw.as_str(), d.raw_bytes, d.raw_truncated),
            ("{oops", 5, false)
        );
        assert_eq!(d.key(), "2:7");
    }

    #[test]
    fn escaped_size_is_bounded_whatever_the_bytes() {
        // 201 KB of NUL bytes (was 1.2 MB of JSON) and invalid UTF-8.
        for payload in [vec![0u8; 201_000], vec![0xff; 300_000], vec![b'"'; 100_000]] {
            let d = DeadLetter::new("invalid JSON".into(), "in", 0, 1, Some(&payload));
            let json = serde_json::to_string(&d).expect("serialises");
            assert!(json.len() < MAX_RAW_JSON_BYTES + 300, "{}", json.len());
            let raw_json = serde_json::to_string(&d.raw).expect("serialises");
            assert!(raw_json.len() - 2 <= MAX_RAW_JSON_BYTES);
            assert!(d.raw_truncated);
            assert_eq!(d.raw_bytes, payload.len());
        }
    }

    #[test]
    fn the_escaping_estimate_matches_serde() {
        let all: String = (0u32..0x2_0000).filter_map(char::from_u32).collect();
        for c in all.chars() {
            let json = serde_json::to_string(&c.to_string()).expect("serialises");
            assert_eq!(json.len() - 2, escaped_len(c), "{:?}", c);
        }
    }

    #[test]
    fn cuts_on_a_character_boundary() {
        let text = "ノ".repeat(10_000);
        let d = DeadLetter::new("x".into(), "in", 0, 0, Some(text.as_bytes()));
        assert!(d.raw.chars().all(|c| c == 'ノ'));
        assert_eq!(d.raw.len(), MAX_RAW_JSON_BYTES / 3 * 3);
    }
}
