//! `| logfmt` (spec §3.5; Loki's `log/logfmt/decode.go`, adapted from
//! go-logfmt, and `LogfmtParser` / `LogfmtExpressionParser`).
//!
//! The tokenizer, one pair per step:
//!
//! | input | result |
//! |---|---|
//! | bytes `<= 0x20` | separators, skipped |
//! | `key` then a separator or the end | the key with an empty value |
//! | `key=` then a separator or the end | the key with an empty value |
//! | `key=value` | `value` runs to the next separator |
//! | `key="…"` | a quoted value; if it holds a `\`, escapes are decoded: `\" \\ \/ \'`, `\b \f \n \r \t`, `\uXXXX` (surrogate pairs; a bad one is U+FFFD); invalid UTF-8 becomes U+FFFD |
//! | `=value` (no key) | error `unexpected '='`, skipped to the next separator |
//! | `"` inside a key, `"` or `=` inside an unquoted value | error `unexpected '"'` / `unexpected '='`, skipped to the next separator |
//! | a key with U+FFFD or invalid UTF-8 | error `invalid key` |
//! | a quote without its end | error `unterminated quoted value` |
//! | any other escape | error `invalid quoted value` |
//!
//! Errors read `logfmt syntax error at pos N : msg` (N is 1-based: the
//! byte where the error was found, or one past the end). Without
//! `--strict` a bad pair is skipped silently; with it parsing stops at the
//! first bad pair and `__error__=LogfmtParserErr` is set, the pairs before
//! it staying extracted.
//!
//! Labels: keys are sanitized like JSON keys (`a-b` → `a_b`, `9x` → `_9x`);
//! keys that sanitize to nothing are skipped; values with U+FFFD or
//! invalid UTF-8 get spaces for them; empty values are skipped unless
//! `--keep-empty`; the `_extracted` and first-writer-wins rules apply.
//!
//! Costs: one pass over the line; no allocation once buffers have grown.

use super::labels_builder::name_hash;
use super::{
    DUPLICATE_SUFFIX, ErrorKind, LabelsBuilder, LineText, StageError, contains_rune_error, push_sanitized, push_value,
};

/// A tokenizer error: the message and the 1-based position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SyntaxError {
    msg: &'static str,
    pos: usize,
}

impl SyntaxError {
    fn render(self, out: &mut String) {
        out.clear();
        out.push_str("logfmt syntax error at pos ");
        out.push_str(&self.pos.to_string());
        out.push_str(" : ");
        out.push_str(self.msg);
    }
}

/// Where the current value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Val {
    /// A range of the line.
    Range(usize, usize),
    /// The decoder's unquote buffer.
    Unquoted,
}

/// The logfmt tokenizer over one line.
#[derive(Debug, Clone, Default)]
struct Decoder {
    pos: usize,
    key: (usize, usize),
    val: Option<Val>,
    err: Option<SyntaxError>,
    unquoted: Vec<u8>,
}

impl Decoder {
    fn reset(&mut self) {
        self.pos = 0;
        self.err = None;
    }

    fn eol(&self, line: &[u8]) -> bool {
        self.pos >= line.len()
    }

