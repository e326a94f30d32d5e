//! `| decolorize` (spec §3.7; Loki's `Decolorizer`): removes ANSI escape
//! sequences with the stripansi expression
//!
//! ```text
//! [\x1b\x9b][[\]()#;?]*(?:(?:(?:[a-zA-Z\d]*(?:;[a-zA-Z\d]*)*)?\x07)|(?:(?:\d{1,4}(?:;\d{0,4})*)?[\dA-PRZcf-ntqry=><~]))
//! ```
//!
//! where, as in Go, `\x9b` is the character U+009B (UTF-8 `C2 9B`; a raw
//! `9B` byte is not matched) and `\d` is ASCII. Lines without `ESC` or
//! U+009B are returned untouched without running the regex.

use regex::bytes::Regex;

/// The expression in Rust syntax: `\d` spelled `[0-9]` (Rust's `\d` is
/// Unicode), `[` escaped inside the class.
const ANSI: &str = r"[\x1b\x{9b}][\[\]()#;?]*(?:(?:(?:[a-zA-Z0-9]*(?:;[a-zA-Z0-9]*)*)?\x07)|(?:(?:[0-9]{1,4}(?:;[0-9]{0,4})*)?[0-9A-PRZcf-ntqry=><~]))";

/// The `| decolorize` stage.
///
/// # Examples
///
/// ```
/// use lokistore::logql::log::Decolorizer;
///
/// let mut d = Decolorizer::new();
/// assert_eq!(d.process(b"\x1b[31mred\x1b[0m text"), Some(&b"red text"[..]));
/// assert_eq!(d.process(b"plain"), None);
/// ```
#[derive(Debug, Clone)]
pub struct Decolorizer {
    re: Regex,
    buf: Vec<u8>,
}

impl Default for Decolorizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Decolorizer {
    /// The stage.
    pub fn new() -> Self {
        // A constant expression, covered by the tests: it always compiles.
        #[expect(clippy::expect_used, reason = "constant expression")]
        let re = Regex::new(ANSI).expect("the ANSI expression compiles");
        Self { re, buf: Vec::new() }
    }

    /// The line without escape sequences, or `None` when it has none.
    pub fn process(&mut self, line: &[u8]) -> Option<&[u8]> {
        if memchr::memchr(0x1b, line).is_none() && memchr::memmem::find(line, "\u{9b}".as_bytes()).is_none() {
            return None;
        }
        self.buf.clear();
        let mut last = 0;
        let mut found = false;
        for m in self.re.find_iter(line) {
            self.buf.extend_from_slice(line.get(last..m.start()).unwrap_or_default());
            last = m.end();
            found = true;
        }
        if !found {
            return None;
        }
        self.buf.extend_from_slice(line.get(last..).unwrap_or_default());
        Some(&self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips() {
        let mut d = Decolorizer::new();
        let mut run = |l: &[u8]| d.process(l).map(<[u8]>::to_vec).unwrap_or_else(|| l.to_vec());
        assert_eq!(run(b"\x1b[1;32mINFO\x1b[0m msg"), b"INFO msg");
        assert_eq!(run("\u{9b}31mx".as_bytes()), b"x");
        assert_eq!(run(b"\x9b31mx"), b"\x9b31mx", "a raw 9B byte is not U+009B");
        assert_eq!(run(b"\x1b]0;title\x07rest"), b"rest");
        assert_eq!(run(b"\x1b alone"), b"\x1b alone");
        assert_eq!(run("\x1b[\u{661}m".as_bytes()), "\x1b[\u{661}m".as_bytes(), "\\d is ASCII");
        assert_eq!(run(b"a\x1b[Kb"), b"ab");
    }
}
