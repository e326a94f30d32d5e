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
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | [`Encoding`], [`CodecError`], dispatch to the containers |
//! | `gzip.rs` | gzip members and raw DEFLATE (`gzip`, `flate`) |
//! | `lz4.rs` | LZ4 frames (`lz4-*`) |
//! | `xxh32.rs` | XXH32, the LZ4 frame checksums |
//! | `snappy.rs` | the snappy framing format (`snappy`; also the stored-object metadata, `crate::object`) |
//! | `zstd.rs` | Zstandard frames (`zstd`) |
//! | `shared.rs` | the limit-checked output buffer, per-thread context cache |

#![deny(clippy::indexing_slicing, clippy::unwrap_used)]

mod gzip;
mod lz4;
mod shared;
mod snappy;
#[cfg(test)]
mod test_data;
mod xxh32;
mod zstd;

use std::fmt;
use std::str::FromStr;

use shared::Output;

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
            Encoding::Gzip => gzip::gzip_compress(src, dst),
            Encoding::Flate => gzip::deflate_raw(src, dst),
            Encoding::Snappy => snappy::compress(src, dst),
            Encoding::Lz4_64k | Encoding::Lz4_256k | Encoding::Lz4_1M | Encoding::Lz4_4M => {
                lz4::compress(self.lz4_bd().unwrap_or(0x40), src, dst)
            }
            Encoding::Zstd => zstd::compress(src, dst),
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
            Encoding::Gzip => gzip::gzip_decompress(src, &mut out),
            Encoding::Flate => gzip::flate_decompress(src, &mut out),
            Encoding::Snappy => snappy::decompress(src, &mut out),
            Encoding::Lz4_64k | Encoding::Lz4_256k | Encoding::Lz4_1M | Encoding::Lz4_4M => {
                lz4::decompress(src, &mut out)
            }
            Encoding::Zstd => zstd::decompress(src, &mut out),
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
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use std::io::Read;

    use proptest::prelude::*;

    use super::test_data::{LZ4, compress, decompress, random, text};
    use super::xxh32::xxh32;
    use super::{CodecError, Encoding, MAX_DECOMPRESSED_LEN};

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
