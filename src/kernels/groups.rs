//! N:M groups: the least-N marks of a group and the group's score.

use super::keys::order_key;
use super::reduce::contiguous_sum;
use crate::layer::{Element, VisitElements};
use crate::pattern::{Ties, Tile};

/// Longest N:M group (`M`) the kernels take: marks fit in a `u128`.
pub const MAX_GROUP: usize = 128;

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

/// The group score: the canonical sum (see `reduce`) of the marked scores (others count as
/// `+0.0`), divided by `M`, as INC's `mean(score * (1 - least_n))`.
#[inline(always)]
pub(crate) fn group_score(vals: &[f32], marks: u128) -> f32 {
    let marked = |j: usize| if marks >> j & 1 == 1 { vals[j] } else { 0.0 };
    contiguous_sum(vals.len(), 0.0, marked) / vals.len() as f32
}

struct Groups<'t, 'o, const M: usize> {
    tile: &'t Tile<'t>,
    out: &'o mut [f32],
}

impl<const M: usize> VisitElements for Groups<'_, '_, M> {
    type Out = ();

    #[inline(always)]
    fn visit<E: Element>(self, xs: &[E]) {
        let t = self.tile;
        let m = if M == 0 { t.unit_cols } else { M };
        let mut buf = [0.0f32; MAX_GROUP];
        let vals = &mut buf[..m];
        for (u, out) in self.out.iter_mut().enumerate() {
            let c0 = (t.first_unit + u) * m;
            for (v, index) in vals.iter_mut().zip(t.view.run(t.unit_row, c0)) {
                *v = t.criterion.read(xs[index]);
            }
            if vals.iter().any(|v| v.is_nan()) {
                // The caller reports the NaN element.
                *out = f32::NAN;
                continue;
            }
            let marks = least_n(vals, t.prune_per_group, t.ties);
            *out = group_score(vals, marks);
        }
    }
}

/// The SIMD N:M kernels on a tile's contiguous scores (f32 borrowed,
/// halves widened into a 4 KiB buffer, so long groups take fewer groups at
/// a time): scores into `out`, keep marks into `keep` if given. False when
/// none applies.
fn simd_groups(tile: &Tile<'_>, m: usize, out: &mut [f32], keep: Option<&mut [u8]>) -> bool {
    if !(2..=crate::arch::MAX_SIMD_GROUP).contains(&m) {
        return false;
    }
    let magnitude = tile.criterion == crate::Criterion::Magnitude;
    let (n, ties) = (tile.prune_per_group, tile.ties);
    let mut keep = keep;
    crate::kernels::simd_rows(tile, 1, m, out, |rows, offset, out| {
        let marks = offset * m..(offset + out.len()) * m;
        let keep = keep.as_deref_mut().and_then(|k| k.get_mut(marks));
        crate::arch::nm_scores(tile.level, rows.xs, m, n, ties, magnitude, out, keep)
    })
}

/// The built-in group scores of a tile (`out`, as [`group_scores`]) and one
/// byte per element (`keep.len() == M * out.len()`): 1 outside the group's
/// least N, 0 inside. One pass for both, so writing a mask scores once.
pub(crate) fn group_scores_and_keep(tile: &Tile<'_>, out: &mut [f32], keep: &mut [u8]) {
    let m = tile.unit_cols;
    if simd_groups(tile, m, out, Some(&mut *keep)) {
        return;
    }
    let mut buf = [0.0f32; MAX_GROUP];
    let vals = &mut buf[..m];
    for (g, (o, keep)) in out.iter_mut().zip(keep.chunks_exact_mut(m)).enumerate() {
        let c0 = (tile.first_unit + g) * m;
        for (v, index) in vals.iter_mut().zip(tile.view.run(tile.unit_row, c0)) {
            *v = crate::kernels::read_at(tile.scores, tile.criterion, index);
        }
        let marks = least_n(vals, tile.prune_per_group, tile.ties);
        for (j, k) in keep.iter_mut().enumerate() {
            *k = (marks >> j & 1 == 0) as u8;
        }
        *o = if vals.iter().any(|v| v.is_nan()) {
            f32::NAN
        } else {
            group_score(vals, marks)
        };
    }
}

/// Scores the N:M groups of a tile. `M` is the group length, or 0 to take it
/// from the tile.
pub(crate) fn group_scores<const M: usize>(tile: &Tile<'_>, out: &mut [f32]) {
    let m = if M == 0 { tile.unit_cols } else { M };
    if simd_groups(tile, m, out, None) {
        return;
    }
    tile.scores.visit(Groups::<M> { tile, out })
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
