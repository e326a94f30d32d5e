//! Work units shared by log and metric evaluation: a query's streams cut
//! into runs of chunk groups, and workers on scoped threads that take
//! units in order until none are left.

use std::ops::Range;

use crate::engine::SelectedStream;

/// A unit of work: the chunk groups `groups` (indices in read order) of
/// stream `stream`; `first` for the stream's first unit.
#[derive(Debug, Clone)]
pub(super) struct Unit {
    pub stream: usize,
    pub groups: Range<usize>,
    pub first: bool,
}

/// The number of worker threads `threads` asks for: 0 means every
/// available core.
pub(super) fn thread_count(threads: usize) -> usize {
    match threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
}

/// Streams in label order, each cut into runs of chunk groups when it is
/// large: about four units per thread, so that one big stream among small
/// ones is shared out too. On one thread, whole streams.
pub(super) fn plan_units(streams: &[SelectedStream], threads: usize) -> Vec<Unit> {
    let whole = |stream| Unit { stream, groups: 0..usize::MAX, first: true };
    if threads <= 1 {
        return (0..streams.len()).map(whole).collect();
    }
    let groups: Vec<usize> = streams.iter().map(SelectedStream::num_groups).collect();
    let per = groups.iter().sum::<usize>().div_ceil(4 * threads).max(1);
    let mut units = Vec::with_capacity(4 * threads + streams.len());
    for (stream, &n) in groups.iter().enumerate() {
        if n <= per {
            units.push(whole(stream));
            continue;
        }
        for start in (0..n).step_by(per) {
            let end = if start + per >= n { usize::MAX } else { start + per };
            units.push(Unit { stream, groups: start..end, first: start == 0 });
        }
    }
    units
}

/// Runs `first` on this thread and `other` on `workers - 1` scoped threads
/// named `name`, and gathers what they return. A thread that cannot be
/// started leaves its share to the others; a worker's panic is resumed here.
pub(super) fn run_workers<R: Send>(
    workers: usize,
    name: &str,
    first: impl FnOnce() -> Vec<R>,
    other: impl Fn() -> Vec<R> + Sync,
) -> Vec<R> {
    if workers <= 1 {
        return first();
    }
    std::thread::scope(|scope| {
        let other = &other;
        let handles: Vec<_> = (1..workers)
            .filter_map(|_| std::thread::Builder::new().name(name.into()).spawn_scoped(scope, other).ok())
            .collect();
        let mut done = first();
        for h in handles {
            match h.join() {
                Ok(d) => done.extend(d),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        done
    })
}
