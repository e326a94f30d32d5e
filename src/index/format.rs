//! Format constants and the two section framings of a TSDB index
//! (`../shared/spec/tsdb-index.md` §1, §2, §3).
//!
//! | framing | bytes |
//! |---|---|
//! | header | `BE32 0xBAAAD700` \| `u8 version` (2, 3 or 4) |
//! | BE32-framed section | `BE32 len` \| `len` bytes of content \| `BE32 crc32c(content)` |
//! | uvarint-framed record (series) | `uvarint len` \| `len` bytes of content \| `BE32 crc32c(content)` |

use crate::encoding::{Cursor, crc32c};

use super::error::{IndexError, Section};

/// The magic number every TSDB index starts with.
pub const INDEX_MAGIC: u32 = 0xBAAA_D700;
/// Length of the header (magic + version).
pub const HEADER_LEN: usize = 5;
/// Length of the TOC at the end of the file.
pub const TOC_LEN: usize = 76;
/// Chunks per page marker (format 3+).
pub const CHUNK_PAGE_SIZE: usize = 16;
/// A series with at least this many chunks is read through its page markers.
pub const MARKER_LOOKUP_MIN_CHUNKS: usize = 64;
/// Every this many series (by ordinal) the fingerprint offsets table has an entry.
pub const FINGERPRINT_INTERVAL: u64 = 1024;
/// The label Loki adds to series in multi-tenant (ingester-built) files.
pub const TENANT_LABEL: &str = "__loki_tenant__";

/// A TSDB index format version (`PeriodConfig.TSDBFormat`, §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum IndexFormat {
    /// Version 2: flat chunk metas (schema <= v12).
    V2,
    /// Version 3: paged chunk metas (schema v13), what Loki writes today.
    #[default]
    V3,
    /// Version 4: version 3 plus an ingested-at day delta per chunk (schema v14).
    V4,
}

impl IndexFormat {
    /// The version byte.
    pub fn to_byte(self) -> u8 {
        match self {
            Self::V2 => 2,
            Self::V3 => 3,
            Self::V4 => 4,
        }
    }

    /// The format for a version byte.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            2 => Some(Self::V2),
            3 => Some(Self::V3),
            4 => Some(Self::V4),
            _ => None,
        }
    }

    /// Whether chunk metas are paged (format 3 and 4).
    pub fn is_paged(self) -> bool {
        self >= Self::V3
    }
}

/// Reads the BE32-framed section at `off` of `data`, verifies its CRC and
/// returns the content with its absolute file offset.
pub(crate) fn read_framed(data: &[u8], off: u64, section: Section) -> Result<(&[u8], usize), IndexError> {
    let start = usize::try_from(off).ok().filter(|&s| s <= data.len()).ok_or_else(|| {
        IndexError::corrupt(section, off, format!("offset beyond the end of the file ({})", data.len()))
    })?;
    let mut c = Cursor::with_base(&data[start..], start);
    let len = c.read_u32_be("section length").map_err(|e| IndexError::decode(section, e))?;
    let content = c.read_bytes(u64::from(len), "section content").map_err(|e| IndexError::decode(section, e))?;
    let stored = c.read_u32_be("section crc").map_err(|e| IndexError::decode(section, e))?;
    check_crc(content, stored, section, off)?;
    Ok((content, start + 4))
}

/// Reads the uvarint-framed record at `off`, verifies its CRC and returns
/// the content with its absolute file offset.
pub(crate) fn read_uvarint_framed(data: &[u8], off: u64, section: Section) -> Result<(&[u8], usize), IndexError> {
    let start = usize::try_from(off).ok().filter(|&s| s <= data.len()).ok_or_else(|| {
        IndexError::corrupt(section, off, format!("offset beyond the end of the file ({})", data.len()))
    })?;
    let mut c = Cursor::with_base(&data[start..], start);
    let len = c.read_uvarint("record length").map_err(|e| IndexError::decode(section, e))?;
    let content_off = c.offset();
    let content = c.read_bytes(len, "record content").map_err(|e| IndexError::decode(section, e))?;
    let stored = c.read_u32_be("record crc").map_err(|e| IndexError::decode(section, e))?;
    check_crc(content, stored, section, off)?;
    Ok((content, content_off))
}

fn check_crc(content: &[u8], stored: u32, section: Section, offset: u64) -> Result<(), IndexError> {
    let computed = crc32c(content);
    if computed == stored { Ok(()) } else { Err(IndexError::CrcMismatch { section, offset, stored, computed }) }
}

/// Appends zero bytes to `out` until its length is a multiple of `align`.
pub(crate) fn pad_to(out: &mut Vec<u8>, align: usize) {
    let rem = out.len() % align;
    if rem != 0 {
        out.resize(out.len() + align - rem, 0);
    }
}
