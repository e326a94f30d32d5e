//! The staged TSDB index writer (`../shared/spec/tsdb-index.md` §2, Loki's
//! `index.Creator`). Output is byte-identical to Loki's for the same calls.
//!
//! | # | section | written by |
//! |---|---|---|
//! | 0 | header `BE32 0xBAAAD700` \| version | [`IndexWriter::new`] |
//! | 1 | symbols: BE32-framed `BE32 count` \| count x `str` | [`IndexWriter::add_symbol`] (strictly increasing) |
//! | 2 | series, each padded to 16: uvarint-framed `BE64 fp` \| `uvarint n` \| n x (`uvarint` name ref, `uvarint` value ref) \| chunks | [`IndexWriter::add_series`] (ascending (fp, labels)) |
//! | 3 | label indices, each padded to 4: BE32-framed `BE32 1` \| `BE32 n` \| n x `BE32` value ref | [`IndexWriter::finish`] |
//! | 4 | postings, padded to 4: BE32-framed `BE32 n` \| n x `BE32` series ref; first the all-series list (`""`,`""`) | [`IndexWriter::finish`] |
//! | 5 | label-indices table: BE32-framed `BE32 n` \| n x (`uvarint 1`, `str` name, `uvarint` offset) | [`IndexWriter::finish`] |
//! | 6 | postings table: BE32-framed `BE32 n` \| n x (`uvarint 2`, `str` name, `str` value, `uvarint` offset) | [`IndexWriter::finish`] |
//! | 7 | fingerprint offsets: BE32-framed `BE32 n` \| n x (`BE64` series ref, `BE64` fp), every 1024th series | [`IndexWriter::finish`] |
//! | 8 | TOC (76 bytes, §2.8) | [`IndexWriter::finish`] |

use crate::encoding::{crc32c, put_u32_be, put_u64_be, put_uvarint};
use crate::{Fingerprint, Labels};

use super::chunk_meta::{ChunkMeta, encode_chunks};
use super::error::IndexError;
use super::format::{FINGERPRINT_INTERVAL, INDEX_MAGIC, IndexFormat, pad_to};
use super::fxhash::FxHashMap;
use super::toc::Toc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Symbols,
    Series,
}

/// A finished index: its bytes and its TOC (time range and checksum).
#[derive(Debug, Clone)]
pub struct WrittenIndex {
    /// The whole file.
    pub bytes: Vec<u8>,
    /// Its TOC; `toc.checksum` is the checksum used in compactor file names.
    pub toc: Toc,
}

/// Writes a TSDB index in memory, one stage after the other: every symbol
/// in byte order, then every series in (fingerprint, labels) order, then
/// [`finish`](Self::finish). Calls out of order are refused with
/// [`IndexError::OutOfOrder`] and leave the writer unchanged, so a broken
/// file is never produced. Dropping an unfinished writer produces nothing.
///
/// Most callers want [`IndexBuilder`](super::IndexBuilder), which sorts.
#[derive(Debug)]
pub struct IndexWriter {
    format: IndexFormat,
    out: Vec<u8>,
    stage: Stage,
    toc: Toc,
    symbols: FxHashMap<String, u32>,
    last_symbol: Option<String>,
    /// The last series' fingerprint and symbol refs: refs compare like the
    /// strings, so (fp, refs) order is (fp, labels) order.
    last_series: Option<(u64, Vec<(u32, u32)>)>,
    refs: Vec<(u32, u32)>,
    ordinal: u64,
    fingerprint_offsets: Vec<(u64, u64)>,
    series_refs: Vec<u32>,
    /// (name symbol, value symbol, series ref) for every label of every series.
    postings: Vec<(u32, u32, u32)>,
    record: Vec<u8>,
    scratch: Vec<u8>,
}

impl IndexWriter {
    /// A writer for `format`; the header is written immediately.
    pub fn new(format: IndexFormat) -> Self {
        let mut out = Vec::with_capacity(4096);
        put_u32_be(&mut out, INDEX_MAGIC);
        out.push(format.to_byte());
        let toc = Toc { symbols: out.len() as u64, ..Toc::default() };
        // Room for the symbol table's length and count.
        out.extend_from_slice(&[0; 8]);
        Self {
            format,
            out,
            stage: Stage::Symbols,
            toc,
            symbols: FxHashMap::default(),
            last_symbol: None,
            last_series: None,
            refs: Vec::new(),
            ordinal: 0,
            fingerprint_offsets: Vec::new(),
            series_refs: Vec::new(),
            postings: Vec::new(),
            record: Vec::new(),
            scratch: Vec::new(),
        }
    }

    /// The format being written.
    pub fn format(&self) -> IndexFormat {
        self.format
    }

