//! The Go conversions label filters and `unwrap` apply to label values,
//! with the error texts Loki puts into `__error_details__` (spec §3.6).
//!
//! | function | Go | accepts |
//! |---|---|---|
//! | [`parse_go_float`] | `strconv.ParseFloat(s, 64)` | optional sign; decimal with optional fraction and exponent; `_` between digits; hex mantissa with a mandatory `p` exponent (`0x1.8p1`); `inf`, `infinity` (signed), `nan` (unsigned), any case. Overflow is an error (`value out of range`), underflow is not |
//! | [`parse_go_duration`] | `time.ParseDuration` | `[-+]?([0-9]*(\.[0-9]*)?unit)+`, units `ns us µs μs ms s m h`; `0` alone; no `d`/`w`/`y` |
//! | [`parse_humanize_bytes`] | go-humanize `ParseBytes` | leading digits, `.` and `,` (commas dropped), optional spaces, a unit from `b k kb kib … e eb eib` (any case); the product truncated to an integer |
//!
//! The float and duration grammars are the ones the query parser and
//! templates use (`number.rs`, `units.rs`); this module puts their errors
//! into [`ConversionError`].

use std::fmt;

use super::{decode_char, go_quote};
use crate::logql::number::{NumError, parse_float_bytes};

/// A value that did not convert; `Display` is Go's error text, which Loki
/// stores in `__error_details__`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionError {
    details: String,
}

impl ConversionError {
    /// The error text (`strconv.ParseFloat: parsing "x": invalid syntax`).
    pub fn details(&self) -> &str {
        &self.details
    }
}

impl fmt::Display for ConversionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.details)
    }
}

impl std::error::Error for ConversionError {}

fn float_error(kind: NumError, text: &[u8]) -> ConversionError {
    let what = match kind {
        NumError::Syntax => "invalid syntax",
        NumError::Range => "value out of range",
    };
    ConversionError { details: format!("strconv.ParseFloat: parsing {}: {what}", go_quote(text)) }
}

/// Go's `strconv.ParseFloat(s, 64)`.
///
/// # Errors
///
/// Go's `*strconv.NumError` text, e.g.
/// `strconv.ParseFloat: parsing "abc": invalid syntax`.
pub fn parse_go_float(s: &str) -> Result<f64, ConversionError> {
    parse_float_bytes(s.as_bytes()).map_err(|k| float_error(k, s.as_bytes()))
}

/// Go's `time.ParseDuration`, in nanoseconds
/// (the query parser's implementation, `units.rs`).
///
/// # Errors
///
/// Go's texts: `time: invalid duration "x"`, `time: missing unit in
/// duration "5"`, `time: unknown unit "d" in duration "1d"`.
pub fn parse_go_duration(orig: &str) -> Result<i64, ConversionError> {
    crate::logql::units::parse_go_duration(orig).map_err(|details| ConversionError { details })
}

/// Whether go-humanize counts `c` as a digit (`unicode.IsDigit`, category
/// Nd; non-ASCII numerics are approximated by `char::is_numeric`).
fn humanize_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}

