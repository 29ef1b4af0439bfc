//! The planner: which units of which layers to prune, locally or globally,
//! with tie rules and per-layer bounds. Masks are written from the plan.

use crate::arch::Level;
use crate::error::{Error, ErrorKind};
use crate::kernels::inlined;
use crate::kernels::keys::key_value;
use crate::layer::{Criterion, Layer};
use crate::pattern::{Geometry, Pattern, Reduce, SkipReason, Ties};
use core::cell::Cell;

use crate::select::{kth_smallest, prepare, Counts, Ready, Scratch, Units, STACK_BINS, WIDE_BINS};

/// One pool for all layers, or one pool per layer.
///
/// ```
/// use prunemask::{Domain, Options, Pattern};
/// let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5).domain(Domain::Local);
/// assert_eq!(opts.domain, Domain::Local);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Domain {
    /// One threshold across every layer the pattern fits.
    #[default]
    Global,
    /// Each layer on its own, at the same target.
    Local,
}

/// What happens to a layer that crosses `max_layer` (or `min_layer`).
///
/// ```
/// use prunemask::{CapMode, Options, Pattern};
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5).cap(CapMode::Seed);
/// assert_eq!(opts.cap, CapMode::Seed);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CapMode {
    /// Held layers leave the pool at their bound, their pruned count comes off
    /// `k`, and the threshold is found again over the rest, until no layer
    /// crosses a bound (INC 3.x; every layer of a round sees one threshold, so
    /// which layers are held does not depend on layer order, unlike INC's;
    /// exact ties still go to earlier layers, by definition).
    #[default]
    Redistribute,
    /// INC 2.0: after the global pass a layer over the cap is recomputed alone
    /// at the cap; what it frees goes to no one.
    Seed,
}

/// Reference quirks to reproduce beyond ties, cap and reduction.
///
/// ```
/// use prunemask::{Compat, Options, Pattern};
/// let opts = Options::new(Pattern::parse("1xchannel").unwrap(), 0.5).inc_compat();
/// assert_eq!(opts.compat, Compat::Inc20);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compat {
    /// SEMANTICS.md as written.
    #[default]
    Native,
    /// INC 2.0 also takes `Nxchannel` on a conv weight as blocks `I` wide
    /// (one output channel at one kernel position), not whole output
    /// channels. Selection only; [`lock`](crate::lock) and
    /// [`sparsity`](crate::sparsity) keep the native geometry.
    Inc20,
}

/// Everything a selection needs besides the layers.
///
/// Fields are public; the setters chain. Defaults: global, exact ties,
/// `max_layer` 0.98 with redistribution, `min_layer` 0, mean blocks, scores
/// used as given.
///
/// ```
/// use prunemask::{Criterion, Options, Pattern, Ties};
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5)
///     .criterion(Criterion::Magnitude)
///     .max_layer(0.9);
/// assert_eq!(opts.ties, Ties::Exact);
/// let inc = opts.clone().inc_compat();
/// assert_eq!(inc.ties, Ties::Inclusive);
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// The pattern.
    pub pattern: Pattern,
    /// Target sparsity in `[0, 1]`: the fraction of units (NxM) or of
    /// elements (N:M, so at most `N/M`) to prune.
    pub sparsity: f64,
    /// Global or local.
    pub domain: Domain,
    /// Tie rule.
    pub ties: Ties,
    /// Most a layer may be pruned (INC's `max_sparsity_ratio_per_layer`).
    pub max_layer: f64,
    /// Least a layer must be pruned.
    pub min_layer: f64,
    /// What a layer crossing a bound does.
    pub cap: CapMode,
    /// Block reduction.
    pub reduce: Reduce,
    /// How slices are read.
    pub criterion: Criterion,
    /// Reference quirks.
    pub compat: Compat,
    /// The SIMD level kernels run at (default: the best this CPU has).
    pub level: Level,
}

impl Options {
    /// Options with the defaults above.
    ///
    /// ```
    /// let opts = prunemask::Options::new(prunemask::Pattern::parse("4x1").unwrap(), 0.7);
    /// assert_eq!(opts.max_layer, 0.98);
    /// ```
    pub fn new(pattern: Pattern, sparsity: f64) -> Self {
        Options {
            pattern,
            sparsity,
            domain: Domain::Global,
            ties: Ties::Exact,
            max_layer: 0.98,
            min_layer: 0.0,
            cap: CapMode::Redistribute,
            reduce: Reduce::Mean,
            criterion: Criterion::Scores,
            compat: Compat::Native,
            level: Level::best(),
        }
    }

    /// Sets the domain.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).domain(Domain::Local);
    /// ```
    pub fn domain(mut self, domain: Domain) -> Self {
        self.domain = domain;
        self
    }

    /// Sets the tie rule.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).ties(Ties::Inclusive);
    /// ```
    pub fn ties(mut self, ties: Ties) -> Self {
        self.ties = ties;
        self
    }

