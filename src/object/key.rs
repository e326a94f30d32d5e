//! The chunk object key (Loki's "external key", spec §9.4) and the path the
//! filesystem object store keeps it under.
//!
//! | schema | key                                                   |
//! |--------|-------------------------------------------------------|
//! | >= v12 | `<tenant>/<fp>/<from>:<through>:<checksum>`           |
//! | < v12  | `<tenant>/<fp>:<from>:<through>:<checksum>`           |
//!
//! Numbers are hex without padding or `0x`, as Go's `%x` prints them:
//! `fp` a `u64`, `from` / `through` `i64` milliseconds (a negative value is
//! `-` then the hex magnitude: -26 is `-1a`), `checksum` a `u32`.
//!
//! | store      | schema | object path                                            |
//! |------------|--------|--------------------------------------------------------|
//! | filesystem | >= v12 | `<tenant>/<fp>/<base64("<from>:<through>:<checksum>")>` |
//! | filesystem | < v12  | `<base64(legacy key)>` (one name)                       |
//! | others     | any    | the key itself                                         |
//!
//! base64 is the standard alphabet with padding (Loki's `client.FSEncoder`).

#![deny(clippy::indexing_slicing, clippy::unwrap_used, clippy::expect_used)]

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::error::{KeyPart, ObjectError};
use crate::labels::Fingerprint;
use crate::tenant::TenantId;

/// The key of a stored chunk object: who, which stream, which time range,
/// and the CRC32-C of the object bytes.
///
/// `Display` prints the schema v12+ key Loki uses with schema v13/v14
/// (`tenant/fp/from:through:checksum`); [`ChunkKey::legacy_key`] prints the
/// pre-v12 form.
///
/// # Examples
///
/// ```
/// use lokistore::{ChunkKey, Fingerprint};
///
/// let key: ChunkKey = "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e".parse()?;
/// assert_eq!(key.fingerprint, Fingerprint(0xfb31c43a197bbb77));
/// assert_eq!(key.from_ms, 1_700_000_000_000);
/// assert_eq!(key.to_fs_path(), "fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=");
/// # Ok::<(), lokistore::ObjectError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChunkKey {
    /// The tenant (Loki's `userID`).
    pub tenant: String,
    /// The stream fingerprint.
    pub fingerprint: Fingerprint,
    /// First millisecond of the chunk (floor of its first entry).
    pub from_ms: i64,
    /// Last millisecond of the chunk (ceiling of its last entry).
    pub through_ms: i64,
    /// CRC32-C of the whole stored object.
    pub checksum: u32,
}

/// Writes `v` as Go's `fmt` `%x` does for an `int64`.
struct GoHex(i64);

impl fmt::Display for GoHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            f.write_str("-")?;
        }
        write!(f, "{:x}", self.0.unsigned_abs())
    }
}

impl fmt::Display for ChunkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/", self.tenant, self.fingerprint)?;
        self.fmt_tail(f)
    }
}

