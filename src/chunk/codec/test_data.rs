//! Test inputs and shorthands shared by the codec tests.

#![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "test helpers may panic and index")]

use super::{CodecError, Encoding, MAX_DECOMPRESSED_LEN};

pub(super) const LZ4: [Encoding; 4] = [Encoding::Lz4_64k, Encoding::Lz4_256k, Encoding::Lz4_1M, Encoding::Lz4_4M];

/// Deterministic xorshift bytes: incompressible.
pub(super) fn random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// Deterministic log-like text: compressible.
pub(super) fn text(seed: u64, len: usize) -> Vec<u8> {
    const WORDS: &[&str] =
        &["level=info", "msg=\"request done\"", "status=200", "path=/api/v1/push", "duration=12ms", "error", "\n"];
    let noise = random(seed, len / 8 + 8);
    let mut out = Vec::with_capacity(len + 32);
    let mut i = 0;
    while out.len() < len {
        let r = noise[i % noise.len()];
        i += 1;
        out.extend_from_slice(WORDS[usize::from(r) % WORDS.len()].as_bytes());
        out.push(b' ');
        if r.is_multiple_of(5) {
            out.extend_from_slice(format!("trace_id={r:02x}{i:x} ").as_bytes());
        }
    }
    out.truncate(len);
    out
}

pub(super) fn compress(enc: Encoding, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    enc.compress(data, &mut v).unwrap();
    v
}

pub(super) fn decompress(enc: Encoding, stream: &[u8]) -> Result<Vec<u8>, CodecError> {
    let mut v = Vec::new();
    enc.decompress(stream, &mut v, MAX_DECOMPRESSED_LEN).map(|()| v)
}
