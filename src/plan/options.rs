//! What a selection is asked to do, in INC 3.x's words: `pruning_scope`,
//! `target_sparsity`, `max_sparsity_ratio_per_op`,
//! `min_sparsity_ratio_per_op`.

use crate::select::Scoring;
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::terms::{named, Criterion, Level, Reduce, Ties};
use crate::Pattern;

/// One pool for all layers, or one pool per layer (INC 3.x
/// `pruning_scope`; INC 2.0's `prune_domain`).
///
/// ```
/// use prunemask::{Options, Pattern, Scope};
/// let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5).scope(Scope::Local);
/// assert_eq!(opts.scope, Scope::Local);
/// assert_eq!("global".parse::<Scope>().unwrap(), Scope::Global);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One threshold across every layer the pattern fits.
    #[default]
    Global,
    /// Each layer on its own, at the same target.
    Local,
}

named!(Scope, "scope", [Scope::Global => "global", Scope::Local => "local"]);

/// What happens to a layer that crosses `max_sparsity_ratio_per_op` (or
/// `min_sparsity_ratio_per_op`).
///
/// ```
/// use prunemask::{CapMode, Options, Pattern};
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5).cap(CapMode::Seed);
/// assert_eq!(opts.cap, CapMode::Seed);
/// assert_eq!(CapMode::Redistribute.to_string(), "redistribute");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
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

named!(CapMode, "cap", [CapMode::Redistribute => "redistribute", CapMode::Seed => "seed"]);

/// Reference quirks to reproduce beyond ties, cap and reduction.
///
/// ```
/// use prunemask::{Compat, Options, Pattern};
/// let opts = Options::new(Pattern::parse("1xchannel").unwrap(), 0.5).inc_compat();
/// assert_eq!(opts.compat, Compat::Inc20);
/// assert_eq!("inc".parse::<Compat>().unwrap(), Compat::Inc20);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compat {
    /// `docs/semantics.md` as written.
    #[default]
    Native,
    /// INC 2.0 also takes `Nxchannel` on a conv weight as blocks `I` wide
    /// (one output channel at one kernel position), not whole output
    /// channels. Selection only; [`Pruner::lock`](crate::Pruner::lock) and
    /// [`Pruner::mask_sparsity`](crate::Pruner::mask_sparsity) keep the
    /// native geometry.
    Inc20,
}

named!(Compat, "compat", [Compat::Native => "native", Compat::Inc20 => "inc"]);

/// Everything a selection needs besides the layers.
///
/// Fields are public; the setters chain. Defaults: global scope, exact
/// ties, `max_sparsity_ratio_per_op` 0.98 with redistribution,
/// `min_sparsity_ratio_per_op` 0, mean blocks, scores used as given. The
/// names are INC 3.x's config keys.
///
/// ```
/// use prunemask::{Criterion, Options, Pattern, Ties};
/// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5)
///     .criterion(Criterion::Magnitude)
///     .max_sparsity_ratio_per_op(0.9);
/// assert_eq!(opts.ties, Ties::Exact);
/// let inc = opts.clone().inc_compat();
/// assert_eq!(inc.ties, Ties::Inclusive);
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// The pattern.
    pub pattern: Pattern,
    /// Target sparsity in `[0, 1]` (INC `target_sparsity`): the fraction
    /// of units (NxM) or of elements (N:M, so at most `N/M`) to prune.
    pub target_sparsity: f64,
    /// Global or local (INC `pruning_scope`).
    pub scope: Scope,
    /// Tie rule.
    pub ties: Ties,
    /// Most a layer may be pruned, in `[0, 1]` (INC
    /// `max_sparsity_ratio_per_op`; INC 2.0 `max_sparsity_ratio_per_layer`).
    pub max_sparsity_ratio_per_op: f64,
    /// Least a layer must be pruned, in `[0, 1]` (INC
    /// `min_sparsity_ratio_per_op`).
    pub min_sparsity_ratio_per_op: f64,
    /// What a layer crossing a bound does.
    pub cap: CapMode,
    /// Block reduction (INC 3.x `criterion_reduce_type`).
    pub reduce: Reduce,
    /// How slices are read.
    pub criterion: Criterion,
    /// Reference quirks.
    pub compat: Compat,
}

