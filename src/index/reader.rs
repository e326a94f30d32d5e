//! Reading a TSDB index from bytes (`../shared/spec/tsdb-index.md` §2, §5).
//!
//! Opening checks the header, the TOC CRC and reads (with their CRCs) the
//! symbol table, the postings offset table and the fingerprint offsets
//! table. Series records and postings lists are verified when read.
//! Everything else borrows the underlying [`Bytes`] (an owned buffer, an
//! object from a store, or a memory map handed over with
//! [`Bytes::from_owner`]).
//!
//! Series record (at ref x 16):
//!
//! | field | encoding |
//! |---|---|
//! | len | `uvarint` |
//! | fingerprint | `BE64` |
//! | numLabels | `uvarint` |
//! | labels | numLabels x (`uvarint` name ref, `uvarint` value ref) |
//! | chunks | see `chunk_meta.rs` |
//! | crc | `BE32` |

use std::collections::BTreeSet;
use std::path::Path;

use bytes::Bytes;
use roaring::RoaringBitmap;

use crate::encoding::Cursor;
use crate::{Fingerprint, Label, Labels};

use super::chunk_meta::{ChunkFilter, ChunkMeta, decode_chunks};
use super::error::{IndexError, Section};
use super::format::{HEADER_LEN, INDEX_MAGIC, IndexFormat, TOC_LEN, read_framed, read_uvarint_framed};
use super::matcher::Matcher;
use super::postings::{PostingsTable, read_postings_into};
use super::query::{
    ChunkRef, IndexQuery, IndexStats, PostingsSource, Series, SeriesQuery, StatsAcc, select, sorted_refs,
};
use super::shard::ref_range;
use super::symbols::Symbols;
use super::toc::Toc;

/// An open TSDB index file.
///
/// # Examples
///
/// ```no_run
/// use lokistore::index::{IndexQuery, IndexReader, Matcher, SeriesQuery};
///
/// let reader = IndexReader::open("index_20463/1795252712-vm-1795252712737868474.tsdb").unwrap();
/// let matchers = [Matcher::equal("app", "api")];
/// for s in reader.series(&SeriesQuery::new(0, i64::MAX, &matchers)).unwrap() {
///     println!("{} {} chunks", s.labels, s.chunks.len());
/// }
/// ```
#[derive(Debug, Clone)]
pub struct IndexReader {
    data: Bytes,
    format: IndexFormat,
    toc: Toc,
    symbols: Symbols,
    postings: PostingsTable,
    fingerprint_offsets: Vec<(u64, u64)>,
}

/// A series record decoded without allocating strings.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawSeries {
    pub fingerprint: u64,
    pub labels: Vec<(u32, u32)>,
    pub chunks: Vec<ChunkMeta>,
}

impl IndexReader {
    /// Opens an index held in `data`.
    pub fn new(data: Bytes) -> Result<Self, IndexError> {
        let d = &data[..];
        if d.len() < HEADER_LEN + TOC_LEN {
            return Err(IndexError::TooShort { len: d.len() });
        }
        let magic = u32::from_be_bytes([d[0], d[1], d[2], d[3]]);
        if magic != INDEX_MAGIC {
            return Err(IndexError::BadMagic { found: magic });
        }
        let format = IndexFormat::from_byte(d[4]).ok_or(IndexError::UnsupportedVersion(d[4]))?;
        let toc = Toc::decode(d)?;
        let symbols = Symbols::read(d, toc.symbols)?;
        let postings = PostingsTable::read(d, toc.postings_table)?;
        let fingerprint_offsets = read_fingerprint_offsets(d, toc.fingerprint_offsets)?;
        Ok(Self { data, format, toc, symbols, postings, fingerprint_offsets })
    }