    fn key<'a>(&self, line: &'a [u8]) -> &'a [u8] {
        line.get(self.key.0..self.key.1).unwrap_or_default()
    }

    fn value<'a>(&'a self, line: &'a [u8]) -> &'a [u8] {
        match self.val {
            None => &[],
            Some(Val::Range(a, b)) => line.get(a..b).unwrap_or_default(),
            Some(Val::Unquoted) => &self.unquoted,
        }
    }

    fn error(&mut self, msg: &'static str) {
        self.err = Some(SyntaxError { msg, pos: self.pos + 1 });
    }

    fn unexpected(&mut self, c: u8) {
        self.error(if c == b'"' { "unexpected '\"'" } else { "unexpected '='" });
    }

    /// Moves to the next separator after a bad pair.
    fn skip_value(&mut self, line: &[u8]) -> bool {
        self.pos = find_separator(line, self.pos);
        false
    }

    /// Whether the key holds U+FFFD or invalid UTF-8.
    fn bad_key(&self, line: &[u8]) -> bool {
        contains_rune_error(self.key(line))
    }

    /// Reads the next pair; `false` at the end of the line or on a bad
    /// pair (then `err` says why).
    fn scan(&mut self, line: &[u8]) -> bool {
        self.key = (0, 0);
        self.val = None;
        // Separators.
        match line.get(self.pos..).and_then(|r| r.iter().position(|&c| c > b' ')) {
            Some(p) => self.pos += p,
            None => {
                self.pos = line.len();
                return false;
            }
        }
        // Key: up to `=`, `"` or a separator.
        let start = self.pos;
        self.pos = find_stop(line, start);
        match line.get(self.pos) {
            None => {
                self.key = (start, line.len());
                if self.bad_key(line) {
                    self.error("invalid key");
                    return false;
                }
                return true;
            }
            Some(&c @ b'=') => {
                if self.pos == start {
                    self.unexpected(c);
                    return self.skip_value(line);
                }
                self.key = (start, self.pos);
                if self.bad_key(line) {
                    self.error("invalid key");
                    return self.skip_value(line);
                }
            }
            Some(&c @ b'"') => {
                self.unexpected(c);
                return self.skip_value(line);
            }
            Some(_) => {
                self.key = (start, self.pos);
                if self.bad_key(line) {
                    self.error("invalid key");
                    return false;
                }
                return true;
            }
        }
        // After `=`.
        self.pos += 1;
        match line.get(self.pos) {
            None => return true,
            Some(&c) if c <= b' ' => return true,
            Some(b'"') => return self.quoted(line),
            Some(_) => {}
        }
        let start = self.pos;
        self.pos = find_stop(line, start);
        match line.get(self.pos) {
            Some(&c @ (b'=' | b'"')) => {
                self.unexpected(c);
                self.skip_value(line)
            }
            _ => {
                self.val = Some(Val::Range(start, self.pos));
                true
            }
        }
    }

    /// A quoted value; `pos` is at the opening quote.
    fn quoted(&mut self, line: &[u8]) -> bool {
        let open = self.pos;
        let mut has_escape = false;
        let mut i = open + 1;
        while let Some(p) = line.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) {
            let at = i + p;
            if line.get(at) == Some(&b'\\') {
                // The escaped byte is skipped, whatever it is.
                has_escape = true;
                i = at + 2;
                continue;
            }
            self.pos = at + 1;
            let body = line.get(open + 1..at).unwrap_or_default();
            if has_escape {
                self.unquoted.clear();
                if !unquote(body, &mut self.unquoted) {
                    self.error("invalid quoted value");
                    return false;
                }
                self.val = Some(Val::Unquoted);
            } else if !body.is_empty() {
                self.val = Some(Val::Range(open + 1, at));
            }
            return true;
        }
        self.pos = line.len();
        self.error("unterminated quoted value");
        false
    }
}

/// Bytes that end a key or an unquoted value: separators (`<= 0x20`), `=`
/// and `"`.
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i <= 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'=' as usize] = true;
    t[b'"' as usize] = true;
    t
};

