//! What a selection is asked to do, in INC 3.x's words: `pruning_scope`,
//! `target_sparsity`, `max_sparsity_ratio_per_op`,
//! `min_sparsity_ratio_per_op`.

use crate::plan::report::ratio;
use crate::select::Scoring;
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::terms::{named, Criterion, Level, Reduce, Ties};
use crate::Pattern;

/// One pool for all layers, one per layer, or one per row of units (INC
/// 3.x `pruning_scope` for the first two; INC 2.0's `prune_domain`).
///
/// ```
/// use prunemask::{Options, Pattern, Scope};
/// let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5).scope(Scope::Local);
/// assert_eq!(opts.scope, Scope::Local);
/// assert_eq!("global".parse::<Scope>().unwrap(), Scope::Global);
/// assert_eq!("row".parse::<Scope>().unwrap(), Scope::Row);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One threshold across every layer the pattern fits.
    #[default]
    Global,
    /// Each layer on its own, at the same target (or its own,
    /// [`Layer::target_sparsity`](crate::Layer::target_sparsity)).
    Local,
    /// Each row of units is its own pool: for unstructured and `1xM`
    /// blocks (and N:M groups) each output row of the view, as Wanda
    /// compares (Sun et al., 2023). A row of `u` units prunes exactly
    /// `floor(s · u)` (`s` the layer's target; equal scores: lower column
    /// first); a block `N` rows high makes a unit row of `N` output rows.
    /// Per-layer bounds hold each row at `floor(bound · u)`. Exact ties
    /// only ([`ErrorKind::RowScopeTies`]); not in INC.
    Row,
}

named!(Scope, "scope", [Scope::Global => "global", Scope::Local => "local", Scope::Row => "row"]);

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
    /// `N/M`, [`ErrorKind::RowScopeTies`] for row scope with inclusive
    /// ties.
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
        if self.scope == Scope::Row && self.ties == Ties::Inclusive {
            return Err(Error::new(ErrorKind::RowScopeTies));
        }
        let target = self.target_ratio(self.target_sparsity)?;
        let share = self.pattern.kernels().pruned_fraction();
        Ok(UnitRatios {
            target,
            max: self.unit_ratio(self.max_sparsity_ratio_per_op, share),
            min: self.unit_ratio(self.min_sparsity_ratio_per_op, share),
            seed_max: self.unit_ratio(self.max_sparsity_ratio_per_op, (1, 1)),
        })
    }

    /// A target sparsity (checked in `[0, 1]` by the caller) in units,
    /// after checking it against the pattern: an N:M target counts
    /// elements, its pool counts groups (INC: `s / (N/M)`).
    fn target_ratio(&self, value: f64) -> Result<UnitRatio, Error> {
        let per_unit = self.pattern.kernels().pruned_share();
        if value / per_unit > 1.0 {
            return Err(Error::new(ErrorKind::RatioAbovePattern {
                sparsity: value,
                max: per_unit,
            }));
        }
        Ok(self.unit_ratio(value, self.pattern.kernels().pruned_fraction()))
    }

    /// An element ratio as a ratio of units pruning `share` of theirs.
    fn unit_ratio(&self, value: f64, share: (usize, usize)) -> UnitRatio {
        match self.compat {
            // INC's own float product, `int(s / (N/M) * units)`.
            Compat::Inc20 => UnitRatio::Float((value / (share.0 as f64 / share.1 as f64)).min(1.0)),
            Compat::Native => UnitRatio::exact(value, share),
        }
    }

    /// Layer `index`'s target in units: its own
    /// ([`Layer::target_sparsity`](crate::Layer::target_sparsity), local
    /// and row scope only) or the options'.
    pub(crate) fn layer_target(
        &self,
        index: usize,
        own: Option<f64>,
        ratios: &UnitRatios,
    ) -> Result<UnitRatio, Error> {
        let Some(value) = own else {
            return Ok(ratios.target);
        };
        if self.scope == Scope::Global {
            return Err(Error::in_layer(index, ErrorKind::LayerTargetInGlobalScope));
        }
        if !(0.0..=1.0).contains(&value) {
            let what = "the layer's target_sparsity";
            return Err(Error::in_layer(index, ErrorKind::BadRatio { what, value }));
        }
        self.target_ratio(value).map_err(|e| e.at_layer(index))
    }
}

/// The target and bounds in units of the pattern (blocks or groups), and
/// the seed cap's maximum as given (INC 2.0 applies it to groups as is).
#[derive(Clone, Copy, Debug)]
pub(crate) struct UnitRatios {
    pub target: UnitRatio,
    pub max: UnitRatio,
    pub min: UnitRatio,
    pub seed_max: UnitRatio,
}

/// A ratio of a pool's units, at most 1.
///
/// `floor(ratio * units)` must be the count the caller wrote: 0.29 of 100
/// units is 29, although `0.29 * 100.0` is `28.999999999999996` in `f64`.
/// So a ratio is taken as the decimal the `f64` stands for (its shortest
/// round-trip form, what `Display` prints) and multiplied exactly.
/// [`Compat::Inc20`] keeps INC's own float product (28).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnitRatio {
    /// `num / den`, `num <= den`.
    Exact { num: u128, den: u128 },
    /// `int(ratio * units)` in `f64`, as INC and Python compute it.
    Float(f64),
}

