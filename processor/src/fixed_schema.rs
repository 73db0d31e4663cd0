//! A fast reader for the common shapes of a purchase event: one flat JSON
//! object with the sixteen known fields, each once, string values with or
//! without escapes, integer or plain decimal numbers and the fixed
//! timestamp layout. That covers both producers: ours (compact JSON,
//! string product ids, decimal amounts) and the original system's Python
//! producer (`json.dumps`: spaces after separators, integer ids and prices,
//! every non-ASCII character as a `\uXXXX` escape, `isoformat()` times).
//! serde_json's generic path (field-name matching through a visitor,
//! escape scanning, chrono's general timestamp parser) was ~2/3 of stage
//! 1's time per event.
//!
//! The contract that keeps this safe: [`parse_view`] returns `Some` only
//! for input serde_json would accept, with the identical value, and `None`
//! for *anything* else (unknown or duplicate fields, escaped field names,
//! lone surrogates, exponents, negative numbers, long mantissas, other
//! timestamp layouts, invalid input). The caller then runs the serde path,
//! which decides, so what is accepted, what is rejected and every
//! dead-letter reason stay serde's.

use std::borrow::Cow;

use crate::event::{ProductId, PurchaseEventView};
use crate::rfc3339;

/// The event in `bytes`, if it has a common shape (see the module doc);
/// `None` means "ask serde", not "invalid".
pub fn parse_view(bytes: &[u8]) -> Option<PurchaseEventView<'_>> {
    // serde_json validates UTF-8 inside strings, and outside them only
    // ASCII is valid JSON: validating the whole record at once is the same
    // condition, and lets every string below be sliced from `text`.
    let text = std::str::from_utf8(bytes).ok()?;
    let mut s = Scanner { text, pos: 0 };
    let mut f = Fields::default();
    s.skip_ws();
    s.eat(b'{')?;
    loop {
        s.skip_ws();
        s.eat(b'"')?;
        let key = s.plain_string()?;
        s.skip_ws();
        s.eat(b':')?;
        s.skip_ws();
        f.read(key, &mut s)?;
        s.skip_ws();
        match s.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    s.skip_ws();
    if s.pos != text.len() {
        return None;
    }
    f.finish()
}

/// The values read so far; every field must appear exactly once.
#[derive(Default)]
struct Fields<'a> {
    event_id: Option<Cow<'a, str>>,
    timestamp: Option<chrono::DateTime<chrono::Utc>>,
    user_id: Option<Cow<'a, str>>,
    user_segment: Option<Cow<'a, str>>,
    product_id: Option<ProductId<'a>>,
    product_name: Option<Cow<'a, str>>,
    category: Option<Cow<'a, str>>,
    quantity: Option<u32>,
    unit_price: Option<f64>,
    base_amount: Option<f64>,
    discount_rate: Option<f64>,
    discount_amount: Option<f64>,
    final_amount: Option<f64>,
    region: Option<Cow<'a, str>>,
    device: Option<Cow<'a, str>>,
    payment_method: Option<Cow<'a, str>>,
}

/// Stores `value` in an empty slot; a duplicate field is left to serde
/// (which rejects it).
fn set<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    if slot.is_some() {
        return None;
    }
    *slot = Some(value);
    Some(())
}

impl<'a> Fields<'a> {
    fn read(&mut self, key: &str, s: &mut Scanner<'a>) -> Option<()> {
        match key {
            "event_id" => set(&mut self.event_id, s.string()?),
            "timestamp" => set(&mut self.timestamp, rfc3339::parse_utc(&s.string()?)?),
            "user_id" => set(&mut self.user_id, s.string()?),
            "user_segment" => set(&mut self.user_segment, s.string()?),
            "product_id" => set(&mut self.product_id, s.product_id()?),
            "product_name" => set(&mut self.product_name, s.string()?),
            "category" => set(&mut self.category, s.string()?),
            "quantity" => set(&mut self.quantity, s.unsigned()?),
            "unit_price" => set(&mut self.unit_price, s.float()?),
            "base_amount" => set(&mut self.base_amount, s.float()?),
            "discount_rate" => set(&mut self.discount_rate, s.float()?),
            "discount_amount" => set(&mut self.discount_amount, s.float()?),
            "final_amount" => set(&mut self.final_amount, s.float()?),
            "region" => set(&mut self.region, s.string()?),
            "device" => set(&mut self.device, s.string()?),
            "payment_method" => set(&mut self.payment_method, s.string()?),
            // serde ignores unknown fields; skipping an arbitrary value is
            // left to it.
            _ => None,
        }
    }

