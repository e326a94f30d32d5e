//! Tests: object.
