//! Postings lists and the postings offset table
//! (`../shared/spec/tsdb-index.md` §2.7).
//!
//! Postings list (each padded to 4):
//!
//! | field | encoding |
//! |---|---|
//! | len | `BE32` = 4 + 4 x count |
//! | count | `BE32` |
//! | refs | count x `BE32` series ref (offset / 16), ascending |
//! | crc | `BE32` |
//!
//! Postings offset table: `BE32 len` | `BE32 count` | count x (`uvarint 2`,
//! `str` name, `str` value, `uvarint` absolute offset of the list) | `BE32 crc`.
//! The first entry is the all-series list (`""`, `""`); the others are in
//! (name, value) byte order.

use roaring::RoaringBitmap;

use crate::encoding::Cursor;

use super::error::{IndexError, Section};
use super::format::read_framed;

/// One label value's entry: where its bytes are and where its list is.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueEntry {
    pub at: usize,
    pub len: u32,
    pub list: u64,
}

/// One label name: its bytes and its values' range in `values`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameEntry {
    pub at: usize,
    pub len: u32,
    pub first: u32,
    pub end: u32,
}

/// The parsed postings offset table, referring to the file bytes.
#[derive(Debug, Clone, Default)]
pub(crate) struct PostingsTable {
    pub all: Option<u64>,
    pub names: Vec<NameEntry>,
    pub values: Vec<ValueEntry>,
}

fn slice(data: &[u8], at: usize, len: u32) -> &[u8] {
    data.get(at..at + len as usize).unwrap_or_default()
}

impl PostingsTable {
    /// Reads and verifies the table at `off`; entries must be sorted.
    pub(crate) fn read(data: &[u8], off: u64) -> Result<Self, IndexError> {
        let (content, base) = read_framed(data, off, Section::PostingsTable)?;
        let mut c = Cursor::with_base(content, base);
        let de = |e| IndexError::decode(Section::PostingsTable, e);
        let count = c.read_u32_be("entry count").map_err(de)?;
        if count as usize > c.remaining() / 4 {
            return Err(IndexError::corrupt(
                Section::PostingsTable,
                off,
                format!("{count} entries in {} bytes", c.remaining()),
            ));
        }
        let mut t = Self { values: Vec::with_capacity(count as usize), ..Self::default() };
        let mut prev: Option<(&[u8], &[u8])> = None;
        for _ in 0..count {
            let entry_at = c.offset() as u64;
            let keys = c.read_uvarint("key count").map_err(de)?;
            if keys != 2 {
                return Err(IndexError::corrupt(Section::PostingsTable, entry_at, format!("{keys} keys, want 2")));
            }
            let name = c.read_uvarint_bytes("label name").map_err(de)?;
            let name_at = c.offset() - name.len();
            let value = c.read_uvarint_bytes("label value").map_err(de)?;
            let value_at = c.offset() - value.len();
            let list = c.read_uvarint("postings offset").map_err(de)?;
            if std::str::from_utf8(name).is_err() || std::str::from_utf8(value).is_err() {
                return Err(IndexError::corrupt(Section::PostingsTable, entry_at, "label name or value is not UTF-8"));
            }
            if name.is_empty() {
                if !value.is_empty() || t.all.is_some() || prev.is_some() {
                    return Err(IndexError::corrupt(Section::PostingsTable, entry_at, "misplaced all-postings entry"));
                }
                t.all = Some(list);
                continue;
            }
            if let Some(p) = prev
                && (name, value) <= p
            {
                return Err(IndexError::corrupt(Section::PostingsTable, entry_at, "entries not in order"));
            }
            prev = Some((name, value));
            let idx = t.values.len() as u32;
            match t.names.last_mut() {
                Some(n) if slice(data, n.at, n.len) == name => n.end = idx + 1,
                _ => t.names.push(NameEntry { at: name_at, len: name.len() as u32, first: idx, end: idx + 1 }),
            }
            t.values.push(ValueEntry { at: value_at, len: value.len() as u32, list });
        }
        Ok(t)
    }

    /// The entry of `name`.
    pub(crate) fn name(&self, data: &[u8], name: &str) -> Option<&NameEntry> {
        self.names
            .binary_search_by(|n| slice(data, n.at, n.len).cmp(name.as_bytes()))
            .ok()
            .and_then(|i| self.names.get(i))
    }

    /// The values of a name entry.
    pub(crate) fn values_of(&self, n: &NameEntry) -> &[ValueEntry] {
        self.values.get(n.first as usize..n.end as usize).unwrap_or_default()
    }

    /// The postings offset of `name=value`.
    pub(crate) fn find(&self, data: &[u8], name: &str, value: &str) -> Option<u64> {
        let n = self.name(data, name)?;
        let vals = self.values_of(n);
        vals.binary_search_by(|v| slice(data, v.at, v.len).cmp(value.as_bytes())).ok().map(|i| vals[i].list)
    }

    /// The string of an entry (validated UTF-8 at open).
    pub(crate) fn str_at(data: &[u8], at: usize, len: u32) -> &str {
        std::str::from_utf8(slice(data, at, len)).unwrap_or_default()
    }
}

/// Reads the postings list at `off` and ORs its refs into `out`.
pub(crate) fn read_postings_into(data: &[u8], off: u64, out: &mut RoaringBitmap) -> Result<(), IndexError> {
    let (content, base) = read_framed(data, off, Section::Postings)?;
    let mut c = Cursor::with_base(content, base);
    let count = c.read_u32_be("postings count").map_err(|e| IndexError::decode(Section::Postings, e))?;
    let body = c.rest();
    if body.len() as u64 != 4 * u64::from(count) {
        return Err(IndexError::corrupt(Section::Postings, off, format!("{count} refs in {} bytes", body.len())));
    }
    let refs = body.chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    if out.is_empty() {
        *out = RoaringBitmap::from_sorted_iter(refs)
            .map_err(|_| IndexError::corrupt(Section::Postings, off, "series refs not ascending"))?;
    } else {
        let list = RoaringBitmap::from_sorted_iter(refs)
            .map_err(|_| IndexError::corrupt(Section::Postings, off, "series refs not ascending"))?;
        *out |= list;
    }
    Ok(())
}
