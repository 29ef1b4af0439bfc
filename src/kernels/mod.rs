//! Scalar kernels: the crate's definition of right. Every SIMD kernel added
//! later must agree with these bit for bit.
//!
//! - `keys`: f32 scores to order-preserving `u32` keys.
//! - `reduce`: block scores (mean, sum, max, squared L2) in the canonical order.
//! - `groups`: N:M least-N marks and group scores.
//! - `mask`: unit decisions written back to element masks.

pub(crate) mod groups;
pub(crate) mod keys;
pub(crate) mod mask;
pub(crate) mod range;
pub(crate) mod reduce;

/// Units a kernel scores per call: big enough to amortise the call and the
/// SIMD dispatch, small enough for fixed stack buffers.
pub(crate) const TILE: usize = 256;

use crate::arch::Level;
use crate::layer::{Criterion, Scores};

/// One element of a score slice, read by the criterion. `index` is in bounds
/// (shapes are checked against slice lengths before any kernel runs).
#[inline]
pub(crate) fn read_at(scores: Scores<'_>, criterion: Criterion, index: usize) -> f32 {
    match scores {
        Scores::F32(s) => criterion.read(s[index]),
        Scores::F16(s) => criterion.read(s[index]),
        Scores::Bf16(s) => criterion.read(s[index]),
    }
}

use crate::pattern::UnitScoresFn;

/// The block kernel for constant sizes: specialised, or the runtime-sized
/// one when code size matters more (feature `specialized` off).
pub(crate) const fn block_scores_for<const N: usize, const M: usize>() -> UnitScoresFn {
    #[cfg(feature = "specialized")]
    return reduce::block_scores::<N, M>;
    #[cfg(not(feature = "specialized"))]
    return reduce::block_scores::<0, 0>;
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
/// units take fewer units a part. `kernel(rows, offset, out)` scores units
/// `offset..offset + out.len()` of the tile. False when a run is out of
/// range or the kernel declines (the caller then runs the scalar kernel).
pub(crate) fn simd_rows(
    tile: &crate::pattern::Tile<'_>,
    rows: usize,
    width: usize,
    out: &mut [f32],
    mut kernel: impl FnMut(crate::arch::Rows<'_>, usize, &mut [f32]) -> bool,
) -> bool {
    let cols = tile.view.cols();
    let start = tile.unit_row * rows * cols + tile.first_unit * width;
    if rows == 0 || width == 0 || tile.level == Level::Scalar || !tile.view.is_contiguous() {
        return false;
    }
    let halves = match tile.scores {
        Scores::F32(s) => {
            let len = (rows - 1) * cols + out.len() * width;
            let Some(xs) = s.get(start..start + len) else {
                return false;
            };
            let rows = crate::arch::Rows {
                xs,
                stride: cols,
                rows,
            };
            return kernel(rows, 0, out);
        }
        Scores::F16(s) => Halves::F16(s),
        Scores::Bf16(s) => Halves::Bf16(s),
    };
    let mut buf = [0.0f32; 4 * TILE];
    let step = buf.len() / (rows * width);
    if step == 0 {
        return false;
    }
    for (k, part) in out.chunks_mut(step).enumerate() {
        let (offset, run) = (k * step, part.len() * width);
        for (r, dst) in buf.chunks_mut(run).take(rows).enumerate() {
            let from = start + r * cols + offset * width;
            if !widen_run(halves, from, dst, tile.level) {
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
            offset,
            part,
        ) {
            return false;
        }
    }
    true
}

/// Widens `dst.len()` halves from `start` into `dst`, in the level's
/// vectors. False when out of range.
fn widen_run(src: Halves<'_>, start: usize, dst: &mut [f32], level: Level) -> bool {
    let Some(end) = start.checked_add(dst.len()) else {
        return false;
    };
    let run = match src {
        Halves::F16(s) => s.get(start..end).map(Halves::F16),
        Halves::Bf16(s) => s.get(start..end).map(Halves::Bf16),
    };
    let Some(run) = run else {
        return false;
    };
    // The exact conversions below, in the level's vectors.
    crate::arch::vectorized(
        level,
        inlined(
            #[inline(always)]
            || match run {
                Halves::F16(s) => {
                    for (d, h) in dst.iter_mut().zip(s) {
                        *d = f16_to_f32(h.to_bits());
                    }
                }
                Halves::Bf16(s) => {
                    for (d, h) in dst.iter_mut().zip(s) {
                        *d = bf16_to_f32(h.to_bits());
                    }
                }
            },
        ),
    );
    true
}

/// Returns the closure: in argument position it can carry
/// `#[inline(always)]`, which closures in kernels need: left out of a SIMD
/// function, every intrinsic inside them becomes a call.
#[inline(always)]
pub(crate) fn inlined<F>(f: F) -> F {
    f
}

/// A run of half-precision scores.
#[derive(Clone, Copy)]
pub(crate) enum Halves<'a> {
    F16(&'a [half::f16]),
    Bf16(&'a [half::bf16]),
}

/// `f16` to `f32`, exactly, in integer and one multiply (no F16C, so it
/// vectorises on any level): the magnitude bits moved to `f32` places are
/// the value times 2^-112, subnormals included; infinity and NaN get the
/// full exponent back.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let magnitude = ((h & 0x7fff) as u32) << 13;
    let scaled = f32::from_bits(magnitude) * f32::from_bits(0x7780_0000); // 2^112
    let inf_nan = ((h & 0x7c00 == 0x7c00) as u32) * 0x7f80_0000;
    let sign = ((h & 0x8000) as u32) << 16;
    f32::from_bits(scaled.to_bits() | inf_nan | sign)
}

/// `bf16` to `f32`: the top half of the bits.
#[inline(always)]
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_is_exact_for_every_pattern() {
        for bits in 0..=u16::MAX {
            let want = half::f16::from_bits(bits).to_f32();
            let got = f16_to_f32(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
            }
            let want = half::bf16::from_bits(bits).to_f32();
            let got = bf16_to_f32(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
            }
        }
    }
}
