//! Tests: stored chunk objects and keys (spec §9, §10) against the worked
//! example and every Loki-written chunk object in `shared/vectors/loki`.

use std::path::PathBuf;

use bytes::Bytes;
use lokistore::object::{KeyPart, MetaField, bounds_to_ms};
use lokistore::{ChunkKey, ChunkObject, Fingerprint, Labels, ObjectError, TenantId};
use proptest::prelude::*;

fn shared() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared"))
}

fn unhex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
}

/// The 123-byte chunk of spec §10.
fn example_chunk() -> Bytes {
    Bytes::from(unhex(
        "01 2e e5 6a 04 00 02 08 74 72 61 63 65 5f 69 64
         03 61 62 63 95 c4 00 5e 80 80 d0 e2 c6 bf ce 97
         2f 05 68 65 6c 6c 6f 03 01 00 01 80 a8 a6 9c ce
         bf ce 97 2f 05 77 6f 72 6c 64 01 00 d5 ee 6b 57
         01 02 80 80 d0 e2 c6 bf ce 97 2f 80 a8 a6 9c ce
         bf ce 97 2f 18 12 24 90 a8 1d 8c 00 00 00 00 00
         00 00 0e 00 00 00 00 00 00 00 06 00 00 00 00 00
         00 00 17 00 00 00 00 00 00 00 40",
    ))
}

fn example_object() -> ChunkObject {
    let tenant = TenantId::new("fake").unwrap();
    let labels = Labels::from_pairs([("app", "demo")]).unwrap();
    ChunkObject::new(&tenant, labels, example_chunk(), (1_700_000_000_000_000_000, 1_700_000_001_000_000_000))
}

const EXAMPLE_JSON: &str = r#"{"fingerprint":18100464131193420663,"userID":"fake","from":1700000000,"through":1700000001,"metric":{"__name__":"logs","app":"demo"},"ingestedAt":0,"encoding":129}
"#;

#[test]
fn worked_example() {
    let chunk = example_chunk();
    assert_eq!(chunk.len(), 123);
    let obj = example_object();
    assert_eq!(obj.fingerprint, Fingerprint(0xfb31c43a197bbb77));
    let (bytes, key) = obj.encode().unwrap();
    assert_eq!(bytes.len(), 313);
    assert_eq!(&bytes[..4], &[0, 0, 0, 0xba]);
    assert_eq!(&bytes[4..14], b"\xff\x06\x00\x00sNaPpY");
    assert_eq!(&bytes[14..22], &[0x01, 0xa8, 0, 0, 0x61, 0x81, 0xe9, 0x3c]);
    assert_eq!(&bytes[22..186], EXAMPLE_JSON.as_bytes());
    assert_eq!(&bytes[186..190], &[0, 0, 0, 0x7b]);
    assert_eq!(&bytes[190..], &chunk[..]);
    assert_eq!(key.checksum, 0x9ca0368e);
    assert_eq!(key.to_string(), "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e");
    assert_eq!(key.to_fs_path(), "fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=");
    assert_eq!(ChunkKey::parse(&key.to_string()).unwrap(), key);
    assert_eq!(ChunkKey::from_fs_path(&key.to_fs_path()).unwrap(), key);

    let bytes = Bytes::from(bytes);
    let back = ChunkObject::decode_verified(bytes.clone(), &key).unwrap();
    assert_eq!(back, obj);
    // Zero-copy: the data is a view into the object.
    assert_eq!(back.data.as_ptr(), bytes[190..].as_ptr());
}

