//! gzip (RFC 1952) and raw DEFLATE (RFC 1951) on zlib-rs, written as Go's
//! `compress/gzip` and `compress/flate` write them and read as they read them
//! (`../shared/spec/chunk-format.md` §6).
//!
//! A gzip member (integers little-endian):
//!
//! | size | field |
//! |---|---|
//! | 3 | `1f 8b 08`: magic, method deflate |
//! | 1 | FLG: `02` FHCRC, `04` FEXTRA, `08` FNAME, `10` FCOMMENT; `e0` reserved (error) |
//! | 4 | MTIME (Go writes `00 09 6e 88`: its zero time truncated to 32 bits) |
//! | 1 | XFL (`00`) |
//! | 1 | OS (`ff`, unknown) |
//! | 2 + n | FEXTRA: its length, then that many bytes (if flagged) |
//! | n + 1 | FNAME, then FCOMMENT: NUL-terminated (if flagged) |
//! | 2 | FHCRC: low 16 bits of the CRC32 of the header so far (if flagged) |
//! | n | one raw DEFLATE stream |
//! | 4 | CRC32 of the member's uncompressed bytes |
//! | 4 | ISIZE: their length mod 2^32 |
//!
//! Members follow each other until the input ends (Go's multistream
//! reader). The `flate` codec is a bare DEFLATE stream; bytes after its
//! final block are ignored, as Go's reader ignores them.

use std::cell::Cell;
use std::io;

use super::CodecError;
use super::shared::{Output, le32, with_cached};

thread_local! {
    static DEFLATE: Cell<Option<flate2::Compress>> = const { Cell::new(None) };
    static INFLATE: Cell<Option<flate2::Decompress>> = const { Cell::new(None) };
}

/// Go's `compress/gzip` header: no flags, MTIME = Go's zero time truncated
/// to 32 bits, XFL 0, OS 255 (unknown).
pub(super) const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff];

/// Largest expansion of DEFLATE: a 258-byte match costs at least 2 bits.
const DEFLATE_MAX_RATIO: usize = 1032;

pub(super) fn gzip_compress(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    dst.extend_from_slice(&GZIP_HEADER);
    deflate_raw(src, dst)?;
    let mut crc = flate2::Crc::new();
    crc.update(src);
    dst.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE is the input size modulo 2^32 (RFC 1952).
    dst.extend_from_slice(&(src.len() as u32).to_le_bytes());
    Ok(())
}

/// Raw DEFLATE at the default level (6), appended to `dst`.
pub(super) fn deflate_raw(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    with_cached(
        &DEFLATE,
        || flate2::Compress::new(flate2::Compression::default(), false),
        |c| {
            c.reset();
            // zlib's deflateBound for raw streams, plus slack.
            dst.reserve(src.len() + (src.len() >> 12) + (src.len() >> 14) + 64);
            loop {
                let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
                let rest = src.get(consumed..).unwrap_or_default();
                let before = dst.len();
                let status = c.compress_vec(rest, dst, flate2::FlushCompress::Finish).map_err(io::Error::other)?;
                if status == flate2::Status::StreamEnd {
                    return Ok(());
                }
                if dst.len() == dst.capacity() {
                    dst.reserve(dst.len().max(4096));
                } else if dst.len() == before && c.total_in() as usize == consumed {
                    return Err(io::Error::other("deflate made no progress"));
                }
            }
        },
    )
}

pub(super) fn gzip_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    if src.is_empty() {
        return Err(out.corrupt("empty gzip stream"));
    }
    // Go's reader is multistream: members follow each other until the input
    // ends; anything else after a member is a header error.
    let mut pos = 0;
    while pos < src.len() {
        let rest = src.get(pos..).unwrap_or_default();
        let header_len = gzip_header_len(rest).map_err(|msg| out.corrupt(format!("{msg} at offset {pos}")))?;
        pos += header_len;
        let member_start = out.dst.len();
        let body = src.get(pos..).unwrap_or_default();
        // A single member's trailer holds its size (mod 2^32): an exact
        // reservation for the common case, bounded by what the input can
        // expand to and by the limit.
        let hint = if pos == header_len { le32(src, src.len().saturating_sub(4)).map_or(0, |n| n as usize) } else { 0 };
        let hint = hint.min(body.len().saturating_mul(DEFLATE_MAX_RATIO));
        pos += inflate_raw(body, out, hint)?;
        let crc = le32(src, pos).ok_or_else(|| out.corrupt("truncated gzip trailer"))?;
        let isize = le32(src, pos + 4).ok_or_else(|| out.corrupt("truncated gzip trailer"))?;
        pos += 8;
        let member = out.dst.get(member_start..).unwrap_or_default();
        let mut actual = flate2::Crc::new();
        actual.update(member);
        if actual.sum() != crc {
            return Err(out.corrupt(format!("gzip CRC32 mismatch before offset {pos}")));
        }
        if member.len() as u32 != isize {
            return Err(out.corrupt(format!("gzip ISIZE mismatch before offset {pos}")));
        }
    }
    Ok(())
}

