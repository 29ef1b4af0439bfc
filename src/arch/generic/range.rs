//! The selection's range pass over a tile of scores: how many are below a
//! range, and which are inside it, from one compare-to-mask a vector.

use super::{Job, Lanes};

/// See `arch::range_scan`.
pub(crate) struct RangeScan<'a, F: FnMut(usize, f32)> {
    pub scores: &'a [f32],
    pub low: f32,
    pub high: f32,
    pub below: &'a mut u64,
    pub inside: F,
}

impl<F: FnMut(usize, f32)> Job for RangeScan<'_, F> {
    #[inline(always)]
    fn run<L: Lanes>(mut self, l: L) {
        // Whole vectors here; the tail by the scalar reference.
        let (low, high) = (l.splat(self.low), l.splat(self.high));
        let (chunks, tail) = L::chunks(self.scores);
        let mut below = 0u64;
        for (c, chunk) in chunks.iter().enumerate() {
            let x = l.load(chunk);
            below += l.bits(l.lt(x, low)).count_ones() as u64;
            let mut inside = l.bits(l.le(low, x)) & l.bits(l.le(x, high));
            while inside != 0 {
                let lane = inside.trailing_zeros() as usize;
                if let Some(&x) = chunk.as_ref().get(lane) {
                    (self.inside)(c * L::LANES + lane, x);
                }
                inside &= inside - 1;
            }
        }
        *self.below += below;
        let (done, mut inside) = (chunks.len() * L::LANES, self.inside);
        let tail_inside = |j: usize, x: f32| inside(done + j, x);
        crate::arch::all::range::scan(tail, self.low, self.high, self.below, tail_inside);
    }
}
