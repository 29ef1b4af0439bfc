//! Masks from a plan: one layer's mask written from its [`LayerPlan`], a
//! whole model pruned in one call, and a layer's unit scores.

use super::options::Options;
use super::planner::{check_layer, plan, validate};
use super::report::{LayerPlan, Scored, Status, Summary};
use super::{check_count, check_mask, check_nan};
use crate::arch::all::inlined;
use crate::arch::all::keys::{key_value, order_key};
use crate::arch::Level;
use crate::score::{all_within, TILE};
use crate::select::{kth_in_row, Units};
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::ext::Tile;
use crate::vocab::scores::Layer;
use crate::vocab::terms::Criterion;

/// What a mask holds per element: `u8` (1 = keep, 0 = prune, the
/// library's own masks) or `f32` (1.0 / 0.0: INC's and PyTorch's masks,
/// to multiply weights with). The mask writers take either; an `f32` mask
/// is written as marks into its own first quarter, widened in place (no
/// buffer).
///
/// ```
/// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
/// let w = [4.0f32, 1.0, 3.0, 2.0];
/// let layers = [Layer::new(&w[..], Shape::matrix(1, 4))];
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
/// let mut mask = [9.0f32; 4];
/// Pruner::new().prune(&layers, &opts, &mut [LayerPlan::default()], &mut [&mut mask[..]]).unwrap();
/// assert_eq!(mask, [1.0, 0.0, 1.0, 0.0]);
/// ```
pub trait MaskValue: sealed::Marks {}

impl MaskValue for u8 {}
impl MaskValue for f32 {}

pub(crate) mod sealed {
    use crate::arch::Level;

    /// How marks (1 = keep, 0 = prune, bytes as the kernels write them)
    /// become mask values.
    pub trait Marks: Copy + Sized {
        /// The value of a mark.
        fn of_mark(mark: u8) -> Self;
        /// The mask seen as one mark byte per element (an `f32` mask's
        /// first quarter).
        fn marks(mask: &mut [Self]) -> &mut [u8];
        /// Makes the marks [`marks`](Marks::marks) holds values.
        fn widen(level: Level, mask: &mut [Self]);
        /// Runs `write` over the mask's marks, then makes them values
        /// (only if `write` succeeds).
        #[inline(always)]
        fn write_marks<E>(
            level: Level,
            mask: &mut [Self],
            write: impl FnOnce(&mut [u8]) -> Result<(), E>,
        ) -> Result<(), E> {
            write(Self::marks(mask))?;
            Self::widen(level, mask);
            Ok(())
        }
    }

    impl Marks for u8 {
        #[inline(always)]
        fn of_mark(mark: u8) -> Self {
            mark
        }

        #[inline(always)]
        fn marks(mask: &mut [u8]) -> &mut [u8] {
            mask
        }

        #[inline(always)]
        fn widen(_: Level, _: &mut [u8]) {}
    }

    impl Marks for f32 {
        #[inline(always)]
        fn of_mark(mark: u8) -> Self {
            f32::from(mark)
        }

        #[inline(always)]
        fn marks(mask: &mut [f32]) -> &mut [u8] {
            let n = mask.len();
            &mut bytemuck::cast_slice_mut::<f32, u8>(mask)[..n]
        }

        /// The marks are the mask's own first quarter: they widen in place
        /// from the back in one streaming pass: value `i` takes bytes
        /// `4i..4i + 4`, never below byte `i`, so every chunk is read
        /// before anything lands on it. No buffer; the kernels write a
        /// quarter of the bytes while they score (which measured faster
        /// than writing floats there, for 4x1 most of all).
        fn widen(level: Level, mask: &mut [f32]) {
            const CHUNK: usize = 64;
            let n = mask.len();
            crate::arch::vectorized(
                level,
                crate::arch::all::inlined(
                    #[inline(always)]
                    || {
                        let rem = n % CHUNK;
                        let mut end = n;
                        while end > rem {
                            let start = end - CHUNK;
                            let bytes = bytemuck::cast_slice::<f32, u8>(mask);
                            let Some(&marks) = bytes[start..].first_chunk::<CHUNK>() else {
                                break;
                            };
                            for (d, &m) in mask[start..end].iter_mut().zip(&marks) {
                                *d = f32::from(m);
                            }
                            end = start;
                        }
                        for i in (0..rem).rev() {
                            let m = bytemuck::cast_slice::<f32, u8>(mask)[i];
                            mask[i] = f32::from(m);
                        }
                    },
                ),
            );
        }
    }
}

