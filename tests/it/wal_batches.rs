//! The batches the WAL crash child pushes: a pure function of the batch
//! number, shared by `examples/wal_crash_child.rs` (which includes this file)
//! and the crash tests that check what it acknowledged.

use lokistore::{Entry, Label};

/// Tenants the batches rotate through.
pub const TENANTS: [&str; 3] = ["tenant-a", "tenant-b", "tenant-c"];

/// The streams and entries of batch `b`: `(tenant, [(app label, entries)])`.
pub fn batch(b: u64) -> (&'static str, Vec<(String, Vec<Entry>)>) {
    let tenant = TENANTS[(b % 3) as usize];
    let k = 1 + (b / 3) % 3;
    let mut streams = Vec::new();
    for s in 0..k {
        let idx = (b + s) % 4;
        let n = 1 + (b * 7 + s) % 20;
        let mut entries = Vec::new();
        for i in 0..n {
            let ts = 1_700_000_000_000_000_000 + (b as i64) * 1_000_000 + i as i64;
            let pad = if b.is_multiple_of(17) && i == 0 { 40_000 } else { ((b * 31 + i * 7) % 200) as usize };
            let line = format!("b{b} s{idx} i{i} {}", "x".repeat(pad));
            let metadata = if i % 3 == 0 { vec![Label::new("trace_id", format!("{b}-{i}"))] } else { Vec::new() };
            entries.push(Entry::with_metadata(ts, line, metadata));
        }
        streams.push((format!("svc{idx}"), entries));
    }
    (tenant, streams)
}
