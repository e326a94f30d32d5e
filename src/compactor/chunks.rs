//! Chunk compaction (not something Loki does): a stream's small chunks of
//! one table are merged into chunks near the target size.
//!
//! * **Which chunks.** A stream's chunks in a table are grouped as the
//!   engine's read path groups them (sorted by (MinTime, MaxTime,
//!   Checksum); a chunk joins the group before it when its millisecond
//!   range overlaps the group's). A group is *mergeable* when every chunk
//!   in it is small (the uncompressed size its index entry records,
//!   `KB × 1024`, is under [`ChunkCompaction::min_chunk_size`]), lies
//!   inside the table's day (so the new chunk is indexed in this table
//!   only, `tsdb-index.md` §4.4: a chunk is indexed in every table it
//!   touches) and has no ingestion time (format 4 backfill chunks are
//!   left alone). A maximal run of consecutive mergeable groups with at
//!   least two chunks is rewritten; everything else is left as it is.
//! * **Which entries, in which order.** Exactly what a read returns: a
//!   group of one chunk gives its entries as stored; a group of several
//!   gives their entries merged by a stable sort on the timestamp, entries
//!   repeated with the same timestamp, line and metadata given once
//!   (`Engine::for_each_entry`). Metadata names are written as reads give
//!   them (normalized). An entry identical to one already in the same new
//!   block is dropped, as Loki's head drops it.
//! * **New chunks.** Written with [`ChunkCompaction::chunk`] (format,
//!   encoding, block size) and cut by the ingester's rule at its target
//!   size, but only between entries whose millisecond bounds do not touch,
//!   so two new chunks never form one read group (unless a chunk grew to
//!   twice the target). Objects keep the stream's fingerprint; their keys
//!   are schema v13's (`ObjectStore::chunk_path`).
//! * **Unreadable sources.** A run with a chunk that is missing, fails its
//!   checksum, holds corrupt blocks or cannot be rewritten (metadata the
//!   configured format cannot hold, a timestamp the head refuses) is left
//!   alone and reported in [`super::CompactionReport::skipped_objects`].
//!
//! The table pass (`table.rs`) writes the new objects before the index
//! that points at them, and the replaced objects go through markers
//! (`marker.rs`), deleted only after [`ChunkCompaction::delete_delay`].
//!
//! Cost: with chunk compaction enabled every run reads every per-tenant
//! index object of every table (to find small chunks); chunks are fetched
//! only for the runs rewritten. A run is only committed when it reduces the
//! chunk count, so a store converges: a second run finds nothing to do.

use std::ops::Range;
use std::time::Duration;

use bytes::Bytes;

use crate::chunk::{Chunk, ChunkConfig, DEFAULT_TARGET_SIZE, Direction, Entry, EntryRef};
use crate::engine::dedup_same_time;
use crate::error::{Error, Result};
use crate::index::{ChunkMeta, table_day};
use crate::object::{ChunkKey, ChunkObject, bounds_to_ms};
use crate::store::{ObjectStore, StoreError};
use crate::{Fingerprint, Labels, TenantId};

/// Nanoseconds per millisecond.
const NS_PER_MS: i64 = 1_000_000;

/// Chunk compaction settings ([`super::CompactorConfig::chunks`]).
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use lokistore::compactor::{ChunkCompaction, Compactor, CompactorConfig};
/// use lokistore::{EngineConfig, MemoryStore};
///
/// let engine = EngineConfig::new("/var/lib/lokistore");
/// let config = CompactorConfig {
///     // Chunks written as the engine writes them.
///     chunks: Some(ChunkCompaction { chunk: engine.stream.chunk, ..ChunkCompaction::default() }),
///     ..CompactorConfig::default()
/// };
/// let report = Compactor::new(Arc::new(MemoryStore::new()), config).run_once()?;
/// assert_eq!(report.chunks_written, 0);
/// # Ok::<(), lokistore::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkCompaction {
    /// The chunks written: format, encoding, block size, and the target
    /// size (Loki's `chunk_target_size`, compressed, default 1.5 MB) by
    /// the ingester's rule. Pass the engine's `StreamConfig::chunk`.
    pub chunk: ChunkConfig,
    /// A chunk is small, and merged with its small neighbours, when the
    /// uncompressed size its index entry records is under this many bytes
    /// (default 768 KiB). Only the index is read to decide. Keep it well
    /// under the uncompressed size of a full chunk, so that chunks written
    /// full are never small again.
    pub min_chunk_size: usize,
    /// How long a replaced chunk object stays after the index stopped
    /// referencing it, for readers holding an older index (default 2h,
    /// like retention's delete delay).
    pub delete_delay: Duration,
    /// Most bytes of new chunk objects one table pass writes (they are
    /// held in memory until uploaded); the remaining runs wait for the
    /// next pass (default 256 MiB).
    pub max_pass_bytes: usize,
    /// Threads rewriting runs at once; 0 (the default) uses every core.
    pub threads: usize,
}

