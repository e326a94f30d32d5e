//! The TSDB index: Loki's index files for flushed chunks, an in-memory head
//! for chunks not yet in a file, and queries by label matchers and time
//! over both (`../shared/spec/tsdb-index.md`).
//!
//! | file | concept |
//! |---|---|
//! | `format.rs` | magic, versions, section framings (§1-§3) |
//! | `toc.rs` | the 76-byte TOC (§2.8) |
//! | `symbols.rs` | the symbol table (§2.1) |
//! | `chunk_meta.rs` | chunk metas and page markers (§2.3-§2.6) |
//! | `postings.rs` | postings lists and the postings offset table (§2.7) |
//! | `writer.rs` | the staged writer, byte-identical to Loki's (§2) |
//! | `builder.rs` | sort, de-duplicate and write, as Loki's builder (§4.3) |
//! | `reader.rs` | the reader over [`bytes::Bytes`] (owned, object or mmap) (§2, §5) |
//! | `matcher.rs` | label matchers (`=`, `!=`, `=~`, `!~`) |
//! | `query.rs` | the shared query interface, postings algorithm, stats, volume (§5) |
//! | `shard.rs` | `s_of_n` fingerprint shards (§5.5) |
//! | `head.rs` | the in-memory head index (§4.3) |
//! | `view.rs` | tenant views of multi-tenant files, merged indexes (§5.1, §5.4) |
//! | `table.rs` | 24h tables, file names, gzip shipping (§4) |
//!
//! Data flow: flushed chunk -> [`HeadIndex::append`] -> rotation:
//! [`build_multitenant`] (one file per table touched) -> gzip ->
//! `index/<table>/<sec>-<node>.tsdb.gz`; queries: [`IndexSet::for_tenant`]
//! (files of the tables in range) plus the head in a [`MultiIndex`] ->
//! [`IndexQuery::series`] / [`IndexQuery::chunk_refs`] / stats / volume.

mod builder;
mod chunk_meta;
mod error;
mod format;
mod fxhash;
mod head;
mod matcher;
mod postings;
mod query;
mod reader;
mod shard;
mod symbols;
mod table;
mod toc;
mod view;
mod writer;

#[cfg(feature = "internals")]
pub mod fuzz_harness;

pub use builder::IndexBuilder;
pub use chunk_meta::{ChunkMeta, finalize_chunks};
pub use error::{IndexError, Section};
pub use format::{CHUNK_PAGE_SIZE, INDEX_MAGIC, IndexFormat, TENANT_LABEL, TOC_LEN};
pub use head::{HeadIndex, build_multitenant};
pub use matcher::{MatchOp, Matcher};
pub use query::{ChunkRef, IndexQuery, IndexStats, Series, SeriesQuery, Volume, VolumeAggregation};
pub use reader::IndexReader;
pub use shard::{SHARD_LABEL, Shard};
pub use table::{
    DAY_MS, DEFAULT_PATH_PREFIX, DEFAULT_TABLE_PREFIX, IndexFileName, IndexSet, gunzip, gzip, read_object, table_day,
    table_days, table_name, table_name_for_day, table_number, tables_for_range,
};
pub use toc::Toc;
pub use view::{MultiIndex, TenantIndex};
pub use writer::{IndexWriter, WrittenIndex};
