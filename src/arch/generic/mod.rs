//! Algorithms written once over [`Lanes`], instantiated per instruction set,
//! a file per kernel family:
//!
//! - `quads`: runs of four (N:M groups of four, `1x4` blocks);
//! - `groups`: N:M groups of 2 to 32;
//! - `columns`: `rows x 1` blocks;
//! - `blocks`: blocks two or more wide;
//! - `range`: the selection's range pass;
//! - here: the [`Lanes`] and [`Job`] traits, and [`Plain`], the job that
//!   runs ordinary loops under a level (`arch::vectorized`).

mod blocks;
mod columns;
mod groups;
mod quads;
mod range;

use crate::arch::all::block::{block_score, Value};
use crate::arch::all::inlined;
use crate::arch::all::sum::Sum;
use crate::vocab::scores::Read;
pub(crate) use blocks::{Long, Wide};
pub(crate) use columns::Columns;
pub(crate) use groups::Groups;
pub(crate) use quads::Quads;
pub(crate) use range::RangeScan;

/// A vector of `f32` lanes, seen as groups of four (one 128-bit lane).
pub(crate) trait Lanes: Copy {
    type V: Copy;
    type M: Copy;
    type Chunk: AsRef<[f32]> + AsMut<[f32]>;
    const LANES: usize;

    fn chunks(xs: &[f32]) -> (&[Self::Chunk], &[f32]);
    fn chunks_mut(xs: &mut [f32]) -> (&mut [Self::Chunk], &mut [f32]);
    fn load(self, chunk: &Self::Chunk) -> Self::V;
    fn store(self, v: Self::V) -> Self::Chunk;
    fn splat(self, x: f32) -> Self::V;
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    fn abs(self, a: Self::V) -> Self::V;
    /// Ordered `a < b` (false for NaN).
    fn lt(self, a: Self::V, b: Self::V) -> Self::M;
    /// Ordered `a <= b` (false for NaN; `-0.0 <= +0.0` and back).
    fn le(self, a: Self::V, b: Self::V) -> Self::M;
    fn is_nan(self, a: Self::V) -> Self::M;
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    fn select(self, m: Self::M, if_true: Self::V, if_false: Self::V) -> Self::V;
    /// Bit `j` set when lane `j` of the mask is.
    fn bits(self, m: Self::M) -> u64;
    /// Asks for the cache line at `p` ahead of its load: a hint, which
    /// never faults and changes no result (none where the level has no
    /// safe one).
    #[inline(always)]
    fn prefetch(self, p: *const f32) {
        let _ = p;
    }
    /// [`prefetch`](Lanes::prefetch) of a line about to be written (its
    /// ownership asked for ahead of the stores, which would stall on it).
    #[inline(always)]
    fn prefetch_write(self, p: *const u8) {
        let _ = p;
    }
    /// A 4x4 transpose inside each group of four lanes: lane `4q + i` of
    /// output `j` is lane `4q + j` of input `i`. Its own inverse.
    fn transpose4(self, v: [Self::V; 4]) -> [Self::V; 4];
    /// Undoes the lane order [`transpose4`](Lanes::transpose4) leaves
    /// across vectors: output lane `g` takes lane `4 (g % q) + g / q`, with
    /// `q = LANES / 4` groups of four per vector.
    fn group_order(self, v: Self::V) -> Self::V;
    /// The even lanes of `a` then `b`, and the odd ones: `a, b` as one
    /// run of `2 * LANES` values, split by parity, order kept.
    fn unzip(self, a: Self::V, b: Self::V) -> (Self::V, Self::V);

    /// Eight lanes: the partial sums `contiguous_sum` keeps along a long
    /// run (one vector, half of one, or two).
    type E: Copy;
    fn load8(self, chunk: &[f32; 8]) -> Self::E;
    fn store8(self, e: Self::E) -> [f32; 8];
    fn splat8(self, x: f32) -> Self::E;
    fn add8(self, a: Self::E, b: Self::E) -> Self::E;
    fn mul8(self, a: Self::E, b: Self::E) -> Self::E;
    fn abs8(self, a: Self::E) -> Self::E;
}

/// A SIMD computation, run once per call with one instruction set's lanes.
pub(crate) trait Job {
    fn run<L: Lanes>(self, l: L);
}

/// A vector in the canonical sum: one group per lane.
#[derive(Clone, Copy)]
struct Lane<L: Lanes>(L, L::V);

