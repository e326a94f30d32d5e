//! Decodes arbitrary bytes as a serialized chunk (see `lokistore::fuzzing::chunk_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::chunk_reader(data));
