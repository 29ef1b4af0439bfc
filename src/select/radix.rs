//! The k-th smallest key of a pool of layers by radix selection over the
//! streamed keys: the scores are read again each pass, never copied.
//!
//! Two ways to run, by the scratch the caller gives:
//! - none: digits of 11, 11 and 10 bits, each pass keeping a 2048-bin
//!   histogram (16 KiB on the stack), then a pass to count each layer's
//!   units below and at the threshold: four passes;
//! - [`WIDE_BINS`] words or more: a 16-bit top digit, then one pass that
//!   counts each layer's units below the top digit's bucket and *collects*
//!   the low 16 bits of the keys inside it into the rest of the scratch
//!   (a few percent of the units for real weights). The threshold and every
//!   layer's counts then come from the candidates in memory: two passes.
//!   If the bucket does not fit, a second 16-bit pass and the count pass.

use super::Units;
use crate::error::Error;

/// Bins of the stack histogram (11-bit digits).
pub(crate) const STACK_BINS: usize = 1 << 11;
/// Bins of the wide histogram (16-bit digits) kept in caller scratch.
pub(crate) const WIDE_BINS: usize = 1 << 16;

/// Where the passes count, and where candidates go.
pub(crate) struct Scratch<'s> {
    /// `2^width` bins.
    bins: &'s mut [u64],
    /// Candidate low digits, four `u16` a word, from the front; two words
    /// per layer (units below the bucket, candidates) from the back.
    spare: &'s mut [u64],
}

impl<'s> Scratch<'s> {
    /// The caller's scratch if it holds a wide histogram, else the stack's.
    pub(crate) fn new(stack: &'s mut [u64; STACK_BINS], caller: &'s mut [u64]) -> Self {
        if caller.len() >= WIDE_BINS {
            let (bins, spare) = caller.split_at_mut(WIDE_BINS);
            Scratch { bins, spare }
        } else {
            Scratch {
                bins: stack,
                spare: &mut [],
            }
        }
    }

    fn width(&self) -> u32 {
        self.bins.len().trailing_zeros()
    }

    /// Candidates the scratch holds beside the records of `layers` layers.
    fn capacity(&self, layers: usize) -> u64 {
        4 * self.spare.len().saturating_sub(2 * layers) as u64
    }

    /// Whether the top-digit bucket holding `count` keys over `layers`
    /// layers can be collected.
    fn fits(&self, count: u64, layers: usize) -> bool {
        self.width() == 16 && 2 * layers <= self.spare.len() && count <= self.capacity(layers)
    }

    fn set_candidate(&mut self, i: usize, low: u16) {
        let w = &mut self.spare[i / 4];
        let shift = 16 * (i % 4);
        *w = (*w & !(0xffff << shift)) | (low as u64) << shift;
    }

    fn candidate(&self, i: usize) -> u16 {
        (self.spare[i / 4] >> (16 * (i % 4))) as u16
    }

    /// The record of the `j`-th pool layer: (units below the bucket,
    /// candidates).
    fn record(&mut self, j: usize) -> (&mut u64, &mut u64) {
        let n = self.spare.len();
        let (head, tail) = self.spare.split_at_mut(n - 2 * j - 1);
        (&mut head[head.len() - 1], &mut tail[0])
    }
}

/// Counts of one pool layer against a threshold key.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub below: u64,
    pub equal: u64,
}

/// One radix pass: the histogram, into `bins`, of the digit at `shift`
/// over the keys whose bits in `fixed` equal `prefix`. Every unit of the
/// pool is scored, so the first pass also validates the pool.
fn pass<'a, I>(
    pool: &impl Fn() -> I,
    bins: &mut [u64],
    fixed: u32,
    prefix: u32,
    shift: u32,
) -> Result<(), Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    bins.fill(0);
    let digit_mask = bins.len() as u32 - 1;
    for (index, units) in pool() {
        units
            .for_each_key(|_, key| {
                if key & fixed == prefix {
                    if let Some(b) = bins.get_mut((key >> shift & digit_mask) as usize) {
                        *b += 1;
                    }
                }
            })
            .map_err(|kind| Error::in_layer(index, kind))?;
    }
    Ok(())
}

/// The digit holding the `rank`-th key (1-based) of a histogram, and the
/// keys in the digits before it.
fn pick(bins: &[u64], rank: u64) -> (u32, u64) {
    let mut seen = 0u64;
    for (digit, &count) in bins.iter().enumerate() {
        if seen + count >= rank {
            return (digit as u32, seen);
        }
        seen += count;
    }
    (bins.len() as u32 - 1, seen)
}

