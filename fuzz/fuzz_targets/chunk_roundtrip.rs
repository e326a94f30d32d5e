//! Runs a program of appends against a chunk and a naive model (see `lokistore::fuzzing::chunk_roundtrip`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::chunk_roundtrip(data));