impl Options {
    /// Options with the defaults above.
    ///
    /// ```
    /// let opts = prunemask::Options::new(prunemask::Pattern::parse("4x1").unwrap(), 0.7);
    /// assert_eq!(opts.max_sparsity_ratio_per_op, 0.98);
    /// ```
    pub fn new(pattern: Pattern, target_sparsity: f64) -> Self {
        Options {
            pattern,
            target_sparsity,
            scope: Scope::Global,
            ties: Ties::Exact,
            max_sparsity_ratio_per_op: 0.98,
            min_sparsity_ratio_per_op: 0.0,
            cap: CapMode::Redistribute,
            reduce: Reduce::Mean,
            criterion: Criterion::Scores,
            compat: Compat::Native,
        }
    }

    /// Sets the scope.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).scope(Scope::Local);
    /// ```
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = scope;
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
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).max_sparsity_ratio_per_op(0.8);
    /// ```
    pub fn max_sparsity_ratio_per_op(mut self, ratio: f64) -> Self {
        self.max_sparsity_ratio_per_op = ratio;
        self
    }

    /// Sets the per-layer minimum.
    ///
    /// ```
    /// # use prunemask::*;
    /// let o = Options::new(Pattern::parse("1x1").unwrap(), 0.5).min_sparsity_ratio_per_op(0.2);
    /// ```
    pub fn min_sparsity_ratio_per_op(mut self, ratio: f64) -> Self {
        self.min_sparsity_ratio_per_op = ratio;
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

    /// Checks the target and the bounds, alone and against the pattern, as
    /// every operation does before it reads a layer: a caller can refuse
    /// bad options before it opens any file.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BadRatio`] for a ratio that is NaN or outside
    /// `[0, 1]`, [`ErrorKind::BoundsCrossed`] for a minimum above the
    /// maximum, [`ErrorKind::RatioAbovePattern`] for an N:M target above
    /// `N/M`.
    ///
    /// ```
    /// use prunemask::{ErrorKind, Options, Pattern};
    /// let o = Options::new(Pattern::parse("2:4").unwrap(), 0.6);
    /// assert!(matches!(o.validate().unwrap_err().kind(), ErrorKind::RatioAbovePattern { .. }));
    /// assert!(Options::new(Pattern::parse("2:4").unwrap(), 0.5).validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), Error> {
        self.unit_ratios().map(|_| ())
    }

    /// How the selection scores units at `level`.
    pub(crate) fn scoring(&self, level: Level) -> Scoring {
        Scoring {
            kernels: *self.pattern.kernels(),
            reduce: self.reduce,
            criterion: self.criterion,
            ties: self.ties,
            level,
            inc_channel: self.compat == Compat::Inc20,
        }
    }

    /// The ratios in units (blocks or groups), after checking them.
    pub(crate) fn unit_ratios(&self) -> Result<UnitRatios, Error> {
        for (what, value) in [
            ("target_sparsity", self.target_sparsity),
            ("max_sparsity_ratio_per_op", self.max_sparsity_ratio_per_op),
            ("min_sparsity_ratio_per_op", self.min_sparsity_ratio_per_op),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(Error::new(ErrorKind::BadRatio { what, value }));
            }
        }
        if self.min_sparsity_ratio_per_op > self.max_sparsity_ratio_per_op {
            return Err(Error::new(ErrorKind::BoundsCrossed {
                min: self.min_sparsity_ratio_per_op,
                max: self.max_sparsity_ratio_per_op,
            }));
        }
        // An N:M target counts elements; its pool counts groups (INC: s / (N/M)).
        let per_unit = self.pattern.kernels().pruned_share();
        let target = self.target_sparsity / per_unit;
        if target > 1.0 {
            return Err(Error::new(ErrorKind::RatioAbovePattern {
                sparsity: self.target_sparsity,
                max: per_unit,
            }));
        }
        Ok(UnitRatios {
            target,
            max: (self.max_sparsity_ratio_per_op / per_unit).min(1.0),
            min: (self.min_sparsity_ratio_per_op / per_unit).min(1.0),
        })
    }
}

/// The target and bounds in units.
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnitRatios {
    pub target: f64,
    pub max: f64,
    pub min: f64,
}

/// `floor(ratio * units)`, as INC's `int(ratio * numel)`.
pub(crate) fn units_at(ratio: f64, units: u64) -> u64 {
    (ratio * units as f64) as u64
}
