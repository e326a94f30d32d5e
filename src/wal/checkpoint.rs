//! Checkpoint records and directories (`../shared/spec/wal.md` §3).
//!
//! A checkpoint is the directory `checkpoint.NNNNNN` (N = the last WAL
//! segment it covers, 6 digits) holding a wlog of its own, one record per
//! stream: `0x03` + protobuf `loki_ingester.Series`:
//!
//! | # | Series field | wire | encoding |
//! |---|---|---|---|
//! | 1 | userID | 2 | string, omitted when empty |
//! | 2 | fingerprint | 0 | uint64, omitted when 0 |
//! | 3 | labels | 2 | repeated `{bytes name = 1; bytes value = 2}` |
//! | 4 | chunks | 2 | repeated `Chunk` (below) |
//! | 5 | to | 2 | Timestamp, always present |
//! | 6 | lastLine | 2 | string, omitted when empty |
//! | 7 | entryCt | 0 | int64, omitted when 0 |
//! | 8 | highestTs | 2 | Timestamp, always present |
//!
//! | # | Chunk field | wire | encoding |
//! |---|---|---|---|
//! | 1-4 | from, to, flushedAt, lastUpdated | 2 | Timestamp, always present |
//! | 5, 6 | closed, synced | 0 | bool, omitted when false |
//! | 7 | data | 2 | chunk part (`chunk-format.md` §8), omitted when empty |
//! | 8 | head | 2 | head part (`chunk-format.md` §8), omitted when empty |
//!
//! Timestamp = `{int64 seconds = 1; int32 nanos = 2}`, zero fields omitted;
//! Go's zero time is `seconds = -62135596800` and means "unset".

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::error::WalError;
use super::proto::{
    ProtoReader, Value, len_field_len, put_bytes_field, put_message_header, put_varint_field, varint_field_len,
};
use super::record::RECORD_CHECKPOINT;
use crate::chunk::{Chunk, ChunkError, HeadFormat};
use crate::encoding::DecodeError;
use crate::labels::Labels;

/// A protobuf `google.protobuf.Timestamp` as gogo's stdtime writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

impl Timestamp {
    /// Go's zero `time.Time` (0001-01-01T00:00:00Z): "unset".
    pub const GO_ZERO: Timestamp = Timestamp { seconds: -62_135_596_800, nanos: 0 };

    /// The timestamp of `ns` nanoseconds since the epoch.
    pub fn from_unix_nanos(ns: i64) -> Self {
        Self { seconds: ns.div_euclid(NANOS_PER_SEC), nanos: ns.rem_euclid(NANOS_PER_SEC) as i32 }
    }

    /// `Some(ns)` unless this is Go's zero time or out of the `i64`
    /// nanosecond range.
    pub fn to_unix_nanos(self) -> Option<i64> {
        if self.is_zero() {
            return None;
        }
        self.seconds.checked_mul(NANOS_PER_SEC)?.checked_add(i64::from(self.nanos))
    }

    /// True for Go's zero time.
    pub fn is_zero(self) -> bool {
        self == Self::GO_ZERO
    }

    /// The current time.
    pub fn now() -> Self {
        let d = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self { seconds: d.as_secs() as i64, nanos: d.subsec_nanos() as i32 }
    }

    fn encoded_len(self) -> usize {
        let mut n = 0;
        if self.seconds != 0 {
            n += varint_field_len(1, self.seconds as u64);
        }
        if self.nanos != 0 {
            n += varint_field_len(2, i64::from(self.nanos) as u64);
        }
        n
    }

    fn encode_field(self, field: u32, out: &mut Vec<u8>) {
        put_message_header(out, field, self.encoded_len());
        if self.seconds != 0 {
            put_varint_field(out, 1, self.seconds as u64);
        }
        if self.nanos != 0 {
            put_varint_field(out, 2, i64::from(self.nanos) as u64);
        }
    }

    fn decode(buf: &[u8], base: usize) -> Result<Self, DecodeError> {
        let mut r = ProtoReader::new(buf, base);
        let mut t = Timestamp { seconds: 0, nanos: 0 };
        while let Some((field, v)) = r.next_field()? {
            match (field, v) {
                (1, Value::Varint(s)) => t.seconds = s as i64,
                (2, Value::Varint(n)) => t.nanos = n as i32,
                (1 | 2, _) => return Err(r.wrong_type("timestamp field")),
                _ => {}
            }
        }
        Ok(t)
    }
}

impl Default for Timestamp {
    fn default() -> Self {
        Self::GO_ZERO
    }
}

