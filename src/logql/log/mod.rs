//! The per-line building blocks of LogQL log pipelines (Loki's
//! `pkg/logql/log`): the label builder, the parsers, line filters and the
//! label-filter conversions. A pipeline stage built once per query calls them
//! for every line; none of them allocates per line once its buffers have
//! grown to the largest line seen.
//!
//! Semantics follow `../shared/spec/logql.md` §3.3–3.8 and, where the spec is
//! silent, Loki's code (quirks included; each is named where it is
//! implemented).
//!
//! | file | what | spec |
//! |---|---|---|
//! | `labels_builder.rs` | [`LabelsBuilder`]: stream / structured metadata / parsed labels of one line, the `_extracted` rule, first-writer-wins, `__error__`, the final label set and its key | §3.3, §3.7 (drop/keep), §3.8 |
//! | `json.rs` | [`JsonParser`]: `\| json` without arguments | §3.5 |
//! | `json_expr.rs` | [`JsonExpressionParser`]: `\| json a="path"` (paths parsed by the query parser's `parse_json_path`) | §3.5 |
//! | `jsonscan.rs` | the permissive JSON scanner all JSON stages share (the behaviour of the Go `jsonparser` Loki uses, errors included) | §3.5 |
//! | `logfmt.rs` | [`LogfmtParser`], [`LogfmtExpressionParser`]: the logfmt tokenizer, `--strict`, `--keep-empty` | §3.5 |
//! | `regexp.rs` | [`RegexpParser`]: `\| regexp` | §3.5 |
//! | `pattern.rs` | [`PatternParser`] and [`LinePattern`]: `\| pattern` and the `\|>` / `!>` line filters | §3.4, §3.5 |
//! | `unpack.rs` | [`UnpackParser`]: `\| unpack` | §3.5 |
//! | `line_filter.rs` | [`LineFilter`]: `\|=`, `!=`, `\|~`, `!~`, `\|>`, `!>`, `ip()`, `or` chains | §3.4 |
//! | `ip.rs` | [`IpMatcher`]: `ip("…")` patterns and the address scan | §3.4, §3.6 |
//! | `decolorize.rs` | [`Decolorizer`] | §3.7 |
//! | `label_filter.rs` | numeric / duration / bytes / ip label filters ([`numeric_filter`] …) | §3.6 |
//! | `goconv.rs` | Go's `strconv.ParseFloat`, `time.ParseDuration`, go-humanize `ParseBytes` with their error texts | §3.6 |
//!
//! # Using the parsers
//!
//! ```
//! use lokistore::Labels;
//! use lokistore::logql::log::{LabelsBuilder, LineFilter, LineFilterOp, LogfmtParser};
//!
//! let stream: Labels = r#"{app="api"}"#.parse().unwrap();
//! let mut builder = LabelsBuilder::new(&stream);
//! let filter = LineFilter::new(LineFilterOp::Contains, &["level=error".into()]).unwrap();
//! let mut logfmt = LogfmtParser::new(false, false);
//!
//! for line in ["level=error app=x msg=\"boom\"", "level=info msg=ok"] {
//!     builder.reset();
//!     if !filter.matches(line.as_bytes()) {
//!         continue;
//!     }
//!     logfmt.process(line.as_bytes(), &mut builder);
//!     assert_eq!(builder.label_string(), r#"{app="api", app_extracted="x", level="error", msg="boom"}"#);
//! }
//! ```

mod decolorize;
mod goconv;
mod ip;
mod json;
mod json_expr;
mod jsonscan;
mod label_filter;
mod labels_builder;
mod line_filter;
mod logfmt;
mod pattern;
mod regexp;
mod unpack;

pub use decolorize::Decolorizer;
pub use goconv::{ConversionError, parse_go_duration, parse_go_float, parse_humanize_bytes};
pub use ip::IpMatcher;
pub use json::JsonParser;
pub use json_expr::{JsonExpressionParser, JsonPathStep, parse_json_path};
pub use label_filter::{CmpOp, bytes_filter, duration_filter, ip_filter, numeric_filter};
pub use labels_builder::{CategorizedLabels, LabelCategory, LabelsBuilder};
pub use line_filter::{LineFilter, LineFilterArg, LineFilterOp, LiteralFilter};
pub use logfmt::{LogfmtExpressionParser, LogfmtParser};
pub use pattern::{LinePattern, PatternParser};
pub use regexp::RegexpParser;
pub use unpack::UnpackParser;

