//! Tests: TSDB index.
