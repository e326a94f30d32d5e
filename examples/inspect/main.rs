//! Inspect lokistore / Grafana Loki files.
//!
//! ```text
//! cargo run --release --example inspect -- chunk FILE
//! ```
//!
//! `chunk FILE` reads a bare chunk or a stored chunk object (the wrapper Loki
//! writes to object storage) and prints a JSON header line, then one JSON
//! line per entry in ascending time.
//!
//! Every subcommand reports a corrupt input on stderr with a non-zero exit
//! status and never panics.

use std::process::ExitCode;

mod chunk;
mod index;
mod wal;

const USAGE: &str = "usage: inspect chunk FILE | inspect wal DIR | inspect index FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [cmd, file] if cmd == "chunk" => chunk::run(file),
        [cmd, dir] if cmd == "wal" => wal::run(dir),
        [cmd, file] if cmd == "index" => index::run(file),
        _ => Err(USAGE.to_owned()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("inspect: {msg}");
            ExitCode::FAILURE
        }
    }
}
