//! Masks in the split selection's own pass: each worker's gather writes its
//! layers' masks provisionally (units below the range pruned, above it
//! kept, inside it marked unsettled), and once the plan is known a pass
//! over the masks settles the few unsettled units from the keys the part
//! collected, in pool order. One scoring pass instead of two; the masks
//! equal [`write_mask`](super::mask::write_mask)'s bit for bit.

use super::mask::{check_planned, write_planned, write_tile, MaskValue};
use super::options::Options;
use super::planner;
use super::report::LayerPlan;
use super::{check_count, check_mask};
use crate::arch::all::inlined;
use crate::arch::Level;
use crate::score::{first_non_mark, TILE};
use crate::select::{PartKeys, SplitRange, Units};
use crate::vocab::error::Error;
use crate::vocab::ext::Tile;
use crate::vocab::scores::Layer;

/// A provisional mark: the unit's key is inside the split range (or'ed
/// with an N:M element's keep mark).
const UNSETTLED: u8 = 2;

/// One worker's part with its layers' provisional masks (see
/// `Pruner::gather_part_masked`).
pub(crate) fn gather_part_masked<'a, M: MaskValue>(
    level: Level,
    layers: &[Layer<'a>],
    first: usize,
    opts: &Options,
    range: &SplitRange,
    out: &mut [u64],
    masks: &mut [&mut [M]],
) -> Result<Option<usize>, Error> {
    level.check()?;
    check_count("masks", layers.len(), masks.len())?;
    for (i, (layer, mask)) in layers.iter().zip(masks.iter()).enumerate() {
        check_mask(first.saturating_add(i), layer, mask.len())?;
    }
    let mut write = |index: usize,
                     units: &Units<'a>,
                     tile: &Tile<'a>,
                     scores: &[f32],
                     keep: &[u8],
                     (low, high): (f32, f32)| {
        // Conv views are written when settled: their masks are not in
        // pool order.
        let Some(mask) = masks.get_mut(index.wrapping_sub(first)) else {
            return;
        };
        if !units.tile().view.is_contiguous() {
            return;
        }
        let mut kept = [0u8; TILE];
        crate::arch::vectorized(
            units.level(),
            inlined(
                #[inline(always)]
                || {
                    for (&x, k) in scores.iter().zip(kept.iter_mut()) {
                        let inside = (low <= x) & (x <= high);
                        *k = (x > high) as u8 | (inside as u8 * UNSETTLED);
                    }
                },
            ),
        );
        write_tile(units, tile, M::marks(mask), &kept[..scores.len()], keep);
    };
    planner::gather_part(level, layers, first, opts, range, out, Some(&mut write))
}

/// How a layer's mask is finished.
enum Way {
    /// Its unsettled units settled from the part's candidates
    /// `start..start + count`.
    Settle { start: usize, count: usize },
    /// Written whole from its plan.
    Rewrite,
}

/// Finishes the masks of a part's layers from their plans (see
/// `Pruner::settle_part`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn settle_part<M: MaskValue>(
    level: Level,
    layers: &[Layer<'_>],
    first: usize,
    opts: &Options,
    range: &SplitRange,
    part: &[u64],
    plans: &[LayerPlan],
    masks: &mut [&mut [M]],
) -> Result<(), Error> {
    level.check()?;
    check_count("plans", layers.len(), plans.len())?;
    check_count("masks", layers.len(), masks.len())?;
    let keys = PartKeys::of(part, range)
        .filter(|_| planner::scoring_hash(opts) == range.scoring)
        .filter(|k| k.span() == (first as u64, layers.len() as u64));
    let scoring = opts.scoring(level);
    // How layer `i` (the `pool`-th the pattern fits) is finished.
    let way_of = |i: usize, pool: usize, units: &Units<'_>| {
        let rule = plans[i].rule;
        match &keys {
            Some(keys)
                if units.tile().view.is_contiguous()
                    && rule.prunes
                    && rule.per_row.is_none()
                    && (range.lo..=range.hi).contains(&rule.key) =>
            {
                keys.layer(pool)
                    .map_or(Way::Rewrite, |(start, count)| Way::Settle { start, count })
            }
            _ => Way::Rewrite,
        }
    };
    // Every layer checked before any is written.
    let mut pool = 0usize;
    for (i, ((layer, plan), mask)) in layers.iter().zip(plans).zip(masks.iter()).enumerate() {
        let index = first.saturating_add(i);
        check_mask(index, layer, mask.len())?;
        let way = match scoring.units(index, layer)? {
            Ok(units) => {
                pool += 1;
                way_of(i, pool - 1, &units)
            }
            Err(_) => Way::Rewrite,
        };
        // The gather scored a settled layer's every unit: its scores need
        // no second look.
        let scan = matches!(way, Way::Rewrite);
        check_planned(level, layer, opts, plan, mask.len(), scan)
            .map_err(|e| Error::in_layer(index, e.kind().clone()))?;
    }
    let mut pool = 0usize;
    for (i, ((layer, plan), mask)) in layers.iter().zip(plans).zip(masks.iter_mut()).enumerate() {
        let index = first.saturating_add(i);
        let settled = match (&keys, scoring.units(index, layer)?) {
            (Some(keys), Ok(units)) => {
                pool += 1;
                match way_of(i, pool - 1, &units) {
                    Way::Settle { start, count } => {
                        let cands = Candidates { keys, start, count };
                        settle(
                            &units,
                            M::marks(mask),
                            &cands,
                            plan.rule.key,
                            plan.rule.quota,
                        )
                    }
                    Way::Rewrite => false,
                }
            }
            _ => false,
        };
        if settled {
            M::widen(level, mask);
        } else {
            M::write_marks(level, mask, |marks| {
                write_planned(level, layer, opts, plan, marks)
            })
            .map_err(|e| e.at_layer(index))?;
        }
    }
    Ok(())
}

