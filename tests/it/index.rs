//! TSDB index: Loki-written golden files, byte-identical rewrites, the
//! spec's worked example, corruption handling, queries against a naive scan.

use std::collections::BTreeMap;
use std::path::PathBuf;

use bytes::Bytes;
use lokistore::index::{
    ChunkMeta, HeadIndex, IndexBuilder, IndexError, IndexFileName, IndexFormat, IndexQuery, IndexReader, IndexSet,
    IndexWriter, MatchOp, Matcher, MultiIndex, Section, Series, SeriesQuery, Shard, TenantIndex, VolumeAggregation,
    build_multitenant, gzip,
};
use lokistore::{Fingerprint, Labels, TenantId};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::vectors_dir;

const MT: &str = "index/multitenant/index_20463/1795252712-vm-1795252712737868474.tsdb";
const COMPACTED: &str =
    "index/compacted/index_20463/conformance/1795252577139566887-compactor-1768003200253-1768010399995-af9eeae5.tsdb";

fn vector(rel: &str) -> PathBuf {
    vectors_dir().join(rel)
}

struct Listing {
    version: u8,
    from: i64,
    through: i64,
    checksum: u32,
    symbols: usize,
    series: Vec<(Labels, Fingerprint, Vec<ChunkMeta>)>,
}

fn listing(rel: &str) -> Listing {
    let text = std::fs::read_to_string(vector(&format!("{rel}.json"))).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let hex = |v: &Value| u64::from_str_radix(v.as_str().unwrap(), 16).unwrap();
    let series = v["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels = Labels::from_pairs(
                s["labels"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap())),
            )
            .unwrap();
            let chunks = s["chunks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    ChunkMeta::new(
                        c["mint_ms"].as_i64().unwrap(),
                        c["maxt_ms"].as_i64().unwrap(),
                        c["kb"].as_u64().unwrap() as u32,
                        c["entries"].as_u64().unwrap() as u32,
                        hex(&c["checksum"]) as u32,
                    )
                })
                .collect();
            (labels, Fingerprint(hex(&s["fingerprint"])), chunks)
        })
        .collect();
    Listing {
        version: v["version"].as_u64().unwrap() as u8,
        from: v["bounds_min_ms"].as_i64().unwrap(),
        through: v["bounds_max_ms"].as_i64().unwrap(),
        checksum: hex(&v["checksum"]) as u32,
        symbols: v["symbols"].as_u64().unwrap() as usize,
        series,
    }
}

#[test]
fn loki_files_read_back_to_their_listings() {
    for rel in [MT, COMPACTED] {
        let want = listing(rel);
        for path in [vector(rel), vector(&format!("{rel}.gz"))] {
            let r = IndexReader::open(&path).unwrap();
            r.verify().unwrap();
            assert_eq!(r.format().to_byte(), want.version);
            assert_eq!(r.toc().from, want.from);
            assert_eq!(r.toc().through, want.through);
            assert_eq!(r.checksum(), want.checksum);
            assert_eq!(r.num_symbols(), want.symbols);
            let got: Vec<_> = r.all_series().map(|s| s.unwrap()).map(|s| (s.labels, s.fingerprint, s.chunks)).collect();
            assert_eq!(got, want.series, "{rel}");
        }
    }
}

#[test]
fn rewriting_the_listings_gives_loki_bytes() {
    for rel in [MT, COMPACTED] {
        let want = listing(rel);
        let mut b = IndexBuilder::new(IndexFormat::V3);
        for (l, fp, c) in &want.series {
            b.add_series(l, *fp, c.iter().copied());
        }
        let w = b.build().unwrap();
        let loki = std::fs::read(vector(rel)).unwrap();
        assert!(w.bytes == loki, "{rel}: rewrite differs from Loki's file");
        assert_eq!(w.toc.checksum, want.checksum);
        // The staged writer, fed in order, gives the same bytes.
        let mut w2 = IndexWriter::new(IndexFormat::V3);
        let mut syms: Vec<&str> =
            want.series.iter().flat_map(|s| s.0.iter()).flat_map(|l| [&*l.name, &*l.value]).collect();
        syms.sort();
        syms.dedup();
        for s in syms {
            w2.add_symbol(s).unwrap();
        }
        let mut sorted: Vec<_> = want.series.iter().collect();
        sorted.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        for (l, fp, c) in sorted {
            w2.add_series(l, *fp, c).unwrap();
        }
        assert!(w2.finish().unwrap().bytes == loki);
    }
}

