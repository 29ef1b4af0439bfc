//! Pattern lock: masks that freeze the sparsity a layer's weights already
//! have (SEMANTICS section 8).

use crate::arch::{Level, Units};
use crate::error::{Error, ErrorKind};
use crate::kernels::{mask, read_at};
use crate::layer::{Criterion, Layer};
use crate::pattern::{Geometry, Grid, Pattern};
use crate::plan::{check_count, check_mask, scan_nan, LayerReport, Status, Summary};
use crate::shape::View;

/// Writes pattern-lock masks from the weights themselves:
///
/// - NxM (and `1x1`, unstructured): a block is 0 when every weight in it is
///   zero (INC: the sum of `|w|` is 0), else 1.
/// - N:M (INC 2.0 rule): an element is 0 when it is zero **and** its group
///   has at least N zeros, else 1.
///
/// Layers the pattern does not fit get all ones and a `Skipped` report (INC
/// crashes on them). NaN weights are an error; nothing is written then.
/// Runs at [`Level::best`]; [`lock_at`] picks the level.
///
/// ```
/// use prunemask::{lock, Layer, LayerReport, Pattern, Shape};
/// let w = [0.0f32, 0.0, 1.0, 2.0,   0.0, 3.0, 4.0, 5.0];
/// let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
/// let mut mask = vec![9u8; 8];
/// let mut reports = [LayerReport::default()];
/// let s = lock(&layers, &Pattern::parse("2:4").unwrap(), &mut reports, &mut [&mut mask[..]]).unwrap();
/// assert_eq!(mask, [0, 0, 1, 1,   1, 1, 1, 1]); // the second group has one zero only
/// assert_eq!(s.pruned_elements, 2);
/// ```
pub fn lock(
    layers: &[Layer<'_>],
    pattern: &Pattern,
    reports: &mut [LayerReport],
    masks: &mut [&mut [u8]],
) -> Result<Summary, Error> {
    lock_at(Level::best(), layers, pattern, reports, masks)
}

/// [`lock`] at a given instruction-set level (every level gives the same
/// masks, reports and summary). A level this CPU lacks is a
/// [`ErrorKind::LevelUnavailable`] error, and nothing is written.
///
/// ```
/// use prunemask::{lock_at, ErrorKind, Layer, LayerReport, Level, Pattern, Shape};
/// let w = [0.0f32, -0.0, 1.0, 0.0,   0.0, 0.0, 0.0, 0.0];
/// let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
/// let p = Pattern::parse("2x1").unwrap();
/// let mut reports = [LayerReport::default()];
/// for level in Level::ALL {
///     let mut mask = [9u8; 8];
///     match lock_at(level, &layers, &p, &mut reports, &mut [&mut mask[..]]) {
///         Ok(s) => {
///             assert_eq!(mask, [0, 0, 1, 0,   0, 0, 1, 0]);
///             assert_eq!(s.pruned_units, 3);
///         }
///         Err(e) => {
///             assert_eq!(e.kind(), &ErrorKind::LevelUnavailable { level });
///             assert_eq!(mask, [9; 8]);
///         }
///     }
/// }
/// ```
pub fn lock_at(
    level: Level,
    layers: &[Layer<'_>],
    pattern: &Pattern,
    reports: &mut [LayerReport],
    masks: &mut [&mut [u8]],
) -> Result<Summary, Error> {
    check_level(level)?;
    check_count("reports", layers.len(), reports.len())?;
    check_count("masks", layers.len(), masks.len())?;
    let geometry = pattern.geometry();
    for (i, (layer, m)) in layers.iter().zip(masks.iter()).enumerate() {
        layer.checked_view(i)?;
        check_mask(i, layer, m)?;
        scan_nan(i, layer, level)?;
    }
    let mut summary = Summary {
        layers: layers.len(),
        ..Summary::default()
    };
    for ((layer, report), out) in layers.iter().zip(reports.iter_mut()).zip(masks.iter_mut()) {
        let view = layer.shape.view().map_err(Error::new)?;
        *report = LayerReport::default();
        report.elements = out.len() as u64;
        let grid = match geometry.grid(&view) {
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
        let units = match geometry {
            Geometry::Block { .. } => Units::Blocks {
                rows: grid.unit_rows,
                cols: grid.unit_cols,
            },
            Geometry::NInM { n, m } => Units::Groups { n, m },
        };
        // Matrices row by row at the level; convs (and the scalar level)
        // unit by unit through the view.
        let fast = match view.is_contiguous() {
            true => crate::arch::lock_rows(level, layer.scores, view.cols(), units, out),
            false => None,
        };
        (report.pruned_units, report.pruned_elements) =
            fast.unwrap_or_else(|| lock_units(layer, &view, grid, units, out));
        summary.units += report.units;
        summary.pruned_units += report.pruned_units;
        summary.elements += report.elements;
        summary.pruned_elements += report.pruned_elements;
    }
    Ok(summary)
}

/// The scalar reference: each unit read through the view, element by
/// element. Returns the (units, elements) locked.
fn lock_units(
    layer: &Layer<'_>,
    view: &View,
    grid: Grid,
    units: Units,
    out: &mut [u8],
) -> (u64, u64) {
    out.fill(1);
    let mut pruned = (0u64, 0u64);
    let zero = |index: usize| read_at(layer.scores, Criterion::Scores, index) == 0.0;
    for ur in 0..grid.rows {
        for uc in 0..grid.cols {
            let origin = (ur * grid.unit_rows, uc * grid.unit_cols);
            match units {
                Units::Blocks { rows, cols } => {
                    let size = (rows, cols);
                    let all_zero = (origin.0..origin.0 + size.0)
                        .all(|r| view.run(r, origin.1).take(size.1).all(zero));
                    if all_zero {
                        mask::fill_block(out, view, origin, size, 0);
                        pruned.0 += 1;
                        pruned.1 += (size.0 * size.1) as u64;
                    }
                }
                Units::Groups { n, m } => {
                    let mut zeros = 0u128;
                    for (j, index) in view.run(origin.0, origin.1).take(m).enumerate() {
                        zeros |= (zero(index) as u128) << j;
                    }
                    if zeros.count_ones() as usize >= n {
                        mask::write_group(out, view, origin, m, zeros);
                        pruned.0 += 1;
                        pruned.1 += zeros.count_ones() as u64;
                    }
                }
            }
        }
    }
    pruned
}

fn check_level(level: Level) -> Result<(), Error> {
    if level.is_available() {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::LevelUnavailable { level }))
    }
}

/// Zero units over all units of a set of masks (SEMANTICS section 9).
///
/// ```
/// use prunemask::Sparsity;
/// let s = Sparsity { zero: 1, total: 4 };
/// assert_eq!(s.ratio(), 0.25);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sparsity {
    /// Blocks whose mask is all 0 (NxM), or zero elements (N:M).
    pub zero: u64,
    /// Blocks of the layers the pattern fits (NxM), or all elements (N:M).
    pub total: u64,
}

