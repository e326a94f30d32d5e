//! `| json label="path", …` (spec §3.5; Loki's `JSONExpressionParser`
//! and `log/jsonexpr`).
//!
//! Paths: `field`, `.field`, `["key"]`, `[index]`, chained (`a.b[0]["c d"]`);
//! fields are `[A-Za-z_][A-Za-z0-9_]*`; a `"…"` key ends at `"` or `]`
//! and has no escapes; white space between tokens is ignored.
//!
//! | found value | label |
//! |---|---|
//! | string | unescaped (U+FFFD and invalid UTF-8 → spaces; a bad escape → `""`) |
//! | number, `true`/`false` | the literal text |
//! | `null` | `""` |
//! | object | the raw JSON text |
//! | array | the raw JSON text, unescaped like a string (Loki quirk) |
//! | not found | `""`, unless the label name already exists (stream, metadata or parsed) |
//!
//! The line must start with `{`, `[` or `"` (no leading white space), else
//! `__error__=JSONParserErr` without details; an empty line is left alone.
//! A found label whose name is a stream or metadata label is stored as
//! `name_extracted`; found values overwrite earlier parsed labels.
//!
//! Lookup follows Loki's `jsonparser.EachKey`: one scan of the line that
//! tracks the nesting level and the last key seen per level, takes the
//! first occurrence of each path, descends into arrays only for paths that
//! index them, and reports malformed values as errors.
//!
//! Costs: one scan of the line (plus block scans to skip arrays), state
//! reused across lines.

use super::jsonscan::{ValueType, array_each, block_end, get_value, next_token, string_end, unescape};
use super::{DUPLICATE_SUFFIX, ErrorKind, LabelsBuilder, StageError, push_value};

/// One step of a JSON path: the syntax tree's
/// [`JsonPathPart`](crate::logql::JsonPathPart) (`Key` for `.field` and
/// `["key"]`, `Index` for `[0]`).
pub use crate::logql::extraction::JsonPathPart as JsonPathStep;
/// Parses a path expression (Loki's `jsonexpr.Parse`), shared with the
/// query parser's validation.
pub use crate::logql::extraction::parse_json_path;

/// Loki's string form of a path step: the key, or `[N]`.
fn step_bytes(step: &JsonPathStep) -> Vec<u8> {
    match step {
        JsonPathStep::Key(f) => f.as_bytes().to_vec(),
        JsonPathStep::Index(i) => format!("[{i}]").into_bytes(),
    }
}

/// The index of a `[N]` step (Go's `strconv.Atoi` of what is between the
/// brackets; 0 when that fails, as Loki ignores the error).
fn step_index(step: &[u8]) -> usize {
    let inner = step.get(1..step.len().saturating_sub(1)).unwrap_or_default();
    std::str::from_utf8(inner).ok().and_then(|s| s.parse::<usize>().ok()).unwrap_or(0)
}

/// Whether `path` agrees with the keys seen at each level so far.
fn same_tree(path: &[Vec<u8>], seen: &[Vec<u8>]) -> bool {
    path.iter().zip(seen).all(|(a, b)| a == b)
}

/// What [`each_key`] reports: a path index and its value, or an error.
type Found<'a> = Result<(usize, &'a [u8], ValueType), super::jsonscan::JsonError>;

/// State of [`each_key`], kept across lines.
#[derive(Debug, Clone, Default)]
struct Scan {
    done: Vec<bool>,
    seen: Vec<Vec<u8>>,
    wanted: Vec<usize>,
    indexed: Vec<bool>,
    key_buf: Vec<u8>,
}

