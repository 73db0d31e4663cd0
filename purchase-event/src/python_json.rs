//! JSON exactly as Python's `json.dumps` writes it with its defaults
//! (`ensure_ascii=True`, separators `", "` and `": "`), and Python's
//! `round(x, n)`: what the original system's producer put on the wire, so
//! `generator --schema original` exercises the processor with the same
//! bytes. Part of the schema crate because it is the original dialect's
//! encoding, which the processor's tests write too.

use std::fmt::Write;

/// Appends `value` as `json.dumps` writes a `str`: `"` and `\` escaped,
/// `\n \r \t \b \f` in their short form, every other character outside
/// printable ASCII (space … `~`) as `\uXXXX` (lowercase hex; characters
/// beyond the BMP as a surrogate pair).
pub fn push_str(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    // Writing to a String cannot fail.
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

/// Appends `value` as Python's `repr(float)` (which `json.dumps` uses):
/// the shortest digits that round-trip, in positional notation with at
/// least one fraction digit (`80820.0`, `0.053`) while the decimal
/// exponent is in `-4 ..= 15`, else scientific with a signed two-digit
/// exponent (`1e-05`, `1.5e+16`). Non-finite values are written as Python
/// does (`NaN`, `Infinity`), which is not valid JSON.
pub fn push_float(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("NaN");
        return;
    }
    if value.is_infinite() {
        out.push_str(if value > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    // `{:e}` is Rust's shortest round-trip representation: `d.ddde±x`.
    let sci = format!("{value:e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    out.push_str(sign);
    // Python's `decpt` is the exponent + 1: scientific when decpt <= -4 or
    // decpt > 16 (float_repr_style 'short', format code 'r').
    let decpt = exponent + 1;
    if decpt <= -4 || decpt > 16 {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "e{sign}{:02}", exponent.unsigned_abs());
    } else if decpt <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', decpt.unsigned_abs() as usize));
        out.push_str(&digits);
    } else {
        let point = decpt as usize;
        if digits.len() > point {
            out.push_str(&digits[..point]);
            out.push('.');
            out.push_str(&digits[point..]);
        } else {
            out.push_str(&digits);
            out.extend(std::iter::repeat_n('0', point - digits.len()));
            out.push_str(".0");
        }
    }
}

/// Python's `round(value, ndigits)` for a float: the decimal with
/// `ndigits` places nearest to the exact binary value (ties to even), read
/// back as the nearest float. Rust's fixed-precision formatting rounds the
/// exact value the same way, and parsing is correctly rounded.
pub fn round(value: f64, ndigits: usize) -> f64 {
    if !value.is_finite() {
        return value;
    }
    format!("{value:.ndigits$}").parse().unwrap_or(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(value: f64) -> String {
        let mut out = String::new();
        push_float(&mut out, value);
        out
    }

    /// Expected strings are Python 3.11's `json.dumps(x)`.
    #[test]
    fn floats_as_python_writes_them() {
        for (value, python) in [
            (0.1, "0.1"),
            (0.053, "0.053"),
            (80820.0, "80820.0"),
            (1234.57, "1234.57"),
            (1e-05, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (9999999999999998.0, "9999999999999998.0"),
            (1.5e16, "1.5e+16"),
            (123456789012345678.0, "1.2345678901234568e+17"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1e22, "1e+22"),
            (1e-7, "1e-07"),
            (12345.6, "12345.6"),
            (-161640.5, "-161640.5"),
            (0.00012, "0.00012"),
            (1.2e-5, "1.2e-05"),
            (1e100, "1e+100"),
            (5e-324, "5e-324"),
            (f64::MAX, "1.7976931348623157e+308"),
            (100.0, "100.0"),
        ] {
            assert_eq!(float(value), python, "{value:?}");
            assert_eq!(float(value).parse::<f64>().ok(), Some(value));
        }
    }

    /// Expected strings are Python 3.11's `json.dumps(s)`.
    #[test]
    fn strings_as_python_writes_them() {
        let mut out = String::new();
        push_str(&mut out, "\u{7f}\u{0}\u{1f}\"\\/\n\t\u{8}\u{c}\r é ノ 😀");
        assert_eq!(
            out,
            r#""\u007f\u0000\u001f\"\\/\n\t\b\f\r \u00e9 \u30ce \ud83d\ude00""#
        );
        let mut out = String::new();
        push_str(&mut out, "ノートPC");
        assert_eq!(out, r#""\u30ce\u30fc\u30c8PC""#);
        let back: String = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(back, "ノートPC");
    }

    /// Expected values are Python 3.11's `round(x, n)`.
    #[test]
    fn rounds_as_python_rounds() {
        for (value, n, python) in [
            (2.675, 2, 2.67),
            (0.125, 2, 0.12),
            (0.375, 2, 0.38),
            (1.005, 2, 1.0),
            (0.0525, 3, 0.052),
            (17960.0, 2, 17960.0),
            (161640.004999, 2, 161640.0),
            (0.1495, 3, 0.149),
            (0.0005, 3, 0.001),
            (1234.565, 2, 1234.57),
            (80820.005, 2, 80820.01),
        ] {
            assert_eq!(round(value, n), python, "round({value}, {n})");
        }
    }
}
