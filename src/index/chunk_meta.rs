//! Chunk metas inside a series record (`../shared/spec/tsdb-index.md`
//! §2.3-§2.6).
//!
//! Format 2:
//!
//! | field | encoding |
//! |---|---|
//! | numChunks | `uvarint` |
//! | chunk metas | numChunks x ChunkMeta |
//!
//! Format 3 and 4 (paged):
//!
//! | field | encoding |
//! |---|---|
//! | numChunks | `uvarint` |
//! | markersLen | `BE32` bytes of the markers block (0 when numChunks = 0) |
//! | numMarkers | `uvarint` = ceil(numChunks / 16) |
//! | markers | numMarkers x (`uvarint` chunksInPage, `BE32` KB, `BE32` entries, `uvarint` offset, `varint` minTime, `varint` maxTime - minTime) |
//! | chunk metas | numChunks x ChunkMeta |
//!
//! ChunkMeta: `varint` MinTime - prevMaxTime (prev = 0 for the first chunk,
//! chained across pages) | `uvarint` MaxTime - MinTime | `uvarint` KB |
//! `uvarint` entries | `BE32` checksum | format 4: `uvarint` ingested-at day
//! delta (§2.6).

use crate::encoding::{Cursor, DecodeError, put_u32_be, put_uvarint, put_varint};

use super::format::{CHUNK_PAGE_SIZE, IndexFormat, MARKER_LOOKUP_MIN_CHUNKS};

const DAY_MS: i64 = 86_400_000;

/// One chunk reference as the index stores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChunkMeta {
    /// Earliest entry, Unix milliseconds (the chunk key's `from`).
    pub min_time: i64,
    /// Latest entry, Unix milliseconds, inclusive (the chunk key's `through`).
    pub max_time: i64,
    /// Loki's size figure: the chunk's uncompressed size / 1024, rounded.
    pub kb: u32,
    /// Number of entries.
    pub entries: u32,
    /// CRC32 of the stored chunk object (the checksum in the chunk key).
    pub checksum: u32,
    /// Format 4 only: start of the UTC day the chunk was ingested by, in
    /// Unix ms (0 = unknown). Lower formats always read 0 and drop it.
    pub ingested_at: i64,
}

impl ChunkMeta {
    /// A chunk meta without an ingestion day.
    pub fn new(min_time: i64, max_time: i64, kb: u32, entries: u32, checksum: u32) -> Self {
        Self { min_time, max_time, kb, entries, checksum, ingested_at: 0 }
    }

    /// Loki's overlap test: `from <= max_time && through > min_time`
    /// (`max_time` inclusive, `through` exclusive).
    #[inline]
    pub fn overlaps(&self, from: i64, through: i64) -> bool {
        from <= self.max_time && through > self.min_time
    }

    /// The sort key Loki uses before writing: (MinTime, MaxTime, Checksum).
    #[inline]
    pub fn sort_key(&self) -> (i64, i64, u32) {
        (self.min_time, self.max_time, self.checksum)
    }
}

/// Sorts chunk metas by (MinTime, MaxTime, Checksum) and drops later
/// duplicates of the same triple, as Loki's `ChunkMetas.Finalize`.
pub fn finalize_chunks(chunks: &mut Vec<ChunkMeta>) {
    chunks.sort_by_key(ChunkMeta::sort_key);
    chunks.dedup_by_key(|c| c.sort_key());
}

fn floor_day(t: i64) -> i64 {
    t.div_euclid(DAY_MS)
}

fn ceil_day(t: i64) -> i64 {
    let d = floor_day(t);
    if d.wrapping_mul(DAY_MS) == t { d } else { d.wrapping_add(1) }
}

/// Encodes the format-4 ingested-at field (§2.6).
pub(crate) fn encode_ingested_at(ingested_at: i64, max_time: i64) -> u64 {
    if ingested_at == 0 {
        return 0;
    }
    let delta = ceil_day(ingested_at).wrapping_sub(floor_day(max_time));
    (((delta << 1) ^ (delta >> 63)) as u64).wrapping_add(1)
}

/// Decodes the format-4 ingested-at field (§2.6).
pub(crate) fn decode_ingested_at(encoded: u64, max_time: i64) -> i64 {
    if encoded == 0 {
        return 0;
    }
    let e = encoded - 1;
    let delta = ((e >> 1) as i64) ^ -((e & 1) as i64);
    floor_day(max_time).wrapping_add(delta).wrapping_mul(DAY_MS)
}

