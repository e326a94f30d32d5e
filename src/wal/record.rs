//! Loki's WAL record payloads (`../shared/spec/wal.md` §2): the series record
//! and the entries record (V1, V2, V3; lokistore writes V3).
//!
//! | record | layout |
//! |---|---|
//! | series (1) | `0x01`, `str tenant`, `0x01` (Prometheus series type), then until the end: `BE64 ref`, `uvarint nLabels`, nLabels × (`str name`, `str value`) |
//! | entries (2, 4, 5) | type, `str tenant`, `BE64 base` (ts of the first entry of the first non-empty group; absent when there is no entry), then until the end, per group: `BE64 ref`, `BE64 counter` (4, 5 only), `uvarint n`, n × (`varint ts - base`, `str line`, and for 5: `uvarint nMeta`, nMeta × (`str name`, `str value`)) |
//!
//! `str` is `uvarint len` + bytes. Groups with no entries are not written.
//! Decoding is checked: counts are bounded by the bytes left before
//! anything is allocated, and leftover bytes are an error.

use bytes::Bytes;

use super::checkpoint::CheckpointSeries;
use crate::chunk::Entry;
use crate::encoding::{Cursor, DecodeError, put_u64_be, put_uvarint, put_varint};
use crate::labels::{Label, Labels};

/// Series record type byte.
pub const RECORD_SERIES: u8 = 1;
/// Entries record without counter or metadata (read only).
pub const RECORD_ENTRIES_V1: u8 = 2;
/// Checkpoint record (only inside `checkpoint.NNNNNN`).
pub const RECORD_CHECKPOINT: u8 = 3;
/// Entries record with counter (read only).
pub const RECORD_ENTRIES_V2: u8 = 4;
/// Entries record with counter and structured metadata (written).
pub const RECORD_ENTRIES_V3: u8 = 5;
/// Prometheus' series record type, nested in Loki's series record.
const PROMETHEUS_SERIES: u8 = 1;

/// A stream announced by a series record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefSeries {
    /// The stream's ref: its fingerprint.
    pub fingerprint: u64,
    /// The stream labels.
    pub labels: Labels,
}

/// One stream's entries in an entries record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefEntries {
    /// The stream's ref: its fingerprint.
    pub fingerprint: u64,
    /// The stream's entry counter after these entries were stored (0 in V1
    /// records: never skipped on replay).
    pub counter: i64,
    /// The entries in push order, metadata as pushed.
    pub entries: Vec<Entry>,
}

/// A decoded WAL record.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Record {
    /// New streams of one tenant.
    Series {
        /// The tenant.
        tenant: String,
        /// The streams.
        series: Vec<RefSeries>,
    },
    /// Entries of one tenant's push.
    Entries {
        /// The tenant.
        tenant: String,
        /// The record type byte (2, 4 or 5).
        version: u8,
        /// The entries per stream.
        streams: Vec<RefEntries>,
    },
    /// One stream of a checkpoint.
    Checkpoint(Box<CheckpointSeries>),
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a series record to `out`.
pub fn encode_series(tenant: &str, series: &[RefSeries], out: &mut Vec<u8>) {
    out.push(RECORD_SERIES);
    put_str(out, tenant.as_bytes());
    out.push(PROMETHEUS_SERIES);
    for s in series {
        put_u64_be(out, s.fingerprint);
        put_uvarint(out, s.labels.len() as u64);
        for l in &s.labels {
            put_str(out, l.name.as_bytes());
            put_str(out, l.value.as_bytes());
        }
    }
}

/// Appends a V3 entries record to `out`.
pub fn encode_entries(tenant: &str, streams: &[RefEntries], out: &mut Vec<u8>) {
    encode_entries_version(RECORD_ENTRIES_V3, tenant, streams, out);
}

