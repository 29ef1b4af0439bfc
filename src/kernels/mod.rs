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
pub(crate) mod reduce;

/// Units a kernel scores per call: big enough to amortise the call and the
/// SIMD dispatch, small enough for fixed stack buffers.
pub(crate) const TILE: usize = 256;

use half::slice::HalfFloatSliceExt;

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

/// `len` contiguous scores from `start`, as `f32`: borrowed for `f32`,
/// widened into `buf` for halves (a tile at a time, never a tensor). `None`
/// when out of range or `buf` is short.
pub(crate) fn f32_run<'s>(
    scores: Scores<'s>,
    start: usize,
    len: usize,
    buf: &'s mut [f32],
) -> Option<&'s [f32]> {
    let end = start.checked_add(len)?;
    match scores {
        Scores::F32(s) => s.get(start..end),
        Scores::F16(s) => {
            let dst = buf.get_mut(..len)?;
            s.get(start..end)?.convert_to_f32_slice(dst);
            Some(dst)
        }
        Scores::Bf16(s) => {
            let dst = buf.get_mut(..len)?;
            s.get(start..end)?.convert_to_f32_slice(dst);
            Some(dst)
        }
    }
}
