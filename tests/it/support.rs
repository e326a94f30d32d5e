//! Shared test helpers: the Loki-written vectors in `../shared/vectors/loki`,
//! example binaries for crash tests, and views of a store's chunk objects.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use lokistore::ChunkKey;
use lokistore::engine::{Engine, EngineConfig};
use lokistore::index::read_object;
use lokistore::store::{MemoryStore, ObjectStore};
use serde_json::Value;

/// `../shared` next to the crate.
pub fn shared_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

/// `../shared/vectors/loki`.
pub fn vectors_dir() -> PathBuf {
    shared_dir().join("vectors/loki")
}

/// The parsed `manifest.json`.
pub fn manifest() -> Value {
    let text = std::fs::read_to_string(vectors_dir().join("manifest.json")).expect("read manifest.json");
    serde_json::from_str(&text).expect("parse manifest.json")
}

/// The manifest entries of kind `chunk`.
pub fn chunk_files() -> Vec<Value> {
    manifest()["files"].as_array().expect("files").iter().filter(|f| f["kind"] == "chunk").cloned().collect()
}

/// One expected entry of an `expected/*.jsonl` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedEntry {
    pub ts: i64,
    pub line: String,
    /// Metadata pairs as pushed (not sorted).
    pub metadata: Vec<(String, String)>,
}

/// Reads an `expected/*.jsonl` file (path relative to the vectors dir).
pub fn expected_entries(rel: &str) -> Vec<ExpectedEntry> {
    let text = std::fs::read_to_string(vectors_dir().join(rel)).expect("read expected entries");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("expected entry json");
            let metadata = v["metadata"]
                .as_object()
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned())).collect())
                .unwrap_or_default();
            ExpectedEntry {
                ts: v["ts_ns"].as_i64().expect("ts_ns"),
                line: v["line"].as_str().expect("line").to_owned(),
                metadata,
            }
        })
        .collect()
}

/// Splits a stored chunk object into its chunk bytes (skipping the
/// wrapper), without using the crate's object decoder.
pub fn unwrap_object(obj: &[u8]) -> &[u8] {
    let meta_len = u32::from_be_bytes(obj[0..4].try_into().unwrap()) as usize;
    let data_len = u32::from_be_bytes(obj[meta_len..meta_len + 4].try_into().unwrap()) as usize;
    &obj[meta_len + 4..meta_len + 4 + data_len]
}

/// The example `name`, built once per test process with this test's
/// features (`cargo test` does not build examples, a stale binary would
/// test old code, and the same features keep the library from rebuilding).
pub fn example_binary(name: &str) -> PathBuf {
    static BUILT: Mutex<BTreeMap<String, PathBuf>> = Mutex::new(BTreeMap::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(bin) = built.get(name) {
        return bin.clone();
    }
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let bin = profile_dir.join("examples").join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let target = profile_dir.parent().unwrap();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.args(["build", "--quiet", "--example", name, "--target-dir"]).arg(target);
    if cfg!(feature = "internals") {
        cmd.args(["--features", "internals"]);
    }
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    match cmd.current_dir(env!("CARGO_MANIFEST_DIR")).status() {
        Ok(status) => assert!(status.success(), "building the example {name} failed"),
        Err(e) => assert!(bin.exists(), "cannot run cargo to build the example {name}: {e}"),
    }
    built.insert(name.to_owned(), bin.clone());
    bin
}

/// A crash test's PRNG seed: `var` from the environment, else the clock.
/// Printed so a failing run can be repeated.
pub fn crash_seed(var: &str, what: &str) -> u64 {
    let s = std::env::var(var).ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    eprintln!("{what} crash test seed: {s} (set {var} to repeat)");
    s
}

/// A crash test's kill moments' generator (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// A compactor clock reading `now`.
pub fn clock_of(now: &Arc<AtomicI64>) -> impl Fn() -> i64 + Clone + Send + Sync + 'static {
    let now = Arc::clone(now);
    move || now.load(Ordering::SeqCst)
}

/// An engine with `config` over a new in-memory object store.
pub fn memory_engine(config: EngineConfig) -> (Arc<dyn ObjectStore>, Engine) {
    let store: Arc<dyn ObjectStore> = Arc::new(MemoryStore::new());
    let engine = Engine::open_with_store(config, Arc::clone(&store)).unwrap();
    (store, engine)
}

/// Every chunk object key in a store (everything outside `index/` and
/// `compactor/`).
pub fn chunk_objects(store: &dyn ObjectStore) -> BTreeSet<String> {
    store
        .list("")
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .filter(|k| !k.starts_with("index/") && !k.starts_with("compactor/"))
        .collect()
}

/// Paths of every chunk object the index objects of `store` reference
/// (the tenant from a per-tenant file's directory, else from the series'
/// tenant label).
pub fn referenced_chunk_paths(store: &dyn ObjectStore) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for m in store.list("index/").unwrap() {
        let parts: Vec<&str> = m.key.split('/').collect();
        let reader = read_object(&m.key, store.get(&m.key).unwrap()).unwrap();
        for s in reader.all_series() {
            let s = s.unwrap();
            let tenant = match parts.as_slice() {
                ["index", _, tenant, _] => tenant.to_string(),
                _ => s.labels.get("__loki_tenant__").unwrap().to_owned(),
            };
            let (fingerprint, tenant) = (s.fingerprint, &tenant);
            out.extend(s.chunks.iter().map(|c| {
                let (from_ms, through_ms, checksum) = (c.min_time, c.max_time, c.checksum);
                store.chunk_path(&ChunkKey { tenant: tenant.clone(), fingerprint, from_ms, through_ms, checksum })
            }));
        }
    }
    out
}
