//! Algorithms written once over [`Lanes`], instantiated per instruction set.

use crate::kernels::groups::{group_score, least_n};
use crate::kernels::reduce::block_score;
use crate::pattern::{Reduce, Ties};

/// A vector of `f32` lanes, seen as groups of four (one 128-bit lane).
pub(crate) trait Lanes: Copy {
    type V: Copy;
    type M: Copy;
    type Chunk: AsRef<[f32]> + AsMut<[f32]>;
    const LANES: usize;

    fn chunks(xs: &[f32]) -> (&[Self::Chunk], &[f32]);
    fn chunks_mut(xs: &mut [f32]) -> (&mut [Self::Chunk], &mut [f32]);
    fn load(self, chunk: &Self::Chunk) -> Self::V;
    fn store(self, v: Self::V) -> Self::Chunk;
    fn splat(self, x: f32) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    fn abs(self, a: Self::V) -> Self::V;
    /// Ordered `a < b` (false for NaN).
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// Ordered `a == b` (`-0.0 == +0.0`).
    fn eq(self, a: Self::V, b: Self::V) -> Self::M;
    fn is_nan(self, a: Self::V) -> Self::M;
    fn and(self, a: Self::M, b: Self::M) -> Self::M;
    fn select(self, m: Self::M, if_true: Self::V, if_false: Self::V) -> Self::V;
    /// Lane `j` of each group of four takes lane `(j + 1) % 4`.
    fn rot1(self, v: Self::V) -> Self::V;
    /// Lane `j` of each group of four takes lane `(j + 2) % 4`.
    fn rot2(self, v: Self::V) -> Self::V;
    /// Lane `j` of each group of four takes lane `(j + 3) % 4`.
    fn rot3(self, v: Self::V) -> Self::V;
    /// `j % 4` in lane `j`.
    fn lane_in_group(self) -> Self::V;
}

/// A SIMD computation, run once per call with one instruction set's lanes.
pub(crate) trait Job {
    fn run<L: Lanes>(self, l: L);
}

/// N:M scores for groups of four: see `arch::nm4_scores`.
pub(crate) struct Nm4<'a> {
    pub xs: &'a [f32],
    pub n: f32,
    pub exact: bool,
    pub magnitude: bool,
    pub out: &'a mut [f32],
    /// If given, 1 per element outside its group's least N, 0 inside
    /// (`4 * out.len()` bytes).
    pub keep: Option<&'a mut [u8]>,
}

impl Job for Nm4<'_> {
    /// Each group sits in one 4-lane group of a vector: ranks come from the
    /// three rotations, the sum `((p0 + p1) + p2) + p3` from the same
    /// rotations, so lane 0 of a group ends up with the group's score.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let (chunks, tail) = L::chunks(self.xs);
        let zero = l.splat(0.0);
        let one = l.splat(1.0);
        let lane = l.lane_in_group();
        // Exact ties: an equal element ranks first when its column is lower;
        // after a rotation by d that is the lanes j >= 4 - d.
        let tie = [
            l.lt(l.splat(2.5), lane),
            l.lt(l.splat(1.5), lane),
            l.lt(l.splat(0.5), lane),
        ];
        let per_vector = L::LANES / 4;
        let mut outs = self.out.chunks_mut(per_vector);
        let mut keep = self.keep;
        for (i, (chunk, out)) in chunks.iter().zip(&mut outs).enumerate() {
            let mut x = l.load(chunk);
            if self.magnitude {
                x = l.abs(x);
            }
            let others = [l.rot1(x), l.rot2(x), l.rot3(x)];
            let mut rank = zero;
            for (y, tie) in others.into_iter().zip(tie) {
                rank = l.add(rank, l.select(l.lt(y, x), one, zero));
                if self.exact {
                    rank = l.add(rank, l.select(l.and(l.eq(y, x), tie), one, zero));
                }
            }
            let marked = l.lt(rank, l.splat(self.n));
            if let Some(keep) = keep.as_deref_mut() {
                let kept = l.store(l.select(marked, zero, one));
                let dst = keep.iter_mut().skip(i * L::LANES);
                for (k, v) in dst.zip(kept.as_ref()) {
                    *k = (*v != 0.0) as u8;
                }
            }
            let p = l.add(zero, l.select(marked, x, zero));
            let sum = l.add(l.add(l.add(p, l.rot1(p)), l.rot2(p)), l.rot3(p));
            let mut score = l.div(sum, l.splat(4.0));
            // A group holding a NaN scores NaN, as the scalar kernel.
            let nan = l.select(l.is_nan(x), one, zero);
            let nan = l.add(l.add(l.add(nan, l.rot1(nan)), l.rot2(nan)), l.rot3(nan));
            score = l.select(l.lt(zero, nan), l.splat(f32::NAN), score);
            let lanes = l.store(score);
            for (o, group) in out.iter_mut().zip(lanes.as_ref().chunks_exact(4)) {
                *o = group[0];
            }
        }
        // Groups past the last whole vector: the scalar kernel.
        let ties = if self.exact {
            Ties::Exact
        } else {
            Ties::Inclusive
        };
        let done = chunks.len() * per_vector;
        for (g, (o, xs)) in self
            .out
            .iter_mut()
            .zip(self.xs.chunks_exact(4))
            .enumerate()
            .skip(done)
        {
            let mut vals = [0.0f32; 4];
            for (v, &x) in vals.iter_mut().zip(xs) {
                *v = if self.magnitude { x.abs() } else { x };
            }
            let marks = least_n(&vals, self.n as usize, ties);
            if let Some(keep) = keep.as_deref_mut() {
                for (j, k) in keep.iter_mut().skip(4 * g).take(4).enumerate() {
                    *k = (marks >> j & 1 == 0) as u8;
                }
            }
            *o = if vals.iter().any(|v| v.is_nan()) {
                f32::NAN
            } else {
                group_score(&vals, marks)
            };
        }
        let _ = tail;
    }
}

