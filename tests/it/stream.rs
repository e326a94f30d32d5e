//! Streams reproduce where Loki's ingester cut the vector streams' chunks.

use lokistore::{Encoding, Entry, Label, Labels, PushOutcome, Stream, StreamConfig};

use crate::support::{chunk_files, expected_entries};

fn stream_for(file: &serde_json::Value, encoding: Encoding) -> Stream {
    let labels = Labels::from_pairs(
        file["labels"]
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| *k != "__name__")
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
    )
    .unwrap();
    assert_eq!(labels.fingerprint().to_string(), file["fingerprint"].as_str().unwrap());
    let mut config = StreamConfig::default();
    config.chunk.encoding = encoding;
    Stream::new(labels, config).unwrap()
}

/// Loki's `none` run cut `api-m3n4b` at the hourly sync point after 1697
/// entries (utilization uses uncompressed sizes there), while the compressed
/// runs kept all 2010 entries in one chunk.
#[test]
fn sync_cut_depends_on_codec_like_loki() {
    let files = chunk_files();
    let all = expected_entries("expected/api-m3n4b.jsonl");
    assert_eq!(all.len(), 2010);
    for f in files.iter().filter(|f| f["fingerprint"] == "f4ee615c61729a55") {
        let enc: Encoding = f["encoding"].as_str().unwrap().parse().unwrap();
        let mut stream = stream_for(f, enc);
        for e in &all {
            let md = e.metadata.iter().map(|(k, v)| Label::new(k.clone(), v.clone())).collect();
            let entry = Entry::with_metadata(e.ts, e.line.clone(), md);
            assert_eq!(stream.push(&entry).unwrap(), PushOutcome::Stored);
        }
        let first_chunk_entries = match stream.closed_chunks().first() {
            Some(c) => c.num_entries(),
            None => stream.current_chunk().num_entries(),
        };
        assert_eq!(first_chunk_entries as u64, f["entries"].as_u64().unwrap(), "{enc}");
        assert_eq!(stream.num_entries(), 2010);
    }
}

#[test]
fn repeated_last_line_is_a_duplicate_and_old_entries_are_rejected() {
    let labels = Labels::from_pairs([("app", "x")]).unwrap();
    let mut s = Stream::new(labels, StreamConfig::default()).unwrap();
    let hour = 3_600_000_000_000i64;
    let t0 = 10 * hour;
    assert_eq!(s.push(&Entry::new(t0, "a")).unwrap(), PushOutcome::Stored);
    assert_eq!(s.push(&Entry::new(t0, "a")).unwrap(), PushOutcome::Duplicate);
    assert_eq!(s.push(&Entry::new(t0 - hour + 1, "in window")).unwrap(), PushOutcome::Stored);
    let err = s.push(&Entry::new(t0 - hour - 1, "too old")).unwrap_err();
    assert!(matches!(err, lokistore::ChunkError::TooFarBehind { .. }), "{err}");
    assert_eq!(s.num_entries(), 2);
}

#[test]
fn full_chunks_are_cut_at_the_target_size() {
    let labels = Labels::from_pairs([("app", "x")]).unwrap();
    let mut config = StreamConfig::default();
    config.chunk.encoding = Encoding::None;
    config.chunk.target_size = 10_000;
    config.chunk.block_size = 1_000;
    let mut s = Stream::new(labels, config).unwrap();
    let line = "x".repeat(100);
    for i in 0..1_000 {
        s.push(&Entry::new(1_000 + i, line.clone())).unwrap();
    }
    s.cut().unwrap();
    let chunks = s.take_closed_chunks();
    assert!(chunks.len() >= 10, "{} chunks", chunks.len());
    for c in &chunks {
        assert!(c.to_bytes().unwrap().len() < 10_000 + 1_000);
    }
    assert_eq!(chunks.iter().map(|c| c.num_entries()).sum::<usize>(), 1_000);
}

#[test]
fn replay_skips_the_out_of_order_window() {
    let labels = Labels::from_pairs([("app", "x")]).unwrap();
    let mut s = Stream::new(labels, StreamConfig::default()).unwrap();
    let hour = 3_600_000_000_000i64;
    s.push(&Entry::new(10 * hour, "new")).unwrap();
    assert!(s.push(&Entry::new(hour, "old")).is_err());
    assert_eq!(s.replay_push(&Entry::new(hour, "old")).unwrap(), PushOutcome::Stored);
    assert_eq!(s.num_entries(), 2);
}
