//! Read-time normalization of structured-metadata names (the OTLP label namer
//! Loki applies in its symbol lookup; `../shared/spec/chunk-format.md` §6).

use std::borrow::Cow;

/// Normalizes a structured-metadata name the way Loki does when it reads a chunk.
pub fn normalize_metadata_name(name: &str) -> Cow<'_, str> {
    if name.is_empty() || name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !name.contains("__") && !name.as_bytes()[0].is_ascii_digit() && !name.starts_with('_') {
        return Cow::Borrowed(name);
    }
    if name.starts_with("__") && !name.starts_with("___") {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        out.insert_str(0, "key_");
    }
    Cow::Owned(out)
}
