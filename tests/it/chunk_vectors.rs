//! Tests: chunk_vectors.