#[test]
fn key_and_metadata_must_agree() {
    let (bytes, key) = example_object().encode().unwrap();
    let bytes = Bytes::from(bytes);
    let mut other = key.clone();
    other.checksum ^= 1;
    assert_eq!(
        ChunkObject::decode_verified(bytes.clone(), &other).unwrap_err(),
        ObjectError::ChecksumMismatch { expected: key.checksum ^ 1, actual: key.checksum }
    );
    let field = |k: ChunkKey| match ChunkObject::decode_verified(bytes.clone(), &k) {
        Err(ObjectError::WrongMetadata { field, .. }) => field,
        other => panic!("{other:?}"),
    };
    assert_eq!(field(ChunkKey { tenant: "other".into(), ..key.clone() }), MetaField::UserId);
    assert_eq!(field(ChunkKey { fingerprint: Fingerprint(1), ..key.clone() }), MetaField::Fingerprint);
    assert_eq!(field(ChunkKey { from_ms: 0, ..key.clone() }), MetaField::From);
    assert_eq!(field(ChunkKey { through_ms: 0, ..key.clone() }), MetaField::Through);
}

/// Builds an object by hand from a JSON text, a snappy chunk type and a
/// metaLen convention.
fn hand_made(json: &[u8], data: &[u8], legacy_meta_len: bool) -> Bytes {
    let mut framed = b"\xff\x06\x00\x00sNaPpY".to_vec();
    let crc = crc32c::crc32c(json);
    let masked = crc.rotate_right(15).wrapping_add(0xa282_ead8);
    framed.push(0x01);
    framed.extend_from_slice(&((json.len() + 4) as u32).to_le_bytes()[..3]);
    framed.extend_from_slice(&masked.to_le_bytes());
    framed.extend_from_slice(json);
    let meta_len = framed.len() + if legacy_meta_len { 0 } else { 4 };
    let mut out = (meta_len as u32).to_be_bytes().to_vec();
    out.extend_from_slice(&framed);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    Bytes::from(out)
}

#[test]
fn older_meta_len_without_the_length_word_is_accepted() {
    let obj = example_object();
    let bytes = hand_made(EXAMPLE_JSON.as_bytes(), &example_chunk(), true);
    assert_eq!(ChunkObject::decode(bytes).unwrap(), obj);
    // Both conventions, other metaLen values are refused.
    let good = hand_made(EXAMPLE_JSON.as_bytes(), &example_chunk(), false);
    assert_eq!(ChunkObject::decode(good.clone()).unwrap(), obj);
    let mut b = good.to_vec();
    b[..4].copy_from_slice(&20u32.to_be_bytes());
    assert_eq!(ChunkObject::decode(Bytes::from(b)).unwrap_err(), ObjectError::MetaLenTooShort { meta_len: 20 });
    for delta in [1u32, 2, 3, 5, 8] {
        let mut b = good.to_vec();
        let ml = u32::from_be_bytes(b[..4].try_into().unwrap()) + delta;
        b[..4].copy_from_slice(&ml.to_be_bytes());
        assert!(ChunkObject::decode(Bytes::from(b)).is_err(), "metaLen + {delta}");
    }
    let mut b = good.to_vec();
    let ml = u32::from_be_bytes(b[..4].try_into().unwrap()) - 1;
    b[..4].copy_from_slice(&ml.to_be_bytes());
    assert!(matches!(
        ChunkObject::decode(Bytes::from(b)).unwrap_err(),
        ObjectError::MetaLenMismatch { consumed: 186, .. }
    ));
}

