//! Pattern lock and the sparsity of masks (`docs/semantics.md`, sections 8
//! and 9): each a loop over the layers that hands every one to its
//! pattern's kind.

use crate::arch::Level;
use crate::plan::{check_count, check_mask, check_nan, LayerReport, Status, Summary};
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::Layer;
use crate::vocab::shape::Shape;
use crate::Pattern;

/// Writes pattern-lock masks from the weights (see `Pruner::lock`).
pub(crate) fn lock(
    level: Level,
    layers: &[Layer<'_>],
    pattern: &Pattern,
    reports: &mut [LayerReport],
    masks: &mut [&mut [u8]],
) -> Result<Summary, Error> {
    level.check()?;
    check_count("reports", layers.len(), reports.len())?;
    check_count("masks", layers.len(), masks.len())?;
    let kernels = pattern.kernels();
    for (i, (layer, m)) in layers.iter().zip(masks.iter()).enumerate() {
        layer.checked_view(i)?;
        check_mask(i, layer, m)?;
        check_nan(i, layer, level)?;
    }
    let mut summary = Summary {
        layers: layers.len(),
        ..Summary::default()
    };
    for ((layer, report), out) in layers.iter().zip(reports.iter_mut()).zip(masks.iter_mut()) {
        let view = layer.shape.view().map_err(Error::new)?;
        *report = LayerReport {
            elements: out.len() as u64,
            ..LayerReport::default()
        };
        let grid = match kernels.grid(&view) {
            Ok(grid) => grid,
            Err(reason) => {
                out.fill(1);
                report.status = Status::Skipped(reason);
                summary.skipped += 1;
                summary.elements += report.elements;
                continue;
            }
        };
        report.status = Status::Selected;
        report.units = grid.units() as u64;
        let n = kernels.pruned_per_group();
        (report.pruned_units, report.pruned_elements) =
            kernels.kind.lock(level, layer.scores, &view, &grid, n, out);
        summary.units += report.units;
        summary.pruned_units += report.pruned_units;
        summary.elements += report.elements;
        summary.pruned_elements += report.pruned_elements;
    }
    Ok(summary)
}

/// Zero units over all units of a set of masks (`docs/semantics.md`,
/// section 9): blocks whose mask is all 0 over the blocks of the layers
/// the pattern fits (NxM), or zero elements over all elements (N:M).
///
/// ```
/// use prunemask::MaskSparsity;
/// let s = MaskSparsity { zero: 1, total: 4 };
/// assert_eq!(s.ratio(), 0.25);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskSparsity {
    /// Blocks whose mask is all 0 (NxM), or zero elements (N:M).
    pub zero: u64,
    /// Blocks of the layers the pattern fits (NxM), or all elements (N:M).
    pub total: u64,
}

impl MaskSparsity {
    /// `zero / total`, or 0 when there is nothing to count (INC's
    /// `get_sparsity_ratio`).
    ///
    /// ```
    /// assert_eq!(prunemask::MaskSparsity::default().ratio(), 0.0);
    /// ```
    pub fn ratio(&self) -> f64 {
        crate::plan::report::ratio(self.zero, self.total)
    }
}

/// The sparsity of a set of masks under a pattern (see
/// `Pruner::mask_sparsity`).
pub(crate) fn mask_sparsity(
    level: Level,
    pattern: &Pattern,
    shapes: &[Shape],
    masks: &[&[u8]],
) -> Result<MaskSparsity, Error> {
    level.check()?;
    check_count("masks", shapes.len(), masks.len())?;
    let kernels = pattern.kernels();
    let mut out = MaskSparsity::default();
    for (i, (shape, m)) in shapes.iter().zip(masks).enumerate() {
        let view = shape.view().map_err(|kind| Error::in_layer(i, kind))?;
        let expected = view.rows() * view.cols();
        if m.len() != expected {
            return Err(Error::in_layer(
                i,
                ErrorKind::MaskLength {
                    expected,
                    got: m.len(),
                },
            ));
        }
        let grid = kernels.grid(&view).ok();
        let (zero, total) = kernels
            .kind
            .zeros(level, &view, grid, m)
            .map_err(|kind| Error::in_layer(i, kind))?;
        out.zero += zero;
        out.total += total;
    }
    Ok(out)
}
