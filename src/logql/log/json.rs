//! `| json` without arguments (spec §3.5; Loki's `JSONParser`).
//!
//! | rule | behaviour |
//! |---|---|
//! | line | must be a JSON object (leading white space allowed, trailing bytes ignored); otherwise `__error__=JSONParserErr` with the scanner's message, e.g. `Value looks like object, but can't find closing '}' symbol` |
//! | strings | unescaped; U+FFFD and invalid UTF-8 become spaces; a bad escape gives `""` |
//! | numbers | the literal text (not validated: `-x` is a "number") |
//! | booleans | `true` / `false` |
//! | null, arrays | skipped |
//! | objects | walked; the label name joins the sanitized keys with `_` (`{"a":{"b":1}}` → `a_b`) |
//! | names | per key: trimmed, characters outside `[A-Za-z0-9_]` → `_`, keys that trim to nothing are left out of the join; a leading digit of the whole name gets a `_` prefix; a top-level key that sanitizes to nothing is skipped |
//! | conflicts | a name equal to a stream or metadata label gets `_extracted` on its last key, then names already extracted on this line are skipped (duplicate keys: first wins) |
//! | errors | a scan error stops the walk; labels found before it stay |
//!
//! Costs: one pass over the line plus a block scan per nested object
//! (O(depth·n)); no allocation once the buffers have grown.

use super::jsonscan::{ObjectCursor, ValueType, unescape};
use super::labels_builder::name_hash;
use super::{DUPLICATE_SUFFIX, ErrorKind, LabelsBuilder, LineText, push_sanitized, push_value, trim_go_space};

/// The `| json` parser. Build once per query, call
/// [`process`](Self::process) per line.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{JsonParser, LabelsBuilder};
///
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{app="x"}"#).unwrap());
/// let mut json = JsonParser::new();
/// b.reset();
/// json.process(br#"{"app":"y","pod":{"id":7,"tags":["a"]},"ok":true,"n":null}"#, &mut b);
/// assert_eq!(b.label_string(), r#"{app="x", app_extracted="y", ok="true", pod_id="7"}"#);
/// ```
#[derive(Debug, Clone, Default)]
pub struct JsonParser {
    /// One frame per object being walked: its byte range and cursor.
    frames: Vec<(usize, usize, ObjectCursor)>,
    /// The raw keys of the enclosing objects, concatenated.
    segments: Vec<u8>,
    segment_ends: Vec<usize>,
    key_buf: Vec<u8>,
    name: String,
    raw_value: Vec<u8>,
    value: String,
}

impl JsonParser {
    /// A parser.
    pub fn new() -> Self {
        Self::default()
    }

