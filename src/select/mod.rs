//! Selection: a layer's units streamed as order keys, and the k-th
//! smallest key of a pool of layers found without copying their scores
//! (sample-select, radix passes as the fallback). Built from a [`Scoring`]
//! description, not from the public options.

mod radix;
mod row;
mod units;

pub use radix::SplitRange;
pub(crate) use radix::WIDE_BINS;
pub(crate) use radix::{gather_part, merge_parts, split_sample, MergeError, PartKeys, TileMarks};
pub(crate) use radix::{kth_smallest, prepare, Counts, Ready, Scratch, STACK_BINS};
pub(crate) use row::kth_in_row;
pub(crate) use units::{whole, Units};

use crate::arch::Level;
use crate::vocab::error::Error;
use crate::vocab::ext::{KernelSet, SkipReason};
use crate::vocab::scores::Layer;
use crate::vocab::terms::{Criterion, Reduce, Ties};

/// How a layer's units are scored: what selection needs to know.
#[derive(Clone, Copy)]
pub(crate) struct Scoring {
    pub kernels: KernelSet,
    pub reduce: Reduce,
    pub criterion: Criterion,
    pub ties: Ties,
    pub level: Level,
    /// `Nxchannel` blocks one kernel position wide (`I` columns) on a conv
    /// weight, as INC 2.0 makes them, instead of whole output channels.
    pub inc_channel: bool,
}

impl Scoring {
    /// Layer `index`'s units, or why the pattern skips it; an error for a
    /// shape that does not match its slice.
    pub(crate) fn units<'a>(
        &self,
        index: usize,
        layer: &Layer<'a>,
    ) -> Result<Result<Units<'a>, SkipReason>, Error> {
        let view = layer.checked_view(index)?;
        let channel_cols = if self.inc_channel {
            view.inner()
        } else {
            view.cols()
        };
        Ok(self
            .kernels
            .grid_with(&view, channel_cols)
            .map(|grid| Units::new(layer, view, grid, self)))
    }
}
