//! The scans every entry point runs on scores no kernel reads, and on
//! masks: one chunked search, in the level's vectors.

use crate::arch::all::inlined;
use crate::arch::Level;
use crate::vocab::scores::{typed, Element, Scores};

/// The first element `hit` holds for: whole chunks are tested without
/// branching (the loop vectorises), the position found in the chunk that
/// has one.
#[inline(always)]
fn first_where<T: Copy>(xs: &[T], level: Level, hit: impl Fn(T) -> bool + Copy) -> Option<usize> {
    let chunk = 256;
    let mut found = None;
    crate::arch::vectorized(
        level,
        inlined(
            #[inline(always)]
            || {
                found = xs
                    .chunks(chunk)
                    .position(|c| c.iter().fold(false, |any, &x| any | hit(x)));
            },
        ),
    );
    let start = found? * chunk;
    xs[start..].iter().position(|&x| hit(x)).map(|j| start + j)
}

/// The first NaN anywhere in a layer's scores.
pub(crate) fn first_nan(scores: Scores<'_>, level: Level) -> Option<usize> {
    fn first<E: Element>(xs: &[E], level: Level) -> Option<usize> {
        first_where(xs, level, |x: E| x.is_nan())
    }
    typed!(scores, s => first(s, level))
}

/// Whether every element of a layer's scores is at most `bound` in
/// magnitude (so none is NaN): the memory-speed check that a layer's sums
/// cannot overflow.
pub(crate) fn all_within(scores: Scores<'_>, bound: f32, level: Level) -> bool {
    fn within<E: Element>(xs: &[E], bound: f32, level: Level) -> bool {
        // NaN compares false, so it is a hit too.
        first_where(xs, level, |x: E| x.is_nan() | (x.widen().abs() > bound)).is_none()
    }
    typed!(scores, s => within(s, bound, level))
}

/// The first byte of a mask that is neither 0 nor 1.
pub(crate) fn first_non_mark(mask: &[u8], level: Level) -> Option<usize> {
    first_where(mask, level, |m: u8| m > 1)
}
