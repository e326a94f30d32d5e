//! Tests: codec.
