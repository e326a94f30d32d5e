//! Chunk compression codecs: the encoding byte of a chunk header and the
//! container each one writes (`../shared/spec/chunk-format.md` §3, §6).
//!
//! | byte | name | container written |
//! |---|---|---|
//! | 0 | `none` | raw bytes |
//! | 1 | `gzip` | one RFC 1952 member, header `1f 8b 08 00 00 09 6e 88 00 ff` (Go's) |
//! | 3 | `lz4-64k` | LZ4 frame, FLG `60` (v1, independent blocks, no checksums), BD `40` |
//! | 4 | `snappy` | Snappy framed stream (`ff 06 00 00 sNaPpY`, 64 KiB chunks, masked CRC32C) |
//! | 5 | `lz4-256k` | LZ4 frame, BD `50` |
//! | 6 | `lz4-1M` | LZ4 frame, BD `60` |
//! | 7 | `lz4` | LZ4 frame, BD `70` (4 MiB blocks) |
//! | 8 | `flate` | raw DEFLATE (RFC 1951) |
//! | 9 | `zstd` | one Zstandard frame with content size and content checksum |
//!
//! Byte 2 ("dumb") is not supported. Each block and the structured-metadata
//! payload of a chunk is one complete, separate stream; an empty input still
//! yields the codec's complete empty stream (§6):
//!
//! | codec | empty stream |
//! |---|---|
//! | none, snappy | (nothing) |
//! | gzip | `1f 8b 08 00 00 09 6e 88 00 ff 03 00 00 00 00 00 00 00 00 00` |
//! | lz4-* | `04 22 4d 18 60 BD HC 00 00 00 00` (`40 82`, `50 fb`, `60 51`, `70 73`) |
//! | flate | `03 00` |
//! | zstd | `28 b5 2f fd 24 00 01 00 00 99 e9 d8 51` (Go writes `… 04 68 01 00 00 …`; both valid) |
//!
//! Readers accept every valid stream of the format, as Loki's Go readers do:
//! multi-member gzip with any header fields; LZ4 frames with block/content
//! checksums, dependent blocks, content size, concatenated and skippable
//! frames; snappy padding and skippable chunks; several (and skippable) zstd
//! frames. Empty input is an empty stream for none, snappy, LZ4 and zstd (Go
//! reads it as such) and corrupt for gzip and flate.
//!
//! Untrusted input never makes a decoder panic or allocate more than a
//! bounded multiple of what it has already checked: output grows only by
//! lengths verified against the caller's `limit` and against the codec's
//! maximum expansion ratio for the input actually present.
//!
//! Hot-path notes: snappy and LZ4 framing are parsed here and their blocks
//! decoded straight into the caller's buffer; compressor and decompressor
//! contexts (zlib-rs deflate/inflate, zstd, snappy's hash table) are cached
//! per thread, so small streams such as symbol payloads cost no set-up.

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

use std::cell::Cell;
use std::fmt;
use std::io;
use std::str::FromStr;
use std::thread::LocalKey;

use zstd::zstd_safe;

/// Upper bound on the decompressed size of one block or symbol payload; a
/// stream that inflates beyond it is rejected instead of exhausting memory.
pub const MAX_DECOMPRESSED_LEN: usize = 1 << 30;

/// A chunk compression codec (the chunk header's encoding byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Encoding {
    /// No compression (byte 0).
    None,
    /// gzip (byte 1); Loki's ingester default.
    Gzip,
    /// LZ4 frame with 64 KiB blocks (byte 3).
    Lz4_64k,
    /// Snappy framed stream (byte 4).
    #[default]
    Snappy,
    /// LZ4 frame with 256 KiB blocks (byte 5).
    Lz4_256k,
    /// LZ4 frame with 1 MiB blocks (byte 6).
    Lz4_1M,
    /// LZ4 frame with 4 MiB blocks (byte 7), configured as `lz4`.
    Lz4_4M,
    /// Raw DEFLATE (byte 8).
    Flate,
    /// Zstandard (byte 9).
    Zstd,
}