use std::fmt;

/// The label holding a line's error (`__error__`).
pub const ERROR_LABEL: &str = "__error__";
/// The label holding the error's message (`__error_details__`).
pub const ERROR_DETAILS_LABEL: &str = "__error_details__";
/// The label metric queries set when they group by `__error__`
/// (`__preserve_error__`).
pub const PRESERVE_ERROR_LABEL: &str = "__preserve_error__";
/// Appended to a parsed label name that collides with a stream or
/// structured-metadata label.
pub const DUPLICATE_SUFFIX: &str = "_extracted";

/// The `__error__` values Loki's stages set (spec §3.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `JSONParserErr`: `json`, `json` with expressions, `unpack`.
    JsonParser,
    /// `LogfmtParserErr`: `logfmt --strict`.
    LogfmtParser,
    /// `SampleExtractionErr`: `unwrap` conversion failures.
    SampleExtraction,
    /// `LabelFilterErr`: numeric, duration and bytes label filters.
    LabelFilter,
    /// `TemplateFormatErr`: `line_format`, `label_format`.
    TemplateFormat,
}

impl ErrorKind {
    /// The label value (`JSONParserErr`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::JsonParser => "JSONParserErr",
            Self::LogfmtParser => "LogfmtParserErr",
            Self::SampleExtraction => "SampleExtractionErr",
            Self::LabelFilter => "LabelFilterErr",
            Self::TemplateFormat => "TemplateFormatErr",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a stage could not be built. `Display` is Loki's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StageError {
    /// A `regexp` without named capture groups.
    #[error("at least one named capture must be supplied")]
    MissingCapture,
    /// An extracted label name Loki refuses (only the empty name: Loki
    /// validates names with Prometheus' UTF-8 scheme).
    #[error("invalid extracted label name '{name}'")]
    InvalidLabelName {
        /// The name.
        name: String,
    },
    /// The same capture name twice in a `regexp`.
    #[error("duplicate extracted label name '{name}'")]
    DuplicateLabelName {
        /// The name.
        name: String,
    },
    /// The regular expression does not compile.
    #[error("error parsing regexp: {message}")]
    Regex {
        /// What the regex compiler said.
        message: String,
    },
    /// A `pattern` / `|>` expression that is empty where that is refused.
    #[error("parse error at line 1, col 1: syntax error: unexpected $end, expecting IDENTIFIER or LITERAL")]
    PatternEmpty,
    /// A `pattern` expression without a named capture.
    #[error("at least one capture is required")]
    PatternNoCapture,
    /// Two captures next to each other (`<a><b>`).
    #[error("found consecutive capture '{captures}': invalid expression")]
    PatternConsecutiveCaptures {
        /// The two captures as written.
        captures: String,
    },
    /// A capture name used twice.
    #[error("duplicate capture name ({name}): invalid expression")]
    PatternDuplicateCapture {
        /// The name.
        name: String,
    },
    /// A named capture in a `|>` / `!>` line filter.
    #[error("named captures are not allowed: found '{capture}'")]
    PatternNamedCapture {
        /// The capture as written (`<name>`).
        capture: String,
    },
    /// A `json` / `logfmt` extraction expression that does not parse.
    #[error("cannot parse expression [{expression}]: {message}")]
    Expression {
        /// The expression.
        expression: String,
        /// The parser's message (`syntax error: unexpected …`).
        message: String,
    },
    /// `logfmt` expressions with an empty list.
    #[error("no logfmt expression provided")]
    NoExpressions,
    /// `ip()` with an operator other than `|=` / `!=`.
    #[error("ip: invalid operation")]
    IpInvalidOperation,
    /// An `ip()` pattern that is not an address, a CIDR prefix or a range.
    #[error("ip: invalid pattern: {}", go_quote(.pattern.as_bytes()))]
    IpInvalidPattern {
        /// The pattern.
        pattern: String,
    },
}

