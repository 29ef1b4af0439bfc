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
