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

/// Go's `underscoreOK`: underscores only between digits (or after a base
/// prefix).
fn underscore_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1] | 0x20, b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1] | 0x20 == b'x';
    }
    while let Some(&c) = b.get(i) {
        i += 1;
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
            continue;
        }
        if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
            continue;
        }
        if saw == b'_' {
            return false;
        }
        saw = b'!';
    }
    saw != b'_'
}

/// `strconv.ParseFloat(s, 64)` for the texts LogQL's scanner produces (no
/// sign, no `Inf`/`NaN`, which the scanner never yields as numbers).
pub(crate) fn parse_go_float(s: &str) -> Result<f64, NumError> {
    if s.contains('_') && !underscore_ok(s) {
        return Err(NumError::Syntax);
    }
    let clean: String = s.chars().filter(|&c| c != '_').collect();
    let b = clean.as_bytes();
    if b.len() > 2 && b[0] == b'0' && b[1] | 0x20 == b'x' {
        return parse_hex_float(b.get(2..).unwrap_or_default());
    }
    // Decimal: digits, optional fraction, optional exponent; nothing else.
    let mut i = 0;
    let mut mantissa_digits = 0;
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
        mantissa_digits += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
            mantissa_digits += 1;
        }
    }
    if mantissa_digits == 0 {
        return Err(NumError::Syntax);
    }
    if b.get(i).is_some_and(|&c| c | 0x20 == b'e') {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err(NumError::Syntax);
        }
    }
    if i != b.len() {
        return Err(NumError::Syntax);
    }
    let v: f64 = clean.parse().map_err(|_| NumError::Syntax)?;
    if v.is_infinite() { Err(NumError::Range) } else { Ok(v) }
}

/// A hexadecimal float after `0x`: hex mantissa with an optional point, then
/// a mandatory binary exponent `p±N`.
fn parse_hex_float(b: &[u8]) -> Result<f64, NumError> {
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut any_digit = false;
    let mut seen_dot = false;
    let mut truncated = false;
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'.' {
            if seen_dot {
                return Err(NumError::Syntax);
            }
            seen_dot = true;
            i += 1;
            continue;
        }
        let Some(d) = char::from(c).to_digit(16) else { break };
        any_digit = true;
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | u64::from(d);
            if seen_dot {
                exp -= 4;
            }
        } else {
            truncated |= d != 0;
            if !seen_dot {
                exp += 4;
            }
        }
        i += 1;
    }
    if !any_digit || b.get(i).is_none_or(|&c| c | 0x20 != b'p') {
        return Err(NumError::Syntax);
    }
    i += 1;
    let mut neg = false;
    match b.get(i) {
        Some(b'+') => i += 1,
        Some(b'-') => {
            neg = true;
            i += 1;
        }
        _ => {}
    }
    let start = i;
    let mut e: i64 = 0;
    while let Some(&c) = b.get(i) {
        if !c.is_ascii_digit() {
            return Err(NumError::Syntax);
        }
        e = (e * 10 + i64::from(c - b'0')).min(1 << 20);
        i += 1;
    }
    if i == start {
        return Err(NumError::Syntax);
    }
    exp += if neg { -e } else { e };
    if truncated {
        // A sticky bit below the rounding position keeps rounding correct.
        mantissa |= 1;
    }
    if mantissa == 0 {
        return Ok(0.0);
    }
    let mut v = mantissa as f64;
    while exp > 0 {
        let step = exp.min(1000);
        v *= 2f64.powi(step as i32);
        exp -= step;
    }
    while exp < 0 {
        let step = (-exp).min(1000);
        v *= 2f64.powi(-(step as i32));
        exp += step;
    }
    if v.is_infinite() { Err(NumError::Range) } else { Ok(v) }
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
