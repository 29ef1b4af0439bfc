//! prunemask on a microcontroller: no std, no allocator. Prunes a small
//! layer with 2:4 and 4x1, re-locks its mask and measures sparsity, the
//! calls an edge device makes. Built by `.ci/run`, which prints its `.text`.
#![no_std]
#![no_main]

use core::hint::black_box;

use cortex_m_rt::entry;
use panic_halt as _;
use prunemask::{Criterion, Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Shape};

const ROWS: usize = 16;
const COLS: usize = 32;

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
    for name in ["2:4", "4x1"] {
        if let Ok(pattern) = Pattern::parse(black_box(name)) {
            let opts = Options::new(pattern, 0.5).criterion(Criterion::Magnitude);
            if let Ok(summary) = pruner.prune(&layers, &opts, &mut plans, &mut [&mut mask[..]]) {
                pruned += summary.pruned_elements;
            }
            let _ = pruner.lock(&layers, &opts.pattern, &mut reports, &mut [&mut mask[..]]);
            let _ =
                black_box(pruner.mask_sparsity(&opts.pattern, &[layers[0].shape], &[&mask[..]]));
        }
    }
    black_box(pruned);
    loop {
        core::hint::spin_loop();
    }
}
