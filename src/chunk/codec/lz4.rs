//! The LZ4 frame format, written as pierrec/lz4 v4 (Loki's `lz4-*`
//! encodings) writes it and read as its reader reads it
//! (`../shared/spec/chunk-format.md` §6).
//!
//! A frame (integers little-endian):
//!
//! | size | field |
//! |---|---|
//! | 4 | magic `04 22 4d 18` |
//! | 1 | FLG: version `40`, `20` independent blocks, `10` block checksums, `08` content size, `04` content checksum, `01` dictionary ID; Loki writes `60` |
//! | 1 | BD: maximum block size `40` 64 KiB, `50` 256 KiB, `60` 1 MiB, `70` 4 MiB |
//! | 8 | content size (if flagged) |
//! | 4 | dictionary ID (if flagged; refused) |
//! | 1 | HC: second byte of the XXH32 of the descriptor (FLG to here) |
//! | 4 + n | blocks: size (high bit set: stored uncompressed), data, then XXH32 of the data if flagged |
//! | 4 | end mark `00 00 00 00` |
//! | 4 | XXH32 of the content (if flagged) |
//!
//! Frames follow each other until the input ends; skippable frames (magic
//! `5? 2a 4d 18`, then a 4-byte length) are skipped. Blocks are parsed here,
//! not through a `Read` adapter, and decoded into a per-thread scratch block
//! (zeroed once, at most 4 MiB) that is then appended.

use std::cell::Cell;
use std::io;

use super::CodecError;
use super::shared::{Output, corrupt, le32, with_cached};
use super::xxh32::xxh32;

thread_local! {
    static LZ4_SCRATCH: Cell<Option<Vec<u8>>> = const { Cell::new(None) };
}

const LZ4_MAGIC: u32 = 0x184d_2204;
const LZ4_SKIPPABLE_MAGIC: u32 = 0x184d_2a50;
/// Frame descriptor FLG Loki writes: version 01, independent blocks, no
/// block checksums, no content size, no content checksum, no dictionary.
const LZ4_FLG: u8 = 0x60;
/// The high bit of a block size marks a stored (uncompressed) block.
const LZ4_STORED: u32 = 0x8000_0000;
/// Dependent blocks may refer back this far into the previous output.
const LZ4_WINDOW: usize = 64 * 1024;
/// Largest expansion of an LZ4 block: each extra match-length byte adds 255.
const LZ4_MAX_RATIO: usize = 255;

/// Maximum block size for a BD byte.
fn lz4_block_max(bd: u8) -> Option<usize> {
    match bd {
        0x40 => Some(64 << 10),
        0x50 => Some(256 << 10),
        0x60 => Some(1 << 20),
        0x70 => Some(4 << 20),
        _ => None,
    }
}

pub(super) fn compress(bd: u8, src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    let block_max = lz4_block_max(bd).unwrap_or(64 << 10);
    let hc = (xxh32(&[LZ4_FLG, bd], 0) >> 8) as u8;
    dst.extend_from_slice(&LZ4_MAGIC.to_le_bytes());
    dst.extend_from_slice(&[LZ4_FLG, bd, hc]);
    for block in src.chunks(block_max) {
        let at = dst.len();
        let body = at + 4;
        dst.resize(body + lz4_flex::block::get_maximum_output_size(block.len()), 0);
        let n =
            lz4_flex::block::compress_into(block, dst.get_mut(body..).unwrap_or_default()).map_err(io::Error::other)?;
        let size = if n >= block.len() {
            dst.truncate(body);
            dst.extend_from_slice(block);
            block.len() as u32 | LZ4_STORED
        } else {
            dst.truncate(body + n);
            n as u32
        };
        if let Some(h) = dst.get_mut(at..body) {
            h.copy_from_slice(&size.to_le_bytes());
        }
    }
    dst.extend_from_slice(&[0, 0, 0, 0]); // end mark
    Ok(())
}

pub(super) fn decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    let mut pos = 0;
    // Go's reader reads frame after frame until the input ends (an empty
    // input is an empty stream).
    while pos < src.len() {
        let magic = le32(src, pos).ok_or_else(|| out.corrupt(format!("truncated frame magic at offset {pos}")))?;
        if magic & 0xffff_fff0 == LZ4_SKIPPABLE_MAGIC {
            let len = le32(src, pos + 4).ok_or_else(|| out.corrupt("truncated skippable frame"))?;
            pos = (pos + 8)
                .checked_add(len as usize)
                .filter(|&end| end <= src.len())
                .ok_or_else(|| out.corrupt(format!("truncated skippable frame at offset {pos}")))?;
            continue;
        }
        if magic != LZ4_MAGIC {
            return Err(out.corrupt(format!("bad frame magic {magic:#010x} at offset {pos}")));
        }
        pos = frame(src, pos + 4, out)?;
    }
    Ok(())
}

