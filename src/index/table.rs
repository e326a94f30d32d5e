//! Tables, file names and shipping (`../shared/spec/tsdb-index.md` §4):
//! 24h tables `<prefix><unixDay>`, ingester files `<unixSec>-<node>.tsdb`
//! directly under the table, compactor files
//! `<tenant>/<ns>-compactor-<from>-<through>-<checksumHex>.tsdb` under it,
//! every object gzip'ed with a `.gz` suffix under the period's
//! `path_prefix` (default `index/`).
//!
//! | object | key |
//! |---|---|
//! | multi-tenant | `<path_prefix><table>/<unixSec>-<ingester>-<unixNanos>.tsdb.gz` |
//! | per-tenant | `<path_prefix><table>/<tenant>/<ns>-compactor-<from>-<through>-<crc hex>.tsdb.gz` |

use std::fmt;
use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;

use crate::TenantId;

use super::error::IndexError;
use super::query::IndexQuery;
use super::reader::IndexReader;
use super::view::{MultiIndex, TenantIndex};

/// Milliseconds in a table period (24h).
pub const DAY_MS: i64 = 86_400_000;
/// Loki's default index `path_prefix`.
pub const DEFAULT_PATH_PREFIX: &str = "index/";
/// Loki's usual table prefix.
pub const DEFAULT_TABLE_PREFIX: &str = "index_";

/// The table number (Unix day) for a time in ms.
pub fn table_day(t_ms: i64) -> i64 {
    t_ms.div_euclid(DAY_MS)
}

/// `<prefix><day>`.
pub fn table_name_for_day(prefix: &str, day: i64) -> String {
    format!("{prefix}{day}")
}

/// The table holding time `t_ms`: `index_19675` for 2023-11-14.
pub fn table_name(prefix: &str, t_ms: i64) -> String {
    table_name_for_day(prefix, table_day(t_ms))
}

/// The day of a table name, read from its last 5 characters as Loki's
/// compactor does.
pub fn table_number(name: &str) -> Option<i64> {
    let tail = name.get(name.len().checked_sub(5)?..)?;
    if !tail.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    tail.parse().ok()
}

/// The days a chunk `[min_time, max_time]` is indexed under (every table
/// it touches, Loki's `IndexBuckets`).
pub fn table_days(min_time: i64, max_time: i64) -> std::ops::RangeInclusive<i64> {
    table_day(min_time)..=table_day(max_time.max(min_time))
}

/// The tables a query over `[from, through]` reads.
pub fn tables_for_range(prefix: &str, from: i64, through: i64) -> Vec<String> {
    table_days(from, through).map(|d| table_name_for_day(prefix, d)).collect()
}

/// The name of an index file as Loki's shipper writes it (without `.gz`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IndexFileName {
    /// An ingester's multi-tenant file: `<unixSec>-<node>.tsdb`.
    MultiTenant {
        /// Head rotation start, Unix seconds.
        created_secs: i64,
        /// Uploader name, `<ingester>-<unixNanos>`.
        node: String,
    },
    /// A compactor's per-tenant file:
    /// `<ts>-compactor-<from>-<through>-<checksumHex>.tsdb`.
    Compacted {
        /// Creation time as written (ns; <= 10 digits means seconds).
        created: i64,
        /// TOC From, ms.
        from: i64,
        /// TOC Through, ms.
        through: i64,
        /// TOC checksum.
        checksum: u32,
    },
}

impl IndexFileName {
    /// Parses a file name, with or without `.gz`.
    pub fn parse(name: &str) -> Result<Self, IndexError> {
        let bad = || IndexError::InvalidName(name.to_owned());
        let base = name.strip_suffix(".gz").unwrap_or(name).strip_suffix(".tsdb").ok_or_else(bad)?;
        let fields: Vec<&str> = base.split('-').collect();
        let num = |s: &str| -> Result<i64, IndexError> {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            s.parse().map_err(|_| bad())
        };
        if let [ts, "compactor", from, through, crc] = fields.as_slice() {
            let checksum = if crc.len() <= 8 && !crc.is_empty() {
                u32::from_str_radix(crc, 16).map_err(|_| bad())?
            } else {
                return Err(bad());
            };
            return Ok(Self::Compacted { created: num(ts)?, from: num(from)?, through: num(through)?, checksum });
        }
        match base.split_once('-') {
            Some((secs, node)) if !node.is_empty() => {
                Ok(Self::MultiTenant { created_secs: num(secs)?, node: node.to_owned() })
            }
            _ => Err(bad()),
        }
    }

    /// Creation time in nanoseconds (a <= 10-digit compactor value and a
    /// multi-tenant value are seconds).
    pub fn created_nanos(&self) -> i64 {
        match self {
            Self::MultiTenant { created_secs, .. } => created_secs.saturating_mul(1_000_000_000),
            Self::Compacted { created, .. } if *created < 10_000_000_000 => created.saturating_mul(1_000_000_000),
            Self::Compacted { created, .. } => *created,
        }
    }

    /// The object key: `<path_prefix><table>/[<tenant>/]<name>.gz`
    /// (the tenant directory only for compacted files).
    pub fn object_key(&self, path_prefix: &str, table: &str, tenant: &TenantId) -> String {
        match self {
            Self::MultiTenant { .. } => format!("{path_prefix}{table}/{self}.gz"),
            Self::Compacted { .. } => format!("{path_prefix}{table}/{}/{self}.gz", tenant.as_str()),
        }
    }
}

