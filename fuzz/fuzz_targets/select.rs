//! Selection: `Pruner::prune`, and `Pruner::plan` + `Pruner::write_mask`
//! (with and without scratch), over 1-4 small layers
//! (matrix and OIHW conv, f32/f16/bf16 scores from raw bit patterns) with
//! an arbitrary pattern and arbitrary options.
//!
//! Invariants (see the checks below for the exact statements):
//! - no panic; `Err` exactly when the input is invalid (counts, lengths,
//!   ratios, NaN scores), or possibly on a NaN unit score when some score is
//!   infinite or huge; every `Err` leaves every mask buffer as it was and
//!   displays non-empty text;
//! - on `Ok`: masks are 0/1; each report's `pruned_elements` is the zeros of
//!   its mask; skipped layers (exactly those the pattern does not fit) are all
//!   ones; the `Summary` is the sum of the reports;
//! - blocks are all 0 or all 1 and the zero blocks number `pruned_units`;
//!   N:M groups (M consecutive view columns of a row) have 0 zeros or exactly
//!   N (exact ties) / at least N (inclusive), and the groups with zeros number
//!   `pruned_units`;
//! - `target_units` is `floor(s / (N/M) * units)` (globally, or summed per
//!   layer); in exact mode without a bounded layer the pruned units equal it;
//!   bounded layers sit at their bound;
//! - for `1x1` without bounds, the mask is the one a sort gives (exact: the
//!   first k by (score, pool order); inclusive: every score <= the k-th);
//! - `plan` + `write_mask` gives the reports, summary and masks of `prune`;
//! - every SIMD level this machine runs (`Level::ALL`, filtered by
//!   `is_available`; `Pruner::level`) gives what `Level::Scalar` gives, bit
//!   for bit: `prune` results (masks, every plan field, the summary,
//!   thresholds by their bits, or the same error), `plan` + `write_mask`,
//!   and `unit_scores` of each layer; a level it lacks is an error that
//!   writes nothing. Half
//!   the inputs use a pattern with a SIMD kernel (N:M groups of four, Nx1
//!   blocks) on layers whose view is contiguous, as those kernels need.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use half::{bf16, f16};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{chance, flat, grid, mask_buffers, view_dims, Data, Draw};
use prunemask::ext::{Extent, Geometry};
use prunemask::{
    Bound, CapMode, Compat, Criterion, Error, ErrorKind, Layer, LayerPlan, LayerReport, Level,
    Options, Pattern, Pruner, Reduce, Scope, Shape, Status, Summary, Ties,
};

const SENTINEL: u8 = 7;

/// With `PRUNEMASK_FUZZ_STATS` set, counts of what the runs exercised are
/// printed every 2^16 runs (to see that the checks below do run).
mod stats {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    use std::sync::OnceLock;
    pub const NAMES: [&str; 12] = [
        "runs",
        "ok",
        "err",
        "err-valid-nan-unit",
        "bounded",
        "exact-k",
        "1x1-oracle",
        "nm-groups",
        // A SIMD level compared with scalar (once per level and run).
        "level-cmp",
        // `unit_scores` of a layer compared between a SIMD level and scalar.
        "level-unit-scores",
        // Runs with a layer whose units reach an N:M kernel (groups of 2-32).
        "simd-nm",
        // Runs with a layer whose units reach the 1x4 or Nx1 block kernels.
        "simd-blocks",
    ];
    pub const LEVEL_CMP: usize = 8;
    pub const LEVEL_UNIT_SCORES: usize = 9;
    pub const SIMD_NM: usize = 10;
    pub const SIMD_BLOCKS: usize = 11;
    static COUNTS: [AtomicU64; NAMES.len()] = [const { AtomicU64::new(0) }; NAMES.len()];
    static ON: OnceLock<bool> = OnceLock::new();
    pub fn hit(i: usize) {
        if !*ON.get_or_init(|| std::env::var_os("PRUNEMASK_FUZZ_STATS").is_some()) {
            return;
        }
        let n = COUNTS[i].fetch_add(1, Relaxed) + 1;
        if i == 0 && n.is_multiple_of(1 << 16) {
            let line: Vec<String> = NAMES
                .iter()
                .zip(&COUNTS)
                .map(|(k, v)| format!("{k}={}", v.load(Relaxed)))
                .collect();
            eprintln!("stats: {}", line.join(" "));
        }
    }
}

const SPECIALS: &[f32] = &[
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    2.0,
    3.0,
    -3.0,
    f32::INFINITY,
    f32::NEG_INFINITY,
    f32::MAX,
    -f32::MAX,
    f32::MIN_POSITIVE,
    1e-45,
    -1e-45,
    1e30,
    -1e30,
    65504.0,
];