#[test]
fn compacted_file_name_matches_its_toc() {
    let r = IndexReader::open(vector(COMPACTED)).unwrap();
    let name = COMPACTED.rsplit('/').next().unwrap();
    let IndexFileName::Compacted { from, through, checksum, .. } = IndexFileName::parse(name).unwrap() else {
        panic!("not a compactor name")
    };
    assert_eq!((from, through, checksum), (r.toc().from, r.toc().through, r.checksum()));
}

#[test]
fn spec_worked_example() {
    let labels: Labels = r#"{app="demo"}"#.parse().unwrap();
    let mut b = IndexBuilder::new(IndexFormat::V3);
    b.add_series(
        &labels,
        labels.fingerprint(),
        [ChunkMeta::new(1_700_000_000_000, 1_700_000_001_000, 0, 2, 0x9ca0368e)],
    );
    let w = b.build().unwrap();
    assert_eq!(w.bytes.len(), 289);
    assert_eq!(
        &w.bytes[..0x1a],
        &[
            0xba, 0xaa, 0xd7, 0x00, 0x03, 0, 0, 0, 0x0d, 0, 0, 0, 2, 3, b'a', b'p', b'p', 4, b'd', b'e', b'm', b'o',
            0x7d, 0xec, 0xc1, 0x16
        ]
    );
    assert_eq!(&w.bytes[0x20..0x2d], &[0x31, 0xfb, 0x31, 0xc4, 0x3a, 0x19, 0x7b, 0xbb, 0x77, 1, 0, 1, 1]);
    assert_eq!(&w.bytes[0x52..0x56], &[0x19, 0x70, 0x40, 0x31]);
    let toc = w.toc;
    assert_eq!(
        (toc.symbols, toc.series, toc.label_indices, toc.label_indices_table, toc.postings, toc.postings_table),
        (5, 0x1a, 0x56, 0x8c, 0x6c, 0x9e)
    );
    assert_eq!(
        (toc.fingerprint_offsets, toc.from, toc.through, toc.checksum),
        (0xb9, 1_700_000_000_000, 1_700_000_001_000, 0x7c8fd7a9)
    );
    let name = IndexFileName::Compacted { created: 1, from: toc.from, through: toc.through, checksum: toc.checksum };
    assert_eq!(
        name.object_key("index/", "index_19675", &TenantId::new("fake").unwrap()),
        "index/index_19675/fake/1-compactor-1700000000000-1700000001000-7c8fd7a9.tsdb.gz"
    );
    let r = IndexReader::new(w.bytes.into()).unwrap();
    let s =
        r.series(&SeriesQuery::new(1_700_000_001_000, 1_700_000_002_000, &[Matcher::equal("app", "demo")])).unwrap();
    assert_eq!(s.len(), 1, "MaxTime is inclusive");
    assert!(r.series(&SeriesQuery::new(0, 1_700_000_000_000, &[])).unwrap().is_empty(), "through is exclusive");
}

#[test]
fn formats_2_and_4_round_trip() {
    let want = listing(COMPACTED);
    for format in [IndexFormat::V2, IndexFormat::V3, IndexFormat::V4] {
        let mut b = IndexBuilder::new(format);
        for (l, fp, c) in &want.series {
            let chunks = c.iter().map(|c| ChunkMeta {
                ingested_at: if format == IndexFormat::V4 { (c.max_time / 86_400_000 + 2) * 86_400_000 } else { 0 },
                ..*c
            });
            b.add_series(l, *fp, chunks);
        }
        let r = IndexReader::new(b.build().unwrap().bytes.into()).unwrap();
        assert_eq!(r.format(), format);
        r.verify().unwrap();
        let got: Vec<_> = r.all_series().map(|s| s.unwrap()).collect();
        assert_eq!(got.len(), want.series.len());
        for (g, (l, fp, c)) in got.iter().zip(&want.series) {
            assert_eq!((&g.labels, g.fingerprint, g.chunks.len()), (l, *fp, c.len()));
            for (gc, wc) in g.chunks.iter().zip(c) {
                assert_eq!(
                    (gc.min_time, gc.max_time, gc.kb, gc.entries, gc.checksum),
                    (wc.min_time, wc.max_time, wc.kb, wc.entries, wc.checksum)
                );
                if format == IndexFormat::V4 {
                    assert_eq!(gc.ingested_at, (wc.max_time / 86_400_000 + 2) * 86_400_000);
                }
            }
        }
    }
}

