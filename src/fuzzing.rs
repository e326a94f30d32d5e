//! Fuzz harness bodies (`internals` feature), shared by the cargo-fuzz
//! targets in `fuzz/fuzz_targets/` and the corpus replay test
//! (`tests/it/fuzz_corpus.rs`), so every committed corpus and crash input is
//! also a regression test.
//!
//! | target | input | checks |
//! |---|---|---|
//! | [`chunk_reader`] | a serialized chunk (also retried with its CRCs repaired) | decode never panics; iteration forward = backward reversed; entries agree with a naive per-block parser; sub-ranges; rewrite, serialize, checkpoint and close round trips |
//! | [`object_reader`] | a stored chunk object, or object keys / paths as text | object decode and re-encode round trip; key parse / print / filesystem-path round trips; the object's chunk as in `chunk_reader` |
//! | [`checkpoint_reader`] | `desired head`, `block size`, `BE16 len`, head part (`len` bytes), chunk part | restoring a WAL checkpoint never panics; its entries agree with naive parsers of both parts; the same round trips as `chunk_reader` |
//! | [`chunk_roundtrip`] | a program of appends, cuts and checkpoints | the chunk behaves like a naive model: timestamp order with stable ties, Loki's duplicate rule per head block, rejections, block boundaries; closing, serializing and decoding keep exactly the model's entries |
//! | [`logql_parser`] | a LogQL query (bytes as lossy UTF-8) | parsing never panics; an accepted query prints canonical text that parses to an equal tree and prints the same again (trees with NaN/infinite literals excepted: Loki prints them as `NaN`/`+Inf`) |
//!
//! Every function accepts any input. It panics only when lokistore breaks
//! one of the invariants above (or panics itself): that is a bug.
//!
//! Invariants that do **not** hold for arbitrary bytes, and are therefore
//! only checked for chunks this module can prove well formed: a block's
//! stored entry count and time bounds (block metas are not cross-checked
//! against block contents), timestamp order across blocks, and sub-range
//! queries skipping blocks by their stored bounds. Chunks whose blocks
//! decompress to more than 8 MiB only get streaming checks (forward and
//! backward counts), so the harness itself stays within a small multiple of
//! lokistore's own memory use.

use std::collections::HashSet;

use bytes::Bytes;

use crate::chunk::{AppendOutcome, BlockInfo};
use crate::encoding::crc32c;
use crate::{
    Chunk, ChunkConfig, ChunkError, ChunkFormat, ChunkKey, ChunkObject, Direction, Encoding, Entry, HeadFormat,
    TenantId,
};

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// Decodes `data` as a serialized chunk and checks everything that can be
/// checked about the result; then does the same with the chunk's CRCs
/// repaired, so mutations get past the checksums.
///
/// # Panics
///
/// Only when lokistore breaks an invariant (see the module docs).
pub fn chunk_reader(data: &[u8]) {
    check_serialized_chunk(data);
    if let Some(fixed) = repair_crcs(data) {
        check_serialized_chunk(&fixed);
    }
}

/// Decodes `data` as a stored chunk object (and its chunk), and parses every
/// line of `data` (as lossy UTF-8) as an object key and as a filesystem path.
///
/// # Panics
///
/// Only when lokistore breaks an invariant (see the module docs).
pub fn object_reader(data: &[u8]) {
    if let Ok(obj) = ChunkObject::decode(Bytes::copy_from_slice(data)) {
        check_object(&obj);
        chunk_reader(&obj.data);
    }
    let text = String::from_utf8_lossy(data);
    for line in text.split('\n').take(8) {
        if let Ok(key) = ChunkKey::parse(line) {
            check_key(&key);
        }
        if let Ok(key) = ChunkKey::from_fs_path(line) {
            check_key(&key);
        }
    }
}

/// Restores a live chunk from a WAL checkpoint.
///
/// Input layout: byte 0 selects the desired head format, byte 1 the block
/// size, bytes 2..4 are a big-endian length `n`, then `n` bytes of head part
/// and the rest is the chunk part. The restore is repeated with the chunk
/// part's CRCs repaired.
///
/// # Panics
///
/// Only when lokistore breaks an invariant (see the module docs).
pub fn checkpoint_reader(data: &[u8]) {
    let mut r = Reader::new(data);
    let desired =
        [HeadFormat::UnorderedWithMetadata, HeadFormat::Unordered, HeadFormat::Ordered][usize::from(r.u8() % 3)];
    let block_size = BLOCK_SIZES[usize::from(r.u8()) % BLOCK_SIZES.len()];
    let head_len = usize::from(r.u16());
    let head = r.bytes(head_len).to_vec();
    let chunk_part = r.rest();
    check_checkpoint(chunk_part, &head, desired, block_size);
    if let Some(fixed) = repair_crcs(chunk_part) {
        check_checkpoint(&fixed, &head, desired, block_size);
    }
}

