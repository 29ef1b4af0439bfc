//! The k-th smallest key of a pool of layers, found by streaming the unit
//! keys again each pass: the scores are never copied.
//!
//! Three ways to run, by the scratch the caller gives:
//! - none: radix selection with digits of 11, 11 and 10 bits, each pass
//!   keeping a 2048-bin histogram (16 KiB on the stack), then a pass to
//!   count each layer's units below and at the threshold: four passes (the
//!   build for small targets: 7-bit digits, 1 KiB, six passes);
//! - [`WIDE_BINS`] words or more, *sample-select*: a sample of about 1/400
//!   of the units gives a key range that holds the k-th key with a margin
//!   of about four standard deviations; one pass then counts each layer's
//!   units below the range and collects the keys inside it (about 1% of
//!   the units) into the scratch. The threshold and every layer's counts
//!   then come from memory: one pass and a sample;
//! - if the range misses the k-th key or its keys do not fit: a 16-bit top
//!   digit, then the same collecting pass over the digit's bucket (a range
//!   too), or, if even that does not fit, a second 16-bit pass and the
//!   count pass.
//!
//! Every way gives the same key and counts; only the passes differ.

use super::{whole, Units};
use crate::arch::all::inlined;
use crate::arch::all::keys::{key_value, order_key};
use crate::score::TILE;
use crate::vocab::error::Error;
use crate::vocab::ext::Tile;

/// Bins of the stack histogram: 11-bit digits (16 KiB), or 7-bit ones
/// (1 KiB, two more passes) in the build for small targets.
#[cfg(not(feature = "small"))]
pub(crate) const STACK_BINS: usize = 1 << 11;
#[cfg(feature = "small")]
pub(crate) const STACK_BINS: usize = 1 << 7;
/// Bins of the wide histogram (16-bit digits) kept in caller scratch.
pub(crate) const WIDE_BINS: usize = 1 << 16;

/// Where the passes count, and where candidates go.
pub(crate) struct Scratch<'s> {
    /// `2^width` bins.
    bins: &'s mut [u64],
    /// Collected candidates from the front: keys two a word, or, when
    /// counting elements, a key and its unit's pruned elements a word;
    /// three words per layer (units below the bucket, their pruned
    /// elements, candidates) from the back.
    spare: &'s mut [u64],
    /// Whether the selection counts each unit's pruned elements (inclusive
    /// N:M, where a group loses N or more): candidates carry them.
    elements: bool,
}

impl<'s> Scratch<'s> {
    /// The caller's scratch if it holds a wide histogram, else the stack's.
    /// `elements`: whether candidates carry their pruned elements.
    pub(crate) fn new(
        stack: &'s mut [u64; STACK_BINS],
        caller: &'s mut [u64],
        elements: bool,
    ) -> Self {
        if caller.len() >= WIDE_BINS {
            let (bins, spare) = caller.split_at_mut(WIDE_BINS);
            Scratch {
                bins,
                spare,
                elements,
            }
        } else {
            Scratch {
                bins: stack,
                spare: &mut [],
                elements,
            }
        }
    }

    /// The caller's scratch if it holds a wide histogram (no stack
    /// fallback), else `None`.
    pub(crate) fn wide_only(caller: &'s mut [u64], elements: bool) -> Option<Self> {
        if caller.len() < WIDE_BINS {
            return None;
        }
        let (bins, spare) = caller.split_at_mut(WIDE_BINS);
        Some(Scratch {
            bins,
            spare,
            elements,
        })
    }

    /// Slots (halves of a word) a candidate takes.
    fn per(&self) -> usize {
        1 + self.elements as usize
    }

    fn width(&self) -> u32 {
        self.bins.len().trailing_zeros()
    }

    /// Candidates the scratch holds beside the records of `layers` layers.
    fn capacity(&self, layers: usize) -> u64 {
        (2 * self.spare.len().saturating_sub(RECORD * layers) / self.per()) as u64
    }

    /// Whether the scratch holds a wide histogram and `layers` records.
    fn wide(&self, layers: usize) -> bool {
        self.width() == 16 && RECORD * layers <= self.spare.len()
    }

    /// Whether the top-digit bucket holding `count` keys over `layers`
    /// layers can be collected.
    fn fits(&self, count: u64, layers: usize) -> bool {
        self.wide(layers) && count <= self.capacity(layers)
    }

