//! The structured-metadata symbol table of a v4 chunk.
//!
//! | field | encoding |
//! |---|---|
//! | count | `uvarint`, never compressed |
//! | payload | chunk codec stream (raw in WAL checkpoints) of `count × (uvarint len, bytes)` |
//!
//! Names and values share one table; indices are assigned in first-seen
//! (append) order from 0. The section's CRC32C covers count + payload
//! (`../shared/spec/chunk-format.md` §6).

use std::collections::HashMap;

use super::{ChunkError, Encoding};
use crate::encoding::{Cursor, put_uvarint};
use crate::labels::normalize_metadata_name;

/// Interned strings with first-seen indices.
#[derive(Debug, Clone, Default)]
pub(crate) struct Symbols {
    strings: Vec<Box<str>>,
    /// Normalized form when used as a metadata name, where it differs.
    names: Vec<Option<Box<str>>>,
    index: HashMap<Box<str>, u32>,
    /// Sum of string lengths (Loki's `symbolTableUncompressedBytes`).
    bytes: usize,
}

impl Symbols {
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }

    /// Total length of all strings.
    pub(crate) fn byte_size(&self) -> usize {
        self.bytes
    }

    /// Index of `s`, adding it if new.
    pub(crate) fn add(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        self.push(s.into())
    }

    fn push(&mut self, s: Box<str>) -> u32 {
        let i = self.strings.len() as u32;
        let norm = match normalize_metadata_name(&s) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(n) => Some(n.into_boxed_str()),
        };
        self.bytes += s.len();
        self.index.entry(s.clone()).or_insert(i);
        self.strings.push(s);
        self.names.push(norm);
        i
    }

    /// The string at `i`; `""` beyond the table (as Loki).
    pub(crate) fn get(&self, i: u32) -> &str {
        self.strings.get(i as usize).map_or("", |s| s)
    }

    /// The string at `i` normalized as a metadata name.
    pub(crate) fn name(&self, i: u32) -> &str {
        match self.names.get(i as usize) {
            Some(Some(n)) => n,
            Some(None) => &self.strings[i as usize],
            None => "",
        }
    }

    /// The raw (unnormalized) string at `i`, if in range.
    pub(crate) fn raw(&self, i: u32) -> Option<&str> {
        self.strings.get(i as usize).map(|s| &**s)
    }

    /// Appends the section body (count + payload, without CRC).
    /// `compressed == false` writes the raw payload used by checkpoints.
    pub(crate) fn serialize(&self, encoding: Encoding, compressed: bool, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        put_uvarint(out, self.strings.len() as u64);
        let mut payload = Vec::with_capacity(self.bytes + self.strings.len() * 2);
        for s in &self.strings {
            put_uvarint(&mut payload, s.len() as u64);
            payload.extend_from_slice(s.as_bytes());
        }
        if compressed {
            encoding.compress(&payload, out)?;
        } else {
            out.extend_from_slice(&payload);
        }
        Ok(())
    }

    /// Decodes a section body. `base` is the section's offset in the chunk.
    pub(crate) fn deserialize(
        section: &[u8],
        base: usize,
        encoding: Encoding,
        compressed: bool,
    ) -> Result<Self, ChunkError> {
        let mut cur = Cursor::with_base(section, base);
        let count = cur.read_uvarint("symbol count")?;
        let mut buf = Vec::new();
        // A metadata-free chunk may carry no payload at all (snappy, none, or
        // a lenient writer); only decompress when there is something to read.
        let payload: &[u8] = if compressed && encoding != Encoding::None && !cur.is_empty() {
            encoding.decompress(cur.rest(), &mut buf, super::MAX_DECOMPRESSED_LEN)?;
            &buf
        } else {
            cur.rest()
        };
        // Every symbol takes at least one byte, which bounds the allocation.
        if count > payload.len() as u64 {
            return Err(cur
                .invalid("symbol count", format!("{count} symbols cannot fit in {} payload bytes", payload.len()))
                .into());
        }
        let mut table = Symbols::default();
        table.strings.reserve(count as usize);
        let mut p = Cursor::new(payload);
        for _ in 0..count {
            let b = p.read_uvarint_bytes("symbol")?;
            let s: Box<str> = String::from_utf8_lossy(b).into();
            table.push(s);
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_seen_order_and_dedup() {
        let mut s = Symbols::default();
        assert_eq!(s.add("trace_id"), 0);
        assert_eq!(s.add("abc"), 1);
        assert_eq!(s.add("trace_id"), 0);
        assert_eq!(s.byte_size(), 11);
        assert_eq!(s.get(7), "");
    }

    #[test]
    fn round_trip_every_codec() {
        let mut s = Symbols::default();
        for w in ["a.b", "x", "", "ünï"] {
            s.add(w);
        }
        for enc in Encoding::ALL {
            for compressed in [true, false] {
                let mut out = Vec::new();
                s.serialize(enc, compressed, &mut out).unwrap();
                let back = Symbols::deserialize(&out, 0, enc, compressed).unwrap();
                assert_eq!(back.len(), 4);
                assert_eq!(back.get(0), "a.b");
                assert_eq!(back.name(0), "a_b");
                assert_eq!(back.get(3), "ünï");
            }
        }
    }

    #[test]
    fn hostile_count_is_rejected() {
        let bytes = [0xff, 0xff, 0xff, 0xff, 0x0f, 1, b'a'];
        assert!(Symbols::deserialize(&bytes, 0, Encoding::None, false).is_err());
    }
}
