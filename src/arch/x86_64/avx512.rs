//! [`Lanes`] on AVX-512: 16 lanes, four groups of four.

use core::arch::x86_64::{
    __m256, __m512, __m512i, __mmask16, _CMP_LE_OQ, _CMP_LT_OQ, _CMP_UNORD_Q,
};

use pulp::x86::V4;

use crate::arch::generic::{Job, Lanes};

#[derive(Clone, Copy)]
pub(crate) struct Avx512(V4);

impl Lanes for Avx512 {
    type V = __m512;
    type M = __mmask16;
    type Chunk = [f32; 16];
    const LANES: usize = 16;

    #[inline(always)]
    fn chunks(xs: &[f32]) -> (&[[f32; 16]], &[f32]) {
        xs.as_chunks()
    }
    #[inline(always)]
    fn chunks_mut(xs: &mut [f32]) -> (&mut [[f32; 16]], &mut [f32]) {
        xs.as_chunks_mut()
    }
    #[inline(always)]
    fn load(self, chunk: &[f32; 16]) -> __m512 {
        pulp::cast(*chunk)
    }
    #[inline(always)]
    fn store(self, v: __m512) -> [f32; 16] {
        pulp::cast(v)
    }
    #[inline(always)]
    fn splat(self, x: f32) -> __m512 {
        self.0.avx512f._mm512_set1_ps(x)
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_add_ps(a, b)
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_mul_ps(a, b)
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        self.0.avx512f._mm512_div_ps(a, b)
    }
    #[inline(always)]
    fn abs(self, a: __m512) -> __m512 {
        self.0.avx512f._mm512_abs_ps(a)
    }
    #[inline(always)]
    fn lt(self, a: __m512, b: __m512) -> __mmask16 {
        self.0.avx512f._mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b)
    }
    #[inline(always)]
    fn le(self, a: __m512, b: __m512) -> __mmask16 {
        self.0.avx512f._mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, b)
    }
    #[inline(always)]
    fn is_nan(self, a: __m512) -> __mmask16 {
        self.0.avx512f._mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a)
    }
    #[inline(always)]
    fn or(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    fn select(self, m: __mmask16, if_true: __m512, if_false: __m512) -> __m512 {
        self.0.avx512f._mm512_mask_blend_ps(m, if_false, if_true)
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
    fn bits(self, m: __mmask16) -> u64 {
        m as u64
    }
    #[inline(always)]
    fn transpose4(self, [a, b, c, d]: [__m512; 4]) -> [__m512; 4] {
        let f = self.0.avx512f;
        let (ab_lo, cd_lo) = (f._mm512_unpacklo_ps(a, b), f._mm512_unpacklo_ps(c, d));
        let (ab_hi, cd_hi) = (f._mm512_unpackhi_ps(a, b), f._mm512_unpackhi_ps(c, d));
        [
            f._mm512_shuffle_ps::<0b01_00_01_00>(ab_lo, cd_lo),
            f._mm512_shuffle_ps::<0b11_10_11_10>(ab_lo, cd_lo),
            f._mm512_shuffle_ps::<0b01_00_01_00>(ab_hi, cd_hi),
            f._mm512_shuffle_ps::<0b11_10_11_10>(ab_hi, cd_hi),
        ]
    }
    #[inline(always)]
    fn group_order(self, v: __m512) -> __m512 {
        let idx: __m512i = pulp::cast([0i32, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]);
        self.0.avx512f._mm512_permutexvar_ps(idx, v)
    }
    #[inline(always)]
    fn unzip(self, a: __m512, b: __m512) -> (__m512, __m512) {
        // Indices 16.. pick from `b`.
        let even: __m512i =
            pulp::cast([0i32, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]);
        let odd: __m512i =
            pulp::cast([1i32, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31]);
        let f = self.0.avx512f;
        (
            f._mm512_permutex2var_ps(a, even, b),
            f._mm512_permutex2var_ps(a, odd, b),
        )
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

/// Runs a [`Job`] with AVX-512 enabled; false when the CPU lacks it.
pub(crate) fn run(job: impl Job) -> bool {
    let Some(simd) = V4::try_new() else {
        return false;
    };
    simd.vectorize(
        #[inline(always)]
        || job.run(Avx512(simd)),
    );
    true
}
