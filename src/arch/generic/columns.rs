//! `rows x 1` blocks: one lane per block column.

use super::{read_vector, Job, Lane, Lanes};
use crate::arch::all::inlined;
use crate::arch::all::sum::{sequential_end, vertical_sum};
use crate::vocab::terms::Reduce;

const AHEAD: usize = 2048;

/// `rows x 1` block scores: see `arch::column_scores`.
pub(crate) struct Columns<'a>(pub crate::arch::BlockRows<'a>);

impl Job for Columns<'_> {
    /// One lane per column; the rows are summed in the scalar kernel's own
    /// canonical order (`vertical_sum`, run on vectors), which depends on
    /// where the column sits: a vector straddling torch's sequential chunks
    /// and the rest goes to the scalar kernel.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        // The common heights get their own copy, the row loop unrolled.
        match self.0.rows.rows {
            4 => self.columns_of::<L, 4>(l),
            8 => self.columns_of::<L, 8>(l),
            16 => self.columns_of::<L, 16>(l),
            _ => self.columns_of::<L, 0>(l),
        }
    }
}

impl Columns<'_> {
    /// The kernel for blocks `ROWS` high (0: as many as `rows` says).
    #[inline(always)]
    fn columns_of<L: Lanes, const ROWS: usize>(mut self, l: L) {
        // The common reads (a sum; Wanda's scale or none), the rows sliced
        // once: no bounds check, fallback or read test per vector, which
        // left the general loop at half the memory speed.
        if ROWS != 0 && self.0.reduce != Reduce::Max {
            let done = match (self.0.read.abs, self.0.read.scale.is_some()) {
                (true, false) => self.plain::<L, ROWS, true, false>(l),
                (false, false) => self.plain::<L, ROWS, false, false>(l),
                (true, true) => self.plain::<L, ROWS, true, true>(l),
                (false, true) => self.plain::<L, ROWS, false, true>(l),
            };
            if let Some(done) = done {
                self.0.scalar_from(done);
                return;
            }
        }
        let crate::arch::Rows { xs, stride, rows } = self.0.rows;
        let rows = if ROWS == 0 { rows } else { ROWS };
        let sequential_end = sequential_end(self.0.cols);
        let zero = l.splat(0.0);
        let (outs, _) = L::chunks_mut(self.0.out);
        let mut done = 0;
        for (i, out) in outs.iter_mut().enumerate() {
            let c = self.0.first + i * L::LANES;
            if c < sequential_end && c + L::LANES > sequential_end {
                break;
            }
            let row = inlined(
                #[inline(always)]
                |r: usize| {
                    let start = r * stride + i * L::LANES;
                    let chunk = xs
                        .get(start..start + L::LANES)
                        .and_then(|s| L::chunks(s).0.first());
                    let x = chunk.map_or(l.splat(f32::NAN), |c| l.load(c));
                    read_vector(l, self.0.read, x, i * L::LANES)
                },
            );
            *out = l.store(match self.0.reduce {
                Reduce::Max => {
                    // The first of equal maxima stays; NaN if any is.
                    let (mut best, mut nan) = (row(0), l.is_nan(row(0)));
                    for r in 1..rows {
                        let x = row(r);
                        nan = l.or(nan, l.is_nan(x));
                        best = l.select(l.lt(best, x), x, best);
                    }
                    l.select(nan, l.splat(f32::NAN), best)
                }
                reduce => {
                    let term = inlined(
                        #[inline(always)]
                        |r: usize| reduce.term(Lane(l, row(r))),
                    );
                    let total = vertical_sum(rows, c, self.0.cols, Lane(l, zero), term);
                    reduce.finish(total, rows).1
                }
            });
            done += L::LANES;
        }
        // Columns past the last whole vector: the scalar kernel.
        self.0.scalar_from(done);
    }

    /// The general loop's results for `ROWS`-high blocks read as `|x|` if
    /// `ABS`, times the column's scale if `SCALED` (Wanda), and reduced by
    /// a sum: the vectors it scores (`None` if a row or the scale is
    /// short, for the general loop).
    #[inline(always)]
    fn plain<L: Lanes, const ROWS: usize, const ABS: bool, const SCALED: bool>(
        &mut self,
        l: L,
    ) -> Option<usize> {
        let crate::arch::Rows { xs, stride, .. } = self.0.rows;
        let sequential_end = sequential_end(self.0.cols);
        let (first, cols, reduce) = (self.0.first, self.0.cols, self.0.reduce);
        let (outs, _) = L::chunks_mut(self.0.out);
        let n = outs.len();
        let mut rows: [&[L::Chunk]; ROWS] = [&[]; ROWS];
        for (r, row) in rows.iter_mut().enumerate() {
            let start = r * stride;
            *row = L::chunks(xs.get(start..start + n * L::LANES)?).0;
        }
        // The scale of a column is the same on every row: one load a vector.
        let scale = match (SCALED, self.0.read.scale) {
            (true, Some(s)) => L::chunks(s.get(..n * L::LANES)?).0,
            (true, None) => return None,
            (false, _) => &[],
        };
        let zero = l.splat(0.0);
        let mut done = 0;
        for (i, out) in outs.iter_mut().enumerate() {
            let c = first + i * L::LANES;
            if c < sequential_end && c + L::LANES > sequential_end {
                break;
            }
            let s = if SCALED { l.load(&scale[i]) } else { zero };
            for row in &rows {
                l.prefetch(
                    row.as_ptr()
                        .wrapping_add(i)
                        .cast::<f32>()
                        .wrapping_add(AHEAD),
                );
            }
            let term = inlined(
                #[inline(always)]
                |r: usize| {
                    let x = l.load(&rows[r][i]);
                    let x = if ABS { l.abs(x) } else { x };
                    reduce.term(Lane(l, if SCALED { l.mul(x, s) } else { x }))
                },
            );
            let total = vertical_sum(ROWS, c, cols, Lane(l, zero), term);
            *out = l.store(reduce.finish(total, ROWS).1);
            done += L::LANES;
        }
        Some(done)
    }
}
