//! The selection's range pass, scalar reference: how many scores are below
//! a range, which are inside it, and (for the split selection's masks)
//! where each lies.

/// Where a score lies against a range, as [`scan`] writes it (0 below
/// it): above it (a unit kept whatever the threshold).
pub(crate) const ABOVE: u8 = 1;
/// Inside the range (a unit the threshold settles).
pub(crate) const INSIDE: u8 = 2;

/// Adds to `below` the scores below `low`, and calls `inside(index, x)`
/// with those in `low..=high`, in order. Scores are checked (no NaN).
/// With `places` as long as `scores` (else it is left alone), writes where
/// each lies: 0 below, [`ABOVE`] or [`INSIDE`].
#[inline(always)]
pub(crate) fn scan(
    scores: &[f32],
    low: f32,
    high: f32,
    below: &mut u64,
    mut inside: impl FnMut(usize, f32),
    places: &mut [u8],
) {
    for (j, &x) in scores.iter().enumerate() {
        *below += (x < low) as u64;
        if low <= x && x <= high {
            inside(j, x);
        }
    }
    if places.len() == scores.len() {
        for (p, &x) in places.iter_mut().zip(scores) {
            *p = place(x, low, high);
        }
    }
}

/// Where `x` lies against `low..=high`.
#[inline(always)]
pub(crate) fn place(x: f32, low: f32, high: f32) -> u8 {
    let inside = (low <= x) & (x <= high);
    ((x > high) as u8 * ABOVE) | (inside as u8 * INSIDE)
}
