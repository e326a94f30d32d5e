//! [`Wal`]: the live write-ahead log — appends, sync modes with group
//! commit, segment rotation, checkpoints and truncation
//! (`../shared/spec/wal.md` §1.4, §2.3, §3.1).
//!
//! Files written (§1.1, §3.1):
//!
//! | path | content |
//! |---|---|
//! | `DIR/NNNNNNNN` | live segments; opening always starts a new one |
//! | `DIR/checkpoint.NNNNNN.tmp/NNNNNNNN` | a checkpoint being written |
//! | `DIR/checkpoint.NNNNNN/NNNNNNNN` | a complete checkpoint covering segments `<= N` |
//!
//! Durability: a push is written to the current segment (one `write` per
//! call), then, in [`SyncMode::PerPush`], `fdatasync`ed before `log`
//! returns. Concurrent callers share fsyncs: whoever finds no sync in
//! flight syncs everything written so far, the others wait for it (group
//! commit). A rotated segment is synced before the next one is created, and
//! new files are made durable by syncing the directory.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::checkpoint::{CheckpointSeries, checkpoint_name, latest_checkpoint, list_checkpoints};
use super::error::WalError;
use super::reader::SegmentReader;
use super::record::{RefEntries, RefSeries, encode_entries, encode_series};
use super::segment::{DEFAULT_SEGMENT_SIZE, Framer, PAGE_SIZE, list_segments, segment_path, sync_dir};

/// When appended records are made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every [`Wal::log`] returns only once its records are fsynced;
    /// concurrent callers share one fsync (group commit). The default.
    #[default]
    PerPush,
    /// `log` returns once the records are written to the OS; a background
    /// thread fsyncs at this interval (a crash of the machine can lose up to
    /// one interval of acknowledged pushes; a crash of the process cannot).
    Interval(Duration),
    /// Never fsync appends (tests, benchmarks). Checkpoints are still synced.
    Never,
}

/// WAL settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalConfig {
    /// Durability of appends.
    pub sync: SyncMode,
    /// Segment size limit in bytes; a multiple of 32 KiB (Loki: 512 MiB).
    pub segment_size: u64,
    /// [`Wal::needs_checkpoint`] turns true this long after the last
    /// checkpoint (Loki: 5 minutes). `None` disables.
    pub checkpoint_interval: Option<Duration>,
    /// [`Wal::needs_checkpoint`] turns true once this many bytes were
    /// appended since the last checkpoint. `None` disables.
    pub checkpoint_bytes: Option<u64>,
}

impl Default for WalConfig {
    fn default() -> Self {
        Self {
            sync: SyncMode::PerPush,
            segment_size: DEFAULT_SEGMENT_SIZE,
            checkpoint_interval: Some(Duration::from_secs(300)),
            checkpoint_bytes: None,
        }
    }
}

impl WalConfig {
    fn validate(&self) -> Result<(), WalError> {
        if self.segment_size < PAGE_SIZE as u64 || !self.segment_size.is_multiple_of(PAGE_SIZE as u64) {
            return Err(WalError::Config(format!(
                "segment size {} is not a positive multiple of {PAGE_SIZE}",
                self.segment_size
            )));
        }
        if let SyncMode::Interval(d) = self.sync
            && d.is_zero()
        {
            return Err(WalError::Config("sync interval must not be zero".into()));
        }
        Ok(())
    }
}

/// What [`Wal::checkpoint`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointStats {
    /// N of the new `checkpoint.N` (the last segment it covers).
    pub index: u32,
    /// Streams written.
    pub series: usize,
    /// Bytes of records written.
    pub bytes: u64,
    /// Old segments deleted.
    pub segments_removed: usize,
    /// Old checkpoints deleted.
    pub checkpoints_removed: usize,
}

struct Inner {
    framer: Framer,
    file: Arc<File>,
    segment: u32,
    /// Number of `log` calls written to the OS.
    written: u64,
    scratch: Vec<u8>,
    failed: Option<String>,
    bytes_since_checkpoint: u64,
    last_checkpoint: Instant,
    closed: bool,
}

struct SyncState {
    synced: u64,
    syncing: bool,
    failed: Option<String>,
}

struct Shared {
    dir: PathBuf,
    config: WalConfig,
    inner: Mutex<Inner>,
    sync: Mutex<SyncState>,
    sync_cv: Condvar,
    stop: Mutex<bool>,
    stop_cv: Condvar,
    checkpoint_lock: Mutex<()>,
}

