//! The kernels, laid out like memchr's `arch/`:
//!
//! - `all/`: the reference, plain scalar code that never dispatches;
//! - `generic/`: each SIMD algorithm written once over the
//!   [`Lanes`](generic::Lanes) trait (a vector of `f32` lanes, grouped by
//!   four), compiled on every target;
//! - `x86_64/avx2.rs`, `x86_64/avx512.rs`, `aarch64/neon.rs`: `Lanes` for
//!   one instruction set, over pulp's safe intrinsic wrappers, and the entry
//!   points that run the generic code with that set's features enabled;
//! - here: the dispatch, and one entry point per kernel family.
//!
//! Every level must give the reference's unit scores bit for bit (zero
//! scores are compared as `+0.0`, which is all a key sees). An entry point
//! answers `false` when it has no path for its input (another element type,
//! a strided conv view, the scalar level, a level this CPU lacks); the
//! caller then runs the reference.

// Targets without a SIMD level (thumbv7em...) compile the generic kernels
// too, so they stay checked, but no dispatch arm ever runs them.
#![cfg_attr(
    not(any(target_arch = "x86_64", target_arch = "aarch64")),
    allow(dead_code)
)]

pub(crate) mod all;
mod generic;
#[cfg(all(test, feature = "std"))]
mod tests;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "x86_64")]
mod x86_64;

pub(crate) use crate::vocab::scores::Read;
pub(crate) use crate::vocab::terms::Level;
use crate::vocab::terms::{Reduce, Ties};

/// Runs a job at a level; false for the scalar level, one this CPU lacks,
/// or one this target has no instructions for.
fn dispatch(level: Level, job: impl generic::Job) -> bool {
    match level {
        #[cfg(target_arch = "x86_64")]
        Level::V3 => x86_64::avx2::run(job),
        #[cfg(target_arch = "x86_64")]
        Level::V4 => x86_64::avx512::run(job),
        #[cfg(target_arch = "aarch64")]
        Level::Neon => aarch64::neon::run(job),
        _ => {
            let _ = job;
            false
        }
    }
}

/// Longest N:M group the SIMD kernels take.
pub(crate) const MAX_SIMD_GROUP: usize = 32;

/// N:M group scores (`2 <= m <= MAX_SIMD_GROUP`, `n < m`) over contiguous
/// `f32`: `xs` holds `m * out.len()` scores, group `g` at `xs[mg..mg + m]`;
/// `marks` gets what it asks for beside the scores (see [`Marks`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn nm_scores(
    level: Level,
    xs: &[f32],
    m: usize,
    n: usize,
    ties: Ties,
    read: Read<'_>,
    out: &mut [f32],
    marks: Marks<'_>,
) -> bool {
    let exact = ties == Ties::Exact;
    if m == 4 {
        let quad = Quad::Group { n: n as f32, exact };
        return quads(level, xs, quad, read, out, marks);
    }
    let job = generic::Groups {
        xs,
        m,
        n: n as f32,
        exact,
        read,
        out,
        marks,
    };
    m <= MAX_SIMD_GROUP && dispatch(level, job)
}

/// `1x4` block scores over contiguous `f32`: `xs` holds `4 * out.len()`
/// scores, block `u` at `xs[4u..4u + 4]`.
pub(crate) fn quad_block_scores(
    level: Level,
    xs: &[f32],
    reduce: Reduce,
    read: Read<'_>,
    out: &mut [f32],
) -> bool {
    quads(level, xs, Quad::Block(reduce), read, out, Marks::None)
}

