//! The permissive JSON scanner behind `json`, `json` with expressions and
//! `unpack`. Loki reads lines with the Go `jsonparser` library, which does
//! not validate JSON: it finds the ends of strings and blocks by counting
//! quotes and brackets, types scalars by their first byte, and reports
//! fixed error messages. What a stage extracts from a malformed line, and
//! the `__error_details__` it reports, depend on exactly those rules, so
//! they are reproduced here.
//!
//! | piece | rule |
//! |---|---|
//! | white space | `' ' \n \r \t` |
//! | string end | the next `"` not preceded by an odd run of `\` |
//! | block end | `{…}` / `[…]` by depth counting, skipping strings |
//! | scalar end | the next white space, `,`, `}` or `]` |
//! | scalar type | `t`/`f` must be `true`/`false`, `n`/`u` must be `null`, a digit or `-` is a number (not validated), anything else is an error |
//!
//! Every function is iterative (nesting costs heap, not stack). A nested
//! object is delimited by a block scan before it is walked, so a line
//! nested `d` deep costs O(d·n), as in Loki.

use std::fmt;

/// The value types of the scanner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ValueType {
    String,
    Number,
    Object,
    Array,
    Boolean,
    Null,
}

/// The scanner's errors; `Display` is `jsonparser`'s message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsonError {
    UnknownValueType,
    MalformedJson,
    MalformedString,
    MalformedArray,
    MalformedObject,
    MalformedStringEscape,
}

impl JsonError {
    pub(crate) fn message(self) -> &'static str {
        match self {
            Self::UnknownValueType => "Unknown value type",
            Self::MalformedJson => "Malformed JSON error",
            Self::MalformedString => "Value is string, but can't find closing '\"' symbol",
            Self::MalformedArray => "Value is array, but can't find closing ']' symbol",
            Self::MalformedObject => "Value looks like object, but can't find closing '}' symbol",
            Self::MalformedStringEscape => "Encountered an invalid escape sequence in a string",
        }
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\n' | b'\r' | b'\t')
}

/// The offset of the first non-white-space byte of `data`.
pub(crate) fn next_token(data: &[u8]) -> Option<usize> {
    data.iter().position(|&c| !is_ws(c))
}

/// The length of the scalar at the start of `data`.
fn token_end(data: &[u8]) -> usize {
    data.iter().position(|&c| is_ws(c) || matches!(c, b',' | b'}' | b']')).unwrap_or(data.len())
}

/// Given the bytes after an opening quote: the offset just past the
/// closing quote, and whether a backslash was seen before it.
pub(crate) fn string_end(data: &[u8]) -> (Option<usize>, bool) {
    let mut escaped = false;
    for (i, &c) in data.iter().enumerate() {
        if c == b'"' {
            if !escaped {
                return (Some(i + 1), false);
            }
            // The quote ends the string when an even run of backslashes
            // precedes it.
            let run = data.get(..i).unwrap_or_default().iter().rev().take_while(|&&b| b == b'\\').count();
            if run % 2 == 0 {
                return (Some(i + 1), true);
            }
        } else if c == b'\\' {
            escaped = true;
        }
    }
    (None, escaped)
}

/// Given `data` starting with `open`: the offset just past the matching
/// `close`, skipping strings.
pub(crate) fn block_end(data: &[u8], open: u8, close: u8) -> Option<usize> {
    let mut level = 0i64;
    let mut i = 0;
    while let Some(&c) = data.get(i) {
        if c == b'"' {
            let (end, _) = string_end(data.get(i + 1..).unwrap_or_default());
            i += end?;
        } else if c == open {
            level += 1;
        } else if c == close {
            level -= 1;
            if level == 0 {
                return Some(i + 1);
            }
        }
        i += 1;
    }
    None
}

