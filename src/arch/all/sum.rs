//! The canonical summation order of block rows, N:M groups and block
//! columns.
//!
//! The canonical order is torch's CPU float32 order for the reductions INC
//! runs (`x.reshape(R/N, N, C/M, M).mean(-1).mean(1)`), so that
//! `inc_compat` masks equal INC's bit for bit, measured on torch 2.15
//! (tests/golden/probe_torch_sum_order.py). It is fixed and deterministic;
//! every SIMD level must follow it:
//!
//! - a contiguous run of `n` elements (a block row, an N:M group): for
//!   `n < 8`, [`row_sum`] with one lane; for `n >= 8`, eight lanes take
//!   elements `8v + l` by [`row_sum`] over the `n / 8` vectors, then the
//!   `n % 8` tail is summed from 0.0 and the lanes 0..8 are added onto it;
//! - the `N` row results of a block ([`vertical_sum`]): sequential with
//!   16-row cascades ([`multi_row_sum`]) for block columns inside torch's
//!   vectorised column chunks, [`row_sum`] for the rest, and the
//!   contiguous order when the layer has one block column.

use super::inlined;

/// What the canonical order sums: `f32`, arrays of it, or SIMD vectors
/// (one group per lane), so every level runs this one definition.
pub(crate) trait Sum: Copy {
    fn plus(self, other: Self) -> Self;
}

impl Sum for f32 {
    #[inline(always)]
    fn plus(self, other: f32) -> f32 {
        self + other
    }
}

impl<T: Sum, const L: usize> Sum for [T; L] {
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        let mut out = self;
        for (a, b) in out.iter_mut().zip(other) {
            *a = a.plus(b);
        }
        out
    }
}

/// `ceil(log2(x))`, 1 for `x <= 2` (torch's `CeilLog2`).
fn ceil_log2(x: usize) -> usize {
    if x <= 2 {
        1
    } else {
        (usize::BITS - (x - 1).leading_zeros()) as usize
    }
}

/// torch's `multi_row_sum`: `K` accumulators summed over `rows` rows,
/// cascaded over four levels of `2^p`-row blocks (`p >= 4`).
#[inline(always)]
pub(crate) fn multi_row_sum<const K: usize, T: Sum>(
    rows: usize,
    zero: T,
    load: impl Fn(usize, usize) -> T,
) -> [T; K] {
    const LEVELS: usize = 4;
    let power = 4.max(ceil_log2(rows) / LEVELS);
    let step = 1usize << power;
    let mask = step - 1;
    if rows < step {
        // No cascade: the upper levels stay +0.0, and adding +0.0 to a sum
        // that started at +0.0 changes nothing (it is never -0.0).
        let mut acc = [zero; K];
        for i in 0..rows {
            for (k, a) in acc.iter_mut().enumerate() {
                *a = a.plus(load(i, k));
            }
        }
        return acc;
    }
    let mut acc = [[zero; K]; LEVELS];
    let mut i = 0;
    while i + step <= rows {
        for _ in 0..step {
            for (k, a) in acc[0].iter_mut().enumerate() {
                *a = a.plus(load(i, k));
            }
            i += 1;
        }
        for j in 1..LEVELS {
            let (lower, upper) = acc.split_at_mut(j);
            upper[0] = upper[0].plus(lower[j - 1]);
            lower[j - 1] = [zero; K];
            if i & (mask << (j * power)) != 0 {
                break;
            }
        }
    }
    while i < rows {
        for (k, a) in acc[0].iter_mut().enumerate() {
            *a = a.plus(load(i, k));
        }
        i += 1;
    }
    let [mut total, rest @ ..] = acc;
    for level in rest {
        total = total.plus(level);
    }
    total
}

/// torch's `row_sum`: four interleaved accumulators over the whole quads
/// ([`multi_row_sum`]), the leftover items added to the first, then
/// `((p0 + p1) + p2) + p3`.
#[inline(always)]
pub(crate) fn row_sum<T: Sum>(size: usize, zero: T, load: impl Fn(usize) -> T) -> T {
    let quads = size / 4;
    let quad = inlined(
        #[inline(always)]
        |i: usize, k: usize| load(4 * i + k),
    );
    let mut p = multi_row_sum::<4, T>(quads, zero, quad);
    for i in quads * 4..size {
        p[0] = p[0].plus(load(i));
    }
    if quads == 0 {
        // p1..p3 are +0.0 and p0, a sum from +0.0, is never -0.0: adding
        // them changes nothing.
        return p[0];
    }
    let [total, p1, p2, p3] = p;
    total.plus(p1).plus(p2).plus(p3)
}

