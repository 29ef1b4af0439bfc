//! Algorithms written once over [`Lanes`], instantiated per instruction set.

use super::Quad;

pub(crate) mod zeros;
use crate::kernels::groups::{group_score, least_n};
use crate::kernels::reduce::{
    block_score, contiguous_sum, row_sum, sequential_end, vertical_sum, Sum,
};
use crate::kernels::{bf16_to_f32, f16_to_f32, inlined, Halves};
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
    /// Ordered `a <= b` (false for NaN; `-0.0 <= +0.0` and back).
    fn le(self, a: Self::V, b: Self::V) -> Self::M;
    fn is_nan(self, a: Self::V) -> Self::M;
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    fn select(self, m: Self::M, if_true: Self::V, if_false: Self::V) -> Self::V;
    /// Bit `j` set when lane `j` of the mask is.
    fn bits(self, m: Self::M) -> u64;
    /// A 4x4 transpose inside each group of four lanes: lane `4q + i` of
    /// output `j` is lane `4q + j` of input `i`. Its own inverse.
    fn transpose4(self, v: [Self::V; 4]) -> [Self::V; 4];
    /// Undoes the lane order [`transpose4`](Lanes::transpose4) leaves
    /// across vectors: output lane `g` takes lane `4 (g % q) + g / q`, with
    /// `q = LANES / 4` groups of four per vector.
    fn group_order(self, v: Self::V) -> Self::V;
    /// The even lanes of `a` then `b`, and the odd ones: `a, b` as one
    /// run of `2 * LANES` values, split by parity, order kept.
    fn unzip(self, a: Self::V, b: Self::V) -> (Self::V, Self::V);

    /// Eight lanes: the partial sums `contiguous_sum` keeps along a long
    /// run (one vector, half of one, or two).
    type E: Copy;
    fn load8(self, chunk: &[f32; 8]) -> Self::E;
    fn store8(self, e: Self::E) -> [f32; 8];
    fn splat8(self, x: f32) -> Self::E;
    fn add8(self, a: Self::E, b: Self::E) -> Self::E;
    fn mul8(self, a: Self::E, b: Self::E) -> Self::E;
    fn abs8(self, a: Self::E) -> Self::E;
}

/// A SIMD computation, run once per call with one instruction set's lanes.
pub(crate) trait Job {
    fn run<L: Lanes>(self, l: L);
}

/// Scores of runs of four: N:M groups of four or `1x4` blocks.
pub(crate) struct Quads<'a> {
    pub xs: &'a [f32],
    pub quad: Quad,
    pub magnitude: bool,
    pub out: &'a mut [f32],
    /// If given (groups only), 1 per element outside its group's least N,
    /// 0 inside (`4 * out.len()` bytes).
    pub keep: Option<&'a mut [u8]>,
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
        let mut keep = self.keep;
        let block = 4 * L::LANES;
        let mut done = 0;
        for (b, (xs, out)) in chunks.chunks_exact(4).zip(outs.iter_mut()).enumerate() {
            let mut x = [
                l.load(&xs[0]),
                l.load(&xs[1]),
                l.load(&xs[2]),
                l.load(&xs[3]),
            ];
            if self.magnitude {
                x = [l.abs(x[0]), l.abs(x[1]), l.abs(x[2]), l.abs(x[3])];
            }
            let mut e = l.transpose4(x);
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
                    let dst = keep.as_deref_mut();
                    if let Some(dst) = dst.and_then(|k| k.get_mut(b * block..(b + 1) * block)) {
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
                    if reduce == Reduce::L2 {
                        e = [
                            l.mul(e[0], e[0]),
                            l.mul(e[1], e[1]),
                            l.mul(e[2], e[2]),
                            l.mul(e[3], e[3]),
                        ];
                    }
                    let p = inlined(
                        #[inline(always)]
                        |i: usize| l.add(zero, e[i]),
                    );
                    let sum = l.add(l.add(l.add(p(0), p(1)), p(2)), p(3));
                    if reduce == Reduce::Mean {
                        divide(l, sum, 4)
                    } else {
                        sum
                    }
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
                    let keep = keep
                        .as_deref_mut()
                        .and_then(|k| k.get_mut(4 * g..4 * g + 4));
                    scalar_group(xs, n as usize, exact, self.magnitude, keep)
                }
                // One block row: its score does not depend on the block's
                // column (the column order only matters across rows).
                Quad::Block(reduce) => {
                    let read = |_: usize, j: usize| magnitude_of(xs[j], self.magnitude);
                    block_score(1, 4, 0, 1, reduce, read)
                }
            };
        }
    }
}