/// What an N:M kernel writes beside its group scores: the least-N marks
/// of each group, as mask bytes or as their count.
pub(crate) enum Marks<'a> {
    /// Nothing.
    None,
    /// One byte per element (`m` a group): 1 outside its group's least N
    /// (kept when the group is pruned), 0 inside.
    Keep(&'a mut [u8]),
    /// One count per group: the elements its least N marks, which pruning
    /// the group zeroes (more than N only where inclusive ties meet at the
    /// N-th smallest).
    Count(&'a mut [f32]),
}

impl Marks<'_> {
    /// The marks of groups `from..from + len`, groups `m` long (nothing
    /// where the buffer is too short).
    pub(crate) fn part(&mut self, from: usize, len: usize, m: usize) -> Marks<'_> {
        match self {
            Marks::None => Marks::None,
            Marks::Keep(k) => k
                .get_mut(from * m..(from + len) * m)
                .map_or(Marks::None, Marks::Keep),
            Marks::Count(c) => c
                .get_mut(from..from + len)
                .map_or(Marks::None, Marks::Count),
        }
    }

    /// Writes the marks of one group (bit `j` of `marks`: element `j` in
    /// the least N) into the first group of the buffer.
    pub(crate) fn write_group(&mut self, marks: u128, m: usize) {
        match self {
            Marks::None => {}
            Marks::Keep(k) => {
                for (j, k) in k.iter_mut().take(m).enumerate() {
                    *k = (marks >> j & 1 == 0) as u8;
                }
            }
            Marks::Count(c) => {
                if let Some(c) = c.first_mut() {
                    *c = marks.count_ones() as f32;
                }
            }
        }
    }
}

/// What a run of four contiguous scores gives.
#[derive(Clone, Copy)]
pub(crate) enum Quad {
    /// An N:M group of four: its least-`n` marks and their mean ([`nm_scores`]).
    Group { n: f32, exact: bool },
    /// A `1x4` block: its reduction ([`quad_block_scores`]).
    Block(Reduce),
}

fn quads(
    level: Level,
    xs: &[f32],
    quad: Quad,
    read: Read<'_>,
    out: &mut [f32],
    marks: Marks<'_>,
) -> bool {
    let job = generic::Quads {
        xs,
        quad,
        read,
        out,
        marks,
    };
    dispatch(level, job)
}

/// The selection's range pass over checked (non-NaN) scores: adds to
/// `below` the scores below `low`, and calls `inside(index, x)` with those
/// in `low..=high`, in order; with `places` as long as `scores`, writes
/// where each lies (`all::range::place`). False for the scalar level or
/// one this CPU lacks (the caller runs the same loop as plain code).
pub(crate) fn range_scan(
    level: Level,
    scores: &[f32],
    (low, high): (f32, f32),
    below: &mut u64,
    inside: impl FnMut(usize, f32),
    places: &mut [u8],
) -> bool {
    let job = generic::RangeScan {
        scores,
        low,
        high,
        below,
        inside,
        places,
    };
    dispatch(level, job)
}

/// Runs `f` compiled for the level's instruction set, or as is at the
/// scalar level (or one this CPU lacks). For plain loops (keys, counts,
/// compares) that LLVM vectorises: the same code at every level, so the
/// same results. Pass the closure through `all::inlined` with
/// `#[inline(always)]`, or it may stay outside the SIMD function.
#[inline(always)]
pub(crate) fn vectorized(level: Level, mut f: impl FnMut()) {
    // `Plain` borrows `f` itself: through `at_simd_level(level, &mut f)`
    // it would hold a `&mut &mut F`, whose `call_mut` LLVM may leave out
    // of line, compiled for the baseline instead of the level.
    if !dispatch(level, generic::Plain(&mut f)) {
        f()
    }
}

/// Asks for the cache lines of `bytes` to be written next (a hint: no
/// result changes; nothing at the scalar level). Masks are written a tile
/// at a time into memory the cache has not seen: without it the stores
/// wait for each line's read for ownership.
#[inline(always)]
pub(crate) fn prefetch_write(level: Level, bytes: &[u8]) {
    struct Lines<'b>(&'b [u8]);
    impl generic::Job for Lines<'_> {
        #[inline(always)]
        fn run<L: generic::Lanes>(self, l: L) {
            for line in self.0.chunks(64) {
                l.prefetch_write(line.as_ptr());
            }
        }
    }
    dispatch(level, Lines(bytes));
}

/// The rows of a tile of blocks: row `r` starts at `xs[r * stride]`.
#[derive(Clone, Copy)]
pub(crate) struct Rows<'a> {
    pub xs: &'a [f32],
    pub stride: usize,
    pub rows: usize,
}

