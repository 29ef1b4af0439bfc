//! Property tests: the crate against an independent, deliberately naive
//! model of SEMANTICS.md (sorting instead of radix selection, explicit index
//! formulas instead of `View`), plus structural invariants.
//!
//! The model computes block and group scores in the canonical summation
//! order documented in `src/arch/all/sum.rs` (torch's CPU float32 order),
//! written out plainly for the small sizes generated here (fewer than 16
//! rows per block, fewer than 64 values per run), so general floats can be
//! compared bit for bit.

use std::cmp::Ordering;

use half::{bf16, f16};
use proptest::prelude::*;
use proptest::sample::select;
use prunemask::ext::{Extent, Geometry};
use prunemask::{
    Bound, CapMode, Compat, Criterion, Error, ErrorKind, Layer, LayerPlan, LayerReport, Level,
    Options, Pattern, Pruner, Reduce, Scope, Shape, SplitRange, Status, Summary, Ties,
};

const SENTINEL: u8 = 7;

const PATTERNS: &[&str] = &[
    "1x1",
    "4x1",
    "1x4",
    "2x2",
    "3x2",
    "2x1",
    "channelx1",
    "1xchannel",
    "2:4",
    "1:4",
    "4:8",
    "3:8",
    "1:2",
];

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        3 => (select(vec![1usize, 2, 3, 4, 6, 8]), select(vec![1usize, 2, 3, 4, 6, 8, 12, 16]))
            .prop_map(|(r, c)| Shape::matrix(r, c)),
        2 => (1usize..=4, select(vec![1usize, 2, 3, 4, 8]), 1usize..=3, 1usize..=2)
            .prop_map(|(o, i, h, w)| Shape::conv(o, i, h, w)),
        // Weights stored [in, out] (transformers' Conv1D).
        2 => (select(vec![1usize, 2, 3, 4, 6, 8, 12, 16]), select(vec![1usize, 2, 3, 4, 6, 8]))
            .prop_map(|(i, o)| Shape::in_out(i, o)),
    ]
}

fn elements(s: &Shape) -> usize {
    s.elements().unwrap()
}

/// Small integers (many ties), with -0.0 among them.
fn tie_value() -> BoxedStrategy<f32> {
    prop_oneof![
        8 => (-3i32..=3).prop_map(|v| v as f32),
        1 => Just(-0.0f32),
    ]
    .boxed()
}

/// Floats of every kind but NaN.
fn general_value() -> BoxedStrategy<f32> {
    prop_oneof![
        6 => -1000.0f32..1000.0,
        2 => (-3i32..=3).prop_map(|v| v as f32),
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => (1u32..0x0080_0000).prop_map(f32::from_bits),
        1 => (1u32..0x0080_0000).prop_map(|b| -f32::from_bits(b)),
        1 => Just(f32::MAX),
        1 => Just(-f32::MAX),
        1 => Just(f32::MIN_POSITIVE),
        1 => -1e30f32..1e30,
    ]
    .boxed()
}

fn value(general: bool) -> BoxedStrategy<f32> {
    if general {
        general_value()
    } else {
        tie_value()
    }
}

type Layers = Vec<(Shape, Vec<f32>)>;

fn layers_with(max_layers: usize, general: bool) -> impl Strategy<Value = Layers> {
    prop::collection::vec(shape(), 1..=max_layers).prop_flat_map(move |shapes| {
        let values: Vec<_> = shapes
            .iter()
            .map(|s| prop::collection::vec(value(general), elements(s)))
            .collect();
        (Just(shapes), values)
            .prop_map(|(shapes, values)| shapes.into_iter().zip(values).collect::<Vec<_>>())
    })
}

/// Tie-value layers, each shifted by its own offset, so that whole layers
/// rank below or above others (what per-layer bounds act on).
fn shifted_layers(max_layers: usize) -> impl Strategy<Value = Layers> {
    layers_with(max_layers, false).prop_flat_map(|ls| {
        let n = ls.len();
        (
            Just(ls),
            prop::collection::vec(select(vec![-10.0f32, 0.0, 10.0, 20.0]), n),
        )
            .prop_map(|(ls, offsets)| {
                ls.into_iter()
                    .zip(offsets)
                    .map(|((s, v), o)| (s, v.into_iter().map(|x| x + o).collect()))
                    .collect()
            })
    })
}

/// Layers of either kind of values.
fn layers(max_layers: usize) -> impl Strategy<Value = Layers> {
    any::<bool>().prop_flat_map(move |general| layers_with(max_layers, general))
}

/// The layers, each lending [`test_scale`] for the Wanda criterion.
fn layers_for<'a>(ls: &'a Layers, opts: &Options) -> Vec<Layer<'a>> {
    ls.iter()
        .map(|(s, v)| with_scale(Layer::new(&v[..], *s), opts))
        .collect()
}

/// The layer lending [`test_scale`] if the criterion is Wanda.
fn with_scale<'a>(layer: Layer<'a>, opts: &Options) -> Layer<'a> {
    if opts.criterion != Criterion::Wanda {
        return layer;
    }
    let inner = dims(&layer.shape).2;
    let scale: Vec<f32> = (0..inner).map(test_scale).collect();
    layer.input_scale(Vec::leak(scale))
}

/// The Wanda scale of input `j` in these tests: unequal, some below 1.
fn test_scale(j: usize) -> f32 {
    [0.5, 1.0, 3.0, 1e-3, 7.25][j % 5]
}

/// The most an N:M pattern can prune (1 for blocks).
fn per_unit(p: &Pattern) -> f64 {
    match p.geometry() {
        Geometry::NInM { n, m } => n as f64 / m as f64,
        Geometry::Block { .. } => 1.0,
    }
}

