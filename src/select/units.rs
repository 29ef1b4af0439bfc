//! The units of one layer under a pattern, streamed as order keys in pool
//! order (row-major unit index).

use crate::error::ErrorKind;
use crate::kernels::groups::{least_n, MAX_GROUP};
use crate::kernels::keys::order_key;
use crate::kernels::{groups, inlined, read_at};
use crate::layer::Layer;
use crate::pattern::{Grid, KernelSet, Tile};
use crate::plan::Options;

use crate::kernels::TILE;

/// Bytes of N:M keep marks per tile (`TILE` groups of four; fewer, longer
/// groups per tile for larger `M`).
const KEEP: usize = 4 * TILE;

/// Whether a run of scores holds a NaN, tested without a branch (the loop
/// vectorises).
#[inline(always)]
fn any_nan(scores: &[f32]) -> bool {
    scores.iter().fold(false, |nan, x| nan | x.is_nan())
}

/// One valid layer seen as units.
#[derive(Clone, Copy)]
pub(crate) struct Units<'a> {
    tile: Tile<'a>,
    grid: Grid,
    kernels: KernelSet,
}

impl<'a> Units<'a> {
    pub(crate) fn new(
        layer: &Layer<'a>,
        view: crate::shape::View,
        grid: Grid,
        opts: &Options,
    ) -> Self {
        let kernels = *opts.pattern.kernels();
        Units {
            tile: Tile {
                scores: layer.scores,
                view,
                unit_rows: grid.unit_rows,
                unit_cols: grid.unit_cols,
                prune_per_group: kernels.geometry().prune_per_group(),
                reduce: opts.reduce,
                criterion: opts.criterion,
                ties: opts.ties,
                level: opts.level,
                unit_row: 0,
                first_unit: 0,
            },
            grid,
            kernels,
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.grid.units()
    }

    /// Elements per unit.
    pub(crate) fn unit_elements(&self) -> usize {
        self.grid.unit_rows * self.grid.unit_cols
    }

    /// The instruction-set level the layer is scored at.
    pub(crate) fn level(&self) -> crate::Level {
        self.tile.level
    }

    /// `N` of an N:M pattern, 0 for blocks.
    pub(crate) fn prune_per_group(&self) -> usize {
        self.tile.prune_per_group
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
        for ur in 0..self.grid.rows {
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
    fn tiles(
        &self,
        size: usize,
        mut f: impl FnMut(&Tile<'a>, usize, usize) -> Result<(), ErrorKind>,
    ) -> Result<(), ErrorKind> {
        let mut tile = self.tile;
        for ur in 0..self.grid.rows {
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
    fn check_scores(&self, scores: &[f32], first: usize) -> Result<(), ErrorKind> {
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
            for index in self.tile.view.run(r, c0).take(self.grid.unit_cols) {
                if read_at(self.tile.scores, self.tile.criterion, index).is_nan() {
                    return ErrorKind::NanScore { index };
                }
            }
        }
        ErrorKind::NanUnit { unit }
    }

    /// Whether the kernel itself reports NaN elements (as a NaN unit score).
    pub(crate) fn checks_nan(&self) -> bool {
        self.kernels.is_builtin()
    }

    /// Least-N marks of N:M group `unit` (scores already validated).
    pub(crate) fn marks(&self, unit: usize) -> u128 {
        let (r, c0) = self.origin(unit);
        let m = self.grid.unit_cols;
        let mut buf = [0.0f32; MAX_GROUP];
        for (v, index) in buf[..m].iter_mut().zip(self.tile.view.run(r, c0)) {
            *v = read_at(self.tile.scores, self.tile.criterion, index);
        }
        least_n(&buf[..m], self.tile.prune_per_group, self.tile.ties)
    }

    /// Elements that pruning `unit` zeroes.
    pub(crate) fn pruned_elements(&self, unit: usize) -> usize {
        match self.tile.prune_per_group {
            0 => self.unit_elements(),
            _ => self.marks(unit).count_ones() as usize,
        }
    }

    /// Writes the layer's whole mask, tile by tile in pool order: the units
    /// with keys below `key` are pruned, and the first `quota` (in pool
    /// order) equal to it. Every element is written once (1 = keep,
    /// 0 = prune).
    pub(crate) fn write(&self, mask: &mut [u8], key: u32, quota: u64) -> Result<(), ErrorKind> {
        let mut equal_left = quota;
        let mut scores = [0.0f32; TILE];
        let mut keep = [0u8; KEEP];
        let groups = self.tile.prune_per_group > 0;
        // N:M tiles hold at most KEEP marks.
        let tile_units = if groups {
            TILE.min(KEEP / self.grid.unit_cols)
        } else {
            TILE
        };
        let (bn, bm) = (self.grid.unit_rows, self.grid.unit_cols);
        let view = self.tile.view;
        self.tiles(tile_units, |tile, first, n| {
            let (ur, uc) = (tile.unit_row, tile.first_unit);
            // Keep marks exist for N:M tiles only (n * m <= KEEP there).
            let marks = if groups { n * bm } else { 0 };
            let keep = keep.get_mut(..marks).unwrap_or(&mut []);
            if groups {
                // N:M kernel sets are all built in (no custom N:M
                // constructor): scores and marks in one pass.
                groups::group_scores_and_keep(tile, &mut scores[..n], keep);
            } else {
                self.kernels.score(tile, &mut scores[..n]);
            }
            self.check_scores(&scores[..n], first)?;
            let scores = &scores[..n];
            let keep = &*keep;
            // Per unit: 1 = kept, 0 = pruned. Above the key is kept, without
            // a branch; ties, if any, are settled after, in pool order.
            let mut kept = [1u8; TILE];
            let mut ties = 0;
            crate::arch::vectorized(
                self.tile.level,
                inlined(
                    #[inline(always)]
                    || {
                        // Locals, not the captured references: LLVM would
                        // reload and store them every unit.
                        let (key, mut equal) = (key, 0);
                        for (&x, k) in scores.iter().zip(kept.iter_mut()) {
                            let unit = order_key(x);
                            *k = (unit > key) as u8;
                            equal += (unit == key) as usize;
                        }
                        ties = equal;
                    },
                ),
            );
            if ties > 0 {
                for (&x, k) in scores.iter().zip(kept.iter_mut()) {
                    if order_key(x) == key {
                        *k = (equal_left == 0) as u8;
                        equal_left = equal_left.saturating_sub(1);
                    }
                }
            }
            let kept = &kept[..n];
            for r in ur * bn..(ur + 1) * bn {
                let start = r * view.cols() + uc * bm;
                match mask.get_mut(start..start + n * bm) {
                    // A matrix row: the tile's units side by side, written
                    // in the level's vectors without a branch per unit.
                    Some(row) if view.is_contiguous() => crate::arch::vectorized(
                        self.tile.level,
                        inlined(
                            #[inline(always)]
                            || write_row(row, kept, keep, groups, bm),
                        ),
                    ),
                    // A conv view: follow the index mapping. Element `j`
                    // of unit `u`: kept units keep all, pruned blocks none,
                    // pruned N:M groups their keep marks.
                    _ => {
                        for (u, &k) in kept.iter().enumerate() {
                            for (j, i) in view.run(r, (uc + u) * bm).take(bm).enumerate() {
                                if let Some(d) = mask.get_mut(i) {
                                    *d = k | keep.get(u * bm + j).copied().unwrap_or(0);
                                }
                            }
                        }
                    }
                }
            }
            Ok(())
        })
    }
}

/// One block row of a tile's mask, `bm` elements a unit: kept units keep
/// all, pruned blocks none, pruned N:M groups (`groups`) their keep marks.
#[inline(always)]
fn write_row(row: &mut [u8], kept: &[u8], keep: &[u8], groups: bool, bm: usize) {
    if groups && bm == 4 {
        // Groups of four a word at a time: the loop vectorises.
        let (words, _) = row.as_chunks_mut::<4>();
        let (marks, _) = keep.as_chunks::<4>();
        for ((w, &k), m) in words.iter_mut().zip(kept).zip(marks) {
            *w = (u32::from_le_bytes(*m) | (k as u32 * 0x0101_0101)).to_le_bytes();
        }
    } else if groups {
        let units = row
            .chunks_exact_mut(bm)
            .zip(kept)
            .zip(keep.chunks_exact(bm));
        for ((chunk, &k), marks) in units {
            for (d, &m) in chunk.iter_mut().zip(marks) {
                *d = k | m;
            }
        }
    } else if bm == 1 {
        row.copy_from_slice(kept);
    } else {
        for (chunk, &k) in row.chunks_exact_mut(bm).zip(kept) {
            chunk.fill(k);
        }
    }
}
