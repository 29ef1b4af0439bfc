//! The library's main job, with the library alone: masks for a
//! BERT-base-shaped model (72 matrices, 85M f32 weights made in memory),
//! every layer in one global selection, into buffers the caller owns.
//!
//! ```text
//! cargo run --release --example prune                  # 2:4, global, every group pruned
//! cargo run --release --example prune -- 4x1 0.7       # PATTERN [SPARSITY]
//! ```
//!
//! The CLI (`cargo run --release -p prunemask-cli`) does the same job on a
//! model directory and writes a pruned model.

use std::time::Instant;

use prunemask::ext::Geometry;
use prunemask::{Layer, LayerPlan, Level, Options, Pattern, Pruner, Shape};

// The benchmarks' deterministic weights (one generator for both).
#[allow(dead_code)]
#[path = "../benches/support/model.rs"]
mod model;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let pattern = Pattern::parse(&args.next().unwrap_or_else(|| "2:4".into()))?;
    let sparsity = match args.next() {
        Some(s) => s.parse::<f64>()?,
        // N/M for N:M (every group pruned, as its kernels need), else 0.5.
        None => match pattern.geometry() {
            Geometry::NInM { n, m } => n as f64 / m as f64,
            Geometry::Block { .. } => 0.5,
        },
    };
    let shapes = model::bert_base_shapes();
    let weights = model::weights(&shapes);
    let layers: Vec<Layer<'_>> = (weights.iter().zip(&shapes))
        .map(|(w, &(r, c))| Layer::new(&w[..], Shape::matrix(r, c)))
        .collect();
    let mut masks: Vec<Vec<u8>> = weights.iter().map(|w| vec![0; w.len()]).collect();
    let opts = Options::new(pattern, sparsity);
    let elements: usize = weights.iter().map(Vec::len).sum();
    // Scratch for the one-pass selection: without it, the same plan in
    // four radix passes over the weights.
    let mut scratch = vec![0u64; Pruner::scratch_words(elements as u64)];
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let start = Instant::now();
    let level = Level::best();
    let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
    let summary = pruner.prune(&layers, &opts, &mut plans, &mut outs)?;
    let seconds = start.elapsed().as_secs_f64();

    println!(
        "pattern {}, sparsity {sparsity}, {} scope, {} layers, {elements} f32 weights, level {level}",
        opts.pattern.name(),
        opts.scope,
        layers.len()
    );
    for (i, plan) in plans.iter().enumerate().take(6) {
        let r = plan.report();
        println!(
            "layer {i:>2} {:>4}x{:<4} pruned {:>8} of {:>8} ({:.4})",
            shapes[i].0,
            shapes[i].1,
            r.pruned_elements,
            r.elements,
            r.sparsity_ratio()
        );
    }
    println!("... ({} more layers)", plans.len().saturating_sub(6));
    println!(
        "total: {} of {} elements pruned ({:.4}), threshold {}; {:.3} s ({:.2} ns/element)",
        summary.pruned_elements,
        summary.elements,
        summary.sparsity_ratio(),
        summary.threshold.map_or("none".into(), |t| t.to_string()),
        seconds,
        seconds * 1e9 / elements as f64
    );
    Ok(())
}
