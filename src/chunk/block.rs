//! Cut blocks, their metadata, and decoding a block's entries.
//!
//! Block meta (per block, in the chunk's meta section):
//!
//! | field | encoding | formats |
//! |---|---|---|
//! | entries | `uvarint` | all |
//! | mint, maxt | zig-zag `varint` ns | all |
//! | offset | `uvarint` byte offset in the chunk | all |
//! | uncompressedSize | `uvarint` (head size counter, not the true length) | v3, v4 |
//! | len | `uvarint` compressed length without the CRC | all |
//!
//! Entry inside a decompressed block: `varint ts`, `uvarint len`, line, and in
//! v4 `uvarint symLen`, `uvarint nPairs`, pairs of `uvarint` symbol indices.

use bytes::Bytes;

use super::{ChunkError, ChunkFormat, MAX_LINE_LENGTH};
use crate::encoding::{Cursor, put_uvarint, put_varint, uvarint_len};

/// A compressed block of a chunk.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub(crate) num_entries: usize,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    /// Loki's uncompressed size counter at cut time.
    pub(crate) uncompressed_size: usize,
    /// Compressed bytes, without the trailing CRC.
    pub(crate) data: Bytes,
    /// CRC32C of `data`.
    pub(crate) crc: u32,
}

impl Block {
    pub(crate) fn overlaps(&self, from: i64, through: i64) -> bool {
        // Loki skips a block only when through < mint || maxt < from.
        through >= self.mint && self.maxt >= from
    }
}

/// Appends one block meta.
pub(crate) fn put_block_meta(out: &mut Vec<u8>, b: &Block, offset: usize, format: ChunkFormat) {
    put_uvarint(out, b.num_entries as u64);
    put_varint(out, b.mint);
    put_varint(out, b.maxt);
    put_uvarint(out, offset as u64);
    if format.has_uncompressed_size() {
        put_uvarint(out, b.uncompressed_size as u64);
    }
    put_uvarint(out, b.data.len() as u64);
}

/// Appends one entry in the block payload form (§4): `varint ts`, `uvarint
/// len`, line and, when `with_metadata` (v4), `uvarint symLen` followed by the
/// pair list.
pub(crate) fn put_entry(out: &mut Vec<u8>, ts: i64, line: &[u8], pairs: &[(u32, u32)], with_metadata: bool) {
    put_varint(out, ts);
    put_uvarint(out, line.len() as u64);
    out.extend_from_slice(line);
    if with_metadata {
        let sym_len = uvarint_len(pairs.len() as u64)
            + pairs.iter().map(|&(n, v)| uvarint_len(n.into()) + uvarint_len(v.into())).sum::<usize>();
        put_uvarint(out, sym_len as u64);
        put_pairs(out, pairs);
    }
}

/// Appends `uvarint nPairs` and the (name, value) symbol index pairs.
pub(crate) fn put_pairs(out: &mut Vec<u8>, pairs: &[(u32, u32)]) {
    put_uvarint(out, pairs.len() as u64);
    for &(n, v) in pairs {
        put_uvarint(out, n.into());
        put_uvarint(out, v.into());
    }
}

/// A block meta as read from a chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockMeta {
    pub(crate) num_entries: u64,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    pub(crate) offset: u64,
    pub(crate) uncompressed_size: u64,
    pub(crate) len: u64,
}

pub(crate) fn read_block_meta(cur: &mut Cursor<'_>, format: ChunkFormat) -> Result<BlockMeta, ChunkError> {
    let num_entries = cur.read_uvarint("block entry count")?;
    let mint = cur.read_varint("block mint")?;
    let maxt = cur.read_varint("block maxt")?;
    let offset = cur.read_uvarint("block offset")?;
    let uncompressed_size =
        if format.has_uncompressed_size() { cur.read_uvarint("block uncompressed size")? } else { 0 };
    let len = cur.read_uvarint("block length")?;
    Ok(BlockMeta { num_entries, mint, maxt, offset, uncompressed_size, len })
}

/// Most bytes an iterator holds at once (decompressed data plus its entry
/// index): 512 MiB. Offsets into the data are `u32`, which this also keeps valid.
pub const MAX_DECODED_BYTES: usize = 512 << 20;

/// One entry of a decoded block: ranges into [`Decoded`]'s buffers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DecodedEntry {
    pub(crate) ts: i64,
    pub(crate) line_start: u32,
    pub(crate) line_len: u32,
    pub(crate) pairs_start: u32,
    pub(crate) pairs_len: u32,
}

/// Reusable buffers holding the entries of one or more decoded sources.
#[derive(Debug, Default)]
pub(crate) struct Decoded {
    pub(crate) buf: Vec<u8>,
    pub(crate) entries: Vec<DecodedEntry>,
    pub(crate) pairs: Vec<(u32, u32)>,
}