#[derive(Debug)]
struct LayerIn {
    shape: Shape,
    data: Data,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Corrupt {
    None,
    /// Mask of layer `.0` one element longer (or shorter).
    MaskLen(usize, bool),
    PlanCount,
    MaskCount,
}

#[derive(Debug)]
struct Input {
    layers: Vec<LayerIn>,
    pattern: &'static str,
    sparsity: f64,
    max_layer: f64,
    min_layer: f64,
    scope: Scope,
    ties: Ties,
    cap: CapMode,
    reduce: Reduce,
    criterion: Criterion,
    compat: Compat,
    corrupt: Corrupt,
}

/// Bits of `x` in the element type (0 = f32, 1 = f16, 2 = bf16).
fn bits_of(ty: u8, x: f32) -> u32 {
    match ty {
        0 => x.to_bits(),
        1 => f16::from_f32(x).to_bits() as u32,
        _ => bf16::from_f32(x).to_bits() as u32,
    }
}

/// Subnormals (and the largest of them) of both signs, by element type.
fn subnormal_bits(ty: u8) -> &'static [u32] {
    match ty {
        0 => &[1, 2, 0x0040_0000, 0x007f_ffff, 0x8000_0001, 0x807f_ffff],
        1 => &[1, 2, 0x0200, 0x03ff, 0x8001, 0x83ff],
        _ => &[1, 2, 0x0040, 0x007f, 0x8001, 0x807f],
    }
}

fn is_nan_bits(ty: u8, b: u32) -> bool {
    match ty {
        0 => f32::from_bits(b).is_nan(),
        1 => f16::from_bits(b as u16).is_nan(),
        _ => bf16::from_bits(b as u16).is_nan(),
    }
}

/// NaN bits made into the infinity of the same sign.
fn denan(ty: u8, b: u32) -> u32 {
    match ty {
        0 => b & 0xff80_0000,
        1 => b & 0xfc00,
        _ => b & 0xff80,
    }
}

fn data(u: &mut Unstructured<'_>, n: usize) -> Result<Data> {
    let ty = u.int_in_range(0u8..=2)?;
    let raw_mask = if ty == 0 { u32::MAX } else { 0xffff };
    // A small palette gives ties; raw bit patterns give everything else.
    let mut palette = Vec::new();
    for _ in 0..u.int_in_range(1..=8)? {
        palette.push(match u.int_in_range(0u8..=7)? {
            0..=3 => u32::arbitrary(u)? & raw_mask,
            4 => *u.choose(subnormal_bits(ty))?,
            _ => bits_of(ty, *u.choose(SPECIALS)?),
        });
    }
    let mut bits = Vec::with_capacity(n);
    for _ in 0..n {
        let c = u8::arbitrary(u)?;
        let mut b = if c < 192 {
            palette[c as usize % palette.len()]
        } else {
            u32::arbitrary(u)? & raw_mask
        };
        // NaN is placed on purpose (see `Input::arbitrary`), not by chance.
        if is_nan_bits(ty, b) {
            b = denan(ty, b);
        }
        bits.push(b);
    }
    Ok(Data::from_bits(ty, bits))
}

/// A ratio: mostly valid (in `[0, scale]`), sometimes NaN or out of range.
fn ratio(u: &mut Unstructured<'_>, scale: f64) -> Result<f64> {
    // Exhausted input reads as 0: a valid middle value.
    Ok(match u.int_in_range(0u8..=31)? {
        0 => scale / 2.0,
        1 => 0.0,
        2 => -0.0,
        3 => scale,
        4 => 1e-12,
        5 => 1.0,
        6 => scale * (1.0 - f64::EPSILON),
        7 => f64::NAN,
        8 => *u.choose(&[
            -0.1,
            1.5,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0 + f64::EPSILON,
            -1e-300,
        ])?,
        _ => u.int_in_range(0u32..=1000)? as f64 / 1000.0 * scale,
    })
}

