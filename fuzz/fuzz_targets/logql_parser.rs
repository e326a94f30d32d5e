//! Parses arbitrary bytes as a LogQL query and checks the canonical-text round trip (see `lokistore::fuzzing::logql_parser`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::logql_parser(data));