#[test]
fn multitenant_file_through_a_tenant_view() {
    let mut set = IndexSet::new();
    for rel in [format!("{MT}.gz"), format!("{COMPACTED}.gz")] {
        let key = rel.trim_start_matches("index/multitenant/").trim_start_matches("index/compacted/");
        set.add_object(key, Bytes::from(std::fs::read(vector(&rel)).unwrap())).unwrap();
    }
    assert_eq!(set.len(), 2);
    let mt = IndexReader::open(vector(MT)).unwrap();
    let view = TenantIndex::new(&mt, "conformance");
    let names = view.label_names(&[]).unwrap();
    assert!(!names.iter().any(|n| n == "__loki_tenant__"));
    assert!(names.iter().any(|n| n == "app"));
    assert!(TenantIndex::new(&mt, "other").series(&SeriesQuery::new(0, i64::MAX, &[])).unwrap().is_empty());
    let s = view.series(&SeriesQuery::new(0, i64::MAX, &[Matcher::equal("app", "api")])).unwrap();
    assert!(
        !s.is_empty()
            && s.iter().all(|s| s.labels.get("__loki_tenant__").is_none() && s.labels.get("app") == Some("api"))
    );
    // Both files of the table, merged: every series of either file once.
    let merged = set.for_tenant("conformance", 1_768_003_200_253, 1_768_010_399_995);
    assert_eq!(merged.len(), 2);
    let all = merged.series(&SeriesQuery::new(0, i64::MAX, &[])).unwrap();
    let mut keys: Vec<_> = listing(MT)
        .series
        .into_iter()
        .chain(listing(COMPACTED).series)
        .map(|s| {
            let l = Labels::from_pairs(
                s.0.iter().filter(|l| l.name != "__loki_tenant__").map(|l| (l.name.clone(), l.value.clone())),
            )
            .unwrap();
            (s.1, l)
        })
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(all.iter().map(|s| (s.fingerprint, s.labels.clone())).collect::<Vec<_>>(), keys);
    assert!(set.for_tenant("conformance", 0, 1000).is_empty());
}

#[test]
fn stats_volume_and_shards_on_loki_file() {
    let r = IndexReader::open(vector(COMPACTED)).unwrap();
    let want = listing(COMPACTED);
    let st = r.stats(&SeriesQuery::new(i64::MIN + 1, i64::MAX, &[])).unwrap();
    assert_eq!(st.streams, want.series.len() as u64);
    assert_eq!(st.chunks, want.series.iter().map(|s| s.2.len() as u64).sum::<u64>());
    assert_eq!(st.entries, want.series.iter().flat_map(|s| &s.2).map(|c| u64::from(c.entries)).sum::<u64>());
    assert_eq!(st.bytes, want.series.iter().flat_map(|s| &s.2).map(|c| u64::from(c.kb) << 10).sum::<u64>());
    // A half range prorates.
    let mid = (want.from + want.through) / 2;
    let half = r.stats(&SeriesQuery::new(want.from, mid, &[])).unwrap();
    assert!(half.entries < st.entries && half.entries > st.entries / 4);
    let vol = r
        .volume(&SeriesQuery::new(0, i64::MAX, &[Matcher::regex("env", ".+").unwrap()]), &[], VolumeAggregation::Series)
        .unwrap();
    assert!(vol.iter().all(|v| v.name.starts_with("{env=")));
    assert_eq!(vol.iter().map(|v| v.bytes).sum::<u64>(), st.bytes - sum_without(&want, "env"));
    let by_label = r.volume(&SeriesQuery::new(0, i64::MAX, &[]), &["app".into()], VolumeAggregation::Labels).unwrap();
    assert_eq!(by_label.len(), 1);
    // Shards partition the series.
    let mut n = 0;
    for s in 0..4 {
        let shard = Shard::new(s, 4).unwrap();
        let got = r.series(&SeriesQuery::new(0, i64::MAX, &[]).with_shard(shard)).unwrap();
        assert!(got.iter().all(|x| shard.matches(x.fingerprint)));
        n += got.len();
    }
    assert_eq!(n, want.series.len());
}

