//! Building a stored object from a closed [`Chunk`].

use bytes::Bytes;

use super::ChunkObject;
use crate::chunk::{Chunk, ChunkError};
use crate::labels::Labels;
use crate::tenant::TenantId;

impl ChunkObject {
    /// The object Loki's ingester would flush for `chunk` of the stream
    /// `labels`: the serialized chunk with its bounds rounded to milliseconds.
    ///
    /// # Errors
    ///
    /// [`ChunkError::EmptyChunk`] for a chunk without entries,
    /// [`ChunkError::UnclosedHead`] when entries are still in the head block
    /// (call [`Chunk::close`] first), or a compression error.
    pub fn from_chunk(tenant: &TenantId, labels: Labels, chunk: &Chunk) -> Result<Self, ChunkError> {
        if chunk.has_unflushed_head() {
            return Err(ChunkError::UnclosedHead(chunk.head.len()));
        }
        let bounds = chunk.bounds().ok_or(ChunkError::EmptyChunk)?;
        Ok(Self::new(tenant, labels, Bytes::from(chunk.to_bytes()?), bounds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunk::{ChunkConfig, ChunkFormat, Encoding};

    #[test]
    fn spec_worked_example_object_from_chunk() {
        let mut c = Chunk::new(ChunkConfig::new(ChunkFormat::V4, Encoding::None)).unwrap();
        c.append(1_700_000_000_000_000_000, b"hello", &[("trace_id", "abc")]).unwrap();
        c.append(1_700_000_001_000_000_000, b"world", &[]).unwrap();
        let tenant = TenantId::new("fake").unwrap();
        let labels = Labels::from_pairs([("app", "demo")]).unwrap();
        assert!(matches!(ChunkObject::from_chunk(&tenant, labels.clone(), &c), Err(ChunkError::UnclosedHead(2))));
        c.close().unwrap();
        let (bytes, key) = ChunkObject::from_chunk(&tenant, labels, &c).unwrap().encode().unwrap();
        assert_eq!(bytes.len(), 313);
        assert_eq!(key.to_string(), "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e");
        let empty = Chunk::new(ChunkConfig::default()).unwrap();
        assert!(matches!(ChunkObject::from_chunk(&tenant, Labels::empty(), &empty), Err(ChunkError::EmptyChunk)));
    }
}