    fn set_slot(&mut self, i: usize, value: u32) {
        let w = &mut self.spare[i / 2];
        let shift = 32 * (i % 2);
        *w = (*w & !(0xffff_ffff << shift)) | (value as u64) << shift;
    }

    fn slot(&self, i: usize) -> u32 {
        (self.spare[i / 2] >> (32 * (i % 2))) as u32
    }

    /// Candidate `i`: its whole key, and its unit's pruned elements if
    /// the scratch counts them.
    fn set_candidate(&mut self, i: usize, key: u32, pruned: u32) {
        let per = self.per();
        self.set_slot(i * per, key);
        if self.elements {
            self.set_slot(i * per + 1, pruned);
        }
    }

    fn key(&self, i: usize) -> u32 {
        self.slot(i * self.per())
    }

    /// Candidate `i`'s pruned elements (0 unless the scratch counts them).
    fn pruned(&self, i: usize) -> u32 {
        if self.elements {
            self.slot(i * 2 + 1)
        } else {
            0
        }
    }

    /// The record of the `j`-th pool layer (`j` below the layers
    /// [`wide`](Self::wide) was asked for): units below the bucket, their
    /// pruned elements, candidates.
    fn record(&mut self, j: usize) -> &mut [u64; RECORD] {
        let (_, records) = self.spare.as_rchunks_mut::<RECORD>();
        let last = records.len() - 1;
        &mut records[last - j]
    }
}

/// Writes a tile's provisional mask marks as the range pass scans it. Its
/// arguments: the layer index, its units, the tile, where each unit's
/// score lies against the range (`arch::all::range::place`), and the keep
/// marks.
pub(crate) type TileMarks<'w, 'a> = dyn FnMut(usize, &Units<'a>, &Tile<'a>, &[u8], &[u8]) + 'w;

/// Words of scratch per pool layer for its record.
const RECORD: usize = 3;

/// Counts of one pool layer against a threshold key: units, and, when the
/// scratch counts elements, their pruned elements (else 0).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Counts {
    pub below: u64,
    pub equal: u64,
    pub below_elements: u64,
    pub equal_elements: u64,
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

/// What a first pass over a pool left in the scratch for
/// [`kth_smallest`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Ready {
    /// Nothing: the selection makes its own passes.
    Nothing,
    /// The histogram of the top digit over the pool.
    Top,
    /// The keys of a range, collected with each layer's counts.
    Range(Range),
}

/// The keys in `lo..=hi` of a pool, collected whole into the scratch (two
/// a word, or a key and its pruned elements a word under inclusive N:M),
/// with each pool layer's record: (units below `lo`, their pruned
/// elements, keys in the range).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Range {
    lo: u32,
    hi: u32,
    /// Units of the pool below `lo`.
    below: u64,
    /// Keys in the range.
    inside: u64,
    layers: usize,
}

impl Range {
    /// Whether the `k`-th smallest key of the pool is in the range.
    fn holds(&self, k: u64) -> bool {
        self.below < k && k <= self.below + self.inside
    }
}

/// Units in a sampled run; runs are spread over the pool.
const SAMPLE_RUN: usize = 16;
/// Sample size aimed at (the sample lives in the histogram's words).
const SAMPLE_AIM: u64 = WIDE_BINS as u64 * 3 / 4;

/// The first pass over a whole pool, before the selection of its `k`-th
/// smallest key: it scores (and so checks) every unit, and leaves what
/// [`kth_smallest`] can start from: with a wide scratch, the keys of a
/// range holding the `k`-th (found from a sample), else the top digit's
/// histogram.
pub(crate) fn prepare<'a, I>(
    pool: impl Fn() -> I,
    k: u64,
    scratch: &mut Scratch<'_>,
) -> Result<Ready, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let layers = pool().count();
    let units: u64 = pool().map(|(_, u)| u.count() as u64).sum();
    if k >= 1 && k <= units && scratch.wide(layers) {
        if let Some((lo, hi)) = sample_range(&pool, k, units, layers, scratch) {
            if let Some(range) = gather(&pool, lo, hi, layers, scratch, None)? {
                if range.holds(k) {
                    return Ok(Ready::Range(range));
                }
            }
        }
    }
    let shift = 32 - scratch.width();
    pass(&pool, scratch.bins, 0, 0, shift)?;
    Ok(Ready::Top)
}

