//! # prunemask
//!
//! Pruning masks for neural-network weights: NxM blocks (`4x1`, `1x4`,
//! `channelx1`...), N:M groups (`2:4`, `4:8`...) and unstructured (`1x1`),
//! chosen per layer or globally across layers by a k-th value threshold,
//! with per-layer bounds, pattern-lock masks and sparsity reports. The
//! behaviour is Intel Neural Compressor's PyTorch pruning patterns
//! ([`Options::inc_compat`]), plus exact, deterministic tie handling and
//! explicit errors.
//!
//! `#![no_std]`, no allocator: layers are borrowed slices with explicit
//! shapes, masks are the caller's `u8` buffers (1 = keep, 0 = prune), and the
//! selection works in fixed stack buffers (16 KiB radix histograms, up to
//! 16 KiB to widen a tile of halves, 256-unit tiles; an estimated 50-60 KiB at
//! the deepest point), however many layers there are.
//!
//! ```
//! use prunemask::{prune, Layer, LayerReport, Options, Pattern, Shape};
//!
//! let q: Vec<f32> = (0..64).map(|i| ((i * 37) % 64) as f32).collect();
//! let k: Vec<f32> = (0..64).map(|i| ((i * 11) % 64) as f32 - 32.0).collect();
//! let layers = [
//!     Layer::new(&q[..], Shape::matrix(8, 8)),
//!     Layer::new(&k[..], Shape::matrix(8, 8)),
//! ];
//! let mut masks = [vec![0u8; 64], vec![0u8; 64]];
//! let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
//! let mut reports = [LayerReport::default(); 2];
//! let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5)
//!     .criterion(prunemask::Criterion::Magnitude);
//! let summary = prune(&layers, &opts, &mut reports, &mut outs).unwrap();
//! assert_eq!(summary.sparsity(), 0.5);
//! // Every group of 4 keeps exactly 2.
//! assert!(masks[0].chunks(4).all(|g| g.iter().sum::<u8>() == 2));
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod arch;
mod error;
mod kernels;
mod layer;
mod lock;
mod pattern;
mod plan;
mod select;
mod shape;

pub use arch::Level;
pub use error::{Error, ErrorKind, Name, NAME_CAPACITY};
pub use layer::{Criterion, Element, Layer, Scores};
pub use lock::{lock, lock_at, sparsity, sparsity_at, Sparsity};
pub use pattern::{
    Extent, Geometry, KernelSet, Pattern, Reduce, Registry, SkipReason, Ties, Tile, UnitScoresFn,
    BUILTIN_NAMES,
};
pub use plan::{
    plan, plan_with, prune, prune_with, scratch_words, unit_scores, write_mask, Bound, CapMode,
    Compat, Domain, LayerReport, Options, Status, Summary, SCRATCH_MIN,
};
pub use shape::{Run, Shape, View};

/// The README's example runs as a doc test.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
