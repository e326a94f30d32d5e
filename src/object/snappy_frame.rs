//! The snappy framed stream around the metadata JSON (spec §9.3), written
//! and read as golang/snappy's `Writer` / `Reader` do.
//!
//! The format (chunk layout, Go's writer rules: 64 KiB pieces, a piece
//! stored uncompressed when snappy saves less than 1/8 of it) has one
//! implementation, the chunk codec's (`crate::chunk` `snappy` encoding,
//! `chunk/codec/snappy.rs`, which has the byte-layout table). This module
//! adds only what the wrapper needs on top of it:
//!
//! - reading stops after the chunk that completes the JSON and reports the
//!   offset reached, as Loki's reader does (the wrapper checks `metaLen`
//!   against it); the codec decodes a whole stream instead;
//! - a chunk longer than golang/snappy's reader buffer is refused, as Loki
//!   refuses it; the codec's reader accepts any length;
//! - errors are [`ObjectError`]s at object offsets.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use super::error::ObjectError;
use crate::chunk::Encoding;

/// Largest uncompressed piece per data chunk (golang/snappy `maxBlockSize`).
const MAX_BLOCK: usize = 65_536;
/// Largest chunk length golang/snappy's reader accepts: its buffer of
/// `obufHeaderLen + MaxEncodedLen(maxBlockSize)` = 18 + 76 490 bytes.
const MAX_CHUNK_LEN: usize = 18 + 32 + MAX_BLOCK + MAX_BLOCK / 6;

/// Appends `data` as one snappy framed stream, byte for byte as
/// golang/snappy's buffered writer writes it when given `data` in one write
/// and closed (for pieces it stores uncompressed). Empty input writes
/// nothing, as in Go.
///
/// Errors: [`ObjectError::TooLarge`] if the snappy encoder refuses a piece,
/// which it does only for inputs beyond its 4 GiB limit (never for 64 KiB
/// pieces).
pub(super) fn write_framed(out: &mut Vec<u8>, data: &[u8]) -> Result<(), ObjectError> {
    Encoding::Snappy.compress(data, out).map_err(|_| ObjectError::TooLarge { what: "metadata", len: data.len() })
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
    let mut frames = Encoding::snappy_frames(region, start, MAX_CHUNK_LEN);
    let mut decoded = Vec::new();
    loop {
        decoded.clear();
        frames.require_data().and_then(|chunk| chunk.decode_into(&mut decoded)).map_err(|e| {
            e.map(ObjectError::Decode, |offset, problem| ObjectError::SnappyFraming { offset, problem })
        })?;
        if sink(&decoded)? {
            return Ok(frames.offset());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use super::*;
    use std::io::Read;

    const STREAM_IDENTIFIER: &[u8] = b"\xff\x06\x00\x00sNaPpY";

    fn framed(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_framed(&mut out, data).unwrap();
        out
    }

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
        let out = framed(json);
        assert_eq!(&out[..10], STREAM_IDENTIFIER);
        assert_eq!(out[10], 0x01);
        assert_eq!(&out[11..14], &[12, 0, 0]);
        assert_eq!(&out[18..], json);
        assert_eq!(read_all(&out).unwrap(), (json.to_vec(), out.len()));
    }

    #[test]
    fn worked_example_crc() {
        // Spec §10: the masked CRC of the example JSON is 61 81 e9 3c (LE).
        let json = b"{\"fingerprint\":18100464131193420663,\"userID\":\"fake\",\"from\":1700000000,\"through\":1700000001,\"metric\":{\"__name__\":\"logs\",\"app\":\"demo\"},\"ingestedAt\":0,\"encoding\":129}\n";
        assert_eq!(framed(json)[14..18], [0x61, 0x81, 0xe9, 0x3c]);
    }

    #[test]
    fn large_repetitive_input_is_compressed_in_64k_pieces() {
        let mut data = b"{\"x\":\"".to_vec();
        data.extend(std::iter::repeat_n(b'a', 150_000));
        data.extend_from_slice(b"\"}\n");
        let out = framed(&data);
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
        let ok = framed(b"{}\n");
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