fn encode_meta(out: &mut Vec<u8>, format: IndexFormat, c: &ChunkMeta, prev_max: i64) {
    put_varint(out, c.min_time.wrapping_sub(prev_max));
    put_uvarint(out, c.max_time.wrapping_sub(c.min_time) as u64);
    put_uvarint(out, u64::from(c.kb));
    put_uvarint(out, u64::from(c.entries));
    put_u32_be(out, c.checksum);
    if format == IndexFormat::V4 {
        put_uvarint(out, encode_ingested_at(c.ingested_at, c.max_time));
    }
}

/// The per-page summary of format 3+.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PageMarker {
    pub chunks: u64,
    pub kb: u32,
    pub entries: u32,
    pub offset: u64,
    pub min_time: i64,
    pub max_time: i64,
}

/// Appends the chunk-meta part of a series record. `scratch` is reused.
pub(crate) fn encode_chunks(out: &mut Vec<u8>, scratch: &mut Vec<u8>, format: IndexFormat, chunks: &[ChunkMeta]) {
    put_uvarint(out, chunks.len() as u64);
    if !format.is_paged() {
        let mut prev = 0;
        for c in chunks {
            encode_meta(out, format, c, prev);
            prev = c.max_time;
        }
        return;
    }
    let len_at = out.len();
    put_u32_be(out, 0);
    let markers_start = out.len();
    put_uvarint(out, chunks.len().div_ceil(CHUNK_PAGE_SIZE) as u64);
    scratch.clear();
    let mut prev = 0;
    for page in chunks.chunks(CHUNK_PAGE_SIZE) {
        // Loki's marker starts from zero: MaxTime never goes below 0.
        let mut m = PageMarker { chunks: page.len() as u64, offset: scratch.len() as u64, ..PageMarker::default() };
        for (i, c) in page.iter().enumerate() {
            m.kb = m.kb.wrapping_add(c.kb);
            m.entries = m.entries.wrapping_add(c.entries);
            if i == 0 || c.min_time < m.min_time {
                m.min_time = c.min_time;
            }
            if c.max_time > m.max_time {
                m.max_time = c.max_time;
            }
            encode_meta(scratch, format, c, prev);
            prev = c.max_time;
        }
        put_uvarint(out, m.chunks);
        put_u32_be(out, m.kb);
        put_u32_be(out, m.entries);
        put_uvarint(out, m.offset);
        put_varint(out, m.min_time);
        put_varint(out, m.max_time.wrapping_sub(m.min_time));
    }
    if !chunks.is_empty() {
        let markers_len = (out.len() - markers_start) as u32;
        out[len_at..len_at + 4].copy_from_slice(&markers_len.to_be_bytes());
    }
    out.extend_from_slice(scratch);
}

fn read_meta(c: &mut Cursor<'_>, format: IndexFormat, min_time: i64) -> Result<ChunkMeta, DecodeError> {
    let max_time = (c.read_uvarint("chunk max time delta")? as i64).wrapping_add(min_time);
    let kb = c.read_uvarint("chunk KB")? as u32;
    let entries = c.read_uvarint("chunk entries")? as u32;
    let checksum = c.read_u32_be("chunk checksum")?;
    let ingested_at =
        if format == IndexFormat::V4 { decode_ingested_at(c.read_uvarint("chunk ingested-at")?, max_time) } else { 0 };
    Ok(ChunkMeta { min_time, max_time, kb, entries, checksum, ingested_at })
}

fn read_marker(c: &mut Cursor<'_>) -> Result<PageMarker, DecodeError> {
    let chunks = c.read_uvarint("page chunk count")?;
    let kb = c.read_u32_be("page KB")?;
    let entries = c.read_u32_be("page entries")?;
    let offset = c.read_uvarint("page offset")?;
    let min_time = c.read_varint("page min time")?;
    let max_time = min_time.wrapping_add(c.read_varint("page time span")?);
    Ok(PageMarker { chunks, kb, entries, offset, min_time, max_time })
}

/// Which chunks [`decode_chunks`] keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChunkFilter {
    /// Every chunk, in stored order, markers ignored.
    All,
    /// Chunks overlapping `[from, through)` as Loki's reader selects them
    /// (page markers consulted for series with >= 64 chunks).
    Range(i64, i64),
}

