//! Recovery: replays the newest checkpoint, then every WAL segment, into a
//! [`ReplaySink`] (`../shared/spec/wal.md` §4, §5).
//!
//! | step | what |
//! |---|---|
//! | 1 | the newest complete `checkpoint.N`: each `Series` record is handed to [`ReplaySink::restore`]; its `entryCt` becomes the stream's counter |
//! | 2 | every segment of the WAL directory in order: series records -> [`ReplaySink::series`]; entries groups -> [`ReplaySink::entries`] unless `0 < counter <= ` the stream's counter (already applied), groups of unknown streams are counted and skipped |
//! | 3 | after each record, if the sink reports more memory than the ceiling, [`ReplaySink::spill`] |
//!
//! Damage: a record cut short at the end of the newest non-empty segment
//! (the torn tail a crash leaves; nothing valid follows it) ends replay
//! normally and is reported in [`ReplayReport::torn_tail`]. Any other
//! corruption is handled per [`RecoveryMode`]. Replay never modifies the
//! directory.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use bytes::Bytes;

use super::checkpoint::{CheckpointSeries, latest_checkpoint};
use super::error::{CorruptionKind, Location, WalError};
use super::reader::{Corruption, RawRecord, SegmentReader};
use super::record::{Record, decode_record};
use super::segment::{list_segments, segment_path};
use crate::chunk::Entry;
use crate::labels::Labels;

/// Errors a sink returns; replay stops with [`WalError::Sink`].
pub type SinkError = Box<dyn std::error::Error + Send + Sync>;

/// What replay does with corruption other than a torn tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Fail replay with [`WalError::Corrupt`] (segment and offset). The default.
    #[default]
    Fail,
    /// Stop replaying at the corruption and report it: records before it
    /// are kept, everything after it is not replayed (Loki's behaviour).
    Stop,
    /// Report the corruption and continue at the next record that verifies.
    Skip,
}

/// Replay settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Corruption handling.
    pub recovery: RecoveryMode,
    /// When [`ReplaySink::memory_usage`] exceeds this many bytes,
    /// [`ReplaySink::spill`] is called (Loki's `replay_memory_ceiling`,
    /// default 4 GB). `None` disables.
    pub memory_ceiling: Option<usize>,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        Self { recovery: RecoveryMode::Fail, memory_ceiling: Some(4 << 30) }
    }
}

/// Receives the replayed state. The engine implements it over its tenants
/// and streams; [`super::MemorySink`] is a ready-made in-memory one.
pub trait ReplaySink {
    /// A stream from the checkpoint: create it (or replace its chunks) with
    /// the given chunks (see [`super::CheckpointChunk::restore`]), counter,
    /// last line and highest timestamp.
    fn restore(&mut self, series: CheckpointSeries) -> Result<(), SinkError>;

    /// A series record: get or create the stream `labels` of `tenant`;
    /// later entries name it by `fingerprint`.
    fn series(&mut self, tenant: &str, fingerprint: u64, labels: &Labels) -> Result<(), SinkError>;

    /// Entries of a stream announced earlier by [`ReplaySink::series`] or
    /// [`ReplaySink::restore`], to append with replay semantics (no
    /// out-of-order window; rejected entries are ignored). `counter` is the
    /// stream's counter after them (0 for V1 records); the sink keeps it
    /// for its next checkpoint.
    fn entries(&mut self, tenant: &str, fingerprint: u64, counter: i64, entries: Vec<Entry>) -> Result<(), SinkError>;

    /// Bytes of replayed data held in memory and not yet flushed.
    fn memory_usage(&self) -> usize {
        0
    }

    /// Flush what it holds to storage to get under the memory ceiling.
    fn spill(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}

/// What replay found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// N of the checkpoint replayed.
    pub checkpoint: Option<u32>,
    /// Streams restored from the checkpoint.
    pub checkpoint_series: u64,
    /// Segment indexes replayed (the WAL directory's, not the checkpoint's).
    pub segments: Vec<u32>,
    /// Records decoded (checkpoint and segments).
    pub records: u64,
    /// Bytes of record payloads decoded.
    pub bytes: u64,
    /// Series announced by series records.
    pub series: u64,
    /// Entries handed to the sink.
    pub entries: u64,
    /// Entries skipped because their group was already applied.
    pub duplicate_entries: u64,
    /// Entries skipped because no series record or checkpoint named their stream.
    pub unknown_stream_entries: u64,
    /// Where a torn tail was found (and ignored).
    pub torn_tail: Option<Location>,
    /// Corruptions reported under [`RecoveryMode::Stop`] / [`RecoveryMode::Skip`].
    pub corruptions: Vec<Corruption>,
    /// Replay stopped at a corruption ([`RecoveryMode::Stop`]).
    pub stopped_at_corruption: bool,
    /// Times the sink was asked to spill.
    pub spills: u64,
}

struct Replayer<'a> {
    opts: ReplayOptions,
    sink: &'a mut dyn ReplaySink,
    counters: HashMap<(String, u64), i64>,
    report: ReplayReport,
}

enum Flow {
    Continue,
    Stop,
}

