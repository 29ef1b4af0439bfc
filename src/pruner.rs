//! The entry points: a [`Pruner`] holds the instruction-set level and the
//! scratch every operation runs with.

use crate::arch::Level;
use crate::budget::Outliers;
use crate::lock::{MaskSparsity, ScoreMass};
use crate::plan::{LayerPlan, LayerReport, MaskValue, Options, Summary};
use crate::select::{SplitRange, WIDE_BINS};
use crate::vocab::error::Error;
use crate::vocab::scores::Layer;
use crate::vocab::shape::Shape;
use crate::vocab::terms::Criterion;
use crate::{lock, plan, Pattern};

/// Runs the operations at one SIMD [`Level`], with the scratch it holds.
///
/// [`Pruner::new`] runs at [`Level::best`] with fixed stack buffers only;
/// [`level`](Pruner::level) forces a level (every level gives the same
/// masks, reports and errors, bit for bit), and
/// [`with_scratch`](Pruner::with_scratch) lends memory that makes a global
/// selection one pass over the scores instead of four. Nothing allocates.
///
/// Every operation validates all of its input before it writes: on `Err`,
/// the caller's buffers are as they were, and the error names the layer
/// (its index in `layers`) and what is wrong.
///
/// ```
/// use prunemask::{Criterion, Layer, LayerPlan, Options, Pattern, Pruner, Shape};
///
/// let q: Vec<f32> = (0..64).map(|i| ((i * 37) % 64) as f32).collect();
/// let k: Vec<f32> = (0..64).map(|i| ((i * 11) % 64) as f32 - 32.0).collect();
/// let layers = [
///     Layer::new(&q[..], Shape::matrix(8, 8)),
///     Layer::new(&k[..], Shape::matrix(8, 8)),
/// ];
/// let mut masks = [vec![0u8; 64], vec![0u8; 64]];
/// let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
/// let mut plans = [LayerPlan::default(); 2];
/// let opts = Options::new(Pattern::parse("2:4")?, 0.5).criterion(Criterion::Magnitude);
/// let summary = Pruner::new().prune(&layers, &opts, &mut plans, &mut outs)?;
/// assert_eq!(summary.sparsity_ratio(), 0.5);
/// // Every group of 4 keeps exactly 2.
/// assert!(masks[0].chunks(4).all(|g| g.iter().sum::<u8>() == 2));
/// # Ok::<(), prunemask::Error>(())
/// ```
#[derive(Debug)]
pub struct Pruner<'s> {
    level: Level,
    scratch: &'s mut [u64],
}

impl Default for Pruner<'static> {
    fn default() -> Self {
        Pruner::new()
    }
}

impl Pruner<'static> {
    /// A pruner at [`Level::best`], without scratch.
    ///
    /// ```
    /// assert_eq!(prunemask::Pruner::new().current_level(), prunemask::Level::best());
    /// ```
    pub fn new() -> Self {
        Pruner {
            level: Level::best(),
            scratch: &mut [],
        }
    }
}

impl<'s> Pruner<'s> {
    /// Scratch words that make [`plan`](Pruner::plan) a sample and one
    /// pass: a 16-bit histogram (512 KiB).
    ///
    /// ```
    /// assert_eq!(prunemask::Pruner::SCRATCH_MIN * 8, 512 * 1024);
    /// ```
    pub const SCRATCH_MIN: usize = WIDE_BINS;

    /// Scratch words for a pool of `units` units (blocks or groups) and up
    /// to 4096 layers: [`SCRATCH_MIN`](Pruner::SCRATCH_MIN), three words
    /// per layer, and a word for each of 1/64 of the units (a candidate's
    /// key and, under inclusive N:M ties, its group's pruned elements; two
    /// keys a word otherwise). The sample-select collects about 1/100 of
    /// them; a bucket of a 16-bit digit, its fallback, holds 1/300 to 1/100
    /// for real weights (so 469 MiB for 3.75G units, a 30 GB bf16
    /// checkpoint at 2:4).
    ///
    /// ```
    /// use prunemask::Pruner;
    /// assert_eq!(Pruner::scratch_words(0), Pruner::SCRATCH_MIN + 3 * 4096);
    /// assert_eq!(Pruner::scratch_words(1 << 20), Pruner::SCRATCH_MIN + 3 * 4096 + 16384);
    /// ```
    pub fn scratch_words(units: u64) -> usize {
        let candidates = units.div_ceil(64).min(usize::MAX as u64 / 2) as usize;
        Self::SCRATCH_MIN + 3 * 4096 + candidates
    }

