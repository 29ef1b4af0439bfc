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

use crate::layer::{Criterion, Element, Scores};

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

/// Reads `out.len()` consecutive view elements into `out`; a NaN is an error
/// naming its flat index.
#[inline]
pub(crate) fn read_run<E: Element>(
    xs: &[E],
    run: crate::shape::Run,
    criterion: Criterion,
    out: &mut [f32],
) -> Result<(), crate::ErrorKind> {
    for (o, index) in out.iter_mut().zip(run) {
        let x = criterion.read(xs[index]);
        if x.is_nan() {
            return Err(crate::ErrorKind::NanScore { index });
        }
        *o = x;
    }
    Ok(())
}
