//! The extension vocabulary: what a unit is (its [`Geometry`]), a run of
//! units to score ([`Tile`]), a pattern's kernels ([`KernelSet`]) and the
//! table of names ([`Registry`]). The data types live here so that errors
//! can name them; the built-in kinds and their constructors are in
//! `pattern/`.

use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::{typed, Element, Read, Scores};
use crate::vocab::shape::View;
use crate::vocab::terms::{Criterion, Level, Reduce, Ties};

/// Longest N:M group (`M`) the kernels take: a group's marks fit in a `u128`.
pub const MAX_GROUP: usize = 128;

/// One side of a block: a fixed size, or the whole dimension (`channel`).
///
/// ```
/// use prunemask::ext::{Extent, Geometry};
/// use prunemask::Pattern;
/// let p = Pattern::parse("channelx1").unwrap();
/// assert_eq!(p.geometry(), Geometry::Block { n: Extent::Channel, m: Extent::Fixed(1) });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extent {
    /// A block side of this many rows or columns.
    Fixed(usize),
    /// All rows (`channelxM`) or all columns (`Nxchannel`) of the layer.
    Channel,
}

impl Extent {
    pub(crate) fn resolve(self, dim: usize) -> usize {
        match self {
            Extent::Fixed(n) => n,
            Extent::Channel => dim,
        }
    }
}

/// Which elements form a unit.
///
/// ```
/// use prunemask::{ext::Geometry, Pattern};
/// assert_eq!(Pattern::parse("2:4").unwrap().geometry(), Geometry::NInM { n: 2, m: 4 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Geometry {
    /// `NxM`: a block of `n` view rows by `m` view columns, pruned whole.
    Block {
        /// Block height (rows).
        n: Extent,
        /// Block width (columns).
        m: Extent,
    },
    /// `N:M`: `n` of every `m` consecutive view columns of a row are pruned.
    NInM {
        /// Elements pruned per group.
        n: usize,
        /// Group length.
        m: usize,
    },
}

/// Why a layer takes no part: the pattern does not fit its shape.
///
/// ```
/// use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape, SkipReason, Status};
/// let w = [1.0f32; 6 * 4];
/// let layers = [Layer::new(&w[..], Shape::matrix(6, 4))];
/// let mut plans = [LayerPlan::default()];
/// let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5);
/// Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
/// assert_eq!(plans[0].report().status, Status::Skipped(SkipReason::Rows { rows: 6, block: 4 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// The view's rows do not divide by the block height.
    Rows {
        /// View rows.
        rows: usize,
        /// Block height.
        block: usize,
    },
    /// The view's columns (for N:M: the input channels) do not divide by the
    /// block width or group length.
    Cols {
        /// View columns, or input channels for N:M.
        cols: usize,
        /// Block width or group length.
        block: usize,
    },
}

/// The units of one layer under a pattern: a `[rows, cols]` grid of units,
/// each `unit_rows x unit_cols` view elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub unit_rows: usize,
    pub unit_cols: usize,
}

impl Grid {
    pub fn units(&self) -> usize {
        self.rows * self.cols
    }
}

/// A run of units for a kernel to score: units `first_unit ..` of unit row
/// `unit_row` of one layer.
///
/// ```
/// use prunemask::ext::{KernelSet, Tile};
/// // A custom kernel: score each 1x2 block by its first element.
/// fn first(tile: &Tile<'_>, out: &mut [f32]) {
///     for (u, o) in out.iter_mut().enumerate() {
///         let c = (tile.first_unit + u) * tile.unit_cols;
///         *o = tile.value(tile.unit_row, c);
///     }
/// }
/// let set = KernelSet::custom_block(1, 2, first);
/// assert_eq!(set.geometry(), prunemask::Pattern::parse("1x2").unwrap().geometry());
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Tile<'a> {
    /// The layer's scores.
    pub scores: Scores<'a>,
    /// The layer's 2-D view.
    pub view: View,
    /// Unit height in view rows (1 for N:M).
    pub unit_rows: usize,
    /// Unit width in view columns (`M` for N:M).
    pub unit_cols: usize,
    /// `N` for N:M (elements pruned per group), 0 for blocks.
    pub prune_per_group: usize,
    /// Block reduction.
    pub reduce: Reduce,
    /// How element scores are read.
    pub criterion: Criterion,
    /// The layer's per-input-feature scale (the Wanda criterion), indexed
    /// by input feature: view column `c` is input `c % view.inner()`.
    pub input_scale: Option<&'a [f32]>,
    /// Tie rule (N:M least-N marking depends on it).
    pub ties: Ties,
    /// The instruction-set level built-in kernels run at.
    pub level: Level,
    /// Unit row of the run.
    pub unit_row: usize,
    /// First unit column of the run.
    pub first_unit: usize,
}

