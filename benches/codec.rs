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

/// Loki's default block size (`-ingester.chunks-block-size`).
const BLOCK_SIZE: usize = 256 * 1024;

/// A small deterministic PRNG (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let v = self.next();
        format!("{v:016x}")[..digits].to_owned()
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One log line: a mix of logfmt, JSON and access-log shapes, ~100-250 bytes.
fn line(rng: &mut Rng, ts_ms: u64) -> String {
    const LEVELS: &[&str] = &["debug", "info", "info", "info", "warn", "error"];
    const PATHS: &[&str] = &[
        "/api/v1/orders",
        "/api/v1/orders/{id}",
        "/api/v1/users/login",
        "/healthz",
        "/metrics",
        "/static/app.js",
        "/api/v2/cart/items",
    ];
    const METHODS: &[&str] = &["GET", "GET", "GET", "POST", "PUT", "DELETE"];
    const MSGS: &[&str] = &[
        "request completed",
        "cache miss, fetching from upstream",
        "retrying connection to database",
        "user session refreshed",
        "payment authorized",
        "slow query detected",
    ];
    const AGENTS: &[&str] =
        &["Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "curl/8.5.0", "Go-http-client/1.1", "kube-probe/1.29"];
    let secs = ts_ms / 1000;
    let ms = ts_ms % 1000;
    match rng.below(3) {
        0 => format!(
            "ts=2024-01-15T10:{:02}:{:02}.{ms:03}Z level={} caller=handler.go:{} msg=\"{}\" \
             trace_id={} duration={}ms status={} path={}",
            (secs / 60) % 60,
            secs % 60,
            rng.pick(LEVELS),
            rng.below(400),
            rng.pick(MSGS),
            rng.hex(16),
            rng.below(2000),
            [200, 200, 201, 404, 500][rng.below(5) as usize],
            rng.pick(PATHS),
        ),
        1 => format!(
            "{{\"time\":\"2024-01-15T10:{:02}:{:02}.{ms:03}Z\",\"level\":\"{}\",\"msg\":\"{}\",\
             \"user_id\":{},\"order_id\":\"{}\",\"latency_ms\":{},\"region\":\"eu-west-1\"}}",
            (secs / 60) % 60,
            secs % 60,
            rng.pick(LEVELS),
            rng.pick(MSGS),
            rng.below(100_000),
            rng.hex(12),
            rng.below(900),
        ),
        _ => format!(
            "10.{}.{}.{} - - [15/Jan/2024:10:{:02}:{:02} +0000] \"{} {}?page={} HTTP/1.1\" {} {} \
             \"-\" \"{}\"",
            rng.below(256),
            rng.below(256),
            rng.below(256),
            (secs / 60) % 60,
            secs % 60,
            rng.pick(METHODS),
            rng.pick(PATHS),
            rng.below(50),
            [200, 200, 304, 404, 502][rng.below(5) as usize],
            rng.below(60_000),
            rng.pick(AGENTS),
        ),
    }
}

/// A 256 KiB block as Loki lays it out uncompressed (format v4 entries:
/// zig-zag varint timestamp, uvarint length, line, empty metadata `01 00`).
fn block() -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(BLOCK_SIZE + 512);
    let mut ts_ns: u64 = 1_705_312_800_000_000_000;
    while out.len() < BLOCK_SIZE {
        ts_ns += 1_000_000 + rng.below(50_000_000);
        let l = line(&mut rng, ts_ns / 1_000_000);
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
