//! Every SIMD level this machine has gives the masks, reports and unit
//! scores of the scalar level, bit for bit, through the public API.

use half::{bf16, f16};
use proptest::prelude::*;
use prunemask::{
    CapMode, Criterion, ErrorKind, Layer, LayerPlan, LayerReport, Level, Options, Pattern, Pruner,
    Reduce, Scope, Shape, SplitRange, Summary, Ties,
};

fn levels() -> Vec<Level> {
    Level::ALL
        .into_iter()
        .filter(|l| l.is_available())
        .collect()
}

fn score() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => (-4i8..5i8).prop_map(|i| i as f32 * 0.25),
        6 => any::<f32>().prop_filter("finite", |x| x.is_finite()),
        1 => Just(-0.0f32),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::MIN_POSITIVE / 4.0),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    shapes: Vec<Shape>,
    data: Vec<Vec<f32>>,
    /// Each layer's input scale, used under the Wanda criterion.
    scales: Vec<Vec<f32>>,
    pattern: &'static str,
    /// Target, inclusive, seed cap, scope, criterion, reduction.
    opts: (f64, bool, bool, u8, u8, u8),
}

fn case() -> impl Strategy<Value = Case> {
    let pattern = prop_oneof![
        Just("2:4"),
        Just("1:4"),
        Just("3:4"),
        Just("4x1"),
        Just("8x1"),
        Just("16x1"),
        Just("3x1"),
        Just("channelx1"),
        Just("1x1"),
        Just("2x2"),
        Just("1x4"),
        Just("4x4"),
        Just("1x8"),
        Just("2x8"),
        Just("1x16"),
        Just("4x16"),
        Just("8x2"),
        Just("3x2"),
        Just("1x2"),
        Just("1xchannel"),
        Just("1x32"),
        Just("2x3"),
        Just("1x12"),
        Just("4:8"),
        Just("1:2"),
        Just("3:8"),
        Just("5:16"),
    ];
    let shape = prop_oneof![
        4 => (1usize..=5, 1usize..=20).prop_map(|(r, c)| Shape::matrix(r * 4, c * 4)),
        1 => (1usize..=4, 1usize..=3, 1usize..=3).prop_map(|(o, i, k)| Shape::conv(o * 4, i * 4, k, k)),
        1 => (1usize..=17, 1usize..=70).prop_map(|(r, c)| Shape::matrix(r, c)),
        // Wide enough for 16-wide blocks over several vectors.
        1 => (1usize..=3, 1usize..=40).prop_map(|(r, c)| Shape::matrix(r * 4, c * 16)),
    ];
    (
        proptest::collection::vec(shape, 1..4),
        pattern,
        (
            0.0f64..=0.5,
            any::<bool>(),
            any::<bool>(),
            0u8..3,
            0u8..3,
            0u8..4,
        ),
    )
        .prop_flat_map(|(shapes, pattern, opts)| {
            let data = shapes
                .iter()
                .map(|s| proptest::collection::vec(score(), s.elements().unwrap()))
                .collect::<Vec<_>>();
            let scales = shapes
                .iter()
                .map(|s| proptest::collection::vec(scale(), s.view().unwrap().inner()))
                .collect::<Vec<_>>();
            (Just(shapes), data, scales, Just(pattern), Just(opts))
        })
        .prop_map(|(shapes, data, scales, pattern, opts)| Case {
            shapes,
            data,
            scales,
            pattern,
            opts,
        })
}

/// Wanda scales: `‖X_j‖₂` is finite and `>= 0`; zeros, tiny and huge
/// ones (products that overflow to infinity) included.
fn scale() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => (0u8..9).prop_map(|i| i as f32 * 0.375),
        4 => 0.0f32..1e4,
        1 => Just(0.0f32),
        1 => Just(f32::MIN_POSITIVE / 8.0),
        1 => Just(3e38f32),
    ]
}

fn options(c: &Case) -> Options {
    let (s, inclusive, seed, scope, criterion, reduce) = c.opts;
    let scope = [Scope::Global, Scope::Local, Scope::Row][scope as usize];
    Options::new(Pattern::parse(c.pattern).unwrap(), s)
        .scope(scope)
        .ties(if inclusive && scope != Scope::Row {
            Ties::Inclusive
        } else {
            Ties::Exact
        })
        .cap(if seed {
            CapMode::Seed
        } else {
            CapMode::Redistribute
        })
        .max_sparsity_ratio_per_op(0.9)
        .criterion([Criterion::Scores, Criterion::Magnitude, Criterion::Wanda][criterion as usize])
        .reduce([Reduce::Mean, Reduce::Sum, Reduce::L2, Reduce::Max][reduce as usize])
}