impl Default for ChunkCompaction {
    fn default() -> Self {
        Self {
            chunk: ChunkConfig::default(),
            min_chunk_size: DEFAULT_TARGET_SIZE / 2,
            delete_delay: Duration::from_secs(2 * 3600),
            max_pass_bytes: 256 << 20,
            threads: 0,
        }
    }
}

/// What merging the chunks of a table's streams produced.
#[derive(Debug, Default)]
pub(super) struct ChunkWork {
    /// New chunk objects: path and bytes.
    pub objects: Vec<(String, Bytes)>,
    /// Paths of the chunk objects they replace.
    pub replaced: Vec<String>,
    /// Bytes of the chunk objects read.
    pub bytes_read: u64,
    /// Bytes of the chunk objects written.
    pub bytes_written: u64,
    /// Runs left for a later pass (the pass's byte budget was spent).
    /// The budget counts the bytes of every run rewritten, kept or not.
    pub deferred: usize,
}

/// One stream of a tenant.
pub(super) struct StreamRef<'a> {
    pub tenant: &'a TenantId,
    pub labels: &'a Labels,
    pub fingerprint: Fingerprint,
}

impl StreamRef<'_> {
    fn key(&self, c: &ChunkMeta) -> ChunkKey {
        ChunkKey {
            tenant: self.tenant.as_str().to_owned(),
            fingerprint: self.fingerprint,
            from_ms: c.min_time,
            through_ms: c.max_time,
            checksum: c.checksum,
        }
    }
}

/// The read groups of `chunks` (sorted by (MinTime, MaxTime, Checksum)):
/// runs whose ranges overlap, compared in nanoseconds as the engine does.
fn read_groups(chunks: &[ChunkMeta]) -> Vec<Range<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    let mut end_max = i64::MIN;
    for (i, c) in chunks.iter().enumerate() {
        if i > start && c.min_time.saturating_mul(NS_PER_MS) > end_max {
            groups.push(start..i);
            start = i;
            end_max = i64::MIN;
        }
        end_max = end_max.max(c.max_time.saturating_mul(NS_PER_MS));
    }
    if start < chunks.len() {
        groups.push(start..chunks.len());
    }
    groups
}

/// The runs of `chunks` (sorted) to rewrite in table `day`: maximal runs
/// of consecutive mergeable read groups holding at least two chunks.
pub(super) fn runs(chunks: &[ChunkMeta], day: i64, min_chunk_size: usize) -> Vec<Range<usize>> {
    let small = |c: &ChunkMeta| {
        u64::from(c.kb).saturating_mul(1024) < min_chunk_size as u64
            && table_day(c.min_time) == day
            && table_day(c.max_time) == day
            && c.ingested_at == 0
    };
    let mut runs = Vec::new();
    let mut cur: Option<Range<usize>> = None;
    for g in read_groups(chunks) {
        let mergeable = chunks.get(g.clone()).is_some_and(|cs| cs.iter().all(small));
        cur = match (cur, mergeable) {
            (Some(r), true) => Some(r.start..g.end),
            (None, true) => Some(g),
            (Some(r), false) => {
                runs.push(r);
                None
            }
            (None, false) => None,
        };
    }
    runs.extend(cur);
    runs.retain(|r| r.len() >= 2);
    runs
}

/// Why a run is left alone: the object and the reason.
type Skip = (String, String);

/// What rewriting one run gave: the new chunks (meta, path, bytes), or why
/// it is left alone.
type RunOutcome = std::result::Result<Vec<(ChunkMeta, String, Bytes)>, Skip>;

/// New chunks being built from a run's entries. Failures are reasons
/// (strings): the run is then left alone.
struct Builder<'a> {
    store: &'a dyn ObjectStore,
    config: ChunkConfig,
    stream: &'a StreamRef<'a>,
    cur: Chunk,
    last_ts: i64,
    done: Vec<(ChunkMeta, String, Bytes)>,
}