/// The canonical sum of a contiguous run of `n` values.
#[inline(always)]
pub(crate) fn contiguous_sum<T: Sum>(n: usize, zero: T, load: impl Fn(usize) -> T) -> T {
    if n < 8 {
        return row_sum(n, zero, load);
    }
    let vectors = n / 8;
    // A plain loop, not `array::from_fn`: its closure runs through
    // iterator machinery that LLVM may leave outside a SIMD function.
    let vector = inlined(
        #[inline(always)]
        |v: usize| {
            let mut lanes = [zero; 8];
            for (l, x) in lanes.iter_mut().enumerate() {
                *x = load(8 * v + l);
            }
            lanes
        },
    );
    let lanes = row_sum(vectors, [zero; 8], vector);
    let mut acc = zero;
    for j in vectors * 8..n {
        acc = acc.plus(load(j));
    }
    for lane in lanes {
        acc = acc.plus(lane);
    }
    acc
}

/// The canonical sum of a block's `n` row results, for the block in unit
/// column `uc` of a layer with `ucols` unit columns.
#[inline(always)]
pub(crate) fn vertical_sum<T: Sum>(
    n: usize,
    uc: usize,
    ucols: usize,
    zero: T,
    load: impl Fn(usize) -> T,
) -> T {
    if ucols == 1 {
        return contiguous_sum(n, zero, load);
    }
    // torch sums 32 (or, below 8 columns, 4) columns at once sequentially.
    if uc < sequential_end(ucols) {
        multi_row_sum::<1, T>(
            n,
            zero,
            inlined(
                #[inline(always)]
                |i, _| load(i),
            ),
        )[0]
    } else {
        row_sum(n, zero, load)
    }
}

/// The block columns torch sums down sequentially: whole chunks of 32, or
/// of 4 when the layer has fewer than 8 block columns.
#[inline(always)]
pub(crate) fn sequential_end(ucols: usize) -> usize {
    let chunk = if ucols >= 8 { 32 } else { 4 };
    chunk * (ucols / chunk)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(xs: &[f32]) -> f32 {
        xs.iter().fold(0.0, |a, &x| a + x)
    }

    #[test]
    fn short_runs_are_torch_row_sum() {
        let xs = [1e8f32, 1.0, -1e8, 1.0, 3.0, 1e-3, 7.0];
        for n in 0..=4 {
            assert_eq!(contiguous_sum(n, 0.0, |i| xs[i]), seq(&xs[..n]));
        }
        // n = 7: p = [x0 + x4 + x5 + x6, x1, x2, x3].
        let p0 = ((xs[0] + xs[4]) + xs[5]) + xs[6];
        assert_eq!(
            contiguous_sum(7, 0.0, |i| xs[i]),
            ((p0 + xs[1]) + xs[2]) + xs[3]
        );
    }

    #[test]
    fn long_runs_use_eight_lanes() {
        let xs: [f32; 19] =
            core::array::from_fn(|i| if i % 3 == 0 { 1e7 } else { 0.37 * i as f32 });
        // Two vectors: lane l = (0 + x[l]) + x[8 + l]; tail x16..x18 from 0.
        let mut acc = seq(&xs[16..]);
        for l in 0..8 {
            acc += (0.0 + xs[l]) + xs[8 + l];
        }
        assert_eq!(contiguous_sum(19, 0.0, |i| xs[i]), acc);
    }

    #[test]
    fn cascade_after_sixteen_rows() {
        // 40 single-lane rows: blocks of 16 go to level 1, the rest stays.
        let xs: [f32; 40] = core::array::from_fn(|i| 1.0 + i as f32 * 1e-3);
        let b0 = seq(&xs[..16]);
        let b1 = seq(&xs[16..32]);
        let rest = seq(&xs[32..]);
        let expected = rest + ((0.0 + b0) + b1);
        assert_eq!(multi_row_sum::<1, f32>(40, 0.0, |i, _| xs[i])[0], expected);
    }
}
