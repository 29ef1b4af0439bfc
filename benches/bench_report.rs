//! `bench_report`: the kernels and the end-to-end selection, at every SIMD
//! level this machine has, as ratios to plain streams over the same
//! buffers, measured in this one process (the machines are shared and noisy,
//! so only ratios taken side by side mean anything).
//!
//! ```text
//! cargo bench --bench bench_report                    # full: BERT-base 85M, and 64M over 128 layers
//! cargo bench --bench bench_report -- --small         # quick: 4M and 4M
//! cargo bench --bench bench_report -- --only 2:4 --only V4
//! cargo bench --bench bench_report -- --only lock     # lock and sparsity rows only
//! ```
//!
//! A benchmark without criterion's harness (`harness = false`): `cargo
//! bench` runs it with `--bench` after the arguments given, which is
//! accepted and ignored; any other unknown argument is an error. Run with
//! no argument at all, as `cargo test --benches` runs it, it measures
//! nothing and says so (the full report takes minutes). Each figure is the
//! best of several runs (the least disturbed one).

use std::hint::black_box;
use std::time::{Duration, Instant};

use half::{bf16, f16};

mod support;

use prunemask::{
    Criterion, Layer, LayerPlan, LayerReport, Level, Options, Pattern, Pruner, Scope, Shape,
};
use support::model;
use support::stream::{read_stream, read_write_stream};

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

/// One model in f32, bf16 and f16, with its baselines.
struct Model {
    shapes: Vec<(usize, usize)>,
    f32s: Vec<Vec<f32>>,
    bf16s: Vec<Vec<bf16>>,
    f16s: Vec<Vec<f16>>,
    masks: Vec<Vec<u8>>,
    elements: usize,
    /// Read every f32 score.
    read: Duration,
    /// Read every f32 score and write one byte for each.
    read_write: Duration,
}

impl Model {
    fn new(shapes: Vec<(usize, usize)>, runs: usize) -> Model {
        let f32s = model::weights(&shapes);
        let bf16s = f32s
            .iter()
            .map(|d| d.iter().map(|&x| bf16::from_f32(x)).collect())
            .collect();
        let f16s = f32s
            .iter()
            .map(|d| d.iter().map(|&x| f16::from_f32(x)).collect())
            .collect();
        let mut masks: Vec<Vec<u8>> = f32s.iter().map(|d| vec![0u8; d.len()]).collect();
        let elements = f32s.iter().map(Vec::len).sum();
        let read = best_of(runs, || {
            black_box(read_stream(black_box(&f32s)));
        });
        let read_write = best_of(runs, || read_write_stream(black_box(&f32s), &mut masks));
        Model {
            shapes,
            f32s,
            bf16s,
            f16s,
            masks,
            elements,
            read,
            read_write,
        }
    }

    fn layers<'a, T>(&self, data: &'a [Vec<T>]) -> Vec<Layer<'a>>
    where
        &'a [T]: Into<prunemask::Scores<'a>>,
    {
        data.iter()
            .zip(&self.shapes)
            .map(|(d, &(r, c))| Layer::new(&d[..], Shape::matrix(r, c)))
            .collect()
    }

    fn describe(&self, what: &str) {
        println!(
            "{what}: {} layers, {} f32 scores ({:.0} MiB); read stream {:.1} ms ({:.1} GB/s), read f32 + write u8 stream {:.1} ms",
            self.shapes.len(),
            self.elements,
            self.elements as f64 * 4.0 / (1 << 20) as f64,
            self.read.as_secs_f64() * 1e3,
            self.elements as f64 * 4.0 / self.read.as_secs_f64() / 1e9,
            self.read_write.as_secs_f64() * 1e3,
        );
    }

    /// Prints a row: `d` against `base` (the read stream or the
    /// read + write stream), and the target ratio if the issue sets one.
    fn row(&self, what: &str, level: Level, d: Duration, write: bool, target: Option<f64>) {
        let base = if write { self.read_write } else { self.read };
        let ratio = d.as_secs_f64() / base.as_secs_f64();
        let verdict = match target {
            Some(t) if ratio <= t => format!("<= {t}: met"),
            Some(t) => format!("<= {t}: missed"),
            None => String::new(),
        };
        println!(
            "{:<48} {:>6} {:>9.1} {:>10.2} {:>8.2} {:>4}  {verdict}",
            what,
            format!("{level:?}"),
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() * 1e9 / self.elements as f64,
            ratio,
            if write { "r+w" } else { "r" },
        );
    }
}

/// One job of a side-by-side table, two ways: layers and options.
struct Case<'l, 'a> {
    what: String,
    pattern: &'static str,
    ways: [(&'l [Layer<'a>], Options); 2],
}