    /// Sets the per-layer maximum.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).max_layer(0.8);
    /// ```
    pub fn max_layer(mut self, ratio: f64) -> Self {
        self.max_layer = ratio;
        self
    }

    /// Sets the per-layer minimum.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).min_layer(0.2);
    /// ```
    pub fn min_layer(mut self, ratio: f64) -> Self {
        self.min_layer = ratio;
        self
    }

    /// Sets what crossing a bound does.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).cap(CapMode::Seed);
    /// ```
    pub fn cap(mut self, cap: CapMode) -> Self {
        self.cap = cap;
        self
    }

    /// Sets the block reduction.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("4x1").unwrap(), 0.5).reduce(Reduce::Sum);
    /// ```
    pub fn reduce(mut self, reduce: Reduce) -> Self {
        self.reduce = reduce;
        self
    }

    /// Sets how slices are read.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("4x1").unwrap(), 0.5).criterion(Criterion::Magnitude);
    /// ```
    pub fn criterion(mut self, criterion: Criterion) -> Self {
        self.criterion = criterion;
        self
    }

    /// Sets the SIMD level; every level gives the same masks. A level this
    /// CPU lacks is an error at planning time.
    ///
    /// ```
    /// use prunemask::{Level, Options, Pattern};
    /// let o = Options::new(Pattern::parse("2:4").unwrap(), 0.5).level(Level::Scalar);
    /// assert_eq!(o.level, Level::Scalar);
    /// ```
    pub fn level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// INC 2.0's behaviour: inclusive ties, seed cap, mean reduction, and
    /// its `Nxchannel` conv blocks ([`Compat::Inc20`]).
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("4x1").unwrap(), 0.5).inc_compat();
    /// assert_eq!((o.ties, o.cap, o.reduce), (Ties::Inclusive, CapMode::Seed, Reduce::Mean));
    /// ```
    pub fn inc_compat(mut self) -> Self {
        self.ties = Ties::Inclusive;
        self.cap = CapMode::Seed;
        self.reduce = Reduce::Mean;
        self.compat = Compat::Inc20;
        self
    }

    /// The ratios in units (blocks or groups), after checking them and the
    /// level.
    fn unit_ratios(&self) -> Result<UnitRatios, Error> {
        if !self.level.is_available() {
            return Err(Error::new(ErrorKind::LevelUnavailable {
                level: self.level,
            }));
        }
        for (what, value) in [
            ("sparsity", self.sparsity),
            ("max_layer", self.max_layer),
            ("min_layer", self.min_layer),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::new(ErrorKind::BadRatio { what, value }));
            }
        }
        if self.min_layer > self.max_layer {
            return Err(Error::new(ErrorKind::BadRatio {
                what: "min_layer (above max_layer)",
                value: self.min_layer,
            }));
        }
        let geometry = self.pattern.geometry();
        // An N:M target counts elements; its pool counts groups (INC: s / (N/M)).
        let per_unit = match geometry {
            Geometry::NInM { n, m } => n as f64 / m as f64,
            Geometry::Block { .. } => 1.0,
        };
        let target = self.sparsity / per_unit;
        if target > 1.0 {
            return Err(Error::new(ErrorKind::RatioAbovePattern {
                sparsity: self.sparsity,
                max: per_unit,
            }));
        }
        Ok(UnitRatios {
            target,
            max: (self.max_layer / per_unit).min(1.0),
            min: (self.min_layer / per_unit).min(1.0),
        })
    }
}

#[derive(Clone, Copy, Debug)]
struct UnitRatios {
    target: f64,
    max: f64,
    min: f64,
}

/// `floor(ratio * units)`, as INC's `int(ratio * numel)`.
fn units_at(ratio: f64, units: u64) -> u64 {
    (ratio * units as f64) as u64
}

/// Whether a layer takes part, and how its plan came about.
///
/// ```
/// use prunemask::Status;
/// assert_eq!(Status::default(), Status::Unplanned);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Status {
    /// Not planned yet.
    #[default]
    Unplanned,
    /// Selected by the threshold of its pool.
    Selected,
    /// Held at `max_layer` or `min_layer`, selected by its own threshold.
    Bounded(Bound),
    /// The pattern does not fit: the mask is all ones.
    Skipped(SkipReason),
}

/// Which per-layer bound held a layer.
///
/// ```
/// use prunemask::{Bound, Status};
/// assert_ne!(Status::Bounded(Bound::Max), Status::Bounded(Bound::Min));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    /// `max_layer`.
    Max,
    /// `min_layer`.
    Min,
}

/// How a planned layer's mask is written: units below `key` are pruned,
/// then the first `quota` units equal to it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Rule {
    prunes: bool,
    key: u32,
    quota: u64,
}

/// Per-layer counts against a pool's threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Tally {
    below: u64,
    equal: u64,
    below_elements: u64,
    equal_elements: u64,
}

