//! Blocks two or more wide: one lane per block (power-of-two widths up to
//! 16), or one block at a time with eight-lane row sums.

use super::{read_eight, read_vector, Job, Lane, Lanes};
use crate::arch::all::block::Value;
use crate::arch::all::inlined;
use crate::arch::all::sum::{contiguous_sum, row_sum, sequential_end, vertical_sum, Sum};
use crate::vocab::scores::Read;
use crate::vocab::terms::Reduce;

/// `rows x width` block scores, `width` 2, 4, 8 or 16: see
/// `arch::wide_block_scores`.
pub(crate) struct Wide<'a>(pub crate::arch::BlockRows<'a>);

impl Job for Wide<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        match self.0.width {
            2 => self.blocks::<L, 2>(l),
            4 => self.blocks::<L, 4>(l),
            8 => self.blocks::<L, 8>(l),
            16 => self.blocks::<L, 16>(l),
            _ => {}
        }
    }
}

/// `B` vectors holding `LANES` runs of `B` values to `B` vectors where
/// vector `j` holds value `j` of every run, in run order: `log2 B` rounds
/// of [`Lanes::unzip`]. Each round splits the whole sequence by parity,
/// which keeps the residues mod 2, 4, 8.. in order, so after the last
/// round vector `j` holds the values at `j mod B`.
#[inline(always)]
fn deinterleave<L: Lanes, const B: usize>(l: L, mut v: [L::V; B]) -> [L::V; B] {
    let mut width = 2;
    while width <= B {
        let mut next = v;
        for i in 0..B / 2 {
            let (even, odd) = l.unzip(v[2 * i], v[2 * i + 1]);
            next[i] = even;
            next[B / 2 + i] = odd;
        }
        v = next;
        width *= 2;
    }
    v
}

impl Wide<'_> {
    /// One lane per block, `LANES` neighbouring blocks at a time: each block
    /// row is loaded as `B` vectors and deinterleaved, so vector `j` holds
    /// element `j` of the row of every block; the scalar kernel's own
    /// canonical sums (`contiguous_sum` along the row, `vertical_sum` down
    /// the rows) then run on vectors. A vector straddling torch's
    /// sequential chunks, and the blocks past the last whole vector, go to
    /// the scalar kernel.
    #[inline(always)]
    fn blocks<L: Lanes, const B: usize>(mut self, l: L) {
        let crate::arch::Rows { xs, stride, rows } = self.0.rows;
        let sequential_end = sequential_end(self.0.cols);
        let (zero, nan) = (l.splat(0.0), l.splat(f32::NAN));
        let (outs, _) = L::chunks_mut(self.0.out);
        let mut done = 0;
        for (i, out) in outs.iter_mut().enumerate() {
            let c = self.0.first + i * L::LANES;
            if c < sequential_end && c + L::LANES > sequential_end {
                break;
            }
            let row = inlined(
                #[inline(always)]
                |r: usize| -> [L::V; B] {
                    let start = r * stride + i * L::LANES * B;
                    // In range (the caller checks): NaN only to stay total.
                    let mut v = [nan; B];
                    if let Some(run) = xs.get(start..start + B * L::LANES) {
                        let k = i * L::LANES * B;
                        for (j, (v, c)) in v.iter_mut().zip(L::chunks(run).0).enumerate() {
                            *v = read_vector(l, self.0.read, l.load(c), k + j * L::LANES);
                        }
                    }
                    deinterleave(l, v)
                },
            );
            *out = l.store(match self.0.reduce {
                Reduce::Max => {
                    // Row-major scan: the first of equal maxima stays, as
                    // the scalar max of row maxima; NaN if any is.
                    let first = row(0);
                    let (mut best, mut is_nan) = (first[0], l.is_nan(first[0]));
                    for r in 0..rows {
                        let e = if r == 0 { first } else { row(r) };
                        for &x in &e[(r == 0) as usize..] {
                            is_nan = l.or(is_nan, l.is_nan(x));
                            best = l.select(l.lt(best, x), x, best);
                        }
                    }
                    l.select(is_nan, nan, best)
                }
                reduce => {
                    let row_score = inlined(
                        #[inline(always)]
                        |r: usize| {
                            let e = row(r);
                            let term = inlined(
                                #[inline(always)]
                                |j: usize| reduce.term(Lane(l, e[j])),
                            );
                            reduce.finish(contiguous_sum(B, Lane(l, zero), term), B)
                        },
                    );
                    let total = vertical_sum(rows, c, self.0.cols, Lane(l, zero), row_score);
                    reduce.finish(total, rows).1
                }
            });
            done += L::LANES;
        }
        // Blocks past the last whole vector: the scalar kernel.
        self.0.scalar_from(done);
    }
}