/// Replays the WAL in `dir` into `sink`. Read only: the directory is not
/// modified (opening a [`super::Wal`] afterwards truncates a torn tail).
pub fn replay(
    dir: impl AsRef<Path>,
    opts: &ReplayOptions,
    sink: &mut dyn ReplaySink,
) -> Result<ReplayReport, WalError> {
    let dir = dir.as_ref();
    let mut r = Replayer { opts: *opts, sink, counters: HashMap::new(), report: ReplayReport::default() };
    if let Some(cp) = latest_checkpoint(dir)? {
        r.report.checkpoint = Some(cp.index);
        for seg in list_segments(&cp.path)? {
            let data = read_segment(&cp.path, seg)?;
            let reader = SegmentReader::new(Some(cp.index), seg, data);
            if let Flow::Stop = r.run_segment(reader, false, true)? {
                return Ok(r.report);
            }
        }
    }
    let segments = list_segments(dir)?;
    let mut files = Vec::with_capacity(segments.len());
    for &seg in &segments {
        files.push((seg, read_segment(dir, seg)?));
    }
    let last_nonempty = files.iter().rev().find(|(_, d)| !d.is_empty()).map(|(s, _)| *s);
    r.report.segments = segments;
    for (seg, data) in files {
        let reader = SegmentReader::new(None, seg, data);
        if let Flow::Stop = r.run_segment(reader, Some(seg) == last_nonempty, false)? {
            break;
        }
    }
    Ok(r.report)
}

fn read_segment(dir: &Path, seg: u32) -> Result<Bytes, WalError> {
    let p = segment_path(dir, seg);
    fs::read(&p).map(Bytes::from).map_err(|e| WalError::io(p, e))
}

impl Replayer<'_> {
    fn run_segment(&mut self, mut reader: SegmentReader, is_last: bool, checkpoint: bool) -> Result<Flow, WalError> {
        loop {
            match reader.next() {
                None => return Ok(Flow::Continue),
                Some(Ok(rec)) => {
                    let loc = rec.location;
                    if let Err(kind) = self.apply(rec, checkpoint)? {
                        let c = Corruption { location: loc, kind, record_start: loc.offset };
                        if let Flow::Stop = self.corruption(c)? {
                            return Ok(Flow::Stop);
                        }
                    }
                }
                Some(Err(c)) => {
                    if is_last && c.kind.is_truncation() && !reader.has_record_after(c.location.offset) {
                        self.report.torn_tail = Some(c.location);
                        return Ok(Flow::Continue);
                    }
                    if let Flow::Stop = self.corruption(c)? {
                        return Ok(Flow::Stop);
                    }
                    reader.resync();
                }
            }
        }
    }

    fn corruption(&mut self, c: Corruption) -> Result<Flow, WalError> {
        match self.opts.recovery {
            RecoveryMode::Fail => Err(c.into()),
            RecoveryMode::Stop => {
                self.report.corruptions.push(c);
                self.report.stopped_at_corruption = true;
                Ok(Flow::Stop)
            }
            RecoveryMode::Skip => {
                self.report.corruptions.push(c);
                Ok(Flow::Continue)
            }
        }
    }

    /// Applies one record. The inner error is a record that does not decode
    /// (or does not belong where it was found).
    fn apply(&mut self, rec: RawRecord, checkpoint: bool) -> Result<Result<(), CorruptionKind>, WalError> {
        let record = match decode_record(&rec.data) {
            Ok(r) => r,
            Err(e) => return Ok(Err(CorruptionKind::Record(e))),
        };
        self.report.records += 1;
        self.report.bytes += rec.data.len() as u64;
        match (record, checkpoint) {
            (Record::Checkpoint(series), true) => {
                self.counters.insert((series.tenant.clone(), series.fingerprint), series.entry_count);
                self.report.checkpoint_series += 1;
                self.sink.restore(*series).map_err(WalError::Sink)?;
            }
            (Record::Series { tenant, series }, false) => {
                for s in series {
                    self.counters.entry((tenant.clone(), s.fingerprint)).or_insert(0);
                    self.report.series += 1;
                    self.sink.series(&tenant, s.fingerprint, &s.labels).map_err(WalError::Sink)?;
                }
            }
            (Record::Entries { tenant, streams, .. }, false) => {
                let mut key = (tenant, 0u64);
                for g in streams {
                    key.1 = g.fingerprint;
                    let n = g.entries.len() as u64;
                    let Some(current) = self.counters.get_mut(&key) else {
                        self.report.unknown_stream_entries += n;
                        continue;
                    };
                    if g.counter > 0 && g.counter <= *current {
                        self.report.duplicate_entries += n;
                        continue;
                    }
                    *current = if g.counter > 0 { g.counter } else { current.saturating_add(n as i64) };
                    self.report.entries += n;
                    self.sink.entries(&key.0, g.fingerprint, g.counter, g.entries).map_err(WalError::Sink)?;
                }
            }
            (_, cp) => {
                let msg = if cp {
                    "only checkpoint records belong in a checkpoint"
                } else {
                    "checkpoint record in a WAL segment"
                };
                return Ok(Err(CorruptionKind::Record(crate::encoding::DecodeError::invalid("record type", 0, msg))));
            }
        }
        if let Some(ceiling) = self.opts.memory_ceiling
            && self.sink.memory_usage() > ceiling
        {
            self.report.spills += 1;
            self.sink.spill().map_err(WalError::Sink)?;
        }
        Ok(Ok(()))
    }
}
