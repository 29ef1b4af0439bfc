//! What a plan reports: per layer ([`LayerReport`], inside the
//! [`LayerPlan`] that also holds how to write its mask) and in total
//! ([`Summary`]).

use crate::arch::all::keys::key_value;
use crate::select::Scoring;
use crate::vocab::ext::{Geometry, Grid, KernelSet, SkipReason};
use crate::vocab::terms::{Criterion, Reduce, Ties};

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
    /// Held at `max_sparsity_ratio_per_op` or `min_sparsity_ratio_per_op`,
    /// selected by its own threshold.
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
    /// `max_sparsity_ratio_per_op`.
    Max,
    /// `min_sparsity_ratio_per_op`.
    Min,
}

/// How a planned layer's mask is written: units below `key` are pruned,
/// then the first `quota` units equal to it; or, under row scope
/// (`per_row`), that many units of every unit row, by each row's own
/// threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Rule {
    pub prunes: bool,
    pub key: u32,
    pub quota: u64,
    pub per_row: Option<u64>,
}

/// How a plan's units were scored: writing its mask must score them the
/// same way, or the rule's key means something else.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Scored {
    geometry: Option<Geometry>,
    builtin: bool,
    reduce: Reduce,
    criterion: Criterion,
    ties: Ties,
    inc_channel: bool,
}

impl Scored {
    pub(crate) fn of(scoring: &Scoring) -> Self {
        Scored {
            geometry: Some(scoring.kernels.geometry()),
            builtin: scoring.kernels.builtin,
            reduce: scoring.reduce,
            criterion: scoring.criterion,
            ties: scoring.ties,
            inc_channel: scoring.inc_channel,
        }
    }
}

/// Per-layer counts against a pool's threshold.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Tally {
    pub below: u64,
    pub equal: u64,
    pub below_elements: u64,
    pub equal_elements: u64,
}

/// The report of one layer: how it was planned and what it prunes.
///
/// ```
/// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape, Status};
/// let w: Vec<f32> = (0..32).map(|i| i as f32).collect();
/// let layers = [Layer::new(&w[..], Shape::matrix(4, 8))];
/// let mut plans = [LayerPlan::default()];
/// let opts = Options::new(Pattern::parse("1x4").unwrap(), 0.5);
/// Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
/// let r = plans[0].report();
/// assert_eq!((r.status, r.units, r.pruned_units, r.pruned_elements), (Status::Selected, 8, 4, 16));
/// assert_eq!(r.threshold, Some(13.5)); // mean of 12..15
/// assert_eq!(r.sparsity_ratio(), 0.5);
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
}

impl LayerReport {
    /// Pruned elements over all elements (INC's `get_sparsity_ratio` of
    /// one layer), 0 for an empty layer.
    ///
    /// ```
    /// assert_eq!(prunemask::LayerReport::default().sparsity_ratio(), 0.0);
    /// ```
    pub fn sparsity_ratio(&self) -> f64 {
        ratio(self.pruned_elements, self.elements)
    }
}

/// The plan of one layer: its [`LayerReport`], and what
/// [`Pruner::write_mask`](crate::Pruner::write_mask) needs to write its
/// mask. [`Pruner::plan`](crate::Pruner::plan) fills one per layer; start
/// from `LayerPlan::default()` (what it holds before is overwritten).
///
/// ```
/// use prunemask::{LayerPlan, Status};
/// assert_eq!(LayerPlan::default().report().status, Status::Unplanned);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LayerPlan {
    pub(crate) report: LayerReport,
    pub(crate) scored: Scored,
    pub(crate) rule: Rule,
    pub(crate) tally: Tally,
    pub(crate) in_pool: bool,
}

impl LayerPlan {
    /// The layer's report.
    ///
    /// ```
    /// assert_eq!(prunemask::LayerPlan::default().report().units, 0);
    /// ```
    pub fn report(&self) -> &LayerReport {
        &self.report
    }

    /// Sets the rule from the tally against `key`: units below it pruned,
    /// then at most `quota` equal to it.
    pub(crate) fn finish(
        &mut self,
        set: &KernelSet,
        grid: &Grid,
        ties: Ties,
        key: u32,
        quota: u64,
    ) {
        let t = self.tally;
        let taken = t.equal.min(quota);
        self.rule = Rule {
            prunes: true,
            key,
            quota: taken,
            per_row: None,
        };
        let r = &mut self.report;
        r.pruned_units = t.below + taken;
        r.pruned_elements = match ties {
            Ties::Inclusive => t.below_elements + t.equal_elements,
            Ties::Exact => r.pruned_units * set.pruned_per_unit(grid),
        };
        r.threshold = Some(key_value(key));
    }

    pub(crate) fn keep_all(&mut self) {
        self.rule = Rule::default();
        self.report.pruned_units = 0;
        self.report.pruned_elements = 0;
        self.report.threshold = None;
    }
}

pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Totals of a plan.
///
/// ```
/// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
/// let w: Vec<f32> = (0..64).map(|i| (i % 7) as f32).collect();
/// let layers = [Layer::new(&w[..], Shape::matrix(8, 8))];
/// let mut plans = [LayerPlan::default()];
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
/// let s = Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
/// assert_eq!((s.target_units, s.pruned_units, s.pruned_elements), (16, 16, 32));
/// assert_eq!(s.sparsity_ratio(), 0.5);
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
    /// Pruned elements over all elements, 0 when there are none.
    ///
    /// ```
    /// assert_eq!(prunemask::Summary::default().sparsity_ratio(), 0.0);
    /// ```
    pub fn sparsity_ratio(&self) -> f64 {
        ratio(self.pruned_elements, self.elements)
    }
}
