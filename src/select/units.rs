//! The units of one layer under a pattern, streamed as order keys in pool
//! order (row-major unit index).

use super::Scoring;
use crate::arch::all::inlined;
use crate::arch::all::keys::order_key;
use crate::arch::Level;
use crate::score::{MARKS, TILE};
use crate::vocab::error::ErrorKind;
use crate::vocab::ext::{Grid, KernelSet, Tile};
use crate::vocab::scores::Layer;
use crate::vocab::shape::View;

/// Whether a run of scores holds a NaN, tested without a branch (the loop
/// vectorises).
#[inline(always)]
fn any_nan(scores: &[f32]) -> bool {
    scores.iter().fold(false, |nan, x| nan | x.is_nan())
}

/// A count kept as an `f32` whole number (below 2^23) as an integer:
/// adding 2^23 puts it in the low mantissa bits, a conversion loops
/// vectorise (`as u32` saturates, one value at a time).
#[inline(always)]
pub(crate) fn whole(count: f32) -> u32 {
    (count + 8_388_608.0).to_bits() - 0x4b00_0000
}

/// One valid layer seen as units.
#[derive(Clone, Copy)]
pub(crate) struct Units<'a> {
    tile: Tile<'a>,
    /// The unit grid of the units seen: all of the layer's unit rows, or
    /// `grid.rows` of them from `first_row` on ([`row`](Self::row)).
    grid: Grid,
    first_row: usize,
    kernels: KernelSet,
}

impl<'a> Units<'a> {
    pub(crate) fn new(layer: &Layer<'a>, view: View, grid: Grid, scoring: &Scoring) -> Self {
        let kernels = scoring.kernels;
        Units {
            tile: Tile {
                scores: layer.scores,
                view,
                unit_rows: grid.unit_rows,
                unit_cols: grid.unit_cols,
                prune_per_group: kernels.pruned_per_group(),
                reduce: scoring.reduce,
                criterion: scoring.criterion,
                input_scale: layer.input_scale,
                ties: scoring.ties,
                level: scoring.level,
                unit_row: 0,
                first_unit: 0,
            },
            grid,
            first_row: 0,
            kernels,
        }
    }

    /// Unit row `r` alone (`r` below the grid's rows): a pool of its own
    /// (row scope), its units numbered as in the whole layer.
    pub(crate) fn row(&self, r: usize) -> Self {
        let mut row = *self;
        row.first_row = self.first_row + r;
        row.grid.rows = 1;
        row
    }

    pub(crate) fn count(&self) -> usize {
        self.grid.units()
    }

    /// The instruction-set level the layer is scored at.
    pub(crate) fn level(&self) -> Level {
        self.tile.level
    }

    /// The layer's unit grid.
    pub(crate) fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The kernel set scoring the units.
    pub(crate) fn kernels(&self) -> &KernelSet {
        &self.kernels
    }

