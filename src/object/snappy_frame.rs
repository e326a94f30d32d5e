//! The snappy framing format around the metadata JSON, written and read as
//! golang/snappy's `Writer` / `Reader` do (spec §9.3).
//!
//! | size | field                                                              |
//! |------|--------------------------------------------------------------------|
//! | 1    | chunk type: `ff` stream identifier, `00` compressed, `01` uncompressed, `fe` padding, `80..=fd` skippable, `02..=7f` reserved (error) |
//! | 3    | chunk length, little-endian (for data chunks: 4 + payload)         |
//! | 4    | data chunks: masked CRC32-C of the *uncompressed* bytes, LE         |
//! | n    | payload (raw snappy block for `00`, the bytes themselves for `01`)  |
//!
//! A stream starts with the stream identifier `ff 06 00 00 "sNaPpY"`. The
//! writer cuts its input into pieces of at most 64 KiB and stores a piece
//! uncompressed when snappy saves less than 1/8 of it. Only the block
//! compressor differs from Go's (the `snap` crate), so a piece that Go would
//! compress may compress to other bytes here; a piece stored uncompressed,
//! as all metadata Loki writes in practice, is identical.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::error::ObjectError;
use crate::encoding::Cursor;

/// The stream identifier chunk.
const STREAM_IDENTIFIER: [u8; 10] = *b"\xff\x06\x00\x00sNaPpY";
/// Largest uncompressed piece per data chunk (golang/snappy `maxBlockSize`).
const MAX_BLOCK: usize = 65_536;
/// Largest chunk length golang/snappy's reader accepts: its buffer of
/// `obufHeaderLen + MaxEncodedLen(maxBlockSize)` = 18 + 76 490 bytes.
const MAX_CHUNK_LEN: usize = 18 + 32 + MAX_BLOCK + MAX_BLOCK / 6;

const TYPE_COMPRESSED: u8 = 0x00;
const TYPE_UNCOMPRESSED: u8 = 0x01;
const TYPE_STREAM_IDENTIFIER: u8 = 0xff;

/// The masked CRC32-C the framing format stores.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