    /// Reads a local file (a `.gz` name is gunzipped).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, IndexError> {
        let path = path.as_ref();
        let raw = std::fs::read(path)?;
        let is_gz = path.extension().is_some_and(|e| e == "gz");
        Self::new(if is_gz { super::table::gunzip(&raw)?.into() } else { raw.into() })
    }

    /// Opens an uncompressed index file by memory-mapping it: nothing is
    /// read up front and queries touch only the pages they need.
    ///
    /// The file must not be modified or truncated while the reader (or any
    /// `Bytes` cloned from it) is alive. Index files are immutable once
    /// written (they are written under a temporary name and renamed), which
    /// is what makes the mapping sound; a `.gz` file is read with
    /// [`IndexReader::open`] instead.
    pub fn mmap(path: impl AsRef<Path>) -> Result<Self, IndexError> {
        let file = std::fs::File::open(path.as_ref())?;
        // SAFETY: the map is read-only and index files are never modified in
        // place (see above); the map's lifetime is tied to the returned bytes.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file)? };
        Self::from_owner(map)
    }

    /// Opens the bytes of any owner, e.g. a memory map made by the caller.
    pub fn from_owner<T>(owner: T) -> Result<Self, IndexError>
    where
        T: AsRef<[u8]> + Send + 'static,
    {
        Self::new(Bytes::from_owner(owner))
    }

    /// The file bytes.
    pub fn bytes(&self) -> &Bytes {
        &self.data
    }

    /// The format version.
    pub fn format(&self) -> IndexFormat {
        self.format
    }

    /// The TOC (section offsets, time range, checksum).
    pub fn toc(&self) -> &Toc {
        &self.toc
    }

    /// The TOC checksum, as in compactor file names.
    pub fn checksum(&self) -> u32 {
        self.toc.checksum
    }

    /// Number of symbols.
    pub fn num_symbols(&self) -> usize {
        self.symbols.len()
    }

    /// Number of series (the length of the all-series postings list).
    pub fn num_series(&self) -> u64 {
        self.all_postings().map_or(0, |b| b.len())
    }

    /// Every symbol, in order.
    pub fn symbols(&self) -> impl Iterator<Item = &str> + '_ {
        self.symbols.iter(&self.data)
    }

    /// The sampled (series ref, fingerprint) table.
    pub fn fingerprint_offsets(&self) -> &[(u64, u64)] {
        &self.fingerprint_offsets
    }

    /// Reads the series record with reference `series_ref` (offset / 16).
    pub(crate) fn read_raw(
        &self,
        series_ref: u32,
        filter: Option<ChunkFilter>,
        out: &mut RawSeries,
    ) -> Result<(), IndexError> {
        out.labels.clear();
        out.chunks.clear();
        let off = u64::from(series_ref) * 16;
        let (content, base) = read_uvarint_framed(&self.data, off, Section::Series)?;
        let mut c = Cursor::with_base(content, base);
        let de = |e| IndexError::decode(Section::Series, e);
        out.fingerprint = c.read_u64_be("fingerprint").map_err(de)?;
        let n = c.read_uvarint("label count").map_err(de)?;
        if n > c.remaining() as u64 / 2 {
            return Err(IndexError::corrupt(Section::Series, off, format!("{n} labels in {} bytes", c.remaining())));
        }
        let nsym = self.symbols.len() as u64;
        for _ in 0..n {
            let at = c.offset() as u64;
            let name = c.read_uvarint("label name ref").map_err(de)?;
            let value = c.read_uvarint("label value ref").map_err(de)?;
            if name >= nsym || value >= nsym {
                return Err(IndexError::corrupt(
                    Section::Series,
                    at,
                    format!("symbol ref out of range ({nsym} symbols)"),
                ));
            }
            out.labels.push((name as u32, value as u32));
        }
        match filter {
            Some(filter) => decode_chunks(&mut c, self.format, filter, &mut out.chunks).map_err(de),
            None => Ok(()),
        }
    }

    fn sym(&self, r: u32) -> Result<&str, IndexError> {
        self.symbols.lookup(&self.data, u64::from(r))
    }

    fn labels_of(&self, raw: &RawSeries) -> Result<Labels, IndexError> {
        let mut v = Vec::with_capacity(raw.labels.len());
        for &(n, val) in &raw.labels {
            v.push(Label::new(self.sym(n)?, self.sym(val)?));
        }
        Labels::from_pairs(v.into_iter().map(|l| (l.name, l.value)))
            .map_err(|e| IndexError::corrupt(Section::Series, 0, e.to_string()))
    }

    /// Reads one series with all its chunks.
    pub fn series_by_ref(&self, series_ref: u32) -> Result<Series, IndexError> {
        let mut raw = RawSeries::default();
        self.read_raw(series_ref, Some(ChunkFilter::All), &mut raw)?;
        Ok(Series { labels: self.labels_of(&raw)?, fingerprint: Fingerprint(raw.fingerprint), chunks: raw.chunks })
    }

    /// Every series in file order with all its chunks (no time filter),
    /// as `inspect` and compaction read them.
    pub fn all_series(&self) -> impl Iterator<Item = Result<Series, IndexError>> + '_ {
        let (refs, err) = match self.all_postings() {
            Ok(b) => (b, None),
            Err(e) => (RoaringBitmap::new(), Some(e)),
        };
        err.into_iter().map(Err).chain(refs.into_iter().map(move |r| self.series_by_ref(r)))
    }

    /// Checks every section's CRC and that every series decodes: a full
    /// scan, for `fsck`-style checks and the fuzz harness.
    pub fn verify(&self) -> Result<(), IndexError> {
        for s in self.all_series() {
            s?;
        }
        let (table, base) = read_framed(&self.data, self.toc.label_indices_table, Section::LabelIndicesTable)?;
        let mut c = Cursor::with_base(table, base);
        let de = |e| IndexError::decode(Section::LabelIndicesTable, e);
        let n = c.read_u32_be("entry count").map_err(de)?;
        for _ in 0..n {
            let keys = c.read_uvarint("key count").map_err(de)?;
            if keys > c.remaining() as u64 {
                return Err(IndexError::corrupt(Section::LabelIndicesTable, c.offset() as u64, "bad key count"));
            }
            for _ in 0..keys {
                c.read_uvarint_bytes("label name").map_err(de)?;
            }
            let off = c.read_uvarint("label index offset").map_err(de)?;
            read_framed(&self.data, off, Section::LabelIndex)?;
        }
        let mut scratch = RoaringBitmap::new();
        for v in &self.postings.values {
            scratch.clear();
            read_postings_into(&self.data, v.list, &mut scratch)?;
        }
        Ok(())
    }

    fn shard_range(&self, q: &SeriesQuery<'_>) -> Option<(u64, u64)> {
        q.shard.map(|s| {
            let (from, through) = s.bounds();
            ref_range(&self.fingerprint_offsets, from, through)
        })
    }
}