impl FromStr for ChunkKey {
    type Err = ObjectError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl ChunkKey {
    fn fmt_tail(&self, f: &mut impl fmt::Write) -> fmt::Result {
        write!(f, "{}:{}:{:x}", GoHex(self.from_ms), GoHex(self.through_ms), self.checksum)
    }

    /// `from:through:checksum`, the last component of the v12+ key.
    fn tail(&self) -> String {
        let mut s = String::new();
        // Writing to a String cannot fail.
        let _ = self.fmt_tail(&mut s);
        s
    }

    /// The pre-v12 key `tenant/fp:from:through:checksum`, for chunks whose
    /// `from` falls in a period with schema v11 or older.
    pub fn legacy_key(&self) -> String {
        format!("{}/{}:{}", self.tenant, self.fingerprint, self.tail())
    }

    /// Parses a key the way Loki's `ParseExternalKey` does: with exactly two
    /// `/` it is the v12+ form, otherwise the legacy form.
    ///
    /// Like Loki, the tenant is everything before the first `/`; the four
    /// numbers after it may be separated by `:` or `/`, hex digits may be
    /// upper or lower case with leading zeros, and `from` / `through` may
    /// carry a `+` or `-` sign (Go's `strconv.ParseInt(s, 16, 64)`).
    /// Stricter than Loki: the tenant must be a valid tenant ID (so it can be
    /// used as a path component safely) and a v12+ checksum above
    /// `ffffffff` is rejected instead of being truncated to 32 bits.
    ///
    /// # Errors
    ///
    /// [`ObjectError::InvalidKey`] naming the part that is missing or wrong.
    pub fn parse(s: &str) -> Result<Self, ObjectError> {
        let bad = |part, problem| ObjectError::InvalidKey { key: s.to_owned(), part, problem };
        let Some((tenant, rest)) = s.split_once('/') else {
            return Err(bad(KeyPart::Fingerprint, "is missing (no '/' after the tenant)"));
        };
        if TenantId::new(tenant).is_err() {
            return Err(bad(KeyPart::Tenant, "is not a valid tenant ID"));
        }
        let mut parts = rest.split([':', '/']);
        let mut next = |part| match parts.next() {
            None => Err(bad(part, "is missing")),
            Some("") => Err(bad(part, "is empty")),
            Some(p) => Ok(p),
        };
        let fp = next(KeyPart::Fingerprint)?;
        let from = next(KeyPart::From)?;
        let through = next(KeyPart::Through)?;
        let checksum = next(KeyPart::Checksum)?;
        if parts.next().is_some() {
            return Err(bad(KeyPart::Checksum, "is followed by another ':' or '/'"));
        }
        let fingerprint = parse_hex_u64(fp).map_err(|p| bad(KeyPart::Fingerprint, p))?;
        let from_ms = parse_hex_i64(from).map_err(|p| bad(KeyPart::From, p))?;
        let through_ms = parse_hex_i64(through).map_err(|p| bad(KeyPart::Through, p))?;
        let checksum = parse_hex_u64(checksum).map_err(|p| bad(KeyPart::Checksum, p))?;
        let checksum = u32::try_from(checksum).map_err(|_| bad(KeyPart::Checksum, "exceeds 32 bits"))?;
        Ok(Self { tenant: tenant.to_owned(), fingerprint: Fingerprint(fingerprint), from_ms, through_ms, checksum })
    }

    /// The path, relative to the store's root, under which Loki's filesystem
    /// object store keeps this object with schema v12 or later:
    /// `tenant/fp/<standard padded base64 of "from:through:checksum">`.
    pub fn to_fs_path(&self) -> String {
        format!("{}/{}/{}", self.tenant, self.fingerprint, BASE64.encode(self.tail()))
    }

    /// The path under which Loki's filesystem object store keeps this object
    /// with schema v11 or older: the standard padded base64 of
    /// [`legacy_key`](Self::legacy_key) as one name. Note that the base64
    /// alphabet contains `/`, so such a name can contain directory
    /// separators, exactly as Loki writes it.
    pub fn to_legacy_fs_path(&self) -> String {
        BASE64.encode(self.legacy_key())
    }

    /// Inverse of [`to_fs_path`](Self::to_fs_path) and
    /// [`to_legacy_fs_path`](Self::to_legacy_fs_path): a path relative to the
    /// filesystem store's root (with `/` separators). The v12+ layout is
    /// tried first, then the whole path as one base64 legacy name.
    ///
    /// # Errors
    ///
    /// [`ObjectError::InvalidFsPath`] when the path is in neither layout, or
    /// [`ObjectError::InvalidKey`] when it decodes to a bad key.
    pub fn from_fs_path(path: &str) -> Result<Self, ObjectError> {
        let bad = |problem| ObjectError::InvalidFsPath { path: path.to_owned(), problem };
        let v12 = match path.split('/').collect::<Vec<_>>().as_slice() {
            [tenant, fp, encoded] => match Self::from_v12_fs_parts(tenant, fp, encoded) {
                Ok(key) => return Ok(key),
                Err(failure) => Some(failure),
            },
            _ => None,
        };
        let legacy = BASE64.decode(path).ok().and_then(|k| String::from_utf8(k).ok());
        match (legacy.map(|k| Self::parse(&k)), v12) {
            (Some(Ok(key)), _) => Ok(key),
            (_, Some(V12Failure::Key(e))) => Err(e),
            (_, Some(V12Failure::Layout(problem))) => Err(bad(problem)),
            (Some(Err(e)), None) => Err(e),
            (None, None) => Err(bad("neither tenant/fingerprint/base64 nor one base64 legacy key")),
        }
    }

    /// Reads the v12+ filesystem layout `tenant/fp/base64(tail)`.
    fn from_v12_fs_parts(tenant: &str, fp: &str, encoded: &str) -> Result<Self, V12Failure> {
        use V12Failure::Layout;
        if fp.contains(':') {
            return Err(Layout("the fingerprint component contains ':'"));
        }
        let tail = BASE64.decode(encoded).map_err(|_| Layout("the last component is not standard padded base64"))?;
        let tail = String::from_utf8(tail).map_err(|_| Layout("the last component does not decode to text"))?;
        if tail.contains('/') {
            return Err(Layout("the decoded last component contains '/'"));
        }
        Self::parse(&format!("{tenant}/{fp}/{tail}")).map_err(V12Failure::Key)
    }
}

/// Why a path is not in the v12+ filesystem layout.
enum V12Failure {
    /// Not `tenant/fp/base64`.
    Layout(&'static str),
    /// In that layout, but the key it spells is invalid.
    Key(ObjectError),
}

/// Go's `strconv.ParseUint(s, 16, 64)`: hex digits only, no sign, no prefix.
fn parse_hex_u64(s: &str) -> Result<u64, &'static str> {
    if s.is_empty() {
        return Err("is empty");
    }
    if !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("is not hexadecimal");
    }
    u64::from_str_radix(s, 16).map_err(|_| "exceeds 64 bits")
}