/// A compression or decompression failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The encoding byte names no codec lokistore can read.
    #[error("unknown chunk encoding byte {0}")]
    UnknownEncoding(u8),
    /// The encoding name is not one Loki accepts.
    #[error(
        "unknown chunk encoding {0:?} (expected one of none, gzip, lz4-64k, snappy, lz4-256k, lz4-1M, lz4, flate, zstd)"
    )]
    UnknownName(String),
    /// The compressed stream is malformed.
    #[error("{encoding} stream is corrupt: {source}")]
    Corrupt {
        /// The codec.
        encoding: Encoding,
        /// The underlying decoder error.
        #[source]
        source: std::io::Error,
    },
    /// The stream inflates beyond [`MAX_DECOMPRESSED_LEN`] or the caller's limit.
    #[error("{encoding} stream decompresses to more than {limit} bytes")]
    TooLarge {
        /// The codec.
        encoding: Encoding,
        /// The limit that was exceeded.
        limit: usize,
    },
    /// Compression failed (an I/O error from the encoder).
    #[error("{encoding} compression failed: {source}")]
    Compress {
        /// The codec.
        encoding: Encoding,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Encoding {
    /// Every encoding, in byte order.
    pub const ALL: [Encoding; 9] = [
        Encoding::None,
        Encoding::Gzip,
        Encoding::Lz4_64k,
        Encoding::Snappy,
        Encoding::Lz4_256k,
        Encoding::Lz4_1M,
        Encoding::Lz4_4M,
        Encoding::Flate,
        Encoding::Zstd,
    ];

    /// The byte stored in chunk headers.
    pub fn to_byte(self) -> u8 {
        match self {
            Encoding::None => 0,
            Encoding::Gzip => 1,
            Encoding::Lz4_64k => 3,
            Encoding::Snappy => 4,
            Encoding::Lz4_256k => 5,
            Encoding::Lz4_1M => 6,
            Encoding::Lz4_4M => 7,
            Encoding::Flate => 8,
            Encoding::Zstd => 9,
        }
    }

    /// The codec for a chunk header byte.
    pub fn from_byte(b: u8) -> Result<Self, CodecError> {
        Ok(match b {
            0 => Encoding::None,
            1 => Encoding::Gzip,
            3 => Encoding::Lz4_64k,
            4 => Encoding::Snappy,
            5 => Encoding::Lz4_256k,
            6 => Encoding::Lz4_1M,
            7 => Encoding::Lz4_4M,
            8 => Encoding::Flate,
            9 => Encoding::Zstd,
            other => return Err(CodecError::UnknownEncoding(other)),
        })
    }

    /// Loki's configuration name (`-ingester.chunk-encoding`).
    pub fn name(self) -> &'static str {
        match self {
            Encoding::None => "none",
            Encoding::Gzip => "gzip",
            Encoding::Lz4_64k => "lz4-64k",
            Encoding::Snappy => "snappy",
            Encoding::Lz4_256k => "lz4-256k",
            Encoding::Lz4_1M => "lz4-1M",
            Encoding::Lz4_4M => "lz4",
            Encoding::Flate => "flate",
            Encoding::Zstd => "zstd",
        }
    }

    /// The LZ4 frame BD byte (block maximum size) this codec writes.
    fn lz4_bd(self) -> Option<u8> {
        Some(match self {
            Encoding::Lz4_64k => 0x40,
            Encoding::Lz4_256k => 0x50,
            Encoding::Lz4_1M => 0x60,
            Encoding::Lz4_4M => 0x70,
            _ => return None,
        })
    }

    /// Compresses `src` as one complete stream, appending it to `dst`.
    /// An empty `src` still yields the codec's complete empty stream (see the
    /// module documentation for the exact bytes).
    ///
    /// # Errors
    /// [`CodecError::Compress`] only if the underlying encoder fails, which
    /// for in-memory buffers means an input beyond the codec's size limits
    /// (4 GiB for snappy chunks). `dst` is left as it was on error.
    ///
    /// # Examples
    /// ```
    /// use lokistore::Encoding;
    /// let mut stream = Vec::new();
    /// Encoding::Gzip.compress(b"", &mut stream).unwrap();
    /// assert_eq!(stream.len(), 20); // a complete empty gzip member
    /// let mut out = Vec::new();
    /// Encoding::Gzip.decompress(&stream, &mut out, 1024).unwrap();
    /// assert!(out.is_empty());
    /// ```
    pub fn compress(self, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CodecError> {
        let start = dst.len();
        let res = match self {
            Encoding::None => {
                dst.extend_from_slice(src);
                Ok(())
            }
            Encoding::Gzip => gzip_compress(src, dst),
            Encoding::Flate => deflate_raw(src, dst),
            Encoding::Snappy => snappy_compress(src, dst),
            Encoding::Lz4_64k | Encoding::Lz4_256k | Encoding::Lz4_1M | Encoding::Lz4_4M => {
                lz4_compress(self.lz4_bd().unwrap_or(0x40), src, dst)
            }
            Encoding::Zstd => zstd_compress(src, dst),
        };
        res.map_err(|source| {
            dst.truncate(start);
            CodecError::Compress { encoding: self, source }
        })
    }

    /// Decompresses one complete stream, appending at most `limit` bytes
    /// (capped at [`MAX_DECOMPRESSED_LEN`]) to `dst`.
    ///
    /// Any stream of the codec's container format is accepted, not only the
    /// ones [`Encoding::compress`] writes (see the module documentation).
    ///
    /// # Errors
    /// [`CodecError::Corrupt`] for a malformed, truncated or checksum-failing
    /// stream, [`CodecError::TooLarge`] when the output would exceed the
    /// limit. On error `dst` is left as it was.
    ///
    /// # Panics
    /// Never, whatever the input bytes.
    pub fn decompress(self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CodecError> {
        let limit = limit.min(MAX_DECOMPRESSED_LEN);
        let start = dst.len();
        let mut out = Output { dst, start, limit, encoding: self };
        let res = match self {
            Encoding::None => out.extend(src),
            Encoding::Gzip => gzip_decompress(src, &mut out),
            Encoding::Flate => {
                if src.is_empty() {
                    Err(out.corrupt("empty deflate stream"))
                } else {
                    inflate_raw(src, &mut out, 0).map(|_| ())
                }
            }
            Encoding::Snappy => snappy_decompress(src, &mut out),
            Encoding::Lz4_64k | Encoding::Lz4_256k | Encoding::Lz4_1M | Encoding::Lz4_4M => {
                lz4_decompress(src, &mut out)
            }
            Encoding::Zstd => zstd_decompress(src, &mut out),
        };
        if res.is_err() {
            dst.truncate(start);
        }
        res
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Encoding {
    type Err = CodecError;
    /// Parses Loki's configuration name, case-insensitively.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Encoding::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| CodecError::UnknownName(s.to_owned()))
    }
}

// ---------------------------------------------------------------------------
// Shared plumbing

/// The caller's buffer during one decompression: appends are checked
/// against the limit, counting from `start`.
struct Output<'a> {
    dst: &'a mut Vec<u8>,
    start: usize,
    limit: usize,
    encoding: Encoding,
}

impl Output<'_> {
    /// Bytes produced so far.
    fn produced(&self) -> usize {
        self.dst.len() - self.start
    }

    /// Bytes that may still be appended.
    fn room(&self) -> usize {
        self.limit.saturating_sub(self.produced())
    }

    fn corrupt(&self, msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> CodecError {
        corrupt(self.encoding, msg)
    }

    fn too_large(&self) -> CodecError {
        CodecError::TooLarge { encoding: self.encoding, limit: self.limit }
    }

    /// Fails unless `n` more bytes fit under the limit.
    fn check_room(&self, n: usize) -> Result<(), CodecError> {
        if n > self.room() { Err(self.too_large()) } else { Ok(()) }
    }

    fn extend(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.check_room(bytes.len())?;
        self.dst.extend_from_slice(bytes);
        Ok(())
    }

    /// Fails if the output already went past the limit (decoders that write
    /// into spare capacity may overshoot by what was already allocated).
    fn check_limit(&self) -> Result<(), CodecError> {
        if self.produced() > self.limit { Err(self.too_large()) } else { Ok(()) }
    }

    /// Makes sure there is spare capacity to write into, growing by about
    /// the output size so far (at least `min`), never beyond `limit + 1`
    /// bytes of output (one byte more than allowed, to detect the overflow).
    fn grow(&mut self, min: usize) -> Result<(), CodecError> {
        self.check_limit()?;
        if self.dst.len() < self.dst.capacity() {
            return Ok(());
        }
        let room = self.room().saturating_add(1);
        let want = self.produced().max(min).max(4096).min(room);
        self.dst.reserve(want);
        Ok(())
    }
}

fn corrupt(
    encoding: Encoding,
    msg: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> CodecError {
    CodecError::Corrupt { encoding, source: io::Error::new(io::ErrorKind::InvalidData, msg) }
}

/// A little-endian `u32` at `at`, if present.
fn le32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Runs `f` with this thread's cached context of one kind, creating it on
/// first use. The context is taken out of its slot while in use, so a
/// (theoretical) re-entrant call or a call during thread teardown simply
/// gets a fresh one.
fn with_cached<T: 'static, R>(
    slot: &'static LocalKey<Cell<Option<T>>>,
    make: impl FnOnce() -> T,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let mut ctx = slot.try_with(Cell::take).ok().flatten().unwrap_or_else(make);
    let res = f(&mut ctx);
    // Fails only during thread teardown; the context is then just dropped.
    let _ = slot.try_with(|s| s.set(Some(ctx)));
    res
}

thread_local! {
    static DEFLATE: Cell<Option<flate2::Compress>> = const { Cell::new(None) };
    static INFLATE: Cell<Option<flate2::Decompress>> = const { Cell::new(None) };
    static SNAPPY_ENC: Cell<Option<snap::raw::Encoder>> = const { Cell::new(None) };
    static ZSTD_C: Cell<Option<zstd_safe::CCtx<'static>>> = const { Cell::new(None) };
    static ZSTD_D: Cell<Option<zstd_safe::DCtx<'static>>> = const { Cell::new(None) };
    static LZ4_SCRATCH: Cell<Option<Vec<u8>>> = const { Cell::new(None) };
}

// ---------------------------------------------------------------------------
// gzip and flate (RFC 1952 / RFC 1951), on zlib-rs

/// Go's `compress/gzip` header: no flags, MTIME = Go's zero time truncated
/// to 32 bits, XFL 0, OS 255 (unknown).
const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff];

/// Largest expansion of DEFLATE: a 258-byte match costs at least 2 bits.
const DEFLATE_MAX_RATIO: usize = 1032;

fn gzip_compress(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
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
fn deflate_raw(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
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
                let status = c
                    .compress_vec(rest, dst, flate2::FlushCompress::Finish)
                    .map_err(io::Error::other)?;
                if status == flate2::Status::StreamEnd {
                    return Ok(());
                }
                if dst.len() == dst.capacity() {
                    dst.reserve(dst.len().max(4096));
                }
            }
        },
    )
}

