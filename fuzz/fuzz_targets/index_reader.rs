//! Fuzz target `index_reader` (see `lokistore::index::fuzz_harness::index_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::index::fuzz_harness::index_reader(data));