/// N:M scores for groups of `m` (2 to 32, not 4): see `arch::nm_scores`.
pub(crate) struct Groups<'a> {
    pub xs: &'a [f32],
    pub m: usize,
    pub n: f32,
    pub exact: bool,
    pub magnitude: bool,
    pub out: &'a mut [f32],
    /// If given, 1 per element outside its group's least N, 0 inside
    /// (`m * out.len()` bytes).
    pub keep: Option<&'a mut [u8]>,
}

/// A vector in the canonical sum: one group per lane.
#[derive(Clone, Copy)]
struct Lane<L: Lanes>(L, L::V);

impl<L: Lanes> Sum for Lane<L> {
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        Lane(self.0, self.0.add(self.1, other.1))
    }
}

impl Job for Groups<'_> {
    /// `LANES` groups at a time, transposed through a small buffer so that
    /// vector `j` holds element `j` of each: ranks and marks are lane-wise,
    /// and the group sum is the scalar kernel's own canonical order
    /// (`contiguous_sum`) run on vectors.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        // Common lengths get their own copy, with the group loops unrolled
        // and the marks in registers.
        match (self.m, self.exact) {
            (2, true) => self.groups_of::<L, 2, true>(l),
            (2, false) => self.groups_of::<L, 2, false>(l),
            (8, true) => self.groups_of::<L, 8, true>(l),
            (8, false) => self.groups_of::<L, 8, false>(l),
            (16, true) => self.groups_of::<L, 16, true>(l),
            (16, false) => self.groups_of::<L, 16, false>(l),
            (_, true) => self.groups_of::<L, { crate::arch::MAX_SIMD_GROUP }, true>(l),
            (_, false) => self.groups_of::<L, { crate::arch::MAX_SIMD_GROUP }, false>(l),
        }
    }
}

impl Groups<'_> {
    /// The kernel for groups of `m <= MAX` (`MAX` exactly, when it is not
    /// the largest length the kernel takes), ties as `EXACT`.
    #[inline(always)]
    fn groups_of<L: Lanes, const MAX: usize, const EXACT: bool>(self, l: L) {
        let m = if MAX < crate::arch::MAX_SIMD_GROUP {
            MAX
        } else {
            self.m
        };
        if !(2..=MAX).contains(&m) || m != self.m {
            return;
        }
        let (zero, one, n) = (l.splat(0.0), l.splat(1.0), l.splat(self.n));
        let mut t = [[0.0f32; 16]; MAX];
        let mut keep = self.keep;
        let (outs, _) = L::chunks_mut(self.out);
        let mut done = 0;
        for (b, (out, xs)) in outs
            .iter_mut()
            .zip(self.xs.chunks_exact(m * L::LANES))
            .enumerate()
        {
            for (g, group) in xs.chunks_exact(m).enumerate() {
                for (row, &x) in t.iter_mut().zip(group) {
                    row[g] = x;
                }
            }
            let load = inlined(
                #[inline(always)]
                |j: usize| {
                    let x = L::chunks(&t[j][..L::LANES])
                        .0
                        .first()
                        .map_or(zero, |c| l.load(c));
                    if self.magnitude {
                        l.abs(x)
                    } else {
                        x
                    }
                },
            );
            let mut nan = l.is_nan(load(0));
            let mut marked = [l.lt(zero, zero); MAX];
            for (j, mark) in marked.iter_mut().enumerate().take(m) {
                let x = load(j);
                nan = l.or(nan, l.is_nan(x));
                // Rank: the others below, and under exact ties the equal
                // ones in lower columns.
                let mut rank = zero;
                // No iterator adapter here: its closure could stay out of
                // the SIMD function (every intrinsic then a call).
                for i in 0..m {
                    if i == j {
                        continue;
                    }
                    let y = load(i);
                    let before = if EXACT && i < j {
                        l.le(y, x)
                    } else {
                        l.lt(y, x)
                    };
                    rank = l.add(rank, l.select(before, one, zero));
                }
                *mark = l.lt(rank, n);
            }
            let block = L::LANES * m;
            let dst = keep.as_deref_mut();
            if let Some(dst) = dst.and_then(|k| k.get_mut(b * block..(b + 1) * block)) {
                // Element j of group g sits at g * m + j.
                for (j, &mark) in marked.iter().enumerate().take(m) {
                    let bits = l.bits(mark);
                    for (g, k) in dst.iter_mut().skip(j).step_by(m).enumerate() {
                        *k = (bits >> g & 1 == 0) as u8;
                    }
                }
            }
            let term = inlined(
                #[inline(always)]
                |j: usize| Lane(l, l.select(marked[j], load(j), zero)),
            );
            let sum = contiguous_sum(m, Lane(l, zero), term);
            let score = divide(l, sum.1, m);
            *out = l.store(l.select(nan, l.splat(f32::NAN), score));
            done = (b + 1) * L::LANES;
        }
        // Groups past the last whole vector: the scalar kernel.
        let groups = self.out.iter_mut().zip(self.xs.chunks_exact(m));
        for (g, (o, xs)) in groups.enumerate().skip(done) {
            let keep = keep
                .as_deref_mut()
                .and_then(|k| k.get_mut(m * g..m * g + m));
            *o = scalar_group(xs, self.n as usize, self.exact, self.magnitude, keep);
        }
    }
}