/// Ones in every byte.
const LO: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte.
const HI: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` below `n` (`n <= 0x80`); exact for the
/// lowest such byte, which is all the searches below use.
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(LO * u64::from(n)) & !x & HI
}

/// The high bit of each byte of `x` equal to `b` (exact for the lowest).
fn bytes_equal(x: u64, b: u8) -> u64 {
    let y = x ^ (LO * u64::from(b));
    y.wrapping_sub(LO) & !y & HI
}

/// The first byte from `from` on for which `word_hits` (eight bytes at a
/// time) or `hit` (one byte) holds, or the line's length.
fn find_first(line: &[u8], from: usize, word_hits: impl Fn(u64) -> u64, hit: impl Fn(u8) -> bool) -> usize {
    let mut i = from;
    while let Some(w) = line.get(i..i + 8) {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(w);
        let m = word_hits(u64::from_le_bytes(bytes));
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    line.get(i..).and_then(|r| r.iter().position(|&c| hit(c))).map_or(line.len(), |p| i + p)
}

/// The first stop byte of `line` from `from` on, or the line's length.
fn find_stop(line: &[u8], from: usize) -> usize {
    find_first(
        line,
        from,
        |x| bytes_below(x, 0x21) | bytes_equal(x, b'=') | bytes_equal(x, b'"'),
        |c| STOP[usize::from(c)],
    )
}

/// The first separator of `line` from `from` on, or the line's length.
fn find_separator(line: &[u8], from: usize) -> usize {
    find_first(line, from, |x| bytes_below(x, 0x21), |c| c <= b' ')
}

/// Decodes the escapes of a quoted logfmt value (go-logfmt's
/// `unquoteBytes`, JSON rules plus `\'`); invalid UTF-8 becomes U+FFFD.
fn unquote(body: &[u8], out: &mut Vec<u8>) -> bool {
    let mut i = 0;
    let mut buf = [0u8; 4];
    while let Some(&c) = body.get(i) {
        if c == b'\\' {
            let Some(&e) = body.get(i + 1) else { return false };
            let simple = match e {
                b'"' | b'\\' | b'/' | b'\'' => Some(e),
                b'b' => Some(0x08),
                b'f' => Some(0x0c),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                b'u' => None,
                _ => return false,
            };
            if let Some(b) = simple {
                out.push(b);
                i += 2;
                continue;
            }
            let Some(r) = hex_escape(body.get(i..).unwrap_or_default()) else { return false };
            i += 6;
            let ch = if (0xd800..0xe000).contains(&r) {
                match hex_escape(body.get(i..).unwrap_or_default()) {
                    Some(r2) if (0xd800..0xdc00).contains(&r) && (0xdc00..0xe000).contains(&r2) => {
                        i += 6;
                        char::from_u32(0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00)).unwrap_or('\u{fffd}')
                    }
                    _ => '\u{fffd}',
                }
            } else {
                char::from_u32(r).unwrap_or('\u{fffd}')
            };
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        } else if c < 0x80 {
            out.push(c);
            i += 1;
        } else {
            match super::decode_char(body.get(i..).unwrap_or_default()) {
                Some((_, len)) => {
                    out.extend_from_slice(body.get(i..i + len).unwrap_or_default());
                    i += len;
                }
                None => {
                    out.extend_from_slice("\u{fffd}".as_bytes());
                    i += 1;
                }
            }
        }
    }
    true
}

/// `\uXXXX` at the start of `s`.
fn hex_escape(s: &[u8]) -> Option<u32> {
    if s.get(..2)? != b"\\u" {
        return None;
    }
    s.get(2..6)?.iter().try_fold(0u32, |acc, &c| Some(acc << 4 | char::from(c).to_digit(16)?))
}

/// `| logfmt [--strict] [--keep-empty]`: every pair becomes a label.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{LabelsBuilder, LogfmtParser};
///
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{app="x"}"#).unwrap());
/// b.reset();
/// LogfmtParser::new(true, false).process(br#"level=info msg="a \"b\"" bad"x=1 after=2"#, &mut b);
/// assert_eq!(
///     b.label_string(),
///     r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 29 : unexpected '\"'", app="x", level="info", msg="a \"b\""}"#
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct LogfmtParser {
    strict: bool,
    keep_empty: bool,
    dec: Decoder,
    name: String,
    value: String,
    details: String,
}

impl LogfmtParser {
    /// A parser; `strict` and `keep_empty` are the `--strict` and
    /// `--keep-empty` flags.
    pub fn new(strict: bool, keep_empty: bool) -> Self {
        Self { strict, keep_empty, ..Self::default() }
    }

    /// Extracts the pairs of `line` into `builder`.
    pub fn process(&mut self, line: &[u8], builder: &mut LabelsBuilder) {
        self.process_watched(line, builder, &mut |_, _| false);
    }

