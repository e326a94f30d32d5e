//! Stored chunk objects: the wrapper Loki puts around a serialized chunk in
//! object storage, and the object key it is stored under.
//!
//! Implements `../shared/spec/chunk-format.md` §9 (wrapper, metadata JSON,
//! snappy framing, key), §7.5 (time bounds in milliseconds) and the worked
//! example of §10.
//!
//! A stored object (every length big-endian):
//!
//! | offset     | size      | field                                                     |
//! |------------|-----------|-----------------------------------------------------------|
//! | 0          | 4         | `metaLen` = 4 + length of the snappy stream               |
//! | 4          | metaLen-4 | snappy *framed* stream of the metadata JSON + `\n`        |
//! | metaLen    | 4         | `dataLen` = length of the chunk bytes                     |
//! | metaLen+4  | dataLen   | the serialized chunk (`crate::chunk`)                     |
//!
//! The CRC32-C of the whole object is not stored in it: it is the last part
//! of the object key, `tenant/fp/from:through:checksum` (see [`ChunkKey`]).
//!
//! | file              | what                                               |
//! |-------------------|----------------------------------------------------|
//! | `wrapper.rs`      | [`ChunkObject`]: encode / decode the whole object  |
//! | `key.rs`          | [`ChunkKey`]: external key and filesystem path     |
//! | `meta_json.rs`    | writing the metadata JSON as jsoniter does         |
//! | `json_read.rs`    | reading the metadata JSON                          |
//! | `snappy_frame.rs` | the metadata's snappy stream (codec's framing)    |
//! | `error.rs`        | [`ObjectError`]                                    |

mod error;
mod from_chunk;
mod json_read;
mod key;
mod meta_json;
mod snappy_frame;
mod wrapper;

pub use error::{KeyPart, MetaField, ObjectError};
pub use key::ChunkKey;
pub use wrapper::{ChunkObject, ENCODING_GZIP_LOG_CHUNK, ENCODING_LOG_CHUNK};

/// Converts a chunk's time bounds in nanoseconds (`Chunk::bounds()`) to the
/// millisecond `from` / `through` of its key and metadata, exactly as Loki's
/// `util.RoundToMilliseconds` (`pkg/util/conv.go`) does: `from` is
/// `min_ns / 1e6` truncated, `through` is `max_ns / 1e6` truncated plus one
/// when `max_ns` has a sub-millisecond part.
///
/// For non-negative times this is floor / ceil (spec §7.5). For negative
/// times Loki's truncating division rounds `from` *up* (towards zero) and
/// `through` to one more than the ceiling (`-1.5 ms` -> `from = -1`,
/// `through = 0`); this function reproduces that, so keys of pre-1970 chunks
/// match Loki's too.
///
/// # Examples
///
/// ```
/// use lokistore::object::bounds_to_ms;
///
/// assert_eq!(
///     bounds_to_ms(1_768_003_211_378_433_138, 1_768_010_322_890_163_149),
///     (1_768_003_211_378, 1_768_010_322_891)
/// );
/// assert_eq!(bounds_to_ms(5_000_000, 5_000_000), (5, 5));
/// ```
pub fn bounds_to_ms(min_ns: i64, max_ns: i64) -> (i64, i64) {
    const NS_PER_MS: i64 = 1_000_000;
    let from = min_ns / NS_PER_MS;
    let mut through = max_ns / NS_PER_MS;
    if max_ns % NS_PER_MS != 0 {
        // Cannot overflow: |max_ns / 1e6| is far below i64::MAX.
        through += 1;
    }
    (from, through)
}

#[cfg(test)]
mod tests {
    use super::bounds_to_ms;

    #[test]
    fn bounds_round_like_loki() {
        assert_eq!(bounds_to_ms(0, 0), (0, 0));
        assert_eq!(bounds_to_ms(1, 1), (0, 1));
        assert_eq!(bounds_to_ms(999_999, 1_000_001), (0, 2));
        assert_eq!(
            bounds_to_ms(1_700_000_000_000_000_000, 1_700_000_001_000_000_000),
            (1_700_000_000_000, 1_700_000_001_000)
        );
        // Negative times: Go's truncating division, not floor/ceil.
        assert_eq!(bounds_to_ms(-1_500_000, -1_500_000), (-1, 0));
        assert_eq!(bounds_to_ms(-2_000_000, -2_000_000), (-2, -2));
        assert_eq!(bounds_to_ms(i64::MIN, i64::MAX), (-9_223_372_036_854, 9_223_372_036_855));
    }
}
