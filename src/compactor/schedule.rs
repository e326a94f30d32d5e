//! Running the compactor on a schedule: one background thread calling
//! [`Compactor::run_once`] every interval (Loki's `compaction_interval`),
//! for embedders that do not drive it themselves.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{CompactionReport, Compactor};
use crate::error::Result;

/// What a run tells the callback.
type Callback = Box<dyn FnMut(&Result<CompactionReport>) + Send>;

/// The stop flag and the condition variable the thread sleeps on.
#[derive(Debug, Default)]
struct Signal {
    stop: Mutex<bool>,
    wake: Condvar,
}

/// The background compactor started by [`Compactor::spawn`]. Stops (after
/// the run in progress, if any) and joins its thread on
/// [`CompactorHandle::stop`] or when dropped.
#[derive(Debug)]
pub struct CompactorHandle {
    signal: Arc<Signal>,
    runs: Arc<Mutex<u64>>,
    thread: Option<JoinHandle<()>>,
}

impl Compactor {
    /// Starts a thread that runs [`Compactor::run_once`] now and then
    /// every `interval` (measured from the start of one run to the start
    /// of the next; a run longer than the interval is followed at once by
    /// the next). Errors, such as [`super::CompactorError::LeaseHeld`]
    /// while another compactor works, do not stop it; see
    /// [`Compactor::spawn_with`] to observe them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use lokistore::{Compactor, CompactorConfig, MemoryStore};
    ///
    /// let compactor = Compactor::new(Arc::new(MemoryStore::new()), CompactorConfig::default());
    /// let handle = compactor.spawn(Duration::from_secs(600));
    /// handle.stop();
    /// ```
    pub fn spawn(self, interval: Duration) -> CompactorHandle {
        self.spawn_inner(interval, None)
    }

    /// [`Compactor::spawn`], calling `on_run` on the background thread with
    /// the outcome of every run.
    pub fn spawn_with(
        self,
        interval: Duration,
        on_run: impl FnMut(&Result<CompactionReport>) + Send + 'static,
    ) -> CompactorHandle {
        self.spawn_inner(interval, Some(Box::new(on_run)))
    }

    fn spawn_inner(self, interval: Duration, mut on_run: Option<Callback>) -> CompactorHandle {
        let signal = Arc::new(Signal::default());
        let runs = Arc::new(Mutex::new(0u64));
        let (sig, count) = (Arc::clone(&signal), Arc::clone(&runs));
        let body = move || {
            loop {
                if *sig.stop.lock().unwrap_or_else(PoisonError::into_inner) {
                    return;
                }
                let started = Instant::now();
                let res = self.run_once();
                *count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
                if let Some(f) = on_run.as_mut() {
                    f(&res);
                }
                let deadline = started + interval;
                let mut stop = sig.stop.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if *stop {
                        return;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    stop = sig.wake.wait_timeout(stop, left).unwrap_or_else(PoisonError::into_inner).0;
                }
            }
        };
        let thread = std::thread::Builder::new().name("lokistore-compactor".to_owned()).spawn(body).ok();
        CompactorHandle { signal, runs, thread }
    }
}

impl CompactorHandle {
    /// Runs finished so far.
    pub fn runs(&self) -> u64 {
        *self.runs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the background thread is running (false when the thread
    /// could not be started, or it stopped).
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the thread after the run in progress and waits for it.
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        *self.signal.stop.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.signal.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // A panic on the thread has been reported by the runtime already.
            let _ = t.join();
        }
    }
}

impl Drop for CompactorHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
