//! Decodes arbitrary bytes as a stored chunk object and as object keys (see `lokistore::fuzzing::object_reader`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| lokistore::fuzzing::object_reader(data));
