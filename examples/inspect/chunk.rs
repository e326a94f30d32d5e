//! `inspect chunk FILE`: a bare chunk or a stored chunk object as JSON lines.

use std::io::{BufWriter, Write};

use bytes::Bytes;
use lokistore::{Chunk, ChunkObject, Direction};

/// Prints the header line and one line per entry; errors are returned as text.
pub fn run(path: &str) -> Result<(), String> {
    let bytes = Bytes::from(std::fs::read(path).map_err(|e| format!("{path}: {e}"))?);
    let is_bare = bytes.len() >= 4 && bytes[..4] == lokistore::chunk::CHUNK_MAGIC.to_be_bytes();
    let data = if is_bare {
        bytes
    } else {
        ChunkObject::decode(bytes).map_err(|e| format!("{path}: not a chunk or chunk object: {e}"))?.data
    };
    let chunk = Chunk::from_bytes(data).map_err(|e| format!("{path}: {e}"))?;
    if chunk.corrupt_blocks() > 0 {
        eprintln!("inspect: {path}: skipped {} block(s) with a bad checksum", chunk.corrupt_blocks());
    }
    let (from, through) = chunk.bounds().unwrap_or((0, 0));
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    // Keys are written in a fixed order, so lines are built by hand with
    // serde_json doing the string escaping.
    writeln!(
        out,
        r#"{{"format":{},"encoding":{},"blocks":{},"entries":{},"from":"{from}","through":"{through}"}}"#,
        chunk.format().to_byte(),
        quote(chunk.encoding().name()),
        chunk.num_blocks(),
        chunk.num_entries(),
    )
    .map_err(|e| e.to_string())?;
    let mut line = String::new();
    let mut it = chunk.iter(i64::MIN, i64::MAX, Direction::Forward);
    while let Some(entry) = it.next() {
        let entry = entry.map_err(|e| format!("{path}: {e}"))?;
        line.clear();
        line.push_str(&format!(
            r#"{{"ts":"{}","line":{}"#,
            entry.timestamp,
            quote(&String::from_utf8_lossy(entry.line))
        ));
        if entry.metadata_len() > 0 {
            line.push_str(r#","metadata":{"#);
            for (i, (n, v)) in entry.metadata().enumerate() {
                if i > 0 {
                    line.push(',');
                }
                line.push_str(&format!("{}:{}", quote(n), quote(v)));
            }
            line.push('}');
        }
        line.push('}');
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())
}

pub fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}
