//! Which steps' windows a timestamp falls in, without walking the steps.
//!
//! Step `i` reads the window `(e_i - range, e_i]` with `e_i = t_i - offset`
//! (spec §4.1). Whether a timestamp `ts` is in window `i` changes only
//! between `c` and `c + 1` for a *cut* `c`: a window end `e_i` or a
//! window start `e_i - range`. So the cuts split the time line into
//! classes `(c_prev, c_next]` whose timestamps all fall in exactly the
//! same windows, and entries of one class can be counted together: a
//! block whose `[mint, maxt]` lies in one class contributes its entry
//! count to the same windows as any one of its entries.
//!
//! The ends form an arithmetic progression `e_0 + k·step` (`k < n`), the
//! starts another, so the class of a timestamp is found by two divisions.

use super::steps::Grid;

/// The cuts of a query's windows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Windows {
    /// `e_0`: the first window's upper bound (ns).
    first_end: i128,
    /// The step (ns, >= 1).
    step: i128,
    /// Number of steps.
    n: i128,
    /// The window length (ns).
    range: i128,
    /// The bounds saturate somewhere (absurd times): every timestamp is
    /// its own class, which is always right.
    degenerate: bool,
}

impl Windows {
    /// The windows of a range aggregation over `range` with `offset`
    /// (ns) on `grid`, computed as the range aggregation computes them.
    pub(crate) fn new(grid: &Grid, range: i64, offset: i64) -> Self {
        let n = grid.len() as i128;
        let (start, step) = (i128::from(grid.start), i128::from(grid.step.max(1)));
        let (range, offset) = (i128::from(range), i128::from(offset));
        let fits = |v: i128| i64::try_from(v).is_ok();
        // The step times, their ends and starts must all be exact (no
        // saturation) for the progressions to describe them.
        let last = start + step * (n - 1).max(0);
        let degenerate = n == 0
            || range < 0
            || ![last, start - offset, last - offset, start - offset - range, last - offset - range]
                .into_iter()
                .all(fits)
            || !fits(step * (n - 1).max(0));
        Self { first_end: start - offset, step, n, range, degenerate }
    }

    /// The upper end of the class of `ts`: the least cut `>= ts`
    /// (`i64::MAX` when none). Every timestamp in `[ts, class_end(ts)]`
    /// falls in the same windows as `ts`.
    pub(crate) fn class_end(&self, ts: i64) -> i64 {
        if self.degenerate {
            return ts;
        }
        let t = i128::from(ts);
        let next = |base: i128| -> i128 {
            // The least k >= 0 with base + k·step >= t.
            let k = if t <= base { 0 } else { (t - base + self.step - 1) / self.step };
            if k < self.n { base + k * self.step } else { i128::MAX }
        };
        let c = next(self.first_end).min(next(self.first_end - self.range));
        i64::try_from(c).unwrap_or(i64::MAX)
    }

    /// The greatest cut `< ts`, if any: every timestamp in
    /// `(last_cut_below(ts), ts]` falls in the same windows as `ts`.
    pub(crate) fn last_cut_below(&self, ts: i64) -> Option<i64> {
        if self.degenerate {
            return ts.checked_sub(1);
        }
        let t = i128::from(ts);
        let prev = |base: i128| -> Option<i128> {
            // The greatest k < n with base + k·step < t.
            if t <= base {
                return None;
            }
            let k = ((t - 1 - base) / self.step).min(self.n - 1);
            Some(base + k * self.step)
        };
        let c = prev(self.first_end).max(prev(self.first_end - self.range))?;
        i64::try_from(c).ok()
    }

    /// Whether every timestamp in `[lo, hi]` falls in the same windows.
    pub(crate) fn uniform(&self, lo: i64, hi: i64) -> bool {
        lo <= hi && self.class_end(lo) >= hi
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// The windows of `ts`, step by step, as the range aggregation tests them.
    fn member(grid: &Grid, range: i64, offset: i64, ts: i64) -> Vec<usize> {
        grid.times()
            .enumerate()
            .filter(|&(_, t)| {
                let end = t.saturating_sub(offset);
                let start = end.saturating_sub(range);
                ts > start && ts <= end
            })
            .map(|(i, _)| i)
            .collect()
    }

    #[test]
    fn classes_agree_with_window_membership() {
        let grids = [
            Grid::new(1000, 1000, Duration::ZERO),
            Grid::new(1000, 1090, Duration::from_nanos(10)),
            Grid::new(1000, 1095, Duration::from_nanos(7)),
            Grid::new(-50, 50, Duration::from_nanos(25)),
        ];
        for grid in &grids {
            for range in [0, 1, 5, 10, 25, 60] {
                for offset in [-13, 0, 3, 10] {
                    let w = Windows::new(grid, range, offset);
                    for ts in (grid.start - 200)..(grid.end + 200) {
                        let end = w.class_end(ts);
                        assert!(end >= ts);
                        let want = member(grid, range, offset, ts);
                        // Every timestamp up to the class end is in the same windows …
                        for u in ts..=end.min(ts + 300) {
                            assert_eq!(member(grid, range, offset, u), want, "{grid:?} {range} {offset} {ts} {u}");
                        }
                        // The class seen from its upper end.
                        if let Some(c) = w.last_cut_below(ts) {
                            assert!(c < ts && w.class_end(c + 1) >= ts, "{grid:?} {range} {offset} {ts} {c}");
                            assert!(w.class_end(c) == c);
                        } else {
                            assert!(w.class_end(ts - 300) >= ts);
                        }
                        // … and the next one is not, unless past every cut.
                        if end < i64::MAX {
                            assert!(w.uniform(ts, end));
                            assert!(!w.uniform(ts, end + 1));
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn saturating_bounds_make_every_timestamp_its_own_class() {
        let grid = Grid::new(i64::MAX - 10, i64::MAX - 10, Duration::ZERO);
        let w = Windows::new(&grid, 5, -100);
        assert_eq!(w.class_end(3), 3);
        assert!(w.uniform(3, 3) && !w.uniform(3, 4));
    }
}
