//! The snappy framing format, written as golang/snappy's buffered `Writer`
//! writes it and read as its `Reader` reads it. The one implementation
//! behind the `snappy` chunk encoding (`../shared/spec/chunk-format.md` §6)
//! and the stored-object metadata stream (§9.3, `crate::object`).
//!
//! A stream is a sequence of chunks (integers little-endian):
//!
//! | size | field |
//! |---|---|
//! | 1 | chunk type: `ff` stream identifier, `00` compressed, `01` uncompressed, `fe` padding, `80..=fd` skippable, `02..=7f` reserved (error) |
//! | 3 | chunk length (for data chunks: 4 + payload) |
//! | 4 | data chunks: masked CRC32-C of the *uncompressed* bytes |
//! | n | payload: a raw snappy block (`00`) or the bytes themselves (`01`) |
//!
//! The stream starts with the identifier chunk `ff 06 00 00 "sNaPpY"`, which
//! may repeat. The writer cuts its input into pieces of at most 64 KiB and,
//! like Go, stores a piece uncompressed when snappy saves less than 1/8 of
//! it; an empty input writes nothing at all. Only the block compressor
//! differs from Go's (the `snap` crate), so a piece Go compresses may
//! compress to other bytes here; a piece stored uncompressed is identical.
//!
//! [`Frames`] checks each data chunk's framing and decoded size (at most
//! 64 KiB, and no more than its compressed bytes can expand to) before
//! anything is decoded, so the codec sizes its output in a first pass and
//! then decodes straight into it, and the object wrapper decodes one chunk
//! at a time and stops where the metadata ends.

use std::cell::Cell;
use std::io;

use super::shared::{Output, corrupt, with_cached};
use super::{CodecError, Encoding};
use crate::encoding::{Cursor, DecodeError, DecodeErrorKind};

/// The stream identifier chunk.
const STREAM_ID: [u8; 10] = *b"\xff\x06\x00\x00sNaPpY";
/// Largest uncompressed payload of one data chunk (golang/snappy `maxBlockSize`).
const MAX_CHUNK: usize = 1 << 16;
const KIND_COMPRESSED: u8 = 0x00;
const KIND_UNCOMPRESSED: u8 = 0x01;
const KIND_STREAM_ID: u8 = 0xff;
/// What a chunk header read is called in truncation errors.
const HEADER: &str = "snappy chunk header";

thread_local! {
    static ENCODER: Cell<Option<snap::raw::Encoder>> = const { Cell::new(None) };
}

/// The masked CRC32-C the framing format stores.
fn masked_crc(data: &[u8]) -> u32 {
    crc32c::crc32c(data).rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Snappy's raw format emits at most 64 bytes per 3 input bytes (a 2-byte
/// offset copy), so a claimed length beyond this bound is corrupt.
fn max_expansion(compressed: usize) -> usize {
    compressed.saturating_mul(22).saturating_add(64)
}

/// Appends `src` as one framed stream, chunked as golang/snappy's buffered
/// writer does when given `src` in one write and closed.
pub(super) fn compress(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    // golang/snappy's writer emits nothing at all for an empty stream.
    if src.is_empty() {
        return Ok(());
    }
    dst.extend_from_slice(&STREAM_ID);
    let chunks = src.len().div_ceil(MAX_CHUNK);
    dst.reserve(src.len() + chunks * 8);
    with_cached(&ENCODER, snap::raw::Encoder::new, |enc| {
        for chunk in src.chunks(MAX_CHUNK) {
            let at = dst.len();
            let body = at + 8;
            dst.resize(body + snap::raw::max_compress_len(chunk.len()), 0);
            let n = enc.compress(chunk, dst.get_mut(body..).unwrap_or_default()).map_err(io::Error::other)?;
            // Like Go: store the chunk when compression saves less than 12.5%.
            let kind = if n >= chunk.len() - chunk.len() / 8 {
                dst.truncate(body);
                dst.extend_from_slice(chunk);
                KIND_UNCOMPRESSED
            } else {
                dst.truncate(body + n);
                KIND_COMPRESSED
            };
            // At most 4 + 76 490 bytes: fits the 3-byte length.
            let len = (dst.len() - body + 4) as u32;
            let crc = masked_crc(chunk);
            if let Some(h) = dst.get_mut(at..body) {
                let [l0, l1, l2, _] = len.to_le_bytes();
                let [c0, c1, c2, c3] = crc.to_le_bytes();
                h.copy_from_slice(&[kind, l0, l1, l2, c0, c1, c2, c3]);
            }
        }
        Ok(())
    })
}

/// Decodes a whole framed stream into `out`. Any chunk length the 3-byte
/// field allows is accepted.
pub(super) fn decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    let encoding = out.encoding;
    // Pass 1: check the framing and add up the decoded sizes, so the output
    // is reserved once.
    let mut total = 0usize;
    let mut frames = Frames::new(src, 0, usize::MAX);
    while let Some(chunk) = frames.next_data().map_err(|e| e.into_codec(encoding))? {
        total = total.saturating_add(chunk.len);
    }
    out.check_room(total)?;
    out.dst.reserve(total);

    // Pass 2: decode straight into the caller's buffer.
    let mut frames = Frames::new(src, 0, usize::MAX);
    while let Some(chunk) = frames.next_data().map_err(|e| e.into_codec(encoding))? {
        chunk.decode_into(out.dst).map_err(|e| e.into_codec(encoding))?;
    }
    Ok(())
}

