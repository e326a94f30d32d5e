//! The compactor (`../shared/spec/compactor.md`): rewrites each 24h index
//! table so every tenant has one per-tenant TSDB file per table, applies
//! retention, and sweeps expired chunk objects after a delay. Synchronous:
//! [`Compactor::run_once`] does one pass; the embedder schedules it, or
//! [`Compactor::spawn`] runs it on a background thread. Chunk compaction
//! (optional, not in Loki) merges small chunks into chunks near the target
//! size.
//!
//! | file | concept |
//! |---|---|
//! | `mod.rs` | [`Compactor`], [`CompactorConfig`], [`CompactionReport`], the pass |
//! | `lease.rs` | [`Lease`]: one compactor per store (§2) |
//! | `sources.rs` | listing tables: common and per-tenant sets (§3 step 1) |
//! | `table.rs` | merging one table, retention marking, commit order (§3, §4.4) |
//! | `chunks.rs` | [`ChunkCompaction`]: merging small chunks (not in Loki) |
//! | `schedule.rs` | [`CompactorHandle`]: runs on a background thread |
//! | `retention.rs` | [`RetentionConfig`], rule choice and expiry (§4.1-§4.3) |
//! | `marker.rs` | marker objects and the sweeper (§4.5) |
//! | `deletes/` | delete requests: model, persistence, processing (§5) |
//! | `error.rs` | [`CompactorError`] |
//!
//! Store layout it owns: `compactor/lease/…`, `compactor/markers/…` and
//! `compactor/deletes/…` (delete requests);
//! it rewrites `index/<table>/…` and deletes chunk objects only through
//! markers older than [`RetentionConfig::delete_delay`] (or
//! [`ChunkCompaction::delete_delay`], whichever is longer).
//!

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

mod chunks;
pub(crate) mod deletes;
mod error;
mod lease;
mod marker;
mod retention;
mod schedule;
mod sources;
mod table;

pub use chunks::ChunkCompaction;
pub use deletes::{
    DELETES_PREFIX, DeleteConfig, DeleteError, DeleteRequest, DeleteShard, DeleteStatus, delete_requests_json,
    go_json_string,
};
pub use error::CompactorError;
pub use lease::{LEASE_PREFIX, Lease};
pub use marker::{PENDING_PREFIX, READY_PREFIX};
pub use retention::{RetentionConfig, StreamRetention, TenantRetention, Verdict, verdict};
pub use schedule::CompactorHandle;

use crate::error::Result;
use crate::index::{DEFAULT_PATH_PREFIX, DEFAULT_TABLE_PREFIX, IndexFormat};
use crate::store::ObjectStore;

/// The compactor's settings.
#[derive(Debug, Clone)]
pub struct CompactorConfig {
    /// This compactor's id in the lease (a host or process name).
    pub owner: String,
    /// How long a lease lasts without renewal (default 10 min, Loki's
    /// compaction interval). A crashed compactor blocks others this long.
    pub lease_duration: Duration,
    /// The index `path_prefix` (`index/`).
    pub path_prefix: String,
    /// The table prefix (`index_`).
    pub table_prefix: String,
    /// Format of the files written (schema v13: version 3).
    pub index_format: IndexFormat,
    /// Retention; `None` disables it (Loki's `retention_enabled: false`).
    pub retention: Option<RetentionConfig>,
    /// Chunk compaction (merging small chunks, not something Loki does);
    /// `None` (the default) disables it.
    pub chunks: Option<ChunkCompaction>,
    /// Delete requests: processed (with retention enabled, as in Loki)
    /// once older than `cancel_period` plus one minute.
    pub deletes: DeleteConfig,
}

impl Default for CompactorConfig {
    fn default() -> Self {
        Self {
            owner: format!("compactor-{}", std::process::id()),
            lease_duration: Duration::from_secs(600),
            path_prefix: DEFAULT_PATH_PREFIX.to_owned(),
            table_prefix: DEFAULT_TABLE_PREFIX.to_owned(),
            index_format: IndexFormat::V3,
            retention: None,
            chunks: None,
            deletes: DeleteConfig::default(),
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompactionReport {
    /// Tables whose index objects were rewritten or deleted.
    pub tables_compacted: usize,
    /// Tables left without any index object because everything expired.
    pub tables_emptied: usize,
    /// Per-tenant files written.
    pub tenants_compacted: usize,
    /// Index objects written.
    pub files_written: usize,
    /// Index objects deleted.
    pub files_deleted: usize,
    /// Expired chunk references removed and their objects marked.
    pub chunks_marked: usize,
    /// References removed from one table only (the chunk continues into a
    /// later table that still indexes it).
    pub refs_dropped: usize,
    /// Markers committed (ready for the sweeper once the delay passed).
    pub markers_committed: usize,
    /// Markers whose chunks were deleted.
    pub markers_swept: usize,
    /// Chunk objects deleted by the sweeper.
    pub chunks_deleted: usize,
    /// Objects left alone because they could not be used, with the reason
    /// (corrupt index files, unexpected names, unreadable markers).
    pub skipped_objects: Vec<(String, String)>,
    /// Chunk objects written by chunk compaction.
    pub chunks_written: usize,
    /// Chunk references replaced by merged chunks (their objects are
    /// marked, deleted after the delay).
    pub chunks_replaced: usize,
    /// Bytes of chunk objects chunk compaction read.
    pub chunk_bytes_read: u64,
    /// Bytes of chunk objects chunk compaction wrote.
    pub chunk_bytes_written: u64,
    /// Runs of small chunks left for a later pass (a pass's byte budget,
    /// [`ChunkCompaction::max_pass_bytes`], was spent).
    pub chunk_runs_deferred: usize,
    /// Passes interrupted before their new index was complete, undone by
    /// this run (their sources still hold every reference).
    pub passes_rolled_back: usize,
    /// Replaced chunk objects the sweeper kept because an index object
    /// references them again.
    pub chunks_kept_referenced: usize,
    /// Chunks rewritten without the lines of delete requests.
    pub chunks_rewritten: usize,
    /// Delete request shards marked processed.
    pub delete_shards_processed: usize,
}

/// The clock: Unix nanoseconds.
type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// Compacts the index tables of one object store and applies retention.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use lokistore::{Compactor, CompactorConfig, MemoryStore};
///
/// let store = Arc::new(MemoryStore::new());
/// let compactor = Compactor::new(store, CompactorConfig::default());
/// let report = compactor.run_once()?;
/// assert_eq!(report.files_written, 0);
/// # Ok::<(), lokistore::Error>(())
/// ```
#[derive(Clone)]
pub struct Compactor {
    store: Arc<dyn ObjectStore>,
    config: CompactorConfig,
    clock: Clock,
}

impl std::fmt::Debug for Compactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compactor").field("store", &self.store).field("config", &self.config).finish()
    }
}

fn system_now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).unwrap_or(0)
}

