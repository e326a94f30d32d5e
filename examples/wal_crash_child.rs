//! Child process for the WAL crash tests (`tests/it/wal.rs`).
//!
//! ```text
//! wal_crash_child DIR FIRST_BATCH [MAX_BATCHES]
//! ```
//!
//! Replays the WAL in DIR into an in-memory ingester, opens it for writing
//! (per-push sync, small segments, frequent checkpoints), prints `READY`,
//! then pushes batch after batch from FIRST_BATCH on, printing `ACK n` once
//! batch n is durable. It runs until killed (or MAX_BATCHES were pushed).
//! A batch is one tenant's push to a few streams; its content is a pure
//! function of n (`batch`), which the test reproduces.

use std::io::Write;
use std::time::Duration;

use lokistore::wal::{MemorySink, ReplayOptions, SyncMode, Wal, WalConfig, replay};
use lokistore::{Labels, StreamConfig};

#[path = "../tests/it/wal_batches.rs"]
mod wal_batches;

use wal_batches::batch;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(first)) = (args.first(), args.get(1).and_then(|a| a.parse::<u64>().ok())) else {
        eprintln!("usage: wal_crash_child DIR FIRST_BATCH [MAX_BATCHES]");
        std::process::exit(2);
    };
    let max = args.get(2).and_then(|a| a.parse::<u64>().ok()).unwrap_or(u64::MAX);
    let config = StreamConfig { max_chunk_age: Duration::ZERO, sync_period: Duration::ZERO, ..StreamConfig::default() };
    let mut sink = MemorySink::new(config);
    if let Err(e) = replay(dir, &ReplayOptions::default(), &mut sink) {
        eprintln!("replay: {e}");
        std::process::exit(3);
    }
    let wal_config = WalConfig {
        sync: SyncMode::PerPush,
        segment_size: 256 * 1024,
        checkpoint_interval: None,
        checkpoint_bytes: Some(256 << 10),
    };
    let wal = match Wal::open(dir, wal_config) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("open: {e}");
            std::process::exit(4);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "READY");
    let _ = out.flush();
    for b in first..first.saturating_add(max) {
        let (tenant, streams) = batch(b);
        let mut series = Vec::new();
        let mut groups = Vec::new();
        for (app, entries) in streams {
            let labels = Labels::from_pairs([("app", app.as_str()), ("job", "crash")]).expect("labels");
            let rec = sink.push(tenant, &labels, &entries).expect("push");
            series.extend(rec.new_series);
            groups.push(rec.entries);
        }
        if let Err(e) = wal.log(tenant, &series, &groups) {
            eprintln!("log: {e}");
            std::process::exit(5);
        }
        let _ = writeln!(out, "ACK {b}");
        let _ = out.flush();
        if wal.needs_checkpoint()
            && let Err(e) = wal.checkpoint(sink.checkpoint_series())
        {
            eprintln!("checkpoint: {e}");
            std::process::exit(6);
        }
    }
    if let Err(e) = wal.close() {
        eprintln!("close: {e}");
        std::process::exit(7);
    }
}
