//! Benchmarks: wal (in progress).
fn main() {}
