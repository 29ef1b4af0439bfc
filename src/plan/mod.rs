//! The planning operations: options ([`Options`]), the planner, what it
//! reports ([`LayerReport`], [`LayerPlan`], [`Summary`]), and masks written
//! from a plan. The public entry points are `Pruner`'s methods.

pub(crate) mod mask;
pub(crate) mod options;
pub(crate) mod planner;
pub(crate) mod report;
pub(crate) mod settle;

pub use mask::MaskValue;
pub use options::{CapMode, Compat, Options, Scope};
pub use report::{Bound, LayerPlan, LayerReport, Status, Summary};

use crate::arch::Level;
use crate::score::first_nan;
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::Layer;

/// A per-layer list (plans, masks, reports) of the wrong length.
pub(crate) fn check_count(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if expected != got {
        return Err(Error::new(ErrorKind::LayerCount {
            what,
            expected,
            got,
        }));
    }
    Ok(())
}

/// A mask buffer whose length is not its layer's.
pub(crate) fn check_mask(i: usize, layer: &Layer<'_>, len: usize) -> Result<(), Error> {
    if len != layer.scores.len() {
        return Err(Error::in_layer(
            i,
            ErrorKind::MaskLength {
                expected: layer.scores.len(),
                got: len,
            },
        ));
    }
    Ok(())
}

/// A NaN anywhere in layer `i`'s scores, as an error naming it.
pub(crate) fn check_nan(i: usize, layer: &Layer<'_>, level: Level) -> Result<(), Error> {
    match first_nan(layer.scores, level) {
        Some(index) => Err(Error::in_layer(i, ErrorKind::NanScore { index })),
        None => Ok(()),
    }
}