/// `rows x width` block scores for any width: see `arch::long_block_scores`.
pub(crate) struct Long<'a>(pub crate::arch::BlockRows<'a>);

impl Job for Long<'_> {
    /// One block at a time. A block row of 8 or more is summed as
    /// `contiguous_sum` sums it, its eight partial sums in a vector
    /// ([`long_sum`]); the rows are then summed by `vertical_sum`. Max and
    /// shorter rows: the scalar kernel itself, compiled for the level.
    #[inline(always)]
    fn run<L: Lanes>(mut self, l: L) {
        let crate::arch::Rows { xs, stride, rows } = self.0.rows;
        let (width, read, reduce) = (self.0.width, self.0.read, self.0.reduce);
        if width < 8 || reduce == Reduce::Max {
            self.0.scalar_from(0);
            return;
        }
        for (u, o) in self.0.out.iter_mut().enumerate() {
            let row = inlined(
                #[inline(always)]
                |r: usize| {
                    let start = r * stride + u * width;
                    let run = xs.get(start..start + width).unwrap_or(&[f32::NAN]);
                    reduce.finish(long_sum(l, run, read.from(u * width), reduce), width)
                },
            );
            let total = vertical_sum(rows, self.0.first + u, self.0.cols, 0.0, row);
            *o = reduce.finish(total, rows);
        }
    }
}

/// Eight lanes in the canonical sum.
#[derive(Clone, Copy)]
struct Eight<L: Lanes>(L, L::E);

impl<L: Lanes> Sum for Eight<L> {
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        Eight(self.0, self.0.add8(self.1, other.1))
    }
}

impl<L: Lanes> Value for Eight<L> {
    #[inline(always)]
    fn times(self, other: Self) -> Self {
        Eight(self.0, self.0.mul8(self.1, other.1))
    }
    /// Not used: a long sum's lanes are added up before any division.
    #[inline(always)]
    fn over(self, _: usize) -> Self {
        self
    }
}

/// `contiguous_sum` of a run of 8 or more (its `|x|` or `x * x` if
/// asked), in its order: lane `l` of the eight sums elements `8v + l` by
/// `row_sum` over the whole chunks of eight, here one vector per chunk;
/// then the tail from 0.0, then lanes 0..8 onto it.
#[inline(always)]
fn long_sum<L: Lanes>(l: L, xs: &[f32], read: Read<'_>, reduce: Reduce) -> f32 {
    let (chunks, tail) = xs.as_chunks::<8>();
    let zero = l.splat8(0.0);
    let chunk = inlined(
        #[inline(always)]
        |v: usize| {
            let x = chunks.get(v).map_or(zero, |c| l.load8(c));
            reduce.term(Eight(l, read_eight(l, read, x, 8 * v)))
        },
    );
    let lanes = row_sum(chunks.len(), Eight(l, zero), chunk).1;
    let mut acc = 0.0f32;
    for (t, &x) in tail.iter().enumerate() {
        acc += reduce.term(read.element(x, 8 * chunks.len() + t));
    }
    for lane in l.store8(lanes) {
        acc += lane;
    }
    acc
}