/// Locks a mutex, recovering the data of a poisoned one (a panic in another
/// thread leaves the WAL state consistent: every mutation is completed or
/// recorded as a failure before anything can panic).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The write-ahead log writer. `Send + Sync`: share it (`Arc<Wal>`) between
/// pushing threads to get group commit.
///
/// # Examples
///
/// ```
/// use lokistore::wal::{RefEntries, RefSeries, Wal, WalConfig};
/// use lokistore::{Entry, Labels};
///
/// let dir = tempfile::tempdir()?;
/// let wal = Wal::open(dir.path(), WalConfig::default())?;
/// let labels = Labels::from_pairs([("app", "api")])?;
/// let fp = labels.fingerprint().0;
/// let series = [RefSeries { fingerprint: fp, labels }];
/// let entries = [RefEntries { fingerprint: fp, counter: 1, entries: vec![Entry::new(1, "hello")] }];
/// wal.log("tenant-a", &series, &entries)?; // durable once this returns
/// wal.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Wal {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Wal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wal").field("dir", &self.shared.dir).field("config", &self.shared.config).finish()
    }
}

fn create_segment(dir: &Path, index: u32) -> Result<File, WalError> {
    let path = segment_path(dir, index);
    OpenOptions::new().write(true).create_new(true).open(&path).map_err(|e| WalError::io(&path, e))
}

/// Removes the torn tail of the newest segment (a partial record a crash
/// left), so it is not mistaken for corruption once newer segments follow.
/// Returns the offset it truncated at.
pub(crate) fn repair_torn_tail(dir: &Path, index: u32) -> Result<Option<u64>, WalError> {
    let path = segment_path(dir, index);
    let data = fs::read(&path).map_err(|e| WalError::io(&path, e))?;
    let mut r = SegmentReader::new(None, index, Bytes::from(data));
    loop {
        match r.next() {
            None => return Ok(None),
            Some(Ok(_)) => {}
            Some(Err(c)) => {
                if !c.kind.is_truncation() || r.has_record_after(c.location.offset) {
                    // Real corruption: left for replay to report.
                    return Ok(None);
                }
                let f = OpenOptions::new().write(true).open(&path).map_err(|e| WalError::io(&path, e))?;
                f.set_len(c.record_start).map_err(|e| WalError::io(&path, e))?;
                f.sync_all().map_err(|e| WalError::io(&path, e))?;
                return Ok(Some(c.record_start));
            }
        }
    }
}

impl Wal {
    /// Opens (creating if needed) the WAL in `dir` for appending: removes
    /// stale `checkpoint.*.tmp` directories, truncates a torn tail of the
    /// newest segment, and starts a new segment after the newest one.
    /// Replay (see [`crate::wal::replay`]) should run before this.
    pub fn open(dir: impl AsRef<Path>, config: WalConfig) -> Result<Self, WalError> {
        config.validate()?;
        let dir = dir.as_ref().to_owned();
        fs::create_dir_all(&dir).map_err(|e| WalError::io(&dir, e))?;
        for cp in list_checkpoints(&dir)?.into_iter().filter(|c| c.tmp) {
            fs::remove_dir_all(&cp.path).map_err(|e| WalError::io(&cp.path, e))?;
        }
        let segments = list_segments(&dir)?;
        // The newest segment with data (later ones may be empty: a crash
        // right after a rotation or an open leaves them).
        for &seg in segments.iter().rev() {
            let p = segment_path(&dir, seg);
            if fs::metadata(&p).map_err(|e| WalError::io(&p, e))?.len() > 0 {
                repair_torn_tail(&dir, seg)?;
                break;
            }
        }
        let after_checkpoint = latest_checkpoint(&dir)?.map_or(0, |c| c.index.saturating_add(1));
        let next = segments.last().map_or(0, |l| l.saturating_add(1)).max(after_checkpoint);
        let file = create_segment(&dir, next)?;
        sync_dir(&dir)?;
        let inner = Inner {
            framer: Framer::new(config.segment_size),
            file: Arc::new(file),
            segment: next,
            written: 0,
            scratch: Vec::new(),
            failed: None,
            bytes_since_checkpoint: 0,
            last_checkpoint: Instant::now(),
            closed: false,
        };
        let shared = Arc::new(Shared {
            dir,
            config,
            inner: Mutex::new(inner),
            sync: Mutex::new(SyncState { synced: 0, syncing: false, failed: None }),
            sync_cv: Condvar::new(),
            stop: Mutex::new(false),
            stop_cv: Condvar::new(),
            checkpoint_lock: Mutex::new(()),
        });
        let flusher = match config.sync {
            SyncMode::Interval(every) => {
                let s = Arc::clone(&shared);
                let handle = std::thread::Builder::new()
                    .name("lokistore-wal-sync".into())
                    .spawn(move || s.flush_loop(every))
                    .map_err(|e| WalError::io(&shared.dir, e))?;
                Some(handle)
            }
            _ => None,
        };
        Ok(Self { shared, flusher })
    }

