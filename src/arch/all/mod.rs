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
//! - here: exact half-precision widening, and [`inlined`].

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

/// A run of half-precision scores.
#[derive(Clone, Copy)]
pub(crate) enum Halves<'a> {
    F16(&'a [half::f16]),
    Bf16(&'a [half::bf16]),
}

/// `f16` to `f32`, exactly, in integer and one multiply (no F16C, so it
/// vectorises on any level): the magnitude bits moved to `f32` places are
/// the value times 2^-112, subnormals included; infinity and NaN get the
/// full exponent back.
#[inline(always)]
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let magnitude = ((h & 0x7fff) as u32) << 13;
    let scaled = f32::from_bits(magnitude) * f32::from_bits(0x7780_0000); // 2^112
    let inf_nan = ((h & 0x7c00 == 0x7c00) as u32) * 0x7f80_0000;
    let sign = ((h & 0x8000) as u32) << 16;
    f32::from_bits(scaled.to_bits() | inf_nan | sign)
}

/// `bf16` to `f32`: the top half of the bits.
#[inline(always)]
pub(crate) fn bf16_to_f32(h: u16) -> f32 {
    f32::from_bits((h as u32) << 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_is_exact_for_every_pattern() {
        for bits in 0..=u16::MAX {
            let want = half::f16::from_bits(bits).to_f32();
            let got = f16_to_f32(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
            }
            let want = half::bf16::from_bits(bits).to_f32();
            let got = bf16_to_f32(bits);
            if want.is_nan() {
                assert!(got.is_nan(), "{bits:#06x}");
            } else {
                assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
            }
        }
    }
}
