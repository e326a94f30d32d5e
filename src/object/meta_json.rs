//! The metadata JSON, written byte for byte as Loki's `Chunk.EncodeTo` does
//! with jsoniter's `ConfigFastest` (spec §9.2):
//!
//! ```text
//! {"fingerprint":<u64>,"userID":<string>,"from":<time>,"through":<time>,
//!  "metric":{"__name__":"logs",<label>:<value>,...},"ingestedAt":<time>,"encoding":<u8>}\n
//! ```
//!
//! (one line, no spaces). `metric` holds the stream labels plus
//! `__name__="logs"`, sorted by name (byte order). A `<time>` is Loki's
//! `encodeModelTime` of milliseconds: `-` if negative, then the whole
//! seconds, then, if the millisecond remainder is not 0, `.` and the
//! remainder zero-padded to 3 digits (`1700000000005` -> `1700000000.005`).
//!
//! Strings are escaped as jsoniter does without HTML escaping: `"` and `\`
//! are backslash-escaped, `\n` `\r` `\t` get their short escapes, the other
//! bytes below 0x20 become `\u00xx` (lowercase hex), and every other byte
//! (DEL, `<`, `>`, `&`, U+2028, all non-ASCII) is written raw. (jsoniter also
//! writes invalid UTF-8 raw; Rust strings cannot hold any.)

use std::io::Write as _;

use super::wrapper::ChunkObject;

/// The label Loki's ingester adds to every chunk's `metric`.
pub(super) const NAME_LABEL: &str = "__name__";
/// Its value.
pub(super) const NAME_VALUE: &str = "logs";

/// Appends the metadata JSON of `obj` and the trailing newline.
pub(super) fn write_json(out: &mut Vec<u8>, obj: &ChunkObject) {
    out.extend_from_slice(b"{\"fingerprint\":");
    push_display(out, obj.fingerprint.0);
    out.extend_from_slice(b",\"userID\":");
    write_string(out, &obj.tenant);
    out.extend_from_slice(b",\"from\":");
    write_model_time(out, obj.from_ms);
    out.extend_from_slice(b",\"through\":");
    write_model_time(out, obj.through_ms);
    out.extend_from_slice(b",\"metric\":{");
    let mut name_written = false;
    let mut first = true;
    let mut pair = |out: &mut Vec<u8>, name: &str, value: &str| {
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(out, name);
        out.push(b':');
        write_string(out, value);
    };
    for l in obj.labels.iter() {
        // The ingester *sets* `__name__`, so a stray one is replaced.
        if l.name == NAME_LABEL {
            continue;
        }
        if !name_written && l.name.as_str() > NAME_LABEL {
            pair(out, NAME_LABEL, NAME_VALUE);
            name_written = true;
        }
        pair(out, &l.name, &l.value);
    }
    if !name_written {
        pair(out, NAME_LABEL, NAME_VALUE);
    }
    out.extend_from_slice(b"},\"ingestedAt\":");
    write_model_time(out, obj.ingested_at_ms);
    out.extend_from_slice(b",\"encoding\":");
    push_display(out, obj.encoding);
    out.extend_from_slice(b"}\n");
}

fn push_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// Loki's `encodeModelTime`. For `i64::MIN`, whose negation overflows, this
/// reproduces Go's wrapped arithmetic (`--9223372036854775.00-808`), text
/// that neither Loki nor [`super::json_read`] can read back.
pub(super) fn write_model_time(out: &mut Vec<u8>, ms: i64) {
    let mut t = ms;
    if t < 0 {
        out.push(b'-');
        t = t.wrapping_neg();
    }
    push_display(out, t / 1000);
    let fraction = t % 1000;
    if fraction != 0 {
        out.push(b'.');
        if fraction < 100 {
            out.push(b'0');
        }
        if fraction < 10 {
            out.push(b'0');
        }
        push_display(out, fraction);
    }
}

/// jsoniter's `Stream.WriteString` with HTML escaping off.
pub(super) fn write_string(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if escape.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(b >> 4)]);
            out.push(HEX[usize::from(b & 0xf)]);
        } else {
            out.extend_from_slice(escape);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(ms: i64) -> String {
        let mut v = Vec::new();
        write_model_time(&mut v, ms);
        String::from_utf8(v).unwrap()
    }

    fn string(s: &str) -> String {
        let mut v = Vec::new();
        write_string(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn model_time_like_loki() {
        assert_eq!(time(0), "0");
        assert_eq!(time(1_700_000_000_000), "1700000000");
        assert_eq!(time(1_700_000_000_005), "1700000000.005");
        assert_eq!(time(1_700_000_000_050), "1700000000.050");
        assert_eq!(time(1_700_000_000_500), "1700000000.500");
        assert_eq!(time(1_768_010_322_891), "1768010322.891");
        assert_eq!(time(999), "0.999");
        assert_eq!(time(-1), "-0.001");
        assert_eq!(time(-1500), "-1.500");
        assert_eq!(time(i64::MAX), "9223372036854775.807");
        assert_eq!(time(i64::MIN), "--9223372036854775.00-808");
    }

    #[test]
    fn strings_like_jsoniter_fastest() {
        assert_eq!(string("plain"), r#""plain""#);
        assert_eq!(string("a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(string("\n\r\t"), r#""\n\r\t""#);
        assert_eq!(string("\u{0}\u{1}\u{8}\u{c}\u{1f}"), r#""\u0000\u0001\u0008\u000c\u001f""#);
        // No HTML escaping, DEL and non-ASCII raw, U+2028/9 raw.
        assert_eq!(string("<a&b>/\u{7f}"), "\"<a&b>/\u{7f}\"");
        assert_eq!(string("ünïcode-crew \u{2028}\u{2029} 🦀"), "\"ünïcode-crew \u{2028}\u{2029} 🦀\"");
    }
}
