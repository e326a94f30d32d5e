//! Tests: chunk_props.
