//! rewrite (in progress).