impl Rows<'_> {
    /// Whether the rows (at least one) hold `blocks` blocks `width` wide.
    fn hold(&self, width: usize, blocks: usize) -> bool {
        let needed = self.rows.checked_sub(1).and_then(|r| {
            let last = blocks.checked_mul(width)?;
            r.checked_mul(self.stride)?.checked_add(last)
        });
        needed.is_some_and(|n| n <= self.xs.len())
    }
}

/// Block scores of `rows x 1` blocks (any height): element `u` of row `r`
/// is the score of row `r` in block column `first + u` of a layer with
/// `cols` block columns; the block's score goes to `out[u]`.
pub(crate) fn column_scores(
    level: Level,
    rows: Rows<'_>,
    first: usize,
    cols: usize,
    reduce: Reduce,
    read: Read<'_>,
    out: &mut [f32],
) -> bool {
    let run = BlockRows {
        rows,
        width: 1,
        first,
        cols,
        reduce,
        read,
        out,
    };
    cols >= 2 && block_rows(level, BlockKernel::Columns, run)
}

/// Widest block [`wide_block_scores`] takes: `B` vectors per block row
/// stay in registers.
pub(crate) const MAX_WIDE: usize = 16;

/// A tile of `rows x width` blocks side by side: elements `width * u ..`
/// of row `r` (at `rows.xs[r * rows.stride]`) are row `r` of the block in
/// block column `first + u` of a layer with `cols` block columns; its
/// score goes to `out[u]`.
pub(crate) struct BlockRows<'a> {
    pub rows: Rows<'a>,
    pub width: usize,
    pub first: usize,
    pub cols: usize,
    pub reduce: Reduce,
    pub read: Read<'a>,
    pub out: &'a mut [f32],
}

/// The SIMD kernels for a tile of blocks.
#[derive(Clone, Copy)]
enum BlockKernel {
    /// One lane per block column (`width` 1).
    Columns,
    /// One lane per block, rows deinterleaved (`width` a power of two).
    Wide,
    /// One block at a time (any width).
    Long,
}

/// Runs a block kernel on a tile whose rows hold its blocks; false when
/// they do not, or for a level without SIMD.
fn block_rows(level: Level, kernel: BlockKernel, run: BlockRows<'_>) -> bool {
    if run.width == 0 || !run.rows.hold(run.width, run.out.len()) {
        return false;
    }
    match kernel {
        BlockKernel::Columns => dispatch(level, generic::Columns(run)),
        BlockKernel::Wide => dispatch(level, generic::Wide(run)),
        BlockKernel::Long => dispatch(level, generic::Long(run)),
    }
}

/// Block scores of `rows x width` blocks laid out as in [`BlockRows`],
/// `width` a power of two from 2 to [`MAX_WIDE`].
#[allow(clippy::too_many_arguments)]
pub(crate) fn wide_block_scores(
    level: Level,
    rows: Rows<'_>,
    width: usize,
    first: usize,
    cols: usize,
    reduce: Reduce,
    read: Read<'_>,
    out: &mut [f32],
) -> bool {
    let run = BlockRows {
        rows,
        width,
        first,
        cols,
        reduce,
        read,
        out,
    };
    width.is_power_of_two()
        && (2..=MAX_WIDE).contains(&width)
        && block_rows(level, BlockKernel::Wide, run)
}

/// Block scores of `rows x width` blocks of any width, laid out as in
/// [`BlockRows`]: long rows in eight lanes, the rest by the scalar kernel
/// compiled for the level.
#[allow(clippy::too_many_arguments)]
pub(crate) fn long_block_scores(
    level: Level,
    rows: Rows<'_>,
    width: usize,
    first: usize,
    cols: usize,
    reduce: Reduce,
    read: Read<'_>,
    out: &mut [f32],
) -> bool {
    let run = BlockRows {
        rows,
        width,
        first,
        cols,
        reduce,
        read,
        out,
    };
    block_rows(level, BlockKernel::Long, run)
}

/// Runs `f` compiled for a SIMD level, as [`vectorized`] does, but only
/// there: false (and `f` not run) for the scalar level or one this CPU
/// lacks, where the caller runs the reference instead.
#[inline(always)]
pub(crate) fn at_simd_level(level: Level, mut f: impl FnMut()) -> bool {
    dispatch(level, generic::Plain(&mut f))
}
