//! [`LocalFsStore`]: objects as files under a root directory.
//!
//! Layout of a root:
//!
//! | path | what |
//! |---|---|
//! | `<root>/<key>` | the object `key`; each `/` of the key is a directory level |
//! | `<root>/.tmp/<pid>-<n>.tmp` | a write in progress (same filesystem as the objects, so a rename is atomic) |
//!
//! A write goes to a fresh temp file, which is fsynced, then renamed (or,
//! for `put_if_absent`, hard-linked, which refuses to replace) into place,
//! and the directory that received it is fsynced. A crash therefore leaves
//! the old object or the complete new one, plus possibly a temp file that
//! the next [`LocalFsStore::open`] removes. Chunk objects use Loki's
//! filesystem names: the last part of a chunk key base64-encoded
//! ([`ChunkKey::to_fs_path`]), so the files are readable by Loki's
//! `filesystem` object store and the other way round.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use super::key::{check_range, invalid, split_prefix, validate_key, validate_prefix};
use super::{ObjectMeta, ObjectStore, StoreError};
use crate::object::ChunkKey;

/// The directory under the root that holds writes in progress.
const TMP_DIR: &str = ".tmp";

/// How often a write is retried when a concurrent delete removed the (then
/// empty) directory it was about to write into.
const INSTALL_ATTEMPTS: usize = 5;

/// Numbers temp files uniquely within this process (all stores share it).
static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// An object store in a local directory, with atomic and durable writes.
///
/// One root belongs to one process at a time: [`open`](Self::open) removes
/// the temp files that other processes left behind.
///
/// Keys are validated as for every store; in addition, a key segment may
/// not start with `.`, because such names are reserved for the store's own
/// files and are never listed. As on any filesystem, a key cannot name both
/// an object and a directory of objects (`a` and `a/b`): the second write
/// fails with [`StoreError::Io`]. `put_if_absent` needs hard links, which
/// every POSIX local filesystem has.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use lokistore::store::{LocalFsStore, ObjectStore};
///
/// let dir = tempfile::tempdir()?;
/// let store = LocalFsStore::open(dir.path())?;
/// store.put("index/index_19675/a.tsdb.gz", Bytes::from_static(b"data"))?;
/// assert_eq!(store.get("index/index_19675/a.tsdb.gz")?, Bytes::from_static(b"data"));
/// assert!(dir.path().join("index/index_19675/a.tsdb.gz").is_file());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LocalFsStore {
    root: PathBuf,
    tmp: PathBuf,
}