/// go-humanize's `ParseBytes`.
///
/// # Errors
///
/// `strconv.ParseFloat: parsing "": invalid syntax` when the value does
/// not start with a number, `unhandled size name: xb` for an unknown unit,
/// `too large: …` at 2^64 and above.
pub fn parse_humanize_bytes(s: &str) -> Result<u64, ConversionError> {
    // go-humanize counts characters but slices bytes with the count; for
    // ASCII the two agree.
    let count = s.chars().take_while(|&c| humanize_digit(c) || c == '.' || c == ',').count();
    let b = s.as_bytes();
    let num: Vec<u8> = b.get(..count).unwrap_or_default().iter().copied().filter(|&c| c != b',').collect();
    let f = parse_float_bytes(&num).map_err(|k| float_error(k, &num))?;
    let mut extra = String::new();
    let mut rest = super::trim_go_space(b.get(count..).unwrap_or_default());
    while !rest.is_empty() {
        let (c, len) = decode_char(rest).unwrap_or(('\u{fffd}', 1));
        match c {
            '\u{130}' => extra.push('i'),
            c => extra.extend(c.to_lowercase()),
        }
        rest = rest.get(len..).unwrap_or_default();
    }
    let mult: u64 = match extra.as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "ki" | "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mi" | "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gi" | "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "ti" | "tib" => 1 << 40,
        "p" | "pb" => 1_000_000_000_000_000,
        "pi" | "pib" => 1 << 50,
        "e" | "eb" => 1_000_000_000_000_000_000,
        "ei" | "eib" => 1 << 60,
        _ => return Err(ConversionError { details: format!("unhandled size name: {extra}") }),
    };
    let v = f * mult as f64;
    if v >= 18_446_744_073_709_551_616.0 {
        return Err(ConversionError { details: format!("too large: {s}") });
    }
    // `f` has no sign, so `v` is finite and non-negative here.
    Ok(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Result<f64, String> {
        parse_go_float(s).map_err(|e| e.to_string())
    }

    #[test]
    fn floats() {
        for (s, v) in [
            ("1", 1.0),
            ("-2.5", -2.5),
            ("+.5", 0.5),
            ("1.", 1.0),
            ("1e3", 1000.0),
            ("1E-2", 0.01),
            ("1_000.5", 1000.5),
            ("0x1p3", 8.0),
            ("0x1.8p1", 3.0),
            ("-0x_1p-2", -0.25),
            ("0X1P+4", 16.0),
            ("inf", f64::INFINITY),
            ("-Infinity", f64::NEG_INFINITY),
            ("+INF", f64::INFINITY),
            ("1e-400", 0.0),
            ("0x1p-1074", 5e-324),
            ("0x1.fffffffffffffp1023", f64::MAX),
            ("0x1.fffffffffffff7ffffp1023", f64::MAX),
            ("0x.1p4", 1.0),
            ("200.0", 200.0),
        ] {
            assert_eq!(f(s), Ok(v), "{s}");
        }
        assert!(f("NaN").unwrap().is_nan());
        assert!(f("nan").unwrap().is_nan());
        for bad in [
            "", "abc", "+nan", "1_", "_1", "1__0", "0x1", "0x", "1e", "1e+", "..1", "1.2.3", "infin", "nanx", " 1",
            "1 ", "0x1.p",
        ] {
            assert_eq!(
                f(bad),
                Err(format!("strconv.ParseFloat: parsing {}: invalid syntax", go_quote(bad.as_bytes()))),
                "{bad}"
            );
        }
        assert_eq!(f("1e400"), Err(r#"strconv.ParseFloat: parsing "1e400": value out of range"#.to_owned()));
        assert_eq!(f("0x1p1024"), Err(r#"strconv.ParseFloat: parsing "0x1p1024": value out of range"#.to_owned()));
        assert!(f("0x1.fffffffffffff8p1023").is_err(), "a tie rounds to even: 2^1024");
        assert_eq!(f("0x1p-1075"), Ok(0.0), "ties to even");
        assert_eq!(f("0x1.8p-1074"), Ok(1e-323), "1.5 ulp rounds to 2");
    }

    fn d(s: &str) -> Result<i64, String> {
        parse_go_duration(s).map_err(|e| e.to_string())
    }

    #[test]
    fn durations() {
        assert_eq!(d("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(d("300ms"), Ok(300_000_000));
        assert_eq!(d("1µs"), Ok(1_000));
        assert_eq!(d("1μs"), Ok(1_000));
        assert_eq!(d("-5s"), Ok(-5_000_000_000));
        assert_eq!(d("+0"), Ok(0));
        assert_eq!(d("2h45m"), Ok(9_900_000_000_000));
        assert_eq!(d(".5s"), Ok(500_000_000));
        assert_eq!(d("1h15m30.918273645s"), Ok(4_530_918_273_645));
        assert_eq!(d("-9223372036854775808ns"), Ok(i64::MIN));
        assert_eq!(d("1d"), Err(r#"time: unknown unit "d" in duration "1d""#.into()));
        assert_eq!(d("5"), Err(r#"time: missing unit in duration "5""#.into()));
        assert_eq!(d(""), Err(r#"time: invalid duration """#.into()));
        assert_eq!(d(".s"), Err(r#"time: invalid duration ".s""#.into()));
        assert_eq!(d("9223372036854775808ns"), Err(r#"time: invalid duration "9223372036854775808ns""#.into()));
        assert_eq!(d("1é"), Err(r#"time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9""#.into()));
        assert_eq!(d("5 s"), Err(r#"time: unknown unit " s" in duration "5 s""#.into()));
    }

    fn b(s: &str) -> Result<u64, String> {
        parse_humanize_bytes(s).map_err(|e| e.to_string())
    }

    #[test]
    fn bytes() {
        assert_eq!(b("1KB"), Ok(1000));
        assert_eq!(b("1KiB"), Ok(1024));
        assert_eq!(b("2,048"), Ok(2048));
        assert_eq!(b("1.5B"), Ok(1));
        assert_eq!(b("1 kib"), Ok(1024));
        assert_eq!(b("20MB"), Ok(20_000_000));
        assert_eq!(b("42"), Ok(42));
        assert_eq!(b("1.5 GiB"), Ok(1_610_612_736));
        assert_eq!(b("1XB"), Err("unhandled size name: xb".into()));
        assert_eq!(b("abc"), Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#.into()));
        assert_eq!(b("-5"), Err(r#"strconv.ParseFloat: parsing "": invalid syntax"#.into()));
        assert_eq!(b("1.2.3kb"), Err(r#"strconv.ParseFloat: parsing "1.2.3": invalid syntax"#.into()));
        assert_eq!(b("20EB"), Err("too large: 20EB".into()));
        assert_eq!(b("1e3"), Err("unhandled size name: e3".into()));
    }
}