impl Encoding {
    /// A reader of the snappy framing for the rest of the crate (the
    /// stored-object wrapper), which cannot name this private module: see
    /// [`Frames::new`].
    pub(crate) fn snappy_frames(src: &[u8], base: usize, max_chunk_len: usize) -> Frames<'_> {
        Frames::new(src, base, max_chunk_len)
    }
}

/// Why a framed stream could not be read.
#[derive(Debug)]
pub(crate) enum FrameError {
    /// The input ends inside a chunk, or before a chunk the caller needs.
    Truncated(DecodeError),
    /// The chunk whose header is at `offset` breaks a framing rule.
    Invalid {
        /// Offset of the chunk header.
        offset: usize,
        /// What is wrong.
        problem: &'static str,
    },
}

impl From<DecodeError> for FrameError {
    fn from(e: DecodeError) -> Self {
        Self::Truncated(e)
    }
}

impl FrameError {
    /// Converts into the caller's error type (callers outside the codec
    /// cannot name the variants).
    pub(crate) fn map<E>(
        self,
        truncated: impl FnOnce(DecodeError) -> E,
        invalid: impl FnOnce(usize, &'static str) -> E,
    ) -> E {
        match self {
            Self::Truncated(e) => truncated(e),
            Self::Invalid { offset, problem } => invalid(offset, problem),
        }
    }

    fn into_codec(self, encoding: Encoding) -> CodecError {
        self.map(|e| corrupt(encoding, e), |offset, problem| corrupt(encoding, format!("{problem} at offset {offset}")))
    }
}

/// Reads the chunks of a framed stream one by one, checking the framing
/// rules golang/snappy's reader enforces.
pub(crate) struct Frames<'a> {
    cur: Cursor<'a>,
    seen_id: bool,
    max_chunk_len: usize,
}

impl<'a> Frames<'a> {
    /// A reader of the stream in `src`, whose first byte is at offset `base`
    /// of the caller's buffer (error offsets count from there). Chunks
    /// longer than `max_chunk_len` are refused.
    pub(crate) fn new(src: &'a [u8], base: usize, max_chunk_len: usize) -> Self {
        Self { cur: Cursor::with_base(src, base), seen_id: false, max_chunk_len }
    }

    /// Offset just after the last chunk read.
    pub(crate) fn offset(&self) -> usize {
        self.cur.offset()
    }

    /// The next data chunk, skipping stream identifiers, padding and
    /// skippable chunks; `None` where the input ends after a whole chunk.
    pub(crate) fn next_data(&mut self) -> Result<Option<DataChunk<'a>>, FrameError> {
        while !self.cur.is_empty() {
            let offset = self.cur.offset();
            let invalid = |problem| FrameError::Invalid { offset, problem };
            let [kind, l0, l1, l2] = self.cur.read_array::<4>(HEADER)?;
            let len = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
            if !self.seen_id && kind != KIND_STREAM_ID {
                return Err(invalid("stream does not start with the stream identifier"));
            }
            if len > self.max_chunk_len {
                return Err(invalid("chunk longer than golang/snappy's reader accepts"));
            }
            let body = self.cur.read_bytes(len as u64, "snappy chunk body")?;
            match kind {
                KIND_STREAM_ID => {
                    if body != &STREAM_ID[4..] {
                        return Err(invalid("bad stream identifier"));
                    }
                    self.seen_id = true;
                }
                KIND_COMPRESSED | KIND_UNCOMPRESSED => return DataChunk::parse(kind, offset, body).map(Some),
                0x02..=0x7f => return Err(invalid("reserved unskippable chunk type")),
                // Padding (0xfe) and reserved skippable chunks (0x80..=0xfd).
                _ => {}
            }
        }
        Ok(None)
    }

    /// Like [`next_data`](Self::next_data) for a caller that needs another
    /// data chunk: the end of the input is a truncated chunk header.
    pub(crate) fn require_data(&mut self) -> Result<DataChunk<'a>, FrameError> {
        self.next_data()?.ok_or_else(|| {
            let kind = DecodeErrorKind::UnexpectedEof { needed: 4, available: 0 };
            FrameError::Truncated(DecodeError { what: HEADER, offset: self.cur.offset(), kind })
        })
    }
}