fn header() {
    println!(
        "{:<48} {:>6} {:>9} {:>10} {:>8} {:>4}  target",
        "what", "level", "ms", "ns/elem", "x base", "base"
    );
}

/// The command line: `--small`, `--only WHAT` (repeatable), and cargo's
/// `--bench` (ignored).
struct Args {
    small: bool,
    /// `--only 2:4` / `--only V4` (or `v4`, the library's name) / `--only
    /// lock`: just those patterns, levels or rows (profiling).
    only: Vec<String>,
}

impl Args {
    fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args {
            small: false,
            only: Vec::new(),
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--small" => parsed.small = true,
                "--only" => parsed.only.push(
                    args.next()
                        .ok_or("--only needs a pattern, a level or `lock`")?,
                ),
                // `cargo bench` passes it to every benchmark binary.
                "--bench" => {}
                _ => {
                    return Err(format!(
                        "unknown argument `{arg}` (expected --small, --only WHAT)"
                    ))
                }
            }
        }
        Ok(parsed)
    }
}

fn main() {
    if std::env::args().len() == 1 {
        println!(
            "bench_report: no argument (not `cargo bench`): nothing measured; \
             run `cargo bench --bench bench_report [-- --small]`"
        );
        return;
    }
    let args = Args::parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("bench_report: {e}");
        std::process::exit(2);
    });
    let small = args.small;
    let only: Vec<&str> = args.only.iter().map(String::as_str).collect();
    let wanted = |what: &str| only.is_empty() || only.contains(&what);
    let pattern_wanted = |name: &str| !only.iter().any(|o| o.contains(['x', ':'])) || wanted(name);
    let runs = if small { 5 } else { 3 };
    // A level is named as printed (`V4`) or as the library names it (`v4`).
    let as_level = |o: &str| o.to_lowercase().parse::<Level>().ok();
    let levels: Vec<Level> = Level::ALL
        .into_iter()
        .filter(|l| l.is_available())
        .filter(|&l| {
            only.iter().all(|o| as_level(o).is_none())
                || only.iter().any(|o| as_level(o) == Some(l))
        })
        .collect();
    let opts = |name: &str| {
        Options::new(Pattern::parse(name).unwrap(), 0.5).criterion(Criterion::Magnitude)
    };

    // `--only lock`: the lock and sparsity rows only.
    let lock_only = only.contains(&"lock");
    if !lock_only {
        // End to end on a BERT-base-shaped model, as a large model is pruned:
        // prune (with scratch) over every layer, and plan (with scratch) +
        // write_mask.
        let mut bert = Model::new(
            if small {
                model::uniform_shapes(4, 1024, 1024)
            } else {
                model::bert_base_shapes()
            },
            runs,
        );
        bert.describe(if small { "small model" } else { "BERT-base" });
        let mut scratch = vec![0u64; Pruner::scratch_words(bert.elements as u64)];
        println!(
            "scratch lent to the pruner: {:.1} MiB (scores + masks + scratch is the peak)",
            scratch.len() as f64 * 8.0 / (1 << 20) as f64
        );
        header();
        let mut plans = vec![LayerPlan::default(); bert.shapes.len()];
        for name in ["2:4", "4x1"].into_iter().filter(|n| pattern_wanted(n)) {
            for &level in &levels {
                // A pruner per level: one lending the scratch, one without.
                let mut with_scratch = Pruner::with_scratch(&mut scratch).level(level);
                let mut no_scratch = Pruner::new().level(level);
                let o = opts(name);
                let mut masks = std::mem::take(&mut bert.masks);
                // The whole job in memory: prune with scratch (plan, then
                // every mask). The three types take turns, run by run, so
                // none is favoured by when it ran.
                let dtypes = [
                    bert.layers(&bert.f32s),
                    bert.layers(&bert.bf16s),
                    bert.layers(&bert.f16s),
                ];
                let mut best = [Duration::MAX; 3];
                for _ in 0..runs {
                    for (layers, best) in dtypes.iter().zip(best.iter_mut()) {
                        let t = Instant::now();
                        let mut outs: Vec<&mut [u8]> =
                            masks.iter_mut().map(|m| &mut m[..]).collect();
                        with_scratch
                            .prune(layers, &o, &mut plans, &mut outs)
                            .unwrap();
                        *best = (*best).min(t.elapsed());
                    }
                }
                let [f32_time, bf16_time, f16_time] = best;
                let layers = bert.layers(&bert.f32s);
                // Streaming: plan with scratch, then each mask on its own
                // (write_mask checks its layer again first).
                let streamed = best_of(runs, || {
                    with_scratch.plan(&layers, &o, &mut plans).unwrap();
                    for ((l, p), m) in layers.iter().zip(&plans).zip(masks.iter_mut()) {
                        with_scratch.write_mask(l, &o, p, m).unwrap();
                    }
                });
                let planned = best_of(runs, || {
                    no_scratch.plan(&layers, &o, &mut plans).unwrap();
                });
                let planned_with = best_of(runs, || {
                    with_scratch.plan(&layers, &o, &mut plans).unwrap();
                });
                bert.masks = masks;
                let target = Some(4.0);
                bert.row(
                    &format!("{name} global, end to end (f32)"),
                    level,
                    f32_time,
                    false,
                    target,
                );
                bert.row(
                    &format!("{name} global, end to end (bf16)"),
                    level,
                    bf16_time,
                    false,
                    None,
                );
                bert.row(
                    &format!("{name} global, end to end (f16)"),
                    level,
                    f16_time,
                    false,
                    None,
                );
                bert.row(
                    &format!("{name} global plan with scratch + write_mask (f32)"),
                    level,
                    streamed,
                    false,
                    None,
                );
                bert.row(
                    &format!("{name} global plan, no scratch (f32)"),
                    level,
                    planned,
                    false,
                    None,
                );
                bert.row(
                    &format!("{name} global plan with scratch (f32)"),
                    level,
                    planned_with,
                    false,
                    None,
                );
                let rate = |d: Duration| f32_time.as_secs_f64() / d.as_secs_f64();
                println!(
                    "{:<48} {:>6} bf16 {:.2}x, f16 {:.2}x the f32 element rate (target >= 1)",
                    format!("{name} half rates"),
                    format!("{level:?}"),
                    rate(bf16_time),
                    rate(f16_time)
                );
            }
        }
    }

    // The kernels on a model larger than the caches: 64M f32 over 128
    // layers (4M over 16 with --small).
    println!();
    let (count, cols) = if small { (16, 512) } else { (128, 1024) };
    let big = Model::new(model::uniform_shapes(count, 512, cols), runs);
    if !lock_only {
        big.describe("kernels");
        header();
    }
    let layers = big.layers(&big.f32s);
    let mut masks = big
        .masks
        .iter()
        .map(|m| vec![0u8; m.len()])
        .collect::<Vec<_>>();
    let mut scratch = vec![0u64; Pruner::scratch_words(big.elements as u64)];
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let mut reports = vec![LayerReport::default(); layers.len()];
    for &level in levels.iter().filter(|_| !lock_only) {
        let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
        // Block reductions: every unit score once.
        for name in [
            "4x1",
            "16x1",
            "1x4",
            "2x2",
            "4x4",
            "1x8",
            "1x16",
            "4x16",
            "1x32",
            "1xchannel",
            "2:4",
            "4:8",
            "1:2",
            "channelx1",
        ]
        .into_iter()
        .filter(|n| pattern_wanted(n))
        {
            let o = opts(name);
            let mut out: Vec<Vec<f32>> = layers
                .iter()
                .map(|l| vec![0.0; model::units(l, &o)])
                .collect();
            let d = best_of(runs, || {
                for (l, s) in layers.iter().zip(out.iter_mut()) {
                    pruner.unit_scores(l, &o, s).unwrap();
                }
            });
            // unit_scores scores every unit twice (check, then write).
            let target = if name.contains('x') { Some(1.2) } else { None };
            big.row(&format!("{name} unit scores"), level, d / 2, false, target);
        }
        // Masks from a plan: threshold to mask (1x1), N:M mask (2:4).
        for (name, target) in [("1x1", 1.2), ("2:4", 1.25), ("4x1", 1.2)] {
            if !pattern_wanted(name) {
                continue;
            }
            let o = opts(name);
            pruner.plan(&layers, &o, &mut plans).unwrap();
            let d = best_of(runs, || {
                for ((l, p), m) in layers.iter().zip(&plans).zip(masks.iter_mut()) {
                    pruner.write_mask(l, &o, p, m).unwrap();
                }
            });
            big.row(
                &format!("{name} write_mask (mask from a plan)"),
                level,
                d,
                true,
                Some(target),
            );
        }
        // The global k-th threshold over every layer.
        if pattern_wanted("1x1") {
            let o = opts("1x1");
            let d = best_of(runs, || {
                pruner.plan(&layers, &o, &mut plans).unwrap();
            });
            big.row(
                "1x1 global k-th threshold (plan with scratch)",
                level,
                d,
                false,
                Some(3.5),
            );
        }
    }

    // Side by side: two ways of the same job on the same layers, taking
    // turns run by run; the ratio of their times is the element rate's.
    let mut side_by_side = |title: &str, names: [&str; 2], target: f64, cases: &[Case<'_, '_>]| {
        println!();
        println!("{title}");
        println!(
            "{:<48} {:>6} {:>9} {:>9} {:>8}  target",
            "what",
            "level",
            format!("{} ms", names[0]),
            format!("{} ms", names[1]),
            "ratio"
        );
        for &level in &levels {
            let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
            for case in cases.iter().filter(|c| pattern_wanted(c.pattern)) {
                let mut best = [Duration::MAX; 2];
                for _ in 0..runs {
                    for (i, (ls, o)) in case.ways.iter().enumerate() {
                        let t = Instant::now();
                        let mut outs: Vec<&mut [u8]> =
                            masks.iter_mut().map(|m| &mut m[..]).collect();
                        pruner.prune(ls, o, &mut plans, &mut outs).unwrap();
                        best[i] = best[i].min(t.elapsed());
                    }
                }
                let ratio = best[1].as_secs_f64() / best[0].as_secs_f64();
                println!(
                    "{:<48} {:>6} {:>9.1} {:>9.1} {:>8.3}  <= {target}: {}",
                    case.what,
                    format!("{level:?}"),
                    best[0].as_secs_f64() * 1e3,
                    best[1].as_secs_f64() * 1e3,
                    ratio,
                    if ratio <= target { "met" } else { "missed" }
                );
            }
        }
    };
    if !lock_only {
        // Wanda against magnitude (target: Wanda at most 1.1x magnitude).
        let scales: Vec<Vec<f32>> = (big.shapes.iter())
            .map(|&(_, c)| (0..c).map(|j| 0.5 + (j % 7) as f32 / 7.0).collect())
            .collect();
        let scaled: Vec<Layer<'_>> = (layers.iter().zip(&scales))
            .map(|(l, s)| l.input_scale(s))
            .collect();
        let cases: Vec<Case<'_, '_>> = [
            ("1x1", Scope::Global),
            ("1x1", Scope::Row),
            ("2:4", Scope::Global),
            ("4x1", Scope::Global),
            ("1x4", Scope::Row),
        ]
        .into_iter()
        .map(|(name, scope)| {
            let mag = opts(name).scope(scope);
            let wanda = mag.clone().criterion(Criterion::Wanda);
            Case {
                what: format!("{name} {scope}, prune (plan + masks, f32)"),
                pattern: name,
                ways: [(&layers[..], mag), (&scaled[..], wanda)],
            }
        })
        .collect();
        side_by_side(
            "wanda (|w| * s[j]) against magnitude, same layers, same job:",
            ["mag", "wanda"],
            1.1,
            &cases,
        );
        // INC 2.0 mode (inclusive ties, seed cap) against exact ties: N:M
        // counts each group's pruned elements in its scoring pass.
        let cases: Vec<Case<'_, '_>> = ["2:4", "4x1", "4:8"]
            .into_iter()
            .map(|name| Case {
                what: format!("{name} global, prune (plan + masks, f32)"),
                pattern: name,
                ways: [
                    (&layers[..], opts(name)),
                    (&layers[..], opts(name).inc_compat()),
                ],
            })
            .collect();
        side_by_side(
            "INC 2.0 mode (inclusive ties, seed cap) against exact ties, same layers, same job:",
            ["exact", "inc"],
            1.2,
            &cases,
        );
    }

    // Pattern lock on a pruned copy (about half the weights zero; the read
    // streams were measured on the same buffers), and the sparsity of the
    // locked masks (u8: a quarter of the read stream's bytes).
    println!();
    let shapes: Vec<Shape> = layers.iter().map(|l| l.shape).collect();
    let mut big = big;
    model::zero_half(&mut big.f32s);
    model::zero_half(&mut big.bf16s);
    big.describe("lock and sparsity");
    header();
    let sparse = big.layers(&big.f32s);
    let sparse_bf16 = big.layers(&big.bf16s);
    for &level in &levels {
        let pruner = Pruner::new().level(level);
        for name in ["4x1", "2:4", "1x1"]
            .into_iter()
            .filter(|n| pattern_wanted(n))
        {
            let p = Pattern::parse(name).unwrap();
            for (dtype, layers) in [("f32", &sparse), ("bf16", &sparse_bf16)] {
                let d = best_of(runs, || {
                    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
                    pruner.lock(layers, &p, &mut reports, &mut outs).unwrap();
                });
                big.row(&format!("{name} lock ({dtype})"), level, d, true, None);
            }
            let views: Vec<&[u8]> = masks.iter().map(|m| &m[..]).collect();
            let d = best_of(runs, || {
                black_box(
                    pruner
                        .mask_sparsity(&p, &shapes, black_box(&views))
                        .unwrap(),
                );
            });
            big.row(
                &format!("{name} mask_sparsity (u8 masks)"),
                level,
                d,
                false,
                None,
            );
        }
    }
    println!();
    println!("x base: time over the read stream (r) or the read f32 + write u8 stream (r+w) of the same f32 scores; half rows use the f32 stream too.");
}
