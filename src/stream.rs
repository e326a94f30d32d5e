//! [`Stream`]: one label set's sequence of chunks, with the rules Loki's
//! ingester applies per stream: the repeated-last-line duplicate rule, the
//! out-of-order window, and cutting a new chunk when the current one is full
//! or crosses a synchronization point (`../shared/spec/chunk-format.md` §7.3–7.4).

use std::time::Duration;

use crate::chunk::{AppendOutcome, Chunk, ChunkConfig, ChunkError, Entry};
use crate::labels::{Fingerprint, Labels};

/// Per-stream settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamConfig {
    /// Settings of each chunk.
    pub chunk: ChunkConfig,
    /// Loki's `max_chunk_age` (default 2h); entries older than the newest
    /// timestamp minus half of it are rejected. `Duration::ZERO` disables the window.
    pub max_chunk_age: Duration,
    /// Loki's `sync_period` (default 1h): chunks are cut where an entry
    /// crosses a period boundary (offset by the fingerprint). Zero disables.
    pub sync_period: Duration,
    /// Minimum utilization for a synchronization cut (default 0.1).
    pub sync_min_utilization: f64,
}

impl Default for StreamConfig {
    fn default() -> Self {
        Self {
            chunk: ChunkConfig::default(),
            max_chunk_age: Duration::from_secs(2 * 3600),
            sync_period: Duration::from_secs(3600),
            sync_min_utilization: 0.1,
        }
    }
}

/// What [`Stream::push`] did with an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushOutcome {
    /// Stored in the current chunk.
    Stored,
    /// Identical to an entry already stored; dropped as Loki drops it.
    Duplicate,
}

/// A stream: its labels, fingerprint and chunks.
///
/// # Examples
///
/// ```
/// use lokistore::{Entry, Labels, Stream, StreamConfig};
///
/// let labels: Labels = Labels::from_pairs([("app", "api")])?;
/// let mut stream = Stream::new(labels, StreamConfig::default())?;
/// stream.push(&Entry::new(1_700_000_000_000_000_000, "GET /health 200"))?;
/// assert_eq!(stream.num_entries(), 1);
/// assert_eq!(stream.fingerprint().to_string().len(), 16);
/// # Ok::<(), lokistore::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Stream {
    labels: Labels,
    fingerprint: Fingerprint,
    config: StreamConfig,
    closed: Vec<Chunk>,
    current: Chunk,
    /// Newest timestamp accepted so far (None before the first entry).
    highest_ts: Option<i64>,
    /// The last accepted entry, copied into buffers reused from one entry
    /// to the next (holding the pushed `Bytes` would pin whole request
    /// buffers in memory).
    last: Option<LastEntry>,
}

#[derive(Debug, Clone, Default)]
struct LastEntry {
    timestamp: i64,
    line: Vec<u8>,
    metadata: Vec<crate::labels::Label>,
}

impl Stream {
    /// An empty stream.
    pub fn new(labels: Labels, config: StreamConfig) -> Result<Self, ChunkError> {
        let current = Chunk::new(config.chunk)?;
        Ok(Self {
            fingerprint: labels.fingerprint(),
            labels,
            config,
            closed: Vec::new(),
            current,
            highest_ts: None,
            last: None,
        })
    }

    /// A stream rebuilt from saved state (a WAL checkpoint): its closed
    /// chunks, its current chunk (`None` for a new empty one), the newest
    /// timestamp it accepted and its last accepted line, so the duplicate
    /// rule and the out-of-order window carry on as before.
    pub fn restore(
        labels: Labels,
        config: StreamConfig,
        closed: Vec<Chunk>,
        current: Option<Chunk>,
        highest_ts: Option<i64>,
        last_line: Option<(i64, &[u8])>,
    ) -> Result<Self, ChunkError> {
        let current = match current {
            Some(c) => c,
            None => Chunk::new(config.chunk)?,
        };
        let last =
            last_line.map(|(timestamp, line)| LastEntry { timestamp, line: line.to_vec(), metadata: Vec::new() });
        Ok(Self { fingerprint: labels.fingerprint(), labels, config, closed, current, highest_ts, last })
    }

    /// The stream labels.
    pub fn labels(&self) -> &Labels {
        &self.labels
    }

    /// The stream fingerprint.
    pub fn fingerprint(&self) -> Fingerprint {
        self.fingerprint
    }

    /// The newest timestamp stored, if any.
    pub fn highest_timestamp(&self) -> Option<i64> {
        self.highest_ts
    }

