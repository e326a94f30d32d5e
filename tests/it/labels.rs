//! Tests: labels.
