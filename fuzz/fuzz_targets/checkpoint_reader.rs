//! Restores a chunk from arbitrary WAL checkpoint parts (see `lokistore::fuzzing::checkpoint_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::checkpoint_reader(data));
