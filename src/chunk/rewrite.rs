//! Rewriting a chunk without some of its entries (used by delete requests;
//! `../shared/spec/chunk-format.md` §7.7).
//!
//! Blocks from which nothing is removed are copied byte for byte; a block
//! that loses entries is re-encoded into exactly one new block; a block that
//! loses everything disappears. The symbol table is kept whole, since copied
//! blocks still refer to it by index.

use bytes::Bytes;

use super::block::{Block, Decoded, put_entry};
use super::iter::MAX_BLOCK_DECOMPRESSED_LEN;
use super::{Chunk, ChunkError, EntryRef};
use crate::encoding::crc32c;

impl Chunk {
    /// Returns a copy of this chunk holding only the entries for which
    /// `keep` returns true. Fails with [`ChunkError::NoDataLeft`] when no
    /// entry is kept (the caller then deletes the chunk).
    pub fn rewrite(&self, mut keep: impl FnMut(&EntryRef<'_>) -> bool) -> Result<Chunk, ChunkError> {
        let mut out = Chunk::new_unchecked(self.config);
        out.symbols = self.symbols.clone();
        let format = self.config.format;
        let with_metadata = format.has_metadata();
        let mut decoded = Decoded::default();
        let mut payload = Vec::new();
        for b in &self.blocks {
            decoded.clear();
            self.config.encoding.decompress(&b.data, &mut decoded.buf, MAX_BLOCK_DECOMPRESSED_LEN)?;
            decoded.index_payload(0, format, i64::MIN, i64::MAX, 0)?;
            let kept: Vec<usize> = (0..decoded.entries.len())
                .filter(|&i| {
                    let e = &decoded.entries[i];
                    keep(&EntryRef {
                        timestamp: e.ts,
                        line: decoded.line(e),
                        pairs: decoded.entry_pairs(e),
                        symbols: &self.symbols,
                    })
                })
                .collect();
            if kept.len() == decoded.entries.len() {
                out.cut_block_size += b.data.len();
                out.blocks.push(b.clone());
                continue;
            }
            if kept.is_empty() {
                continue;
            }
            payload.clear();
            let (mut mint, mut maxt, mut size) = (i64::MAX, i64::MIN, 0usize);
            for &i in &kept {
                let e = &decoded.entries[i];
                let pairs = decoded.entry_pairs(e);
                mint = mint.min(e.ts);
                maxt = maxt.max(e.ts);
                size += e.line_len as usize;
                if with_metadata {
                    size += 8 * pairs.len();
                }
                put_entry(&mut payload, e.ts, decoded.line(e), pairs, with_metadata);
            }
            let mut data = Vec::with_capacity(payload.len() / 2 + 64);
            self.config.encoding.compress(&payload, &mut data)?;
            out.cut_block_size += data.len();
            out.blocks.push(Block {
                num_entries: kept.len(),
                mint,
                maxt,
                uncompressed_size: size,
                crc: crc32c(&data),
                data: Bytes::from(data),
            });
        }
        // Entries still in the head are filtered into the new head.
        let h = &self.head;
        for e in &h.entries {
            let pairs = h.entry_pairs(e);
            let r = EntryRef { timestamp: e.ts, line: h.line(e), pairs, symbols: &self.symbols };
            if keep(&r) {
                out.head.push_unchecked(e.ts, h.line(e), pairs);
            }
        }
        if out.is_empty() {
            return Err(ChunkError::NoDataLeft);
        }
        Ok(out)
    }
}
