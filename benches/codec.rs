//! Codec throughput: compress and decompress one 256 KiB chunk block (Loki's
//! default block size) of generated, realistic log entries (mixed logfmt,
//! JSON and access-log lines of ~100-250 bytes in Loki's v4 entry layout)
//! with every encoding, and a 4 KiB prefix of it (symbol-payload sized).
//! Reports bytes/s of *uncompressed* data for both directions.
//!
//! Run with `cargo bench --bench codec`; it is tuned to finish in about a
//! minute (small sample sizes, short measurement windows).

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use lokistore::Encoding;

#[path = "common/workload.rs"]
mod workload;

use workload::{Rng, log_line};

/// Loki's default block size (`-ingester.chunks-block-size`).
const BLOCK_SIZE: usize = 256 * 1024;

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A 256 KiB block as Loki lays it out uncompressed (format v4 entries:
/// zig-zag varint timestamp, uvarint length, line, empty metadata `01 00`).
fn block() -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(BLOCK_SIZE + 512);
    let mut ts_ns: u64 = 1_705_312_800_000_000_000;
    while out.len() < BLOCK_SIZE {
        ts_ns += 1_000_000 + rng.below(50_000_000);
        let l = log_line(&mut rng, ts_ns as i64);
        put_uvarint(&mut out, ts_ns << 1); // zig-zag of a positive value
        put_uvarint(&mut out, l.len() as u64);
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(&[0x01, 0x00]);
    }
    out.truncate(BLOCK_SIZE);
    out
}

/// Compress and decompress `data` with every encoding, in groups named
/// `codec/compress/{label}` and `codec/decompress/{label}`.
fn bench_all(c: &mut Criterion, label: &str, data: &[u8]) {
    let mut out = Vec::with_capacity(2 * data.len() + 1024);
    let mut compress = c.benchmark_group(format!("codec/compress/{label}"));
    compress
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800))
        .throughput(Throughput::Bytes(data.len() as u64));
    for enc in Encoding::ALL {
        compress.bench_with_input(BenchmarkId::from_parameter(enc), data, |b, data| {
            b.iter(|| {
                out.clear();
                enc.compress(black_box(data), &mut out).expect("compress");
                black_box(out.len())
            });
        });
    }
    compress.finish();

    let mut decompress = c.benchmark_group(format!("codec/decompress/{label}"));
    decompress
        .sample_size(10)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800))
        .throughput(Throughput::Bytes(data.len() as u64));
    for enc in Encoding::ALL {
        let mut stream = Vec::new();
        enc.compress(data, &mut stream).expect("compress");
        eprintln!(
            "{label} {enc}: {} -> {} bytes (ratio {:.2})",
            data.len(),
            stream.len(),
            data.len() as f64 / stream.len() as f64
        );
        decompress.bench_with_input(BenchmarkId::from_parameter(enc), &stream, |b, stream| {
            b.iter(|| {
                out.clear();
                enc.decompress(black_box(stream), &mut out, usize::MAX).expect("decompress");
                black_box(out.len())
            });
        });
    }
    decompress.finish();
}

fn codecs(c: &mut Criterion) {
    let data = block();
    // A full 256 KiB block: the hot path of chunk reads and cuts.
    bench_all(c, "256KiB", &data);
    // A 4 KiB stream, the size of a typical structured-metadata symbol
    // payload: dominated by per-call set-up (contexts, buffers).
    bench_all(c, "4KiB", &data[..4096]);
}

criterion_group!(benches, codecs);
criterion_main!(benches);