/// An f32 mask is the u8 mask's marks as exactly `1.0` / `0.0`.
fn same_marks(f: &[f32], m: &[u8]) -> bool {
    f.len() == m.len()
        && f.iter()
            .zip(m)
            .all(|(x, &b)| x.to_bits() == f32::from(b).to_bits())
}

type Outcome = Result<(Vec<Vec<u8>>, Vec<LayerPlan>, Vec<Option<Vec<u32>>>), String>;

fn run<T: Copy>(c: &Case, level: Level, data: &[Vec<T>]) -> Outcome
where
    for<'a> &'a [T]: Into<prunemask::Scores<'a>>,
{
    let opts = options(c);
    let layers: Vec<Layer<'_>> = data
        .iter()
        .zip(&c.shapes)
        .zip(&c.scales)
        .map(|((d, &s), scale)| match opts.criterion {
            Criterion::Wanda => Layer::new(&d[..], s).input_scale(scale),
            _ => Layer::new(&d[..], s),
        })
        .collect();
    let mut pruner = Pruner::new().level(level);
    let mut masks: Vec<Vec<u8>> = data.iter().map(|d| vec![7u8; d.len()]).collect();
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let mut reports = vec![LayerPlan::default(); layers.len()];
    pruner
        .prune(&layers, &opts, &mut reports, &mut outs)
        .map_err(|e| e.to_string())?;
    let scores = layers
        .iter()
        .zip(&reports)
        .map(|(l, r)| {
            let mut out = vec![0.0f32; r.report().units as usize];
            pruner
                .unit_scores(l, &opts, &mut out)
                .ok()
                .map(|_| out.iter().map(|x| x.to_bits()).collect())
        })
        .collect();
    // The scratch path (sample-select, or its radix fallback) gives the
    // same plan and masks at this level.
    let mut scratch =
        vec![u64::MAX; Pruner::scratch_words(reports.iter().map(|r| r.report().units).sum())];
    let mut with = vec![LayerPlan::default(); layers.len()];
    Pruner::with_scratch(&mut scratch)
        .level(level)
        .plan(&layers, &opts, &mut with)
        .map_err(|e| e.to_string())?;
    for ((layer, report), mask) in layers.iter().zip(&with).zip(&masks) {
        let mut m = vec![7u8; mask.len()];
        pruner
            .write_mask(layer, &opts, report, &mut m)
            .map_err(|e| e.to_string())?;
        if &m != mask {
            return Err(format!(
                "with_scratch plan + write_mask differ from prune at {level:?}"
            ));
        }
        // An f32 mask holds the same marks as 1.0 / 0.0, bit for bit.
        let mut f = vec![7.0f32; mask.len()];
        pruner
            .write_mask(layer, &opts, report, &mut f)
            .map_err(|e| e.to_string())?;
        if !same_marks(&f, mask) {
            return Err(format!("the f32 mask differs from the u8 one at {level:?}"));
        }
    }
    let mut floats: Vec<Vec<f32>> = data.iter().map(|d| vec![7.0; d.len()]).collect();
    let mut outs: Vec<&mut [f32]> = floats.iter_mut().map(|m| &mut m[..]).collect();
    let mut again = vec![LayerPlan::default(); layers.len()];
    pruner
        .prune(&layers, &opts, &mut again, &mut outs)
        .map_err(|e| e.to_string())?;
    if again != reports || floats.iter().zip(&masks).any(|(f, m)| !same_marks(f, m)) {
        return Err(format!("prune into f32 masks differs at {level:?}"));
    }
    if with != reports {
        return Err(format!("with_scratch plans differ from prune at {level:?}"));
    }
    split_masks(level, &layers, &opts, &reports, &masks)?;
    Ok((masks, reports, scores))
}

