//! Plumbing every codec uses: the limit-checked output buffer, corruption
//! errors, little-endian reads and the per-thread context cache.

use std::cell::Cell;
use std::io;
use std::thread::LocalKey;

use super::{CodecError, Encoding};

/// The caller's buffer during one decompression: appends are checked
/// against the limit, counting from `start`.
pub(super) struct Output<'a> {
    pub(super) dst: &'a mut Vec<u8>,
    pub(super) start: usize,
    pub(super) limit: usize,
    pub(super) encoding: Encoding,
}

impl Output<'_> {
    /// Bytes produced so far.
    pub(super) fn produced(&self) -> usize {
        self.dst.len() - self.start
    }

    /// Bytes that may still be appended.
    pub(super) fn room(&self) -> usize {
        self.limit.saturating_sub(self.produced())
    }

    pub(super) fn corrupt(&self, msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> CodecError {
        corrupt(self.encoding, msg)
    }

    pub(super) fn too_large(&self) -> CodecError {
        CodecError::TooLarge { encoding: self.encoding, limit: self.limit }
    }

    /// Fails unless `n` more bytes fit under the limit.
    pub(super) fn check_room(&self, n: usize) -> Result<(), CodecError> {
        if n > self.room() { Err(self.too_large()) } else { Ok(()) }
    }

    pub(super) fn extend(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        self.check_room(bytes.len())?;
        self.dst.extend_from_slice(bytes);
        Ok(())
    }

    /// Fails if the output already went past the limit (decoders that write
    /// into spare capacity may overshoot by what was already allocated).
    pub(super) fn check_limit(&self) -> Result<(), CodecError> {
        if self.produced() > self.limit { Err(self.too_large()) } else { Ok(()) }
    }

    /// Makes sure there is spare capacity to write into, growing by about
    /// the output size so far (at least `min`), never beyond `limit + 1`
    /// bytes of output (one byte more than allowed, to detect the overflow).
    pub(super) fn grow(&mut self, min: usize) -> Result<(), CodecError> {
        self.check_limit()?;
        if self.dst.len() < self.dst.capacity() {
            return Ok(());
        }
        let room = self.room().saturating_add(1);
        let want = self.produced().max(min).max(4096).min(room);
        self.dst.reserve(want);
        Ok(())
    }
}

pub(super) fn corrupt(encoding: Encoding, msg: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> CodecError {
    CodecError::Corrupt { encoding, source: io::Error::new(io::ErrorKind::InvalidData, msg) }
}

/// A little-endian `u32` at `at`, if present.
pub(super) fn le32(buf: &[u8], at: usize) -> Option<u32> {
    let bytes = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(bytes.try_into().ok()?))
}

/// Runs `f` with this thread's cached context of one kind, creating it on
/// first use. The context is taken out of its slot while in use, so a
/// (theoretical) re-entrant call or a call during thread teardown simply
/// gets a fresh one.
pub(super) fn with_cached<T: 'static, R>(
    slot: &'static LocalKey<Cell<Option<T>>>,
    make: impl FnOnce() -> T,
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let mut ctx = slot.try_with(Cell::take).ok().flatten().unwrap_or_else(make);
    let res = f(&mut ctx);
    // Fails only during thread teardown; the context is then just dropped.
    let _ = slot.try_with(|s| s.set(Some(ctx)));
    res
}
