//! Tests: codec. Every chunk object Loki wrote into `shared/vectors/loki`
//! is unwrapped by hand (storage wrapper, chunk header, footer) and each of
//! its compressed streams is decoded with lokistore's codecs: the blocks
//! (CRC32C and decompressed length against the manifest) and the
//! structured-metadata symbol payload, including the empty payloads of
//! chunks without metadata.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lokistore::Encoding;
use lokistore::chunk::MAX_DECOMPRESSED_LEN;
use serde_json::Value;

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared");

fn vectors() -> PathBuf {
    PathBuf::from(SHARED).join("vectors/loki")
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

fn be64(b: &[u8], at: usize) -> usize {
    usize::try_from(u64::from_be_bytes(b[at..at + 8].try_into().unwrap())).unwrap()
}

fn uvarint(b: &[u8], pos: &mut usize) -> u64 {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = b[*pos];
        *pos += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
    }
    panic!("uvarint too long");
}

fn decompress(enc: Encoding, stream: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    enc.decompress(stream, &mut out, MAX_DECOMPRESSED_LEN).unwrap_or_else(|e| panic!("{enc}: {e}"));
    out
}

/// Per encoding: chunks checked, blocks checked, chunks with and without symbols.
#[derive(Default, Debug)]
struct Seen {
    chunks: usize,
    blocks: usize,
    with_symbols: usize,
    without_symbols: usize,
}

#[test]
fn loki_chunks_decode_with_every_codec() {
    let dir = vectors();
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for file in manifest["files"].as_array().unwrap().iter().filter(|f| f["kind"] == "chunk") {
        let path = file["path"].as_str().unwrap();
        let name = file["encoding"].as_str().unwrap();
        let enc: Encoding = name.parse().unwrap();
        let obj = std::fs::read(dir.join(path)).unwrap();

        // Storage wrapper (spec §9.1): metaLen includes its own 4 bytes.
        let meta_len = be32(&obj, 0);
        let json = decompress(Encoding::Snappy, &obj[4..meta_len]);
        assert_eq!(json.last(), Some(&b'\n'), "{path}");
        let meta: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(meta["userID"], file["tenant"], "{path}");
        let data_len = be32(&obj, meta_len);
        let chunk = &obj[meta_len + 4..];
        assert_eq!(chunk.len(), data_len, "{path}");

        // Chunk header (§5): magic, format 4, the encoding byte.
        assert_eq!(chunk[..4], [0x01, 0x2e, 0xe5, 0x6a], "{path}");
        assert_eq!(u64::from(chunk[4]), file["format_version"].as_u64().unwrap(), "{path}");
        assert_eq!(chunk[4], 4, "{path}: the vectors are format v4");
        assert_eq!(chunk[5], enc.to_byte(), "{path}");

        // Blocks: stored bytes at offset, followed by their CRC32C.
        let stats = seen.entry(name.to_owned()).or_default();
        stats.chunks += 1;
        for block in file["blocks_detail"].as_array().unwrap() {
            let offset = block["offset"].as_u64().unwrap() as usize;
            let stored = block["stored_bytes"].as_u64().unwrap() as usize;
            let crc = u32::from_str_radix(block["crc32c"].as_str().unwrap(), 16).unwrap();
            let bytes = &chunk[offset..offset + stored];
            assert_eq!(crc32c::crc32c(bytes), crc, "{path} block @{offset}");
            assert_eq!(be32(chunk, offset + stored), crc as usize, "{path} block @{offset}");
            let plain = decompress(enc, bytes);
            assert_eq!(plain.len() as u64, block["uncompressed_bytes"].as_u64().unwrap(), "{path} @{offset}");
            // Our encoder's stream of the same bytes decodes back to them.
            let mut again = Vec::new();
            enc.compress(&plain, &mut again).unwrap();
            assert_eq!(decompress(enc, &again), plain, "{path} @{offset} re-encoded");
            stats.blocks += 1;
        }

        // Footer (§5.1): smLen, smOffset, metasLen, metasOffset.
        let end = chunk.len();
        let (sm_len, sm_offset) = (be64(chunk, end - 32), be64(chunk, end - 24));
        assert_eq!(sm_offset, 6, "{path}");
        let section = &chunk[sm_offset..sm_offset + sm_len];
        assert_eq!(crc32c::crc32c(section), be32(chunk, sm_offset + sm_len) as u32, "{path}");
        let first_block = file["blocks_detail"][0]["offset"].as_u64().unwrap() as usize;
        assert_eq!(first_block, sm_offset + sm_len + 4, "{path}");

        // Symbols (§6): uncompressed count, then one compressed payload that
        // runs to the section end (present even for zero symbols).
        let mut pos = 0;
        let count = uvarint(section, &mut pos);
        let payload = &section[pos..];
        let symbols = decompress(enc, payload);
        let mut at = 0;
        for _ in 0..count {
            let len = uvarint(&symbols, &mut at) as usize;
            assert!(std::str::from_utf8(&symbols[at..at + len]).is_ok(), "{path}");
            at += len;
        }
        assert_eq!(at, symbols.len(), "{path}: symbol payload fully used");
        let with_metadata = file["entries_with_structured_metadata"].as_u64().unwrap() > 0;
        assert_eq!(count > 0, with_metadata, "{path}");
        if count == 0 {
            stats.without_symbols += 1;
            // Loki's empty payload is the codec's complete empty stream; ours
            // is byte-identical except zstd (different encoder, both valid).
            let mut empty = Vec::new();
            enc.compress(b"", &mut empty).unwrap();
            if enc == Encoding::Zstd {
                assert_eq!(payload.len(), empty.len(), "{path}");
            } else {
                assert_eq!(payload, &empty[..], "{path}");
            }
        } else {
            stats.with_symbols += 1;
        }
    }

    // Every codec is covered, with and without structured metadata.
    assert_eq!(seen.len(), Encoding::ALL.len(), "{seen:?}");
    for (name, stats) in &seen {
        assert!(stats.blocks >= stats.chunks, "{name}: {stats:?}");
        assert!(stats.with_symbols > 0 && stats.without_symbols > 0, "{name}: {stats:?}");
    }
}

