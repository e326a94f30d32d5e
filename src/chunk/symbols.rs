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
use std::sync::OnceLock;

use super::{ChunkError, Encoding};
use crate::encoding::{Cursor, put_uvarint};
use crate::labels::normalize_metadata_name;

/// Interned strings with first-seen indices.
///
/// Strings live in one buffer addressed by an offset table, so decoding a
/// table allocates per table, not per symbol. Two things are derived lazily:
/// the normalized form of a symbol used as a metadata name (computed on first
/// use, per symbol) and the string-to-index map (built on the first `add`,
/// which a decoded chunk usually never sees).
#[derive(Debug, Default)]
pub(crate) struct Symbols {
    data: String,
    /// `(start, end)` of each symbol in `data`.
    spans: Vec<(u32, u32)>,
    /// Normalized form when used as a metadata name, where it differs.
    names: Vec<OnceLock<Option<Box<str>>>>,
    index: Option<HashMap<Box<str>, u32>>,
}

impl Clone for Symbols {
    fn clone(&self) -> Self {
        Self {
            data: self.data.clone(),
            spans: self.spans.clone(),
            names: self.names.iter().map(|n| n.get().cloned().map(OnceLock::from).unwrap_or_default()).collect(),
            index: self.index.clone(),
        }
    }
}

impl Symbols {
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// Total length of all strings (Loki's `symbolTableUncompressedBytes`).
    pub(crate) fn byte_size(&self) -> usize {
        self.data.len()
    }

    /// Index of `s`, adding it if new.
    pub(crate) fn add(&mut self, s: &str) -> u32 {
        if self.index.is_none() {
            let map = (0..self.spans.len() as u32).rev().map(|i| (Box::from(self.get(i)), i)).collect();
            self.index = Some(map);
        }
        if let Some(&i) = self.index.as_ref().and_then(|m| m.get(s)) {
            return i;
        }
        let i = self.push(s);
        if let Some(map) = &mut self.index {
            map.insert(s.into(), i);
        }
        i
    }

    /// Appends `s` as a new symbol (no de-duplication).
    fn push(&mut self, s: &str) -> u32 {
        let i = self.spans.len() as u32;
        let start = self.data.len() as u32;
        self.data.push_str(s);
        self.spans.push((start, self.data.len() as u32));
        self.names.push(OnceLock::new());
        i
    }

    /// The string at `i`; `""` beyond the table (as Loki).
    pub(crate) fn get(&self, i: u32) -> &str {
        self.raw(i).unwrap_or("")
    }

    /// The string at `i` normalized as a metadata name.
    pub(crate) fn name(&self, i: u32) -> &str {
        let Some(raw) = self.raw(i) else { return "" };
        let norm = self.names[i as usize].get_or_init(|| match normalize_metadata_name(raw) {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(n) => Some(n.into_boxed_str()),
        });
        norm.as_deref().unwrap_or(raw)
    }

    /// The raw (unnormalized) string at `i`, if in range.
    pub(crate) fn raw(&self, i: u32) -> Option<&str> {
        let &(start, end) = self.spans.get(i as usize)?;
        self.data.get(start as usize..end as usize)
    }

    /// Appends the section body (count + payload, without CRC).
    /// `compressed == false` writes the raw payload used by checkpoints.
    pub(crate) fn serialize(&self, encoding: Encoding, compressed: bool, out: &mut Vec<u8>) -> Result<(), ChunkError> {
        put_uvarint(out, self.spans.len() as u64);
        let mut payload = Vec::with_capacity(self.data.len() + self.spans.len() * 2);
        for i in 0..self.spans.len() as u32 {
            let s = self.get(i);
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
        if payload.len() > u32::MAX as usize {
            return Err(cur.invalid("symbol table", "symbols exceed 4 GiB").into());
        }
        let mut table = Symbols::default();
        table.spans.reserve(count as usize);
        table.names.reserve(count as usize);
        table.data.reserve(payload.len());
        let mut p = Cursor::new(payload);
        for _ in 0..count {
            let b = p.read_uvarint_bytes("symbol")?;
            match std::str::from_utf8(b) {
                Ok(s) => table.push(s),
                Err(_) => table.push(&String::from_utf8_lossy(b)),
            };
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
