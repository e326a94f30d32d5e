//! Tenant IDs, validated as Loki validates `X-Scope-OrgID` (dskit
//! `tenant.ValidTenantID` and `tenant.TenantID`,
//! vendor/github.com/grafana/dskit/tenant/).
//!
//! dskit checks, in this order: every byte is one of `[A-Za-z0-9!-_.*'()]`,
//! the ID is at most 150 bytes, and it is neither `.` nor `..`. An ID that
//! passes is safe as a path component: no `/`, `\`, NUL or other control
//! byte, no non-ASCII, and no `.`/`..`. dskit itself accepts the empty ID
//! (the empty header is refused earlier, with "no org id"); here the empty
//! ID is always refused, with that message, since it would name the root of
//! a store.

use std::fmt;

/// A validated tenant ID: 1..=150 bytes of `[A-Za-z0-9!-_.*'()]`, not `.` or
/// `..`.
///
/// # Examples
///
/// ```
/// use lokistore::TenantId;
///
/// assert_eq!(TenantId::new("team-a").unwrap().as_str(), "team-a");
/// assert_eq!(
///     TenantId::new("a/b").unwrap_err().to_string(),
///     "tenant ID 'a/b' contains unsupported character '/'"
/// );
/// assert_eq!(TenantId::from_org_id("team-a:source=test").unwrap().as_str(), "team-a");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

/// Why a tenant ID was rejected. Messages follow Loki's (dskit's).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// The ID is empty.
    #[error("no org id")]
    Empty,
    /// The ID is longer than 150 bytes.
    #[error("tenant ID is too long: max 150 characters")]
    TooLong,
    /// The ID is `.` or `..`.
    #[error("tenant ID is '.' or '..'")]
    Dots,
    /// The ID has a byte outside the allowed set.
    #[error("tenant ID '{id}' contains unsupported character '{ch}'")]
    UnsupportedCharacter {
        /// The whole ID.
        id: String,
        /// The first offending byte, as Go's `%c` prints a byte: the
        /// character with that code point (`é`, bytes C3 A9, is reported
        /// as `Ã`).
        ch: char,
    },
    /// An org ID header names more than one distinct tenant
    /// (`a|b`), where a single tenant is required.
    #[error("multiple org IDs present")]
    TooManyOrgIds,
}

/// Longest accepted tenant ID, in bytes.
pub const MAX_TENANT_ID_LEN: usize = 150;

/// Separates tenants in a multi-tenant org ID (`a|b`).
const TENANT_SEPARATOR: char = '|';
/// Starts the metadata suffix of an org ID (`tenant:key=value`).
const METADATA_SEPARATOR: char = ':';

impl TenantId {
    /// Validates `id` as a single tenant ID.
    pub fn new(id: impl Into<String>) -> Result<Self, TenantError> {
        let id = id.into();
        validate(&id)?;
        Ok(Self(id))
    }

    /// The tenant of an `X-Scope-OrgID` header value, as dskit's
    /// `tenant.TenantID` reads it for single-tenant endpoints such as push:
    /// the value may list the same tenant several times separated by `|`,
    /// and each part may carry metadata after a `:` (`team-a:source=k6`),
    /// which is dropped without being checked. Distinct tenants are
    /// [`TenantError::TooManyOrgIds`].
    pub fn from_org_id(org_id: &str) -> Result<Self, TenantError> {
        if org_id.is_empty() {
            return Err(TenantError::Empty);
        }
        let mut parts = org_id.split(TENANT_SEPARATOR);
        let first = trim_metadata(parts.next().unwrap_or_default());
        validate(first)?;
        if parts.any(|p| trim_metadata(p) != first) {
            return Err(TenantError::TooManyOrgIds);
        }
        Ok(Self(first.to_owned()))
    }

    /// The ID as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn trim_metadata(org_id: &str) -> &str {
    org_id.split_once(METADATA_SEPARATOR).map_or(org_id, |(id, _)| id)
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'!' | b'-' | b'_' | b'.' | b'*' | b'\'' | b'(' | b')')
}

fn validate(id: &str) -> Result<(), TenantError> {
    if id.is_empty() {
        return Err(TenantError::Empty);
    }
    if let Some(&b) = id.as_bytes().iter().find(|&&b| !allowed(b)) {
        return Err(TenantError::UnsupportedCharacter { id: id.to_owned(), ch: char::from(b) });
    }
    if id.len() > MAX_TENANT_ID_LEN {
        return Err(TenantError::TooLong);
    }
    if id == "." || id == ".." {
        return Err(TenantError::Dots);
    }
    Ok(())
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TenantId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for TenantId {
    type Err = TenantError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(id: &str) -> String {
        TenantId::new(id).unwrap_err().to_string()
    }

    #[test]
    fn accepts_the_allowed_set() {
        for id in ["a", "fake", "Tenant-01", "a.b", "...", ".a", "a..", "!-_.*'()", "x".repeat(150).as_str()] {
            assert_eq!(TenantId::new(id).unwrap().as_str(), id);
        }
    }

    #[test]
    fn messages_match_dskit() {
        assert_eq!(err(""), "no org id");
        assert_eq!(err("."), "tenant ID is '.' or '..'");
        assert_eq!(err(".."), "tenant ID is '.' or '..'");
        assert_eq!(err(&"x".repeat(151)), "tenant ID is too long: max 150 characters");
        assert_eq!(err("a/b"), "tenant ID 'a/b' contains unsupported character '/'");
        assert_eq!(err("a b"), "tenant ID 'a b' contains unsupported character ' '");
        // Go prints the offending byte with %c: the first byte of 'é'.
        assert_eq!(err("café"), "tenant ID 'café' contains unsupported character 'Ã'");
    }

    #[test]
    fn check_order_is_dskits() {
        // Characters before length, length before dots.
        let long_bad = format!("{}/", "x".repeat(200));
        assert!(matches!(TenantId::new(long_bad), Err(TenantError::UnsupportedCharacter { ch: '/', .. })));
    }

    #[test]
    fn nothing_escapes_a_directory() {
        for id in [".", "..", "/", "a/..", "../a", "a\\b", "\\", "a\0b", "\0", "a\nb", "C:x", "~/x", "a|b"] {
            assert!(TenantId::new(id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn org_id_header() {
        assert_eq!(TenantId::from_org_id("team").unwrap().as_str(), "team");
        assert_eq!(TenantId::from_org_id("team:source=k6").unwrap().as_str(), "team");
        assert_eq!(TenantId::from_org_id("team|team:a=b").unwrap().as_str(), "team");
        assert_eq!(TenantId::from_org_id("a|b"), Err(TenantError::TooManyOrgIds));
        assert_eq!(TenantId::from_org_id("a|b").unwrap_err().to_string(), "multiple org IDs present");
        assert_eq!(TenantId::from_org_id(""), Err(TenantError::Empty));
        assert_eq!(TenantId::from_org_id(":meta"), Err(TenantError::Empty));
        assert!(matches!(TenantId::from_org_id("a/b|c"), Err(TenantError::UnsupportedCharacter { .. })));
        assert!(matches!(TenantId::from_org_id("..:x"), Err(TenantError::Dots)));
    }
}
