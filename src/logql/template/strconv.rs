//! Go's `strconv` as templates need it: quoting (`Quote`, `QuoteToASCII`,
//! `QuoteRune`, `%#U`), unquoting literals (`Unquote`, `UnquoteChar`) and
//! number parsing (`ParseInt`, `ParseUint`, `ParseFloat`) with Go's error
//! texts.
//!
//! Go strings may hold any bytes; lokistore's are UTF-8, so a literal whose
//! `\x`/octal escapes build invalid UTF-8 is read with the invalid bytes
//! replaced by U+FFFD.

use crate::logql::number::{NumError, parse_float_bytes, underscores_ok};

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    crate::logql::quote::go_quote(s)
}

/// Go's `unicode.IsPrint` (derived from how `strconv.Quote` treats the
/// character: printable characters other than `"` and `\` are kept as they
/// are).
pub(crate) fn is_print(c: char) -> bool {
    match c {
        '"' | '\\' => true,
        ' '..='~' => true,
        c if c.is_ascii() => false,
        c => {
            let mut buf = [0u8; 4];
            quote(c.encode_utf8(&mut buf)).len() == c.len_utf8() + 2
        }
    }
}

/// Writes the escape Go's quoting functions use for `c` (the quote and `\`
/// are handled by the caller).
fn push_escaped(out: &mut String, c: char, ascii_only: bool) {
    use std::fmt::Write;
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if !ascii_only && is_print(c) => out.push(c),
        c if (c as u32) < 0x10000 => {
            let _ = write!(out, "\\u{:04x}", c as u32);
        }
        c => {
            let _ = write!(out, "\\U{:08x}", c as u32);
        }
    }
}

/// Quotes `s` with `quote` (`"` or `'`), as `strconv.Quote` /
/// `QuoteToASCII` / `QuoteRune` do.
fn quote_with(s: &str, quote: char, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        if c == quote || c == '\\' {
            out.push('\\');
            out.push(c);
        } else if c.is_ascii() && is_print(c) {
            out.push(c);
        } else {
            push_escaped(&mut out, c, ascii_only);
        }
    }
    out.push(quote);
    out
}

/// Go's `strconv.QuoteToASCII`.
pub(crate) fn quote_ascii(s: &str) -> String {
    quote_with(s, '"', true)
}

/// Go's `strconv.QuoteRune` (`ascii_only`: `QuoteRuneToASCII`).
pub(crate) fn quote_rune(c: char, ascii_only: bool) -> String {
    let mut buf = [0u8; 4];
    quote_with(c.encode_utf8(&mut buf), '\'', ascii_only)
}

/// Go's `strconv.CanBackquote`.
pub(crate) fn can_backquote(s: &str) -> bool {
    s.chars().all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !(c < ' ' || c == '\x7f')))
}

/// Go's `%#U`: `U+0071 'q'`, without the quoted character when it is not
/// printable.
pub(crate) fn unicode_sharp(c: char) -> String {
    if is_print(c) { format!("U+{:04X} '{c}'", c as u32) } else { format!("U+{:04X}", c as u32) }
}

/// Go's `strconv.UnquoteChar`: the value of the first (possibly escaped)
/// character of `s`, whether it is a multi-byte character (rather than a
/// byte), and the rest of `s`. `None` is `ErrSyntax`.
pub(crate) fn unquote_char(s: &str, quote: char) -> Option<(u32, bool, &str)> {
    let mut chars = s.chars();
    let c = chars.next()?;
    if c == quote && (quote == '\'' || quote == '"') {
        return None;
    }
    if !c.is_ascii() {
        return Some((c as u32, true, chars.as_str()));
    }
    if c != '\\' {
        return Some((c as u32, false, chars.as_str()));
    }
    let b = s.as_bytes();
    let e = *b.get(1)?;
    let mut rest = s.get(2..)?;
    let value = match e {
        b'a' => 7,
        b'b' => 8,
        b'f' => 0x0c,
        b'n' => u32::from(b'\n'),
        b'r' => u32::from(b'\r'),
        b't' => u32::from(b'\t'),
        b'v' => 0x0b,
        b'x' | b'u' | b'U' => {
            let n = match e {
                b'x' => 2,
                b'u' => 4,
                _ => 8,
            };
            let digits = rest.get(..n)?;
            let mut v: u32 = 0;
            for d in digits.chars() {
                v = (v << 4) | d.to_digit(16)?;
            }
            rest = rest.get(n..)?;
            if e == b'x' {
                return Some((v, false, rest));
            }
            char::from_u32(v)?;
            return Some((v, true, rest));
        }
        b'0'..=b'7' => {
            let digits = rest.get(..2)?;
            let mut v = u32::from(e - b'0');
            for d in digits.bytes() {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                v = (v << 3) | u32::from(d - b'0');
            }
            rest = rest.get(2..)?;
            if v > 255 {
                return None;
            }
            v
        }
        b'\\' => u32::from(b'\\'),
        b'\'' | b'"' => {
            if char::from(e) != quote {
                return None;
            }
            u32::from(e)
        }
        _ => return None,
    };
    Some((value, false, rest))
}

