//! A checked read cursor: every read checks the remaining length first and
//! names what it was reading, so a decoder never slices out of bounds and its
//! errors say what and where.

use std::fmt;

/// Why a read failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Fewer bytes remained than the field needs.
    UnexpectedEof {
        /// Bytes the field needs.
        needed: u64,
        /// Bytes that remained.
        available: usize,
    },
    /// A varint ran past 10 bytes or overflowed 64 bits.
    VarintOverflow,
    /// A value was read but is not acceptable here.
    Invalid(String),
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof { needed, available } => {
                write!(f, "unexpected end of data: needed {needed} bytes, {available} available")
            }
            Self::VarintOverflow => f.write_str("varint overflows 64 bits"),
            Self::Invalid(msg) => f.write_str(msg),
        }
    }
}

/// A decoding failure at a known offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (reading {what} at offset {offset})")]
pub struct DecodeError {
    /// The field being read.
    pub what: &'static str,
    /// Absolute byte offset of the field in the enclosing buffer.
    pub offset: usize,
    /// What went wrong.
    pub kind: DecodeErrorKind,
}

impl DecodeError {
    /// A value that was read but is unacceptable.
    pub fn invalid(what: &'static str, offset: usize, msg: impl Into<String>) -> Self {
        Self { what, offset, kind: DecodeErrorKind::Invalid(msg.into()) }
    }
}

/// A forward-only reader over a byte slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor over `buf`; offsets in errors are relative to `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0, base: 0 }
    }

    /// A cursor over `buf` that reports offsets as `base + position`.
    pub fn with_base(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte (including the base).
    pub fn offset(&self) -> usize {
        self.base.saturating_add(self.pos)
    }

    /// Position relative to the start of the slice.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True once every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The unread bytes.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.pos..]
    }

    fn eof(&self, what: &'static str, needed: u64) -> DecodeError {
        DecodeError {
            what,
            offset: self.offset(),
            kind: DecodeErrorKind::UnexpectedEof { needed, available: self.remaining() },
        }
    }

    /// Error for a value read by this cursor that is unacceptable.
    pub fn invalid(&self, what: &'static str, msg: impl Into<String>) -> DecodeError {
        DecodeError::invalid(what, self.offset(), msg)
    }

    /// Reads `len` bytes.
    #[inline]
    pub fn read_bytes(&mut self, len: u64, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if len > self.remaining() as u64 {
            return Err(self.eof(what, len));
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.buf[start..self.pos])
    }

    /// Reads `N` bytes into an array.
    #[inline]
    pub fn read_array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let b = self.read_bytes(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Reads one byte.
    #[inline]
    pub fn read_u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.read_array::<1>(what)?[0])
    }

    /// Reads a big-endian `u32`.
    #[inline]
    pub fn read_u32_be(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.read_array(what)?))
    }

    /// Reads a big-endian `u64`.
    #[inline]
    pub fn read_u64_be(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.read_array(what)?))
    }

    /// Reads an unsigned LEB128 varint (Go `binary.Uvarint`).
    #[inline]
    pub fn read_uvarint(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        let start = self.pos;
        loop {
            let Some(&b) = self.buf.get(self.pos) else {
                let err = self.eof(what, 1);
                self.pos = start;
                return Err(err);
            };
            self.pos += 1;
            if shift == 63 && b > 1 {
                let off = self.base + start;
                self.pos = start;
                return Err(DecodeError { what, offset: off, kind: DecodeErrorKind::VarintOverflow });
            }
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
            shift += 7;
            if shift > 63 {
                let off = self.base + start;
                self.pos = start;
                return Err(DecodeError { what, offset: off, kind: DecodeErrorKind::VarintOverflow });
            }
        }
    }

    /// Reads a zig-zag signed varint (Go `binary.Varint`).
    #[inline]
    pub fn read_varint(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let u = self.read_uvarint(what)?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// Reads a uvarint length and that many bytes.
    #[inline]
    pub fn read_uvarint_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.read_uvarint(what)?;
        self.read_bytes(len, what)
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: u64, what: &'static str) -> Result<(), DecodeError> {
        self.read_bytes(len, what).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eof_is_reported_with_offset() {
        let mut c = Cursor::with_base(&[1, 2, 3], 100);
        c.read_u8("a").unwrap();
        let err = c.read_u32_be("b").unwrap_err();
        assert_eq!(err.offset, 101);
        assert_eq!(err.what, "b");
        assert!(matches!(err.kind, DecodeErrorKind::UnexpectedEof { needed: 4, available: 2 }));
        // A failed read consumes nothing.
        assert_eq!(c.remaining(), 2);
    }

    #[test]
    fn varint_overflow_is_an_error() {
        let bytes = [0xff; 11];
        assert!(matches!(Cursor::new(&bytes).read_uvarint("v").unwrap_err().kind, DecodeErrorKind::VarintOverflow));
        // 10th byte may only carry one bit.
        let mut ten = [0xff; 10];
        ten[9] = 0x02;
        assert!(Cursor::new(&ten).read_uvarint("v").is_err());
        ten[9] = 0x01;
        assert_eq!(Cursor::new(&ten).read_uvarint("v").unwrap(), u64::MAX);
    }

    #[test]
    fn huge_length_does_not_allocate() {
        let mut c = Cursor::new(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(c.read_uvarint_bytes("line").is_err());
    }
}
