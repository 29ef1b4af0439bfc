//! The selection's range pass, scalar reference: how many scores are below
//! a range, and which are inside it.

/// Adds to `below` the scores below `low`, and calls `inside(index, x)`
/// with those in `low..=high`, in order. Scores are checked (no NaN).
#[inline(always)]
pub(crate) fn scan(
    scores: &[f32],
    low: f32,
    high: f32,
    below: &mut u64,
    mut inside: impl FnMut(usize, f32),
) {
    for (j, &x) in scores.iter().enumerate() {
        *below += (x < low) as u64;
        if low <= x && x <= high {
            inside(j, x);
        }
    }
}
