//! Durations and byte sizes as LogQL writes and reads them.
//!
//! | what | syntax | parse | print |
//! |---|---|---|---|
//! | range `[…]` | Prometheus: `1y2w3d4h5m6s7ms`, units in that order, integers only, or `0` | [`parse_prom_duration`] | [`format_prom_duration`] (`model.Duration.String`, millisecond precision) |
//! | `offset`, duration label filters | Prometheus first, else Go's `time.ParseDuration` (`1.5h`, `300ms`, `2us`, `1µs`, `-5s`) | [`parse_duration`] | [`GoDuration`]'s `Display` (`time.Duration.String`: `1h0m0s`, `1.5s`, `250µs`) |
//! | byte label filters | `humanize.ParseBytes`: number then `B`, `kB`/`KB`, `MB`, …, `KiB`, `MiB`, … | [`parse_bytes`] | [`format_bytes`] (`humanize.Bytes` without the space) |
//!
//! Facts: `../shared/spec/logql.md` §1; Prometheus `model.ParseDuration`,
//! Go `time.ParseDuration` / `Duration.String`, go-humanize `ParseBytes` /
//! `Bytes`.

use std::fmt;
use std::time::Duration;

use super::quote::go_quote;

/// A signed duration in nanoseconds, Go's `time.Duration`: offsets and
/// duration label filters may be negative.
///
/// Displays as Go's `Duration.String()`: `1h0m0s`, `1.5s`, `250ms`, `1µs`,
/// `-5m0s`, `0s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub i64);

impl GoDuration {
    /// The duration in nanoseconds.
    pub fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whether the duration is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_go_duration(self.0))
    }
}

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;
const MIN: u64 = 60 * SEC;
const HOUR: u64 = 60 * MIN;
const DAY: u64 = 24 * HOUR;
const WEEK: u64 = 7 * DAY;
const YEAR: u64 = 365 * DAY;

/// Prometheus' `model.ParseDuration`: `0`, or integer components with units
/// `y w d h m s ms` in that order. The error text is Prometheus'.
pub fn parse_prom_duration(s: &str) -> Result<Duration, String> {
    match s {
        "0" => return Ok(Duration::ZERO),
        "" => return Err("empty duration string".to_owned()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(s));
    let bytes = s.as_bytes();
    let mut i = 0;
    let mut total: u64 = 0;
    let mut last_pos = 0;
    while i < bytes.len() {
        let digits_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == digits_start {
            return Err(invalid());
        }
        let value: u64 = s.get(digits_start..i).and_then(|d| d.parse().ok()).ok_or_else(invalid)?;
        let unit_start = i;
        while bytes.get(i).is_some_and(|b| !b.is_ascii_digit()) {
            i += 1;
        }
        if i == unit_start {
            return Err(invalid());
        }
        let unit = s.get(unit_start..i).ok_or_else(invalid)?;
        let (pos, mult) = match unit {
            "y" => (1, YEAR),
            "w" => (2, WEEK),
            "d" => (3, DAY),
            "h" => (4, HOUR),
            "m" => (5, MIN),
            "s" => (6, SEC),
            "ms" => (7, MS),
            _ => {
                return Err(format!("unknown unit {} in duration {}", go_quote(unit), go_quote(s)));
            }
        };
        if pos <= last_pos {
            return Err(invalid());
        }
        last_pos = pos;
        if value > (1u64 << 63) / mult {
            return Err("duration out of range".to_owned());
        }
        total = total.checked_add(value * mult).ok_or_else(|| "duration out of range".to_owned())?;
        if total > (1u64 << 63) - 1 {
            return Err("duration out of range".to_owned());
        }
    }
    Ok(Duration::from_nanos(total))
}

/// Prometheus' `model.Duration.String()`: millisecond precision, `y` and `w`
/// only when they divide the rest exactly, `0s` for zero.
pub fn format_prom_duration(d: Duration) -> String {
    let mut ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    let units: [(&str, u64, bool); 7] = [
        ("y", 1000 * 60 * 60 * 24 * 365, true),
        ("w", 1000 * 60 * 60 * 24 * 7, true),
        ("d", 1000 * 60 * 60 * 24, false),
        ("h", 1000 * 60 * 60, false),
        ("m", 1000 * 60, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    for (unit, mult, exact) in units {
        if exact && ms % mult != 0 {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&v.to_string());
            out.push_str(unit);
            ms -= v * mult;
        }
    }
    out
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

/// Durations at most 2^63 ns (the magnitude of `i64::MIN`).
const LIMIT: u64 = 1 << 63;

/// Go's `time.ParseDuration`, in nanoseconds: an optional sign, then
/// decimal numbers with optional fractions and units `ns us µs μs ms s m
/// h`; `0` alone.
///
/// # Errors
///
/// Go's texts: `time: invalid duration "x"`, `time: missing unit in
/// duration "5"`, `time: unknown unit "d" in duration "1d"`.
pub fn parse_go_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", time_quote(orig.as_bytes()));
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
            return Err(format!("time: missing unit in duration {}", time_quote(orig.as_bytes())));
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
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    time_quote(unit),
                    time_quote(orig.as_bytes())
                ));
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

/// The lexer's duration literal: Prometheus syntax first, else Go's.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    match parse_prom_duration(s) {
        Ok(d) => i64::try_from(d.as_nanos()).map_err(|_| "duration out of range".to_owned()),
        Err(_) => parse_go_duration(s),
    }
}