/// `x / n` as the scalar kernel divides. By a power of two it is a
/// multiply by the reciprocal: `1 / n` is exact (any `usize` power of two),
/// so both round the same real number, and a multiply is several times
/// cheaper than a divide.
#[inline(always)]
fn divide<L: Lanes>(l: L, x: L::V, n: usize) -> L::V {
    let d = n as f32;
    if n.is_power_of_two() {
        l.mul(x, l.splat(1.0 / d))
    } else {
        l.div(x, l.splat(d))
    }
}

/// `|x|` for the magnitude criterion, `x` for scores as given.
#[inline(always)]
fn magnitude_of(x: f32, magnitude: bool) -> f32 {
    if magnitude {
        x.abs()
    } else {
        x
    }
}

/// One N:M group (up to `MAX_SIMD_GROUP` long) by the scalar kernel, for
/// the tails: its score, and its keep bytes if `keep` is given.
fn scalar_group(
    xs: &[f32],
    n: usize,
    exact: bool,
    magnitude: bool,
    keep: Option<&mut [u8]>,
) -> f32 {
    let mut buf = [0.0f32; crate::arch::MAX_SIMD_GROUP];
    let vals = &mut buf[..xs.len().min(crate::arch::MAX_SIMD_GROUP)];
    for (v, &x) in vals.iter_mut().zip(xs) {
        *v = magnitude_of(x, magnitude);
    }
    let ties = if exact { Ties::Exact } else { Ties::Inclusive };
    let marks = least_n(vals, n, ties);
    for (j, k) in keep.into_iter().flatten().enumerate() {
        *k = (marks >> j & 1 == 0) as u8;
    }
    if vals.iter().any(|v| v.is_nan()) {
        f32::NAN
    } else {
        group_score(vals, marks)
    }
}

/// Plain code run inside the level's `vectorize`: its loops are compiled
/// (and vectorised by LLVM) for that instruction set. See
/// `arch::vectorized`.
pub(crate) struct Plain<'f, F: FnMut()>(pub &'f mut F);

impl<F: FnMut()> Job for Plain<'_, F> {
    #[inline(always)]
    fn run<L: Lanes>(self, _: L) {
        (self.0)()
    }
}

/// Halves to `f32`: see `arch::widen`. Plain loops: compiled inside the
/// level's `vectorize`, they vectorise with its instruction set.
pub(crate) struct Widen<'a> {
    pub src: Halves<'a>,
    pub dst: &'a mut [f32],
}

impl Job for Widen<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, _: L) {
        match self.src {
            Halves::F16(s) => {
                for (d, h) in self.dst.iter_mut().zip(s) {
                    *d = f16_to_f32(h.to_bits());
                }
            }
            Halves::Bf16(s) => {
                for (d, h) in self.dst.iter_mut().zip(s) {
                    *d = bf16_to_f32(h.to_bits());
                }
            }
        }
    }
}