/// Interprets `data` as a program of operations on a new chunk (appends
/// with arbitrary timestamps, lines and metadata, cuts, checkpoint round
/// trips, checks), runs it against both the chunk and a naive model, then
/// closes, serializes, decodes, rewrites and compares with the model.
///
/// Input layout: byte 0 picks format and head format, byte 1 the encoding,
/// byte 2 the block size, then one operation per opcode byte.
///
/// # Panics
///
/// Only when lokistore breaks an invariant (see the module docs).
pub fn chunk_roundtrip(data: &[u8]) {
    let mut r = Reader::new(data);
    let sel = r.u8();
    let (format, head_format) = match sel % 6 {
        0 => (ChunkFormat::V4, HeadFormat::UnorderedWithMetadata),
        1 => (ChunkFormat::V4, HeadFormat::Unordered),
        2 => (ChunkFormat::V4, HeadFormat::Ordered),
        3 => (ChunkFormat::V3, HeadFormat::Unordered),
        4 => (ChunkFormat::V3, HeadFormat::Ordered),
        _ => (ChunkFormat::V2, HeadFormat::Ordered),
    };
    let encoding = Encoding::ALL[usize::from(r.u8()) % Encoding::ALL.len()];
    let block_size = BLOCK_SIZES[usize::from(r.u8()) % BLOCK_SIZES.len()];
    let config = ChunkConfig::new(format, encoding).with_head_format(head_format).with_block_size(block_size);
    let mut chunk = Chunk::new(config).expect("every generated config is valid");
    let mut model = Model::new(head_format, block_size);
    let mut g = Generator::default();

    while !r.is_empty() {
        match r.u8() % 16 {
            0..=6 | 12..=15 => {
                let e = g.entry(&mut r);
                model_append(&mut chunk, &mut model, e);
            }
            7 => {
                // Re-append an earlier entry: duplicates within and across blocks.
                if !g.history.is_empty() {
                    let i = usize::from(r.u16()) % g.history.len();
                    let e = g.history[i].clone();
                    model_append(&mut chunk, &mut model, e);
                }
            }
            8 => {
                chunk.cut().expect("cut of a valid head");
                model.cut();
            }
            9 => {
                // A WAL checkpoint round trip changes nothing observable.
                let (cp, hp) = chunk.to_checkpoint().expect("checkpoint");
                chunk = Chunk::from_checkpoint(Bytes::from(cp), &hp, head_format, block_size, config.target_size)
                    .expect("restoring a checkpoint lokistore wrote");
                assert_eq!(*chunk.config(), config, "checkpoint changed the config");
            }
            10 => check_against_model(&chunk, &model, "live chunk"),
            _ => {
                let (from, through) = (g.timestamp(&mut r), g.timestamp(&mut r));
                check_range(&chunk, &model, from, through);
            }
        }
    }
    check_against_model(&chunk, &model, "before close");

    chunk.close().expect("closing a valid chunk");
    model.close();
    check_against_model(&chunk, &model, "closed");
    assert!(!chunk.has_unflushed_head());
    assert_eq!(chunk.compressed_size(), chunk.block_infos().iter().map(|b| b.compressed_len).sum::<usize>());
    let _ = (chunk.utilization(), chunk.uncompressed_size(), chunk.space_for(b"line", &[("k", "v")]));

    // Serialize and decode.
    let bytes = chunk.to_bytes().expect("serialize");
    let decoded = Chunk::from_bytes(Bytes::from(bytes.clone())).expect("decode what lokistore wrote");
    assert_eq!(decoded.corrupt_blocks(), 0);
    assert_eq!(decoded.format(), format);
    assert_eq!(decoded.encoding(), encoding);
    let mut want_infos = chunk.block_infos();
    if format < ChunkFormat::V3 {
        // v1/v2 block metas do not store the uncompressed size.
        want_infos.iter_mut().for_each(|b| b.uncompressed_size = 0);
    }
    assert_eq!(decoded.block_infos(), want_infos, "block metas after decode");
    check_against_model(&decoded, &model, "decoded");
    assert_eq!(decoded.to_bytes().expect("re-serialize"), bytes, "re-serialization is not stable");
    check_range(&decoded, &model, g.last_ts.saturating_sub(5), g.last_ts.saturating_add(5));

    // Rewrite without the entries selected by a seed.
    let seed = g.seed;
    let keep = |ts: i64, line: &[u8]| keep_entry(seed, ts, line);
    let expected: Vec<ModelEntry> = model.visible().into_iter().filter(|e| keep(e.ts, &e.line)).collect();
    let no_data_left = model.blocks.iter().all(|b| {
        let visible: Vec<_> = b.iter().filter(|e| e.ts != i64::MAX).collect();
        !visible.is_empty() && !visible.iter().any(|e| keep(e.ts, &e.line))
    });
    match decoded.rewrite(|e| keep(e.timestamp, e.line)) {
        Ok(rewritten) => {
            assert!(!no_data_left, "rewrite kept a chunk the model says is empty");
            let got = iter_entries(&rewritten, i64::MIN, i64::MAX, Direction::Forward).expect("iterate rewritten");
            assert_entries_eq(&got, &expected, model.head_format, "rewritten");
            let back = Chunk::from_bytes(Bytes::from(rewritten.to_bytes().expect("serialize rewritten")))
                .expect("decode rewritten");
            let got = iter_entries(&back, i64::MIN, i64::MAX, Direction::Forward).expect("iterate rewritten");
            assert_entries_eq(&got, &expected, model.head_format, "rewritten and decoded");
        }
        Err(ChunkError::NoDataLeft) => assert!(no_data_left, "rewrite dropped a chunk with {} entries", expected.len()),
        Err(e) => panic!("rewrite failed: {e}"),
    }

    // And everything `chunk_reader` checks.
    check_serialized_chunk(&bytes);
}

/// Parses `data` as a LogQL query and checks the canonical-text round trip.
///
/// # Panics
///
/// Only when lokistore breaks an invariant (see the module docs).
pub fn logql_parser(data: &[u8]) {
    use crate::logql::{Expr, SampleExpr, parse_expr};

    fn non_finite(e: &SampleExpr) -> bool {
        match e {
            SampleExpr::Literal(v) | SampleExpr::Vector(v) => !v.is_finite(),
            SampleExpr::BinaryOp(b) => non_finite(&b.lhs) || non_finite(&b.rhs),
            SampleExpr::VectorAggregation(v) => non_finite(&v.expr),
            SampleExpr::LabelReplace(l) => non_finite(&l.expr),
            SampleExpr::RangeAggregation(_) => false,
        }
    }

    let query = String::from_utf8_lossy(data);
    let expr = match parse_expr(&query) {
        Ok(expr) => expr,
        Err(err) => {
            let _ = (err.to_string(), err.loki_message());
            return;
        }
    };
    if matches!(&expr, Expr::Sample(s) if non_finite(s)) {
        return;
    }
    let text = expr.to_string();
    let again = parse_expr(&text).unwrap_or_else(|e| panic!("canonical {text:?} of {query:?} does not parse: {e}"));
    assert_eq!(again, expr, "canonical {text:?} of {query:?} parses to another tree");
    assert_eq!(again.to_string(), text, "canonical text of {query:?} is not stable");
}

// ---------------------------------------------------------------------------
// Generic chunk checks
// ---------------------------------------------------------------------------

/// An entry as a comparable tuple, metadata sorted.
type EntryKey = (i64, Vec<u8>, Vec<(String, String)>);

fn entry_key(e: &Entry) -> EntryKey {
    let mut md: Vec<(String, String)> = e.metadata.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
    md.sort();
    (e.timestamp, e.line.to_vec(), md)
}

fn sorted_keys(entries: &[Entry]) -> Vec<EntryKey> {
    let mut keys: Vec<EntryKey> = entries.iter().map(entry_key).collect();
    keys.sort();
    keys
}

/// Collects `[from, through)` with the lending iterator.
fn iter_entries(chunk: &Chunk, from: i64, through: i64, dir: Direction) -> Result<Vec<Entry>, ChunkError> {
    let mut out = Vec::new();
    let mut it = chunk.iter(from, through, dir);
    while let Some(e) = it.next() {
        match e {
            Ok(e) => {
                assert!(
                    e.timestamp >= from && e.timestamp < through,
                    "entry {} outside [{from}, {through})",
                    e.timestamp
                );
                assert_eq!(e.metadata().count(), e.metadata_len());
                out.push(e.to_entry());
            }
            Err(err) => {
                assert!(it.next().is_none(), "iterator continued after an error");
                return Err(err);
            }
        }
    }
    Ok(out)
}

/// Forward (lending iterator) and backward ([`Chunk::entries`]) over
/// `[from, through)`: both fail, or both succeed with the same entries in
/// reverse order.
fn forward_and_backward(chunk: &Chunk, from: i64, through: i64) -> Result<Vec<Entry>, ChunkError> {
    let fwd = iter_entries(chunk, from, through, Direction::Forward);
    let bwd = chunk.entries(from, through, Direction::Backward);
    match (fwd, bwd) {
        (Ok(f), Ok(mut b)) => {
            b.reverse();
            assert!(f == b, "backward iteration is not forward reversed");
            Ok(f)
        }
        (Err(e), Err(_)) => Err(e),
        (f, b) => panic!("forward ok: {}, backward ok: {}", f.is_ok(), b.is_ok()),
    }
}

