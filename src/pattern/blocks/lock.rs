//! Pattern lock and zero counting of blocks: plain loops over windows of
//! a matrix's columns (run under a level), and the reference through the
//! view.

use super::super::zeros::{count_zeros, lock_windows, WINDOW};
use crate::arch::all::mask::fill_block;
use crate::vocab::ext::Grid;
use crate::vocab::scores::Element;
use crate::vocab::scores::Scores;
use crate::vocab::shape::View;
use crate::vocab::terms::Criterion;

/// Pattern lock of a contiguous layer `cols` wide in `unit` blocks: writes
/// every byte of `mask`, returns the (blocks, elements) locked.
#[inline(always)]
pub(super) fn rows<E: Element>(
    xs: &[E],
    cols: usize,
    unit: (usize, usize),
    mask: &mut [u8],
) -> (u64, u64) {
    let (unit_rows, unit_cols) = unit;
    if unit_cols > WINDOW {
        return wide(xs, cols, unit, mask);
    }
    lock_windows(xs, cols, unit, mask, |band, (c0, end), f| {
        // 1 where any row of the band has a nonzero weight.
        f.fill(0);
        for run in band.chunks_exact(cols).filter_map(|r| r.get(c0..end)) {
            for (f, x) in f.iter_mut().zip(run) {
                *f |= !x.is_zero() as u8;
            }
        }
        let locked = keep_of(f, unit_cols);
        (locked, locked * (unit_rows * unit_cols) as u64)
    })
}

/// Every flag of a block becomes the block's keep byte; returns the blocks
/// with no nonzero flag.
#[inline(always)]
fn keep_of(f: &mut [u8], unit_cols: usize) -> u64 {
    match unit_cols {
        1 => count_zeros(f),
        2 => keep_blocks::<2>(f),
        4 => keep_blocks::<4>(f),
        8 => keep_blocks::<8>(f),
        _ => keep_blocks_any(f, unit_cols),
    }
}

/// Blocks `K` wide (2, 4 or 8 flags, one word): word arithmetic, so the
/// loop vectorises across blocks.
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

/// Whether a run holds a nonzero weight: branch-free over chunks, so it
/// vectorises, and stops at the first chunk that has one.
#[inline(always)]
fn any_nonzero<E: Element>(run: &[E]) -> bool {
    run.chunks(256)
        .any(|c| c.iter().fold(false, |a, x| a | !x.is_zero()))
}

/// Blocks wider than a window (`Nxchannel` on wide layers): each block is
/// tested for a nonzero weight, then its runs filled.
#[inline(always)]
fn wide<E: Element>(xs: &[E], cols: usize, unit: (usize, usize), mask: &mut [u8]) -> (u64, u64) {
    let (unit_rows, unit_cols) = unit;
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

/// All-zero `unit` blocks of a contiguous 0/1 mask `cols` wide; `None` when
/// a byte is above 1.
#[inline(always)]
pub(super) fn zero_blocks(mask: &[u8], cols: usize, unit: (usize, usize)) -> Option<u64> {
    let (unit_rows, unit_cols) = unit;
    let band = unit_rows * cols;
    if unit_cols == 0 || band == 0 {
        return Some(0);
    }
    if unit_cols > WINDOW {
        return zero_wide(mask, cols, unit);
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
            zero += keep_of(f, unit_cols);
            c0 = end;
        }
    }
    (seen <= 1).then_some(zero)
}

#[inline(always)]
fn zero_wide(mask: &[u8], cols: usize, unit: (usize, usize)) -> Option<u64> {
    let (unit_rows, unit_cols) = unit;
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

/// The reference lock: each block read through the view, element by
/// element. Returns the (blocks, elements) locked.
pub(super) fn reference(
    scores: Scores<'_>,
    view: &View,
    grid: &Grid,
    out: &mut [u8],
) -> (u64, u64) {
    out.fill(1);
    let mut pruned = (0u64, 0u64);
    let zero = |index: usize| scores.read(Criterion::Scores, index) == 0.0;
    let size = (grid.unit_rows, grid.unit_cols);
    for ur in 0..grid.rows {
        for uc in 0..grid.cols {
            let origin = (ur * grid.unit_rows, uc * grid.unit_cols);
            let all_zero =
                (origin.0..origin.0 + size.0).all(|r| view.run(r, origin.1).take(size.1).all(zero));
            if all_zero {
                fill_block(out, view, origin, size, 0);
                pruned.0 += 1;
                pruned.1 += (size.0 * size.1) as u64;
            }
        }
    }
    pruned
}

/// The reference zero count: all-zero blocks, each read through the view.
pub(super) fn zero_blocks_reference(view: &View, grid: &Grid, m: &[u8]) -> u64 {
    let mut zero = 0;
    for ur in 0..grid.rows {
        for uc in 0..grid.cols {
            let (r0, c0) = (ur * grid.unit_rows, uc * grid.unit_cols);
            let all_zero = (r0..r0 + grid.unit_rows)
                .all(|r| view.run(r, c0).take(grid.unit_cols).all(|x| m[x] == 0));
            zero += all_zero as u64;
        }
    }
    zero
}
