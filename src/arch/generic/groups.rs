//! N:M groups of 2 to 32 (not 4), transposed through a small buffer.

use super::{divide, Job, Lane, Lanes};
use crate::arch::all::group::{group_score, least_n};
use crate::arch::all::inlined;
use crate::arch::all::sum::contiguous_sum;
use crate::arch::Marks;
use crate::vocab::scores::Read;
use crate::vocab::terms::Ties;

/// N:M scores for groups of `m` (2 to 32, not 4): see `arch::nm_scores`.
pub(crate) struct Groups<'a> {
    pub xs: &'a [f32],
    pub m: usize,
    pub n: f32,
    pub exact: bool,
    /// How the values are read (a scale aligned with `xs`).
    pub read: Read<'a>,
    pub out: &'a mut [f32],
    /// What the kernel writes beside the scores.
    pub marks: Marks<'a>,
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
        let mut marks = self.marks;
        let (outs, _) = L::chunks_mut(self.out);
        let mut done = 0;
        for (b, (out, xs)) in outs
            .iter_mut()
            .zip(self.xs.chunks_exact(m * L::LANES))
            .enumerate()
        {
            // Scaled on the way in (`|x| · s` is `|x · s|`: the magnitude
            // below gives the scalar read's bits).
            let base = b * m * L::LANES;
            for (g, group) in xs.chunks_exact(m).enumerate() {
                match self
                    .read
                    .scale
                    .and_then(|s| s.get(base + g * m..base + g * m + m))
                {
                    Some(scale) => {
                        for ((row, &x), &s) in t.iter_mut().zip(group).zip(scale) {
                            row[g] = x * s;
                        }
                    }
                    None if self.read.scale.is_some() => {
                        for row in t.iter_mut() {
                            row[g] = f32::NAN;
                        }
                    }
                    None => {
                        for (row, &x) in t.iter_mut().zip(group) {
                            row[g] = x;
                        }
                    }
                }
            }
            let load = inlined(
                #[inline(always)]
                |j: usize| {
                    let x = L::chunks(&t[j][..L::LANES])
                        .0
                        .first()
                        .map_or(zero, |c| l.load(c));
                    if self.read.abs {
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
            match &mut marks {
                Marks::Keep(k) => {
                    if let Some(dst) = k.get_mut(b * block..(b + 1) * block) {
                        // Element j of group g sits at g * m + j.
                        for (j, &mark) in marked.iter().enumerate().take(m) {
                            let bits = l.bits(mark);
                            for (g, k) in dst.iter_mut().skip(j).step_by(m).enumerate() {
                                *k = (bits >> g & 1 == 0) as u8;
                            }
                        }
                    }
                }
                Marks::Count(c) => {
                    if let Some(dst) = c.get_mut(b * L::LANES..(b + 1) * L::LANES) {
                        let mut count = zero;
                        for &mark in marked.iter().take(m) {
                            count = l.add(count, l.select(mark, one, zero));
                        }
                        dst.copy_from_slice(l.store(count).as_ref());
                    }
                }
                Marks::None => {}
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
            let marks = marks.part(g, 1, m);
            *o = scalar_group(
                xs,
                self.n as usize,
                self.exact,
                self.read.from(m * g),
                marks,
            );
        }
    }
}

/// One N:M group (up to `MAX_SIMD_GROUP` long) by the scalar kernel, for
/// the tails: its score, and the marks `out` asks for.
pub(super) fn scalar_group(
    xs: &[f32],
    n: usize,
    exact: bool,
    read: Read<'_>,
    mut out: Marks<'_>,
) -> f32 {
    let mut buf = [0.0f32; crate::arch::MAX_SIMD_GROUP];
    let vals = &mut buf[..xs.len().min(crate::arch::MAX_SIMD_GROUP)];
    for (k, (v, &x)) in vals.iter_mut().zip(xs).enumerate() {
        *v = read.element(x, k);
    }
    let ties = if exact { Ties::Exact } else { Ties::Inclusive };
    let marks = least_n(vals, n, ties);
    out.write_group(marks, vals.len());
    if vals.iter().any(|v| v.is_nan()) {
        f32::NAN
    } else {
        group_score(vals, marks)
    }
}