/// Writes one layer's mask from its plan (see `Pruner::write_mask`). The
/// layer is checked again in full; on `Err` the mask is untouched.
pub(crate) fn write_mask<M: MaskValue>(
    level: Level,
    layer: &Layer<'_>,
    opts: &Options,
    plan: &LayerPlan,
    mask: &mut [M],
) -> Result<(), Error> {
    level.check()?;
    // One layer, no list: errors name no layer index.
    check_planned(level, layer, opts, plan, mask.len(), true)
        .map_err(|e| Error::new(e.kind().clone()))?;
    M::write_marks(level, mask, |mask| {
        write_planned(level, layer, opts, plan, mask)
    })
}

/// Everything [`write_mask`] checks before writing; without `scan`, not
/// the scores themselves (a pass that scored them all did).
pub(super) fn check_planned(
    level: Level,
    layer: &Layer<'_>,
    opts: &Options,
    plan: &LayerPlan,
    mask_len: usize,
    scan: bool,
) -> Result<(), Error> {
    check_mask(0, layer, mask_len)?;
    let scoring = opts.scoring(level);
    layer.check_scale(0, opts.criterion, &layer.checked_view(0)?)?;
    let units = scoring.units(0, layer)?;
    let report = plan.report();
    let fits = match (&units, report.status) {
        (Err(a), Status::Skipped(b)) => *a == b,
        (Ok(u), Status::Selected | Status::Bounded(_)) => u.count() as u64 == report.units,
        _ => false,
    };
    // Scored another way (pattern, reduction, criterion, ties, compat), the
    // plan's threshold key would select other units.
    let same_scoring = plan.scored == Scored::of(&scoring);
    if !fits || !same_scoring || report.elements != layer.scores.len() as u64 {
        return Err(Error::new(ErrorKind::PlanMismatch));
    }
    match units {
        _ if !scan => Ok(()),
        // |w| summed or compared never makes NaN out of numbers: a scan
        // for NaN elements checks what scoring would, at memory speed.
        Ok(units) if units.checks_nan() && opts.criterion == Criterion::Magnitude => {
            check_nan(0, layer, level)
        }
        // Signed scores can, through inf - inf in a sum; not where every
        // element is small enough that no sum of a unit's elements
        // overflows (half of f32::MAX over the unit's elements: rounding
        // stays below it), which a scan at memory speed shows. Else (or
        // for a NaN, whose error scoring names) score every unit.
        Ok(units)
            if units.checks_nan()
                && opts.criterion == Criterion::Scores
                && all_within(layer.scores, no_overflow(units.grid()), level) =>
        {
            Ok(())
        }
        _ => validate(0, layer, &scoring),
    }
}

/// The largest element magnitude at which no sum of a unit's elements
/// can overflow to an infinity.
fn no_overflow(grid: &crate::vocab::ext::Grid) -> f32 {
    f32::MAX / 2.0 / (grid.unit_rows as f32 * grid.unit_cols as f32)
}

/// Writes a validated layer's mask.
pub(super) fn write_planned(
    level: Level,
    layer: &Layer<'_>,
    opts: &Options,
    plan: &LayerPlan,
    mask: &mut [u8],
) -> Result<(), Error> {
    let rule = plan.rule;
    let units = match opts.scoring(level).units(0, layer)? {
        Ok(units) if rule.prunes => units,
        _ => {
            mask.fill(1);
            return Ok(());
        }
    };
    match rule.per_row {
        // Row scope: each unit row by its own threshold.
        Some(k) => (0..units.grid().rows).try_for_each(|r| {
            let row = units.row(r);
            let (key, quota) = kth_in_row(&row, k)?;
            write_units(&row, mask, key, quota)
        }),
        None => write_units(&units, mask, rule.key, rule.quota),
    }
    .map_err(Error::new)
}