/// The plan and report of one layer. [`plan`] fills it; [`write_mask`]
/// writes the layer's mask from it.
///
/// ```
/// use prunemask::{plan, Layer, LayerReport, Options, Pattern, Shape, Status};
/// let w: Vec<f32> = (0..32).map(|i| i as f32).collect();
/// let layers = [Layer::new(&w[..], Shape::matrix(4, 8))];
/// let mut reports = [LayerReport::default()];
/// plan(&layers, &Options::new(Pattern::parse("1x4").unwrap(), 0.5), &mut reports).unwrap();
/// let r = &reports[0];
/// assert_eq!((r.status, r.units, r.pruned_units, r.pruned_elements), (Status::Selected, 8, 4, 16));
/// assert_eq!(r.threshold, Some(13.5)); // mean of 12..15
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerReport {
    /// How the layer was planned.
    pub status: Status,
    /// Units (blocks or groups); 0 when skipped.
    pub units: u64,
    /// Units pruned.
    pub pruned_units: u64,
    /// Elements of the tensor.
    pub elements: u64,
    /// Elements pruned.
    pub pruned_elements: u64,
    /// The threshold that selected the layer's units, if any were selected.
    pub threshold: Option<f32>,
    rule: Rule,
    tally: Tally,
    in_pool: bool,
}

impl LayerReport {
    /// Pruned elements over all elements.
    ///
    /// ```
    /// assert_eq!(prunemask::LayerReport::default().sparsity(), 0.0);
    /// ```
    pub fn sparsity(&self) -> f64 {
        ratio(self.pruned_elements, self.elements)
    }

    fn finish(&mut self, units: &Units<'_>, ties: Ties, key: u32, quota: u64) {
        let t = self.tally;
        let taken = t.equal.min(quota);
        self.rule = Rule {
            prunes: true,
            key,
            quota: taken,
        };
        self.pruned_units = t.below + taken;
        self.pruned_elements = match (ties, units.prune_per_group()) {
            (Ties::Inclusive, _) => t.below_elements + t.equal_elements,
            (Ties::Exact, 0) => self.pruned_units * units.unit_elements() as u64,
            (Ties::Exact, n) => self.pruned_units * n as u64,
        };
        self.threshold = Some(key_value(key));
    }

    fn keep_all(&mut self) {
        self.rule = Rule::default();
        self.pruned_units = 0;
        self.pruned_elements = 0;
        self.threshold = None;
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Totals of a plan.
///
/// ```
/// use prunemask::{plan, Layer, LayerReport, Options, Pattern, Shape};
/// let w: Vec<f32> = (0..64).map(|i| (i % 7) as f32).collect();
/// let layers = [Layer::new(&w[..], Shape::matrix(8, 8))];
/// let mut reports = [LayerReport::default()];
/// let s = plan(&layers, &Options::new(Pattern::parse("2:4").unwrap(), 0.5), &mut reports).unwrap();
/// assert_eq!((s.target_units, s.pruned_units, s.pruned_elements), (16, 16, 32));
/// assert_eq!(s.sparsity(), 0.5);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Summary {
    /// Layers given.
    pub layers: usize,
    /// Layers the pattern does not fit.
    pub skipped: usize,
    /// Layers held at a bound.
    pub bounded: usize,
    /// Units in the pool(s).
    pub units: u64,
    /// `k`: units the target asks for (summed over layers in local mode).
    pub target_units: u64,
    /// Units pruned.
    pub pruned_units: u64,
    /// Elements of every layer, skipped ones included.
    pub elements: u64,
    /// Elements pruned.
    pub pruned_elements: u64,
    /// The global threshold of the last round (`None` in local mode or when
    /// nothing was selected).
    pub threshold: Option<f32>,
    /// Threshold searches run (k-th smallest selections).
    pub selections: u32,
}

impl Summary {
    /// Pruned elements over all elements.
    ///
    /// ```
    /// assert_eq!(prunemask::Summary::default().sparsity(), 0.0);
    /// ```
    pub fn sparsity(&self) -> f64 {
        ratio(self.pruned_elements, self.elements)
    }
}

/// A layer's units under the options, or why the pattern skips it.
pub(crate) fn units_of<'a>(
    index: usize,
    layer: &Layer<'a>,
    opts: &Options,
) -> Result<Result<Units<'a>, SkipReason>, Error> {
    let view = layer.checked_view(index)?;
    let channel_cols = match opts.compat {
        Compat::Native => view.cols(),
        Compat::Inc20 => view.inner(),
    };
    Ok(opts
        .pattern
        .geometry()
        .grid_with(&view, channel_cols)
        .map(|grid| Units::new(layer, view, grid, opts)))
}

