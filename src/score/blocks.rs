//! NxM block scores of a tile: the SIMD kernel that fits the block shape,
//! or the reference.

use crate::arch;
use crate::arch::all::block::{block_score, element_score};
use crate::arch::all::inlined;
use crate::vocab::ext::Tile;
use crate::vocab::scores::{Element, VisitElements};
use crate::vocab::terms::Reduce;

struct Blocks<'t, 'o, const N: usize, const M: usize> {
    tile: &'t Tile<'t>,
    out: &'o mut [f32],
}

impl<const N: usize, const M: usize> VisitElements for Blocks<'_, '_, N, M> {
    type Out = ();

    #[inline(always)]
    fn visit<E: Element>(self, xs: &[E]) {
        let t = self.tile;
        // Zero sizes mean "given at run time".
        let bn = if N == 0 { t.unit_rows } else { N };
        let bm = if M == 0 { t.unit_cols } else { M };
        let r0 = t.unit_row * bn;
        let ucols = t.view.cols() / bm;
        for (u, out) in self.out.iter_mut().enumerate() {
            let uc = t.first_unit + u;
            let c0 = uc * bm;
            let read = |r: usize, j: usize| t.element(xs[t.view.index(r0 + r, c0 + j)], c0 + j);
            *out = block_score(bn, bm, uc, ucols, t.reduce, read);
        }
    }
}

/// Scores the blocks of a tile. `N`/`M` are the block sizes, or 0 to take
/// them from the tile (runtime sizes and `channel` sides).
pub(crate) fn block_scores<const N: usize, const M: usize>(tile: &Tile<'_>, out: &mut [f32]) {
    let bn = if N == 0 { tile.unit_rows } else { N };
    let bm = if M == 0 { tile.unit_cols } else { M };
    let simd = match (bn, bm) {
        (1, 1) => elements(tile, out),
        (1, 4) => quad_blocks(tile, out),
        (_, 1) => columns(tile, bn, out),
        (_, 2..=arch::MAX_WIDE) if bm.is_power_of_two() => wide(tile, bn, bm, out, false),
        (_, 2..) => wide(tile, bn, bm, out, true),
        _ => false,
    };
    if simd {
        return;
    }
    tile.scores.visit(Blocks::<N, M> { tile, out })
}

/// `bn x 1` blocks of a matrix tile on the SIMD column kernel (any
/// height). `f32` rows are borrowed in place; halves are widened into a
/// 4 KiB buffer, so taller blocks take fewer units at a time. False when
/// the kernel does not apply.
fn columns(tile: &Tile<'_>, bn: usize, out: &mut [f32]) -> bool {
    let (cols, first) = (tile.view.cols(), tile.first_unit);
    super::simd_rows(tile, bn, 1, out, |rows, read, offset, out| {
        arch::column_scores(
            tile.level,
            rows,
            first + offset,
            cols,
            tile.reduce,
            read,
            out,
        )
    })
}

/// `1x1` blocks (unstructured): each element's own score, by the one
/// definition, in the level's vectors. False when it does not apply.
fn elements(tile: &Tile<'_>, out: &mut [f32]) -> bool {
    // Captured by value: read through a reference, the criterion would be
    // reloaded after every store, and the loop would not vectorise.
    let abs = tile.criterion.abs();
    let magnitude = move |x: f32| if abs { x.abs() } else { x };
    super::simd_rows(tile, 1, 1, out, |rows, read, _, out| {
        // Each reduction its own loop, so none tests it per element; the
        // scaled read its own too (`|x| · s`, as `Read::element`).
        let mut each = inlined(
            #[inline(always)]
            move |reduce: Reduce| match read.scale {
                Some(scale) if scale.len() >= out.len() => {
                    for ((o, &x), &s) in out.iter_mut().zip(rows.xs).zip(scale) {
                        *o = element_score(reduce, magnitude(x) * s);
                    }
                }
                Some(_) => out.fill(f32::NAN),
                None => {
                    for (o, &x) in out.iter_mut().zip(rows.xs) {
                        *o = element_score(reduce, magnitude(x));
                    }
                }
            },
        );
        arch::vectorized(
            tile.level,
            inlined(
                #[inline(always)]
                || match tile.reduce {
                    Reduce::Mean => each(Reduce::Mean),
                    Reduce::Sum => each(Reduce::Sum),
                    Reduce::L2 => each(Reduce::L2),
                    Reduce::Max => each(Reduce::Max),
                },
            ),
        );
        true
    })
}

/// `bn x bm` blocks of a matrix tile, rows borrowed or widened as in
/// [`columns`]: `bm` a power of two up to `MAX_WIDE` on the kernel with one
/// lane per block, any other width (`long`) on the per-block kernel that
/// sums long block rows eight lanes at a time. False when it does not
/// apply.
fn wide(tile: &Tile<'_>, bn: usize, bm: usize, out: &mut [f32], long: bool) -> bool {
    let (cols, first) = (tile.view.cols() / bm, tile.first_unit);
    let kernel = if long {
        arch::long_block_scores
    } else {
        arch::wide_block_scores
    };
    super::simd_rows(tile, bn, bm, out, |rows, read, offset, out| {
        kernel(
            tile.level,
            rows,
            bm,
            first + offset,
            cols,
            tile.reduce,
            read,
            out,
        )
    })
}

/// `1x4` blocks of a matrix tile: one row of contiguous runs of four, on
/// the SIMD kernel shared with N:M groups of four. False when it does not
/// apply.
fn quad_blocks(tile: &Tile<'_>, out: &mut [f32]) -> bool {
    super::simd_rows(tile, 1, 4, out, |rows, read, _, out| {
        arch::quad_block_scores(tile.level, rows.xs, tile.reduce, read, out)
    })
}
