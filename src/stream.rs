//! Streams (in progress).
/// Stream.
#[derive(Debug)]
pub struct Stream;
/// Config.
#[derive(Debug)]
pub struct StreamConfig;
