//! Numbers as Go reads and prints them for LogQL.
//!
//! | function | Go | used for |
//! |---|---|---|
//! | [`parse_go_float`] | `strconv.ParseFloat(s, 64)`: decimal with optional `_` separators, hex floats with a `p` exponent (`0x1p3`); `0x1A`, `0o17`, `0b1` fail; overflow is an error | literals, `vector()`, `quantile_over_time` parameter |
//! | [`parse_go_int`] | `strconv.Atoi` | `topk` / `bottomk` / `approx_topk` parameter |
//! | [`format_g`] | `fmt.Sprint(f)` (`%v`: shortest, exponent from `1e+06` / below `1e-04`) | literal expressions |
//! | [`format_f`] | `strconv.FormatFloat(f, 'f', -1, 64)` | numeric label filters, range parameters |
//! | [`format_fixed6`] | `fmt.Sprintf("%f", f)` | `vector(…)` |

/// Why Go's `strconv` rejected a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// `invalid syntax`.
    Syntax,
    /// `value out of range`.
    Range,
}

impl NumError {
    /// Go's `*strconv.NumError` text: `strconv.ParseFloat: parsing "x": invalid syntax`.
    pub(crate) fn message(self, func: &str, text: &str) -> String {
        let what = match self {
            Self::Syntax => "invalid syntax",
            Self::Range => "value out of range",
        };
        format!("strconv.{func}: parsing {}: {what}", super::quote::go_quote(text))
    }
}

/// Go's `strconv.ParseFloat(s, 64)` over bytes: optional sign; decimal
/// with optional fraction and exponent; `_` between digits; a hex mantissa
/// with a mandatory `p` exponent (`0x1.8p1`); `inf`, `infinity` (signed),
/// `nan` (unsigned), any case. Overflow is [`NumError::Range`], underflow
/// is not an error.
pub(crate) fn parse_float_bytes(b: &[u8]) -> Result<f64, NumError> {
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
        return Err(NumError::Syntax);
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
            return Err(NumError::Syntax);
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
        return Err(NumError::Syntax);
    }
    if i != body.len() {
        return Err(NumError::Syntax);
    }
    if underscores && !underscores_ok(digits) {
        return Err(NumError::Syntax);
    }
    let mantissa = body.get(..mantissa_end).unwrap_or_default();
    let v = if hex {
        hex_float(mantissa, exp)?
    } else {
        let v: f64 = if underscores {
            let clean: String = body.iter().filter(|&&c| c != b'_').map(|&c| char::from(c)).collect();
            clean.parse().map_err(|_| NumError::Syntax)?
        } else {
            // Checked above: ASCII digits, `.`, `e` and signs only.
            std::str::from_utf8(body).ok().and_then(|s| s.parse().ok()).ok_or(NumError::Syntax)?
        };
        if v.is_infinite() {
            return Err(NumError::Range);
        }
        v
    };
    Ok(if neg { -v } else { v })
}

/// `inf`, `infinity` (optionally signed) and `nan`, any case; `None` when
/// `b` is none of them.
fn special_float(b: &[u8]) -> Option<Result<f64, NumError>> {
    let lower_prefix =
        |s: &[u8], word: &[u8]| s.iter().zip(word).take_while(|(a, w)| a.to_ascii_lowercase() == **w).count();
    let (sign, rest) = match b.first()? {
        b'+' => (1.0, b.get(1..)?),
        b'-' => (-1.0, b.get(1..)?),
        b'i' | b'I' => (1.0, b),
        b'n' | b'N' => {
            let v = if b.len() == 3 { Ok(f64::NAN) } else { Err(NumError::Syntax) };
            return (lower_prefix(b, b"nan") == 3).then_some(v);
        }
        _ => return None,
    };
    let n = lower_prefix(rest, b"infinity");
    let n = if n > 3 && n < 8 { 3 } else { n };
    if n != 3 && n != 8 {
        return None;
    }
    Some(if n == rest.len() { Ok(sign * f64::INFINITY) } else { Err(NumError::Syntax) })
}

