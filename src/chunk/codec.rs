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
//! Hot-path notes: snappy and LZ4 framing are parsed here, not through
//! `Read` adapters. Snappy chunks decode straight into the caller's buffer,
//! reserved once from the chunk headers; LZ4 blocks decode into a per-thread
//! scratch block (zeroed once, at most 4 MiB) and are appended; gzip and
//! flate inflate into the buffer's spare capacity, sized from the gzip
//! trailer. Compressor and decompressor contexts (zlib-rs deflate/inflate,
//! zstd, snappy's hash table) are cached per thread, so small streams such
//! as symbol payloads cost no set-up; each thread keeps at most a few MiB.

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

fn corrupt(encoding: Encoding, msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> CodecError {
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
            let n = enc.compress(chunk, dst.get_mut(body..).unwrap_or_default()).map_err(io::Error::other)?;
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

fn lz4_compress(bd: u8, src: &[u8], dst: &mut Vec<u8>) -> io::Result<()> {
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
        let mut v = [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        for s in &mut stripes {
            for (acc, lane_bytes) in v.iter_mut().zip(s.chunks_exact(4)) {
                *acc = round(*acc, lane(lane_bytes));
            }
        }
        let [a, b, c, d] = v;
        a.rotate_left(1).wrapping_add(b.rotate_left(7)).wrapping_add(c.rotate_left(12)).wrapping_add(d.rotate_left(18))
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

fn zstd_decompress(src: &[u8], out: &mut Output<'_>) -> Result<(), CodecError> {
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
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use std::io::{Read, Write};

    use proptest::prelude::*;

    use super::*;

    const LZ4: [Encoding; 4] = [Encoding::Lz4_64k, Encoding::Lz4_256k, Encoding::Lz4_1M, Encoding::Lz4_4M];

    /// Deterministic xorshift bytes: incompressible.
    fn random(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect()
    }

    /// Deterministic log-like text: compressible.
    fn text(seed: u64, len: usize) -> Vec<u8> {
        const WORDS: &[&str] =
            &["level=info", "msg=\"request done\"", "status=200", "path=/api/v1/push", "duration=12ms", "error", "\n"];
        let noise = random(seed, len / 8 + 8);
        let mut out = Vec::with_capacity(len + 32);
        let mut i = 0;
        while out.len() < len {
            let r = noise[i % noise.len()];
            i += 1;
            out.extend_from_slice(WORDS[usize::from(r) % WORDS.len()].as_bytes());
            out.push(b' ');
            if r % 5 == 0 {
                out.extend_from_slice(format!("trace_id={r:02x}{i:x} ").as_bytes());
            }
        }
        out.truncate(len);
        out
    }

    fn compress(enc: Encoding, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        enc.compress(data, &mut v).unwrap();
        v
    }

    fn decompress(enc: Encoding, stream: &[u8]) -> Result<Vec<u8>, CodecError> {
        let mut v = Vec::new();
        enc.decompress(stream, &mut v, MAX_DECOMPRESSED_LEN).map(|()| v)
    }

    #[test]
    fn xxh32_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02cc_5d05);
        assert_eq!(xxh32(b"a", 0), 0x550d_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32d1_53ff);
        assert_eq!(xxh32(b"Nobody inspects the spammish repetition", 0), 0xe229_3b2f);
        // Cross-check against lz4_flex's frame checksums over many lengths.
        for len in [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 1000] {
            let data = random(len as u64 + 7, len);
            let info = lz4_flex::frame::FrameInfo::new().content_checksum(true);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&data).unwrap();
            let frame = enc.finish().unwrap();
            let sum = u32::from_le_bytes(frame[frame.len() - 4..].try_into().unwrap());
            assert_eq!(xxh32(&data, 0), sum, "len {len}");
        }
    }

    #[test]
    fn bytes_and_names() {
        for enc in Encoding::ALL {
            assert_eq!(Encoding::from_byte(enc.to_byte()).unwrap(), enc);
            assert_eq!(enc.name().parse::<Encoding>().unwrap(), enc);
            assert_eq!(enc.name().to_uppercase().parse::<Encoding>().unwrap(), enc);
            assert_eq!(enc.to_string(), enc.name());
        }
        assert!(matches!(Encoding::from_byte(2), Err(CodecError::UnknownEncoding(2))));
        assert!(matches!(Encoding::from_byte(10), Err(CodecError::UnknownEncoding(10))));
        assert!(matches!("lz4-4M".parse::<Encoding>(), Err(CodecError::UnknownName(_))));
        assert_eq!("LZ4-1m".parse::<Encoding>().unwrap(), Encoding::Lz4_1M);
    }

    /// The empty streams of spec §6 (zstd: ours; Go's differs but is valid).
    #[test]
    fn empty_streams() {
        let expect: [(Encoding, &[u8]); 9] = [
            (Encoding::None, &[]),
            (Encoding::Snappy, &[]),
            (Encoding::Gzip, &[0x1f, 0x8b, 8, 0, 0, 0x09, 0x6e, 0x88, 0, 0xff, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (Encoding::Lz4_64k, &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82, 0, 0, 0, 0]),
            (Encoding::Lz4_256k, &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x50, 0xfb, 0, 0, 0, 0]),
            (Encoding::Lz4_1M, &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x60, 0x51, 0, 0, 0, 0]),
            (Encoding::Lz4_4M, &[0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73, 0, 0, 0, 0]),
            (Encoding::Flate, &[0x03, 0x00]),
            (Encoding::Zstd, &[0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00, 0x01, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51]),
        ];
        for (enc, bytes) in expect {
            assert_eq!(compress(enc, b""), bytes, "{enc}");
            assert_eq!(decompress(enc, bytes).unwrap(), b"", "{enc}");
        }
        // Go's (klauspost) empty zstd frame: no content size, window 8 MiB.
        let go_zstd = [0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x68, 0x01, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51];
        assert_eq!(decompress(Encoding::Zstd, &go_zstd).unwrap(), b"");
        // Go's readers treat zero bytes as an empty stream except gzip/flate.
        for enc in Encoding::ALL {
            let res = decompress(enc, b"");
            match enc {
                Encoding::Gzip | Encoding::Flate => assert!(matches!(res, Err(CodecError::Corrupt { .. }))),
                _ => assert_eq!(res.unwrap(), b""),
            }
        }
    }

    #[test]
    fn containers_match_loki() {
        let data = text(1, 300_000);
        let noise = random(2, 70_000);
        // gzip: Go's header.
        assert_eq!(compress(Encoding::Gzip, &data)[..10], GZIP_HEADER);
        // flate: raw DEFLATE, the first block header is not a zlib header.
        let flate = compress(Encoding::Flate, &data);
        assert_ne!(u16::from_be_bytes([flate[0], flate[1]]) % 31, 0);
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
        // snappy: stream identifier, <= 64 KiB chunks, type 0x01 when
        // compression does not pay (Go's rule).
        for (input, kind) in [(&data, SNAPPY_COMPRESSED), (&noise, SNAPPY_UNCOMPRESSED)] {
            let s = compress(Encoding::Snappy, input);
            assert_eq!(s[..10], SNAPPY_STREAM_ID);
            let chunks: Vec<_> = snappy_chunks(&s[10..]).map(Result::unwrap).collect();
            assert_eq!(chunks.len(), input.len().div_ceil(SNAPPY_MAX_CHUNK));
            assert!(chunks.iter().all(|c| c.kind == kind));
        }
        // zstd: content checksum flag and content size.
        let z = compress(Encoding::Zstd, &data);
        assert_eq!(z[..4], [0x28, 0xb5, 0x2f, 0xfd]);
        assert_ne!(z[4] & 0x04, 0, "content checksum flag");
        assert_eq!(zstd_safe::get_frame_content_size(&z).unwrap(), Some(data.len() as u64));
    }

    #[test]
    fn reference_decoders_read_our_streams() {
        let data = text(3, 200_000);
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&compress(Encoding::Gzip, &data)[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        out.clear();
        flate2::read::DeflateDecoder::new(&compress(Encoding::Flate, &data)[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        out.clear();
        snap::read::FrameDecoder::new(&compress(Encoding::Snappy, &data)[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        for enc in LZ4 {
            out.clear();
            lz4_flex::frame::FrameDecoder::new(&compress(enc, &data)[..]).read_to_end(&mut out).unwrap();
            assert_eq!(out, data, "{enc}");
        }
        assert_eq!(zstd::decode_all(&compress(Encoding::Zstd, &data)[..]).unwrap(), data);
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
        s.extend_from_slice(&SNAPPY_STREAM_ID);
        s.extend_from_slice(&ours[10..]);
        assert_eq!(decompress(Encoding::Snappy, &s).unwrap(), [&data[..], &data[..]].concat());
        // A data chunk before the identifier, a reserved unskippable chunk.
        assert!(decompress(Encoding::Snappy, &ours[10..]).is_err());
        let mut r = ours.clone();
        r.extend_from_slice(&[0x02, 0, 0, 0]);
        assert!(decompress(Encoding::Snappy, &r).is_err());
        // A compressed chunk claiming far more than its bytes can hold.
        let mut claim = SNAPPY_STREAM_ID.to_vec();
        claim.extend_from_slice(&[0x00, 7, 0, 0, 0, 0, 0, 0, 0x80, 0x80, 0x04]);
        assert!(matches!(decompress(Encoding::Snappy, &claim), Err(CodecError::Corrupt { .. })));
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

    #[test]
    fn appends_and_leaves_dst_alone_on_error() {
        let data = text(11, 100_000);
        for enc in Encoding::ALL {
            let mut stream = b"keep".to_vec();
            enc.compress(&data, &mut stream).unwrap();
            assert_eq!(&stream[..4], b"keep");
            let mut out = b"also".to_vec();
            enc.decompress(&stream[4..], &mut out, data.len()).unwrap();
            assert_eq!(&out[..4], b"also");
            assert_eq!(&out[4..], &data[..], "{enc}");
            // One byte less than needed: TooLarge, dst untouched.
            let mut out = b"also".to_vec();
            let err = enc.decompress(&stream[4..], &mut out, data.len() - 1).unwrap_err();
            assert!(matches!(err, CodecError::TooLarge { limit, .. } if limit == data.len() - 1), "{enc}: {err}");
            assert_eq!(out, b"also");
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 8 << 20];
        let limit = 256 * 1024;
        for enc in Encoding::ALL {
            let stream = compress(enc, &zeros);
            let mut out = Vec::new();
            let err = enc.decompress(&stream, &mut out, limit).unwrap_err();
            assert!(matches!(err, CodecError::TooLarge { .. }), "{enc}: {err}");
            assert!(out.capacity() <= 4 * limit + (64 << 10), "{enc}: grew to {}", out.capacity());
        }
    }

    /// Headers that claim huge sizes in a few bytes allocate nothing big.
    #[test]
    fn lying_headers_allocate_little() {
        let mut cases: Vec<(Encoding, Vec<u8>)> = Vec::new();
        // gzip whose trailer claims 4 GiB.
        let mut g = compress(Encoding::Gzip, b"tiny");
        let n = g.len();
        g[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
        cases.push((Encoding::Gzip, g));
        // LZ4 frame with a content size of 2^60.
        let mut l = vec![0x04, 0x22, 0x4d, 0x18, 0x68, 0x40];
        l.extend_from_slice(&(1u64 << 60).to_le_bytes());
        l.push((xxh32(&l[4..], 0) >> 8) as u8);
        l.extend_from_slice(&[0, 0, 0, 0]);
        cases.push((Encoding::Lz4_64k, l));
        // zstd frame claiming 1 GiB of content.
        let mut z = vec![0x28, 0xb5, 0x2f, 0xfd, 0xa4];
        z.extend_from_slice(&(1u32 << 30).to_le_bytes());
        z.extend_from_slice(&[0x01, 0x00, 0x00]);
        cases.push((Encoding::Zstd, z));
        for (enc, stream) in cases {
            let mut out = Vec::new();
            assert!(enc.decompress(&stream, &mut out, MAX_DECOMPRESSED_LEN).is_err(), "{enc}");
            assert!(out.capacity() < 1 << 20, "{enc}: reserved {}", out.capacity());
            let mut out = Vec::new();
            assert!(enc.decompress(&stream, &mut out, 1000).is_err(), "{enc}");
        }
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

    #[test]
    fn truncated_streams_fail() {
        let data = text(12, 3000);
        for enc in Encoding::ALL {
            let stream = compress(enc, &data);
            for cut in 0..stream.len() {
                let res = decompress(enc, &stream[..cut]);
                match res {
                    Err(CodecError::Corrupt { .. }) => {}
                    // A prefix ending on a chunk boundary is a valid shorter
                    // stream for `none` and snappy, and zero bytes are an
                    // empty stream for snappy, LZ4 and zstd.
                    Ok(out) => assert!(
                        matches!(enc, Encoding::None | Encoding::Snappy)
                            || (cut == 0 && enc != Encoding::Gzip && enc != Encoding::Flate),
                        "{enc}: prefix of {cut} bytes decoded to {} bytes",
                        out.len()
                    ),
                    Err(e) => panic!("{enc}: prefix of {cut}: unexpected {e}"),
                }
            }
        }
    }

    #[test]
    fn bit_flips_never_panic() {
        let data = text(13, 1500);
        let limit = data.len() + 100;
        for enc in Encoding::ALL {
            let stream = compress(enc, &data);
            for bit in 0..stream.len() * 8 {
                let mut s = stream.clone();
                s[bit / 8] ^= 1 << (bit % 8);
                let mut out = Vec::new();
                match enc.decompress(&s, &mut out, limit) {
                    Ok(()) => {
                        assert!(out.len() <= limit);
                        // Checksums over the whole content: a flip is either
                        // detected or harmless (a header field).
                        if matches!(enc, Encoding::Gzip | Encoding::Zstd) {
                            assert_eq!(out, data, "{enc}: bit {bit}");
                        }
                    }
                    Err(CodecError::Corrupt { .. } | CodecError::TooLarge { .. }) => assert!(out.is_empty()),
                    Err(e) => panic!("{enc}: bit {bit}: unexpected {e}"),
                }
            }
        }
    }

    #[test]
    fn contexts_are_per_thread() {
        let handles: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for i in 0..20 {
                        let data = text(t * 100 + i, 2000 + 997 * i as usize);
                        for enc in Encoding::ALL {
                            assert_eq!(decompress(enc, &compress(enc, &data)).unwrap(), data);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            2 => Just(Vec::new()),
            4 => proptest::collection::vec(any::<u8>(), 1..300),
            4 => (any::<u64>(), 1usize..200_000).prop_map(|(seed, n)| text(seed, n)),
            3 => (any::<u64>(), 1usize..200_000).prop_map(|(seed, n)| random(seed, n)),
            1 => any::<u64>().prop_map(|seed| text(seed, 1 << 20)),
            1 => any::<u64>().prop_map(|seed| random(seed, 1 << 20)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20))]

        #[test]
        fn roundtrip_every_codec(data in payload()) {
            for enc in Encoding::ALL {
                let stream = compress(enc, &data);
                let mut out = Vec::new();
                enc.decompress(&stream, &mut out, data.len()).unwrap();
                prop_assert_eq!(&out, &data, "{}", enc);
            }
        }
    }
}