/// One chunk of a checkpointed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointChunk {
    /// Oldest entry.
    pub from: Timestamp,
    /// Newest entry.
    pub to: Timestamp,
    /// When it was flushed (zero if not yet).
    pub flushed_at: Timestamp,
    /// Last append.
    pub last_updated: Timestamp,
    /// Closed for appends.
    pub closed: bool,
    /// Flushed to storage.
    pub synced: bool,
    /// Chunk part: cut blocks with raw symbols.
    pub data: Bytes,
    /// Head part.
    pub head: Bytes,
}

impl CheckpointChunk {
    /// The checkpoint form of `chunk` (via [`Chunk::to_checkpoint`]): bounds
    /// from the chunk, `last_updated` now, not flushed; `closed` as given.
    pub fn from_chunk(chunk: &Chunk, closed: bool) -> Result<Self, ChunkError> {
        let (data, head) = chunk.to_checkpoint()?;
        let (from, to) = chunk.bounds().map_or((Timestamp::GO_ZERO, Timestamp::GO_ZERO), |(a, b)| {
            (Timestamp::from_unix_nanos(a), Timestamp::from_unix_nanos(b))
        });
        Ok(Self {
            from,
            to,
            flushed_at: Timestamp::GO_ZERO,
            last_updated: Timestamp::now(),
            closed,
            synced: false,
            data: Bytes::from(data),
            head: Bytes::from(head),
        })
    }

    /// Restores the live chunk (via [`Chunk::from_checkpoint`]).
    pub fn restore(
        &self,
        desired_head: HeadFormat,
        block_size: usize,
        target_size: usize,
    ) -> Result<Chunk, ChunkError> {
        Chunk::from_checkpoint(self.data.clone(), &self.head, desired_head, block_size, target_size)
    }

    fn encoded_len(&self) -> usize {
        let mut n = 0;
        for t in [self.from, self.to, self.flushed_at, self.last_updated] {
            n += len_field_len(1, t.encoded_len());
        }
        n += usize::from(self.closed) * 2 + usize::from(self.synced) * 2;
        if !self.data.is_empty() {
            n += len_field_len(7, self.data.len());
        }
        if !self.head.is_empty() {
            n += len_field_len(8, self.head.len());
        }
        n
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.from.encode_field(1, out);
        self.to.encode_field(2, out);
        self.flushed_at.encode_field(3, out);
        self.last_updated.encode_field(4, out);
        if self.closed {
            put_varint_field(out, 5, 1);
        }
        if self.synced {
            put_varint_field(out, 6, 1);
        }
        if !self.data.is_empty() {
            put_bytes_field(out, 7, &self.data);
        }
        if !self.head.is_empty() {
            put_bytes_field(out, 8, &self.head);
        }
    }

    fn decode(buf: &Bytes, base: usize) -> Result<Self, DecodeError> {
        let mut r = ProtoReader::new(buf, base);
        let mut c = CheckpointChunk {
            from: Timestamp::GO_ZERO,
            to: Timestamp::GO_ZERO,
            flushed_at: Timestamp::GO_ZERO,
            last_updated: Timestamp::GO_ZERO,
            closed: false,
            synced: false,
            data: Bytes::new(),
            head: Bytes::new(),
        };
        while let Some((field, v)) = r.next_field()? {
            match (field, v) {
                (1..=4, Value::Len { start, len }) => {
                    let t = Timestamp::decode(&buf[start..start + len], base + start)?;
                    match field {
                        1 => c.from = t,
                        2 => c.to = t,
                        3 => c.flushed_at = t,
                        _ => c.last_updated = t,
                    }
                }
                (5, Value::Varint(b)) => c.closed = b != 0,
                (6, Value::Varint(b)) => c.synced = b != 0,
                (7, Value::Len { start, len }) => c.data = buf.slice(start..start + len),
                (8, Value::Len { start, len }) => c.head = buf.slice(start..start + len),
                (1..=8, _) => return Err(r.wrong_type("chunk field")),
                _ => {}
            }
        }
        Ok(c)
    }
}

/// One stream as a checkpoint stores it (`loki_ingester.Series`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CheckpointSeries {
    /// The tenant.
    pub tenant: String,
    /// The fingerprint later WAL entries records use as the stream's ref.
    pub fingerprint: u64,
    /// The stream labels.
    pub labels: Labels,
    /// All chunks held in memory.
    pub chunks: Vec<CheckpointChunk>,
    /// Timestamp of the last accepted line.
    pub to: Timestamp,
    /// Content of the last accepted line.
    pub last_line: Bytes,
    /// The stream's entry counter.
    pub entry_count: i64,
    /// Highest timestamp ever accepted.
    pub highest_ts: Timestamp,
}

