//! [`StoreError`].

use std::ops::Range;

/// An object store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No object under this key.
    #[error("object {key:?} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// The key is not a valid object key.
    #[error("invalid object key {key:?}: {reason}")]
    InvalidKey {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A range read reached past the end of the object.
    #[error("range {}..{} is outside object {key:?} of {size} bytes", range.start, range.end)]
    InvalidRange {
        /// The key.
        key: String,
        /// The range asked for.
        range: Range<u64>,
        /// The object size.
        size: u64,
    },
    /// A filesystem operation failed.
    #[error("{op} {key:?}: {source}")]
    Io {
        /// The operation (`put`, `get`, ...).
        op: &'static str,
        /// The key.
        key: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A remote store failed.
    #[error("{op} {key:?}: {message}")]
    Backend {
        /// The operation.
        op: &'static str,
        /// The key.
        key: String,
        /// The backend's message.
        message: String,
    },
    /// A fault injected by [`super::FaultyStore`].
    #[error("injected fault: {op} {key:?}")]
    Injected {
        /// The operation.
        op: &'static str,
        /// The key.
        key: String,
    },
}

impl StoreError {
    /// True for [`StoreError::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
