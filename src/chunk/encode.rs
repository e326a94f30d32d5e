//! encode (in progress).
