//! Reading one segment's records back from its pages (`../shared/spec/wal.md`
//! §1.5), with Prometheus' checks plus two of our own: a fragment never
//! crosses a page boundary, and after an error the reader can resynchronize
//! on the next fragment that starts a record and whose checksum verifies.
//!
//! | check | corruption |
//! |---|---|
//! | type byte 0 and the rest of the page (or file) not zero | [`CorruptionKind::NonZeroPadding`] |
//! | type bits > 4 or bits 5-7 set | [`CorruptionKind::InvalidFragmentType`] |
//! | header or payload past the page end | [`CorruptionKind::CrossesPage`] |
//! | header or payload past the end of the file, or a record unfinished at the end | [`CorruptionKind::UnexpectedEnd`] |
//! | `crc32c(payload) != BE32 crc` | [`CorruptionKind::ChecksumMismatch`] |
//! | first/full inside a record, middle/last outside | [`CorruptionKind::UnexpectedFragment`] |
//!
//! A segment file that ends before a page boundary reads as if zero padded.

use std::io::Read;

use bytes::Bytes;

use super::error::{CorruptionKind, Location, WalError};
use super::segment::{
    FLAG_SNAPPY, FLAG_ZSTD, FRAG_FIRST, FRAG_FULL, FRAG_LAST, FRAG_MIDDLE, FRAG_PAGE_TERM, HEADER_SIZE, PAGE_SIZE,
    TYPE_MASK, fragment_name,
};
use crate::encoding::crc32c;

/// One record's payload and where its first fragment starts.
#[derive(Debug, Clone)]
pub struct RawRecord {
    /// Location of the record's first fragment.
    pub location: Location,
    /// The reassembled (and decompressed) payload.
    pub data: Bytes,
}

/// A corruption found by [`SegmentReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corruption {
    /// Where the bad fragment (or padding byte) is.
    pub location: Location,
    /// What is wrong.
    pub kind: CorruptionKind,
    /// Offset of the first fragment of the record that was being read:
    /// truncating the segment here removes the damaged record and nothing
    /// before it.
    pub record_start: u64,
}

impl From<Corruption> for WalError {
    fn from(c: Corruption) -> Self {
        WalError::Corrupt { location: c.location, kind: c.kind }
    }
}

/// Reads the records of one segment held in memory.
#[derive(Debug, Clone)]
pub struct SegmentReader {
    checkpoint: Option<u32>,
    segment: u32,
    data: Bytes,
    pos: usize,
    /// Where the last error was found (resynchronization starts after it).
    err_pos: Option<usize>,
    scratch: Vec<u8>,
}

/// Longest record a compressed payload may expand to.
const MAX_DECOMPRESSED: usize = 1 << 30;

struct Header {
    typ: u8,
    flags: u8,
    len: usize,
    crc: u32,
}

impl SegmentReader {
    /// A reader over `data`, the bytes of segment `segment` (of checkpoint
    /// `checkpoint`, if any).
    pub fn new(checkpoint: Option<u32>, segment: u32, data: Bytes) -> Self {
        Self { checkpoint, segment, data, pos: 0, err_pos: None, scratch: Vec::new() }
    }

    /// Offset of the next unread byte.
    pub fn position(&self) -> u64 {
        self.pos as u64
    }

    /// Length of the segment.
    pub fn len(&self) -> u64 {
        self.data.len() as u64
    }