    /// The WAL directory.
    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// The configuration.
    pub fn config(&self) -> &WalConfig {
        &self.shared.config
    }

    /// Index of the segment being written.
    pub fn current_segment(&self) -> u32 {
        lock(&self.shared.inner).segment
    }

    /// Logs one push of `tenant`: a series record for the streams it
    /// created (if any), then an entries record (if any entries), as Loki
    /// does (§2.3). Returns once the records are durable per the sync mode.
    pub fn log(&self, tenant: &str, series: &[RefSeries], entries: &[RefEntries]) -> Result<(), WalError> {
        let seq = self.append(tenant, series, entries)?;
        if self.shared.config.sync == SyncMode::PerPush { self.shared.sync_up_to(seq) } else { Ok(()) }
    }

    /// Like [`Wal::log`], but returns once the records are written to the
    /// OS, without waiting for a sync in any mode. For records that only
    /// need to be durable before later ones are (a series record ahead of
    /// the entries that name it): syncing those syncs this one too.
    pub fn log_unsynced(&self, tenant: &str, series: &[RefSeries], entries: &[RefEntries]) -> Result<(), WalError> {
        self.append(tenant, series, entries).map(|_| ())
    }

    fn append(&self, tenant: &str, series: &[RefSeries], entries: &[RefEntries]) -> Result<u64, WalError> {
        let seq = {
            let mut inner = lock(&self.shared.inner);
            let mut buf = std::mem::take(&mut inner.scratch);
            buf.clear();
            if !series.is_empty() {
                encode_series(tenant, series, &mut buf);
            }
            let split = buf.len();
            if entries.iter().any(|e| !e.entries.is_empty()) {
                encode_entries(tenant, entries, &mut buf);
            }
            let (a, b) = buf.split_at(split);
            let recs: [&[u8]; 2] = [a, b];
            let n = usize::from(!a.is_empty()) + usize::from(!b.is_empty());
            let res = if n == 0 {
                Ok(inner.written)
            } else {
                let start = usize::from(a.is_empty());
                self.shared.write_records(&mut inner, &recs[start..start + n])
            };
            inner.scratch = buf;
            res?
        };
        Ok(seq)
    }

    /// Logs already-encoded records (each one record payload) as one
    /// append, durable per the sync mode.
    pub fn log_records(&self, records: &[&[u8]]) -> Result<(), WalError> {
        let seq = {
            let mut inner = lock(&self.shared.inner);
            self.shared.write_records(&mut inner, records)?
        };
        if self.shared.config.sync == SyncMode::PerPush { self.shared.sync_up_to(seq) } else { Ok(()) }
    }

    /// Makes everything logged so far durable, whatever the sync mode.
    pub fn sync(&self) -> Result<(), WalError> {
        let seq = lock(&self.shared.inner).written;
        self.shared.sync_up_to(seq)
    }

    /// True when the configured checkpoint interval has passed or enough
    /// bytes were appended since the last checkpoint.
    pub fn needs_checkpoint(&self) -> bool {
        let inner = lock(&self.shared.inner);
        let c = &self.shared.config;
        c.checkpoint_interval.is_some_and(|d| inner.last_checkpoint.elapsed() >= d)
            || c.checkpoint_bytes.is_some_and(|b| inner.bytes_since_checkpoint >= b)
    }

