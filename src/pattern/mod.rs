//! Patterns: what a pruning unit is (an NxM block, an N:M group) and the
//! kernel set that scores units.
//!
//! A [`Pattern`] is a name plus a [`KernelSet`]. The geometry says which
//! elements form a unit and how a pruned unit is masked; the kernel scores
//! units. Built-in kernel sets are const-generic over the unit size, with a
//! runtime-sized fallback for any other size; see [`Registry`].

mod registry;

pub use registry::{Registry, BUILTIN_NAMES};

use crate::error::{Error, ErrorKind, Name};
use crate::kernels;
use crate::layer::{Criterion, Scores};
use crate::shape::View;

/// One side of a block: a fixed size, or the whole dimension (`channel`).
///
/// ```
/// use prunemask::{Extent, Geometry, Pattern};
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
    fn resolve(self, dim: usize) -> usize {
        match self {
            Extent::Fixed(n) => n,
            Extent::Channel => dim,
        }
    }
}

/// Which elements form a unit.
///
/// ```
/// use prunemask::{Geometry, Pattern};
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
/// use prunemask::{Layer, LayerReport, Options, Pattern, Shape, SkipReason, Status};
/// let w = [1.0f32; 6 * 4];
/// let layers = [Layer::new(&w[..], Shape::matrix(6, 4))];
/// let mut reports = [LayerReport::default()];
/// prunemask::plan(&layers, &Options::new(Pattern::parse("4x1").unwrap(), 0.5), &mut reports).unwrap();
/// assert_eq!(reports[0].status, Status::Skipped(SkipReason::Rows { rows: 6, block: 4 }));
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

impl Geometry {
    /// The unit grid of a layer, or why the pattern does not fit it.
    pub(crate) fn grid(&self, view: &View) -> Result<Grid, SkipReason> {
        self.grid_with(view, view.cols())
    }

    /// [`grid`](Self::grid) with `Nxchannel` blocks `channel_cols` wide
    /// (INC 2.0 makes them `I` wide on a conv weight).
    pub(crate) fn grid_with(&self, view: &View, channel_cols: usize) -> Result<Grid, SkipReason> {
        let (unit_rows, unit_cols) = match *self {
            Geometry::Block { n, m } => (n.resolve(view.rows()), m.resolve(channel_cols)),
            Geometry::NInM { m, .. } => {
                // Groups run along input channels at one kernel position.
                if !view.inner().is_multiple_of(m) {
                    return Err(SkipReason::Cols {
                        cols: view.inner(),
                        block: m,
                    });
                }
                (1, m)
            }
        };
        if !view.rows().is_multiple_of(unit_rows) {
            return Err(SkipReason::Rows {
                rows: view.rows(),
                block: unit_rows,
            });
        }
        if !view.cols().is_multiple_of(unit_cols) {
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

    /// Elements an N:M group prunes (`n`), or 0 for blocks.
    pub(crate) fn prune_per_group(&self) -> usize {
        match *self {
            Geometry::NInM { n, .. } => n,
            Geometry::Block { .. } => 0,
        }
    }
}

/// How a block's element scores reduce to the block's score.
///
/// All sums follow one canonical order, the same on every machine and SIMD
/// level: torch's CPU float32 order for INC's `x.mean(-1).mean(1)`. Within a
/// block row, four interleaved partial sums for runs under 8 elements and
/// eight lanes from 8 on; down the block rows, an order that depends on the
/// block column (sequential inside torch's 32-column chunks, interleaved
/// otherwise). `src/kernels/reduce.rs` states it exactly. `Mean` is the mean
/// over rows of each row's mean.
///
/// ```
/// use prunemask::{Options, Pattern, Reduce};
/// let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5).reduce(Reduce::Max);
/// assert_eq!(opts.reduce, Reduce::Max);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Reduce {
    /// Mean of row means (the reference).
    #[default]
    Mean,
    /// Sum.
    Sum,
    /// Largest element.
    Max,
    /// Squared L2 norm: same ranking as the norm, without rounding a square root.
    L2,
}

/// How ties with the k-th smallest score are broken.
///
/// ```
/// use prunemask::{Options, Pattern, Ties};
/// let opts = Options::new(Pattern::parse("1x1").unwrap(), 0.5).ties(Ties::Inclusive);
/// assert_eq!(opts.ties, Ties::Inclusive);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Ties {
    /// Exactly `k` units: all below the threshold, then those equal to it in
    /// pool order (layer order, then row-major unit index). N:M least-N marks
    /// exactly `N` per group, lower column first among equals.
    #[default]
    Exact,
    /// The reference: every unit `<=` the threshold is pruned, so ties can
    /// prune more than `k`.
    Inclusive,
}

