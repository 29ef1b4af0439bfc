//! N:M group scores of a tile, and the keep marks a mask needs: the SIMD
//! kernel where one applies, or the reference.

use crate::arch::all::group::{group_score, least_n};
use crate::arch::Marks;
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
/// a time): scores into `out`, and the marks `marks` asks for. False when
/// none applies.
fn simd_groups(tile: &Tile<'_>, m: usize, out: &mut [f32], mut marks: Marks<'_>) -> bool {
    if !(2..=crate::arch::MAX_SIMD_GROUP).contains(&m) {
        return false;
    }
    let (n, ties) = (tile.prune_per_group, tile.ties);
    super::simd_rows(tile, 1, m, out, |rows, read, offset, out| {
        let marks = marks.part(offset, out.len(), m);
        crate::arch::nm_scores(tile.level, rows.xs, m, n, ties, read, out, marks)
    })
}

/// The built-in group scores of a tile (`out`, as [`group_scores`]) and
/// their least-N marks, in the same pass: one byte per element
/// ([`Marks::Keep`], `M * out.len()`, for mask writing) or one count per
/// group ([`Marks::Count`], `out.len()`, for inclusive tallies).
pub(crate) fn group_scores_marked(tile: &Tile<'_>, out: &mut [f32], mut marks: Marks<'_>) {
    let m = tile.unit_cols;
    if simd_groups(tile, m, out, marks.part(0, out.len(), m)) {
        return;
    }
    let mut buf = [0.0f32; MAX_GROUP];
    let vals = &mut buf[..m];
    for (g, o) in out.iter_mut().enumerate() {
        let c0 = (tile.first_unit + g) * m;
        for (c, (v, index)) in (c0..).zip(vals.iter_mut().zip(tile.view.run(tile.unit_row, c0))) {
            *v = tile.value_at(index, c);
        }
        let least = least_n(vals, tile.prune_per_group, tile.ties);
        marks.part(g, 1, m).write_group(least, m);
        *o = if vals.iter().any(|v| v.is_nan()) {
            f32::NAN
        } else {
            group_score(vals, least)
        };
    }
}

/// Scores the N:M groups of a tile. `M` is the group length, or 0 to take it
/// from the tile.
pub(crate) fn group_scores<const M: usize>(tile: &Tile<'_>, out: &mut [f32]) {
    let m = if M == 0 { tile.unit_cols } else { M };
    if simd_groups(tile, m, out, Marks::None) {
        return;
    }
    tile.scores.visit(Groups::<M> { tile, out })
}