impl Decoded {
    pub(crate) fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.pairs.clear();
    }

    /// Bytes held: decompressed data plus the entry and pair indexes.
    pub(crate) fn held_bytes(&self) -> usize {
        self.buf.len()
            + self.entries.len() * std::mem::size_of::<DecodedEntry>()
            + self.pairs.len() * std::mem::size_of::<(u32, u32)>()
    }

    pub(crate) fn line(&self, e: &DecodedEntry) -> &[u8] {
        &self.buf[e.line_start as usize..(e.line_start + e.line_len) as usize]
    }

    pub(crate) fn entry_pairs(&self, e: &DecodedEntry) -> &[(u32, u32)] {
        &self.pairs[e.pairs_start as usize..(e.pairs_start + e.pairs_len) as usize]
    }

    /// Parses the entries of an uncompressed block payload that has been
    /// appended to `self.buf` starting at `start`, keeping those with
    /// `from <= ts < through`.
    pub(crate) fn index_payload(
        &mut self,
        start: usize,
        format: ChunkFormat,
        from: i64,
        through: i64,
        base: usize,
    ) -> Result<(), ChunkError> {
        if self.held_bytes() > MAX_DECODED_BYTES {
            return Err(ChunkError::DecodedTooLarge { bytes: self.held_bytes() });
        }
        let payload = &self.buf[start..];
        let mut cur = Cursor::with_base(payload, base);
        let with_metadata = format.has_metadata();
        while !cur.is_empty() {
            let ts = cur.read_varint("entry timestamp")?;
            let len = cur.read_uvarint("entry line length")?;
            if len >= MAX_LINE_LENGTH {
                return Err(ChunkError::LineTooLong(len));
            }
            let line_start = (start + cur.position()) as u32;
            cur.skip(len, "entry line")?;
            let pairs_start = self.pairs.len() as u32;
            let mut pairs_len = 0u32;
            if with_metadata {
                let sym_len = cur.read_uvarint("entry metadata length")?;
                let mut sym = Cursor::with_base(cur.read_bytes(sym_len, "entry metadata")?, cur.offset());
                let n = sym.read_uvarint("entry metadata pair count")?;
                // Each pair needs at least two bytes, which bounds the loop.
                if n > sym.remaining() as u64 / 2 {
                    return Err(sym
                        .invalid(
                            "entry metadata pair count",
                            format!("{n} pairs do not fit in {} bytes", sym.remaining()),
                        )
                        .into());
                }
                let keep = ts >= from && ts < through;
                for _ in 0..n {
                    let name = sym.read_uvarint("metadata name symbol")?;
                    let value = sym.read_uvarint("metadata value symbol")?;
                    if keep {
                        self.pairs.push((clamp_symbol(name), clamp_symbol(value)));
                    }
                }
                if keep {
                    pairs_len = n as u32;
                }
            }
            if ts >= from && ts < through {
                // Tiny entries cost more in the index than in the block:
                // bound what hostile blocks can make us hold.
                if self.entries.len().is_multiple_of(65_536) && self.held_bytes() > MAX_DECODED_BYTES {
                    return Err(ChunkError::DecodedTooLarge { bytes: self.held_bytes() });
                }
                self.entries.push(DecodedEntry { ts, line_start, line_len: len as u32, pairs_start, pairs_len });
            }
        }
        Ok(())
    }
}

/// Symbol indices beyond `u32` can never be in a table; map them to an
/// index that resolves to `""` like any other out-of-range index.
fn clamp_symbol(i: u64) -> u32 {
    u32::try_from(i).unwrap_or(u32::MAX)
}

/// Summary of one cut block, as recorded in the chunk's block metas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Number of entries.
    pub entries: usize,
    /// Earliest timestamp (ns).
    pub mint: i64,
    /// Latest timestamp (ns).
    pub maxt: i64,
    /// Loki's uncompressed size counter (lines + 8 bytes per metadata pair).
    pub uncompressed_size: usize,
    /// Compressed length in bytes, without the CRC.
    pub compressed_len: usize,
    /// CRC32C of the compressed bytes.
    pub crc: u32,
}

impl super::Chunk {
    /// The cut blocks' metadata, in order.
    pub fn block_infos(&self) -> Vec<BlockInfo> {
        self.blocks
            .iter()
            .map(|b| BlockInfo {
                entries: b.num_entries,
                mint: b.mint,
                maxt: b.maxt,
                uncompressed_size: b.uncompressed_size,
                compressed_len: b.data.len(),
                crc: b.crc,
            })
            .collect()
    }

    /// The decompressed bytes of block `index` (the serialized entries), or
    /// `None` when there is no such block.
    pub fn decompressed_block(&self, index: usize) -> Option<Result<Vec<u8>, ChunkError>> {
        let b = self.blocks.get(index)?;
        let mut out = Vec::new();
        Some(
            self.config
                .encoding
                .decompress(&b.data, &mut out, super::iter::MAX_BLOCK_DECOMPRESSED_LEN)
                .map(|()| out)
                .map_err(ChunkError::from),
        )
    }
}

/// What a chunk's entry source (a cut block or the head block) says about
/// its entries without decoding them: the block meta's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SourceMeta {
    pub(crate) num_entries: usize,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
}

