//! Child process for the engine crash test (`tests/it/engine_crash.rs`).
//!
//! ```text
//! engine_crash_child DIR FIRST_BATCH [MAX_BATCHES]
//! ```
//!
//! Opens an [`Engine`] on DIR (recovering whatever an earlier, killed
//! child left there), prints `READY`, then pushes batch after batch from
//! FIRST_BATCH on and prints `ACK n` once `push` of batch n returned with
//! every entry accepted. Between pushes it flushes, runs maintenance or
//! writes a WAL checkpoint, chosen by the batch number, so that a kill can
//! land in the middle of any of them (it prints `BEGIN <work>` before and
//! `END` after, so the test knows what a kill interrupted). It runs until killed (or MAX_BATCHES
//! were pushed, then it closes the engine and exits).
//!
//! The batches, and the engine configuration, live in [`shared`]: the test
//! includes this file to reproduce them.

use std::io::Write;

use lokistore::engine::Engine;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(dir), Some(first)) = (args.first(), args.get(1).and_then(|a| a.parse::<u64>().ok())) else {
        eprintln!("usage: engine_crash_child DIR FIRST_BATCH [MAX_BATCHES]");
        std::process::exit(2);
    };
    let max = args.get(2).and_then(|a| a.parse::<u64>().ok()).unwrap_or(u64::MAX);
    let engine = match Engine::open(shared::config(std::path::Path::new(dir))) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("engine_crash_child: open: {e}");
            std::process::exit(3);
        }
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "READY");
    let _ = out.flush();
    for b in first..first.saturating_add(max) {
        let (tenant, streams) = shared::batch(b);
        let want: usize = streams.iter().map(|s| s.entries.len()).sum();
        match engine.push(&tenant, streams) {
            Ok(res) if res.is_complete() && res.accepted() == want => {}
            Ok(res) => {
                eprintln!("engine_crash_child: batch {b}: {} of {want} accepted: {res}", res.accepted());
                std::process::exit(4);
            }
            Err(e) => {
                eprintln!("engine_crash_child: push of batch {b}: {e}");
                std::process::exit(5);
            }
        }
        let _ = writeln!(out, "ACK {b}");
        let _ = out.flush();
        let after = shared::after(b);
        if after != shared::After::Nothing {
            // Tells the test what the kill may interrupt.
            let _ = writeln!(out, "BEGIN {after:?}");
            let _ = out.flush();
        }
        let work = match after {
            shared::After::Nothing => Ok(()),
            shared::After::Flush => engine.flush().map(drop),
            shared::After::Maintain => engine.maintain().map(drop),
            shared::After::Checkpoint => engine.checkpoint().map(drop),
        };
        if let Err(e) = work {
            eprintln!("engine_crash_child: {after:?} after batch {b}: {e}");
            std::process::exit(6);
        }
        if after != shared::After::Nothing {
            let _ = writeln!(out, "END");
            let _ = out.flush();
        }
    }
    if let Err(e) = engine.close() {
        eprintln!("engine_crash_child: close: {e}");
        std::process::exit(7);
    }
}

/// What the child does and pushes, as pure functions of the batch number;
/// shared with the test.
pub mod shared {
    use std::path::Path;
    use std::time::Duration;

    use lokistore::engine::{EngineConfig, PushStream};
    use lokistore::{ChunkConfig, Entry, Label, Labels, StreamConfig, SyncMode, TenantId, WalConfig};

    /// Tenants the batches rotate through.
    pub const TENANTS: [&str; 3] = ["crash-a", "crash-b", "crash-c"];

    /// Timestamp of batch 0's first entry (ns).
    pub const BASE_TS: i64 = 1_700_000_000_000_000_000;

    /// The engine configuration of the child (and of the test's reopens):
    /// per-push fsync, small WAL segments, a checkpoint every 128 KiB of
    /// WAL, and 16 KiB chunks of 4 KiB blocks so that chunks are cut often.
    pub fn config(dir: &Path) -> EngineConfig {
        let mut c = EngineConfig::new(dir);
        c.wal = WalConfig {
            sync: SyncMode::PerPush,
            segment_size: 256 * 1024,
            checkpoint_interval: None,
            checkpoint_bytes: Some(128 * 1024),
        };
        c.limits.creation_grace_period = None;
        c.stream = StreamConfig {
            chunk: ChunkConfig::default().with_target_size(16 * 1024).with_block_size(4 * 1024),
            ..StreamConfig::default()
        };
        // Short enough that `maintain` finds idle head chunks to cut.
        c.chunk_idle_period = Duration::from_millis(100);
        c.flush_threads = 2;
        c
    }