    /// Adds the next symbol. Symbols must be strictly increasing by bytes
    /// and all be added before the first series.
    pub fn add_symbol(&mut self, symbol: &str) -> Result<(), IndexError> {
        if self.stage != Stage::Symbols {
            return Err(IndexError::OutOfOrder(format!("symbol {symbol:?} added after the first series")));
        }
        if let Some(last) = &self.last_symbol
            && symbol <= last.as_str()
        {
            return Err(IndexError::OutOfOrder(format!("symbol {symbol:?} not after {last:?}")));
        }
        let idx =
            u32::try_from(self.symbols.len()).map_err(|_| IndexError::InvalidInput("more than 2^32 symbols".into()))?;
        put_uvarint(&mut self.out, symbol.len() as u64);
        self.out.extend_from_slice(symbol.as_bytes());
        self.symbols.insert(symbol.to_owned(), idx);
        self.last_symbol = Some(symbol.to_owned());
        Ok(())
    }

    fn finish_symbols(&mut self) -> Result<(), IndexError> {
        if self.stage != Stage::Symbols {
            return Ok(());
        }
        let start = self.toc.symbols as usize;
        let len = u32::try_from(self.out.len() - start - 4)
            .map_err(|_| IndexError::InvalidInput("symbol table exceeds 4 GiB".into()))?;
        self.out[start..start + 4].copy_from_slice(&len.to_be_bytes());
        self.out[start + 4..start + 8].copy_from_slice(&(self.symbols.len() as u32).to_be_bytes());
        let crc = crc32c(&self.out[start + 4..]);
        put_u32_be(&mut self.out, crc);
        self.toc.series = self.out.len() as u64;
        self.stage = Stage::Series;
        Ok(())
    }

    fn symbol(&self, s: &str) -> Result<u32, IndexError> {
        self.symbols.get(s).copied().ok_or_else(|| IndexError::InvalidInput(format!("symbol {s:?} was not added")))
    }

    /// Adds the next series with its chunks, written in the order given
    /// (use [`finalize_chunks`](super::finalize_chunks) for Loki's order).
    /// Series must be strictly increasing by (fingerprint, labels); every
    /// label name and value must have been added as a symbol.
    pub fn add_series(&mut self, labels: &Labels, fp: Fingerprint, chunks: &[ChunkMeta]) -> Result<(), IndexError> {
        let mut refs = std::mem::take(&mut self.refs);
        refs.clear();
        for l in labels {
            if l.name.is_empty() {
                self.refs = refs;
                return Err(IndexError::InvalidInput(format!("empty label name in {labels}")));
            }
            match (self.symbol(&l.name), self.symbol(&l.value)) {
                (Ok(n), Ok(v)) => refs.push((n, v)),
                (Err(e), _) | (_, Err(e)) => {
                    self.refs = refs;
                    return Err(e);
                }
            }
        }
        if let Some((last_fp, last_refs)) = &self.last_series
            && (fp.0, refs.as_slice()) <= (*last_fp, last_refs.as_slice())
        {
            self.refs = refs;
            return Err(IndexError::OutOfOrder(format!(
                "series {labels} (fingerprint {fp}) not after the previous series (fingerprint {})",
                Fingerprint(*last_fp)
            )));
        }
        self.finish_symbols()?;
        pad_to(&mut self.out, 16);
        let series_ref = u32::try_from(self.out.len() / 16)
            .map_err(|_| IndexError::InvalidInput("series section exceeds 64 GiB".into()))?;

        let mut rec = std::mem::take(&mut self.record);
        rec.clear();
        put_u64_be(&mut rec, fp.0);
        put_uvarint(&mut rec, refs.len() as u64);
        for &(n, v) in &refs {
            put_uvarint(&mut rec, u64::from(n));
            put_uvarint(&mut rec, u64::from(v));
        }
        encode_chunks(&mut rec, &mut self.scratch, self.format, chunks);
        for c in chunks {
            self.toc.ensure_bounds(c.min_time, c.max_time);
        }
        put_uvarint(&mut self.out, rec.len() as u64);
        self.out.extend_from_slice(&rec);
        put_u32_be(&mut self.out, crc32c(&rec));
        self.record = rec;

        if self.ordinal.is_multiple_of(FINGERPRINT_INTERVAL) {
            self.fingerprint_offsets.push((u64::from(series_ref), fp.0));
        }
        self.ordinal += 1;
        self.series_refs.push(series_ref);
        self.postings.extend(refs.iter().map(|&(n, v)| (n, v, series_ref)));
        // The current refs become the order check's reference; the old buffer is recycled.
        let old = self.last_series.replace((fp.0, refs));
        self.refs = old.map(|(_, v)| v).unwrap_or_default();
        Ok(())
    }