fn n_over_m(g: Geometry) -> f64 {
    match g {
        Geometry::NInM { n, m } => n as f64 / m as f64,
        Geometry::Block { .. } => 1.0,
    }
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // Half the runs: a pattern with a SIMD kernel, mostly on layers it
        // fits with a contiguous view.
        let draw = Draw::new(u, 1, 2)?;
        let (pattern, geometry) = (draw.pattern, draw.geometry);
        let allow_nan = chance(u, 1, 16)?;
        let count = u.int_in_range(1..=4)?;
        let mut layers = Vec::with_capacity(count);
        for _ in 0..count {
            let shape = draw.shape(u)?;
            let n = shape.elements().unwrap();
            layers.push(LayerIn {
                shape,
                data: data(u, n)?,
            });
        }
        if allow_nan {
            let l = u.int_in_range(0..=count - 1)?;
            let len = layers[l].data.len();
            let at = u.int_in_range(0..=len - 1)?;
            let nan = u16::arbitrary(u)? | 1;
            match &mut layers[l].data {
                Data::F32(v) => v[at] = f32::from_bits(0x7f80_0000 | (nan as u32) << 7 | 1),
                Data::F16(v) => v[at] = f16::from_bits(0x7c00 | (nan & 0x83ff)),
                Data::Bf16(v) => v[at] = bf16::from_bits(0x7f80 | (nan & 0x807f)),
            }
        }
        let sparsity = ratio(u, n_over_m(geometry))?;
        let max_layer = match u.int_in_range(0u8..=3)? {
            0 | 1 => 1.0,
            2 => 0.98,
            _ => ratio(u, 1.0)?,
        };
        let min_layer = match u.int_in_range(0u8..=3)? {
            0 | 1 => 0.0,
            2 => ratio(u, n_over_m(geometry))?,
            _ => ratio(u, 1.0)?,
        };
        let corrupt = if chance(u, 1, 32)? {
            match u.int_in_range(0u8..=2)? {
                0 => Corrupt::MaskLen(u.int_in_range(0..=count - 1)?, bool::arbitrary(u)?),
                1 => Corrupt::PlanCount,
                _ => Corrupt::MaskCount,
            }
        } else {
            Corrupt::None
        };
        Ok(Input {
            layers,
            pattern,
            sparsity,
            max_layer,
            min_layer,
            scope: if bool::arbitrary(u)? {
                Scope::Global
            } else {
                Scope::Local
            },
            ties: if chance(u, 1, 3)? {
                Ties::Inclusive
            } else {
                Ties::Exact
            },
            cap: if bool::arbitrary(u)? {
                CapMode::Redistribute
            } else {
                CapMode::Seed
            },
            reduce: *u.choose(&[Reduce::Mean, Reduce::Sum, Reduce::Max, Reduce::L2])?,
            criterion: if bool::arbitrary(u)? {
                Criterion::Scores
            } else {
                Criterion::Magnitude
            },
            compat: if chance(u, 1, 4)? {
                Compat::Inc20
            } else {
                Compat::Native
            },
            corrupt,
        })
    }
}

