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

/// Smallest encoding of one block meta: five one-byte varints, six when the
/// format records the uncompressed size.
fn min_block_meta_len(format: ChunkFormat) -> u64 {
    if format.has_uncompressed_size() { 6 } else { 5 }
}

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
                DecodeError::invalid(
                    "block metas offset",
                    footer_at + 4,
                    format!("{metas_offset} is beyond the footer"),
                )
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
        if num_blocks > metas_len / min_block_meta_len(format) {
            return Err(mc
                .invalid("block count", format!("{num_blocks} blocks cannot fit in {metas_len} meta bytes"))
                .into());
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

        let config =
            ChunkConfig { format, head_format: format.default_head_format(), encoding, block_size, target_size };
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
    if crc32c(&data[start..end]) == stored { BlockCheck::Ok(offset, stored) } else { BlockCheck::BadChecksum(offset) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{Direction, HeadFormat};
    use crate::encoding::{put_u32_be, put_uvarint, put_varint};

    fn two_block_chunk(format: ChunkFormat, encoding: Encoding) -> Vec<u8> {
        let config = ChunkConfig {
            format,
            head_format: if format <= ChunkFormat::V2 { HeadFormat::Ordered } else { format.default_head_format() },
            encoding,
            block_size: 8,
            target_size: DEFAULT_TARGET_SIZE,
        };
        let mut c = Chunk::new_unchecked(config);
        c.append(1, b"first-block", &[]).unwrap();
        c.append(2, b"second-block", &[]).unwrap();
        c.close().unwrap();
        assert_eq!(c.num_blocks(), 2);
        c.to_bytes().unwrap()
    }

    fn lines(c: &Chunk) -> Vec<String> {
        c.entries(i64::MIN, i64::MAX, Direction::Forward)
            .unwrap()
            .into_iter()
            .map(|e| String::from_utf8(e.line.to_vec()).unwrap())
            .collect()
    }

    #[test]
    fn v1_has_no_encoding_byte_and_is_gzip() {
        let bytes = two_block_chunk(ChunkFormat::V1, Encoding::Gzip);
        assert_eq!(bytes[4], 1);
        assert_eq!(&bytes[5..7], &[0x1f, 0x8b], "first block starts right after the format byte");
        let c = Chunk::from_bytes(Bytes::from(bytes)).unwrap();
        assert_eq!(c.format(), ChunkFormat::V1);
        assert_eq!(c.encoding(), Encoding::Gzip);
        assert_eq!(lines(&c), ["first-block", "second-block"]);
    }

    #[test]
    fn every_format_reads_back() {
        for format in [ChunkFormat::V2, ChunkFormat::V3, ChunkFormat::V4] {
            for enc in Encoding::ALL {
                let c = Chunk::from_bytes(Bytes::from(two_block_chunk(format, enc))).unwrap();
                assert_eq!((c.format(), c.encoding()), (format, enc));
                assert_eq!(lines(&c), ["first-block", "second-block"]);
            }
        }
    }

    #[test]
    fn block_with_bad_checksum_is_skipped() {
        let mut bytes = two_block_chunk(ChunkFormat::V4, Encoding::None);
        // First block of a metadata-free `none` v4 chunk starts at 11.
        bytes[11 + 3] ^= 0xff;
        let c = Chunk::from_bytes(Bytes::from(bytes)).unwrap();
        assert_eq!(c.corrupt_blocks(), 1);
        assert_eq!(lines(&c), ["second-block"]);
    }

    #[test]
    fn metas_checksum_mismatch_is_an_error() {
        let mut bytes = two_block_chunk(ChunkFormat::V3, Encoding::Snappy);
        let metas_offset = u64::from_be_bytes(bytes[bytes.len() - 8..].try_into().unwrap()) as usize;
        bytes[metas_offset] ^= 0x01;
        match Chunk::from_bytes(Bytes::from(bytes)) {
            Err(ChunkError::ChecksumMismatch { section: "block metas", offset, .. }) => {
                assert_eq!(offset, metas_offset)
            }
            other => panic!("expected a metas checksum error, got {other:?}"),
        }
    }

    /// Loki retries a bad block at the offset where it should have started
    /// (right after the previous block's CRC).
    #[test]
    fn wrong_block_offset_is_recovered() {
        let bytes = two_block_chunk(ChunkFormat::V3, Encoding::None);
        let c = Chunk::from_bytes(Bytes::from(bytes.clone())).unwrap();
        let infos = c.block_infos();
        // Rebuild the metas with a bogus offset for the second block.
        let metas_offset = u64::from_be_bytes(bytes[bytes.len() - 8..].try_into().unwrap()) as usize;
        let mut out = bytes[..metas_offset].to_vec();
        let mut metas = Vec::new();
        put_uvarint(&mut metas, 2);
        let mut offset = 6u64;
        for (i, b) in infos.iter().enumerate() {
            put_uvarint(&mut metas, b.entries as u64);
            put_varint(&mut metas, b.mint);
            put_varint(&mut metas, b.maxt);
            put_uvarint(&mut metas, if i == 1 { offset + 3 } else { offset });
            put_uvarint(&mut metas, b.uncompressed_size as u64);
            put_uvarint(&mut metas, b.compressed_len as u64);
            offset += b.compressed_len as u64 + 4;
        }
        out.extend_from_slice(&metas);
        put_u32_be(&mut out, crc32c(&metas));
        out.extend_from_slice(&(metas_offset as u64).to_be_bytes());
        let c = Chunk::from_bytes(Bytes::from(out)).unwrap();
        assert_eq!(c.corrupt_blocks(), 0);
        assert_eq!(lines(&c), ["first-block", "second-block"]);
    }

    #[test]
    fn truncations_and_garbage_never_panic() {
        for enc in Encoding::ALL {
            let bytes = two_block_chunk(ChunkFormat::V4, enc);
            for len in 0..bytes.len() {
                if let Ok(c) = Chunk::from_bytes(Bytes::copy_from_slice(&bytes[..len])) {
                    let _ = c.entries(i64::MIN, i64::MAX, Direction::Forward);
                }
            }
            for i in 0..bytes.len() {
                let mut b = bytes.clone();
                b[i] ^= 0x5a;
                if let Ok(c) = Chunk::from_bytes(Bytes::from(b)) {
                    let _ = c.entries(i64::MIN, i64::MAX, Direction::Backward);
                }
            }
        }
    }

    #[test]
    fn bad_magic_and_format() {
        assert!(matches!(Chunk::from_bytes(Bytes::from_static(b"nope....")), Err(ChunkError::BadMagic { .. })));
        let mut bytes = two_block_chunk(ChunkFormat::V4, Encoding::None);
        bytes[4] = 9;
        assert!(matches!(Chunk::from_bytes(Bytes::from(bytes)), Err(ChunkError::UnsupportedFormat(9))));
    }
}