/// A value found by [`get_value`]: its bytes (strings without quotes,
/// still escaped), type, and where it ends in the scanned slice.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Value<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) ty: ValueType,
    /// A string holding a backslash (it needs [`unescape`]).
    pub(crate) escaped: bool,
    /// Where `bytes` starts in the scanned slice.
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// The value at the start of `data` (after white space).
pub(crate) fn get_value(data: &[u8]) -> Result<Value<'_>, JsonError> {
    let start = next_token(data).ok_or(JsonError::MalformedJson)?;
    let rest = data.get(start..).unwrap_or_default();
    let Some(&first) = rest.first() else { return Err(JsonError::MalformedJson) };
    let mut escaped = false;
    let (ty, len) = match first {
        b'"' => {
            let (end, esc) = string_end(rest.get(1..).unwrap_or_default());
            escaped = esc;
            (ValueType::String, end.ok_or(JsonError::MalformedString)? + 1)
        }
        b'[' => (ValueType::Array, block_end(rest, b'[', b']').ok_or(JsonError::MalformedArray)?),
        b'{' => (ValueType::Object, block_end(rest, b'{', b'}').ok_or(JsonError::MalformedObject)?),
        _ => {
            let len = token_end(rest);
            let tok = rest.get(..len).unwrap_or_default();
            let ty = match first {
                b't' | b'f' if tok == b"true" || tok == b"false" => ValueType::Boolean,
                b'n' | b'u' if tok == b"null" => ValueType::Null,
                b'0'..=b'9' | b'-' => ValueType::Number,
                _ => return Err(JsonError::UnknownValueType),
            };
            (ty, len)
        }
    };
    let mut bytes = rest.get(..len).unwrap_or_default();
    let mut value_start = start;
    if ty == ValueType::String {
        bytes = bytes.get(1..len - 1).unwrap_or_default();
        value_start += 1;
    }
    Ok(Value { bytes, ty, escaped, start: value_start, end: start + len })
}

/// Unescapes a JSON string body into `out` (appending), as `jsonparser`
/// does: the two-character escapes, `\uXXXX` with surrogate pairs (a high
/// surrogate needs a following escape whose value is at least `DC00`;
/// the second `\u` itself is not checked); invalid code points become
/// U+FFFD. Fails on any other escape.
pub(crate) fn unescape(input: &[u8], out: &mut Vec<u8>) -> Result<(), JsonError> {
    let mut rest = input;
    while let Some(pos) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(rest.get(..pos).unwrap_or_default());
        rest = rest.get(pos..).unwrap_or_default();
        let consumed = match rest.get(1) {
            Some(&e @ (b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't')) => {
                out.push(match e {
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    other => other,
                });
                2
            }
            Some(b'u') => {
                let (c, len) = unicode_escape(rest).ok_or(JsonError::MalformedStringEscape)?;
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                len
            }
            _ => return Err(JsonError::MalformedStringEscape),
        };
        rest = rest.get(consumed..).unwrap_or_default();
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// The four hex digits at `s[2..6]`.
fn hex4(s: &[u8]) -> Option<u32> {
    let digits = s.get(2..6)?;
    digits.iter().try_fold(0u32, |acc, &c| Some(acc << 4 | char::from(c).to_digit(16)?))
}

/// Decodes `\uXXXX` (or a surrogate pair) at the start of `s`.
fn unicode_escape(s: &[u8]) -> Option<(char, usize)> {
    let r = hex4(s)?;
    if !(0xd800..=0xdfff).contains(&r) {
        return Some((char::from_u32(r).unwrap_or('\u{fffd}'), 6));
    }
    let r2 = hex4(s.get(6..)?)?;
    if r2 < 0xdc00 {
        return None;
    }
    let combined = 0x10000 + ((r - 0xd800) << 10) + (r2 - 0xdc00);
    Some((char::from_u32(combined).unwrap_or('\u{fffd}'), 12))
}

/// One member of an object, from [`ObjectCursor::next`].
pub(crate) struct Member<'a> {
    /// The key, unescaped.
    pub(crate) key: &'a [u8],
    pub(crate) value: Value<'a>,
    /// Where `value.bytes` starts in the cursor's data.
    pub(crate) value_start: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorState {
    Start,
    AfterValue,
    Done,
}

/// Walks the members of the object at the start of some data, in order
/// (`jsonparser.ObjectEach`, one member per call so callers can descend
/// into nested objects without recursion). Trailing bytes after the
/// object are ignored. The caller passes the same data to every call.
#[derive(Debug, Clone)]
pub(crate) struct ObjectCursor {
    off: usize,
    state: CursorState,
}

impl ObjectCursor {
    pub(crate) fn new() -> Self {
        Self { off: 0, state: CursorState::Start }
    }

    /// The next member; `Ok(None)` after the closing brace. Keys with
    /// escapes are unescaped into `key_buf`. After an error the cursor is
    /// done.
    pub(crate) fn next<'a>(
        &mut self,
        data: &'a [u8],
        key_buf: &'a mut Vec<u8>,
    ) -> Result<Option<Member<'a>>, JsonError> {
        let r = self.step(data, key_buf);
        if !matches!(r, Ok(Some(_))) {
            self.state = CursorState::Done;
        }
        r
    }

    fn step<'a>(&mut self, data: &'a [u8], key_buf: &'a mut Vec<u8>) -> Result<Option<Member<'a>>, JsonError> {
        use JsonError::*;
        let mut off = self.off;
        let tail = |off: usize| data.get(off..).unwrap_or_default();
        match self.state {
            CursorState::Done => return Ok(None),
            CursorState::Start => {
                off = next_token(data).ok_or(MalformedObject)?;
                if data.get(off) != Some(&b'{') {
                    return Err(MalformedObject);
                }
                off += 1;
                off += next_token(tail(off)).ok_or(MalformedJson)?;
                if data.get(off) == Some(&b'}') {
                    return Ok(None);
                }
            }
            CursorState::AfterValue => {
                off += next_token(tail(off)).ok_or(MalformedArray)?;
                match data.get(off) {
                    Some(b'}') => return Ok(None),
                    Some(b',') => off += 1,
                    _ => return Err(MalformedObject),
                }
                off += next_token(tail(off)).ok_or(MalformedArray)?;
            }
        }
        if off >= data.len() {
            return Err(MalformedObject);
        }
        match data.get(off) {
            Some(b'"') => off += 1,
            Some(b'}') => return Ok(None),
            _ => return Err(MalformedObject),
        }
        let (end, escaped) = string_end(tail(off));
        let end = end.ok_or(MalformedJson)?;
        let raw_key = data.get(off..off + end - 1).unwrap_or_default();
        off += end;
        let key: &[u8] = if escaped {
            key_buf.clear();
            unescape(raw_key, key_buf).map_err(|_| MalformedStringEscape)?;
            key_buf
        } else {
            raw_key
        };
        off += next_token(tail(off)).ok_or(MalformedJson)?;
        if data.get(off) != Some(&b':') {
            return Err(MalformedJson);
        }
        off += 1;
        let value = get_value(tail(off))?;
        let value_start = off + value.start;
        self.off = off + value.end;
        self.state = CursorState::AfterValue;
        Ok(Some(Member { key, value, value_start }))
    }
}