    fn finish(self) -> Option<PurchaseEventView<'a>> {
        Some(PurchaseEventView {
            event_id: self.event_id?,
            timestamp: self.timestamp?,
            user_id: self.user_id?,
            user_segment: self.user_segment?,
            product_id: self.product_id?,
            product_name: self.product_name?,
            category: self.category?,
            quantity: self.quantity?,
            unit_price: self.unit_price?,
            base_amount: self.base_amount?,
            discount_rate: self.discount_rate?,
            discount_amount: self.discount_amount?,
            final_amount: self.final_amount?,
            region: self.region?,
            device: self.device?,
            payment_method: self.payment_method?,
        })
    }
}

/// Powers of ten, exact up to 10^22. serde_json (without its
/// `float_roundtrip` feature, which this workspace does not enable) computes
/// a decimal without exponent as `mantissa as f64` divided by 10^(fraction
/// digits); [`Scanner::float`] does the same arithmetic, so the bits are
/// identical (the test `numbers_are_read_exactly_as_serde_reads_them`
/// compares them, and would catch that feature being switched on). With at
/// most 15 digits the value is even correctly rounded.
const POW10: [f64; 20] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19,
];

/// At most 19 digits: the mantissa fits u64 without overflow, where
/// serde_json would switch to another algorithm.
const MAX_FLOAT_DIGITS: usize = 19;

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn eat(&mut self, expected: u8) -> Option<()> {
        (self.next()? == expected).then_some(())
    }

    /// JSON whitespace: space, tab, line feed, carriage return.
    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// A string value (after whitespace), borrowed from the record when it
    /// has no escapes, decoded otherwise.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.pos;
        let len = self.until_quote_or_escape()?;
        if self.bytes()[start + len] == b'"' {
            self.pos = start + len + 1;
            // Both ends are at ASCII bytes, so these are char boundaries.
            return self.text.get(start..start + len).map(Cow::Borrowed);
        }
        self.decode_escaped(start, len).map(Cow::Owned)
    }

    /// Bytes from the cursor up to the next `"` or `\`; `None` at a control
    /// character (invalid in a JSON string: serde rejects it) or at the
    /// end of the input.
    fn until_quote_or_escape(&self) -> Option<usize> {
        let rest = self.bytes().get(self.pos..)?;
        let len = rest
            .iter()
            .position(|&c| c == b'"' || c == b'\\' || c < 0x20)?;
        (rest[len] >= 0x20).then_some(len)
    }

    /// The rest of a string whose first `len` bytes from `start` are plain
    /// and are followed by a backslash: every JSON escape decoded as serde
    /// decodes it (`\uXXXX` surrogate pairs included). A lone surrogate or
    /// a malformed escape is left to serde.
    fn decode_escaped(&mut self, start: usize, len: usize) -> Option<String> {
        let mut out = String::with_capacity(len + 16);
        out.push_str(self.text.get(start..start + len)?);
        self.pos = start + len;
        loop {
            match self.next()? {
                b'"' => return Some(out),
                b'\\' => {}
                _ => return None,
            }
            let c = match self.next()? {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => self.unicode_escape()?,
                _ => return None,
            };
            out.push(c);
            let plain = self.until_quote_or_escape()?;
            out.push_str(self.text.get(self.pos..self.pos + plain)?);
            self.pos += plain;
        }
    }

    /// The character of a `\u` escape whose `\u` was read: a BMP code point,
    /// or a surrogate pair written as two escapes.
    fn unicode_escape(&mut self) -> Option<char> {
        let unit = self.hex4()?;
        match unit {
            0xD800..=0xDBFF => {
                self.eat(b'\\')?;
                self.eat(b'u')?;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return None;
                }
                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(unit),
        }
    }

    /// Four hex digits (either case).
    fn hex4(&mut self) -> Option<u32> {
        let digits = self.bytes().get(self.pos..self.pos + 4)?;
        let value = digits
            .iter()
            .try_fold(0u32, |n, &c| Some(n * 16 + char::from(c).to_digit(16)?))?;
        self.pos += 4;
        Some(value)
    }

    /// The rest of a string whose opening quote was read, without escapes
    /// (field names: an escaped name goes to serde).
    fn plain_string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        let len = self.until_quote_or_escape()?;
        if self.bytes()[start + len] != b'"' {
            return None;
        }
        self.pos = start + len + 1;
        self.text.get(start..start + len)
    }

    /// A product id: a string, or a non-negative integer below 2^63
    /// without fraction or exponent (what serde reads as an integer).
    fn product_id(&mut self) -> Option<ProductId<'a>> {
        if self.peek()? == b'"' {
            return self.string().map(ProductId::Text);
        }
        let run = self.digit_run()?;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) || run.len() > 19 {
            return None;
        }
        let value = run.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        i64::try_from(value).ok().map(ProductId::Integer)
    }

    /// Decimal digits at the cursor (consumed); JSON forbids a leading zero
    /// before further digits.
    fn digit_run(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let run = &self.bytes()[start..self.pos];
        if run.is_empty() || (run.len() > 1 && run[0] == b'0') {
            return None;
        }
        Some(run)
    }

    /// A non-negative integer that fits u32, written without fraction or
    /// exponent (serde rejects `2.0` for an integer field; that is left to
    /// it).
    fn unsigned(&mut self) -> Option<u32> {
        let run = self.digit_run()?;
        if matches!(self.peek(), Some(b'.' | b'e' | b'E')) || run.len() > 10 {
            return None;
        }
        let value = run.iter().fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        u32::try_from(value).ok()
    }

    /// A non-negative number with an optional fraction, no exponent, at
    /// most [`MAX_FLOAT_DIGITS`] digits: computed as serde_json does
    /// (mantissa as f64, divided by 10^fraction digits; see [`POW10`]).
    fn float(&mut self) -> Option<f64> {
        let integer = self.digit_run()?;
        let mut fraction: &[u8] = &[];
        if self.peek() == Some(b'.') {
            self.pos += 1;
            let start = self.pos;
            while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                self.pos += 1;
            }
            fraction = &self.bytes()[start..self.pos];
            if fraction.is_empty() {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E'))
            || integer.len() + fraction.len() > MAX_FLOAT_DIGITS
        {
            return None;
        }
        let mantissa = integer
            .iter()
            .chain(fraction)
            .fold(0u64, |n, &c| n * 10 + u64::from(c - b'0'));
        let value = mantissa as f64;
        Some(if fraction.is_empty() {
            value
        } else {
            value / POW10[fraction.len()]
        })
    }
}

