//! Pattern lock of N:M groups (INC 2.0: a group with at least `N` zeros
//! masks them): plain loops over windows of a matrix's columns (run under
//! a level), and the reference through the view.

use super::super::zeros::lock_windows;
use crate::arch::all::mask::write_group;
use crate::vocab::ext::Grid;
use crate::vocab::scores::Element;
use crate::vocab::scores::Scores;
use crate::vocab::shape::View;
use crate::vocab::terms::Criterion;

/// Pattern lock of a contiguous layer `cols` wide in groups of `m`:
/// writes every byte of `mask`, returns the (groups, elements) locked.
#[inline(always)]
pub(super) fn rows<E: Element>(
    xs: &[E],
    cols: usize,
    n: usize,
    m: usize,
    mask: &mut [u8],
) -> (u64, u64) {
    lock_windows(xs, cols, (1, m), mask, |row, (c0, end), f| {
        let Some(run) = row.get(c0..end) else {
            return (0, 0);
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
    })
}

/// Groups of `K` zero flags (2, 4 or 8, one word) to keep bytes; returns
/// (groups, elements) locked. Word arithmetic: a multiply sums a word's
/// bytes into its top byte (at most 8, no carry).
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

/// The reference lock: each group read through the view. Returns the
/// (groups, elements) locked.
pub(super) fn reference(
    scores: Scores<'_>,
    view: &View,
    grid: &Grid,
    n: usize,
    out: &mut [u8],
) -> (u64, u64) {
    out.fill(1);
    let mut pruned = (0u64, 0u64);
    let m = grid.unit_cols;
    for ur in 0..grid.rows {
        for uc in 0..grid.cols {
            let origin = (ur, uc * m);
            let mut zeros = 0u128;
            for (j, index) in view.run(origin.0, origin.1).take(m).enumerate() {
                zeros |= ((scores.read(Criterion::Scores, index) == 0.0) as u128) << j;
            }
            if zeros.count_ones() as usize >= n {
                write_group(out, view, origin, m, zeros);
                pruned.0 += 1;
                pruned.1 += zeros.count_ones() as u64;
            }
        }
    }
    pruned
}
