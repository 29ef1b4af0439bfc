//! N:M groups: the least-N marks of a group and the group's score.

use super::keys::order_key;
use super::sum::contiguous_sum;
use crate::vocab::terms::Ties;

/// Bit `j` set when element `j` of the group is among its least `n`.
///
/// Inclusive: `x_j <= t`, with `t` the n-th smallest, which is exactly "fewer
/// than `n` elements are smaller than `x_j`". Exact: the first `n` by
/// (score, column). Both by counting ranks, so no sort and no buffer.
#[inline(always)]
pub(crate) fn least_n(vals: &[f32], n: usize, ties: Ties) -> u128 {
    let mut marks = 0u128;
    for (j, &x) in vals.iter().enumerate() {
        let kj = order_key(x);
        let mut rank = 0;
        for (i, &y) in vals.iter().enumerate() {
            let ki = order_key(y);
            rank += (ki < kj || (ties == Ties::Exact && ki == kj && i < j)) as usize;
        }
        marks |= ((rank < n) as u128) << j;
    }
    marks
}

/// The group score: the canonical sum (`sum.rs`) of the marked scores (others count as
/// `+0.0`), divided by `M`, as INC's `mean(score * (1 - least_n))`.
#[inline(always)]
pub(crate) fn group_score(vals: &[f32], marks: u128) -> f32 {
    let marked = |j: usize| if marks >> j & 1 == 1 { vals[j] } else { 0.0 };
    contiguous_sum(vals.len(), 0.0, marked) / vals.len() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn least_n_ties() {
        let g = [3.0f32, 1.0, 1.0, 2.0];
        assert_eq!(least_n(&g, 2, Ties::Exact), 0b0110);
        assert_eq!(least_n(&g, 1, Ties::Exact), 0b0010);
        // Inclusive: everything <= the n-th smallest (1.0).
        assert_eq!(least_n(&g, 1, Ties::Inclusive), 0b0110);
        let z = [0.0f32, -0.0, 0.0, 5.0];
        assert_eq!(least_n(&z, 2, Ties::Inclusive), 0b0111);
        assert_eq!(least_n(&z, 2, Ties::Exact), 0b0011);
    }

    #[test]
    fn group_score_is_marked_mean() {
        let g = [4.0f32, 1.0, 3.0, 2.0];
        assert_eq!(group_score(&g, 0b1010), 0.75);
        // A kept +inf does not poison the score (INC's x * 0 gives NaN).
        let h = [f32::INFINITY, 1.0, 2.0, f32::INFINITY];
        assert_eq!(group_score(&h, 0b0110), 0.75);
    }
}