/// Plans, then writes every mask in one more pass (see `Pruner::prune`).
/// Nothing is written unless every layer and buffer is valid.
pub(crate) fn prune<M: MaskValue>(
    level: Level,
    scratch: &mut [u64],
    layers: &[Layer<'_>],
    opts: &Options,
    plans: &mut [LayerPlan],
    masks: &mut [&mut [M]],
) -> Result<Summary, Error> {
    check_count("masks", layers.len(), masks.len())?;
    for (i, (layer, mask)) in layers.iter().zip(masks.iter()).enumerate() {
        check_mask(i, layer, mask.len())?;
    }
    let summary = plan(level, scratch, layers, opts, plans, None)?;
    for (i, ((layer, plan), mask)) in layers
        .iter()
        .zip(plans.iter())
        .zip(masks.iter_mut())
        .enumerate()
    {
        M::write_marks(level, mask, |mask| {
            write_planned(level, layer, opts, plan, mask)
        })
        .map_err(|e| e.at_layer(i))?;
    }
    Ok(summary)
}

/// The unit scores of one layer in pool order (see `Pruner::unit_scores`).
pub(crate) fn unit_scores(
    level: Level,
    layer: &Layer<'_>,
    opts: &Options,
    out: &mut [f32],
) -> Result<usize, Error> {
    level.check()?;
    opts.unit_ratios()
        .map_err(|e| Error::new(e.kind().clone()))?;
    let scoring = opts.scoring(level);
    let units = match scoring
        .units(0, layer)
        .map_err(|e| Error::new(e.kind().clone()))?
    {
        Ok(units) => units,
        Err(reason) => return Err(Error::new(ErrorKind::NotFitting { reason })),
    };
    if out.len() != units.count() {
        return Err(Error::new(ErrorKind::OutputLength {
            expected: units.count(),
            got: out.len(),
        }));
    }
    check_layer(0, layer, &scoring).map_err(|e| Error::new(e.kind().clone()))?;
    units.for_each_key(|_, _| {}).map_err(Error::new)?;
    units
        .for_each_key(|u, key| {
            if let Some(o) = out.get_mut(u) {
                *o = key_value(key);
            }
        })
        .map_err(Error::new)?;
    Ok(units.count())
}

/// Writes the layer's whole mask, tile by tile in pool order: the units
/// with keys below `key` are pruned, and the first `quota` (in pool
/// order) equal to it. Every element is written once (1 = keep,
/// 0 = prune).
fn write_units(units: &Units<'_>, mask: &mut [u8], key: u32, quota: u64) -> Result<(), ErrorKind> {
    let mut equal_left = quota;
    let level = units.level();
    units.for_each_masked(|tile, _, scores, keep| {
        let n = scores.len();
        // Per unit: 1 = kept, 0 = pruned. Above the key is kept, without
        // a branch; ties, if any, are settled after, in pool order.
        let mut kept = [1u8; TILE];
        let mut ties = 0;
        crate::arch::vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    // Locals, not the captured references: LLVM would
                    // reload and store them every unit.
                    let (key, mut equal) = (key, 0);
                    for (&x, k) in scores.iter().zip(kept.iter_mut()) {
                        let unit = order_key(x);
                        *k = (unit > key) as u8;
                        equal += (unit == key) as usize;
                    }
                    ties = equal;
                },
            ),
        );
        if ties > 0 {
            for (&x, k) in scores.iter().zip(kept.iter_mut()) {
                if order_key(x) == key {
                    *k = (equal_left == 0) as u8;
                    equal_left = equal_left.saturating_sub(1);
                }
            }
        }
        write_tile(units, tile, mask, &kept[..n], keep);
        Ok(())
    })
}

/// Writes a tile's units into the layer's mask: unit `u` gets `kept[u]`
/// on every element, or'ed with its keep marks (`keep`, N:M groups; none
/// for blocks): 1 kept, 0 (or the marks) pruned. Every element of the
/// tile's units is written once.
pub(super) fn write_tile(
    units: &Units<'_>,
    tile: &Tile<'_>,
    mask: &mut [u8],
    kept: &[u8],
    keep: &[u8],
) {
    let (kind, grid) = (units.kernels().kind, units.grid());
    let (bn, bm) = (grid.unit_rows, grid.unit_cols);
    let (view, level) = (units.tile().view, units.level());
    let (ur, uc, n) = (tile.unit_row, tile.first_unit, kept.len());
    for r in ur * bn..(ur + 1) * bn {
        let start = r * view.cols() + uc * bm;
        match mask.get_mut(start..start + n * bm) {
            // A matrix row: the tile's units side by side, written in the
            // level's vectors without a branch per unit.
            Some(row) if view.is_contiguous() => {
                kind.write_row(level, row, kept, keep, bm);
                // The next tile's part of this row (or of the next).
                let next = start + n * bm;
                let ahead = mask.get(next..next.saturating_add(n * bm).min(mask.len()));
                crate::arch::prefetch_write(level, ahead.unwrap_or(&[]));
            }
            // A conv view: follow the index mapping. Element `j` of unit
            // `u`: kept units keep all, pruned blocks none, pruned N:M
            // groups their keep marks.
            _ => {
                for (u, &k) in kept.iter().enumerate() {
                    for (j, i) in view.run(r, (uc + u) * bm).take(bm).enumerate() {
                        if let Some(d) = mask.get_mut(i) {
                            *d = k | keep.get(u * bm + j).copied().unwrap_or(0);
                        }
                    }
                }
            }
        }
    }
}
