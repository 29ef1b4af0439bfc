//! # prunemask
//!
//! Pruning masks for neural-network weights: NxM blocks (`4x1`, `1x4`,
//! `channelx1`...), N:M groups (`2:4`, `4:8`...) and unstructured (`1x1`),
//! chosen per layer or globally across layers by a k-th value threshold,
//! with per-layer bounds, pattern-lock masks and sparsity reports. The
//! behaviour is Intel Neural Compressor's PyTorch pruning patterns
//! ([`Options::inc_compat`] reproduces INC 2.0 bit for bit), plus exact,
//! deterministic tie handling and explicit errors. The rules are in
//! `docs/semantics.md`.
//!
//! `#![no_std]`, no allocator: layers are borrowed slices with explicit
//! shapes, masks are the caller's `u8` buffers (1 = keep, 0 = prune), and
//! the selection works in fixed stack buffers (a 16 KiB radix histogram,
//! 4 KiB to widen a tile of halves, 256-unit tiles) or in scratch you
//! lend, however many layers there are.
//!
//! - The everyday API is here: [`Layer`] and [`Shape`] in, [`Options`]
//!   ([`Pattern`], [`Scope`], [`Ties`]...), and a [`Pruner`] (the SIMD
//!   [`Level`] and scratch) whose methods plan, prune, write masks, lock
//!   and measure sparsity.
//! - [`ext`] holds what extending it takes: kernel sets, tiles, the
//!   registry of pattern names, the 2-D view.
//! - [`compress`] turns a weight and its N:M mask into kept values plus
//!   index metadata or compressed-tensors' bitmask, and back, for engines
//!   that vendor the library (current vLLM does not read them).
//!
//! ```
//! use prunemask::{Criterion, Layer, LayerPlan, Options, Pattern, Pruner, Shape};
//!
//! let w: Vec<f32> = (0..64).map(|i| ((i * 37) % 64) as f32 - 32.0).collect();
//! let layers = [Layer::new(&w[..], Shape::matrix(8, 8))];
//! let mut mask = vec![0u8; 64];
//! let mut plans = [LayerPlan::default()];
//! let opts = Options::new(Pattern::parse("2:4")?, 0.5).criterion(Criterion::Magnitude);
//! let summary = Pruner::new().prune(&layers, &opts, &mut plans, &mut [&mut mask[..]])?;
//! assert_eq!(summary.sparsity_ratio(), 0.5);
//! assert!(mask.chunks(4).all(|g| g.iter().sum::<u8>() == 2));
//! # Ok::<(), prunemask::Error>(())
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

// The layers, bottom to top: each imports only from those before it
// (`.ci/layers.py` checks this order; blank lines keep rustfmt from
// sorting it).

// Errors, shapes, borrowed scores, option words, extension types.
mod vocab;

// The reference (`arch/all`), the SIMD kernels and their dispatch.
mod arch;

// Per tile: the SIMD kernel or the reference.
mod score;

// One kind per folder (blocks, N:M groups); the registry of names.
mod pattern;

// Order keys, sample-select, the radix fallback.
mod select;

// Options, the planner, reports, masks from a plan.
mod plan;

// Pattern lock, the sparsity of masks.
mod lock;

// Layer budgets: outlier ratios and OWL's targets.
mod budget;

// Compressed N:M matrices (values, index metadata, bitmask) and back.
pub mod compress;

// The entry points.
mod pruner;

pub use budget::{owl_targets, Outliers};
pub use lock::{MaskSparsity, ScoreMass};
pub use pattern::Pattern;
pub use plan::{
    Bound, CapMode, Compat, LayerPlan, LayerReport, MaskValue, Options, Scope, Status, Summary,
};
pub use pruner::Pruner;
pub use select::SplitRange;
pub use vocab::error::{Error, ErrorKind, PatternName};
pub use vocab::ext::SkipReason;
pub use vocab::scores::{Layer, Scores};
pub use vocab::shape::Shape;
pub use vocab::terms::{Criterion, Level, Reduce, Ties};

/// Extending prunemask: your own kernel sets under your own names, and
/// the types a kernel sees.
///
/// A [`KernelSet`](ext::KernelSet) pairs a unit [`Geometry`](ext::Geometry)
/// with the function that scores a [`Tile`](ext::Tile) of units; a
/// [`Registry`](ext::Registry) maps names to kernel sets, `const`, so an
/// embedded build links the kernels it names. [`View`](ext::View) is the
/// 2-D `[rows, cols]` view of a [`Shape`] that every pattern works in.
pub mod ext {
    pub use crate::vocab::ext::{
        Extent, Geometry, KernelSet, Registry, Tile, UnitScoresFn, BUILTIN_NAMES, MAX_GROUP,
    };
    pub use crate::vocab::scores::Element;
    pub use crate::vocab::shape::{Run, View};
}

/// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
