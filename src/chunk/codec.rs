//! Chunk compression codecs: the encoding byte of a chunk header and the
//! container each one writes (`../shared/spec/chunk-format.md` §3).
//!
//! | byte | name | container |
//! |---|---|---|
//! | 0 | `none` | raw bytes |
//! | 1 | `gzip` | RFC 1952 gzip member |
//! | 3 | `lz4-64k` | LZ4 frame, 64 KiB blocks, independent, no checksums |
//! | 4 | `snappy` | Snappy framed stream (stream identifier + masked CRC32C chunks) |
//! | 5 | `lz4-256k` | LZ4 frame, 256 KiB blocks |
//! | 6 | `lz4-1M` | LZ4 frame, 1 MiB blocks |
//! | 7 | `lz4` | LZ4 frame, 4 MiB blocks |
//! | 8 | `flate` | raw DEFLATE (RFC 1951) |
//! | 9 | `zstd` | Zstandard frame with content checksum |
//!
//! Each block and the structured-metadata payload of a chunk is one complete,
//! separate stream. Byte 2 ("dumb") is not supported.

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

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
    #[error("unknown chunk encoding {0:?} (expected one of none, gzip, lz4-64k, snappy, lz4-256k, lz4-1M, lz4, flate, zstd)")]
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

    fn lz4_block_size(self) -> Option<lz4_flex::frame::BlockSize> {
        use lz4_flex::frame::BlockSize;
        Some(match self {
            Encoding::Lz4_64k => BlockSize::Max64KB,
            Encoding::Lz4_256k => BlockSize::Max256KB,
            Encoding::Lz4_1M => BlockSize::Max1MB,
            Encoding::Lz4_4M => BlockSize::Max4MB,
            _ => return None,
        })
    }

    /// Compresses `src` as one complete stream, appending it to `dst`.
    /// An empty `src` still yields the codec's complete empty stream.
    pub fn compress(self, src: &[u8], dst: &mut Vec<u8>) -> Result<(), CodecError> {
        let err = |source| CodecError::Compress { encoding: self, source };
        match self {
            Encoding::None => dst.extend_from_slice(src),
            Encoding::Gzip => {
                // Header as Go's compress/gzip writes it: MTIME of Go's zero time, OS 255.
                let mut enc = flate2::GzBuilder::new()
                    .mtime(0x886e_0900)
                    .operating_system(255)
                    .write(dst, flate2::Compression::default());
                enc.write_all(src).map_err(err)?;
                enc.finish().map_err(err)?;
            }
            Encoding::Flate => {
                let mut enc = flate2::write::DeflateEncoder::new(dst, flate2::Compression::default());
                enc.write_all(src).map_err(err)?;
                enc.finish().map_err(err)?;
            }
            Encoding::Snappy => {
                if !src.is_empty() {
                    let mut enc = snap::write::FrameEncoder::new(dst);
                    enc.write_all(src).map_err(err)?;
                    enc.flush().map_err(err)?;
                }
            }
            Encoding::Lz4_64k | Encoding::Lz4_256k | Encoding::Lz4_1M | Encoding::Lz4_4M => {
                let info = lz4_flex::frame::FrameInfo::new()
                    .block_size(self.lz4_block_size().unwrap_or_default())
                    .block_mode(lz4_flex::frame::BlockMode::Independent);
                let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, dst);
                enc.write_all(src).map_err(err)?;
                enc.finish().map_err(|e| err(std::io::Error::other(e)))?;
            }
            Encoding::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(dst, 0).map_err(err)?;
                enc.include_checksum(true).map_err(err)?;
                enc.write_all(src).map_err(err)?;
                enc.finish().map_err(err)?;
            }
        }
        Ok(())
    }

    /// Decompresses one complete stream, appending at most `limit` bytes
    /// (capped at [`MAX_DECOMPRESSED_LEN`]) to `dst`.
    pub fn decompress(self, src: &[u8], dst: &mut Vec<u8>, limit: usize) -> Result<(), CodecError> {
        let limit = limit.min(MAX_DECOMPRESSED_LEN);
        match self {
            Encoding::None => {
                if src.len() > limit {
                    return Err(CodecError::TooLarge { encoding: self, limit });
                }
                dst.extend_from_slice(src);
                Ok(())
            }
            Encoding::Gzip => self.read_all(flate2::read::MultiGzDecoder::new(src), dst, limit),
            Encoding::Flate => self.read_all(flate2::read::DeflateDecoder::new(src), dst, limit),
            Encoding::Snappy => self.read_all(snap::read::FrameDecoder::new(src), dst, limit),
            Encoding::Lz4_64k | Encoding::Lz4_256k | Encoding::Lz4_1M | Encoding::Lz4_4M => {
                self.read_all(lz4_flex::frame::FrameDecoder::new(src), dst, limit)
            }
            Encoding::Zstd => {
                let dec = zstd::stream::read::Decoder::with_buffer(src)
                    .map_err(|source| CodecError::Corrupt { encoding: self, source })?;
                self.read_all(dec, dst, limit)
            }
        }
    }

    fn read_all(self, r: impl Read, dst: &mut Vec<u8>, limit: usize) -> Result<(), CodecError> {
        let start = dst.len();
        let mut r = r.take(limit as u64 + 1);
        r.read_to_end(dst).map_err(|source| CodecError::Corrupt { encoding: self, source })?;
        if dst.len() - start > limit {
            dst.truncate(start);
            return Err(CodecError::TooLarge { encoding: self, limit });
        }
        Ok(())
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