/// Go's `time.Duration.String()`.
pub fn format_go_duration(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    // Built back to front, as Go does.
    let mut buf: Vec<u8> = Vec::with_capacity(32);
    if u < SEC {
        if u == 0 {
            return "0s".to_owned();
        }
        let (prec, unit): (u32, &str) = if u < US {
            (0, "ns")
        } else if u < MS {
            (3, "µs")
        } else {
            (6, "ms")
        };
        buf.extend(unit.bytes().rev());
        u = push_frac(&mut buf, u, prec);
        push_int(&mut buf, u);
    } else {
        buf.push(b's');
        u = push_frac(&mut buf, u, 9);
        push_int(&mut buf, u % 60);
        u /= 60;
        if u > 0 {
            buf.push(b'm');
            push_int(&mut buf, u % 60);
            u /= 60;
            if u > 0 {
                buf.push(b'h');
                push_int(&mut buf, u);
            }
        }
    }
    if neg {
        buf.push(b'-');
    }
    buf.reverse();
    String::from_utf8(buf).unwrap_or_default()
}

/// Pushes (reversed) the fraction `v / 10^prec` without trailing zeros and
/// returns the integer part.
fn push_frac(buf: &mut Vec<u8>, mut v: u64, prec: u32) -> u64 {
    let mut print = false;
    for _ in 0..prec {
        let digit = (v % 10) as u8;
        print = print || digit != 0;
        if print {
            buf.push(b'0' + digit);
        }
        v /= 10;
    }
    if print {
        buf.push(b'.');
    }
    v
}

/// Pushes (reversed) the decimal digits of `v`.
fn push_int(buf: &mut Vec<u8>, mut v: u64) {
    if v == 0 {
        buf.push(b'0');
        return;
    }
    while v > 0 {
        buf.push(b'0' + (v % 10) as u8);
        v /= 10;
    }
}

/// go-humanize's `ParseBytes`: digits (with `.` and `,`), optional spaces,
/// then a unit from its table (case-insensitive); the product is truncated
/// to an integer.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let num_len =
        s.char_indices().find(|&(_, c)| !(c.is_numeric() || c == '.' || c == ',')).map_or(s.len(), |(i, _)| i);
    let (num, rest) = s.split_at(num_len);
    let num: String = num.chars().filter(|&c| c != ',').collect();
    let f = super::number::parse_go_float(&num).map_err(|e| e.message("ParseFloat", &num))?;
    let unit = rest.trim().to_lowercase();
    let mult: u64 = match unit.as_str() {
        "" | "b" => 1,
        "kib" | "ki" => 1 << 10,
        "kb" | "k" => 1_000,
        "mib" | "mi" => 1 << 20,
        "mb" | "m" => 1_000_000,
        "gib" | "gi" => 1 << 30,
        "gb" | "g" => 1_000_000_000,
        "tib" | "ti" => 1 << 40,
        "tb" | "t" => 1_000_000_000_000,
        "pib" | "pi" => 1 << 50,
        "pb" | "p" => 1_000_000_000_000_000,
        "eib" | "ei" => 1 << 60,
        "eb" | "e" => 1_000_000_000_000_000_000,
        _ => return Err(format!("unhandled size name: {unit}")),
    };
    let v = f * mult as f64;
    if v >= u64::MAX as f64 {
        return Err(format!("too large: {s}"));
    }
    // Go converts a negative or NaN float to an unspecified integer; LogQL
    // never passes either here (no sign is ever part of the text).
    Ok(if v.is_nan() || v < 0.0 { 0 } else { v as u64 })
}

