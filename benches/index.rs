//! Benchmarks: index (in progress).
fn main() {}