    /// Work the child does after acknowledging a batch.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum After {
        /// Push the next batch.
        Nothing,
        /// `Engine::flush` (cuts every head chunk, writes chunks and an
        /// index file, retires streams, checkpoints).
        Flush,
        /// `Engine::maintain` (idle cuts, flush of closed chunks,
        /// checkpoint when due).
        Maintain,
        /// `Engine::checkpoint`.
        Checkpoint,
    }

    /// The work after batch `b`.
    pub fn after(b: u64) -> After {
        if b % 23 == 22 {
            After::Flush
        } else if b % 11 == 5 {
            After::Maintain
        } else if b % 17 == 8 {
            After::Checkpoint
        } else {
            After::Nothing
        }
    }

    /// Deterministic filler text of `len` bytes for batch `b`, entry `i`:
    /// words from a small vocabulary picked by a xorshift generator, so it
    /// compresses like log text rather than like a run of one byte.
    fn filler(b: u64, i: u64, len: usize) -> String {
        const WORDS: [&str; 12] =
            ["alpha", "beta", "status=200", "GET", "/api/v1", "took", "ms", "user", "retry", "cache", "ok", "id"];
        let mut x = (b << 20 | i) ^ 0x9e37_79b9_7f4a_7c15;
        let mut s = String::with_capacity(len + 16);
        while s.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s.push_str(WORDS[(x % WORDS.len() as u64) as usize]);
            s.push(' ');
            if x.is_multiple_of(5) {
                s.push_str(&format!("{:x} ", x >> 40));
            }
        }
        s.truncate(len);
        s
    }

    /// The labels of stream `idx` as batch `b` names it: four fixed
    /// streams, and a fifth whose `gen` label changes every 40 batches (so
    /// streams are created, flushed and retired as the test goes on).
    pub fn labels(b: u64, idx: u64) -> Labels {
        let pairs: Vec<(String, String)> = if idx == 4 {
            vec![("app".into(), "rotating".into()), ("gen".into(), (b / 40).to_string())]
        } else {
            vec![("app".into(), format!("svc{idx}")), ("env".into(), ["prod", "dev"][(idx % 2) as usize].into())]
        };
        Labels::from_pairs(pairs.into_iter().chain([("job".to_owned(), "engine-crash".to_owned())])).expect("labels")
    }

    /// Batch `b`: one tenant's push to one to three streams of 1 to 20
    /// entries. Timestamps grow with `b`; an entry's line starts with
    /// `b{b} s{idx} i{i} `. Every 13th batch has a 40 kB line (longer than
    /// a 32 KiB WAL page); every third entry has structured metadata.
    pub fn batch(b: u64) -> (TenantId, Vec<PushStream>) {
        let tenant = TenantId::new(TENANTS[(b % 3) as usize]).expect("tenant");
        let k = 1 + (b / 3) % 3;
        let mut streams = Vec::new();
        for s in 0..k {
            let idx = (b + s) % 5;
            let n = 1 + (b * 7 + s * 3) % 20;
            let entries = (0..n)
                .map(|i| {
                    let ts = BASE_TS + b as i64 * 1_000_000 + i as i64 * 1_000;
                    let pad = if b.is_multiple_of(13) && s == 0 && i == 0 {
                        40_000
                    } else {
                        ((b * 31 + i * 7) % 200) as usize
                    };
                    let line = format!("b{b} s{idx} i{i} {}", filler(b, i, pad));
                    let mut md = Vec::new();
                    if i.is_multiple_of(3) {
                        md.push(Label::new("trace_id", format!("{b:x}{i:04x}")));
                        if i.is_multiple_of(2) {
                            md.push(Label::new("pod", format!("pod-{}", b % 7)));
                        }
                    }
                    md.sort_by(|a, b| a.name.cmp(&b.name));
                    Entry::with_metadata(ts, line, md)
                })
                .collect();
            streams.push(PushStream::new(labels(b, idx), entries));
        }
        (tenant, streams)
    }
}
