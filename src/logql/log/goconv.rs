//! The Go conversions label filters and `unwrap` apply to label values,
//! with the error texts Loki puts into `__error_details__` (spec §3.6).
//!
//! | function | Go | accepts |
//! |---|---|---|
//! | [`parse_go_float`] | `strconv.ParseFloat(s, 64)` | optional sign; decimal with optional fraction and exponent; `_` between digits; hex mantissa with a mandatory `p` exponent (`0x1.8p1`); `inf`, `infinity` (signed), `nan` (unsigned), any case. Overflow is an error (`value out of range`), underflow is not |
//! | [`parse_go_duration`] | `time.ParseDuration` | `[-+]?([0-9]*(\.[0-9]*)?unit)+`, units `ns us µs μs ms s m h`; `0` alone; no `d`/`w`/`y` |
//! | [`parse_humanize_bytes`] | go-humanize `ParseBytes` | leading digits, `.` and `,` (commas dropped), optional spaces, a unit from `b k kb kib … e eb eib` (any case); the product truncated to an integer |

use std::fmt;

use super::{decode_char, go_quote};

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

enum FloatError {
    Syntax,
    Range,
}

fn float_error(kind: FloatError, text: &[u8]) -> ConversionError {
    let what = match kind {
        FloatError::Syntax => "invalid syntax",
        FloatError::Range => "value out of range",
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

fn parse_float_bytes(b: &[u8]) -> Result<f64, FloatError> {
    if let Some(v) = special_float(b) {
        return v;
    }
    let (neg, digits) = match b.first() {
        Some(b'+') => (false, b.get(1..).unwrap_or_default()),
        Some(b'-') => (true, b.get(1..).unwrap_or_default()),
        _ => (false, b),
    };
    let hex = digits.len() > 2 && digits.first() == Some(&b'0') && digits.get(1).is_some_and(|c| c | 0x20 == b'x');
    let body = if hex { digits.get(2..).unwrap_or_default() } else { digits };
    let is_digit = |c: u8| c.is_ascii_digit() || (hex && c.is_ascii_hexdigit());
    // Mantissa: digits, `_`, at most one `.`.
    let mut i = 0;
    let mut saw_dot = false;
    let mut saw_digits = false;
    let mut underscores = false;
    while let Some(&c) = body.get(i) {
        if c == b'_' {
            underscores = true;
        } else if c == b'.' {
            if saw_dot {
                break;
            }
            saw_dot = true;
        } else if is_digit(c) {
            saw_digits = true;
        } else {
            break;
        }
        i += 1;
    }
    if !saw_digits {
        return Err(FloatError::Syntax);
    }
    let mantissa_end = i;
    // Exponent: `e` for decimal, `p` (mandatory) for hex.
    let exp_char = if hex { b'p' } else { b'e' };
    let mut exp: i64 = 0;
    if body.get(i).is_some_and(|&c| c | 0x20 == exp_char) {
        i += 1;
        let mut exp_neg = false;
        match body.get(i) {
            Some(b'+') => i += 1,
            Some(b'-') => {
                exp_neg = true;
                i += 1;
            }
            _ => {}
        }
        if !body.get(i).is_some_and(u8::is_ascii_digit) {
            return Err(FloatError::Syntax);
        }
        while let Some(&c) = body.get(i) {
            if c == b'_' {
                underscores = true;
            } else if c.is_ascii_digit() {
                if exp < 100_000 {
                    exp = exp * 10 + i64::from(c - b'0');
                }
            } else {
                break;
            }
            i += 1;
        }
        if exp_neg {
            exp = -exp;
        }
    } else if hex {
        return Err(FloatError::Syntax);
    }
    if i != body.len() {
        return Err(FloatError::Syntax);
    }
    if underscores && !underscores_ok(digits) {
        return Err(FloatError::Syntax);
    }
    let mantissa = body.get(..mantissa_end).unwrap_or_default();
    let v = if hex {
        hex_float(mantissa, exp)?
    } else {
        let clean: String = body.iter().filter(|&&c| c != b'_').map(|&c| char::from(c)).collect();
        let v: f64 = clean.parse().map_err(|_| FloatError::Syntax)?;
        if v.is_infinite() {
            return Err(FloatError::Range);
        }
        v
    };
    Ok(if neg { -v } else { v })
}

/// `inf`, `infinity` (optionally signed) and `nan`, any case; `None` when
/// `b` is none of them.
fn special_float(b: &[u8]) -> Option<Result<f64, FloatError>> {
    let lower_prefix =
        |s: &[u8], word: &[u8]| s.iter().zip(word).take_while(|(a, w)| a.to_ascii_lowercase() == **w).count();
    let (sign, rest) = match b.first()? {
        b'+' => (1.0, b.get(1..)?),
        b'-' => (-1.0, b.get(1..)?),
        b'i' | b'I' => (1.0, b),
        b'n' | b'N' => {
            let v = if b.len() == 3 { Ok(f64::NAN) } else { Err(FloatError::Syntax) };
            return (lower_prefix(b, b"nan") == 3).then_some(v);
        }
        _ => return None,
    };
    let n = lower_prefix(rest, b"infinity");
    let n = if n > 3 && n < 8 { 3 } else { n };
    if n != 3 && n != 8 {
        return None;
    }
    Some(if n == rest.len() { Ok(sign * f64::INFINITY) } else { Err(FloatError::Syntax) })
}

/// Go's rule for `_` in numbers: only between digits, or right after a
/// base prefix.
fn underscores_ok(s: &[u8]) -> bool {
    let mut prev = b'^';
    let mut i = 0;
    let mut hex = false;
    if s.len() >= 2 && s.first() == Some(&b'0') && s.get(1).is_some_and(|c| matches!(c | 0x20, b'b' | b'o' | b'x')) {
        i = 2;
        prev = b'0';
        hex = s.get(1).is_some_and(|c| c | 0x20 == b'x');
    }
    while let Some(&c) = s.get(i) {
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            prev = b'0';
        } else if c == b'_' {
            if prev != b'0' {
                return false;
            }
            prev = b'_';
        } else {
            if prev == b'_' {
                return false;
            }
            prev = b'!';
        }
    }
    prev != b'_'
}

/// `2^k` for a normal exponent `k` (-1022..=1023).
fn pow2(k: i64) -> f64 {
    f64::from_bits(((k.clamp(-1022, 1023) + 1023) as u64) << 52)
}

/// The hex mantissa `digits` (hex digits, `_`, one `.`) times `2^exp`,
/// rounded to nearest even.
fn hex_float(digits: &[u8], exp: i64) -> Result<f64, FloatError> {
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    let mut bin_exp = exp;
    let mut after_dot = false;
    for &c in digits {
        let d = match c {
            b'.' => {
                after_dot = true;
                continue;
            }
            b'_' => continue,
            _ => u64::from(char::from(c).to_digit(16).unwrap_or(0)),
        };
        if mantissa >> 60 == 0 {
            mantissa = mantissa << 4 | d;
            if after_dot {
                bin_exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !after_dot {
                bin_exp += 4;
            }
        }
    }
    if mantissa == 0 {
        return Ok(0.0);
    }
    // value = m * 2^e with m in [2^63, 2^64).
    let lz = i64::from(mantissa.leading_zeros());
    let m = u128::from(mantissa << lz);
    let e = bin_exp - lz;
    let top = e + 63;
    if top > 1023 {
        return Err(FloatError::Range);
    }
    // Bits below the 53 kept (fewer for subnormals).
    let shift = if top >= -1022 { 11 } else { 11 + (-1022 - top) };
    if shift > 66 {
        return Ok(0.0);
    }
    let shift = shift as u32;
    let mut kept = m >> shift;
    let rem = m & ((1u128 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rem > half || (rem == half && (sticky || kept & 1 == 1)) {
        kept += 1;
    }
    let q = e + i64::from(shift);
    let mut v = kept as f64;
    if q >= 0 {
        let mut q = q;
        while q > 0 {
            let step = q.min(1000);
            v *= pow2(step);
            q -= step;
        }
    } else {
        let mut q = q;
        while q < 0 {
            let step = q.max(-1000);
            v *= pow2(step);
            q -= step;
        }
    }
    if v.is_infinite() { Err(FloatError::Range) } else { Ok(v) }
}

/// Quotes as Go's `time` package does in its errors: `"` and `\` escaped,
/// bytes below 0x20 or above 0x7f as `\xNN`.
fn time_quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for &b in s {
        if !(0x20..0x80).contains(&b) {
            out.push_str(&format!("\\x{b:02x}"));
        } else {
            if b == b'"' || b == b'\\' {
                out.push('\\');
            }
            out.push(char::from(b));
        }
    }
    out.push('"');
    out
}

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const LIMIT: u64 = 1 << 63;

/// Go's `time.ParseDuration`, in nanoseconds.
///
/// # Errors
///
/// Go's texts: `time: invalid duration "x"`, `time: missing unit in
/// duration "5"`, `time: unknown unit "d" in duration "1d"`.
pub fn parse_go_duration(orig: &str) -> Result<i64, ConversionError> {
    let invalid = || ConversionError { details: format!("time: invalid duration {}", time_quote(orig.as_bytes())) };
    let mut s = orig.as_bytes();
    let mut neg = false;
    if let Some(&c) = s.first()
        && (c == b'-' || c == b'+')
    {
        neg = c == b'-';
        s = s.get(1..).unwrap_or_default();
    }
    if s == b"0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.first().is_some_and(|&c| c == b'.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let mut i = 0;
        let mut v: u64 = 0;
        while let Some(&c) = s.get(i) {
            if !c.is_ascii_digit() {
                break;
            }
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
            i += 1;
        }
        let pre = i > 0;
        // Fraction: digits past what fits are ignored.
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if s.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            let mut overflow = false;
            while let Some(&c) = s.get(i) {
                if !c.is_ascii_digit() {
                    break;
                }
                i += 1;
                if overflow {
                    continue;
                }
                if frac > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = frac * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                frac = y;
                scale *= 10.0;
            }
            post = i > start;
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit: everything up to the next digit or `.`.
        let unit_start = i;
        while let Some(&c) = s.get(i) {
            if c == b'.' || c.is_ascii_digit() {
                break;
            }
            i += 1;
        }
        if i == unit_start {
            return Err(ConversionError {
                details: format!("time: missing unit in duration {}", time_quote(orig.as_bytes())),
            });
        }
        let unit = s.get(unit_start..i).unwrap_or_default();
        let mult = match unit {
            b"ns" => NS,
            // `µs` (U+00B5) and `μs` (U+03BC).
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => US,
            b"ms" => MS,
            b"s" => SEC,
            b"m" => MIN,
            b"h" => HOUR,
            _ => {
                return Err(ConversionError {
                    details: format!(
                        "time: unknown unit {} in duration {}",
                        time_quote(unit),
                        time_quote(orig.as_bytes())
                    ),
                });
            }
        };
        if v > LIMIT / mult {
            return Err(invalid());
        }
        v *= mult;
        if frac > 0 {
            // Go converts through float64, truncating.
            v += (frac as f64 * (mult as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total.checked_add(v).ok_or_else(invalid)?;
        if total > LIMIT {
            return Err(invalid());
        }
        s = s.get(i..).unwrap_or_default();
    }
    if neg {
        // total <= 2^63, so the negation fits.
        return Ok(0i64.wrapping_sub_unsigned(total));
    }
    i64::try_from(total).map_err(|_| invalid())
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