/// A layer's candidates in a part, in pool order.
struct Candidates<'k, 'p> {
    keys: &'k PartKeys<'p>,
    start: usize,
    count: usize,
}

/// Settles a layer's unsettled units in pool order: the `c`-th one met in
/// the mask (row-major, at its first element) has the `c`-th candidate's
/// key; pruned below `key`, and the first `quota` equal to it. False if
/// the marks do not line up with the candidates (a mask not as its gather
/// left it): the caller then rewrites the layer.
fn settle(
    units: &Units<'_>,
    marks: &mut [u8],
    cands: &Candidates<'_, '_>,
    key: u32,
    quota: u64,
) -> bool {
    let grid = *units.grid();
    let cols = units.tile().view.cols();
    let (bn, bm) = (grid.unit_rows, grid.unit_cols);
    if cols == 0 || bn == 0 || bm == 0 {
        return cands.count == 0;
    }
    let (mut c, mut left) = (0usize, quota);
    let mut end = 0usize;
    for ur in 0..grid.rows {
        let r = ur * bn;
        let (start, row_end) = (r * cols, (r + 1) * cols);
        end = (r + bn) * cols;
        if end > marks.len() {
            return false;
        }
        // A unit is met first in the unit row's first view row, at its
        // origin (every element of an unsettled unit is marked).
        let mut at = start;
        while let Some(p) = next_unsettled(&marks[..row_end], at) {
            let col = p - start;
            let uc = col / bm;
            if col % bm != 0 || uc >= grid.cols || c >= cands.count {
                return false;
            }
            let Some(k) = cands.keys.key(cands.start + c) else {
                return false;
            };
            c += 1;
            let pruned = k < key || (k == key && left > 0);
            if k == key {
                left = left.saturating_sub(1);
            }
            for rr in r..r + bn {
                let s = rr * cols + col;
                let Some(unit) = marks.get_mut(s..s + bm) else {
                    return false;
                };
                for m in unit {
                    if *m < UNSETTLED {
                        return false;
                    }
                    *m = if pruned { *m & 1 } else { 1 };
                }
            }
            at = p + bm;
        }
        // Its other view rows (contiguous) hold settled marks only now.
        if bn > 1 && first_non_mark(&marks[row_end..end], units.level()).is_some() {
            return false;
        }
    }
    c == cands.count && first_non_mark(&marks[end..], units.level()).is_none()
}

/// The first byte at or after `at` that is not a settled mark (0 or 1):
/// eight at a time, their high bits or'ed four words at once.
fn next_unsettled(marks: &[u8], at: usize) -> Option<usize> {
    const HIGH: u64 = 0xfefe_fefe_fefe_fefe;
    let rest = marks.get(at..)?;
    let (blocks, tail) = rest.as_chunks::<32>();
    for (b, block) in blocks.iter().enumerate() {
        let w = [0, 8, 16, 24].map(|o| {
            let mut word = [0u8; 8];
            word.copy_from_slice(&block[o..o + 8]);
            u64::from_le_bytes(word)
        });
        if (w[0] | w[1] | w[2] | w[3]) & HIGH == 0 {
            continue;
        }
        for (j, &w) in w.iter().enumerate() {
            let hit = w & HIGH;
            if hit != 0 {
                return Some(at + 32 * b + 8 * j + hit.trailing_zeros() as usize / 8);
            }
        }
    }
    let tail_at = at + 32 * blocks.len();
    tail.iter().position(|&m| m > 1).map(|j| tail_at + j)
}