fn sum_without(l: &Listing, name: &str) -> u64 {
    l.series.iter().filter(|s| s.0.get(name).is_none()).flat_map(|s| &s.2).map(|c| u64::from(c.kb) << 10).sum()
}

#[test]
fn corrupt_files_give_typed_errors() {
    let data = std::fs::read(vector(COMPACTED)).unwrap();
    // Flip one byte in a series record: CRC mismatch in the series section.
    let r = IndexReader::new(data.clone().into()).unwrap();
    let mut bad = data.clone();
    let off = (r.toc().series as usize).div_ceil(16) * 16 + 12;
    bad[off] ^= 0x40;
    let r = IndexReader::new(bad.into()).unwrap();
    match r.verify().unwrap_err() {
        IndexError::CrcMismatch { section: Section::Series, offset, .. } => assert_eq!(offset % 16, 0),
        e => panic!("{e}"),
    }
    // Symbol table and TOC damage are found at open.
    let mut bad = data.clone();
    bad[12] ^= 1;
    assert!(matches!(
        IndexReader::new(bad.into()),
        Err(IndexError::CrcMismatch { section: Section::Symbols, offset: 5, .. })
    ));
    let mut bad = data.clone();
    let n = bad.len();
    bad[n - 10] ^= 1;
    assert!(matches!(IndexReader::new(bad.into()), Err(IndexError::CrcMismatch { section: Section::Toc, .. })));
    let mut bad = data.clone();
    bad[4] = 9;
    assert!(matches!(IndexReader::new(bad.into()), Err(IndexError::UnsupportedVersion(9))));
    assert!(matches!(IndexReader::new(Bytes::from_static(b"nope")), Err(IndexError::TooShort { .. })));
    // Every truncation and every single-byte flip: errors or answers, never a panic.
    for cut in (0..data.len()).step_by(97) {
        let _ = IndexReader::new(Bytes::copy_from_slice(&data[..cut])).map(|r| r.verify());
    }
    for i in (0..data.len()).step_by(13) {
        let mut b = data.clone();
        b[i] ^= 0xff;
        lokistore_fuzz(&b);
    }
}

fn lokistore_fuzz(data: &[u8]) {
    if let Ok(r) = IndexReader::new(Bytes::copy_from_slice(data)) {
        let _ = r.verify();
        let _ = r.series(&SeriesQuery::new(0, i64::MAX, &[Matcher::regex("app", "a.*").unwrap()]));
        let _ = r.label_values("app", &[Matcher::not_equal("env", "dev")]);
    }
}

#[test]
fn writer_refuses_out_of_order_input() {
    let a: Labels = r#"{a="1"}"#.parse().unwrap();
    let b: Labels = r#"{a="2"}"#.parse().unwrap();
    let mut w = IndexWriter::new(IndexFormat::V3);
    for s in ["1", "2", "a"] {
        w.add_symbol(s).unwrap();
    }
    assert!(matches!(w.add_symbol("0"), Err(IndexError::OutOfOrder(_))));
    w.add_series(&b, Fingerprint(5), &[]).unwrap();
    assert!(matches!(w.add_series(&a, Fingerprint(5), &[]), Err(IndexError::OutOfOrder(_))));
    assert!(matches!(w.add_series(&a, Fingerprint(4), &[]), Err(IndexError::OutOfOrder(_))));
    assert!(matches!(w.add_symbol("z"), Err(IndexError::OutOfOrder(_))));
    let c: Labels = r#"{zz="1"}"#.parse().unwrap();
    assert!(matches!(w.add_series(&c, Fingerprint(9), &[]), Err(IndexError::InvalidInput(_))));
    w.add_series(&a, Fingerprint(6), &[]).unwrap();
    let r = IndexReader::new(w.finish().unwrap().bytes.into()).unwrap();
    assert_eq!(r.num_series(), 2);
    assert_eq!(r.all_series().map(|s| s.unwrap().chunks.len()).sum::<usize>(), 0);
}

