//! Selection: unit keys streamed from the layers, and the k-th smallest key
//! of a pool of layers found without copying their scores.

mod radix;
mod units;

pub(crate) use radix::WIDE_BINS;
pub(crate) use radix::{kth_smallest, prepare, Counts, Ready, Scratch, STACK_BINS};
pub(crate) use units::Units;