impl<'a> Builder<'a> {
    fn new(store: &'a dyn ObjectStore, config: ChunkConfig, stream: &'a StreamRef<'a>) -> Result<Self> {
        Ok(Self { store, config, stream, cur: Chunk::new(config)?, last_ts: i64::MIN, done: Vec::new() })
    }

    /// Appends an entry, first finishing the current chunk when it is full
    /// and the entry's millisecond does not touch the chunk's last one.
    fn push(&mut self, ts: i64, line: &[u8], metadata: &[(&str, &str)]) -> std::result::Result<(), String> {
        if !metadata.is_empty() && !self.config.format.has_metadata() {
            return Err(format!(
                "an entry at {ts} has structured metadata, which chunk format {} cannot hold",
                self.config.format.to_byte()
            ));
        }
        if !self.cur.is_empty() && !self.cur.space_for(line, metadata) {
            let (_, through) = bounds_to_ms(self.last_ts, self.last_ts);
            let (from, _) = bounds_to_ms(ts, ts);
            if from > through || self.cur.utilization() >= 2.0 {
                self.finish()?;
            }
        }
        self.cur.append(ts, line, metadata).map_err(|e| format!("rewriting the entry at {ts}: {e}"))?;
        self.last_ts = self.last_ts.max(ts);
        Ok(())
    }

    /// Closes and encodes the current chunk (nothing when it is empty).
    fn finish(&mut self) -> std::result::Result<(), String> {
        if self.cur.is_empty() {
            return Ok(());
        }
        let fresh = Chunk::new(self.config).map_err(|e| e.to_string())?;
        let mut c = std::mem::replace(&mut self.cur, fresh);
        let why = |e: &dyn std::fmt::Display| format!("writing the merged chunk: {e}");
        c.close().map_err(|e| why(&e))?;
        let mut obj =
            ChunkObject::from_chunk(self.stream.tenant, self.stream.labels.clone(), &c).map_err(|e| why(&e))?;
        obj.fingerprint = self.stream.fingerprint;
        let (bytes, key) = obj.encode().map_err(|e| why(&e))?;
        let entries = u32::try_from(c.num_entries()).unwrap_or(u32::MAX);
        let meta = ChunkMeta::new(key.from_ms, key.through_ms, c.index_kb(), entries, key.checksum);
        self.done.push((meta, self.store.chunk_path(&key), Bytes::from(bytes)));
        Ok(())
    }
}

/// Fetches and decodes the chunk `meta` of `stream`: `Ok(Err(skip))` when
/// it is missing or unusable.
fn load(
    store: &dyn ObjectStore,
    stream: &StreamRef<'_>,
    meta: &ChunkMeta,
    bytes_read: &mut u64,
) -> Result<std::result::Result<Chunk, Skip>> {
    let key = stream.key(meta);
    let path = store.chunk_path(&key);
    let data = match store.get(&path) {
        Ok(d) => d,
        Err(StoreError::NotFound { .. }) => return Ok(Err((path, "indexed chunk object is missing".to_owned()))),
        Err(e) => return Err(e.into()),
    };
    *bytes_read += data.len() as u64;
    let chunk = ChunkObject::decode_verified(data, &key)
        .map_err(Error::from)
        .and_then(|obj| Chunk::from_bytes(obj.data).map_err(Error::from));
    Ok(match chunk {
        Ok(c) if c.corrupt_blocks() > 0 => Err((path, format!("{} corrupt blocks", c.corrupt_blocks()))),
        Ok(c) => Ok(c),
        Err(e) => Err((path, e.to_string())),
    })
}

