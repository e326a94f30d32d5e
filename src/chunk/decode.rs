//! Decoding serialized chunks of formats v1–v4 (`../shared/spec/chunk-format.md` §5.5).
//!
//! Sections are located from the footer, every length is checked against the
//! input before it is used, the block-meta and symbol CRCs must match, and a
//! block whose CRC does not match is skipped (Loki's bad-block behaviour,
//! counted in [`Chunk::corrupt_blocks`]).

use bytes::Bytes;

use super::block::{Block, read_block_meta};
use super::symbols::Symbols;
use super::{
    CHUNK_MAGIC, Chunk, ChunkConfig, ChunkError, ChunkFormat, DEFAULT_BLOCK_SIZE, DEFAULT_TARGET_SIZE, Encoding,
};
use crate::encoding::{Cursor, DecodeError, crc32c};

/// Smallest encoding of one block meta (six one-byte varints).
const MIN_BLOCK_META_LEN: u64 = 6;

impl Chunk {
    /// Decodes a serialized chunk (formats v1–v4, any encoding). Blocks keep
    /// referencing `data`; nothing is decompressed until iteration.
    ///
    /// The decoded chunk uses Loki's default block and target sizes should
    /// more entries be appended to it.
    pub fn from_bytes(data: Bytes) -> Result<Self, ChunkError> {
        Self::decode(data, DEFAULT_BLOCK_SIZE, DEFAULT_TARGET_SIZE, false)
    }

    pub(crate) fn decode(
        data: Bytes,
        block_size: usize,
        target_size: usize,
        from_checkpoint: bool,
    ) -> Result<Self, ChunkError> {
        let total = data.len();
        let mut cur = Cursor::new(&data);
        let magic = cur.read_u32_be("chunk magic")?;
        if magic != CHUNK_MAGIC {
            return Err(ChunkError::BadMagic { found: magic });
        }
        let fb = cur.read_u8("chunk format")?;
        let format = ChunkFormat::from_byte(fb).ok_or(ChunkError::UnsupportedFormat(fb))?;
        let encoding = if format == ChunkFormat::V1 {
            Encoding::Gzip
        } else {
            Encoding::from_byte(cur.read_u8("chunk encoding")?)?
        };
        let header_len = cur.position();

        // Footer.
        let (metas_offset, metas_len, sm) = if format == ChunkFormat::V4 {
            let footer_at = total.checked_sub(32).filter(|&f| f >= header_len).ok_or_else(|| {
                DecodeError::invalid("chunk footer", total, format!("a v4 chunk of {total} bytes is too short"))
            })?;
            let mut f = Cursor::with_base(&data[footer_at..], footer_at);
            let sm_len = f.read_u64_be("symbols length")?;
            let sm_offset = f.read_u64_be("symbols offset")?;
            let metas_len = f.read_u64_be("block metas length")?;
            let metas_offset = f.read_u64_be("block metas offset")?;
            (metas_offset, metas_len, Some((sm_offset, sm_len, footer_at)))
        } else {
            let footer_at = total.checked_sub(12).filter(|&f| f >= header_len).ok_or_else(|| {
                DecodeError::invalid("chunk footer", total, format!("a v{} chunk of {total} bytes is too short", fb))
            })?;
            let mut f = Cursor::with_base(&data[footer_at + 4..], footer_at + 4);
            let metas_offset = f.read_u64_be("block metas offset")?;
            let metas_len = (footer_at as u64).checked_sub(metas_offset).ok_or_else(|| {
                DecodeError::invalid("block metas offset", footer_at + 4, format!("{metas_offset} is beyond the footer"))
            })?;
            (metas_offset, metas_len, None)
        };
        // Sections and their CRCs end where the footer begins (v4) or at the
        // metas CRC that precedes the 8-byte offset (v1-v3).
        let sections_end = sm.map_or(total - 8, |(_, _, f)| f) as u64;
        let metas = checked_section(&data, metas_offset, metas_len, sections_end, "block metas")?;

        // Block metas.
        let mut mc = Cursor::with_base(metas, metas_offset as usize);
        let num_blocks = mc.read_uvarint("block count")?;
        if num_blocks > metas_len / MIN_BLOCK_META_LEN {
            return Err(mc.invalid("block count", format!("{num_blocks} blocks cannot fit in {metas_len} meta bytes")).into());
        }
        let first_block = match sm {
            Some((sm_offset, sm_len, _)) => sm_offset.saturating_add(sm_len).saturating_add(4),
            None => header_len as u64,
        };
        let mut blocks = Vec::with_capacity(num_blocks as usize);
        let mut corrupt_blocks = 0;
        let mut expected = first_block;
        for _ in 0..num_blocks {
            let meta = read_block_meta(&mut mc, format)?;
            let mut found = block_at(&data, meta.offset, meta.len);
            if !matches!(found, BlockCheck::Ok(..)) && meta.offset != expected {
                found = block_at(&data, expected, meta.len);
            }
            let (offset, crc) = match found {
                BlockCheck::Ok(offset, crc) => (offset, crc),
                BlockCheck::BadChecksum(offset) => {
                    corrupt_blocks += 1;
                    expected = offset + meta.len + 4;
                    continue;
                }
                BlockCheck::OutOfRange => {
                    return Err(DecodeError::invalid(
                        "block offset",
                        metas_offset as usize,
                        format!("block at {} of {} bytes lies outside the chunk", meta.offset, meta.len),
                    )
                    .into());
                }
            };
            expected = offset + meta.len + 4;
            let start = offset as usize;
            blocks.push(Block {
                num_entries: usize::try_from(meta.num_entries).unwrap_or(usize::MAX),
                mint: meta.mint,
                maxt: meta.maxt,
                uncompressed_size: usize::try_from(meta.uncompressed_size).unwrap_or(usize::MAX),
                data: data.slice(start..start + meta.len as usize),
                crc,
            });
        }

        let symbols = match sm {
            Some((sm_offset, sm_len, footer_at)) => {
                let section = checked_section(&data, sm_offset, sm_len, footer_at as u64, "symbols")?;
                Symbols::deserialize(section, sm_offset as usize, encoding, !from_checkpoint)?
            }
            None => Symbols::default(),
        };

        let config = ChunkConfig { format, head_format: format.default_head_format(), encoding, block_size, target_size };
        let mut chunk = Chunk::new_unchecked(config);
        chunk.cut_block_size = blocks.iter().map(|b| b.data.len()).sum();
        chunk.blocks = blocks;
        chunk.symbols = symbols;
        chunk.corrupt_blocks = corrupt_blocks;
        Ok(chunk)
    }
}

