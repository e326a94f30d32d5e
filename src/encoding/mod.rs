//! Byte-level building blocks shared by every on-disk format: a bounds-checked
//! read cursor, Go-compatible varints and big-endian integers, and CRC32-Castagnoli.
//!
//! | primitive | encoding |
//! |---|---|
//! | `uvarint` | unsigned LEB128 as Go's `binary.PutUvarint` (at most 10 bytes) |
//! | `varint`  | zig-zag signed varint as Go's `binary.PutVarint` |
//! | `BE32/BE64` | big-endian fixed width |
//! | `crc` | CRC-32C (Castagnoli), stored big-endian in Loki's chunk formats |
//!
//! See `../shared/spec/chunk-format.md` §1.

mod cursor;
mod varint;

#[allow(unused_imports, reason = "public for the internals feature")]
pub use cursor::DecodeErrorKind;
pub use cursor::{Cursor, DecodeError};
pub use varint::{put_uvarint, put_varint, uvarint_len};

/// CRC-32C (Castagnoli) of `data`, as Loki and Prometheus compute it.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// Appends `v` as 4 big-endian bytes.
#[inline]
pub fn put_u32_be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends `v` as 8 big-endian bytes.
#[inline]
pub fn put_u64_be(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }
}