/// A key range that holds the `k`-th smallest of `units` keys with a
/// margin of about four standard deviations of a sample's rank, narrowed
/// to what the scratch can collect; `None` if that is too narrow to be
/// worth a pass, or the sample met a NaN (the pass after reports it).
fn sample_range<'a, I>(
    pool: &impl Fn() -> I,
    k: u64,
    units: u64,
    layers: usize,
    scratch: &mut Scratch<'_>,
) -> Option<(u32, u32)>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let capacity = scratch.capacity(layers) as f64;
    let stride = units.div_ceil(SAMPLE_AIM).max(1) as usize;
    let (mut phase, mut n) = (stride / 2, 0usize);
    let sample = &mut *scratch.bins;
    for (_, units) in pool() {
        units
            .sample(SAMPLE_RUN, stride, &mut phase, |keys| {
                for &key in keys {
                    if let Some(slot) = sample.get_mut(n) {
                        *slot = key as u64;
                        n += 1;
                    }
                }
            })
            .ok()?;
    }
    let sample = &mut sample[..n];
    if sample.is_empty() {
        return None;
    }
    // The k-th key's rank in the sample, and the margin around it: four
    // standard deviations of a binomial rank, at most what fits.
    let s = n as f64;
    let p = (k as f64 - 0.5) / units as f64;
    let sigma = libm::sqrt(s * p * (1.0 - p));
    let fits = capacity / units as f64 * s * 0.45;
    let margin = (4.0 * sigma + 8.0).min(fits);
    if margin < 2.0 * sigma + 1.0 {
        return None;
    }
    let at = p * s;
    let (lo_rank, hi_rank) = (at - margin, at + margin);
    // Past the sample's ends the range is open, unless the sample is the
    // whole pool (small pools): then its ends are the pool's.
    let whole = stride == 1;
    let hi = if hi_rank < s - 1.0 {
        *sample.select_nth_unstable(hi_rank as usize).1 as u32
    } else if whole {
        sample.iter().max().map_or(u32::MAX, |&x| x as u32)
    } else {
        u32::MAX
    };
    let lo = if lo_rank >= 1.0 {
        *sample.select_nth_unstable(lo_rank as usize).1 as u32
    } else if whole {
        sample.iter().min().map_or(0, |&x| x as u32)
    } else {
        0
    };
    Some((lo, hi))
}

/// One pass over the pool: every layer's units below `lo`, and the keys in
/// `lo..=hi` collected whole (and, when the scratch counts elements, the
/// pruned elements of both). `None` if they do not fit.
fn gather<'a, I>(
    pool: &impl Fn() -> I,
    lo: u32,
    hi: u32,
    layers: usize,
    scratch: &mut Scratch<'_>,
    mut marks: Option<&mut TileMarks<'_, 'a>>,
) -> Result<Option<Range>, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let capacity = scratch.capacity(layers) as usize;
    // Keys and scores order alike, so the range is tested on the scores:
    // only the few inside become keys. (A range holding no score's key is
    // never asked for; it would take the radix passes.)
    if lo > order_key(f32::INFINITY) || hi < order_key(f32::NEG_INFINITY) {
        return Ok(None);
    }
    let (low, high) = (bound_score(lo, false), bound_score(hi, true));
    let (mut n, mut total) = (0usize, 0u64);
    for (j, (index, units)) in pool().enumerate().take(layers) {
        let (mut below, mut below_elements, first) = (0u64, 0u64, n);
        let (level, elements) = (units.level(), scratch.elements);
        let mut scan = |scores: &[f32], pruned: &[f32], places: &mut [u8]| {
            let mut count = inlined(
                #[inline(always)]
                |j: usize, x: f32| {
                    if n < capacity {
                        let p = pruned.get(j).map_or(0, |&p| whole(p));
                        scratch.set_candidate(n, order_key(x), p);
                    }
                    n += 1;
                },
            );
            let range = (low, high);
            if !crate::arch::range_scan(level, scores, range, &mut below, &mut count, places) {
                crate::arch::all::range::scan(scores, low, high, &mut below, &mut count, places);
            }
            if !pruned.is_empty() {
                // Below the range, the units' pruned elements: a
                // branchless sum per tile (at most `TILE * M` fits a u32).
                let mut sum = 0u32;
                crate::arch::vectorized(
                    level,
                    inlined(
                        #[inline(always)]
                        || {
                            let mut s = 0u32;
                            for (&x, &p) in scores.iter().zip(pruned) {
                                s += (x < low) as u32 * whole(p);
                            }
                            sum = s;
                        },
                    ),
                );
                below_elements += u64::from(sum);
            }
        };
        let scanned = match marks.as_deref_mut() {
            // Masks too: the kind's mask scores and keep marks, an N:M
            // group's pruned elements counted from its marks (what its
            // kernel counts: those not kept).
            Some(write) => units.for_each_masked(|tile, _, scores, keep| {
                let mut pruned = [0.0f32; TILE];
                let m = units.grid().unit_cols;
                let n = if elements && m > 0 {
                    pruned_of_marks(units.level(), keep, m, &mut pruned);
                    scores.len()
                } else {
                    0
                };
                let mut places = [0u8; TILE];
                let places = &mut places[..scores.len()];
                scan(scores, &pruned[..n], places);
                write(index, &units, tile, places, keep);
                Ok(())
            }),
            None if elements => {
                units.for_each_scored_pruned(|_, scores, pruned| scan(scores, pruned, &mut []))
            }
            None => units.for_each_scored(|_, scores| scan(scores, &[], &mut [])),
        };
        scanned.map_err(|kind| Error::in_layer(index, kind))?;
        if n > capacity {
            return Ok(None);
        }
        total += below;
        *scratch.record(j) = [below, below_elements, (n - first) as u64];
    }
    Ok(Some(Range {
        lo,
        hi,
        below: total,
        inside: n as u64,
        layers,
    }))
}