    /// [`process`](Self::process), calling `stop(name, value)` for each
    /// label set; when it returns true the rest of the line is not read
    /// and `false` is returned (the caller drops the line).
    pub(crate) fn process_watched(
        &mut self,
        line: &[u8],
        builder: &mut LabelsBuilder,
        stop: &mut dyn FnMut(&str, &str) -> bool,
    ) -> bool {
        self.dec.reset();
        let text = LineText::new(line);
        while !self.dec.eol(line) {
            if !self.dec.scan(line) {
                if self.strict {
                    break;
                }
                continue;
            }
            // A value is empty exactly when its bytes are (each bad byte
            // becomes a space), so empty pairs are skipped before the name
            // is built.
            let raw = self.dec.value(line);
            if !self.keep_empty && raw.is_empty() {
                continue;
            }
            self.name.clear();
            text.push_sanitized(&mut self.name, self.dec.key(line));
            if self.name.is_empty() {
                continue;
            }
            let mut hash = name_hash(&self.name);
            if builder.conflicts_h(&self.name, hash) {
                self.name.push_str(DUPLICATE_SUFFIX);
                hash = name_hash(&self.name);
            }
            let value: &str = match text.part(raw) {
                Some(v) => v,
                None => {
                    self.value.clear();
                    push_value(&mut self.value, raw);
                    &self.value
                }
            };
            if builder.add_exact_h(&self.name, hash, value) && stop(&self.name, value) {
                return false;
            }
        }
        if self.strict
            && let Some(err) = self.dec.err
        {
            err.render(&mut self.details);
            builder.set_parser_error(ErrorKind::LogfmtParser, Some(&self.details));
        }
        true
    }
}

/// `| logfmt [--strict] a, b="key"`: only the listed keys, renamed.
///
/// Loki's rules, quirks included:
/// * before the line is read, every listed label that is not a stream or
///   metadata label is set to `""` (overwriting an earlier parser's value);
/// * a line key matches `b="key"` when its *sanitized* form equals `key`
///   as written, and a line key equal to a listed label name matches that
///   label too (`| logfmt a="x"` also takes `a=…`); when several labels
///   list the same key, the first one gets it;
/// * later pairs overwrite earlier ones for listed labels; a label whose
///   name is a stream or metadata label becomes `name_extracted`, and once
///   that name is set the rest of the line is not read;
/// * a value with U+FFFD or invalid UTF-8 becomes `""`; empty values are
///   kept; a key already extracted by an earlier parser is skipped unless
///   it is a listed label name.
#[derive(Debug, Clone)]
pub struct LogfmtExpressionParser {
    /// `(label, key)` in the order given.
    exprs: Vec<(String, String)>,
    strict: bool,
    dec: Decoder,
    name: String,
    value: String,
    details: String,
}

impl LogfmtExpressionParser {
    /// A parser for `(label, key)` pairs (`| logfmt label="key"`; a bare
    /// `label` is `(label, label)`).
    ///
    /// # Errors
    ///
    /// [`StageError::NoExpressions`] for an empty list,
    /// [`StageError::InvalidLabelName`] for an empty label name.
    pub fn new(exprs: &[(String, String)], strict: bool) -> Result<Self, StageError> {
        if exprs.is_empty() {
            return Err(StageError::NoExpressions);
        }
        if let Some((label, _)) = exprs.iter().find(|(l, _)| l.is_empty()) {
            return Err(StageError::InvalidLabelName { name: label.clone() });
        }
        // A label listed twice keeps its last key (Loki stores them in a map).
        let mut unique: Vec<(String, String)> = Vec::with_capacity(exprs.len());
        for (label, key) in exprs {
            match unique.iter_mut().find(|(l, _)| l == label) {
                Some(slot) => slot.1.clone_from(key),
                None => unique.push((label.clone(), key.clone())),
            }
        }
        Ok(Self {
            exprs: unique,
            strict,
            dec: Decoder::default(),
            name: String::new(),
            value: String::new(),
            details: String::new(),
        })
    }

    fn is_label(&self, name: &str) -> bool {
        self.exprs.iter().any(|(l, _)| l == name)
    }

