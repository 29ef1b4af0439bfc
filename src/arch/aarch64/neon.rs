//! [`Lanes`] on NEON: 4 lanes, one group of four.

use core::arch::aarch64::{float32x4_t, uint32x4_t};

use pulp::aarch64::Neon;

use crate::arch::generic::{Job, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct NeonLanes(Neon);

impl Lanes for NeonLanes {
    type V = float32x4_t;
    type M = uint32x4_t;
    type Chunk = [f32; 4];
    const LANES: usize = 4;

    #[inline(always)]
    fn chunks(xs: &[f32]) -> (&[[f32; 4]], &[f32]) {
        xs.as_chunks()
    }
    #[inline(always)]
    fn chunks_mut(xs: &mut [f32]) -> (&mut [[f32; 4]], &mut [f32]) {
        xs.as_chunks_mut()
    }
    #[inline(always)]
    fn load(self, chunk: &[f32; 4]) -> float32x4_t {
        pulp::cast(*chunk)
    }
    #[inline(always)]
    fn store(self, v: float32x4_t) -> [f32; 4] {
        pulp::cast(v)
    }
    #[inline(always)]
    fn splat(self, x: f32) -> float32x4_t {
        self.0.neon.vdupq_n_f32(x)
    }
    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        self.0.neon.vaddq_f32(a, b)
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        self.0.neon.vmulq_f32(a, b)
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        self.0.neon.vdivq_f32(a, b)
    }
    #[inline(always)]
    fn abs(self, a: float32x4_t) -> float32x4_t {
        self.0.neon.vabsq_f32(a)
    }
    #[inline(always)]
    fn lt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        self.0.neon.vcltq_f32(a, b)
    }
    #[inline(always)]
    fn le(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        self.0.neon.vcleq_f32(a, b)
    }
    #[inline(always)]
    fn is_nan(self, a: float32x4_t) -> uint32x4_t {
        self.0.neon.vmvnq_u32(self.0.neon.vceqq_f32(a, a))
    }
    #[inline(always)]
    fn or(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        self.0.neon.vorrq_u32(a, b)
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, if_true: float32x4_t, if_false: float32x4_t) -> float32x4_t {
        self.0.neon.vbslq_f32(m, if_true, if_false)
    }
    #[inline(always)]
    fn bits(self, m: uint32x4_t) -> u64 {
        let weights: uint32x4_t = pulp::cast([1u32, 2, 4, 8]);
        self.0.neon.vaddvq_u32(self.0.neon.vandq_u32(m, weights)) as u64
    }
    #[inline(always)]
    fn transpose4(self, [a, b, c, d]: [float32x4_t; 4]) -> [float32x4_t; 4] {
        let f = self.0.neon;
        // Pairs of rows, then pairs of pairs (as 64-bit lanes).
        let (ab1, ab2) = (f.vtrn1q_f32(a, b), f.vtrn2q_f32(a, b));
        let (cd1, cd2) = (f.vtrn1q_f32(c, d), f.vtrn2q_f32(c, d));
        let wide = |x: float32x4_t| f.vreinterpretq_f64_f32(x);
        let narrow = |x| f.vreinterpretq_f32_f64(x);
        [
            narrow(f.vtrn1q_f64(wide(ab1), wide(cd1))),
            narrow(f.vtrn1q_f64(wide(ab2), wide(cd2))),
            narrow(f.vtrn2q_f64(wide(ab1), wide(cd1))),
            narrow(f.vtrn2q_f64(wide(ab2), wide(cd2))),
        ]
    }
    #[inline(always)]
    fn group_order(self, v: float32x4_t) -> float32x4_t {
        // One group of four per vector: already in order.
        v
    }
    #[inline(always)]
    fn unzip(self, a: float32x4_t, b: float32x4_t) -> (float32x4_t, float32x4_t) {
        (self.0.neon.vuzp1q_f32(a, b), self.0.neon.vuzp2q_f32(a, b))
    }
    type E = [float32x4_t; 2];
    #[inline(always)]
    fn load8(self, chunk: &[f32; 8]) -> [float32x4_t; 2] {
        let [a, b]: [[f32; 4]; 2] = pulp::cast(*chunk);
        [pulp::cast(a), pulp::cast(b)]
    }
    #[inline(always)]
    fn store8(self, [a, b]: [float32x4_t; 2]) -> [f32; 8] {
        let halves: [[f32; 4]; 2] = [pulp::cast(a), pulp::cast(b)];
        pulp::cast(halves)
    }
    #[inline(always)]
    fn splat8(self, x: f32) -> [float32x4_t; 2] {
        [self.splat(x); 2]
    }
    #[inline(always)]
    fn add8(self, [a, b]: [float32x4_t; 2], [c, d]: [float32x4_t; 2]) -> [float32x4_t; 2] {
        [self.add(a, c), self.add(b, d)]
    }
    #[inline(always)]
    fn mul8(self, [a, b]: [float32x4_t; 2], [c, d]: [float32x4_t; 2]) -> [float32x4_t; 2] {
        [self.mul(a, c), self.mul(b, d)]
    }
    #[inline(always)]
    fn abs8(self, [a, b]: [float32x4_t; 2]) -> [float32x4_t; 2] {
        [self.abs(a), self.abs(b)]
    }
}

/// Runs a [`Job`] with NEON enabled; false when the CPU lacks it.
pub(crate) fn run(job: impl Job) -> bool {
    let Some(simd) = Neon::try_new() else {
        return false;
    };
    simd.vectorize(
        #[inline(always)]
        || job.run(NeonLanes(simd)),
    );
    true
}