/// Each N:M group's pruned elements from its keep marks (0/1 bytes, `m`
/// a group): `m` less the kept, as whole `f32` numbers. Groups of four a
/// word at a time; in the level's vectors either way.
fn pruned_of_marks(level: crate::arch::Level, keep: &[u8], m: usize, pruned: &mut [f32]) {
    crate::arch::vectorized(
        level,
        inlined(
            #[inline(always)]
            || {
                if m == 4 {
                    let (words, _) = keep.as_chunks::<4>();
                    for (p, w) in pruned.iter_mut().zip(words) {
                        // The byte sum lands in the top byte.
                        let kept = u32::from_le_bytes(*w).wrapping_mul(0x0101_0101) >> 24;
                        *p = (4 - kept) as f32;
                    }
                } else {
                    for (p, group) in pruned.iter_mut().zip(keep.chunks_exact(m)) {
                        let kept = group.iter().fold(0u32, |a, &k| a + u32::from(k));
                        *p = (m as u32).wrapping_sub(kept) as f32;
                    }
                }
            },
        ),
    );
}

/// The score a range bound stands for, the bound first moved onto a key
/// some score has (NaN has none, nor does the key just below `+0.0`, as
/// `-0.0` takes `+0.0`'s), keeping the same keys inside the range. For
/// ranges that reach a score's key (`lo <= key(inf)`, `hi >= key(-inf)`).
fn bound_score(key: u32, upper: bool) -> f32 {
    let key = key.clamp(order_key(f32::NEG_INFINITY), order_key(f32::INFINITY));
    let zero = order_key(0.0);
    let key = match (key == zero - 1, upper) {
        (true, true) => zero - 2,
        (true, false) => zero,
        (false, _) => key,
    };
    key_value(key)
}

/// The `k`-th smallest key of a pool from its collected range, and, with
/// `counted`, every pool layer's counts against it.
fn finish(
    range: &Range,
    k: u64,
    scratch: &mut Scratch<'_>,
    layer_indices: impl Iterator<Item = usize>,
    counted: Option<&mut dyn FnMut(usize, Counts)>,
) -> u32 {
    let n = range.inside as usize;
    // The key's digits from the top, counted over the keys in memory: the
    // top 16 bits over the range's span only (small for real weights), then
    // two 8-bit digits, so no pass fills or scans a 65,536-bin histogram.
    let mut rank = k - range.below;
    let (mut key, mut fixed) = (0u32, 0u32);
    let base = range.lo >> 16;
    let span = ((range.hi >> 16) - base) as usize + 1;
    let per = scratch.per();
    for (shift, width, offset) in [(16u32, span, base), (8, 256, 0), (0, 256, 0)] {
        let (bins, keys) = (&mut scratch.bins[..width], &*scratch.spare);
        bins.fill(0);
        let digit_mask = if shift == 16 { u32::MAX } else { 0xff };
        for i in (0..n).map(|i| i * per) {
            let c = (keys[i / 2] >> (32 * (i % 2))) as u32;
            if c & fixed == key {
                let digit = (c >> shift & digit_mask).wrapping_sub(offset) as usize;
                if let Some(b) = bins.get_mut(digit) {
                    *b += 1;
                }
            }
        }
        let (digit, seen) = pick(bins, rank);
        rank -= seen;
        key |= (digit + offset) << shift;
        fixed |= digit_mask << shift;
    }
    if let Some(counted) = counted {
        let mut i = 0usize;
        for (j, index) in layer_indices.enumerate().take(range.layers) {
            let [below, below_elements, inside] = *scratch.record(j);
            let mut counts = Counts {
                below,
                below_elements,
                ..Counts::default()
            };
            let inside = inside as usize;
            for c in i..i + inside {
                let (c, pruned) = (scratch.key(c), u64::from(scratch.pruned(c)));
                counts.below += (c < key) as u64;
                counts.equal += (c == key) as u64;
                counts.below_elements += (c < key) as u64 * pruned;
                counts.equal_elements += (c == key) as u64 * pruned;
            }
            i += inside;
            counted(index, counts);
        }
    }
    key
}