/// Feeds every entry of `chunk` to `f` in stored order.
fn each_entry(
    chunk: &Chunk,
    path: &str,
    f: &mut dyn FnMut(&EntryRef<'_>) -> std::result::Result<(), String>,
) -> std::result::Result<(), Skip> {
    let mut it = chunk.iter(i64::MIN, i64::MAX, Direction::Forward);
    while let Some(e) = it.next() {
        let e = e.map_err(|e| (path.to_owned(), e.to_string()))?;
        f(&e).map_err(|why| (path.to_owned(), why))?;
    }
    Ok(())
}

/// Rewrites run `run` of `chunks`: the new chunks' metas, paths and bytes,
/// or why the run is left alone.
fn merge_run(
    store: &dyn ObjectStore,
    config: ChunkConfig,
    stream: &StreamRef<'_>,
    chunks: &[ChunkMeta],
    bytes_read: &mut u64,
) -> Result<RunOutcome> {
    let mut b = Builder::new(store, config, stream)?;
    for g in read_groups(chunks) {
        let group = chunks.get(g).unwrap_or_default();
        if let [one] = group {
            let chunk = match load(store, stream, one, bytes_read)? {
                Ok(c) => c,
                Err(skip) => return Ok(Err(skip)),
            };
            let path = store.chunk_path(&stream.key(one));
            let res = each_entry(&chunk, &path, &mut |e| {
                if e.metadata_len() == 0 {
                    return b.push(e.timestamp, e.line, &[]);
                }
                let pairs: Vec<(&str, &str)> = e.metadata().collect();
                b.push(e.timestamp, e.line, &pairs)
            });
            if let Err(skip) = res {
                return Ok(Err(skip));
            }
            continue;
        }
        let mut merged: Vec<Entry> = Vec::new();
        for c in group {
            let chunk = match load(store, stream, c, bytes_read)? {
                Ok(c) => c,
                Err(skip) => return Ok(Err(skip)),
            };
            let path = store.chunk_path(&stream.key(c));
            match chunk.entries(i64::MIN, i64::MAX, Direction::Forward) {
                Ok(v) => merged.extend(v),
                Err(e) => return Ok(Err((path, e.to_string()))),
            }
        }
        merged.sort_by_key(|e| e.timestamp);
        dedup_same_time(&mut merged);
        for e in &merged {
            let pairs: Vec<(&str, &str)> = e.metadata.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
            if let Err(why) = b.push(e.timestamp, &e.line, &pairs) {
                let first = group.first().map(|c| store.chunk_path(&stream.key(c))).unwrap_or_default();
                return Ok(Err((first, why)));
            }
        }
    }
    if let Err(why) = b.finish() {
        let first = chunks.first().map(|c| store.chunk_path(&stream.key(c))).unwrap_or_default();
        return Ok(Err((first, why)));
    }
    Ok(Ok(b.done))
}

/// Rewrites `jobs` (stream index, run) on up to `threads` threads; returns
/// each job's outcome and the bytes read, in job order.
fn merge_runs(
    store: &dyn ObjectStore,
    config: ChunkConfig,
    streams: &[(StreamRef<'_>, &mut Vec<ChunkMeta>)],
    jobs: &[(usize, Range<usize>)],
    threads: usize,
) -> Result<(Vec<RunOutcome>, u64)> {
    let one = |(s, run): &(usize, Range<usize>)| -> Result<(RunOutcome, u64)> {
        let Some((stream, chunks)) = streams.get(*s) else { return Ok((Ok(Vec::new()), 0)) };
        let mut read = 0;
        let old = chunks.get(run.clone()).unwrap_or_default();
        Ok((merge_run(store, config, stream, old, &mut read)?, read))
    };
    let results: Vec<Result<(RunOutcome, u64)>> = if threads <= 1 || jobs.len() <= 1 {
        jobs.iter().map(one).collect()
    } else {
        let per = jobs.len().div_ceil(threads);
        std::thread::scope(|sc| {
            let handles: Vec<_> =
                jobs.chunks(per).map(|part| sc.spawn(move || part.iter().map(one).collect::<Vec<_>>())).collect();
            handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))).collect()
        })
    };
    let mut outcomes = Vec::with_capacity(results.len());
    let mut read = 0;
    for r in results {
        let (o, n) = r?;
        outcomes.push(o);
        read += n;
    }
    Ok((outcomes, read))
}

