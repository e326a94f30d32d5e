//! Iteration (in progress).
/// Iterator.
#[derive(Debug)]
pub struct EntryIter;