    /// True for an empty segment.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn loc(&self, offset: usize) -> Location {
        Location { checkpoint: self.checkpoint, segment: self.segment, offset: offset as u64 }
    }

    fn fail(&mut self, at: usize, record_start: usize, kind: CorruptionKind) -> Option<Result<RawRecord, Corruption>> {
        self.err_pos = Some(at);
        self.pos = at;
        Some(Err(Corruption { location: self.loc(at), kind, record_start: record_start as u64 }))
    }

    /// Parses the header at `pos` and checks it against the page and file
    /// bounds (no CRC check).
    fn header(&self, pos: usize) -> Result<Header, CorruptionKind> {
        let data = &self.data[..];
        let page_end = (pos / PAGE_SIZE + 1) * PAGE_SIZE;
        let Some(h) = data.get(pos..pos + HEADER_SIZE) else {
            return Err(if pos + HEADER_SIZE > page_end {
                CorruptionKind::CrossesPage(0)
            } else {
                CorruptionKind::UnexpectedEnd
            });
        };
        let t = h[0];
        let typ = t & TYPE_MASK;
        if t & !(TYPE_MASK | FLAG_SNAPPY | FLAG_ZSTD) != 0 || typ > FRAG_LAST || typ == FRAG_PAGE_TERM {
            return Err(CorruptionKind::InvalidFragmentType(t));
        }
        if pos + HEADER_SIZE > page_end {
            return Err(CorruptionKind::CrossesPage(0));
        }
        let len = usize::from(u16::from_be_bytes([h[1], h[2]]));
        let crc = u32::from_be_bytes([h[3], h[4], h[5], h[6]]);
        let end = pos + HEADER_SIZE + len;
        if end > page_end {
            return Err(CorruptionKind::CrossesPage(len));
        }
        if end > data.len() {
            return Err(CorruptionKind::UnexpectedEnd);
        }
        Ok(Header { typ, flags: t & (FLAG_SNAPPY | FLAG_ZSTD), len, crc })
    }

    /// The next record; `None` at a clean end of the segment. After an
    /// error, call [`SegmentReader::resync`] to continue past it (or stop).
    #[expect(clippy::should_implement_trait, reason = "errors need resync between items")]
    pub fn next(&mut self) -> Option<Result<RawRecord, Corruption>> {
        if self.err_pos.is_some() {
            return None;
        }
        let mut in_record = false;
        let mut rec_start = self.pos;
        let mut rec_flags = 0u8;
        self.scratch.clear();
        loop {
            let pos = self.pos;
            let Some(&t) = self.data.get(pos) else {
                if in_record {
                    return self.fail(pos, rec_start, CorruptionKind::UnexpectedEnd);
                }
                return None;
            };
            if t == FRAG_PAGE_TERM {
                let page_end = ((pos / PAGE_SIZE + 1) * PAGE_SIZE).min(self.data.len());
                if let Some(nz) = self.data[pos..page_end].iter().position(|&b| b != 0) {
                    let start = if in_record { rec_start } else { pos + nz };
                    return self.fail(pos + nz, start, CorruptionKind::NonZeroPadding);
                }
                self.pos = page_end;
                continue;
            }
            let h = match self.header(pos) {
                Ok(h) => h,
                Err(kind) => {
                    let start = if in_record { rec_start } else { pos };
                    return self.fail(pos, start, kind);
                }
            };
            let payload_start = pos + HEADER_SIZE;
            let payload = &self.data[payload_start..payload_start + h.len];
            let computed = crc32c(payload);
            if computed != h.crc {
                let start = if in_record { rec_start } else { pos };
                return self.fail(pos, start, CorruptionKind::ChecksumMismatch { stored: h.crc, computed });
            }
            let starts = h.typ == FRAG_FULL || h.typ == FRAG_FIRST;
            if starts == in_record {
                let context = if in_record { "inside a record" } else { "outside a record" };
                let start = if in_record { rec_start } else { pos };
                let kind = CorruptionKind::UnexpectedFragment { found: fragment_name(h.typ), context };
                return self.fail(pos, start, kind);
            }
            if starts {
                rec_start = pos;
                rec_flags = h.flags;
            } else if h.flags != rec_flags {
                return self.fail(pos, rec_start, CorruptionKind::MixedCompression);
            }
            self.pos = payload_start + h.len;
            match h.typ {
                FRAG_FULL => {
                    let data = self.data.slice(payload_start..payload_start + h.len);
                    return self.finish(rec_start, rec_flags, data);
                }
                FRAG_FIRST => {
                    in_record = true;
                    self.scratch.extend_from_slice(&self.data[payload_start..payload_start + h.len]);
                }
                FRAG_MIDDLE | FRAG_LAST => {
                    self.scratch.extend_from_slice(&self.data[payload_start..payload_start + h.len]);
                    if h.typ == FRAG_LAST {
                        let data = Bytes::copy_from_slice(&self.scratch);
                        return self.finish(rec_start, rec_flags, data);
                    }
                }
                _ => unreachable!("header() accepts types 1..=4 only"),
            }
        }
    }

    fn finish(&mut self, start: usize, flags: u8, data: Bytes) -> Option<Result<RawRecord, Corruption>> {
        let data = if flags == 0 {
            data
        } else {
            match decompress(flags, &data) {
                Ok(d) => Bytes::from(d),
                Err(msg) => {
                    // The record's fragments are intact; the next record starts here.
                    let here = self.pos;
                    self.err_pos = Some(here);
                    return Some(Err(Corruption {
                        location: self.loc(start),
                        kind: CorruptionKind::Decompress(msg),
                        record_start: start as u64,
                    }));
                }
            }
        };
        Some(Ok(RawRecord { location: self.loc(start), data }))
    }

    /// After an error: moves to the next offset where a record plausibly
    /// starts (a full or first fragment whose checksum verifies) and returns
    /// true, or to the end of the segment and returns false.
    pub fn resync(&mut self) -> bool {
        let from = match self.err_pos.take() {
            Some(p) => p + 1,
            None => self.pos,
        };
        match self.find_record_start(from) {
            Some(p) => {
                self.pos = p;
                true
            }
            None => {
                self.pos = self.data.len();
                false
            }
        }
    }

    /// True when a record plausibly starts somewhere after `offset`.
    pub fn has_record_after(&self, offset: u64) -> bool {
        usize::try_from(offset).ok().and_then(|o| self.find_record_start(o.saturating_add(1))).is_some()
    }

    fn find_record_start(&self, from: usize) -> Option<usize> {
        (from..self.data.len()).find(|&p| {
            let t = self.data[p] & TYPE_MASK;
            (t == FRAG_FULL || t == FRAG_FIRST)
                && self
                    .header(p)
                    .is_ok_and(|h| h.len > 0 && crc32c(&self.data[p + HEADER_SIZE..p + HEADER_SIZE + h.len]) == h.crc)
        })
    }
}

