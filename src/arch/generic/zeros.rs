//! Pattern lock and mask sparsity over contiguous rows: one flag byte per
//! element of a window of columns, reduced per unit, and (lock) written back
//! a mask row at a time. Plain loops, as [`Plain`](super::Plain): compiled
//! inside a level's `vectorize` they vectorise with its instruction set.

use half::{bf16, f16};

use super::{Job, Lanes};
use crate::arch::Units;
use crate::layer::Scores;

/// Columns per window: the flag buffer on the stack. At least the longest
/// N:M group (128), so groups never straddle windows; wider blocks go
/// through [`lock_wide`] / [`zero_wide`].
pub(crate) const WINDOW: usize = 4096;

/// An element type whose zeros (either sign) the lock reads.
trait Zero: Copy {
    fn is_zero(self) -> bool;
}

impl Zero for f32 {
    #[inline(always)]
    fn is_zero(self) -> bool {
        // -0.0 == 0.0; NaN is rejected before any kernel runs.
        self == 0.0
    }
}

impl Zero for f16 {
    #[inline(always)]
    fn is_zero(self) -> bool {
        self.to_bits() & 0x7fff == 0
    }
}

impl Zero for bf16 {
    #[inline(always)]
    fn is_zero(self) -> bool {
        self.to_bits() & 0x7fff == 0
    }
}

/// Pattern lock of a contiguous layer `cols` wide: writes every byte of
/// `mask` (0 = locked) and sets `pruned` to (units, elements) locked.
pub(crate) struct Lock<'a> {
    pub scores: Scores<'a>,
    pub cols: usize,
    pub units: Units,
    pub mask: &'a mut [u8],
    pub pruned: &'a mut (u64, u64),
}

impl Job for Lock<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, _: L) {
        let (cols, units) = (self.cols, self.units);
        *self.pruned = match self.scores {
            Scores::F32(s) => lock_rows(s, cols, units, self.mask),
            Scores::F16(s) => lock_rows(s, cols, units, self.mask),
            Scores::Bf16(s) => lock_rows(s, cols, units, self.mask),
        };
    }
}

/// The rows a unit spans and its width in columns.
#[inline(always)]
fn extent(units: Units) -> (usize, usize) {
    match units {
        Units::Blocks { rows, cols } => (rows, cols),
        Units::Groups { m, .. } => (1, m),
    }
}

#[inline(always)]
fn lock_rows<E: Zero>(xs: &[E], cols: usize, units: Units, mask: &mut [u8]) -> (u64, u64) {
    let (unit_rows, unit_cols) = extent(units);
    let band = unit_rows * cols;
    if unit_cols == 0 || band == 0 {
        return (0, 0);
    }
    if unit_cols > WINDOW {
        return lock_wide(xs, cols, unit_rows, unit_cols, mask);
    }
    let width = WINDOW / unit_cols * unit_cols;
    let mut flags = [0u8; WINDOW];
    let mut pruned = (0u64, 0u64);
    for (xs, mask) in xs.chunks_exact(band).zip(mask.chunks_exact_mut(band)) {
        let mut c0 = 0;
        while c0 < cols {
            let end = cols.min(c0 + width);
            let Some(f) = flags.get_mut(..end - c0) else {
                return pruned;
            };
            let (units, elements) = match units {
                Units::Blocks { .. } => {
                    // 1 where any row of the band has a nonzero weight.
                    f.fill(0);
                    for run in xs.chunks_exact(cols).filter_map(|r| r.get(c0..end)) {
                        for (f, x) in f.iter_mut().zip(run) {
                            *f |= !x.is_zero() as u8;
                        }
                    }
                    let locked = match unit_cols {
                        1 => count_zeros(f),
                        2 => keep_blocks::<2>(f),
                        4 => keep_blocks::<4>(f),
                        8 => keep_blocks::<8>(f),
                        _ => keep_blocks_any(f, unit_cols),
                    };
                    (locked, locked * (unit_rows * unit_cols) as u64)
                }
                Units::Groups { n, m } => {
                    let Some(run) = xs.get(c0..end) else {
                        return pruned;
                    };
                    for (f, x) in f.iter_mut().zip(run) {
                        *f = x.is_zero() as u8;
                    }
                    match m {
                        2 => keep_groups::<2>(f, n),
                        4 => keep_groups::<4>(f, n),
                        8 => keep_groups::<8>(f, n),
                        _ => keep_groups_any(f, n, m),
                    }
                }
            };
            pruned.0 += units;
            pruned.1 += elements;
            for dst in mask
                .chunks_exact_mut(cols)
                .filter_map(|r| r.get_mut(c0..end))
            {
                dst.copy_from_slice(f);
            }
            c0 = end;
        }
    }
    pruned
}