/// A run of units for a kernel to score: units `first_unit ..` of unit row
/// `unit_row` of one layer.
///
/// ```
/// use prunemask::{KernelSet, Tile};
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
    /// Tie rule (N:M least-N marking depends on it).
    pub ties: Ties,
    /// The instruction-set level built-in kernels run at.
    pub level: crate::Level,
    /// Unit row of the run.
    pub unit_row: usize,
    /// First unit column of the run.
    pub first_unit: usize,
}

impl Tile<'_> {
    /// The element score at view position `(r, c)`, read by the criterion.
    /// Never NaN: every score is checked before any kernel runs. See the
    /// [`Tile`] example.
    #[inline]
    pub fn value(&self, r: usize, c: usize) -> f32 {
        kernels::read_at(self.scores, self.criterion, self.view.index(r, c))
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
/// use prunemask::{Geometry, Extent, KernelSet};
/// const SET: KernelSet = KernelSet::block::<4, 1>();
/// assert_eq!(SET.geometry(), Geometry::Block { n: Extent::Fixed(4), m: Extent::Fixed(1) });
/// ```
#[derive(Clone, Copy, Debug)]
pub struct KernelSet {
    geometry: Geometry,
    unit_scores: UnitScoresFn,
    /// Built-in kernels score a unit holding a NaN element as NaN, so
    /// scoring checks the scores; others need a separate scan.
    builtin: bool,
}

impl KernelSet {
    /// The built-in `NxM` block kernels, specialised for constant sizes
    /// (with the default feature `specialized`; without it, the runtime-sized
    /// kernels, for smaller code).
    ///
    /// ```
    /// const SET: prunemask::KernelSet = prunemask::KernelSet::block::<1, 4>();
    /// ```
    pub const fn block<const N: usize, const M: usize>() -> Self {
        KernelSet {
            geometry: Geometry::Block {
                n: Extent::Fixed(N),
                m: Extent::Fixed(M),
            },
            unit_scores: kernels::block_scores_for::<N, M>(),
            builtin: true,
        }
    }

    /// The built-in block kernels for sizes known only at run time
    /// (including `channel` sides).
    ///
    /// ```
    /// use prunemask::{Extent, KernelSet};
    /// let set = KernelSet::block_dyn(Extent::Fixed(3), Extent::Channel);
    /// ```
    pub const fn block_dyn(n: Extent, m: Extent) -> Self {
        KernelSet {
            geometry: Geometry::Block { n, m },
            unit_scores: kernels::reduce::block_scores::<0, 0>,
            builtin: true,
        }
    }

    /// The built-in `N:M` kernels, specialised for constant sizes (with the
    /// default feature `specialized`).
    ///
    /// ```
    /// const SET: prunemask::KernelSet = prunemask::KernelSet::n_in_m::<2, 4>();
    /// ```
    pub const fn n_in_m<const N: usize, const M: usize>() -> Self {
        KernelSet {
            geometry: Geometry::NInM { n: N, m: M },
            unit_scores: kernels::group_scores_for::<M>(),
            builtin: true,
        }
    }

    /// The built-in `N:M` kernels for sizes known only at run time.
    ///
    /// ```
    /// let set = prunemask::KernelSet::n_in_m_dyn(3, 16);
    /// ```
    pub const fn n_in_m_dyn(n: usize, m: usize) -> Self {
        KernelSet {
            geometry: Geometry::NInM { n, m },
            unit_scores: kernels::groups::group_scores::<0>,
            builtin: true,
        }
    }

    /// A user kernel set: fixed-size blocks scored by your own function.
    ///
    /// ```
    /// use prunemask::{KernelSet, Tile};
    /// fn by_first(t: &Tile<'_>, out: &mut [f32]) {
    ///     for (u, o) in out.iter_mut().enumerate() {
    ///         *o = t.value(t.unit_row * t.unit_rows, (t.first_unit + u) * t.unit_cols);
    ///     }
    /// }
    /// let set = KernelSet::custom_block(2, 2, by_first);
    /// ```
    pub const fn custom_block(n: usize, m: usize, unit_scores: UnitScoresFn) -> Self {
        KernelSet {
            geometry: Geometry::Block {
                n: Extent::Fixed(n),
                m: Extent::Fixed(m),
            },
            unit_scores,
            builtin: false,
        }
    }

    /// The geometry of the units.
    ///
    /// ```
    /// use prunemask::{Geometry, KernelSet};
    /// assert_eq!(KernelSet::n_in_m::<1, 4>().geometry(), Geometry::NInM { n: 1, m: 4 });
    /// ```
    pub const fn geometry(&self) -> Geometry {
        self.geometry
    }

    /// A built-in kernel set: it scores a unit holding a NaN as NaN.
    pub(crate) fn is_builtin(&self) -> bool {
        self.builtin
    }

    pub(crate) fn score(&self, tile: &Tile<'_>, out: &mut [f32]) {
        (self.unit_scores)(tile, out)
    }

    /// Rejects sizes no kernel can serve.
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let bad = |reason| Err(Error::new(ErrorKind::BadPattern { reason }));
        match self.geometry {
            Geometry::Block { n, m } => {
                if n == Extent::Fixed(0) || m == Extent::Fixed(0) {
                    return bad("block sizes must be at least 1");
                }
                if n == Extent::Channel && m == Extent::Channel {
                    return bad("a block cannot span both channels");
                }
            }
            Geometry::NInM { n, m } => {
                if n == 0 || m == 0 {
                    return bad("N and M must be at least 1");
                }
                if n >= m {
                    return bad("N:M needs N < M (N is the number pruned)");
                }
                if m > kernels::groups::MAX_GROUP {
                    return bad("N:M supports M up to 128");
                }
            }
        }
        Ok(())
    }
}

