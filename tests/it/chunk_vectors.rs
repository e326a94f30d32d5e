//! Golden tests: every chunk Grafana Loki wrote in `../shared/vectors/loki`
//! decodes to exactly the entries listed beside it, and re-encoding the same
//! entries reproduces Loki's block contents.

use bytes::Bytes;
use lokistore::{Chunk, ChunkConfig, ChunkFormat, Direction, Encoding};

use crate::support::{ExpectedEntry, chunk_files, expected_entries, unwrap_object, vectors_dir};

fn sorted_metadata(e: &ExpectedEntry) -> Vec<(String, String)> {
    let mut m = e.metadata.clone();
    m.sort();
    m
}

fn decode_file(rel: &str) -> Chunk {
    let obj = std::fs::read(vectors_dir().join(rel)).expect("read chunk object");
    let data = unwrap_object(&obj).to_vec();
    Chunk::from_bytes(Bytes::from(data)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_loki_chunk_decodes_to_its_entries_both_directions() {
    let files = chunk_files();
    assert_eq!(files.len(), 33);
    for f in files {
        let rel = f["path"].as_str().unwrap();
        let chunk = decode_file(rel);
        let expected = expected_entries(f["expected_entries"].as_str().unwrap());
        assert_eq!(chunk.format(), ChunkFormat::V4, "{rel}");
        assert_eq!(chunk.encoding().name(), f["encoding"].as_str().unwrap(), "{rel}");
        assert_eq!(chunk.num_blocks() as u64, f["blocks"].as_u64().unwrap(), "{rel}");
        assert_eq!(chunk.num_entries() as u64, f["entries"].as_u64().unwrap(), "{rel}");
        assert_eq!(chunk.corrupt_blocks(), 0);
        let (lo, hi) = chunk.bounds().unwrap();
        assert_eq!(lo, f["first_ts_ns"].as_i64().unwrap());
        assert_eq!(hi, f["last_ts_ns"].as_i64().unwrap());

        let forward = chunk.entries(i64::MIN, i64::MAX, Direction::Forward).unwrap();
        assert_eq!(forward.len(), expected.len(), "{rel}");
        for (got, want) in forward.iter().zip(&expected) {
            assert_eq!(got.timestamp, want.ts, "{rel}");
            assert_eq!(std::str::from_utf8(&got.line).unwrap(), want.line, "{rel}");
            let md: Vec<(String, String)> = got.metadata.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
            assert_eq!(md, sorted_metadata(want), "{rel}");
        }
        let mut backward = chunk.entries(i64::MIN, i64::MAX, Direction::Backward).unwrap();
        backward.reverse();
        assert_eq!(backward, forward, "{rel}");
    }
}

#[test]
fn time_range_is_half_open_and_skips_blocks() {
    for f in chunk_files().into_iter().filter(|f| f["blocks"] == 2) {
        let chunk = decode_file(f["path"].as_str().unwrap());
        let all = chunk.entries(i64::MIN, i64::MAX, Direction::Forward).unwrap();
        let from = all[10].timestamp;
        let through = all[all.len() - 10].timestamp;
        let some = chunk.entries(from, through, Direction::Forward).unwrap();
        let want: Vec<_> = all.iter().filter(|e| e.timestamp >= from && e.timestamp < through).cloned().collect();
        assert_eq!(some, want);
        let mut back = chunk.entries(from, through, Direction::Backward).unwrap();
        back.reverse();
        assert_eq!(back, want);
    }
}

/// Rebuilding each chunk from its entries (in stored order, Loki's default
/// block and target sizes) gives the same block boundaries, block metas and
/// uncompressed block bytes as Loki; for `none` the whole chunk is identical.
#[test]
fn reencoding_matches_loki_blocks() {
    for f in chunk_files() {
        let rel = f["path"].as_str().unwrap();
        let enc: Encoding = f["encoding"].as_str().unwrap().parse().unwrap();
        let loki = decode_file(rel);
        let expected = expected_entries(f["expected_entries"].as_str().unwrap());
        let mut ours = Chunk::new(ChunkConfig::new(ChunkFormat::V4, enc)).unwrap();
        for e in &expected {
            let md: Vec<(&str, &str)> = e.metadata.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            assert!(ours.space_for(e.line.as_bytes(), &md), "{rel}: Loki kept this entry in one chunk");
            ours.append(e.ts, e.line.as_bytes(), &md).unwrap();
        }
        ours.close().unwrap();
        let ours_bytes = ours.to_bytes().unwrap();
        let obj = std::fs::read(vectors_dir().join(rel)).unwrap();
        let loki_bytes = unwrap_object(&obj);
        let ours_dec = Chunk::from_bytes(Bytes::from(ours_bytes.clone())).unwrap();
        assert_eq!(ours_dec.num_blocks(), loki.num_blocks(), "{rel}");
        assert_eq!(block_payloads(&ours_dec), block_payloads(&loki), "{rel}: uncompressed block bytes differ");
        assert_eq!(block_metas(&ours_dec), block_metas(&loki), "{rel}: block metas differ");
        if enc == Encoding::None {
            assert_eq!(ours_bytes, loki_bytes, "{rel}: none chunk not byte-identical");
        }
    }
}

fn block_payloads(c: &Chunk) -> Vec<Vec<u8>> {
    (0..c.num_blocks()).map(|i| c.decompressed_block(i).unwrap().unwrap()).collect()
}

/// Block metas without the codec-dependent compressed length and CRC.
fn block_metas(c: &Chunk) -> Vec<(usize, i64, i64, usize)> {
    c.block_infos().iter().map(|b| (b.entries, b.mint, b.maxt, b.uncompressed_size)).collect()
}