/// Flags are "nonzero somewhere" bytes: zero blocks (already their keep
/// bytes, `1x1`) counted.
#[inline(always)]
fn count_zeros(f: &[u8]) -> u64 {
    // Sums of bytes in u32 lanes: vectorises; a window fits any u32.
    f.iter().map(|&b| (b == 0) as u32).sum::<u32>() as u64
}

/// Blocks `K` wide (2, 4 or 8 flags, one word): every flag of a block
/// becomes the block's keep byte; returns the blocks with no nonzero
/// weight. Word arithmetic, so the loop vectorises across blocks.
#[inline(always)]
fn keep_blocks<const K: usize>(f: &mut [u8]) -> u64 {
    let mut zero = 0u32;
    macro_rules! words {
        ($t:ty) => {{
            let ones = <$t>::MAX / 0xff;
            for b in f.as_chunks_mut::<{ size_of::<$t>() }>().0 {
                let any = (<$t>::from_ne_bytes(*b) != 0) as $t;
                *b = (ones * any).to_ne_bytes();
                zero += 1 - any as u32;
            }
        }};
    }
    match K {
        2 => words!(u16),
        4 => words!(u32),
        8 => words!(u64),
        _ => return keep_blocks_any(f, K),
    }
    zero as u64
}

#[inline(always)]
fn keep_blocks_any(f: &mut [u8], k: usize) -> u64 {
    let mut zero = 0u64;
    for b in f.chunks_exact_mut(k) {
        let any = b.iter().fold(0, |a, &x| a | x);
        b.fill(any);
        zero += (any == 0) as u64;
    }
    zero
}

/// Groups of `K` zero flags (2, 4 or 8, one word) to keep bytes (INC 2.0
/// lock: a group with at least `n` zeros masks them); returns (groups,
/// elements) locked. Word arithmetic: a multiply sums a word's bytes into
/// its top byte (at most 8, no carry).
#[inline(always)]
fn keep_groups<const K: usize>(f: &mut [u8], n: usize) -> (u64, u64) {
    let (mut units, mut elements) = (0u32, 0u32);
    macro_rules! words {
        ($t:ty) => {{
            let ones = <$t>::MAX / 0xff;
            let top = <$t>::BITS - 8;
            for g in f.as_chunks_mut::<{ size_of::<$t>() }>().0 {
                let z = <$t>::from_ne_bytes(*g);
                let zeros = z.wrapping_mul(ones) >> top;
                let hit = (zeros as usize >= n) as $t;
                *g = (ones - (z & hit.wrapping_neg())).to_ne_bytes();
                units += hit as u32;
                elements += (zeros * hit) as u32;
            }
        }};
    }
    match K {
        2 => words!(u16),
        4 => words!(u32),
        8 => words!(u64),
        _ => return keep_groups_any(f, n, K),
    }
    (units as u64, elements as u64)
}

#[inline(always)]
fn keep_groups_any(f: &mut [u8], n: usize, m: usize) -> (u64, u64) {
    let (mut units, mut elements) = (0u64, 0u64);
    for g in f.chunks_exact_mut(m) {
        let zeros = g.iter().map(|&z| z as usize).sum::<usize>();
        let hit = (zeros >= n) as u8;
        for z in g.iter_mut() {
            *z = 1 - (*z & hit);
        }
        units += hit as u64;
        elements += (zeros * hit as usize) as u64;
    }
    (units, elements)
}

/// Whether a run holds a nonzero weight: branch-free over chunks, so it
/// vectorises, and stops at the first chunk that has one.
#[inline(always)]
fn any_nonzero<E: Zero>(run: &[E]) -> bool {
    run.chunks(256)
        .any(|c| c.iter().fold(false, |a, x| a | !x.is_zero()))
}