/// Rejects NaN anywhere in a layer's scores, testing in the level's
/// vectors.
pub(crate) fn scan_nan(index: usize, layer: &Layer<'_>, level: Level) -> Result<(), Error> {
    /// The first NaN: whole chunks are tested without branching (the loop
    /// vectorises), the position found in the chunk that has one.
    fn first_nan<T: Copy>(xs: &[T], level: Level, is_nan: impl Fn(T) -> bool) -> Option<usize> {
        let chunk = 256;
        let mut hit = None;
        crate::arch::vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    hit = xs
                        .chunks(chunk)
                        .position(|c| c.iter().fold(false, |any, &x| any | is_nan(x)));
                },
            ),
        );
        let start = hit? * chunk;
        xs[start..]
            .iter()
            .position(|&x| is_nan(x))
            .map(|j| start + j)
    }
    let nan = match layer.scores {
        crate::Scores::F32(s) => first_nan(s, level, f32::is_nan),
        crate::Scores::F16(s) => first_nan(s, level, |x| x.to_bits() & 0x7fff > 0x7c00),
        crate::Scores::Bf16(s) => first_nan(s, level, |x| x.to_bits() & 0x7fff > 0x7f80),
    };
    match nan {
        Some(i) => Err(Error::in_layer(index, ErrorKind::NanScore { index: i })),
        None => Ok(()),
    }
}

/// Checks what scoring a layer's units does not: shape and length, and NaN
/// in scores no built-in kernel reads (skipped layers, custom kernels).
fn check_layer(index: usize, layer: &Layer<'_>, opts: &Options) -> Result<(), Error> {
    match units_of(index, layer, opts)? {
        Ok(units) if units.checks_nan() => Ok(()),
        _ => scan_nan(index, layer, opts.level),
    }
}

/// Checks a layer completely: [`check_layer`], then every unit score.
fn validate(index: usize, layer: &Layer<'_>, opts: &Options) -> Result<(), Error> {
    check_layer(index, layer, opts)?;
    match units_of(index, layer, opts)? {
        Ok(units) => units
            .for_each_key(|_, _| {})
            .map_err(|kind| Error::in_layer(index, kind)),
        Err(_) => Ok(()),
    }
}

