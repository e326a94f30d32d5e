//! [`CloudStore`] (feature `cloud`): any store of the `object_store` crate
//! (S3, GCS, Azure, ...) behind the synchronous [`ObjectStore`] trait.
//!
//! The adapter owns a small current-thread tokio runtime and blocks on it
//! for each call, so the engine stays synchronous and spawns no thread.
//! Async embedders call the engine from `tokio::task::spawn_blocking`.
//!
//! | feature | constructor |
//! |---|---|
//! | `cloud` | [`CloudStore::new`] over any `Arc<dyn object_store::ObjectStore>` |
//! | `s3` | `CloudStore::s3` from an `S3Config` (AWS, MinIO, moto, R2, ...) |
//! | `gcs` | `CloudStore::gcs(bucket)`, credentials from `GOOGLE_*` variables |
//! | `azure` | `CloudStore::azure(account, container)`, credentials from `AZURE_*` variables |
//!
//! Mapping onto `object_store`:
//!
//! | trait method | `object_store` call |
//! |---|---|
//! | `put` / `put_if_absent` | `put_opts` with `PutMode::Overwrite` / `PutMode::Create` (`AlreadyExists` is `Ok(false)`) |
//! | `get_range` | `get_opts` with a range; the full size in the reply (or a `head` after a refusal) tells [`StoreError::InvalidRange`] apart |
//! | `list(prefix)` | `list` of the prefix's directory part, every page, filtered by the whole prefix, sorted |
//!
//! Chunk objects use plain keys (`tenant/fp/from:through:crc`), as Loki
//! writes them to object storage: the default [`ObjectStore::chunk_path`].

use std::future::Future;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::path::Path;
use object_store::{GetOptions, ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::key::{check_range, invalid, split_prefix, validate_key, validate_prefix};
use super::{ObjectMeta, ObjectStore, StoreError};

/// An [`ObjectStore`] over a store of the `object_store` crate.
///
/// Every method blocks the calling thread until the remote call is done.
/// Do not call it from async code directly: wrap the call (or the engine
/// call that leads to it) in `tokio::task::spawn_blocking`. A call made
/// inside a tokio runtime anyway does not panic: it runs on a short-lived
/// helper thread, at the cost of blocking the caller's worker meanwhile;
/// dropping the store there is fine too.
#[derive(Debug)]
pub struct CloudStore {
    inner: Arc<dyn object_store::ObjectStore>,
    /// Prepended to every key (with a `/`); empty for none.
    prefix: String,
    runtime: OwnedRuntime,
}

/// The store's runtime. A plain drop of a runtime panics inside another
/// runtime's async context, so this one is shut down without waiting.
#[derive(Debug)]
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

impl CloudStore {
    /// Wraps `inner`, with no key prefix.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] (operation `open`) when the runtime cannot be
    /// created.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use bytes::Bytes;
    /// use lokistore::store::{CloudStore, ObjectStore};
    ///
    /// let store = CloudStore::new(Arc::new(object_store::memory::InMemory::new()))?.with_prefix("loki")?;
    /// store.put("index/a", Bytes::from_static(b"x"))?;
    /// assert_eq!(store.list("")?[0].key, "index/a");
    /// # Ok::<(), lokistore::store::StoreError>(())
    /// ```
    pub fn new(inner: Arc<dyn object_store::ObjectStore>) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| StoreError::Io { op: "open", key: String::new(), source })?;
        Ok(Self { inner, prefix: String::new(), runtime: OwnedRuntime(Some(runtime)) })
    }

    /// Keeps every object under `prefix/` (a trailing `/` is optional; an
    /// empty prefix means none). Keys given to and returned by the store
    /// stay relative to the prefix.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidKey`] when the prefix is not a valid key.
    pub fn with_prefix(mut self, prefix: &str) -> Result<Self, StoreError> {
        let prefix = prefix.strip_suffix('/').unwrap_or(prefix);
        if !prefix.is_empty() {
            validate_key(prefix)?;
            Path::parse(prefix).map_err(|_| invalid(prefix, "not a valid object_store path"))?;
        }
        self.prefix = prefix.to_owned();
        Ok(self)
    }

    /// The key prefix (without the trailing `/`; empty for none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The wrapped `object_store` store.
    pub fn inner(&self) -> &Arc<dyn object_store::ObjectStore> {
        &self.inner
    }

    /// The remote path of `key`.
    fn location(&self, key: &str) -> Result<Path, StoreError> {
        validate_key(key)?;
        let full = if self.prefix.is_empty() { key.to_owned() } else { format!("{}/{key}", self.prefix) };
        Path::parse(full).map_err(|_| invalid(key, "not a valid object_store path"))
    }

    /// Runs `fut` to completion on the store's runtime.
    fn block_on<T: Send>(
        &self,
        op: &'static str,
        key: &str,
        fut: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        // Only `OwnedRuntime::drop` empties it.
        let Some(runtime) = self.runtime.0.as_ref() else {
            return Err(StoreError::Backend { op, key: key.to_owned(), message: "runtime shut down".to_owned() });
        };
        if tokio::runtime::Handle::try_current().is_err() {
            return runtime.block_on(fut);
        }
        // Inside a runtime `block_on` would panic; a helper thread is
        // outside of it.
        std::thread::scope(|scope| {
            let helper = std::thread::Builder::new()
                .name("lokistore-cloud".into())
                .spawn_scoped(scope, || runtime.block_on(fut))
                .map_err(|source| StoreError::Io { op, key: key.to_owned(), source })?;
            helper.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// The object's remote metadata.
    async fn head_async(&self, key: &str, location: &Path) -> Result<object_store::ObjectMeta, StoreError> {
        self.inner.head(location).await.map_err(|e| map_err("head", key, e))
    }

    /// `put` and `put_if_absent`.
    fn write(&self, op: &'static str, key: &str, data: Bytes, mode: PutMode) -> Result<bool, StoreError> {
        let location = self.location(key)?;
        let create = matches!(mode, PutMode::Create);
        self.block_on(op, key, async {
            match self.inner.put_opts(&location, PutPayload::from(data), PutOptions::from(mode)).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) if create => {
                    Ok(false)
                }
                Err(e) => Err(backend(op, key, e)),
            }
        })
    }
}