/// Returns the `len` bytes at `offset`, checking that they and their CRC
/// lie before `limit`, and that the CRC matches.
fn checked_section<'a>(
    data: &'a [u8],
    offset: u64,
    len: u64,
    limit: u64,
    section: &'static str,
) -> Result<&'a [u8], ChunkError> {
    let end = offset.checked_add(len).filter(|&e| e.checked_add(4).is_some_and(|c| c <= limit));
    let Some(end) = end else {
        return Err(DecodeError::invalid(
            section,
            offset.min(usize::MAX as u64) as usize,
            format!("section of {len} bytes at offset {offset} (plus its checksum) exceeds {limit} bytes"),
        )
        .into());
    };
    let (start, end) = (offset as usize, end as usize);
    let bytes = &data[start..end];
    let stored = u32::from_be_bytes([data[end], data[end + 1], data[end + 2], data[end + 3]]);
    let computed = crc32c(bytes);
    if stored != computed {
        return Err(ChunkError::ChecksumMismatch { section, offset: start, stored, computed });
    }
    Ok(bytes)
}

enum BlockCheck {
    Ok(u64, u32),
    BadChecksum(u64),
    OutOfRange,
}

fn block_at(data: &[u8], offset: u64, len: u64) -> BlockCheck {
    let Some(crc_end) = offset.checked_add(len).and_then(|e| e.checked_add(4)) else {
        return BlockCheck::OutOfRange;
    };
    if crc_end > data.len() as u64 {
        return BlockCheck::OutOfRange;
    }
    let (start, end) = (offset as usize, (offset + len) as usize);
    let stored = u32::from_be_bytes([data[end], data[end + 1], data[end + 2], data[end + 3]]);
    if crc32c(&data[start..end]) == stored {
        BlockCheck::Ok(offset, stored)
    } else {
        BlockCheck::BadChecksum(offset)
    }
}