impl LocalFsStore {
    /// Opens the store at `root`, creating the directory if needed, and
    /// removes leftover temp files of interrupted writes.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] (operation `open`, key: the root path) when the
    /// root or its temp directory cannot be created or read.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, StoreError> {
        let shown = root.as_ref().display().to_string();
        let io_err = |source| StoreError::Io { op: "open", key: shown.clone(), source };
        let root = std::path::absolute(root.as_ref()).map_err(io_err)?;
        fs::create_dir_all(&root).map_err(io_err)?;
        let tmp = root.join(TMP_DIR);
        fs::create_dir_all(&tmp).map_err(io_err)?;
        let store = Self { root, tmp };
        store.remove_stale_temp_files().map_err(io_err)?;
        Ok(store)
    }

    /// The root directory (absolute).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Removes temp files not written by this process: they belong to
    /// writes that a crash interrupted. (Files of this process may belong
    /// to another store on the same root that is writing right now.)
    fn remove_stale_temp_files(&self) -> io::Result<()> {
        let ours = format!("{}-", std::process::id());
        for entry in fs::read_dir(&self.tmp)? {
            let entry = entry?;
            if entry.file_name().to_str().is_some_and(|name| name.starts_with(&ours)) {
                continue;
            }
            let path = entry.path();
            // Best effort: a file we cannot remove is only wasted space.
            let _ = if entry.file_type()?.is_dir() { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
        }
        Ok(())
    }

    /// The file of `key`, after checking the key.
    ///
    /// Any valid key is allowed except under the top-level `.tmp` (tenant
    /// IDs such as `.team` are valid in Loki and must be storable).
    fn path_of(&self, key: &str) -> Result<PathBuf, StoreError> {
        validate_key(key)?;
        if is_reserved(key) {
            return Err(invalid(key, "the top-level `.tmp` directory is reserved by the filesystem store"));
        }
        Ok(self.root.join(key))
    }

    /// Writes `data` to a new temp file and fsyncs it.
    fn write_temp(&self, data: &[u8]) -> io::Result<PathBuf> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = self.tmp.join(format!("{}-{n}.tmp", std::process::id()));
        let mut file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        let written = file.write_all(data).and_then(|()| file.sync_all());
        if let Err(e) = written {
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        Ok(path)
    }

    /// Creates the missing directories between the root and `dest`,
    /// fsyncing the parent of each new one so that it survives a crash.
    fn create_parents(&self, dest: &Path) -> io::Result<()> {
        let Some(parent) = dest.parent() else { return Ok(()) };
        if parent.is_dir() {
            return Ok(());
        }
        let relative = parent.strip_prefix(&self.root).map_err(io::Error::other)?;
        let mut dir = self.root.clone();
        for part in relative.components() {
            let above = dir.clone();
            dir.push(part);
            match fs::create_dir(&dir) {
                Ok(()) => sync_dir(&above)?,
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Moves the fsynced temp file `tmp` to `dest` (replacing, or with
    /// `no_clobber` refusing to replace) and fsyncs `dest`'s directory.
    /// `Ok(false)` when `no_clobber` found an object there.
    fn install(&self, tmp: &Path, dest: &Path, no_clobber: bool) -> io::Result<bool> {
        let mut attempt = 1;
        loop {
            let placed = self
                .create_parents(dest)
                .and_then(|()| if no_clobber { fs::hard_link(tmp, dest) } else { fs::rename(tmp, dest) });
            match placed {
                Ok(()) => break,
                // A concurrent delete removed a directory that had just
                // become empty; create it again.
                Err(e) if e.kind() == ErrorKind::NotFound && attempt < INSTALL_ATTEMPTS => attempt += 1,
                Err(e) if no_clobber && e.kind() == ErrorKind::AlreadyExists => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        if let Some(dir) = dest.parent() {
            sync_dir(dir)?;
        }
        Ok(true)
    }

    /// `put` and `put_if_absent`.
    fn write(&self, op: &'static str, key: &str, data: &[u8], no_clobber: bool) -> Result<bool, StoreError> {
        let dest = self.path_of(key)?;
        let io_err = |source| StoreError::Io { op, key: key.to_owned(), source };
        let tmp = self.write_temp(data).map_err(io_err)?;
        let installed = self.install(&tmp, &dest, no_clobber);
        // After a rename the temp name is gone; after a hard link, or on
        // failure, it must go.
        if no_clobber || installed.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        installed.map_err(io_err)
    }

    /// Opens the object file of `key` for reading, with its size.
    fn open_object(&self, op: &'static str, key: &str) -> Result<(File, u64), StoreError> {
        let path = self.path_of(key)?;
        let opened = File::open(&path).and_then(|file| {
            let meta = file.metadata()?;
            Ok((file, meta))
        });
        match opened {
            Ok((file, meta)) if meta.is_file() => Ok((file, meta.len())),
            // A directory is not an object.
            Ok(_) => Err(StoreError::NotFound { key: key.to_owned() }),
            Err(source) => Err(map_io(op, key, source)),
        }
    }

    /// Collects the objects under `dir` (whose key prefix is `dir_key`),
    /// keeping only entries of `dir` itself whose name starts with
    /// `first_level`.
    fn walk(&self, dir: &Path, dir_key: &str, first_level: &str, out: &mut Vec<ObjectMeta>) -> io::Result<()> {
        let mut pending = vec![(dir.to_path_buf(), dir_key.to_owned(), first_level)];
        while let Some((dir, dir_key, name_prefix)) = pending.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(entries) => entries,
                // Removed meanwhile, or a file where a directory was expected.
                Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => continue,
                Err(e) => return Err(e),
            };
            for entry in entries {
                let entry = entry?;
                // Names that are not UTF-8 cannot be keys; the top-level
                // `.tmp` directory is ours.
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
                if (dir_key.is_empty() && name == TMP_DIR) || !name.starts_with(name_prefix) {
                    continue;
                }
                let key = if dir_key.is_empty() { name } else { format!("{dir_key}/{name}") };
                let meta = match entry.metadata() {
                    Ok(meta) => meta,
                    Err(e) if e.kind() == ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if meta.is_dir() {
                    pending.push((entry.path(), key, ""));
                } else if meta.is_file() {
                    out.push(ObjectMeta { key, size: meta.len(), last_modified: meta.modified().ok() });
                }
                // Anything else (symlinks, sockets) is not an object.
            }
        }
        Ok(())
    }
}

/// Fsyncs a directory, making the names created or removed in it durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Maps an I/O error on `key`: a missing file (or a file where a
/// directory should be) is a missing object.
fn map_io(op: &'static str, key: &str, source: io::Error) -> StoreError {
    match source.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory => StoreError::NotFound { key: key.to_owned() },
        _ => StoreError::Io { op, key: key.to_owned(), source },
    }
}

impl ObjectStore for LocalFsStore {
    fn put(&self, key: &str, data: Bytes) -> Result<(), StoreError> {
        self.write("put", key, &data, false).map(|_| ())
    }

    fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool, StoreError> {
        self.write("put_if_absent", key, &data, true)
    }

    fn get(&self, key: &str) -> Result<Bytes, StoreError> {
        let (mut file, size) = self.open_object("get", key)?;
        // The size only sizes the buffer; the read goes to the end either way.
        let mut data = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        file.read_to_end(&mut data).map_err(|source| map_io("get", key, source))?;
        Ok(Bytes::from(data))
    }

    fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, StoreError> {
        let (mut file, size) = self.open_object("get_range", key)?;
        let bounds = check_range(key, &range, size)?;
        let mut data = vec![0; bounds.len()];
        if !data.is_empty() {
            file.seek(SeekFrom::Start(range.start))
                .and_then(|_| file.read_exact(&mut data))
                .map_err(|source| map_io("get_range", key, source))?;
        }
        Ok(Bytes::from(data))
    }

    fn head(&self, key: &str) -> Result<ObjectMeta, StoreError> {
        let path = self.path_of(key)?;
        match fs::metadata(&path) {
            Ok(meta) if meta.is_file() => {
                Ok(ObjectMeta { key: key.to_owned(), size: meta.len(), last_modified: meta.modified().ok() })
            }
            Ok(_) => Err(StoreError::NotFound { key: key.to_owned() }),
            Err(source) => Err(map_io("head", key, source)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<ObjectMeta>, StoreError> {
        validate_prefix(prefix)?;
        let (dir_key, partial) = split_prefix(prefix);
        let mut out = Vec::new();
        // No object lives under the temp directory (see `path_of`).
        if is_reserved(dir_key) {
            return Ok(out);
        }
        let dir = if dir_key.is_empty() { self.root.clone() } else { self.root.join(dir_key) };
        self.walk(&dir, dir_key, partial, &mut out).map_err(|source| StoreError::Io {
            op: "list",
            key: prefix.to_owned(),
            source,
        })?;
        out.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            // Nothing there, or a directory (which is not an object).
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory) => {
                return Ok(());
            }
            Err(source) => return Err(StoreError::Io { op: "delete", key: key.to_owned(), source }),
        }
        // Best effort from here: remove the directories the delete emptied
        // (removing a non-empty one fails and stops the climb), then make
        // the removals durable.
        let mut dir = path.parent();
        while let Some(current) = dir.filter(|d| *d != self.root.as_path() && d.starts_with(&self.root)) {
            if fs::remove_dir(current).is_err() {
                break;
            }
            dir = current.parent();
        }
        if let Some(dir) = dir {
            let _ = sync_dir(dir);
        }
        Ok(())
    }

    fn chunk_path(&self, key: &ChunkKey) -> String {
        key.to_fs_path()
    }
}

/// True for keys (or key prefixes) inside the top-level temp directory.
fn is_reserved(key: &str) -> bool {
    key.split('/').next() == Some(TMP_DIR)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_temp_directory_is_reserved() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFsStore::open(dir.path()).unwrap();
        for key in [".tmp/x", ".tmp"] {
            assert!(matches!(store.put(key, Bytes::new()), Err(StoreError::InvalidKey { .. })), "{key}");
        }
        assert!(store.list(".tmp/").unwrap().is_empty());
        for key in ["a/.b", ".hidden", ".team/fp/x"] {
            store.put(key, Bytes::from_static(b"v")).unwrap();
            assert_eq!(&store.get(key).unwrap()[..], b"v");
        }
        let keys: Vec<String> = store.list("").unwrap().into_iter().map(|m| m.key).collect();
        assert_eq!(keys, [".hidden", ".team/fp/x", "a/.b"]);
    }

    #[test]
    fn directories_are_not_objects() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFsStore::open(dir.path()).unwrap();
        store.put("a/b/c", Bytes::from_static(b"x")).unwrap();
        assert!(store.get("a/b").unwrap_err().is_not_found());
        assert!(store.head("a").unwrap_err().is_not_found());
        assert!(store.get("a/b/c/d").unwrap_err().is_not_found());
        store.delete("a/b").unwrap();
        assert_eq!(store.get("a/b/c").unwrap(), Bytes::from_static(b"x"));
        store.delete("a/b/c").unwrap();
        assert!(!dir.path().join("a").exists(), "emptied directories are removed");
        assert!(dir.path().join(TMP_DIR).is_dir());
    }

    #[test]
    fn writes_leave_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalFsStore::open(dir.path()).unwrap();
        store.put("k", Bytes::from_static(b"1")).unwrap();
        assert!(store.put_if_absent("k", Bytes::from_static(b"2")).is_ok());
        assert!(store.put_if_absent("j", Bytes::from_static(b"3")).unwrap());
        assert_eq!(fs::read_dir(dir.path().join(TMP_DIR)).unwrap().count(), 0);
    }
}
