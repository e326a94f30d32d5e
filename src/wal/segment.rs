//! Segment files, pages and fragments: Prometheus' `wlog` container as Loki
//! writes it (`../shared/spec/wal.md` §1).
//!
//! | unit | layout |
//! |---|---|
//! | directory | segment files named by index, 8 digits (`00000000`, `00000001`, …), consecutive |
//! | segment | whole 32 KiB pages; the last page of the live segment may be short (§1.2) |
//! | page | fragments back to back; the tail is zero-filled when fewer than 7 bytes remain, when the segment is rotated and on close |
//! | fragment | `type` (1 byte), `BE16 len`, `BE32 crc32c(payload)`, payload (`len` bytes, never crosses a page) |
//!
//! | type bits 0-2 | meaning |
//! |---|---|
//! | 0 | page terminator: the rest of the page is zeros |
//! | 1 / 2 / 3 / 4 | full / first / middle / last fragment of a record |
//!
//! Bit 3 (`0x08`) marks a snappy-compressed record, bit 4 (`0x10`) zstd;
//! Loki never sets them, the reader accepts them.
//!
//! [`Framer`] is the writer's pure part: it turns records into the exact
//! bytes Prometheus' `WL.log` produces (§1.4) in a buffer the caller drains
//! to the file, so the same code writes live segments, checkpoints and the
//! byte-identity tests.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::WalError;
use crate::encoding::crc32c;

/// Page size.
pub const PAGE_SIZE: usize = 32 * 1024;
/// Fragment header size.
pub const HEADER_SIZE: usize = 7;
/// Largest fragment payload.
pub const MAX_FRAGMENT_PAYLOAD: usize = PAGE_SIZE - HEADER_SIZE;
/// Loki's ingester segment size: 4 × Prometheus' 128 MiB (§1.1).
pub const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;

/// Page terminator type.
pub(crate) const FRAG_PAGE_TERM: u8 = 0;
/// A whole record in one fragment.
pub(crate) const FRAG_FULL: u8 = 1;
/// First fragment of a record.
pub(crate) const FRAG_FIRST: u8 = 2;
/// Middle fragment.
pub(crate) const FRAG_MIDDLE: u8 = 3;
/// Last fragment.
pub(crate) const FRAG_LAST: u8 = 4;
/// Snappy flag.
pub(crate) const FLAG_SNAPPY: u8 = 0x08;
/// Zstd flag.
pub(crate) const FLAG_ZSTD: u8 = 0x10;
/// Bits that name the fragment type.
pub(crate) const TYPE_MASK: u8 = 0x07;

pub(crate) fn fragment_name(t: u8) -> &'static str {
    match t {
        FRAG_FULL => "full",
        FRAG_FIRST => "first",
        FRAG_MIDDLE => "middle",
        FRAG_LAST => "last",
        _ => "unknown",
    }
}

/// Lays records out in pages exactly as Prometheus' `WL.log` does.
#[derive(Debug, Clone)]
pub(crate) struct Framer {
    /// Bytes used in the current page (always `<= PAGE_SIZE - HEADER_SIZE`).
    page_used: usize,
    /// Completed pages in the current segment.
    done_pages: u64,
    pages_per_segment: u64,
    /// Bytes produced and not yet drained by the caller.
    pub(crate) out: Vec<u8>,
}

impl Framer {
    /// A framer at the start of an empty segment.
    pub(crate) fn new(segment_size: u64) -> Self {
        Self { page_used: 0, done_pages: 0, pages_per_segment: segment_size / PAGE_SIZE as u64, out: Vec::new() }
    }

    /// Bytes written to the current segment so far (drained or not).
    #[cfg(test)]
    pub(crate) fn segment_len(&self) -> u64 {
        self.done_pages * PAGE_SIZE as u64 + self.page_used as u64
    }

    /// Whether a record of `len` bytes fits in what is left of the segment.
    pub(crate) fn fits(&self, len: usize) -> bool {
        let free_here = (PAGE_SIZE - self.page_used - HEADER_SIZE) as i128;
        let more_pages = i128::from(self.pages_per_segment) - i128::from(self.done_pages) - 1;
        let left = free_here + more_pages * MAX_FRAGMENT_PAYLOAD as i128;
        len as i128 <= left
    }

    /// Whether a record of `len` bytes fits in an empty segment.
    pub(crate) fn fits_empty_segment(&self, len: usize) -> bool {
        len as u128 <= u128::from(self.pages_per_segment) * MAX_FRAGMENT_PAYLOAD as u128
    }

