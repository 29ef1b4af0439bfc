//! The k-th smallest key of a pool of layers by radix selection: three
//! passes over the streamed keys with digits of 11, 11 and 10 bits, each
//! keeping a 2048-bin histogram (16 KiB on the stack). The scores are read
//! again each pass, never copied.

use super::Units;
use crate::error::Error;

/// Digit widths, most significant first; they add up to 32.
const WIDTHS: [u32; 3] = [11, 11, 10];
const BINS: usize = 1 << 11;

/// Counts of one digit over the keys matching a prefix.
pub(crate) struct Histogram([u64; BINS]);

/// One radix pass: the histogram of the digit at `shift` (`width` bits) over
/// the keys whose bits in `fixed` equal `prefix`. Every unit of the pool is
/// scored, so the first pass also validates the pool.
fn pass<'a, I>(
    pool: &impl Fn() -> I,
    fixed: u32,
    prefix: u32,
    shift: u32,
    width: u32,
) -> Result<Histogram, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let mut hist = Histogram([0; BINS]);
    let digit_mask = (1u32 << width) - 1;
    for (index, units) in pool() {
        units
            .for_each_key(|_, key| {
                if key & fixed == prefix {
                    hist.0[(key >> shift & digit_mask) as usize] += 1;
                }
            })
            .map_err(|kind| Error::in_layer(index, kind))?;
    }
    Ok(hist)
}

/// The first pass over a whole pool: the histogram of the top digit. It
/// scores (and so checks) every unit; [`kth_smallest`] can start from it.
pub(crate) fn top_histogram<'a, I>(pool: impl Fn() -> I) -> Result<Histogram, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    pass(&pool, 0, 0, 32 - WIDTHS[0], WIDTHS[0])
}

/// The `k`-th smallest (1-based, `1 <= k <= units`) key over the layers that
/// `pool` yields as `(layer index, units)`. `top` is the pool's
/// [`top_histogram`] if already made.
pub(crate) fn kth_smallest<'a, I>(
    pool: impl Fn() -> I,
    k: u64,
    top: Option<Histogram>,
) -> Result<u32, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    debug_assert!(k >= 1);
    let mut prefix = 0u32;
    let mut fixed = 0u32; // bits of the key already decided
    let mut rank = k; // rank of the wanted key among those matching the prefix
    let mut shift = 32;
    let mut top = top;
    for width in WIDTHS {
        shift -= width;
        let hist = match top.take() {
            Some(hist) => hist,
            None => pass(&pool, fixed, prefix, shift, width)?,
        };
        let mut seen = 0u64;
        for (digit, &count) in hist.0.iter().enumerate().take(1 << width) {
            if seen + count >= rank {
                prefix |= (digit as u32) << shift;
                fixed |= ((1u32 << width) - 1) << shift;
                rank -= seen;
                break;
            }
            seen += count;
        }
    }
    Ok(prefix)
}
