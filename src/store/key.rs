//! Object key and list prefix validation, shared by every store.
//!
//! A key is a `/`-separated relative path:
//!
//! | rule | why |
//! |---|---|
//! | not empty | an object needs a name |
//! | no leading `/` | keys are relative to the store root |
//! | no empty, `.` or `..` segment | a key names exactly one place and never leaves the root |
//! | no NUL, no `\` | NUL ends C paths; `\` is a separator on Windows |
//!
//! A list prefix follows the same rules except that it may be empty, may end
//! with `/`, and its last segment may be a partial name (`ind` matches
//! `index/...`). Only the segments before the last `/` name directories.

use std::ops::Range;

use super::StoreError;

/// Checks that `key` is a valid object key: a non-empty `/`-separated
/// relative path with no empty, `.` or `..` segment, no leading `/`, and no
/// NUL or `\`.
///
/// # Errors
///
/// [`StoreError::InvalidKey`] naming the key and the broken rule.
///
/// # Examples
///
/// ```
/// use lokistore::store::validate_key;
///
/// assert!(validate_key("fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e").is_ok());
/// assert!(validate_key("index/index_19675/file.tsdb.gz").is_ok());
/// assert!(validate_key("../etc/passwd").is_err());
/// assert!(validate_key("/abs").is_err());
/// assert!(validate_key("a//b").is_err());
/// ```
pub fn validate_key(key: &str) -> Result<(), StoreError> {
    if key.is_empty() {
        return Err(invalid(key, "empty key"));
    }
    check_chars(key)?;
    if key.starts_with('/') {
        return Err(invalid(key, "leading '/'"));
    }
    key.split('/').try_for_each(|segment| check_segment(key, segment))
}

/// Checks that `prefix` is a valid list prefix: empty, or a key whose last
/// segment may be partial or empty (a trailing `/`).
///
/// # Errors
///
/// [`StoreError::InvalidKey`] naming the prefix and the broken rule.
pub fn validate_prefix(prefix: &str) -> Result<(), StoreError> {
    check_chars(prefix)?;
    if prefix.starts_with('/') {
        return Err(invalid(prefix, "leading '/'"));
    }
    // The partial last segment only filters names, so it may be anything
    // (even `.` or `..`, which match names like `...`); the directory part
    // names real directories and must be made of valid segments.
    let (dir, _partial) = split_prefix(prefix);
    if dir.is_empty() {
        return Ok(());
    }
    dir.split('/').try_for_each(|segment| check_segment(prefix, segment))
}

/// Splits a list prefix at its last `/`: the directory part (whole
/// segments, possibly empty) and the partial last segment.
pub(crate) fn split_prefix(prefix: &str) -> (&str, &str) {
    match prefix.rfind('/') {
        Some(at) => (&prefix[..at], &prefix[at + 1..]),
        None => ("", prefix),
    }
}

/// Rejects characters that are never allowed anywhere in a key.
fn check_chars(key: &str) -> Result<(), StoreError> {
    if key.contains('\0') {
        return Err(invalid(key, "contains a NUL byte"));
    }
    if key.contains('\\') {
        return Err(invalid(key, "contains '\\'"));
    }
    Ok(())
}

/// Rejects segments that are empty or that would move up or stay in place.
fn check_segment(key: &str, segment: &str) -> Result<(), StoreError> {
    match segment {
        "" => Err(invalid(key, "empty path segment")),
        "." => Err(invalid(key, "'.' path segment")),
        ".." => Err(invalid(key, "'..' path segment")),
        _ => Ok(()),
    }
}

/// Checks `range` against an object of `size` bytes and converts it to
/// slice bounds. Shared by all stores.
pub(crate) fn check_range(key: &str, range: &Range<u64>, size: u64) -> Result<Range<usize>, StoreError> {
    let bad = || StoreError::InvalidRange { key: key.to_owned(), range: range.clone(), size };
    if range.start > range.end || range.end > size {
        return Err(bad());
    }
    let start = usize::try_from(range.start).map_err(|_| bad())?;
    let end = usize::try_from(range.end).map_err(|_| bad())?;
    Ok(start..end)
}

/// Builds the error for `key`.
pub(crate) fn invalid(key: &str, reason: &'static str) -> StoreError {
    StoreError::InvalidKey { key: key.to_owned(), reason }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_loki_keys() {
        for key in [
            "a",
            "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e",
            "fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=",
            "index/index_19675/1700000000-ingester-1.tsdb.gz",
            "...",
            ".hidden",
            "a.b/c..d",
        ] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn rejects_bad_keys_with_reason() {
        for (key, reason) in [
            ("", "empty key"),
            ("/abs", "leading '/'"),
            ("a//b", "empty path segment"),
            ("a/", "empty path segment"),
            ("a/./b", "'.' path segment"),
            (".", "'.' path segment"),
            ("../x", "'..' path segment"),
            ("a/..", "'..' path segment"),
            ("a\0b", "contains a NUL byte"),
            ("a\\b", "contains '\\'"),
        ] {
            match validate_key(key) {
                Err(StoreError::InvalidKey { key: k, reason: r }) => {
                    assert_eq!((k.as_str(), r), (key, reason));
                }
                other => panic!("{key:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn prefixes() {
        for prefix in ["", "ind", "index/", "index/ind", "a/b/", "a/.", "a/.."] {
            assert!(validate_prefix(prefix).is_ok(), "{prefix}");
        }
        for prefix in ["/", "/a", "a//", "../", "a/../b", "./", "a\0", "a\\b"] {
            assert!(validate_prefix(prefix).is_err(), "{prefix}");
        }
        assert_eq!(split_prefix("index/ind"), ("index", "ind"));
        assert_eq!(split_prefix("index/"), ("index", ""));
        assert_eq!(split_prefix("ind"), ("", "ind"));
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(check_range("k", &(0..0), 0).unwrap(), 0..0);
        assert_eq!(check_range("k", &(2..5), 5).unwrap(), 2..5);
        assert!(check_range("k", &(2..6), 5).is_err());
        assert!(check_range("k", &(6..6), 5).is_err());
        #[expect(clippy::reversed_empty_ranges, reason = "a reversed range must be refused")]
        let reversed = 4..3;
        assert!(check_range("k", &reversed, 5).is_err());
    }
}
