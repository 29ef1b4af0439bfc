//! Masks from a plan: one layer's mask written from its [`LayerPlan`], a
//! whole model pruned in one call, and a layer's unit scores.

use super::options::Options;
use super::planner::{check_layer, plan, validate};
use super::report::{LayerPlan, Scored, Status, Summary};
use super::{check_count, check_mask, check_nan};
use crate::arch::all::inlined;
use crate::arch::all::keys::{key_value, order_key};
use crate::arch::Level;
use crate::score::{MARKS, TILE};
use crate::select::{kth_in_row, Units};
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::Layer;
use crate::vocab::terms::Criterion;

/// Writes one layer's mask from its plan (see `Pruner::write_mask`). The
/// layer is checked again in full; on `Err` the mask is untouched.
pub(crate) fn write_mask(
    level: Level,
    layer: &Layer<'_>,
    opts: &Options,
    plan: &LayerPlan,
    mask: &mut [u8],
) -> Result<(), Error> {
    level.check()?;
    // One layer, no list: errors name no layer index.
    check_planned(level, layer, opts, plan, mask).map_err(|e| Error::new(e.kind().clone()))?;
    write_planned(level, layer, opts, plan, mask)
}

/// Everything [`write_mask`] checks before writing.
fn check_planned(
    level: Level,
    layer: &Layer<'_>,
    opts: &Options,
    plan: &LayerPlan,
    mask: &[u8],
) -> Result<(), Error> {
    check_mask(0, layer, mask)?;
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
        // |w| summed or compared never makes NaN out of numbers: a scan
        // for NaN elements checks what scoring would, at memory speed.
        Ok(units) if units.checks_nan() && opts.criterion == Criterion::Magnitude => {
            check_nan(0, layer, level)
        }
        // Signed scores can (inf - inf in a sum): score every unit.
        _ => validate(0, layer, &scoring),
    }
}

/// Writes a validated layer's mask.
fn write_planned(
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
pub(crate) fn prune(
    level: Level,
    scratch: &mut [u64],
    layers: &[Layer<'_>],
    opts: &Options,
    plans: &mut [LayerPlan],
    masks: &mut [&mut [u8]],
) -> Result<Summary, Error> {
    check_count("masks", layers.len(), masks.len())?;
    for (i, (layer, mask)) in layers.iter().zip(masks.iter()).enumerate() {
        check_mask(i, layer, mask)?;
    }
    let summary = plan(level, scratch, layers, opts, plans, None)?;
    for (i, ((layer, plan), mask)) in layers
        .iter()
        .zip(plans.iter())
        .zip(masks.iter_mut())
        .enumerate()
    {
        write_planned(level, layer, opts, plan, mask).map_err(|e| e.at_layer(i))?;
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
    let mut scores = [0.0f32; TILE];
    let mut marks = [0u8; MARKS];
    let (set, grid) = (units.kernels(), units.grid());
    let kind = set.kind;
    let (bn, bm) = (grid.unit_rows, grid.unit_cols);
    let (view, level) = (units.tile().view, units.level());
    units.tiles(kind.mask_tile(grid), |tile, first, n| {
        let (ur, uc) = (tile.unit_row, tile.first_unit);
        let written = kind.mask_scores(set, tile, &mut scores[..n], &mut marks);
        let keep = &marks[..written];
        units.check_scores(&scores[..n], first)?;
        let scores = &scores[..n];
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
        let kept = &kept[..n];
        for r in ur * bn..(ur + 1) * bn {
            let start = r * view.cols() + uc * bm;
            match mask.get_mut(start..start + n * bm) {
                // A matrix row: the tile's units side by side, written
                // in the level's vectors without a branch per unit.
                Some(row) if view.is_contiguous() => kind.write_row(level, row, kept, keep, bm),
                // A conv view: follow the index mapping. Element `j`
                // of unit `u`: kept units keep all, pruned blocks none,
                // pruned N:M groups their keep marks.
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
        Ok(())
    })
}