fn gzip_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
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
        let hint = if pos == header_len {
            le32(src, src.len().saturating_sub(4)).map_or(0, |n| n as usize)
        } else {
            0
        };
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
    with_cached(&INFLATE, || flate2::Decompress::new(false), |d| {
        d.reset(false);
        out.dst.reserve(hint.min(out.room().saturating_add(1)));
        if hint == 0 {
            // Typical DEFLATE ratios on logs are 4-6x.
            out.dst.reserve(src.len().saturating_mul(4).min(out.room().saturating_add(1)));
        }
        loop {
            out.grow(32 * 1024)?;
            let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
            let rest = src.get(consumed..).unwrap_or_default();
            let before = out.dst.len();
            let status = d
                .decompress_vec(rest, out.dst, flate2::FlushDecompress::None)
                .map_err(|e| out.corrupt(e))?;
            let used = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
            if status == flate2::Status::StreamEnd {
                out.check_limit()?;
                return Ok(used);
            }
            let stalled = used == consumed && out.dst.len() == before;
            if stalled && out.dst.len() < out.dst.capacity() {
                return Err(out.corrupt("truncated deflate stream"));
            }
        }
    })
}

// ---------------------------------------------------------------------------
// Snappy framed stream (golang/snappy `NewBufferedWriter` / `NewReader`)

