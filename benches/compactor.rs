//! Compactor benchmark: chunk compaction of a store full of small chunks.
//!
//! * `compactor_chunks`: one [`Compactor::run_once`] with chunk compaction
//!   (Loki's default chunk settings: snappy, 256 KiB blocks, 1.5 MB target)
//!   over a [`MemoryStore`] holding 10 000 small chunks (one tenant, 100
//!   streams of 100 chunks of 40 realistic ~150-byte lines, every fourth
//!   with structured metadata) in one day's table. Each iteration starts
//!   from a fresh copy of the store (not timed). Throughput in bytes of
//!   chunk objects rewritten; the raw line bytes per second and the object
//!   count before and after compaction (after the sweep delay) are printed.
//!
//! ```text
//! cargo bench --bench compactor
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use lokistore::compactor::{ChunkCompaction, Compactor, CompactorConfig};
use lokistore::index::{ChunkMeta, DAY_MS, DEFAULT_PATH_PREFIX, IndexFileName, gzip, table_name};
use lokistore::object::ChunkObject;
use lokistore::store::{MemoryStore, ObjectStore};
use lokistore::{Chunk, ChunkConfig, IndexBuilder, Labels, TenantId};

#[path = "common/workload.rs"]
mod workload;

use workload::{Rng, log_line};

const STREAMS: usize = 100;
const CHUNKS_PER_STREAM: usize = 100;
const LINES_PER_CHUNK: usize = 40;
/// The day of the table (2023-11-14).
const DAY: i64 = 19_675;

/// The store before compaction: its objects, the chunk object bytes and
/// the raw line bytes.
struct Fixture {
    objects: Vec<(String, Bytes)>,
    chunk_bytes: u64,
    line_bytes: u64,
}

fn fixture() -> Fixture {
    let store = MemoryStore::new();
    let tenant = TenantId::new("bench").unwrap();
    let mut rng = Rng(42);
    let mut builder = IndexBuilder::new(lokistore::index::IndexFormat::V3);
    let (mut chunk_bytes, mut line_bytes) = (0u64, 0u64);
    let start_ns = DAY * DAY_MS * 1_000_000 + 3_600_000_000_000;
    for s in 0..STREAMS {
        let labels: Labels = format!(r#"{{app="bench", pod="pod-{s}", env="prod"}}"#).parse().unwrap();
        let mut metas = Vec::new();
        for c in 0..CHUNKS_PER_STREAM {
            let mut chunk = Chunk::new(ChunkConfig::default()).unwrap();
            for i in 0..LINES_PER_CHUNK {
                let ts = start_ns + ((c * LINES_PER_CHUNK + i) as i64) * 100_000_000 + s as i64;
                let line = log_line(&mut rng, ts);
                line_bytes += line.len() as u64;
                let trace = rng.trace_id();
                let md: &[(&str, &str)] = if i % 4 == 0 { &[("trace_id", &trace)] } else { &[] };
                chunk.append(ts, line.as_bytes(), md).unwrap();
            }
            chunk.close().unwrap();
            let (bytes, key) = ChunkObject::from_chunk(&tenant, labels.clone(), &chunk).unwrap().encode().unwrap();
            chunk_bytes += bytes.len() as u64;
            let entries = chunk.num_entries() as u32;
            metas.push(ChunkMeta::new(key.from_ms, key.through_ms, chunk.index_kb(), entries, key.checksum));
            store.put(&store.chunk_path(&key), Bytes::from(bytes)).unwrap();
        }
        builder.add_series(&labels, labels.fingerprint(), metas);
    }
    let written = builder.build().unwrap();
    let name = IndexFileName::Compacted {
        created: 1_700_000_000_000_000_000,
        from: written.toc.from,
        through: written.toc.through,
        checksum: written.toc.checksum,
    };
    let table = table_name("index_", DAY * DAY_MS);
    store.put(&name.object_key(DEFAULT_PATH_PREFIX, &table, &tenant), Bytes::from(gzip(&written.bytes))).unwrap();
    let objects = store.list("").unwrap().into_iter().map(|m| (m.key.clone(), store.get(&m.key).unwrap())).collect();
    Fixture { objects, chunk_bytes, line_bytes }
}

fn fresh_store(f: &Fixture) -> Arc<MemoryStore> {
    let store = Arc::new(MemoryStore::new());
    for (k, v) in &f.objects {
        store.put(k, v.clone()).unwrap();
    }
    store
}

fn compactor(store: Arc<MemoryStore>, now_ns: i64) -> Compactor {
    let config = CompactorConfig { chunks: Some(ChunkCompaction::default()), ..CompactorConfig::default() };
    Compactor::new(store, config).with_clock(move || now_ns)
}

fn bench_chunks(c: &mut Criterion) {
    let f = fixture();
    let now = (DAY + 2) * DAY_MS * 1_000_000;

    // Object counts, and one timed run for the printed figures.
    let store = fresh_store(&f);
    let before = store.list("").unwrap().len();
    let t = Instant::now();
    let r = compactor(Arc::clone(&store), now).run_once().unwrap();
    let took = t.elapsed().as_secs_f64();
    compactor(Arc::clone(&store), now + 3 * 3_600_000_000_000).run_once().unwrap();
    let objects = store.list("").unwrap();
    let after = objects.iter().filter(|m| !m.key.starts_with("compactor/lease/")).count();
    let mb = |b: u64| b as f64 / 1e6;
    println!(
        "compactor_chunks: {before} objects before ({} chunks, {:.1} MB of chunk objects, {:.1} MB of lines), \
         {after} after the sweep (not counting the lease); {} chunks replaced by {} ({:.1} MB written); \
         one run {took:.2} s = {:.0} MB/s of chunk objects, {:.0} MB/s of lines",
        STREAMS * CHUNKS_PER_STREAM,
        mb(f.chunk_bytes),
        mb(f.line_bytes),
        r.chunks_replaced,
        r.chunks_written,
        mb(r.chunk_bytes_written),
        mb(r.chunk_bytes_read) / took,
        mb(f.line_bytes) / took,
    );

    let mut g = c.benchmark_group("compactor_chunks");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .measurement_time(Duration::from_secs(5))
        .warm_up_time(Duration::from_secs(1));
    g.throughput(Throughput::Bytes(f.chunk_bytes));
    g.bench_function("10k_small_chunks", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let store = fresh_store(&f);
                let c = compactor(store, now);
                let t = Instant::now();
                let r = c.run_once().unwrap();
                total += t.elapsed();
                assert_eq!(r.chunks_replaced, STREAMS * CHUNKS_PER_STREAM);
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench_chunks);
criterion_main!(benches);