impl CheckpointSeries {
    /// Appends the checkpoint record (`0x03` + protobuf) to `out`.
    pub fn encode_record(&self, out: &mut Vec<u8>) {
        out.reserve(1 + self.encoded_len());
        out.push(RECORD_CHECKPOINT);
        self.encode(out);
    }

    fn encoded_len(&self) -> usize {
        let mut n = 0;
        if !self.tenant.is_empty() {
            n += len_field_len(1, self.tenant.len());
        }
        if self.fingerprint != 0 {
            n += varint_field_len(2, self.fingerprint);
        }
        for l in &self.labels {
            n += len_field_len(3, label_pair_len(&l.name, &l.value));
        }
        for c in &self.chunks {
            n += len_field_len(4, c.encoded_len());
        }
        n += len_field_len(5, self.to.encoded_len());
        if !self.last_line.is_empty() {
            n += len_field_len(6, self.last_line.len());
        }
        if self.entry_count != 0 {
            n += varint_field_len(7, self.entry_count as u64);
        }
        n + len_field_len(8, self.highest_ts.encoded_len())
    }

    fn encode(&self, out: &mut Vec<u8>) {
        if !self.tenant.is_empty() {
            put_bytes_field(out, 1, self.tenant.as_bytes());
        }
        if self.fingerprint != 0 {
            put_varint_field(out, 2, self.fingerprint);
        }
        for l in &self.labels {
            put_message_header(out, 3, label_pair_len(&l.name, &l.value));
            if !l.name.is_empty() {
                put_bytes_field(out, 1, l.name.as_bytes());
            }
            if !l.value.is_empty() {
                put_bytes_field(out, 2, l.value.as_bytes());
            }
        }
        for c in &self.chunks {
            put_message_header(out, 4, c.encoded_len());
            c.encode(out);
        }
        self.to.encode_field(5, out);
        if !self.last_line.is_empty() {
            put_bytes_field(out, 6, &self.last_line);
        }
        if self.entry_count != 0 {
            put_varint_field(out, 7, self.entry_count as u64);
        }
        self.highest_ts.encode_field(8, out);
    }

    /// Decodes the protobuf message (without the record type byte). `base`
    /// is the message's offset in the record, for error offsets.
    pub fn decode(buf: &Bytes, base: usize) -> Result<Self, DecodeError> {
        let mut r = ProtoReader::new(buf, base);
        let mut s = CheckpointSeries::default();
        let mut pairs = Vec::new();
        while let Some((field, v)) = r.next_field()? {
            match (field, v) {
                (1, Value::Len { start, len }) => {
                    s.tenant = String::from_utf8(buf[start..start + len].to_vec())
                        .map_err(|_| DecodeError::invalid("userID", base + start, "not valid UTF-8"))?;
                }
                (2, Value::Varint(fp)) => s.fingerprint = fp,
                (3, Value::Len { start, len }) => {
                    pairs.push(decode_label_pair(&buf[start..start + len], base + start)?)
                }
                (4, Value::Len { start, len }) => {
                    s.chunks.push(CheckpointChunk::decode(&buf.slice(start..start + len), base + start)?);
                }
                (5, Value::Len { start, len }) => s.to = Timestamp::decode(&buf[start..start + len], base + start)?,
                (6, Value::Len { start, len }) => s.last_line = buf.slice(start..start + len),
                (7, Value::Varint(n)) => s.entry_count = n as i64,
                (8, Value::Len { start, len }) => {
                    s.highest_ts = Timestamp::decode(&buf[start..start + len], base + start)?;
                }
                (1..=8, _) => return Err(r.wrong_type("series field")),
                _ => {}
            }
        }
        let at = r.offset();
        s.labels = Labels::from_pairs(pairs).map_err(|e| DecodeError::invalid("labels", at, e.to_string()))?;
        Ok(s)
    }
}

fn label_pair_len(name: &str, value: &str) -> usize {
    let mut n = 0;
    if !name.is_empty() {
        n += len_field_len(1, name.len());
    }
    if !value.is_empty() {
        n += len_field_len(2, value.len());
    }
    n
}