    /// Extracts the labels of `line` into `builder`.
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
        self.frames.clear();
        self.segments.clear();
        self.segment_ends.clear();
        self.frames.push((0, line.len(), ObjectCursor::new()));
        let text = LineText::new(line);
        while let Some((start, end, cursor)) = self.frames.last_mut() {
            let data = line.get(*start..*end).unwrap_or_default();
            let base = *start;
            let member = match cursor.next(data, &mut self.key_buf) {
                Ok(Some(m)) => m,
                Ok(None) => {
                    self.frames.pop();
                    if self.segment_ends.pop().is_some() {
                        self.segments.truncate(self.segment_ends.last().copied().unwrap_or(0));
                    }
                    continue;
                }
                Err(e) => {
                    builder.set_parser_error(ErrorKind::JsonParser, Some(e.message()));
                    return true;
                }
            };
            // The key goes to the segment buffer: as a new level for an
            // object, temporarily for a nested scalar (a top-level scalar's
            // key is read where it is).
            let key_start = self.segments.len();
            let top_scalar = self.segment_ends.is_empty() && member.value.ty != ValueType::Object;
            // A top-level number or plain string of an ASCII line is its
            // own label value: no copy.
            let plain = matches!(member.value.ty, ValueType::Number)
                || (member.value.ty == ValueType::String && !member.value.escaped);
            if top_scalar
                && plain
                && let Some(v) = text.part(member.value.bytes)
            {
                if emit_top(&mut self.name, v, text, member.key, builder) && stop(&self.name, v) {
                    return false;
                }
                continue;
            }
            if !top_scalar {
                self.segments.extend_from_slice(member.key);
            }
            match member.value.ty {
                ValueType::Object => {
                    self.segment_ends.push(self.segments.len());
                    let from = base + member.value_start;
                    self.frames.push((from, from + member.value.bytes.len(), ObjectCursor::new()));
                    continue;
                }
                ValueType::String => {
                    self.value.clear();
                    if !member.value.escaped {
                        text.push_value(&mut self.value, member.value.bytes);
                    } else {
                        self.raw_value.clear();
                        if unescape(member.value.bytes, &mut self.raw_value).is_ok() {
                            push_value(&mut self.value, &self.raw_value);
                        }
                    }
                }
                ValueType::Boolean => {
                    self.value.clear();
                    self.value.push_str(if member.value.bytes == b"true" { "true" } else { "false" });
                }
                ValueType::Number => {
                    self.value.clear();
                    text.push_value(&mut self.value, member.value.bytes);
                }
                ValueType::Null | ValueType::Array => {
                    self.segments.truncate(key_start);
                    continue;
                }
            }
            let set = if top_scalar {
                emit_top(&mut self.name, &self.value, text, member.key, builder)
            } else {
                self.emit(key_start, builder)
            };
            self.segments.truncate(key_start);
            if set && stop(&self.name, &self.value) {
                return false;
            }
        }
        true
    }

    /// Adds the label for the key at `segments[key_start..]` inside the
    /// current objects, with value `self.value`.
    /// Returns whether the label was set.
    fn emit(&mut self, key_start: usize, builder: &mut LabelsBuilder) -> bool {
        if self.segment_ends.is_empty() {
            let key = std::mem::take(&mut self.segments);
            let k = key.get(key_start..).unwrap_or_default();
            let set = emit_top(&mut self.name, &self.value, LineText::new(&[]), k, builder);
            self.segments = key;
            return set;
        }
        self.name.clear();
        self.join(key_start, false);
        let mut hash = name_hash(&self.name);
        if builder.conflicts_h(&self.name, hash) {
            self.name.clear();
            self.join(key_start, true);
            hash = name_hash(&self.name);
        }
        builder.add_exact_h(&self.name, hash, &self.value)
    }

    /// Builds the nested name from the enclosing keys and the key at
    /// `segments[key_start..]` (with the duplicate suffix appended to that
    /// key when `suffix`).
    fn join(&mut self, key_start: usize, suffix: bool) {
        let mut from = 0;
        for &end in &self.segment_ends {
            push_segment(&mut self.name, self.segments.get(from..end).unwrap_or_default());
            from = end;
        }
        let key = self.segments.get(key_start..).unwrap_or_default();
        if suffix {
            // The suffix is part of the last key before it is trimmed and
            // sanitized (Loki appends it to the raw key).
            self.raw_value.clear();
            self.raw_value.extend_from_slice(key);
            self.raw_value.extend_from_slice(DUPLICATE_SUFFIX.as_bytes());
            push_segment(&mut self.name, &self.raw_value);
        } else {
            push_segment(&mut self.name, key);
        }
    }
}

/// [`JsonParser::emit`] for a key of the top-level object: the label
/// `name` (a buffer) with `value`; returns whether it was set.
fn emit_top(name: &mut String, value: &str, text: LineText<'_>, key: &[u8], builder: &mut LabelsBuilder) -> bool {
    name.clear();
    text.push_sanitized(name, key);
    if name.is_empty() {
        return false;
    }
    let mut hash = name_hash(name);
    if builder.conflicts_h(name, hash) {
        name.push_str(DUPLICATE_SUFFIX);
        hash = name_hash(name);
    }
    builder.add_exact_h(name, hash, value)
}