/// Byte `j` of `dst` gets bit `j` of `bits` (0 or 1), eight at a time.
#[inline(always)]
fn spread_bits(bits: u64, dst: &mut [u8]) {
    for (i, d) in dst.chunks_mut(8).enumerate() {
        let spread = SPREAD[(bits >> (8 * i)) as u8 as usize].to_le_bytes();
        d.copy_from_slice(&spread[..d.len()]);
    }
}

/// `SPREAD[b]`: bit `j` of `b` in the low bit of byte `j`.
static SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            table[b] |= ((b as u64 >> j) & 1) << (8 * j);
            j += 1;
        }
        b += 1;
    }
    table
};

/// `rows x 1` block scores: see `arch::column_scores`.
pub(crate) struct Columns<'a> {
    pub rows: crate::arch::Rows<'a>,
    /// Absolute column (block column) of `out[0]`.
    pub first: usize,
    /// Block columns of the layer.
    pub cols: usize,
    pub reduce: Reduce,
    pub magnitude: bool,
    pub out: &'a mut [f32],
}

impl Job for Columns<'_> {
    /// One lane per column; the rows are summed in the scalar kernel's own
    /// canonical order (`vertical_sum`, run on vectors), which depends on
    /// where the column sits: a vector straddling torch's sequential chunks
    /// and the rest goes to the scalar kernel.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        // The common heights get their own copy, the row loop unrolled.
        match self.rows.rows {
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
    fn columns_of<L: Lanes, const ROWS: usize>(self, l: L) {
        let crate::arch::Rows { xs, stride, rows } = self.rows;
        let rows = if ROWS == 0 { rows } else { ROWS };
        let sequential_end = sequential_end(self.cols);
        let zero = l.splat(0.0);
        let (outs, _) = L::chunks_mut(self.out);
        let mut done = 0;
        for (i, out) in outs.iter_mut().enumerate() {
            let c = self.first + i * L::LANES;
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
                    if self.magnitude {
                        l.abs(x)
                    } else {
                        x
                    }
                },
            );
            *out = l.store(match self.reduce {
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
                        |r: usize| {
                            let x = row(r);
                            Lane(l, if reduce == Reduce::L2 { l.mul(x, x) } else { x })
                        },
                    );
                    let total = vertical_sum(rows, c, self.cols, Lane(l, zero), term).1;
                    if reduce == Reduce::Mean {
                        divide(l, total, rows)
                    } else {
                        total
                    }
                }
            });
            done += L::LANES;
        }
        let (first, cols, reduce) = (self.first, self.cols, self.reduce);
        for (j, o) in self.out.iter_mut().enumerate().skip(done) {
            let read = |r: usize, _: usize| {
                let x = xs.get(r * stride + j).copied().unwrap_or(f32::NAN);
                magnitude_of(x, self.magnitude)
            };
            *o = block_score(rows, 1, first + j, cols, reduce, read);
        }
    }
}

/// `rows x width` block scores, `width` 2, 4, 8 or 16: see
/// `arch::wide_block_scores`.
pub(crate) struct Wide<'a> {
    pub rows: crate::arch::Rows<'a>,
    /// Block width: a power of two from 2 to [`MAX_WIDE`](crate::arch::MAX_WIDE).
    pub width: usize,
    /// Absolute block column of `out[0]`.
    pub first: usize,
    /// Block columns of the layer.
    pub cols: usize,
    pub reduce: Reduce,
    pub magnitude: bool,
    pub out: &'a mut [f32],
}

