//! Scoring per tile: for each run of units, the SIMD kernel of the level
//! (`arch`) where one applies, the reference (`arch::all`) where none does.
//! Nothing else decides this.
//!
//! - `blocks`: NxM block scores;
//! - `groups`: N:M group scores, and the keep marks masks need;
//! - `nan`: the NaN scan of scores no kernel reads;
//! - here: the tile size, and [`simd_rows`], which hands a tile's rows to a
//!   SIMD kernel (borrowed `f32`, or halves widened a part at a time).

mod blocks;
mod groups;
mod nan;

pub(crate) use blocks::block_scores;
pub(crate) use groups::{group_scores, group_scores_marked};
pub(crate) use nan::{all_within, first_nan, first_non_mark};

use crate::arch::all::inlined;
use crate::arch::Level;
use crate::vocab::ext::{Tile, UnitScoresFn};
use crate::vocab::scores::{typed, Element, Read, Scores};

/// Units a kernel scores per call: big enough to amortise the call and the
/// SIMD dispatch, small enough for fixed stack buffers.
/// In the build for small targets (feature `small`), an eighth of that,
/// so a call's tile buffers take about 1 KiB of stack instead of 8.
#[cfg(not(feature = "small"))]
pub(crate) const TILE: usize = 256;
#[cfg(feature = "small")]
pub(crate) const TILE: usize = 32;

/// Keep marks (bytes) a tile of units holds when masks are written:
/// `TILE` groups of four.
pub(crate) const MARKS: usize = 4 * TILE;

/// The block kernel for constant sizes: specialised, or the runtime-sized
/// one when code size matters more (feature `specialized` off).
pub(crate) const fn block_scores_for<const N: usize, const M: usize>() -> UnitScoresFn {
    #[cfg(feature = "specialized")]
    return blocks::block_scores::<N, M>;
    #[cfg(not(feature = "specialized"))]
    return blocks::block_scores::<0, 0>;
}

/// The N:M kernel for a constant group length; see [`block_scores_for`].
pub(crate) const fn group_scores_for<const M: usize>() -> UnitScoresFn {
    #[cfg(feature = "specialized")]
    return groups::group_scores::<M>;
    #[cfg(not(feature = "specialized"))]
    return groups::group_scores::<0>;
}

/// Hands a tile's units to a SIMD kernel as `f32` rows: unit `u` of the
/// tile spans `width` contiguous scores in each of `rows` view rows (a
/// contiguous view). `f32` scores are borrowed in place, row stride the
/// view's columns; halves are widened at `tile.level` into a 4 KiB buffer
/// a part of the tile at a time, row stride the part's width, so larger
/// units take fewer units a part. `kernel(rows, read, offset, out)`
/// scores units `offset..offset + out.len()` of the tile, `read` the
/// tile's read with its scale (Wanda) aligned with the rows: row offset
/// `k` is input feature `first column + k` (a contiguous view's columns
/// are its input features). False when a run is out of range or the
/// kernel declines (the caller then runs the scalar kernel).
pub(crate) fn simd_rows(
    tile: &Tile<'_>,
    rows: usize,
    width: usize,
    out: &mut [f32],
    mut kernel: impl FnMut(crate::arch::Rows<'_>, Read<'_>, usize, &mut [f32]) -> bool,
) -> bool {
    let cols = tile.view.cols();
    let start = tile.unit_row * rows * cols + tile.first_unit * width;
    if rows == 0 || width == 0 || tile.level == Level::Scalar || !tile.view.is_contiguous() {
        return false;
    }
    let read = tile.read().from(tile.first_unit * width);
    if let Scores::F32(s) = tile.scores {
        let len = (rows - 1) * cols + out.len() * width;
        let Some(xs) = s.get(start..start + len) else {
            return false;
        };
        let rows = crate::arch::Rows {
            xs,
            stride: cols,
            rows,
        };
        return kernel(rows, read, 0, out);
    }
    let mut buf = [0.0f32; 4 * TILE];
    let step = buf.len() / (rows * width);
    if step == 0 {
        return false;
    }
    for (k, part) in out.chunks_mut(step).enumerate() {
        let (offset, run) = (k * step, part.len() * width);
        for (r, dst) in buf.chunks_mut(run).take(rows).enumerate() {
            let from = start + r * cols + offset * width;
            if !typed!(tile.scores, s => widen_run(s, from, dst, tile.level)) {
                return false;
            }
        }
        let xs = &buf[..rows * run];
        if !kernel(
            crate::arch::Rows {
                xs,
                stride: run,
                rows,
            },
            read.from(offset * width),
            offset,
            part,
        ) {
            return false;
        }
    }
    true
}

/// Widens `dst.len()` elements from `start` into `dst`, in the level's
/// vectors. False when out of range.
fn widen_run<E: Element>(src: &[E], start: usize, dst: &mut [f32], level: Level) -> bool {
    let Some(run) = start
        .checked_add(dst.len())
        .and_then(|end| src.get(start..end))
    else {
        return false;
    };
    crate::arch::vectorized(
        level,
        inlined(
            #[inline(always)]
            || {
                for (d, x) in dst.iter_mut().zip(run) {
                    *d = x.widen();
                }
            },
        ),
    );
    true
}
