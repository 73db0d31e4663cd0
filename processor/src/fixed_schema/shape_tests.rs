//! The fast reader against serde on both producers' shapes: the original
//! system's `json.dumps` output byte for byte, and randomly built events
//! (any field order, both string encodings and a mix of escapes, integer
//! and string ids, integer and decimal amounts, several time layouts and
//! whitespace styles), each also mutated at random bytes. For every input:
//! the fast path accepts only what serde accepts, with the identical value;
//! and every well-formed input of the common shapes takes the fast path.

use std::borrow::Cow;

use super::parse_view;
use crate::event::PurchaseEventView;
use purchase_event::python_json;
use purchase_event::samples::ORIGINAL;

fn serde_view(bytes: &[u8]) -> Option<PurchaseEventView<'_>> {
    serde_json::from_slice(bytes).ok()
}

/// The contract, with a readable failure.
fn assert_agrees(bytes: &[u8]) {
    if let Some(fast) = parse_view(bytes) {
        assert_eq!(
            serde_view(bytes).as_ref(),
            Some(&fast),
            "fast path differs from serde on {}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn the_original_producers_events_take_the_fast_path() {
    let no_fraction = ORIGINAL.replace("00:30:00.123456+00:00", "00:30:00+00:00");
    for text in [
        ORIGINAL.to_owned(),
        no_fraction.clone(),
        ORIGINAL.replace(r#""product_id": 1"#, r#""product_id": 8"#),
        ORIGINAL.replace("0.1,", "0.053,"),
        ORIGINAL.replace("17960.0", "1234.57"),
        ORIGINAL.replace("17960.0", "0.0"),
    ] {
        let fast = parse_view(text.as_bytes()).unwrap_or_else(|| panic!("not fast: {text}"));
        assert_eq!(serde_view(text.as_bytes()), Some(fast), "{text}");
    }
    let event = parse_view(ORIGINAL.as_bytes()).expect("fast");
    assert_eq!(event.product_name, "ノートPC");
    assert!(matches!(event.product_name, Cow::Owned(_)));
    assert!(matches!(event.category, Cow::Borrowed("electronics")));
    assert_eq!(event.product_id, crate::event::ProductId::Integer(1));
    assert_eq!(event.unit_price, 89_800.0);
    assert_eq!(event.timestamp.timestamp_subsec_micros(), 123_456);
    let whole = parse_view(no_fraction.as_bytes()).expect("fast");
    assert_eq!(whole.timestamp.to_rfc3339(), "2025-11-25T00:30:00+00:00");
}

/// A small deterministic generator (no RNG crate: the cases must not
/// change with a dependency upgrade).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Characters that exercise every string path: plain ASCII, characters
/// that must be escaped, control characters, 2- and 3-byte UTF-8, and
/// characters beyond the BMP (surrogate pairs when escaped).
const ALPHABET: [char; 20] = [
    'a',
    'Z',
    '0',
    ' ',
    '_',
    '"',
    '\\',
    '/',
    '\n',
    '\r',
    '\t',
    '\u{8}',
    '\u{c}',
    '\u{1}',
    '\u{7f}',
    'é',
    'ノ',
    '\u{fffd}',
    '😀',
    '\u{10ffff}',
];

fn random_text(rng: &mut Lcg) -> String {
    let len = rng.below(8);
    (0..len).map(|_| *rng.pick(&ALPHABET)).collect()
}

/// `value` as a JSON string in one of three valid encodings.
fn encode_string(rng: &mut Lcg, value: &str) -> String {
    match rng.below(3) {
        // Python's json.dumps (ensure_ascii).
        0 => {
            let mut out = String::new();
            python_json::push_str(&mut out, value);
            out
        }
        // serde_json: raw UTF-8, minimal escapes.
        1 => serde_json::to_string(value).unwrap_or_default(),
        // Each character escaped or not at random, hex in either case.
        _ => {
            let mut out = String::from('"');
            for c in value.chars() {
                let must = c == '"' || c == '\\' || c < ' ';
                if must || rng.below(2) == 0 {
                    let mut units = [0u16; 2];
                    for unit in c.encode_utf16(&mut units) {
                        if rng.below(2) == 0 {
                            out.push_str(&format!("\\u{unit:04X}"));
                        } else {
                            out.push_str(&format!("\\u{unit:04x}"));
                        }
                    }
                } else {
                    out.push(c);
                }
            }
            out.push('"');
            out
        }
    }
}

/// An amount as either producer writes it: integer, Python repr or serde
/// repr of a 2- or 3-decimal value.
fn encode_amount(rng: &mut Lcg) -> String {
    let cents = rng.below(20_000_000);
    match rng.below(4) {
        0 => (cents / 100).to_string(),
        1 => {
            let mut out = String::new();
            python_json::push_float(&mut out, cents as f64 / 100.0);
            out
        }
        2 => {
            let mut out = String::new();
            python_json::push_float(&mut out, rng.below(1000) as f64 / 1000.0);
            out
        }
        _ => serde_json::to_string(&(cents as f64 / 100.0)).unwrap_or_default(),
    }
}

fn encode_product_id(rng: &mut Lcg) -> String {
    match rng.below(4) {
        0 => (1 + rng.below(8)).to_string(),
        1 => rng.next().to_string(),
        2 => format!("\"P{:03}\"", rng.below(1000)),
        _ => {
            let text = random_text(rng);
            encode_string(rng, &text)
        }
    }
}

/// A time as `isoformat()` writes it (no fraction when the microsecond is
/// 0), or in our generator's layouts.
fn encode_timestamp(rng: &mut Lcg) -> String {
    let seconds = 1_700_000_000 + rng.below(200_000_000) as i64;
    let micros = if rng.below(3) == 0 {
        0
    } else {
        rng.below(1_000_000) as u32
    };
    let t = chrono::DateTime::from_timestamp(seconds, micros * 1000).expect("in range");
    let text = match rng.below(4) {
        0 => t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string(),
        1 => t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        2 => t
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("valid offset"))
            .to_rfc3339(),
        _ => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    };
    // isoformat() writes no fraction at all when the microsecond is 0.
    let text = text.replace(".000000+00:00", "+00:00");
    format!("\"{text}\"")
}

/// A random, valid event of the common shapes: each field once, in the
/// original's order or shuffled, with one of three whitespace styles.
fn random_event(rng: &mut Lcg) -> String {
    let strings = |rng: &mut Lcg| {
        let text = random_text(rng);
        encode_string(rng, &text)
    };
    let mut fields: Vec<(&str, String)> = vec![
        ("event_id", strings(rng)),
        ("timestamp", encode_timestamp(rng)),
        ("user_id", strings(rng)),
        ("user_segment", strings(rng)),
        ("product_id", encode_product_id(rng)),
        ("product_name", strings(rng)),
        ("category", strings(rng)),
        ("quantity", rng.below(20).to_string()),
        ("unit_price", encode_amount(rng)),
        ("base_amount", encode_amount(rng)),
        ("discount_rate", encode_amount(rng)),
        ("discount_amount", encode_amount(rng)),
        ("final_amount", encode_amount(rng)),
        ("region", strings(rng)),
        ("device", strings(rng)),
        ("payment_method", strings(rng)),
    ];
    if rng.below(2) == 0 {
        for i in (1..fields.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            fields.swap(i, j);
        }
    }
    let (comma, colon) = *rng.pick(&[(",", ":"), (", ", ": "), (" ,\n\t", " :\r ")]);
    let body: Vec<String> = fields
        .iter()
        .map(|(name, value)| format!("\"{name}\"{colon}{value}"))
        .collect();
    format!("{{{}}}", body.join(comma))
}

/// Bytes that tend to break JSON in interesting ways.
const MUTANTS: &[u8] = b"\"\\u{}[],: 0159aAfFeE.-+\x00\x1f\x7f\xc3\xa9\xed\xff";

fn mutate(rng: &mut Lcg, text: &str) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        let at = rng.below(bytes.len() as u64 + 1) as usize;
        let byte = *rng.pick(MUTANTS);
        match rng.below(3) {
            0 if at < bytes.len() => {
                bytes.remove(at);
            }
            1 if at < bytes.len() => bytes[at] = byte,
            _ => bytes.insert(at, byte),
        }
    }
    bytes
}

#[test]
fn random_events_of_both_shapes_agree_with_serde() {
    let mut rng = Lcg(20_251_125);
    let mut mutants_accepted = 0;
    for _ in 0..20_000 {
        let text = random_event(&mut rng);
        let fast = parse_view(text.as_bytes());
        let serde = serde_view(text.as_bytes());
        assert!(serde.is_some(), "the test built invalid JSON: {text}");
        assert!(
            fast.is_some(),
            "a common shape missed the fast path: {text}"
        );
        assert_eq!(fast, serde, "{text}");
        for _ in 0..3 {
            let bytes = mutate(&mut rng, &text);
            assert_agrees(&bytes);
            mutants_accepted += usize::from(parse_view(&bytes).is_some());
        }
    }
    // Mutations keep some records valid (a changed digit or letter): the
    // comparison above covered accepted values, not only rejections.
    assert!(mutants_accepted > 1_000, "{mutants_accepted}");
}