impl Job for Wide<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        match self.width {
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
    fn blocks<L: Lanes, const B: usize>(self, l: L) {
        let crate::arch::Rows { xs, stride, rows } = self.rows;
        let sequential_end = sequential_end(self.cols);
        let (zero, nan) = (l.splat(0.0), l.splat(f32::NAN));
        let (outs, _) = L::chunks_mut(self.out);
        let mut done = 0;
        for (i, out) in outs.iter_mut().enumerate() {
            let c = self.first + i * L::LANES;
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
                        for (v, c) in v.iter_mut().zip(L::chunks(run).0) {
                            *v = if self.magnitude {
                                l.abs(l.load(c))
                            } else {
                                l.load(c)
                            };
                        }
                    }
                    deinterleave(l, v)
                },
            );
            *out = l.store(match self.reduce {
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
                            let mut e = row(r);
                            if reduce == Reduce::L2 {
                                // A loop, not `array::map`: its closure may
                                // stay out of the SIMD function.
                                for x in e.iter_mut() {
                                    *x = l.mul(*x, *x);
                                }
                            }
                            let term = inlined(
                                #[inline(always)]
                                |j: usize| Lane(l, e[j]),
                            );
                            let s = contiguous_sum(B, Lane(l, zero), term).1;
                            Lane(
                                l,
                                if reduce == Reduce::Mean {
                                    divide(l, s, B)
                                } else {
                                    s
                                },
                            )
                        },
                    );
                    let total = vertical_sum(rows, c, self.cols, Lane(l, zero), row_score).1;
                    if reduce == Reduce::Mean {
                        divide(l, total, rows)
                    } else {
                        total
                    }
                }
            });
            done += L::LANES;
        }
        let (first, cols, reduce) = (self.first, self.cols, self.reduce);
        for (u, o) in self.out.iter_mut().enumerate().skip(done) {
            let read = |r: usize, j: usize| {
                let x = xs.get(r * stride + u * B + j).copied().unwrap_or(f32::NAN);
                magnitude_of(x, self.magnitude)
            };
            *o = block_score(rows, B, first + u, cols, reduce, read);
        }
    }
}

/// `rows x width` block scores for any width: see `arch::long_block_scores`.
pub(crate) struct Long<'a> {
    pub rows: crate::arch::Rows<'a>,
    pub width: usize,
    /// Absolute block column of `out[0]`.
    pub first: usize,
    /// Block columns of the layer.
    pub cols: usize,
    pub reduce: Reduce,
    pub magnitude: bool,
    pub out: &'a mut [f32],
}

impl Job for Long<'_> {
    /// One block at a time. A block row of 8 or more is summed as
    /// `contiguous_sum` sums it, its eight partial sums in a vector
    /// ([`long_sum`]); the rows are then summed by `vertical_sum`. Max and
    /// shorter rows: the scalar kernel itself, compiled for the level.
    #[inline(always)]
    fn run<L: Lanes>(self, l: L) {
        let crate::arch::Rows { xs, stride, rows } = self.rows;
        let (width, magnitude, reduce) = (self.width, self.magnitude, self.reduce);
        for (u, o) in self.out.iter_mut().enumerate() {
            let uc = self.first + u;
            if width >= 8 && reduce != Reduce::Max {
                let row = inlined(
                    #[inline(always)]
                    |r: usize| {
                        let start = r * stride + u * width;
                        let run = xs.get(start..start + width).unwrap_or(&[f32::NAN]);
                        let s = long_sum(l, run, magnitude, reduce == Reduce::L2);
                        if reduce == Reduce::Mean {
                            s / width as f32
                        } else {
                            s
                        }
                    },
                );
                let total = vertical_sum(rows, uc, self.cols, 0.0, row);
                *o = if reduce == Reduce::Mean {
                    total / rows as f32
                } else {
                    total
                };
                continue;
            }
            let read = inlined(
                #[inline(always)]
                |r: usize, j: usize| {
                    let x = xs.get(r * stride + u * width + j).copied();
                    magnitude_of(x.unwrap_or(f32::NAN), magnitude)
                },
            );
            *o = block_score(rows, width, uc, self.cols, reduce, read);
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

/// `contiguous_sum` of a run of 8 or more (its `|x|` or `x * x` if
/// asked), in its order: lane `l` of the eight sums elements `8v + l` by
/// `row_sum` over the whole chunks of eight, here one vector per chunk;
/// then the tail from 0.0, then lanes 0..8 onto it.
#[inline(always)]
fn long_sum<L: Lanes>(l: L, xs: &[f32], magnitude: bool, square: bool) -> f32 {
    let (chunks, tail) = xs.as_chunks::<8>();
    let zero = l.splat8(0.0);
    let chunk = inlined(
        #[inline(always)]
        |v: usize| {
            let mut x = chunks.get(v).map_or(zero, |c| l.load8(c));
            if magnitude {
                x = l.abs8(x);
            }
            if square {
                x = l.mul8(x, x);
            }
            Eight(l, x)
        },
    );
    let lanes = row_sum(chunks.len(), Eight(l, zero), chunk).1;
    let mut acc = 0.0f32;
    for &x in tail {
        let x = magnitude_of(x, magnitude);
        acc += if square { x * x } else { x };
    }
    for lane in l.store8(lanes) {
        acc += lane;
    }
    acc
}