    /// Writes a checkpoint and truncates the WAL (§3.1):
    ///
    /// 1. starts a new segment; N = the previous one;
    /// 2. writes every stream `streams` yields to `checkpoint.N.tmp`,
    ///    fsyncs its files and the directory, renames it to `checkpoint.N`
    ///    and fsyncs the WAL directory;
    /// 3. only then deletes segments `<= N` and checkpoints older than N.
    ///
    /// `streams` is consumed after step 1, so it must yield each stream's
    /// state including at least everything logged before this call; later
    /// pushes may be included too (their WAL records are skipped on replay
    /// by the counter). Streams without chunks may be left out. On error
    /// the temporary directory is removed and nothing is deleted.
    pub fn checkpoint<I>(&self, streams: I) -> Result<CheckpointStats, WalError>
    where
        I: IntoIterator<Item = Result<CheckpointSeries, WalError>>,
    {
        let _one_at_a_time = lock(&self.shared.checkpoint_lock);
        let index = {
            let mut inner = lock(&self.shared.inner);
            self.shared.check_usable(&inner)?;
            let last = inner.segment;
            self.shared.rotate(&mut inner)?;
            inner.bytes_since_checkpoint = 0;
            inner.last_checkpoint = Instant::now();
            last
        };
        let dir = &self.shared.dir;
        let tmp = dir.join(format!("{}.tmp", checkpoint_name(index)));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| WalError::io(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| WalError::io(&tmp, e))?;
        // Checkpoints use Loki's segment size whatever the live segments use:
        // one stream is one record and must fit.
        let written = write_checkpoint(&tmp, DEFAULT_SEGMENT_SIZE, streams);
        let (series, bytes) = match written {
            Ok(v) => v,
            Err(e) => {
                let _ = fs::remove_dir_all(&tmp);
                return Err(e);
            }
        };
        let fin = dir.join(checkpoint_name(index));
        if fin.exists() {
            fs::remove_dir_all(&fin).map_err(|e| WalError::io(&fin, e))?;
        }
        fs::rename(&tmp, &fin).map_err(|e| WalError::io(&tmp, e))?;
        sync_dir(dir)?;
        // The checkpoint is durable: older data can go, lowest first so an
        // interruption leaves consecutive segments.
        let mut segments_removed = 0;
        for s in list_segments(dir)?.into_iter().filter(|&s| s <= index) {
            let p = segment_path(dir, s);
            fs::remove_file(&p).map_err(|e| WalError::io(&p, e))?;
            segments_removed += 1;
        }
        let mut checkpoints_removed = 0;
        for cp in list_checkpoints(dir)?.into_iter().filter(|c| c.index < index) {
            fs::remove_dir_all(&cp.path).map_err(|e| WalError::io(&cp.path, e))?;
            checkpoints_removed += 1;
        }
        sync_dir(dir)?;
        Ok(CheckpointStats { index, series, bytes, segments_removed, checkpoints_removed })
    }

