//! [`MemorySink`]: a small in-memory ingester (tenant -> stream) that
//! produces WAL records for pushes, replays a WAL, and yields its state for
//! checkpoints. Used by tests, the crash-test child and the benchmarks; a
//! reference for the engine's own sink.

use std::collections::BTreeMap;

use super::checkpoint::{CheckpointChunk, CheckpointSeries, Timestamp};
use super::error::WalError;
use super::record::{RefEntries, RefSeries};
use super::replay::{ReplaySink, SinkError};
use crate::chunk::{Chunk, ChunkError, Direction, Entry};
use crate::labels::Labels;
use crate::stream::{PushOutcome, Stream, StreamConfig};

/// One stream of a [`MemorySink`].
#[derive(Debug, Clone)]
pub struct MemStream {
    /// The tenant.
    pub tenant: String,
    /// The fingerprint the WAL names the stream by.
    pub fingerprint: u64,
    /// The live stream.
    pub stream: Stream,
    /// The WAL counter: entries stored so far.
    pub entry_count: i64,
    /// Chunks handed to "storage" by [`MemorySink::spill`].
    pub flushed: Vec<Chunk>,
}

impl MemStream {
    /// Every entry: flushed chunks, closed chunks, then the current one.
    pub fn entries(&self) -> Result<Vec<Entry>, ChunkError> {
        let mut out = Vec::new();
        for c in self.flushed.iter().chain(self.stream.closed_chunks()).chain([self.stream.current_chunk()]) {
            out.extend(c.entries(i64::MIN, i64::MAX, Direction::Forward)?);
        }
        Ok(out)
    }
}

/// Records to log for one push (see [`MemorySink::push`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecords {
    /// The stream, if the push created it.
    pub new_series: Option<RefSeries>,
    /// The stored entries with the stream's counter after them.
    pub entries: RefEntries,
}

/// An in-memory ingester: `(tenant, fingerprint) -> stream`.
#[derive(Debug, Clone)]
pub struct MemorySink {
    config: StreamConfig,
    streams: BTreeMap<(String, u64), MemStream>,
    unflushed_bytes: usize,
    spills: usize,
}

impl MemorySink {
    /// An empty sink whose streams use `config`.
    pub fn new(config: StreamConfig) -> Self {
        Self { config, streams: BTreeMap::new(), unflushed_bytes: 0, spills: 0 }
    }

    /// Pushes entries to a stream (created if new), returning what to log.
    /// Entries the stream rejects or drops as duplicates are left out, as
    /// Loki leaves them out of the WAL.
    pub fn push(&mut self, tenant: &str, labels: &Labels, entries: &[Entry]) -> Result<PushRecords, ChunkError> {
        let fp = labels.fingerprint().0;
        let key = (tenant.to_owned(), fp);
        let mut new_series = None;
        if !self.streams.contains_key(&key) {
            self.insert(tenant, fp, labels.clone())?;
            new_series = Some(RefSeries { fingerprint: fp, labels: labels.clone() });
        }
        let s = self.streams.get_mut(&key).expect("inserted above");
        let mut stored = Vec::with_capacity(entries.len());
        for e in entries {
            if let Ok(PushOutcome::Stored) = s.stream.push(e) {
                s.entry_count += 1;
                self.unflushed_bytes += entry_size(e);
                stored.push(e.clone());
            }
        }
        Ok(PushRecords { new_series, entries: RefEntries { fingerprint: fp, counter: s.entry_count, entries: stored } })
    }

    fn insert(&mut self, tenant: &str, fp: u64, labels: Labels) -> Result<&mut MemStream, ChunkError> {
        let stream = Stream::new(labels, self.config)?;
        let s = MemStream { tenant: tenant.to_owned(), fingerprint: fp, stream, entry_count: 0, flushed: Vec::new() };
        Ok(self.streams.entry((tenant.to_owned(), fp)).or_insert(s))
    }

    /// The streams, ordered by tenant and fingerprint.
    pub fn streams(&self) -> impl Iterator<Item = &MemStream> {
        self.streams.values()
    }

