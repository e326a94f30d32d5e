//! Tenant IDs, validated as Loki validates `X-Scope-OrgID` (dskit `tenant.ValidTenantID`).

use std::fmt;

/// A validated tenant ID: 1..=150 bytes of `[A-Za-z0-9!-_.*'()]`, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TenantId(String);

/// Why a tenant ID was rejected. Messages follow Loki's.
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
    /// The ID has a character outside the allowed set.
    #[error("tenant ID '{id}' contains unsupported character '{ch}'")]
    UnsupportedCharacter {
        /// The whole ID.
        id: String,
        /// The first offending character.
        ch: char,
    },
}

/// Longest accepted tenant ID, in bytes.
pub const MAX_TENANT_ID_LEN: usize = 150;

impl TenantId {
    /// Validates `id`.
    pub fn new(id: impl Into<String>) -> Result<Self, TenantError> {
        let id = id.into();
        validate(&id)?;
        Ok(Self(id))
    }

    /// The ID as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '!' | '-' | '_' | '.' | '*' | '\'' | '(' | ')')
}

fn validate(id: &str) -> Result<(), TenantError> {
    if id.is_empty() {
        return Err(TenantError::Empty);
    }
    if let Some(ch) = id.chars().find(|&c| !allowed(c)) {
        return Err(TenantError::UnsupportedCharacter { id: id.to_owned(), ch });
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