/// Go's rule for `_` in numbers: only between digits, or right after a
/// base prefix.
pub(crate) fn underscores_ok(s: &[u8]) -> bool {
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
fn hex_float(digits: &[u8], exp: i64) -> Result<f64, NumError> {
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
        return Err(NumError::Range);
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
    if v.is_infinite() { Err(NumError::Range) } else { Ok(v) }
}

/// `strconv.ParseFloat(s, 64)` for the texts LogQL's scanner produces
/// as numbers: no sign, no `Inf` / `NaN` (refused here).
pub(crate) fn parse_go_float(s: &str) -> Result<f64, NumError> {
    let b = s.as_bytes();
    if matches!(b.first(), Some(b'+' | b'-')) || special_float(b).is_some() {
        return Err(NumError::Syntax);
    }
    parse_float_bytes(b)
}

/// `strconv.Atoi` (64-bit `int`).
pub(crate) fn parse_go_int(s: &str) -> Result<i64, NumError> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumError::Syntax);
    }
    s.parse::<i64>().map_err(|_| NumError::Range)
}

/// `fmt.Sprint(f)`: Go's `%v` for a float64 (`strconv.FormatFloat(f, 'g',
/// -1, 64)` with `+Inf`).
pub(crate) fn format_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".to_owned() } else { "0".to_owned() };
    }
    // Shortest round-trip digits in scientific form, e.g. `1.234567e6`.
    let sci = format!("{f:e}");
    let Some((mant, exp)) = sci.split_once('e') else { return sci };
    let exp: i32 = exp.parse().unwrap_or(0);
    // For the shortest form Go picks %e when the exponent is below -4 or at
    // least 6, else %f.
    if (-4..6).contains(&exp) {
        return format!("{f}");
    }
    let exp_str = if exp < 0 { format!("-{:02}", -exp) } else { format!("+{exp:02}") };
    format!("{mant}e{exp_str}")
}

/// `strconv.FormatFloat(f, 'f', -1, 64)`: shortest digits, never an
/// exponent.
pub(crate) fn format_f(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    format!("{f}")
}

/// `fmt.Sprintf("%f", f)`: six decimals.
pub(crate) fn format_fixed6(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    format!("{f:.6}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_strconv() {
        assert_eq!(parse_go_float("1"), Ok(1.0));
        assert_eq!(parse_go_float("1.5"), Ok(1.5));
        assert_eq!(parse_go_float(".5"), Ok(0.5));
        assert_eq!(parse_go_float("1."), Ok(1.0));
        assert_eq!(parse_go_float("1e3"), Ok(1000.0));
        assert_eq!(parse_go_float("1E-2"), Ok(0.01));
        assert_eq!(parse_go_float("017"), Ok(17.0));
        assert_eq!(parse_go_float("1_000"), Ok(1000.0));
        assert_eq!(parse_go_float("0x1p3"), Ok(8.0));
        assert_eq!(parse_go_float("0x1.8p1"), Ok(3.0));
        assert_eq!(parse_go_float("0X1P-2"), Ok(0.25));
        assert_eq!(parse_go_float("0x1A"), Err(NumError::Syntax));
        assert_eq!(parse_go_float("0o17"), Err(NumError::Syntax));
        assert_eq!(parse_go_float("0b1010"), Err(NumError::Syntax));
        assert_eq!(parse_go_float("1e400"), Err(NumError::Range));
        assert_eq!(parse_go_float("1e-400"), Ok(0.0));
        assert_eq!(parse_go_float("inf"), Err(NumError::Syntax));
        assert_eq!(parse_go_float("1__0"), Err(NumError::Syntax));
        assert_eq!(
            NumError::Syntax.message("ParseFloat", "0x10"),
            r#"strconv.ParseFloat: parsing "0x10": invalid syntax"#
        );
        assert_eq!(parse_go_int("10"), Ok(10));
        assert_eq!(parse_go_int("1.5"), Err(NumError::Syntax));
        assert_eq!(parse_go_int("99999999999999999999"), Err(NumError::Range));
    }

    #[test]
    fn formats_like_fmt() {
        for (f, want) in [
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.6, "1.6"),
            (-2.5, "-2.5"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ] {
            assert_eq!(format_g(f), want, "{f}");
        }
        assert_eq!(format_f(1e21), "1000000000000000000000");
        assert_eq!(format_f(0.0000001), "0.0000001");
        assert_eq!(format_f(-1.5), "-1.5");
        assert_eq!(format_fixed6(1.0), "1.000000");
        assert_eq!(format_fixed6(0.1234567), "0.123457");
    }
}