impl super::Chunk {
    /// The entry sources in iteration order: the cut blocks, then the head
    /// block when it holds entries.
    pub(crate) fn source_metas(&self) -> impl Iterator<Item = SourceMeta> + '_ {
        let blocks = self.blocks.iter().map(|b| SourceMeta { num_entries: b.num_entries, mint: b.mint, maxt: b.maxt });
        let head = (!self.head.is_empty()).then(|| SourceMeta {
            num_entries: self.head.len(),
            mint: self.head.mint,
            maxt: self.head.maxt,
        });
        blocks.chain(head)
    }

    /// Whether an entry may carry structured metadata: the symbol table
    /// (which every metadata pair refers to) is not empty.
    pub(crate) fn may_have_metadata(&self) -> bool {
        self.symbols.len() > 0
    }

    /// Appends to `out` the timestamps `from <= ts < through` of source
    /// `index` (see [`source_metas`](Self::source_metas)) in stored order,
    /// without indexing lines or metadata: a cut block is decompressed into
    /// `buf` and only its entry headers are read. Returns the number of
    /// entries read, in range or not.
    pub(crate) fn source_timestamps(
        &self,
        index: usize,
        (from, through): (i64, i64),
        buf: &mut Vec<u8>,
        out: &mut Vec<i64>,
    ) -> Result<usize, ChunkError> {
        let keep = |ts: i64| ts >= from && ts < through;
        let Some(b) = self.blocks.get(index) else {
            if index == self.blocks.len() {
                out.extend(self.head.entries.iter().map(|e| e.ts).filter(|&ts| keep(ts)));
                return Ok(self.head.len());
            }
            return Ok(0);
        };
        buf.clear();
        self.config.encoding.decompress(&b.data, buf, super::iter::MAX_BLOCK_DECOMPRESSED_LEN)?;
        let with_metadata = self.config.format.has_metadata();
        let mut cur = Cursor::new(buf);
        let mut read = 0usize;
        while !cur.is_empty() {
            let ts = entry_header(&mut cur, with_metadata)?;
            read += 1;
            if keep(ts) {
                out.push(ts);
            }
        }
        Ok(read)
    }

    /// [`source_timestamps`](Self::source_timestamps) stopping before the
    /// first entry later than `stop`: returns how many entries it read; a
    /// cut block's entries are in time order, so the others are all later
    /// than `stop`. Snappy blocks are decoded frame by frame only as far as
    /// that entry; other blocks (and the head block) are read whole.
    pub(crate) fn source_timestamps_until(
        &self,
        index: usize,
        (from, through): (i64, i64),
        stop: i64,
        buf: &mut Vec<u8>,
        out: &mut Vec<i64>,
    ) -> Result<usize, ChunkError> {
        let b = match self.blocks.get(index) {
            Some(b) if self.config.encoding == super::Encoding::Snappy => b,
            _ => return self.source_timestamps(index, (from, through), buf, out),
        };
        let with_metadata = self.config.format.has_metadata();
        let start = out.len();
        buf.clear();
        let mut frames = super::Encoding::snappy_frames(&b.data, 0, usize::MAX);
        // Start of the first entry not read yet, entries read.
        let (mut pos, mut read) = (0usize, 0usize);
        loop {
            let more = match frames.next_data() {
                Ok(Some(chunk)) => {
                    if chunk.decode_into(buf).is_err() || buf.len() > super::iter::MAX_BLOCK_DECOMPRESSED_LEN {
                        break;
                    }
                    true
                }
                Ok(None) => false,
                Err(_) => break,
            };
            // Whole entries so far; one cut by the frame end waits for more.
            while pos < buf.len() {
                let mut cur = Cursor::new(buf.get(pos..).unwrap_or_default());
                let Ok(ts) = entry_header(&mut cur, with_metadata) else { break };
                if ts > stop {
                    return Ok(read);
                }
                pos += cur.position();
                read += 1;
                if ts >= from && ts < through {
                    out.push(ts);
                }
            }
            if !more {
                if pos == buf.len() {
                    return Ok(read);
                }
                break;
            }
        }
        // Damaged: read it whole, which reports the error as iteration does.
        out.truncate(start);
        self.source_timestamps(index, (from, through), buf, out)
    }
}

/// Reads one entry's header (`varint ts`, the line skipped, and in v4 the
/// metadata skipped) and returns its timestamp.
fn entry_header(cur: &mut Cursor<'_>, with_metadata: bool) -> Result<i64, ChunkError> {
    let ts = cur.read_varint("entry timestamp")?;
    let len = cur.read_uvarint("entry line length")?;
    if len >= MAX_LINE_LENGTH {
        return Err(ChunkError::LineTooLong(len));
    }
    cur.skip(len, "entry line")?;
    if with_metadata {
        let sym_len = cur.read_uvarint("entry metadata length")?;
        cur.skip(sym_len, "entry metadata")?;
    }
    Ok(ts)
}
