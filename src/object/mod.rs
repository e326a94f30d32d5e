//! Stored chunk objects: the wrapper Loki puts around a chunk in object
//! storage, and the schema v13 object key.

/// A stored-object error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ObjectError {
    /// Placeholder while the module is written.
    #[error("object error")]
    Other,
}

/// A chunk object key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkKey;

/// A stored chunk object.
#[derive(Debug, Clone)]
pub struct ChunkObject;