/// Walks the members of the object at the start of `data`, calling `f`
/// for each; `f` may stop the walk with its own error.
#[cfg(test)]
pub(crate) fn object_each<E>(
    data: &[u8],
    key_buf: &mut Vec<u8>,
    mut f: impl FnMut(Member<'_>) -> Result<(), E>,
) -> Result<(), ObjectEachError<E>> {
    let mut cursor = ObjectCursor::new();
    while let Some(m) = cursor.next(data, key_buf)? {
        f(m).map_err(ObjectEachError::Callback)?;
    }
    Ok(())
}

/// An [`object_each`] failure: the scanner's, or the callback's.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectEachError<E> {
    Json(JsonError),
    Callback(E),
}

#[cfg(test)]
impl<E> From<JsonError> for ObjectEachError<E> {
    fn from(e: JsonError) -> Self {
        Self::Json(e)
    }
}

/// Walks the elements of the array at the start of `data`
/// (`jsonparser.ArrayEach`): calls `f(value, offset of its first byte)`
/// for each (a string's opening quote) and returns the offset where the walk ended (the closing `]` when
/// it succeeded), with the error that stopped it, if any.
pub(crate) fn array_each<'a>(data: &'a [u8], mut f: impl FnMut(Value<'a>, usize)) -> (usize, Option<JsonError>) {
    if data.is_empty() {
        return (0, Some(JsonError::MalformedObject));
    }
    let Some(first) = next_token(data) else { return (0, Some(JsonError::MalformedJson)) };
    let mut off = first + 1;
    match next_token(data.get(off..).unwrap_or_default()) {
        Some(n) => off += n,
        None => return (off, Some(JsonError::MalformedJson)),
    }
    if data.get(off) == Some(&b']') {
        return (off, None);
    }
    loop {
        let value = match get_value(data.get(off..).unwrap_or_default()) {
            Ok(v) => v,
            Err(e) => return (off, Some(e)),
        };
        if value.end == 0 {
            break;
        }
        // The offset of the value's first byte (a string's opening quote).
        let quote = usize::from(value.ty == ValueType::String);
        f(value, off + value.start - quote);
        off += value.end;
        match next_token(data.get(off..).unwrap_or_default()) {
            Some(n) => off += n,
            None => return (off, Some(JsonError::MalformedArray)),
        }
        match data.get(off) {
            Some(b']') => break,
            Some(b',') => off += 1,
            _ => return (off, Some(JsonError::MalformedArray)),
        }
    }
    (off, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(data: &[u8]) -> Result<Vec<(String, String, ValueType)>, JsonError> {
        let mut out = Vec::new();
        let mut buf = Vec::new();
        object_each::<()>(data, &mut buf, |m| {
            out.push((
                String::from_utf8_lossy(m.key).into_owned(),
                String::from_utf8_lossy(m.value.bytes).into_owned(),
                m.value.ty,
            ));
            Ok(())
        })
        .map_err(|e| match e {
            ObjectEachError::Json(j) => j,
            ObjectEachError::Callback(()) => unreachable!(),
        })?;
        Ok(out)
    }

    #[test]
    fn objects() {
        let m = members(br#" {"a":1, "b" : "x\"y", "c":{"d":[1,2]}, "e":null, "f":true, "g":[]} trailing"#).unwrap();
        assert_eq!(m.len(), 6);
        assert_eq!(m[1], ("b".into(), r#"x\"y"#.into(), ValueType::String));
        assert_eq!(m[2], ("c".into(), r#"{"d":[1,2]}"#.into(), ValueType::Object));
        assert_eq!(m[3].2, ValueType::Null);
        assert_eq!(members(br#"{"k\u0041":1}"#).unwrap()[0].0, "kA");
        assert_eq!(members(b"{}").unwrap(), []);
        assert_eq!(members(b"{n}"), Err(JsonError::MalformedObject));
        assert_eq!(members(b""), Err(JsonError::MalformedObject));
        assert_eq!(members(b"x"), Err(JsonError::MalformedObject));
        assert_eq!(members(b"{"), Err(JsonError::MalformedJson));
        assert_eq!(members(br#"{"a":}"#), Err(JsonError::UnknownValueType));
        assert_eq!(members(br#"{"a":tru}"#), Err(JsonError::UnknownValueType));
        assert_eq!(members(br#"{"a":"x}"#), Err(JsonError::MalformedString));
        assert_eq!(members(br#"{"a":1"#), Err(JsonError::MalformedArray));
        assert_eq!(members(br#"{"a":1 x"#), Err(JsonError::MalformedObject));
        assert_eq!(members(br#"{"a" 1}"#), Err(JsonError::MalformedJson));
        assert_eq!(members(br#"{"\x":1}"#), Err(JsonError::MalformedStringEscape));
        assert_eq!(members(br#"{"a":-x}"#).unwrap()[0].1, "-x");
    }

    #[test]
    fn unescaping() {
        let u = |s: &[u8]| {
            let mut out = Vec::new();
            unescape(s, &mut out).map(|()| String::from_utf8_lossy(&out).into_owned())
        };
        assert_eq!(u(br#"a\"b\\c\/\n\t"#), Ok("a\"b\\c/\n\t".into()));
        assert_eq!(u(br#"\u00e9\ud83d\ude00"#), Ok("é😀".into()));
        assert_eq!(u(br#"\udc00\udc00"#), Ok("\u{fffd}".into()));
        assert_eq!(u(br#"\ud800"#), Err(JsonError::MalformedStringEscape));
        assert_eq!(u(br#"\ud800\u0041"#), Err(JsonError::MalformedStringEscape));
        assert_eq!(u(br#"\x"#), Err(JsonError::MalformedStringEscape));
        assert_eq!(u(br"\'"), Err(JsonError::MalformedStringEscape));
        assert_eq!(u(br"\u12"), Err(JsonError::MalformedStringEscape));
    }

    #[test]
    fn arrays() {
        let mut seen = Vec::new();
        let data = br#"[1, "two", {"a":3}]"#;
        let (end, err) =
            array_each(data, |v, off| seen.push((v.ty, off, String::from_utf8_lossy(v.bytes).into_owned())));
        assert_eq!((end, err), (data.len() - 1, None));
        assert_eq!(seen[1], (ValueType::String, 4, "two".into()));
        assert_eq!(&data[seen[2].1..seen[2].1 + 7], br#"{"a":3}"#);
        assert_eq!(array_each(b"[]", |_, _| {}), (1, None));
        assert_eq!(array_each(b"[1 2]", |_, _| {}).1, Some(JsonError::MalformedArray));
    }

    #[test]
    fn ends() {
        assert_eq!(string_end(br#"ab"x"#), (Some(3), false));
        assert_eq!(string_end(br#"a\"b"x"#), (Some(5), true));
        assert_eq!(string_end(br#"a\\"x"#), (Some(4), true));
        assert_eq!(string_end(br#"abc"#), (None, false));
        assert_eq!(block_end(br#"{"}":{}}x"#, b'{', b'}'), Some(8));
        assert_eq!(block_end(b"{{}", b'{', b'}'), None);
    }
}