/// Statistics that must be computable (and consistent) for any chunk.
fn check_stats(chunk: &Chunk) {
    let infos = chunk.block_infos();
    assert_eq!(infos.len(), chunk.num_blocks());
    assert_eq!(chunk.compressed_size(), infos.iter().map(|b| b.compressed_len).sum::<usize>());
    let entries = chunk.num_entries();
    let sum_blocks = infos.iter().try_fold(0usize, |acc, b| acc.checked_add(b.entries));
    if let (false, Some(sum)) = (chunk.has_unflushed_head(), sum_blocks) {
        assert_eq!(entries, sum, "num_entries is not the sum of the block metas");
    }
    let _ = (chunk.uncompressed_size(), chunk.utilization(), chunk.space_for(b"x", &[("a", "b")]));
    if !chunk.has_unflushed_head() {
        assert_eq!(chunk.is_empty(), infos.is_empty());
        let want = infos.iter().map(|b| (b.mint, b.maxt)).reduce(|(a, b), (c, d)| (a.min(c), b.max(d)));
        assert_eq!(chunk.bounds(), want, "bounds disagree with block metas");
    }
    for i in 0..chunk.num_blocks() {
        assert!(chunk.decompressed_block(i).is_some());
    }
    assert!(chunk.decompressed_block(chunk.num_blocks()).is_none());
}

/// Checks of a decoded (or restored) chunk: iteration, an oracle when one is
/// given, round trips through serialization, rewrite, checkpoint and close.
fn check_chunk(chunk: &Chunk, oracle: Option<&Oracle>, range: (i64, i64)) {
    check_stats(chunk);
    let all = forward_and_backward(chunk, i64::MIN, i64::MAX);
    if let Some(oracle) = oracle {
        oracle.check(chunk, &all);
    }
    let Ok(all) = all else {
        // Iteration fails: a rewrite must fail too, and serialization still works.
        assert!(chunk.rewrite(|_| true).is_err(), "rewrite decoded a block that iteration cannot");
        return;
    };

    // A sub-range holds a subset of the full range.
    let (from, through) = range;
    let part = forward_and_backward(chunk, from, through).expect("a sub-range fails where the full range did not");
    let in_range: Vec<Entry> = all.iter().filter(|e| e.timestamp >= from && e.timestamp < through).cloned().collect();
    if oracle.is_some_and(|o| o.well_formed) {
        assert_eq!(part, in_range, "sub-range [{from}, {through}) of a well-formed chunk");
    } else {
        let want = sorted_keys(&in_range);
        let got = sorted_keys(&part);
        assert!(is_sub_multiset(&got, &want), "sub-range returned entries the full range does not have");
    }

    // Serialization round trip of the cut blocks.
    if !chunk.has_unflushed_head() {
        let bytes = chunk.to_bytes().expect("serialize a decoded chunk");
        let back = Chunk::from_bytes(Bytes::from(bytes.clone())).expect("decode a re-serialized chunk");
        assert_eq!(back.corrupt_blocks(), 0);
        assert_eq!(back.format(), chunk.format());
        assert_eq!(back.encoding(), chunk.encoding());
        assert_eq!(back.num_blocks(), chunk.num_blocks());
        let again = iter_entries(&back, i64::MIN, i64::MAX, Direction::Forward).expect("iterate re-serialized");
        assert!(again == all, "entries changed through to_bytes / from_bytes");
        assert_eq!(back.to_bytes().expect("serialize"), bytes, "serialization is not stable");

        // Rewriting that keeps everything copies every block.
        match chunk.rewrite(|_| true) {
            Ok(same) => {
                assert_eq!(same.block_infos(), chunk.block_infos());
                assert_eq!(same.to_bytes().expect("serialize rewrite"), bytes, "keep-all rewrite changed bytes");
            }
            Err(ChunkError::NoDataLeft) => assert_eq!(chunk.num_blocks(), 0),
            Err(e) => panic!("keep-all rewrite failed after iteration succeeded: {e}"),
        }
    }

    // Rewriting without some entries removes exactly those.
    let seed = range.0 as u64 ^ 0x9e37_79b9;
    match chunk.rewrite(|e| keep_entry(seed, e.timestamp, e.line)) {
        Ok(smaller) => {
            let got = forward_and_backward(&smaller, i64::MIN, i64::MAX).expect("iterate a rewritten chunk");
            let want: Vec<Entry> = all.iter().filter(|e| keep_entry(seed, e.timestamp, &e.line)).cloned().collect();
            if oracle.is_some_and(|o| o.well_formed) {
                assert!(got == want, "rewrite of a well-formed chunk");
            } else {
                assert_eq!(sorted_keys(&got), sorted_keys(&want), "rewrite kept other entries");
            }
        }
        Err(ChunkError::NoDataLeft) => {
            assert!(!all.iter().any(|e| keep_entry(seed, e.timestamp, &e.line)), "rewrite dropped kept entries");
        }
        Err(e) => panic!("rewrite failed after iteration succeeded: {e}"),
    }

    // WAL checkpoint round trip.
    if chunk.format() != ChunkFormat::V1 {
        let (cp, hp) = chunk.to_checkpoint().expect("checkpoint a chunk");
        let config = *chunk.config();
        let restored =
            Chunk::from_checkpoint(Bytes::from(cp), &hp, config.head_format, config.block_size, config.target_size)
                .expect("restore a checkpoint lokistore wrote");
        let again =
            iter_entries(&restored, i64::MIN, i64::MAX, Direction::Forward).expect("iterate restored checkpoint");
        assert_eq!(sorted_keys(&again), sorted_keys(&all), "checkpoint round trip changed the entries");
        if oracle.is_some_and(|o| o.well_formed) {
            assert!(again == all, "checkpoint round trip changed the order");
        }
    }

    check_close(chunk, &all);
}

