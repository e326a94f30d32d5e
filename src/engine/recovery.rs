//! Recovery at open: the WAL (newest checkpoint, then segments) replayed
//! into the engine's tenants and streams.

use std::collections::HashMap;
use std::sync::Arc;

use super::state::{StreamHandle, lock, write};
use super::{Engine, Inner};
use crate::chunk::Entry;
use crate::labels::{Fingerprint, Labels};
use crate::stream::{PushOutcome, Stream};
use crate::tenant::TenantId;
use crate::wal::{CheckpointSeries, ReplaySink, SinkError};

/// Replays into an engine whose WAL is not open yet.
pub(crate) struct Recovery<'a> {
    pub(crate) engine: &'a Engine,
    /// Streams by the (tenant, ref) the WAL names them with.
    refs: HashMap<(String, u64), Arc<StreamHandle>>,
}

impl<'a> Recovery<'a> {
    pub(crate) fn new(engine: &'a Engine) -> Self {
        Self { engine, refs: HashMap::new() }
    }

    fn inner(&self) -> &Inner {
        &self.engine.inner
    }

    /// Puts `handle` in its tenant's map (replacing a stream with the same
    /// labels) and under its WAL ref.
    fn install(&mut self, tenant: &TenantId, wal_ref: u64, handle: Arc<StreamHandle>) {
        let t = self.inner().tenant(tenant);
        let mut map = write(&t.streams);
        if let Some(old) = map.by_labels.get(&handle.labels).cloned() {
            let mut st = lock(&old.state);
            st.removed = true;
            self.inner().memory.add(-st.mem);
            st.mem = 0;
            drop(st);
            map.remove(&handle.labels);
        }
        map.insert(Arc::clone(&handle));
        self.refs.insert((tenant.as_str().to_owned(), wal_ref), handle);
    }
}

impl ReplaySink for Recovery<'_> {
    fn restore(&mut self, series: CheckpointSeries) -> Result<(), SinkError> {
        let tenant = TenantId::new(series.tenant.clone())?;
        let cfg = self.inner().config.stream;
        let (mut closed, mut current) = (Vec::new(), None);
        for c in &series.chunks {
            let mut chunk = c.restore(cfg.chunk.head_format, cfg.chunk.block_size, cfg.chunk.target_size)?;
            if c.closed {
                if chunk.has_unflushed_head() {
                    chunk.close()?;
                }
                closed.push(chunk);
            } else if let Some(mut prev) = current.replace(chunk) {
                // Only one head chunk is live; an earlier one is closed.
                prev.close()?;
                closed.push(prev);
            }
        }
        let highest = series.highest_ts.to_unix_nanos().filter(|_| !series.highest_ts.is_zero());
        let last = series.to.to_unix_nanos().filter(|_| !series.to.is_zero()).map(|ts| (ts, &series.last_line[..]));
        let stream = Stream::restore(series.labels.clone(), cfg, closed, current, highest, last)?;
        let handle = self.inner().new_stream(series.labels.clone(), Fingerprint(series.fingerprint), stream);
        {
            let mut st = lock(&handle.state);
            st.counter = series.entry_count;
            st.collect_closed();
            self.inner().memory.add(st.update_mem());
        }
        self.install(&tenant, series.fingerprint, Arc::new(handle));
        Ok(())
    }

    fn series(&mut self, tenant: &str, fingerprint: u64, labels: &Labels) -> Result<(), SinkError> {
        let tenant = TenantId::new(tenant)?;
        let t = self.inner().tenant(&tenant);
        let existing = t.streams.read().map_err(|_| "poisoned")?.by_labels.get(labels).cloned();
        let handle = match existing {
            Some(h) => h,
            None => {
                let stream = Stream::new(labels.clone(), self.inner().config.stream)?;
                let h = Arc::new(self.inner().new_stream(labels.clone(), Fingerprint(fingerprint), stream));
                write(&t.streams).insert(Arc::clone(&h));
                h
            }
        };
        self.refs.insert((tenant.as_str().to_owned(), fingerprint), handle);
        Ok(())
    }

    fn entries(&mut self, tenant: &str, fingerprint: u64, counter: i64, entries: Vec<Entry>) -> Result<(), SinkError> {
        let Some(h) = self.refs.get(&(tenant.to_owned(), fingerprint)) else {
            return Err(format!("entries for unknown stream {fingerprint:016x} of tenant {tenant}").into());
        };
        let mut st = lock(&h.state);
        let mut stored = 0;
        for e in &entries {
            // Replay skips the out-of-order window; an entry the chunk
            // refuses could never have been acknowledged.
            if let Ok(PushOutcome::Stored) = st.stream.replay_push(e) {
                stored += 1;
            }
        }
        st.counter = if counter > 0 { counter.max(st.counter) } else { st.counter + stored };
        st.collect_closed();
        let delta = st.update_mem();
        drop(st);
        self.inner().memory.add(delta);
        Ok(())
    }

    fn memory_usage(&self) -> usize {
        self.inner().memory_used()
    }

    fn spill(&mut self) -> Result<(), SinkError> {
        self.inner().flush_for_replay()?;
        Ok(())
    }
}
