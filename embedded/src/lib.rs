//! What both bare-metal programs run on a pattern: prune a small layer,
//! re-lock its mask and measure its sparsity, the calls an edge device
//! makes. The programs differ only in how they get their patterns, which
//! decides the kernels they link.
#![no_std]

use core::hint::black_box;

use prunemask::{Criterion, Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Shape};

const ROWS: usize = 16;
const COLS: usize = 32;

/// Prunes, locks and measures a 16x32 layer with `pattern`; returns the
/// elements pruned.
pub fn exercise(pattern: Pattern) -> u64 {
    let mut weights = [0.0f32; ROWS * COLS];
    for (i, w) in weights.iter_mut().enumerate() {
        *w = ((i * 7919) % 257) as f32 - 128.0;
    }
    let weights = black_box(weights);
    let layers = [Layer::new(&weights[..], Shape::matrix(ROWS, COLS))];
    let mut mask = [0u8; ROWS * COLS];
    let mut plans = [LayerPlan::default()];
    let mut reports = [LayerReport::default()];
    let mut pruner = Pruner::new();
    let mut pruned = 0;
    let opts = Options::new(pattern, 0.5).criterion(Criterion::Magnitude);
    if let Ok(summary) = pruner.prune(&layers, &opts, &mut plans, &mut [&mut mask[..]]) {
        pruned += summary.pruned_elements;
    }
    let _ = pruner.lock(&layers, &opts.pattern, &mut reports, &mut [&mut mask[..]]);
    let _ = black_box(pruner.mask_sparsity(&opts.pattern, &[layers[0].shape], &[&mask[..]]));
    pruned
}
