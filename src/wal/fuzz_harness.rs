//! Fuzz harness bodies for the WAL (feature `internals`), for the
//! cargo-fuzz targets and the corpus replay test.
//!
//! | target | input | checks |
//! |---|---|---|
//! | [`wal_segment_reader`] | a segment file | reading and resynchronizing never panic and terminate; every record read decodes or fails cleanly; the records read, framed again, read back identical |
//! | [`wal_record_decoder`] | one record payload | decoding never panics; a decoded record re-encodes to bytes that decode to the same record |
//!
//! Each function panics only when lokistore breaks one of these invariants.

use bytes::Bytes;

use super::record::{Record, decode_record, encode_entries_version, encode_series};
use super::{DEFAULT_SEGMENT_SIZE, SegmentReader, frame_segment};
use crate::chunk::HeadFormat;

/// Reads `data` as a segment, resynchronizing after each error.
pub fn wal_segment_reader(data: &[u8]) {
    let mut r = SegmentReader::new(None, 0, Bytes::copy_from_slice(data));
    let mut records = Vec::new();
    let mut clean = true;
    // Each step consumes bytes, so this ends; the bound is a safety net.
    for _ in 0..=data.len() + 1 {
        match r.next() {
            None => break,
            Some(Ok(rec)) => {
                wal_record_decoder(&rec.data);
                records.push(rec.data);
            }
            Some(Err(c)) => {
                assert!(c.record_start <= c.location.offset.max(c.record_start));
                clean = false;
                if !r.resync() {
                    break;
                }
            }
        }
    }
    let refs: Vec<&[u8]> = records.iter().map(|r| &r[..]).collect();
    let framed = frame_segment(&refs, DEFAULT_SEGMENT_SIZE, false);
    if clean && !records.is_empty() && records.iter().all(|r| !r.is_empty()) {
        let mut again = SegmentReader::new(None, 0, Bytes::from(framed));
        for want in &records {
            let got = again.next().expect("a record").expect("re-framed records read back");
            assert_eq!(&got.data, want, "re-framed record differs");
        }
        assert!(again.next().is_none(), "extra records after re-framing");
    }
}

/// Decodes `data` as one record payload and checks the round trip.
pub fn wal_record_decoder(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    let Ok(rec) = decode_record(&bytes) else { return };
    let mut out = Vec::new();
    match &rec {
        Record::Series { tenant, series } => encode_series(tenant, series, &mut out),
        Record::Entries { tenant, version, streams } => encode_entries_version(*version, tenant, streams, &mut out),
        Record::Checkpoint(s) => {
            s.encode_record(&mut out);
            for c in &s.chunks {
                if let Ok(chunk) = c.restore(HeadFormat::UnorderedWithMetadata, 256 * 1024, 1_572_864) {
                    let _ = chunk.entries(i64::MIN, i64::MAX, crate::Direction::Forward);
                }
            }
        }
    }
    let again = decode_record(&Bytes::from(out)).expect("a re-encoded record decodes");
    let normalize = |r: Record| match r {
        // Groups without entries are not written.
        Record::Entries { tenant, version, mut streams } => {
            streams.retain(|s| !s.entries.is_empty());
            Record::Entries { tenant, version, streams }
        }
        other => other,
    };
    assert_eq!(normalize(again), normalize(rec), "record round trip");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harnesses_accept_garbage_and_vectors() {
        for data in [&b""[..], b"\x01\x00\x03abc", b"\x05\x01t", &[0xff; 100], &[1, 0, 1, 0, 0, 0, 0, 0]] {
            wal_segment_reader(data);
            wal_record_decoder(data);
        }
        let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");
        for (target, f) in
            [("wal_segment_reader", wal_segment_reader as fn(&[u8])), ("wal_record_decoder", wal_record_decoder)]
        {
            let Ok(dir) = std::fs::read_dir(format!("{corpus}/{target}")) else { continue };
            for entry in dir.flatten() {
                f(&std::fs::read(entry.path()).unwrap());
            }
        }
    }
}
