//! Serializing a chunk's cut blocks (`../shared/spec/chunk-format.md` §5).
//! The head block is never included: [`Chunk::close`] first.

use super::block::put_block_meta;
use super::{CHUNK_MAGIC, Chunk, ChunkError, ChunkFormat};
use crate::encoding::{crc32c, put_u32_be, put_u64_be};

impl Chunk {
    /// Serializes the cut blocks (format v2–v4 as configured). Entries still
    /// in the head block are not included; call [`Chunk::close`] first when
    /// the chunk is to be stored.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ChunkError> {
        let mut out = Vec::with_capacity(self.cut_block_size + self.blocks.len() * 32 + 64);
        self.write_to(&mut out, true)?;
        Ok(out)
    }

    /// Appends the serialized chunk to `out`. `compressed_symbols == false`
    /// writes the raw symbol payload used in WAL checkpoints.
    pub(crate) fn write_to(&self, out: &mut Vec<u8>, compressed_symbols: bool) -> Result<(), ChunkError> {
        let format = self.config.format;
        let start = out.len();
        put_u32_be(out, CHUNK_MAGIC);
        out.push(format.to_byte());
        if format != ChunkFormat::V1 {
            out.push(self.config.encoding.to_byte());
        }

        let mut sm = None;
        if format.has_metadata() {
            let sm_offset = out.len() - start;
            self.symbols.serialize(self.config.encoding, compressed_symbols, out)?;
            let sm_len = out.len() - start - sm_offset;
            let crc = crc32c(&out[start + sm_offset..]);
            put_u32_be(out, crc);
            sm = Some((sm_len, sm_offset));
        }

        let mut offsets = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            offsets.push(out.len() - start);
            out.extend_from_slice(&b.data);
            put_u32_be(out, b.crc);
        }

        let metas_offset = out.len() - start;
        crate::encoding::put_uvarint(out, self.blocks.len() as u64);
        for (b, &off) in self.blocks.iter().zip(&offsets) {
            put_block_meta(out, b, off, format);
        }
        let metas_len = out.len() - start - metas_offset;
        let crc = crc32c(&out[start + metas_offset..]);
        put_u32_be(out, crc);

        if let Some((sm_len, sm_offset)) = sm {
            put_u64_be(out, sm_len as u64);
            put_u64_be(out, sm_offset as u64);
            put_u64_be(out, metas_len as u64);
        }
        put_u64_be(out, metas_offset as u64);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::chunk::{Chunk, ChunkConfig, ChunkFormat, Encoding};

    /// The worked example of `../shared/spec/chunk-format.md` §10.
    #[test]
    fn spec_worked_example_bytes() {
        let mut c = Chunk::new(ChunkConfig::new(ChunkFormat::V4, Encoding::None)).unwrap();
        c.append(1_700_000_000_000_000_000, b"hello", &[("trace_id", "abc")]).unwrap();
        c.append(1_700_000_001_000_000_000, b"world", &[]).unwrap();
        c.close().unwrap();
        let bytes = c.to_bytes().unwrap();
        let expected: &[u8] = &[
            0x01, 0x2e, 0xe5, 0x6a, 0x04, 0x00, 0x02, 0x08, 0x74, 0x72, 0x61, 0x63, 0x65, 0x5f, 0x69, 0x64, 0x03, 0x61,
            0x62, 0x63, 0x95, 0xc4, 0x00, 0x5e, 0x80, 0x80, 0xd0, 0xe2, 0xc6, 0xbf, 0xce, 0x97, 0x2f, 0x05, 0x68, 0x65,
            0x6c, 0x6c, 0x6f, 0x03, 0x01, 0x00, 0x01, 0x80, 0xa8, 0xa6, 0x9c, 0xce, 0xbf, 0xce, 0x97, 0x2f, 0x05, 0x77,
            0x6f, 0x72, 0x6c, 0x64, 0x01, 0x00, 0xd5, 0xee, 0x6b, 0x57, 0x01, 0x02, 0x80, 0x80, 0xd0, 0xe2, 0xc6, 0xbf,
            0xce, 0x97, 0x2f, 0x80, 0xa8, 0xa6, 0x9c, 0xce, 0xbf, 0xce, 0x97, 0x2f, 0x18, 0x12, 0x24, 0x90, 0xa8, 0x1d,
            0x8c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x06, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
        ];
        assert_eq!(bytes, expected);
    }
}
