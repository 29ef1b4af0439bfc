//! The planner: which units of which layers to prune, in one pool or one
//! per layer, with the tie rule and the per-layer bounds.

use core::cell::Cell;

use super::options::{Options, Scope, UnitRatios};
use super::report::{Bound, LayerPlan, LayerReport, Rule, Scored, Status, Summary, Tally};
use super::{check_count, check_nan};
use crate::arch::all::keys::{key_value, order_key};
use crate::arch::Level;
use crate::select::{
    self, kth_smallest, merge_parts, prepare, split_sample, whole, Counts, MergeError, Ready,
    Scoring, Scratch, SplitRange, TileMarks, Units, STACK_BINS,
};
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::ext::{Extent, Geometry};
use crate::vocab::scores::Layer;
use crate::vocab::terms::Ties;
use crate::CapMode;

/// Whether the selection counts each unit's pruned elements: inclusive N:M
/// groups lose N or more (ties at the N-th smallest).
pub(crate) fn counts_elements(opts: &Options) -> bool {
    opts.ties == Ties::Inclusive && opts.pattern.kernels().pruned_per_group() > 0
}

/// A hash (FNV-1a) of what unit scores depend on: the pattern's name and
/// geometry, the reduction, criterion, ties and compat (not the target or
/// the bounds, which only the merge uses). Parts scored otherwise are
/// refused.
pub(crate) fn scoring_hash(opts: &Options) -> u64 {
    use core::hash::{Hash, Hasher};
    struct Fnv(u64);
    impl Hasher for Fnv {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    let mut h = Fnv(0xcbf2_9ce4_8422_2325);
    opts.pattern.name().hash(&mut h);
    let extent = |e: Extent| match e {
        Extent::Fixed(n) => n as u64,
        Extent::Channel => u64::MAX,
    };
    let geometry = match opts.pattern.geometry() {
        Geometry::Block { n, m } => [0, extent(n), extent(m)],
        Geometry::NInM { n, m } => [1, n as u64, m as u64],
    };
    geometry.hash(&mut h);
    (opts.reduce, opts.criterion, opts.ties, opts.compat).hash(&mut h);
    h.finish()
}

/// Checks what scoring a layer's units does not: shape and length, and NaN
/// in scores no built-in kernel reads (skipped layers, custom kernels).
pub(crate) fn check_layer(index: usize, layer: &Layer<'_>, scoring: &Scoring) -> Result<(), Error> {
    let view = layer.checked_view(index)?;
    layer.check_scale(index, scoring.criterion, &view)?;
    match scoring.units(index, layer)? {
        Ok(units) if units.checks_nan() => Ok(()),
        _ => check_nan(index, layer, scoring.level),
    }
}

/// Checks a layer completely: [`check_layer`], then every unit score.
pub(crate) fn validate(index: usize, layer: &Layer<'_>, scoring: &Scoring) -> Result<(), Error> {
    check_layer(index, layer, scoring)?;
    match scoring.units(index, layer)? {
        Ok(units) => units
            .for_each_key(|_, _| {})
            .map_err(|kind| Error::in_layer(index, kind)),
        Err(_) => Ok(()),
    }
}

/// The checks every planning call starts with, in this order: the level,
/// the options' ratios, the count of `plans` (if given), then each layer
/// (`first + i` in errors): shape, scale, NaN a kernel does not see, and
/// its own target. Returns the unit ratios and the scoring.
fn check_all(
    level: Level,
    layers: &[Layer<'_>],
    first: usize,
    opts: &Options,
    plans: Option<usize>,
) -> Result<(UnitRatios, Scoring), Error> {
    level.check()?;
    let ratios = opts.unit_ratios()?;
    if let Some(plans) = plans {
        check_count("plans", layers.len(), plans)?;
    }
    let scoring = opts.scoring(level);
    for (i, layer) in layers.iter().enumerate() {
        let index = first.saturating_add(i);
        check_layer(index, layer, &scoring)?;
        opts.layer_target(index, layer.target_sparsity, &ratios)?;
    }
    Ok((ratios, scoring))
}

/// The valid layers of a list, as `(index, units)`.
fn valid_units<'l, 'a>(
    layers: &'l [Layer<'a>],
    scoring: &'l Scoring,
) -> impl Iterator<Item = (usize, Units<'a>)> + 'l {
    layers
        .iter()
        .enumerate()
        .filter_map(move |(i, layer)| match scoring.units(i, layer) {
            Ok(Ok(units)) => Some((i, units)),
            _ => None,
        })
}

/// Plans the pruning of `layers` at `level`, with `scratch` (see
/// `Pruner::plan`): fills one plan per layer and returns the totals.
/// Nothing is written unless every layer is valid.
pub(crate) fn plan(
    level: Level,
    scratch: &mut [u64],
    layers: &[Layer<'_>],
    opts: &Options,
    plans: &mut [LayerPlan],
    split: Option<(&SplitRange, &[&[u64]])>,
) -> Result<Summary, Error> {
    let (ratios, scoring) = check_all(level, layers, 0, opts, Some(plans.len()))?;
    let mut stack = [0u64; STACK_BINS];
    let elements = counts_elements(opts);
    let mut scratch = Scratch::new(&mut stack, scratch, elements);
    // Every unit is scored (and so checked) before any report is written:
    // globally by the selection's first pass, which it then goes on from.
    let ready = match opts.scope {
        Scope::Global => {
            let units: u64 = valid_units(layers, &scoring)
                .map(|(_, u)| u.count() as u64)
                .sum();
            let k = ratios.target.floor(units);
            let pool = || valid_units(layers, &scoring);
            match split {
                // The workers scored (and checked) every unit.
                Some((range, parts)) => {
                    let pool_layers = pool().count();
                    let wrong = |reason| Error::new(ErrorKind::SplitParts { part: None, reason });
                    if (range.k, range.units, range.layers, range.pool)
                        != (k, units, layers.len(), pool_layers)
                        || range.elements != elements
                        || range.scoring != scoring_hash(opts)
                    {
                        return Err(wrong("the range is not these layers' and options'"));
                    }
                    let merged = merge_parts(pool, range, parts, &mut scratch).map_err(|e| {
                        let (part, reason) = match e {
                            MergeError::Malformed(i) => (Some(i), "its words are not a part"),
                            MergeError::Layers(Some(i)) => {
                                (Some(i), "it does not start where the part before ends")
                            }
                            MergeError::Layers(None) => {
                                (None, "the parts do not hold these layers, in order")
                            }
                            MergeError::Range(i) => {
                                (Some(i), "it was gathered against another range or scoring")
                            }
                            MergeError::Inconsistent(i) => {
                                (Some(i), "its counts do not fit these layers or the range")
                            }
                        };
                        Error::new(ErrorKind::SplitParts { part, reason })
                    })?;
                    match merged {
                        Some(ready) => ready,
                        // More candidates than the scratch holds: passes.
                        None => prepare(pool, k, &mut scratch)?,
                    }
                }
                None => prepare(pool, k, &mut scratch)?,
            }
        }
        Scope::Local | Scope::Row => {
            if split.is_some() {
                return Err(Error::new(ErrorKind::SplitParts {
                    part: None,
                    reason: "only a global selection splits",
                }));
            }
            for (i, layer) in layers.iter().enumerate() {
                validate(i, layer, &scoring)?;
            }
            Ready::Nothing
        }
    };
    let mut summary = Summary {
        layers: layers.len(),
        ..Summary::default()
    };
    for (i, (layer, plan)) in layers.iter().zip(plans.iter_mut()).enumerate() {
        let elements = layer.scores.len() as u64;
        *plan = match scoring.units(i, layer)? {
            Ok(units) => LayerPlan {
                report: LayerReport {
                    status: Status::Selected,
                    units: units.count() as u64,
                    elements,
                    ..LayerReport::default()
                },
                scored: Scored::of(&scoring),
                in_pool: opts.scope == Scope::Global,
                ..LayerPlan::default()
            },
            Err(reason) => LayerPlan {
                report: LayerReport {
                    status: Status::Skipped(reason),
                    elements,
                    ..LayerReport::default()
                },
                scored: Scored::of(&scoring),
                ..LayerPlan::default()
            },
        };
    }
    let mut planner = Planner {
        layers,
        opts,
        scoring,
        ratios,
        plans,
        scratch,
        selections: 0,
    };
    match opts.scope {
        Scope::Global => {
            let units: u64 = planner.plans.iter().map(|p| p.report.units).sum();
            let k = ratios.target.floor(units);
            summary.target_units = k;
            summary.threshold = planner.select(k, ready)?;
        }
        Scope::Local => {
            for (i, layer) in layers.iter().enumerate() {
                if planner.plans[i].report.status == Status::Selected {
                    planner.plans[i].in_pool = true;
                    let target = opts.layer_target(i, layer.target_sparsity, &ratios)?;
                    let k = target.floor(planner.plans[i].report.units);
                    summary.target_units += k;
                    planner.select(k, Ready::Nothing)?;
                }
            }
        }
        Scope::Row => {
            for i in 0..layers.len() {
                if planner.plans[i].report.status == Status::Selected {
                    summary.target_units += planner.plan_rows(i)?;
                }
            }
        }
    }
    summary.selections = planner.selections;
    for r in planner.plans.iter().map(|p| &p.report) {
        summary.units += r.units;
        summary.pruned_units += r.pruned_units;
        summary.elements += r.elements;
        summary.pruned_elements += r.pruned_elements;
        match r.status {
            Status::Skipped(_) => summary.skipped += 1,
            Status::Bounded(_) => summary.bounded += 1,
            _ => {}
        }
    }
    Ok(summary)
}

/// The first step of a split selection (see `Pruner::split_range`): the
/// layers and options checked, and a key range from a sample of the pool.
pub(crate) fn split_range(
    level: Level,
    scratch: &mut [u64],
    layers: &[Layer<'_>],
    opts: &Options,
) -> Result<Option<SplitRange>, Error> {
    let (ratios, scoring) = check_all(level, layers, 0, opts, None)?;
    let elements = counts_elements(opts);
    let Some(mut scratch) = Scratch::wide_only(scratch, elements) else {
        return Ok(None);
    };
    if opts.scope != Scope::Global {
        return Ok(None);
    }
    let pool = || valid_units(layers, &scoring);
    let units: u64 = pool().map(|(_, u)| u.count() as u64).sum();
    let k = ratios.target.floor(units);
    Ok(
        split_sample(pool, k, &mut scratch).map(|(lo, hi)| SplitRange {
            lo,
            hi,
            k,
            units,
            layers: layers.len(),
            pool: pool().count(),
            elements,
            scoring: scoring_hash(opts),
        }),
    )
}

/// One worker's part of a split selection (see `Pruner::gather_part`):
/// `layers` are the pool's layers `first..`, errors name them so.
/// With `marks`, each pool layer's provisional mask is written in the same
/// pass (see `Pruner::gather_part_masked`).
pub(crate) fn gather_part<'a>(
    level: Level,
    layers: &[Layer<'a>],
    first: usize,
    opts: &Options,
    range: &SplitRange,
    out: &mut [u64],
    marks: Option<&mut TileMarks<'_, 'a>>,
) -> Result<Option<usize>, Error> {
    let (_, scoring) = check_all(level, layers, first, opts, None)?;
    let wrong = |reason| Error::new(ErrorKind::SplitParts { part: None, reason });
    if first
        .checked_add(layers.len())
        .is_none_or(|end| end > range.layers)
    {
        return Err(wrong("the layers are not a run of the range's"));
    }
    if scoring_hash(opts) != range.scoring
        || counts_elements(opts) != range.elements
        || opts.scope != Scope::Global
    {
        return Err(wrong("the range is not these options'"));
    }
    let pool = || {
        (layers.iter().enumerate()).filter_map(|(i, layer)| {
            match scoring.units(first.saturating_add(i), layer) {
                Ok(Ok(units)) => Some((first.saturating_add(i), units)),
                _ => None,
            }
        })
    };
    let span = (first, layers.len());
    select::gather_part(pool, span, range, out, marks)
}

struct Planner<'l, 'a, 'r, 's> {
    layers: &'l [Layer<'a>],
    opts: &'l Options,
    scoring: Scoring,
    ratios: UnitRatios,
    plans: &'r mut [LayerPlan],
    scratch: Scratch<'s>,
    selections: u32,
}

impl<'a> Planner<'_, 'a, '_, '_> {
    /// Units of a layer already validated (never skipped here).
    fn units(&self, i: usize) -> Result<Units<'a>, Error> {
        self.scoring
            .units(i, &self.layers[i])?
            .map_err(|_| Error::in_layer(i, ErrorKind::PlanMismatch))
    }

    /// Plans layer `i` under row scope: every unit row prunes its own
    /// `k_row = floor(target · units in the row)`, held at a bound if it
    /// crosses one; returns the units the target asks for. Exact ties
    /// (the options are checked): the counts are known without selecting,
    /// and the mask writer finds each row's threshold.
    fn plan_rows(&mut self, i: usize) -> Result<u64, Error> {
        let units = self.units(i)?;
        let grid = *units.grid();
        let (rows, cols) = (grid.rows as u64, grid.cols as u64);
        let target = self
            .opts
            .layer_target(i, self.layers[i].target_sparsity, &self.ratios)?;
        let asked = target.floor(cols);
        let UnitRatios { max, min, .. } = self.ratios;
        let (k_row, status) = if max.exceeded_by(asked, cols) {
            (max.floor(cols), Status::Bounded(Bound::Max))
        } else if min.unmet_by(asked, cols) {
            (min.floor(cols), Status::Bounded(Bound::Min))
        } else {
            (asked, Status::Selected)
        };
        let plan = &mut self.plans[i];
        plan.rule = Rule {
            prunes: k_row > 0,
            per_row: Some(k_row),
            ..Rule::default()
        };
        let r = &mut plan.report;
        r.status = status;
        r.pruned_units = k_row * rows;
        r.pruned_elements = r.pruned_units * units.kernels().pruned_per_unit(&grid);
        r.threshold = None;
        Ok(asked * rows)
    }

    /// Selects `k` units over the layers in the pool, holding layers at their
    /// bounds; returns the last pool threshold. `ready`: what the first pass
    /// over the whole pool left in the scratch.
    fn select(&mut self, k: u64, mut ready: Ready) -> Result<Option<f32>, Error> {
        let mut remaining = k;
        let mut threshold = None;
        loop {
            let pool: u64 = self
                .plans
                .iter()
                .filter(|p| p.in_pool)
                .map(|p| p.report.units)
                .sum();
            if pool == 0 {
                return Ok(threshold);
            }
            let k_now = remaining.min(pool);
            if k_now == 0 {
                // k < 1, or held layers used up k: the rest keep everything,
                // but still go through the bound check below, as one may be
                // under `min_sparsity_ratio_per_op` (with the default minimum of 0, k < 1
                // prunes nothing).
                for p in self.plans.iter_mut().filter(|p| p.in_pool) {
                    p.keep_all();
                }
            } else {
                let ready = core::mem::replace(&mut ready, Ready::Nothing);
                self.select_round(k_now, ready, &mut threshold)?;
            }
            let mut crossed = false;
            for i in 0..self.plans.len() {
                if !self.plans[i].in_pool {
                    continue;
                }
                if let Some((bound, k_layer)) = self.crossing(&self.plans[i].report) {
                    crossed = true;
                    self.hold(i, bound, k_layer)?;
                    remaining = remaining.saturating_sub(self.plans[i].report.pruned_units);
                }
            }
            if !crossed || self.opts.cap == CapMode::Seed {
                for p in self.plans.iter_mut().filter(|p| p.in_pool) {
                    p.in_pool = false;
                }
                return Ok(threshold);
            }
        }
    }

    /// One selection round over the pool at `k_now >= 1` units.
    fn select_round(
        &mut self,
        k_now: u64,
        ready: Ready,
        threshold: &mut Option<f32>,
    ) -> Result<(), Error> {
        let key = self.threshold(None, k_now, ready)?;
        *threshold = Some(key_value(key));
        // Exact ties: the equal units go to the pool's first layers.
        let below: u64 = self
            .plans
            .iter()
            .filter(|p| p.in_pool)
            .map(|p| p.tally.below)
            .sum();
        let mut quota = match self.opts.ties {
            Ties::Exact => k_now.saturating_sub(below),
            Ties::Inclusive => u64::MAX,
        };
        for i in 0..self.plans.len() {
            if self.plans[i].in_pool {
                self.finish(i, key, quota)?;
                if self.opts.ties == Ties::Exact {
                    quota -= self.plans[i].rule.quota;
                }
            }
        }
        Ok(())
    }

    /// The bound a pool layer crosses, and the units it is held at.
    fn crossing(&self, r: &LayerReport) -> Option<(Bound, u64)> {
        let UnitRatios {
            max, min, seed_max, ..
        } = self.ratios;
        match self.opts.cap {
            CapMode::Seed => {
                // INC 2.0 tests the kept fraction of the element mask in
                // float32, and recomputes at `int(max * units)`.
                let max = self.opts.max_sparsity_ratio_per_op;
                let kept = (r.elements - r.pruned_elements) as f32 / r.elements as f32;
                if kept < (1.0 - max) as f32 {
                    return Some((Bound::Max, seed_max.floor(r.units)));
                }
            }
            CapMode::Redistribute => {
                if max.exceeded_by(r.pruned_units, r.units) {
                    return Some((Bound::Max, max.floor(r.units)));
                }
            }
        }
        if min.unmet_by(r.pruned_units, r.units) {
            return Some((Bound::Min, min.floor(r.units)));
        }
        None
    }

    /// Selects layer `i` alone at `k` units and takes it out of the pool.
    fn hold(&mut self, i: usize, bound: Bound, k: u64) -> Result<(), Error> {
        self.plans[i].in_pool = false;
        self.plans[i].report.status = Status::Bounded(bound);
        if k == 0 {
            self.plans[i].keep_all();
            return Ok(());
        }
        let key = self.threshold(Some(i), k, Ready::Nothing)?;
        let quota = match self.opts.ties {
            Ties::Exact => k.saturating_sub(self.plans[i].tally.below),
            Ties::Inclusive => u64::MAX,
        };
        self.finish(i, key, quota)
    }

    /// Sets layer `i`'s rule from its tally against `key`.
    fn finish(&mut self, i: usize, key: u32, quota: u64) -> Result<(), Error> {
        let units = self.units(i)?;
        self.plans[i].finish(units.kernels(), units.grid(), self.opts.ties, key, quota);
        Ok(())
    }

    /// The `k`-th smallest key of the pool (the layers in it, or layer
    /// `only`), with every member's tally against it: from the selection's
    /// candidates when it collected them, else by one more pass.
    fn threshold(&mut self, only: Option<usize>, k: u64, ready: Ready) -> Result<u32, Error> {
        self.selections += 1;
        let (layers, opts, scoring) = (self.layers, self.opts, &self.scoring);
        // The pool reads the plans while the selection writes tallies.
        // Layer `i` is in this selection's pool.
        let member = |i: usize, p: &LayerPlan| only.map_or(p.in_pool, |o| o == i);
        let plans = Cell::from_mut(&mut *self.plans).as_slice_of_cells();
        let pool = || {
            (0..plans.len())
                .filter(move |&i| member(i, &plans[i].get()))
                .filter_map(|i| match scoring.units(i, &layers[i]) {
                    Ok(Ok(units)) => Some((i, units)),
                    _ => None,
                })
        };
        // Elements only count for inclusive ties: N:M groups lose what the
        // selection counted, blocks (tiling their layer) elements / units.
        let nm = opts.pattern.kernels().pruned_per_group() > 0;
        let mut record = |i: usize, c: Counts| {
            let mut r = plans[i].get();
            let per_unit = r.report.elements / r.report.units.max(1);
            let (below_elements, equal_elements) = match (opts.ties, nm) {
                (Ties::Inclusive, true) => (c.below_elements, c.equal_elements),
                (Ties::Inclusive, false) => (c.below * per_unit, c.equal * per_unit),
                (Ties::Exact, _) => (0, 0),
            };
            r.tally = Tally {
                below: c.below,
                equal: c.equal,
                below_elements,
                equal_elements,
            };
            plans[i].set(r);
        };
        let counted: Option<&mut dyn FnMut(usize, Counts)> = Some(&mut record);
        let (key, tallied) = kth_smallest(pool, k, ready, &mut self.scratch, counted)?;
        if !tallied {
            for i in 0..self.plans.len() {
                if member(i, &self.plans[i]) {
                    self.tally_of(i, key)?;
                }
            }
        }
        Ok(key)
    }

    /// Layer `i`'s tally against `key`, by one more pass over its units
    /// (when the selection did not count them).
    fn tally_of(&mut self, i: usize, key: u32) -> Result<(), Error> {
        let units = self.units(i)?;
        let mut t = Tally::default();
        let nm = units.kernels().pruned_per_group() > 0;
        let counted = match self.opts.ties {
            // Elements only count for inclusive ties: N:M groups as their
            // kernel counts them in the scoring pass; whole units their
            // size (exactly: a block may be larger than an f32 counts).
            Ties::Inclusive if nm => {
                let level = units.level();
                units.for_each_scored_pruned(|_, scores, pruned| {
                    // Without a branch per unit: the loop vectorises.
                    let (mut below, mut equal, mut below_el, mut equal_el) =
                        (0u64, 0u64, 0u64, 0u64);
                    crate::arch::vectorized(
                        level,
                        crate::arch::all::inlined(
                            #[inline(always)]
                            || {
                                for (&x, &p) in scores.iter().zip(pruned) {
                                    let (k, p) = (order_key(x), u64::from(whole(p)));
                                    let (b, e) = ((k < key) as u64, (k == key) as u64);
                                    below += b;
                                    equal += e;
                                    below_el += b * p;
                                    equal_el += e * p;
                                }
                            },
                        ),
                    );
                    t.below += below;
                    t.equal += equal;
                    t.below_elements += below_el;
                    t.equal_elements += equal_el;
                })
            }
            Ties::Inclusive => {
                let size = units.kernels().pruned_per_unit(units.grid());
                units.for_each_key(|_, k| {
                    let (b, e) = ((k < key) as u64, (k == key) as u64);
                    t.below += b;
                    t.equal += e;
                    t.below_elements += b * size;
                    t.equal_elements += e * size;
                })
            }
            Ties::Exact => units.for_each_key(|_, k| {
                t.below += (k < key) as u64;
                t.equal += (k == key) as u64;
            }),
        };
        counted.map_err(|kind| Error::in_layer(i, kind))?;
        self.plans[i].tally = t;
        Ok(())
    }
}
