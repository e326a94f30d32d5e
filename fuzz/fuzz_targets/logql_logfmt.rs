//! Runs arbitrary bytes as a log line through every `logfmt` stage (see `lokistore::fuzzing::logql_logfmt`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::logql_logfmt(data));