const SNAPPY_STREAM_ID: [u8; 10] = [0xff, 0x06, 0x00, 0x00, b's', b'N', b'a', b'P', b'p', b'Y'];
/// Largest uncompressed payload of one data chunk.
const SNAPPY_MAX_CHUNK: usize = 1 << 16;
const SNAPPY_COMPRESSED: u8 = 0x00;
const SNAPPY_UNCOMPRESSED: u8 = 0x01;

/// The CRC32C mask of the snappy framing format.
fn snappy_mask(crc: u32) -> u32 {
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

fn snappy_compress(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    // golang/snappy's writer emits nothing at all for an empty stream.
    if src.is_empty() {
        return Ok(());
    }
    dst.extend_from_slice(&SNAPPY_STREAM_ID);
    let chunks = src.len().div_ceil(SNAPPY_MAX_CHUNK);
    dst.reserve(src.len() + chunks * 8);
    with_cached(&SNAPPY_ENC, snap::raw::Encoder::new, |enc| {
        for chunk in src.chunks(SNAPPY_MAX_CHUNK) {
            let at = dst.len();
            let body = at + 8;
            dst.resize(body + snap::raw::max_compress_len(chunk.len()), 0);
            let n = enc
                .compress(chunk, dst.get_mut(body..).unwrap_or_default())
                .map_err(io::Error::other)?;
            // Like Go: store the chunk when compression saves less than 12.5%.
            let kind = if n >= chunk.len() - chunk.len() / 8 {
                dst.truncate(body);
                dst.extend_from_slice(chunk);
                SNAPPY_UNCOMPRESSED
            } else {
                dst.truncate(body + n);
                SNAPPY_COMPRESSED
            };
            let len = (dst.len() - body + 4) as u32;
            let crc = snappy_mask(crc32c::crc32c(chunk));
            if let Some(h) = dst.get_mut(at..body) {
                let [l0, l1, l2, _] = len.to_le_bytes();
                let [c0, c1, c2, c3] = crc.to_le_bytes();
                h.copy_from_slice(&[kind, l0, l1, l2, c0, c1, c2, c3]);
            }
        }
        Ok(())
    })
}

/// One parsed chunk of a snappy framed stream.
struct SnappyChunk<'a> {
    kind: u8,
    /// Offset of the chunk header, for error messages.
    offset: usize,
    body: &'a [u8],
}