/// Appends an entries record of type `version` (2, 4 or 5) to `out`; fields
/// the version lacks (counter, metadata) are left out.
pub fn encode_entries_version(version: u8, tenant: &str, streams: &[RefEntries], out: &mut Vec<u8>) {
    out.push(version);
    put_str(out, tenant.as_bytes());
    let Some(base) = streams.iter().find_map(|s| s.entries.first()).map(|e| e.timestamp) else {
        return;
    };
    put_u64_be(out, base as u64);
    for s in streams.iter().filter(|s| !s.entries.is_empty()) {
        put_u64_be(out, s.fingerprint);
        if version >= RECORD_ENTRIES_V2 {
            put_u64_be(out, s.counter as u64);
        }
        put_uvarint(out, s.entries.len() as u64);
        for e in &s.entries {
            put_varint(out, e.timestamp.wrapping_sub(base));
            put_str(out, &e.line);
            if version >= RECORD_ENTRIES_V3 {
                put_uvarint(out, e.metadata.len() as u64);
                for m in &e.metadata {
                    put_str(out, m.name.as_bytes());
                    put_str(out, m.value.as_bytes());
                }
            }
        }
    }
}

fn read_string(cur: &mut Cursor<'_>, what: &'static str) -> Result<String, DecodeError> {
    let at = cur.offset();
    let b = cur.read_uvarint_bytes(what)?;
    String::from_utf8(b.to_vec()).map_err(|_| DecodeError::invalid(what, at, "not valid UTF-8"))
}

/// Bounds a count read from input by the bytes left (each item needs at
/// least `min_item` bytes), so nothing is allocated by an unchecked length.
fn check_count(cur: &Cursor<'_>, n: u64, min_item: u64, what: &'static str) -> Result<usize, DecodeError> {
    if n > cur.remaining() as u64 / min_item {
        return Err(cur.invalid(what, format!("{n} items cannot fit in {} bytes", cur.remaining())));
    }
    Ok(n as usize)
}

/// Decodes any record a WAL or checkpoint segment holds. Lines are slices
/// of `data` (no copy).
pub fn decode_record(data: &Bytes) -> Result<Record, DecodeError> {
    let mut cur = Cursor::new(data);
    let typ = cur.read_u8("record type")?;
    match typ {
        RECORD_SERIES => decode_series(&mut cur),
        RECORD_ENTRIES_V1 | RECORD_ENTRIES_V2 | RECORD_ENTRIES_V3 => decode_entries(data, &mut cur, typ),
        RECORD_CHECKPOINT => {
            let rest = data.slice(cur.position()..);
            Ok(Record::Checkpoint(Box::new(CheckpointSeries::decode(&rest, 1)?)))
        }
        t => Err(DecodeError::invalid("record type", 0, format!("unknown record type {t}"))),
    }
}

fn decode_series(cur: &mut Cursor<'_>) -> Result<Record, DecodeError> {
    let tenant = read_string(cur, "tenant")?;
    let at = cur.offset();
    let t = cur.read_u8("prometheus record type")?;
    if t != PROMETHEUS_SERIES {
        return Err(DecodeError::invalid("prometheus record type", at, format!("{t} is not a series record")));
    }
    let mut series = Vec::new();
    while !cur.is_empty() {
        let fingerprint = cur.read_u64_be("series ref")?;
        let n = cur.read_uvarint("label count")?;
        let n = check_count(cur, n, 2, "label count")?;
        let mut pairs = Vec::with_capacity(n);
        let at = cur.offset();
        for _ in 0..n {
            let name = read_string(cur, "label name")?;
            let value = read_string(cur, "label value")?;
            pairs.push((name, value));
        }
        let labels = Labels::from_pairs(pairs).map_err(|e| DecodeError::invalid("labels", at, e.to_string()))?;
        series.push(RefSeries { fingerprint, labels });
    }
    Ok(Record::Series { tenant, series })
}