/// Closing keeps the set of distinct entries (a rebuild may drop identical
/// ones that end up in one head block, entries at `i64::MAX`, which no query
/// returns, and metadata when the head format has none), leaves the chunk
/// sorted, and serializes losslessly.
fn check_close(chunk: &Chunk, all: &[Entry]) {
    let mut closed = chunk.clone();
    closed.cut().expect("cut the head");
    let rebuild = closed.block_infos().windows(2).any(|w| w[1].mint < w[0].maxt);
    match closed.close() {
        Ok(()) => {}
        Err(ChunkError::TimestampOutOfRange(ts)) => {
            assert!(rebuild && chunk.config().head_format != HeadFormat::Ordered && ts < 0, "close rejected {ts}");
            return;
        }
        Err(e) => panic!("close failed after iteration succeeded: {e}"),
    }
    let got = forward_and_backward(&closed, i64::MIN, i64::MAX).expect("iterate closed chunk");
    if rebuild {
        assert!(got.windows(2).all(|w| w[0].timestamp <= w[1].timestamp), "rebuilt chunk is not sorted");
        assert!(!rebuilt(&closed), "rebuilt chunk has overlapping blocks");
        let mut want = sorted_keys(all);
        if chunk.config().head_format != HeadFormat::UnorderedWithMetadata {
            // The rebuild re-appends through a head that drops metadata.
            want.iter_mut().for_each(|k| k.2.clear());
            want.sort();
        }
        want.dedup();
        let mut have = sorted_keys(&got);
        assert!(have.len() <= all.len(), "close added entries");
        have.dedup();
        assert_eq!(have, want, "close changed the set of entries");
    } else {
        assert!(got == all, "close without rebuild changed the entries");
    }
    let bytes = closed.to_bytes().expect("serialize closed chunk");
    let back = Chunk::from_bytes(Bytes::from(bytes)).expect("decode closed chunk");
    let again = iter_entries(&back, i64::MIN, i64::MAX, Direction::Forward).expect("iterate decoded closed chunk");
    assert!(again == got, "closed chunk changed through to_bytes / from_bytes");
}

/// Whether `close` rebuilds this chunk (its blocks overlap in time).
fn rebuilt(chunk: &Chunk) -> bool {
    chunk.block_infos().windows(2).any(|w| w[1].mint < w[0].maxt)
}

fn is_sub_multiset(small: &[EntryKey], big: &[EntryKey]) -> bool {
    // Both sorted.
    let mut j = 0;
    for k in small {
        while j < big.len() && big[j] < *k {
            j += 1;
        }
        if j >= big.len() || big[j] != *k {
            return false;
        }
        j += 1;
    }
    true
}

/// Deterministic content-based predicate for rewrites.
fn keep_entry(seed: u64, ts: i64, line: &[u8]) -> bool {
    let mut h = seed ^ (ts as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in line {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h >> 63 == 0
}

fn check_serialized_chunk(data: &[u8]) {
    let Ok(chunk) = Chunk::from_bytes(Bytes::copy_from_slice(data)) else {
        return;
    };
    assert!(!chunk.has_unflushed_head());
    let oracle = Oracle::new(&chunk, &[]);
    if oracle.too_big {
        return check_streaming(&chunk);
    }
    let range = oracle.pick_range(data);
    check_chunk(&chunk, Some(&oracle), range);
}

/// Checks of a chunk too large to collect: forward and backward iteration
/// agree on success and on the number of entries.
fn check_streaming(chunk: &Chunk) {
    check_stats(chunk);
    let count = |dir| {
        let mut it = chunk.iter(i64::MIN, i64::MAX, dir);
        let mut n = 0usize;
        while let Some(e) = it.next() {
            if e.is_err() {
                return None;
            }
            n += 1;
        }
        Some(n)
    };
    assert_eq!(count(Direction::Forward), count(Direction::Backward), "forward and backward disagree");
}

fn check_checkpoint(chunk_part: &[u8], head: &[u8], desired: HeadFormat, block_size: usize) {
    let Ok(chunk) = Chunk::from_checkpoint(
        Bytes::copy_from_slice(chunk_part),
        head,
        desired,
        block_size,
        crate::chunk::DEFAULT_TARGET_SIZE,
    ) else {
        return;
    };
    let expected_head = naive_head(head, chunk.format(), desired);
    let Some(head_entries) = expected_head else {
        panic!("from_checkpoint accepted a head part the naive parser rejects");
    };
    let oracle = Oracle::new(&chunk, &head_entries);
    if oracle.too_big {
        return check_streaming(&chunk);
    }
    let range = oracle.pick_range(head);
    check_chunk(&chunk, Some(&oracle), range);

    // The restored chunk accepts appends.
    let mut live = chunk.clone();
    let ts = chunk.bounds().map_or(0, |(_, hi)| hi);
    let before = live.num_entries();
    match live.append(ts, b"appended after restore", &[("trace_id", "x")]) {
        Ok(AppendOutcome::Appended) => assert_eq!(live.num_entries(), before.wrapping_add(1)),
        Ok(AppendOutcome::Duplicate) => assert_eq!(live.num_entries(), before, "a duplicate was stored"),
        Err(ChunkError::TimestampOutOfRange(t)) => assert!(!(0..i64::MAX).contains(&t)),
        Err(e) => panic!("append after restore failed: {e}"),
    }
}

// ---------------------------------------------------------------------------
// Naive oracle: an independent parser of block payloads and head parts
// ---------------------------------------------------------------------------

/// An entry as parsed naively: timestamp, line, metadata pair count.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct RawEntry {
    ts: i64,
    line: Vec<u8>,
    pairs: Vec<(u64, u64)>,
}

/// Go's `binary.Uvarint`, written independently of `crate::encoding`.
fn naive_uvarint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut x = 0u64;
    for i in 0..10 {
        let b = *buf.get(*pos)?;
        *pos += 1;
        if b < 0x80 {
            if i == 9 && b > 1 {
                return None;
            }
            return Some(x | (u64::from(b) << (7 * i)));
        }
        x |= u64::from(b & 0x7f) << (7 * i);
    }
    None
}

fn naive_varint(buf: &[u8], pos: &mut usize) -> Option<i64> {
    let u = naive_uvarint(buf, pos)?;
    Some(((u >> 1) as i64) ^ -((u & 1) as i64))
}

fn naive_bytes<'a>(buf: &'a [u8], pos: &mut usize, len: u64) -> Option<&'a [u8]> {
    let end = pos.checked_add(usize::try_from(len).ok()?)?;
    let b = buf.get(*pos..end)?;
    *pos = end;
    Some(b)
}

/// Parses a decompressed block payload (spec §4).
fn naive_block(payload: &[u8], v4: bool) -> Option<Vec<RawEntry>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < payload.len() {
        let ts = naive_varint(payload, &mut pos)?;
        let len = naive_uvarint(payload, &mut pos)?;
        if len >= 1 << 30 {
            return None;
        }
        let line = naive_bytes(payload, &mut pos, len)?.to_vec();
        let mut pairs = Vec::new();
        if v4 {
            let sym_len = naive_uvarint(payload, &mut pos)?;
            let sym = naive_bytes(payload, &mut pos, sym_len)?;
            let mut p = 0;
            let n = naive_uvarint(sym, &mut p)?;
            for _ in 0..n {
                pairs.push((naive_uvarint(sym, &mut p)?, naive_uvarint(sym, &mut p)?));
            }
        }
        out.push(RawEntry { ts, line, pairs });
    }
    Some(out)
}