/// A split selection whose gathers write the masks (two parts, and one)
/// gives the plans and masks `prune` gives, `u8` and `f32`, and parts
/// equal to plain `gather_part`'s but for the masked flag.
fn split_masks(
    level: Level,
    layers: &[Layer<'_>],
    opts: &Options,
    plans: &[LayerPlan],
    masks: &[Vec<u8>],
) -> Result<(), String> {
    let units: u64 = plans.iter().map(|p| p.report().units).sum();
    let mut scratch = vec![0u64; Pruner::scratch_words(units)];
    let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
    let Some(range) = pruner
        .split_range(layers, opts)
        .map_err(|e| e.to_string())?
    else {
        return Ok(());
    };
    for cut in [layers.len() / 2, 0] {
        let runs = [(0, cut), (cut, layers.len())];
        let mut parts = Vec::new();
        let mut bytes: Vec<Vec<u8>> = masks.iter().map(|m| vec![7u8; m.len()]).collect();
        let mut floats: Vec<Vec<f32>> = masks.iter().map(|m| vec![7.0; m.len()]).collect();
        for &(a, b) in runs.iter().filter(|(a, b)| a < b) {
            let run = &layers[a..b];
            let elements: u64 = run.iter().map(|l| l.scores.len() as u64).sum();
            let words = SplitRange::part_words(run.len(), elements);
            let mut plain = vec![0u64; words];
            let n = pruner
                .gather_part(run, a, opts, &range, &mut plain)
                .map_err(|e| e.to_string())?;
            let mut outs: Vec<&mut [u8]> = bytes[a..b].iter_mut().map(|m| &mut m[..]).collect();
            let mut part = vec![0u64; words];
            let m = (pruner.gather_part_masked(run, a, opts, &range, &mut part, &mut outs))
                .map_err(|e| e.to_string())?;
            let mut outs: Vec<&mut [f32]> = floats[a..b].iter_mut().map(|m| &mut m[..]).collect();
            let mut part_f = vec![0u64; words];
            let f = (pruner.gather_part_masked(run, a, opts, &range, &mut part_f, &mut outs))
                .map_err(|e| e.to_string())?;
            let (Some(n), Some(m), Some(f)) = (n, m, f) else {
                return Ok(());
            };
            let mut flagged = plain[..n].to_vec();
            flagged[2] |= 1 << 63;
            if (m, f) != (n, n) || part[..m] != flagged[..] || part_f[..f] != flagged[..] {
                return Err(format!(
                    "a masked part differs from gather_part's at {level:?}"
                ));
            }
            part.truncate(m);
            parts.push((a, b, part));
        }
        let words: Vec<&[u64]> = parts.iter().map(|(_, _, p)| &p[..]).collect();
        let mut split = vec![LayerPlan::default(); layers.len()];
        (pruner.plan_split(layers, opts, &range, &words, &mut split)).map_err(|e| e.to_string())?;
        if split != plans {
            return Err(format!("plan_split differs from prune at {level:?}"));
        }
        for (a, b, part) in &parts {
            let (run, plans) = (&layers[*a..*b], &split[*a..*b]);
            let mut outs: Vec<&mut [u8]> = bytes[*a..*b].iter_mut().map(|m| &mut m[..]).collect();
            (pruner.settle_part(run, *a, opts, &range, part, plans, &mut outs))
                .map_err(|e| e.to_string())?;
            let mut outs: Vec<&mut [f32]> = floats[*a..*b].iter_mut().map(|m| &mut m[..]).collect();
            (pruner.settle_part(run, *a, opts, &range, part, plans, &mut outs))
                .map_err(|e| e.to_string())?;
        }
        if bytes != masks || floats.iter().zip(masks).any(|(f, m)| !same_marks(f, m)) {
            return Err(format!(
                "settled masks differ from prune's at {level:?} (cut {cut})"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_level_equals_scalar(c in case()) {
        let want = run(&c, Level::Scalar, &c.data);
        prop_assert!(want.as_ref().map_or_else(|e| !e.contains("differ"), |_| true), "{:?}", want);
        for level in levels() {
            prop_assert_eq!(&run(&c, level, &c.data), &want, "{:?}", level);
        }
        // Halves too (widened exactly; kernels run on the f32 path only for f32).
        let bf: Vec<Vec<bf16>> = c.data.iter().map(|d| d.iter().map(|&x| bf16::from_f32(x)).collect()).collect();
        let hf: Vec<Vec<f16>> = c.data.iter().map(|d| d.iter().map(|&x| f16::from_f32(x)).collect()).collect();
        let want_bf = run(&c, Level::Scalar, &bf);
        let want_hf = run(&c, Level::Scalar, &hf);
        for level in levels() {
            prop_assert_eq!(&run(&c, level, &bf), &want_bf);
            prop_assert_eq!(&run(&c, level, &hf), &want_hf);
        }
    }
}

#[test]
fn an_unavailable_level_is_an_error() {
    let w = [1.0f32; 8];
    let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
    let mut reports = [LayerPlan::default()];
    let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
    for level in Level::ALL.into_iter().filter(|l| !l.is_available()) {
        let mut pruner = Pruner::new().level(level);
        let err = pruner.plan(&layers, &opts, &mut reports).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
        // Every other operation too, before it writes.
        let mut mask = [7u8; 8];
        let err = pruner
            .prune(&layers, &opts, &mut reports, &mut [&mut mask[..]])
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
        let err = pruner
            .write_mask(&layers[0], &opts, &reports[0], &mut mask)
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
        assert_eq!(mask, [7; 8], "nothing written");
        assert_eq!(reports[0], LayerPlan::default());
        let mut out = [0.0f32; 2];
        let err = pruner.unit_scores(&layers[0], &opts, &mut out).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
        let mut scratch = vec![0u64; Pruner::SCRATCH_MIN];
        let err = Pruner::with_scratch(&mut scratch)
            .level(level)
            .plan(&layers, &opts, &mut reports)
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
    }
    assert!(Level::best().is_available());
}

/// Tall blocks over wide halves: the column kernel widens them a few dozen
/// units at a time, and each part must keep its columns' summation order.
#[test]
fn tall_blocks_over_wide_halves() {
    let (rows, cols) = (16, 1000);
    let data: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1009) as f32 * 1e-3 - 0.5)
        .collect();
    for name in [
        "16x1", "8x1", "4x1", "2:4", "1x4", "4:8", "1:2", "11:20", "2x2", "4x8", "1x8", "2x8",
        "16x2", "1x2",
    ] {
        for reduce in [Reduce::Mean, Reduce::Sum, Reduce::L2] {
            let bf: Vec<bf16> = data.iter().map(|&x| bf16::from_f32(x)).collect();
            let hf: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
            let scores = |level: Level, layer: &Layer<'_>| {
                let opts = Options::new(Pattern::parse(name).unwrap(), 0.5).reduce(reduce);
                let units = match name {
                    "16x1" | "2x8" => rows * cols / 16,
                    "8x1" | "4:8" | "1x8" => rows * cols / 8,
                    "4x8" | "16x2" => rows * cols / 32,
                    "1:2" | "1x2" => rows * cols / 2,
                    "11:20" => rows * cols / 20,
                    _ => rows * cols / 4,
                };
                let mut out = vec![0.0f32; units];
                Pruner::new()
                    .level(level)
                    .unit_scores(layer, &opts, &mut out)
                    .unwrap();
                out.iter().map(|x| x.to_bits()).collect::<Vec<u32>>()
            };
            for layer in [
                Layer::new(&bf[..], Shape::matrix(rows, cols)),
                Layer::new(&hf[..], Shape::matrix(rows, cols)),
            ] {
                let want = scores(Level::Scalar, &layer);
                for level in levels() {
                    assert_eq!(scores(level, &layer), want, "{name} {reduce:?} {level:?}");
                }
            }
        }
    }
}

// Pattern lock and sparsity: every level against the scalar level.

/// Weights for the lock: mostly zeros of either sign, so that blocks and
/// groups lock, among subnormals, infinities and plain values.
fn weight() -> impl Strategy<Value = f32> {
    prop_oneof![
        5 => Just(0.0f32),
        3 => Just(-0.0f32),
        2 => (-4i8..5i8).prop_map(|i| i as f32 * 0.25),
        1 => any::<f32>().prop_filter("not NaN", |x| !x.is_nan()),
        1 => Just(f32::MIN_POSITIVE / 4.0),
        1 => Just(-f32::from_bits(1)),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
    ]
}

/// Half bit patterns of the same kinds: zeros, the least subnormals,
/// infinities and plain values (NaN patterns left out).
fn half_bits() -> impl Strategy<Value = u16> {
    prop_oneof![
        5 => Just(0x0000u16),
        3 => Just(0x8000u16),
        1 => Just(0x0001u16),
        1 => Just(0x8001u16),
        1 => Just(0x7c00u16),
        2 => 0u16..0x7c00,
    ]
}

const LOCK_PATTERNS: [&str; 22] = [
    "1x1",
    "4x1",
    "1x4",
    "2x2",
    "3x1",
    "1x3",
    "2x3",
    "16x1",
    "1x16",
    "1x8",
    "channelx1",
    "1xchannel",
    "2xchannel",
    "2:4",
    "1:4",
    "3:4",
    "1:2",
    "4:8",
    "3:8",
    "5:16",
    "11:20",
    "3:12",
];

fn lock_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        4 => (1usize..=9, 1usize..=24).prop_map(|(r, c)| Shape::matrix(r * 2, c * 4)),
        2 => (1usize..=17, 1usize..=97).prop_map(|(r, c)| Shape::matrix(r, c)),
        1 => (1usize..=4, 1usize..=4, 1usize..=3).prop_map(|(o, i, k)| Shape::conv(o * 2, i * 4, k, k)),
        1 => (1usize..=4, 1usize..=8).prop_map(|(o, i)| Shape::conv(o * 2, i * 4, 1, 1)),
    ]
}