impl<L: Lanes> Sum for Lane<L> {
    #[inline(always)]
    fn plus(self, other: Self) -> Self {
        Lane(self.0, self.0.add(self.1, other.1))
    }
}

/// The reductions ([`Reduce`](crate::vocab::terms::Reduce)'s methods) on
/// vectors, rounding as on `f32`.
impl<L: Lanes> Value for Lane<L> {
    #[inline(always)]
    fn times(self, other: Self) -> Self {
        Lane(self.0, self.0.mul(self.1, other.1))
    }
    #[inline(always)]
    fn over(self, n: usize) -> Self {
        Lane(self.0, divide(self.0, self.1, n))
    }
}

/// `x / n` as the scalar kernel divides. By a power of two it is a
/// multiply by the reciprocal: `1 / n` is exact (any `usize` power of two),
/// so both round the same real number, and a multiply is several times
/// cheaper than a divide.
#[inline(always)]
fn divide<L: Lanes>(l: L, x: L::V, n: usize) -> L::V {
    let d = n as f32;
    if n.is_power_of_two() {
        l.mul(x, l.splat(1.0 / d))
    } else {
        l.div(x, l.splat(d))
    }
}

/// [`Read::element`] on a vector: `x` holds the values at offsets
/// `k..k + LANES` of a row of the run. The same operations in the same
/// order as the scalar read (`|x|`, then one multiply), so the same bits.
#[inline(always)]
fn read_vector<L: Lanes>(l: L, read: Read<'_>, x: L::V, k: usize) -> L::V {
    let x = if read.abs { l.abs(x) } else { x };
    match read.scale {
        Some(s) => {
            let scale = s
                .get(k..k + L::LANES)
                .and_then(|c| L::chunks(c).0.first())
                .map_or(l.splat(f32::NAN), |c| l.load(c));
            l.mul(x, scale)
        }
        None => x,
    }
}

/// [`read_vector`] on eight lanes.
#[inline(always)]
fn read_eight<L: Lanes>(l: L, read: Read<'_>, x: L::E, k: usize) -> L::E {
    let x = if read.abs { l.abs8(x) } else { x };
    match read.scale {
        Some(s) => {
            let scale = s
                .get(k..k + 8)
                .and_then(|c| c.first_chunk::<8>())
                .map_or(l.splat8(f32::NAN), |c| l.load8(c));
            l.mul8(x, scale)
        }
        None => x,
    }
}

/// Plain code run inside the level's `vectorize`: its loops are compiled
/// (and vectorised by LLVM) for that instruction set. See
/// `arch::vectorized`.
pub(crate) struct Plain<'f, F: FnMut()>(pub &'f mut F);

impl<F: FnMut()> Job for Plain<'_, F> {
    #[inline(always)]
    fn run<L: Lanes>(self, _: L) {
        (self.0)()
    }
}

/// Byte `j` of `dst` gets bit `j` of `bits` (0 or 1), eight at a time.
#[inline(always)]
fn spread_bits(bits: u64, dst: &mut [u8]) {
    for (i, d) in dst.chunks_mut(8).enumerate() {
        let spread = SPREAD[(bits >> (8 * i)) as u8 as usize].to_le_bytes();
        d.copy_from_slice(&spread[..d.len()]);
    }
}

/// `SPREAD[b]`: bit `j` of `b` in the low bit of byte `j`.
static SPREAD: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let mut j = 0;
        while j < 8 {
            table[b] |= ((b as u64 >> j) & 1) << (8 * j);
            j += 1;
        }
        b += 1;
    }
    table
};

impl crate::arch::BlockRows<'_> {
    /// Scores `out[from..]` by the scalar kernel (compiled for the level):
    /// what a SIMD block kernel leaves.
    #[inline(always)]
    fn scalar_from(&mut self, from: usize) {
        let crate::arch::Rows { xs, stride, rows } = self.rows;
        let (width, first, cols) = (self.width, self.first, self.cols);
        let (reduce, read) = (self.reduce, self.read);
        for (u, o) in self.out.iter_mut().enumerate().skip(from) {
            let value = inlined(
                #[inline(always)]
                |r: usize, j: usize| {
                    let x = xs.get(r * stride + u * width + j).copied();
                    read.element(x.unwrap_or(f32::NAN), u * width + j)
                },
            );
            *o = block_score(rows, width, first + u, cols, reduce, value);
        }
    }
}
