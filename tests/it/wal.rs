//! Tests: write-ahead log.