impl Sparsity {
    /// `zero / total`, or 0 when there is nothing to count.
    ///
    /// ```
    /// assert_eq!(prunemask::Sparsity::default().ratio(), 0.0);
    /// ```
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.zero as f64 / self.total as f64
        }
    }
}

/// The sparsity of a set of masks under a pattern: block-wise for NxM (blocks
/// whose mask is all 0, over the blocks of the layers the pattern fits),
/// element-wise for N:M (zeros over all elements). Masks hold 0 or 1.
/// Runs at [`Level::best`]; [`sparsity_at`] picks the level.
///
/// ```
/// use prunemask::{sparsity, Pattern, Shape};
/// let mask = [0u8, 0, 1, 1,  0, 1, 1, 1];
/// let p = Pattern::parse("1x2").unwrap();
/// let s = sparsity(&p, &[Shape::matrix(2, 4)], &[&mask[..]]).unwrap();
/// assert_eq!((s.zero, s.total), (1, 4));
/// let s = sparsity(&Pattern::parse("2:4").unwrap(), &[Shape::matrix(2, 4)], &[&mask[..]]).unwrap();
/// assert_eq!((s.zero, s.total), (3, 8));
/// ```
pub fn sparsity(
    pattern: &Pattern,
    shapes: &[crate::Shape],
    masks: &[&[u8]],
) -> Result<Sparsity, Error> {
    sparsity_at(Level::best(), pattern, shapes, masks)
}

/// [`sparsity`] at a given instruction-set level (every level gives the
/// same counts and errors). A level this CPU lacks is a
/// [`ErrorKind::LevelUnavailable`] error.
///
/// ```
/// use prunemask::{sparsity_at, ErrorKind, Level, Pattern, Shape};
/// let mask = [0u8, 0, 1, 1,  0, 0, 1, 0];
/// let p = Pattern::parse("2x1").unwrap();
/// for level in Level::ALL {
///     match sparsity_at(level, &p, &[Shape::matrix(2, 4)], &[&mask[..]]) {
///         Ok(s) => assert_eq!((s.zero, s.total), (2, 4)),
///         Err(e) => assert_eq!(e.kind(), &ErrorKind::LevelUnavailable { level }),
///     }
/// }
/// ```
pub fn sparsity_at(
    level: Level,
    pattern: &Pattern,
    shapes: &[crate::Shape],
    masks: &[&[u8]],
) -> Result<Sparsity, Error> {
    check_level(level)?;
    check_count("masks", shapes.len(), masks.len())?;
    let geometry = pattern.geometry();
    let mut out = Sparsity::default();
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
        let grid = match geometry {
            Geometry::Block { .. } => geometry.grid(&view).ok(),
            Geometry::NInM { .. } => None,
        };
        // The level counts zero elements (and checks the bytes) of any
        // mask, and all-zero blocks of a matrix.
        let blocks = grid
            .filter(|_| view.is_contiguous())
            .map(|g| (g.unit_rows, g.unit_cols));
        let counted = crate::arch::mask_zeros(level, m, view.cols(), blocks);
        if counted.is_none_or(|c| c.is_none()) {
            if let Some(index) = m.iter().position(|&v| v > 1) {
                return Err(Error::in_layer(
                    i,
                    ErrorKind::MaskValue {
                        index,
                        value: m[index],
                    },
                ));
            }
        }
        let counted = counted.flatten();
        match (geometry, grid) {
            (Geometry::NInM { .. }, _) => {
                out.zero += counted.unwrap_or_else(|| m.iter().filter(|&&v| v == 0).count() as u64);
                out.total += m.len() as u64;
            }
            (Geometry::Block { .. }, Some(grid)) => {
                out.zero += match (counted, blocks) {
                    (Some(zero), Some(_)) => zero,
                    _ => zero_blocks(&view, grid, m),
                };
                out.total += grid.units() as u64;
            }
            (Geometry::Block { .. }, None) => {}
        }
    }
    Ok(out)
}

/// The scalar reference: all-zero blocks, each read through the view.
fn zero_blocks(view: &View, grid: Grid, m: &[u8]) -> u64 {
    let mut zero = 0;
    for ur in 0..grid.rows {
        for uc in 0..grid.cols {
            let (r0, c0) = (ur * grid.unit_rows, uc * grid.unit_cols);
            let all_zero = (r0..r0 + grid.unit_rows)
                .all(|r| view.run(r, c0).take(grid.unit_cols).all(|x| m[x] == 0));
            zero += all_zero as u64;
        }
    }
    zero
}
