//! block (in progress).
