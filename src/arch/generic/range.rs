//! The selection's range pass over a tile of scores: how many are below a
//! range, which are inside it, and where each lies, from one compare-to-mask
//! a vector.

use super::{Job, Lanes};

/// See `arch::range_scan`.
pub(crate) struct RangeScan<'a, F: FnMut(usize, f32)> {
    pub scores: &'a [f32],
    pub low: f32,
    pub high: f32,
    pub below: &'a mut u64,
    pub inside: F,
    /// Where each score lies (`all::range::scan`'s places), if as long as
    /// the scores.
    pub places: &'a mut [u8],
}

impl<F: FnMut(usize, f32)> Job for RangeScan<'_, F> {
    #[inline(always)]
    fn run<L: Lanes>(mut self, l: L) {
        // Whole vectors here; the tail by the scalar reference.
        let (low, high) = (l.splat(self.low), l.splat(self.high));
        let (chunks, tail) = L::chunks(self.scores);
        let mut below = 0u64;
        let placed = self.places.len() == self.scores.len();
        for (c, chunk) in chunks.iter().enumerate() {
            let x = l.load(chunk);
            below += l.bits(l.lt(x, low)).count_ones() as u64;
            let mut inside = l.bits(l.le(low, x)) & l.bits(l.le(x, high));
            if placed {
                let above = l.bits(l.lt(high, x));
                let places = self.places.get_mut(c * L::LANES..(c + 1) * L::LANES);
                write_places(places.unwrap_or(&mut []), above, inside);
            }
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
        let tail_places = match self.places.get_mut(done..) {
            Some(p) if placed => p,
            _ => &mut [],
        };
        crate::arch::all::range::scan(
            tail,
            self.low,
            self.high,
            self.below,
            tail_inside,
            tail_places,
        );
    }
}

/// A vector's places from its lanes' bit masks above and inside the range,
/// eight lanes a word: each bit spread to its byte by a multiply.
#[inline(always)]
fn write_places(places: &mut [u8], above: u64, inside: u64) {
    use crate::arch::all::range::{ABOVE, INSIDE};
    #[inline(always)]
    fn spread(bits: u64) -> u64 {
        const ONES: u64 = 0x0101_0101_0101_0101;
        let picked = ((bits & 0xff).wrapping_mul(ONES)) & 0x8040_2010_0804_0201;
        ((picked + 0x7f7f_7f7f_7f7f_7f7f) >> 7) & ONES
    }
    for (g, out) in places.chunks_mut(8).enumerate() {
        let (a, i) = (above >> (8 * g), inside >> (8 * g));
        let word = (spread(a) * u64::from(ABOVE)) | (spread(i) * u64::from(INSIDE));
        out.copy_from_slice(&word.to_le_bytes()[..out.len()]);
    }
}
