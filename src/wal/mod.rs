//! The write-ahead log (in progress).
