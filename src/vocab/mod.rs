//! The vocabulary every layer speaks: errors, shapes and their 2-D view,
//! borrowed scores and layers, the option words (`Reduce`, `Ties`,
//! `Criterion`, `Level`) and the extension types (`Geometry`, `Tile`,
//! `KernelSet`, `Registry`). Nothing here computes a mask.

pub(crate) mod error;
pub(crate) mod ext;
pub(crate) mod scores;
pub(crate) mod shape;
pub(crate) mod terms;
