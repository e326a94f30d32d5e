//! Property tests: whatever is appended to a chunk reads back exactly, in
//! every encoding and writable format, compared with a naive model of Loki's
//! rules (stable timestamp order, per-head-block duplicate dropping, cut at
//! the block size, reorder on close).

use bytes::Bytes;
use lokistore::{Chunk, ChunkConfig, ChunkFormat, Direction, Encoding, HeadFormat};
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct E {
    ts: i64,
    line: Vec<u8>,
    md: Vec<(String, String)>,
}

/// A naive model of a chunk.
struct Model {
    format: ChunkFormat,
    block_size: usize,
    blocks: Vec<Vec<E>>,
    head: Vec<E>,
    head_size: usize,
}

impl Model {
    fn new(format: ChunkFormat, block_size: usize) -> Self {
        Self { format, block_size, blocks: Vec::new(), head: Vec::new(), head_size: 0 }
    }

    fn append(&mut self, mut e: E) -> bool {
        if self.format != ChunkFormat::V4 {
            e.md.clear();
        }
        e.md.sort();
        let unordered = self.format != ChunkFormat::V2;
        if unordered && self.head.contains(&e) {
            return false;
        }
        self.head_size += e.line.len() + if self.format == ChunkFormat::V4 { 8 * e.md.len() } else { 0 };
        self.head.push(e);
        if self.head_size >= self.block_size {
            self.cut();
        }
        true
    }

    fn cut(&mut self) {
        if self.head.is_empty() {
            return;
        }
        let mut h = std::mem::take(&mut self.head);
        h.sort_by_key(|e| e.ts);
        self.blocks.push(h);
        self.head_size = 0;
    }

    fn all_sorted(&self) -> Vec<E> {
        let mut all: Vec<E> = self.blocks.iter().flatten().cloned().collect();
        let mut h = self.head.clone();
        h.sort_by_key(|e| e.ts);
        all.extend(h);
        all.sort_by_key(|e| e.ts);
        all
    }

    fn close(&mut self) {
        self.cut();
        let overlap = self.blocks.windows(2).any(|w| w[1][0].ts < w[0].last().unwrap().ts);
        if overlap {
            let all = self.all_sorted();
            *self = Model::new(self.format, self.block_size);
            for e in all {
                self.append(e);
            }
            self.cut();
        }
    }
}

fn read_all(c: &Chunk, dir: Direction) -> Vec<E> {
    c.entries(i64::MIN, i64::MAX, dir)
        .unwrap()
        .into_iter()
        .map(|e| E {
            ts: e.timestamp,
            line: e.line.to_vec(),
            md: e.metadata.into_iter().map(|l| (l.name, l.value)).collect(),
        })
        .collect()
}

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => "[a-z =\"{}:,0-9]{0,60}".prop_map(String::into_bytes),
        2 => "\\PC{0,20}".prop_map(String::into_bytes),
        1 => Just(Vec::new()),
        1 => Just(b"dup line".to_vec()),
    ]
}

fn md_strategy() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-c][a-z0-9]{0,6}", "\\PC{0,8}", 0..3).prop_map(|m| m.into_iter().collect())
}

fn entries_strategy() -> impl Strategy<Value = Vec<E>> {
    prop::collection::vec(
        (0i64..50, line_strategy(), md_strategy()).prop_map(|(ts, line, md)| E { ts: 1_000 + ts * 7, line, md }),
        0..120,
    )
}

fn encoding_strategy() -> impl Strategy<Value = Encoding> {
    prop::sample::select(Encoding::ALL.to_vec())
}