fn read_fingerprint_offsets(data: &[u8], off: u64) -> Result<Vec<(u64, u64)>, IndexError> {
    let (content, base) = read_framed(data, off, Section::FingerprintOffsets)?;
    let mut c = Cursor::with_base(content, base);
    let de = |e| IndexError::decode(Section::FingerprintOffsets, e);
    let n = c.read_u32_be("entry count").map_err(de)?;
    if u64::from(n) * 16 != c.remaining() as u64 {
        return Err(IndexError::corrupt(
            Section::FingerprintOffsets,
            off,
            format!("{n} entries in {} bytes", c.remaining()),
        ));
    }
    let mut v = Vec::with_capacity(n as usize);
    for _ in 0..n {
        v.push((c.read_u64_be("series ref").map_err(de)?, c.read_u64_be("fingerprint").map_err(de)?));
    }
    Ok(v)
}

impl PostingsSource for IndexReader {
    fn all_postings(&self) -> Result<RoaringBitmap, IndexError> {
        let mut out = RoaringBitmap::new();
        if let Some(off) = self.postings.all {
            read_postings_into(&self.data, off, &mut out)?;
        }
        Ok(out)
    }

    fn postings_into(&self, name: &str, value: &str, out: &mut RoaringBitmap) -> Result<(), IndexError> {
        if let Some(off) = self.postings.find(&self.data, name, value) {
            read_postings_into(&self.data, off, out)?;
        }
        Ok(())
    }

