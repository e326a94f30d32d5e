//! Checkpoint serialization of a live chunk, as Loki stores it in its WAL
//! checkpoints (`../shared/spec/chunk-format.md` §8).
//!
//! A checkpoint has two parts:
//!
//! * the **chunk part**: the §5 layout of the cut blocks with the symbol
//!   payload *uncompressed* (the encoding byte still names the codec); the
//!   head is not cut, so checkpointing never changes block boundaries;
//! * the **head part**:
//!
//! | head format | layout |
//! |---|---|
//! | 3 (ordered) | `fmt`, `uvarint n`, `uvarint size`, `varint mint`, `varint maxt`, n × (`varint ts`, `uvarint len`, line) |
//! | 4 (unordered) | `fmt`, `uvarint n`, n × (`varint ts`, `uvarint len`, line) in timestamp order |
//! | 5 (unordered + metadata) | as 4, each entry followed by `uvarint nPairs`, nPairs × (`uvarint name`, `uvarint value`) |
//!
//! An empty head part stands for an empty head of the desired format.

use bytes::Bytes;

use super::block::put_pairs;
use super::head::Head;
use super::{Chunk, ChunkError, HeadFormat, MAX_LINE_LENGTH};
use crate::encoding::{Cursor, put_uvarint, put_varint};

impl Chunk {
    /// Serializes the chunk for a WAL checkpoint: `(chunk part, head part)`.
    pub fn to_checkpoint(&self) -> Result<(Vec<u8>, Vec<u8>), ChunkError> {
        let mut head = Vec::with_capacity(self.head.lines.len() + self.head.len() * 12 + 16);
        self.write_head_checkpoint(&mut head);
        let mut chunk = Vec::with_capacity(self.cut_block_size + 64);
        self.write_to(&mut chunk, false)?;
        Ok((chunk, head))
    }

    fn write_head_checkpoint(&self, out: &mut Vec<u8>) {
        let h = &self.head;
        out.push(h.format.to_byte());
        put_uvarint(out, h.len() as u64);
        if h.format == HeadFormat::Ordered {
            put_uvarint(out, h.size as u64);
            put_varint(out, h.mint);
            put_varint(out, h.maxt);
            for e in &h.entries {
                put_varint(out, e.ts);
                put_uvarint(out, e.line_len as u64);
                out.extend_from_slice(h.line(e));
            }
            return;
        }
        let with_metadata = h.format == HeadFormat::UnorderedWithMetadata;
        h.for_each_sorted(|e| {
            put_varint(out, e.ts);
            put_uvarint(out, e.line_len as u64);
            out.extend_from_slice(h.line(e));
            if with_metadata {
                // Unlike a block entry, the pair list is not length-prefixed here.
                put_pairs(out, h.entry_pairs(e));
            }
        });
    }

    /// Restores a live chunk from its checkpoint parts. `desired_head` is the
    /// head format used when the head part is empty or ordered (an ordered
    /// head is converted to it, as Loki does).
    pub fn from_checkpoint(
        chunk: Bytes,
        head: &[u8],
        desired_head: HeadFormat,
        block_size: usize,
        target_size: usize,
    ) -> Result<Self, ChunkError> {
        let mut c = Chunk::decode(chunk, block_size, target_size, true)?;
        let head_format = if head.is_empty() {
            desired_head
        } else {
            let b = head[0];
            HeadFormat::from_byte(b)
                .or(if b < 3 { Some(HeadFormat::Ordered) } else { None })
                .ok_or_else(|| Cursor::new(head).invalid("head format", format!("unknown head block format {b}")))?
        };
        let target = if head_format == HeadFormat::Ordered { desired_head } else { head_format };
        c.config.head_format = target;
        c.config.validate()?;
        c.head = Head::new(target);
        if !head.is_empty() {
            c.load_head_checkpoint(head, head_format)?;
        }
        Ok(c)
    }

    fn load_head_checkpoint(&mut self, head: &[u8], format: HeadFormat) -> Result<(), ChunkError> {
        let mut cur = Cursor::new(head);
        cur.read_u8("head format")?;
        let n = cur.read_uvarint("head entry count")?;
        if format == HeadFormat::Ordered {
            cur.read_uvarint("head size")?;
            cur.read_varint("head mint")?;
            cur.read_varint("head maxt")?;
        }
        // Every entry takes at least two bytes, which bounds the loop.
        if n > cur.remaining() as u64 / 2 {
            return Err(cur
                .invalid("head entry count", format!("{n} entries cannot fit in {} bytes", cur.remaining()))
                .into());
        }
        let mut pairs = Vec::new();
        for _ in 0..n {
            let ts = cur.read_varint("head entry timestamp")?;
            let len = cur.read_uvarint("head entry line length")?;
            if len >= MAX_LINE_LENGTH {
                return Err(ChunkError::LineTooLong(len));
            }
            let line = cur.read_bytes(len, "head entry line")?;
            pairs.clear();
            if format == HeadFormat::UnorderedWithMetadata {
                let np = cur.read_uvarint("head entry metadata pair count")?;
                if np > cur.remaining() as u64 / 2 {
                    return Err(cur
                        .invalid(
                            "head entry metadata pair count",
                            format!("{np} pairs cannot fit in {} bytes", cur.remaining()),
                        )
                        .into());
                }
                for _ in 0..np {
                    let name = cur.read_uvarint("metadata name symbol")?;
                    let value = cur.read_uvarint("metadata value symbol")?;
                    let check = |i: u64| {
                        u32::try_from(i).ok().filter(|&i| (i as usize) < self.symbols.len()).ok_or_else(|| {
                            cur.invalid(
                                "metadata symbol",
                                format!("symbol {i} is not in the table of {}", self.symbols.len()),
                            )
                        })
                    };
                    pairs.push((check(name)?, check(value)?));
                }
            }
            if self.head.format == HeadFormat::Ordered {
                self.head.push_unchecked(ts, line, &[]);
            } else {
                self.head.append(ts, line, &pairs)?;
            }
        }
        if !cur.is_empty() {
            return Err(cur.invalid("head checkpoint", format!("{} trailing bytes", cur.remaining())).into());
        }
        Ok(())
    }
}