    /// The stream with these labels.
    pub fn get(&self, tenant: &str, labels: &Labels) -> Option<&MemStream> {
        self.streams.get(&(tenant.to_owned(), labels.fingerprint().0))
    }

    /// Times [`MemorySink::spill`] ran.
    pub fn spills(&self) -> usize {
        self.spills
    }

    /// Every stream in checkpoint form, for [`super::Wal::checkpoint`].
    /// Streams without chunks are included so their counter and labels
    /// survive the truncation of the segments that announced them.
    pub fn checkpoint_series(&self) -> impl Iterator<Item = Result<CheckpointSeries, WalError>> + '_ {
        self.streams.values().map(|s| {
            let mut chunks = Vec::new();
            for c in s.stream.closed_chunks() {
                chunks.push(CheckpointChunk::from_chunk(c, true)?);
            }
            if !s.stream.current_chunk().is_empty() {
                chunks.push(CheckpointChunk::from_chunk(s.stream.current_chunk(), false)?);
            }
            let highest = s.stream.highest_timestamp().map_or(Timestamp::GO_ZERO, Timestamp::from_unix_nanos);
            Ok(CheckpointSeries {
                tenant: s.tenant.clone(),
                fingerprint: s.fingerprint,
                labels: s.stream.labels().clone(),
                chunks,
                to: Timestamp::GO_ZERO,
                last_line: bytes::Bytes::new(),
                entry_count: s.entry_count,
                highest_ts: highest,
            })
        })
    }
}

fn entry_size(e: &Entry) -> usize {
    e.line.len() + 16 + e.metadata.iter().map(|m| m.name.len() + m.value.len()).sum::<usize>()
}

impl ReplaySink for MemorySink {
    fn restore(&mut self, series: CheckpointSeries) -> Result<(), SinkError> {
        let cfg = self.config.chunk;
        let key = (series.tenant.clone(), series.fingerprint);
        self.streams.remove(&key);
        let s = self.insert(&series.tenant, series.fingerprint, series.labels.clone())?;
        let mut added = 0;
        for c in &series.chunks {
            let chunk = c.restore(cfg.head_format, cfg.block_size, cfg.target_size)?;
            for e in chunk.entries(i64::MIN, i64::MAX, Direction::Forward)? {
                added += entry_size(&e);
                // Replay skips the out-of-order window; an entry the chunk
                // itself refuses could never have been stored.
                let _ = s.stream.replay_push(&e);
            }
        }
        s.entry_count = series.entry_count;
        self.unflushed_bytes += added;
        Ok(())
    }

    fn series(&mut self, tenant: &str, fingerprint: u64, labels: &Labels) -> Result<(), SinkError> {
        if !self.streams.contains_key(&(tenant.to_owned(), fingerprint)) {
            self.insert(tenant, fingerprint, labels.clone())?;
        }
        Ok(())
    }

    fn entries(&mut self, tenant: &str, fingerprint: u64, counter: i64, entries: Vec<Entry>) -> Result<(), SinkError> {
        let Some(s) = self.streams.get_mut(&(tenant.to_owned(), fingerprint)) else {
            return Err(format!("entries for unknown stream {fingerprint:016x} of tenant {tenant}").into());
        };
        let mut stored = 0;
        for e in &entries {
            if let Ok(PushOutcome::Stored) = s.stream.replay_push(e) {
                stored += 1;
                self.unflushed_bytes += entry_size(e);
            }
        }
        s.entry_count = if counter > 0 { counter } else { s.entry_count + stored };
        Ok(())
    }

    fn memory_usage(&self) -> usize {
        self.unflushed_bytes
    }

    fn spill(&mut self) -> Result<(), SinkError> {
        for s in self.streams.values_mut() {
            s.stream.cut()?;
            s.flushed.extend(s.stream.take_closed_chunks());
        }
        self.unflushed_bytes = 0;
        self.spills += 1;
        Ok(())
    }
}
