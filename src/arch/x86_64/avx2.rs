//! [`Lanes`] on AVX2: 8 lanes, two groups of four.

use core::arch::x86_64::{__m256, __m256i, _CMP_LE_OQ, _CMP_LT_OQ, _CMP_UNORD_Q};

use pulp::x86::V3;

use crate::arch::generic::{Job, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct Avx2(V3);

impl Lanes for Avx2 {
    type V = __m256;
    type M = __m256;
    type Chunk = [f32; 8];
    const LANES: usize = 8;

    #[inline(always)]
    fn chunks(xs: &[f32]) -> (&[[f32; 8]], &[f32]) {
        xs.as_chunks()
    }
    #[inline(always)]
    fn chunks_mut(xs: &mut [f32]) -> (&mut [[f32; 8]], &mut [f32]) {
        xs.as_chunks_mut()
    }
    #[inline(always)]
    fn load(self, chunk: &[f32; 8]) -> __m256 {
        pulp::cast(*chunk)
    }
    #[inline(always)]
    fn store(self, v: __m256) -> [f32; 8] {
        pulp::cast(v)
    }
    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        self.0.avx._mm256_set1_ps(x)
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_add_ps(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_mul_ps(a, b)
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_div_ps(a, b)
    }
    #[inline(always)]
    fn abs(self, a: __m256) -> __m256 {
        self.0.avx._mm256_andnot_ps(self.splat(-0.0), a)
    }
    #[inline(always)]
    fn lt(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_cmp_ps::<_CMP_LT_OQ>(a, b)
    }
    #[inline(always)]
    fn le(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_cmp_ps::<_CMP_LE_OQ>(a, b)
    }
    #[inline(always)]
    fn is_nan(self, a: __m256) -> __m256 {
        self.0.avx._mm256_cmp_ps::<_CMP_UNORD_Q>(a, a)
    }
    #[inline(always)]
    fn or(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_or_ps(a, b)
    }
    #[inline(always)]
    fn select(self, m: __m256, if_true: __m256, if_false: __m256) -> __m256 {
        self.0.avx._mm256_blendv_ps(if_false, if_true, m)
    }
    #[inline(always)]
    fn prefetch(self, p: *const f32) {
        super::prefetch(self.0.sse, p);
    }
    #[inline(always)]
    fn prefetch_write(self, p: *const u8) {
        super::prefetch_write(self.0.sse, p);
    }
    #[inline(always)]
    fn bits(self, m: __m256) -> u64 {
        self.0.avx._mm256_movemask_ps(m) as u32 as u64
    }
    #[inline(always)]
    fn transpose4(self, [a, b, c, d]: [__m256; 4]) -> [__m256; 4] {
        let f = self.0.avx;
        let (ab_lo, cd_lo) = (f._mm256_unpacklo_ps(a, b), f._mm256_unpacklo_ps(c, d));
        let (ab_hi, cd_hi) = (f._mm256_unpackhi_ps(a, b), f._mm256_unpackhi_ps(c, d));
        [
            f._mm256_shuffle_ps::<0b01_00_01_00>(ab_lo, cd_lo),
            f._mm256_shuffle_ps::<0b11_10_11_10>(ab_lo, cd_lo),
            f._mm256_shuffle_ps::<0b01_00_01_00>(ab_hi, cd_hi),
            f._mm256_shuffle_ps::<0b11_10_11_10>(ab_hi, cd_hi),
        ]
    }
    #[inline(always)]
    fn group_order(self, v: __m256) -> __m256 {
        let idx: __m256i = pulp::cast([0i32, 4, 1, 5, 2, 6, 3, 7]);
        self.0.avx2._mm256_permutevar8x32_ps(v, idx)
    }
    #[inline(always)]
    fn unzip(self, a: __m256, b: __m256) -> (__m256, __m256) {
        let (f, g) = (self.0.avx, self.0.avx2);
        // Per 128-bit half [a0 a2 b0 b2 | a4 a6 b4 b6], then the 64-bit
        // pairs in order.
        let even = f._mm256_shuffle_ps::<0b10_00_10_00>(a, b);
        let odd = f._mm256_shuffle_ps::<0b11_01_11_01>(a, b);
        let order = |v: __m256| {
            f._mm256_castpd_ps(g._mm256_permute4x64_pd::<0b11_01_10_00>(f._mm256_castps_pd(v)))
        };
        (order(even), order(odd))
    }
    type E = __m256;
    #[inline(always)]
    fn load8(self, chunk: &[f32; 8]) -> __m256 {
        pulp::cast(*chunk)
    }
    #[inline(always)]
    fn store8(self, e: __m256) -> [f32; 8] {
        pulp::cast(e)
    }
    #[inline(always)]
    fn splat8(self, x: f32) -> __m256 {
        self.0.avx._mm256_set1_ps(x)
    }
    #[inline(always)]
    fn add8(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_add_ps(a, b)
    }
    #[inline(always)]
    fn mul8(self, a: __m256, b: __m256) -> __m256 {
        self.0.avx._mm256_mul_ps(a, b)
    }
    #[inline(always)]
    fn abs8(self, a: __m256) -> __m256 {
        self.0.avx._mm256_andnot_ps(self.splat8(-0.0), a)
    }
}

/// Runs a [`Job`] with AVX2 enabled; false when the CPU lacks it.
pub(crate) fn run(job: impl Job) -> bool {
    let Some(simd) = V3::try_new() else {
        return false;
    };
    simd.vectorize(
        #[inline(always)]
        || job.run(Avx2(simd)),
    );
    true
}