impl Compactor {
    /// A compactor of `store`.
    pub fn new(store: Arc<dyn ObjectStore>, config: CompactorConfig) -> Self {
        Self { store, config, clock: Arc::new(system_now_ns) }
    }

    /// Replaces the clock (Unix nanoseconds), for tests and replays: lease
    /// expiry, retention's `now`, marker ages and file names all use it.
    pub fn with_clock(mut self, clock: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The settings.
    pub fn config(&self) -> &CompactorConfig {
        &self.config
    }

    /// How old a marker must be before the sweeper deletes its chunks: the
    /// longer of the enabled features' delays (2h when none is enabled, for
    /// markers left from when one was).
    pub fn delete_delay(&self) -> Duration {
        let delays = [
            self.config.retention.as_ref().map(|r| r.delete_delay),
            self.config.chunks.as_ref().map(|c| c.delete_delay),
        ];
        delays.into_iter().flatten().max().unwrap_or(Duration::from_secs(2 * 3600))
    }

    fn now_ns(&self) -> i64 {
        (self.clock)()
    }

    fn now_ms(&self) -> i64 {
        self.now_ns().div_euclid(1_000_000)
    }

    /// Takes the store's compactor lease (see [`Lease`] for the
    /// guarantee), failing with [`CompactorError::LeaseHeld`] while
    /// another compactor holds it. [`Compactor::run_once`] does this itself.
    pub fn acquire_lease(&self) -> Result<Lease<'_>> {
        let ms = i64::try_from(self.config.lease_duration.as_millis()).unwrap_or(i64::MAX);
        Lease::acquire(&*self.store, &self.config.owner, ms, self.now_ms())
    }

    /// One pass: takes the lease, settles what a crashed pass left (rolled
    /// forward or back, see `marker.rs`), compacts every table (most recent
    /// first) applying retention and chunk compaction when configured,
    /// sweeps markers older than [`Compactor::delete_delay`], and releases
    /// the lease.
    ///
    /// # Errors
    ///
    /// [`CompactorError::LeaseHeld`] (see [`CompactorError::from_error`])
    /// when another compactor is working; store errors abort the pass,
    /// leaving a state the next pass completes. Unreadable index files are
    /// not errors: they are listed in
    /// [`CompactionReport::skipped_objects`] and left alone.
    pub fn run_once(&self) -> Result<CompactionReport> {
        let mut lease = self.acquire_lease()?;
        let res = self.run_with_lease(&mut lease);
        let released = lease.release();
        let report = res?;
        released?;
        Ok(report)
    }

    /// [`Compactor::run_once`] under a lease the caller already holds.
    pub fn run_with_lease(&self, lease: &mut Lease<'_>) -> Result<CompactionReport> {
        let mut report = CompactionReport::default();
        lease.ensure(self.now_ms())?;
        // Settle what a crashed pass left before listing the tables.
        marker::recover_pending(&*self.store, self.now_ns(), &mut report)?;
        let tables =
            sources::list_tables(&*self.store, &self.config.path_prefix, &self.config.table_prefix, &mut report)?;
        let mut deletes = match self.config.retention {
            Some(_) => deletes::Batch::load(&*self.store, &self.config.deletes, self.now_ms(), &mut report)?,
            None => deletes::Batch::default(),
        };
        for t in &tables {
            self.compact_table(t, lease, &mut deletes, &mut report)?;
        }
        if self.config.retention.is_some() {
            lease.ensure(self.now_ms())?;
            // Every table is committed: the batch's shards are done.
            deletes.finish(&*self.store, &mut report)?;
        }
        lease.ensure(self.now_ms())?;
        let delay = i64::try_from(self.delete_delay().as_nanos()).unwrap_or(i64::MAX);
        marker::sweep(&*self.store, &self.config.path_prefix, self.now_ns(), delay, &mut report)?;
        Ok(report)
    }
}