// ---------------------------------------------------------------------------
// Helpers shared by the stages.
// ---------------------------------------------------------------------------

/// Go's `strconv.Quote` of bytes: printable characters as they are (Go's
/// `unicode.IsPrint`), the usual escapes, `\xNN` for bytes that are not
/// UTF-8.
pub(crate) fn go_quote(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    for chunk in bytes.utf8_chunks() {
        let valid = chunk.valid();
        if !valid.is_empty() {
            // The label-list writer quotes a value exactly as strconv.Quote.
            let mut quoted = String::with_capacity(valid.len() + 8);
            let _ = crate::labels::write_label_list(&mut quoted, [("_", valid)]);
            // `{_="…"}` → `…`.
            out.push_str(quoted.get(4..quoted.len().saturating_sub(2)).unwrap_or(""));
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

/// Decodes the UTF-8 character at the start of `b` as Go's
/// `utf8.DecodeRune` does: `None` for an invalid sequence (Go's
/// `RuneError` of width 1).
pub(crate) fn decode_char(b: &[u8]) -> Option<(char, usize)> {
    let first = *b.first()?;
    let len = match first {
        0x00..=0x7f => return Some((char::from(first), 1)),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(..len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// Decodes the last UTF-8 character of `b` (Go's `utf8.DecodeLastRune`);
/// `None` when it is not valid.
fn decode_last_char(b: &[u8]) -> Option<(char, usize)> {
    let n = b.len();
    for len in 1..=4.min(n) {
        let start = n - len;
        let lead = *b.get(start)?;
        if lead & 0xc0 != 0x80 {
            return decode_char(b.get(start..)?).filter(|&(_, l)| l == len);
        }
    }
    None
}

/// Go's `bytes.TrimSpace`: strips Unicode white space from both ends.
pub(crate) fn trim_go_space(mut b: &[u8]) -> &[u8] {
    // ASCII ends that are not white space: nothing to trim.
    let ascii_kept = |c: Option<&u8>| c.is_some_and(|&c| c < 0x80 && !matches!(c, b'\t'..=b'\r' | b' '));
    if ascii_kept(b.first()) && ascii_kept(b.last()) {
        return b;
    }
    while let Some((c, len)) = decode_char(b) {
        if !c.is_whitespace() {
            break;
        }
        b = b.get(len..).unwrap_or_default();
    }
    while let Some((c, len)) = decode_last_char(b) {
        if !c.is_whitespace() {
            break;
        }
        b = b.get(..b.len() - len).unwrap_or_default();
    }
    b
}

/// Appends a sanitized label-name segment as Loki does (`appendSanitized`):
/// the segment is trimmed; a leading digit gets a `_` prefix when `out` is
/// still empty; every character outside `[A-Za-z0-9_]` (and every byte
/// that is not UTF-8) becomes `_`.
pub(crate) fn push_sanitized(out: &mut String, segment: &[u8]) {
    let seg = trim_go_space(segment);
    let Some(&first) = seg.first() else { return };
    if out.is_empty() && first.is_ascii_digit() {
        out.push('_');
    }
    // Fast path: a name that needs no replacement.
    if seg.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'_')
        && let Ok(s) = std::str::from_utf8(seg)
    {
        out.push_str(s);
        return;
    }
    let mut rest = seg;
    while let Some(&b) = rest.first() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(char::from(b));
            rest = rest.get(1..).unwrap_or_default();
            continue;
        }
        out.push('_');
        let len = decode_char(rest).map_or(1, |(_, l)| l);
        rest = rest.get(len..).unwrap_or_default();
    }
}

/// Appends `bytes` as a label value: valid UTF-8 as is, except that U+FFFD
/// and every byte that is not UTF-8 become a space (Loki's
/// `removeInvalidUtf`, which Prometheus needs).
pub(crate) fn push_value(out: &mut String, bytes: &[u8]) {
    if bytes.is_ascii()
        && let Ok(s) = std::str::from_utf8(bytes)
    {
        out.push_str(s);
        return;
    }
    if let Ok(s) = std::str::from_utf8(bytes)
        && !s.contains('\u{fffd}')
    {
        out.push_str(s);
        return;
    }
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            out.push(if c == '\u{fffd}' { ' ' } else { c });
        }
        for _ in chunk.invalid() {
            out.push(' ');
        }
    }
}

/// A line being parsed, with its text when it is all ASCII: then a part
/// of it is a label name or value as it is, taken without validating it
/// again (the parsers' fast path).
#[derive(Debug, Clone, Copy)]
pub(crate) struct LineText<'a> {
    line: &'a [u8],
    ascii: Option<&'a str>,
}