/// Finds `paths` in `data` (`jsonparser.EachKey`) and reports each found
/// value (or error) to `f`.
fn each_key<'a>(data: &'a [u8], paths: &[Vec<Vec<u8>>], scan: &mut Scan, f: &mut dyn FnMut(Found<'a>)) {
    use super::jsonscan::JsonError::MalformedJson;
    let max_path = paths.iter().map(Vec::len).max().unwrap_or(0);
    scan.done.clear();
    scan.done.resize(paths.len(), false);
    scan.seen.resize(max_path, Vec::new());
    scan.seen.iter_mut().for_each(Vec::clear);
    let mut matched = 0;
    let mut level: i64 = 0;
    let len = data.len() as i64;
    let mut i: i64 = 0;
    let at = |i: i64| usize::try_from(i).ok().and_then(|i| data.get(i)).copied();
    let tail = |i: i64| usize::try_from(i).ok().and_then(|i| data.get(i..)).unwrap_or_default();
    while i < len {
        match at(i) {
            Some(b'"') => {
                i += 1;
                let key_begin = i;
                let (end, escaped) = string_end(tail(i));
                let Some(end) = end else { return };
                i += end as i64;
                let key_end = i - 1;
                let Some(next) = next_token(tail(i)) else { return };
                i += next as i64;
                if at(i) != Some(b':') {
                    // A value string: look at the byte after it next.
                    continue;
                }
                let raw = data.get(key_begin as usize..key_end as usize).unwrap_or_default();
                let key: &[u8] = if escaped {
                    scan.key_buf.clear();
                    if unescape(raw, &mut scan.key_buf).is_err() {
                        return;
                    }
                    &scan.key_buf
                } else {
                    raw
                };
                let mut found = false;
                if max_path as i64 >= level {
                    if level < 1 {
                        f(Err(MalformedJson));
                        return;
                    }
                    let lvl = level as usize;
                    if let Some(slot) = scan.seen.get_mut(lvl - 1) {
                        slot.clear();
                        slot.extend_from_slice(key);
                    }
                    for (pi, p) in paths.iter().enumerate() {
                        if p.len() != lvl
                            || scan.done.get(pi).copied().unwrap_or(true)
                            || p.get(lvl - 1).map(Vec::as_slice) != Some(key)
                            || !same_tree(p, scan.seen.get(..lvl).unwrap_or_default())
                        {
                            continue;
                        }
                        found = true;
                        matched += 1;
                        if let Some(d) = scan.done.get_mut(pi) {
                            *d = true;
                        }
                        f(get_value(tail(i + 1)).map(|v| (pi, v.bytes, v.ty)));
                        if matched == paths.len() {
                            break;
                        }
                    }
                    if matched == paths.len() {
                        return;
                    }
                }
                if !found && next_token(tail(i + 1)).is_none() {
                    // Nothing follows the colon: Loki's scan stops here.
                    return;
                }
            }
            Some(b'{') => level += 1,
            Some(b'}') | Some(b']') => level -= 1,
            Some(b'[') => {
                if level < 0 {
                    f(Err(MalformedJson));
                    return;
                }
                let lvl = level as usize;
                scan.wanted.clear();
                scan.indexed.clear();
                scan.indexed.resize(paths.len(), false);
                for (pi, p) in paths.iter().enumerate() {
                    let Some(step) = p.get(lvl) else { continue };
                    if scan.done.get(pi).copied().unwrap_or(true)
                        || step.first() != Some(&b'[')
                        || !same_tree(p, scan.seen.get(..lvl).unwrap_or_default())
                    {
                        continue;
                    }
                    if step.len() > 2 {
                        scan.wanted.push(step_index(step));
                        if let Some(x) = scan.indexed.get_mut(pi) {
                            *x = true;
                        }
                    }
                }
                if scan.wanted.is_empty() {
                    let Some(skip) = block_end(tail(i), b'[', b']') else { return };
                    i += skip as i64 - 1;
                } else {
                    level += 1;
                    let lvl = level as usize;
                    let mut current = 0usize;
                    let (wanted, indexed, done) = (&scan.wanted, &scan.indexed, &mut scan.done);
                    let (end, _) = array_each(tail(i), |value, _| {
                        if wanted.contains(&current) {
                            for (pi, p) in paths.iter().enumerate() {
                                if !indexed.get(pi).copied().unwrap_or(false) {
                                    continue;
                                }
                                if p.get(lvl - 1).map(|s| step_index(s)) != Some(current) {
                                    continue;
                                }
                                let rest = p.get(lvl..).unwrap_or_default();
                                let found = search_keys(value.bytes, rest);
                                matched += 1;
                                if let Some(d) = done.get_mut(pi) {
                                    *d = true;
                                }
                                if let Some(of) = found {
                                    let v = value.bytes.get(of..).unwrap_or_default();
                                    if value.ty == ValueType::String {
                                        f(Ok((pi, v, ValueType::String)));
                                    } else {
                                        f(get_value(v).map(|v| (pi, v.bytes, v.ty)));
                                    }
                                }
                            }
                        }
                        current += 1;
                    });
                    if matched == paths.len() {
                        return;
                    }
                    i += end as i64 - 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

/// Finds the value of the key path `keys` in `data` (`jsonparser`'s
/// `searchKeys`): the offset just past the last key's colon.
fn search_keys(data: &[u8], keys: &[Vec<u8>]) -> Option<usize> {
    if keys.is_empty() {
        return Some(0);
    }
    let mut key_level: i64 = 0;
    let mut level: i64 = 0;
    let mut last_matched = true;
    let mut i = 0usize;
    let mut key_buf = Vec::new();
    while let Some(&c) = data.get(i) {
        match c {
            b'"' => {
                i += 1;
                let begin = i;
                let (end, escaped) = string_end(data.get(i..).unwrap_or_default());
                i += end?;
                let key_end = i - 1;
                i += next_token(data.get(i..).unwrap_or_default())?;
                if data.get(i) == Some(&b':') {
                    if level < 1 {
                        return None;
                    }
                    let raw = data.get(begin..key_end).unwrap_or_default();
                    let key: &[u8] = if escaped {
                        key_buf.clear();
                        unescape(raw, &mut key_buf).ok()?;
                        &key_buf
                    } else {
                        raw
                    };
                    let want = keys.get(usize::try_from(level - 1).ok()?)?;
                    if key == want.as_slice() {
                        last_matched = true;
                        if key_level == level - 1 {
                            key_level += 1;
                            if key_level == keys.len() as i64 {
                                return Some(i + 1);
                            }
                        }
                    } else {
                        last_matched = false;
                    }
                } else {
                    i -= 1;
                }
            }
            b'{' => {
                if last_matched {
                    level += 1;
                } else {
                    i += block_end(data.get(i..).unwrap_or_default(), b'{', b'}')? - 1;
                }
            }
            b'}' => {
                level -= 1;
                if level == key_level {
                    key_level -= 1;
                }
            }
            b'[' => {
                let step = usize::try_from(level).ok().and_then(|l| keys.get(l)).filter(|_| key_level == level);
                if let Some(step) = step.filter(|s| s.first() == Some(&b'[')) {
                    if step.len() < 3 || step.last() != Some(&b']') {
                        return None;
                    }
                    let inner = std::str::from_utf8(step.get(1..step.len() - 1)?).ok()?;
                    let wanted: usize = inner.parse().ok()?;
                    let mut current = 0;
                    let mut found: Option<(usize, &[u8])> = None;
                    let arr = data.get(i..).unwrap_or_default();
                    array_each(arr, |value, off| {
                        if current == wanted {
                            let bytes = if value.ty == ValueType::String {
                                arr.get(off..off + value.bytes.len() + 2).unwrap_or_default()
                            } else {
                                value.bytes
                            };
                            found = Some((off, bytes));
                        }
                        current += 1;
                    });
                    let (off, bytes) = found?;
                    let sub = search_keys(bytes, keys.get(level as usize + 1..).unwrap_or_default())?;
                    return Some(i + off + sub);
                }
                i += block_end(data.get(i..).unwrap_or_default(), b'[', b']')? - 1;
            }
            b':' => return None,
            _ => {}
        }
        i += 1;
    }
    None
}

/// The `| json label="path", …` parser.
///
/// # Examples
///
/// ```
/// use lokistore::Labels;
/// use lokistore::logql::log::{JsonExpressionParser, LabelsBuilder};
///
/// let mut p = JsonExpressionParser::parse(&[("id", "user.id"), ("tag", "tags[1]"), ("obj", "user"), ("nope", "x.y")]).unwrap();
/// let mut b = LabelsBuilder::new(&Labels::parse(r#"{app="x"}"#).unwrap());
/// b.reset();
/// p.process(br#"{"user":{"id":7},"tags":["a","b"]}"#, &mut b);
/// assert_eq!(b.label_string(), r#"{app="x", id="7", nope="", obj="{\"id\":7}", tag="b"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct JsonExpressionParser {
    labels: Vec<String>,
    paths: Vec<Vec<Vec<u8>>>,
    scan: Scan,
    name: String,
    raw: Vec<u8>,
    value: String,
}

impl JsonExpressionParser {
    /// A parser for `(label, path)` pairs.
    ///
    /// # Errors
    ///
    /// [`StageError::InvalidLabelName`] for an empty label name.
    pub fn new(exprs: Vec<(String, Vec<JsonPathStep>)>) -> Result<Self, StageError> {
        let mut labels = Vec::with_capacity(exprs.len());
        let mut paths = Vec::with_capacity(exprs.len());
        for (label, path) in exprs {
            if label.is_empty() {
                return Err(StageError::InvalidLabelName { name: label });
            }
            labels.push(label);
            paths.push(path.iter().map(step_bytes).collect());
        }
        Ok(Self { labels, paths, scan: Scan::default(), name: String::new(), raw: Vec::new(), value: String::new() })
    }

    /// A parser for `(label, path expression)` pairs, parsing the paths.
    ///
    /// # Errors
    ///
    /// [`StageError::Expression`] for a path that does not parse
    /// (`cannot parse expression [a..b]: syntax error: unexpected DOT,
    /// expecting FIELD`), [`StageError::InvalidLabelName`].
    pub fn parse(exprs: &[(&str, &str)]) -> Result<Self, StageError> {
        let mut parsed = Vec::with_capacity(exprs.len());
        for &(label, expr) in exprs {
            let path = parse_json_path(expr)
                .map_err(|message| StageError::Expression { expression: expr.to_owned(), message })?;
            if label.is_empty() {
                return Err(StageError::InvalidLabelName { name: String::new() });
            }
            parsed.push((label.to_owned(), path));
        }
        Self::new(parsed)
    }

    /// Extracts the paths of `line` into `builder`.
    pub fn process(&mut self, line: &[u8], builder: &mut LabelsBuilder) {
        let Some(&first) = line.first() else { return };
        if !matches!(first, b'{' | b'[' | b'"') {
            builder.set_parser_error(ErrorKind::JsonParser, None);
            return;
        }
        let mut matches = 0;
        let (labels, name, raw, value) = (&self.labels, &mut self.name, &mut self.raw, &mut self.value);
        let mut report = |found: Found<'_>| match found {
            Err(e) => builder.set_parser_error(ErrorKind::JsonParser, Some(e.message())),
            Ok((idx, data, ty)) => {
                let Some(label) = labels.get(idx) else { return };
                name.clear();
                name.push_str(label);
                if builder.conflicts(label) {
                    name.push_str(DUPLICATE_SUFFIX);
                }
                value.clear();
                match ty {
                    ValueType::Null => {}
                    ValueType::Object => push_value(value, data),
                    _ => {
                        raw.clear();
                        if unescape(data, raw).is_ok() {
                            push_value(value, raw);
                        }
                    }
                }
                builder.set_label(name, value);
                matches += 1;
            }
        };
        each_key(line, &self.paths, &mut self.scan, &mut report);
        if matches < self.labels.len() {
            for label in &self.labels {
                if builder.get_with_category(label).is_none() {
                    builder.set_label(label, "");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(s: &str) -> Result<Vec<JsonPathStep>, String> {
        parse_json_path(s)
    }

    #[test]
    fn paths() {
        use JsonPathStep::{Index as I, Key as F};
        assert_eq!(path("a").unwrap(), [F("a".into())]);
        assert_eq!(
            path("pod.deployment.params[0]").unwrap(),
            [F("pod".into()), F("deployment".into()), F("params".into()), I(0)]
        );
        assert_eq!(path(r#"["field with space"]"#).unwrap(), [F("field with space".into())]);
        assert_eq!(path(r#"["pod"].uuid [ 2 ]"#).unwrap(), [F("pod".into()), F("uuid".into()), I(2)]);
        assert_eq!(path("[1]").unwrap(), [I(1)]);
        for (bad, msg) in [
            ("field with space", "syntax error: unexpected FIELD"),
            (r#""pod"]"#, "syntax error: unexpected STRING, expecting LSB or FIELD"),
            (r#"["pod""#, "syntax error: unexpected $end, expecting RSB"),
            (r#"["pod""uuid"]"#, "syntax error: unexpected STRING, expecting RSB"),
            ("pod..uuid", "syntax error: unexpected DOT, expecting FIELD"),
            ("", "syntax error: unexpected $end, expecting LSB or FIELD"),
            (".a", "syntax error: unexpected DOT, expecting LSB or FIELD"),
            ("a.", "syntax error: unexpected $end, expecting FIELD"),
            ("a[", "syntax error: unexpected $end, expecting STRING or INDEX"),
            ("a$", "unexpected char $"),
            ("a[1.5]", "syntax error: unexpected $end, expecting STRING or INDEX"),
            ("1", "syntax error: unexpected $end, expecting LSB or FIELD"),
        ] {
            assert_eq!(path(bad), Err(msg.to_owned()), "{bad}");
        }
        assert_eq!(
            JsonExpressionParser::parse(&[("app", "field with space")]).unwrap_err().to_string(),
            "cannot parse expression [field with space]: syntax error: unexpected FIELD"
        );
    }

    const LINE: &str = r#"{"app":"foo","field with space":"value","field with ÜFT8👌":"value","null_field":null,"bool_field":false,"namespace":"prod","pod":{"uuid":"foo","deployment":{"ref":"foobar", "params": [1,2,3,"string_value"]}}}"#;

    fn run(stream: &str, exprs: &[(&str, &str)], line: &str) -> String {
        let mut b = LabelsBuilder::new(&stream.parse().unwrap());
        b.reset();
        JsonExpressionParser::parse(exprs).unwrap().process(line.as_bytes(), &mut b);
        b.label_string().to_owned()
    }

    #[test]
    fn loki_cases() {
        for (exprs, want) in [
            (&[("app", "app")][..], r#"{app="foo"}"#),
            (&[("test", r#"["field with space"]"#)], r#"{test="value"}"#),
            (&[("app", "app"), ("namespace", "namespace")], r#"{app="foo", namespace="prod"}"#),
            (&[("utf8", r#"["field with ÜFT8👌"]"#)], r#"{utf8="value"}"#),
            (&[("uuid", "pod.uuid")], r#"{uuid="foo"}"#),
            (&[("uuid", r#"pod["uuid"]"#)], r#"{uuid="foo"}"#),
            (&[("uuid", r#"["pod"]["uuid"]"#)], r#"{uuid="foo"}"#),
            (&[("uuid", r#"["pod"].uuid"#)], r#"{uuid="foo"}"#),
            (&[("param", "pod.deployment.params[0]")], r#"{param="1"}"#),
            (&[("undefined", r#"pod[""]"#)], r#"{undefined=""}"#),
            (&[("param", r#"pod.deployment.params[""]"#)], r#"{param=""}"#),
            (&[("param", "pod.deployment.params[3]")], r#"{param="string_value"}"#),
            (&[("params", "pod.deployment.params")], r#"{params="[1,2,3,\"string_value\"]"}"#),
            (
                &[("deployment", "pod.deployment")],
                r#"{deployment="{\"ref\":\"foobar\", \"params\": [1,2,3,\"string_value\"]}"}"#,
            ),
            (&[("nope", "pod.nope")], r#"{nope=""}"#),
            (&[("nf", "null_field")], r#"{nf=""}"#),
            (&[("bool", "bool_field")], r#"{bool="false"}"#),
        ] {
            assert_eq!(run("{}", exprs, LINE), want, "{exprs:?}");
        }
        assert_eq!(run(r#"{uuid="bar"}"#, &[("uuid", "pod.uuid")], LINE), r#"{uuid="bar", uuid_extracted="foo"}"#);
        assert_eq!(
            run(r#"{uuid="bar"}"#, &[("request_size", "request.size.invalid")], LINE),
            r#"{request_size="", uuid="bar"}"#
        );
        assert_eq!(run("{}", &[("uuid", "pod.uuid")], "{}"), r#"{uuid=""}"#);
        assert_eq!(
            run(r#"{foo="bar"}"#, &[("uuid", "will.not.work")], "invalid json"),
            r#"{__error__="JSONParserErr", foo="bar"}"#
        );
        assert_eq!(run(r#"{foo="bar"}"#, &[("uuid", "will.not.work")], ""), r#"{foo="bar"}"#);
        assert_eq!(
            run("{}", &[("app", "app")], r#"{"app":"{ \"key\": \"value\", \"key2\":\"value2\"}"}"#),
            r#"{app="{ \"key\": \"value\", \"key2\":\"value2\"}"}"#
        );
        assert_eq!(
            run("{}", &[("app", "app")], r#"{"app":{"name":"great \"loki\""}}"#),
            r#"{app="{\"name\":\"great \\\"loki\\\"\"}"}"#
        );
        assert_eq!(run("{}", &[("app", "app")], r#"{"app":"foo","app":"duplicate"}"#), r#"{app="foo"}"#);
    }

    #[test]
    fn quirks_and_errors() {
        assert_eq!(
            run("{}", &[("a", "a")], r#"{"a":}"#),
            r#"{__error__="JSONParserErr", __error_details__="Unknown value type", a=""}"#
        );
        assert_eq!(run("{}", &[("a", "[0].a")], r#"[{"a":1},{"a":2}]"#), r#"{a="1"}"#);
        assert_eq!(run("{}", &[("a", "[1]")], r#"["x","y"]"#), r#"{a="y"}"#);
        assert_eq!(run("{}", &[("a", "a")], r#"[{"a":1}]"#), r#"{a=""}"#);
        assert_eq!(run("{}", &[("a", "b.c")], r#"{"a":{"c":1},"b":{"c":2}}"#), r#"{a="2"}"#);
        assert_eq!(run("{}", &[("a", "x[1].y")], r#"{"x":[{"y":1},{"y":2,"z":3}]}"#), r#"{a="2"}"#);
        assert_eq!(run("{}", &[("a", "a")], r#" {"a":1}"#), r#"{__error__="JSONParserErr"}"#);
        assert_eq!(
            run("{}", &[("a", "a")], r#""a":1"#),
            r#"{__error__="JSONParserErr", __error_details__="Malformed JSON error", a=""}"#
        );
    }
}
