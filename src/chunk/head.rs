//! The head block: entries appended to a chunk but not yet cut into a
//! compressed block.
//!
//! Entries are kept in append order in flat arenas (one `Vec` of line bytes,
//! one of metadata symbol pairs), so an append costs no allocation once the
//! arenas have grown. Timestamp order is established when the head is cut or
//! iterated: a stable sort, so equal timestamps keep insertion order as in
//! Loki's unordered head.
//!
//! Duplicate rule (unordered heads): an entry whose timestamp, line and
//! metadata symbol list equal an entry already in the head is dropped. The
//! in-order fast path never looks anything up; the first out-of-order append
//! builds a timestamp index that is then maintained until the next cut.

use std::collections::HashMap;

use super::block::put_entry;
use super::{ChunkError, HeadFormat};

#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadEntry {
    pub(crate) ts: i64,
    pub(crate) line_start: usize,
    pub(crate) line_len: usize,
    pub(crate) pairs_start: u32,
    pub(crate) pairs_len: u32,
}

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Head {
    pub(crate) format: HeadFormat,
    pub(crate) entries: Vec<HeadEntry>,
    pub(crate) lines: Vec<u8>,
    pub(crate) pairs: Vec<(u32, u32)>,
    /// Loki's size counter: line bytes, plus 8 per metadata pair in format 5.
    pub(crate) size: usize,
    pub(crate) mint: i64,
    pub(crate) maxt: i64,
    /// True while entries are in non-decreasing timestamp order.
    sorted: bool,
    /// ts -> index of the newest entry with that ts (built on first out-of-order append).
    ts_index: Option<HashMap<i64, u32>>,
    /// Per entry: index of the previous entry with the same ts, or NONE.
    prev_same_ts: Vec<u32>,
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadAppend {
    Appended,
    Duplicate,
}

impl Head {
    pub(crate) fn new(format: HeadFormat) -> Self {
        Self {
            format,
            entries: Vec::new(),
            lines: Vec::new(),
            pairs: Vec::new(),
            size: 0,
            mint: 0,
            maxt: 0,
            sorted: true,
            ts_index: None,
            prev_same_ts: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn reset(&mut self) {
        self.entries.clear();
        self.lines.clear();
        self.pairs.clear();
        self.size = 0;
        self.mint = 0;
        self.maxt = 0;
        self.sorted = true;
        self.ts_index = None;
        self.prev_same_ts.clear();
    }

    pub(crate) fn line(&self, e: &HeadEntry) -> &[u8] {
        &self.lines[e.line_start..e.line_start + e.line_len]
    }

    pub(crate) fn entry_pairs(&self, e: &HeadEntry) -> &[(u32, u32)] {
        &self.pairs[e.pairs_start as usize..(e.pairs_start + e.pairs_len) as usize]
    }

    /// Appends an entry; `pairs` are symbol indices sorted by name.
    /// Ordered heads reject `ts < maxt`; unordered heads drop duplicates.
    pub(crate) fn append(&mut self, ts: i64, line: &[u8], pairs: &[(u32, u32)]) -> Result<HeadAppend, ChunkError> {
        let pairs = if self.format == HeadFormat::UnorderedWithMetadata { pairs } else { &[] };
        match self.format {
            HeadFormat::Ordered => {
                if !self.is_empty() && ts < self.maxt {
                    return Err(ChunkError::OutOfOrder { timestamp: ts, newest: self.maxt });
                }
            }
            HeadFormat::Unordered | HeadFormat::UnorderedWithMetadata => {
                if !(0..i64::MAX).contains(&ts) {
                    return Err(ChunkError::TimestampOutOfRange(ts));
                }
                if !self.is_empty() && ts <= self.maxt && self.is_duplicate(ts, line, pairs) {
                    return Ok(HeadAppend::Duplicate);
                }
            }
        }
        self.push(ts, line, pairs);
        Ok(HeadAppend::Appended)
    }

    /// Stores an entry without order or duplicate checks: for an ordered
    /// head restored from a checkpoint (Loki loads it as written) and for
    /// entries copied from another head of the same format.
    pub(crate) fn push_unchecked(&mut self, ts: i64, line: &[u8], pairs: &[(u32, u32)]) {
        self.push(ts, line, pairs);
    }

    fn push(&mut self, ts: i64, line: &[u8], pairs: &[(u32, u32)]) {
        let idx = self.entries.len() as u32;
        let pairs_start = self.pairs.len() as u32;
        self.pairs.extend_from_slice(pairs);
        let line_start = self.lines.len();
        self.lines.extend_from_slice(line);
        if self.is_empty() {
            self.mint = ts;
            self.maxt = ts;
        } else {
            if ts < self.maxt {
                self.sorted = false;
            }
            self.mint = self.mint.min(ts);
            self.maxt = self.maxt.max(ts);
        }
        self.entries.push(HeadEntry {
            ts,
            line_start,
            line_len: line.len(),
            pairs_start,
            pairs_len: pairs.len() as u32,
        });
        if let Some(index) = &mut self.ts_index {
            let prev = index.insert(ts, idx).unwrap_or(NONE);
            self.prev_same_ts.push(prev);
        }
        self.size += line.len();
        if self.format == HeadFormat::UnorderedWithMetadata {
            self.size += 8 * pairs.len();
        }
    }

    fn same(&self, e: &HeadEntry, line: &[u8], pairs: &[(u32, u32)]) -> bool {
        self.line(e) == line && self.entry_pairs(e) == pairs
    }

    fn is_duplicate(&mut self, ts: i64, line: &[u8], pairs: &[(u32, u32)]) -> bool {
        if self.ts_index.is_none() {
            if self.sorted && ts == self.maxt {
                // In-order: entries with this ts sit at the end.
                return self.entries.iter().rev().take_while(|e| e.ts == ts).any(|e| self.same(e, line, pairs));
            }
            self.build_index();
        }
        let index = self.ts_index.as_ref().expect("built above");
        let mut cur = index.get(&ts).copied().unwrap_or(NONE);
        while cur != NONE {
            let e = &self.entries[cur as usize];
            if self.same(e, line, pairs) {
                return true;
            }
            cur = self.prev_same_ts[cur as usize];
        }
        false
    }

    fn build_index(&mut self) {
        let mut index = HashMap::with_capacity(self.entries.len() * 2);
        self.prev_same_ts.clear();
        for (i, e) in self.entries.iter().enumerate() {
            let prev = index.insert(e.ts, i as u32).unwrap_or(NONE);
            self.prev_same_ts.push(prev);
        }
        self.ts_index = Some(index);
    }

    /// Entry indices in ascending timestamp order (stable).
    pub(crate) fn sorted_order(&self) -> Option<Vec<u32>> {
        if self.sorted {
            return None;
        }
        let mut order: Vec<u32> = (0..self.entries.len() as u32).collect();
        order.sort_by_key(|&i| self.entries[i as usize].ts);
        Some(order)
    }

    /// Visits entries in ascending timestamp order.
    pub(crate) fn for_each_sorted(&self, mut f: impl FnMut(&HeadEntry)) {
        match self.sorted_order() {
            None => self.entries.iter().for_each(f),
            Some(order) => order.iter().for_each(|&i| f(&self.entries[i as usize])),
        }
    }

    /// Serializes the entries as a block payload (§4), ascending by timestamp.
    pub(crate) fn serialize_block(&self, with_metadata: bool, out: &mut Vec<u8>) {
        out.reserve(self.lines.len() + self.entries.len() * 16);
        self.for_each_sorted(|e| put_entry(out, e.ts, self.line(e), self.entry_pairs(e), with_metadata));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unordered_dedup_and_order() {
        let mut h = Head::new(HeadFormat::UnorderedWithMetadata);
        assert_eq!(h.append(10, b"a", &[]).unwrap(), HeadAppend::Appended);
        assert_eq!(h.append(10, b"a", &[]).unwrap(), HeadAppend::Duplicate);
        assert_eq!(h.append(10, b"a", &[(0, 1)]).unwrap(), HeadAppend::Appended);
        assert_eq!(h.append(5, b"b", &[]).unwrap(), HeadAppend::Appended);
        assert_eq!(h.append(10, b"a", &[(0, 1)]).unwrap(), HeadAppend::Duplicate);
        assert_eq!(h.append(5, b"b", &[]).unwrap(), HeadAppend::Duplicate);
        assert_eq!(h.append(7, b"c", &[]).unwrap(), HeadAppend::Appended);
        assert_eq!(h.len(), 4);
        assert_eq!(h.size, 1 + (1 + 8) + 1 + 1);
        let mut ts = Vec::new();
        h.for_each_sorted(|e| ts.push((e.ts, e.pairs_len)));
        assert_eq!(ts, [(5, 0), (7, 0), (10, 0), (10, 1)]);
        assert_eq!((h.mint, h.maxt), (5, 10));
    }

    #[test]
    fn ordered_rejects_older() {
        let mut h = Head::new(HeadFormat::Ordered);
        h.append(10, b"a", &[]).unwrap();
        h.append(10, b"a", &[]).unwrap();
        assert!(matches!(h.append(9, b"a", &[]), Err(ChunkError::OutOfOrder { .. })));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn unordered_rejects_negative_timestamps() {
        let mut h = Head::new(HeadFormat::Unordered);
        assert!(h.append(-1, b"a", &[]).is_err());
        assert!(h.append(i64::MAX, b"a", &[]).is_err());
    }
}