#[test]
fn metadata_variants() {
    let chunk = example_chunk();
    // Legacy encoding 128, unknown keys, keys in another order and case,
    // extra __name__ value, ingestedAt with milliseconds.
    let json = br#"{"encoding":128,"Metric":{"app":"demo","__name__":"other"},"x":{"y":[1]},"userID":"fake","fingerprint":18100464131193420663,"through":1700000001.5,"from":1700000000,"ingestedAt":1700000002.007}"#;
    let obj = ChunkObject::decode(hand_made(json, &chunk, false)).unwrap();
    assert_eq!(obj.encoding, 128);
    assert_eq!(obj.labels, Labels::from_pairs([("app", "demo")]).unwrap());
    assert_eq!(
        (obj.from_ms, obj.through_ms, obj.ingested_at_ms),
        (1_700_000_000_000, 1_700_000_001_500, 1_700_000_002_007)
    );
    // Re-encoding writes Loki's canonical form.
    let (bytes, _) = obj.encode().unwrap();
    let again = ChunkObject::decode(Bytes::from(bytes)).unwrap();
    assert_eq!(again, obj);

    let err = |json: &[u8]| ChunkObject::decode(hand_made(json, &chunk, false)).unwrap_err();
    assert!(matches!(err(br#"{"encoding":1}"#), ObjectError::UnknownEncoding { encoding: 1 }));
    assert!(matches!(err(br#"{"encoding":129,"metric":{"a":"1","a":"2"}}"#), ObjectError::MetadataLabels(_)));
    assert!(matches!(err(br#"[{"encoding":129}]"#), ObjectError::MetadataJson { offset: 0, .. }));
    assert!(matches!(err(br#"{"encoding":129,"from":"1"}"#), ObjectError::MetadataJson { .. }));
}

#[test]
fn labels_with_escapes_round_trip() {
    let tenant = TenantId::new("t-1").unwrap();
    let labels = Labels::from_pairs([
        ("app", "quote\" back\\ nl\n tab\t ctl\u{1} del\u{7f} <&>"),
        ("Zone", "ünïcode-crew \u{2028} 🦀"),
        ("_a", "x"),
    ])
    .unwrap();
    let obj = ChunkObject::new(&tenant, labels, Bytes::from_static(b"data"), (-1_500_000, 5));
    assert_eq!((obj.from_ms, obj.through_ms), (-1, 1));
    let (bytes, key) = obj.encode().unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let metric = concat!(
        r#""metric":{"Zone":"ünïcode-crew "#,
        "\u{2028}",
        r#" 🦀","__name__":"logs","_a":"x","app":"quote\" back\\ nl\n tab\t ctl\u0001 del"#,
        "\u{7f}",
        r#" <&>"},"#
    );
    assert!(text.contains(metric), "{text}");
    assert!(text.contains(r#""from":-0.001,"through":0.001,"#), "{text}");
    assert_eq!(ChunkObject::decode_verified(Bytes::from(bytes), &key).unwrap(), obj);
    assert_eq!(key.to_string().split('/').nth(2).unwrap().split(':').next(), Some("-1"));
}

#[test]
fn large_metadata_spans_several_snappy_chunks() {
    let tenant = TenantId::new("big").unwrap();
    // Compressible (snappy chunk type 0x00) and incompressible (0x01) values,
    // 200 KB of JSON in all: four 64 KiB pieces.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise: String = std::iter::repeat_with(|| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        char::from(b'a' + (state % 26) as u8)
    })
    .take(100_000)
    .collect();
    let labels = Labels::from_pairs([("a", "x".repeat(100_000)), ("b", noise)]).unwrap();
    let obj = ChunkObject::new(&tenant, labels, Bytes::from_static(b"chunk"), (0, 1));
    let (bytes, key) = obj.encode().unwrap();
    let meta_len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert!(meta_len < 150_000, "the repetitive value was not compressed: {meta_len}");
    let mut kinds = Vec::new();
    let mut pos = 14;
    while pos < meta_len {
        kinds.push(bytes[pos]);
        let len = u32::from_le_bytes([bytes[pos + 1], bytes[pos + 2], bytes[pos + 3], 0]);
        pos += 4 + len as usize;
    }
    assert_eq!(pos, meta_len);
    assert!(kinds.contains(&0x00) && kinds.contains(&0x01), "{kinds:?}");
    assert_eq!(ChunkObject::decode_verified(Bytes::from(bytes), &key).unwrap(), obj);
}

#[test]
fn bounds_are_rounded_out() {
    assert_eq!(
        bounds_to_ms(1_768_003_211_378_433_138, 1_768_010_322_890_163_149),
        (1_768_003_211_378, 1_768_010_322_891)
    );
}

// ---- Loki-written vectors ----

struct Vector {
    path: String,
    key: String,
    tenant: String,
    fingerprint: String,
    from_ms: i64,
    through_ms: i64,
    labels: Vec<(String, String)>,
    encoding: String,
}

fn vectors() -> Vec<Vector> {
    let dir = shared().join("vectors/loki");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let files = manifest["files"].as_array().unwrap();
    let s = |f: &serde_json::Value, k: &str| f[k].as_str().unwrap().to_owned();
    files
        .iter()
        .filter(|f| f["kind"] == "chunk")
        .map(|f| Vector {
            path: s(f, "path"),
            key: s(f, "object_key"),
            tenant: s(f, "tenant"),
            fingerprint: s(f, "fingerprint"),
            from_ms: f["from_ms"].as_i64().unwrap(),
            through_ms: f["through_ms"].as_i64().unwrap(),
            labels: f["labels"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned()))
                .collect(),
            encoding: s(f, "encoding"),
        })
        .collect()
}

fn read_vector(v: &Vector) -> Bytes {
    Bytes::from(std::fs::read(shared().join("vectors/loki").join(&v.path)).unwrap())
}

#[test]
fn loki_vectors_decode_verify_and_reencode_identically() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 33);
    for v in &vectors {
        let prefix = format!("chunks/{}/", v.encoding);
        let rel = v.path.strip_prefix(&prefix).unwrap();
        let key = ChunkKey::from_fs_path(rel).unwrap();
        assert_eq!(key.to_string(), v.key, "{}", v.path);
        assert_eq!(ChunkKey::parse(&v.key).unwrap(), key);
        assert_eq!(key.to_fs_path(), rel);

        let bytes = read_vector(v);
        let obj = ChunkObject::decode_verified(bytes.clone(), &key).unwrap_or_else(|e| panic!("{}: {e}", v.path));
        assert_eq!(obj.tenant, v.tenant);
        assert_eq!(obj.fingerprint.to_string(), v.fingerprint);
        assert_eq!((obj.from_ms, obj.through_ms), (v.from_ms, v.through_ms));
        assert_eq!(obj.encoding, 129);
        assert_eq!(obj.ingested_at_ms, 0);
        let want = Labels::from_pairs(v.labels.iter().filter(|(k, _)| k != "__name__").cloned()).unwrap();
        assert_eq!(obj.labels, want, "{}", v.path);
        assert_eq!(obj.labels.fingerprint(), obj.fingerprint, "{}", v.path);
        // The chunk starts with its magic number.
        assert_eq!(&obj.data[..4], &[0x01, 0x2e, 0xe5, 0x6a]);

        let (again, again_key) = obj.encode().unwrap();
        assert!(again == bytes[..], "{}: re-encoding differs", v.path);
        assert_eq!(again_key, key);
    }
}

fn first_vector() -> (Bytes, ChunkKey) {
    let v = vectors().into_iter().find(|v| v.encoding == "gzip").unwrap();
    (read_vector(&v), ChunkKey::parse(&v.key).unwrap())
}

#[test]
fn every_truncation_is_an_error() {
    let (bytes, key) = first_vector();
    for n in 0..bytes.len() {
        let cut = bytes.slice(..n);
        assert!(ChunkObject::decode(cut.clone()).is_err(), "decode of {n} bytes");
        assert!(ChunkObject::decode_verified(cut, &key).is_err());
    }
    // A small object, truncated anywhere, with a key for the truncated bytes.
    let (small, _) = example_object().encode().unwrap();
    for n in 0..small.len() {
        let cut = Bytes::copy_from_slice(&small[..n]);
        let key = ChunkKey { checksum: crc32c::crc32c(&cut), ..example_object().key_with_checksum(0) };
        assert!(ChunkObject::decode_verified(cut, &key).is_err(), "{n}");
    }
}

#[test]
fn bit_flips_are_detected() {
    let (bytes, key) = example_object().encode().unwrap();
    for i in 0..bytes.len() {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[i] ^= 1 << bit;
            let b = Bytes::from(b);
            assert!(matches!(ChunkObject::decode_verified(b.clone(), &key), Err(ObjectError::ChecksumMismatch { .. })));
            // Without the key, a flip in the wrapper or metadata is an error;
            // a flip in the chunk bytes is the chunk decoder's business.
            let r = ChunkObject::decode(b);
            if i < 190 {
                assert!(r.is_err(), "flip at {i} bit {bit}: {r:?}");
            }
        }
    }
}

#[test]
fn bad_keys_and_paths() {
    for (k, part) in [
        ("fake", KeyPart::Fingerprint),
        ("fake/zz/1:2:3", KeyPart::Fingerprint),
        ("fake/1/1:2", KeyPart::Checksum),
        ("fake/1/1:2:3:", KeyPart::Checksum),
        ("fake/1/g:2:3", KeyPart::From),
        ("fake/1/1:-:3", KeyPart::Through),
        ("fake/1/1:2:1ffffffff", KeyPart::Checksum),
        ("a b/1/1:2:3", KeyPart::Tenant),
    ] {
        match ChunkKey::parse(k) {
            Err(ObjectError::InvalidKey { part: p, .. }) => assert_eq!(p, part, "{k}"),
            other => panic!("{k}: {other:?}"),
        }
    }
    for p in ["", "fake/1", "fake/1/2/3", "fake/1/@@@@", "fake/1/MToy"] {
        assert!(ChunkKey::from_fs_path(p).is_err(), "{p}");
    }
}

#[test]
fn decoders_survive_vector_corruption() {
    // Overwrite each byte of the wrapper region of a real object with
    // several values; decode must return (Ok or Err), never panic.
    let (bytes, _) = first_vector();
    let meta_end = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize + 4;
    for i in 0..meta_end.min(bytes.len()) {
        for v in [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff] {
            let mut b = bytes.to_vec();
            b[i] = v;
            let _ = ChunkObject::decode(Bytes::from(b));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = ChunkObject::decode(Bytes::from(data));
    }

    #[test]
    fn mutated_objects_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let (mut b, _) = example_object().encode().unwrap();
        for (i, v) in edits {
            let i = i.index(b.len());
            b[i] = v;
        }
        let n = cut.index(b.len() + 1);
        b.truncate(n);
        let _ = ChunkObject::decode(Bytes::from(b));
    }

    #[test]
    fn arbitrary_keys_never_panic(s in "\\PC{0,40}") {
        let _ = ChunkKey::parse(&s);
        let _ = ChunkKey::from_fs_path(&s);
    }

    #[test]
    fn keys_round_trip(
        tenant in "[a-z0-9_.-]{1,12}",
        fp in any::<u64>(),
        from in any::<i64>(),
        through in any::<i64>(),
        checksum in any::<u32>(),
    ) {
        prop_assume!(tenant != "." && tenant != "..");
        let key = ChunkKey { tenant, fingerprint: Fingerprint(fp), from_ms: from, through_ms: through, checksum };
        prop_assert_eq!(ChunkKey::parse(&key.to_string()).unwrap(), key.clone());
        prop_assert_eq!(ChunkKey::parse(&key.legacy_key()).unwrap(), key.clone());
        prop_assert_eq!(ChunkKey::from_fs_path(&key.to_fs_path()).unwrap(), key.clone());
        prop_assert_eq!(ChunkKey::from_fs_path(&key.to_legacy_fs_path()).unwrap(), key);
    }

    #[test]
    fn objects_round_trip(
        labels in proptest::collection::btree_map(any::<String>(), any::<String>(), 0..5),
        from in -4_000_000_000_000i64..4_000_000_000_000,
        len in 0i64..10_000_000,
        ingested in any::<i64>(),
        data in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assume!(ingested != i64::MIN);
        let labels = Labels::from_pairs(labels.into_iter().filter(|(k, _)| k != "__name__")).unwrap();
        let tenant = TenantId::new("prop").unwrap();
        let mut obj = ChunkObject::new(&tenant, labels, Bytes::from(data), (from, from + len));
        obj.from_ms = from;
        obj.through_ms = from + len;
        obj.ingested_at_ms = ingested;
        let (bytes, key) = obj.encode().unwrap();
        prop_assert_eq!(crc32c::crc32c(&bytes), key.checksum);
        let back = ChunkObject::decode_verified(Bytes::from(bytes), &key).unwrap();
        prop_assert_eq!(back, obj);
    }
}