/// Decodes one LZ4 frame whose descriptor starts at `pos`; returns the
/// offset after the frame.
fn frame(src: &[u8], mut pos: usize, out: &mut Output<'_>) -> Result<usize, CodecError> {
    let frame_start = out.dst.len();
    let desc_at = pos;
    let (Some(&flg), Some(&bd)) = (src.get(pos), src.get(pos + 1)) else {
        return Err(out.corrupt("truncated frame descriptor"));
    };
    if flg >> 6 != 1 || flg & 0x02 != 0 || bd & 0x8f != 0 {
        return Err(out.corrupt(format!("bad frame descriptor {flg:#04x} {bd:#04x} at offset {pos}")));
    }
    let independent = flg & 0x20 != 0;
    let block_checksums = flg & 0x10 != 0;
    let has_content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let has_dict = flg & 0x01 != 0;
    let block_max = lz4_block_max(bd).ok_or_else(|| out.corrupt(format!("bad block size byte {bd:#04x}")))?;
    pos += 2;
    let content_size = if has_content_size {
        let b = src.get(pos..pos + 8).ok_or_else(|| out.corrupt("truncated content size"))?;
        pos += 8;
        Some(u64::from_le_bytes(b.try_into().unwrap_or_default()))
    } else {
        None
    };
    if has_dict {
        pos += 4;
    }
    let descriptor = src.get(desc_at..pos).ok_or_else(|| out.corrupt("truncated frame descriptor"))?;
    let hc = *src.get(pos).ok_or_else(|| out.corrupt("truncated frame descriptor"))?;
    if hc != (xxh32(descriptor, 0) >> 8) as u8 {
        return Err(out.corrupt(format!("frame header checksum mismatch at offset {pos}")));
    }
    pos += 1;
    if has_dict {
        return Err(out.corrupt("frames needing a dictionary are not supported"));
    }
    if let Some(n) = content_size {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        out.check_room(n)?;
        // Reserve it, bounded by what the rest of the input can expand to.
        let rest = src.len().saturating_sub(pos);
        out.dst.reserve(n.min(rest.saturating_mul(LZ4_MAX_RATIO)));
    }

    loop {
        let word = le32(src, pos).ok_or_else(|| out.corrupt(format!("truncated block header at offset {pos}")))?;
        pos += 4;
        if word == 0 {
            break; // end mark
        }
        let len = (word & !LZ4_STORED) as usize;
        if len > block_max {
            return Err(out.corrupt(format!("block of {len} bytes exceeds the frame's maximum at offset {pos}")));
        }
        let data = src.get(pos..pos + len).ok_or_else(|| out.corrupt(format!("truncated block at offset {pos}")))?;
        pos += len;
        if block_checksums {
            let sum = le32(src, pos).ok_or_else(|| out.corrupt("truncated block checksum"))?;
            if sum != xxh32(data, 0) {
                return Err(out.corrupt(format!("block checksum mismatch at offset {pos}")));
            }
            pos += 4;
        }
        if word & LZ4_STORED != 0 {
            out.extend(data)?;
            continue;
        }
        // Decode into this thread's scratch block (zeroed once, reused) and
        // append: cheaper than zeroing a block-sized region of `dst` or
        // pre-scanning the block for its exact length.
        let room = out.room();
        let at = out.dst.len();
        let dict_from = frame_start.max(at.saturating_sub(LZ4_WINDOW));
        // A block cannot expand beyond 255x, so a tiny block in a frame
        // with large blocks does not grow the scratch.
        let max = block_max.min(data.len().saturating_mul(LZ4_MAX_RATIO));
        let res = with_cached(&LZ4_SCRATCH, Vec::new, |scratch| {
            if scratch.len() < max {
                scratch.resize(max, 0);
            }
            let target = scratch.get_mut(..max).unwrap_or_default();
            let got = if independent {
                lz4_flex::block::decompress_into(data, target)
            } else {
                let dict = out.dst.get(dict_from..).unwrap_or_default();
                lz4_flex::block::decompress_into_with_dict(data, target, dict)
            };
            match got {
                Ok(n) if n > room => Err(out.too_large()),
                Ok(n) => {
                    out.dst.extend_from_slice(scratch.get(..n).unwrap_or_default());
                    Ok(())
                }
                Err(e) => Err(corrupt(out.encoding, format!("{e} in block before offset {pos}"))),
            }
        });
        res?;
    }

    let frame = out.dst.get(frame_start..).unwrap_or_default();
    if content_checksum {
        let sum = le32(src, pos).ok_or_else(|| out.corrupt("truncated content checksum"))?;
        if sum != xxh32(frame, 0) {
            return Err(out.corrupt(format!("content checksum mismatch at offset {pos}")));
        }
        pos += 4;
    }
    if content_size.is_some_and(|n| n != frame.len() as u64) {
        return Err(out.corrupt("frame content size mismatch"));
    }
    Ok(pos)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use std::cell::Cell;
    use std::io::Write;

    use super::{LZ4_SCRATCH, LZ4_STORED, lz4_block_max};
    use crate::chunk::codec::Encoding;
    use crate::chunk::codec::shared::le32;
    use crate::chunk::codec::test_data::{LZ4, compress, decompress, random, text};
    use crate::chunk::codec::xxh32::xxh32;

    #[test]
    fn frames_match_loki() {
        let data = text(1, 300_000);
        let noise = random(2, 70_000);
        // LZ4: FLG 60, BD per codec, blocks at most the BD size; incompressible
        // blocks are stored with the high bit.
        for (enc, bd) in LZ4.into_iter().zip([0x40, 0x50, 0x60, 0x70]) {
            for input in [&data, &noise] {
                let f = compress(enc, input);
                assert_eq!(f[..6], [0x04, 0x22, 0x4d, 0x18, 0x60, bd]);
                let block_max = lz4_block_max(bd).unwrap();
                let mut pos = 7;
                let mut blocks = 0;
                loop {
                    let word = le32(&f, pos).unwrap();
                    pos += 4;
                    if word == 0 {
                        break;
                    }
                    let len = (word & !LZ4_STORED) as usize;
                    assert!(len <= block_max);
                    assert_eq!(word & LZ4_STORED != 0, std::ptr::eq(input, &noise), "{enc}");
                    pos += len;
                    blocks += 1;
                }
                assert_eq!(pos, f.len());
                assert_eq!(blocks, input.len().div_ceil(block_max));
            }
        }
    }

    #[test]
    fn lz4_accepts_any_frame_shape() {
        let data = text(7, 300_000);
        use lz4_flex::frame::{BlockMode, BlockSize, FrameEncoder, FrameInfo};
        for mode in [BlockMode::Independent, BlockMode::Linked] {
            for checks in [false, true] {
                let info = FrameInfo::new()
                    .block_size(BlockSize::Max64KB)
                    .block_mode(mode)
                    .block_checksums(checks)
                    .content_checksum(checks)
                    .content_size(checks.then_some(data.len() as u64));
                let mut w = FrameEncoder::with_frame_info(info.clone(), Vec::new());
                w.write_all(&data).unwrap();
                let frame = w.finish().unwrap();
                for enc in LZ4 {
                    // With unrelated bytes already in the buffer: dependent
                    // blocks must not reach into them.
                    let mut out = b"prefix".repeat(20_000);
                    enc.decompress(&frame, &mut out, usize::MAX).unwrap();
                    assert_eq!(&out[120_000..], &data[..], "{mode:?} {checks}");
                }
                if checks {
                    // Corrupt a byte in the middle: a checksum catches it.
                    let mut bad = frame.clone();
                    let mid = bad.len() / 2;
                    bad[mid] ^= 0x10;
                    assert!(decompress(Encoding::Lz4_64k, &bad).is_err());
                    // A wrong content size is caught too.
                    let mut wrong = frame.clone();
                    wrong[6..14].copy_from_slice(&(data.len() as u64 + 1).to_le_bytes());
                    wrong[14] = (xxh32(&wrong[4..14], 0) >> 8) as u8;
                    assert!(decompress(Encoding::Lz4_64k, &wrong).is_err());
                    wrong[14] ^= 1;
                    assert!(decompress(Encoding::Lz4_64k, &wrong).is_err());
                }
            }
        }
        // Concatenated frames with a skippable frame between them.
        let mut s = compress(Encoding::Lz4_256k, b"first ");
        s.extend_from_slice(&0x184d_2a53_u32.to_le_bytes());
        s.extend_from_slice(&3u32.to_le_bytes());
        s.extend_from_slice(b"xyz");
        s.extend(compress(Encoding::Lz4_64k, b"second"));
        assert_eq!(decompress(Encoding::Lz4_4M, &s).unwrap(), b"first second");
        // Frames needing a dictionary are refused.
        let mut d = vec![0x04, 0x22, 0x4d, 0x18, 0x61, 0x40, 1, 2, 3, 4];
        d.push((xxh32(&d[4..], 0) >> 8) as u8);
        d.extend_from_slice(&[0, 0, 0, 0]);
        assert!(decompress(Encoding::Lz4_64k, &d).is_err());
    }

    #[test]
    fn small_blocks_keep_the_lz4_scratch_small() {
        std::thread::spawn(|| {
            let data = text(14, 1000);
            assert_eq!(decompress(Encoding::Lz4_4M, &compress(Encoding::Lz4_4M, &data)).unwrap(), data);
            let scratch = LZ4_SCRATCH.with(Cell::take).unwrap();
            assert!(scratch.len() <= 255 * data.len(), "{}", scratch.len());
        })
        .join()
        .unwrap();
    }
}