/// The valid layers of a list, as `(index, units)`.
fn valid_units<'l, 'a>(
    layers: &'l [Layer<'a>],
    opts: &'l Options,
) -> impl Iterator<Item = (usize, Units<'a>)> + 'l {
    layers
        .iter()
        .enumerate()
        .filter_map(move |(i, layer)| match units_of(i, layer, opts) {
            Ok(Ok(units)) => Some((i, units)),
            _ => None,
        })
}

pub(crate) fn check_count(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if expected != got {
        return Err(Error::new(ErrorKind::LayerCount {
            what,
            expected,
            got,
        }));
    }
    Ok(())
}

/// Plans the pruning of `layers`: fills one report per layer and returns the
/// totals. Nothing is written unless every layer is valid.
///
/// Global mode finds one threshold over every layer the pattern fits by
/// radix selection over the streamed unit scores: no copy of the scores,
/// a 16 KiB histogram on the stack. Layers crossing `max_layer` / `min_layer` are then held at
/// their bound as [`CapMode`] says.
///
/// ```
/// use prunemask::{plan, Layer, LayerReport, Options, Pattern, Shape};
/// let a: Vec<f32> = (0..64).map(|i| i as f32).collect();
/// let b: Vec<f32> = (0..64).map(|i| 100.0 + i as f32).collect();
/// let layers = [Layer::new(&a[..], Shape::matrix(8, 8)), Layer::new(&b[..], Shape::matrix(8, 8))];
/// let mut reports = [LayerReport::default(); 2];
/// let opts = Options::new(Pattern::parse("1x1").unwrap(), 0.5).max_layer(0.75);
/// let s = plan(&layers, &opts, &mut reports).unwrap();
/// // `a` is held at 75%, the rest of k = 64 goes to `b`.
/// assert_eq!((reports[0].pruned_units, reports[1].pruned_units), (48, 16));
/// assert_eq!(s.pruned_units, 64);
/// ```
pub fn plan(
    layers: &[Layer<'_>],
    opts: &Options,
    reports: &mut [LayerReport],
) -> Result<Summary, Error> {
    plan_with(layers, opts, reports, &mut [])
}

/// The scratch [`plan_with`] needs for its fast path: a 16-bit histogram.
///
/// ```
/// assert_eq!(prunemask::SCRATCH_MIN * 8, 512 * 1024);
/// ```
pub const SCRATCH_MIN: usize = WIDE_BINS;

/// Scratch words for [`plan_with`] over a pool of `units` units and up to
/// 4096 layers: room for 1/64 of the units' keys, whole (two a word). The
/// sample-select collects about 1/100 of them; a bucket of a 16-bit
/// digit, its fallback, holds 1/300 to 1/100 for real weights (so 234 MiB
/// for 3.75G units, a 30 GB bf16 checkpoint at 2:4).
///
/// ```
/// assert_eq!(prunemask::scratch_words(0), prunemask::SCRATCH_MIN + 8192);
/// assert_eq!(prunemask::scratch_words(1 << 20), prunemask::SCRATCH_MIN + 8192 + 8192);
/// ```
pub fn scratch_words(units: u64) -> usize {
    let keys = units.div_ceil(64);
    SCRATCH_MIN + 2 * 4096 + keys.div_ceil(2).min(usize::MAX as u64 / 2) as usize
}

/// [`plan`] with caller scratch: faster on large models.
///
/// With at least [`SCRATCH_MIN`] words (512 KiB), a global selection takes
/// one pass over the scores and a sample instead of four passes: a sample
/// of the unit scores gives a range that holds the threshold with a wide
/// margin, and one pass counts each layer's units below the range and
/// collects the scores inside it into the rest of the scratch; the
/// threshold and every layer's counts then come from memory. If the range
/// misses (rare) or does not fit, two or three 16-bit radix passes do the
/// same. [`scratch_words`] gives a size that holds the range for real
/// weights; with less, the plan is the same, only slower. The scratch's
/// contents on entry do not matter.
///
/// ```
/// use prunemask::{plan, plan_with, scratch_words, Layer, LayerReport, Options, Pattern, Shape};
/// let w: Vec<f32> = (0..4096).map(|i| ((i * 37) % 101) as f32).collect();
/// let layers = [Layer::new(&w[..], Shape::matrix(64, 64))];
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
/// let mut scratch = vec![0u64; scratch_words(1024)];
/// let (mut a, mut b) = ([LayerReport::default()], [LayerReport::default()]);
/// let fast = plan_with(&layers, &opts, &mut a, &mut scratch).unwrap();
/// assert_eq!(fast, plan(&layers, &opts, &mut b).unwrap());
/// assert_eq!(a, b);
/// ```
pub fn plan_with(
    layers: &[Layer<'_>],
    opts: &Options,
    reports: &mut [LayerReport],
    scratch: &mut [u64],
) -> Result<Summary, Error> {
    let ratios = opts.unit_ratios()?;
    check_count("reports", layers.len(), reports.len())?;
    for (i, layer) in layers.iter().enumerate() {
        check_layer(i, layer, opts)?;
    }
    let mut stack = [0u64; STACK_BINS];
    let mut scratch = Scratch::new(&mut stack, scratch);
    // Every unit is scored (and so checked) before any report is written:
    // globally by the selection's first pass, which it then goes on from.
    let ready = match opts.domain {
        Domain::Global => {
            let units = valid_units(layers, opts).map(|(_, u)| u.count() as u64);
            let k = units_at(ratios.target, units.sum());
            prepare(|| valid_units(layers, opts), k, &mut scratch)?
        }
        Domain::Local => {
            for (i, layer) in layers.iter().enumerate() {
                validate(i, layer, opts)?;
            }
            Ready::Nothing
        }
    };
    let mut summary = Summary {
        layers: layers.len(),
        ..Summary::default()
    };
    for (i, (layer, report)) in layers.iter().zip(reports.iter_mut()).enumerate() {
        let elements = layer.scores.len() as u64;
        *report = match units_of(i, layer, opts)? {
            Ok(units) => LayerReport {
                status: Status::Selected,
                units: units.count() as u64,
                elements,
                in_pool: opts.domain == Domain::Global,
                ..LayerReport::default()
            },
            Err(reason) => LayerReport {
                status: Status::Skipped(reason),
                elements,
                ..LayerReport::default()
            },
        };
    }
    let mut planner = Planner {
        layers,
        opts,
        ratios,
        reports,
        scratch,
        selections: 0,
    };
    match opts.domain {
        Domain::Global => {
            let units: u64 = planner.reports.iter().map(|r| r.units).sum();
            let k = units_at(ratios.target, units);
            summary.target_units = k;
            summary.threshold = planner.select(k, ready)?;
        }
        Domain::Local => {
            for i in 0..layers.len() {
                if planner.reports[i].status == Status::Selected {
                    planner.reports[i].in_pool = true;
                    let k = units_at(ratios.target, planner.reports[i].units);
                    summary.target_units += k;
                    planner.select(k, Ready::Nothing)?;
                }
            }
        }
    }
    summary.selections = planner.selections;
    for r in planner.reports.iter() {
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

struct Planner<'l, 'a, 'r, 's> {
    layers: &'l [Layer<'a>],
    opts: &'l Options,
    ratios: UnitRatios,
    reports: &'r mut [LayerReport],
    scratch: Scratch<'s>,
    selections: u32,
}

impl<'a> Planner<'_, 'a, '_, '_> {
    /// Units of a layer already validated (never skipped here).
    fn units(&self, i: usize) -> Result<Units<'a>, Error> {
        units_of(i, &self.layers[i], self.opts)?
            .map_err(|_| Error::in_layer(i, ErrorKind::PlanMismatch))
    }

    /// Selects `k` units over the layers in the pool, holding layers at their
    /// bounds; returns the last pool threshold. `ready`: what the first pass
    /// over the whole pool left in the scratch.
    fn select(&mut self, k: u64, mut ready: Ready) -> Result<Option<f32>, Error> {
        let mut remaining = k;
        let mut threshold = None;
        loop {
            let pool: u64 = self
                .reports
                .iter()
                .filter(|r| r.in_pool)
                .map(|r| r.units)
                .sum();
            if pool == 0 {
                return Ok(threshold);
            }
            let k_now = remaining.min(pool);
            if k_now == 0 {
                // k < 1, or held layers used up k: the rest keep everything,
                // but still go through the bound check below, as one may be
                // under `min_layer` (with the default minimum of 0, k < 1
                // prunes nothing).
                for r in self.reports.iter_mut().filter(|r| r.in_pool) {
                    r.keep_all();
                }
            } else {
                let ready = core::mem::replace(&mut ready, Ready::Nothing);
                self.select_round(k_now, ready, &mut threshold)?;
            }
            let mut crossed = false;
            for i in 0..self.reports.len() {
                if !self.reports[i].in_pool {
                    continue;
                }
                if let Some((bound, k_layer)) = self.crossing(&self.reports[i]) {
                    crossed = true;
                    self.hold(i, bound, k_layer)?;
                    remaining = remaining.saturating_sub(self.reports[i].pruned_units);
                }
            }
            if !crossed || self.opts.cap == CapMode::Seed {
                for r in self.reports.iter_mut().filter(|r| r.in_pool) {
                    r.in_pool = false;
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
            .reports
            .iter()
            .filter(|r| r.in_pool)
            .map(|r| r.tally.below)
            .sum();
        let mut quota = match self.opts.ties {
            Ties::Exact => k_now.saturating_sub(below),
            Ties::Inclusive => u64::MAX,
        };
        for i in 0..self.reports.len() {
            if self.reports[i].in_pool {
                let units = self.units(i)?;
                self.reports[i].finish(&units, self.opts.ties, key, quota);
                if self.opts.ties == Ties::Exact {
                    quota -= self.reports[i].rule.quota;
                }
            }
        }
        Ok(())
    }

    /// The bound a pool layer crosses, and the units it is held at.
    fn crossing(&self, r: &LayerReport) -> Option<(Bound, u64)> {
        let UnitRatios { max, min, .. } = self.ratios;
        match self.opts.cap {
            CapMode::Seed => {
                // INC 2.0 tests the kept fraction of the element mask in
                // float32, and recomputes at `int(max * units)`.
                let kept = (r.elements - r.pruned_elements) as f32 / r.elements as f32;
                if kept < (1.0 - self.opts.max_layer) as f32 {
                    return Some((Bound::Max, units_at(self.opts.max_layer, r.units)));
                }
            }
            CapMode::Redistribute => {
                if ratio(r.pruned_units, r.units) > max {
                    return Some((Bound::Max, units_at(max, r.units)));
                }
            }
        }
        if ratio(r.pruned_units, r.units) < min {
            return Some((Bound::Min, units_at(min, r.units)));
        }
        None
    }

    /// Selects layer `i` alone at `k` units and takes it out of the pool.
    fn hold(&mut self, i: usize, bound: Bound, k: u64) -> Result<(), Error> {
        self.reports[i].in_pool = false;
        self.reports[i].status = Status::Bounded(bound);
        if k == 0 {
            self.reports[i].keep_all();
            return Ok(());
        }
        let key = self.threshold(Some(i), k, Ready::Nothing)?;
        let quota = match self.opts.ties {
            Ties::Exact => k.saturating_sub(self.reports[i].tally.below),
            Ties::Inclusive => u64::MAX,
        };
        let units = self.units(i)?;
        self.reports[i].finish(&units, self.opts.ties, key, quota);
        Ok(())
    }

    /// The `k`-th smallest key of the pool (the layers in it, or layer
    /// `only`), with every member's tally against it: from the selection's
    /// candidates when it collected them, else by one more pass.
    fn threshold(&mut self, only: Option<usize>, k: u64, ready: Ready) -> Result<u32, Error> {
        self.selections += 1;
        let (layers, opts) = (self.layers, self.opts);
        // The pool reads the reports while the selection writes tallies.
        // Layer `i` is in this selection's pool.
        let member = |i: usize, r: &LayerReport| only.map_or(r.in_pool, |o| o == i);
        let reports = Cell::from_mut(&mut *self.reports).as_slice_of_cells();
        let pool = || {
            (0..reports.len())
                .filter(move |&i| member(i, &reports[i].get()))
                .filter_map(|i| match units_of(i, &layers[i], opts) {
                    Ok(Ok(units)) => Some((i, units)),
                    _ => None,
                })
        };
        // Candidates count units; inclusive N:M tallies also need the
        // pruned elements of each group, so they take the counting pass.
        let nm = opts.pattern.geometry().prune_per_group() > 0;
        let mut record = |i: usize, c: Counts| {
            let mut r = reports[i].get();
            // As `tally_of`: elements only count for inclusive ties, where
            // (blocks tiling their layer) every unit has elements / units.
            let per_unit = match opts.ties {
                Ties::Inclusive => r.elements / r.units.max(1),
                Ties::Exact => 0,
            };
            r.tally = Tally {
                below: c.below,
                equal: c.equal,
                below_elements: c.below * per_unit,
                equal_elements: c.equal * per_unit,
            };
            reports[i].set(r);
        };
        let counted: Option<&mut dyn FnMut(usize, Counts)> = match (opts.ties, nm) {
            (Ties::Inclusive, true) => None,
            _ => Some(&mut record),
        };
        let (key, tallied) = kth_smallest(pool, k, ready, &mut self.scratch, counted)?;
        if !tallied {
            for i in 0..self.reports.len() {
                if member(i, &self.reports[i]) {
                    self.tally_of(i, key)?;
                }
            }
        }
        Ok(key)
    }

    fn tally_of(&mut self, i: usize, key: u32) -> Result<(), Error> {
        let units = self.units(i)?;
        let counts_elements = self.opts.ties == Ties::Inclusive;
        let mut t = Tally::default();
        units
            .for_each_key(|unit, k| {
                if k <= key {
                    let elements = if counts_elements {
                        units.pruned_elements(unit) as u64
                    } else {
                        0
                    };
                    if k < key {
                        t.below += 1;
                        t.below_elements += elements;
                    } else {
                        t.equal += 1;
                        t.equal_elements += elements;
                    }
                }
            })
            .map_err(|kind| Error::in_layer(i, kind))?;
        self.reports[i].tally = t;
        Ok(())
    }
}

/// Writes one layer's mask from its plan (1 = keep, 0 = prune). The layer
/// must be the one planned; it is checked again in full, and on `Err` the
/// mask is untouched. With [`plan`], this lets masks be produced one layer
/// at a time, e.g. while streaming a checkpoint.
///
/// ```
/// use prunemask::{plan, write_mask, Layer, LayerReport, Options, Pattern, Shape};
/// let w = [4.0f32, 1.0, 3.0, 2.0, 5.0, 8.0, 7.0, 6.0];
/// let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
/// let mut reports = [LayerReport::default()];
/// plan(&layers, &opts, &mut reports).unwrap();
/// let mut mask = [9u8; 8];
/// write_mask(&layers[0], &opts, &reports[0], &mut mask).unwrap();
/// assert_eq!(mask, [1, 0, 1, 0, 0, 1, 1, 0]);
/// ```
pub fn write_mask(
    layer: &Layer<'_>,
    opts: &Options,
    report: &LayerReport,
    mask: &mut [u8],
) -> Result<(), Error> {
    // One layer, no list: errors name no layer index.
    check_planned(layer, opts, report, mask).map_err(|e| Error::new(e.kind().clone()))?;
    write_planned(layer, opts, report, mask)
}

/// Everything [`write_mask`] checks before writing.
fn check_planned(
    layer: &Layer<'_>,
    opts: &Options,
    report: &LayerReport,
    mask: &[u8],
) -> Result<(), Error> {
    check_mask(0, layer, mask)?;
    let units = units_of(0, layer, opts)?;
    let fits = match (&units, report.status) {
        (Err(a), Status::Skipped(b)) => *a == b,
        (Ok(u), Status::Selected | Status::Bounded(_)) => u.count() as u64 == report.units,
        _ => false,
    };
    if !fits || report.elements != layer.scores.len() as u64 {
        return Err(Error::new(ErrorKind::PlanMismatch));
    }
    match units {
        // |w| summed or compared never makes NaN out of numbers: a scan
        // for NaN elements checks what scoring would, at memory speed.
        Ok(units) if units.checks_nan() && opts.criterion == Criterion::Magnitude => {
            scan_nan(0, layer, opts.level)
        }
        // Signed scores can (inf - inf in a sum): score every unit.
        _ => validate(0, layer, opts),
    }
}

pub(crate) fn check_mask(i: usize, layer: &Layer<'_>, mask: &[u8]) -> Result<(), Error> {
    if mask.len() != layer.scores.len() {
        return Err(Error::in_layer(
            i,
            ErrorKind::MaskLength {
                expected: layer.scores.len(),
                got: mask.len(),
            },
        ));
    }
    Ok(())
}

/// Writes a validated layer's mask.
fn write_planned(
    layer: &Layer<'_>,
    opts: &Options,
    report: &LayerReport,
    mask: &mut [u8],
) -> Result<(), Error> {
    let rule = report.rule;
    let units = match units_of(0, layer, opts)? {
        Ok(units) if rule.prunes => units,
        _ => {
            mask.fill(1);
            return Ok(());
        }
    };
    units.write(mask, rule.key, rule.quota).map_err(Error::new)
}

/// Plans and writes every mask: [`plan`] then [`write_mask`] for each layer.
/// Nothing is written unless every layer and buffer is valid.
///
/// ```
/// use prunemask::{prune, Layer, LayerReport, Options, Pattern, Shape, Ties};
/// // INC's rule prunes every tie with the k-th score; exact prunes k.
/// let w = [1.0f32, 1.0, 1.0, 2.0];
/// let layers = [Layer::new(&w[..], Shape::matrix(1, 4))];
/// let mut reports = [LayerReport::default()];
/// let mut mask = vec![0u8; 4];
/// let opts = Options::new(Pattern::parse("1x1").unwrap(), 0.5);
/// prune(&layers, &opts, &mut reports, &mut [&mut mask[..]]).unwrap();
/// assert_eq!(mask, [0, 0, 1, 1]);
/// prune(&layers, &opts.ties(Ties::Inclusive), &mut reports, &mut [&mut mask[..]]).unwrap();
/// assert_eq!(mask, [0, 0, 0, 1]);
/// ```
pub fn prune(
    layers: &[Layer<'_>],
    opts: &Options,
    reports: &mut [LayerReport],
    masks: &mut [&mut [u8]],
) -> Result<Summary, Error> {
    prune_with(layers, opts, reports, masks, &mut [])
}

/// [`prune`] with caller scratch: [`plan_with`] (a sample and one pass
/// over the scores with [`scratch_words`] of scratch), then every mask in
/// one more pass. The fastest way to the masks of a model held in memory:
/// unlike [`write_mask`] on its own, it does not check the layers again
/// before writing (the plan just did). Nothing is written unless every
/// layer and buffer is valid.
///
/// ```
/// use prunemask::{prune, prune_with, scratch_words, Layer, LayerReport, Options, Pattern, Shape};
/// let w: Vec<f32> = (0..4096).map(|i| ((i * 37) % 101) as f32).collect();
/// let layers = [Layer::new(&w[..], Shape::matrix(64, 64))];
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
/// let mut scratch = vec![0u64; scratch_words(1024)];
/// let (mut a, mut b) = (vec![0u8; 4096], vec![0u8; 4096]);
/// let mut reports = [LayerReport::default()];
/// prune_with(&layers, &opts, &mut reports, &mut [&mut a[..]], &mut scratch).unwrap();
/// prune(&layers, &opts, &mut reports, &mut [&mut b[..]]).unwrap();
/// assert_eq!(a, b);
/// ```
pub fn prune_with(
    layers: &[Layer<'_>],
    opts: &Options,
    reports: &mut [LayerReport],
    masks: &mut [&mut [u8]],
    scratch: &mut [u64],
) -> Result<Summary, Error> {
    check_count("masks", layers.len(), masks.len())?;
    for (i, (layer, mask)) in layers.iter().zip(masks.iter()).enumerate() {
        check_mask(i, layer, mask)?;
    }
    let summary = plan_with(layers, opts, reports, scratch)?;
    for (i, ((layer, report), mask)) in layers
        .iter()
        .zip(reports.iter())
        .zip(masks.iter_mut())
        .enumerate()
    {
        write_planned(layer, opts, report, mask).map_err(|e| e.at_layer(i))?;
    }
    Ok(summary)
}

/// The unit scores of one layer in pool order (row-major unit index): block
/// scores for NxM, group scores for N:M, as the selection ranks them; a zero
/// score is written as `+0.0`. Returns the number of units; `out` must have
/// exactly that many elements.
///
/// ```
/// use prunemask::{unit_scores, Layer, Options, Pattern, Shape};
/// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
/// let opts = Options::new(Pattern::parse("2x2").unwrap(), 0.5);
/// let mut out = [0.0f32; 2];
/// assert_eq!(unit_scores(&Layer::new(&w[..], Shape::matrix(2, 4)), &opts, &mut out), Ok(2));
/// assert_eq!(out, [3.5, 5.5]);
/// ```
pub fn unit_scores(layer: &Layer<'_>, opts: &Options, out: &mut [f32]) -> Result<usize, Error> {
    opts.unit_ratios()
        .map_err(|e| Error::new(e.kind().clone()))?;
    let units = match units_of(0, layer, opts).map_err(|e| Error::new(e.kind().clone()))? {
        Ok(units) => units,
        Err(reason) => return Err(Error::new(ErrorKind::NotFitting { reason })),
    };
    if out.len() != units.count() {
        return Err(Error::new(ErrorKind::OutputLength {
            expected: units.count(),
            got: out.len(),
        }));
    }
    check_layer(0, layer, opts).map_err(|e| Error::new(e.kind().clone()))?;
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