/// The `k`-th smallest (1-based, `1 <= k <= units`) key over the layers that
/// `pool` yields as `(layer index, units)`, starting from what `ready` says
/// the scratch holds (from [`prepare`] over the same pool, or `Nothing`).
///
/// With `counted`, the layers' counts against the key may come from
/// collected candidates: then `counted(layer, counts)` is called for every
/// pool layer, in pool order, and the answer is `(key, true)`; otherwise
/// `(key, false)` and the caller counts.
pub(crate) fn kth_smallest<'a, I>(
    pool: impl Fn() -> I,
    k: u64,
    ready: Ready,
    scratch: &mut Scratch<'_>,
    counted: Option<&mut dyn FnMut(usize, Counts)>,
) -> Result<(u32, bool), Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    debug_assert!(k >= 1);
    let ready = match ready {
        Ready::Nothing if scratch.wide(pool().count()) => prepare(&pool, k, scratch)?,
        ready => ready,
    };
    if let Ready::Range(range) = ready {
        if range.holds(k) {
            let tallied = counted.is_some();
            let key = finish(&range, k, scratch, pool().map(|(i, _)| i), counted);
            return Ok((key, tallied));
        }
    }
    let width = scratch.width();
    let mut prefix = 0u32;
    let mut fixed = 0u32; // bits of the key already decided
    let mut rank = k; // rank of the wanted key among those matching the prefix
    let mut shift = 32u32;
    let mut top_ready = ready == Ready::Top;
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
        // The top digit's bucket is a key range: collected, the rest comes
        // from memory. It may not hold the k-th key after all if a custom
        // kernel scores a unit differently on each call: radix passes go on.
        let layers = pool().count();
        if counted.is_some() && fixed == 0xffff_0000 && scratch.fits(bucket, layers) {
            if let Some(range) = gather(&pool, prefix, prefix | 0xffff, layers, scratch, None)? {
                if range.holds(k) {
                    let indices = pool().map(|(i, _)| i);
                    return Ok((finish(&range, k, scratch, indices, counted), true));
                }
            }
        }
    }
    Ok((prefix, false))
}

/// The key range a selection split over workers collects: found once,
/// from a sample of the whole pool ([`Pruner::split_range`]); every worker
/// gathers its layers' part against it ([`Pruner::gather_part`]), and the
/// parts merge into the plan one pass would make ([`Pruner::plan_split`]).
///
/// [`Pruner::split_range`]: crate::Pruner::split_range
/// [`Pruner::gather_part`]: crate::Pruner::gather_part
/// [`Pruner::plan_split`]: crate::Pruner::plan_split
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitRange {
    pub(crate) lo: u32,
    pub(crate) hi: u32,
    /// Units the selection prunes, of `units` in the pool.
    pub(crate) k: u64,
    pub(crate) units: u64,
    /// Layers given, and the pool's (those the pattern fits).
    pub(crate) layers: usize,
    pub(crate) pool: usize,
    /// Whether candidates carry their pruned elements (inclusive N:M).
    pub(crate) elements: bool,
    /// What the unit scores depend on (pattern, reduction, criterion,
    /// ties, compat), hashed: parts scored otherwise are refused.
    pub(crate) scoring: u64,
}

impl SplitRange {
    /// Words of [`to_words`](Self::to_words).
    pub const WORDS: usize = 6;

