//! lokistore: an embeddable log storage engine that stores logs in Grafana
//! Loki's on-disk formats.
#![doc = include_str!("../README.md")]
// `unsafe` is denied everywhere but the one audited memory map in
// `index::IndexReader::mmap`.
#![deny(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod labels;
mod tenant;

pub mod chunk;
pub mod compactor;
pub mod engine;
pub mod index;
pub mod logql;
pub mod object;
pub mod store;
mod stream;
pub mod wal;

#[cfg(feature = "internals")]
pub mod encoding;
#[cfg(not(feature = "internals"))]
mod encoding;
#[cfg(feature = "internals")]
pub mod fuzzing;

pub use chunk::{
    AppendOutcome, Chunk, ChunkConfig, ChunkError, ChunkFormat, CodecError, Direction, Encoding, Entry, EntryRef,
    HeadFormat,
};
pub use compactor::{
    ChunkCompaction, CompactionReport, Compactor, CompactorConfig, CompactorError, CompactorHandle, DeleteConfig,
    DeleteError, DeleteRequest, DeleteStatus, RetentionConfig, StreamRetention, TenantRetention,
};
pub use engine::{Engine, EngineConfig, EngineError, Limits, LogQuery, PushResult, PushStream};
pub use error::{Error, Result};
pub use index::{HeadIndex, IndexBuilder, IndexError, IndexQuery, IndexReader, MatchOp, Matcher};
pub use labels::{Fingerprint, Label, LabelLimits, Labels, LabelsError};
pub use object::{ChunkKey, ChunkObject, ObjectError};
pub use store::{LocalFsStore, MemoryStore, ObjectStore, StoreError};
pub use stream::{PushOutcome, Stream, StreamConfig};
pub use tenant::{TenantError, TenantId};
pub use wal::{RecoveryMode, SyncMode, Wal, WalConfig, WalError};