/// Merges the small chunks of a tenant's `streams` in table `day`: each
/// chunk list (sorted by (MinTime, MaxTime, Checksum)) is updated in
/// place, the new objects and replaced paths go to `work`, runs left alone
/// to `skipped`. Runs are rewritten on [`ChunkCompaction::threads`]
/// threads, in batches, until the pass's byte budget is spent.
pub(super) fn compact_streams(
    store: &dyn ObjectStore,
    settings: &ChunkCompaction,
    day: i64,
    streams: &mut [(StreamRef<'_>, &mut Vec<ChunkMeta>)],
    work: &mut ChunkWork,
    skipped: &mut Vec<(String, String)>,
) -> Result<()> {
    // Chunks this pass has just written (delete rewrites) are not in the
    // store until the pass commits: runs holding one wait for the next pass.
    let fresh: std::collections::HashSet<String> = work.objects.iter().map(|(k, _)| k.clone()).collect();
    let mut jobs: Vec<(usize, Range<usize>)> = Vec::new();
    for (i, (stream, chunks)) in streams.iter().enumerate() {
        let ready = |r: &Range<usize>| {
            fresh.is_empty()
                || chunks
                    .get(r.clone())
                    .unwrap_or_default()
                    .iter()
                    .all(|c| !fresh.contains(&store.chunk_path(&stream.key(c))))
        };
        jobs.extend(runs(chunks, day, settings.min_chunk_size).into_iter().filter(ready).map(|r| (i, r)));
    }
    if jobs.is_empty() {
        return Ok(());
    }
    let threads = match settings.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    // Outcomes per job; `None` for runs deferred to a later pass.
    let mut outcomes: Vec<Option<RunOutcome>> = Vec::with_capacity(jobs.len());
    let mut held = 0u64;
    for batch in jobs.chunks(threads.saturating_mul(4).max(1)) {
        if held >= settings.max_pass_bytes as u64 {
            work.deferred += batch.len();
            outcomes.extend(batch.iter().map(|_| None));
            continue;
        }
        let (done, read) = merge_runs(store, settings.chunk, streams, batch, threads)?;
        work.bytes_read += read;
        for o in done {
            if let Ok(new) = &o {
                held += new.iter().map(|(_, _, b)| b.len() as u64).sum::<u64>();
            }
            outcomes.push(Some(o));
        }
    }
    // Apply the outcomes stream by stream (jobs are in stream order).
    let mut outcomes = jobs.into_iter().zip(outcomes).peekable();
    for (i, (stream, chunks)) in streams.iter_mut().enumerate() {
        let mut out: Vec<ChunkMeta> = Vec::with_capacity(chunks.len());
        let mut next = 0;
        let mut changed = false;
        while let Some(((_, run), outcome)) = outcomes.next_if(|((s, _), _)| *s == i) {
            out.extend(chunks.get(next..run.start).unwrap_or_default().iter().copied());
            next = run.end;
            let old = chunks.get(run).unwrap_or_default();
            match outcome {
                // Rewriting would not reduce the chunk count (chunks
                // already near the target): leave the run as it is.
                Some(Ok(new)) if new.len() < old.len() => {
                    for (meta, path, bytes) in new {
                        work.bytes_written += bytes.len() as u64;
                        out.push(meta);
                        work.objects.push((path, bytes));
                    }
                    work.replaced.extend(old.iter().map(|c| store.chunk_path(&stream.key(c))));
                    changed = true;
                }
                Some(Err(skip)) => {
                    skipped.push(skip);
                    out.extend(old.iter().copied());
                }
                Some(Ok(_)) | None => out.extend(old.iter().copied()),
            }
        }
        if changed {
            out.extend(chunks.get(next..).unwrap_or_default().iter().copied());
            crate::index::finalize_chunks(&mut out);
            **chunks = out;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(min: i64, max: i64, kb: u32) -> ChunkMeta {
        ChunkMeta::new(min, max, kb, 1, (min * 31 + max) as u32)
    }

    #[test]
    fn runs_skip_big_spanning_and_overlapping_chunks() {
        let day = 1;
        let d = crate::index::DAY_MS;
        let small = 10;
        let big = 10_000;
        let cs = vec![
            meta(d - 5, d + 5, small),         // spans two tables
            meta(d + 10, d + 20, small),       // run 1
            meta(d + 30, d + 40, small),       // run 1
            meta(d + 35, d + 45, small),       // overlaps: same group, run 1
            meta(d + 50, d + 60, big),         // big: breaks
            meta(d + 70, d + 80, small),       // alone
            meta(d + 90, d + 100, small),      // overlaps the big one below
            meta(d + 95, d + 99, big),         //
            meta(d + 200, d + 210, small),     // run 2
            meta(d + 220, d + 230, small),     // run 2
            meta(2 * d + 1, 2 * d + 2, small), // next table
        ];
        assert_eq!(runs(&cs, day, 100 * 1024), vec![1..4, 8..10]);
        assert!(runs(&cs, day, 1024).is_empty(), "nothing is small");
    }

    #[test]
    fn dedup_keeps_distinct_lines() {
        let mut v = vec![Entry::new(1, "a"), Entry::new(1, "b"), Entry::new(1, "a"), Entry::new(2, "a")];
        dedup_same_time(&mut v);
        assert_eq!(v, vec![Entry::new(1, "a"), Entry::new(1, "b"), Entry::new(2, "a")]);
    }
}