    /// Extracts the listed keys of `line` into `builder`.
    pub fn process(&mut self, line: &[u8], builder: &mut LabelsBuilder) {
        for (label, _) in &self.exprs {
            if !builder.conflicts(label) {
                builder.set_label(label, "");
            }
        }
        self.dec.reset();
        while !self.dec.eol(line) {
            if !self.dec.scan(line) {
                if self.strict {
                    break;
                }
                continue;
            }
            self.name.clear();
            push_sanitized(&mut self.name, self.dec.key(line));
            if self.name.is_empty() || (!self.is_label(&self.name) && builder.was_extracted(&self.name)) {
                continue;
            }
            let raw = self.dec.value(line);
            self.value.clear();
            if !contains_rune_error(raw) {
                push_value(&mut self.value, raw);
            }
            if let Some((label, _)) = self.exprs.iter().find(|(_, key)| *key == self.name) {
                self.name.clone_from(label);
            }
            if !self.is_label(&self.name) {
                continue;
            }
            if builder.conflicts(&self.name) {
                self.name.push_str(DUPLICATE_SUFFIX);
                if builder.was_extracted(&self.name) {
                    break;
                }
            }
            builder.set_label(&self.name, &self.value);
        }
        if self.strict
            && let Some(err) = self.dec.err
        {
            err.render(&mut self.details);
            builder.set_parser_error(ErrorKind::LogfmtParser, Some(&self.details));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stream: &str, line: &[u8], strict: bool, keep_empty: bool) -> String {
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        LogfmtParser::new(strict, keep_empty).process(line, &mut b);
        b.label_string().to_owned()
    }

    #[test]
    fn loki_cases() {
        let not = b"foobar====wqe=sdad1r";
        assert_eq!(run(r#"{foo="bar"}"#, not, false, false), r#"{foo="bar"}"#);
        assert_eq!(
            run(r#"{foo="bar"}"#, not, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 8 : unexpected '='", foo="bar"}"#
        );
        assert_eq!(run("{}", "buzz=foo bar=\u{fffd}f".as_bytes(), false, false), r#"{bar=" f", buzz="foo"}"#);
        assert_eq!(run(r#"{foo="bar"}"#, b"buzz bar=foo", false, false), r#"{bar="foo", foo="bar"}"#);
        assert_eq!(run("{}", br#"foobar="foo\nbar\tbaz""#, false, false), r#"{foobar="foo\nbar\tbaz"}"#);
        assert_eq!(run("{}", b"foobar=\"foo\nbar\tbaz\"", false, false), r#"{foobar="foo\nbar\tbaz"}"#);
        assert_eq!(run("{}", br#"foobar="foo ba\\r baz""#, false, false), r#"{foobar="foo ba\\r baz"}"#);
        assert_eq!(run("{}", br#"foobar="foo bar" foobar=10ms"#, false, false), r#"{foobar="foo bar"}"#);
        assert_eq!(
            run(r#"{foo="bar"}"#, br#"foo="foo bar" foo.bar=10ms test-dash=foo"#, false, false),
            r#"{foo="bar", foo_bar="10ms", foo_extracted="foo bar", test_dash="foo"}"#
        );
        let empty_key = br#"foo="foo bar" =notkey bar=10ms"#;
        assert_eq!(
            run(r#"{foo="bar"}"#, empty_key, false, false),
            r#"{bar="10ms", foo="bar", foo_extracted="foo bar"}"#
        );
        assert_eq!(
            run(r#"{foo="bar"}"#, empty_key, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 15 : unexpected '='", foo="bar", foo_extracted="foo bar"}"#
        );
        let rune_key = "foo=\"foo bar\" b\u{fffd}r=10ms".as_bytes();
        assert_eq!(run(r#"{foo="bar"}"#, rune_key, false, false), r#"{foo="bar", foo_extracted="foo bar"}"#);
        assert_eq!(
            run(r#"{foo="bar"}"#, rune_key, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 20 : invalid key", foo="bar", foo_extracted="foo bar"}"#
        );
        assert_eq!(
            run(r#"{foo="bar"}"#, br#"foo="foo bar" bu"zz=10ms"#, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 17 : unexpected '\"'", foo="bar", foo_extracted="foo bar"}"#
        );
        assert_eq!(
            run(r#"{foo="bar"}"#, br#"bar=bu=zz foo="foo bar""#, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 7 : unexpected '='", foo="bar"}"#
        );
        assert_eq!(run(r#"{foo="bar"}"#, b"foo bar=buzz", false, true), r#"{bar="buzz", foo="bar", foo_extracted=""}"#);
        assert_eq!(
            run(r#"{foo="bar"}"#, "foo=b\u{fffd}r bar=buzz".as_bytes(), true, false),
            r#"{bar="buzz", foo="bar", foo_extracted="b r"}"#
        );
    }

    #[test]
    fn tokenizer_edges() {
        assert_eq!(run("{}", b"a=1 9x=2 a-b=3", false, false), r#"{_9x="2", a="1", a_b="3"}"#);
        assert_eq!(
            run("{}", br#"a="unterminated"#, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 16 : unterminated quoted value"}"#
        );
        assert_eq!(
            run("{}", br#"a="\x" b=2"#, true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 7 : invalid quoted value"}"#
        );
        assert_eq!(run("{}", br#"a="\x" b=2"#, false, false), r#"{b="2"}"#);
        assert_eq!(
            run("{}", br#"a="\u00e9\ud83d\ude00\'" b="\ud800x""#, false, false),
            "{a=\"é😀'\", b=\"  x\"}".replace("  ", " ")
        );
        assert_eq!(run("{}", b"a=\"x\xffy\\n\" b=c\xffd", false, false), "{a=\"x y\\n\", b=\"c d\"}");
        assert_eq!(run("{}", b"a= b=\"\" c", false, true), r#"{a="", b="", c=""}"#);
        assert_eq!(run("{}", b"  \t a=1   ", true, false), r#"{a="1"}"#);
        assert_eq!(
            run("{}", b"k\xff=1 z=2", true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 3 : invalid key"}"#
        );
        assert_eq!(
            run("{}", b"k\xff", true, false),
            r#"{__error__="LogfmtParserErr", __error_details__="logfmt syntax error at pos 3 : invalid key"}"#
        );
        assert_eq!(run("{}", b"", true, false), "{}");
    }

    #[test]
    fn word_search_matches_byte_search() {
        // Every byte value at every offset of a 19-byte line, after every
        // start: the eight-byte search finds what a byte scan finds.
        let mut line = [b'a'; 19];
        for b in 0..=255u8 {
            for at in 0..line.len() {
                line.fill(if b == b'a' { b'b' } else { b'a' });
                line[at] = b;
                line[(at * 7 + 3) % 19] = 0xff;
                for from in 0..=line.len() {
                    let naive = |stop: &dyn Fn(u8) -> bool| {
                        line[from..].iter().position(|&c| stop(c)).map_or(line.len(), |p| from + p)
                    };
                    assert_eq!(find_stop(&line, from), naive(&|c| c <= b' ' || c == b'=' || c == b'"'), "{b} {at}");
                    assert_eq!(find_separator(&line, from), naive(&|c| c <= b' '), "{b} {at}");
                }
            }
        }
    }

    fn expr(stream: &str, exprs: &[(&str, &str)], line: &[u8]) -> String {
        let exprs: Vec<(String, String)> = exprs.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect();
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        LogfmtExpressionParser::new(&exprs, false).unwrap().process(line, &mut b);
        b.label_string().to_owned()
    }

    #[test]
    fn expressions() {
        let line = "app=foo level=error spaces=\"value with ÜFT8👌\" ts=2021-02-12T19:18:10.037940878Z".as_bytes();
        assert_eq!(expr("{}", &[("app", "app")], line), r#"{app="foo"}"#);
        assert_eq!(expr("{}", &[("test", "level")], line), r#"{test="error"}"#);
        assert_eq!(expr("{}", &[("spaces", "spaces")], line), "{spaces=\"value with ÜFT8👌\"}");
        assert_eq!(expr("{}", &[("nope", "nope")], line), r#"{nope=""}"#);
        assert_eq!(expr(r#"{app="bar"}"#, &[("app", "app")], line), r#"{app="bar", app_extracted="foo"}"#);
        assert_eq!(expr(r#"{level="debug"}"#, &[("lvl", "level")], line), r#"{level="debug", lvl="error"}"#);
        // Quirks.
        assert_eq!(expr("{}", &[("status", "code")], b"status=1 code=2"), r#"{status="2"}"#);
        assert_eq!(expr("{}", &[("status", "code")], b"code=2 status=1"), r#"{status="1"}"#);
        assert_eq!(expr("{}", &[("a", "a")], b"a=1 a=2"), r#"{a="2"}"#);
        assert_eq!(expr(r#"{a="s"}"#, &[("a", "a"), ("b", "b")], b"a=1 a=2 b=3"), r#"{a="s", a_extracted="1", b=""}"#);
        assert_eq!(expr("{}", &[("x", "a-b")], b"a-b=1"), r#"{x=""}"#);
        assert_eq!(expr("{}", &[("a", "a")], b"a=x\xff"), r#"{a=""}"#);
        assert!(LogfmtExpressionParser::new(&[], false).is_err());
    }
}