/// Parses a checkpoint head part (spec §8) into the entries the restored
/// head must hold, or `None` if it is invalid.
fn naive_head(head: &[u8], format: ChunkFormat, desired: HeadFormat) -> Option<Vec<RawEntry>> {
    let Some(&fb) = head.first() else {
        return Some(Vec::new());
    };
    let stored = match fb {
        0..=3 => HeadFormat::Ordered,
        4 => HeadFormat::Unordered,
        5 => HeadFormat::UnorderedWithMetadata,
        _ => return None,
    };
    let target = if stored == HeadFormat::Ordered { desired } else { stored };
    let mut pos = 1;
    let n = naive_uvarint(head, &mut pos)?;
    if stored == HeadFormat::Ordered {
        naive_uvarint(head, &mut pos)?;
        naive_varint(head, &mut pos)?;
        naive_varint(head, &mut pos)?;
    }
    let mut out: Vec<RawEntry> = Vec::new();
    let mut seen: HashSet<RawEntry> = HashSet::new();
    for _ in 0..n {
        let ts = naive_varint(head, &mut pos)?;
        let len = naive_uvarint(head, &mut pos)?;
        if len >= 1 << 30 {
            return None;
        }
        let line = naive_bytes(head, &mut pos, len)?.to_vec();
        let mut pairs = Vec::new();
        if stored == HeadFormat::UnorderedWithMetadata {
            let np = naive_uvarint(head, &mut pos)?;
            for _ in 0..np {
                pairs.push((naive_uvarint(head, &mut pos)?, naive_uvarint(head, &mut pos)?));
            }
        }
        if target != HeadFormat::UnorderedWithMetadata {
            pairs.clear();
        }
        let e = RawEntry { ts, line, pairs };
        if target != HeadFormat::Ordered {
            if !(0..i64::MAX).contains(&ts) {
                return None;
            }
            if !seen.insert(e.clone()) {
                continue;
            }
        }
        out.push(e);
    }
    let valid_combo = match format {
        ChunkFormat::V1 => false,
        ChunkFormat::V2 => target == HeadFormat::Ordered,
        ChunkFormat::V3 => target != HeadFormat::UnorderedWithMetadata,
        ChunkFormat::V4 => true,
    };
    (pos == head.len() && valid_combo).then_some(out)
}

/// What the naive parsers expect of a decoded chunk.
struct Oracle {
    /// Per block (in order): its metas and its naively parsed entries, or
    /// `None` when the block does not decompress or parse.
    blocks: Vec<(BlockInfo, Option<Vec<RawEntry>>)>,
    head: Vec<RawEntry>,
    /// Every block parses, holds its stored count of entries in ascending
    /// order within its stored bounds, blocks do not overlap, and the head
    /// is empty: then exact order and block skipping can be checked.
    well_formed: bool,
    /// The blocks decompress to more than [`MAX_CHECKED_PAYLOAD`] bytes:
    /// only streaming checks are done, so that the harness does not use
    /// much more memory than lokistore itself.
    too_big: bool,
}

/// Decompressed block bytes beyond which a chunk gets only streaming checks.
const MAX_CHECKED_PAYLOAD: usize = 8 << 20;

impl Oracle {
    fn new(chunk: &Chunk, head: &[RawEntry]) -> Self {
        let v4 = chunk.format() == ChunkFormat::V4;
        let mut payload_bytes = 0usize;
        let mut blocks: Vec<(BlockInfo, Option<Vec<RawEntry>>)> = Vec::new();
        for (i, info) in chunk.block_infos().into_iter().enumerate() {
            let parsed = match chunk.decompressed_block(i) {
                Some(Ok(payload)) => {
                    payload_bytes = payload_bytes.saturating_add(payload.len());
                    if payload_bytes > MAX_CHECKED_PAYLOAD {
                        return Self { blocks: Vec::new(), head: Vec::new(), well_formed: false, too_big: true };
                    }
                    naive_block(&payload, v4)
                }
                _ => None,
            };
            blocks.push((info, parsed));
        }
        let mut well_formed = head.is_empty();
        let mut last = i64::MIN;
        for (info, parsed) in &blocks {
            let Some(entries) = parsed else {
                well_formed = false;
                break;
            };
            well_formed &= entries.len() == info.entries;
            for e in entries {
                well_formed &= e.ts >= last && e.ts >= info.mint && e.ts <= info.maxt;
                last = e.ts;
            }
        }
        Self { blocks, head: head.to_vec(), well_formed, too_big: false }
    }

    fn parses(&self) -> bool {
        self.blocks.iter().all(|(_, p)| p.is_some())
    }

    /// Entries a full-range query returns, in stored order (`i64::MAX` is
    /// outside every `[from, through)`).
    fn visible(&self) -> Vec<&RawEntry> {
        self.blocks
            .iter()
            .flat_map(|(_, p)| p.iter().flatten())
            .chain(&self.head)
            .filter(|e| e.ts != i64::MAX)
            .collect()
    }

    fn check(&self, chunk: &Chunk, got: &Result<Vec<Entry>, ChunkError>) {
        let got = match got {
            Ok(got) => {
                assert!(self.parses(), "iteration succeeded over a block the naive parser rejects");
                got
            }
            Err(e) => {
                assert!(!self.parses(), "iteration failed ({e}) over blocks the naive parser accepts");
                return;
            }
        };
        let want = self.visible();
        let shape = |ts: i64, line: &[u8], n: usize| (ts, line.to_vec(), n);
        let mut got_shapes: Vec<_> = got.iter().map(|e| shape(e.timestamp, &e.line, e.metadata.len())).collect();
        let mut want_shapes: Vec<_> = want.iter().map(|e| shape(e.ts, &e.line, e.pairs.len())).collect();
        if self.well_formed {
            assert!(got_shapes == want_shapes, "entries of a well-formed chunk differ from the naive parse");
            let total: usize = self.blocks.iter().map(|(i, _)| i.entries).sum();
            assert_eq!(chunk.num_entries(), total);
        } else {
            got_shapes.sort();
            want_shapes.sort();
            assert!(got_shapes == want_shapes, "entries differ from the naive parse (as multisets)");
        }
    }

    /// A query range: from the input when it has spare bytes, else around
    /// the middle entry.
    fn pick_range(&self, data: &[u8]) -> (i64, i64) {
        let visible = self.visible();
        if visible.is_empty() {
            return (i64::MIN, i64::MAX);
        }
        let h = data.iter().fold(0usize, |h, &b| h.wrapping_mul(31).wrapping_add(usize::from(b)));
        let a = visible[h % visible.len()].ts;
        let b = visible[(h / 7) % visible.len()].ts;
        (a.min(b), a.max(b).saturating_add(1))
    }
}

