//! Object stores: where flushed chunks and index files live.
//!
//! A small synchronous [`ObjectStore`] trait (put, get, get_range, head,
//! list, delete, put_if_absent) with implementations in the core and one
//! behind a cargo feature:
//!
//! | file | store |
//! |---|---|
//! | `local.rs` | [`LocalFsStore`]: a directory; atomic writes (temp file + fsync + rename + directory fsync) |
//! | `memory.rs` | [`MemoryStore`]: a map in memory (tests, ephemeral engines) |
//! | `fault.rs` | [`FaultyStore`]: wraps another store and fails or truncates chosen operations (crash-safety tests) |
//! | `cloud.rs` | `CloudStore` (feature `cloud`): any store of the `object_store` crate, blocking on a private runtime |
//! | `providers.rs` | `S3Config` and `CloudStore::s3` (feature `s3`), `CloudStore::gcs` (`gcs`), `CloudStore::azure` (`azure`) |
//! | `key.rs` | key validation shared by all stores |
//!
//! Keys are `/`-separated relative paths: non-empty, no empty, `.` or `..`
//! segment, no leading `/`, no NUL or `\`. Loki's layout under a store
//! (schema v13): chunk objects at [`ObjectStore::chunk_path`] of their
//! [`ChunkKey`] (`<tenant>/<fp>/<from>:<through>:<crc>`,
//! base64'ed last part on a filesystem), index files at
//! `index/<table>/<file>.tsdb.gz`.

use std::fmt;
use std::ops::Range;
use std::time::SystemTime;

use bytes::Bytes;

use crate::object::ChunkKey;

#[cfg(feature = "cloud")]
mod cloud;
mod error;
mod fault;
mod key;
mod local;
mod memory;
#[cfg(any(feature = "s3", feature = "gcs", feature = "azure"))]
mod providers;

#[cfg(feature = "cloud")]
pub use cloud::CloudStore;
pub use error::StoreError;
pub use fault::{Fault, FaultyStore, Op};
pub use key::{validate_key, validate_prefix};
pub use local::LocalFsStore;
pub use memory::MemoryStore;
#[cfg(feature = "s3")]
pub use providers::S3Config;

/// What [`ObjectStore::head`] and [`ObjectStore::list`] report about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// The object's key.
    pub key: String,
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, where the store knows.
    pub last_modified: Option<SystemTime>,
}

/// A synchronous object store: whole-object writes that are atomic (a
/// reader sees the old object, no object, or the complete new one, never a
/// part), reads of whole objects or byte ranges, listing by prefix, deletes.
///
/// Implementations are shared between threads (`Send + Sync`).
pub trait ObjectStore: Send + Sync + fmt::Debug {
    /// Stores `data` under `key`, replacing any object there. Durable when
    /// it returns `Ok`.
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError>;

    /// Stores `data` under `key` only if no object is there; `Ok(false)`
    /// when one was (and nothing was written). Atomic with respect to
    /// concurrent `put_if_absent` calls on the same key.
    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError>;

    /// The whole object. [`StoreError::NotFound`] when there is none.
    fn get(&self, key: &str) -> Result<Bytes, StoreError>;

    /// Bytes `range` of the object. A range reaching past the end is
    /// [`StoreError::InvalidRange`]; an empty range gives empty bytes.
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError>;

    /// The object's size and modification time. [`StoreError::NotFound`]
    /// when there is none.
    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError>;

    /// Every object whose key starts with `prefix` (all levels below it),
    /// sorted by key. An empty prefix lists the whole store.
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError>;

    /// Removes the object. Removing a missing object is not an error.
    fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Where this store keeps the chunk object `key`: the key itself
    /// (`tenant/fp/from:through:crc`), except on a filesystem where Loki
    /// base64-encodes the last part (see [`ChunkKey::to_fs_path`]).
    fn chunk_path(&self, key: &ChunkKey) -> String {
        key.to_string()
    }
}

impl<T: ObjectStore + ?Sized> ObjectStore for std::sync::Arc<T> {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        (**self).put(key, data)
    }
    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        (**self).put_if_absent(key, data)
    }
    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        (**self).get(key)
    }
    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        (**self).get_range(key, range)
    }
    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        (**self).head(key)
    }
    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        (**self).list(prefix)
    }
    fn delete(&self, key: &str) -> Result<(), StoreError> {
        (**self).delete(key)
    }
    fn chunk_path(&self, key: &ChunkKey) -> String {
        (**self).chunk_path(key)
    }
}