impl<'a> LineText<'a> {
    pub(crate) fn new(line: &'a [u8]) -> Self {
        let ascii = if line.is_ascii() { std::str::from_utf8(line).ok() } else { None };
        Self { line, ascii }
    }

    /// `part` as text, when the line is ASCII and `part` lies inside it.
    pub(crate) fn part(&self, part: &[u8]) -> Option<&'a str> {
        let text = self.ascii?;
        let off = (part.as_ptr() as usize).checked_sub(self.line.as_ptr() as usize)?;
        text.get(off..off.checked_add(part.len())?)
    }

    /// [`push_value`] of a part of the line (or of any other bytes).
    pub(crate) fn push_value(&self, out: &mut String, bytes: &[u8]) {
        match self.part(bytes) {
            Some(s) => out.push_str(s),
            None => push_value(out, bytes),
        }
    }

    /// [`push_sanitized`] of a part of the line (or of any other bytes).
    pub(crate) fn push_sanitized(&self, out: &mut String, segment: &[u8]) {
        if let Some(s) = self.part(segment)
            && let Some(&first) = s.as_bytes().first()
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            if out.is_empty() && first.is_ascii_digit() {
                out.push('_');
            }
            out.push_str(s);
            return;
        }
        push_sanitized(out, segment);
    }
}

/// Appends `bytes` as Go's regexp reads them: every byte that is not
/// UTF-8 becomes U+FFFD (three bytes).
pub(crate) fn push_go_decoded(out: &mut Vec<u8>, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        out.extend_from_slice(chunk.valid().as_bytes());
        for _ in chunk.invalid() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
}

/// Whether `bytes` holds U+FFFD or invalid UTF-8 (Go's
/// `bytes.ContainsRune(b, utf8.RuneError)`).
pub(crate) fn contains_rune_error(bytes: &[u8]) -> bool {
    if bytes.is_ascii() {
        return false;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.contains('\u{fffd}'),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizing() {
        let s = |parts: &[&[u8]]| {
            let mut out = String::new();
            for p in parts {
                if !trim_go_space(p).is_empty() && !out.is_empty() {
                    out.push('_');
                }
                push_sanitized(&mut out, p);
            }
            out
        };
        assert_eq!(s(&[b"cou-nter"]), "cou_nter");
        assert_eq!(s(&[b"9x"]), "_9x");
        assert_eq!(s(&[b" a.b "]), "a_b");
        assert_eq!(s(&[b"a", b"9"]), "a_9");
        assert_eq!(s(&[b" ", b"foo"]), "foo");
        assert_eq!(s(&["ü€x".as_bytes()]), "__x");
        assert_eq!(s(&[b"a\xffb"]), "a_b");
        assert_eq!(s(&["\u{a0}k\u{3000}".as_bytes()]), "k");
    }

    #[test]
    fn values() {
        let v = |b: &[u8]| {
            let mut s = String::new();
            push_value(&mut s, b);
            s
        };
        assert_eq!(v(b"plain"), "plain");
        assert_eq!(v("b\u{fffd}r".as_bytes()), "b r");
        assert_eq!(v(b"a\xe2\x82b"), "a  b");
        assert_eq!(v("é".as_bytes()), "é");
        assert!(contains_rune_error(b"\xff"));
        assert!(!contains_rune_error("é".as_bytes()));
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote(b"abc"), r#""abc""#);
        assert_eq!(go_quote(b"a\"b\n"), r#""a\"b\n""#);
        assert_eq!(go_quote(b"\xffa"), r#""\xffa""#);
        assert_eq!(go_quote("é".as_bytes()), "\"é\"");
        assert_eq!(go_quote(b""), r#""""#);
    }
}