#[test]
fn many_chunks_use_page_markers() {
    let l: Labels = r#"{app="x"}"#.parse().unwrap();
    let chunks: Vec<ChunkMeta> = (0..200).map(|i| ChunkMeta::new(i * 1000, i * 1000 + 1500, 3, 10, i as u32)).collect();
    let mut b = IndexBuilder::new(IndexFormat::V3);
    b.add_series(&l, Fingerprint(1), chunks.iter().copied().rev());
    let r = IndexReader::new(b.build().unwrap().bytes.into()).unwrap();
    let mut head = HeadIndex::new();
    for c in &chunks {
        head.append(&l, Fingerprint(1), *c);
    }
    for (from, through) in [(0, 1), (50_000, 50_001), (70_500, 90_000), (199_000, 500_000), (400_000, 500_000)] {
        let q = SeriesQuery::new(from, through, &[]);
        let want: Vec<_> = chunks.iter().copied().filter(|c| c.overlaps(from, through)).collect();
        let got = r.series(&q).unwrap();
        assert_eq!(got.first().map(|s| s.chunks.clone()).unwrap_or_default(), want);
        assert_eq!(head.series(&q).unwrap(), got);
        assert_eq!(head.stats(&q).unwrap(), r.stats(&q).unwrap());
    }
}

#[test]
fn head_rotation_builds_multitenant_tables() {
    let mut a = HeadIndex::new();
    let mut b = HeadIndex::new();
    let l: Labels = r#"{app="demo"}"#.parse().unwrap();
    let day = 86_400_000;
    a.append(&l, l.fingerprint(), ChunkMeta::new(day - 10, day + 10, 1, 1, 1));
    b.append(&l, l.fingerprint(), ChunkMeta::new(5, 6, 1, 1, 2));
    let tables = build_multitenant(
        &[(TenantId::new("a").unwrap(), &a), (TenantId::new("b").unwrap(), &b)],
        IndexFormat::V3,
        "index_",
    )
    .unwrap();
    assert_eq!(tables.iter().map(|t| t.0.as_str()).collect::<Vec<_>>(), ["index_0", "index_1"]);
    let mut set = IndexSet::new();
    for (t, w) in &tables {
        set.add_object(&format!("{t}/100-ing-1.tsdb.gz"), gzip(&w.bytes).into()).unwrap();
    }
    let ms = [Matcher::equal("app", "demo")];
    let q = SeriesQuery::new(0, 2 * day, &ms);
    let got_a = set.for_tenant("a", 0, 2 * day).series(&q).unwrap();
    assert_eq!(got_a.len(), 1);
    assert_eq!(got_a[0].chunks.len(), 1, "a midnight-spanning chunk is in both tables, returned once");
    assert_eq!(got_a[0].labels, l);
    let got_b = set.for_tenant("b", 0, 2 * day).chunk_refs(&q).unwrap();
    assert_eq!(got_b.len(), 1);
    assert_eq!(got_b[0].checksum, 2);
    // The head and the files answer together.
    let mut m = MultiIndex::new();
    m.push(set.for_tenant("a", 0, 2 * day));
    m.push(&a);
    assert_eq!(m.series(&q).unwrap(), got_a);
}

// ---------------------------------------------------------------------------
// Property tests: random series and matchers against a naive scan.
// ---------------------------------------------------------------------------

const NAMES: [&str; 4] = ["app", "env", "pod", "zone"];
const VALUES: [&str; 5] = ["a", "b", "ab", "prod", "dev"];

