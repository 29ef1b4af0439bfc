//! A program that names only 2:4, through a kernel set it builds itself
//! (`Pattern::new` over `KernelSet::n_in_m::<2, 4>()`) instead of
//! `Pattern::parse`, which resolves any name and so links every pattern's
//! kernels. Prunes a layer, re-locks its mask and measures its sparsity,
//! as `main.rs` does; `.ci/run` prints its `.text` beside the other's.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use prunemask::ext::KernelSet;
use prunemask::{Criterion, Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Shape};

const ROWS: usize = 16;
const COLS: usize = 32;

/// The only kernels this program links.
const TWO_FOUR: KernelSet = KernelSet::n_in_m::<2, 4>();

#[entry]
fn main() -> ! {
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
    if let Ok(pattern) = Pattern::new("2:4", black_box(TWO_FOUR)) {
        let opts = Options::new(pattern, 0.5).criterion(Criterion::Magnitude);
        if let Ok(summary) = pruner.prune(&layers, &opts, &mut plans, &mut [&mut mask[..]]) {
            pruned += summary.pruned_elements;
        }
        let _ = pruner.lock(&layers, &opts.pattern, &mut reports, &mut [&mut mask[..]]);
        let _ = black_box(pruner.mask_sparsity(&opts.pattern, &[layers[0].shape], &[&mask[..]]));
    }
    black_box(pruned);
    loop {
        core::hint::spin_loop();
    }
}
