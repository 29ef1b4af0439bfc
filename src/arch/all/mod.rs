//! The reference: plain scalar code that never dispatches, the crate's
//! definition of right. Every SIMD kernel (`arch/generic`) must agree with
//! it bit for bit, and calls it for the tails it leaves.
//!
//! - `sum`: the canonical summation order;
//! - `block`: block scores and the reductions;
//! - `group`: N:M least-N marks and group scores;
//! - `keys`: scores to order-preserving `u32` keys;
//! - `range`: the selection's range scan;
//! - `mask`: unit decisions written back to element masks through a view;
//! - here: [`inlined`].

pub(crate) mod block;
pub(crate) mod group;
pub(crate) mod keys;
pub(crate) mod mask;
pub(crate) mod range;
pub(crate) mod sum;

/// Returns the closure: in argument position it can carry
/// `#[inline(always)]`, which closures in kernels need: left out of a SIMD
/// function, every intrinsic inside them becomes a call.
#[inline(always)]
pub(crate) fn inlined<F>(f: F) -> F {
    f
}