fn check(format: ChunkFormat, enc: Encoding, block_size: usize, entries: Vec<E>) {
    let cfg = ChunkConfig::new(format, enc).with_block_size(block_size);
    let mut chunk = Chunk::new(cfg).unwrap();
    let mut model = Model::new(format, block_size);
    for e in &entries {
        let md: Vec<(&str, &str)> = e.md.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let stored = chunk.append(e.ts, &e.line, &md).unwrap() == lokistore::AppendOutcome::Appended;
        assert_eq!(stored, model.append(e.clone()), "duplicate decision differs for {e:?}");
    }
    // A live chunk (blocks + head, possibly overlapping) iterates in order.
    assert_eq!(read_all(&chunk, Direction::Forward), model.all_sorted());

    // Checkpoint round trip keeps blocks and head.
    let (cp_chunk, cp_head) = chunk.to_checkpoint().unwrap();
    let restored =
        Chunk::from_checkpoint(Bytes::from(cp_chunk.clone()), &cp_head, cfg.head_format, block_size, cfg.target_size)
            .unwrap();
    assert_eq!(read_all(&restored, Direction::Forward), model.all_sorted());
    let (again_chunk, again_head) = restored.to_checkpoint().unwrap();
    assert_eq!((again_chunk, again_head), (cp_chunk, cp_head));

    chunk.close().unwrap();
    model.close();
    let bytes = chunk.to_bytes().unwrap();
    let decoded = Chunk::from_bytes(Bytes::from(bytes)).unwrap();
    let want = model.all_sorted();
    assert_eq!(decoded.num_blocks(), model.blocks.len());
    assert_eq!(decoded.num_entries(), want.len());
    assert_eq!(read_all(&decoded, Direction::Forward), want);
    let mut back = read_all(&decoded, Direction::Backward);
    back.reverse();
    assert_eq!(back, want);

    // Rewrite keeps exactly the entries the filter keeps.
    let keep = |line: &[u8]| line.len().is_multiple_of(2);
    let kept: Vec<E> = want.iter().filter(|e| keep(&e.line)).cloned().collect();
    match decoded.rewrite(|e| keep(e.line)) {
        Ok(rewritten) => {
            let rb = Chunk::from_bytes(Bytes::from(rewritten.to_bytes().unwrap())).unwrap();
            assert_eq!(read_all(&rb, Direction::Forward), kept);
        }
        Err(lokistore::ChunkError::NoDataLeft) => assert!(kept.is_empty()),
        Err(e) => panic!("rewrite failed: {e}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn v4_round_trips(enc in encoding_strategy(), block_size in prop::sample::select(vec![16usize, 200, 1 << 18]), entries in entries_strategy()) {
        check(ChunkFormat::V4, enc, block_size, entries);
    }

    #[test]
    fn v3_round_trips(enc in encoding_strategy(), block_size in prop::sample::select(vec![16usize, 300]), entries in entries_strategy()) {
        check(ChunkFormat::V3, enc, block_size, entries);
    }

    #[test]
    fn v2_ordered_round_trips(enc in encoding_strategy(), block_size in prop::sample::select(vec![16usize, 300]), mut entries in entries_strategy()) {
        entries.sort_by_key(|e| e.ts);
        check(ChunkFormat::V2, enc, block_size, entries);
    }
}

#[test]
fn one_mebibyte_lines_in_every_encoding() {
    let big: Vec<u8> =
        (0..(1 << 20)).map(|i: u32| b"abcdefghij klmnop\n"[(i % 18) as usize] ^ (i >> 13) as u8).collect();
    for enc in Encoding::ALL {
        let entries = vec![
            E { ts: 5, line: big.clone(), md: vec![("trace_id".into(), "x".into())] },
            E { ts: 1, line: Vec::new(), md: vec![] },
            E { ts: 3, line: big[..1000].to_vec(), md: vec![] },
        ];
        check(ChunkFormat::V4, enc, 1 << 18, entries);
    }
}

#[test]
fn ordered_head_rejects_out_of_order() {
    let mut c = Chunk::new(ChunkConfig::new(ChunkFormat::V2, Encoding::Gzip)).unwrap();
    assert_eq!(c.config().head_format, HeadFormat::Ordered);
    c.append(10, b"a", &[]).unwrap();
    assert!(matches!(c.append(9, b"b", &[]), Err(lokistore::ChunkError::OutOfOrder { .. })));
    c.cut().unwrap();
    assert!(c.append(9, b"b", &[]).is_err(), "below the last block's maxt with an empty head");
}