/// Loki's block streams, truncated anywhere or with a byte changed, never
/// make a decoder panic or exceed its limit.
#[test]
fn damaged_loki_blocks_fail_cleanly() {
    let dir = vectors();
    let manifest: Value = serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let mut done = BTreeMap::new();
    for file in manifest["files"].as_array().unwrap().iter().filter(|f| f["kind"] == "chunk") {
        let name = file["encoding"].as_str().unwrap();
        if done.insert(name.to_owned(), ()).is_some() {
            continue; // one chunk per codec keeps this quick
        }
        let enc: Encoding = name.parse().unwrap();
        let obj = std::fs::read(dir.join(file["path"].as_str().unwrap())).unwrap();
        let meta_len = be32(&obj, 0);
        let chunk = &obj[meta_len + 4..];
        let block = &file["blocks_detail"][0];
        let offset = block["offset"].as_u64().unwrap() as usize;
        let stored = &chunk[offset..offset + block["stored_bytes"].as_u64().unwrap() as usize];
        let plain_len = block["uncompressed_bytes"].as_u64().unwrap() as usize;
        let step = (stored.len() / 97).max(1);
        for cut in (0..stored.len()).step_by(step) {
            let mut out = Vec::new();
            match enc.decompress(&stored[..cut], &mut out, plain_len) {
                Ok(()) => assert!(out.len() < plain_len || enc == Encoding::None, "{name}: prefix {cut}"),
                Err(_) => assert!(out.is_empty()),
            }
        }
        for at in (0..stored.len()).step_by(step) {
            let mut damaged = stored.to_vec();
            damaged[at] = damaged[at].wrapping_add(0x5b);
            let mut out = Vec::new();
            if enc.decompress(&damaged, &mut out, plain_len).is_ok() {
                assert!(out.len() <= plain_len, "{name}: byte {at}");
            }
        }
    }
}
