//! The root error type. Each component has its own error enum; [`Error`]
//! wraps them so an embedder can handle one type or match on the component.

use crate::chunk::{ChunkError, CodecError};
use crate::labels::LabelsError;
use crate::object::ObjectError;
use crate::tenant::TenantError;

/// Any lokistore error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A label set or selector was rejected.
    #[error(transparent)]
    Labels(#[from] LabelsError),
    /// A tenant ID was rejected.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// A chunk could not be built, encoded or decoded.
    #[error(transparent)]
    Chunk(#[from] ChunkError),
    /// A compressed stream could not be produced or read.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// A stored chunk object or key could not be encoded or decoded.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// A TSDB index could not be read, written or queried.
    #[error(transparent)]
    Index(#[from] crate::index::IndexError),
    /// The write-ahead log could not be written or replayed.
    #[error(transparent)]
    Wal(#[from] crate::wal::WalError),
    /// An object store operation failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The engine refused or could not complete an operation.
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    /// The compactor refused or could not complete a pass.
    #[error(transparent)]
    Compactor(#[from] crate::compactor::CompactorError),
    /// A delete request was refused or could not be read.
    #[error(transparent)]
    Delete(#[from] crate::compactor::DeleteError),
    /// A LogQL query could not be parsed or evaluated.
    #[error(transparent)]
    Query(Box<crate::logql::eval::EvalError>),
    /// An I/O error.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<crate::logql::eval::EvalError> for Error {
    fn from(e: crate::logql::eval::EvalError) -> Self {
        Self::Query(Box::new(e))
    }
}

impl From<crate::logql::ParseError> for Error {
    fn from(e: crate::logql::ParseError) -> Self {
        Self::Query(Box::new(e.into()))
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
