//! The NaN scan every entry point runs on scores no kernel reads.

use crate::arch::all::inlined;
use crate::arch::Level;
use crate::vocab::scores::{typed, Element, Scores};

/// The first NaN anywhere in a layer's scores, tested in the level's
/// vectors.
pub(crate) fn first_nan(scores: Scores<'_>, level: Level) -> Option<usize> {
    /// The first NaN: whole chunks are tested without branching (the loop
    /// vectorises), the position found in the chunk that has one.
    fn first<E: Element>(xs: &[E], level: Level) -> Option<usize> {
        let chunk = 256;
        let mut hit = None;
        crate::arch::vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    hit = xs
                        .chunks(chunk)
                        .position(|c| c.iter().fold(false, |any, &x| any | x.is_nan()));
                },
            ),
        );
        let start = hit? * chunk;
        xs[start..]
            .iter()
            .position(|x| x.is_nan())
            .map(|j| start + j)
    }
    typed!(scores, s => first(s, level))
}

/// Whether every element of a layer's scores is at most `bound` in
/// magnitude (so none is NaN), tested in the level's vectors: the
/// memory-speed check that a layer's sums cannot overflow.
pub(crate) fn all_within(scores: Scores<'_>, bound: f32, level: Level) -> bool {
    fn within<E: Element>(xs: &[E], bound: f32, level: Level) -> bool {
        let mut all = true;
        crate::arch::vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    // Whole chunks without a branch; stop at the first miss.
                    all = xs.chunks(256).all(|c| {
                        c.iter()
                            .fold(true, |ok, &x| ok & (x.widen().abs() <= bound))
                    });
                },
            ),
        );
        all
    }
    typed!(scores, s => within(s, bound, level))
}

/// The first byte of a mask that is neither 0 nor 1, tested in the level's
/// vectors (whole chunks without a branch, as [`first_nan`]).
pub(crate) fn first_non_mark(mask: &[u8], level: Level) -> Option<usize> {
    let chunk = 256;
    let mut hit = None;
    crate::arch::vectorized(
        level,
        inlined(
            #[inline(always)]
            || {
                hit = mask
                    .chunks(chunk)
                    .position(|c| c.iter().fold(0u8, |any, &m| any | (m & !1)) != 0);
            },
        ),
    );
    let start = hit? * chunk;
    mask[start..].iter().position(|&m| m > 1).map(|j| start + j)
}