fn arb_series() -> impl Strategy<Value = Vec<(Labels, Vec<ChunkMeta>)>> {
    let labels = proptest::collection::vec(proptest::option::of(0..VALUES.len()), NAMES.len()).prop_map(|vs| {
        Labels::from_pairs(NAMES.iter().zip(vs).filter_map(|(n, v)| v.map(|v| (*n, VALUES[v])))).unwrap()
    });
    // KB and entries follow from the (MinTime, MaxTime, Checksum) identity,
    // so which of two duplicates survives de-duplication does not matter.
    let chunk = (0i64..100, 0i64..30, 0u32..4).prop_map(|(min, span, crc)| {
        ChunkMeta::new(min, min + span, (min as u32 + crc) % 5, span as u32 + crc + 1, crc)
    });
    proptest::collection::vec((labels, proptest::collection::vec(chunk, 0..20)), 0..30)
}

fn arb_matcher() -> impl Strategy<Value = Matcher> {
    let pats = ["a|b", "a.*", ".*", ".+", "", "prod|dev|", "(a|ab)", "[ab]+", "d.v"];
    (0..NAMES.len() + 1, 0..4usize, 0..VALUES.len() + 1, 0..pats.len()).prop_map(move |(n, op, v, p)| {
        let name = NAMES.get(n).copied().unwrap_or("missing");
        let value = VALUES.get(v).copied().unwrap_or("");
        match op {
            0 => Matcher::equal(name, value),
            1 => Matcher::not_equal(name, value),
            2 => Matcher::new(MatchOp::Regex, name, pats[p]).unwrap(),
            _ => Matcher::new(MatchOp::NotRegex, name, pats[p]).unwrap(),
        }
    })
}

fn naive(all: &BTreeMap<Labels, Vec<ChunkMeta>>, ms: &[Matcher], from: i64, through: i64) -> Vec<Series> {
    let mut out: Vec<Series> = all
        .iter()
        .filter(|(l, _)| ms.iter().all(|m| m.matches_labels(l)))
        .filter_map(|(l, c)| {
            let mut c = c.clone();
            lokistore::index::finalize_chunks(&mut c);
            c.retain(|c| c.overlaps(from, through));
            (!c.is_empty()).then(|| Series { labels: l.clone(), fingerprint: l.fingerprint(), chunks: c })
        })
        .collect();
    out.sort_by(|a, b| (a.fingerprint, &a.labels).cmp(&(b.fingerprint, &b.labels)));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn queries_agree_with_a_naive_scan(
        series in arb_series(),
        matchers in proptest::collection::vec(arb_matcher(), 0..4),
        from in 0i64..120,
        len in 1i64..80,
    ) {
        let through = from + len;
        let mut all: BTreeMap<Labels, Vec<ChunkMeta>> = BTreeMap::new();
        let mut b = IndexBuilder::new(IndexFormat::V3);
        let mut head = HeadIndex::new();
        let (mut part1, mut part2) = (IndexBuilder::new(IndexFormat::V3), HeadIndex::new());
        for (i, (l, c)) in series.iter().enumerate() {
            all.entry(l.clone()).or_default().extend(c.iter().copied());
            b.add_series(l, l.fingerprint(), c.iter().copied());
            for (j, chunk) in c.iter().enumerate() {
                head.append(l, l.fingerprint(), *chunk);
                if (i + j) % 2 == 0 { part1.add_series(l, l.fingerprint(), [*chunk]) } else { part2.append(l, l.fingerprint(), *chunk) }
            }
        }
        let reader = IndexReader::new(b.build().unwrap().bytes.into()).unwrap();
        let want = naive(&all, &matchers, from, through);
        let q = SeriesQuery::new(from, through, &matchers);
        prop_assert_eq!(&reader.series(&q).unwrap(), &want);
        prop_assert_eq!(&head.series(&q).unwrap(), &want);
        let mut merged = MultiIndex::new();
        merged.push(IndexReader::new(part1.build().unwrap().bytes.into()).unwrap());
        merged.push(part2);
        prop_assert_eq!(&merged.series(&q).unwrap(), &want);
        prop_assert_eq!(reader.stats(&q).unwrap(), head.stats(&q).unwrap());
        prop_assert_eq!(reader.stats(&q).unwrap(), merged.stats(&q).unwrap());
        let refs = reader.chunk_refs(&q).unwrap();
        prop_assert_eq!(refs.len(), want.iter().map(|s| s.chunks.len()).sum::<usize>());
        prop_assert_eq!(&head.chunk_refs(&q).unwrap(), &refs);
        prop_assert_eq!(&merged.chunk_refs(&q).unwrap(), &refs);

        // Label values under matchers: values of the matching series (any time).
        // (The head only knows series that got a chunk.)
        let values = |with_chunks: bool| -> Vec<String> {
            let set: std::collections::BTreeSet<String> = all.iter()
                .filter(|(l, c)| (!with_chunks || !c.is_empty()) && matchers.iter().all(|m| m.matches_labels(l)))
                .filter_map(|(l, _)| l.get("app").map(str::to_owned)).collect();
            set.into_iter().collect()
        };
        if !matchers.is_empty() {
            prop_assert_eq!(reader.label_values("app", &matchers).unwrap(), values(false));
            prop_assert_eq!(head.label_values("app", &matchers).unwrap(), values(true));
        }
        let shard = Shard::new(1, 2).unwrap();
        let sq = q.with_shard(shard);
        let want_shard: Vec<Series> = want.iter().filter(|s| shard.matches(s.fingerprint)).cloned().collect();
        prop_assert_eq!(reader.series(&sq).unwrap(), want_shard);
    }
}