#[cfg(test)]
mod shape_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Device, PaymentMethod, UserSegment};
    use purchase_event::samples::SAMPLE;

    /// `generator --schema original` writes what the original producer
    /// writes, and the fast path reads it (as the original's events are).
    #[test]
    fn the_generators_original_dialect_takes_the_fast_path() {
        use shopstream_generator::catalogue::{Catalogue, CatalogueSpec};
        use shopstream_generator::clock::EventClock;
        use shopstream_generator::config::Schema;
        use shopstream_generator::event_factory::{EventFactory, FactoryOptions};
        let factory = EventFactory::new(
            Catalogue::new(CatalogueSpec::builtin()),
            FactoryOptions {
                seed: 9,
                clock: EventClock::Simulated {
                    start: chrono::DateTime::from_timestamp(1_764_000_000, 0).expect("time"),
                    step: chrono::TimeDelta::milliseconds(10),
                },
                out_of_order_share: 0.0,
                out_of_order_max: std::time::Duration::from_secs(30),
                malformed_share: 0.0,
                schema: Schema::Original,
            },
        );
        let mut payload = Vec::new();
        for n in 0..2_000 {
            let (key, _) = factory.write_record(n, &mut payload);
            let fast = parse_view(&payload)
                .unwrap_or_else(|| panic!("fast path: {}", String::from_utf8_lossy(&payload)));
            assert_eq!(fast.user_id, key);
            assert!(matches!(fast.product_id, ProductId::Integer(1..=8)));
            assert!(agrees_with_serde(&payload));
        }
    }

    /// The fast path reads the same view as serde for our generator's
    /// shape, and leaves every invalid record to serde.
    #[test]
    fn reads_what_serde_reads() {
        let view: PurchaseEventView<'_> = serde_json::from_str(SAMPLE).expect("view parses");
        let fast = parse_view(SAMPLE.as_bytes()).expect("common shape");
        assert_eq!(fast, view);
        let utc = SAMPLE.replace("09:30:00+09:00", "00:30:00.250Z");
        let fast = parse_view(utc.as_bytes()).expect("common shape");
        assert_eq!(Some(fast), serde_json::from_str(&utc).ok());
        let escaped = SAMPLE.replace("user_42", "user_\\u0034\\u0032");
        let view: PurchaseEventView<'_> = serde_json::from_str(&escaped).expect("escapes parse");
        let fast = parse_view(escaped.as_bytes()).expect("escapes are read");
        assert_eq!(fast, view);
        for bad in [
            SAMPLE.replace(r#""quantity":2,"#, ""),
            SAMPLE.replace(r#""device":"mobile""#, r#""device":5"#),
            SAMPLE.replace(r#""unit_price":89800.0"#, r#""unit_price":"cheap""#),
            SAMPLE.replace(r#""product_id":"P001""#, r#""product_id":1.0"#),
        ] {
            assert!(parse_view(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    /// The contract: the fast path accepts only what serde accepts, with the
    /// same value.
    fn agrees_with_serde(text: &[u8]) -> bool {
        let serde = serde_json::from_slice::<PurchaseEventView<'_>>(text).ok();
        match parse_view(text) {
            Some(fast) => serde.as_ref() == Some(&fast),
            None => true,
        }
    }

    fn fast_path_taken(text: &str) -> bool {
        parse_view(text.as_bytes()).is_some()
    }

    #[test]
    fn the_common_shape_takes_the_fast_path() {
        let compact: String = SAMPLE.split('\n').map(str::trim).collect();
        for text in [
            SAMPLE.to_owned(),
            compact.clone(),
            SAMPLE.replace("+09:00", "Z"),
            SAMPLE.replace("09:30:00+09:00", "09:30:00.125-05:00"),
            SAMPLE.replace("89800.0", "89800"),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity" : 0"#),
            format!(" \r\n\t{SAMPLE} \n"),
            SAMPLE.replace("user_42", "user_\\u0034\\u0032"),
            SAMPLE.replace(
                "Tokyo",
                r#"\"To\\kyo\/\b\f\n\r\t\u00e9\u30CE\ud83d\ude00\""#,
            ),
        ] {
            assert!(fast_path_taken(&text), "{text}");
            assert!(agrees_with_serde(text.as_bytes()), "{text}");
        }
        let event = parse_view(compact.as_bytes()).expect("fast");
        assert!(matches!(event.product_name, Cow::Borrowed("ノートPC")));
        assert_eq!(event.timestamp.to_rfc3339(), "2026-11-25T00:30:00+00:00");
        assert_eq!(event.final_amount, 161_640.0);
        assert_eq!(event.discount_rate, 0.1);
    }

    /// `user_segment`, `device` and `payment_method` are open strings: our
    /// generator's values and any other string read as serde reads them.
    #[test]
    fn open_strings_read_as_serde_reads_them() {
        let mut cases = Vec::new();
        for segment in UserSegment::ALL
            .map(UserSegment::as_str)
            .into_iter()
            .chain(["vip", ""])
        {
            cases.push(SAMPLE.replace("premium", segment));
        }
        for device in Device::ALL
            .map(Device::as_str)
            .into_iter()
            .chain(["smart_tv"])
        {
            cases.push(SAMPLE.replace("mobile", device));
        }
        for method in PaymentMethod::ALL
            .map(PaymentMethod::as_str)
            .into_iter()
            .chain(["コンビニ"])
        {
            cases.push(SAMPLE.replace("credit_card", method));
        }
        for text in &cases {
            assert!(fast_path_taken(text), "{text}");
            assert!(agrees_with_serde(text.as_bytes()), "{text}");
        }
        let vip = parse_view(cases[3].as_bytes()).expect("fast");
        assert_eq!(vip.user_segment, "vip");
    }

    #[test]
    fn integer_and_string_product_ids() {
        for (json, id) in [
            (r#""P001""#, ProductId::Text(Cow::Borrowed("P001"))),
            ("5", ProductId::Integer(5)),
            ("0", ProductId::Integer(0)),
            (" 5 ", ProductId::Integer(5)),
            ("9223372036854775807", ProductId::Integer(i64::MAX)),
            (r#""5""#, ProductId::Text(Cow::Borrowed("5"))),
            (r#""P\u0030""#, ProductId::Text(Cow::Borrowed("P0"))),
        ] {
            let text = SAMPLE.replace(r#""P001""#, json);
            let fast = parse_view(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(fast.product_id, id, "{json}");
            assert!(agrees_with_serde(text.as_bytes()), "{text}");
        }
        // Left to serde: a negative id is valid; the rest are dead letters.
        for json in [
            "-5",
            "9223372036854775808",
            "5.0",
            "5e0",
            "05",
            "null",
            "[5]",
            "true",
        ] {
            let text = SAMPLE.replace(r#""P001""#, json);
            assert!(parse_view(text.as_bytes()).is_none(), "{json}");
            let serde = serde_json::from_str::<PurchaseEventView<'_>>(&text);
            assert_eq!(serde.is_ok(), json == "-5", "{json}");
        }
    }

    #[test]
    fn everything_else_is_left_to_serde() {
        let cases: Vec<Vec<u8>> = [
            // Valid, but not the common shape: serde decides.
            SAMPLE.replace("\"region\"", "\"re\\u0067ion\""),
            SAMPLE.replace("{", r#"{"extra":[1,{"a":null}],"#),
            SAMPLE.replace("2026-11-25T09:30:00+09:00", "2026-11-25 09:30:00+09:00"),
            SAMPLE.replace("89800.0", "8.98e4"),
            SAMPLE.replace("89800.0", "1234567890.1234567891"),
            SAMPLE.replace("89800.0", "-89800.0"),
            // Invalid: serde rejects, with its reason.
            SAMPLE.replace(r#""quantity":2,"#, ""),
            SAMPLE.replace(r#""quantity":2,"#, r#""quantity":2,"quantity":3,"#),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity":2.0"#),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity":-1"#),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity":02"#),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity":4294967296"#),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity":"2""#),
            SAMPLE.replace(r#""quantity":2"#, r#""quantity":null"#),
            SAMPLE.replace("89800.0", "\"cheap\""),
            SAMPLE.replace("89800.0", "89800."),
            SAMPLE.replace("89800.0", ".5"),
            SAMPLE.replace("89800.0", "089800.0"),
            SAMPLE.replace(r#""device":"mobile""#, r#""device":"fax""#),
            SAMPLE.replace(r#""user_segment":"premium""#, r#""user_segment":"Premium""#),
            SAMPLE.replace("Tokyo", "To\tkyo"),
            SAMPLE.replace("Tokyo", "To\\ud800kyo"),
            SAMPLE.replace("Tokyo", "To\\udc00kyo"),
            SAMPLE.replace("Tokyo", "To\\ud83d\\u0041kyo"),
            SAMPLE.replace("Tokyo", "To\\ud83dkyo"),
            SAMPLE.replace("Tokyo", "To\\xkyo"),
            SAMPLE.replace("Tokyo", "To\\u12"),
            SAMPLE.replace("Tokyo", "To\\u12G4kyo"),
            SAMPLE.replace("Tokyo", "Tokyo\\"),
            SAMPLE.replace("Tokyo", "To\\u00e9\nkyo"),
            SAMPLE.replace("2026-11-25T09:30:00+09:00", "2026-02-30T09:30:00+09:00"),
            SAMPLE.replace("2026-11-25T09:30:00+09:00", "yesterday"),
            SAMPLE.replace(r#""region":"Tokyo","#, r#""region":"Tokyo",,"#),
            format!("{SAMPLE}x"),
            format!("[{SAMPLE}]"),
            SAMPLE.replace('}', ""),
            "{}".to_owned(),
            String::new(),
        ]
        .into_iter()
        .map(String::into_bytes)
        .chain([SAMPLE.replace("Tokyo", "Tok\u{fffd}").into_bytes()])
        .chain([{
            let mut bytes = SAMPLE.as_bytes().to_vec();
            let at = SAMPLE.find("Tokyo").expect("region");
            bytes[at + 1] = 0xff;
            bytes
        }])
        .collect();
        for text in &cases {
            assert!(agrees_with_serde(text), "{}", String::from_utf8_lossy(text));
            if serde_json::from_slice::<PurchaseEventView<'_>>(text).is_err() {
                assert!(
                    parse_view(text).is_none(),
                    "{}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn numbers_are_read_exactly_as_serde_reads_them() {
        let mut x: u64 = 7;
        let mut next = || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            x >> 11
        };
        for i in 0..200_000u64 {
            // Amounts as the generator writes them (shortest round trip of a
            // 2-decimal value), and arbitrary digit strings of up to 19
            // digits with any number of fraction digits.
            let text = if i % 2 == 0 {
                serde_json::to_string(&((next() % 100_000_000) as f64 / 100.0)).expect("f64")
            } else {
                let digits = (next() % 19 + 1) as usize;
                let all: String = (0..digits)
                    .map(|_| char::from(b'0' + (next() % 10) as u8))
                    .collect();
                let all = all.trim_start_matches('0');
                let all = if all.is_empty() { "0" } else { all };
                let point = (next() as usize) % all.len();
                if point == 0 {
                    all.to_owned()
                } else {
                    format!("{}.{}", &all[..point], &all[point..])
                }
            };
            let mut s = Scanner {
                text: &text,
                pos: 0,
            };
            if let Some(fast) = s.float() {
                let serde: f64 = serde_json::from_str(&text).expect("valid number");
                assert_eq!(fast.to_bits(), serde.to_bits(), "{text}");
                assert_eq!(s.pos, text.len(), "{text}");
            }
        }
    }
}
