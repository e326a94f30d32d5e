//! Runs arbitrary bytes as a log line through `json`, `json` with expressions and `unpack` (see `lokistore::fuzzing::logql_json`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::logql_json(data));
