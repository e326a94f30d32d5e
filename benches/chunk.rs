//! Chunk throughput, per encoding, on a realistic generated stream: mixed
//! logfmt, JSON and access-log lines of ~150 bytes on average, a third of
//! them with structured metadata (`trace_id`, sometimes `span_id`), in
//! timestamp order with occasional equal timestamps.
//!
//! | group | measures |
//! |---|---|
//! | `chunk_encode` | `append` every entry into a v4 chunk with Loki's defaults (256 KiB blocks), `close`, `to_bytes` |
//! | `chunk_decode_iterate` | `Chunk::from_bytes` + forward iteration over every entry, touching each line |
//!
//! Both report throughput in raw line bytes per second (the sum of line
//! lengths, ~1.5 MB per chunk: six 256 KiB blocks). Run with
//! `cargo bench --bench chunk`; small sample sizes keep the whole run to a
//! couple of minutes.

use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lokistore::{Chunk, ChunkConfig, ChunkFormat, Direction, Encoding};

#[path = "common/workload.rs"]
mod workload;

use workload::{Rng, log_line};

/// Raw line bytes per generated chunk.
const CHUNK_LINE_BYTES: usize = 1_500_000;

/// One generated entry.
struct GenEntry {
    ts: i64,
    line: String,
    trace_id: Option<String>,
    span_id: Option<String>,
}

/// Entries with ~`CHUNK_LINE_BYTES` of lines, ascending timestamps.
fn workload() -> (Vec<GenEntry>, u64) {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut ts = 1_705_312_800_000_000_000i64;
    let mut entries = Vec::new();
    let mut bytes = 0usize;
    while bytes < CHUNK_LINE_BYTES {
        if rng.below(20) != 0 {
            ts += 1 + rng.below(2_000_000) as i64;
        }
        let line = log_line(&mut rng, ts);
        bytes += line.len();
        let (trace_id, span_id) = match rng.below(6) {
            0 => (Some(rng.trace_id()), Some(rng.span_id())),
            1 => (Some(rng.trace_id()), None),
            _ => (None, None),
        };
        entries.push(GenEntry { ts, line, trace_id, span_id });
    }
    (entries, bytes as u64)
}

fn encode(entries: &[GenEntry], encoding: Encoding) -> Vec<u8> {
    let mut chunk = Chunk::new(ChunkConfig::new(ChunkFormat::V4, encoding)).expect("v4 config");
    let mut md: Vec<(&str, &str)> = Vec::with_capacity(2);
    for e in entries {
        md.clear();
        if let Some(t) = &e.trace_id {
            md.push(("trace_id", t));
        }
        if let Some(s) = &e.span_id {
            md.push(("span_id", s));
        }
        chunk.append(e.ts, e.line.as_bytes(), &md).expect("append");
    }
    chunk.close().expect("close");
    chunk.to_bytes().expect("serialize")
}

fn decode_and_iterate(bytes: &Bytes) -> (usize, usize) {
    let chunk = Chunk::from_bytes(bytes.clone()).expect("decode");
    let mut it = chunk.iter(i64::MIN, i64::MAX, Direction::Forward);
    let (mut n, mut line_bytes) = (0usize, 0usize);
    while let Some(e) = it.next() {
        let e = e.expect("entry");
        n += 1;
        line_bytes += e.line.len();
    }
    (n, line_bytes)
}

fn bench_chunk(c: &mut Criterion) {
    let (entries, line_bytes) = workload();
    let encoded: Vec<(Encoding, Bytes)> =
        Encoding::ALL.iter().map(|&enc| (enc, Bytes::from(encode(&entries, enc)))).collect();
    for (enc, bytes) in &encoded {
        // Once, outside the measurements: the figures below are per chunk.
        let (n, lb) = decode_and_iterate(bytes);
        assert_eq!((n, lb as u64), (entries.len(), line_bytes));
        eprintln!(
            "chunk {:>8}: {} entries, {line_bytes} line bytes, {} bytes serialized ({:.1}x)",
            enc.name(),
            n,
            bytes.len(),
            line_bytes as f64 / bytes.len() as f64
        );
    }

    let mut group = c.benchmark_group("chunk_encode");
    group.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Bytes(line_bytes));
    for (enc, _) in &encoded {
        group.bench_with_input(BenchmarkId::from_parameter(enc.name()), enc, |b, &enc| {
            b.iter(|| black_box(encode(&entries, enc)));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("chunk_decode_iterate");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes(line_bytes));
    for (enc, bytes) in &encoded {
        group.bench_with_input(BenchmarkId::from_parameter(enc.name()), bytes, |b, bytes| {
            b.iter(|| black_box(decode_and_iterate(bytes)));
        });
    }
    group.finish();
}

criterion_group!(benches, bench_chunk);
criterion_main!(benches);
