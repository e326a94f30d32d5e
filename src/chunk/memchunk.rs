//! Chunk (in progress).
/// Chunk.
#[derive(Debug)]
pub struct Chunk;
/// Outcome.
#[derive(Debug)]
pub enum AppendOutcome {}
