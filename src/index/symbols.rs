//! The symbol table (`../shared/spec/tsdb-index.md` §2.1).
//!
//! | field | encoding |
//! |---|---|
//! | len | `BE32` bytes of content |
//! | count | `BE32` |
//! | symbols | count x (`uvarint` len, bytes), strictly increasing by bytes |
//! | crc | `BE32` crc32c of the content |
//!
//! A symbol reference is the symbol's 0-based position.

use crate::encoding::Cursor;

use super::error::{IndexError, Section};
use super::format::read_framed;

/// The symbol table of an open index: the offset of every symbol, so a
/// lookup is one slice and one UTF-8 check, without allocating.
#[derive(Debug, Clone, Default)]
pub(crate) struct Symbols {
    /// Absolute file offset of each symbol's bytes and their length.
    spans: Vec<(usize, u32)>,
}

impl Symbols {
    /// Reads and verifies the table at `off`.
    pub(crate) fn read(data: &[u8], off: u64) -> Result<Self, IndexError> {
        let (content, base) = read_framed(data, off, Section::Symbols)?;
        let mut c = Cursor::with_base(content, base);
        let de = |e| IndexError::decode(Section::Symbols, e);
        let count = c.read_u32_be("symbol count").map_err(de)?;
        // Each symbol takes at least one byte.
        if count as usize > c.remaining() {
            return Err(IndexError::corrupt(
                Section::Symbols,
                off,
                format!("{count} symbols in {} bytes", c.remaining()),
            ));
        }
        let mut spans = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let len = c.read_uvarint("symbol length").map_err(de)?;
            let at = c.offset();
            let bytes = c.read_bytes(len, "symbol").map_err(de)?;
            if std::str::from_utf8(bytes).is_err() {
                return Err(IndexError::corrupt(Section::Symbols, at as u64, "symbol is not UTF-8"));
            }
            spans.push((at, len as u32));
        }
        Ok(Self { spans })
    }

    /// Number of symbols.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The symbol with reference `r`.
    #[inline]
    pub(crate) fn lookup<'a>(&self, data: &'a [u8], r: u64) -> Result<&'a str, IndexError> {
        let &(at, len) = usize::try_from(r).ok().and_then(|i| self.spans.get(i)).ok_or_else(|| {
            IndexError::corrupt(Section::Series, 0, format!("symbol reference {r} out of range ({})", self.spans.len()))
        })?;
        let bytes = data.get(at..at + len as usize).unwrap_or_default();
        std::str::from_utf8(bytes).map_err(|_| IndexError::corrupt(Section::Symbols, at as u64, "symbol is not UTF-8"))
    }

    /// Every symbol in order.
    pub(crate) fn iter<'a>(&'a self, data: &'a [u8]) -> impl Iterator<Item = &'a str> + 'a {
        self.spans.iter().map(move |&(at, len)| {
            std::str::from_utf8(data.get(at..at + len as usize).unwrap_or_default()).unwrap_or_default()
        })
    }
}