/// Length of the gzip member header at the start of `buf`, checking
/// magic, method, reserved flags and the optional header CRC.
fn gzip_header_len(buf: &[u8]) -> Result<usize, &'static str> {
    const FHCRC: u8 = 0x02;
    const FEXTRA: u8 = 0x04;
    const FNAME: u8 = 0x08;
    const FCOMMENT: u8 = 0x10;
    let fixed = buf.get(..10).ok_or("truncated gzip header")?;
    if fixed.get(..3) != Some(&[0x1f, 0x8b, 0x08]) {
        return Err("bad gzip magic or method");
    }
    let flags = fixed.get(3).copied().unwrap_or(0);
    if flags & 0xe0 != 0 {
        return Err("reserved gzip header flags set");
    }
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = buf.get(pos..pos + 2).ok_or("truncated gzip FEXTRA")?;
        let xlen = u16::from_le_bytes([xlen.first().copied().unwrap_or(0), xlen.get(1).copied().unwrap_or(0)]);
        pos += 2 + usize::from(xlen);
        if pos > buf.len() {
            return Err("truncated gzip FEXTRA");
        }
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = buf.get(pos..).unwrap_or_default();
            let nul = rest.iter().position(|&b| b == 0).ok_or("unterminated gzip FNAME/FCOMMENT")?;
            pos += nul + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = buf.get(pos..pos + 2).ok_or("truncated gzip FHCRC")?;
        let mut crc = flate2::Crc::new();
        crc.update(buf.get(..pos).unwrap_or_default());
        if (crc.sum() as u16).to_le_bytes() != stored {
            return Err("gzip header CRC mismatch");
        }
        pos += 2;
    }
    Ok(pos)
}

/// Inflates one raw DEFLATE stream from the start of `src` into `out`,
/// returning the number of input bytes it used (bytes after the final
/// block are left alone, as Go's flate reader does). `hint` is an expected
/// output size, already bounded by the caller.
fn inflate_raw(src: &[u8], out: &mut Output<'_>, hint: usize) -> Result<usize, CodecError> {
    with_cached(
        &INFLATE,
        || flate2::Decompress::new(false),
        |d| {
            d.reset(false);
            out.dst.reserve(hint.min(out.room().saturating_add(1)));
            if hint == 0 {
                // Typical DEFLATE ratios on logs are 4-6x.
                out.dst.reserve(src.len().saturating_mul(4).min(out.room().saturating_add(1)));
            }
            loop {
                let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
                let rest = src.get(consumed..).unwrap_or_default();
                let before = out.dst.len();
                let status =
                    d.decompress_vec(rest, out.dst, flate2::FlushDecompress::None).map_err(|e| out.corrupt(e))?;
                out.check_limit()?;
                let used = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
                if status == flate2::Status::StreamEnd {
                    return Ok(used);
                }
                if used == consumed && out.dst.len() == before {
                    // No progress: either the input ran out or the output is full.
                    if out.dst.len() < out.dst.capacity() {
                        return Err(out.corrupt("truncated deflate stream"));
                    }
                    out.grow(32 * 1024)?;
                }
            }
        },
    )
}

/// A bare DEFLATE stream (the `flate` codec); unlike Go's reader of an
/// empty input, zero bytes are not a stream.
pub(super) fn flate_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    if src.is_empty() {
        return Err(out.corrupt("empty deflate stream"));
    }
    inflate_raw(src, out, 0).map(|_| ())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use std::io::Write;

    use super::GZIP_HEADER;
    use crate::chunk::codec::Encoding;
    use crate::chunk::codec::test_data::{compress, decompress, random, text};

    #[test]
    fn container_matches_loki() {
        let data = text(1, 300_000);
        // gzip: Go's header.
        assert_eq!(compress(Encoding::Gzip, &data)[..10], GZIP_HEADER);
        // flate: raw DEFLATE, the first block header is not a zlib header.
        let flate = compress(Encoding::Flate, &data);
        assert_ne!(u16::from_be_bytes([flate[0], flate[1]]) % 31, 0);
    }

    #[test]
    fn gzip_accepts_any_member_shape() {
        let a = text(4, 5000);
        let b = random(5, 3000);
        // Multi-member, as Go's multistream reader reads it.
        let mut two = compress(Encoding::Gzip, &a);
        two.extend(compress(Encoding::Gzip, &b));
        assert_eq!(decompress(Encoding::Gzip, &two).unwrap(), [&a[..], &b[..]].concat());
        // flate2's own header plus FEXTRA/FNAME/FCOMMENT.
        let mut w = flate2::GzBuilder::new()
            .filename("x.log")
            .comment("hello")
            .extra(vec![1, 2, 3, 4])
            .write(Vec::new(), flate2::Compression::fast());
        w.write_all(&a).unwrap();
        let named = w.finish().unwrap();
        assert_eq!(decompress(Encoding::Gzip, &named).unwrap(), a);
        // FHCRC, hand-made.
        let plain = compress(Encoding::Gzip, &a);
        let mut header = plain[..10].to_vec();
        header[3] = 0x02;
        let mut crc = flate2::Crc::new();
        crc.update(&header);
        let mut hcrc = header.clone();
        hcrc.extend_from_slice(&(crc.sum() as u16).to_le_bytes());
        hcrc.extend_from_slice(&plain[10..]);
        assert_eq!(decompress(Encoding::Gzip, &hcrc).unwrap(), a);
        hcrc[10] ^= 1;
        assert!(decompress(Encoding::Gzip, &hcrc).is_err());
        // Trailing garbage after a member is a header error, as in Go.
        let mut trailing = compress(Encoding::Gzip, &a);
        trailing.extend_from_slice(b"\0\0");
        assert!(decompress(Encoding::Gzip, &trailing).is_err());
        // Reserved flag bits.
        let mut reserved = compress(Encoding::Gzip, &a);
        reserved[3] = 0x20;
        assert!(decompress(Encoding::Gzip, &reserved).is_err());
    }

    #[test]
    fn flate_ignores_bytes_after_the_final_block() {
        // Go's flate reader stops at the final block.
        let a = text(6, 4000);
        let mut s = compress(Encoding::Flate, &a);
        s.extend_from_slice(b"junk");
        assert_eq!(decompress(Encoding::Flate, &s).unwrap(), a);
    }
}
