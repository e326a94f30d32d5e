//! The stored object around a serialized chunk (spec §9.1; Loki's
//! `Chunk.EncodeTo` / `Chunk.Decode` in `pkg/storage/chunk/chunk.go`).
//!
//! | offset    | size      | field                                                  |
//! |-----------|-----------|--------------------------------------------------------|
//! | 0         | 4         | BE32 `metaLen` = 4 + snappy stream length              |
//! | 4         | metaLen-4 | snappy framed stream of the metadata JSON + `\n`       |
//! | metaLen   | 4         | BE32 `dataLen`                                         |
//! | metaLen+4 | dataLen   | the serialized chunk                                   |
//!
//! Reading follows Loki: the snappy stream is read chunk by chunk until the
//! JSON object is complete; `metaLen` must equal the offset reached or that
//! minus 4 (older writers did not count the length word, and then the data
//! length follows at the offset reached); `dataLen` must equal the bytes
//! after it exactly. The CRC32-C of the whole object is the key's checksum.

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;

use super::error::{MetaField, ObjectError};
use super::json_read::{EndScanner, parse_metadata};
use super::key::ChunkKey;
use super::meta_json::{NAME_LABEL, write_json};
use super::snappy_frame::{read_framed_until, write_framed};
use crate::encoding::{Cursor, DecodeError, DecodeErrorKind, crc32c, put_u32_be};
use crate::labels::{Fingerprint, Labels};
use crate::tenant::TenantId;

/// Loki's `LogChunk` chunk encoding, written by every current Loki.
pub const ENCODING_LOG_CHUNK: u8 = 129;
/// Loki's legacy `GzipLogChunk` encoding; read the same way.
pub const ENCODING_GZIP_LOG_CHUNK: u8 = 128;

/// A chunk as stored in an object store: the serialized chunk plus the
/// metadata Loki wraps around it.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use lokistore::{ChunkObject, Labels, TenantId};
///
/// let tenant = TenantId::new("fake")?;
/// let labels = Labels::from_pairs([("app", "demo")])?;
/// let chunk = Bytes::from_static(b"serialized chunk bytes");
/// let obj = ChunkObject::new(&tenant, labels, chunk, (1_700_000_000_000_000_000, 1_700_000_001_000_000_000));
/// let (bytes, key) = obj.encode()?;
/// assert_eq!(key.to_string().rsplit_once(':').unwrap().0, "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8");
/// let back = ChunkObject::decode_verified(Bytes::from(bytes), &key)?;
/// assert_eq!(back, obj);
/// # Ok::<(), lokistore::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkObject {
    /// The tenant (`userID`).
    pub tenant: String,
    /// The stream fingerprint.
    pub fingerprint: Fingerprint,
    /// First millisecond of the chunk (see [`super::bounds_to_ms`]).
    pub from_ms: i64,
    /// Last millisecond of the chunk, rounded up.
    pub through_ms: i64,
    /// The stream labels, without `__name__` (the metadata's `metric` minus
    /// the `__name__="logs"` Loki adds).
    pub labels: Labels,
    /// `ingestedAt` in milliseconds: 0 unless written for a schema v14
    /// backfill stream.
    pub ingested_at_ms: i64,
    /// The chunk encoding: [`ENCODING_LOG_CHUNK`] (129), or legacy
    /// [`ENCODING_GZIP_LOG_CHUNK`] (128).
    pub encoding: u8,
    /// The serialized chunk (`crate::chunk`).
    pub data: Bytes,
}

impl ChunkObject {
    /// An object for a chunk of the stream `labels` whose entries span
    /// `bounds_ns` (the chunk's min and max timestamp in nanoseconds), as
    /// Loki's ingester flushes it: fingerprint of the labels, bounds rounded
    /// by [`super::bounds_to_ms`], `ingestedAt` 0, encoding 129.
    pub fn new(tenant: &TenantId, labels: Labels, data: Bytes, bounds_ns: (i64, i64)) -> Self {
        let (from_ms, through_ms) = super::bounds_to_ms(bounds_ns.0, bounds_ns.1);
        Self {
            tenant: tenant.as_str().to_owned(),
            fingerprint: labels.fingerprint(),
            from_ms,
            through_ms,
            labels,
            ingested_at_ms: 0,
            encoding: ENCODING_LOG_CHUNK,
            data,
        }
    }

    /// The key of this object once its bytes have CRC32-C `checksum`.
    pub fn key_with_checksum(&self, checksum: u32) -> ChunkKey {
        ChunkKey {
            tenant: self.tenant.clone(),
            fingerprint: self.fingerprint,
            from_ms: self.from_ms,
            through_ms: self.through_ms,
            checksum,
        }
    }