/// Appends `data` as one snappy framed stream, chunked as golang/snappy's
/// buffered writer does when given `data` in one write and closed. Empty
/// input writes nothing, as in Go.
pub(super) fn write_framed(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(&STREAM_IDENTIFIER);
    let mut encoder = snap::raw::Encoder::new();
    for piece in data.chunks(MAX_BLOCK) {
        let crc = masked_crc(piece);
        let compressed = encoder.compress_vec(piece).ok().filter(|c| c.len() < piece.len() - piece.len() / 8);
        let (kind, payload) = match &compressed {
            Some(c) => (TYPE_COMPRESSED, c.as_slice()),
            None => (TYPE_UNCOMPRESSED, piece),
        };
        // At most 4 + 76 490 bytes: fits the 3-byte length.
        let len = (4 + payload.len()) as u32;
        out.push(kind);
        out.extend_from_slice(&len.to_le_bytes()[..3]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(payload);
    }
}

/// Reads a snappy framed stream from `buf[start..end]` chunk by chunk,
/// handing each chunk's decoded bytes to `sink` until it returns `true`,
/// and returns the offset just after that chunk. Like golang/snappy's
/// reader, nothing after that chunk is looked at.
///
/// Errors: a truncated chunk ([`ObjectError::Decode`]), any framing rule
/// golang/snappy's reader enforces ([`ObjectError::SnappyFraming`]), or an
/// error from `sink`.
pub(super) fn read_framed_until(
    buf: &[u8],
    start: usize,
    end: usize,
    mut sink: impl FnMut(&[u8]) -> Result<bool, ObjectError>,
) -> Result<usize, ObjectError> {
    let region = buf.get(..end).unwrap_or(buf);
    let region = region.get(start..).unwrap_or(&[]);
    let mut cur = Cursor::with_base(region, start);
    let mut decoder = snap::raw::Decoder::new();
    let mut decoded = Vec::new();
    let mut seen_identifier = false;
    loop {
        let offset = cur.offset();
        let bad = |problem| ObjectError::SnappyFraming { offset, problem };
        let header = cur.read_array::<4>("snappy chunk header")?;
        let [kind, l0, l1, l2] = header;
        let len = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
        if !seen_identifier && kind != TYPE_STREAM_IDENTIFIER {
            return Err(bad("stream does not start with the stream identifier"));
        }
        if len > MAX_CHUNK_LEN {
            return Err(bad("chunk longer than golang/snappy's reader accepts"));
        }
        let body = cur.read_bytes(len as u64, "snappy chunk body")?;
        match kind {
            TYPE_STREAM_IDENTIFIER => {
                if body != &STREAM_IDENTIFIER[4..] {
                    return Err(bad("bad stream identifier"));
                }
                seen_identifier = true;
                continue;
            }
            TYPE_COMPRESSED | TYPE_UNCOMPRESSED => {
                let Some((crc, payload)) = body.split_first_chunk::<4>() else {
                    return Err(bad("data chunk shorter than its checksum"));
                };
                let data: &[u8] = if kind == TYPE_COMPRESSED {
                    let n = snap::raw::decompress_len(payload).map_err(|_| bad("bad snappy block length"))?;
                    if n > MAX_BLOCK {
                        return Err(bad("compressed chunk decodes to more than 64 KiB"));
                    }
                    decoded.clear();
                    decoded.resize(n, 0);
                    match decoder.decompress(payload, &mut decoded) {
                        Ok(got) if got == n => {}
                        _ => return Err(bad("corrupt snappy block")),
                    }
                    &decoded
                } else {
                    if payload.len() > MAX_BLOCK {
                        return Err(bad("uncompressed chunk longer than 64 KiB"));
                    }
                    payload
                };
                if masked_crc(data) != u32::from_le_bytes(*crc) {
                    return Err(bad("chunk checksum mismatch"));
                }
                if sink(data)? {
                    return Ok(cur.offset());
                }
            }
            0x02..=0x7f => return Err(bad("reserved unskippable chunk type")),
            // Padding (0xfe) and reserved skippable chunks (0x80..=0xfd).
            _ => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use super::*;
    use std::io::Read;

    /// Reads until the decoded text ends with the final newline.
    fn read_all(framed: &[u8]) -> Result<(Vec<u8>, usize), ObjectError> {
        let mut all = Vec::new();
        let end = read_framed_until(framed, 0, framed.len(), |d| {
            all.extend_from_slice(d);
            Ok(all.ends_with(b"}\n"))
        })?;
        Ok((all, end))
    }

    #[test]
    fn small_input_is_stored_uncompressed() {
        let json = b"{\"a\":1}\n";
        let mut out = Vec::new();
        write_framed(&mut out, json);
        assert_eq!(&out[..10], &STREAM_IDENTIFIER);
        assert_eq!(out[10], TYPE_UNCOMPRESSED);
        assert_eq!(&out[11..14], &[12, 0, 0]);
        assert_eq!(&out[18..], json);
        assert_eq!(read_all(&out).unwrap(), (json.to_vec(), out.len()));
    }

    #[test]
    fn worked_example_crc() {
        // Spec §10: the masked CRC of the example JSON is 61 81 e9 3c (LE).
        let json = b"{\"fingerprint\":18100464131193420663,\"userID\":\"fake\",\"from\":1700000000,\"through\":1700000001,\"metric\":{\"__name__\":\"logs\",\"app\":\"demo\"},\"ingestedAt\":0,\"encoding\":129}\n";
        assert_eq!(masked_crc(json).to_le_bytes(), [0x61, 0x81, 0xe9, 0x3c]);
    }

    #[test]
    fn large_repetitive_input_is_compressed_in_64k_pieces() {
        let mut data = b"{\"x\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'a', 150_000));
        data.extend_from_slice(b"\"}\n");
        let mut out = Vec::new();
        write_framed(&mut out, &data);
        assert!(out.len() < data.len() / 4);
        // The snap crate's reader agrees.
        let mut check = Vec::new();
        snap::read::FrameDecoder::new(&out[..]).read_to_end(&mut check).unwrap();
        assert_eq!(check, data);
        assert_eq!(read_all(&out).unwrap(), (data, out.len()));
    }

    #[test]
    fn reads_other_writers_and_skips_padding() {
        let data: Vec<u8> = (0..200_000u32).map(|i| b'a' + (i % 26) as u8).chain(*b"}\n").collect();
        let mut framed = Vec::new();
        {
            use std::io::Write;
            let mut w = snap::write::FrameEncoder::new(&mut framed);
            w.write_all(&data).unwrap();
        }
        // Insert a padding chunk and a skippable chunk after the identifier.
        let mut padded = framed[..10].to_vec();
        padded.extend_from_slice(&[0xfe, 2, 0, 0, 0, 0, 0x90, 0, 0, 0]);
        padded.extend_from_slice(&framed[10..]);
        assert_eq!(read_all(&padded).unwrap().0, data);
    }

    #[test]
    fn framing_errors() {
        let mut ok = Vec::new();
        write_framed(&mut ok, b"{}\n");
        let err = |bytes: &[u8]| read_all(bytes).unwrap_err();
        // Missing identifier.
        assert!(matches!(err(&ok[10..]), ObjectError::SnappyFraming { offset: 0, .. }));
        // Bad identifier.
        let mut b = ok.clone();
        b[9] = b'z';
        assert!(matches!(err(&b), ObjectError::SnappyFraming { .. }));
        // Checksum.
        let mut b = ok.clone();
        b[14] ^= 1;
        assert!(matches!(err(&b), ObjectError::SnappyFraming { offset: 10, .. }));
        // Reserved unskippable type.
        let mut b = ok.clone();
        b[10] = 0x02;
        assert!(matches!(err(&b), ObjectError::SnappyFraming { .. }));
        // Truncation.
        for n in 0..ok.len() {
            assert!(read_all(&ok[..n]).is_err(), "{n}");
        }
        // Over-long chunk length.
        let mut b = ok[..10].to_vec();
        b.extend_from_slice(&[0x01, 0xff, 0xff, 0xff]);
        assert!(matches!(err(&b), ObjectError::SnappyFraming { .. }));
    }
}
