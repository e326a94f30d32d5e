//! Go's string quoting, as Loki prints labels and error messages.
//!
//! * [`write_quoted`] is `strconv.Quote` (and, with `'` as the quote,
//!   `strconv.QuoteRune` for one character): the quote and `\` are escaped,
//!   printable runes (per [`is_print`]) are written as they are, `\a \b \f \n
//!   \r \t \v` get their short escapes, other runes below U+0020 and U+007F
//!   become `\xNN`, other unprintable runes `\uNNNN` or `\UNNNNNNNN`
//!   (lowercase hex). Rust strings are always valid UTF-8, so Go's `\xNN` for
//!   invalid bytes never arises.
//! * [`unicode_sharp`] is the `%#U` verb: `U+0071 'q'`.

use std::fmt::{self, Write};

pub(crate) use super::isprint::is_print;

/// Writes `s` quoted with `quote` the way Go's `strconv.Quote` does
/// (`quote == '"'`) or `strconv.QuoteRune` does (`quote == '\''`).
pub(crate) fn write_quoted<W: Write + ?Sized>(out: &mut W, s: &str, quote: char) -> fmt::Result {
    out.write_char(quote)?;
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        if c != quote && c != '\\' && is_print(c) {
            continue;
        }
        out.write_str(&s[plain..i])?;
        plain = i + c.len_utf8();
        write_escaped(out, c, quote)?;
    }
    out.write_str(&s[plain..])?;
    out.write_char(quote)
}

fn write_escaped<W: Write + ?Sized>(out: &mut W, c: char, quote: char) -> fmt::Result {
    if c == quote || c == '\\' {
        out.write_char('\\')?;
        return out.write_char(c);
    }
    if is_print(c) {
        return out.write_char(c);
    }
    match c {
        '\x07' => out.write_str("\\a"),
        '\x08' => out.write_str("\\b"),
        '\x0c' => out.write_str("\\f"),
        '\n' => out.write_str("\\n"),
        '\r' => out.write_str("\\r"),
        '\t' => out.write_str("\\t"),
        '\x0b' => out.write_str("\\v"),
        c if c < ' ' || c == '\x7f' => write!(out, "\\x{:02x}", u32::from(c)),
        c if u32::from(c) < 0x10000 => write!(out, "\\u{:04x}", u32::from(c)),
        c => write!(out, "\\U{:08x}", u32::from(c)),
    }
}

/// `strconv.Quote(s)`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing to a String cannot fail.
    let _ = write_quoted(&mut out, s, '"');
    out
}

/// Go's `%q` of a rune: `strconv.QuoteRune`. `None` stands for Go's `eof`
/// (-1), which Go prints as the replacement character.
pub(crate) fn quote_rune(c: Option<char>) -> String {
    let c = c.unwrap_or(char::REPLACEMENT_CHARACTER);
    let mut buf = [0u8; 4];
    let mut out = String::with_capacity(8);
    let _ = write_quoted(&mut out, c.encode_utf8(&mut buf), '\'');
    out
}

/// Go's `%.Nq...` of a token, as the PromQL lexer describes long items:
/// at most `n` characters, quoted, then `...` when the text was longer than
/// `n` bytes.
pub(crate) fn quote_truncated(s: &str, n: usize) -> String {
    if s.len() <= n {
        return quote(s);
    }
    let cut = s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    let mut out = quote(&s[..cut]);
    out.push_str("...");
    out
}

/// Go's `%#U` verb: `U+0071 'q'`, without the quoted rune when it is not
/// printable.
pub(crate) fn unicode_sharp(c: char) -> String {
    if is_print(c) { format!("U+{:04X} '{c}'", u32::from(c)) } else { format!("U+{:04X}", u32::from(c)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        // Expected strings are what Go's strconv.Quote prints.
        let cases = [
            ("", r#""""#),
            ("abc", r#""abc""#),
            ("a\"b", r#""a\"b""#),
            ("a'b", r#""a'b""#),
            ("a\\b", r#""a\\b""#),
            ("\x07\x08\x0c\n\r\t\x0b", r#""\a\b\f\n\r\t\v""#),
            ("\0\x01\x1f\x7f", r#""\x00\x01\x1f\x7f""#),
            ("\u{80}\u{9f}", r#""\u0080\u009f""#),
            ("\u{a0}", r#""\u00a0""#),
            ("\u{ad}", r#""\u00ad""#),
            ("\u{200b}\u{200f}\u{2028}\u{2029}\u{feff}", r#""\u200b\u200f\u2028\u2029\ufeff""#),
            ("\u{3000}", r#""\u3000""#),
            ("\u{e000}", r#""\ue000""#),
            ("\u{fffe}", r#""\ufffe""#),
            ("\u{e0001}", r#""\U000e0001""#),
            ("\u{10ffff}", r#""\U0010ffff""#),
            ("héllo wörld ✓ 日本 😀", "\"héllo wörld ✓ 日本 😀\""),
            ("\u{301}", "\"\u{301}\""),
            ("\u{fffd}", "\"\u{fffd}\""),
        ];
        for (input, want) in cases {
            assert_eq!(quote(input), want, "{input:?}");
        }
    }

    #[test]
    fn quote_rune_matches_go() {
        assert_eq!(quote_rune(Some('a')), "'a'");
        assert_eq!(quote_rune(Some('\'')), r"'\''");
        assert_eq!(quote_rune(Some('"')), "'\"'");
        assert_eq!(quote_rune(Some('\n')), r"'\n'");
        assert_eq!(quote_rune(Some('\u{200b}')), r"'\u200b'");
        assert_eq!(quote_rune(None), "'\u{fffd}'");
    }

    #[test]
    fn truncation_counts_characters() {
        assert_eq!(quote_truncated("\"abc\"", 10), r#""\"abc\"""#);
        assert_eq!(quote_truncated("\"abcdefghijkl\"", 10), r#""\"abcdefghi"..."#);
        assert_eq!(quote_truncated("ééééééééééé", 10), "\"éééééééééé\"...");
    }

    #[test]
    fn sharp_u() {
        assert_eq!(unicode_sharp('q'), "U+0071 'q'");
        assert_eq!(unicode_sharp('\n'), "U+000A");
        assert_eq!(unicode_sharp('é'), "U+00E9 'é'");
        assert_eq!(unicode_sharp('\u{1F600}'), "U+1F600 '\u{1F600}'");
    }

    #[test]
    fn printability() {
        for c in ['a', 'Z', '0', ' ', '~', 'é', '\u{301}', '€', '日', '\u{1F600}', '\u{fffd}'] {
            assert!(is_print(c), "{c:?}");
        }
        for c in [
            '\0',
            '\t',
            '\x7f',
            '\u{85}',
            '\u{a0}',
            '\u{ad}',
            '\u{2000}',
            '\u{200b}',
            '\u{200e}',
            '\u{2028}',
            '\u{2029}',
            '\u{2060}',
            '\u{3000}',
            '\u{feff}',
            '\u{e000}',
            '\u{f8ff}',
            '\u{fffe}',
            '\u{ffff}',
            '\u{e0001}',
            '\u{f0000}',
            '\u{10ffff}',
        ] {
            assert!(!is_print(c), "{c:?}");
        }
        // Unassigned in Unicode 15.0.
        assert!(!is_print('\u{0378}'));
        // Assigned in 15.0 (Kawi, CJK extension H).
        assert!(is_print('\u{11f04}'));
        assert!(is_print('\u{31350}'));
    }
}