/// A data chunk whose framing and decoded size have been checked.
pub(crate) struct DataChunk<'a> {
    /// Offset of the chunk header.
    offset: usize,
    compressed: bool,
    /// The stored masked CRC32-C.
    crc: u32,
    payload: &'a [u8],
    /// Decoded size, at most 64 KiB.
    len: usize,
}

impl<'a> DataChunk<'a> {
    fn parse(kind: u8, offset: usize, body: &'a [u8]) -> Result<Self, FrameError> {
        let invalid = |problem| FrameError::Invalid { offset, problem };
        let Some((crc, payload)) = body.split_first_chunk::<4>() else {
            return Err(invalid("data chunk shorter than its checksum"));
        };
        let compressed = kind == KIND_COMPRESSED;
        let len = if compressed {
            let n = snap::raw::decompress_len(payload).map_err(|_| invalid("bad snappy block length"))?;
            if n > MAX_CHUNK {
                return Err(invalid("compressed chunk decodes to more than 64 KiB"));
            }
            if payload.is_empty() || n > max_expansion(payload.len()) {
                return Err(invalid("compressed chunk claims more than its bytes can hold"));
            }
            n
        } else {
            if payload.len() > MAX_CHUNK {
                return Err(invalid("uncompressed chunk longer than 64 KiB"));
            }
            payload.len()
        };
        Ok(Self { offset, compressed, crc: u32::from_le_bytes(*crc), payload, len })
    }

    /// Appends the decoded bytes to `dst` and checks them against the
    /// chunk's checksum. On error `dst` may hold some of them.
    pub(crate) fn decode_into(&self, dst: &mut Vec<u8>) -> Result<(), FrameError> {
        let invalid = |problem| FrameError::Invalid { offset: self.offset, problem };
        let at = dst.len();
        if self.compressed {
            dst.resize(at + self.len, 0);
            match snap::raw::Decoder::new().decompress(self.payload, dst.get_mut(at..).unwrap_or_default()) {
                Ok(got) if got == self.len => {}
                _ => return Err(invalid("corrupt snappy block")),
            }
        } else {
            dst.extend_from_slice(self.payload);
        }
        if masked_crc(dst.get(at..).unwrap_or_default()) != self.crc {
            return Err(invalid("chunk checksum mismatch"));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use std::io::Write;

    use super::{Frames, MAX_CHUNK, STREAM_ID};
    use crate::chunk::codec::test_data::{compress, decompress, random, text};
    use crate::chunk::codec::{CodecError, Encoding};

    #[test]
    fn stream_matches_loki() {
        let data = text(1, 300_000);
        let noise = random(2, 70_000);
        // Stream identifier, <= 64 KiB chunks, type 0x01 when compression
        // does not pay (Go's rule).
        for (input, compressed) in [(&data, true), (&noise, false)] {
            let s = compress(Encoding::Snappy, input);
            assert_eq!(s[..10], STREAM_ID);
            let mut frames = Frames::new(&s, 0, usize::MAX);
            let mut chunks = Vec::new();
            while let Some(chunk) = frames.next_data().unwrap() {
                chunks.push(chunk);
            }
            assert_eq!(chunks.len(), input.len().div_ceil(MAX_CHUNK));
            assert!(chunks.iter().all(|c| c.compressed == compressed));
        }
    }

    #[test]
    fn snappy_accepts_any_chunk_shape() {
        let data = text(8, 150_000);
        let mut reference = snap::write::FrameEncoder::new(Vec::new());
        reference.write_all(&data).unwrap();
        let reference = reference.into_inner().unwrap();
        assert_eq!(decompress(Encoding::Snappy, &reference).unwrap(), data);
        // Padding, skippable chunks and a repeated stream identifier.
        let ours = compress(Encoding::Snappy, &data);
        let mut s = ours[..10].to_vec();
        s.extend_from_slice(&[0xfe, 3, 0, 0, 0, 0, 0]);
        s.extend_from_slice(&[0x80, 1, 0, 0, 9]);
        s.extend_from_slice(&ours[10..]);
        s.extend_from_slice(&STREAM_ID);
        s.extend_from_slice(&ours[10..]);
        assert_eq!(decompress(Encoding::Snappy, &s).unwrap(), [&data[..], &data[..]].concat());
        // A data chunk before the identifier, a reserved unskippable chunk.
        assert!(decompress(Encoding::Snappy, &ours[10..]).is_err());
        let mut r = ours.clone();
        r.extend_from_slice(&[0x02, 0, 0, 0]);
        assert!(decompress(Encoding::Snappy, &r).is_err());
        // A compressed chunk claiming far more than its bytes can hold.
        let mut claim = STREAM_ID.to_vec();
        claim.extend_from_slice(&[0x00, 7, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x04]);
        assert!(matches!(decompress(Encoding::Snappy, &claim), Err(CodecError::Corrupt { .. })));
    }
}