impl UnitRatio {
    /// `value * share.1 / share.0` (the unit ratio of an element ratio,
    /// for units that prune `share.0` of `share.1` elements), exactly, at
    /// most 1; `value` is a checked ratio in `[0, 1]`.
    pub(crate) fn exact(value: f64, (pruned, of): (usize, usize)) -> Self {
        // The f64 nearest to the share itself (`1.0 / 3.0` for 1:3) stands
        // for the share: every unit. Its decimal (0.3333333333333333)
        // would leave one unit out.
        if of > 0 && value == pruned as f64 / of as f64 {
            return UnitRatio::Exact { num: 1, den: 1 };
        }
        let exact = decimal(value).and_then(|(digits, places)| {
            let num = digits.checked_mul(of as u128)?;
            let den = 10u128.checked_pow(places)?.checked_mul(pruned as u128)?;
            (den > 0).then_some((num.min(den), den))
        });
        match exact {
            Some((num, den)) => UnitRatio::Exact { num, den },
            // Too many decimal places for u128: below 1e-20, where every
            // pool of up to 2^64 units gets the same count both ways.
            None => UnitRatio::Float((value / (pruned as f64 / of.max(1) as f64)).min(1.0)),
        }
    }

    /// `floor(ratio * units)`.
    pub(crate) fn floor(self, units: u64) -> u64 {
        match self {
            UnitRatio::Exact { num, den } => match num.checked_mul(units as u128) {
                Some(p) => (p / den) as u64,
                None => ((num as f64 / den as f64) * units as f64) as u64,
            },
            UnitRatio::Float(r) => (r * units as f64) as u64,
        }
    }

    /// Whether `part / whole` is above the ratio.
    pub(crate) fn exceeded_by(self, part: u64, whole: u64) -> bool {
        match self {
            // part > r * whole (real) exactly when part > floor(r * whole).
            UnitRatio::Exact { .. } => part > self.floor(whole),
            UnitRatio::Float(r) => ratio(part, whole) > r,
        }
    }

    /// Whether `part / whole` is below the ratio.
    pub(crate) fn unmet_by(self, part: u64, whole: u64) -> bool {
        match self {
            // part < r * whole (real) exactly when part < ceil(r * whole).
            UnitRatio::Exact { num, den } => {
                let ceil = match num.checked_mul(whole as u128) {
                    Some(p) => p.div_ceil(den) as u64,
                    None => return ratio(part, whole) < num as f64 / den as f64,
                };
                part < ceil
            }
            UnitRatio::Float(r) => ratio(part, whole) < r,
        }
    }
}

/// The decimal a ratio in `[0, 1]` stands for, as `(digits, places)`:
/// `value == digits / 10^places` for its shortest round-trip form (what
/// `Display` prints: `0.29` for the `f64` nearest 0.29). `None` when it
/// does not fit (more than 38 places).
fn decimal(value: f64) -> Option<(u128, u32)> {
    use core::fmt::Write;
    /// A stack buffer `Display` writes into (no allocation).
    struct Buf([u8; 400], usize);
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let end = self.1 + s.len();
            let dst = self.0.get_mut(self.1..end).ok_or(core::fmt::Error)?;
            dst.copy_from_slice(s.as_bytes());
            self.1 = end;
            Ok(())
        }
    }
    let mut buf = Buf([0; 400], 0);
    write!(buf, "{value}").ok()?;
    let text = buf.0.get(..buf.1)?;
    let (mut digits, mut places, mut after) = (0u128, 0u32, false);
    for &b in text {
        match b {
            b'.' => after = true,
            b'0'..=b'9' => {
                digits = digits.checked_mul(10)?.checked_add((b - b'0') as u128)?;
                places += after as u32;
            }
            _ => return None,
        }
    }
    (places <= 38).then_some((digits, places))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_what_display_prints() {
        assert_eq!(decimal(0.29), Some((29, 2)));
        assert_eq!(decimal(0.5), Some((5, 1)));
        assert_eq!(decimal(1.0), Some((1, 0)));
        assert_eq!(decimal(0.0), Some((0, 0)));
        assert_eq!(decimal(1e-30), Some((1, 30)));
        assert_eq!(decimal(0.1 + 0.2), Some((30000000000000004, 17)));
        // Past 38 places: the float product serves.
        assert_eq!(decimal(5e-324), None);
        assert!(matches!(
            UnitRatio::exact(5e-324, (1, 1)),
            UnitRatio::Float(_)
        ));
    }

    #[test]
    fn unit_ratios_count_exactly() {
        for (s, k) in [(0.29, 29), (0.57, 57), (0.58, 58), (1.0, 100), (0.0, 0)] {
            assert_eq!(UnitRatio::exact(s, (1, 1)).floor(100), k, "{s}");
        }
        // 2:4 at 0.29: 0.58 of the groups; at 0.5, all of them.
        assert_eq!(UnitRatio::exact(0.29, (2, 4)).floor(200), 116);
        assert_eq!(UnitRatio::exact(0.5, (2, 4)).floor(u64::MAX), u64::MAX);
        // Over and under, exactly at the edges.
        let r = UnitRatio::exact(0.29, (1, 1));
        assert!(!r.exceeded_by(29, 100) && r.exceeded_by(30, 100));
        assert!(r.unmet_by(28, 100) && !r.unmet_by(29, 100));
        let r = UnitRatio::exact(0.295, (1, 1));
        assert!(r.unmet_by(29, 100) && !r.unmet_by(30, 100));
    }
}
