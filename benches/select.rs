//! End-to-end selection against a streaming read of the same scores, in one
//! run so the ratio means something on a noisy machine.
//!
//! `cargo bench --bench select`

use std::hint::black_box;

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use prunemask::{Layer, LayerPlan, Options, Pattern, Pruner, Shape};
use support::{model, stream};

fn bench(c: &mut Criterion) {
    // Four 1024x1024 layers (4M f32).
    let data = model::weights(&model::uniform_shapes(4, 1024, 1024));
    let layers: Vec<Layer<'_>> = data
        .iter()
        .map(|d| Layer::new(&d[..], Shape::matrix(1024, 1024)))
        .collect();
    let elements: usize = data.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("global_4M_f32");
    group.sample_size(10);
    group.throughput(Throughput::Elements(elements as u64));
    group.bench_function("baseline_read_stream", |b| {
        b.iter(|| stream::read_stream(black_box(&data)))
    });
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let mut masks: Vec<Vec<u8>> = data.iter().map(|d| vec![0u8; d.len()]).collect();
    for name in ["2:4", "4x1", "1x1"] {
        let opts = Options::new(Pattern::parse(name).unwrap(), 0.5);
        group.bench_with_input(BenchmarkId::new("plan", name), &opts, |b, opts| {
            b.iter(|| {
                Pruner::new()
                    .plan(black_box(&layers), opts, &mut plans)
                    .unwrap()
            })
        });
        group.bench_with_input(BenchmarkId::new("prune", name), &opts, |b, opts| {
            b.iter(|| {
                let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
                Pruner::new()
                    .prune(black_box(&layers), opts, &mut plans, &mut outs)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
