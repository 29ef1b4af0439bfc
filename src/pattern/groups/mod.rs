//! N:M groups (`2:4`, `1:4`, `4:8`...): a unit is `M` consecutive view
//! columns of a row, of which the least `N` are pruned when the group is
//! (INC `PatternNInM`). Scores: `score::group_scores`, with each element's
//! keep mark for masks. Lock (INC 2.0): an element is 0 when it is zero and
//! its group has at least `N` zeros. Zeros: element-wise.

mod lock;

use super::zeros::{lock_with, zero_bytes, zeros_with};
use crate::arch::all::inlined;
use crate::arch::Marks;
use crate::arch::{vectorized, Level};
use crate::score::{group_scores, group_scores_for, group_scores_marked, MARKS, TILE};
use crate::vocab::error::ErrorKind;
use crate::vocab::ext::{Geometry, Grid, KernelSet, Kind, SkipReason, Tile, MAX_GROUP};
use crate::vocab::scores::typed;
use crate::vocab::scores::Scores;
use crate::vocab::shape::View;

/// The N:M kind.
pub(crate) struct Groups;

impl Kind for Groups {
    fn validate(&self, geometry: &Geometry) -> Result<(), &'static str> {
        let Geometry::NInM { n, m } = *geometry else {
            return Err("not an N:M geometry");
        };
        if n == 0 || m == 0 {
            return Err("N and M must be at least 1");
        }
        if n >= m {
            return Err("N:M needs N < M (N is the number pruned)");
        }
        if m > MAX_GROUP {
            return Err("N:M supports M up to 128");
        }
        Ok(())
    }

    fn unit(
        &self,
        geometry: &Geometry,
        view: &View,
        _: usize,
    ) -> Result<(usize, usize), SkipReason> {
        let m = match *geometry {
            Geometry::NInM { m, .. } => m,
            // Not reached: N:M kernel sets carry N:M geometries.
            _ => 0,
        };
        // Groups run along input channels at one kernel position (INC 2.0
        // tests `I % M`).
        if m == 0 || !view.inner().is_multiple_of(m) {
            return Err(SkipReason::Cols {
                cols: view.inner(),
                block: m,
            });
        }
        Ok((1, m))
    }

    fn pruned_per_group(&self, geometry: &Geometry) -> usize {
        match *geometry {
            Geometry::NInM { n, .. } => n,
            _ => 0,
        }
    }

    fn pruned_share(&self, geometry: &Geometry) -> (usize, usize) {
        match *geometry {
            Geometry::NInM { n, m } => (n, m),
            _ => (1, 1),
        }
    }

    fn mask_tile(&self, grid: &Grid) -> usize {
        // Fewer, longer groups per tile for larger `M`.
        TILE.min(MARKS / grid.unit_cols.max(1))
    }

    fn mask_scores(
        &self,
        _: &KernelSet,
        tile: &Tile<'_>,
        scores: &mut [f32],
        keep: &mut [u8],
    ) -> usize {
        // N:M kernel sets are all built in (there is no custom N:M
        // constructor): scores and marks in one pass.
        let marks = scores.len() * tile.unit_cols;
        match keep.get_mut(..marks) {
            Some(keep) => {
                group_scores_marked(tile, scores, Marks::Keep(keep));
                marks
            }
            None => 0,
        }
    }

    fn pruned_scores(
        &self,
        _: &KernelSet,
        tile: &Tile<'_>,
        scores: &mut [f32],
        pruned: &mut [f32],
    ) -> bool {
        // The buffers are one per unit; a short one would leave counts
        // out, so the scores are written either way and only whole counts
        // are reported.
        let whole = pruned.len() >= scores.len();
        let marks = match pruned.get_mut(..scores.len()) {
            Some(pruned) => Marks::Count(pruned),
            None => Marks::None,
        };
        group_scores_marked(tile, scores, marks);
        whole
    }

    fn write_row(&self, level: Level, row: &mut [u8], kept: &[u8], keep: &[u8], width: usize) {
        vectorized(
            level,
            inlined(
                #[inline(always)]
                || {
                    if width == 4 {
                        // Groups of four a word at a time: the loop vectorises.
                        let (words, _) = row.as_chunks_mut::<4>();
                        let (marks, _) = keep.as_chunks::<4>();
                        for ((w, &k), m) in words.iter_mut().zip(kept).zip(marks) {
                            *w = (u32::from_le_bytes(*m) | (k as u32 * 0x0101_0101)).to_le_bytes();
                        }
                    } else {
                        let units = row
                            .chunks_exact_mut(width)
                            .zip(kept)
                            .zip(keep.chunks_exact(width));
                        for ((chunk, &k), marks) in units {
                            for (d, &m) in chunk.iter_mut().zip(marks) {
                                *d = k | m;
                            }
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
        n: usize,
        out: &mut [u8],
    ) -> (u64, u64) {
        let (m, cols) = (grid.unit_cols, view.cols());
        lock_with(
            level,
            view,
            out,
            inlined(
                #[inline(always)]
                |out: &mut [u8]| typed!(scores, s => lock::rows(s, cols, n, m, out)),
            ),
            |out| lock::reference(scores, view, grid, n, out),
        )
    }

    fn zeros(
        &self,
        level: Level,
        _: &View,
        _: Option<Grid>,
        mask: &[u8],
    ) -> Result<(u64, u64), ErrorKind> {
        let counted = zeros_with(level, mask, || zero_bytes(mask))?;
        let zero = counted.unwrap_or_else(|| mask.iter().filter(|&&v| v == 0).count() as u64);
        Ok((zero, mask.len() as u64))
    }
}

impl KernelSet {
    /// The built-in `N:M` kernels, specialised for constant sizes (with the
    /// default feature `specialized`).
    ///
    /// ```
    /// const SET: prunemask::ext::KernelSet = prunemask::ext::KernelSet::n_in_m::<2, 4>();
    /// ```
    pub const fn n_in_m<const N: usize, const M: usize>() -> Self {
        KernelSet {
            geometry: Geometry::NInM { n: N, m: M },
            unit_scores: group_scores_for::<M>(),
            kind: &Groups,
            builtin: true,
        }
    }

    /// The built-in `N:M` kernels for sizes known only at run time.
    ///
    /// ```
    /// let set = prunemask::ext::KernelSet::n_in_m_dyn(3, 16);
    /// ```
    pub const fn n_in_m_dyn(n: usize, m: usize) -> Self {
        KernelSet {
            geometry: Geometry::NInM { n, m },
            unit_scores: group_scores::<0>,
            kind: &Groups,
            builtin: true,
        }
    }
}