    /// A pruner at [`Level::best`] that uses `scratch` (its contents on
    /// entry do not matter). With at least
    /// [`SCRATCH_MIN`](Pruner::SCRATCH_MIN) words, a global selection is
    /// *sample-select*: a sample of about 49,000 unit scores gives a key
    /// range that holds the threshold with a margin of about four standard
    /// deviations, and one pass counts each layer's units below the range
    /// and collects the scores inside it into the scratch; the threshold
    /// and every layer's counts then come from memory. If the range misses
    /// (rare) or does not fit, 16-bit radix passes do the same.
    /// [`scratch_words`](Pruner::scratch_words) is a size that holds the
    /// range for real weights; with less, the plan is the same, only
    /// slower.
    ///
    /// ```
    /// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
    /// let w: Vec<f32> = (0..4096).map(|i| ((i * 37) % 101) as f32).collect();
    /// let layers = [Layer::new(&w[..], Shape::matrix(64, 64))];
    /// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
    /// let mut scratch = vec![0u64; Pruner::scratch_words(1024)];
    /// let (mut a, mut b) = ([LayerPlan::default()], [LayerPlan::default()]);
    /// let fast = Pruner::with_scratch(&mut scratch).plan(&layers, &opts, &mut a).unwrap();
    /// assert_eq!(fast, Pruner::new().plan(&layers, &opts, &mut b).unwrap());
    /// assert_eq!(a, b);
    /// ```
    pub fn with_scratch(scratch: &'s mut [u64]) -> Self {
        Pruner {
            level: Level::best(),
            scratch,
        }
    }

    /// The same pruner at `level`. A level this CPU lacks is an
    /// [`ErrorKind::LevelUnavailable`](crate::ErrorKind::LevelUnavailable)
    /// error from every operation, before anything is written.
    ///
    /// ```
    /// use prunemask::{Level, Pruner};
    /// let p = Pruner::new().level(Level::Scalar);
    /// assert_eq!(p.current_level(), Level::Scalar);
    /// ```
    pub fn level(self, level: Level) -> Self {
        Pruner { level, ..self }
    }

    /// The level the operations run at.
    ///
    /// ```
    /// assert!(prunemask::Pruner::new().current_level().is_available());
    /// ```
    pub fn current_level(&self) -> Level {
        self.level
    }