    /// The range as words, to send to the workers (with
    /// [`from_words`](Self::from_words) on their side).
    pub fn to_words(&self) -> [u64; Self::WORDS] {
        [
            u64::from(self.lo) | u64::from(self.hi) << 32,
            self.k,
            self.units,
            self.layers as u64,
            (self.pool as u64) << 1 | self.elements as u64,
            self.scoring,
        ]
    }

    /// A range from [`to_words`](Self::to_words). Any words make a range;
    /// one that is not the layers' is refused when it is used.
    pub fn from_words(w: &[u64; Self::WORDS]) -> Self {
        SplitRange {
            lo: w[0] as u32,
            hi: (w[0] >> 32) as u32,
            k: w[1],
            units: w[2],
            layers: usize::try_from(w[3]).unwrap_or(usize::MAX),
            pool: usize::try_from(w[4] >> 1).unwrap_or(usize::MAX),
            elements: w[4] & 1 == 1,
            scoring: w[5],
        }
    }

    /// Units the selection prunes (`k`), of the pool's units.
    pub fn k(&self) -> u64 {
        self.k
    }

    /// Units in the pool.
    pub fn units(&self) -> u64 {
        self.units
    }

    /// Words a part of `layers` layers holding `elements` elements needs
    /// to be sure to hold its candidates for real weights (as
    /// [`Pruner::scratch_words`](crate::Pruner::scratch_words) for the
    /// whole pool): a header, records and a word per 64 elements.
    pub fn part_words(layers: usize, elements: u64) -> usize {
        let candidates = elements.div_ceil(64).min(usize::MAX as u64 / 4) as usize;
        (layers.saturating_mul(2 * RECORD))
            .saturating_add(PART_HEADER)
            .saturating_add(candidates)
    }
}

/// Words before a part's records: its first layer and layers in the whole
/// list, its pool layers (those the pattern fits) and candidates, the
/// range it was gathered against and the scoring's hash.
const PART_HEADER: usize = 6;

/// A key range for a split selection from a sample of the whole pool, as
/// [`prepare`] finds one; `None` if the scratch has no wide histogram or
/// the sample gives none (the caller then plans in one go).
pub(crate) fn split_sample<'a, I>(
    pool: impl Fn() -> I,
    k: u64,
    scratch: &mut Scratch<'_>,
) -> Option<(u32, u32)>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let layers = pool().count();
    let units: u64 = pool().map(|(_, u)| u.count() as u64).sum();
    if k >= 1 && k <= units && scratch.wide(layers) {
        sample_range(&pool, k, units, layers, scratch)
    } else {
        None
    }
}

/// One worker's part of a split selection: [`gather`] over the pool
/// layers among `span` (list layers `first..first + len`) into `out`, laid
/// out to be sent as it is: `[first, len, pool layers, candidates, lo |
/// hi << 32, scoring hash, a record (below, their pruned elements,
/// candidates) per pool layer, the candidates]`; the pool layers' word
/// has its top bit set when `marks` wrote the layers' provisional masks
/// (see [`PartKeys`]). Returns the words used, or `None` if the
/// candidates do not fit.
pub(crate) fn gather_part<'a, I>(
    pool: impl Fn() -> I,
    span: (usize, usize),
    range: &SplitRange,
    out: &mut [u64],
    marks: Option<&mut TileMarks<'_, 'a>>,
) -> Result<Option<usize>, Error>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let layers = pool().count();
    let head = PART_HEADER + RECORD * layers;
    if out.len() < head + RECORD * layers {
        return Ok(None);
    }
    let (front, spare) = out.split_at_mut(head);
    let mut scratch = Scratch {
        bins: &mut [],
        spare,
        elements: range.elements,
    };
    let (lo, hi) = (range.lo, range.hi);
    let masked = u64::from(marks.is_some()) << 63;
    let Some(gathered) = gather(&pool, lo, hi, layers, &mut scratch, marks)? else {
        return Ok(None);
    };
    for (j, record) in front[PART_HEADER..].chunks_exact_mut(RECORD).enumerate() {
        record.copy_from_slice(scratch.record(j));
    }
    let header = [
        span.0 as u64,
        span.1 as u64,
        layers as u64 | masked,
        gathered.inside,
        u64::from(lo) | u64::from(hi) << 32,
        range.scoring,
    ];
    front[..PART_HEADER].copy_from_slice(&header);
    let slots = gathered.inside as usize * scratch.per();
    Ok(Some(head + slots.div_ceil(2)))
}