/// go-humanize's `Bytes` (SI units, one decimal below 10) with the space
/// removed, as Loki prints a byte label filter: `20MB`, `1.0kB`, `5B`.
pub fn format_bytes(v: u64) -> String {
    if v < 10 {
        return format!("{v}B");
    }
    const SIZES: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let f = v as f64;
    let e = (f.ln() / 1000f64.ln()).floor();
    let suffix = SIZES.get(e as usize).copied().unwrap_or("EB");
    let val = (f / 1000f64.powf(e) * 10.0 + 0.5).floor() / 10.0;
    if val < 10.0 { format!("{val:.1}{suffix}") } else { format!("{val:.0}{suffix}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_durations() {
        assert_eq!(parse_prom_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_prom_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_prom_duration("1y2w3d4h5m6s7ms").unwrap().as_millis(), 33_019_506_007);
        assert_eq!(parse_prom_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_prom_duration("").unwrap_err(), "empty duration string");
        assert_eq!(parse_prom_duration("5minutes").unwrap_err(), r#"unknown unit "minutes" in duration "5minutes""#);
        assert_eq!(parse_prom_duration("1m1h").unwrap_err(), r#"not a valid duration string: "1m1h""#);
        assert!(parse_prom_duration("1.5m").is_err());
        assert!(parse_prom_duration("100us").is_err());
        assert_eq!(parse_prom_duration("300y").unwrap_err(), "duration out of range");
    }

    #[test]
    fn prometheus_format() {
        for (ms, want) in [
            (0u64, "0s"),
            (1, "1ms"),
            (90_000, "1m30s"),
            (86_400_000, "1d"),
            (7 * 86_400_000, "1w"),
            (8 * 86_400_000, "8d"),
            (365 * 86_400_000, "1y"),
            (3_600_500, "1h500ms"),
        ] {
            assert_eq!(format_prom_duration(Duration::from_millis(ms)), want);
        }
    }

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1.5h").unwrap(), 5_400_000_000_000);
        assert_eq!(parse_go_duration("300ms").unwrap(), 300_000_000);
        assert_eq!(parse_go_duration("1µs").unwrap(), 1_000);
        assert_eq!(parse_go_duration("1us").unwrap(), 1_000);
        assert_eq!(parse_go_duration("-5s").unwrap(), -5_000_000_000);
        assert_eq!(parse_go_duration("1h15m30.918273645s").unwrap(), 4_530_918_273_645);
        assert_eq!(parse_go_duration("1d").unwrap_err(), r#"time: unknown unit "d" in duration "1d""#);
        assert_eq!(parse_go_duration("5").unwrap_err(), r#"time: missing unit in duration "5""#);
        assert_eq!(parse_go_duration("-9223372036854775808ns").unwrap(), i64::MIN);
        assert!(parse_go_duration("9223372036854775808ns").is_err());
        assert_eq!(parse_duration("1d").unwrap(), 86_400_000_000_000);
        assert_eq!(parse_duration("1.5m").unwrap(), 90_000_000_000);
    }

    #[test]
    fn go_format() {
        for (ns, want) in [
            (0i64, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (250_000_000, "250ms"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (60_000_000_000, "1m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (86_400_000_000_000, "24h0m0s"),
            (-300_000_000_000, "-5m0s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(format_go_duration(ns), want);
            assert_eq!(parse_duration(want).unwrap(), ns, "{want}");
        }
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("10KB").unwrap(), 10_000);
        assert_eq!(parse_bytes("1.5MiB").unwrap(), 1_572_864);
        assert_eq!(parse_bytes("2,048").unwrap(), 2_048);
        assert_eq!(parse_bytes("1.5B").unwrap(), 1);
        assert_eq!(parse_bytes("1 kib").unwrap(), 1_024);
        assert!(parse_bytes("1XB").is_err());
        assert_eq!(format_bytes(5), "5B");
        assert_eq!(format_bytes(1_000), "1.0kB");
        assert_eq!(format_bytes(20_000_000), "20MB");
        assert_eq!(format_bytes(10_000_000_000), "10GB");
        assert_eq!(format_bytes(1_572_864), "1.6MB");
    }
}