    /// Appends one record's fragments. The caller checked [`Framer::fits`].
    pub(crate) fn append(&mut self, mut rec: &[u8]) {
        let mut first = true;
        loop {
            let room = PAGE_SIZE - self.page_used - HEADER_SIZE;
            let n = rec.len().min(room);
            let (part, rest) = rec.split_at(n);
            let typ = match (first, rest.is_empty()) {
                (true, true) => FRAG_FULL,
                (true, false) => FRAG_FIRST,
                (false, true) => FRAG_LAST,
                (false, false) => FRAG_MIDDLE,
            };
            self.out.push(typ);
            self.out.extend_from_slice(&(n as u16).to_be_bytes());
            self.out.extend_from_slice(&crc32c(part).to_be_bytes());
            self.out.extend_from_slice(part);
            self.page_used += HEADER_SIZE + n;
            if PAGE_SIZE - self.page_used < HEADER_SIZE {
                self.pad_page();
            }
            rec = rest;
            first = false;
            if rec.is_empty() {
                return;
            }
        }
    }

    /// Zero-fills the rest of a started page (Prometheus `flushPage(true)`).
    pub(crate) fn pad_page(&mut self) {
        if self.page_used == 0 {
            return;
        }
        self.out.resize(self.out.len() + (PAGE_SIZE - self.page_used), 0);
        self.page_used = 0;
        self.done_pages += 1;
    }

    /// Starts a new, empty segment (after the caller padded and drained).
    pub(crate) fn reset_segment(&mut self) {
        self.page_used = 0;
        self.done_pages = 0;
    }
}

/// File name of segment `index`.
pub fn segment_name(index: u32) -> String {
    format!("{index:08}")
}

/// Path of segment `index` in `dir`.
pub(crate) fn segment_path(dir: &Path, index: u32) -> PathBuf {
    dir.join(segment_name(index))
}

/// The segment indexes in `dir`, ascending. Entries whose name is not a
/// number are ignored; a gap in the numbering is an error (§1.1).
pub fn list_segments(dir: &Path) -> Result<Vec<u32>, WalError> {
    let rd = fs::read_dir(dir).map_err(|e| WalError::io(dir, e))?;
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| WalError::io(dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(index) = name.parse::<u32>() else { continue };
        let is_file = entry.file_type().map_err(|e| WalError::io(entry.path(), e))?.is_file();
        if is_file {
            out.push(index);
        }
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(WalError::NotSequential { dir: dir.to_owned(), previous: w[0], found: w[1] });
        }
    }
    Ok(out)
}

/// Fsyncs a directory so created, renamed or removed entries are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), WalError> {
    let f = fs::File::open(dir).map_err(|e| WalError::io(dir, e))?;
    match f.sync_all() {
        Ok(()) => Ok(()),
        // Some platforms refuse fsync on directories; nothing more can be done.
        Err(e) if e.kind() == io::ErrorKind::InvalidInput || e.kind() == io::ErrorKind::PermissionDenied => Ok(()),
        Err(e) => Err(WalError::io(dir, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_record_is_one_full_fragment() {
        let mut f = Framer::new(DEFAULT_SEGMENT_SIZE);
        f.append(b"abc");
        assert_eq!(f.out.len(), 10);
        assert_eq!(f.out[0], FRAG_FULL);
        assert_eq!(&f.out[1..3], &[0, 3]);
        assert_eq!(&f.out[3..7], &crc32c(b"abc").to_be_bytes());
    }

    #[test]
    fn empty_record_is_a_zero_length_full_fragment() {
        let mut f = Framer::new(DEFAULT_SEGMENT_SIZE);
        f.append(b"");
        assert_eq!(f.out, [FRAG_FULL, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn large_record_spans_pages_and_pads() {
        let mut f = Framer::new(DEFAULT_SEGMENT_SIZE);
        let rec = vec![7u8; MAX_FRAGMENT_PAYLOAD * 2 + 10];
        f.append(&rec);
        // Two full pages, then a LAST of 10 bytes.
        assert_eq!(f.out.len(), 2 * PAGE_SIZE + HEADER_SIZE + 10);
        assert_eq!(f.out[0], FRAG_FIRST);
        assert_eq!(f.out[PAGE_SIZE], FRAG_MIDDLE);
        assert_eq!(f.out[2 * PAGE_SIZE], FRAG_LAST);
        assert_eq!(f.segment_len(), f.out.len() as u64);
    }

    #[test]
    fn page_with_less_than_a_header_left_is_padded() {
        let mut f = Framer::new(DEFAULT_SEGMENT_SIZE);
        f.append(&vec![1u8; PAGE_SIZE - HEADER_SIZE - 3]);
        assert_eq!(f.out.len(), PAGE_SIZE);
        assert_eq!(&f.out[PAGE_SIZE - 3..], &[0, 0, 0]);
    }

    #[test]
    fn fits_accounts_for_headers_per_page() {
        let f = Framer::new(2 * PAGE_SIZE as u64);
        assert!(f.fits(2 * MAX_FRAGMENT_PAYLOAD));
        assert!(!f.fits(2 * MAX_FRAGMENT_PAYLOAD + 1));
    }
}
