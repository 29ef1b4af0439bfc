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
use crate::score::first_non_mark;
use crate::select::{PartKeys, SplitRange, Units};
use crate::vocab::error::Error;
use crate::vocab::ext::Tile;
use crate::vocab::scores::Layer;

/// A provisional mark: the unit's key is inside the split range (or'ed
/// with an N:M element's keep mark).
const UNSETTLED: u8 = crate::arch::all::range::INSIDE;

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
    let mut write =
        |index: usize, units: &Units<'a>, tile: &Tile<'a>, places: &[u8], keep: &[u8]| {
            // Conv views are written when settled: their masks are not in
            // pool order.
            let Some(mask) = masks.get_mut(index.wrapping_sub(first)) else {
                return;
            };
            if units.tile().view.is_contiguous() {
                // A unit above the range is kept, one below it pruned, one
                // inside it unsettled: the places are the marks.
                write_tile(units, tile, M::marks(mask), places, keep);
            }
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
    let mut settled = false;
    crate::arch::vectorized(
        units.level(),
        inlined(
            #[inline(always)]
            || settled = settle_rows(units, marks, cands, key, quota),
        ),
    );
    settled && {
        let grid = *units.grid();
        let end = grid.rows * grid.unit_rows * units.tile().view.cols();
        first_non_mark(marks.get(end..).unwrap_or(&[]), units.level()).is_none()
    }
}

/// [`settle`]'s walk over the unit rows, in the level's vectors: the first
/// view row of each is read 64 marks at a time as a bit mask of the
/// unsettled ones, and a unit is settled at each set bit.
#[inline(always)]
fn settle_rows(
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
    for ur in 0..grid.rows {
        let r = ur * bn;
        let (start, row_end, end) = (r * cols, (r + 1) * cols, (r + bn) * cols);
        if end > marks.len() {
            return false;
        }
        // Its other view rows are unsettled exactly where the first is: a
        // sequential check, which also brings them into cache for the
        // writes below (found one unit at a time, they missed).
        if bn > 1 && !same_unsettled(&marks[start..end], cols) {
            return false;
        }
        // A unit is met first in the unit row's first view row, at its
        // origin (every element of an unsettled unit is marked): the row
        // read 64 marks at a time as a bit mask of the unsettled ones.
        let mut block = start;
        while block < row_end {
            let len = (row_end - block).min(64);
            let mut bits = unsettled_bits(&marks[block..block + len]);
            while bits != 0 {
                let p = block + bits.trailing_zeros() as usize;
                let col = p - start;
                let uc = col / bm;
                if !col.is_multiple_of(bm) || uc >= grid.cols || c >= cands.count {
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
                // The unit's other marks in the block are settled now (past
                // the block, the next one is read after these writes).
                let past = (p + bm - block) as u32;
                bits &= u64::MAX.checked_shl(past).unwrap_or(0);
            }
            block += len;
        }
    }
    c == cands.count
}

/// Bit `j` set where mark `j` of a run of at most 64 is unsettled (above
/// 1), a word of eight marks at a time: each byte's bits above bit 0
/// folded into its top bit, and the eight top bits gathered by a multiply.
#[inline(always)]
fn unsettled_bits(marks: &[u8]) -> u64 {
    const HIGH: u64 = 0xfefe_fefe_fefe_fefe;
    const LOW: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const TOP: u64 = 0x8080_8080_8080_8080;
    let byte_bits = |word: u64| {
        let t = word & HIGH;
        let top = (((t & LOW) + LOW) | t) & TOP;
        (top >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
    };
    let (words, tail) = marks.as_chunks::<8>();
    // Most runs have none (N:M's above all): one test for the whole run.
    let any = (words.iter()).fold(0, |any, w| any | u64::from_le_bytes(*w));
    if any & HIGH == 0 && tail.iter().all(|&m| m < 2) {
        return 0;
    }
    let mut bits = 0u64;
    for (i, w) in words.iter().enumerate() {
        bits |= byte_bits(u64::from_le_bytes(*w)) << (8 * i);
    }
    for (j, &m) in tail.iter().enumerate() {
        bits |= u64::from(m > 1) << (8 * words.len() + j);
    }
    bits
}

/// Whether every view row of a unit row (`rows`, rows of `cols` marks)
/// has its unsettled marks where the first row has them: then settling
/// the units met in the first row leaves no unsettled mark in the others.
#[inline(always)]
fn same_unsettled(rows: &[u8], cols: usize) -> bool {
    let Some((first, others)) = rows.split_at_checked(cols) else {
        return false;
    };
    let mut differ = false;
    for row in others.chunks_exact(cols) {
        for (&a, &b) in first.iter().zip(row) {
            differ |= (a > 1) != (b > 1);
        }
    }
    !differ && others.len().is_multiple_of(cols)
}
