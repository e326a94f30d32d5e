//! Zstandard (RFC 8878) through libzstd (`zstd-safe`), written with a content
//! size and checksum and read as klauspost/compress reads it
//! (`../shared/spec/chunk-format.md` §6).
//!
//! A frame (integers little-endian):
//!
//! | size | field |
//! |---|---|
//! | 4 | magic `28 b5 2f fd` |
//! | 1 | frame header descriptor: content-size flag (2 bits), single segment `20`, checksum `04`, dictionary ID flag (2 bits) |
//! | 0-1 | window descriptor (absent for single-segment frames) |
//! | 0-4 | dictionary ID |
//! | 0-8 | content size |
//! | 3 + n | blocks: 3-byte header (last flag, type, size), then the block |
//! | 4 | low 32 bits of the XXH64 of the content (if flagged) |
//!
//! Frames, and skippable frames (magic `5? 2a 4d 18`, then a 4-byte length),
//! follow each other until the input ends. Compressor and decompressor
//! contexts are cached per thread.

use std::cell::Cell;
use std::io;

use ::zstd::zstd_safe;

use super::CodecError;
use super::shared::{Output, corrupt, with_cached};

thread_local! {
    static ZSTD_C: Cell<Option<zstd_safe::CCtx<'static>>> = const { Cell::new(None) };
    static ZSTD_D: Cell<Option<zstd_safe::DCtx<'static>>> = const { Cell::new(None) };
}

/// libzstd's default level, which is what klauspost's default maps to.
const ZSTD_LEVEL: i32 = 3;
/// Largest expansion of a zstd frame: a 4-byte RLE block yields 128 KiB.
const ZSTD_MAX_RATIO: usize = 32 * 1024;

fn zstd_err(code: usize) -> String {
    zstd_safe::get_error_name(code).to_owned()
}

pub(super) fn compress(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    let make = || {
        let mut c = zstd_safe::CCtx::create();
        // Parameters survive session resets; failures here are impossible
        // for these in-range values and surface on compression anyway.
        let _ = c.set_parameter(zstd_safe::CParameter::CompressionLevel(ZSTD_LEVEL));
        let _ = c.set_parameter(zstd_safe::CParameter::ChecksumFlag(true));
        c
    };
    with_cached(&ZSTD_C, make, |c| {
        c.reset(zstd_safe::ResetDirective::SessionOnly).map_err(|e| io::Error::other(zstd_err(e)))?;
        dst.reserve(zstd_safe::compress_bound(src.len()));
        let mut input = zstd_safe::InBuffer::around(src);
        loop {
            let at = dst.len();
            // Ending on the first call makes libzstd record the content size.
            // (`dst`'s length follows the output position.)
            let remaining = c
                .compress_stream2(&mut zstd_safe::OutBuffer::around_pos(dst, at), &mut input, zstd_sys_end())
                .map_err(|e| io::Error::other(zstd_err(e)))?;
            if remaining == 0 {
                return Ok(());
            }
            dst.reserve(remaining.max(4096));
        }
    })
}

fn zstd_sys_end() -> zstd_safe::zstd_sys::ZSTD_EndDirective {
    zstd_safe::zstd_sys::ZSTD_EndDirective::ZSTD_e_end
}

pub(super) fn decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    // Window memory for frames without a content size (frames with one are
    // decoded in a single pass, without a window buffer): at least Go's
    // default 8 MiB window, at most libzstd's default cap of 128 MiB, and
    // otherwise no more than the output can be, given the limit and the
    // input size.
    let most = out.room().min(src.len().saturating_mul(ZSTD_MAX_RATIO));
    let window_log = (usize::BITS - most.saturating_sub(1).leading_zeros()).clamp(23, 27);
    let make = zstd_safe::DCtx::create;
    with_cached(&ZSTD_D, make, |d| {
        d.reset(zstd_safe::ResetDirective::SessionOnly).map_err(|e| out.corrupt(zstd_err(e)))?;
        d.set_parameter(zstd_safe::DParameter::WindowLogMax(window_log)).map_err(|e| out.corrupt(zstd_err(e)))?;
        let mut pos = 0;
        let mut in_frame = false;
        while pos < src.len() || in_frame {
            let rest = src.get(pos..).unwrap_or_default();
            if !in_frame {
                // A declared content size is checked against the limit and
                // reserved exactly (bounded by what the input can expand
                // to), which also lets libzstd decode in a single pass.
                if let Ok(Some(n)) = zstd_safe::get_frame_content_size(rest) {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    out.check_room(n)?;
                    out.dst.reserve(n.min(rest.len().saturating_mul(ZSTD_MAX_RATIO)));
                }
            }
            let before = out.dst.len();
            let mut input = zstd_safe::InBuffer::around(rest);
            // `out.dst`'s length follows the output position.
            let hint = d
                .decompress_stream(&mut zstd_safe::OutBuffer::around_pos(&mut *out.dst, before), &mut input)
                .map_err(|e| corrupt(out.encoding, format!("{} at offset {pos}", zstd_err(e))))?;
            let used = input.pos();
            pos += used;
            in_frame = hint != 0;
            out.check_limit()?;
            if used == 0 && out.dst.len() == before {
                // No progress: either the input ran out or the output is full.
                if out.dst.len() < out.dst.capacity() {
                    return Err(out.corrupt("truncated zstd frame"));
                }
                out.grow(64 * 1024)?;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use std::io::Write;

    use ::zstd::zstd_safe;

    use crate::chunk::codec::Encoding;
    use crate::chunk::codec::test_data::{compress, decompress, random, text};

    #[test]
    fn frame_matches_loki() {
        let data = text(1, 300_000);
        // zstd: content checksum flag and content size.
        let z = compress(Encoding::Zstd, &data);
        assert_eq!(z[..4], [0x28, 0xb5, 0x2f, 0xfd]);
        assert_ne!(z[4] & 0x04, 0, "content checksum flag");
        assert_eq!(zstd_safe::get_frame_content_size(&z).unwrap(), Some(data.len() as u64));
    }

    #[test]
    fn zstd_accepts_several_frames() {
        let a = text(9, 70_000);
        let b = random(10, 1000);
        let mut s = compress(Encoding::Zstd, &a);
        // A skippable frame, then a streamed frame without content size.
        s.extend_from_slice(&0x184d_2a5f_u32.to_le_bytes());
        s.extend_from_slice(&2u32.to_le_bytes());
        s.extend_from_slice(b"..");
        let mut w = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
        w.write_all(&b).unwrap();
        let streamed = w.finish().unwrap();
        assert_eq!(zstd_safe::get_frame_content_size(&streamed).unwrap(), None);
        s.extend_from_slice(&streamed);
        assert_eq!(decompress(Encoding::Zstd, &s).unwrap(), [&a[..], &b[..]].concat());
        // Trailing garbage is not a frame.
        s.extend_from_slice(b"junk");
        assert!(decompress(Encoding::Zstd, &s).is_err());
    }
}
