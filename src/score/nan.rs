//! The NaN scan every entry point runs on scores no kernel reads.

use crate::arch::all::inlined;
use crate::arch::Level;
use crate::vocab::scores::Scores;

/// The first NaN anywhere in a layer's scores, tested in the level's
/// vectors.
pub(crate) fn first_nan(scores: Scores<'_>, level: Level) -> Option<usize> {
    /// The first NaN: whole chunks are tested without branching (the loop
    /// vectorises), the position found in the chunk that has one.
    fn first<T: Copy>(xs: &[T], level: Level, is_nan: impl Fn(T) -> bool) -> Option<usize> {
        let chunk = 256;
        let mut hit = None;
        crate::arch::vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    hit = xs
                        .chunks(chunk)
                        .position(|c| c.iter().fold(false, |any, &x| any | is_nan(x)));
                },
            ),
        );
        let start = hit? * chunk;
        xs[start..]
            .iter()
            .position(|&x| is_nan(x))
            .map(|j| start + j)
    }
    match scores {
        Scores::F32(s) => first(s, level, f32::is_nan),
        Scores::F16(s) => first(s, level, |x| x.to_bits() & 0x7fff > 0x7c00),
        Scores::Bf16(s) => first(s, level, |x| x.to_bits() & 0x7fff > 0x7f80),
    }
}