    /// The layer's view and scores, as a tile at its first unit.
    pub(crate) fn tile(&self) -> &Tile<'a> {
        &self.tile
    }

    /// Calls `f(unit, key)` for every unit in pool order. A NaN unit score
    /// stops the stream with an error: `NanScore` naming the first NaN
    /// element of the unit if it holds one, else `NanUnit`.
    pub(crate) fn for_each_key(&self, mut f: impl FnMut(usize, u32)) -> Result<(), ErrorKind> {
        let mut scores = [0.0f32; TILE];
        let mut keys = [0u32; TILE];
        self.tiles(TILE, |tile, first, n| {
            self.keys(tile, first, &mut scores[..n], &mut keys[..n])?;
            for (j, &key) in keys[..n].iter().enumerate() {
                f(first + j, key);
            }
            Ok(())
        })
    }

    /// Calls `f(first unit, scores, pruned)` for every tile of units in
    /// pool order: the scores, checked as in
    /// [`for_each_scored`](Self::for_each_scored), and the elements pruning
    /// each unit zeroes under the layer's ties, as whole `f32` numbers (see
    /// [`whole`]): for a kind that prunes part of a unit (N:M), counted by
    /// its kernel in the same pass as the scores; else the unit's size.
    pub(crate) fn for_each_scored_pruned(
        &self,
        mut f: impl FnMut(usize, &[f32], &[f32]),
    ) -> Result<(), ErrorKind> {
        let (set, grid) = (&self.kernels, &self.grid);
        let size = (grid.unit_rows * grid.unit_cols) as f32;
        let mut scores = [0.0f32; TILE];
        let mut pruned = [0.0f32; TILE];
        self.tiles(TILE, |tile, first, n| {
            if !set
                .kind
                .pruned_scores(set, tile, &mut scores[..n], &mut pruned[..n])
            {
                pruned[..n].fill(size);
            }
            self.check_scores(&scores[..n], first)?;
            f(first, &scores[..n], &pruned[..n]);
            Ok(())
        })
    }

    /// Calls `f(tile, first unit, scores, keep marks)` for every tile of
    /// units in pool order, tiles of the kind's mask size: the scores
    /// checked as in [`for_each_scored`](Self::for_each_scored), and, for
    /// a kind that prunes part of a unit (N:M), each element's keep mark
    /// (1 = kept even when its unit is pruned; none for blocks), from the
    /// same pass.
    pub(crate) fn for_each_masked(
        &self,
        mut f: impl FnMut(&Tile<'a>, usize, &[f32], &[u8]) -> Result<(), ErrorKind>,
    ) -> Result<(), ErrorKind> {
        let (set, grid) = (&self.kernels, &self.grid);
        let mut scores = [0.0f32; TILE];
        let mut marks = [0u8; MARKS];
        self.tiles(set.kind.mask_tile(grid), |tile, first, n| {
            let written = set
                .kind
                .mask_scores(set, tile, &mut scores[..n], &mut marks);
            self.check_scores(&scores[..n], first)?;
            f(tile, first, &scores[..n], &marks[..written])
        })
    }

    /// Calls `f(first unit, scores)` for every tile of units in pool order,
    /// the scores checked (no NaN) but not turned into keys, with the
    /// errors of [`for_each_key`](Self::for_each_key).
    pub(crate) fn for_each_scored(
        &self,
        mut f: impl FnMut(usize, &[f32]),
    ) -> Result<(), ErrorKind> {
        let mut scores = [0.0f32; TILE];
        self.tiles(TILE, |tile, first, n| {
            self.scored(tile, first, &mut scores[..n])?;
            f(first, &scores[..n]);
            Ok(())
        })
    }

    /// Calls `f(keys)` for every `stride`-th run of at most `size` units
    /// along the unit rows, `phase` runs on from the start (and leaves
    /// `phase` where the next layer goes on): a sample spread over the
    /// layer, found without visiting the runs it skips.
    pub(crate) fn sample(
        &self,
        size: usize,
        stride: usize,
        phase: &mut usize,
        mut f: impl FnMut(&[u32]),
    ) -> Result<(), ErrorKind> {
        let (size, stride) = (size.clamp(1, TILE), stride.max(1));
        let runs = self.grid.cols.div_ceil(size);
        let mut scores = [0.0f32; TILE];
        let mut keys = [0u32; TILE];
        let mut tile = self.tile;
        for ur in self.first_row..self.first_row + self.grid.rows {
            let mut run = *phase;
            while run < runs {
                let uc = run * size;
                let n = size.min(self.grid.cols - uc);
                (tile.unit_row, tile.first_unit) = (ur, uc);
                let first = ur * self.grid.cols + uc;
                self.keys(&tile, first, &mut scores[..n], &mut keys[..n])?;
                f(&keys[..n]);
                run += stride;
            }
            *phase = run - runs;
        }
        Ok(())
    }

    /// Scores a tile (its first unit is `first`), checks the scores and
    /// turns them into keys.
    fn keys(
        &self,
        tile: &Tile<'a>,
        first: usize,
        scores: &mut [f32],
        keys: &mut [u32],
    ) -> Result<(), ErrorKind> {
        self.scored(tile, first, scores)?;
        crate::arch::vectorized(
            self.tile.level,
            inlined(
                #[inline(always)]
                || {
                    for (k, &x) in keys.iter_mut().zip(scores.iter()) {
                        *k = order_key(x);
                    }
                },
            ),
        );
        Ok(())
    }

    /// Scores a tile (its first unit is `first`) and checks the scores.
    fn scored(&self, tile: &Tile<'a>, first: usize, scores: &mut [f32]) -> Result<(), ErrorKind> {
        self.kernels.score(tile, scores);
        self.check_scores(scores, first)
    }

    /// Runs `f(tile, first unit index, units)` on the layer's tiles of at
    /// most `size` units, in pool order.
    pub(crate) fn tiles(
        &self,
        size: usize,
        mut f: impl FnMut(&Tile<'a>, usize, usize) -> Result<(), ErrorKind>,
    ) -> Result<(), ErrorKind> {
        let mut tile = self.tile;
        for ur in self.first_row..self.first_row + self.grid.rows {
            let mut uc = 0;
            while uc < self.grid.cols {
                let n = size.min(self.grid.cols - uc);
                tile.unit_row = ur;
                tile.first_unit = uc;
                f(&tile, ur * self.grid.cols + uc, n)?;
                uc += n;
            }
        }
        Ok(())
    }

    /// Rejects a tile holding a NaN unit score; `first` is its first unit.
    pub(crate) fn check_scores(&self, scores: &[f32], first: usize) -> Result<(), ErrorKind> {
        // Test the whole tile without branching, in the level's vectors,
        // then find the unit in the rare tile that has one.
        let mut nan = false;
        crate::arch::vectorized(
            self.tile.level,
            inlined(
                #[inline(always)]
                || nan = any_nan(scores),
            ),
        );
        if !nan {
            return Ok(());
        }
        match scores.iter().position(|x| x.is_nan()) {
            Some(j) => Err(self.nan_cause(first + j)),
            None => Ok(()),
        }
    }

    /// The view position of a unit's top-left element.
    fn origin(&self, unit: usize) -> (usize, usize) {
        let (ur, uc) = (unit / self.grid.cols, unit % self.grid.cols);
        (ur * self.grid.unit_rows, uc * self.grid.unit_cols)
    }

    /// Why a unit scored NaN: its first NaN element, or the reduction.
    fn nan_cause(&self, unit: usize) -> ErrorKind {
        let (r0, c0) = self.origin(unit);
        for r in r0..r0 + self.grid.unit_rows {
            let run = self.tile.view.run(r, c0).take(self.grid.unit_cols);
            for (c, index) in (c0..).zip(run) {
                if self.tile.value_at(index, c).is_nan() {
                    return ErrorKind::NanScore { index };
                }
            }
        }
        ErrorKind::NanUnit { unit }
    }

    /// Whether the kernel itself reports NaN elements (as a NaN unit score).
    pub(crate) fn checks_nan(&self) -> bool {
        self.kernels.builtin
    }
}