/// Recomputes the CRCs of a serialized chunk (symbols, blocks, block metas)
/// so mutated inputs get past the checksums. `None` if nothing changed or
/// the layout cannot be followed.
fn repair_crcs(data: &[u8]) -> Option<Vec<u8>> {
    let mut out = data.to_vec();
    let total = out.len() as u64;
    let format = *out.get(4)?;
    let (metas_off, metas_len, sm) = if format == 4 {
        let f = total.checked_sub(32)?;
        let word = |i: u64| -> Option<u64> {
            let s = usize::try_from(f + 8 * i).ok()?;
            Some(u64::from_be_bytes(out.get(s..s + 8)?.try_into().ok()?))
        };
        (word(3)?, word(2)?, Some((word(1)?, word(0)?)))
    } else {
        let f = total.checked_sub(8)?;
        let s = usize::try_from(f).ok()?;
        let off = u64::from_be_bytes(out.get(s..s + 8)?.try_into().ok()?);
        (off, total.checked_sub(12)?.checked_sub(off)?, None)
    };
    let fix = |out: &mut Vec<u8>, off: u64, len: u64| -> Option<()> {
        let start = usize::try_from(off).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        let crc = crc32c(out.get(start..end)?);
        out.get_mut(end..end.checked_add(4)?)?.copy_from_slice(&crc.to_be_bytes());
        Some(())
    };
    if let Some((sm_off, sm_len)) = sm {
        let _ = fix(&mut out, sm_off, sm_len);
    }
    let ms = usize::try_from(metas_off).ok()?;
    let metas = out.get(ms..ms.checked_add(usize::try_from(metas_len).ok()?)?)?.to_vec();
    let mut pos = 0;
    let n = naive_uvarint(&metas, &mut pos)?;
    for _ in 0..n.min(10_000) {
        let _entries = naive_uvarint(&metas, &mut pos)?;
        naive_varint(&metas, &mut pos)?;
        naive_varint(&metas, &mut pos)?;
        let off = naive_uvarint(&metas, &mut pos)?;
        if format >= 3 {
            naive_uvarint(&metas, &mut pos)?;
        }
        let len = naive_uvarint(&metas, &mut pos)?;
        let _ = fix(&mut out, off, len);
    }
    fix(&mut out, metas_off, metas_len)?;
    (out != data).then_some(out)
}

// ---------------------------------------------------------------------------
// Objects and keys
// ---------------------------------------------------------------------------

fn check_object(obj: &ChunkObject) {
    let (bytes, key) = obj.encode().expect("an object decoded from memory fits in 4 GiB");
    assert_eq!(crc32c(&bytes), key.checksum, "key checksum is not the object's CRC");
    let back = ChunkObject::decode_verified(Bytes::from(bytes.clone()), &key).expect("decode an encoded object");
    assert_eq!(&back, obj, "object changed through encode / decode");
    assert_eq!(back.encode().expect("re-encoding a decoded object").0, bytes, "object encoding is not stable");
    if TenantId::new(obj.tenant.as_str()).is_ok() {
        check_key(&key);
    }
}

fn check_key(key: &ChunkKey) {
    let printed = key.to_string();
    assert_eq!(&ChunkKey::parse(&printed).expect("parse a printed key"), key, "key {printed}");
    let legacy = key.legacy_key();
    assert_eq!(&ChunkKey::parse(&legacy).expect("parse a legacy key"), key, "legacy key {legacy}");
    let path = key.to_fs_path();
    assert_eq!(&ChunkKey::from_fs_path(&path).expect("parse a filesystem path"), key, "path {path}");
    let path = key.to_legacy_fs_path();
    assert_eq!(&ChunkKey::from_fs_path(&path).expect("parse a legacy filesystem path"), key, "legacy path {path}");
}

// ---------------------------------------------------------------------------
// chunk_roundtrip: input reader, generator and model
// ---------------------------------------------------------------------------

/// Block sizes the targets choose from (bytes of Loki's head size counter).
const BLOCK_SIZES: [usize; 8] = [0, 1, 16, 64, 256, 1024, 4096, crate::chunk::DEFAULT_BLOCK_SIZE];

/// Reads fuzz input; past the end every read yields zeros.
struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.u8());
        u64::from_be_bytes(b)
    }

    fn bytes(&mut self, n: usize) -> &'a [u8] {
        let (a, b) = self.data.split_at(n.min(self.data.len()));
        self.data = b;
        a
    }

    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }
}

/// Metadata names with their read-time normalization (spec §6 examples).
const NAMES: [(&str, &str); 8] = [
    ("trace_id", "trace_id"),
    ("span_id", "span_id"),
    ("customer_tier", "customer_tier"),
    ("a.b", "a_b"),
    ("a__b", "a_b"),
    ("1x", "key_1x"),
    ("service.name", "service_name"),
    ("k", "k"),
];

const VALUES: [&str; 6] = ["", "abc", "ünïcode", "0123456789abcdef", "a b", "x"];

/// One appended entry as the model keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ModelEntry {
    ts: i64,
    line: Vec<u8>,
    /// (raw name, value) pairs as passed to `append`, names distinct.
    metadata: Vec<(String, String)>,
}

impl ModelEntry {
    /// The metadata as stored and read back: sorted by raw name, names
    /// normalized, dropped by heads without metadata.
    fn stored(&self, head: HeadFormat) -> Vec<(String, String)> {
        if head != HeadFormat::UnorderedWithMetadata {
            return Vec::new();
        }
        let mut md = self.metadata.clone();
        md.sort_by(|a, b| a.0.cmp(&b.0));
        md.into_iter()
            .map(|(n, v)| {
                let norm = NAMES.iter().find(|(raw, _)| *raw == n).map_or(n.clone(), |(_, norm)| (*norm).to_owned());
                (norm, v)
            })
            .collect()
    }

    /// Identity for Loki's duplicate rule: timestamp, line and stored
    /// (raw, sorted) metadata.
    fn dup_key(&self, head: HeadFormat) -> (i64, Vec<u8>, Vec<(String, String)>) {
        let mut md = if head == HeadFormat::UnorderedWithMetadata { self.metadata.clone() } else { Vec::new() };
        md.sort_by(|a, b| a.0.cmp(&b.0));
        (self.ts, self.line.clone(), md)
    }
}

#[derive(Default)]
struct Generator {
    last_ts: i64,
    history: Vec<ModelEntry>,
    seed: u64,
}

impl Generator {
    fn timestamp(&mut self, r: &mut Reader<'_>) -> i64 {
        const BASE: i64 = 1_700_000_000_000_000_000;
        let mode = r.u8();
        let ts = match mode % 8 {
            0 => self.last_ts.saturating_add(i64::from(r.u8() % 16)),
            1 => self.last_ts,
            2 => self.last_ts.saturating_sub(1 + i64::from(r.u8() % 16)),
            3 => r.u64() as i64,
            4 => [i64::MAX, i64::MAX - 1, -1, 0, i64::MIN, BASE][usize::from(r.u8()) % 6],
            _ => BASE + i64::from(r.u16()),
        };
        self.seed = self.seed.rotate_left(5) ^ u64::from(mode);
        ts
    }