/// Appends one key to a nested name: skipped when it trims to nothing,
/// otherwise joined with `_`.
fn push_segment(name: &mut String, seg: &[u8]) {
    if trim_go_space(seg).is_empty() {
        return;
    }
    if !name.is_empty() {
        name.push('_');
    }
    push_sanitized(name, seg);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stream: &str, line: &str) -> String {
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        JsonParser::new().process(line.as_bytes(), &mut b);
        b.label_string().to_owned()
    }

    #[test]
    fn loki_cases() {
        assert_eq!(
            run("{}", r#"{"app":"foo","namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar"}}}"#),
            r#"{app="foo", namespace="prod", pod_deployment_ref="foobar", pod_uuid="foo"}"#
        );
        assert_eq!(
            run(
                r#"{app="foo", pod_uuid="foo"}"#,
                r#"{"app":"bar","namespace":"prod","pod":{"uuid":"bar","deployment":{"ref":"foobar"}}}"#
            ),
            r#"{app="foo", app_extracted="bar", namespace="prod", pod_deployment_ref="foobar", pod_uuid="foo", pod_uuid_extracted="bar"}"#
        );
        assert_eq!(
            run("{}", r#"{"counter":1, "price": {"_net_":5.56909}}"#),
            r#"{counter="1", price__net_="5.56909"}"#
        );
        assert_eq!(run("{}", r#"{" ": {"foo":"bar"}}"#), r#"{foo="bar"}"#);
        assert_eq!(run("{}", r#"{" ": {" ":"bar"}}"#), r#"{""="bar"}"#);
        assert_eq!(run("{}", r#"{"counter":1,"foo":"foo\\\"bar"}"#), r#"{counter="1", foo="foo\\\"bar"}"#);
        assert_eq!(run("{}", "{\"foo\":\"\u{fffd}\"}"), r#"{foo=" "}"#);
        assert_eq!(run("{}", r#"{"counter":1, "price": {"net_":["10","20"]}}"#), r#"{counter="1"}"#);
        assert_eq!(run("{}", r#"{"cou-nter":1}"#), r#"{cou_nter="1"}"#);
        assert_eq!(run("{}", r#"{"foo":{"cou-nter":1}}""#), r#"{foo_cou_nter="1"}"#);
        assert_eq!(
            run("{}", "{n}"),
            r#"{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"}"#
        );
    }

    #[test]
    fn quirks() {
        assert_eq!(run("{}", r#"{"a":1,"a":2}"#), r#"{a="1"}"#);
        assert_eq!(run("{}", r#"{"1":{"2":"x"}, "3": "y"}"#), r#"{_1_2="x", _3="y"}"#);
        assert_eq!(run("{}", r#"{" ":"skipped"}"#), "{}");
        assert_eq!(run("{}", r#"{"a":"\x"}"#), r#"{a=""}"#);
        assert_eq!(run("{}", r#"{"a":null,"b":true,"c":false}"#), r#"{b="true", c="false"}"#);
        assert_eq!(run(r#"{x_y="s"}"#, r#"{"x":{"y ":"v"}}"#), r#"{x_y="s", x_y__extracted="v"}"#);
        assert_eq!(
            run("{}", r#"{"a":1, "b":}"#),
            r#"{__error__="JSONParserErr", __error_details__="Unknown value type", a="1"}"#
        );
        assert_eq!(
            run("{}", ""),
            r#"{__error__="JSONParserErr", __error_details__="Value looks like object, but can't find closing '}' symbol"}"#
        );
        assert_eq!(run("{}", r#"{"a":{"b":{"c":"d"}},"e":1}"#), r#"{a_b_c="d", e="1"}"#);
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let line = format!("{}1{}", r#"{"a":"#.repeat(2_000), "}".repeat(2_000));
        let mut b = LabelsBuilder::new(&"{}".parse().unwrap());
        b.reset();
        JsonParser::new().process(line.as_bytes(), &mut b);
        assert_eq!(b.get(&vec!["a"; 2_000].join("_")), Some("1"));
    }
}