/// Blocks wider than a window (`Nxchannel` on wide layers): each block is
/// tested for a nonzero weight, then its runs filled.
#[inline(always)]
fn lock_wide<E: Zero>(
    xs: &[E],
    cols: usize,
    unit_rows: usize,
    unit_cols: usize,
    mask: &mut [u8],
) -> (u64, u64) {
    let band = unit_rows * cols;
    let mut pruned = (0u64, 0u64);
    for (xs, mask) in xs.chunks_exact(band).zip(mask.chunks_exact_mut(band)) {
        for c0 in (0..cols).step_by(unit_cols) {
            let any = xs
                .chunks_exact(cols)
                .filter_map(|r| r.get(c0..c0 + unit_cols))
                .any(any_nonzero);
            for r in mask.chunks_exact_mut(cols) {
                if let Some(dst) = r.get_mut(c0..c0 + unit_cols) {
                    dst.fill(any as u8);
                }
            }
            if !any {
                pruned.0 += 1;
                pruned.1 += (unit_rows * unit_cols) as u64;
            }
        }
    }
    pruned
}

/// Zero counting of a 0/1 mask: zero elements (`blocks: None`), or all-zero
/// `rows x cols` blocks of a contiguous layer `cols` wide. `out` gets the
/// count, or `None` when a byte is neither 0 nor 1.
pub(crate) struct Zeros<'a> {
    pub mask: &'a [u8],
    pub cols: usize,
    pub blocks: Option<(usize, usize)>,
    pub out: &'a mut Option<u64>,
}

impl Job for Zeros<'_> {
    #[inline(always)]
    fn run<L: Lanes>(self, _: L) {
        *self.out = match self.blocks {
            // `1x1` blocks are elements.
            None | Some((1, 1)) => zero_bytes(self.mask),
            Some((rows, width)) => zero_blocks(self.mask, self.cols, rows, width),
        };
    }
}

/// Zero bytes of a 0/1 mask, `None` if a byte is above 1: 32 byte lanes of
/// sums (255 steps at most, so they cannot wrap) and of ORs.
#[inline(always)]
fn zero_bytes(mask: &[u8]) -> Option<u64> {
    const W: usize = 32;
    let (mut ones, mut seen) = (0u64, 0u8);
    let (chunks, tail) = mask.as_chunks::<W>();
    for part in chunks.chunks(255) {
        let (mut sum, mut or) = ([0u8; W], [0u8; W]);
        for c in part {
            for i in 0..W {
                sum[i] = sum[i].wrapping_add(c[i]);
                or[i] |= c[i];
            }
        }
        ones += sum.iter().map(|&s| s as u64).sum::<u64>();
        seen |= or.iter().fold(0, |a, &x| a | x);
    }
    ones += tail.iter().map(|&s| s as u64).sum::<u64>();
    seen |= tail.iter().fold(0, |a, &x| a | x);
    (seen <= 1).then(|| mask.len() as u64 - ones)
}

#[inline(always)]
fn zero_blocks(mask: &[u8], cols: usize, unit_rows: usize, unit_cols: usize) -> Option<u64> {
    let band = unit_rows * cols;
    if unit_cols == 0 || band == 0 {
        return Some(0);
    }
    if unit_cols > WINDOW {
        return zero_wide(mask, cols, unit_rows, unit_cols);
    }
    let width = WINDOW / unit_cols * unit_cols;
    let mut flags = [0u8; WINDOW];
    let (mut zero, mut seen) = (0u64, 0u8);
    for band in mask.chunks_exact(band) {
        let mut c0 = 0;
        while c0 < cols {
            let end = cols.min(c0 + width);
            let f = flags.get_mut(..end - c0)?;
            f.fill(0);
            for run in band.chunks_exact(cols).filter_map(|r| r.get(c0..end)) {
                for (f, &x) in f.iter_mut().zip(run) {
                    *f |= x;
                }
            }
            seen |= f.iter().fold(0, |a, &x| a | x);
            zero += match unit_cols {
                1 => count_zeros(f),
                2 => keep_blocks::<2>(f),
                4 => keep_blocks::<4>(f),
                8 => keep_blocks::<8>(f),
                _ => keep_blocks_any(f, unit_cols),
            };
            c0 = end;
        }
    }
    (seen <= 1).then_some(zero)
}

#[inline(always)]
fn zero_wide(mask: &[u8], cols: usize, unit_rows: usize, unit_cols: usize) -> Option<u64> {
    let (mut zero, mut seen) = (0u64, 0u8);
    for band in mask.chunks_exact(unit_rows * cols) {
        for c0 in (0..cols).step_by(unit_cols) {
            let mut any = 0u8;
            for r in band.chunks_exact(cols) {
                let run = r.get(c0..c0 + unit_cols).unwrap_or(&[]);
                any |= run.iter().fold(0, |a, &x| a | x);
            }
            seen |= any;
            zero += (any == 0) as u64;
        }
    }
    (seen <= 1).then_some(zero)
}