impl fmt::Display for IndexFileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MultiTenant { created_secs, node } => write!(f, "{created_secs}-{node}.tsdb"),
            Self::Compacted { created, from, through, checksum } => {
                write!(f, "{created}-compactor-{from}-{through}-{checksum:x}.tsdb")
            }
        }
    }
}

/// Gzip-compresses an index for upload (RFC 1952, default level).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Decompresses a gzip'ed index object.
pub fn gunzip(data: &[u8]) -> Result<Vec<u8>, IndexError> {
    let mut out = Vec::with_capacity(data.len().saturating_mul(2));
    flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out).map_err(IndexError::Gzip)?;
    Ok(out)
}

/// Reads an index object: gunzips it when its key ends in `.gz`.
pub fn read_object(key: &str, data: Bytes) -> Result<IndexReader, IndexError> {
    if key.ends_with(".gz") { IndexReader::new(gunzip(&data)?.into()) } else { IndexReader::new(data) }
}

#[derive(Debug, Clone)]
struct TableFile {
    table_day: i64,
    /// `None` for multi-tenant files.
    tenant: Option<String>,
    name: String,
    reader: Arc<IndexReader>,
}

/// The index files of one or more tables, as listed from the object store,
/// queried per tenant: the tenant's compacted files plus that tenant's view
/// of every multi-tenant file, for the tables a time range touches.
#[derive(Debug, Clone, Default)]
pub struct IndexSet {
    files: Vec<TableFile>,
}

impl IndexSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an opened file: `tenant` is `None` for a multi-tenant file
    /// directly under the table. A file already added (same table, tenant
    /// and name) is replaced.
    pub fn add(
        &mut self,
        table: &str,
        tenant: Option<&str>,
        name: &str,
        reader: IndexReader,
    ) -> Result<(), IndexError> {
        let digits = table.len() - table.bytes().rev().take_while(u8::is_ascii_digit).count();
        let table_day = table[digits..].parse().map_err(|_| IndexError::InvalidName(table.to_owned()))?;
        let tenant = tenant.map(str::to_owned);
        self.files.retain(|f| !(f.table_day == table_day && f.tenant == tenant && f.name == name));
        self.files.push(TableFile { table_day, tenant, name: name.to_owned(), reader: Arc::new(reader) });
        Ok(())
    }

    /// Adds an object by its key relative to the path prefix
    /// (`<table>/<file>` or `<table>/<tenant>/<file>`), gunzipping `.gz`.
    pub fn add_object(&mut self, key: &str, data: Bytes) -> Result<(), IndexError> {
        let parts: Vec<&str> = key.split('/').filter(|p| !p.is_empty()).collect();
        let bad = || IndexError::InvalidName(key.to_owned());
        let name = *parts.last().ok_or_else(bad)?;
        let (table, tenant) = match (IndexFileName::parse(name)?, parts.as_slice()) {
            (IndexFileName::MultiTenant { .. }, [.., table, _]) => (*table, None),
            (IndexFileName::Compacted { .. }, [.., table, tenant, _]) => (*table, Some(*tenant)),
            _ => return Err(bad()),
        };
        let reader = read_object(name, data)?;
        self.add(table, tenant, name, reader)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// True when there is no file.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// `tenant`'s index over the tables touching `[from, through]` (ms),
    /// merged and de-duplicated.
    pub fn for_tenant(&self, tenant: &str, from: i64, through: i64) -> MultiIndex<'static> {
        let days = table_days(from, through);
        let mut m = MultiIndex::new();
        for f in self.files.iter().filter(|f| days.contains(&f.table_day)) {
            match &f.tenant {
                Some(t) if t == tenant => m.push(f.reader.clone()),
                Some(_) => {}
                None => m.push(TenantIndex::new(f.reader.clone(), tenant)),
            }
        }
        m
    }

    /// The readers, for inspection: `(table day, tenant, name, reader)`.
    pub fn files(&self) -> impl Iterator<Item = (i64, Option<&str>, &str, &IndexReader)> + '_ {
        self.files.iter().map(|f| (f.table_day, f.tenant.as_deref(), f.name.as_str(), &*f.reader))
    }
}

/// Checks an [`IndexQuery`] is object safe and usable behind `Arc`.
#[allow(dead_code, reason = "compile-time check")]
fn _object_safe(_: &dyn IndexQuery) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for n in [
            "1795252712-vm-1795252712737868474.tsdb",
            "1795252577139566887-compactor-1768003200253-1768010399995-af9eeae5.tsdb",
        ] {
            let p = IndexFileName::parse(n).unwrap();
            assert_eq!(p.to_string(), n);
            assert_eq!(IndexFileName::parse(&format!("{n}.gz")).unwrap(), p);
        }
        let c =
            IndexFileName::Compacted { created: 1, from: 1700000000000, through: 1700000001000, checksum: 0x054989d6 };
        assert_eq!(c.to_string(), "1-compactor-1700000000000-1700000001000-54989d6.tsdb");
        assert_eq!(
            c.object_key(DEFAULT_PATH_PREFIX, "index_19675", &TenantId::new("fake").unwrap()),
            "index/index_19675/fake/1-compactor-1700000000000-1700000001000-54989d6.tsdb.gz"
        );
        assert!(IndexFileName::parse("x.tsdb").is_err());
        assert!(IndexFileName::parse("123.tsdb").is_err());
        assert_eq!(table_name(DEFAULT_TABLE_PREFIX, 1_700_000_000_000), "index_19675");
        assert_eq!(table_number("index_19675"), Some(19675));
        assert_eq!(tables_for_range("index_", 86_399_999, 86_400_000), ["index_0", "index_1"]);
    }
}
