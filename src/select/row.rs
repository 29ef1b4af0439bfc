//! Row scope: the `k`-th smallest key of one unit row, by radix passes
//! over the row's keys, scored again each pass (a row is small and stays
//! in cache; no scratch, 2 KiB of stack).

use super::Units;
use crate::vocab::error::ErrorKind;

/// Digit width of the row passes: four passes over a `u32` key.
const DIGIT: u32 = 8;

/// The rule that prunes exactly `k` units of a unit row (`1 <= k <=`
/// its units): the `k`-th smallest key, and how many of the units equal
/// to it are pruned (the first ones in row order, as exact ties want).
pub(crate) fn kth_in_row(row: &Units<'_>, k: u64) -> Result<(u32, u64), ErrorKind> {
    let (mut prefix, mut fixed, mut left) = (0u32, 0u32, k);
    let mut shift = 32;
    while shift > 0 {
        shift -= DIGIT;
        let mut bins = [0u64; 1 << DIGIT];
        row.for_each_key(|_, key| {
            if key & fixed == prefix {
                bins[(key >> shift) as usize & ((1 << DIGIT) - 1)] += 1;
            }
        })?;
        // The digit whose bin holds the `left`-th key of the prefix.
        let mut digit = 0;
        for (d, &count) in bins.iter().enumerate() {
            digit = d as u32;
            if left <= count {
                break;
            }
            left -= count;
        }
        prefix |= digit << shift;
        fixed |= ((1 << DIGIT) - 1) << shift;
    }
    Ok((prefix, left))
}