impl<'a> Tile<'a> {
    /// The element score at view position `(r, c)`, read by the criterion
    /// (`|w| · s[input]` for Wanda). Never NaN: every score is checked
    /// before any kernel runs. See the [`Tile`] example.
    #[inline]
    pub fn value(&self, r: usize, c: usize) -> f32 {
        self.value_at(self.view.index(r, c), c)
    }

    /// The score of flat element `index`, which sits at view column `c`.
    #[inline]
    pub(crate) fn value_at(&self, index: usize, c: usize) -> f32 {
        typed!(self.scores, s => self.element(s[index], c))
    }

    /// The score of value `x`, which sits at view column `c`.
    #[inline(always)]
    pub(crate) fn element<E: Element>(&self, x: E, c: usize) -> f32 {
        let inner = self.view.inner();
        let input = if c < inner { c } else { c % inner };
        self.read().element(x.widen(), input)
    }

    /// How kernels read this tile's values: the scale indexed by input
    /// feature (a kernel on contiguous rows takes it [`from`](Read::from)
    /// its first column).
    #[inline(always)]
    pub(crate) fn read(&self) -> Read<'a> {
        Read {
            abs: self.criterion.abs(),
            scale: self.input_scale,
        }
    }
}

/// Scores `out.len()` units of a tile, lower is pruned first. A NaN unit
/// score is reported as an error by the caller. (Every score is checked for
/// NaN before a custom kernel sees it.)
pub type UnitScoresFn = fn(&Tile<'_>, &mut [f32]);

/// A pattern's kernels: its geometry and the function that scores its units.
///
/// Masks, locks and selection follow from the geometry; the kernel only has
/// to produce one `f32` score per unit (lower is pruned first).
///
/// ```
/// use prunemask::ext::{Extent, Geometry, KernelSet};
/// const SET: KernelSet = KernelSet::block::<4, 1>();
/// assert_eq!(SET.geometry(), Geometry::Block { n: Extent::Fixed(4), m: Extent::Fixed(1) });
/// ```
#[derive(Clone, Copy)]
pub struct KernelSet {
    pub(crate) geometry: Geometry,
    pub(crate) unit_scores: UnitScoresFn,
    /// Everything else the pattern's kind does: masks, lock, zeros.
    pub(crate) kind: &'static dyn Kind,
    /// Built-in kernels score a unit holding a NaN element as NaN, so
    /// scoring checks the scores; others need a separate scan.
    pub(crate) builtin: bool,
}

impl core::fmt::Debug for KernelSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("KernelSet")
            .field("geometry", &self.geometry)
            .field("builtin", &self.builtin)
            .finish_non_exhaustive()
    }
}

impl KernelSet {
    /// The geometry of the units.
    ///
    /// ```
    /// use prunemask::ext::{Geometry, KernelSet};
    /// assert_eq!(KernelSet::n_in_m::<1, 4>().geometry(), Geometry::NInM { n: 1, m: 4 });
    /// ```
    pub const fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// Scores `out.len()` units of a tile.
    pub(crate) fn score(&self, tile: &Tile<'_>, out: &mut [f32]) {
        (self.unit_scores)(tile, out)
    }

