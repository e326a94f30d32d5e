//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and every
//! crash input ever found (`fuzz/regressions/<target>/`) through the fuzz
//! harness bodies in `lokistore::fuzzing`, so a fixed bug stays fixed and
//! the harnesses keep compiling and passing without a fuzzer.
#![cfg(feature = "internals")]

use std::path::{Path, PathBuf};

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 10] = [
    ("chunk_reader", lokistore::fuzzing::chunk_reader),
    ("object_reader", lokistore::fuzzing::object_reader),
    ("checkpoint_reader", lokistore::fuzzing::checkpoint_reader),
    ("chunk_roundtrip", lokistore::fuzzing::chunk_roundtrip),
    ("index_reader", lokistore::index::fuzz_harness::index_reader),
    ("wal_segment_reader", lokistore::wal::fuzz_harness::wal_segment_reader),
    ("wal_record_decoder", lokistore::wal::fuzz_harness::wal_record_decoder),
    ("logql_parser", lokistore::fuzzing::logql_parser),
    ("logql_logfmt", lokistore::fuzzing::logql_logfmt),
    ("logql_json", lokistore::fuzzing::logql_json),
];

/// Every corpus target must have at least this many seeds.
const MIN_CORPUS_FILES: usize = 10;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz"))
}

/// The input files of a folder (not dotfiles or READMEs), sorted; none if
/// the folder does not exist.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = read
        .map(|e| e.expect("read fuzz input folder").path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// Runs every input of `kind` (`corpus` or `regressions`) through its
/// target, reporting all failing files at once. Returns the count per target.
fn replay(kind: &str) -> Vec<(&'static str, usize)> {
    let mut failures = Vec::new();
    let mut counts = Vec::new();
    for (name, target) in TARGETS {
        let files = inputs(&fuzz_dir().join(kind).join(name));
        for file in &files {
            let data = std::fs::read(file).expect("read fuzz input");
            if let Err(panic) = std::panic::catch_unwind(|| target(&data)) {
                let msg = panic
                    .downcast_ref::<String>()
                    .map(String::as_str)
                    .or_else(|| panic.downcast_ref::<&str>().copied())
                    .unwrap_or("(non-string panic)");
                failures.push(format!("{}: {msg}", file.display()));
            }
        }
        counts.push((name, files.len()));
    }
    assert!(failures.is_empty(), "{} fuzz input(s) fail:\n{}", failures.len(), failures.join("\n"));
    counts
}

#[test]
fn corpus_replays_cleanly() {
    for (name, count) in replay("corpus") {
        assert!(count >= MIN_CORPUS_FILES, "fuzz/corpus/{name} has only {count} files");
    }
}

#[test]
fn regressions_replay_cleanly() {
    replay("regressions");
}
