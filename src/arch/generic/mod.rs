//! Algorithms written once over [`Lanes`], instantiated per instruction set.

use super::Quad;

pub(crate) mod zeros;
use crate::kernels::groups::{group_score, least_n};
use crate::kernels::reduce::{block_score, contiguous_sum, sequential_end, vertical_sum, Sum};
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
                    l.div(sum, l.splat(4.0))
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
                        l.div(sum, l.splat(4.0))
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
                for i in (0..m).filter(|&i| i != j) {
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
            let sum = contiguous_sum(m, Lane(l, zero), |j| {
                Lane(l, l.select(marked[j], load(j), zero))
            });
            let score = l.div(sum.1, l.splat(m as f32));
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
                        l.div(total, l.splat(rows as f32))
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