    /// Rejects sizes no kernel of the kind serves.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        self.kind
            .validate(&self.geometry)
            .map_err(|reason| Error::new(ErrorKind::BadPattern { reason }))
    }

    /// The unit grid of a layer, or why the pattern does not fit it.
    pub(crate) fn grid(&self, view: &View) -> Result<Grid, SkipReason> {
        self.grid_with(view, view.cols())
    }

    /// [`grid`](Self::grid) with `Nxchannel` blocks `channel_cols` wide
    /// (INC 2.0 makes them `I` wide on a conv weight): the kind's unit,
    /// which must tile the view.
    pub(crate) fn grid_with(&self, view: &View, channel_cols: usize) -> Result<Grid, SkipReason> {
        let (unit_rows, unit_cols) = self.kind.unit(&self.geometry, view, channel_cols)?;
        if unit_rows == 0 || !view.rows().is_multiple_of(unit_rows) {
            return Err(SkipReason::Rows {
                rows: view.rows(),
                block: unit_rows,
            });
        }
        if unit_cols == 0 || !view.cols().is_multiple_of(unit_cols) {
            return Err(SkipReason::Cols {
                cols: view.cols(),
                block: unit_cols,
            });
        }
        Ok(Grid {
            rows: view.rows() / unit_rows,
            cols: view.cols() / unit_cols,
            unit_rows,
            unit_cols,
        })
    }

    /// Elements of a pruned unit that pruning zeroes when it takes only
    /// some (`N` of N:M); 0 when a pruned unit is zeroed whole.
    pub(crate) fn pruned_per_group(&self) -> usize {
        self.kind.pruned_per_group(&self.geometry)
    }

    /// The share of a unit's elements that pruning it zeroes (with exact
    /// ties): `N/M` for N:M, 1 for blocks. An element target divided by it
    /// is a unit target (INC: `s / (N/M)`).
    pub(crate) fn pruned_share(&self) -> f64 {
        let (pruned, of) = self.kind.pruned_share(&self.geometry);
        pruned as f64 / of.max(1) as f64
    }

    /// [`pruned_share`](Self::pruned_share) as `(pruned, of)`, exactly.
    pub(crate) fn pruned_fraction(&self) -> (usize, usize) {
        self.kind.pruned_share(&self.geometry)
    }

    /// Elements one pruned unit of `grid` zeroes with exact ties.
    pub(crate) fn pruned_per_unit(&self, grid: &Grid) -> u64 {
        match self.pruned_per_group() {
            0 => (grid.unit_rows * grid.unit_cols) as u64,
            n => n as u64,
        }
    }
}

/// What a pattern kind (blocks, N:M groups, ...) does beyond scoring its
/// units: one implementation per kind, in `pattern/<kind>/`, owns its mask
/// rows, its pattern-lock rule and how its zeros are counted. The unit
/// scores are the [`KernelSet`]'s function (a kind's built-in one, or a
/// caller's).
pub(crate) trait Kind: Sync {
    /// Why the kind cannot serve `geometry`'s sizes, if it cannot (an
    /// [`ErrorKind::BadPattern`] reason).
    fn validate(&self, geometry: &Geometry) -> Result<(), &'static str>;

    /// A unit's size in view elements, `(rows, cols)`, on a layer, or why
    /// the kind does not fit it (the caller checks that units tile the
    /// view). `channel_cols` is the width a `channel` side stands for.
    fn unit(
        &self,
        geometry: &Geometry,
        view: &View,
        channel_cols: usize,
    ) -> Result<(usize, usize), SkipReason>;

    /// Elements pruning a unit zeroes when it takes only some of them (`N`
    /// of N:M); 0 when a pruned unit is zeroed whole.
    fn pruned_per_group(&self, geometry: &Geometry) -> usize;

    /// The share of a unit's elements a pruned unit loses with exact ties.
    /// As `(pruned, of)`: `(N, M)` for N:M, `(1, 1)` for whole units.
    fn pruned_share(&self, geometry: &Geometry) -> (usize, usize);

    /// Units a tile holds when masks are written.
    fn mask_tile(&self, grid: &Grid) -> usize;

    /// Scores a tile for mask writing into `scores`, and, for a kind that
    /// prunes part of a unit, each element's keep mark into `keep` (1 =
    /// kept even when its unit is pruned). Returns the marks written.
    fn mask_scores(
        &self,
        set: &KernelSet,
        tile: &Tile<'_>,
        scores: &mut [f32],
        keep: &mut [u8],
    ) -> usize;

    /// Scores a tile into `scores` and, for a kind that prunes part of a
    /// unit, the elements pruning each unit zeroes under the tile's ties
    /// into `pruned` (one per unit, in the same pass). False when a pruned
    /// unit is zeroed whole (`pruned` untouched).
    fn pruned_scores(
        &self,
        set: &KernelSet,
        tile: &Tile<'_>,
        scores: &mut [f32],
        pruned: &mut [f32],
    ) -> bool;

    /// One contiguous view row of a tile's mask, `width` elements a unit:
    /// `kept[u]` is 1 for a kept unit; `keep` the marks of
    /// [`mask_scores`](Kind::mask_scores).
    fn write_row(&self, level: Level, row: &mut [u8], kept: &[u8], keep: &[u8], width: usize);