    /// Serializes the object as Loki does and returns it with its key (whose
    /// checksum is the CRC32-C of the returned bytes).
    ///
    /// The bytes are Loki's whenever golang/snappy stores the metadata
    /// uncompressed, which it does for all metadata under 64 KiB that does
    /// not compress by 1/8 (every object Loki has been seen to write).
    ///
    /// # Errors
    ///
    /// [`ObjectError::TooLarge`] if the metadata stream or the data exceed
    /// 4 GiB, which the 32-bit length fields cannot express.
    pub fn encode(&self) -> Result<(Vec<u8>, ChunkKey), ObjectError> {
        let mut json = Vec::with_capacity(256);
        write_json(&mut json, self);
        let mut out = Vec::with_capacity(json.len() + self.data.len() + 32);
        out.extend_from_slice(&[0; 4]);
        write_framed(&mut out, &json)?;
        let meta_len =
            u32::try_from(out.len()).map_err(|_| ObjectError::TooLarge { what: "metadata", len: out.len() })?;
        if let Some(word) = out.get_mut(..4) {
            word.copy_from_slice(&meta_len.to_be_bytes());
        }
        let data_len =
            u32::try_from(self.data.len()).map_err(|_| ObjectError::TooLarge { what: "data", len: self.data.len() })?;
        put_u32_be(&mut out, data_len);
        out.extend_from_slice(&self.data);
        let checksum = crc32c(&out);
        Ok((out, self.key_with_checksum(checksum)))
    }

    /// Decodes an object without knowing its key: the structure, the snappy
    /// framing and its checksums, and the metadata JSON. `data` is a
    /// zero-copy slice of `bytes`. Never panics.
    ///
    /// # Errors
    ///
    /// [`ObjectError`] for truncation, a `metaLen` / `dataLen` that does not
    /// fit, bad snappy framing, bad JSON, invalid labels, or an encoding
    /// other than 128 / 129.
    pub fn decode(bytes: Bytes) -> Result<Self, ObjectError> {
        let buf = &bytes[..];
        let meta_len = Cursor::new(buf).read_u32_be("metaLen")?;
        let mut text = Vec::new();
        let mut scanner = EndScanner::default();
        // The stream can end at metaLen or metaLen + 4; nothing later counts.
        let limit = usize::try_from(u64::from(meta_len) + 4).unwrap_or(usize::MAX);
        let consumed = read_framed_until(buf, 4, limit, |piece| {
            text.extend_from_slice(piece);
            scanner.feed(piece)
        })
        .map_err(|e| match e {
            ObjectError::Decode(DecodeError { kind: DecodeErrorKind::UnexpectedEof { .. }, .. })
                if limit < buf.len() =>
            {
                ObjectError::MetaLenTooShort { meta_len }
            }
            e => e,
        })?;
        let meta = parse_metadata(&text)?;
        let (reached, stated) = (consumed as u64, u64::from(meta_len));
        if reached != stated && reached != stated + 4 {
            return Err(ObjectError::MetaLenMismatch { meta_len, consumed });
        }
        let rest = buf.get(consumed..).unwrap_or(&[]);
        let mut cur = Cursor::with_base(rest, consumed);
        let data_len = cur.read_u32_be("dataLen")?;
        if data_len as usize != cur.remaining() {
            return Err(ObjectError::DataLenMismatch { data_len, remaining: cur.remaining() });
        }
        if meta.encoding != ENCODING_LOG_CHUNK && meta.encoding != ENCODING_GZIP_LOG_CHUNK {
            return Err(ObjectError::UnknownEncoding { encoding: meta.encoding });
        }
        let labels = Labels::from_pairs(meta.metric.into_iter().filter(|(n, _)| n != NAME_LABEL))
            .map_err(ObjectError::MetadataLabels)?;
        Ok(Self {
            tenant: meta.user_id,
            fingerprint: Fingerprint(meta.fingerprint),
            from_ms: meta.from_ms,
            through_ms: meta.through_ms,
            labels,
            ingested_at_ms: meta.ingested_at_ms,
            encoding: meta.encoding,
            data: bytes.slice(consumed + 4..),
        })
    }

    /// Decodes an object read under `key`, as Loki's `Chunk.Decode` does:
    /// first the CRC32-C of the bytes must equal the key's checksum, then the
    /// metadata's `userID`, `fingerprint`, `from` and `through` must equal
    /// the key's (Loki's `equalByKey`).
    ///
    /// # Errors
    ///
    /// [`ObjectError::ChecksumMismatch`], any error of
    /// [`decode`](Self::decode), or [`ObjectError::WrongMetadata`] naming
    /// the first field that differs.
    pub fn decode_verified(bytes: Bytes, key: &ChunkKey) -> Result<Self, ObjectError> {
        let actual = crc32c(&bytes);
        if actual != key.checksum {
            return Err(ObjectError::ChecksumMismatch { expected: key.checksum, actual });
        }
        let obj = Self::decode(bytes)?;
        let wrong = |field, key: String, metadata: String| Err(ObjectError::WrongMetadata { field, key, metadata });
        if obj.tenant != key.tenant {
            return wrong(MetaField::UserId, key.tenant.clone(), obj.tenant);
        }
        if obj.fingerprint != key.fingerprint {
            return wrong(MetaField::Fingerprint, key.fingerprint.to_string(), obj.fingerprint.to_string());
        }
        if obj.from_ms != key.from_ms {
            return wrong(MetaField::From, key.from_ms.to_string(), obj.from_ms.to_string());
        }
        if obj.through_ms != key.through_ms {
            return wrong(MetaField::Through, key.through_ms.to_string(), obj.through_ms.to_string());
        }
        Ok(obj)
    }
}