fn decode_label_pair(buf: &[u8], base: usize) -> Result<(String, String), DecodeError> {
    let mut r = ProtoReader::new(buf, base);
    let (mut name, mut value) = (String::new(), String::new());
    while let Some((field, v)) = r.next_field()? {
        match (field, v) {
            (1 | 2, Value::Len { start, len }) => {
                let s = String::from_utf8(buf[start..start + len].to_vec())
                    .map_err(|_| DecodeError::invalid("label", base + start, "not valid UTF-8"))?;
                if field == 1 {
                    name = s;
                } else {
                    value = s;
                }
            }
            (1 | 2, _) => return Err(r.wrong_type("label field")),
            _ => {}
        }
    }
    Ok((name, value))
}

/// Directory name of checkpoint `index`.
pub fn checkpoint_name(index: u32) -> String {
    format!("checkpoint.{index:06}")
}

/// Parses `checkpoint.N` / `checkpoint.N.tmp`: `(N, is_tmp)`.
pub fn parse_checkpoint_name(name: &str) -> Option<(u32, bool)> {
    let rest = name.strip_prefix("checkpoint.")?;
    let (digits, tmp) = match rest.strip_suffix(".tmp") {
        Some(d) => (d, true),
        None => (rest, false),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((digits.parse().ok()?, tmp))
}

/// A checkpoint directory found in a WAL directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointDir {
    /// N of `checkpoint.N`.
    pub index: u32,
    /// A `.tmp` directory (incomplete).
    pub tmp: bool,
    /// Its path.
    pub path: PathBuf,
}

/// Every `checkpoint.N[.tmp]` in `dir`, ordered by index (complete before tmp).
pub fn list_checkpoints(dir: &Path) -> Result<Vec<CheckpointDir>, WalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| WalError::io(dir, e))? {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let Some((index, tmp)) = entry.file_name().to_str().and_then(parse_checkpoint_name) else { continue };
        if !entry.file_type().map_err(|e| WalError::io(entry.path(), e))?.is_dir() {
            return Err(WalError::Config(format!("{} is not a directory", entry.path().display())));
        }
        out.push(CheckpointDir { index, tmp, path: entry.path() });
    }
    out.sort_by_key(|c| (c.index, c.tmp));
    Ok(out)
}

/// The newest complete checkpoint in `dir`.
pub fn latest_checkpoint(dir: &Path) -> Result<Option<CheckpointDir>, WalError> {
    Ok(list_checkpoints(dir)?.into_iter().rfind(|c| !c.tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_timestamp_bytes_match_loki() {
        let mut out = Vec::new();
        Timestamp::GO_ZERO.encode_field(3, &mut out);
        assert_eq!(out, [0x1a, 0x0b, 0x08, 0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(Timestamp::decode(&out[2..], 0).unwrap(), Timestamp::GO_ZERO);
        assert_eq!(Timestamp::GO_ZERO.to_unix_nanos(), None);
        assert_eq!(Timestamp::from_unix_nanos(-1), Timestamp { seconds: -1, nanos: 999_999_999 });
        assert_eq!(Timestamp::from_unix_nanos(-1).to_unix_nanos(), Some(-1));
    }

    #[test]
    fn series_round_trip() {
        let s = CheckpointSeries {
            tenant: "t".into(),
            fingerprint: 42,
            labels: Labels::from_pairs([("a", "1"), ("b", "2")]).unwrap(),
            chunks: vec![CheckpointChunk {
                from: Timestamp::from_unix_nanos(5),
                to: Timestamp::from_unix_nanos(9_000_000_007),
                flushed_at: Timestamp::GO_ZERO,
                last_updated: Timestamp::now(),
                closed: true,
                synced: false,
                data: Bytes::from_static(b"data"),
                head: Bytes::new(),
            }],
            to: Timestamp::from_unix_nanos(0),
            last_line: Bytes::from_static(b"last"),
            entry_count: 17,
            highest_ts: Timestamp::GO_ZERO,
        };
        let mut out = Vec::new();
        s.encode_record(&mut out);
        assert_eq!(out.len(), 1 + s.encoded_len());
        let back = CheckpointSeries::decode(&Bytes::from(out[1..].to_vec()), 1).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn names() {
        assert_eq!(checkpoint_name(42), "checkpoint.000042");
        assert_eq!(parse_checkpoint_name("checkpoint.000042"), Some((42, false)));
        assert_eq!(parse_checkpoint_name("checkpoint.1234567.tmp"), Some((1_234_567, true)));
        assert_eq!(parse_checkpoint_name("checkpoint."), None);
        assert_eq!(parse_checkpoint_name("checkpoint.12a"), None);
    }
}