/// `rows x 1` block scores: see `arch::column_scores`.
pub(crate) struct Columns<'a> {
    pub rows: &'a [&'a [f32]],
    /// Absolute column (block column) of `out[0]`.
    pub first: usize,
    /// Block columns of the layer.
    pub cols: usize,
    pub reduce: Reduce,
    pub magnitude: bool,
    pub out: &'a mut [f32],
}

impl Job for Columns<'_> {
    /// One lane per column; the rows are summed in the canonical order of
    /// `kernels::reduce::vertical_sum`, which depends on where the column
    /// sits (torch sums whole 32-column chunks sequentially).
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let n = self.rows.len();
        // As `vertical_sum`: torch's sequential chunks are 32 columns, or 4
        // when the layer has fewer than 8.
        let chunk = if self.cols >= 8 { 32 } else { 4 };
        let sequential_end = chunk * (self.cols / chunk);
        let zero = l.splat(0.0);
        let (out_chunks, _) = L::chunks_mut(self.out);
        let mut done = 0;
        for (i, out) in out_chunks.iter_mut().enumerate() {
            let c = self.first + i * L::LANES;
            if c < sequential_end && c + L::LANES > sequential_end {
                break; // straddles the two orders: the scalar code below
            }
            let row = |r: usize| {
                let chunk = L::chunks(self.rows[r]).0.get(i);
                let mut x = chunk.map_or(l.splat(f32::NAN), |c| l.load(c));
                if self.magnitude {
                    x = l.abs(x);
                }
                if self.reduce == Reduce::L2 {
                    x = l.mul(x, x);
                }
                x
            };
            let mut total = if c < sequential_end {
                (0..n).fold(zero, |acc, r| l.add(acc, row(r)))
            } else {
                // torch's row_sum: four accumulators over whole quads, the
                // leftover rows into the first.
                let quads = n / 4;
                let mut p = [zero; 4];
                for q in 0..quads {
                    for (k, acc) in p.iter_mut().enumerate() {
                        *acc = l.add(*acc, row(4 * q + k));
                    }
                }
                for r in 4 * quads..n {
                    p[0] = l.add(p[0], row(r));
                }
                l.add(l.add(l.add(p[0], p[1]), p[2]), p[3])
            };
            if self.reduce == Reduce::Mean {
                total = l.div(total, l.splat(n as f32));
            }
            *out = l.store(total);
            done += L::LANES;
        }
        let (rows, first, cols) = (self.rows, self.first, self.cols);
        let (reduce, magnitude) = (self.reduce, self.magnitude);
        for (j, o) in self.out.iter_mut().enumerate().skip(done) {
            *o = scalar_column(rows, first + j, j, cols, reduce, magnitude);
        }
    }
}

/// The scalar kernel's score of column `j` of the row slices, which is
/// block column `uc` of `cols`.
fn scalar_column(
    rows: &[&[f32]],
    uc: usize,
    j: usize,
    cols: usize,
    reduce: Reduce,
    magnitude: bool,
) -> f32 {
    let read = |r: usize, _: usize| {
        let x = rows[r].get(j).copied().unwrap_or(f32::NAN);
        if magnitude {
            x.abs()
        } else {
            x
        }
    };
    block_score(rows.len(), 1, uc, cols, reduce, read)
}
