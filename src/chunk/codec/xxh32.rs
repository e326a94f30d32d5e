//! XXH32, the checksum of LZ4 frames: the descriptor's HC byte, block
//! checksums and the content checksum (all with seed 0).

/// XXH32 (the LZ4 frame header, block and content checksums).
pub(super) fn xxh32(data: &[u8], seed: u32) -> u32 {
    const P1: u32 = 0x9e37_79b1;
    const P2: u32 = 0x85eb_ca77;
    const P3: u32 = 0xc2b2_ae3d;
    const P4: u32 = 0x27d4_eb2f;
    const P5: u32 = 0x1656_67b1;
    fn round(acc: u32, lane: u32) -> u32 {
        acc.wrapping_add(lane.wrapping_mul(P2)).rotate_left(13).wrapping_mul(P1)
    }
    fn lane(b: &[u8]) -> u32 {
        b.first_chunk::<4>().map_or(0, |b| u32::from_le_bytes(*b))
    }
    let mut stripes = data.chunks_exact(16);
    let mut h = if data.len() >= 16 {
        let mut v = [seed.wrapping_add(P1).wrapping_add(P2), seed.wrapping_add(P2), seed, seed.wrapping_sub(P1)];
        for s in &mut stripes {
            for (acc, lane_bytes) in v.iter_mut().zip(s.chunks_exact(4)) {
                *acc = round(*acc, lane(lane_bytes));
            }
        }
        let [a, b, c, d] = v;
        a.rotate_left(1).wrapping_add(b.rotate_left(7)).wrapping_add(c.rotate_left(12)).wrapping_add(d.rotate_left(18))
    } else {
        seed.wrapping_add(P5)
    };
    h = h.wrapping_add(data.len() as u32);
    let mut words = stripes.remainder().chunks_exact(4);
    for w in &mut words {
        h = h.wrapping_add(lane(w).wrapping_mul(P3)).rotate_left(17).wrapping_mul(P4);
    }
    for &b in words.remainder() {
        h = h.wrapping_add(u32::from(b).wrapping_mul(P5)).rotate_left(11).wrapping_mul(P1);
    }
    h ^= h >> 15;
    h = h.wrapping_mul(P2);
    h ^= h >> 13;
    h = h.wrapping_mul(P3);
    h ^ (h >> 16)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use std::io::Write;

    use super::xxh32;
    use crate::chunk::codec::test_data::random;

    #[test]
    fn xxh32_vectors() {
        assert_eq!(xxh32(b"", 0), 0x02cc_5d05);
        assert_eq!(xxh32(b"a", 0), 0x550d_7456);
        assert_eq!(xxh32(b"abc", 0), 0x32d1_53ff);
        assert_eq!(xxh32(b"Nobody inspects the spammish repetition", 0), 0xe229_3b2f);
        // Cross-check against lz4_flex's frame checksums over many lengths.
        for len in [0, 1, 3, 4, 15, 16, 17, 31, 32, 33, 100, 1000] {
            let data = random(len as u64 + 7, len);
            let info = lz4_flex::frame::FrameInfo::new().content_checksum(true);
            let mut enc = lz4_flex::frame::FrameEncoder::with_frame_info(info, Vec::new());
            enc.write_all(&data).unwrap();
            let frame = enc.finish().unwrap();
            let sum = u32::from_le_bytes(frame[frame.len() - 4..].try_into().unwrap());
            assert_eq!(xxh32(&data, 0), sum, "len {len}");
        }
    }
}
