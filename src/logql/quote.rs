//! Go string literals: printing with `strconv.Quote` and reading back
//! double-quoted literals with Prometheus' `strutil.Unquote` rules.
//!
//! | escape | value |
//! |---|---|
//! | `\a \b \f \n \r \t \v \\ \"` | the control character / the character |
//! | `\xNN` | the byte `NN` |
//! | `\NNN` (octal, at most `\377`) | the byte |
//! | `\uNNNN`, `\UNNNNNNNN` | the code point (no surrogates, at most U+10FFFF) |
//!
//! Byte escapes may build any byte sequence; Loki keeps invalid UTF-8 as is,
//! lokistore's strings are UTF-8, so such a literal is refused
//! ([`UnquoteError::InvalidUtf8`]). Escaped sequences that form valid UTF-8
//! (`"\xc3\xa9"` is `é`) are accepted.

/// Go's `strconv.Quote(s)`: the exact text Loki prints for strings.
///
/// Uses the crate's Go quoting (with Go's `unicode.IsPrint` table) through
/// the label-list writer, which quotes a value exactly like this.
pub(crate) fn go_quote(s: &str) -> String {
    let mut buf = String::with_capacity(s.len() + 6);
    // Writing to a String cannot fail.
    let _ = crate::labels::write_label_list(&mut buf, [("_", s)]);
    // `{_="…"}` → `"…"`.
    buf.get(3..buf.len().saturating_sub(1)).unwrap_or("\"\"").to_owned()
}

/// Why a string literal's body could not be unquoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UnquoteError {
    /// Go's `strconv.ErrSyntax`: a malformed or out-of-range escape.
    Syntax,
    /// Byte escapes produced invalid UTF-8.
    InvalidUtf8,
}

impl UnquoteError {
    /// The error text.
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::Syntax => "invalid syntax",
            Self::InvalidUtf8 => "invalid UTF-8 in string literal",
        }
    }
}

/// Unquotes the body (between the quotes) of a double-quoted literal.
pub(crate) fn unquote_double(body: &str) -> Result<String, UnquoteError> {
    if body.contains('\n') {
        return Err(UnquoteError::Syntax);
    }
    if !body.contains('\\') && !body.contains('"') {
        return Ok(body.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let bytes = body.as_bytes();
    let mut i = 0;
    while let Some(&c) = bytes.get(i) {
        if c == b'"' {
            return Err(UnquoteError::Syntax);
        }
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let esc = *bytes.get(i + 1).ok_or(UnquoteError::Syntax)?;
        i += 2;
        match esc {
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'\\' => out.push(b'\\'),
            b'"' => out.push(b'"'),
            b'x' | b'u' | b'U' => {
                let n = match esc {
                    b'x' => 2,
                    b'u' => 4,
                    _ => 8,
                };
                let digits = bytes.get(i..i + n).ok_or(UnquoteError::Syntax)?;
                let mut v: u32 = 0;
                for &d in digits {
                    v = (v << 4) | char::from(d).to_digit(16).ok_or(UnquoteError::Syntax)?;
                }
                i += n;
                if esc == b'x' {
                    // A single byte, possibly not UTF-8 on its own.
                    out.push(v as u8);
                } else {
                    let ch = char::from_u32(v).ok_or(UnquoteError::Syntax)?;
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                }
            }
            b'0'..=b'7' => {
                let digits = bytes.get(i..i + 2).ok_or(UnquoteError::Syntax)?;
                let mut v = u32::from(esc - b'0');
                for &d in digits {
                    if !(b'0'..=b'7').contains(&d) {
                        return Err(UnquoteError::Syntax);
                    }
                    v = (v << 3) | u32::from(d - b'0');
                }
                i += 2;
                let byte = u8::try_from(v).map_err(|_| UnquoteError::Syntax)?;
                out.push(byte);
            }
            _ => return Err(UnquoteError::Syntax),
        }
    }
    String::from_utf8(out).map_err(|_| UnquoteError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote(""), r#""""#);
        assert_eq!(go_quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(go_quote("\x1b[31m"), r#""\x1b[31m""#);
        assert_eq!(go_quote("é日"), "\"é日\"");
    }

    #[test]
    fn unquotes_go_escapes() {
        assert_eq!(unquote_double(r#"a\tb\\c\""#).unwrap(), "a\tb\\c\"");
        assert_eq!(unquote_double(r"\x41\101\u00e9\U0001F600").unwrap(), "AAé😀");
        assert_eq!(unquote_double(r"\xc3\xa9").unwrap(), "é");
        assert_eq!(unquote_double(r"\xff"), Err(UnquoteError::InvalidUtf8));
        assert_eq!(unquote_double(r"\400"), Err(UnquoteError::Syntax));
        assert_eq!(unquote_double(r"\ud800"), Err(UnquoteError::Syntax));
        assert_eq!(unquote_double(r"\'"), Err(UnquoteError::Syntax));
        assert_eq!(unquote_double(r"\q"), Err(UnquoteError::Syntax));
        for s in ["", "plain", "tab\there", "\u{0}\u{7f}\u{85}\u{200b}", "a\"b", "é\\"] {
            let q = go_quote(s);
            assert_eq!(unquote_double(&q[1..q.len() - 1]).unwrap(), s);
        }
    }
}