fn decompress(flags: u8, data: &[u8]) -> Result<Vec<u8>, String> {
    if flags == FLAG_SNAPPY {
        let n = snap::raw::decompress_len(data).map_err(|e| e.to_string())?;
        // Snappy expands at most ~22x; a larger claim is corrupt.
        if n > data.len().saturating_mul(24).saturating_add(64) || n > MAX_DECOMPRESSED {
            return Err(format!("snappy length {n} is implausible for {} bytes", data.len()));
        }
        snap::raw::Decoder::new().decompress_vec(data).map_err(|e| e.to_string())
    } else if flags == FLAG_ZSTD {
        let mut out = Vec::new();
        let dec = zstd::stream::read::Decoder::new(data).map_err(|e| e.to_string())?;
        dec.take(MAX_DECOMPRESSED as u64 + 1).read_to_end(&mut out).map_err(|e| e.to_string())?;
        if out.len() > MAX_DECOMPRESSED {
            return Err("zstd record too large".to_owned());
        }
        Ok(out)
    } else {
        Err(format!("both compression flags set ({flags:#04x})"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::segment::{DEFAULT_SEGMENT_SIZE, Framer, MAX_FRAGMENT_PAYLOAD};
    use super::*;

    fn frame(records: &[Vec<u8>]) -> Vec<u8> {
        let mut f = Framer::new(DEFAULT_SEGMENT_SIZE);
        for r in records {
            f.append(r);
        }
        f.out
    }

    fn read_all(data: Vec<u8>) -> (Vec<Vec<u8>>, Option<Corruption>) {
        let mut r = SegmentReader::new(None, 3, Bytes::from(data));
        let mut out = Vec::new();
        loop {
            match r.next() {
                None => return (out, None),
                Some(Ok(rec)) => out.push(rec.data.to_vec()),
                Some(Err(c)) => return (out, Some(c)),
            }
        }
    }

    #[test]
    fn round_trip_across_pages() {
        let recs: Vec<Vec<u8>> = (0..50).map(|i| vec![i as u8; (i * 2311) % (MAX_FRAGMENT_PAYLOAD * 3) + 1]).collect();
        let (got, err) = read_all(frame(&recs));
        assert_eq!(err, None);
        assert_eq!(got, recs);
    }

    #[test]
    fn torn_tail_is_unexpected_end() {
        let recs = vec![vec![1u8; 100], vec![2u8; 40_000]];
        let data = frame(&recs);
        for cut in [data.len() - 1, 110, 108, PAGE_SIZE + 3] {
            let (got, err) = read_all(data[..cut].to_vec());
            assert_eq!(got.len(), 1, "cut {cut}");
            let err = err.unwrap();
            assert_eq!(err.kind, CorruptionKind::UnexpectedEnd, "cut {cut}");
            assert_eq!(err.record_start, 107);
        }
    }

    #[test]
    fn flipped_byte_is_reported_and_skippable() {
        let recs: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8 + 1; 500]).collect();
        let mut data = frame(&recs);
        data[2 * 507 + 100] ^= 0x40;
        let mut r = SegmentReader::new(None, 0, Bytes::from(data));
        assert!(r.next().unwrap().is_ok());
        assert!(r.next().unwrap().is_ok());
        let err = r.next().unwrap().unwrap_err();
        assert_eq!(err.location.offset, 2 * 507);
        assert!(matches!(err.kind, CorruptionKind::ChecksumMismatch { .. }));
        assert!(r.has_record_after(err.location.offset));
        assert!(r.resync());
        assert_eq!(r.next().unwrap().unwrap().data[0], 4);
        assert_eq!(r.next().unwrap().unwrap().data[0], 5);
        assert!(r.next().is_none());
    }

    #[test]
    fn snappy_record_decompresses() {
        let payload = b"hello hello hello hello".repeat(10);
        let comp = snap::raw::Encoder::new().compress_vec(&payload).unwrap();
        let mut seg = Vec::new();
        seg.push(FRAG_FULL | FLAG_SNAPPY);
        seg.extend_from_slice(&(comp.len() as u16).to_be_bytes());
        seg.extend_from_slice(&crc32c(&comp).to_be_bytes());
        seg.extend_from_slice(&comp);
        let (got, err) = read_all(seg);
        assert_eq!(err, None);
        assert_eq!(got, vec![payload]);
    }
}