/// Decodes the chunk-meta part of a series record from `c`, appending the
/// selected chunks to `out`.
pub(crate) fn decode_chunks(
    c: &mut Cursor<'_>,
    format: IndexFormat,
    filter: ChunkFilter,
    out: &mut Vec<ChunkMeta>,
) -> Result<(), DecodeError> {
    let n = c.read_uvarint("chunk count")?;
    // Every chunk meta takes at least 8 bytes: refuse counts the record cannot hold.
    if n > c.remaining() as u64 / 8 + 1 {
        return Err(c.invalid("chunk count", format!("{n} chunks cannot fit in {} bytes", c.remaining())));
    }
    let (from, through, all) = match filter {
        ChunkFilter::All => (i64::MIN, i64::MAX, true),
        ChunkFilter::Range(f, t) => (f, t, false),
    };
    let mut remaining = n;
    let mut prev = 0i64;
    let mut forced: Option<i64> = None;
    if format.is_paged() {
        let markers_len = c.read_u32_be("markers length")?;
        if all || (n as usize) < MARKER_LOOKUP_MIN_CHUNKS {
            if n == 0 {
                // markersLen stays 0 while a numMarkers byte follows; nothing to read.
                return Ok(());
            }
            c.skip(u64::from(markers_len), "page markers")?;
        } else {
            let markers = c.read_bytes(u64::from(markers_len), "page markers")?;
            let mut mc = Cursor::with_base(markers, c.offset() - markers.len());
            let n_markers = mc.read_uvarint("marker count")?;
            let metas = c.rest();
            let metas_base = c.offset();
            let mut found = None;
            for _ in 0..n_markers {
                let m = read_marker(&mut mc)?;
                if from <= m.max_time && through > m.min_time {
                    found = Some(m);
                    break;
                }
                prev = m.max_time;
                remaining = remaining.saturating_sub(m.chunks);
            }
            let Some(m) = found else { return Ok(()) };
            if m.offset > metas.len() as u64 {
                return Err(
                    mc.invalid("page offset", format!("{} beyond {} bytes of chunk metas", m.offset, metas.len()))
                );
            }
            *c = Cursor::with_base(&metas[m.offset as usize..], metas_base + m.offset as usize);
            forced = Some(m.min_time);
        }
    }
    for i in 0..remaining {
        let delta = c.read_varint("chunk min time delta")?;
        let min_time = match forced {
            Some(t) if i == 0 => t,
            _ => delta.wrapping_add(prev),
        };
        let meta = read_meta(c, format, min_time)?;
        prev = meta.max_time;
        if all || meta.overlaps(from, through) {
            out.push(meta);
        } else if meta.min_time >= through {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingested_at_round_trip() {
        let max = 1_768_003_200_253 + 5 * 3_600_000;
        let ing = max + 2 * DAY_MS + 1;
        let enc = encode_ingested_at(ing, max);
        assert_eq!(decode_ingested_at(enc, max), (floor_day(ing) + 1) * DAY_MS);
        assert_eq!(encode_ingested_at(0, max), 0);
        let neg = encode_ingested_at(-5, -DAY_MS - 7);
        assert_eq!(decode_ingested_at(neg, -DAY_MS - 7), 0);
    }

    #[test]
    fn paged_round_trip_with_markers() {
        for format in [IndexFormat::V2, IndexFormat::V3, IndexFormat::V4] {
            let chunks: Vec<ChunkMeta> =
                (0..100).map(|i| ChunkMeta::new(i * 100, i * 100 + 150, i as u32, 2, i as u32)).collect();
            let (mut out, mut scratch) = (Vec::new(), Vec::new());
            encode_chunks(&mut out, &mut scratch, format, &chunks);
            let mut got = Vec::new();
            decode_chunks(&mut Cursor::new(&out), format, ChunkFilter::All, &mut got).unwrap();
            assert_eq!(got, chunks);
            for (from, through) in [(0, 1), (5000, 5301), (9000, 20000), (-10, 0), (3333, 3334)] {
                got.clear();
                decode_chunks(&mut Cursor::new(&out), format, ChunkFilter::Range(from, through), &mut got).unwrap();
                let want: Vec<_> = chunks.iter().copied().filter(|c| c.overlaps(from, through)).collect();
                assert_eq!(got, want, "{format:?} {from} {through}");
            }
        }
    }
}
