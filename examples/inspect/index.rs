//! `inspect index FILE`: a TSDB index (plain or `.gz`) as JSON lines: a
//! header, then one line per series in file order.

use std::io::{BufWriter, Write};

use lokistore::index::IndexReader;

use crate::chunk::quote;

/// Prints a header line and one JSON line per series.
pub fn run(file: &str) -> Result<(), String> {
    let reader = IndexReader::open(file).map_err(|e| format!("{file}: {e}"))?;
    let toc = reader.toc();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // Keys are written in a fixed order, so lines are built by hand with
    // serde_json doing the string escaping.
    writeln!(
        out,
        r#"{{"format":{},"from":{},"through":{},"checksum":"{:x}","series":{},"symbols":{}}}"#,
        reader.format().to_byte(),
        toc.from,
        toc.through,
        toc.checksum,
        reader.num_series(),
        reader.num_symbols(),
    )
    .map_err(|e| e.to_string())?;
    let mut line = String::new();
    for series in reader.all_series() {
        let s = series.map_err(|e| format!("{file}: {e}"))?;
        line.clear();
        line.push_str(&format!(r#"{{"fingerprint":"{}","labels":{{"#, s.fingerprint));
        for (i, l) in s.labels.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&format!("{}:{}", quote(&l.name), quote(&l.value)));
        }
        line.push_str(r#"},"chunks":["#);
        for (i, c) in s.chunks.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(&format!(
                r#"{{"from":{},"through":{},"checksum":"{:x}","kb":{},"entries":{}}}"#,
                c.min_time, c.max_time, c.checksum, c.kb, c.entries
            ));
        }
        line.push_str("]}");
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}
