//! A minimal, checked protobuf (proto3) wire reader and writer: just what
//! the checkpoint's `Series` message needs (`../shared/spec/wal.md` §3.2).
//!
//! | wire type | encoding |
//! |---|---|
//! | 0 varint | uvarint; negative `int64`/`int32` as 10-byte two's complement (no zig-zag) |
//! | 1 fixed64 | 8 bytes little-endian (skipped) |
//! | 2 length-delimited | `uvarint len` + bytes (strings, bytes, embedded messages) |
//! | 5 fixed32 | 4 bytes little-endian (skipped) |
//!
//! Each field starts with the key `uvarint (field << 3 | wire type)`.
//! Groups (wire types 3, 4) are refused.

use crate::encoding::{Cursor, DecodeError, put_uvarint, uvarint_len};

/// Wire type of varint fields.
pub(crate) const WIRE_VARINT: u8 = 0;
/// Wire type of length-delimited fields.
pub(crate) const WIRE_LEN: u8 = 2;

/// One decoded field value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Value {
    /// A varint.
    Varint(u64),
    /// Length-delimited bytes, with their start position in the buffer.
    Len { start: usize, len: usize },
    /// A fixed-width field (skipped by our messages).
    Fixed,
}

/// Reads fields one by one.
pub(crate) struct ProtoReader<'a> {
    cur: Cursor<'a>,
}

impl<'a> ProtoReader<'a> {
    /// A reader over one message; `base` is added to reported offsets.
    pub(crate) fn new(buf: &'a [u8], base: usize) -> Self {
        Self { cur: Cursor::with_base(buf, base) }
    }

    /// Offset of the next byte (including the base).
    pub(crate) fn offset(&self) -> usize {
        self.cur.offset()
    }

    /// The next `(field number, value)`, or `None` at the end.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, Value)>, DecodeError> {
        if self.cur.is_empty() {
            return Ok(None);
        }
        let at = self.cur.offset();
        let key = self.cur.read_uvarint("protobuf key")?;
        let field = u32::try_from(key >> 3)
            .ok()
            .filter(|&f| f > 0)
            .ok_or_else(|| DecodeError::invalid("protobuf key", at, format!("invalid field number in key {key}")))?;
        let value = match (key & 7) as u8 {
            WIRE_VARINT => Value::Varint(self.cur.read_uvarint("protobuf varint")?),
            1 => {
                self.cur.skip(8, "protobuf fixed64")?;
                Value::Fixed
            }
            WIRE_LEN => {
                let len = self.cur.read_uvarint("protobuf length")?;
                let start = self.cur.position();
                self.cur.skip(len, "protobuf bytes")?;
                Value::Len { start, len: len as usize }
            }
            5 => {
                self.cur.skip(4, "protobuf fixed32")?;
                Value::Fixed
            }
            w => return Err(DecodeError::invalid("protobuf key", at, format!("unsupported wire type {w}"))),
        };
        Ok(Some((field, value)))
    }

    /// An error for a field whose wire type does not match the schema.
    pub(crate) fn wrong_type(&self, what: &'static str) -> DecodeError {
        DecodeError::invalid(what, self.cur.offset(), "unexpected wire type")
    }
}

/// Size of a field key (field numbers here are all below 16: one byte).
fn key_len(field: u32) -> usize {
    uvarint_len(u64::from(field << 3))
}

/// Bytes a varint field takes.
pub(crate) fn varint_field_len(field: u32, v: u64) -> usize {
    key_len(field) + uvarint_len(v)
}

/// Bytes a length-delimited field of `len` payload bytes takes.
pub(crate) fn len_field_len(field: u32, len: usize) -> usize {
    key_len(field) + uvarint_len(len as u64) + len
}

/// Writes a field key.
pub(crate) fn put_key(out: &mut Vec<u8>, field: u32, wire: u8) {
    put_uvarint(out, u64::from(field << 3 | u32::from(wire)));
}

/// Writes a varint field.
pub(crate) fn put_varint_field(out: &mut Vec<u8>, field: u32, v: u64) {
    put_key(out, field, WIRE_VARINT);
    put_uvarint(out, v);
}

/// Writes a length-delimited field.
pub(crate) fn put_bytes_field(out: &mut Vec<u8>, field: u32, b: &[u8]) {
    put_key(out, field, WIRE_LEN);
    put_uvarint(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// Writes the key and length of an embedded message; the caller writes its
/// `len` bytes next.
pub(crate) fn put_message_header(out: &mut Vec<u8>, field: u32, len: usize) {
    put_key(out, field, WIRE_LEN);
    put_uvarint(out, len as u64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_int64_is_ten_bytes() {
        let mut out = Vec::new();
        put_varint_field(&mut out, 1, (-62_135_596_800i64) as u64);
        assert_eq!(out, [0x08, 0x80, 0x92, 0xb8, 0xc3, 0x98, 0xfe, 0xff, 0xff, 0xff, 0x01]);
        assert_eq!(varint_field_len(1, (-62_135_596_800i64) as u64), out.len());
    }

    #[test]
    fn reader_skips_fixed_and_refuses_groups() {
        let buf = [0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x15, 1, 2, 3, 4, 0x1a, 1, 0xaa];
        let mut r = ProtoReader::new(&buf, 0);
        assert!(matches!(r.next_field().unwrap(), Some((1, Value::Fixed))));
        assert!(matches!(r.next_field().unwrap(), Some((2, Value::Fixed))));
        assert!(matches!(r.next_field().unwrap(), Some((3, Value::Len { start: 16, len: 1 }))));
        assert!(r.next_field().unwrap().is_none());
        assert!(ProtoReader::new(&[0x0b], 0).next_field().is_err());
        assert!(ProtoReader::new(&[0x0a, 5, 1], 0).next_field().is_err());
        assert!(ProtoReader::new(&[0x00], 0).next_field().is_err());
    }
}
