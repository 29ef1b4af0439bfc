//! Block scores: the one definition of an NxM block's score, and of a
//! reduction ([`Reduce`]'s methods, used by every kernel family).

use super::keys::order_key;
use super::sum::{contiguous_sum, vertical_sum, Sum};
use crate::vocab::terms::Reduce;

/// A value the reductions work on: `f32`, or a SIMD vector of them (one
/// block per lane). Every operation must round as `f32` does.
pub(crate) trait Value: Sum {
    fn times(self, other: Self) -> Self;
    /// `self / n`.
    fn over(self, n: usize) -> Self;
}

impl Value for f32 {
    #[inline(always)]
    fn times(self, other: f32) -> f32 {
        self * other
    }
    #[inline(always)]
    fn over(self, n: usize) -> f32 {
        self / n as f32
    }
}

impl Reduce {
    /// What an element adds to a block's sum: itself, or its square for
    /// [`Reduce::L2`]. (Not used by [`Reduce::Max`].)
    #[inline(always)]
    pub(crate) fn term<T: Value>(self, x: T) -> T {
        if self == Reduce::L2 {
            x.times(x)
        } else {
            x
        }
    }

    /// A sum of `n` terms to its score: divided by `n` for
    /// [`Reduce::Mean`], as it is otherwise.
    #[inline(always)]
    pub(crate) fn finish<T: Value>(self, sum: T, n: usize) -> T {
        if self == Reduce::Mean {
            sum.over(n)
        } else {
            sum
        }
    }
}

/// The score of one `bn x bm` block in block column `uc` of `ucols`:
/// `read(r, j)` is element `j` of block row `r`, already read by the
/// criterion. The one definition every kernel level must match.
#[inline(always)]
pub(crate) fn block_score(
    bn: usize,
    bm: usize,
    uc: usize,
    ucols: usize,
    reduce: Reduce,
    read: impl Fn(usize, usize) -> f32,
) -> f32 {
    // Each reduction its own loops, so none tests it per element.
    let row = |r: usize| -> f32 {
        match reduce {
            Reduce::Mean => Reduce::Mean.finish(
                contiguous_sum(bm, 0.0, |j| Reduce::Mean.term(read(r, j))),
                bm,
            ),
            Reduce::Sum => contiguous_sum(bm, 0.0, |j| Reduce::Sum.term(read(r, j))),
            Reduce::L2 => contiguous_sum(bm, 0.0, |j| Reduce::L2.term(read(r, j))),
            Reduce::Max => max_of(bm, |j| read(r, j)),
        }
    };
    match reduce {
        Reduce::Max => max_of(bn, row),
        reduce => reduce.finish(vertical_sum(bn, uc, ucols, 0.0, row), bn),
    }
}

/// The largest of `n` values by order key: `-0.0` and `+0.0` are equal and
/// the first one stays, so the result does not depend on lane order. NaN if
/// any value is NaN (the caller reports it).
#[inline(always)]
fn max_of(n: usize, load: impl Fn(usize) -> f32) -> f32 {
    let mut best = load(0);
    let mut nan = best.is_nan();
    for j in 1..n {
        let x = load(j);
        nan |= x.is_nan();
        if order_key(x) > order_key(best) {
            best = x;
        }
    }
    if nan {
        f32::NAN
    } else {
        best
    }
}

/// [`block_score`] of a `1x1` block in closed form (the sums start from
/// `+0.0`, so `-0.0` comes out `+0.0`; the max keeps it), equal bit for bit
/// (a unit test checks).
#[inline(always)]
pub(crate) fn element_score(reduce: Reduce, x: f32) -> f32 {
    match reduce {
        Reduce::Max => x,
        Reduce::L2 => 0.0 + x * x,
        Reduce::Sum | Reduce::Mean => 0.0 + x,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_score_is_block_score() {
        let xs = [
            0.0f32,
            -0.0,
            1.5,
            -2.25,
            f32::MIN_POSITIVE / 8.0,
            -f32::MIN_POSITIVE / 8.0,
            f32::MAX,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
        ];
        for reduce in [Reduce::Mean, Reduce::Sum, Reduce::L2, Reduce::Max] {
            for x in xs {
                let block = block_score(1, 1, 0, 1, reduce, |_, _| x);
                let element = element_score(reduce, x);
                assert!(
                    block.to_bits() == element.to_bits() || (block.is_nan() && element.is_nan()),
                    "{reduce:?} {x}: {block} vs {element}"
                );
            }
        }
    }
}
