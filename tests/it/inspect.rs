//! `examples/inspect`: run as a real process on Loki-written files.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use crate::support::{chunk_files, expected_entries, unwrap_object, vectors_dir};

/// The example binary `cargo test` builds next to the test binary.
fn inspect_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let bin = dir.join("examples").join(format!("inspect{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        // `cargo test` builds examples, a filtered `cargo test --test it` does not.
        let status = Command::new(env!("CARGO"))
            .args(["build", "--example", "inspect", "--all-features"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap();
        assert!(status.success(), "building the inspect example failed");
    }
    assert!(bin.exists(), "{} not built", bin.display());
    bin
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(inspect_bin()).args(args).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn prints_header_and_entries_of_objects_and_bare_chunks() {
    let tmp = tempfile::tempdir().unwrap();
    for f in chunk_files().into_iter().filter(|f| f["encoding"] == "gzip" || f["encoding"] == "zstd") {
        let path = vectors_dir().join(f["path"].as_str().unwrap());
        let bare = tmp.path().join("bare");
        std::fs::write(&bare, unwrap_object(&std::fs::read(&path).unwrap())).unwrap();
        for file in [path.clone(), bare] {
            let (ok, stdout, stderr) = run(&["chunk", file.to_str().unwrap()]);
            assert!(ok, "{stderr}");
            let mut lines = stdout.lines();
            let header = lines.next().unwrap();
            let want_prefix = format!(
                r#"{{"format":4,"encoding":{},"blocks":{},"entries":{},"from":"{}","through":"{}"}}"#,
                f["encoding"], f["blocks"], f["entries"], f["first_ts_ns"], f["last_ts_ns"]
            );
            assert_eq!(header, want_prefix);
            let expected = expected_entries(f["expected_entries"].as_str().unwrap());
            let entries: Vec<Value> = lines.map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(entries.len(), expected.len());
            for (got, want) in entries.iter().zip(&expected) {
                assert_eq!(got["ts"], want.ts.to_string());
                assert_eq!(got["line"], want.line);
                if want.metadata.is_empty() {
                    assert!(got.get("metadata").is_none(), "metadata omitted when empty");
                } else {
                    for (k, v) in &want.metadata {
                        assert_eq!(got["metadata"][k], v.as_str());
                    }
                }
            }
        }
    }
}

#[test]
fn corrupt_files_fail_cleanly() {
    let f = &chunk_files()[0];
    let bytes = std::fs::read(vectors_dir().join(f["path"].as_str().unwrap())).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    for (name, data) in [
        ("truncated", bytes[..bytes.len() / 2].to_vec()),
        ("garbage", b"definitely not a chunk".to_vec()),
        ("empty", Vec::new()),
    ] {
        let p = tmp.path().join(name);
        std::fs::write(&p, data).unwrap();
        let (ok, _, stderr) = run(&["chunk", p.to_str().unwrap()]);
        assert!(!ok, "{name} should fail");
        assert!(stderr.starts_with("inspect: "), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    }
    let (ok, _, stderr) = run(&["chunk", "/nonexistent/file"]);
    assert!(!ok && stderr.contains("/nonexistent/file"));
    let (ok, _, stderr) = run(&["bogus"]);
    assert!(!ok && stderr.contains("usage"));
}
