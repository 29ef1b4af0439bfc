//! Runs of four: N:M groups of four and `1x4` blocks, transposed in
//! registers.

use super::groups::scalar_group;
use super::{divide, read_vector, spread_bits, Job, Lane, Lanes};
use crate::arch::all::block::block_score;
use crate::arch::all::inlined;
use crate::arch::all::sum::Sum;
use crate::arch::{Marks, Quad};
use crate::vocab::scores::Read;
use crate::vocab::terms::Reduce;

/// Scores of runs of four: N:M groups of four or `1x4` blocks.
pub(crate) struct Quads<'a> {
    pub xs: &'a [f32],
    pub quad: Quad,
    /// How the values are read (a scale aligned with `xs`).
    pub read: Read<'a>,
    pub out: &'a mut [f32],
    /// What groups write beside their scores (blocks: nothing).
    pub marks: Marks<'a>,
}

impl Job for Quads<'_> {
    /// Four vectors hold `LANES` runs. Transposed, vector `i` holds
    /// element `i` of every run, so ranks, marks and the canonical sum
    /// `((p0 + p1) + p2) + p3` are plain lane-wise operations on four
    /// vectors; one permutation puts the results in run order.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let (zero, one) = (l.splat(0.0), l.splat(1.0));
        let (chunks, _) = L::chunks(self.xs);
        let (outs, _) = L::chunks_mut(self.out);
        let mut marks = self.marks;
        let block = 4 * L::LANES;
        let mut done = 0;
        for (b, (xs, out)) in chunks.chunks_exact(4).zip(outs.iter_mut()).enumerate() {
            let x = inlined(
                #[inline(always)]
                |i: usize| read_vector(l, self.read, l.load(&xs[i]), (4 * b + i) * L::LANES),
            );
            let e = l.transpose4([x(0), x(1), x(2), x(3)]);
            // A run holding a NaN gives NaN, as the scalar kernels.
            let nan = l.or(
                l.or(l.is_nan(e[0]), l.is_nan(e[1])),
                l.or(l.is_nan(e[2]), l.is_nan(e[3])),
            );
            let result = match self.quad {
                Quad::Group { n, exact } => {
                    // Rank of each element in its group: the others below
                    // it, and under exact ties the equal ones in lower
                    // columns.
                    let mut rank = [zero; 4];
                    for i in 0..4 {
                        for j in i + 1..4 {
                            rank[i] = l.add(rank[i], l.select(l.lt(e[j], e[i]), one, zero));
                            let before = if exact {
                                l.le(e[i], e[j])
                            } else {
                                l.lt(e[i], e[j])
                            };
                            rank[j] = l.add(rank[j], l.select(before, one, zero));
                        }
                    }
                    let n = l.splat(n);
                    let marked = [
                        l.lt(rank[0], n),
                        l.lt(rank[1], n),
                        l.lt(rank[2], n),
                        l.lt(rank[3], n),
                    ];
                    match &mut marks {
                        Marks::Keep(k) => {
                            if let Some(dst) = k.get_mut(b * block..(b + 1) * block) {
                                // Back to memory order, one keep byte per element.
                                let k = inlined(
                                    #[inline(always)]
                                    |i: usize| l.select(marked[i], zero, one),
                                );
                                let kept = l.transpose4([k(0), k(1), k(2), k(3)]);
                                for (d, k) in dst.chunks_exact_mut(L::LANES).zip(kept) {
                                    spread_bits(l.bits(l.lt(zero, k)), d);
                                }
                            }
                        }
                        Marks::Count(c) => {
                            let lanes = b * L::LANES..(b + 1) * L::LANES;
                            if let Some(dst) = c.get_mut(lanes) {
                                let k = inlined(
                                    #[inline(always)]
                                    |i: usize| l.select(marked[i], one, zero),
                                );
                                let count = l.add(l.add(l.add(k(0), k(1)), k(2)), k(3));
                                dst.copy_from_slice(l.store(l.group_order(count)).as_ref());
                            }
                        }
                        Marks::None => {}
                    }
                    let p = inlined(
                        #[inline(always)]
                        |i: usize| l.add(zero, l.select(marked[i], e[i], zero)),
                    );
                    let sum = l.add(l.add(l.add(p(0), p(1)), p(2)), p(3));
                    divide(l, sum, 4)
                }
                Quad::Block(Reduce::Max) => {
                    // The first of equal maxima stays (`-0.0` vs `+0.0`).
                    let mut best = e[0];
                    for &y in &e[1..] {
                        best = l.select(l.lt(best, y), y, best);
                    }
                    best
                }
                Quad::Block(reduce) => {
                    let p = inlined(
                        #[inline(always)]
                        |i: usize| Lane(l, zero).plus(reduce.term(Lane(l, e[i]))),
                    );
                    let sum = p(0).plus(p(1)).plus(p(2)).plus(p(3));
                    reduce.finish(sum, 4).1
                }
            };
            let result = l.select(nan, l.splat(f32::NAN), result);
            *out = l.store(l.group_order(result));
            done = (b + 1) * L::LANES;
        }
        // Runs past the last whole block: the scalar kernels.
        let runs = self.out.iter_mut().zip(self.xs.chunks_exact(4));
        for (g, (o, xs)) in runs.enumerate().skip(done) {
            *o = match self.quad {
                Quad::Group { n, exact } => {
                    let marks = marks.part(g, 1, 4);
                    scalar_group(xs, n as usize, exact, self.read.from(4 * g), marks)
                }
                // One block row: its score does not depend on the block's
                // column (the column order only matters across rows).
                Quad::Block(reduce) => {
                    let read = self.read.from(4 * g);
                    let value = |_: usize, j: usize| read.element(xs[j], j);
                    block_score(1, 4, 0, 1, reduce, value)
                }
            };
        }
    }
}