fn decode_entries(data: &Bytes, cur: &mut Cursor<'_>, version: u8) -> Result<Record, DecodeError> {
    let tenant = read_string(cur, "tenant")?;
    let mut streams = Vec::new();
    if cur.is_empty() {
        return Ok(Record::Entries { tenant, version, streams });
    }
    let base = cur.read_u64_be("base timestamp")? as i64;
    let min_entry = if version >= RECORD_ENTRIES_V3 { 3 } else { 2 };
    while !cur.is_empty() {
        let fingerprint = cur.read_u64_be("entries ref")?;
        let counter = if version >= RECORD_ENTRIES_V2 { cur.read_u64_be("entries counter")? as i64 } else { 0 };
        let n = cur.read_uvarint("entry count")?;
        let n = check_count(cur, n, min_entry, "entry count")?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let delta = cur.read_varint("entry timestamp")?;
            let len = cur.read_uvarint("line length")?;
            let start = cur.position();
            cur.skip(len, "line")?;
            let line = data.slice(start..cur.position());
            let mut metadata = Vec::new();
            if version >= RECORD_ENTRIES_V3 {
                let nm = cur.read_uvarint("metadata count")?;
                let nm = check_count(cur, nm, 2, "metadata count")?;
                metadata.reserve_exact(nm);
                for _ in 0..nm {
                    let name = read_string(cur, "metadata name")?;
                    let value = read_string(cur, "metadata value")?;
                    metadata.push(Label { name, value });
                }
            }
            entries.push(Entry { timestamp: base.wrapping_add(delta), line, metadata });
        }
        streams.push(RefEntries { fingerprint, counter, entries });
    }
    Ok(Record::Entries { tenant, version, streams })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<RefEntries> {
        vec![
            RefEntries { fingerprint: 9, counter: 0, entries: vec![] },
            RefEntries {
                fingerprint: 1,
                counter: 3,
                entries: vec![
                    Entry::new(100, "a"),
                    Entry::with_metadata(90, "b", vec![Label::new("z", "1"), Label::new("a", "2")]),
                ],
            },
            RefEntries { fingerprint: 2, counter: 7, entries: vec![Entry::new(-5, "")] },
        ]
    }

    #[test]
    fn entries_round_trip_all_versions() {
        for v in [RECORD_ENTRIES_V1, RECORD_ENTRIES_V2, RECORD_ENTRIES_V3] {
            let mut out = Vec::new();
            encode_entries_version(v, "t", &sample(), &mut out);
            let Record::Entries { tenant, version, streams } = decode_record(&Bytes::from(out)).unwrap() else {
                panic!("not entries")
            };
            assert_eq!((tenant.as_str(), version), ("t", v));
            let mut want: Vec<RefEntries> = sample().into_iter().filter(|s| !s.entries.is_empty()).collect();
            for s in &mut want {
                if v < RECORD_ENTRIES_V2 {
                    s.counter = 0;
                }
                if v < RECORD_ENTRIES_V3 {
                    s.entries.iter_mut().for_each(|e| e.metadata.clear());
                }
            }
            assert_eq!(streams, want);
        }
    }

    #[test]
    fn base_is_first_entry_of_first_nonempty_stream() {
        let mut out = Vec::new();
        encode_entries("t", &sample(), &mut out);
        assert_eq!(&out[3..11], &100u64.to_be_bytes());
        assert_eq!(&out[11..19], &1u64.to_be_bytes());
    }

    #[test]
    fn series_round_trip_and_leftovers_fail() {
        let s = vec![
            RefSeries { fingerprint: 5, labels: Labels::from_pairs([("app", "x"), ("env", "p")]).unwrap() },
            RefSeries { fingerprint: 6, labels: Labels::empty() },
        ];
        let mut out = Vec::new();
        encode_series("tenant", &s, &mut out);
        assert_eq!(
            decode_record(&Bytes::from(out.clone())).unwrap(),
            Record::Series { tenant: "tenant".into(), series: s }
        );
        out.push(0);
        assert!(decode_record(&Bytes::from(out)).is_err());
    }

    #[test]
    fn empty_entries_record_has_no_base() {
        let mut out = Vec::new();
        encode_entries("t", &[], &mut out);
        assert_eq!(out, [5, 1, b't']);
        assert!(
            matches!(decode_record(&Bytes::from(out)).unwrap(), Record::Entries { streams, .. } if streams.is_empty())
        );
    }

    #[test]
    fn huge_counts_are_rejected_before_allocating() {
        let mut out = vec![5, 1, b't'];
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&[0; 16]);
        out.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode_record(&Bytes::from(out)).is_err());
    }
}