    fn entry(&mut self, r: &mut Reader<'_>) -> ModelEntry {
        let ts = self.timestamp(r);
        self.last_ts = ts;
        let mode = r.u8();
        let line = match mode % 4 {
            0 | 1 => {
                let n = usize::from(r.u8() % 48);
                r.bytes(n).to_vec()
            }
            2 => self.history.last().map(|e| e.line.clone()).unwrap_or_default(),
            _ => vec![r.u8(); usize::from(r.u8()) * 16],
        };
        let mut metadata: Vec<(String, String)> = Vec::new();
        for _ in 0..(mode / 4) % 4 {
            let name = NAMES[usize::from(r.u8()) % NAMES.len()].0;
            let v = r.u8();
            let value = if v < 200 {
                VALUES[usize::from(v) % VALUES.len()].to_owned()
            } else {
                let n = usize::from(r.u8() % 12);
                String::from_utf8_lossy(r.bytes(n)).into_owned()
            };
            if !metadata.iter().any(|(n, _)| n == name) {
                metadata.push((name.to_owned(), value));
            }
        }
        let e = ModelEntry { ts, line, metadata };
        if self.history.len() < 4096 {
            self.history.push(e.clone());
        }
        e
    }
}

/// The naive chunk: blocks and head as lists of entries in append order.
#[derive(Debug, Clone)]
struct Model {
    head_format: HeadFormat,
    block_size: usize,
    blocks: Vec<Vec<ModelEntry>>,
    head: Vec<ModelEntry>,
}

/// What the model expects `append` to do.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    Appended,
    Duplicate,
    OutOfOrder,
    OutOfRange,
}

impl Model {
    fn new(head_format: HeadFormat, block_size: usize) -> Self {
        Self { head_format, block_size, blocks: Vec::new(), head: Vec::new() }
    }

    fn head_size(&self) -> usize {
        let per_pair = if self.head_format == HeadFormat::UnorderedWithMetadata { 8 } else { 0 };
        self.head.iter().map(|e| e.line.len() + per_pair * e.metadata.len()).sum()
    }

    fn append(&mut self, e: ModelEntry) -> Expect {
        if self.head_format == HeadFormat::Ordered {
            let newest = match self.head.iter().map(|e| e.ts).max() {
                Some(t) => Some(t),
                None => self.blocks.last().and_then(|b| b.iter().map(|e| e.ts).max()),
            };
            if newest.is_some_and(|n| e.ts < n) {
                return Expect::OutOfOrder;
            }
        } else {
            if !(0..i64::MAX).contains(&e.ts) {
                return Expect::OutOfRange;
            }
            let key = e.dup_key(self.head_format);
            if self.head.iter().any(|h| h.dup_key(self.head_format) == key) {
                return Expect::Duplicate;
            }
        }
        self.head.push(e);
        if self.head_size() >= self.block_size {
            self.cut();
        }
        Expect::Appended
    }

    fn cut(&mut self) {
        if !self.head.is_empty() {
            self.blocks.push(std::mem::take(&mut self.head));
        }
    }

    /// All entries in insertion order, stably sorted by timestamp.
    fn sorted(&self) -> Vec<ModelEntry> {
        let mut all: Vec<ModelEntry> = self.blocks.iter().flatten().chain(&self.head).cloned().collect();
        all.sort_by_key(|e| e.ts);
        all
    }

    /// What a full-range query returns.
    fn visible(&self) -> Vec<ModelEntry> {
        self.sorted().into_iter().filter(|e| e.ts != i64::MAX).collect()
    }

    fn bounds(entries: &[ModelEntry]) -> Option<(i64, i64)> {
        let min = entries.iter().map(|e| e.ts).min()?;
        let max = entries.iter().map(|e| e.ts).max()?;
        Some((min, max))
    }

    /// Loki's `Close`: cut, and rebuild in timestamp order if blocks overlap.
    fn close(&mut self) {
        self.cut();
        let overlap = self.blocks.windows(2).any(|w| {
            let (a, b) = (Self::bounds(&w[0]), Self::bounds(&w[1]));
            matches!((a, b), (Some((_, amax)), Some((bmin, _))) if bmin < amax)
        });
        if overlap {
            let all = self.visible();
            let mut fresh = Model::new(self.head_format, self.block_size);
            for e in all {
                fresh.append(e);
            }
            fresh.cut();
            *self = fresh;
        }
    }

    fn block_infos(&self) -> Vec<(usize, i64, i64, usize)> {
        let per_pair = if self.head_format == HeadFormat::UnorderedWithMetadata { 8 } else { 0 };
        self.blocks
            .iter()
            .map(|b| {
                let (mint, maxt) = Self::bounds(b).unwrap_or((0, 0));
                let size = b.iter().map(|e| e.line.len() + per_pair * e.metadata.len()).sum();
                (b.len(), mint, maxt, size)
            })
            .collect()
    }
}

fn model_append(chunk: &mut Chunk, model: &mut Model, e: ModelEntry) {
    let md: Vec<(&str, &str)> = e.metadata.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let got = chunk.append(e.ts, &e.line, &md);
    let (ts, head) = (e.ts, model.head_format);
    let want = model.append(e);
    match (&got, &want) {
        (Ok(AppendOutcome::Appended), Expect::Appended)
        | (Ok(AppendOutcome::Duplicate), Expect::Duplicate)
        | (Err(ChunkError::OutOfOrder { .. }), Expect::OutOfOrder)
        | (Err(ChunkError::TimestampOutOfRange(_)), Expect::OutOfRange) => {}
        _ => panic!("append(ts {ts}) with {head:?} head: got {got:?}, model expects {want:?}"),
    }
}

fn assert_entries_eq(got: &[Entry], want: &[ModelEntry], head: HeadFormat, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: number of entries");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let md: Vec<(String, String)> = g.metadata.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        assert!(
            g.timestamp == w.ts && g.line[..] == w.line[..] && md == w.stored(head),
            "{what}: entry {i}: got {g:?}, want {w:?}"
        );
    }
}

/// Compares a chunk written under `model` (or decoded from it) with the
/// model. Block uncompressed sizes are compared from v3 on: v2 block metas
/// do not store them, so they read back (and survive checkpoints) as 0.
fn check_against_model(chunk: &Chunk, model: &Model, what: &str) {
    let total = model.blocks.iter().map(Vec::len).sum::<usize>() + model.head.len();
    assert_eq!(chunk.num_entries(), total, "{what}: num_entries");
    assert_eq!(chunk.num_blocks(), model.blocks.len(), "{what}: num_blocks");
    let all: Vec<ModelEntry> = model.blocks.iter().flatten().chain(&model.head).cloned().collect();
    assert_eq!(chunk.bounds(), Model::bounds(&all), "{what}: bounds");
    let mut infos: Vec<(usize, i64, i64, usize)> =
        chunk.block_infos().iter().map(|b| (b.entries, b.mint, b.maxt, b.uncompressed_size)).collect();
    let mut want_infos = model.block_infos();
    if chunk.format() < ChunkFormat::V3 {
        want_infos.iter_mut().for_each(|b| b.3 = 0);
        infos.iter_mut().for_each(|b| b.3 = 0);
    }
    assert_eq!(infos, want_infos, "{what}: block metas");
    let got = forward_and_backward(chunk, i64::MIN, i64::MAX).expect("iterate a chunk lokistore wrote");
    assert_entries_eq(&got, &model.visible(), model.head_format, what);
}

