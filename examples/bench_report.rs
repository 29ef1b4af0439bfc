//! `bench_report`: every kernel and the end-to-end selection, at every SIMD
//! level this machine has, as ratios to a plain stream over the same
//! buffers, measured in this one process (the machines are shared and noisy,
//! so only ratios taken side by side mean anything).
//!
//! ```text
//! cargo run --release --example bench_report            # BERT-base-shaped, 85M f32
//! cargo run --release --example bench_report -- --small # 4 layers, 4M f32, quick
//! cargo run --release --example bench_report -- --only 2:4 --only V4
//! ```
//!
//! Each figure is the best of several runs (the least disturbed one).

use std::hint::black_box;
use std::time::{Duration, Instant};

use half::bf16;

#[path = "../benches/support/stream.rs"]
mod stream;
use prunemask::{
    plan, plan_with, scratch_words, unit_scores, write_mask, Criterion, Layer, LayerReport, Level,
    Options, Pattern, Shape,
};
use stream::{read_stream, read_write_stream};

fn best_of(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// The model: BERT-base's 72 weight matrices, or 4 square ones with `--small`.
fn shapes(small: bool) -> Vec<(usize, usize)> {
    if small {
        return vec![(1024, 1024); 4];
    }
    let block = [
        (768, 768),
        (768, 768),
        (768, 768),
        (768, 768),
        (3072, 768),
        (768, 3072),
    ];
    (0..12).flat_map(|_| block).collect()
}

fn data(shapes: &[(usize, usize)]) -> Vec<Vec<f32>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    shapes
        .iter()
        .map(|&(r, c)| {
            (0..r * c)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.05
                })
                .collect()
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let small = args.iter().any(|a| a == "--small");
    // `--only 2:4` / `--only V4`: just those patterns or levels (profiling).
    let only: Vec<&str> = args
        .windows(2)
        .filter(|w| w[0] == "--only")
        .map(|w| w[1].as_str())
        .collect();
    let wanted = |what: &str| only.is_empty() || only.contains(&what);
    let runs = if small { 7 } else { 3 };
    let shapes = shapes(small);
    let f32s = data(&shapes);
    let bf16s: Vec<Vec<bf16>> = f32s
        .iter()
        .map(|d| d.iter().map(|&x| bf16::from_f32(x)).collect())
        .collect();
    let elements: usize = f32s.iter().map(Vec::len).sum();
    let mut masks: Vec<Vec<u8>> = f32s.iter().map(|d| vec![0u8; d.len()]).collect();
    let levels: Vec<Level> = Level::ALL
        .into_iter()
        .filter(|l| l.is_available())
        .filter(|l| only.iter().all(|o| !o.starts_with('V')) || wanted(&format!("{l:?}")))
        .collect();

    let read = best_of(runs, || {
        black_box(read_stream(black_box(&f32s)));
    });
    let read_write = best_of(runs, || read_write_stream(black_box(&f32s), &mut masks));
    let ns = |d: Duration| d.as_secs_f64() * 1e9 / elements as f64;
    println!(
        "{} layers, {} f32 scores ({:.0} MiB); read stream {:.1} ms ({:.2} ns/element, {:.1} GB/s), read f32 + write u8 stream {:.1} ms",
        shapes.len(),
        elements,
        elements as f64 * 4.0 / (1 << 20) as f64,
        read.as_secs_f64() * 1e3,
        ns(read),
        elements as f64 * 4.0 / read.as_secs_f64() / 1e9,
        read_write.as_secs_f64() * 1e3,
    );
    println!();
    println!(
        "{:<34} {:>7} {:>10} {:>12} {:>12}",
        "what", "level", "ms", "ns/element", "x stream"
    );

    for name in ["2:4", "4x1"] {
        if only.iter().any(|o| o.contains(['x', ':'])) && !wanted(name) {
            continue;
        }
        let opts = |level| {
            Options::new(Pattern::parse(name).unwrap(), 0.5)
                .criterion(Criterion::Magnitude)
                .level(level)
        };
        let layers: Vec<Layer<'_>> = f32s
            .iter()
            .zip(&shapes)
            .map(|(d, &(r, c))| Layer::new(&d[..], Shape::matrix(r, c)))
            .collect();
        let bf_layers: Vec<Layer<'_>> = bf16s
            .iter()
            .zip(&shapes)
            .map(|(d, &(r, c))| Layer::new(&d[..], Shape::matrix(r, c)))
            .collect();
        let mut reports = vec![LayerReport::default(); layers.len()];
        let units = elements as u64 / 4;
        let mut scratch = vec![0u64; scratch_words(units)];
        for &level in &levels {
            let o = opts(level);
            // The unit-score kernel alone, over every layer once.
            let mut scores: Vec<Vec<f32>> = Vec::new();
            for l in &layers {
                let mut s = vec![0.0f32; 1];
                let n = match unit_scores(l, &o, &mut s) {
                    Err(e) => match e.kind() {
                        prunemask::ErrorKind::OutputLength { expected, .. } => *expected,
                        _ => 0,
                    },
                    Ok(n) => n,
                };
                scores.push(vec![0.0f32; n]);
            }
            let kernel = best_of(runs, || {
                for (l, s) in layers.iter().zip(scores.iter_mut()) {
                    unit_scores(l, &o, s).unwrap();
                }
            });
            // unit_scores reads every unit twice (check, then write).
            let kernel = kernel / 2;
            row(
                &format!("{name} unit scores (f32)"),
                level,
                kernel,
                ns(kernel),
                kernel.as_secs_f64() / read.as_secs_f64(),
            );
            let planned = best_of(runs, || {
                plan(&layers, &o, &mut reports).unwrap();
            });
            row(
                &format!("{name} global plan, no scratch (f32)"),
                level,
                planned,
                ns(planned),
                planned.as_secs_f64() / read.as_secs_f64(),
            );
            let planned = best_of(runs, || {
                plan_with(&layers, &o, &mut reports, &mut scratch).unwrap();
            });
            row(
                &format!("{name} global plan_with (f32)"),
                level,
                planned,
                ns(planned),
                planned.as_secs_f64() / read.as_secs_f64(),
            );
            // End to end as a large model is pruned: plan_with, then each
            // layer's mask.
            let mut end_to_end = |layers: &[Layer<'_>]| {
                plan_with(layers, &o, &mut reports, &mut scratch).unwrap();
                for ((l, r), m) in layers.iter().zip(&reports).zip(masks.iter_mut()) {
                    write_mask(l, &o, r, m).unwrap();
                }
            };
            let pruned = best_of(runs, || end_to_end(&layers));
            row(
                &format!("{name} global prune, end to end (f32)"),
                level,
                pruned,
                ns(pruned),
                pruned.as_secs_f64() / read.as_secs_f64(),
            );
            let pruned_bf = best_of(runs, || end_to_end(&bf_layers));
            row(
                &format!("{name} global prune, end to end (bf16)"),
                level,
                pruned_bf,
                ns(pruned_bf),
                pruned_bf.as_secs_f64() / read.as_secs_f64(),
            );
        }
    }
    println!();
    println!("x stream: time over the f32 read stream of the same scores (bf16 rows too: same element count).");
}

fn row(what: &str, level: Level, d: Duration, ns: f64, ratio: f64) {
    println!(
        "{:<34} {:>7} {:>10.1} {:>12.2} {:>12.2}",
        what,
        format!("{level:?}"),
        d.as_secs_f64() * 1e3,
        ns,
        ratio
    );
}
