//! Fuzz target `wal_segment_reader` (see `lokistore::wal::fuzz_harness::wal_segment_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::wal::fuzz_harness::wal_segment_reader(data));