/// Go's `strconv.ParseInt(s, 16, 64)`: an optional sign, then hex digits.
fn parse_hex_i64(s: &str) -> Result<i64, &'static str> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() {
        return Err("has no digits");
    }
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("is not hexadecimal");
    }
    i64::from_str_radix(s, 16).map_err(|_| "is out of the int64 range")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests may panic and index")]
mod tests {
    use super::*;

    fn key(from_ms: i64, through_ms: i64) -> ChunkKey {
        ChunkKey {
            tenant: "fake".into(),
            fingerprint: Fingerprint(0xfb31c43a197bbb77),
            from_ms,
            through_ms,
            checksum: 0x9ca0368e,
        }
    }

    #[test]
    fn display_and_parse_worked_example() {
        let k = key(1_700_000_000_000, 1_700_000_001_000);
        let s = "fake/fb31c43a197bbb77/18bcfe56800:18bcfe56be8:9ca0368e";
        assert_eq!(k.to_string(), s);
        assert_eq!(ChunkKey::parse(s).unwrap(), k);
        assert_eq!(k.legacy_key(), "fake/fb31c43a197bbb77:18bcfe56800:18bcfe56be8:9ca0368e");
        assert_eq!(ChunkKey::parse(&k.legacy_key()).unwrap(), k);
        let fs = "fake/fb31c43a197bbb77/MThiY2ZlNTY4MDA6MThiY2ZlNTZiZTg6OWNhMDM2OGU=";
        assert_eq!(k.to_fs_path(), fs);
        assert_eq!(ChunkKey::from_fs_path(fs).unwrap(), k);
        assert_eq!(ChunkKey::from_fs_path(&k.to_legacy_fs_path()).unwrap(), k);
    }