/// The first pass over a whole pool: the histogram of the top digit. It
/// scores (and so checks) every unit; [`kth_smallest`] can start from it.
pub(crate) fn top_histogram<'a, I>(
    pool: impl Fn() -> I,
    scratch: &mut Scratch<'_>,
) -> Result<(), Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let shift = 32 - scratch.width();
    pass(&pool, scratch.bins, 0, 0, shift)
}

/// The `k`-th smallest (1-based, `1 <= k <= units`) key over the layers that
/// `pool` yields as `(layer index, units)`. `top_ready`: the scratch holds
/// the pool's [`top_histogram`].
///
/// With `counted`, the layers' counts against the key may come from
/// collected candidates: then `counted(layer, counts)` is called for every
/// pool layer, in pool order, and the answer is `(key, true)`; otherwise
/// `(key, false)` and the caller counts.
pub(crate) fn kth_smallest<'a, I>(
    pool: impl Fn() -> I,
    k: u64,
    top_ready: bool,
    scratch: &mut Scratch<'_>,
    mut counted: Option<&mut dyn FnMut(usize, Counts)>,
) -> Result<(u32, bool), Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    debug_assert!(k >= 1);
    let width = scratch.width();
    let mut prefix = 0u32;
    let mut fixed = 0u32; // bits of the key already decided
    let mut rank = k; // rank of the wanted key among those matching the prefix
    let mut shift = 32u32;
    let mut top_ready = top_ready;
    while shift > 0 {
        let w = width.min(shift);
        shift -= w;
        if !core::mem::take(&mut top_ready) {
            pass(&pool, &mut scratch.bins[..1 << w], fixed, prefix, shift)?;
        }
        let (digit, seen) = pick(&scratch.bins[..1 << w], rank);
        let bucket = scratch.bins[digit as usize];
        prefix |= digit << shift;
        fixed |= ((1u32 << w) - 1) << shift;
        rank -= seen;
        if let Some(counted) = counted.as_deref_mut() {
            let layers = pool().count();
            if fixed == 0xffff_0000 && scratch.fits(bucket, layers) {
                if let Some(key) = collect(&pool, prefix, rank, layers, scratch, counted)? {
                    return Ok((key, true));
                }
            }
        }
    }
    Ok((prefix, false))
}

/// Collects the keys in the top-16-bit bucket `prefix` of a pool of
/// `layers` layers and finds the `rank`-th of them; then counts every layer
/// against it from the candidates alone. `None` if the bucket held more
/// keys than the histogram said (a custom kernel that scores a unit
/// differently on each call): the caller goes on with radix passes.
fn collect<'a, I>(
    pool: &impl Fn() -> I,
    prefix: u32,
    rank: u64,
    layers: usize,
    scratch: &mut Scratch<'_>,
    counted: &mut dyn FnMut(usize, Counts),
) -> Result<Option<u32>, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let top = prefix >> 16;
    let capacity = scratch.capacity(layers) as usize;
    let mut n = 0usize;
    for (j, (index, units)) in pool().enumerate().take(layers) {
        let (mut below, first) = (0u64, n);
        units
            .for_each_key(|_, key| {
                let high = key >> 16;
                below += (high < top) as u64;
                if high == top {
                    if n < capacity {
                        scratch.set_candidate(n, key as u16);
                    }
                    n += 1;
                }
            })
            .map_err(|kind| Error::in_layer(index, kind))?;
        if n > capacity {
            return Ok(None);
        }
        let (b, c) = scratch.record(j);
        (*b, *c) = (below, (n - first) as u64);
    }
    // The low digit, from the candidates in memory.
    scratch.bins.fill(0);
    for i in 0..n {
        let low = scratch.candidate(i) as usize;
        scratch.bins[low] += 1;
    }
    let (low, _) = pick(scratch.bins, rank);
    let mut i = 0usize;
    for (j, (index, _)) in pool().enumerate().take(layers) {
        let (below, count) = scratch.record(j);
        let (mut counts, count) = (
            Counts {
                below: *below,
                equal: 0,
            },
            *count as usize,
        );
        for c in i..i + count {
            let key = scratch.candidate(c) as u32;
            counts.below += (key < low) as u64;
            counts.equal += (key == low) as u64;
        }
        i += count;
        counted(index, counts);
    }
    Ok(Some(top << 16 | low))
}