/// What a part's words hold, checked against its length.
struct Part<'p> {
    records: &'p [u64],
    candidates: &'p [u64],
    /// The list layers it covers, from the first.
    first: u64,
    len: u64,
    layers: usize,
    count: usize,
    /// The range and scoring it was gathered with.
    range: u64,
    scoring: u64,
}

/// The top bit of a part's pool-layers word: its layers' masks hold
/// provisional marks.
const MASKED: u64 = 1 << 63;

fn part_of(words: &[u64], per: usize) -> Option<Part<'_>> {
    let (&[first, len, layers, count, range, scoring], rest) =
        words.split_first_chunk::<PART_HEADER>()?;
    let layers = usize::try_from(layers & !MASKED).ok()?;
    let count = usize::try_from(count).ok()?;
    let (records, candidates) = rest.split_at_checked(layers.checked_mul(RECORD)?)?;
    let slots = count.checked_mul(per)?;
    let candidates = candidates.get(..slots.div_ceil(2))?;
    Some(Part {
        records,
        candidates,
        first,
        len,
        layers,
        count,
        range,
        scoring,
    })
}

/// A part's candidates, layer by layer, for settling the provisional
/// masks its gather wrote: `None` unless the words are a part gathered
/// with masks.
pub(crate) struct PartKeys<'p> {
    part: Part<'p>,
    per: usize,
}

impl<'p> PartKeys<'p> {
    /// The words as a part gathered with masks against `range` (its key
    /// range and scoring), or `None`.
    pub(crate) fn of(words: &'p [u64], range: &SplitRange) -> Option<Self> {
        let per = 1 + range.elements as usize;
        let masked = words.get(2).is_some_and(|&w| w & MASKED != 0);
        let range_word = u64::from(range.lo) | u64::from(range.hi) << 32;
        let part = part_of(words, per)
            .filter(|p| masked && p.range == range_word && p.scoring == range.scoring)?;
        Some(PartKeys { part, per })
    }

    /// The list layers it covers: `(first, len)`.
    pub(crate) fn span(&self) -> (u64, u64) {
        (self.part.first, self.part.len)
    }

    /// Its `j`-th pool layer's candidates: `(first candidate, count)`.
    pub(crate) fn layer(&self, j: usize) -> Option<(usize, usize)> {
        let (mut start, mut at) = (0usize, None);
        for (i, r) in self.part.records.chunks_exact(RECORD).enumerate() {
            let count = usize::try_from(r[2]).ok()?;
            if i == j {
                at = Some((start, count));
                break;
            }
            start = start.checked_add(count)?;
        }
        at.filter(|&(s, c)| s.checked_add(c).is_some_and(|e| e <= self.part.count))
    }

    /// Candidate `c`'s key.
    pub(crate) fn key(&self, c: usize) -> Option<u32> {
        let slot = c.checked_mul(self.per)?;
        let word = self.part.candidates.get(slot / 2)?;
        Some((word >> (32 * (slot % 2))) as u32)
    }
}

/// Why merged parts cannot be planned from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MergeError {
    /// A part's words are not a part.
    Malformed(usize),
    /// The parts do not cover the layers in order (the part that does
    /// not follow on, or none: they end too soon or hold other layers).
    Layers(Option<usize>),
    /// A part was gathered against another range or scoring.
    Range(usize),
    /// A layer's record does not fit its units, or a candidate is
    /// outside the range (the part).
    Inconsistent(usize),
}