/// Maps an `object_store` error of a read of `key`: `NotFound` is a
/// missing object.
fn map_err(op: &'static str, key: &str, error: object_store::Error) -> StoreError {
    match error {
        object_store::Error::NotFound { .. } => StoreError::NotFound { key: key.to_owned() },
        other => backend(op, key, other),
    }
}

/// Maps an `object_store` error of a write or list: even `NotFound` (a
/// missing bucket) is a backend failure there.
fn backend(op: &'static str, key: &str, error: object_store::Error) -> StoreError {
    StoreError::Backend { op, key: key.to_owned(), message: error.to_string() }
}

/// Converts `object_store`'s metadata to ours, under `key`.
fn meta(key: String, meta: &object_store::ObjectMeta) -> ObjectMeta {
    ObjectMeta { key, size: meta.size, last_modified: Some(SystemTime::from(meta.last_modified)) }
}

impl ObjectStore for CloudStore {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.write("put", key, data, PutMode::Overwrite).map(|_| ())
    }

    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        self.write("put_if_absent", key, data, PutMode::Create)
    }

    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let location = self.location(key)?;
        self.block_on("get", key, async {
            let result = self.inner.get(&location).await.map_err(|e| map_err("get", key, e))?;
            result.bytes().await.map_err(|e| map_err("get", key, e))
        })
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let location = self.location(key)?;
        let invalid_range = |size| StoreError::InvalidRange { key: key.to_owned(), range: range.clone(), size };
        self.block_on("get_range", key, async {
            // `object_store` refuses empty ranges: only check the bounds.
            if range.start >= range.end {
                let size = self.head_async(key, &location).await?.size;
                check_range(key, &range, size)?;
                return Ok(Bytes::new());
            }
            let options = GetOptions::new().with_range(Some(range.clone()));
            match self.inner.get_opts(&location, options).await {
                // Stores clip a range that ends past the object; the reply
                // carries the object's full size.
                Ok(result) if result.meta.size < range.end => Err(invalid_range(result.meta.size)),
                Ok(result) => {
                    let data = result.bytes().await.map_err(|e| map_err("get_range", key, e))?;
                    if data.len() as u64 != range.end - range.start {
                        return Err(StoreError::Backend {
                            op: "get_range",
                            key: key.to_owned(),
                            message: format!("asked for {} bytes, got {}", range.end - range.start, data.len()),
                        });
                    }
                    Ok(data)
                }
                Err(e @ object_store::Error::NotFound { .. }) => Err(map_err("get_range", key, e)),
                // A range starting at or past the end is refused outright
                // (HTTP 416 and the like): find out whether that was it.
                Err(e) => match self.head_async(key, &location).await {
                    Ok(head) if head.size < range.end => Err(invalid_range(head.size)),
                    _ => Err(map_err("get_range", key, e)),
                },
            }
        })
    }

    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        let location = self.location(key)?;
        self.block_on("head", key, async {
            let head = self.head_async(key, &location).await?;
            Ok(meta(key.to_owned(), &head))
        })
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        validate_prefix(prefix)?;
        // `object_store` lists whole path segments: list the directory part
        // and keep what matches the whole prefix.
        let (dir, _partial) = split_prefix(prefix);
        let base = match (self.prefix.as_str(), dir) {
            ("", "") => None,
            (p, "") | ("", p) => Some(p.to_owned()),
            (p, d) => Some(format!("{p}/{d}")),
        };
        let base =
            base.map(|b| Path::parse(&b).map_err(|_| invalid(prefix, "not a valid object_store path"))).transpose()?;
        let strip = if self.prefix.is_empty() { String::new() } else { format!("{}/", self.prefix) };
        let mut out = self.block_on("list", prefix, async {
            let mut out = Vec::new();
            // The stream fetches every page in turn.
            let mut pages = self.inner.list(base.as_ref());
            while let Some(item) = pages.next().await {
                let item = item.map_err(|e| backend("list", prefix, e))?;
                let full: &str = item.location.as_ref();
                if let Some(key) = full.strip_prefix(strip.as_str()).filter(|k| k.starts_with(prefix)) {
                    out.push(meta(key.to_owned(), &item));
                }
            }
            Ok(out)
        })?;
        out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let location = self.location(key)?;
        self.block_on("delete", key, async {
            match self.inner.delete(&location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(map_err("delete", key, e)),
            }
        })
    }
}
