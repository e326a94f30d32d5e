//! [`EngineConfig`] and the per-tenant [`Limits`], with Loki's names and
//! defaults where Loki has them (`limits_config`, `ingester`).

use std::path::PathBuf;
use std::time::Duration;

use crate::index::IndexFormat;
use crate::labels::LabelLimits;
use crate::stream::StreamConfig;
use crate::wal::{RecoveryMode, WalConfig};

/// Limits applied to each tenant's pushes (Loki's `limits_config`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// Label count and length limits of a stream.
    pub labels: LabelLimits,
    /// `max_line_size`: longest line in bytes (Loki default 256 KB); 0 = no limit.
    pub max_line_size: usize,
    /// `max_line_size_truncate`: cut longer lines to `max_line_size` instead of rejecting them.
    pub max_line_size_truncate: bool,
    /// `max_structured_metadata_size`: bytes of names and values per entry (default 64 KB); 0 = no limit.
    pub max_structured_metadata_size: usize,
    /// `max_structured_metadata_entries_count`: pairs per entry (default 128); 0 = no limit.
    pub max_structured_metadata_entries: usize,
    /// `allow_structured_metadata` (default true).
    pub allow_structured_metadata: bool,
    /// `max_streams_per_user`: active streams per tenant; 0 = no limit.
    pub max_streams_per_tenant: usize,
    /// `ingestion_rate_mb` in bytes per second (lines + metadata) per
    /// tenant; `None` = no limit. Applied to a whole push, as Loki's
    /// distributor does.
    pub ingestion_rate_bytes: Option<f64>,
    /// `ingestion_burst_size_mb` in bytes.
    pub ingestion_burst_bytes: f64,
    /// `per_stream_rate_limit` in bytes per second; `None` = no limit.
    pub per_stream_rate_bytes: Option<f64>,
    /// `per_stream_rate_limit_burst` in bytes.
    pub per_stream_burst_bytes: f64,
    /// `reject_old_samples` + `reject_old_samples_max_age`: entries older
    /// than now minus this are rejected. `None` (the default for an
    /// embedded store) accepts any age.
    pub reject_old_samples_max_age: Option<Duration>,
    /// `creation_grace_period`: entries newer than now plus this are
    /// rejected (Loki default 10m). `None` accepts any future time.
    pub creation_grace_period: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            labels: LabelLimits::default(),
            max_line_size: 256 * 1000,
            max_line_size_truncate: false,
            max_structured_metadata_size: 64 * 1024,
            max_structured_metadata_entries: 128,
            allow_structured_metadata: true,
            max_streams_per_tenant: 0,
            ingestion_rate_bytes: None,
            ingestion_burst_bytes: 6.0 * 1024.0 * 1024.0,
            per_stream_rate_bytes: None,
            per_stream_burst_bytes: 15.0 * 1024.0 * 1024.0,
            reject_old_samples_max_age: None,
            creation_grace_period: Some(Duration::from_secs(600)),
        }
    }
}

/// Everything [`super::Engine::open`] needs.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The data directory: the WAL lives in `<dir>/wal`, and with
    /// [`super::Engine::open`] the object store in `<dir>/store`.
    pub data_dir: PathBuf,
    /// Per-stream chunk settings (encoding, sizes, `max_chunk_age`, sync period).
    pub stream: StreamConfig,
    /// `chunk_idle_period`: a head chunk without appends for this long is
    /// cut by [`super::Engine::maintain`] (Loki default 30m).
    pub chunk_idle_period: Duration,
    /// WAL durability and checkpointing.
    pub wal: WalConfig,
    /// What replay does with a damaged WAL.
    pub recovery: RecoveryMode,
    /// Per-tenant limits.
    pub limits: Limits,
    /// Heap budget in bytes for unflushed chunk data plus the chunk cache.
    /// When pushes reach it the engine flushes; if that does not bring it
    /// below the budget the push fails with
    /// [`super::EngineError::MemoryBudget`]. `None` = no budget.
    pub memory_budget: Option<usize>,
    /// Bytes of decoded stored chunks kept for queries (least recently
    /// used first out). Counted inside `memory_budget`.
    pub chunk_cache_bytes: usize,
    /// The index file format written (schema v13 writes version 3).
    pub index_format: IndexFormat,
    /// The index table prefix of the schema period (`index_`).
    pub index_table_prefix: String,
    /// This writer's name in index file names
    /// (`<unixSec>-<instance>-<nanos>.tsdb`), like a Loki ingester's name.
    pub instance_name: String,
    /// When set, [`super::Engine::open`] starts a thread that calls
    /// [`super::Engine::maintain`] at this period.
    pub maintenance_interval: Option<Duration>,
    /// Threads that encode and upload chunks during a flush (0 = the
    /// number of cores).
    pub flush_threads: usize,
}

impl EngineConfig {
    /// Defaults for a data directory: Loki's chunk settings (V4 + snappy,
    /// 256 KiB blocks, 1.5 MB target), WAL synced per push with group
    /// commit, schema v13 index files.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            stream: StreamConfig::default(),
            chunk_idle_period: Duration::from_secs(30 * 60),
            wal: WalConfig::default(),
            recovery: RecoveryMode::Stop,
            limits: Limits::default(),
            memory_budget: None,
            chunk_cache_bytes: 256 << 20,
            index_format: IndexFormat::V3,
            index_table_prefix: crate::index::DEFAULT_TABLE_PREFIX.to_owned(),
            instance_name: "lokistore".to_owned(),
            maintenance_interval: None,
            flush_threads: 0,
        }
    }

    /// The WAL directory.
    pub fn wal_dir(&self) -> PathBuf {
        self.data_dir.join("wal")
    }

    /// The directory of the default local object store.
    pub fn store_dir(&self) -> PathBuf {
        self.data_dir.join("store")
    }
}