/// A resolved pattern: its name and kernel set.
///
/// ```
/// use prunemask::Pattern;
/// let p = Pattern::parse("nxm_4x1").unwrap(); // the part after the last `_` counts
/// assert_eq!(p.name(), "4x1");
/// assert!(Pattern::parse("4:2").is_err()); // N:M prunes N < M
/// ```
#[derive(Clone, Debug)]
pub struct Pattern {
    name: Name,
    kernels: KernelSet,
}

impl Pattern {
    /// Looks a name up in the built-in registry; see [`Registry::lookup`].
    ///
    /// ```
    /// let p = prunemask::Pattern::parse("2:4").unwrap();
    /// assert_eq!(p.name(), "2:4");
    /// ```
    pub fn parse(name: &str) -> Result<Self, Error> {
        Registry::new().lookup(name)
    }

    /// A pattern from a kernel set, under a name of your choice.
    ///
    /// ```
    /// use prunemask::{KernelSet, Pattern};
    /// let p = Pattern::new("4x1", KernelSet::block::<4, 1>()).unwrap();
    /// ```
    pub fn new(name: &str, kernels: KernelSet) -> Result<Self, Error> {
        kernels.validate()?;
        Ok(Pattern {
            name: truncated(name),
            kernels,
        })
    }

    /// The pattern's name.
    ///
    /// ```
    /// assert_eq!(prunemask::Pattern::parse("1xchannel").unwrap().name(), "1xchannel");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The unit geometry.
    ///
    /// ```
    /// use prunemask::{Geometry, Pattern};
    /// assert!(matches!(Pattern::parse("4x4").unwrap().geometry(), Geometry::Block { .. }));
    /// ```
    pub fn geometry(&self) -> Geometry {
        self.kernels.geometry
    }

    /// The kernel set.
    ///
    /// ```
    /// let p = prunemask::Pattern::parse("4:8").unwrap();
    /// assert_eq!(p.kernels().geometry(), p.geometry());
    /// ```
    pub fn kernels(&self) -> &KernelSet {
        &self.kernels
    }
}

/// Keeps at most [`NAME_CAPACITY`](crate::NAME_CAPACITY) bytes, cut on a char boundary.
pub(crate) fn truncated(s: &str) -> Name {
    let mut out = Name::new();
    for ch in s.chars() {
        if out.push(ch).is_err() {
            break;
        }
    }
    out
}
