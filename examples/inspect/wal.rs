//! `inspect wal DIR`: one JSON line per record of the newest checkpoint and
//! of every segment, then a summary line. Corruption is printed where it is
//! found (`"type":"corruption"`), reading resumes at the next record that
//! verifies, and the exit status is non-zero.

use std::io::{BufWriter, Write};
use std::path::Path;

use bytes::Bytes;
use lokistore::wal::{self, Record, SegmentReader};

use crate::chunk::quote;

#[derive(Default)]
struct Totals {
    records: u64,
    series: u64,
    entries: u64,
    checkpoint_series: u64,
    corruptions: u64,
    segments: u64,
}

/// Prints one JSON line per WAL record and a summary line.
pub fn run(dir: &str) -> Result<(), String> {
    let dir = Path::new(dir);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut t = Totals::default();
    let cp = wal::latest_checkpoint(dir).map_err(|e| e.to_string())?;
    if let Some(cp) = &cp {
        for seg in wal::list_segments(&cp.path).map_err(|e| e.to_string())? {
            segment(&mut out, &cp.path, Some(cp.index), seg, &mut t)?;
        }
    }
    for seg in wal::list_segments(dir).map_err(|e| e.to_string())? {
        segment(&mut out, dir, None, seg, &mut t)?;
    }
    let cp = cp.map_or("null".to_owned(), |c| c.index.to_string());
    writeln!(
        out,
        r#"{{"summary":true,"checkpoint":{cp},"segments":{},"records":{},"checkpoint_series":{},"series":{},"entries":{},"corruptions":{}}}"#,
        t.segments, t.records, t.checkpoint_series, t.series, t.entries, t.corruptions
    )
    .map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())?;
    if t.corruptions > 0 {
        return Err(format!("{}: {} corruption(s) found", dir.display(), t.corruptions));
    }
    Ok(())
}

fn segment(out: &mut impl Write, dir: &Path, checkpoint: Option<u32>, seg: u32, t: &mut Totals) -> Result<(), String> {
    let path = dir.join(wal::segment_name(seg));
    let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    t.segments += 1;
    let mut r = SegmentReader::new(checkpoint, seg, Bytes::from(data));
    let cp = checkpoint.map_or(String::new(), |c| format!(r#""checkpoint":{c},"#));
    let w = |e: std::io::Error| e.to_string();
    loop {
        match r.next() {
            None => return Ok(()),
            Some(Err(c)) => {
                t.corruptions += 1;
                writeln!(
                    out,
                    r#"{{{cp}"segment":{seg},"offset":{},"type":"corruption","error":{}}}"#,
                    c.location.offset,
                    quote(&c.kind.to_string())
                )
                .map_err(w)?;
                r.resync();
            }
            Some(Ok(rec)) => {
                let off = rec.location.offset;
                let len = rec.data.len();
                match wal::decode_record(&rec.data) {
                    Err(e) => {
                        t.corruptions += 1;
                        writeln!(
                            out,
                            r#"{{{cp}"segment":{seg},"offset":{off},"type":"corruption","error":{}}}"#,
                            quote(&format!("invalid record: {e}"))
                        )
                        .map_err(w)?;
                    }
                    Ok(Record::Series { tenant, series }) => {
                        t.records += 1;
                        t.series += series.len() as u64;
                        let list: Vec<String> = series
                            .iter()
                            .map(|s| {
                                format!(
                                    r#"{{"ref":"{:016x}","labels":{}}}"#,
                                    s.fingerprint,
                                    quote(&s.labels.to_string())
                                )
                            })
                            .collect();
                        writeln!(
                            out,
                            r#"{{{cp}"segment":{seg},"offset":{off},"type":"series","bytes":{len},"tenant":{},"series":[{}]}}"#,
                            quote(&tenant),
                            list.join(",")
                        )
                        .map_err(w)?;
                    }
                    Ok(Record::Entries { tenant, version, streams }) => {
                        t.records += 1;
                        let n: usize = streams.iter().map(|s| s.entries.len()).sum();
                        t.entries += n as u64;
                        let list: Vec<String> = streams
                            .iter()
                            .map(|s| {
                                let (lo, hi) = s.entries.iter().fold((i64::MAX, i64::MIN), |(lo, hi), e| {
                                    (lo.min(e.timestamp), hi.max(e.timestamp))
                                });
                                format!(
                                    r#"{{"ref":"{:016x}","counter":{},"entries":{},"from":"{lo}","through":"{hi}"}}"#,
                                    s.fingerprint,
                                    s.counter,
                                    s.entries.len()
                                )
                            })
                            .collect();
                        writeln!(
                            out,
                            r#"{{{cp}"segment":{seg},"offset":{off},"type":"entries","bytes":{len},"version":{version},"tenant":{},"entries":{n},"streams":[{}]}}"#,
                            quote(&tenant),
                            list.join(",")
                        )
                        .map_err(w)?;
                    }
                    Ok(Record::Checkpoint(s)) => {
                        t.records += 1;
                        t.checkpoint_series += 1;
                        let mut entries = 0usize;
                        for c in &s.chunks {
                            let chunk = c
                                .restore(lokistore::HeadFormat::UnorderedWithMetadata, 256 * 1024, 1_572_864)
                                .map_err(|e| format!("{}: offset {off}: chunk: {e}", path.display()))?;
                            entries += chunk.num_entries();
                        }
                        t.entries += entries as u64;
                        writeln!(
                            out,
                            r#"{{{cp}"segment":{seg},"offset":{off},"type":"checkpoint","bytes":{len},"tenant":{},"ref":"{:016x}","labels":{},"chunks":{},"entries":{entries},"entry_count":{}}}"#,
                            quote(&s.tenant),
                            s.fingerprint,
                            quote(&s.labels.to_string()),
                            s.chunks.len(),
                            s.entry_count
                        )
                        .map_err(w)?;
                    }
                    Ok(_) => t.records += 1,
                }
            }
        }
    }
}
