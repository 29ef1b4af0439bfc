//! Each kernel at 1M, 16M and 64M f32 scores (layers of 512x1024), beside
//! the plain streams it is measured against, in one run; and end to end on
//! the BERT-base-shaped model in f32 and bf16.
//!
//! ```text
//! cargo bench --bench kernels
//! cargo bench --bench kernels -- 16M   # one size
//! ```
//!
//! Each kernel runs at the best level this CPU has; `bench_report` compares
//! the levels.

use std::hint::black_box;

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use half::bf16;
use prunemask::{Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Shape};
use support::{model, stream};

const ROWS: usize = 512;
const COLS: usize = 1024;

fn layers<'a, T>(data: &'a [Vec<T>], shapes: &[(usize, usize)]) -> Vec<Layer<'a>>
where
    &'a [T]: Into<prunemask::Scores<'a>>,
{
    data.iter()
        .zip(shapes)
        .map(|(d, &(r, c))| Layer::new(&d[..], Shape::matrix(r, c)))
        .collect()
}

fn kernels(c: &mut Criterion) {
    for (label, count) in [("1M", 2), ("16M", 32), ("64M", 128)] {
        let shapes = model::uniform_shapes(count, ROWS, COLS);
        let data = model::weights(&shapes);
        let layers = layers(&data, &shapes);
        let elements = (count * ROWS * COLS) as u64;
        let mut masks: Vec<Vec<u8>> = data.iter().map(|d| vec![0u8; d.len()]).collect();
        let mut plans = vec![LayerPlan::default(); layers.len()];
        let mut reports = vec![LayerReport::default(); layers.len()];
        let mut scratch = vec![0u64; Pruner::scratch_words(elements)];
        // At the best level; `with_scratch` for the selection.
        let mut pruner = Pruner::with_scratch(&mut scratch);
        let mut group = c.benchmark_group(format!("kernels_{label}_f32"));
        group.sample_size(10);
        group.throughput(Throughput::Elements(elements));
        group.bench_function("baseline_read_stream", |b| {
            b.iter(|| stream::read_stream(black_box(&data)))
        });
        group.bench_function("baseline_read_write_stream", |b| {
            b.iter(|| stream::read_write_stream(black_box(&data), &mut masks))
        });
        // Unit scores: block reductions and N:M group scores.
        for name in [
            "4x1",
            "1x4",
            "2x2",
            "4x4",
            "1x8",
            "1x16",
            "1xchannel",
            "16x1",
            "channelx1",
            "2:4",
            "1:4",
            "4:8",
            "1:2",
        ] {
            // Unit scores do not depend on the target, but the options are
            // checked: 0.25 is a target every pattern here takes (1:4 prunes
            // at most a quarter).
            let opts = Options::new(Pattern::parse(name).unwrap(), 0.25);
            let mut out: Vec<Vec<f32>> = layers
                .iter()
                .map(|l| vec![0.0; model::units(l, &opts)])
                .collect();
            group.bench_with_input(BenchmarkId::new("unit_scores", name), &opts, |b, opts| {
                b.iter(|| {
                    for (l, s) in layers.iter().zip(out.iter_mut()) {
                        pruner.unit_scores(l, opts, s).unwrap();
                    }
                })
            });
        }
        for name in ["1x1", "2:4", "4x1"] {
            let opts = Options::new(Pattern::parse(name).unwrap(), 0.5);
            // The global k-th threshold (and every layer's counts).
            let id = BenchmarkId::new("plan_with_scratch", name);
            group.bench_with_input(id, &opts, |b, opts| {
                b.iter(|| pruner.plan(black_box(&layers), opts, &mut plans).unwrap())
            });
            // Threshold to mask: the masks from a plan.
            pruner.plan(&layers, &opts, &mut plans).unwrap();
            group.bench_with_input(BenchmarkId::new("write_mask", name), &opts, |b, opts| {
                b.iter(|| {
                    for ((l, p), m) in layers.iter().zip(&plans).zip(masks.iter_mut()) {
                        pruner.write_mask(l, opts, p, m).unwrap();
                    }
                })
            });
        }
        // Pattern lock of a half-zero copy, and the sparsity of its masks.
        let mut sparse = data.clone();
        model::zero_half(&mut sparse);
        let sparse_layers = self::layers(&sparse, &shapes);
        let shape_list: Vec<Shape> = sparse_layers.iter().map(|l| l.shape).collect();
        for name in ["4x1", "2:4", "1x1"] {
            let pattern = Pattern::parse(name).unwrap();
            group.bench_with_input(BenchmarkId::new("lock", name), &pattern, |b, p| {
                b.iter(|| {
                    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
                    (pruner)
                        .lock(black_box(&sparse_layers), p, &mut reports, &mut outs)
                        .unwrap()
                })
            });
            let views: Vec<&[u8]> = masks.iter().map(|m| &m[..]).collect();
            let id = BenchmarkId::new("mask_sparsity", name);
            group.bench_with_input(id, &pattern, |b, p| {
                b.iter(|| {
                    (pruner)
                        .mask_sparsity(p, &shape_list, black_box(&views))
                        .unwrap()
                })
            });
        }
        group.finish();
    }
}

fn end_to_end(c: &mut Criterion) {
    let shapes = model::bert_base_shapes();
    let f32s = model::weights(&shapes);
    let bf16s: Vec<Vec<bf16>> = f32s
        .iter()
        .map(|d| d.iter().map(|&x| bf16::from_f32(x)).collect())
        .collect();
    let elements: u64 = f32s.iter().map(|d| d.len() as u64).sum();
    let mut masks: Vec<Vec<u8>> = f32s.iter().map(|d| vec![0u8; d.len()]).collect();
    let mut plans = vec![LayerPlan::default(); shapes.len()];
    let mut scratch = vec![0u64; Pruner::scratch_words(elements)];
    let mut pruner = Pruner::with_scratch(&mut scratch);
    let mut group = c.benchmark_group("bert_base_global");
    group.sample_size(10);
    group.throughput(Throughput::Elements(elements));
    group.bench_function("baseline_read_stream", |b| {
        b.iter(|| stream::read_stream(black_box(&f32s)))
    });
    for name in ["2:4", "4x1"] {
        let opts = Options::new(Pattern::parse(name).unwrap(), 0.5);
        for (dtype, layers) in [
            ("f32", layers(&f32s, &shapes)),
            ("bf16", layers(&bf16s, &shapes)),
        ] {
            let id = BenchmarkId::new(format!("{name}_{dtype}"), "prune_with_scratch");
            group.bench_function(id, |b| {
                b.iter(|| {
                    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
                    (pruner)
                        .prune(black_box(&layers), &opts, &mut plans, &mut outs)
                        .unwrap();
                })
            });
            let id = BenchmarkId::new(format!("{name}_{dtype}"), "plan_with_scratch+write_mask");
            group.bench_function(id, |b| {
                b.iter(|| {
                    pruner.plan(black_box(&layers), &opts, &mut plans).unwrap();
                    for ((l, p), m) in layers.iter().zip(&plans).zip(masks.iter_mut()) {
                        pruner.write_mask(l, &opts, p, m).unwrap();
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, kernels, end_to_end);
criterion_main!(benches);