/// Options without per-layer bounds.
fn unbounded_options() -> impl Strategy<Value = Options> {
    (
        select(PATTERNS.to_vec()),
        prop_oneof![Just(0.0f64), Just(1.0f64), Just(0.5f64), 0.0f64..=1.0],
        select(vec![Scope::Global, Scope::Global, Scope::Local, Scope::Row]),
        any::<bool>(),
        select(vec![Reduce::Mean, Reduce::Sum, Reduce::Max, Reduce::L2]),
        prop_oneof![3 => Just(Criterion::Scores), 1 => Just(Criterion::Magnitude), 1 => Just(Criterion::Wanda)],
    )
        .prop_map(|(name, u, scope, exact, reduce, criterion)| {
            let p = Pattern::parse(name).unwrap();
            let s = u * per_unit(&p);
            // Row scope takes exact ties only.
            let exact = exact || scope == Scope::Row;
            Options::new(p, s)
                .scope(scope)
                .ties(if exact { Ties::Exact } else { Ties::Inclusive })
                .reduce(reduce)
                .criterion(criterion)
                .max_sparsity_ratio_per_op(1.0)
                .min_sparsity_ratio_per_op(0.0)
        })
}

/// Options with random bounds and cap mode.
fn bounded_options() -> impl Strategy<Value = Options> {
    (
        unbounded_options(),
        select(vec![0.3f64, 0.5, 0.75, 0.9, 0.98, 1.0]),
        select(vec![0.0f64, 0.0, 0.1, 0.25]),
        any::<bool>(),
    )
        .prop_map(|(o, max, min, seed)| {
            o.max_sparsity_ratio_per_op(max)
                .min_sparsity_ratio_per_op(min)
                .cap(if seed {
                    CapMode::Seed
                } else {
                    CapMode::Redistribute
                })
        })
}

// ---------------------------------------------------------------------------
// Running the crate
// ---------------------------------------------------------------------------

struct Out {
    masks: Vec<Vec<u8>>,
    /// The plans, compared whole.
    plans: Vec<LayerPlan>,
    /// Their reports.
    reports: Vec<LayerReport>,
    summary: Summary,
}

fn reports_of(plans: &[LayerPlan]) -> Vec<LayerReport> {
    plans.iter().map(|p| *p.report()).collect()
}

