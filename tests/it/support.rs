//! Shared test helpers: the Loki-written vectors in `../shared/vectors/loki`.

#![allow(dead_code)]

use std::path::PathBuf;

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