fn check_range(chunk: &Chunk, model: &Model, from: i64, through: i64) {
    let want: Vec<ModelEntry> = model.visible().into_iter().filter(|e| e.ts >= from && e.ts < through).collect();
    let got = forward_and_backward(chunk, from, through).expect("iterate a chunk lokistore wrote");
    assert_entries_eq(&got, &want, model.head_format, "range query");
}

// ---------------------------------------------------------------------------
// LogQL per-line stages (`logql::log`)
// ---------------------------------------------------------------------------

/// Checks a final label set of `logql::log`: its text parses back to the
/// same non-empty labels, and a builder given the same labels prints and
/// hashes the same.
fn check_label_set(b: &mut crate::logql::log::LabelsBuilder, what: &str) {
    let text = b.label_string().to_owned();
    let labels = b.labels();
    // Prometheus' label syntax has no empty names, which Loki's json can
    // produce (`{" ":{" ":1}}`).
    if labels.iter().all(|l| !l.name.is_empty()) {
        let parsed = crate::Labels::parse(&text).unwrap_or_else(|e| panic!("{what}: {text:?} does not parse: {e}"));
        assert_eq!(parsed, labels, "{what}: {text:?}");
    }
    let mut again = crate::logql::log::LabelsBuilder::new(&crate::Labels::empty());
    again.reset();
    for l in b.to_vec() {
        again.set_label(&l.name, &l.value);
    }
    assert_eq!(again.label_string(), text, "{what}: rebuilt set");
    assert_eq!(again.hash(), b.hash(), "{what}: hash");
}

/// Runs `data` as a log line through every `logfmt` variant: never panics;
/// `--strict` keeps exactly what the non-strict parser found before the
/// first bad pair (so its labels are a subset); without `--keep-empty` no
/// value is empty; label sets print, parse and hash consistently.
///
/// # Panics
///
/// Only when lokistore breaks one of these invariants.
pub fn logql_logfmt(data: &[u8]) {
    use crate::logql::log::{LabelsBuilder, LogfmtExpressionParser, LogfmtParser};

    let stream = crate::Labels::parse(r#"{app="a", level="s"}"#).unwrap_or_default();
    let run = |strict: bool, keep_empty: bool| {
        let mut b = LabelsBuilder::new(&stream);
        b.reset();
        b.set_metadata("trace", "t");
        LogfmtParser::new(strict, keep_empty).process(data, &mut b);
        check_label_set(&mut b, "logfmt");
        b
    };
    let mut lenient = run(false, false);
    let mut strict = run(true, false);
    let _ = run(true, true);
    let keep = run(false, true);
    let lenient_set = lenient.to_vec();
    for l in strict.to_vec() {
        if l.name == "__error__" || l.name == "__error_details__" {
            continue;
        }
        assert!(lenient_set.contains(&l), "--strict found {l:?}, the lenient parser did not: {lenient_set:?}");
    }
    assert!(!lenient.has_error(), "logfmt without --strict set an error");
    assert!(!keep.has_error(), "logfmt without --strict set an error");
    for l in &lenient_set {
        assert!(!l.value.is_empty(), "empty value {l:?} without --keep-empty");
    }
    let exprs = [("level".to_owned(), "level".to_owned()), ("x".to_owned(), "a".to_owned())];
    if let Ok(mut p) = LogfmtExpressionParser::new(&exprs, data.first().is_some_and(|b| b & 1 == 1)) {
        let mut b = LabelsBuilder::new(&stream);
        b.reset();
        p.process(data, &mut b);
        assert!(b.get("x").is_some(), "a listed label is always set");
        check_label_set(&mut b, "logfmt expressions");
    }
}

/// Runs `data` as a log line through `json`, `json` with expressions and
/// `unpack`: never panics; a line `serde_json` reads as an object never
/// gets `JSONParserErr` from any of them, and `json` finds a label for
/// every leaf a naive flattening finds; label sets print, parse and hash
/// consistently.
///
/// # Panics
///
/// Only when lokistore breaks one of these invariants.
pub fn logql_json(data: &[u8]) {
    use crate::logql::log::{JsonExpressionParser, JsonParser, LabelsBuilder, UnpackParser};

    /// The label names Loki's `json` gives the leaves of `v` (a naive
    /// recursive flattening).
    fn names(v: &serde_json::Value, prefix: &[String], out: &mut Vec<String>) {
        let sanitize = |parts: &[String]| {
            let mut name = String::new();
            for p in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
                if !name.is_empty() {
                    name.push('_');
                }
                if name.is_empty() && p.starts_with(|c: char| c.is_ascii_digit()) {
                    name.push('_');
                }
                name.extend(p.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }));
            }
            name
        };
        let serde_json::Value::Object(map) = v else { return };
        for (k, v) in map {
            let mut path = prefix.to_vec();
            path.push(k.clone());
            match v {
                serde_json::Value::Object(_) => names(v, &path, out),
                serde_json::Value::String(_) | serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                    let n = sanitize(&path);
                    if !(prefix.is_empty() && n.is_empty()) {
                        out.push(n);
                    }
                }
                _ => {}
            }
        }
    }

    let valid = serde_json::from_slice::<serde_json::Value>(data).ok().filter(serde_json::Value::is_object);
    let stream = crate::Labels::empty();

    let mut b = LabelsBuilder::new(&stream);
    b.reset();
    JsonParser::new().process(data, &mut b);
    check_label_set(&mut b, "json");
    if let Some(v) = &valid {
        assert!(!b.has_error(), "json: error on valid JSON: {:?}", b.error_details());
        let mut want = Vec::new();
        names(v, &[], &mut want);
        for n in want {
            // Keys whose text is not valid label text (trimmed differently
            // by Unicode white space) are left to the unit tests.
            if n.is_ascii() {
                assert!(b.get(&n).is_some(), "json: no label {n:?} for valid JSON, got {}", b.label_string());
            }
        }
    }

    let mut b = LabelsBuilder::new(&stream);
    b.reset();
    if let Ok(mut p) = JsonExpressionParser::parse(&[("a", "a"), ("b", "a.b"), ("c", "c[0]"), ("d", r#"["d"][1].e"#)]) {
        p.process(data, &mut b);
        check_label_set(&mut b, "json expressions");
        // Loki checks the first byte without skipping white space.
        if valid.is_some() && data.first() == Some(&b'{') {
            assert!(!b.has_error(), "json expressions: error on valid JSON: {:?}", b.error_details());
        }
    }

    let mut b = LabelsBuilder::new(&stream);
    b.reset();
    let mut unpack = UnpackParser::new();
    let _ = unpack.process(data, &mut b);
    check_label_set(&mut b, "unpack");
    if valid.is_some() && data.first() == Some(&b'{') {
        assert!(!b.has_error(), "unpack: error on valid JSON: {:?}", b.error_details());
    }
}