/// Appends the character or byte `unquote_char` produced.
fn push_unquoted(buf: &mut Vec<u8>, value: u32, multibyte: bool) {
    if value < 0x80 || !multibyte {
        buf.push(value as u8);
    } else {
        let c = char::from_u32(value).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut tmp = [0u8; 4];
        buf.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
    }
}

/// Go's `strconv.Unquote` for a quoted (`"…"`) or raw (`` `…` ``) string
/// token. `None` is `ErrSyntax` ("invalid syntax").
pub(crate) fn unquote_string(token: &str) -> Option<String> {
    if token.len() < 2 {
        return None;
    }
    if let Some(body) = token.strip_prefix('`') {
        let body = body.strip_suffix('`')?;
        if body.contains('`') {
            return None;
        }
        return Some(body.chars().filter(|&c| c != '\r').collect());
    }
    let mut rest = token.strip_prefix('"')?;
    let mut buf = Vec::with_capacity(rest.len());
    while !rest.is_empty() && !rest.starts_with('"') {
        if rest.starts_with('\n') {
            return None;
        }
        let (value, multibyte, tail) = unquote_char(rest, '"')?;
        push_unquoted(&mut buf, value, multibyte);
        rest = tail;
    }
    if rest != "\"" {
        return None;
    }
    Some(match String::from_utf8(buf) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The `strconv.NumError` text: `strconv.ParseInt: parsing "x": invalid syntax`.
pub(crate) fn num_error(func: &str, s: &str, e: NumError) -> String {
    e.message(func, s)
}

/// Go's `strconv.ParseUint(s, base, 64)` for base 0 (prefixes, octal
/// leading zero, underscores) or 10.
pub(crate) fn parse_uint(s: &str, base0: bool) -> Result<u64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let b = s.as_bytes();
    let (base, digits): (u64, &[u8]) = if base0 && b.first() == Some(&b'0') {
        match b.get(1).map(|c| c | 0x20) {
            Some(b'b') if b.len() >= 3 => (2, b.get(2..).unwrap_or_default()),
            Some(b'o') if b.len() >= 3 => (8, b.get(2..).unwrap_or_default()),
            Some(b'x') if b.len() >= 3 => (16, b.get(2..).unwrap_or_default()),
            _ => (8, b.get(1..).unwrap_or_default()),
        }
    } else {
        (10, b)
    };
    let mut underscores = false;
    let mut n: u64 = 0;
    for &c in digits {
        let d = match c {
            b'_' if base0 => {
                underscores = true;
                continue;
            }
            b'0'..=b'9' => c - b'0',
            c if c.is_ascii_alphabetic() => (c | 0x20) - b'a' + 10,
            _ => return Err(NumError::Syntax),
        };
        if u64::from(d) >= base {
            return Err(NumError::Syntax);
        }
        n = n.checked_mul(base).and_then(|n| n.checked_add(u64::from(d))).ok_or(NumError::Range)?;
    }
    if underscores && !underscores_ok(s.as_bytes()) {
        return Err(NumError::Syntax);
    }
    Ok(n)
}

/// Go's `strconv.ParseInt(s, base, 64)` for base 0 or 10.
pub(crate) fn parse_int(s: &str, base0: bool) -> Result<i64, NumError> {
    if s.is_empty() {
        return Err(NumError::Syntax);
    }
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, s.get(1..).unwrap_or_default()),
        Some(b'-') => (true, s.get(1..).unwrap_or_default()),
        _ => (false, s),
    };
    let un = match parse_uint(body, base0) {
        Ok(u) => u,
        Err(NumError::Range) => u64::MAX,
        Err(e) => return Err(e),
    };
    const CUTOFF: u64 = 1 << 63;
    if !neg && un >= CUTOFF {
        return Err(NumError::Range);
    }
    if neg && un > CUTOFF {
        return Err(NumError::Range);
    }
    Ok(if neg { 0i64.wrapping_sub_unsigned(un) } else { un as i64 })
}

