//! TSDB index benchmarks: building 100k series x 10 chunks, file size per
//! series, and selective / broad lookups from a memory-mapped file and from
//! the head.
//!
//! ```text
//! cargo bench --bench index
//! ```

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lokistore::index::{
    ChunkMeta, HeadIndex, IndexBuilder, IndexFormat, IndexQuery, IndexReader, Matcher, SeriesQuery,
};
use lokistore::{Fingerprint, Labels};

const SERIES: usize = 100_000;
const CHUNKS: i64 = 10;
const ENVS: [&str; 3] = ["prod", "dev", "staging"];

fn dataset() -> Vec<(Labels, Fingerprint, Vec<ChunkMeta>)> {
    (0..SERIES)
        .map(|i| {
            let labels = Labels::from_pairs([
                ("app", format!("app-{}", i % 100)),
                ("cluster", format!("cluster-{}", i % 4)),
                ("env", ENVS[i % 3].to_owned()),
                ("namespace", format!("ns-{}", i % 20)),
                ("pod", format!("pod-{i:06}")),
            ])
            .unwrap();
            let fp = labels.fingerprint();
            let base = 1_700_000_000_000 + (i as i64 % 1000);
            let chunks = (0..CHUNKS)
                .map(|c| {
                    ChunkMeta::new(
                        base + c * 3_600_000,
                        base + c * 3_600_000 + 3_500_000,
                        250,
                        1000,
                        i as u32 ^ c as u32,
                    )
                })
                .collect();
            (labels, fp, chunks)
        })
        .collect()
}

fn build(data: &[(Labels, Fingerprint, Vec<ChunkMeta>)]) -> Vec<u8> {
    let mut b = IndexBuilder::new(IndexFormat::V3);
    for (l, fp, c) in data {
        b.add_series(l, *fp, c.iter().copied());
    }
    b.build().unwrap().bytes
}

fn bench(c: &mut Criterion) {
    let data = dataset();
    let t = Instant::now();
    let bytes = build(&data);
    eprintln!(
        "index: {SERIES} series x {CHUNKS} chunks built in {:?}; file {} bytes = {:.1} bytes/series",
        t.elapsed(),
        bytes.len(),
        bytes.len() as f64 / SERIES as f64
    );

    let mut g = c.benchmark_group("index_build");
    g.sample_size(10);
    g.throughput(Throughput::Elements(SERIES as u64));
    g.bench_function("100k_series_x10_chunks", |b| b.iter(|| black_box(build(&data))));
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.tsdb");
    std::fs::write(&path, &bytes).unwrap();
    let t = Instant::now();
    let reader = IndexReader::mmap(&path).unwrap();
    eprintln!("index: opened mmapped file in {:?}", t.elapsed());

    let mut head = HeadIndex::new();
    for (l, fp, cs) in &data {
        for ch in cs {
            head.append(l, *fp, *ch);
        }
    }

    let selective = [Matcher::equal("app", "app-42"), Matcher::equal("pod", "pod-000042")];
    let broad = [Matcher::regex("env", "prod|dev").unwrap()];
    let (from, through) = (1_700_000_000_000, 1_700_000_000_000 + 24 * 3_600_000);
    let sel_q = SeriesQuery::new(from, through, &selective);
    let broad_q = SeriesQuery::new(from, through, &broad);
    assert_eq!(reader.series(&sel_q).unwrap().len(), 1);
    assert_eq!(head.series(&sel_q).unwrap().len(), 1);
    let broad_n = reader.chunk_refs(&broad_q).unwrap().len();
    assert_eq!(broad_n, SERIES / 3 * 2 * CHUNKS as usize + 10);

    let mut g = c.benchmark_group("index_lookup");
    g.bench_function("selective_mmap", |b| b.iter(|| black_box(reader.series(&sel_q).unwrap())));
    g.bench_function("selective_head", |b| b.iter(|| black_box(head.series(&sel_q).unwrap())));
    g.throughput(Throughput::Elements(broad_n as u64));
    g.sample_size(10);
    g.bench_function("broad_chunk_refs_mmap", |b| b.iter(|| black_box(reader.chunk_refs(&broad_q).unwrap())));
    g.bench_function("broad_chunk_refs_head", |b| b.iter(|| black_box(head.chunk_refs(&broad_q).unwrap())));
    g.bench_function("broad_stats_mmap", |b| b.iter(|| black_box(reader.stats(&broad_q).unwrap())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
