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
    fn eq(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        self.0.neon.vceqq_f32(a, b)
    }
    #[inline(always)]
    fn is_nan(self, a: float32x4_t) -> uint32x4_t {
        self.0.neon.vmvnq_u32(self.0.neon.vceqq_f32(a, a))
    }
    #[inline(always)]
    fn and(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        self.0.neon.vandq_u32(a, b)
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, if_true: float32x4_t, if_false: float32x4_t) -> float32x4_t {
        self.0.neon.vbslq_f32(m, if_true, if_false)
    }
    #[inline(always)]
    fn rot1(self, v: float32x4_t) -> float32x4_t {
        self.0.neon.vextq_f32::<1>(v, v)
    }
    #[inline(always)]
    fn rot2(self, v: float32x4_t) -> float32x4_t {
        self.0.neon.vextq_f32::<2>(v, v)
    }
    #[inline(always)]
    fn rot3(self, v: float32x4_t) -> float32x4_t {
        self.0.neon.vextq_f32::<3>(v, v)
    }
    #[inline(always)]
    fn lane_in_group(self) -> float32x4_t {
        pulp::cast([0.0f32, 1.0, 2.0, 3.0])
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
