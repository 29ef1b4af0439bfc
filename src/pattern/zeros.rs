//! What every kind's pattern lock and zero counting share: reading zeros of
//! any element type, a layer walked a window of columns at a time, and the
//! zero bytes of a mask. Plain loops: run under a level
//! (`arch::at_simd_level`) they vectorise with its instruction set.

use crate::arch::all::inlined;
use crate::arch::{at_simd_level, Level};
use crate::vocab::error::ErrorKind;
use crate::vocab::scores::Element;
use crate::vocab::shape::View;

/// Columns per window: the flag buffer on the stack. At least the longest
/// N:M group (128), so groups never straddle windows; wider blocks take
/// their own path.
pub(super) const WINDOW: usize = 4096;

/// A lock over a contiguous layer `cols` wide, bands of `unit_rows` rows,
/// a window of whole units at a time: `flag(band, (c0, end), flags)` turns
/// the band's columns `c0..end` into one keep byte per column and returns
/// the (units, elements) it locks; the keep bytes then go to every row of
/// the band. Returns the totals.
#[inline(always)]
pub(super) fn lock_windows<E: Element>(
    xs: &[E],
    cols: usize,
    (unit_rows, unit_cols): (usize, usize),
    mask: &mut [u8],
    mut flag: impl FnMut(&[E], (usize, usize), &mut [u8]) -> (u64, u64),
) -> (u64, u64) {
    let band = unit_rows * cols;
    if unit_cols == 0 || unit_cols > WINDOW || band == 0 {
        return (0, 0);
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
            let (units, elements) = flag(xs, (c0, end), f);
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

/// Flags are "nonzero somewhere" bytes: the zero ones counted.
#[inline(always)]
pub(super) fn count_zeros(f: &[u8]) -> u64 {
    // Sums of bytes in u32 lanes: vectorises; a window fits any u32.
    f.iter().map(|&b| (b == 0) as u32).sum::<u32>() as u64
}

/// Zero bytes of a 0/1 mask, `None` if a byte is above 1: 32 byte lanes of
/// sums (255 steps at most, so they cannot wrap) and of ORs.
#[inline(always)]
pub(super) fn zero_bytes(mask: &[u8]) -> Option<u64> {
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

/// The first byte of a mask that is neither 0 nor 1, as an error.
pub(super) fn check_bytes(mask: &[u8]) -> Result<(), ErrorKind> {
    match mask.iter().position(|&v| v > 1) {
        Some(index) => Err(ErrorKind::MaskValue {
            index,
            value: mask[index],
        }),
        None => Ok(()),
    }
}

/// A kind's lock of `out`: `rows(out)` (plain loops over a matrix's rows) run at a
/// SIMD level, or the `reference` (through the view) for a conv or at the
/// scalar level. Returns the (units, elements) locked.
#[inline(always)]
pub(super) fn lock_with(
    level: Level,
    view: &View,
    out: &mut [u8],
    mut rows: impl FnMut(&mut [u8]) -> (u64, u64),
    reference: impl FnOnce(&mut [u8]) -> (u64, u64),
) -> (u64, u64) {
    let mut pruned = None;
    if view.is_contiguous() {
        at_simd_level(
            level,
            inlined(
                #[inline(always)]
                || pruned = Some(rows(&mut *out)),
            ),
        );
    }
    pruned.unwrap_or_else(|| reference(out))
}

/// A kind's zero count of a mask at a SIMD level: `count()` (plain loops,
/// `None` when it meets a byte above 1). The bytes are checked by the
/// reference where the level did not run or met one. `Ok(None)`: the
/// caller counts by its reference.
#[inline(always)]
pub(super) fn zeros_with(
    level: Level,
    mask: &[u8],
    mut count: impl FnMut() -> Option<u64>,
) -> Result<Option<u64>, ErrorKind> {
    let mut counted = None;
    let ran = at_simd_level(
        level,
        inlined(
            #[inline(always)]
            || counted = count(),
        ),
    );
    if !ran || counted.is_none() {
        check_bytes(mask)?;
    }
    Ok(counted)
}