    /// Writes the label indices, postings, offset tables and TOC and
    /// returns the file.
    pub fn finish(mut self) -> Result<WrittenIndex, IndexError> {
        self.finish_symbols()?;
        self.toc.label_indices = self.out.len() as u64;

        // Symbol ordinals sort like the strings, so sorting the keys gives
        // (name, value) order.
        self.postings.sort_unstable();
        let mut postings = std::mem::take(&mut self.postings);
        // Distinct (name, value) keys, each with its run of series refs.
        let mut keys: Vec<(u32, u32, usize, usize)> = Vec::new();
        let mut i = 0;
        while i < postings.len() {
            let (n, v, _) = postings[i];
            let run = postings[i..].iter().take_while(|p| (p.0, p.1) == (n, v)).count();
            keys.push((n, v, i, i + run));
            i += run;
        }
        let mut names_by_sym: Vec<&str> = vec![""; self.symbols.len()];
        for (s, &i) in &self.symbols {
            names_by_sym[i as usize] = s.as_str();
        }
        let sym = |i: u32| names_by_sym.get(i as usize).copied().unwrap_or_default();
        let mut refs_buf: Vec<u32> = Vec::new();

        // Postings lists, in a side buffer whose offsets are fixed up later.
        let mut plists: Vec<u8> = Vec::new();
        let mut ptable: Vec<(&str, &str, u64)> = Vec::with_capacity(keys.len() + 1);
        let write_list = |buf: &mut Vec<u8>, refs: &[u32]| -> Result<u64, IndexError> {
            pad_to(buf, 4);
            let at = buf.len() as u64;
            let len = u32::try_from(4 + 4 * refs.len() as u64)
                .map_err(|_| IndexError::InvalidInput("postings list exceeds 4 GiB".into()))?;
            put_u32_be(buf, len);
            let start = buf.len();
            put_u32_be(buf, refs.len() as u32);
            for &r in refs {
                put_u32_be(buf, r);
            }
            let crc = crc32c(&buf[start..]);
            put_u32_be(buf, crc);
            Ok(at)
        };
        ptable.push(("", "", write_list(&mut plists, &self.series_refs)?));
        for &(n, v, a, b) in &keys {
            refs_buf.clear();
            refs_buf.extend(postings[a..b].iter().map(|p| p.2));
            ptable.push((sym(n), sym(v), write_list(&mut plists, &refs_buf)?));
        }
        postings.clear();

        // Label indices, one per name.
        let mut label_indices: Vec<(&str, u64)> = Vec::new();
        let mut i = 0;
        while i < keys.len() {
            let name = keys[i].0;
            let j = keys[i..].iter().position(|k| k.0 != name).map_or(keys.len(), |p| i + p);
            pad_to(&mut self.out, 4);
            label_indices.push((sym(name), self.out.len() as u64));
            let len = u32::try_from(8 + 4 * (j - i) as u64)
                .map_err(|_| IndexError::InvalidInput("label index exceeds 4 GiB".into()))?;
            put_u32_be(&mut self.out, len);
            let start = self.out.len();
            put_u32_be(&mut self.out, 1);
            put_u32_be(&mut self.out, (j - i) as u32);
            for k in &keys[i..j] {
                put_u32_be(&mut self.out, k.1);
            }
            let crc = crc32c(&self.out[start..]);
            put_u32_be(&mut self.out, crc);
            i = j;
        }

        self.toc.postings = self.out.len() as u64;
        pad_to(&mut self.out, 4);
        let postings_start = self.out.len() as u64;
        self.out.extend_from_slice(&plists);

        self.toc.label_indices_table = self.out.len() as u64;
        let out = &mut self.out;
        write_table(out, label_indices.len(), |buf| {
            for (name, off) in &label_indices {
                put_uvarint(buf, 1);
                put_str(buf, name);
                put_uvarint(buf, *off);
            }
        })?;
        self.toc.postings_table = out.len() as u64;
        write_table(out, ptable.len(), |buf| {
            for (name, value, off) in &ptable {
                put_uvarint(buf, 2);
                put_str(buf, name);
                put_str(buf, value);
                put_uvarint(buf, off + postings_start);
            }
        })?;
        self.toc.fingerprint_offsets = out.len() as u64;
        write_table(out, self.fingerprint_offsets.len(), |buf| {
            for &(r, fp) in &self.fingerprint_offsets {
                put_u64_be(buf, r);
                put_u64_be(buf, fp);
            }
        })?;
        let mut toc = self.toc;
        toc.encode(out);
        Ok(WrittenIndex { bytes: std::mem::take(out), toc })
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_uvarint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Writes a BE32-framed table: `BE32 len` | `BE32 count` | entries | crc.
fn write_table(out: &mut Vec<u8>, count: usize, body: impl FnOnce(&mut Vec<u8>)) -> Result<(), IndexError> {
    let len_at = out.len();
    put_u32_be(out, 0);
    let start = out.len();
    put_u32_be(out, u32::try_from(count).map_err(|_| IndexError::InvalidInput("table too large".into()))?);
    body(out);
    let len = u32::try_from(out.len() - start).map_err(|_| IndexError::InvalidInput("table exceeds 4 GiB".into()))?;
    out[len_at..start].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c(&out[start..]);
    put_u32_be(out, crc);
    Ok(())
}