    /// Plans the pruning of `layers`: fills one [`LayerPlan`] per layer
    /// (its [`report`](LayerPlan::report) says what the layer prunes) and
    /// returns the totals.
    ///
    /// [`Scope::Global`](crate::Scope::Global) finds one threshold over
    /// every layer the pattern fits, from the streamed unit scores (no copy
    /// of them): sample-select with scratch, else 11-bit radix passes with
    /// a 16 KiB histogram on the stack. Layers crossing
    /// `max_sparsity_ratio_per_op` / `min_sparsity_ratio_per_op` are then
    /// held at their bound as [`CapMode`](crate::CapMode) says. Rules:
    /// `docs/semantics.md`, sections 4 to 7.
    ///
    /// # Errors
    ///
    /// Before anything is written: the level unavailable; a ratio outside
    /// `[0, 1]` or `min > max` ([`BadRatio`](crate::ErrorKind::BadRatio)),
    /// an N:M target above `N/M`
    /// ([`RatioAbovePattern`](crate::ErrorKind::RatioAbovePattern));
    /// `plans.len() != layers.len()`; per layer, a shape that does not
    /// match its slice, a NaN score or a NaN unit score.
    ///
    /// ```
    /// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
    /// let a: Vec<f32> = (0..64).map(|i| i as f32).collect();
    /// let b: Vec<f32> = (0..64).map(|i| 100.0 + i as f32).collect();
    /// let layers = [Layer::new(&a[..], Shape::matrix(8, 8)), Layer::new(&b[..], Shape::matrix(8, 8))];
    /// let mut plans = [LayerPlan::default(); 2];
    /// let opts = Options::new(Pattern::parse("1x1").unwrap(), 0.5).max_sparsity_ratio_per_op(0.75);
    /// let s = Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
    /// // `a` is held at 75%, the rest of k = 64 goes to `b`.
    /// assert_eq!((plans[0].report().pruned_units, plans[1].report().pruned_units), (48, 16));
    /// assert_eq!(s.pruned_units, 64);
    /// ```
    pub fn plan(
        &mut self,
        layers: &[Layer<'_>],
        opts: &Options,
        plans: &mut [LayerPlan],
    ) -> Result<Summary, Error> {
        plan::planner::plan(self.level, self.scratch, layers, opts, plans, None)
    }

    /// A global selection split over workers, step 1 of 3: checks the
    /// layers and options as [`plan`](Pruner::plan) does, and finds, from a
    /// sample of about 49,000 unit scores over all of them (the pass
    /// `plan` starts with), the key range the threshold lies in. Step 2:
    /// workers (threads, or machines holding some of the layers) each run
    /// [`gather_part`](Pruner::gather_part) over a contiguous run of the
    /// layers, independently: one pass that counts its layers' units below
    /// the range and collects those inside it. Step 3:
    /// [`plan_split`](Pruner::plan_split) merges the parts, in layer order,
    /// into the plans and summary `plan` gives, bit for bit, whatever the
    /// split.
    ///
    /// `None` when the selection does not split: a scope other than
    /// global (there every layer, or row, is its own pool: plan any subset
    /// of the layers on its own), a scratch without the wide histogram
    /// and three words a layer ([`SCRATCH_MIN`](Pruner::SCRATCH_MIN)), a
    /// target of no unit, or a scratch too small for the
    /// candidates of a range wide enough to be safe (give it
    /// [`scratch_words`](Pruner::scratch_words) of the pool's units). Then
    /// plan in one go.
    ///
    /// The range goes to workers on other machines as
    /// [`to_words`](SplitRange::to_words) (48 bytes) and comes back with
    /// [`from_words`](SplitRange::from_words); each part carries the range
    /// and a hash of the scoring options it was gathered with, so a part
    /// made against another range or other options is refused by the merge.
    ///
    /// # Errors
    ///
    /// Those of [`plan`](Pruner::plan) for options and shapes (unit
    /// scores are checked by the workers).
    ///
    /// ```
    /// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape, SplitRange};
    /// let ws: Vec<Vec<f32>> = (0..4)
    ///     .map(|l| (0..4096).map(|i| ((i * 37 + l * 11) % 997) as f32).collect())
    ///     .collect();
    /// let layers: Vec<Layer<'_>> = ws.iter().map(|w| Layer::new(&w[..], Shape::matrix(64, 64))).collect();
    /// let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.6);
    /// let mut scratch = vec![0u64; Pruner::scratch_words(4 * 1024)];
    /// let mut pruner = Pruner::with_scratch(&mut scratch);
    /// let range = pruner.split_range(&layers, &opts).unwrap().unwrap();
    /// // Two workers, layers 0..1 and 1..4, each into its own words.
    /// let mut parts = vec![vec![0u64; SplitRange::part_words(1, 4096)], vec![0u64; SplitRange::part_words(3, 3 * 4096)]];
    /// let (a, b) = parts.split_at_mut(1);
    /// let used_a = pruner.gather_part(&layers[..1], 0, &opts, &range, &mut a[0]).unwrap().unwrap();
    /// let used_b = pruner.gather_part(&layers[1..], 1, &opts, &range, &mut b[0]).unwrap().unwrap();
    /// let words = [&parts[0][..used_a], &parts[1][..used_b]];
    /// let mut split = vec![LayerPlan::default(); 4];
    /// let summary = pruner.plan_split(&layers, &opts, &range, &words, &mut split).unwrap();
    /// let mut whole = vec![LayerPlan::default(); 4];
    /// assert_eq!(summary, Pruner::new().plan(&layers, &opts, &mut whole).unwrap());
    /// assert_eq!(split, whole);
    /// ```
    pub fn split_range(
        &mut self,
        layers: &[Layer<'_>],
        opts: &Options,
    ) -> Result<Option<SplitRange>, Error> {
        plan::planner::split_range(self.level, self.scratch, layers, opts)
    }

    /// A split selection, step 2 (see [`split_range`](Pruner::split_range)):
    /// one worker's part, the layers `first..first + layers.len()` of the
    /// whole list, scored in one pass into `out` (the pruner's scratch is
    /// not used, so workers may share one pruner). Returns the words of
    /// `out` the part fills, to pass to [`plan_split`](Pruner::plan_split)
    /// as they are (they may be sent to another machine: 48 bytes of
    /// header, 24 bytes per layer and 4 bytes per unit near the threshold,
    /// 8 under inclusive N:M ties, about 1/100 of the units), or `None` if
    /// they do not fit: give it [`SplitRange::part_words`] words.
    ///
    /// # Errors
    ///
    /// Those of [`plan`](Pruner::plan) for these layers (named by their
    /// index in the whole list): shapes, NaN scores;
    /// [`SplitParts`](crate::ErrorKind::SplitParts) for options that are
    /// not the range's, or layers that run past the range's.
    pub fn gather_part(
        &self,
        layers: &[Layer<'_>],
        first: usize,
        opts: &Options,
        range: &SplitRange,
        out: &mut [u64],
    ) -> Result<Option<usize>, Error> {
        plan::planner::gather_part(self.level, layers, first, opts, range, out, None)
    }

    /// [`gather_part`](Pruner::gather_part) that also writes its layers'
    /// masks in the same pass, provisionally: units below the range
    /// pruned, above it kept, inside it (about 1/100) left unsettled.
    /// After [`plan_split`](Pruner::plan_split),
    /// [`settle_part`](Pruner::settle_part) with the same part finishes
    /// them: the masks [`write_mask`](Pruner::write_mask) writes, bit for
    /// bit, from one scoring pass instead of two. `masks` are one per
    /// layer of the run (`u8` or `f32`, see [`MaskValue`]); between the
    /// two calls they hold marks, not values.
    ///
    /// # Errors
    ///
    /// Those of `gather_part`, and masks not one per layer or of the
    /// wrong length (checked first). **The masks are outputs only**: a
    /// NaN score is found while the pass writes, so on that error (and on
    /// `Ok(None)`, candidates that outgrow `out`) the masks of the run
    /// hold unspecified marks. Give it buffers you would discard then
    /// (fresh ones); [`plan`](Pruner::plan) and `write_mask` leave masks
    /// untouched on every error.
    ///
    /// ```
    /// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape, SplitRange};
    /// let ws: Vec<Vec<f32>> = (0..3)
    ///     .map(|l| (0..4096).map(|i| ((i * 37 + l * 11) % 997) as f32).collect())
    ///     .collect();
    /// let layers: Vec<Layer<'_>> = ws.iter().map(|w| Layer::new(&w[..], Shape::matrix(64, 64))).collect();
    /// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
    /// let mut scratch = vec![0u64; Pruner::scratch_words(3 * 1024)];
    /// let mut pruner = Pruner::with_scratch(&mut scratch);
    /// let range = pruner.split_range(&layers, &opts).unwrap().unwrap();
    /// // One worker with all three layers (a worker per run of them works alike).
    /// let mut masks = vec![vec![0u8; 4096]; 3];
    /// let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    /// let mut part = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    /// let used = pruner.gather_part_masked(&layers, 0, &opts, &range, &mut part, &mut outs).unwrap().unwrap();
    /// let mut plans = vec![LayerPlan::default(); 3];
    /// pruner.plan_split(&layers, &opts, &range, &[&part[..used]], &mut plans).unwrap();
    /// pruner.settle_part(&layers, 0, &opts, &range, &part[..used], &plans, &mut outs).unwrap();
    /// for ((layer, plan), mask) in layers.iter().zip(&plans).zip(&masks) {
    ///     let mut one = vec![0u8; 4096];
    ///     pruner.write_mask(layer, &opts, plan, &mut one).unwrap();
    ///     assert_eq!(mask, &one);
    /// }
    /// ```
    pub fn gather_part_masked<M: MaskValue>(
        &self,
        layers: &[Layer<'_>],
        first: usize,
        opts: &Options,
        range: &SplitRange,
        out: &mut [u64],
        masks: &mut [&mut [M]],
    ) -> Result<Option<usize>, Error> {
        plan::settle::gather_part_masked(self.level, layers, first, opts, range, out, masks)
    }

    /// Finishes the masks [`gather_part_masked`](Pruner::gather_part_masked)
    /// began for the layers `first..first + layers.len()`, from their plans
    /// (`plans`, one per layer of the run, from
    /// [`plan_split`](Pruner::plan_split)) and the part's words: the
    /// unsettled units from the keys the part collected (no scoring),
    /// then `f32` marks widened. A layer the provisional marks cannot
    /// serve (its threshold outside the range, a layer held at a bound
    /// below it, a conv view, one that prunes nothing, marks that do not
    /// line up with the part) is written whole, as
    /// [`write_mask`](Pruner::write_mask) does; so is every layer when
    /// `part` is not this run's part gathered with masks against `range`
    /// and these options.
    ///
    /// The layers and masks must be those the part's gather had, unchanged:
    /// marks altered to other marks cannot be told apart, and the layers
    /// settled are not scanned again (the gather scored them all).
    ///
    /// # Errors
    ///
    /// Those of `write_mask` (named by the layer's index in the whole
    /// list), `plans` or `masks` not one per layer; all checked before
    /// anything is written (for layers written whole, their scores too).
    #[allow(clippy::too_many_arguments)]
    pub fn settle_part<M: MaskValue>(
        &self,
        layers: &[Layer<'_>],
        first: usize,
        opts: &Options,
        range: &SplitRange,
        part: &[u64],
        plans: &[LayerPlan],
        masks: &mut [&mut [M]],
    ) -> Result<(), Error> {
        plan::settle::settle_part(self.level, layers, first, opts, range, part, plans, masks)
    }

    /// A split selection, step 3 (see [`split_range`](Pruner::split_range)):
    /// the parts, in layer order, merged into every layer's plan: the plans
    /// and summary [`plan`](Pruner::plan) gives for the same layers and
    /// options. The threshold comes from the parts' candidates, in memory
    /// (they must fit the scratch, as [`scratch_words`](Pruner::scratch_words)
    /// sizes it; if not, the selection runs in passes over the layers, same
    /// result). Layers held at a bound are selected again here, in passes,
    /// as `plan` does.
    ///
    /// # Errors
    ///
    /// Those of [`plan`](Pruner::plan);
    /// [`SplitParts`](crate::ErrorKind::SplitParts) for options whose scope
    /// is not global, a range that is not these layers' and options', or
    /// parts that are not the range's parts of these layers in order
    /// (gathered against another range or scoring, missing, out of order,
    /// truncated or altered). Nothing is written on error.
    pub fn plan_split(
        &mut self,
        layers: &[Layer<'_>],
        opts: &Options,
        range: &SplitRange,
        parts: &[&[u64]],
        plans: &mut [LayerPlan],
    ) -> Result<Summary, Error> {
        let split = Some((range, parts));
        plan::planner::plan(self.level, self.scratch, layers, opts, plans, split)
    }

    /// Writes one layer's mask from its plan (1 = keep, 0 = prune; `u8` or
    /// `f32`, see [`MaskValue`]): with
    /// [`plan`](Pruner::plan), masks one layer at a time, e.g. while
    /// streaming a checkpoint. The layer must be the one planned, scored
    /// with the same options (pattern, reduction, criterion, ties, compat;
    /// the target and bounds shaped the plan and do not matter here); it is
    /// checked again in full.
    ///
    /// # Errors
    ///
    /// The level unavailable; a mask of the wrong length; a layer or
    /// scoring options that do not match its plan
    /// ([`PlanMismatch`](crate::ErrorKind::PlanMismatch)); a NaN score. The error names no layer index (there is one layer);
    /// the mask is untouched.
    ///
    /// ```
    /// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
    /// let w = [4.0f32, 1.0, 3.0, 2.0, 5.0, 8.0, 7.0, 6.0];
    /// let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
    /// let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
    /// let mut plans = [LayerPlan::default()];
    /// let mut pruner = Pruner::new();
    /// pruner.plan(&layers, &opts, &mut plans).unwrap();
    /// let mut mask = [9u8; 8];
    /// pruner.write_mask(&layers[0], &opts, &plans[0], &mut mask).unwrap();
    /// assert_eq!(mask, [1, 0, 1, 0, 0, 1, 1, 0]);
    /// ```
    pub fn write_mask<M: MaskValue>(
        &self,
        layer: &Layer<'_>,
        opts: &Options,
        plan: &LayerPlan,
        mask: &mut [M],
    ) -> Result<(), Error> {
        plan::mask::write_mask(self.level, layer, opts, plan, mask)
    }

    /// Plans and writes every mask (`u8` or `f32`, see [`MaskValue`]):
    /// [`plan`](Pruner::plan), then one pass that writes the masks (the layers are not checked twice). The
    /// fastest way to the masks of a model held in memory.
    ///
    /// # Errors
    ///
    /// Those of [`plan`](Pruner::plan), and `masks.len() != layers.len()`
    /// or a mask of the wrong length. Nothing is written unless every
    /// layer and buffer is valid.
    ///
    /// ```
    /// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape, Ties};
    /// // INC's rule prunes every tie with the k-th score; exact prunes k.
    /// let w = [1.0f32, 1.0, 1.0, 2.0];
    /// let layers = [Layer::new(&w[..], Shape::matrix(1, 4))];
    /// let mut plans = [LayerPlan::default()];
    /// let mut mask = vec![0u8; 4];
    /// let opts = Options::new(Pattern::parse("1x1").unwrap(), 0.5);
    /// Pruner::new().prune(&layers, &opts, &mut plans, &mut [&mut mask[..]]).unwrap();
    /// assert_eq!(mask, [0, 0, 1, 1]);
    /// let inclusive = opts.ties(Ties::Inclusive);
    /// Pruner::new().prune(&layers, &inclusive, &mut plans, &mut [&mut mask[..]]).unwrap();
    /// assert_eq!(mask, [0, 0, 0, 1]);
    /// ```
    pub fn prune<M: MaskValue>(
        &mut self,
        layers: &[Layer<'_>],
        opts: &Options,
        plans: &mut [LayerPlan],
        masks: &mut [&mut [M]],
    ) -> Result<Summary, Error> {
        plan::mask::prune(self.level, self.scratch, layers, opts, plans, masks)
    }

    /// The unit scores of one layer in pool order (row-major unit index):
    /// block scores for NxM, group scores for N:M, as the selection ranks
    /// them; a zero score is written as `+0.0`. Returns the number of
    /// units.
    ///
    /// # Errors
    ///
    /// The level unavailable, bad ratios in `opts`, a shape that does not
    /// match the slice, a pattern that does not fit
    /// ([`NotFitting`](crate::ErrorKind::NotFitting)), `out` not exactly
    /// one `f32` per unit ([`OutputLength`](crate::ErrorKind::OutputLength)),
    /// a NaN score.
    ///
    /// ```
    /// use prunemask::{Layer, Options, Pattern, Pruner, Shape};
    /// let w = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    /// let opts = Options::new(Pattern::parse("2x2").unwrap(), 0.5);
    /// let mut out = [0.0f32; 2];
    /// let layer = Layer::new(&w[..], Shape::matrix(2, 4));
    /// assert_eq!(Pruner::new().unit_scores(&layer, &opts, &mut out), Ok(2));
    /// assert_eq!(out, [3.5, 5.5]);
    /// ```
    pub fn unit_scores(
        &self,
        layer: &Layer<'_>,
        opts: &Options,
        out: &mut [f32],
    ) -> Result<usize, Error> {
        plan::mask::unit_scores(self.level, layer, opts, out)
    }

    /// Writes pattern-lock masks from the weights themselves
    /// (`docs/semantics.md`, section 8; INC 2.0 `get_pattern_lock_masks`):
    ///
    /// - NxM (and `1x1`, unstructured): a block is 0 when every weight in
    ///   it is zero (INC: the sum of `|w|` is 0), else 1.
    /// - N:M (INC 2.0 rule): an element is 0 when it is zero **and** its
    ///   group has at least N zeros, else 1.
    ///
    /// Layers the pattern does not fit get all ones and a `Skipped` report
    /// (INC crashes on them).
    ///
    /// # Errors
    ///
    /// The level unavailable, list lengths, a shape that does not match
    /// its slice, a mask of the wrong length, a NaN weight; nothing is
    /// written then.
    ///
    /// ```
    /// use prunemask::{Layer, LayerReport, Pattern, Pruner, Shape};
    /// let w = [0.0f32, 0.0, 1.0, 2.0,   0.0, 3.0, 4.0, 5.0];
    /// let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
    /// let mut mask = vec![9u8; 8];
    /// let mut reports = [LayerReport::default()];
    /// let p = Pattern::parse("2:4").unwrap();
    /// let s = Pruner::new().lock(&layers, &p, &mut reports, &mut [&mut mask[..]]).unwrap();
    /// assert_eq!(mask, [0, 0, 1, 1,   1, 1, 1, 1]); // the second group has one zero only
    /// assert_eq!(s.pruned_elements, 2);
    /// ```
    pub fn lock(
        &self,
        layers: &[Layer<'_>],
        pattern: &Pattern,
        reports: &mut [LayerReport],
        masks: &mut [&mut [u8]],
    ) -> Result<Summary, Error> {
        lock::lock(self.level, layers, pattern, reports, masks)
    }

    /// The sparsity of a set of masks under a pattern (`docs/semantics.md`,
    /// section 9; INC `get_sparsity_ratio`): block-wise for NxM (blocks
    /// whose mask is all 0, over the blocks of the layers the pattern
    /// fits), element-wise for N:M (zeros over all elements).
    ///
    /// # Errors
    ///
    /// The level unavailable, `masks.len() != shapes.len()`, a bad shape, a
    /// mask of the wrong length or holding a byte other than 0 and 1.
    ///
    /// ```
    /// use prunemask::{Pattern, Pruner, Shape};
    /// let mask = [0u8, 0, 1, 1,  0, 1, 1, 1];
    /// let p = Pattern::parse("1x2").unwrap();
    /// let s = Pruner::new().mask_sparsity(&p, &[Shape::matrix(2, 4)], &[&mask[..]]).unwrap();
    /// assert_eq!((s.zero, s.total), (1, 4));
    /// let nm = Pattern::parse("2:4").unwrap();
    /// let s = Pruner::new().mask_sparsity(&nm, &[Shape::matrix(2, 4)], &[&mask[..]]).unwrap();
    /// assert_eq!((s.zero, s.total), (3, 8));
    /// ```
    pub fn mask_sparsity(
        &self,
        pattern: &Pattern,
        shapes: &[Shape],
        masks: &[&[u8]],
    ) -> Result<MaskSparsity, Error> {
        lock::mask_sparsity(self.level, pattern, shapes, masks)
    }

    /// How much of a layer's score mass `mask` keeps: `Σ score·mask` and
    /// `Σ score` in f64, each element's score read by `criterion` (`|w|`
    /// for magnitude), summed in a fixed order (the same result on every
    /// machine and level). `kept / total` of `|w|` is what NVIDIA ASP
    /// reports as a mask's efficacy.
    ///
    /// # Errors
    ///
    /// The level unavailable, a shape that does not match the slice, a mask
    /// of the wrong length or holding a byte other than 0 and 1, a NaN
    /// score.
    ///
    /// ```
    /// use prunemask::{Criterion, Layer, Pruner, Shape};
    /// let w = [1.0f32, -3.0, 0.5, 4.0];
    /// let layer = Layer::new(&w[..], Shape::matrix(1, 4));
    /// let m = Pruner::new().score_mass(&layer, Criterion::Magnitude, &[0, 1, 0, 1]).unwrap();
    /// assert_eq!((m.kept, m.total), (7.0, 8.5));
    /// ```
    pub fn score_mass(
        &self,
        layer: &Layer<'_>,
        criterion: Criterion,
        mask: &[u8],
    ) -> Result<ScoreMass, Error> {
        lock::score_mass(self.level, layer, criterion, mask)
    }

    /// OWL's outlier count over a set of layers (one block of a network,
    /// Yin et al., 2024): each element's score read by `criterion`
    /// (`|w| · s_j` for Wanda, with each layer's input scale), their mean
    /// over all the layers' elements, and how many are above `m` times it
    /// (OWL: `M = 5`). Plain code summing in a fixed order (f64), so the
    /// same on every machine; two passes over the scores.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BadParameter`](crate::ErrorKind::BadParameter) for `m`
    /// not finite and positive; per layer (by its index): a shape that does
    /// not match its slice, a missing or bad input scale (as
    /// [`plan`](Pruner::plan)), a NaN element.
    ///
    /// ```
    /// use prunemask::{Criterion, Layer, Pruner, Shape};
    /// let (w, s) = ([1.0f32, 2.0, 1.0, 2.0], [1.0f32, 10.0]);
    /// let layer = Layer::new(&w[..], Shape::matrix(2, 2)).input_scale(&s);
    /// let o = Pruner::new().outliers(&[layer], Criterion::Wanda, 1.5)?;
    /// assert_eq!((o.above, o.mean), (2, 10.5));
    /// # Ok::<(), prunemask::Error>(())
    /// ```
    pub fn outliers(
        &self,
        layers: &[Layer<'_>],
        criterion: Criterion,
        m: f64,
    ) -> Result<Outliers, Error> {
        crate::budget::outliers(layers, criterion, m)
    }
}
