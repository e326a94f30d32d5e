//! The table of contents at the end of a TSDB index
//! (`../shared/spec/tsdb-index.md` §2.8). 76 bytes:
//!
//! | offset | field |
//! |---|---|
//! | 0 | `BE64` Symbols |
//! | 8 | `BE64` Series |
//! | 16 | `BE64` LabelIndices |
//! | 24 | `BE64` LabelIndicesTable |
//! | 32 | `BE64` Postings |
//! | 40 | `BE64` PostingsTable |
//! | 48 | `BE64` FingerprintOffsets |
//! | 56 | `BE64` From (ms, min chunk MinTime; 0 = unset) |
//! | 64 | `BE64` Through (ms, max chunk MaxTime) |
//! | 72 | `BE32` crc32c(bytes 0..72): the index checksum used in file names |

use crate::encoding::{Cursor, crc32c, put_u32_be, put_u64_be};

use super::error::{IndexError, Section};
use super::format::TOC_LEN;

/// The parsed TOC: where each section starts, the file's time range and
/// its checksum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Toc {
    /// Start of the symbol table.
    pub symbols: u64,
    /// End of the symbol table (before the first series' padding).
    pub series: u64,
    /// End of the series (before padding).
    pub label_indices: u64,
    /// Start of the label-indices offset table.
    pub label_indices_table: u64,
    /// End of the label indices (before padding).
    pub postings: u64,
    /// Start of the postings offset table.
    pub postings_table: u64,
    /// Start of the fingerprint offsets table.
    pub fingerprint_offsets: u64,
    /// Minimum chunk MinTime, ms (0 when there are no chunks).
    pub from: i64,
    /// Maximum chunk MaxTime, ms.
    pub through: i64,
    /// CRC32-Castagnoli of the first 72 TOC bytes.
    pub checksum: u32,
}

impl Toc {
    /// Widens `from`/`through` with Loki's "0 means unset" rule.
    pub(crate) fn ensure_bounds(&mut self, from: i64, through: i64) {
        if self.from == 0 || from < self.from {
            self.from = from;
        }
        if self.through == 0 || through > self.through {
            self.through = through;
        }
    }

    /// Appends the 76 TOC bytes and sets `checksum`.
    pub(crate) fn encode(&mut self, out: &mut Vec<u8>) {
        let start = out.len();
        for v in [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_table,
            self.fingerprint_offsets,
            self.from as u64,
            self.through as u64,
        ] {
            put_u64_be(out, v);
        }
        self.checksum = crc32c(&out[start..]);
        put_u32_be(out, self.checksum);
    }

    /// Reads and verifies the TOC at the end of `data`.
    pub(crate) fn decode(data: &[u8]) -> Result<Self, IndexError> {
        let Some(start) = data.len().checked_sub(TOC_LEN) else {
            return Err(IndexError::TooShort { len: data.len() });
        };
        let mut c = Cursor::with_base(&data[start..], start);
        let de = |e| IndexError::decode(Section::Toc, e);
        let mut v = [0u64; 9];
        for slot in &mut v {
            *slot = c.read_u64_be("TOC field").map_err(de)?;
        }
        let stored = c.read_u32_be("TOC crc").map_err(de)?;
        let computed = crc32c(&data[start..start + TOC_LEN - 4]);
        if stored != computed {
            return Err(IndexError::CrcMismatch { section: Section::Toc, offset: start as u64, stored, computed });
        }
        let toc = Self {
            symbols: v[0],
            series: v[1],
            label_indices: v[2],
            label_indices_table: v[3],
            postings: v[4],
            postings_table: v[5],
            fingerprint_offsets: v[6],
            from: v[7] as i64,
            through: v[8] as i64,
            checksum: stored,
        };
        for (name, off) in [
            ("symbols", toc.symbols),
            ("series", toc.series),
            ("label indices", toc.label_indices),
            ("label indices table", toc.label_indices_table),
            ("postings", toc.postings),
            ("postings table", toc.postings_table),
            ("fingerprint offsets", toc.fingerprint_offsets),
        ] {
            if off > start as u64 {
                return Err(IndexError::corrupt(
                    Section::Toc,
                    start as u64,
                    format!("{name} offset {off} past the TOC"),
                ));
            }
        }
        Ok(toc)
    }
}
