//! x86-64: AVX2 (`V3`) and AVX-512 (`V4`) through pulp's tokens.

pub(crate) mod avx2;
pub(crate) mod avx512;

use pulp::core_arch::x86::Sse;

/// Asks for the cache line of `p` to be read next (a hint, no result
/// changes), for both levels' [`Lanes::prefetch`](super::generic::Lanes).
#[inline(always)]
fn prefetch(sse: Sse, p: *const f32) {
    sse._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast());
}

/// Asks for the cache line of `p` to be written next (`prefetchw`), for
/// both levels' [`Lanes::prefetch_write`](super::generic::Lanes).
#[inline(always)]
fn prefetch_write(sse: Sse, p: *const u8) {
    sse._mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(p.cast());
}
