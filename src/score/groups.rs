//! N:M group scores of a tile, and the keep marks a mask needs: the SIMD
//! kernel where one applies, or the reference.

use crate::arch::all::group::{group_score, least_n};
use crate::vocab::ext::{Tile, MAX_GROUP};
use crate::vocab::scores::{Element, VisitElements};

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
            for (c, (v, index)) in (c0..).zip(vals.iter_mut().zip(t.view.run(t.unit_row, c0))) {
                *v = t.element(xs[index], c);
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
    let (n, ties) = (tile.prune_per_group, tile.ties);
    let mut keep = keep;
    super::simd_rows(tile, 1, m, out, |rows, read, offset, out| {
        let marks = offset * m..(offset + out.len()) * m;
        let keep = keep.as_deref_mut().and_then(|k| k.get_mut(marks));
        crate::arch::nm_scores(tile.level, rows.xs, m, n, ties, read, out, keep)
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
        for (c, (v, index)) in (c0..).zip(vals.iter_mut().zip(tile.view.run(tile.unit_row, c0))) {
            *v = tile.value_at(index, c);
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