fn run(ls: &Layers, opts: &Options) -> Result<Out, Error> {
    let layers = layers_for(ls, opts);
    let mut masks: Vec<Vec<u8>> = ls.iter().map(|(_, v)| vec![SENTINEL; v.len()]).collect();
    let mut plans = vec![LayerPlan::default(); ls.len()];
    let res = {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        Pruner::new().prune(&layers, opts, &mut plans, &mut outs)
    };
    match res {
        Ok(summary) => Ok(Out {
            masks,
            reports: reports_of(&plans),
            plans,
            summary,
        }),
        Err(e) => {
            assert!(
                masks.iter().flatten().all(|&v| v == SENTINEL),
                "masks written on error {e}"
            );
            assert!(plans.iter().all(|r| *r == LayerPlan::default()));
            Err(e)
        }
    }
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// View `(rows, cols, inner)` of a shape.
fn dims(s: &Shape) -> (usize, usize, usize) {
    match *s {
        Shape::Matrix { rows, cols } => (rows, cols, cols),
        Shape::InOut { inputs, outputs } => (outputs, inputs, inputs),
        Shape::Conv { o, i, h, w } => (o, i * h * w, i),
    }
}

/// Flat OIHW index of view element `(r, c)`, straight from SEMANTICS 1.
fn flat(s: &Shape, r: usize, c: usize) -> usize {
    match *s {
        Shape::Matrix { cols, .. } => r * cols + c,
        // Stored [in, out]: view row r is output r, column c input c.
        Shape::InOut { outputs, .. } => c * outputs + r,
        Shape::Conv { i, h, w, .. } => {
            let ii = c % i;
            let k = c / i;
            let (hh, ww) = (k / w, k % w);
            ((r * i + ii) * h + hh) * w + ww
        }
    }
}

/// Total order of scores, `-0.0 == +0.0`, no NaN.
fn cmp(a: f32, b: f32) -> Ordering {
    a.partial_cmp(&b).expect("no NaN in the model")
}

/// torch's one-lane `row_sum`: four interleaved partial sums over the whole
/// quads, the leftovers into the first, then `((p0 + p1) + p2) + p3`.
fn row_sum(xs: &[f32]) -> f32 {
    assert!(xs.len() < 64, "model only covers short runs");
    let quads = xs.len() / 4;
    let mut p = [0.0f32; 4];
    for q in 0..quads {
        for (k, pk) in p.iter_mut().enumerate() {
            *pk += xs[4 * q + k];
        }
    }
    for &x in &xs[quads * 4..] {
        p[0] += x;
    }
    ((p[0] + p[1]) + p[2]) + p[3]
}

/// A contiguous run: `row_sum` below 8 values, else 8 lanes (lane `l`
/// sums `x[8v + l]` by `row_sum`), the tail summed from 0 and the lanes
/// added onto it in order.
fn run_sum(xs: &[f32]) -> f32 {
    if xs.len() < 8 {
        return row_sum(xs);
    }
    let vectors = xs.len() / 8;
    let mut acc = 0.0f32;
    for &x in &xs[vectors * 8..] {
        acc += x;
    }
    for l in 0..8 {
        let lane: Vec<f32> = (0..vectors).map(|v| xs[8 * v + l]).collect();
        acc += row_sum(&lane);
    }
    acc
}

/// A block's row results: contiguous when the layer has one block column;
/// else sequential for block columns inside torch's column chunks (32
/// columns, or 4 below 8 block columns), `row_sum` for the rest.
fn vertical_sum(rows: &[f32], uc: usize, ucols: usize) -> f32 {
    assert!(rows.len() < 16, "model only covers short blocks");
    if ucols == 1 {
        return run_sum(rows);
    }
    let chunk = if ucols >= 8 { 32 } else { 4 };
    if uc < chunk * (ucols / chunk) {
        rows.iter().fold(0.0f32, |a, &x| a + x)
    } else {
        row_sum(rows)
    }
}

fn max_of(xs: impl IntoIterator<Item = f32>) -> f32 {
    let mut m = f32::NEG_INFINITY;
    for x in xs {
        if cmp(x, m) == Ordering::Greater {
            m = x;
        }
    }
    m
}

fn block_score(rows: &[Vec<f32>], reduce: Reduce, uc: usize, ucols: usize) -> f32 {
    let bm = rows[0].len() as f32;
    let bn = rows.len() as f32;
    let v = |f: &dyn Fn(&Vec<f32>) -> f32| {
        let r: Vec<f32> = rows.iter().map(f).collect();
        vertical_sum(&r, uc, ucols)
    };
    match reduce {
        Reduce::Mean => v(&|r| run_sum(r) / bm) / bn,
        Reduce::Sum => v(&|r| run_sum(r)),
        Reduce::L2 => v(&|r| run_sum(&r.iter().map(|x| x * x).collect::<Vec<_>>())),
        Reduce::Max => max_of(rows.iter().map(|r| max_of(r.iter().copied()))),
    }
}

/// Least-n marks of a group: exact takes the first n by (score, column);
/// inclusive everything `<=` the n-th smallest.
fn least_n(vals: &[f32], n: usize, ties: Ties) -> Vec<bool> {
    let mut idx: Vec<usize> = (0..vals.len()).collect();
    idx.sort_by(|&a, &b| cmp(vals[a], vals[b]).then(a.cmp(&b)));
    let mut marks = vec![false; vals.len()];
    match ties {
        Ties::Exact => idx[..n].iter().for_each(|&j| marks[j] = true),
        Ties::Inclusive => {
            let t = vals[idx[n - 1]];
            for (j, &x) in vals.iter().enumerate() {
                marks[j] = cmp(x, t) != Ordering::Greater;
            }
        }
    }
    marks
}

struct Unit {
    score: f32,
    /// Unit row (the pool of row scope).
    row: usize,
    /// Flat indices that pruning the unit zeroes.
    zeroes: Vec<usize>,
}

enum Model {
    Skipped,
    Units(Vec<Unit>),
    /// The first unit (pool order) whose score is NaN.
    NanUnit(usize),
}

fn model_units(s: &Shape, vals: &[f32], opts: &Options) -> Model {
    let (rows, cols, inner) = dims(s);
    let read = |r: usize, c: usize| {
        let x = vals[flat(s, r, c)];
        match opts.criterion {
            Criterion::Magnitude => x.abs(),
            Criterion::Scores => x,
            Criterion::Wanda => x.abs() * test_scale(c % inner),
        }
    };
    let mut units = Vec::new();
    match opts.pattern.geometry() {
        Geometry::Block { n, m } => {
            let bn = match n {
                Extent::Fixed(v) => v,
                Extent::Channel => rows,
            };
            let bm = match m {
                Extent::Fixed(v) => v,
                Extent::Channel => cols,
            };
            if rows % bn != 0 || cols % bm != 0 {
                return Model::Skipped;
            }
            for ur in 0..rows / bn {
                for uc in 0..cols / bm {
                    let block: Vec<Vec<f32>> = (0..bn)
                        .map(|dr| (0..bm).map(|dc| read(ur * bn + dr, uc * bm + dc)).collect())
                        .collect();
                    let zeroes = (0..bn)
                        .flat_map(|dr| (0..bm).map(move |dc| (ur * bn + dr, uc * bm + dc)))
                        .map(|(r, c)| flat(s, r, c))
                        .collect();
                    units.push(Unit {
                        score: block_score(&block, opts.reduce, uc, cols / bm),
                        row: ur,
                        zeroes,
                    });
                }
            }
        }
        Geometry::NInM { n, m } => {
            if inner % m != 0 {
                return Model::Skipped;
            }
            for r in 0..rows {
                for g in 0..cols / m {
                    let g_vals: Vec<f32> = (0..m).map(|j| read(r, g * m + j)).collect();
                    let marks = least_n(&g_vals, n, opts.ties);
                    let masked: Vec<f32> = g_vals
                        .iter()
                        .zip(&marks)
                        .map(|(&x, &k)| if k { x } else { 0.0 })
                        .collect();
                    units.push(Unit {
                        score: run_sum(&masked) / m as f32,
                        row: r,
                        zeroes: (0..m)
                            .filter(|&j| marks[j])
                            .map(|j| flat(s, r, g * m + j))
                            .collect(),
                    });
                }
            }
        }
    }
    match units.iter().position(|u| u.score.is_nan()) {
        Some(i) => Model::NanUnit(i),
        None => Model::Units(units),
    }
}

/// `k` as the crate computes it.
fn k_of(opts: &Options, units: usize) -> u64 {
    count(opts, opts.target_sparsity, true, units as u64)
}

/// `floor(r * units)` for an element ratio `r` over units that prune `N/M`
/// of their elements (`per_group`, N:M), or whole, at most `units`, as
/// documented: the decimal `r` stands for (its `Display` form) times
/// `M/N`, exactly; INC 2.0's float product `int(r / (N/M) * units)` under
/// `inc_compat`.
fn count(opts: &Options, r: f64, per_group: bool, units: u64) -> u64 {
    let (n, m) = match opts.pattern.geometry() {
        Geometry::NInM { n, m } if per_group => (n as u128, m as u128),
        _ => (1, 1),
    };
    if opts.compat == Compat::Inc20 {
        return ((r / (n as f64 / m as f64)).min(1.0) * units as f64) as u64;
    }
    // The f64 nearest to N/M itself is every unit.
    if r == n as f64 / m as f64 {
        return units;
    }
    let text = format!("{r}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let digits: u128 = format!("{int}{frac}").parse().unwrap();
    let den = 10u128.pow(frac.len() as u32) * n;
    ((digits * m).min(den) * units as u128 / den) as u64
}

/// Which units of a pool `(layer, unit, score)` are pruned.
fn select_pool(pool: &[(usize, usize, f32)], k: u64, ties: Ties) -> Vec<bool> {
    let mut order: Vec<usize> = (0..pool.len()).collect();
    // Pool order is the order of `pool`: layer order, then unit index.
    order.sort_by(|&a, &b| cmp(pool[a].2, pool[b].2).then(a.cmp(&b)));
    let mut pruned = vec![false; pool.len()];
    if k == 0 {
        return pruned;
    }
    match ties {
        Ties::Exact => order[..k as usize].iter().for_each(|&i| pruned[i] = true),
        Ties::Inclusive => {
            let t = pool[order[k as usize - 1]].2;
            for (i, u) in pool.iter().enumerate() {
                pruned[i] = cmp(u.2, t) != Ordering::Greater;
            }
        }
    }
    pruned
}

struct ModelOut {
    masks: Vec<Vec<u8>>,
    /// Pruned units per layer.
    pruned: Vec<u64>,
    /// k summed over pools.
    k: u64,
}

/// The whole selection without per-layer bounds, or the expected error as
/// (layer, kind).
fn model(ls: &Layers, opts: &Options) -> Result<ModelOut, (usize, ErrorKind)> {
    let mut per_layer = Vec::new();
    for (i, (s, v)) in ls.iter().enumerate() {
        match model_units(s, v, opts) {
            Model::NanUnit(u) => return Err((i, ErrorKind::NanUnit { unit: u })),
            Model::Skipped => per_layer.push(None),
            Model::Units(units) => per_layer.push(Some(units)),
        }
    }
    let mut masks: Vec<Vec<u8>> = ls.iter().map(|(_, v)| vec![1u8; v.len()]).collect();
    let mut pruned = vec![0u64; ls.len()];
    // Pools as (layer, unit row or every row).
    let pools: Vec<Vec<(usize, Option<usize>)>> = match opts.scope {
        Scope::Global => vec![(0..ls.len()).map(|i| (i, None)).collect()],
        Scope::Local => (0..ls.len()).map(|i| vec![(i, None)]).collect(),
        Scope::Row => (0..ls.len())
            .flat_map(|i| {
                let rows = per_layer[i]
                    .as_ref()
                    .map_or(0, |u| u.last().map_or(0, |u| u.row + 1));
                (0..rows).map(move |r| vec![(i, Some(r))])
            })
            .collect(),
    };
    let mut k_total = 0;
    for members in pools {
        let mut pool = Vec::new();
        for &(l, row) in &members {
            if let Some(units) = &per_layer[l] {
                let in_pool = units
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| row.is_none_or(|r| x.row == r));
                pool.extend(in_pool.map(|(u, x)| (l, u, x.score)));
            }
        }
        if pool.is_empty() {
            continue;
        }
        let k = k_of(opts, pool.len());
        k_total += k;
        for (i, p) in select_pool(&pool, k, opts.ties).into_iter().enumerate() {
            if p {
                let (l, u, _) = pool[i];
                pruned[l] += 1;
                for &e in &per_layer[l].as_ref().unwrap()[u].zeroes {
                    masks[l][e] = 0;
                }
            }
        }
    }
    Ok(ModelOut {
        masks,
        pruned,
        k: k_total,
    })
}

/// Checks that hold for every successful run: masks are 0/1 and the report
/// counts agree with the masks.
fn check_counts(ls: &Layers, opts: &Options, out: &Out) -> Result<(), TestCaseError> {
    let mut zeros_total = 0;
    for (i, ((s, _), (m, r))) in ls
        .iter()
        .zip(out.masks.iter().zip(&out.reports))
        .enumerate()
    {
        prop_assert!(m.iter().all(|&v| v <= 1), "layer {}: mask not 0/1", i);
        let zeros = m.iter().filter(|&&v| v == 0).count() as u64;
        prop_assert_eq!(r.pruned_elements, zeros, "layer {} pruned_elements", i);
        prop_assert_eq!(r.elements, m.len() as u64);
        zeros_total += zeros;
        match model_units(s, &vec![0.0; m.len()], opts) {
            Model::Skipped => {
                prop_assert!(matches!(r.status, Status::Skipped(_)));
                prop_assert!(m.iter().all(|&v| v == 1));
                prop_assert_eq!((r.units, r.pruned_units), (0, 0));
            }
            Model::Units(units) => {
                prop_assert!(!matches!(r.status, Status::Skipped(_) | Status::Unplanned));
                prop_assert_eq!(r.units, units.len() as u64);
                // Pruned units are those with a zero: every unit's zeroes
                // (for N:M: the group's elements) are all 0 or all 1 for
                // blocks; a pruned N:M group has at least one zero.
                let all_elements = |u: usize| -> Vec<usize> {
                    // Element list of unit u (blocks: `zeroes` of the zero
                    // model is the whole block; N:M: the whole group).
                    match opts.pattern.geometry() {
                        Geometry::Block { .. } => units[u].zeroes.clone(),
                        Geometry::NInM { m: gm, .. } => {
                            let (_, cols, _) = dims(s);
                            let per_row = cols / gm;
                            let (row, g) = (u / per_row, u % per_row);
                            (0..gm).map(|j| flat(s, row, g * gm + j)).collect()
                        }
                    }
                };
                let mut with_zero = 0;
                for u in 0..units.len() {
                    let el = all_elements(u);
                    let z = el.iter().filter(|&&e| m[e] == 0).count();
                    if let Geometry::Block { .. } = opts.pattern.geometry() {
                        prop_assert!(z == 0 || z == el.len(), "block {} partly pruned", u);
                    }
                    with_zero += (z > 0) as u64;
                }
                prop_assert_eq!(r.pruned_units, with_zero, "layer {} pruned_units", i);
            }
            Model::NanUnit(_) => unreachable!(),
        }
    }
    prop_assert_eq!(out.summary.pruned_elements, zeros_total);
    prop_assert_eq!(
        out.summary.pruned_units,
        out.reports.iter().map(|r| r.pruned_units).sum::<u64>()
    );
    prop_assert_eq!(
        out.summary.elements,
        ls.iter().map(|(_, v)| v.len() as u64).sum::<u64>()
    );
    Ok(())
}

fn cfg(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

proptest! {
    #![proptest_config(cfg(256))]

    /// Without bounds the crate equals the model: exact mode prunes exactly
    /// the k = floor(s * units) smallest units by (score, pool order),
    /// inclusive mode every unit `<=` the k-th smallest, N:M groups take
    /// their least-N marks; errors for NaN unit scores name layer and unit.
    #[test]
    fn matches_model(ls in layers(3), opts in unbounded_options()) {
        let got = run(&ls, &opts);
        match (model(&ls, &opts), got) {
            (Ok(want), Ok(out)) => {
                check_counts(&ls, &opts, &out)?;
                prop_assert_eq!(&out.masks, &want.masks);
                let pruned: Vec<u64> = out.reports.iter().map(|r| r.pruned_units).collect();
                prop_assert_eq!(&pruned, &want.pruned);
                prop_assert_eq!(out.summary.target_units, want.k);
                if opts.ties == Ties::Exact {
                    prop_assert_eq!(out.summary.pruned_units, want.k);
                } else {
                    prop_assert!(out.summary.pruned_units >= want.k);
                }
            }
            (Err((layer, kind)), Err(e)) => {
                prop_assert_eq!(e.layer(), Some(layer));
                prop_assert_eq!(e.kind(), &kind);
            }
            (Ok(_), Err(e)) => prop_assert!(false, "unexpected error {}", e),
            (Err(k), Ok(_)) => prop_assert!(false, "expected error {:?}", k),
        }
    }

    /// N:M group structure: exact mode leaves every group with 0 or exactly
    /// N zeros (M - N survivors when pruned); inclusive mode leaves 0 or at
    /// least N zeros, and in a pruned group every zero scores no higher than
    /// every survivor (the zeros are exactly the elements `<=` the N-th
    /// smallest of the group).
    #[test]
    fn nm_groups(
        ls in layers(2),
        name in select(vec!["2:4", "1:4", "4:8", "3:8", "1:2"]),
        u in 0.0f64..=1.0,
        exact in any::<bool>(),
        global in any::<bool>(),
    ) {
        let p = Pattern::parse(name).unwrap();
        let Geometry::NInM { n, m } = p.geometry() else { unreachable!() };
        let s = u * per_unit(&p);
        let ties = if exact { Ties::Exact } else { Ties::Inclusive };
        let opts = Options::new(p, s)
            .ties(ties)
            .scope(if global { Scope::Global } else { Scope::Local })
            .max_sparsity_ratio_per_op(1.0);
        let Ok(out) = run(&ls, &opts) else { return Ok(()) };
        for ((shape, v), mask) in ls.iter().zip(&out.masks) {
            let (rows, cols, inner) = dims(shape);
            if inner % m != 0 {
                prop_assert!(mask.iter().all(|&x| x == 1));
                continue;
            }
            for r in 0..rows {
                for g in 0..cols / m {
                    let idx: Vec<usize> = (0..m).map(|j| flat(shape, r, g * m + j)).collect();
                    let zeros: Vec<usize> = idx.iter().copied().filter(|&e| mask[e] == 0).collect();
                    if zeros.is_empty() {
                        continue;
                    }
                    match ties {
                        Ties::Exact => prop_assert_eq!(zeros.len(), n),
                        Ties::Inclusive => prop_assert!(zeros.len() >= n),
                    }
                    let hi = zeros.iter().map(|&e| v[e]).fold(f32::NEG_INFINITY, f32::max);
                    for &e in &idx {
                        if mask[e] == 1 {
                            match ties {
                                Ties::Inclusive => prop_assert!(v[e] > hi),
                                Ties::Exact => prop_assert!(v[e] >= hi),
                            }
                        }
                    }
                }
            }
        }
    }

    /// Global over a single layer is local.
    #[test]
    fn global_single_layer_is_local(ls in layers(1), opts in bounded_options()) {
        let g = run(&ls, &opts.clone().scope(Scope::Global));
        let l = run(&ls, &opts.scope(Scope::Local));
        match (g, l) {
            (Ok(g), Ok(l)) => {
                prop_assert_eq!(&g.masks, &l.masks);
                prop_assert_eq!(&g.plans, &l.plans);
                prop_assert_eq!(g.summary.pruned_units, l.summary.pruned_units);
                prop_assert_eq!(g.summary.target_units, l.summary.target_units);
            }
            (Err(g), Err(l)) => prop_assert_eq!(g, l),
            (g, l) => prop_assert!(false, "{:?} vs {:?}", g.err(), l.err()),
        }
    }

    /// plan + write_mask layer by layer gives what prune gives, for any
    /// options (bounds and cap modes included).
    #[test]
    fn plan_then_write_mask_is_prune(ls in layers(3), opts in bounded_options()) {
        let layers = layers_for(&ls, &opts);
        let mut plans = vec![LayerPlan::default(); ls.len()];
        let mut pruner = Pruner::new();
        let planned = pruner.plan(&layers, &opts, &mut plans);
        match (run(&ls, &opts), planned) {
            (Ok(out), Ok(summary)) => {
                check_counts(&ls, &opts, &out)?;
                prop_assert_eq!(summary, out.summary);
                prop_assert_eq!(&plans, &out.plans);
                for (i, layer) in layers.iter().enumerate() {
                    let mut m = vec![SENTINEL; layer.scores.len()];
                    pruner.write_mask(layer, &opts, &plans[i], &mut m).unwrap();
                    prop_assert_eq!(&m, &out.masks[i], "layer {}", i);
                }
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "{:?} vs {:?}", a.err(), b.err()),
        }
    }

    /// A pruner with scratch gives the plans and summary of one without,
    /// whatever its scratch:
    /// too short for the wide histogram, a wide histogram with no room for
    /// candidates (16-bit passes and the counting pass), room for some, or
    /// plenty; the scratch starts with garbage.
    #[test]
    fn any_scratch_gives_the_plan(
        ls in layers(3),
        opts in bounded_options(),
        spare in select(vec![0usize, 1, 3, 6, 8, 16, 64, 100_000]),
        short in any::<bool>(),
    ) {
        let layers = layers_for(&ls, &opts);
        let mut want = vec![LayerPlan::default(); ls.len()];
        let mut got = vec![LayerPlan::default(); ls.len()];
        let words = if short { Pruner::SCRATCH_MIN - 1 } else { Pruner::SCRATCH_MIN + spare };
        let mut scratch = vec![0x5a5a_5a5a_5a5a_5a5au64; words];
        let a = Pruner::new().plan(&layers, &opts, &mut want);
        let b = Pruner::with_scratch(&mut scratch).plan(&layers, &opts, &mut got);
        prop_assert_eq!(a, b);
        prop_assert_eq!(want, got);
    }

    /// A global selection split over workers (any contiguous parts, each
    /// gathered on its own, merged in order) gives the plans and summary
    /// of one `plan` call, whatever the scratch of the merge (the
    /// candidates in memory, or too many: passes).
    #[test]
    fn split_selection_gives_the_plan(
        ls in layers(4),
        opts in bounded_options(),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..3),
        spare in select(vec![0usize, 8, 100_000]),
    ) {
        let opts = opts.scope(Scope::Global);
        let layers = layers_for(&ls, &opts);
        let mut want = vec![LayerPlan::default(); ls.len()];
        let expected = Pruner::new().plan(&layers, &opts, &mut want);
        let mut scratch = vec![0x5a5a_5a5a_5a5a_5a5au64; Pruner::SCRATCH_MIN + 100_000];
        let mut pruner = Pruner::with_scratch(&mut scratch);
        let range = match pruner.split_range(&layers, &opts) {
            Ok(Some(range)) => range,
            // No unit to prune, or no range from the sample: plan in one go.
            Ok(None) => return Ok(()),
            Err(e) => {
                prop_assert_eq!(Err(e), expected);
                return Ok(());
            }
        };
        let mut bounds: Vec<usize> = cuts.iter().map(|c| c.index(layers.len() + 1)).collect();
        bounds.extend([0, layers.len()]);
        bounds.sort_unstable();
        let mut parts = Vec::new();
        for w in bounds.windows(2) {
            let part = &layers[w[0]..w[1]];
            let elements: u64 = part.iter().map(|l| l.scores.len() as u64).sum();
            let mut out = vec![0u64; SplitRange::part_words(part.len(), elements) + 4096];
            match pruner.gather_part(part, w[0], &opts, &range, &mut out) {
                Ok(Some(used)) => {
                    out.truncate(used);
                    parts.push(out);
                }
                Ok(None) => prop_assert!(false, "part {:?} did not fit", w),
                Err(e) => {
                    // The first bad layer of the part is the first of all
                    // when earlier parts are valid.
                    prop_assert!(expected.is_err(), "{:?}", e);
                    return Ok(());
                }
            }
        }
        let words: Vec<&[u64]> = parts.iter().map(|p| &p[..]).collect();
        let mut got = vec![LayerPlan::default(); ls.len()];
        // The merge's scratch may hold fewer candidates than the parts.
        let mut merge_scratch = vec![0x5a5a_5a5a_5a5a_5a5au64; Pruner::SCRATCH_MIN + spare];
        let merged = Pruner::with_scratch(&mut merge_scratch).plan_split(&layers, &opts, &range, &words, &mut got);
        prop_assert_eq!(merged, expected);
        prop_assert_eq!(got, want);
    }

    /// Redistribute cap, exact ties, no minimum: no layer is pruned beyond
    /// max_sparsity_ratio_per_op, and the total is k whenever the caps leave
    /// room for it.
    #[test]
    fn redistribute_cap_holds(
        ls in shifted_layers(4),
        opts in unbounded_options(),
        max in select(vec![0.0f64, 0.2, 0.3, 0.5, 0.6, 0.75, 0.8, 0.9]),
    ) {
        // Row scope bounds each row (`row_scope_bounds_each_row`).
        prop_assume!(opts.scope != Scope::Row);
        let opts = opts
            .ties(Ties::Exact)
            .cap(CapMode::Redistribute)
            .max_sparsity_ratio_per_op(max)
            .min_sparsity_ratio_per_op(0.0);
        let max_u = (max / per_unit(&opts.pattern)).min(1.0);
        let out = run(&ls, &opts).expect("tie values never fail");
        check_counts(&ls, &opts, &out)?;
        let pools: Vec<Vec<usize>> = match opts.scope {
            Scope::Global => vec![(0..ls.len()).collect()],
            Scope::Local | Scope::Row => (0..ls.len()).map(|i| vec![i]).collect(),
        };
        for r in &out.reports {
            if r.units > 0 {
                prop_assert!(
                    r.pruned_units as f64 / r.units as f64 <= max_u + 1e-12,
                    "{} of {} above {}", r.pruned_units, r.units, max_u
                );
            }
        }
        for members in pools {
            let units: u64 = members.iter().map(|&i| out.reports[i].units).sum();
            let room: u64 = members
                .iter()
                .map(|&i| count(&opts, max, true, out.reports[i].units))
                .sum();
            let pruned: u64 = members.iter().map(|&i| out.reports[i].pruned_units).sum();
            let k = k_of(&opts, units as usize);
            if k <= room {
                prop_assert_eq!(pruned, k, "room {}", room);
            } else {
                prop_assert_eq!(pruned, room);
            }
        }
    }

    /// Every valid run, with bounds and both cap modes: masks are 0/1 and
    /// the reports and summary count what the masks hold; blocks are whole;
    /// a layer held at a bound is pruned at floor(bound * units) (at least
    /// that with inclusive ties). The seed cap counts
    /// `max_sparsity_ratio_per_op` in units as INC 2.0 does; redistribution
    /// counts `max_sparsity_ratio_per_op / (N/M)` groups.
    #[test]
    fn masks_and_counts_agree(ls in layers(3), opts in bounded_options()) {
        if let Ok(out) = run(&ls, &opts) {
            check_counts(&ls, &opts, &out)?;
            let (max, min) = (opts.max_sparsity_ratio_per_op, opts.min_sparsity_ratio_per_op);
            for r in out.reports.iter().filter(|_| opts.scope != Scope::Row) {
                let want = match r.status {
                    Status::Bounded(Bound::Max) => match opts.cap {
                        CapMode::Seed => count(&opts, max, false, r.units),
                        CapMode::Redistribute => count(&opts, max, true, r.units),
                    },
                    Status::Bounded(Bound::Min) => count(&opts, min, true, r.units),
                    _ => continue,
                };
                match opts.ties {
                    Ties::Exact => prop_assert_eq!(r.pruned_units, want),
                    Ties::Inclusive => prop_assert!(r.pruned_units >= want),
                }
            }
        }
    }

    /// Redistribution keeps every layer within [min_sparsity_ratio_per_op,
    /// max_sparsity_ratio_per_op] (the maximum in exact mode only: inclusive
    /// ties may exceed it).
    #[test]
    fn redistribute_respects_both_bounds(
        ls in shifted_layers(4),
        opts in unbounded_options(),
        max in select(vec![0.2f64, 0.5, 0.75, 1.0]),
        min in select(vec![0.0f64, 0.1, 0.2]),
    ) {
        prop_assume!(opts.scope != Scope::Row);
        let opts = opts
            .cap(CapMode::Redistribute)
            .max_sparsity_ratio_per_op(max)
            .min_sparsity_ratio_per_op(min);
        let pu = per_unit(&opts.pattern);
        let (max_u, min_u) = ((max / pu).min(1.0), (min / pu).min(1.0));
        let out = run(&ls, &opts).expect("tie values never fail");
        check_counts(&ls, &opts, &out)?;
        // The minimum holds even where k < 1 (k < 1 prunes nothing only
        // with the default minimum of 0).
        for (i, r) in out.reports.iter().enumerate() {
            if r.units == 0 {
                continue;
            }
            prop_assert!(
                r.pruned_units >= count(&opts, min, true, r.units),
                "layer {}: {} of {} under {} ({:?})", i, r.pruned_units, r.units, min_u, r.status
            );
            if opts.ties == Ties::Exact {
                prop_assert!(r.pruned_units as f64 / r.units as f64 <= max_u + 1e-12);
            }
        }
    }

    /// f16 and bf16 scores give the masks (or errors) of their widened f32
    /// values.
    #[test]
    fn halves_match_widened_f32(
        ls in layers(2),
        opts in bounded_options(),
    ) {
        let h: Vec<Vec<f16>> = ls.iter().map(|(_, v)| v.iter().map(|&x| f16::from_f32(x)).collect()).collect();
        let b: Vec<Vec<bf16>> = ls.iter().map(|(_, v)| v.iter().map(|&x| bf16::from_f32(x)).collect()).collect();
        let hw: Layers = ls.iter().zip(&h).map(|((s, _), v)| (*s, v.iter().map(|x| x.to_f32()).collect())).collect();
        let bw: Layers = ls.iter().zip(&b).map(|((s, _), v)| (*s, v.iter().map(|x| x.to_f32()).collect())).collect();
        for (halves, widened) in [
            (ls.iter().zip(&h).map(|((s, _), v)| with_scale(Layer::new(&v[..], *s), &opts)).collect::<Vec<_>>(), &hw),
            (ls.iter().zip(&b).map(|((s, _), v)| with_scale(Layer::new(&v[..], *s), &opts)).collect::<Vec<_>>(), &bw),
        ] {
            let mut masks: Vec<Vec<u8>> = halves.iter().map(|l| vec![SENTINEL; l.scores.len()]).collect();
            let mut plans = vec![LayerPlan::default(); halves.len()];
            let res = {
                let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
                Pruner::new().prune(&halves, &opts, &mut plans, &mut outs)
            };
            match (res, run(widened, &opts)) {
                (Ok(s), Ok(out)) => {
                    prop_assert_eq!(&masks, &out.masks);
                    prop_assert_eq!(s, out.summary);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "{:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
}

proptest! {
    #![proptest_config(cfg(128))]

    /// Block masks come back whole: every NxM block is all 0 or all 1 and the
    /// all-zero blocks are the pruned units (checked in `check_counts`), for
    /// block patterns on matrices and convs.
    #[test]
    fn block_masks_are_whole(
        ls in layers(3),
        name in select(vec!["4x1", "1x4", "2x2", "3x2", "2x1", "channelx1", "1xchannel", "1x2", "2x4"]),
        u in 0.0f64..=1.0,
        exact in any::<bool>(),
    ) {
        let opts = Options::new(Pattern::parse(name).unwrap(), u)
            .ties(if exact { Ties::Exact } else { Ties::Inclusive });
        if let Ok(out) = run(&ls, &opts) {
            check_counts(&ls, &opts, &out)?;
        }
    }

    /// The conv view maps every element exactly once, as SEMANTICS 1 says,
    /// and `View::run` walks `View::index` along a row.
    #[test]
    fn conv_view_is_a_permutation(o in 1usize..5, i in 1usize..6, h in 1usize..4, w in 1usize..4) {
        let s = Shape::conv(o, i, h, w);
        let v = s.view().unwrap();
        prop_assert_eq!((v.rows(), v.cols(), v.inner()), (o, h * w * i, i));
        let n = o * i * h * w;
        let mut seen = vec![false; n];
        for r in 0..v.rows() {
            for c in 0..v.cols() {
                let x = v.index(r, c);
                prop_assert_eq!(x, flat(&s, r, c));
                prop_assert!(!seen[x], "index {} twice", x);
                seen[x] = true;
            }
            for c0 in 0..v.cols() {
                let run: Vec<usize> = v.run(r, c0).take(v.cols() - c0).collect();
                let want: Vec<usize> = (c0..v.cols()).map(|c| v.index(r, c)).collect();
                prop_assert_eq!(run, want);
            }
        }
        prop_assert!(seen.iter().all(|&x| x));
        // A matrix view is the identity.
        let m = Shape::matrix(o, i * h).view().unwrap();
        for r in 0..o {
            for c in 0..i * h {
                prop_assert_eq!(m.index(r, c), r * i * h + c);
            }
        }
    }

    /// A NaN anywhere is reported with its layer and flat index, and nothing
    /// is written.
    #[test]
    fn nan_is_reported_and_nothing_written(
        ls in layers_with(3, false),
        opts in bounded_options(),
        which in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
    ) {
        let mut ls = ls;
        let l = which.index(ls.len());
        let e = at.index(ls[l].1.len());
        ls[l].1[e] = f32::NAN;
        let err = run(&ls, &opts).err().expect("NaN must fail");
        prop_assert_eq!(err.layer(), Some(l));
        prop_assert_eq!(err.kind(), &ErrorKind::NanScore { index: e });
        let mut plans = vec![LayerPlan::default(); ls.len()];
        prop_assert_eq!(Pruner::new().plan(&layers_for(&ls, &opts), &opts, &mut plans).unwrap_err(), err);
        prop_assert!(plans.iter().all(|r| *r == LayerPlan::default()));
    }

    /// Wrong score lengths, mask lengths and mask counts are reported with
    /// their layer, and nothing is written.
    #[test]
    fn bad_lengths_write_nothing(
        ls in layers_with(3, false),
        opts in bounded_options(),
        which in any::<prop::sample::Index>(),
        what in 0u8..3,
        longer in any::<bool>(),
    ) {
        let l = which.index(ls.len());
        let n = ls[l].1.len();
        let bad_len = if longer || n == 1 { n + 1 } else { n - 1 };
        let mut mask_lens: Vec<usize> = ls.iter().map(|(_, v)| v.len()).collect();
        let mut ls = ls;
        let expected = match what {
            0 => {
                ls[l].1.resize(bad_len, 1.0);
                mask_lens[l] = bad_len;
                (Some(l), ErrorKind::ScoreLength { expected: n, got: bad_len })
            }
            1 => {
                mask_lens[l] = bad_len;
                (Some(l), ErrorKind::MaskLength { expected: n, got: bad_len })
            }
            _ => {
                if longer { mask_lens.push(1) } else { mask_lens.pop(); }
                (None, ErrorKind::LayerCount { what: "masks", expected: ls.len(), got: mask_lens.len() })
            }
        };
        let layers = layers_for(&ls, &opts);
        let mut masks: Vec<Vec<u8>> = mask_lens.iter().map(|&n| vec![SENTINEL; n]).collect();
        let mut plans = vec![LayerPlan::default(); ls.len()];
        let err = {
            let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
            Pruner::new().prune(&layers, &opts, &mut plans, &mut outs).unwrap_err()
        };
        prop_assert_eq!((err.layer(), err.kind().clone()), expected);
        prop_assert!(masks.iter().flatten().all(|&v| v == SENTINEL));
        prop_assert!(plans.iter().all(|r| *r == LayerPlan::default()));
    }
}

proptest! {
    #![proptest_config(cfg(128))]

    /// `score_mass` is the two sums of `|w|` (kept, all) at every level,
    /// equal to an independent f64 sum up to rounding; all ones keep the
    /// whole mass exactly; f16 and bf16 weights read as their exact values.
    #[test]
    fn score_mass_sums(ls in layers(1), bits in prop::collection::vec(any::<bool>(), 0..2048)) {
        let (shape, v) = &ls[0];
        let mask: Vec<u8> = (0..v.len()).map(|i| u8::from(*bits.get(i).unwrap_or(&true))).collect();
        let halves: Vec<f16> = v.iter().map(|&x| f16::from_f32(x)).collect();
        let brains: Vec<bf16> = v.iter().map(|&x| bf16::from_f32(x)).collect();
        let typed = [
            (Layer::new(&v[..], *shape), v.clone()),
            (Layer::new(&halves[..], *shape), halves.iter().map(|x| x.to_f32()).collect()),
            (Layer::new(&brains[..], *shape), brains.iter().map(|x| x.to_f32()).collect()),
        ];
        for (layer, values) in &typed {
            let want_total: f64 = values.iter().map(|x| f64::from(x.abs())).sum();
            let want_kept: f64 = values.iter().zip(&mask).filter(|(_, &m)| m == 1).map(|(x, _)| f64::from(x.abs())).sum();
            let got = Pruner::new().score_mass(layer, Criterion::Magnitude, &mask).unwrap();
            // Infinite weights (and f16 overflow) give infinite sums.
            let close = |a: f64, b: f64| if b.is_finite() { (a - b).abs() <= 1e-12 * want_total.max(1.0) } else { a == b };
            prop_assert!(close(got.total, want_total), "{:?} vs {}", got, want_total);
            prop_assert!(close(got.kept, want_kept), "{:?} vs {}", got, want_kept);
            for level in Level::ALL.iter().filter(|l| l.is_available()) {
                let at = Pruner::new().level(*level).score_mass(layer, Criterion::Magnitude, &mask);
                prop_assert_eq!(at, Ok(got));
            }
            let all = Pruner::new().score_mass(layer, Criterion::Magnitude, &vec![1; mask.len()]).unwrap();
            prop_assert_eq!(all.kept, all.total);
            if all.total.is_finite() {
                prop_assert_eq!(all.fraction(), 1.0);
            }
        }
        // A mask value other than 0 and 1, or the wrong length, is refused.
        let mut bad = mask.clone();
        bad[0] = 2;
        prop_assert!(Pruner::new().score_mass(&typed[0].0, Criterion::Magnitude, &bad).is_err());
        prop_assert!(Pruner::new().score_mass(&typed[0].0, Criterion::Magnitude, &mask[1..]).is_err());
    }
}