    fn postings_where(
        &self,
        name: &str,
        pred: &mut dyn FnMut(&str) -> bool,
        out: &mut RoaringBitmap,
    ) -> Result<(), IndexError> {
        if let Some(n) = self.postings.name(&self.data, name) {
            for v in self.postings.values_of(n) {
                if pred(PostingsTable::str_at(&self.data, v.at, v.len)) {
                    read_postings_into(&self.data, v.list, out)?;
                }
            }
        }
        Ok(())
    }
}

impl IndexQuery for IndexReader {
    fn bounds(&self) -> (i64, i64) {
        (self.toc.from, self.toc.through)
    }

    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        if matchers.is_empty() {
            return Ok(self
                .postings
                .names
                .iter()
                .map(|n| PostingsTable::str_at(&self.data, n.at, n.len).to_owned())
                .collect());
        }
        let refs = select(self, matchers)?;
        let mut names = BTreeSet::new();
        let mut raw = RawSeries::default();
        let mut seen = RoaringBitmap::new();
        for r in refs {
            self.read_raw(r, None, &mut raw)?;
            for &(n, _) in &raw.labels {
                if seen.insert(n) {
                    names.insert(self.sym(n)?.to_owned());
                }
            }
        }
        Ok(names.into_iter().collect())
    }

    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, IndexError> {
        if matchers.is_empty() {
            let Some(n) = self.postings.name(&self.data, name) else { return Ok(Vec::new()) };
            return Ok(self
                .postings
                .values_of(n)
                .iter()
                .map(|v| PostingsTable::str_at(&self.data, v.at, v.len).to_owned())
                .collect());
        }
        let refs = select(self, matchers)?;
        let mut values = BTreeSet::new();
        let mut raw = RawSeries::default();
        let mut seen = RoaringBitmap::new();
        for r in refs {
            self.read_raw(r, None, &mut raw)?;
            for &(n, v) in &raw.labels {
                if self.sym(n)? == name && seen.insert(v) {
                    values.insert(self.sym(v)?.to_owned());
                }
            }
        }
        Ok(values.into_iter().collect())
    }

    fn for_each_series(
        &self,
        q: &SeriesQuery<'_>,
        f: &mut dyn FnMut(&Series) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let mut series = Series::default();
        self.for_each_raw(q, &mut |raw| {
            series.labels = self.labels_of(raw)?;
            series.fingerprint = Fingerprint(raw.fingerprint);
            series.chunks.clone_from(&raw.chunks);
            f(&series)
        })
    }

    fn chunk_refs(&self, q: &SeriesQuery<'_>) -> Result<Vec<ChunkRef>, IndexError> {
        let mut out = Vec::new();
        self.for_each_raw(q, &mut |raw| {
            let fingerprint = Fingerprint(raw.fingerprint);
            out.extend(raw.chunks.iter().map(|c| ChunkRef::new(fingerprint, c)));
            Ok(())
        })?;
        Ok(sorted_refs(out))
    }

    fn stats(&self, q: &SeriesQuery<'_>) -> Result<IndexStats, IndexError> {
        let mut acc = StatsAcc::default();
        self.for_each_raw(q, &mut |raw| {
            acc.add(Fingerprint(raw.fingerprint), &raw.chunks, q.from, q.through);
            Ok(())
        })?;
        Ok(acc.finish())
    }
}

impl IndexReader {
    /// The series matching `q` with chunks in range, decoded without
    /// building label sets.
    fn for_each_raw(
        &self,
        q: &SeriesQuery<'_>,
        f: &mut dyn FnMut(&RawSeries) -> Result<(), IndexError>,
    ) -> Result<(), IndexError> {
        let mut refs = select(self, q.matchers)?;
        if let Some((min, max)) = self.shard_range(q) {
            let lo = u32::try_from(min).unwrap_or(u32::MAX);
            refs.remove_range(..lo);
            if let Ok(hi) = u32::try_from(max) {
                refs.remove_range(hi..);
            }
        }
        let mut raw = RawSeries::default();
        for r in refs {
            self.read_raw(r, Some(ChunkFilter::Range(q.from, q.through)), &mut raw)?;
            if raw.chunks.is_empty() || q.shard.is_some_and(|s| !s.matches(Fingerprint(raw.fingerprint))) {
                continue;
            }
            f(&raw)?;
        }
        Ok(())
    }
}