/// The seed corpus of the `index_reader` fuzz target, and every one-byte
/// flip of the small seeds, run through the harness.
#[cfg(feature = "internals")]
#[test]
fn fuzz_harness_on_seed_corpus() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/index_reader"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(entry.unwrap().path()).unwrap();
        lokistore::index::fuzz_harness::index_reader(&data);
        if data.len() < 1000 {
            for i in 0..data.len() {
                let mut b = data.clone();
                b[i] ^= 0x5a;
                lokistore::index::fuzz_harness::index_reader(&b);
            }
        }
        n += 1;
    }
    assert!(n >= 5);
}

#[test]
fn mmapped_file_reads_like_bytes() {
    let dir = crate::support::vectors_dir().join("index/compacted/index_20463/conformance");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "tsdb"))
        .unwrap();
    let mapped = lokistore::IndexReader::mmap(&path).unwrap();
    let read = lokistore::IndexReader::open(&path).unwrap();
    assert_eq!(mapped.bytes(), read.bytes());
    let a: Vec<_> = mapped.all_series().collect::<Result<_, _>>().unwrap();
    let b: Vec<_> = read.all_series().collect::<Result<_, _>>().unwrap();
    assert!(!a.is_empty());
    assert_eq!(a, b);
}

/// The KB figure lokistore computes for a chunk (`Chunk::index_kb`, what
/// the engine writes into its index files) equals what Loki stored for
/// the same chunk object, for every Loki chunk the index files reference.
#[test]
fn chunk_kb_matches_lokis_index() {
    let mut kb_by_checksum = std::collections::HashMap::new();
    for rel in [MT, COMPACTED] {
        for (_, _, chunks) in listing(rel).series {
            for c in chunks {
                kb_by_checksum.insert(c.checksum, c.kb);
            }
        }
    }
    let mut checked = 0;
    for f in crate::support::chunk_files() {
        let crc = f["checksum_crc32"].as_str().map_or_else(
            || f["checksum_crc32"].as_u64().unwrap() as u32,
            |s| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap(),
        );
        let Some(&kb) = kb_by_checksum.get(&crc) else { continue };
        let bytes = std::fs::read(crate::support::vectors_dir().join(f["path"].as_str().unwrap())).unwrap();
        let obj = lokistore::ChunkObject::decode(bytes.into()).unwrap();
        let chunk = lokistore::Chunk::from_bytes(obj.data).unwrap();
        assert_eq!(chunk.index_kb(), kb, "{}", f["path"]);
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} Loki chunks are referenced by the index vectors");
}