    /// Pattern lock of a layer (`docs/semantics.md`, section 8): writes every byte of `out`,
    /// returns the (units, elements) locked.
    fn lock(
        &self,
        level: Level,
        scores: Scores<'_>,
        view: &View,
        grid: &Grid,
        n: usize,
        out: &mut [u8],
    ) -> (u64, u64);

    /// The zeros of a checked-length 0/1 mask as the kind counts them
    /// (`docs/semantics.md`, section 9): `(zero, total)`; `grid` is `None` when the pattern
    /// does not fit. A byte above 1 is [`ErrorKind::MaskValue`].
    fn zeros(
        &self,
        level: Level,
        view: &View,
        grid: Option<Grid>,
        mask: &[u8],
    ) -> Result<(u64, u64), ErrorKind>;
}

/// Names of the built-in patterns, in the order the registry tries them
/// (`pattern/registry.rs` pairs each with its kernel set, checked at
/// compile time). Any other `NxM` (sizes or `channel`) and `N:M` also
/// parses, served by the runtime-sized kernels.
///
/// ```
/// assert!(prunemask::ext::BUILTIN_NAMES.contains(&"2:4"));
/// ```
pub const BUILTIN_NAMES: [&str; 17] = [
    "1x1",
    "4x1",
    "1x4",
    "8x1",
    "1x8",
    "16x1",
    "1x16",
    "2x2",
    "4x4",
    "channelx1",
    "1xchannel",
    "1:2",
    "2:4",
    "1:4",
    "4:8",
    "2:8",
    "8:16",
];

/// Names to kernel sets: the built-ins plus a `'static` table of your own.
/// No heap, `Copy`, and `const`-constructible, so a registry can live in a
/// `const` or `static`.
///
/// Lookup takes the part of a name after its last `_` (`"nxm_4x1"` is
/// `"4x1"`), tries your entries, then the built-ins, then parses `NxM` (with
/// `channel` for either side) or `N:M` into the runtime-sized kernels.
///
/// ```
/// use prunemask::ext::{KernelSet, Registry, Tile};
///
/// // Score 2x2 blocks by their largest element, under a name of our own.
/// fn peak(t: &Tile<'_>, out: &mut [f32]) {
///     for (u, o) in out.iter_mut().enumerate() {
///         let (r0, c0) = (t.unit_row * 2, (t.first_unit + u) * 2);
///         let mut best = f32::NEG_INFINITY;
///         for r in r0..r0 + 2 {
///             for c in c0..c0 + 2 {
///                 best = best.max(t.value(r, c));
///             }
///         }
///         *o = best;
///     }
/// }
///
/// const REGISTRY: Registry = Registry::with(&[("peak2x2", KernelSet::custom_block(2, 2, peak))]);
/// assert!(REGISTRY.check().is_ok());
/// let pattern = REGISTRY.lookup("peak2x2").unwrap();
/// assert_eq!(pattern.name(), "peak2x2");
/// assert!(REGISTRY.lookup("2:4").is_ok()); // built-ins stay
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Registry {
    pub(crate) user: &'static [(&'static str, KernelSet)],
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Registries are equal when they hold the same names.
impl PartialEq for Registry {
    fn eq(&self, other: &Self) -> bool {
        self.names().eq(other.names())
    }
}

impl Registry {
    /// The built-ins only.
    ///
    /// ```
    /// static REGISTRY: prunemask::ext::Registry = prunemask::ext::Registry::new();
    /// assert!(REGISTRY.lookup("4x1").is_ok());
    /// ```
    pub const fn new() -> Self {
        Registry { user: &[] }
    }

    /// The built-ins plus your entries, looked up first. Check the table
    /// once with [`check`](Self::check); [`lookup`](Self::lookup) does too.
    ///
    /// ```
    /// use prunemask::ext::{KernelSet, Registry};
    /// const R: Registry = Registry::with(&[("wide", KernelSet::block::<1, 32>())]);
    /// assert_eq!(R.names().next(), Some("wide"));
    /// ```
    pub const fn with(entries: &'static [(&'static str, KernelSet)]) -> Self {
        Registry { user: entries }
    }

    /// Every registered name: yours, then the built-ins.
    ///
    /// ```
    /// let r = prunemask::ext::Registry::new();
    /// assert_eq!(r.names().count(), prunemask::ext::BUILTIN_NAMES.len());
    /// ```
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.user
            .iter()
            .map(|(n, _)| *n)
            .chain(BUILTIN_NAMES.iter().copied())
    }
}
