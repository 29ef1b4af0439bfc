//! Unit decisions written back to element masks (1 = keep, 0 = prune).

use crate::vocab::shape::View;

/// Sets every element of the `rows x cols` view block at `(r0, c0)` to `value`.
#[inline]
pub(crate) fn fill_block(
    mask: &mut [u8],
    view: &View,
    (r0, c0): (usize, usize),
    (rows, cols): (usize, usize),
    value: u8,
) {
    for r in r0..r0 + rows {
        if view.is_contiguous() {
            // A matrix row: one slice fill, no index per element.
            let start = r * view.cols() + c0;
            if let Some(run) = mask.get_mut(start..start + cols) {
                run.fill(value);
                continue;
            }
        }
        for index in view.run(r, c0).take(cols) {
            mask[index] = value;
        }
    }
}

/// Writes one N:M group: 0 where `marks` has a bit, 1 elsewhere.
#[inline]
pub(crate) fn write_group(
    mask: &mut [u8],
    view: &View,
    (r, c0): (usize, usize),
    m: usize,
    marks: u128,
) {
    let keep = |j: usize| (marks >> j & 1 == 0) as u8;
    if view.is_contiguous() {
        let start = r * view.cols() + c0;
        if let Some(run) = mask.get_mut(start..start + m) {
            for (j, x) in run.iter_mut().enumerate() {
                *x = keep(j);
            }
            return;
        }
    }
    for (j, index) in view.run(r, c0).take(m).enumerate() {
        mask[index] = keep(j);
    }
}
