//! The TSDB index (in progress).