type Locked = Result<(Vec<Vec<u8>>, Vec<LayerReport>, Summary), String>;

fn lock_run(level: Level, layers: &[Layer<'_>], pattern: &str) -> Locked {
    let mut masks: Vec<Vec<u8>> = layers.iter().map(|l| vec![7u8; l.scores.len()]).collect();
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let mut reports = vec![LayerReport::default(); layers.len()];
    let p = Pattern::parse(pattern).unwrap();
    let s = Pruner::new()
        .level(level)
        .lock(layers, &p, &mut reports, &mut outs)
        .map_err(|e| e.to_string())?;
    Ok((masks, reports, s))
}

fn sparsity_run(level: Level, shapes: &[Shape], masks: &[Vec<u8>], pattern: &str) -> String {
    let masks: Vec<&[u8]> = masks.iter().map(|m| &m[..]).collect();
    let p = Pattern::parse(pattern).unwrap();
    format!(
        "{:?}",
        Pruner::new().level(level).mask_sparsity(&p, shapes, &masks)
    )
}

fn lock_layers<'a, T>(data: &'a [Vec<T>], shapes: &[Shape]) -> Vec<Layer<'a>>
where
    &'a [T]: Into<prunemask::Scores<'a>>,
{
    data.iter()
        .zip(shapes)
        .map(|(d, &s)| Layer::new(&d[..], s))
        .collect()
}

