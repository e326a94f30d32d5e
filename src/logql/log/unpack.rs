//! `| unpack` (spec §3.5; Loki's `UnpackParser`), the reverse of
//! Promtail's `pack` stage.
//!
//! | rule | behaviour |
//! |---|---|
//! | empty line | nothing |
//! | first byte not `{` | `__error__=JSONParserErr`, details `expecting json object(6), but it is not` |
//! | scan error | `__error__=JSONParserErr` with the scanner's message; the line and labels stay unchanged |
//! | `"_entry": "…"` | replaces the line with the unescaped string (the last `_entry` wins) |
//! | other string members | become labels, **only if** an `_entry` member exists (Loki quirk); the `_extracted` check uses the raw key, then the name is sanitized; labels are written in order, so a later duplicate key overwrites an earlier one |
//! | non-string members | ignored |

use super::jsonscan::{ObjectCursor, ValueType, unescape};
use super::{DUPLICATE_SUFFIX, ErrorKind, LabelsBuilder, push_sanitized, push_value};

const NOT_AN_OBJECT: &str = "expecting json object(6), but it is not";
const ENTRY_KEY: &[u8] = b"_entry";

/// The `| unpack` parser.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{LabelsBuilder, UnpackParser};
///
/// let mut p = UnpackParser::new();
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{app="x"}"#).unwrap());
/// b.reset();
/// let line = p.process(br#"{"app":"y","pod":"p1","n":1,"_entry":"hello \"world\""}"#, &mut b);
/// assert_eq!(line, Some(&br#"hello "world""#[..]));
/// assert_eq!(b.label_string(), r#"{app="x", app_extracted="y", pod="p1"}"#);
/// ```
#[derive(Debug, Clone, Default)]
pub struct UnpackParser {
    key_buf: Vec<u8>,
    entry: Vec<u8>,
    raw: Vec<u8>,
    name: String,
    /// `(name, value)` pairs waiting for an `_entry`.
    pending: Vec<(String, String)>,
    pending_len: usize,
}

impl UnpackParser {
    /// A parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Unpacks `line`: adds its labels to `builder` and returns the
    /// replacement line, or `None` when the line stays as it is.
    pub fn process(&mut self, line: &[u8], builder: &mut LabelsBuilder) -> Option<&[u8]> {
        if line.is_empty() {
            return None;
        }
        if line.first() != Some(&b'{') {
            builder.set_parser_error(ErrorKind::JsonParser, Some(NOT_AN_OBJECT));
            return None;
        }
        self.pending_len = 0;
        let mut packed = false;
        let mut cursor = ObjectCursor::new();
        loop {
            let member = match cursor.next(line, &mut self.key_buf) {
                Ok(Some(m)) => m,
                Ok(None) => break,
                Err(e) => {
                    builder.set_parser_error(ErrorKind::JsonParser, Some(e.message()));
                    return None;
                }
            };
            if member.value.ty != ValueType::String {
                continue;
            }
            if member.key == ENTRY_KEY {
                self.entry.clear();
                if let Err(e) = unescape(member.value.bytes, &mut self.entry) {
                    builder.set_parser_error(ErrorKind::JsonParser, Some(e.message()));
                    return None;
                }
                packed = true;
                continue;
            }
            // The conflict check and first-writer-wins use the raw key.
            self.name.clear();
            push_value(&mut self.name, member.key);
            if builder.conflicts(&self.name) {
                self.name.push_str(DUPLICATE_SUFFIX);
            }
            if builder.was_extracted(&self.name) {
                continue;
            }
            if self.pending_len == self.pending.len() {
                self.pending.push((String::new(), String::new()));
            }
            self.pending_len += 1;
            let Some((name, val)) = self.pending.get_mut(self.pending_len - 1) else { continue };
            name.clear();
            push_sanitized(name, self.name.as_bytes());
            val.clear();
            self.raw.clear();
            if unescape(member.value.bytes, &mut self.raw).is_ok() {
                push_value(val, &self.raw);
            }
        }
        if !packed {
            return None;
        }
        for (name, value) in self.pending.iter().take(self.pending_len) {
            builder.set_label(name, value);
        }
        Some(&self.entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stream: &str, line: &str) -> (String, String) {
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        let mut p = UnpackParser::new();
        let out = p.process(line.as_bytes(), &mut b).map(|l| String::from_utf8_lossy(l).into_owned());
        (b.label_string().to_owned(), out.unwrap_or_else(|| line.to_owned()))
    }

    #[test]
    fn loki_cases() {
        let l = r#"{"bar":1,"app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}}"#;
        assert_eq!(
            run(r#"{cluster="us-central1"}"#, l),
            (r#"{app="foo", cluster="us-central1", namespace="prod"}"#.into(), "some message".into())
        );
        assert_eq!(
            run(r#"{cluster="us-central1", app="bar"}"#, l),
            (
                r#"{app="bar", app_extracted="foo", cluster="us-central1", namespace="prod"}"#.into(),
                "some message".into()
            )
        );
        let wrong = r#""app":"foo","namespace":"prod","_entry":"some message","pod":{"uid":"1"}"#;
        assert_eq!(
            run("{}", wrong),
            (
                r#"{__error__="JSONParserErr", __error_details__="expecting json object(6), but it is not"}"#.into(),
                wrong.into()
            )
        );
        assert_eq!(run(r#"{cluster="us-central1"}"#, ""), (r#"{cluster="us-central1"}"#.into(), "".into()));
        let no_entry = r#"{"bar":1,"app":"foo","namespace":"prod","pod":{"uid":"1"}}"#;
        assert_eq!(run(r#"{app="bar"}"#, no_entry), (r#"{app="bar"}"#.into(), no_entry.into()));
        assert_eq!(
            run("{}", r#"{"foo.bar":"10ms","test-dash":"foo","_entry":"some message"}"#),
            (r#"{foo_bar="10ms", test_dash="foo"}"#.into(), "some message".into())
        );
        assert_eq!(
            run("{}", r#"{"_entry":"I0303 \"Pod status updated\" pod=\"openshift-etcd\" status=Running"}"#).1,
            r#"I0303 "Pod status updated" pod="openshift-etcd" status=Running"#
        );
    }

    #[test]
    fn quirks() {
        assert_eq!(run("{}", r#"{"a":"1","a":"2","_entry":"x"}"#).0, r#"{a="2"}"#);
        assert_eq!(run("{}", r#"{"_entry":"x","_entry":"y"}"#).1, "y");
        assert_eq!(
            run("{}", r#"{"_entry":"\x"}"#).0,
            r#"{__error__="JSONParserErr", __error_details__="Encountered an invalid escape sequence in a string"}"#
        );
        assert_eq!(
            run("{}", r#"{"_entry":"x", "b":}"#),
            (
                r#"{__error__="JSONParserErr", __error_details__="Unknown value type"}"#.into(),
                r#"{"_entry":"x", "b":}"#.into()
            )
        );
        assert_eq!(run("{}", r#"{"a":"\x","_entry":"x"}"#).0, r#"{a=""}"#);
    }
}