    /// Timestamp and line of the last entry accepted (the one the
    /// repeated-line rule compares with).
    pub fn last_line(&self) -> Option<(i64, &[u8])> {
        self.last.as_ref().map(|l| (l.timestamp, l.line.as_slice()))
    }

    /// The stream settings.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Overrides the fingerprint (a tenant's fingerprint mapper gives a
    /// colliding label set another one).
    pub fn set_fingerprint(&mut self, fingerprint: Fingerprint) {
        self.fingerprint = fingerprint;
    }

    /// The chunk entries are currently appended to.
    pub fn current_chunk(&self) -> &Chunk {
        &self.current
    }

    /// Chunks already closed and not yet taken.
    pub fn closed_chunks(&self) -> &[Chunk] {
        &self.closed
    }

    /// Entries in all chunks held.
    pub fn num_entries(&self) -> usize {
        self.closed.iter().fold(self.current.num_entries(), |n, c| n.saturating_add(c.num_entries()))
    }

    /// Appends one entry, cutting a new chunk first when the current one has
    /// no space for it or the entry crosses a synchronization point.
    pub fn push(&mut self, entry: &Entry) -> Result<PushOutcome, ChunkError> {
        self.push_with(entry, true)
    }

    /// Appends an entry replayed from the write-ahead log: the same rules as
    /// [`Stream::push`] except the out-of-order window, which Loki does not
    /// apply on replay (the entry was accepted once already).
    pub fn replay_push(&mut self, entry: &Entry) -> Result<PushOutcome, ChunkError> {
        self.push_with(entry, false)
    }

    fn push_with(&mut self, entry: &Entry, check_window: bool) -> Result<PushOutcome, ChunkError> {
        if let Some(last) = &self.last
            && last.timestamp == entry.timestamp
            && last.line == entry.line
            && last.metadata == entry.metadata
        {
            return Ok(PushOutcome::Duplicate);
        }
        if let Some(highest) = self.highest_ts.filter(|_| check_window) {
            let half = i64::try_from(self.config.max_chunk_age.as_nanos() / 2).unwrap_or(i64::MAX);
            let cutoff = highest.saturating_sub(half);
            if half > 0 && entry.timestamp < cutoff {
                return Err(ChunkError::TooFarBehind { timestamp: entry.timestamp, cutoff });
            }
        }
        let md = entry.metadata.as_slice();
        if !self.current.is_empty()
            && (!self.current.space_for_pairs(&entry.line, md) || self.sync_cut(entry.timestamp))
        {
            self.cut()?;
        }
        let outcome = self.current.append_pairs(entry.timestamp, &entry.line, md)?;
        self.highest_ts = Some(self.highest_ts.map_or(entry.timestamp, |h| h.max(entry.timestamp)));
        let last = self.last.get_or_insert_with(LastEntry::default);
        last.timestamp = entry.timestamp;
        last.line.clear();
        last.line.extend_from_slice(&entry.line);
        if !(last.metadata.is_empty() && entry.metadata.is_empty()) {
            last.metadata.clone_from(&entry.metadata);
        }
        Ok(match outcome {
            AppendOutcome::Appended => PushOutcome::Stored,
            AppendOutcome::Duplicate => PushOutcome::Duplicate,
        })
    }

    fn sync_cut(&self, ts: i64) -> bool {
        let period = self.config.sync_period.as_nanos();
        let Some(highest) = self.highest_ts else { return false };
        if period == 0 || highest > ts {
            return false;
        }
        let period = u64::try_from(period).unwrap_or(u64::MAX);
        let fp = self.fingerprint.0;
        let cts = (ts as u64).wrapping_add(fp) % period;
        let pts = (highest as u64).wrapping_add(fp) % period;
        cts < pts
            && (self.config.sync_min_utilization <= 0.0
                || self.current.utilization() > self.config.sync_min_utilization)
    }

    /// Closes the current chunk (if it holds entries) and starts a new one.
    pub fn cut(&mut self) -> Result<(), ChunkError> {
        if self.current.is_empty() {
            return Ok(());
        }
        let mut full = std::mem::replace(&mut self.current, Chunk::new(self.config.chunk)?);
        full.close()?;
        self.closed.push(full);
        Ok(())
    }

    /// Removes and returns the closed chunks (for flushing).
    pub fn take_closed_chunks(&mut self) -> Vec<Chunk> {
        std::mem::take(&mut self.closed)
    }
}
