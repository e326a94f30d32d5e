//! [`CompactorError`]: the ways the compactor itself refuses to work
//! (store and index failures are reported as [`crate::Error::Store`] and
//! [`crate::Error::Index`]).

use crate::error::Error;

/// Why the compactor refused or stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompactorError {
    /// Another compactor holds the store's lease.
    #[error("the compactor lease is held by {owner:?} until {expires_ms} ms (generation {generation})")]
    LeaseHeld {
        /// The holder's owner id.
        owner: String,
        /// When its lease expires, Unix ms.
        expires_ms: i64,
        /// The lease generation it holds.
        generation: u64,
    },
    /// This compactor's lease expired (or was taken over) before the work
    /// was done; it stopped before deleting anything more.
    #[error("the compactor lease of generation {generation} was lost")]
    LeaseLost {
        /// The generation that was held.
        generation: u64,
    },
    /// A lease object could not be read; nobody takes the lease over until
    /// it can be (or until an operator removes it).
    #[error("unreadable compactor lease {key:?}: {reason}")]
    CorruptLease {
        /// The lease object's key.
        key: String,
        /// Why it could not be read.
        reason: String,
    },
    /// A retention rule is invalid (bad selector, period under 24h).
    #[error("invalid retention rule {selector:?}: {reason}")]
    InvalidRetention {
        /// The rule's selector.
        selector: String,
        /// What is wrong.
        reason: String,
    },
}

impl CompactorError {
    /// The compactor error inside a root [`Error`], if it is one.
    pub fn from_error(e: &Error) -> Option<&CompactorError> {
        match e {
            Error::Compactor(c) => Some(c),
            _ => None,
        }
    }
}