/// Lock and sparsity of the same layers at every level; the sparsity of
/// the locked masks under every pattern.
fn check_lock<T: Copy>(
    data: &[Vec<T>],
    shapes: &[Shape],
    pattern: &str,
) -> Result<(), TestCaseError>
where
    for<'a> &'a [T]: Into<prunemask::Scores<'a>>,
{
    let layers = lock_layers(data, shapes);
    let want = lock_run(Level::Scalar, &layers, pattern);
    for level in levels() {
        prop_assert_eq!(
            &lock_run(level, &layers, pattern),
            &want,
            "{:?} {}",
            level,
            pattern
        );
    }
    if let Ok((masks, _, _)) = &want {
        for p in [
            pattern,
            "1x1",
            "4x1",
            "2:4",
            "1x4",
            "2x3",
            "channelx1",
            "1xchannel",
        ] {
            let want = sparsity_run(Level::Scalar, shapes, masks, p);
            for level in levels() {
                prop_assert_eq!(
                    &sparsity_run(level, shapes, masks, p),
                    &want,
                    "{:?} {}",
                    level,
                    p
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn lock_every_level_equals_scalar(
        shapes in proptest::collection::vec(lock_shape(), 1..4),
        pattern in proptest::sample::select(&LOCK_PATTERNS[..]),
        seed in proptest::collection::vec(weight(), 17 * 97),
        halves in proptest::collection::vec(half_bits(), 17 * 97),
        rotate in 0usize..97,
    ) {
        // Each layer takes the seed from its own offset.
        let len = seed.len();
        let take = move |i: usize, n: usize| (0..n).map(move |j| (i * rotate + j) % len);
        let data: Vec<Vec<f32>> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| take(i, s.elements().unwrap()).map(|j| seed[j]).collect())
            .collect();
        check_lock(&data, &shapes, pattern)?;
        let hf: Vec<Vec<f16>> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| take(i, s.elements().unwrap()).map(|j| f16::from_bits(halves[j])).collect())
            .collect();
        check_lock(&hf, &shapes, pattern)?;
        let bf: Vec<Vec<bf16>> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| take(i, s.elements().unwrap()).map(|j| bf16::from_bits(if halves[j] == 0x7c00 { 0xff80 } else { halves[j] })).collect())
            .collect();
        check_lock(&bf, &shapes, pattern)?;
    }

    /// Any bytes: masks of 0s and 1s, sometimes with a byte above 1 (an
    /// error, the same on every level).
    #[test]
    fn sparsity_every_level_equals_scalar(
        shapes in proptest::collection::vec(lock_shape(), 1..4),
        pattern in proptest::sample::select(&LOCK_PATTERNS[..]),
        bytes in proptest::collection::vec(prop_oneof![40 => Just(0u8), 40 => Just(1u8), 1 => 2u8..], 17 * 97),
    ) {
        let masks: Vec<Vec<u8>> = shapes
            .iter()
            .enumerate()
            .map(|(i, s)| (0..s.elements().unwrap()).map(|j| bytes[(j + 31 * i) % bytes.len()]).collect())
            .collect();
        let want = sparsity_run(Level::Scalar, &shapes, &masks, pattern);
        for level in levels() {
            prop_assert_eq!(&sparsity_run(level, &shapes, &masks, pattern), &want, "{:?}", level);
        }
    }
}

/// Layers wider than the SIMD kernels' 4096-column window: windows that
/// end mid-row (and not on a multiple of 4096 for widths like 3 and 12),
/// blocks wider than a window, and tall bands.
#[test]
fn lock_across_windows() {
    for (rows, cols) in [(4, 4104), (6, 8196), (2, 12288)] {
        let data: Vec<f32> = (0..rows * cols)
            .map(|i| {
                let h = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
                match h {
                    0..=40 => 0.0,
                    41..=50 => -0.0,
                    _ => h as f32,
                }
            })
            .collect();
        let hf: Vec<f16> = data.iter().map(|&x| f16::from_f32(x)).collect();
        let shape = Shape::matrix(rows, cols);
        let mut all_zero_row = data.clone();
        all_zero_row[cols..2 * cols].fill(0.0);
        for name in [
            "1x1",
            "2x1",
            "1x3",
            "1x4",
            "2x2",
            "channelx1",
            "1xchannel",
            "2xchannel",
            "2:4",
            "3:12",
            "5:8",
            "64:128",
        ] {
            for data in [&data, &all_zero_row] {
                let layers = [Layer::new(&data[..], shape)];
                let want = lock_run(Level::Scalar, &layers, name);
                for level in levels() {
                    assert_eq!(lock_run(level, &layers, name), want, "{name} {level:?}");
                }
                let (masks, _, _) = want.unwrap();
                let want = sparsity_run(Level::Scalar, &[shape], &masks, name);
                for level in levels() {
                    assert_eq!(sparsity_run(level, &[shape], &masks, name), want);
                }
            }
            let layers = [Layer::new(&hf[..], shape)];
            let want = lock_run(Level::Scalar, &layers, name);
            for level in levels() {
                assert_eq!(lock_run(level, &layers, name), want, "f16 {name} {level:?}");
            }
        }
    }
}

#[test]
fn lock_and_sparsity_at_an_unavailable_level_are_errors() {
    let w = [0.0f32; 8];
    let layers = [Layer::new(&w[..], Shape::matrix(2, 4))];
    let p = Pattern::parse("2:4").unwrap();
    for level in Level::ALL.into_iter().filter(|l| !l.is_available()) {
        let mut mask = [7u8; 8];
        let mut reports = [LayerReport::default()];
        let pruner = Pruner::new().level(level);
        let err = pruner
            .lock(&layers, &p, &mut reports, &mut [&mut mask[..]])
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
        assert_eq!(mask, [7; 8], "nothing written");
        assert_eq!(reports[0], LayerReport::default());
        let err = pruner
            .mask_sparsity(&p, &[Shape::matrix(2, 4)], &[&mask[..]])
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::LevelUnavailable { level });
    }
    // The best level is the default one.
    let (mut a, mut b) = ([7u8; 8], [7u8; 8]);
    let mut reports = [LayerReport::default()];
    let s = Pruner::new()
        .lock(&layers, &p, &mut reports, &mut [&mut a[..]])
        .unwrap();
    let t = Pruner::new()
        .level(Level::best())
        .lock(&layers, &p, &mut reports, &mut [&mut b[..]])
        .unwrap();
    assert_eq!((a, s), (b, t));
    assert_eq!(Pruner::new().current_level(), Level::best());
}
