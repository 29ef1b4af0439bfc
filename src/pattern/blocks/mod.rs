//! NxM blocks (`4x1`, `1x4`, `2x2`, `channelx1`, `1xchannel`, `1x1`...):
//! a unit is `unit_rows x unit_cols` view elements, pruned whole (INC
//! `PatternNxM`). Scores: `score::block_scores`. Lock: a block is 0 when
//! every weight in it is zero. Zeros: all-zero blocks over the blocks of
//! the layers the pattern fits.

mod lock;

use super::zeros::{lock_with, zero_bytes, zeros_with};
use crate::arch::all::inlined;
use crate::arch::{vectorized, Level};
use crate::score::{block_scores, block_scores_for, TILE};
use crate::vocab::error::ErrorKind;
use crate::vocab::ext::{Extent, Geometry, Grid, KernelSet, Kind, SkipReason, Tile, UnitScoresFn};
use crate::vocab::scores::typed;
use crate::vocab::scores::Scores;
use crate::vocab::shape::View;

/// The block kind.
pub(crate) struct Blocks;

impl Kind for Blocks {
    fn validate(&self, geometry: &Geometry) -> Result<(), &'static str> {
        let Geometry::Block { n, m } = *geometry else {
            return Err("not a block geometry");
        };
        if n == Extent::Fixed(0) || m == Extent::Fixed(0) {
            return Err("block sizes must be at least 1");
        }
        if n == Extent::Channel && m == Extent::Channel {
            return Err("a block cannot span both channels");
        }
        Ok(())
    }

    fn unit(
        &self,
        geometry: &Geometry,
        view: &View,
        channel_cols: usize,
    ) -> Result<(usize, usize), SkipReason> {
        match *geometry {
            Geometry::Block { n, m } => Ok((n.resolve(view.rows()), m.resolve(channel_cols))),
            // Not reached: block kernel sets carry block geometries.
            _ => Err(SkipReason::Cols {
                cols: view.cols(),
                block: 0,
            }),
        }
    }

    fn pruned_per_group(&self, _: &Geometry) -> usize {
        0
    }

    fn pruned_share(&self, _: &Geometry) -> (usize, usize) {
        (1, 1)
    }

    fn mask_tile(&self, _: &Grid) -> usize {
        TILE
    }

    fn mask_scores(
        &self,
        set: &KernelSet,
        tile: &Tile<'_>,
        scores: &mut [f32],
        _: &mut [u8],
    ) -> usize {
        set.score(tile, scores);
        0
    }

    fn pruned_scores(
        &self,
        set: &KernelSet,
        tile: &Tile<'_>,
        scores: &mut [f32],
        _: &mut [f32],
    ) -> bool {
        set.score(tile, scores);
        false
    }

    fn write_row(&self, level: Level, row: &mut [u8], kept: &[u8], _: &[u8], width: usize) {
        vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    if width == 1 {
                        row.copy_from_slice(kept);
                    } else {
                        for (chunk, &k) in row.chunks_exact_mut(width).zip(kept) {
                            chunk.fill(k);
                        }
                    }
                },
            ),
        );
    }

    fn lock(
        &self,
        level: Level,
        scores: Scores<'_>,
        view: &View,
        grid: &Grid,
        _: usize,
        out: &mut [u8],
    ) -> (u64, u64) {
        let (unit, cols) = ((grid.unit_rows, grid.unit_cols), view.cols());
        lock_with(
            level,
            view,
            out,
            inlined(
                #[inline(always)]
                |out: &mut [u8]| typed!(scores, s => lock::rows(s, cols, unit, out)),
            ),
            |out| lock::reference(scores, view, grid, out),
        )
    }

    fn zeros(
        &self,
        level: Level,
        view: &View,
        grid: Option<Grid>,
        mask: &[u8],
    ) -> Result<(u64, u64), ErrorKind> {
        // The level counts the zero blocks of a matrix, or (a conv) checks
        // the bytes while counting elements; the reference does the rest.
        let blocks = grid
            .filter(|_| view.is_contiguous())
            .map(|g| (g.unit_rows, g.unit_cols));
        let counted = zeros_with(
            level,
            mask,
            inlined(
                #[inline(always)]
                || match blocks {
                    // `1x1` blocks are elements.
                    None | Some((1, 1)) => zero_bytes(mask),
                    Some(unit) => lock::zero_blocks(mask, view.cols(), unit),
                },
            ),
        )?;
        let Some(grid) = grid else {
            return Ok((0, 0));
        };
        let zero = match (counted, blocks) {
            (Some(zero), Some(_)) => zero,
            _ => lock::zero_blocks_reference(view, &grid, mask),
        };
        Ok((zero, grid.units() as u64))
    }
}

impl KernelSet {
    /// The built-in `NxM` block kernels, specialised for constant sizes
    /// (with the default feature `specialized`; without it, the runtime-sized
    /// kernels, for smaller code).
    ///
    /// ```
    /// const SET: prunemask::ext::KernelSet = prunemask::ext::KernelSet::block::<1, 4>();
    /// ```
    pub const fn block<const N: usize, const M: usize>() -> Self {
        KernelSet {
            geometry: Geometry::Block {
                n: Extent::Fixed(N),
                m: Extent::Fixed(M),
            },
            unit_scores: block_scores_for::<N, M>(),
            kind: &Blocks,
            builtin: true,
        }
    }

    /// The built-in block kernels for sizes known only at run time
    /// (including `channel` sides).
    ///
    /// ```
    /// use prunemask::ext::{Extent, KernelSet};
    /// let set = KernelSet::block_dyn(Extent::Fixed(3), Extent::Channel);
    /// ```
    pub const fn block_dyn(n: Extent, m: Extent) -> Self {
        KernelSet {
            geometry: Geometry::Block { n, m },
            unit_scores: block_scores::<0, 0>,
            kind: &Blocks,
            builtin: true,
        }
    }

    /// A user kernel set: fixed-size blocks scored by your own function.
    ///
    /// ```
    /// use prunemask::ext::{KernelSet, Tile};
    /// fn by_first(t: &Tile<'_>, out: &mut [f32]) {
    ///     for (u, o) in out.iter_mut().enumerate() {
    ///         *o = t.value(t.unit_row * t.unit_rows, (t.first_unit + u) * t.unit_cols);
    ///     }
    /// }
    /// let set = KernelSet::custom_block(2, 2, by_first);
    /// ```
    pub const fn custom_block(n: usize, m: usize, unit_scores: UnitScoresFn) -> Self {
        KernelSet {
            geometry: Geometry::Block {
                n: Extent::Fixed(n),
                m: Extent::Fixed(m),
            },
            unit_scores,
            kind: &Blocks,
            builtin: false,
        }
    }
}