/// The parts of a split selection, in layer order, merged into the scratch
/// as one [`gather`] over the whole pool leaves it: `Ok(None)` if the
/// candidates do not fit (the caller then selects in passes).
pub(crate) fn merge_parts<'a, I>(
    pool: impl Fn() -> I,
    range: &SplitRange,
    parts: &[&[u64]],
    scratch: &mut Scratch<'_>,
) -> Result<Option<Ready>, MergeError>
where
    I: Iterator<Item = (usize, Units<'a>)>,
{
    let per = 1 + range.elements as usize;
    let range_word = u64::from(range.lo) | u64::from(range.hi) << 32;
    let (mut layers, mut count, mut next) = (0usize, 0u64, 0u64);
    let indices = || pool().map(|(i, _)| i as u64);
    for (i, words) in parts.iter().enumerate() {
        let part = part_of(words, per).ok_or(MergeError::Malformed(i))?;
        if part.first != next {
            return Err(MergeError::Layers(Some(i)));
        }
        if (part.range, part.scoring) != (range_word, range.scoring) {
            return Err(MergeError::Range(i));
        }
        next = part.first.saturating_add(part.len);
        // Its pool layers are those of its span.
        let span = part.first..next;
        if indices().filter(|x| span.contains(x)).count() != part.layers {
            return Err(MergeError::Inconsistent(i));
        }
        layers = layers.saturating_add(part.layers);
        count += part.count as u64;
    }
    if next != range.layers as u64 || layers != range.pool || layers != pool().count() {
        return Err(MergeError::Layers(None));
    }
    // Every record and candidate checked before the scratch is used (or
    // found too small): the same errors whatever its size.
    // Each pool layer's units and elements a unit (what a unit can lose).
    let mut units = pool().map(|(_, u)| {
        let g = u.grid();
        (u.count() as u64, (g.unit_rows * g.unit_cols) as u64)
    });
    for (i, words) in parts.iter().enumerate() {
        let part = part_of(words, per).ok_or(MergeError::Malformed(i))?;
        let slot = |c: usize| (part.candidates[c / 2] >> (32 * (c % 2))) as u32;
        let mut c = 0usize;
        for record in part.records.chunks_exact(RECORD) {
            let [below, below_elements, inside] = [record[0], record[1], record[2]];
            let (count, size) = units.next().unwrap_or((0, 0));
            let fits = below.checked_add(inside).is_some_and(|used| used <= count)
                && below_elements <= below.saturating_mul(size);
            let end = usize::try_from(inside).ok().and_then(|x| x.checked_add(c));
            let Some(end) = end.filter(|&e| fits && e <= part.count) else {
                return Err(MergeError::Inconsistent(i));
            };
            let wrong = |cand: usize| {
                !(range.lo..=range.hi).contains(&slot(cand * per))
                    || (range.elements && u64::from(slot(cand * per + 1)) > size)
            };
            if (c..end).any(wrong) {
                return Err(MergeError::Inconsistent(i));
            }
            c = end;
        }
        if c != part.count {
            return Err(MergeError::Inconsistent(i));
        }
    }
    if scratch.elements != range.elements || !scratch.fits(count, layers) {
        return Ok(None);
    }
    let (mut j, mut n, mut below_total) = (0usize, 0usize, 0u64);
    for words in parts {
        let Some(part) = part_of(words, per) else {
            continue;
        };
        let slot = |c: usize| (part.candidates[c / 2] >> (32 * (c % 2))) as u32;
        for cand in 0..part.count {
            let pruned = if range.elements {
                slot(cand * per + 1)
            } else {
                0
            };
            scratch.set_candidate(n, slot(cand * per), pruned);
            n += 1;
        }
        for record in part.records.chunks_exact(RECORD) {
            *scratch.record(j) = [record[0], record[1], record[2]];
            below_total += record[0];
            j += 1;
        }
    }
    Ok(Some(Ready::Range(Range {
        lo: range.lo,
        hi: range.hi,
        below: below_total,
        inside: n as u64,
        layers,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A range of keys and the range of scores its bounds stand for hold
    /// the same scores, at the edges too (open bounds, NaN keys, the key
    /// below `+0.0` that no score has).
    #[test]
    fn bounds_hold_the_same_scores_as_keys() {
        let xs = [
            f32::NEG_INFINITY,
            -f32::MAX,
            -1.0,
            -f32::MIN_POSITIVE / 4.0,
            -1e-45,
            -0.0,
            0.0,
            1e-45,
            1.0,
            f32::MAX,
            f32::INFINITY,
        ];
        let zero = order_key(0.0);
        let mut bounds = [
            0u32,
            u32::MAX,
            zero - 2,
            zero - 1,
            zero,
            zero + 1,
            0x7f00_0000,
            0xff80_0001,
        ]
        .to_vec();
        bounds.extend(xs.iter().map(|&x| order_key(x)));
        for &lo in &bounds {
            let reach =
                |hi: u32| lo <= order_key(f32::INFINITY) && hi >= order_key(f32::NEG_INFINITY);
            for &hi in bounds.iter().filter(|&&hi| hi >= lo && reach(hi)) {
                let (low, high) = (bound_score(lo, false), bound_score(hi, true));
                for &x in &xs {
                    let key = order_key(x);
                    assert_eq!(
                        (key < lo, lo <= key && key <= hi),
                        (x < low, low <= x && x <= high),
                        "{lo:#x}..={hi:#x} and {x}"
                    );
                }
            }
        }
    }
}