    /// Pads the last page, syncs (unless [`SyncMode::Never`]) and stops the
    /// background flusher.
    pub fn close(mut self) -> Result<(), WalError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), WalError> {
        *lock(&self.shared.stop) = true;
        self.shared.stop_cv.notify_all();
        if let Some(h) = self.flusher.take() {
            let _ = h.join();
        }
        let mut inner = lock(&self.shared.inner);
        if inner.closed {
            return Ok(());
        }
        self.shared.check_usable(&inner)?;
        inner.closed = true;
        inner.framer.pad_page();
        self.shared.drain(&mut inner)?;
        if self.shared.config.sync != SyncMode::Never {
            let file = Arc::clone(&inner.file);
            let path = self.shared.current_path(&inner);
            file.sync_data().map_err(|e| self.shared.fail(&mut inner, WalError::io(path, e)))?;
        }
        Ok(())
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Shared {
    fn current_path(&self, inner: &Inner) -> PathBuf {
        segment_path(&self.dir, inner.segment)
    }

    fn check_usable(&self, inner: &Inner) -> Result<(), WalError> {
        if let Some(msg) = &inner.failed {
            return Err(WalError::Failed(msg.clone()));
        }
        if inner.closed {
            return Err(WalError::Failed("the WAL is closed".into()));
        }
        Ok(())
    }

    /// Records a failure: what is on disk is unknown from now on.
    fn fail(&self, inner: &mut Inner, err: WalError) -> WalError {
        inner.failed.get_or_insert_with(|| err.to_string());
        err
    }

    fn drain(&self, inner: &mut Inner) -> Result<(), WalError> {
        if inner.framer.out.is_empty() {
            return Ok(());
        }
        let file = Arc::clone(&inner.file);
        let res = (&*file).write_all(&inner.framer.out);
        inner.framer.out.clear();
        res.map_err(|e| self.fail(inner, WalError::io(self.current_path(inner), e)))
    }

    /// Appends records as one write; returns the write's sequence number.
    fn write_records(&self, inner: &mut Inner, records: &[&[u8]]) -> Result<u64, WalError> {
        self.check_usable(inner)?;
        for rec in records {
            if !inner.framer.fits_empty_segment(rec.len()) {
                return Err(WalError::RecordTooLarge { len: rec.len(), segment_size: self.config.segment_size });
            }
        }
        let mut bytes = 0u64;
        for rec in records {
            if !inner.framer.fits(rec.len()) {
                self.rotate(inner)?;
            }
            inner.framer.append(rec);
            bytes += rec.len() as u64;
        }
        self.drain(inner)?;
        inner.written += 1;
        inner.bytes_since_checkpoint += bytes;
        Ok(inner.written)
    }

    /// Finishes the current segment (padded, synced) and starts the next.
    fn rotate(&self, inner: &mut Inner) -> Result<(), WalError> {
        inner.framer.pad_page();
        self.drain(inner)?;
        if self.config.sync != SyncMode::Never {
            let file = Arc::clone(&inner.file);
            file.sync_data().map_err(|e| self.fail(inner, WalError::io(self.current_path(inner), e)))?;
        }
        let next = inner.segment.checked_add(1).ok_or_else(|| WalError::Config("segment index overflow".into()))?;
        let file = create_segment(&self.dir, next).map_err(|e| self.fail(inner, e))?;
        if self.config.sync != SyncMode::Never {
            sync_dir(&self.dir).map_err(|e| self.fail(inner, e))?;
        }
        inner.file = Arc::new(file);
        inner.segment = next;
        inner.framer.reset_segment();
        Ok(())
    }

    /// Group commit: returns once write `seq` is durable. One caller at a
    /// time fsyncs everything written so far; the others wait for it.
    fn sync_up_to(&self, seq: u64) -> Result<(), WalError> {
        let mut st = lock(&self.sync);
        loop {
            if let Some(msg) = &st.failed {
                return Err(WalError::Failed(msg.clone()));
            }
            if st.synced >= seq {
                return Ok(());
            }
            if st.syncing {
                st = self.sync_cv.wait(st).unwrap_or_else(|e| e.into_inner());
                continue;
            }
            st.syncing = true;
            drop(st);
            // Earlier segments were synced when they were rotated, so
            // syncing the current file covers every write up to `target`.
            let (file, target, path) = {
                let inner = lock(&self.inner);
                (Arc::clone(&inner.file), inner.written, self.current_path(&inner))
            };
            let res = file.sync_data();
            st = lock(&self.sync);
            st.syncing = false;
            match res {
                Ok(()) => st.synced = st.synced.max(target),
                Err(e) => {
                    let err = WalError::io(path, e);
                    st.failed = Some(err.to_string());
                    let mut inner = lock(&self.inner);
                    self.fail(&mut inner, WalError::Failed(err.to_string()));
                    drop(inner);
                    self.sync_cv.notify_all();
                    return Err(err);
                }
            }
            self.sync_cv.notify_all();
        }
    }

    fn flush_loop(&self, every: Duration) {
        let mut stopped = lock(&self.stop);
        loop {
            let (g, _) = self.stop_cv.wait_timeout(stopped, every).unwrap_or_else(|e| e.into_inner());
            stopped = g;
            if *stopped {
                return;
            }
            drop(stopped);
            let seq = lock(&self.inner).written;
            // A failure is recorded and reported to the next caller.
            let _ = self.sync_up_to(seq);
            stopped = lock(&self.stop);
        }
    }
}

/// Writes checkpoint records into the wlog in `tmp`, syncing each finished
/// file and the directory. Returns (series, record bytes).
fn write_checkpoint<I>(tmp: &Path, segment_size: u64, streams: I) -> Result<(usize, u64), WalError>
where
    I: IntoIterator<Item = Result<CheckpointSeries, WalError>>,
{
    const BATCH: usize = 1 << 20;
    let mut framer = Framer::new(segment_size);
    let mut index = 0u32;
    let mut path = segment_path(tmp, index);
    let mut file = create_segment(tmp, index)?;
    let mut rec = Vec::new();
    let (mut series, mut bytes) = (0usize, 0u64);
    for s in streams {
        let s = s?;
        rec.clear();
        s.encode_record(&mut rec);
        if !framer.fits_empty_segment(rec.len()) {
            return Err(WalError::RecordTooLarge { len: rec.len(), segment_size });
        }
        if !framer.fits(rec.len()) {
            framer.pad_page();
            file.write_all(&framer.out).map_err(|e| WalError::io(&path, e))?;
            framer.out.clear();
            file.sync_data().map_err(|e| WalError::io(&path, e))?;
            index += 1;
            path = segment_path(tmp, index);
            file = create_segment(tmp, index)?;
            framer.reset_segment();
        }
        framer.append(&rec);
        series += 1;
        bytes += rec.len() as u64;
        if framer.out.len() >= BATCH {
            file.write_all(&framer.out).map_err(|e| WalError::io(&path, e))?;
            framer.out.clear();
        }
    }
    framer.pad_page();
    file.write_all(&framer.out).map_err(|e| WalError::io(&path, e))?;
    file.sync_all().map_err(|e| WalError::io(&path, e))?;
    sync_dir(tmp)?;
    Ok((series, bytes))
}