/// `floor(r * M/N * units)` (and the ceiling) for an element ratio `r`
/// over units that prune `N` of `M` elements (`share`), at most `units`, as
/// documented: the decimal `r` stands for (its `Display` form), exactly,
/// except the `f64` nearest to `N/M`, which is every unit;
/// INC 2.0's float product `int(r / (N/M) * units)` under `Compat::Inc20`.
fn count(input: &Input, r: f64, (n, m): (usize, usize), units: u64) -> (u64, u64) {
    let float = || {
        let x = (r / (n as f64 / m as f64)).min(1.0) * units as f64;
        (x as u64, x.ceil() as u64)
    };
    if input.compat == Compat::Inc20 {
        return float();
    }
    // The f64 nearest to N/M itself is every unit.
    if r == n as f64 / m as f64 {
        return (units, units);
    }
    let text = format!("{r}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    // More than 38 places (below 1e-20) or digits: the float product,
    // which gives the same counts there.
    let exact = format!("{int}{frac}")
        .parse::<u128>()
        .ok()
        .zip(10u128.checked_pow(frac.len() as u32));
    let Some((digits, scale)) = exact.filter(|_| frac.len() <= 38) else {
        return float();
    };
    let Some(den) = scale.checked_mul(n as u128) else {
        return float();
    };
    let p = (digits * m as u128).min(den) * units as u128;
    ((p / den) as u64, p.div_ceil(den) as u64)
}

/// `(N, M)` of an N:M geometry, `(1, 1)` for blocks.
fn share(g: Geometry) -> (usize, usize) {
    match g {
        Geometry::NInM { n, m } => (n, m),
        Geometry::Block { .. } => (1, 1),
    }
}

fn ratios_valid(input: &Input, g: Geometry) -> bool {
    let ok = |x: f64| (0.0..=1.0).contains(&x);
    ok(input.sparsity)
        && ok(input.max_layer)
        && ok(input.min_layer)
        && input.min_layer <= input.max_layer
        && input.sparsity / n_over_m(g) <= 1.0
}

/// The score a `1x1` unit gets.
fn unit_score_1x1(x: f32, criterion: Criterion, reduce: Reduce) -> f32 {
    let x = match criterion {
        Criterion::Magnitude => x.abs(),
        Criterion::Scores => x,
        Criterion::Wanda => unreachable!("the input generator makes no Wanda run (no input scales)"),
    };
    match reduce {
        Reduce::L2 => x * x,
        _ => x,
    }
}

/// The `1x1` masks by sorting, for pools without bounds.
fn oracle_1x1(input: &Input, target: f64) -> Vec<Vec<u8>> {
    let mut masks: Vec<Vec<u8>> = input
        .layers
        .iter()
        .map(|l| vec![1u8; l.data.len()])
        .collect();
    // Pools: lists of (score, layer, flat index) in pool order.
    let mut pools: Vec<Vec<(f32, usize, usize)>> = Vec::new();
    let unit = |li: usize, l: &LayerIn, pool: &mut Vec<(f32, usize, usize)>| {
        let (rows, cols, _) = view_dims(l.shape);
        for r in 0..rows {
            for c in 0..cols {
                let x = flat(l.shape, r, c);
                pool.push((
                    unit_score_1x1(l.data.get(x), input.criterion, input.reduce),
                    li,
                    x,
                ));
            }
        }
    };
    match input.scope {
        Scope::Global => {
            let mut pool = Vec::new();
            for (li, l) in input.layers.iter().enumerate() {
                unit(li, l, &mut pool);
            }
            pools.push(pool);
        }
        Scope::Row => unreachable!("the input generator makes no row-scope run"),
        Scope::Local => {
            for (li, l) in input.layers.iter().enumerate() {
                let mut pool = Vec::new();
                unit(li, l, &mut pool);
                pools.push(pool);
            }
        }
    }
    for pool in pools {
        let k = count(input, target, (1, 1), pool.len() as u64).0 as usize;
        if k == 0 {
            continue;
        }
        let mut order: Vec<usize> = (0..pool.len()).collect();
        // Stable: equal scores stay in pool order. -0.0 == +0.0.
        order.sort_by(|&a, &b| pool[a].0.partial_cmp(&pool[b].0).unwrap());
        match input.ties {
            Ties::Exact => {
                for &j in &order[..k] {
                    masks[pool[j].1][pool[j].2] = 0;
                }
            }
            Ties::Inclusive => {
                let t = pool[order[k - 1]].0;
                for &(s, li, x) in &pool {
                    if s <= t {
                        masks[li][x] = 0;
                    }
                }
            }
        }
    }
    masks
}

/// A NaN that `unit_scores` never writes (it writes keys back as values).
const UNWRITTEN: u32 = 0x7fc0_5a5a;

/// What one `prune` call gave: its result and every buffer it was handed
/// (made as `input.corrupt` says, masks filled with `SENTINEL`).
struct Outcome {
    result: Result<Summary, Error>,
    plans: Vec<LayerPlan>,
    bufs: Vec<Vec<u8>>,
}

fn run_prune(input: &Input, layers: &[Layer<'_>], opts: &Options, level: Level) -> Outcome {
    let n = layers.len();
    let off = match input.corrupt {
        Corrupt::MaskLen(j, longer) => Some((j, longer)),
        _ => None,
    };
    let lens = input.layers.iter().map(|l| l.data.len());
    let mut bufs = mask_buffers(lens, off, SENTINEL);
    let mut plans = vec![
        LayerPlan::default();
        if input.corrupt == Corrupt::PlanCount {
            n + 1
        } else {
            n
        }
    ];
    let result = {
        let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
        if input.corrupt == Corrupt::MaskCount {
            outs.pop();
        }
        Pruner::new()
            .level(level)
            .prune(layers, opts, &mut plans, &mut outs)
    };
    Outcome {
        result,
        plans,
        bufs,
    }
}

fn threshold_bits(t: Option<f32>) -> Option<u32> {
    t.map(f32::to_bits)
}

/// Summaries equal in every field, thresholds bit for bit.
fn same_summary(want: &Summary, got: &Summary, what: &str) {
    assert_eq!(got, want, "{what}: summary");
    assert_eq!(
        threshold_bits(got.threshold),
        threshold_bits(want.threshold),
        "{what}: summary threshold bits"
    );
}

/// Plans equal in every field (private ones included), thresholds bit
/// for bit.
fn same_plans(want: &[LayerPlan], got: &[LayerPlan], what: &str) {
    assert_eq!(got, want, "{what}: plans");
    for (li, (a, b)) in want.iter().zip(got).enumerate() {
        assert_eq!(
            threshold_bits(b.report().threshold),
            threshold_bits(a.report().threshold),
            "{what}: layer {li} threshold bits"
        );
    }
}

/// The stats counter of the SIMD kernel a layer's units reach, if any, by
/// the conditions in src/score (`simd_groups`, `block_scores`) and
/// src/arch: a contiguous view (a matrix, or a conv with 1x1 kernels), and
/// N:M groups of 2 to 32, or `1x4` blocks, or Nx1 blocks over 2 or more
/// columns (halves: at most 64 rows).
fn simd_kernel(layer: &LayerIn, geometry: Geometry, input: &Input) -> Option<usize> {
    let shape = layer.shape;
    let contiguous = match shape {
        Shape::Matrix { .. } => true,
        Shape::InOut { .. } => false,
        Shape::Conv { h, w, .. } => h == 1 && w == 1,
    };
    let g = grid(shape, geometry, input.compat).ok()?;
    let rows_ok = matches!(layer.data, Data::F32(_)) || g.unit_rows <= 64;
    match geometry {
        Geometry::NInM { m, .. } if contiguous && (2..=32).contains(&m) => Some(stats::SIMD_NM),
        Geometry::Block { .. } if contiguous && g.unit_rows == 1 && g.unit_cols == 4 => {
            Some(stats::SIMD_BLOCKS)
        }
        Geometry::Block { .. } if contiguous && g.unit_cols == 1 && g.cols >= 2 && rows_ok => {
            Some(stats::SIMD_BLOCKS)
        }
        _ => None,
    }
}

fuzz_target!(|input: Input| {
    let pattern = Pattern::parse(input.pattern).unwrap();
    let geometry = pattern.geometry();
    let mut opts = Options::new(pattern, input.sparsity)
        .scope(input.scope)
        .ties(input.ties)
        .max_sparsity_ratio_per_op(input.max_layer)
        .min_sparsity_ratio_per_op(input.min_layer)
        .cap(input.cap)
        .reduce(input.reduce)
        .criterion(input.criterion);
    opts.compat = input.compat;

    let layers: Vec<Layer<'_>> = input
        .layers
        .iter()
        .map(|l| Layer::new(l.data.scores(), l.shape))
        .collect();
    let n = layers.len();
    for kernel in [stats::SIMD_NM, stats::SIMD_BLOCKS] {
        if input
            .layers
            .iter()
            .any(|l| simd_kernel(l, geometry, &input) == Some(kernel))
        {
            stats::hit(kernel);
        }
    }

    // Every level this machine runs, scalar first; each SIMD level must give
    // what scalar gives. The checks below then hold for every level.
    let levels: Vec<Level> = Level::ALL
        .into_iter()
        .filter(|l| l.is_available())
        .collect();
    assert_eq!(levels[0], Level::Scalar);
    let Outcome {
        result,
        plans,
        bufs,
    } = run_prune(&input, &layers, &opts, Level::Scalar);
    for &level in &levels[1..] {
        let simd = run_prune(&input, &layers, &opts, level);
        let what = format!("{level:?} vs Scalar");
        match (&result, &simd.result) {
            (Ok(a), Ok(b)) => same_summary(a, b, &what),
            (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}"), "{what}: error"),
            (a, b) => panic!("{what}: prune gave {b:?}, scalar {a:?}"),
        }
        same_plans(&plans, &simd.plans, &what);
        assert!(bufs == simd.bufs, "{what}: masks differ");
        stats::hit(stats::LEVEL_CMP);
    }
    // A level this machine lacks is refused, and nothing is written.
    for level in Level::ALL.into_iter().filter(|l| !l.is_available()) {
        let o = run_prune(&input, &layers, &opts, level);
        let e = o.result.expect_err("prune at an unavailable level");
        if input.corrupt == Corrupt::None {
            assert_eq!(e.kind(), &ErrorKind::LevelUnavailable { level });
        }
        assert!(
            o.bufs.iter().flatten().all(|&x| x == SENTINEL),
            "{e}: wrote"
        );
        let mut out = [0.0f32; 1];
        let e = Pruner::new()
            .level(level)
            .unit_scores(&layers[0], &opts, &mut out);
        assert_eq!(
            e.map_err(|e| e.kind().clone()),
            Err(ErrorKind::LevelUnavailable { level })
        );
    }
    // unit_scores of each layer, at every level.
    for (li, (l, layer)) in input.layers.iter().zip(&layers).enumerate() {
        let fit = grid(l.shape, geometry, input.compat);
        let units = fit.map_or(0, |g| g.rows * g.cols);
        let scores_at = |level: Level| {
            let mut out = vec![f32::from_bits(UNWRITTEN); units];
            let r = Pruner::new()
                .level(level)
                .unit_scores(layer, &opts, &mut out);
            (r, out.iter().map(|x| x.to_bits()).collect::<Vec<u32>>())
        };
        let (want, want_bits) = scores_at(Level::Scalar);
        if want.is_ok() {
            assert_eq!(want, Ok(units), "layer {li}: unit_scores count");
            assert!(
                want_bits
                    .iter()
                    .all(|&b| !f32::from_bits(b).is_nan() && b != (-0.0f32).to_bits()),
                "layer {li}: unit_scores wrote NaN or -0.0"
            );
        } else {
            assert!(
                want_bits.iter().all(|&b| b == UNWRITTEN),
                "layer {li}: Err wrote"
            );
        }
        if let (Err(e), true) = (&want, ratios_valid(&input, geometry)) {
            match (e.kind(), fit) {
                (ErrorKind::NotFitting { reason }, Err(skip)) => assert_eq!(*reason, skip),
                (ErrorKind::NanScore { .. } | ErrorKind::NanUnit { .. }, Ok(_)) => {}
                (k, _) => panic!("layer {li}: unit_scores: {k:?} (grid {fit:?})"),
            }
        }
        for &level in &levels[1..] {
            let (got, got_bits) = scores_at(level);
            let what = format!("layer {li}: unit_scores at {level:?} vs Scalar");
            assert_eq!(format!("{got:?}"), format!("{want:?}"), "{what}");
            assert!(got_bits == want_bits, "{what}: scores differ");
            if got.is_ok() {
                stats::hit(stats::LEVEL_UNIT_SCORES);
            }
        }
    }

    let any_nan = input
        .layers
        .iter()
        .any(|l| (0..l.data.len()).any(|i| l.data.get(i).is_nan()));
    let valid = input.corrupt == Corrupt::None && ratios_valid(&input, geometry) && !any_nan;
    // Unit scores cannot be NaN: magnitudes are >= 0; block max and squared
    // L2 cannot mix infinities; finite scores up to 1e30 cannot overflow.
    let no_nan_unit = input.criterion == Criterion::Magnitude
        || (matches!(geometry, Geometry::Block { .. })
            && matches!(input.reduce, Reduce::Max | Reduce::L2))
        || input
            .layers
            .iter()
            .all(|l| (0..l.data.len()).all(|i| l.data.get(i).abs() <= 1e30));

    stats::hit(0);
    let summary = match result {
        Err(e) => {
            stats::hit(2);
            if valid {
                stats::hit(3);
            }
            assert!(!e.to_string().is_empty(), "empty error text: {e:?}");
            for (i, b) in bufs.iter().enumerate() {
                assert!(b.iter().all(|&x| x == SENTINEL), "Err ({e}) wrote mask {i}");
            }
            assert!(!(valid && no_nan_unit), "valid input rejected: {e}");
            match e.kind() {
                ErrorKind::NanScore { index } => {
                    let l = e.layer().expect("NaN error names its layer");
                    assert!(input.layers[l].data.get(*index).is_nan(), "{e}: not NaN");
                }
                ErrorKind::NanUnit { .. } => {
                    assert!(e.layer().is_some(), "{e}");
                    assert!(!no_nan_unit, "{e}");
                }
                _ => {}
            }
            return;
        }
        Ok(s) => s,
    };
    assert!(valid, "invalid input accepted: {input:?}");
    let reports: Vec<LayerReport> = plans.iter().map(|p| *p.report()).collect();
    stats::hit(1);

    // Structure of each layer's mask against its report.
    let (mut units, mut pruned_units, mut elements, mut pruned_elements) = (0, 0, 0, 0);
    let (mut skipped, mut bounded) = (0, 0);
    let exact = input.ties == Ties::Exact;
    for (li, (l, (r, mask))) in input
        .layers
        .iter()
        .zip(reports.iter().zip(&bufs))
        .enumerate()
    {
        assert!(
            mask.iter().all(|&x| x <= 1),
            "layer {li}: mask value not 0/1"
        );
        let zeros = mask.iter().filter(|&&x| x == 0).count() as u64;
        assert_eq!(r.elements, l.data.len() as u64, "layer {li}");
        assert_eq!(
            r.pruned_elements, zeros,
            "layer {li}: pruned_elements vs mask zeros"
        );
        assert!(r.pruned_units <= r.units, "layer {li}");
        assert!((0.0..=1.0).contains(&r.sparsity_ratio()));
        units += r.units;
        pruned_units += r.pruned_units;
        elements += r.elements;
        pruned_elements += r.pruned_elements;
        match grid(l.shape, geometry, input.compat) {
            Err(reason) => {
                assert_eq!(r.status, Status::Skipped(reason), "layer {li}");
                assert_eq!((r.units, r.pruned_units), (0, 0), "layer {li}");
                assert_eq!(zeros, 0, "layer {li}: skipped but pruned");
                skipped += 1;
            }
            Ok(g) => {
                assert!(
                    matches!(r.status, Status::Selected | Status::Bounded(_)),
                    "layer {li}: {:?}",
                    r.status
                );
                if let Status::Bounded(_) = r.status {
                    bounded += 1;
                }
                assert_eq!(r.units, (g.rows * g.cols) as u64, "layer {li}: units");
                let mut zero_units = 0u64;
                for gr in 0..g.rows {
                    for gc in 0..g.cols {
                        let mut z = 0;
                        for rr in gr * g.unit_rows..(gr + 1) * g.unit_rows {
                            for cc in gc * g.unit_cols..(gc + 1) * g.unit_cols {
                                z += (mask[flat(l.shape, rr, cc)] == 0) as usize;
                            }
                        }
                        if z == 0 {
                            continue;
                        }
                        zero_units += 1;
                        match geometry {
                            Geometry::Block { .. } => assert_eq!(
                                z,
                                g.unit_rows * g.unit_cols,
                                "layer {li}: block ({gr}, {gc}) partly pruned"
                            ),
                            Geometry::NInM { n, .. } => {
                                stats::hit(7);
                                if exact {
                                    assert_eq!(
                                        z, n,
                                        "layer {li}: group ({gr}, {gc}) has {z} zeros"
                                    );
                                } else {
                                    assert!(z >= n, "layer {li}: group ({gr}, {gc}) has {z} zeros");
                                }
                            }
                        }
                    }
                }
                assert_eq!(
                    zero_units, r.pruned_units,
                    "layer {li}: pruned units vs mask"
                );
            }
        }
    }
    assert_eq!(summary.layers, n);
    assert_eq!(summary.skipped, skipped);
    assert_eq!(summary.bounded, bounded);
    assert_eq!(summary.units, units);
    assert_eq!(summary.pruned_units, pruned_units);
    assert_eq!(summary.elements, elements);
    assert_eq!(summary.pruned_elements, pruned_elements);
    assert!((0.0..=1.0).contains(&summary.sparsity_ratio()));

    // Counts: k as documented, and what exact mode prunes.
    let sh = share(geometry);
    let target = |units: u64| count(&input, input.sparsity, sh, units).0;
    let max_u = |units: u64| count(&input, input.max_layer, sh, units).0;
    // Below the minimum: fewer than ceil(min * units).
    let min_u = |units: u64| count(&input, input.min_layer, sh, units).1;
    let pooled = |r: &LayerReport| !matches!(r.status, Status::Skipped(_));
    match input.scope {
        Scope::Global => {
            let k = target(units);
            assert_eq!(summary.target_units, k, "global target_units");
            if exact && bounded == 0 {
                assert_eq!(summary.pruned_units, k, "exact global, no bounded layer");
            }
            if !exact && bounded == 0 {
                assert!(summary.pruned_units >= k, "inclusive prunes at least k");
            }
        }
        Scope::Row => unreachable!("the input generator makes no row-scope run"),
        Scope::Local => {
            let k: u64 = reports
                .iter()
                .filter(|r| pooled(r))
                .map(|r| target(r.units))
                .sum();
            assert_eq!(summary.target_units, k, "local target_units");
            for (li, r) in reports.iter().enumerate() {
                if r.status == Status::Selected {
                    let k = target(r.units);
                    if exact {
                        assert_eq!(r.pruned_units, k, "layer {li}: exact local");
                    } else {
                        assert!(r.pruned_units >= k, "layer {li}: inclusive local");
                    }
                }
            }
        }
    }
    if bounded > 0 {
        stats::hit(4);
    }
    if exact && bounded == 0 && summary.target_units > 0 {
        stats::hit(5);
    }
    if exact && input.max_layer == 1.0 && input.min_layer == 0.0 {
        assert_eq!(bounded, 0, "bounds 0..1 held a layer");
        assert_eq!(summary.pruned_units, summary.target_units);
    }
    // Bounds (exact ties: a held layer prunes exactly its bound's k).
    if exact {
        for (li, r) in reports.iter().enumerate() {
            let frac = r.pruned_units as f64 / r.units.max(1) as f64;
            match (r.status, input.cap) {
                (Status::Bounded(Bound::Max), CapMode::Redistribute) => {
                    assert_eq!(r.pruned_units, max_u(r.units), "layer {li}: at max")
                }
                (Status::Bounded(Bound::Max), CapMode::Seed) => {
                    assert_eq!(
                        r.pruned_units,
                        count(&input, input.max_layer, (1, 1), r.units).0,
                        "layer {li}: seed cap"
                    )
                }
                (Status::Bounded(Bound::Min), _) => {
                    assert_eq!(
                        r.pruned_units,
                        count(&input, input.min_layer, sh, r.units).0,
                        "layer {li}: at min"
                    )
                }
                (Status::Selected, CapMode::Redistribute) => {
                    if input.compat == Compat::Inc20 {
                        // INC's float ratios, compared as floats.
                        let per = n_over_m(geometry);
                        let max_f = (input.max_layer / per).min(1.0);
                        let min_f = (input.min_layer / per).min(1.0);
                        assert!(
                            frac <= max_f && frac >= min_f,
                            "layer {li}: {frac} outside [{min_f}, {max_f}]"
                        )
                    } else {
                        let (low, high) = (min_u(r.units), max_u(r.units));
                        assert!(
                            (low..=high).contains(&r.pruned_units),
                            "layer {li}: {frac} outside [{low}, {high}] of {}",
                            r.units
                        )
                    }
                }
                _ => {}
            }
        }
    }

    // 1x1 against a sort.
    if geometry
        == (Geometry::Block {
            n: Extent::Fixed(1),
            m: Extent::Fixed(1),
        })
        && bounded == 0
    {
        stats::hit(6);
        let expected = oracle_1x1(&input, input.sparsity);
        for (li, (got, want)) in bufs.iter().zip(&expected).enumerate() {
            assert_eq!(got, want, "layer {li}: 1x1 mask differs from the sort");
        }
    }

    // plan + write_mask gives the same, at every level.
    for &level in &levels {
        let mut pruner = Pruner::new().level(level);
        let what = format!("plan at {level:?} vs prune at Scalar");
        let mut plans2 = vec![LayerPlan::default(); n];
        let summary2 = pruner
            .plan(&layers, &opts, &mut plans2)
            .expect("plan fails where prune succeeded");
        same_summary(&summary, &summary2, &what);
        same_plans(&plans, &plans2, &what);
        for (li, (layer, r)) in layers.iter().zip(&plans2).enumerate() {
            let mut m = vec![SENTINEL; layer.scores.len()];
            pruner
                .write_mask(layer, &opts, r, &mut m)
                .expect("write_mask of a planned layer");
            assert_eq!(
                m, bufs[li],
                "layer {li}: write_mask at {level:?} differs from prune"
            );
            // A wrong-length buffer is refused and left alone.
            let mut short = vec![SENTINEL; layer.scores.len() + 1];
            let e = pruner
                .write_mask(layer, &opts, r, &mut short)
                .expect_err("wrong mask length");
            assert!(!e.to_string().is_empty());
            assert!(short.iter().all(|&x| x == SENTINEL));
        }
    }

    // A pruner with scratch plans and prunes the same, at every level,
    // whatever the scratch: too small for the fast path, a few spare words
    // (the range or bucket cannot fit: radix fallbacks), or what
    // `Pruner::scratch_words` says (sample-select). The scratch starts as
    // garbage.
    let units: u64 = reports.iter().map(|r| r.units).sum();
    // One size a run (each run compares every level), chosen by the input.
    let sizes = [
        0,
        Pruner::SCRATCH_MIN + 2 * n + 3,
        Pruner::scratch_words(units),
    ];
    let words = sizes[(units as usize + n) % 3];
    let mut scratch = vec![u64::MAX; words];
    for &level in &levels {
        let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
        let what = format!("with_scratch ({words} words) at {level:?} vs prune at Scalar");
        let mut plans3 = vec![LayerPlan::default(); n];
        let summary3 = pruner
            .plan(&layers, &opts, &mut plans3)
            .expect("plan with scratch fails where prune succeeded");
        same_summary(&summary, &summary3, &what);
        same_plans(&plans, &plans3, &what);
        let mut masks3: Vec<Vec<u8>> = layers
            .iter()
            .map(|l| vec![SENTINEL; l.scores.len()])
            .collect();
        let mut outs: Vec<&mut [u8]> = masks3.iter_mut().map(|m| &mut m[..]).collect();
        pruner
            .prune(&layers, &opts, &mut plans3, &mut outs)
            .expect("prune with scratch fails where prune succeeded");
        assert_eq!(masks3, bufs, "{what}: prune masks");
    }
});