/// Go's `strconv.ParseFloat(s, 64)`: optional sign, decimal or hexadecimal
/// floats with underscores, `inf`/`infinity`/`nan` in any case.
pub(crate) fn parse_float(s: &str) -> Result<f64, NumError> {
    parse_float_bytes(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\n"), r#""a\"b\n""#);
        assert_eq!(quote_ascii("é\u{1F600}x"), r#""\u00e9\U0001f600x""#);
        assert_eq!(quote_rune('a', false), "'a'");
        assert_eq!(quote_rune('\'', false), r"'\''");
        assert_eq!(quote_rune('"', false), "'\"'");
        assert_eq!(quote_rune('\n', false), r"'\n'");
        assert_eq!(quote_rune('é', true), r"'\u00e9'");
        assert!(can_backquote("abc\t"));
        assert!(!can_backquote("a`b"));
        assert!(!can_backquote("a\nb"));
        assert_eq!(unicode_sharp('q'), "U+0071 'q'");
        assert_eq!(unicode_sharp('\n'), "U+000A");
        assert!(is_print('é') && is_print(' ') && !is_print('\u{a0}') && !is_print('\u{200b}'));
    }

    #[test]
    fn unquoting() {
        assert_eq!(unquote_string(r#""a\tb\x41\101\u00e9""#).as_deref(), Some("a\tbAAé"));
        assert_eq!(unquote_string("`a\r\\nb`").as_deref(), Some("a\\nb"));
        assert_eq!(unquote_string(r#""\'""#), None);
        assert_eq!(unquote_string(r#""\q""#), None);
        assert_eq!(unquote_string(r#""\400""#), None);
        assert_eq!(unquote_string(r#""\ud800""#), None);
        assert_eq!(unquote_string(r#""\xff""#).as_deref(), Some("\u{fffd}"));
        assert_eq!(unquote_char(r"\x41'", '\''), Some((0x41, false, "'")));
        assert_eq!(unquote_char("é'", '\''), Some((0xe9, true, "'")));
        assert_eq!(unquote_char(r#"\"'"#, '\''), None);
        assert_eq!(unquote_char("'", '\''), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int("0x1F", true), Ok(31));
        assert_eq!(parse_int("010", true), Ok(8));
        assert_eq!(parse_int("010", false), Ok(10));
        assert_eq!(parse_int("0b101", true), Ok(5));
        assert_eq!(parse_int("0o17", true), Ok(15));
        assert_eq!(parse_int("1_000", true), Ok(1000));
        assert_eq!(parse_int("1_000", false), Err(NumError::Syntax));
        assert_eq!(parse_int("_1", true), Err(NumError::Syntax));
        assert_eq!(parse_int("08", true), Err(NumError::Syntax));
        assert_eq!(parse_int("0", true), Ok(0));
        assert_eq!(parse_int("0x", true), Err(NumError::Syntax));
        assert_eq!(parse_int("-9223372036854775808", false), Ok(i64::MIN));
        assert_eq!(parse_int("9223372036854775808", false), Err(NumError::Range));
        assert_eq!(parse_int("+", false), Err(NumError::Syntax));
        assert_eq!(parse_uint("18446744073709551615", true), Ok(u64::MAX));
        assert_eq!(parse_uint("-1", true), Err(NumError::Syntax));
        assert_eq!(parse_float("-1.5e3"), Ok(-1500.0));
        assert_eq!(parse_float("+Inf"), Ok(f64::INFINITY));
        assert_eq!(parse_float("-infinity"), Ok(f64::NEG_INFINITY));
        assert!(parse_float("NaN").is_ok_and(f64::is_nan));
        assert_eq!(parse_float("+nan"), Err(NumError::Syntax));
        assert_eq!(parse_float("0x1p-2"), Ok(0.25));
        assert_eq!(parse_float("1e400"), Err(NumError::Range));
        assert_eq!(parse_float(""), Err(NumError::Syntax));
        assert_eq!(
            num_error("ParseInt", "abc", NumError::Syntax),
            r#"strconv.ParseInt: parsing "abc": invalid syntax"#
        );
    }
}
