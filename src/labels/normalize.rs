//! Read-time normalization of structured-metadata names
//! (`../shared/spec/chunk-format.md` §6).
//!
//! When Loki decodes an entry it passes every structured-metadata name
//! through the OTLP label namer (`otlptranslator.LabelNamer{}.Build`, v1.0.0,
//! called from `symbolizer.Lookup` in pkg/chunkenc/symbols.go), with all its
//! options off:
//!
//! 1. A name of at least 4 bytes that starts and ends with `__` is
//!    "reserved": the rule below applies to the part between the wrappers
//!    and the wrappers are put back.
//! 2. Every character outside `[A-Za-z0-9]` (including `_` and every
//!    non-ASCII character) becomes `_`, and a run of such characters becomes
//!    a single `_`.
//! 3. A result starting with a digit gets the prefix `key_`.
//! 4. A result made only of underscores is an error
//!    (`normalization for label name "_" resulted in invalid name "_"`),
//!    and Loki fails the whole read with it.
//!
//! The empty name is not passed to the namer (`Lookup` keeps `""`).

use std::borrow::Cow;

use super::LabelsError;

/// Normalizes a structured-metadata name the way Loki does when it reads a
/// chunk: `a.b` -> `a_b`, `a__b` -> `a_b`, `1x` -> `key_1x`, `__x__`
/// unchanged. Names that are already normalized are returned borrowed,
/// without allocating.
///
/// For the names Loki refuses (those that normalize to underscores only,
/// such as `_`, `.`, `____`), this returns the all-underscore name; use
/// [`try_normalize_metadata_name`] to get Loki's error instead.
pub fn normalize_metadata_name(name: &str) -> Cow<'_, str> {
    match build(name) {
        Ok(n) | Err(n) => n,
    }
}

/// Like [`normalize_metadata_name`], but fails where Loki fails: when the
/// normalized name would consist of underscores only
/// ([`LabelsError::InvalidMetadataName`]). Loki then aborts reading the
/// chunk with `symbolizer lookup: <this error>`.
#[allow(dead_code, reason = "public API, re-exported from the crate root")]
pub fn try_normalize_metadata_name(name: &str) -> Result<Cow<'_, str>, LabelsError> {
    build(name).map_err(|normalized| LabelsError::InvalidMetadataName {
        name: name.to_owned(),
        normalized: normalized.into_owned(),
    })
}

fn is_kept(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

/// The namer's result: `Err` holds the all-underscore name Loki refuses.
fn build(name: &str) -> Result<Cow<'_, str>, Cow<'_, str>> {
    if name.is_empty() {
        return Ok(Cow::Borrowed(name));
    }
    let reserved = name.len() >= 4 && name.starts_with("__") && name.ends_with("__");
    let body = if reserved { &name[2..name.len() - 2] } else { name };
    // The sanitizer keeps `body` as it is exactly when every character is
    // kept or `_` and no two underscores are adjacent.
    let unchanged = body.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !body.contains("__");
    let sanitized = if unchanged {
        Cow::Borrowed(name)
    } else {
        let mut out = String::with_capacity(name.len() + 4);
        if reserved {
            out.push_str("__");
        }
        let mut after_underscore = false;
        for c in body.chars() {
            if is_kept(c) {
                out.push(c);
                after_underscore = false;
            } else if !after_underscore {
                out.push('_');
                after_underscore = true;
            }
        }
        if reserved {
            out.push_str("__");
        }
        Cow::Owned(out)
    };
    let normalized = if sanitized.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        Cow::Owned(format!("key_{sanitized}"))
    } else {
        sanitized
    };
    if normalized.bytes().all(|b| b == b'_') { Err(normalized) } else { Ok(normalized) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A direct port of the namer, always allocating: the oracle for the
    /// fast path.
    fn naive(name: &str) -> Result<String, String> {
        if name.is_empty() {
            return Ok(String::new());
        }
        let (pre, body, post) = if name.len() >= 4 && name.starts_with("__") && name.ends_with("__") {
            ("__", &name[2..name.len() - 2], "__")
        } else {
            ("", name, "")
        };
        let mut s = String::new();
        let mut prev = false;
        for c in body.chars() {
            if c.is_ascii_alphanumeric() {
                s.push(c);
                prev = false;
            } else if !prev {
                s.push('_');
                prev = true;
            }
        }
        let mut s = format!("{pre}{s}{post}");
        if s.starts_with(|c: char| c.is_ascii_digit()) {
            s = format!("key_{s}");
        }
        if s.chars().all(|c| c == '_') { Err(s) } else { Ok(s) }
    }

    #[test]
    fn examples() {
        let cases = [
            ("a.b", "a_b"),
            ("a__b", "a_b"),
            ("1x", "key_1x"),
            ("__x__", "__x__"),
            ("__name__", "__name__"),
            ("trace_id", "trace_id"),
            ("_x", "_x"),
            ("__x", "_x"),
            ("x__", "x_"),
            ("x_", "x_"),
            ("___x__", "___x__"),
            ("__x___", "__x___"),
            ("__a.b__", "__a_b__"),
            ("__a__b__", "__a_b__"),
            ("__1__", "__1__"),
            ("1", "key_1"),
            ("1.2", "key_1_2"),
            ("9__", "key_9_"),
            ("-x", "_x"),
            ("a.ü.b", "a_b"),
            ("a..b", "a_b"),
            ("a._b", "a_b"),
            ("http.status-code", "http_status_code"),
            ("k8s.pod.name", "k8s_pod_name"),
            ("Ünïcode", "_n_code"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(normalize_metadata_name(input), want, "{input:?}");
            assert_eq!(try_normalize_metadata_name(input).unwrap(), want, "{input:?}");
        }
    }

    #[test]
    fn borrowed_when_unchanged() {
        for name in ["a", "a_b", "__x__", "_x", "x_", "___x__", "trace_id", "A9", ""] {
            assert!(matches!(normalize_metadata_name(name), Cow::Borrowed(_)), "{name:?}");
        }
        for name in ["a.b", "a__b", "1x", "__x"] {
            assert!(matches!(normalize_metadata_name(name), Cow::Owned(_)), "{name:?}");
        }
    }

    #[test]
    fn underscores_only_is_an_error() {
        for (name, normalized) in [
            ("_", "_"),
            ("__", "_"),
            ("___", "_"),
            ("____", "____"),
            ("_____", "_____"),
            ("__.__", "_____"),
            (".", "_"),
            ("..", "_"),
            ("ü", "_"),
            ("-_-", "_"),
        ] {
            assert_eq!(normalize_metadata_name(name), normalized, "{name:?}");
            let e = try_normalize_metadata_name(name).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("normalization for label name \"{name}\" resulted in invalid name \"{normalized}\""),
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn matches_naive_port(name in "[_.a1é-]{0,8}|\\PC{0,12}") {
            let got = try_normalize_metadata_name(&name);
            match (naive(&name), got) {
                (Ok(want), Ok(got)) => {
                    proptest::prop_assert_eq!(&want, &got);
                    proptest::prop_assert_eq!(matches!(got, Cow::Borrowed(_)), want == name);
                }
                (Err(want), Err(LabelsError::InvalidMetadataName { normalized, .. })) => {
                    proptest::prop_assert_eq!(want, normalized);
                }
                (want, got) => proptest::prop_assert!(false, "{:?} vs {:?}", want, got),
            }
        }
    }
}