/// Iterates the chunks of a snappy framed stream, checking the framing.
fn snappy_chunks(src: &[u8]) -> impl Iterator<Item = Result<SnappyChunk<'_>, String>> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= src.len() {
            return None;
        }
        let offset = pos;
        let Some(&[kind, l0, l1, l2]) = src.get(pos..pos + 4) else {
            pos = src.len();
            return Some(Err(format!("truncated chunk header at offset {offset}")));
        };
        let len = u32::from_le_bytes([l0, l1, l2, 0]) as usize;
        let Some(body) = src.get(pos + 4..pos + 4 + len) else {
            pos = src.len();
            return Some(Err(format!("truncated chunk at offset {offset}")));
        };
        pos += 4 + len;
        Some(Ok(SnappyChunk { kind, offset, body }))
    })
}

/// Snappy's raw format emits at most 64 bytes per 3 input bytes (a 2-byte
/// offset copy), so a claimed length beyond this bound is corrupt.
fn snappy_max_expansion(compressed: usize) -> usize {
    compressed.saturating_mul(22).saturating_add(64)
}

fn snappy_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    // Pass 1: validate the framing and add up the declared sizes (each
    // checked against what its compressed bytes can expand to), so the
    // output is reserved once.
    let mut total = 0usize;
    let mut seen_id = false;
    for chunk in snappy_chunks(src) {
        let chunk = chunk.map_err(|e| out.corrupt(e))?;
        let at = chunk.offset;
        match chunk.kind {
            0xff => {
                if chunk.body != &SNAPPY_STREAM_ID[4..] {
                    return Err(out.corrupt(format!("bad stream identifier at offset {at}")));
                }
                seen_id = true;
                continue;
            }
            _ if !seen_id => {
                return Err(out.corrupt("missing stream identifier"));
            }
            SNAPPY_COMPRESSED | SNAPPY_UNCOMPRESSED => {}
            0x02..=0x7f => {
                return Err(out.corrupt(format!("reserved unskippable chunk type {:#04x} at offset {at}", chunk.kind)));
            }
            // 0x80..=0xfe: skippable chunks and padding.
            _ => continue,
        }
        let Some(payload) = chunk.body.get(4..) else {
            return Err(out.corrupt(format!("chunk without checksum at offset {at}")));
        };
        let n = if chunk.kind == SNAPPY_COMPRESSED {
            let n = snap::raw::decompress_len(payload).map_err(|e| out.corrupt(format!("{e} at offset {at}")))?;
            if payload.is_empty() || n > snappy_max_expansion(payload.len()) {
                return Err(out.corrupt(format!("bad compressed chunk at offset {at}")));
            }
            n
        } else {
            payload.len()
        };
        if n > SNAPPY_MAX_CHUNK {
            return Err(out.corrupt(format!("chunk at offset {at} exceeds 64 KiB")));
        }
        total = total.saturating_add(n);
    }
    out.check_room(total)?;
    out.dst.reserve(total);

    // Pass 2: decode straight into the caller's buffer.
    let mut dec = snap::raw::Decoder::new();
    for chunk in snappy_chunks(src) {
        let chunk = chunk.map_err(|e| out.corrupt(e))?;
        let (Some(crc), Some(payload)) = (le32(chunk.body, 0), chunk.body.get(4..)) else {
            continue;
        };
        let at = out.dst.len();
        match chunk.kind {
            SNAPPY_COMPRESSED => {
                let n = snap::raw::decompress_len(payload).unwrap_or(0);
                out.dst.resize(at + n, 0);
                let got = dec
                    .decompress(payload, out.dst.get_mut(at..).unwrap_or_default())
                    .map_err(|e| corrupt(out.encoding, format!("{e} in chunk at offset {}", chunk.offset)))?;
                if got != n {
                    return Err(out.corrupt(format!("short chunk at offset {}", chunk.offset)));
                }
            }
            SNAPPY_UNCOMPRESSED => out.dst.extend_from_slice(payload),
            _ => continue,
        }
        let data = out.dst.get(at..).unwrap_or_default();
        if snappy_mask(crc32c::crc32c(data)) != crc {
            return Err(out.corrupt(format!("checksum mismatch in chunk at offset {}", chunk.offset)));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// LZ4 frame format (pierrec/lz4 v4 writer / reader)

const LZ4_MAGIC: u32 = 0x184d_2204;
const LZ4_SKIPPABLE_MAGIC: u32 = 0x184d_2a50;
/// Frame descriptor FLG Loki writes: version 01, independent blocks, no
/// block checksums, no content size, no content checksum, no dictionary.
const LZ4_FLG: u8 = 0x60;
/// The high bit of a block size marks a stored (uncompressed) block.
const LZ4_STORED: u32 = 0x8000_0000;
/// Dependent blocks may refer back this far into the previous output.
const LZ4_WINDOW: usize = 64 * 1024;

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

fn lz4_compress(bd: u8, src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    let block_max = lz4_block_max(bd).unwrap_or(64 << 10);
    let hc = (xxh32(&[LZ4_FLG, bd], 0) >> 8) as u8;
    dst.extend_from_slice(&LZ4_MAGIC.to_le_bytes());
    dst.extend_from_slice(&[LZ4_FLG, bd, hc]);
    for block in src.chunks(block_max) {
        let at = dst.len();
        let body = at + 4;
        dst.resize(body + lz4_flex::block::get_maximum_output_size(block.len()), 0);
        let n = lz4_flex::block::compress_into(block, dst.get_mut(body..).unwrap_or_default())
            .map_err(io::Error::other)?;
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

fn lz4_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
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
        pos = lz4_frame(src, pos + 4, out)?;
    }
    Ok(())
}

/// Decodes one LZ4 frame whose descriptor starts at `pos`; returns the
/// offset after the frame.
fn lz4_frame(src: &[u8], mut pos: usize, out: &mut Output<'_>) -> Result<usize, CodecError> {
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
        out.check_room(usize::try_from(n).unwrap_or(usize::MAX))?;
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
        let res = with_cached(&LZ4_SCRATCH, Vec::new, |scratch| {
            if scratch.len() < block_max {
                scratch.resize(block_max, 0);
            }
            let target = scratch.get_mut(..block_max).unwrap_or_default();
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

/// XXH32 (the LZ4 frame header, block and content checksums).
fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 0x9e37_79b1;
    const P2: u32 = 0x85eb_ca77;
    const P3: u32 = 0xc2b2_ae3d;
    const P4: u32 = 0x27d4_eb2f;
    const P5: u32 = 0x1656_67b1;
    fn round(acc: u32, lane: u32) -> u32 {
        acc.wrapping_add(lane.wrapping_mul(P2)).rotate_left(13).wrapping_mul(P1)
    }
    fn lane(b: &[u8]) -> u32 {
        b.first_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b))
    }
    let mut stripes = data.chunks_exact(16);
    let mut h = if data.len() >= 16 {
        let mut v = [
            seed.wrapping_add(P1).wrapping_add(P2),
            seed.wrapping_add(P2),
            seed,
            seed.wrapping_sub(P1),
        ];
        for s in &mut stripes {
            for (acc, lane_bytes) in v.iter_mut().zip(s.chunks_exact(4)) {
                *acc = round(*acc, lane(lane_bytes));
            }
        }
        let [a, b, c, d] = v;
        a.rotate_left(1)
            .wrapping_add(b.rotate_left(7))
            .wrapping_add(c.rotate_left(12))
            .wrapping_add(d.rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    let mut words = stripes.remainder().chunks_exact(4);
    for w in &mut words {
        h = h.wrapping_add(lane(w).wrapping_mul(P3)).rotate_left(17).wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h.wrapping_add(u32::from(b).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

// ---------------------------------------------------------------------------
// Zstandard (libzstd via zstd-safe)

/// libzstd's default level, which is what klauspost's default maps to.
const ZSTD_LEVEL: i32 = 3;
/// Largest expansion of a zstd frame: a 4-byte RLE block yields 128 KiB.
const ZSTD_MAX_RATIO: usize = 32 * 1024;

fn zstd_err(code: usize) -> String {
    zstd_safe::get_error_name(code).to_owned()
}

fn zstd_compress(src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
    let make = || {
        let mut c = zstd_safe::CCtx::create();
        // Parameters survive session resets; failures here are impossible
        // for these in-range values and surface on compression anyway.
        let _ = c.set_parameter(zstd_safe::CParameter::CompressionLevel(ZSTD_LEVEL));
        let _ = c.set_parameter(zstd_safe::CParameter::ChecksumFlag(true));
        c
    };
    with_cached(&ZSTD_C, make, |c| {
        c.reset(zstd_safe::ResetDirective::SessionOnly)
            .map_err(|e| io::Error::other(zstd_err(e)))?;
        dst.reserve(zstd_safe::compress_bound(src.len()));
        let mut input = zstd_safe::InBuffer::around(src);
        loop {
            let mut output = zstd_safe::OutBuffer::around_pos(dst, dst.len());
            // Ending on the first call makes libzstd record the content size.
            let remaining = c
                .compress_stream2(&mut output, &mut input, zstd_sys_end())
                .map_err(|e| io::Error::other(zstd_err(e)))?;
            drop(output);
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

fn zstd_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
    // Window memory for frames without a content size: at least Go's
    // default 8 MiB window, at most libzstd's default cap of 128 MiB, and
    // otherwise no more than the output limit.
    let limit_log = usize::BITS - out.limit.saturating_sub(1).leading_zeros();
    let window_log = limit_log.clamp(23, 27);
    let make = zstd_safe::DCtx::create;
    with_cached(&ZSTD_D, make, |d| {
        d.reset(zstd_safe::ResetDirective::SessionOnly)
            .map_err(|e| out.corrupt(zstd_err(e)))?;
        d.set_parameter(zstd_safe::DParameter::WindowLogMax(window_log))
            .map_err(|e| out.corrupt(zstd_err(e)))?;
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
            out.grow(64 * 1024)?;
            let before = out.dst.len();
            let mut input = zstd_safe::InBuffer::around(rest);
            let mut output = zstd_safe::OutBuffer::around_pos(&mut *out.dst, before);
            let hint = d
                .decompress_stream(&mut output, &mut input)
                .map_err(|e| corrupt(out.encoding, format!("{} at offset {pos}", zstd_err(e))))?;
            drop(output);
            let used = input.pos();
            pos += used;
            in_frame = hint != 0;
            out.check_limit()?;
            let stalled = used == 0 && out.dst.len() == before;
            if stalled && out.dst.len() < out.dst.capacity() {
                return Err(out.corrupt("truncated zstd frame"));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn xxh32_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02cc_5d05);
        assert_eq!(xxh32(b"a", 0), 0x550d_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32d1_53ff);
        assert_eq!(xxh32(b"Nobody inspects the spammish repetition", 0), 0xe229_3b2f);
    }
}