    #[test]
    fn no_padding_and_go_negative_hex() {
        let k =
            ChunkKey { tenant: "t".into(), fingerprint: Fingerprint(1), from_ms: -26, through_ms: 0, checksum: 0xa };
        assert_eq!(k.to_string(), "t/1/-1a:0:a");
        assert_eq!(ChunkKey::parse("t/1/-1a:0:a").unwrap(), k);
        let k = key(i64::MIN, i64::MAX);
        let s = k.to_string();
        assert!(s.ends_with("/-8000000000000000:7fffffffffffffff:9ca0368e"), "{s}");
        assert_eq!(ChunkKey::parse(&s).unwrap(), k);
        assert_eq!(ChunkKey::from_fs_path(&k.to_fs_path()).unwrap(), k);
        assert_eq!(ChunkKey::from_fs_path(&k.to_legacy_fs_path()).unwrap(), k);
    }

    #[test]
    fn parse_is_as_lenient_as_go() {
        let k = ChunkKey::parse("t/00FF/+A:-0:00000001").unwrap();
        assert_eq!(k.fingerprint, Fingerprint(0xff));
        assert_eq!((k.from_ms, k.through_ms, k.checksum), (10, 0, 1));
        // Loki's part reader stops at ':' or '/'.
        assert_eq!(ChunkKey::parse("t/1:2/3:4").unwrap().checksum, 4);
    }

    #[test]
    fn bad_keys_name_the_part() {
        let part = |s: &str| match ChunkKey::parse(s) {
            Err(ObjectError::InvalidKey { part, .. }) => part,
            other => panic!("{s:?}: {other:?}"),
        };
        assert_eq!(part(""), KeyPart::Fingerprint);
        assert_eq!(part("fake"), KeyPart::Fingerprint);
        assert_eq!(part("/1/2:3:4"), KeyPart::Tenant);
        assert_eq!(part("../1/2:3:4"), KeyPart::Tenant);
        assert_eq!(part("t/"), KeyPart::Fingerprint);
        assert_eq!(part("t/x1/2:3:4"), KeyPart::Fingerprint);
        assert_eq!(part("t/+1/2:3:4"), KeyPart::Fingerprint);
        assert_eq!(part("t/10000000000000000/2:3:4"), KeyPart::Fingerprint);
        assert_eq!(part("t/1/2"), KeyPart::Through);
        assert_eq!(part("t/1/:3:4"), KeyPart::From);
        assert_eq!(part("t/1/-:3:4"), KeyPart::From);
        assert_eq!(part("t/1/0x2:3:4"), KeyPart::From);
        assert_eq!(part("t/1/8000000000000000:3:4"), KeyPart::From);
        assert_eq!(part("t/1/2:3"), KeyPart::Checksum);
        assert_eq!(part("t/1/2:3:"), KeyPart::Checksum);
        assert_eq!(part("t/1/2:3:4:5"), KeyPart::Checksum);
        assert_eq!(part("t/1/2:3:100000000"), KeyPart::Checksum);
        assert_eq!(part("t/1/2:3:-4"), KeyPart::Checksum);
        assert_eq!(part("t/1/2:3: 4"), KeyPart::Checksum);
    }

    #[test]
    fn bad_fs_paths() {
        for p in ["", "a", "a/b", "fake/fb31c43a197bbb77/!!!!", "fake/fb31c43a197bbb77/MTo="] {
            assert!(ChunkKey::from_fs_path(p).is_err(), "{p:?}");
        }
        // Unpadded base64 is not what Loki writes.
        let k = key(1, 2);
        let unpadded = k.to_fs_path().trim_end_matches('=').to_owned();
        if unpadded != k.to_fs_path() {
            assert!(ChunkKey::from_fs_path(&unpadded).is_err());
        }
    }
}
