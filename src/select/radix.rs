//! The k-th smallest key of a pool of layers by radix selection: four passes
//! of 8-bit digits over the streamed keys, each keeping a 256-bin histogram
//! (2 KiB on the stack). The scores are read again each pass, never copied.

use super::Units;
use crate::error::Error;

/// The `k`-th smallest (1-based, `1 <= k <= units`) key over the layers that
/// `pool` yields as `(layer index, units)`.
pub(crate) fn kth_smallest<'a, I>(pool: impl Fn() -> I, k: u64) -> Result<u32, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    debug_assert!(k >= 1);
    let mut prefix = 0u32;
    let mut fixed = 0u32; // bits of the key already decided
    let mut rank = k; // rank of the wanted key among those matching the prefix
    for shift in [24u32, 16, 8, 0] {
        let mut hist = [0u64; 256];
        for (index, units) in pool() {
            units
                .for_each_key(|_, key| {
                    if key & fixed == prefix {
                        hist[(key >> shift & 0xff) as usize] += 1;
                    }
                })
                .map_err(|kind| Error::in_layer(index, kind))?;
        }
        let mut seen = 0u64;
        for (digit, &count) in hist.iter().enumerate() {
            if seen + count >= rank {
                prefix |= (digit as u32) << shift;
                fixed |= 0xff << shift;
                rank -= seen;
                break;
            }
            seen += count;
        }
    }
    Ok(prefix)
}
