//! The write-ahead log: Loki's ingester WAL, byte for byte
//! (`../shared/spec/wal.md`).
//!
//! | file | concept |
//! |---|---|
//! | `segment.rs` | segment files, 32 KiB pages, fragments; the page framer (§1) |
//! | `reader.rs` | reading a segment's records back, with corruption checks and resynchronization (§1.5, §5) |
//! | `record.rs` | series and entries records (§2) |
//! | `proto.rs` | the minimal protobuf wire reader/writer for checkpoints |
//! | `checkpoint.rs` | checkpoint `Series` records and `checkpoint.NNNNNN` directories (§3) |
//! | `writer.rs` | [`Wal`]: appends, sync modes and group commit, rotation, checkpoint + truncation |
//! | `replay.rs` | [`replay`]: checkpoint then segments into a [`ReplaySink`], recovery modes, memory ceiling (§4) |
//! | `memory_sink.rs` | [`MemorySink`], an in-memory ingester implementing [`ReplaySink`] |
//!
//! Typical start-up: `replay(dir, &opts, &mut sink)`, then
//! `Wal::open(dir, config)` (which truncates a torn tail and starts a new
//! segment), then per push `wal.log(tenant, &new_series, &entries)` before
//! acknowledging, and `wal.checkpoint(streams)` whenever
//! `wal.needs_checkpoint()`.

mod checkpoint;
mod error;
#[cfg(feature = "internals")]
pub mod fuzz_harness;
mod memory_sink;
mod proto;
mod reader;
mod record;
mod replay;
mod segment;
mod writer;

pub use checkpoint::{
    CheckpointChunk, CheckpointDir, CheckpointSeries, Timestamp, checkpoint_name, latest_checkpoint, list_checkpoints,
    parse_checkpoint_name,
};
pub use error::{CorruptionKind, Location, WalError};
pub use memory_sink::{MemStream, MemorySink, PushRecords};
pub use reader::{Corruption, RawRecord, SegmentReader};
pub use record::{
    RECORD_CHECKPOINT, RECORD_ENTRIES_V1, RECORD_ENTRIES_V2, RECORD_ENTRIES_V3, RECORD_SERIES, Record, RefEntries,
    RefSeries, decode_record, encode_entries, encode_entries_version, encode_series,
};
pub use replay::{RecoveryMode, ReplayOptions, ReplayReport, ReplaySink, SinkError, replay};
pub use segment::{DEFAULT_SEGMENT_SIZE, HEADER_SIZE, MAX_FRAGMENT_PAYLOAD, PAGE_SIZE, list_segments, segment_name};
pub use writer::{CheckpointStats, SyncMode, Wal, WalConfig};

/// Lays `records` out as one segment exactly as Loki's writer would (one
/// `Log` call per record), without the final padding unless `close`; for
/// byte-identity tests and tools.
pub fn frame_segment(records: &[&[u8]], segment_size: u64, close: bool) -> Vec<u8> {
    let mut f = segment::Framer::new(segment_size);
    for r in records {
        f.append(r);
    }
    if close {
        f.pad_page();
    }
    f.out
}
