//! Fuzz target `wal_record_decoder` (see `lokistore::wal::fuzz_harness::wal_record_decoder`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::wal::fuzz_harness::wal_record_decoder(data));
