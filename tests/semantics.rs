//! Hand-computed golden cases for the semantics of SEMANTICS.md (in shared/,
//! beside the repository).
//!
//! Every expected mask below was derived by hand from the reference rules;
//! the derivation is in the comment next to the case. Masks are written in
//! the tensor's own flat (row-major, OIHW for convs) layout.

use half::{bf16, f16};
use prunemask::ext::{Extent, Geometry, KernelSet, Registry, Tile, BUILTIN_NAMES};
use prunemask::{
    Bound, CapMode, Compat, Criterion, Error, ErrorKind, Layer, LayerPlan, LayerReport, Level,
    Options, Pattern, Pruner, Reduce, Scope, Shape, SkipReason, Status, Summary, Ties,
};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const SENTINEL: u8 = 7;

fn pat(name: &str) -> Pattern {
    Pattern::parse(name).unwrap()
}

fn opts(name: &str, s: f64) -> Options {
    Options::new(pat(name), s)
}

/// Exact ties, no per-layer bounds.
fn exact(name: &str, s: f64) -> Options {
    opts(name, s)
        .ties(Ties::Exact)
        .max_sparsity_ratio_per_op(1.0)
        .min_sparsity_ratio_per_op(0.0)
}

/// Inclusive ties, no per-layer bounds.
fn incl(name: &str, s: f64) -> Options {
    opts(name, s)
        .ties(Ties::Inclusive)
        .max_sparsity_ratio_per_op(1.0)
        .min_sparsity_ratio_per_op(0.0)
}

fn mat(scores: &[f32], rows: usize, cols: usize) -> Layer<'_> {
    Layer::new(scores, Shape::matrix(rows, cols))
}

struct Out {
    masks: Vec<Vec<u8>>,
    /// The plans, compared whole.
    plans: Vec<LayerPlan>,
    /// Their reports.
    reports: Vec<LayerReport>,
    summary: Summary,
}

/// Runs `prune` on sentinel-filled masks and checks what must hold for any
/// successful call: masks are 0/1, the report counts match the masks, and the
/// summary adds up.
fn run(layers: &[Layer<'_>], opts: &Options) -> Out {
    let mut masks: Vec<Vec<u8>> = layers
        .iter()
        .map(|l| vec![SENTINEL; l.scores.len()])
        .collect();
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let summary = {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        Pruner::new()
            .prune(layers, opts, &mut plans, &mut outs)
            .unwrap()
    };
    let reports: Vec<LayerReport> = plans.iter().map(|p| *p.report()).collect();
    let mut pruned_elements = 0;
    for (i, (m, r)) in masks.iter().zip(&reports).enumerate() {
        assert!(m.iter().all(|&v| v <= 1), "layer {i}: mask not 0/1: {m:?}");
        let zeros = m.iter().filter(|&&v| v == 0).count() as u64;
        assert_eq!(r.pruned_elements, zeros, "layer {i}: pruned_elements");
        assert_eq!(r.elements, m.len() as u64, "layer {i}: elements");
        if let Status::Skipped(_) = r.status {
            assert!(m.iter().all(|&v| v == 1));
            assert_eq!((r.units, r.pruned_units), (0, 0));
        }
        pruned_elements += zeros;
    }
    assert_eq!(summary.pruned_elements, pruned_elements);
    assert_eq!(
        summary.pruned_units,
        reports.iter().map(|r| r.pruned_units).sum::<u64>()
    );
    assert_eq!(summary.layers, layers.len());
    Out {
        masks,
        plans,
        reports,
        summary,
    }
}

/// Masks of one run.
fn masks(layers: &[Layer<'_>], opts: &Options) -> Vec<Vec<u8>> {
    run(layers, opts).masks
}

/// Mask of a single layer.
fn mask1(layer: Layer<'_>, opts: &Options) -> Vec<u8> {
    masks(&[layer], opts).remove(0)
}

/// A plan no call in these tests writes: a planned layer of 12345 units.
fn marker_plan() -> LayerPlan {
    // A 1x13 layer no test prunes, with a threshold of its own (small, so
    // miri runs it quickly).
    let w: Vec<f32> = (0..13).map(|i| 0.125 + i as f32 * 0.25).collect();
    let mut plans = [LayerPlan::default()];
    Pruner::new()
        .plan(&[mat(&w, 1, 13)], &exact("1x1", 0.5), &mut plans)
        .unwrap();
    assert_eq!(plans[0].report().units, 13);
    assert_eq!(plans[0].report().threshold, Some(1.375));
    plans[0]
}

/// Runs `prune` with sentinel-filled masks of the given lengths and `plans`
/// marker plans, expects an error, and checks that neither the masks nor the
/// plans were touched.
fn prune_err_with(
    layers: &[Layer<'_>],
    opts: &Options,
    mask_lens: &[usize],
    plans: usize,
) -> Error {
    let mut masks: Vec<Vec<u8>> = mask_lens.iter().map(|&n| vec![SENTINEL; n]).collect();
    let marker = marker_plan();
    let mut reps = vec![marker; plans];
    let err = {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        Pruner::new()
            .prune(layers, opts, &mut reps, &mut outs)
            .unwrap_err()
    };
    for m in &masks {
        assert!(m.iter().all(|&v| v == SENTINEL), "mask written on error");
    }
    assert!(reps.iter().all(|r| *r == marker), "plans written on error");
    err
}

fn prune_err(layers: &[Layer<'_>], opts: &Options) -> Error {
    let lens: Vec<usize> = layers.iter().map(|l| l.scores.len()).collect();
    prune_err_with(layers, opts, &lens, layers.len())
}

fn ones(n: usize) -> Vec<u8> {
    vec![1; n]
}

// ---------------------------------------------------------------------------
// 1x1 (unstructured)
// ---------------------------------------------------------------------------

#[test]
fn unstructured_1x1_local() {
    // [5,3,8,1, 7,2,6,4], s = 0.5: k = 4, the four smallest are 1,2,3,4
    // (indices 3,5,1,7); threshold 4.
    let w = [5.0f32, 3.0, 8.0, 1.0, 7.0, 2.0, 6.0, 4.0];
    for o in [exact("1x1", 0.5), incl("1x1", 0.5)] {
        let out = run(&[mat(&w, 2, 4)], &o.scope(Scope::Local));
        assert_eq!(out.masks[0], [1, 0, 1, 0, 1, 0, 1, 0]);
        assert_eq!(out.reports[0].threshold, Some(4.0));
        assert_eq!(out.reports[0].units, 8);
        assert_eq!(out.reports[0].pruned_units, 4);
        assert_eq!(out.reports[0].status, Status::Selected);
        assert_eq!(out.summary.target_units, 4);
    }
}

#[test]
fn unstructured_1x1_magnitude() {
    // |[-5, 3, -1, 0.5]| = [5, 3, 1, 0.5], s = 0.5: k = 2 prunes 0.5 and 1
    // (indices 3 and 2). By raw score it would prune -5 and -1.
    let w = [-5.0f32, 3.0, -1.0, 0.5];
    let o = exact("1x1", 0.5);
    assert_eq!(mask1(mat(&w, 1, 4), &o), [0, 1, 0, 1]);
    let o = o.criterion(Criterion::Magnitude);
    assert_eq!(mask1(mat(&w, 1, 4), &o), [1, 1, 0, 0]);
}

// ---------------------------------------------------------------------------
// NxM blocks and their reductions
// ---------------------------------------------------------------------------

/// A 4x4 matrix whose four 4x1 blocks (its columns) rank differently under
/// each reduction:
///
/// ```text
///          c0      c1   c2      c3
/// rows     -8,0,0,2 1x4  0,0,0,1.5 3x4
/// mean     -1.5    1    0.375   3
/// sum      -6      4    1.5     12
/// max       2      1    1.5     3
/// l2 (sq)   68     4    2.25    36
/// |.| mean  2.5    1    0.375   3
/// ```
const RED: [f32; 16] = [
    -8.0, 1.0, 0.0, 3.0, //
    0.0, 1.0, 0.0, 3.0, //
    0.0, 1.0, 0.0, 3.0, //
    2.0, 1.0, 1.5, 3.0,
];

/// Row of a 4x4 mask that prunes the listed columns, repeated four times.
fn cols_pruned(cols: &[usize]) -> Vec<u8> {
    let row: Vec<u8> = (0..4).map(|c| (!cols.contains(&c)) as u8).collect();
    row.repeat(4)
}

#[test]
fn block_4x1_reductions() {
    // k = 1 (s = 0.25): mean/sum -> c0; max -> c1; l2 -> c2.
    // k = 2 (s = 0.5):  mean/sum -> c0,c2; max -> c1,c2; l2 -> c2,c1.
    let cases: [(Reduce, &[usize], &[usize]); 4] = [
        (Reduce::Mean, &[0], &[0, 2]),
        (Reduce::Sum, &[0], &[0, 2]),
        (Reduce::Max, &[1], &[1, 2]),
        (Reduce::L2, &[2], &[1, 2]),
    ];
    for (reduce, k1, k2) in cases {
        for ties in [Ties::Exact, Ties::Inclusive] {
            let o = exact("4x1", 0.25).reduce(reduce).ties(ties);
            assert_eq!(
                mask1(mat(&RED, 4, 4), &o),
                cols_pruned(k1),
                "{reduce:?} k=1"
            );
            let o = exact("4x1", 0.5).reduce(reduce).ties(ties);
            assert_eq!(
                mask1(mat(&RED, 4, 4), &o),
                cols_pruned(k2),
                "{reduce:?} k=2"
            );
        }
    }
    // The reported thresholds are the k-th unit scores.
    let th =
        |reduce, s| run(&[mat(&RED, 4, 4)], &exact("4x1", s).reduce(reduce)).reports[0].threshold;
    assert_eq!(th(Reduce::Mean, 0.25), Some(-1.5));
    assert_eq!(th(Reduce::Mean, 0.5), Some(0.375));
    assert_eq!(th(Reduce::Sum, 0.5), Some(1.5));
    assert_eq!(th(Reduce::Max, 0.5), Some(1.5));
    assert_eq!(th(Reduce::L2, 0.25), Some(2.25));
    assert_eq!(th(Reduce::L2, 0.5), Some(4.0));
}

#[test]
fn block_4x1_magnitude_mean() {
    // |.| means 2.5, 1, 0.375, 3: k = 1 prunes c2.
    let o = exact("4x1", 0.25).criterion(Criterion::Magnitude);
    assert_eq!(mask1(mat(&RED, 4, 4), &o), cols_pruned(&[2]));
}

#[test]
fn block_4x1_local_vs_global() {
    // A = RED (means -1.5, 1, 0.375, 3); B = 4x2 with column means 10, 20.
    // Local, s = 0.5: A prunes k=2 (c0, c2), B prunes k=1 (its c0).
    // Global, s = 0.5: pool of 6, k = 3 -> -1.5 (A c0), 0.375 (A c2), 1 (A c1).
    let b = [10.0f32, 20.0, 10.0, 20.0, 10.0, 20.0, 10.0, 20.0];
    let layers = [mat(&RED, 4, 4), mat(&b, 4, 2)];
    let local = run(&layers, &exact("4x1", 0.5).scope(Scope::Local));
    assert_eq!(local.masks[0], cols_pruned(&[0, 2]));
    assert_eq!(local.masks[1], [0, 1, 0, 1, 0, 1, 0, 1]);
    assert_eq!(local.summary.target_units, 3);
    assert_eq!(local.summary.threshold, None);
    assert_eq!(local.reports[1].threshold, Some(10.0));
    let global = run(&layers, &exact("4x1", 0.5).scope(Scope::Global));
    assert_eq!(global.masks[0], cols_pruned(&[0, 1, 2]));
    assert_eq!(global.masks[1], ones(8));
    assert_eq!(global.summary.target_units, 3);
    assert_eq!(global.summary.threshold, Some(1.0));
    assert_eq!(global.summary.units, 6);
    assert_eq!(global.summary.pruned_units, 3);
    assert_eq!(global.summary.pruned_elements, 12);
}

#[test]
fn block_1x4() {
    // 2x8: units row0 = [1,1,1,1] (mean 1), [5,5,5,5] (5);
    //      row1 = [0,9,0,0] (2.25), [2,2,2,2] (2).
    // s = 0.5: k = 2 -> unit 0 (1) and unit 3 (2).
    let w = [
        1.0f32, 1.0, 1.0, 1.0, 5.0, 5.0, 5.0, 5.0, //
        0.0, 9.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0,
    ];
    let out = run(&[mat(&w, 2, 8)], &exact("1x4", 0.5));
    assert_eq!(
        out.masks[0],
        [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0]
    );
    assert_eq!(out.reports[0].threshold, Some(2.0));
    // Max: units 1, 5, 9, 2 -> k = 2 prunes units 0 and 3 as well; with
    // s = 0.75, k = 3: 1, 2, 5 -> units 0, 3, 1.
    let m = mask1(mat(&w, 2, 8), &exact("1x4", 0.75).reduce(Reduce::Max));
    assert_eq!(m, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    // Mean with s = 0.75: 1, 2, 2.25 -> units 0, 3, 2.
    let m = mask1(mat(&w, 2, 8), &exact("1x4", 0.75));
    assert_eq!(m, [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
}

#[test]
fn block_2x2() {
    // 4x4, blocks (row-major): b00 = [1,2;3,4] mean 2.5, b01 = [1,1;1,1] 1,
    // b10 = [0,0;0,8] 2, b11 = [5,5;5,1] 4. s = 0.5: k = 2 -> b01, b10.
    let w = [
        1.0f32, 2.0, 1.0, 1.0, //
        3.0, 4.0, 1.0, 1.0, //
        0.0, 0.0, 5.0, 5.0, //
        0.0, 8.0, 5.0, 1.0,
    ];
    let expect = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1];
    let out = run(&[mat(&w, 4, 4)], &exact("2x2", 0.5));
    assert_eq!(out.masks[0], expect);
    assert_eq!(out.reports[0].units, 4);
    assert_eq!(out.reports[0].threshold, Some(2.0));
    // Sum: 10, 4, 8, 16 -> same two. Max: 4, 1, 8, 5 -> b01 (1), b00 (4).
    assert_eq!(
        mask1(mat(&w, 4, 4), &exact("2x2", 0.5).reduce(Reduce::Sum)),
        expect
    );
    let m = mask1(mat(&w, 4, 4), &exact("2x2", 0.5).reduce(Reduce::Max));
    assert_eq!(m, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    // L2: 30, 4, 64, 76 -> b01, b00 as well.
    let m = mask1(mat(&w, 4, 4), &exact("2x2", 0.5).reduce(Reduce::L2));
    assert_eq!(m, [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
}

#[test]
fn block_3x2_runtime_sized() {
    // "3x2" is not a built-in name: it is served by the runtime-sized kernel.
    let p = pat("3x2");
    assert_eq!(
        p.geometry(),
        Geometry::Block {
            n: Extent::Fixed(3),
            m: Extent::Fixed(2)
        }
    );
    assert!(!BUILTIN_NAMES.contains(&"3x2"));
    // 6x4: blocks of 3 rows x 2 cols, grid 2x2.
    // B00 = all 1 (mean 1); B01 = rows [6,6],[0,0],[0,0] (mean 2);
    // B10 = all 3 (mean 3); B11 = rows [0,3],[0,0],[0,0] (mean 0.5).
    // s = 0.5: k = 2 -> B11 (0.5), B00 (1).
    let w = [
        1.0f32, 1.0, 6.0, 6.0, //
        1.0, 1.0, 0.0, 0.0, //
        1.0, 1.0, 0.0, 0.0, //
        3.0, 3.0, 0.0, 3.0, //
        3.0, 3.0, 0.0, 0.0, //
        3.0, 3.0, 0.0, 0.0,
    ];
    let out = run(&[mat(&w, 6, 4)], &exact("3x2", 0.5));
    assert_eq!(
        out.masks[0],
        [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0]
    );
    assert_eq!(out.reports[0].units, 4);
    assert_eq!(out.reports[0].threshold, Some(1.0));
    // Max: 1, 6, 3, 3 -> k = 2 prunes B00, then B10 (3 at unit 2 comes
    // before the tie at unit 3 in exact mode); inclusive prunes both 3s.
    let m = mask1(mat(&w, 6, 4), &exact("3x2", 0.5).reduce(Reduce::Max));
    assert_eq!(
        m,
        [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]
    );
    let m = mask1(mat(&w, 6, 4), &incl("3x2", 0.5).reduce(Reduce::Max));
    assert_eq!(
        m,
        [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn block_channelx1_global_mean_vs_sum_and_ties() {
    // channelx1: one unit per column (all rows).
    // A (3x4) columns: c0 [1,1,1] mean 1 sum 3; c1 [0,0,9] mean 3 sum 9;
    //                  c2 [2,2,2] mean 2 sum 6;  c3 [-1,0,0] mean -1/3 sum -1.
    // B (2x2) columns: c0 [2,2] mean 2 sum 4;    c1 [5,5] mean 5 sum 10.
    // Global, s = 0.5: pool 6, k = 3.
    // mean: -1/3 (A3), 1 (A0), then 2 twice (A2, B0): t = 2.
    //   exact prunes A3, A0, A2 (A2 is first in pool order);
    //   inclusive prunes A3, A0, A2 and B0.
    // sum: -1 (A3), 3 (A0), 4 (B0) -> A3, A0, B0 (no tie, both modes).
    let a = [
        1.0f32, 0.0, 2.0, -1.0, //
        1.0, 0.0, 2.0, 0.0, //
        1.0, 9.0, 2.0, 0.0,
    ];
    let b = [2.0f32, 5.0, 2.0, 5.0];
    let layers = [mat(&a, 3, 4), mat(&b, 2, 2)];

    let out = run(&layers, &exact("channelx1", 0.5));
    assert_eq!(out.masks[0], [0, 1, 0, 0].repeat(3));
    assert_eq!(out.masks[1], ones(4));
    assert_eq!(out.summary.pruned_units, 3);
    assert_eq!(out.summary.threshold, Some(2.0));

    let out = run(&layers, &incl("channelx1", 0.5));
    assert_eq!(out.masks[0], [0, 1, 0, 0].repeat(3));
    assert_eq!(out.masks[1], [0, 1, 0, 1]);
    assert_eq!(out.summary.pruned_units, 4);
    assert_eq!(out.summary.target_units, 3);

    for o in [exact("channelx1", 0.5), incl("channelx1", 0.5)] {
        let out = run(&layers, &o.reduce(Reduce::Sum));
        assert_eq!(out.masks[0], [0, 1, 1, 0].repeat(3));
        assert_eq!(out.masks[1], [0, 1, 0, 1]);
    }
    // Max: A 1, 9, 2, 0; B 2, 5 -> k = 3: 0 (A3), 1 (A0), 2 (A2 first) exact.
    let out = run(&layers, &exact("channelx1", 0.5).reduce(Reduce::Max));
    assert_eq!(out.masks[0], [0, 1, 0, 0].repeat(3));
    assert_eq!(out.masks[1], ones(4));
    // L2: A 3, 81, 12, 1; B 8, 50 -> 1 (A3), 3 (A0), 8 (B0).
    let out = run(&layers, &exact("channelx1", 0.5).reduce(Reduce::L2));
    assert_eq!(out.masks[0], [0, 1, 1, 0].repeat(3));
    assert_eq!(out.masks[1], [0, 1, 0, 1]);
}

#[test]
fn block_1xchannel_ties() {
    // 1xchannel: one unit per row. 4x3 rows:
    // r0 [1,2,3] mean 2; r1 [0,0,0] 0; r2 [5,5,5] 5; r3 [-3,0,9] 2.
    // s = 0.5: k = 2, t = 2 (tie r0 / r3).
    // exact: r1, r0 (r0 first in row-major order); inclusive: r1, r0, r3.
    let w = [
        1.0f32, 2.0, 3.0, //
        0.0, 0.0, 0.0, //
        5.0, 5.0, 5.0, //
        -3.0, 0.0, 9.0,
    ];
    let out = run(
        &[mat(&w, 4, 3)],
        &exact("1xchannel", 0.5).scope(Scope::Local),
    );
    assert_eq!(out.masks[0], [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert_eq!(out.reports[0].pruned_units, 2);
    assert_eq!(out.reports[0].threshold, Some(2.0));
    let out = run(
        &[mat(&w, 4, 3)],
        &incl("1xchannel", 0.5).scope(Scope::Local),
    );
    assert_eq!(out.masks[0], [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
    assert_eq!(out.reports[0].pruned_units, 3);
    assert_eq!(out.reports[0].pruned_elements, 9);
    // Max: 3, 0, 5, 9 -> r1, r0. L2: 14, 0, 75, 90 -> r1, r0. Sum: 6, 0, 15, 6
    // -> tie like the mean.
    for reduce in [Reduce::Max, Reduce::L2] {
        for o in [exact("1xchannel", 0.5), incl("1xchannel", 0.5)] {
            let m = mask1(mat(&w, 4, 3), &o.reduce(reduce));
            assert_eq!(m, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1], "{reduce:?}");
        }
    }
    let m = mask1(mat(&w, 4, 3), &incl("1xchannel", 0.5).reduce(Reduce::Sum));
    assert_eq!(m, [0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
}

// ---------------------------------------------------------------------------
// N:M
// ---------------------------------------------------------------------------

/// 2x8 for 2:4: four groups.
/// g0 [4,1,3,2]: least-2 = cols 1,3, score (1+2)/4 = 0.75.
/// g1 [8,7,6,5]: least-2 = cols 2,3, score 11/4 = 2.75.
/// g2 [0,0,0,0]: exact least-2 = cols 0,1; inclusive marks all 4; score 0.
/// g3 [1,9,1,9]: least-2 = cols 0,2, score 0.5.
const NM24: [f32; 16] = [
    4.0, 1.0, 3.0, 2.0, 8.0, 7.0, 6.0, 5.0, //
    0.0, 0.0, 0.0, 0.0, 1.0, 9.0, 1.0, 9.0,
];

#[test]
fn nm_2_4_full_target() {
    // s = 0.5: block target 1, k = 4: every group takes its least-2 mask.
    let out = run(&[mat(&NM24, 2, 8)], &exact("2:4", 0.5));
    assert_eq!(
        out.masks[0],
        [1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1]
    );
    assert_eq!(out.reports[0].units, 4);
    assert_eq!(out.reports[0].pruned_units, 4);
    assert_eq!(out.reports[0].pruned_elements, 8);
    assert_eq!(out.summary.sparsity_ratio(), 0.5);
    // Inclusive: g2's least-2 marks all four zeros.
    let out = run(&[mat(&NM24, 2, 8)], &incl("2:4", 0.5));
    assert_eq!(
        out.masks[0],
        [1, 0, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1]
    );
    assert_eq!(out.reports[0].pruned_elements, 10);
}

#[test]
fn nm_2_4_partial_target() {
    // s = 0.25: block target 0.5, k = 2 of 4 groups: scores 0.75, 2.75, 0,
    // 0.5 -> g2 and g3. The other groups stay all ones.
    let out = run(&[mat(&NM24, 2, 8)], &exact("2:4", 0.25));
    assert_eq!(
        out.masks[0],
        [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1]
    );
    assert_eq!(out.summary.target_units, 2);
    assert_eq!(out.reports[0].threshold, Some(0.5));
    assert_eq!(out.summary.pruned_elements, 4);
    let out = run(&[mat(&NM24, 2, 8)], &incl("2:4", 0.25));
    assert_eq!(
        out.masks[0],
        [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1]
    );
    assert_eq!(out.reports[0].pruned_units, 2);
    assert_eq!(out.summary.pruned_elements, 6);
}

#[test]
fn nm_2_4_magnitude() {
    // |[-4, 1, -3, 2]| = [4,1,3,2] -> least-2 cols 1, 3 (by raw score it
    // would be cols 0, 2).
    let w = [-4.0f32, 1.0, -3.0, 2.0];
    assert_eq!(mask1(mat(&w, 1, 4), &exact("2:4", 0.5)), [0, 1, 0, 1]);
    let o = exact("2:4", 0.5).criterion(Criterion::Magnitude);
    assert_eq!(mask1(mat(&w, 1, 4), &o), [1, 0, 1, 0]);
}

#[test]
fn nm_2_4_local_vs_global() {
    // Layer A = NM24 (group scores 0.75, 2.75, 0, 0.5);
    // layer B = 1x8 [10,10,20,20, 1,1,1,1]: least-2 cols 0,1 score 5; g1
    // exact least-2 cols 4,5 score 0.5 (inclusive marks all, score 1).
    // s = 0.25 -> block target 0.5.
    // Local: A k = 2 -> g2, g3; B k = 1 -> g1 (0.5 < 5 exact; 1 < 5 incl).
    // Global (exact): 6 groups, k = 3: 0 (A g2), 0.5 (A g3), 0.5 (B g1):
    //   t = 0.5, A g3 and B g1 are both 0.5 and both fit in k = 3.
    // Global (inclusive): B g1 scores 1: 0, 0.5, 0.75 -> A g2, A g3, A g0.
    let b = [10.0f32, 10.0, 20.0, 20.0, 1.0, 1.0, 1.0, 1.0];
    let layers = [mat(&NM24, 2, 8), mat(&b, 1, 8)];
    let a_partial = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1];
    let out = run(&layers, &exact("2:4", 0.25).scope(Scope::Local));
    assert_eq!(out.masks[0], a_partial);
    assert_eq!(out.masks[1], [1, 1, 1, 1, 0, 0, 1, 1]);
    let out = run(&layers, &incl("2:4", 0.25).scope(Scope::Local));
    assert_eq!(out.masks[1], [1, 1, 1, 1, 0, 0, 0, 0]);
    let out = run(&layers, &exact("2:4", 0.25));
    assert_eq!(out.masks[0], a_partial);
    assert_eq!(out.masks[1], [1, 1, 1, 1, 0, 0, 1, 1]);
    let out = run(&layers, &incl("2:4", 0.25));
    assert_eq!(
        out.masks[0],
        [1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1]
    );
    assert_eq!(out.masks[1], ones(8));
}

#[test]
fn nm_1_4() {
    // 1x8: g0 [3,1,2,4]: least-1 col 1, score 0.25.
    // g1 [2,2,5,6]: exact least-1 col 4 (lower column first), score 0.5;
    //     inclusive marks cols 4 and 5, score 1.
    // s = 0.25: block target 1, both groups.
    assert_eq!(pat("1:4").geometry(), Geometry::NInM { n: 1, m: 4 });
    let w = [3.0f32, 1.0, 2.0, 4.0, 2.0, 2.0, 5.0, 6.0];
    assert_eq!(
        mask1(mat(&w, 1, 8), &exact("1:4", 0.25)),
        [1, 0, 1, 1, 0, 1, 1, 1]
    );
    let out = run(&[mat(&w, 1, 8)], &incl("1:4", 0.25));
    assert_eq!(out.masks[0], [1, 0, 1, 1, 0, 0, 1, 1]);
    // Inclusive least-N can mark more than N: 3 zeros for 2 groups of 1:4.
    assert_eq!(out.reports[0].pruned_elements, 3);
    // s = 0.125: k = 1 -> g0 (0.25) in both modes.
    for o in [exact("1:4", 0.125), incl("1:4", 0.125)] {
        assert_eq!(mask1(mat(&w, 1, 8), &o), [1, 0, 1, 1, 1, 1, 1, 1]);
    }
}

#[test]
fn nm_4_8() {
    // g0 [8,7,6,5,4,3,2,1]: least-4 = cols 4..8, score 10/8 = 1.25.
    // g1 [0,10,0,10,0,10,0,10]: least-4 = even cols, score 0.
    let w = [
        8.0f32, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, //
        0.0, 10.0, 0.0, 10.0, 0.0, 10.0, 0.0, 10.0,
    ];
    let out = run(&[mat(&w, 1, 16)], &exact("4:8", 0.5));
    assert_eq!(
        out.masks[0],
        [1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1]
    );
    // s = 0.25 -> k = 1 -> g1 only; threshold 0.
    let out = run(&[mat(&w, 1, 16)], &exact("4:8", 0.25));
    assert_eq!(
        out.masks[0],
        [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1]
    );
    assert_eq!(out.reports[0].threshold, Some(0.0));
    // Same as 2 rows of 8 (groups do not care about rows).
    let out2 = run(&[mat(&w, 2, 8)], &exact("4:8", 0.25));
    assert_eq!(out2.masks[0], out.masks[0]);
}

#[test]
fn nm_3_8_runtime_sized() {
    // "3:8" is not built in: the runtime-sized group kernel serves it.
    assert!(!BUILTIN_NAMES.contains(&"3:8"));
    assert_eq!(pat("3:8").geometry(), Geometry::NInM { n: 3, m: 8 });
    // [5,1,4,1,2,9,2,2]: sorted 1,1,2,2,2,4,5,9.
    // exact least-3: cols 1, 3, then the first 2 (col 4).
    // inclusive: t = 2 -> cols 1, 3, 4, 6, 7.
    // s = 3/8: block target 1, the single group is pruned.
    let w = [5.0f32, 1.0, 4.0, 1.0, 2.0, 9.0, 2.0, 2.0];
    let out = run(&[mat(&w, 1, 8)], &exact("3:8", 0.375));
    assert_eq!(out.masks[0], [1, 0, 1, 0, 0, 1, 1, 1]);
    assert_eq!(out.reports[0].pruned_elements, 3);
    let out = run(&[mat(&w, 1, 8)], &incl("3:8", 0.375));
    assert_eq!(out.masks[0], [1, 0, 1, 0, 0, 1, 0, 0]);
    assert_eq!(out.reports[0].pruned_elements, 5);
    // Two groups, s = 3/16: k = floor(0.5 * 2) = 1. Second group is all 0
    // (score 0, below the first group's (1+1+2)/8 = 0.5): only it is pruned.
    let mut w2 = w.to_vec();
    w2.extend([0.0f32; 8]);
    let m = mask1(mat(&w2, 2, 8), &exact("3:8", 0.1875));
    assert_eq!(m, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
    let m = mask1(mat(&w2, 2, 8), &incl("3:8", 0.1875));
    assert_eq!(m, [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
}

// ---------------------------------------------------------------------------
// Ties (SEMANTICS section 4)
// ---------------------------------------------------------------------------

#[test]
fn inclusive_ties_exceed_k_by_a_lot() {
    // Nine 1s and a 0; s = 0.2: k = 2, t = 1.
    // Inclusive prunes everything <= 1: all 10. Exact prunes 0 (idx 9) and
    // the first 1 (idx 0).
    let w = [1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0];
    let out = run(&[mat(&w, 1, 10)], &incl("1x1", 0.2));
    assert_eq!(out.masks[0], [0; 10]);
    assert_eq!(out.summary.target_units, 2);
    assert_eq!(out.summary.pruned_units, 10);
    assert_eq!(out.reports[0].threshold, Some(1.0));
    let out = run(&[mat(&w, 1, 10)], &exact("1x1", 0.2));
    assert_eq!(out.masks[0], [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!(out.summary.pruned_units, 2);
}

#[test]
fn inclusive_ties_under_the_cap() {
    // Same scores with INC 2.0's settings (cap 0.98, seed mode): the global
    // pass prunes all 10 (kept 0 < 0.02), the layer is recomputed alone at
    // floor(0.98 * 10) = 9: t = 9th smallest = 1, and inclusive ties prune
    // all 10 again. The layer is reported as held at the cap.
    let w = [1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0];
    let out = run(&[mat(&w, 1, 10)], &opts("1x1", 0.2).inc_compat());
    assert_eq!(out.masks[0], [0; 10]);
    assert_eq!(out.reports[0].status, Status::Bounded(Bound::Max));
    // Exact with the default redistribute cap never exceeds it.
    let out = run(&[mat(&w, 1, 10)], &opts("1x1", 0.2));
    assert_eq!(out.masks[0], [0, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    assert_eq!(out.reports[0].status, Status::Selected);
}

#[test]
fn exact_ties_follow_pool_order_across_layers() {
    // A = [3,1,2,2], B = [2,0,2,5], 1x1 global, s = 0.5: k = 4 of 8.
    // Sorted: 0 (B1), 1 (A1), then 2 at A2, A3, B0, B2: t = 2, 2 below, so
    // the 2 remaining go to the first equal units in pool order: A2, A3.
    // Inclusive prunes all four 2s.
    let a = [3.0f32, 1.0, 2.0, 2.0];
    let b = [2.0f32, 0.0, 2.0, 5.0];
    let out = run(&[mat(&a, 1, 4), mat(&b, 1, 4)], &exact("1x1", 0.5));
    assert_eq!(out.masks, [vec![1, 0, 0, 0], vec![1, 0, 1, 1]]);
    assert_eq!(out.summary.threshold, Some(2.0));
    let out = run(&[mat(&a, 1, 4), mat(&b, 1, 4)], &incl("1x1", 0.5));
    assert_eq!(out.masks, [vec![1, 0, 0, 0], vec![0, 0, 0, 1]]);
    assert_eq!(out.summary.pruned_units, 6);
    // Layer order decides: with B first, B0 and B2 take the two places.
    let out = run(&[mat(&b, 1, 4), mat(&a, 1, 4)], &exact("1x1", 0.5));
    assert_eq!(out.masks, [vec![0, 0, 0, 1], vec![1, 0, 1, 1]]);
    // Split across layers: with k = 5 (s = 0.625) the quota of 3 gives A2,
    // A3 and B0.
    let out = run(&[mat(&a, 1, 4), mat(&b, 1, 4)], &exact("1x1", 0.625));
    assert_eq!(out.masks, [vec![1, 0, 0, 0], vec![0, 0, 1, 1]]);
    // Within a layer the row-major unit index decides (2x2 matrix).
    let c = [2.0f32, 2.0, 2.0, 2.0];
    let m = mask1(mat(&c, 2, 2), &exact("1x1", 0.75));
    assert_eq!(m, [0, 0, 0, 1]);
}

#[test]
fn negative_zero_equals_positive_zero() {
    // [+0, -0, 5, 1], s = 0.25: k = 1, t = 0, two units equal to it.
    // Exact takes the first in pool order (index 0, +0.0): if -0.0 sorted
    // below +0.0 it would take index 1.
    let w = [0.0f32, -0.0, 5.0, 1.0];
    let out = run(&[mat(&w, 1, 4)], &exact("1x1", 0.25));
    assert_eq!(out.masks[0], [0, 1, 1, 1]);
    assert_eq!(out.reports[0].threshold.map(f32::to_bits), Some(0));
    let out = run(&[mat(&w, 1, 4)], &incl("1x1", 0.25));
    assert_eq!(out.masks[0], [0, 0, 1, 1]);
    // And the other way round: -0.0 first is taken first.
    let w = [-0.0f32, 0.0, 5.0, 1.0];
    assert_eq!(mask1(mat(&w, 1, 4), &exact("1x1", 0.25)), [0, 1, 1, 1]);
    // In N:M least-N: [0, -0, 0, 5] 2:4 exact marks cols 0, 1; inclusive
    // marks the three zeros.
    let g = [0.0f32, -0.0, 0.0, 5.0];
    assert_eq!(mask1(mat(&g, 1, 4), &exact("2:4", 0.5)), [0, 0, 1, 1]);
    assert_eq!(mask1(mat(&g, 1, 4), &incl("2:4", 0.5)), [0, 0, 0, 1]);
    // Block max of [-0, 0] and [0, -0] are equal block scores.
    let b = [-0.0f32, 0.0, 0.0, -0.0];
    let out = run(&[mat(&b, 1, 4)], &incl("1x2", 0.5).reduce(Reduce::Max));
    assert_eq!(out.masks[0], [0, 0, 0, 0]);
    let out = run(&[mat(&b, 1, 4)], &exact("1x2", 0.5).reduce(Reduce::Max));
    assert_eq!(out.masks[0], [0, 0, 1, 1]);
}

// ---------------------------------------------------------------------------
// Targets, k < 1, skipped layers
// ---------------------------------------------------------------------------

#[test]
fn k_below_one_keeps_everything() {
    // 4 units, s = 0.2: k = floor(0.8) = 0.
    let w = [1.0f32, 2.0, 3.0, 4.0];
    for o in [exact("1x1", 0.2), incl("1x1", 0.2)] {
        for d in [Scope::Global, Scope::Local] {
            let out = run(&[mat(&w, 1, 4)], &o.clone().scope(d));
            assert_eq!(out.masks, [ones(4)]);
            assert_eq!(out.summary.pruned_units, 0);
            assert_eq!(out.summary.target_units, 0);
            assert_eq!(out.reports[0].threshold, None);
            assert_eq!(out.summary.threshold, None);
        }
        // Locally each of two such layers has k = 0 ...
        let out = run(
            &[mat(&w, 1, 4), mat(&w, 2, 2)],
            &o.clone().scope(Scope::Local),
        );
        assert_eq!(out.masks, [ones(4), ones(4)]);
    }
    // ... globally the pool has 8 units: k = floor(1.6) = 1 prunes one unit
    // (the 1.0 of layer 0 in exact mode, both 1.0s in inclusive mode).
    let out = run(&[mat(&w, 1, 4), mat(&w, 2, 2)], &exact("1x1", 0.2));
    assert_eq!(out.masks, [vec![0, 1, 1, 1], ones(4)]);
    let out = run(&[mat(&w, 1, 4), mat(&w, 2, 2)], &incl("1x1", 0.2));
    assert_eq!(out.masks, [vec![0, 1, 1, 1], vec![0, 1, 1, 1]]);
    // 2:4 with s = 0.2 on 2 groups: block target 0.4, k = floor(0.8) = 0.
    let g = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
    assert_eq!(mask1(mat(&g, 1, 8), &exact("2:4", 0.2)), ones(8));
}

#[test]
fn targets_zero_and_one() {
    let w = [4.0f32, 3.0, 2.0, 1.0];
    for o in [exact("1x1", 0.0), incl("1x1", 0.0)] {
        let out = run(&[mat(&w, 2, 2)], &o);
        assert_eq!(out.masks[0], ones(4));
        assert_eq!(out.summary.target_units, 0);
    }
    // s = 1 with no cap prunes everything (2x1: column means 3 and 2).
    for (o, t) in [
        (exact("1x1", 1.0), 4.0),
        (incl("1x1", 1.0), 4.0),
        (exact("2x1", 1.0), 3.0),
    ] {
        let out = run(&[mat(&w, 2, 2)], &o);
        assert_eq!(out.masks[0], [0, 0, 0, 0]);
        assert_eq!(out.reports[0].threshold, Some(t));
    }
    // s = 1 with the default cap 0.98: the layer is held at floor(0.98 * 4)
    // = 3 units; nothing else can take the rest.
    let out = run(&[mat(&w, 2, 2)], &opts("1x1", 1.0));
    assert_eq!(out.masks[0], [1, 0, 0, 0]);
    assert_eq!(out.reports[0].status, Status::Bounded(Bound::Max));
    assert_eq!(out.summary.target_units, 4);
    assert_eq!(out.summary.pruned_units, 3);
    assert_eq!(out.summary.bounded, 1);
    // 2:4 at its maximum, 0.5, prunes every group.
    let g = [1.0f32, 2.0, 3.0, 4.0];
    assert_eq!(mask1(mat(&g, 1, 4), &opts("2:4", 0.5)), [0, 0, 1, 1]);
}

#[test]
fn skipped_layers_keep_all_ones() {
    // 4x1 does not fit 6x4 (6 % 4 != 0). The skipped layer holds the
    // smallest scores but takes no part in either pool.
    let a = [5.0f32, 1.0, 6.0, 2.0, 7.0, 3.0, 8.0, 4.0]; // 4x2: cols 6.5, 2.5
    let b = [-100.0f32; 24];
    let layers = [mat(&b, 6, 4), mat(&a, 4, 2)];
    for d in [Scope::Global, Scope::Local] {
        for o in [exact("4x1", 0.5), incl("4x1", 0.5)] {
            let out = run(&layers, &o.scope(d));
            assert_eq!(
                out.reports[0].status,
                Status::Skipped(SkipReason::Rows { rows: 6, block: 4 })
            );
            assert_eq!(out.masks[0], ones(24));
            assert_eq!(out.masks[1], [1, 0, 1, 0, 1, 0, 1, 0]);
            assert_eq!(out.summary.skipped, 1);
            assert_eq!(out.summary.units, 2);
            assert_eq!(out.summary.elements, 32);
            assert_eq!(out.summary.target_units, 1);
        }
    }
    // Columns: 1x4 on a 2x6 matrix.
    let c = [0.0f32; 12];
    let out = run(&[mat(&c, 2, 6)], &exact("1x4", 0.5));
    assert_eq!(
        out.reports[0].status,
        Status::Skipped(SkipReason::Cols { cols: 6, block: 4 })
    );
    assert_eq!(out.masks[0], ones(12));
    // 2:4 on a conv whose I (2) does not divide by 4 although H*W*I = 8 does.
    let conv = [0.0f32; 8];
    let out = run(
        &[Layer::new(&conv[..], Shape::conv(2, 2, 1, 2))],
        &exact("2:4", 0.5),
    );
    assert_eq!(
        out.reports[0].status,
        Status::Skipped(SkipReason::Cols { cols: 2, block: 4 })
    );
    assert_eq!(out.masks[0], ones(8));
    // All layers skipped: nothing to prune, no error.
    let out = run(&[mat(&c, 2, 6)], &exact("4x1", 0.5));
    assert_eq!(out.summary.pruned_units, 0);
    assert_eq!(out.summary.skipped, 1);
}

// ---------------------------------------------------------------------------
// Per-layer bounds
// ---------------------------------------------------------------------------

fn ramp(start: f32, n: usize) -> Vec<f32> {
    (0..n).map(|i| start + i as f32).collect()
}

#[test]
fn cap_seed_vs_redistribute() {
    // A = 0..10, B = 100..110, 1x1 global, s = 0.5: k = 10, the global pass
    // prunes all of A. Cap 0.8:
    // Seed: A's kept fraction 0 < 0.2 -> A alone at floor(0.8*10) = 8
    //   (0..7); B stays untouched; 8 pruned in total, short of 10.
    // Redistribute: A held at 8, k becomes 2 over B alone -> 100, 101.
    let a = ramp(0.0, 10);
    let b = ramp(100.0, 10);
    let layers = [mat(&a, 1, 10), mat(&b, 1, 10)];
    let held_a = [0, 0, 0, 0, 0, 0, 0, 0, 1, 1];
    for ties in [Ties::Exact, Ties::Inclusive] {
        let seed = run(
            &layers,
            &opts("1x1", 0.5)
                .ties(ties)
                .max_sparsity_ratio_per_op(0.8)
                .cap(CapMode::Seed),
        );
        assert_eq!(seed.masks, [held_a.to_vec(), ones(10)]);
        assert_eq!(seed.reports[0].status, Status::Bounded(Bound::Max));
        assert_eq!(seed.reports[1].status, Status::Selected);
        assert_eq!(seed.summary.pruned_units, 8);
        assert_eq!(seed.reports[0].threshold, Some(7.0));

        let redis = run(
            &layers,
            &opts("1x1", 0.5)
                .ties(ties)
                .max_sparsity_ratio_per_op(0.8)
                .cap(CapMode::Redistribute),
        );
        assert_eq!(
            redis.masks,
            [held_a.to_vec(), vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1]]
        );
        assert_eq!(redis.reports[0].status, Status::Bounded(Bound::Max));
        assert_eq!(redis.reports[1].status, Status::Selected);
        assert_eq!(redis.summary.pruned_units, 10);
        assert_eq!(redis.summary.bounded, 1);
        assert_eq!(redis.summary.threshold, Some(101.0));
    }
    // inc_compat is the seed mode.
    let out = run(
        &layers,
        &opts("1x1", 0.5).max_sparsity_ratio_per_op(0.8).inc_compat(),
    );
    assert_eq!(out.masks, [held_a.to_vec(), ones(10)]);
}

#[test]
fn cap_redistribute_iterates() {
    // A = 0..10, B = 10..20, C = 100..110; 1x1 global, cap 0.7,
    // s = 0.54: k = floor(16.2) = 16.
    // Round 1: t = 15: A all 10, B 6 (10..15) -> only A crosses 0.7 and is
    //   held at floor(0.7*10) = 7 (0..6); k becomes 9.
    // Round 2: B and C, k = 9: B 9 (10..18) -> B crosses, held at 7; k = 2.
    // Round 3: C alone, k = 2: 100, 101. Total 16.
    let a = ramp(0.0, 10);
    let b = ramp(10.0, 10);
    let c = ramp(100.0, 10);
    let layers = [mat(&a, 1, 10), mat(&b, 1, 10), mat(&c, 1, 10)];
    let out = run(&layers, &exact("1x1", 0.54).max_sparsity_ratio_per_op(0.7));
    let held = [0, 0, 0, 0, 0, 0, 0, 1, 1, 1];
    assert_eq!(
        out.masks,
        [
            held.to_vec(),
            held.to_vec(),
            vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
        ]
    );
    assert_eq!(out.summary.pruned_units, 16);
    assert_eq!(out.summary.bounded, 2);
    assert_eq!(out.reports[1].status, Status::Bounded(Bound::Max));
    assert_eq!(out.reports[2].status, Status::Selected);
    assert_eq!(out.summary.threshold, Some(101.0));
    // Seed mode: one global pass; only A is over the cap (B keeps 0.4 >=
    // 0.3) -> A recomputed at 7, B keeps its 6, C nothing: total 13.
    let out = run(
        &layers,
        &exact("1x1", 0.54)
            .max_sparsity_ratio_per_op(0.7)
            .cap(CapMode::Seed),
    );
    assert_eq!(
        out.masks,
        [held.to_vec(), vec![0, 0, 0, 0, 0, 0, 1, 1, 1, 1], ones(10)]
    );
    assert_eq!(out.summary.pruned_units, 13);
    // With s = 0.6 (k = 18) both A and B cross in the first pass (B has 8
    // of 10, kept 0.2 < 0.3): redistribute gives C the 4 left, seed none.
    let out = run(&layers, &exact("1x1", 0.6).max_sparsity_ratio_per_op(0.7));
    assert_eq!(out.masks[2], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert_eq!(out.summary.pruned_units, 18);
    let out = run(
        &layers,
        &exact("1x1", 0.6)
            .max_sparsity_ratio_per_op(0.7)
            .cap(CapMode::Seed),
    );
    assert_eq!(out.masks, [held.to_vec(), held.to_vec(), ones(10)]);
    assert_eq!(out.summary.pruned_units, 14);
}

#[test]
fn min_bound_holds_a_layer_at_its_minimum() {
    // A = 0..10, B = 100..110, 1x1 global, s = 0.5, min 0.3, no max:
    // the global pass gives B nothing, so B is held at floor(0.3*10) = 3
    // (100..102), and the remaining k = 7 goes to A (0..6).
    let a = ramp(0.0, 10);
    let b = ramp(100.0, 10);
    let layers = [mat(&a, 1, 10), mat(&b, 1, 10)];
    let out = run(&layers, &exact("1x1", 0.5).min_sparsity_ratio_per_op(0.3));
    assert_eq!(
        out.masks,
        [
            vec![0, 0, 0, 0, 0, 0, 0, 1, 1, 1],
            vec![0, 0, 0, 1, 1, 1, 1, 1, 1, 1]
        ]
    );
    assert_eq!(out.reports[1].status, Status::Bounded(Bound::Min));
    assert_eq!(out.reports[0].status, Status::Selected);
    assert_eq!(out.summary.pruned_units, 10);
}

#[test]
fn cap_on_nm_groups() {
    // 2:4 on A (1x8, small scores) and B (1x8, large): 4 groups.
    // s = 0.25: block target 0.5, k = 2 -> both A groups in the global pass.
    // max_sparsity_ratio_per_op 0.25 (elements) is 0.5 of A's groups:
    // redistribute holds A at floor(0.5*2) = 1 group (the smaller score) and
    // gives B the other.
    let a = [1.0f32, 2.0, 3.0, 4.0, 0.0, 0.0, 5.0, 5.0]; // scores 0.75, 0
    let b = [11.0f32, 12.0, 13.0, 14.0, 21.0, 22.0, 23.0, 24.0]; // 5.75, 10.75
    let layers = [mat(&a, 1, 8), mat(&b, 1, 8)];
    let out = run(&layers, &exact("2:4", 0.25));
    assert_eq!(out.masks, [vec![0, 0, 1, 1, 0, 0, 1, 1], ones(8)]);
    let out = run(&layers, &exact("2:4", 0.25).max_sparsity_ratio_per_op(0.25));
    assert_eq!(
        out.masks,
        [vec![1, 1, 1, 1, 0, 0, 1, 1], vec![0, 0, 1, 1, 1, 1, 1, 1]]
    );
    assert_eq!(out.reports[0].status, Status::Bounded(Bound::Max));
    assert_eq!(out.summary.pruned_units, 2);
}

// ---------------------------------------------------------------------------
// Conv layers (OIHW, view [O, H*W*I], c = (h*W + w)*I + i)
// ---------------------------------------------------------------------------

/// A GPT-2 `Conv1D` weight (`h.0.mlp.c_fc.weight`, stored `[in = 16, out =
/// 64]`), 2:4 at 0.5: every output keeps 2 of each group of 4 of its 16
/// input features, i.e. groups run down dimension 0 of the stored tensor.
/// The masks equal those of the same weights stored `[out, in]`, transposed
/// back.
#[test]
fn in_out_weights_group_along_inputs() {
    let (inputs, outputs) = (16, 64);
    let w: Vec<f32> = (0..inputs * outputs)
        .map(|i| ((i * 7919) % 1009) as f32 - 500.0)
        .collect();
    let stored = Layer::new(&w[..], Shape::in_out(inputs, outputs));
    let o = exact("2:4", 0.5).criterion(Criterion::Magnitude);
    let got = run(&[stored], &o);
    let mask = &got.masks[0];
    for out in 0..outputs {
        for group in 0..inputs / 4 {
            let kept: u8 = (0..4).map(|j| mask[(group * 4 + j) * outputs + out]).sum();
            assert_eq!(
                kept,
                2,
                "output {out}, inputs {}..{}",
                group * 4,
                group * 4 + 4
            );
        }
    }
    // The same weights stored [out, in].
    let mut t = vec![0.0f32; w.len()];
    for i in 0..inputs {
        for out in 0..outputs {
            t[out * inputs + i] = w[i * outputs + out];
        }
    }
    let want = run(&[mat(&t, outputs, inputs)], &o);
    for i in 0..inputs {
        for out in 0..outputs {
            assert_eq!(mask[i * outputs + out], want.masks[0][out * inputs + i]);
        }
    }
    assert_eq!(got.reports, want.reports);
}

/// A conv1d weight `[O = 16, I = 16, K = 5]` (`encoder.conv.weight`), 2:4:
/// pruned with groups of 4 input channels at each kernel position, as a
/// conv2d `[16, 16, 1, 5]` is.
#[test]
fn conv1d_groups_input_channels_at_each_position() {
    let (o, i, k) = (16, 16, 5);
    let w: Vec<f32> = (0..o * i * k).map(|x| ((x * 37) % 101) as f32).collect();
    let shape = Shape::from_dims(&[o, i, k]).unwrap();
    assert_eq!(shape, Shape::conv1d(o, i, k));
    let opts = exact("2:4", 0.5);
    let got = run(&[Layer::new(&w[..], shape)], &opts);
    let mask = &got.masks[0];
    for out in 0..o {
        for pos in 0..k {
            for group in 0..i / 4 {
                // Element [out][ch][pos] is at (out * I + ch) * K + pos.
                let kept: u8 = (0..4)
                    .map(|j| mask[(out * i + group * 4 + j) * k + pos])
                    .sum();
                assert_eq!(kept, 2, "output {out}, position {pos}, group {group}");
            }
        }
    }
    let conv2d = run(&[Layer::new(&w[..], Shape::conv(o, i, 1, k))], &opts);
    assert_eq!(got.masks, conv2d.masks);
    // conv3d [O, I, D, H, W] is [O, I, D*H, W].
    let w3: Vec<f32> = (0..4 * 8 * 2 * 3 * 2)
        .map(|x| ((x * 13) % 29) as f32)
        .collect();
    let s3 = Shape::from_dims(&[4, 8, 2, 3, 2]).unwrap();
    assert_eq!(s3, Shape::conv(4, 8, 6, 2));
    assert_eq!(s3.view().unwrap().cols(), 2 * 3 * 2 * 8);
    let m3 = &run(&[Layer::new(&w3[..], s3)], &opts).masks[0];
    let (o3, i3, p3) = (4, 8, 2 * 3 * 2);
    for out in 0..o3 {
        for pos in 0..p3 {
            for group in 0..i3 / 4 {
                let kept: u8 = (0..4)
                    .map(|j| m3[(out * i3 + group * 4 + j) * p3 + pos])
                    .sum();
                assert_eq!(
                    kept, 2,
                    "conv3d output {out}, position {pos}, group {group}"
                );
            }
        }
    }
}

/// `k = floor(s * units)` is the count the caller wrote: 0.29, 0.57 and
/// 0.58 of 100 units prune 29, 57 and 58, although their `f64` products
/// are 28.999..., 56.999..., 57.999...; INC 2.0's float product (28, 56,
/// 57) stays under `inc_compat`. The same for a 2:4 target in groups and
/// for the per-layer bounds.
#[test]
fn k_is_the_count_written() {
    let w: Vec<f32> = (0..100).map(|i| i as f32).collect();
    for (s, exact_k, inc_k) in [(0.29, 29, 28), (0.57, 57, 56), (0.58, 58, 57)] {
        assert_eq!((s * 100.0) as u64, inc_k, "the f64 product of {s}");
        let layers = [mat(&w, 1, 100)];
        let native = run(&layers, &exact("1x1", s));
        assert_eq!(native.summary.target_units, exact_k, "{s}");
        assert_eq!(native.summary.pruned_units, exact_k, "{s}");
        let inc = run(&layers, &exact("1x1", s).inc_compat());
        assert_eq!(inc.summary.target_units, inc_k, "{s} under inc_compat");
        // A layer held at max_sparsity_ratio_per_op = s: s of its units.
        let b: Vec<f32> = (0..100).map(|i| 1000.0 + i as f32).collect();
        let two = [mat(&w, 1, 100), mat(&b, 1, 100)];
        let held = run(&two, &exact("1x1", 0.6).max_sparsity_ratio_per_op(s));
        assert_eq!(held.reports[0].status, Status::Bounded(Bound::Max), "{s}");
        assert_eq!(held.reports[0].pruned_units, exact_k, "{s}");
    }
    // 2:4 at 0.29 of 400 elements: 0.58 of 200 groups, 116 of them.
    let w: Vec<f32> = (0..800).map(|i| ((i * 37) % 800) as f32).collect();
    let nm = run(&[mat(&w, 2, 400)], &exact("2:4", 0.29));
    assert_eq!(nm.summary.target_units, 116);
    // N/M as an f64 (1.0 / 3.0 for 1:3) is every group, although its
    // decimal, 0.3333333333333333, times 3 is just under 1.
    let w: Vec<f32> = (0..600).map(|i| ((i * 37) % 600) as f32).collect();
    for (pattern, s) in [("1:3", 1.0 / 3.0), ("2:3", 2.0 / 3.0), ("3:7", 3.0 / 7.0)] {
        let m: usize = pattern[2..].parse().unwrap();
        let layer = [mat(&w[..m * 60], 2, m * 30)];
        let all = run(&layer, &exact(pattern, s));
        assert_eq!(all.summary.target_units, all.summary.units, "{pattern}");
    }
}

#[test]
fn conv_view_mapping() {
    // OIHW [1, 2, 2, 2]: flat = i*4 + h*2 + w; view c = (h*2 + w)*2 + i.
    let v = Shape::conv(1, 2, 2, 2).view().unwrap();
    assert_eq!((v.rows(), v.cols(), v.inner()), (1, 8, 2));
    let order: Vec<usize> = (0..8).map(|c| v.index(0, c)).collect();
    // c: 0 (h0w0 i0) 1 (h0w0 i1) 2 (h0w1 i0) 3 (h0w1 i1) 4 (h1w0 i0) ...
    assert_eq!(order, [0, 4, 1, 5, 2, 6, 3, 7]);
    let run: Vec<usize> = v.run(0, 3).take(5).collect();
    assert_eq!(run, [5, 2, 6, 3, 7]);
}

#[test]
fn conv_2_4_groups_run_along_input_channels() {
    // OIHW [1, 4, 1, 2]: flat = i*2 + w. Group w=0 is flat 0,2,4,6; group
    // w=1 is flat 1,3,5,7. Scores flat [1..8]:
    // group w0 = [1,3,5,7] -> least-2 at i=0,1 -> flat 0, 2 (score 1);
    // group w1 = [2,4,6,8] -> least-2 at i=0,1 -> flat 1, 3 (score 1.5).
    // (Grouping the flat memory instead would prune flat 0,1 and 4,5.)
    let w: Vec<f32> = (1..=8).map(|x| x as f32).collect();
    let layer = Layer::new(&w[..], Shape::conv(1, 4, 1, 2));
    let out = run(&[layer], &exact("2:4", 0.5));
    assert_eq!(out.masks[0], [0, 0, 0, 0, 1, 1, 1, 1]);
    assert_eq!(out.reports[0].units, 2);
    // s = 0.25: k = 1 -> the w0 group only.
    let out = run(&[layer], &exact("2:4", 0.25));
    assert_eq!(out.masks[0], [0, 1, 0, 1, 1, 1, 1, 1]);
    assert_eq!(out.reports[0].threshold, Some(1.0));
}

#[test]
fn conv_blocks_land_at_oihw_positions() {
    // OIHW [1, 2, 1, 2] with a 1x2 block: view c = w*2 + i; view cols {0,1}
    // are flat {0 (i0w0), 2 (i1w0)}, cols {2,3} flat {1, 3}.
    // Scores flat [1, 5, 2, 6]: block 0 mean 1.5, block 1 mean 5.5.
    let w = [1.0f32, 5.0, 2.0, 6.0];
    let m = mask1(
        Layer::new(&w[..], Shape::conv(1, 2, 1, 2)),
        &exact("1x2", 0.5),
    );
    assert_eq!(m, [0, 1, 0, 1]);

    // OIHW [2, 2, 1, 4], 1x4: flat = o*8 + i*4 + w, view c = w*2 + i.
    // Block 0 of a row = w0,w1 (flat i*4 + {0,1}), block 1 = w2,w3.
    // o=0: flat [0,0,9,9, 0,0,9,9] -> block 0 = 0, block 1 = 9.
    // o=1: flat [9,9,1,1, 9,9,1,1] -> block 0 = 9, block 1 = 1.
    // s = 0.5: k = 2 -> o0 block 0 and o1 block 1.
    let w = [
        0.0f32, 0.0, 9.0, 9.0, 0.0, 0.0, 9.0, 9.0, //
        9.0, 9.0, 1.0, 1.0, 9.0, 9.0, 1.0, 1.0,
    ];
    let m = mask1(
        Layer::new(&w[..], Shape::conv(2, 2, 1, 4)),
        &exact("1x4", 0.5),
    );
    assert_eq!(m, [0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0]);

    // 4x1 on OIHW [4, 2, 1, 2]: a unit is one view column = one (w, i) over
    // all o. flat = o*4 + i*2 + w. Make (i1, w0) (flat o*4 + 2, view c = 1)
    // the smallest: k = 1 of 4 prunes exactly those four elements.
    let mut w = [0.0f32; 16];
    for o in 0..4 {
        w[o * 4..o * 4 + 4].copy_from_slice(&[5.0, 6.0, -1.0, 7.0]);
    }
    let out = run(
        &[Layer::new(&w[..], Shape::conv(4, 2, 1, 2))],
        &exact("4x1", 0.25),
    );
    assert_eq!(out.masks[0], [1, 1, 0, 1].repeat(4));
    assert_eq!(out.reports[0].units, 4);

    // channelx1 on a conv: a unit is one (h, w, i) over all output channels.
    let out = run(
        &[Layer::new(&w[..], Shape::conv(4, 2, 1, 2))],
        &exact("channelx1", 0.25),
    );
    assert_eq!(out.masks[0], [1, 1, 0, 1].repeat(4));
}

#[test]
fn conv_nan_reports_the_flat_index() {
    // OIHW [1, 4, 1, 2]: the NaN at flat 3 (i1, w1) is in view column 5.
    let mut w = [1.0f32; 8];
    w[3] = f32::NAN;
    let other = [1.0f32; 4];
    let layers = [
        mat(&other, 1, 4),
        Layer::new(&w[..], Shape::conv(1, 4, 1, 2)),
    ];
    for name in ["2:4", "1x1", "1x4", "4x1" /* skipped: rows */] {
        let err = prune_err(&layers, &exact(name, 0.25));
        assert_eq!(err.layer(), Some(1), "{name}");
        assert_eq!(err.kind(), &ErrorKind::NanScore { index: 3 }, "{name}");
    }
}

// ---------------------------------------------------------------------------
// Half precision
// ---------------------------------------------------------------------------

#[test]
fn half_scores_match_f32() {
    // Values that f16 and bf16 round differently; each half slice is compared
    // with the f32 slice of its own widened values.
    let raw: Vec<f32> = (0..32)
        .map(|i| ((i * 37 % 32) as f32 - 16.0) * 0.173 + if i % 5 == 0 { 0.0 } else { 1.0 / 3.0 })
        .collect();
    let h: Vec<f16> = raw.iter().map(|&x| f16::from_f32(x)).collect();
    let b: Vec<bf16> = raw.iter().map(|&x| bf16::from_f32(x)).collect();
    let hw: Vec<f32> = h.iter().map(|x| x.to_f32()).collect();
    let bw: Vec<f32> = b.iter().map(|x| x.to_f32()).collect();
    let all = [
        exact("1x1", 0.5),
        incl("1x1", 0.3),
        exact("4x1", 0.5),
        exact("2x2", 0.5).reduce(Reduce::L2),
        exact("1x4", 0.5).reduce(Reduce::Max),
        exact("2:4", 0.5),
        incl("2:4", 0.25),
        exact("1:4", 0.2).criterion(Criterion::Magnitude),
        exact("4:8", 0.5).criterion(Criterion::Magnitude),
    ];
    for o in &all {
        for shape in [Shape::matrix(4, 8), Shape::conv(2, 4, 2, 2)] {
            let mh = masks(&[Layer::new(&h[..], shape)], o);
            let mhw = masks(&[Layer::new(&hw[..], shape)], o);
            assert_eq!(mh, mhw, "f16 {} {shape:?}", o.pattern.name());
            let mb = masks(&[Layer::new(&b[..], shape)], o);
            let mbw = masks(&[Layer::new(&bw[..], shape)], o);
            assert_eq!(mb, mbw, "bf16 {} {shape:?}", o.pattern.name());
            // Mixed element types in one global pool.
            let mixed = masks(&[Layer::new(&h[..], shape), Layer::new(&b[..], shape)], o);
            let widened = masks(&[Layer::new(&hw[..], shape), Layer::new(&bw[..], shape)], o);
            assert_eq!(mixed, widened);
        }
    }
    // A hand case: 1x1 on f16 [3, 1, 2, 0.5]: k = 2 -> 0.5 and 1.
    let h = [3.0f32, 1.0, 2.0, 0.5].map(f16::from_f32);
    assert_eq!(
        mask1(Layer::new(&h[..], Shape::matrix(1, 4)), &exact("1x1", 0.5)),
        [1, 0, 1, 0]
    );
    let b = [3.0f32, 1.0, 2.0, 0.5].map(bf16::from_f32);
    assert_eq!(
        mask1(Layer::new(&b[..], Shape::matrix(1, 4)), &exact("1x1", 0.5)),
        [1, 0, 1, 0]
    );
}

#[test]
fn half_nan_is_an_error() {
    let h = [f16::from_f32(1.0), f16::NAN, f16::from_f32(2.0), f16::ZERO];
    let err = prune_err(
        &[Layer::new(&h[..], Shape::matrix(2, 2))],
        &exact("1x1", 0.5),
    );
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(0), &ErrorKind::NanScore { index: 1 })
    );
    let b = [bf16::ONE, bf16::ONE, bf16::ONE, bf16::NAN];
    let err = prune_err(
        &[Layer::new(&b[..], Shape::matrix(2, 2))],
        &exact("2:4", 0.5),
    );
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(0), &ErrorKind::NanScore { index: 3 })
    );
}

// ---------------------------------------------------------------------------
// Infinities and NaN
// ---------------------------------------------------------------------------

#[test]
fn infinities_are_ordered() {
    // [inf, -inf, 0, 1], s = 0.5: -inf and 0.
    let w = [f32::INFINITY, f32::NEG_INFINITY, 0.0, 1.0];
    let out = run(&[mat(&w, 1, 4)], &exact("1x1", 0.5));
    assert_eq!(out.masks[0], [1, 0, 0, 1]);
    assert_eq!(out.reports[0].threshold, Some(0.0));
    // s = 0.25: threshold -inf.
    let out = run(&[mat(&w, 1, 4)], &exact("1x1", 0.25));
    assert_eq!(out.masks[0], [1, 0, 1, 1]);
    assert_eq!(out.reports[0].threshold, Some(f32::NEG_INFINITY));
    // s = 0.75, inclusive: t = 1; +inf kept.
    let out = run(&[mat(&w, 1, 4)], &incl("1x1", 0.75));
    assert_eq!(out.masks[0], [1, 0, 0, 0]);
    // s = 1: +inf is the threshold and is pruned too.
    let out = run(&[mat(&w, 1, 4)], &exact("1x1", 1.0));
    assert_eq!(out.masks[0], [0, 0, 0, 0]);
    assert_eq!(out.reports[0].threshold, Some(f32::INFINITY));
    // 2x2 [inf, -inf; 3, 1]:
    // 2x1 mean: c0 (inf + 3)/2 = inf, c1 (-inf + 1)/2 = -inf -> c1.
    // 2x1 max: inf, 1 -> c1. 1x2 max: r0 inf, r1 3 -> r1.
    // 1x2 L2: r0 inf + inf = inf, r1 10 -> r1.
    let w = [f32::INFINITY, f32::NEG_INFINITY, 3.0, 1.0];
    let out = run(&[mat(&w, 2, 2)], &exact("2x1", 0.5));
    assert_eq!(out.masks[0], [1, 0, 1, 0]);
    assert_eq!(out.reports[0].threshold, Some(f32::NEG_INFINITY));
    let m = mask1(mat(&w, 2, 2), &exact("2x1", 0.5).reduce(Reduce::Max));
    assert_eq!(m, [1, 0, 1, 0]);
    let m = mask1(mat(&w, 2, 2), &exact("1x2", 0.5).reduce(Reduce::Max));
    assert_eq!(m, [1, 1, 0, 0]);
    let m = mask1(mat(&w, 2, 2), &exact("1x2", 0.5).reduce(Reduce::L2));
    assert_eq!(m, [1, 1, 0, 0]);
    // L2 squares -inf to +inf: [inf, 0; -inf, 0] rows are inf and inf, a
    // tie broken by pool order.
    let w = [f32::INFINITY, 0.0, f32::NEG_INFINITY, 0.0];
    let out = run(&[mat(&w, 2, 2)], &exact("1x2", 0.5).reduce(Reduce::L2));
    assert_eq!(out.masks[0], [0, 0, 1, 1]);
    assert_eq!(out.reports[0].threshold, Some(f32::INFINITY));
    // Sum: inf vs -inf.
    let m = mask1(mat(&w, 2, 2), &exact("1x2", 0.5).reduce(Reduce::Sum));
    assert_eq!(m, [1, 1, 0, 0]);
}

#[test]
fn nm_group_with_kept_infinity() {
    // g0 [inf, 1, 2, inf]: least-2 = 1, 2, score 0.75 (INC would compute
    //   inf * 0 = NaN for the kept infinities).
    // g1 [-inf, 5, 6, 7]: least-2 = -inf, 5, score -inf.
    // g2 [-inf, inf, 1, 2]: least-2 = -inf, 1, score -inf (inf kept, no NaN).
    let w = [
        f32::INFINITY,
        1.0,
        2.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        5.0,
        6.0,
        7.0,
        f32::NEG_INFINITY,
        f32::INFINITY,
        1.0,
        2.0,
    ];
    let out = run(&[mat(&w, 1, 12)], &exact("2:4", 0.5));
    assert_eq!(out.masks[0], [1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1]);
    // s = 1/6: block target 1/3, k = 1 of 3: the first -inf group (g1).
    let out = run(&[mat(&w, 1, 12)], &exact("2:4", 0.5 / 3.0 + 1e-9));
    assert_eq!(out.summary.target_units, 1);
    assert_eq!(out.masks[0], [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1]);
    assert_eq!(out.reports[0].threshold, Some(f32::NEG_INFINITY));
    // Inclusive prunes both -inf groups.
    let out = run(&[mat(&w, 1, 12)], &incl("2:4", 0.5 / 3.0 + 1e-9));
    assert_eq!(out.masks[0], [1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1]);
    // A group of [inf, inf, inf, inf] scores +inf, no NaN.
    let w = [f32::INFINITY; 4];
    assert_eq!(mask1(mat(&w, 1, 4), &exact("2:4", 0.5)), [0, 0, 1, 1]);
    assert_eq!(mask1(mat(&w, 1, 4), &incl("2:4", 0.5)), [0, 0, 0, 0]);
}

#[test]
fn nan_score_names_layer_and_index() {
    let good = [1.0f32; 8];
    let mut bad = [1.0f32; 8];
    bad[6] = f32::NAN;
    let layers = [mat(&good, 2, 4), mat(&bad, 2, 4)];
    for o in [
        exact("1x1", 0.5),
        incl("4x1", 0.5), // skipped layer: NaN still rejected
        exact("2x2", 0.5),
        exact("2:4", 0.5),
        exact("1xchannel", 0.5).scope(Scope::Local),
        exact("channelx1", 0.0),
    ] {
        let err = prune_err(&layers, &o);
        assert_eq!(err.layer(), Some(1), "{}", o.pattern.name());
        assert_eq!(err.kind(), &ErrorKind::NanScore { index: 6 });
        assert_eq!(err.to_string(), "layer 1: score at element 6 is NaN");
        // plan rejects it too, without touching the plans.
        let mut plans = [LayerPlan::default(); 2];
        assert_eq!(
            Pruner::new().plan(&layers, &o, &mut plans).unwrap_err(),
            err
        );
        assert_eq!(plans, [LayerPlan::default(); 2]);
    }
    // Magnitude does not hide a NaN (|NaN| is NaN).
    let o = exact("1x1", 0.5).criterion(Criterion::Magnitude);
    assert_eq!(
        prune_err(&layers, &o).kind(),
        &ErrorKind::NanScore { index: 6 }
    );
}

#[test]
fn block_mixing_infinities_is_a_nan_unit() {
    // 4x2: column 1 = [inf, -inf, 0, 0]: mean is inf + -inf = NaN -> unit 1.
    let w = [
        1.0f32,
        f32::INFINITY,
        2.0,
        f32::NEG_INFINITY,
        3.0,
        0.0,
        4.0,
        0.0,
    ];
    let ok = [0.0f32; 8];
    let layers = [mat(&ok, 4, 2), mat(&w, 4, 2)];
    for reduce in [Reduce::Mean, Reduce::Sum] {
        let err = prune_err(&layers, &exact("4x1", 0.5).reduce(reduce));
        assert_eq!(err.layer(), Some(1));
        assert_eq!(err.kind(), &ErrorKind::NanUnit { unit: 1 });
    }
    // Max and L2 have no NaN here: max = inf, L2 = inf + inf.
    for reduce in [Reduce::Max, Reduce::L2] {
        let out = run(&layers, &exact("4x1", 0.25).reduce(reduce));
        // Pool: layer 0 has two 0-score units; k = 1 -> layer 0 unit 0.
        assert_eq!(out.masks[0], [0, 1, 0, 1, 0, 1, 0, 1]);
        assert_eq!(out.masks[1], ones(8));
    }
    // Even at target 0 the NaN unit is an error (validation is complete).
    let err = prune_err(&layers, &exact("4x1", 0.0));
    assert_eq!(err.kind(), &ErrorKind::NanUnit { unit: 1 });
}

#[test]
fn write_mask_scores_what_a_scan_cannot_clear() {
    // write_mask clears signed scores by a scan when no sum of a unit can
    // overflow; finite scores near f32::MAX can (inf - inf in a sum), and
    // then it scores every unit, as prune does: same errors, mask kept.
    // Rows of a 1x16 block are summed in eight lanes (torch's order):
    // lanes 0 and 1 overflow apart in the first row.
    let big = 3e38f32;
    let mut rows: Vec<[f32; 16]> = vec![[0.25; 16]; 3];
    (rows[0][0], rows[0][8], rows[0][1], rows[0][9]) = (big, big, -big, -big);
    (rows[1][0], rows[1][1]) = (big, -big);
    let mut errors = 0;
    for row in rows {
        let w: Vec<f32> = [0.5f32; 16].iter().chain(&row).copied().collect();
        let zeros = [0.0f32; 32];
        let opts = exact("1x16", 0.5).criterion(Criterion::Scores);
        let mut plans = [LayerPlan::default()];
        let mut none = [SENTINEL; 32];
        Pruner::new()
            .prune(
                &[mat(&zeros, 2, 16)],
                &opts,
                &mut plans,
                &mut [&mut none[..]],
            )
            .unwrap();
        let mut mask = [SENTINEL; 32];
        let wrote = Pruner::new().write_mask(&mat(&w, 2, 16), &opts, &plans[0], &mut mask);
        let mut direct = vec![LayerPlan::default()];
        let mut m = [SENTINEL; 32];
        let pruned = Pruner::new().prune(&[mat(&w, 2, 16)], &opts, &mut direct, &mut [&mut m[..]]);
        match (&wrote, &pruned) {
            (Err(a), Err(b)) => {
                assert_eq!(a.kind(), b.kind(), "{row:?}");
                assert_eq!(mask, [SENTINEL; 32], "written on error");
                errors += 1;
            }
            (Ok(()), Ok(_)) => {}
            _ => panic!("{row:?}: write_mask {wrote:?}, prune {pruned:?}"),
        }
    }
    assert!(errors >= 1, "no column made a NaN unit");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn error_score_length() {
    let w = [1.0f32; 7];
    let ok = [1.0f32; 4];
    let layers = [mat(&ok, 2, 2), mat(&w, 2, 4)];
    let err = prune_err(&layers, &exact("1x1", 0.5));
    assert_eq!(err.layer(), Some(1));
    assert_eq!(
        err.kind(),
        &ErrorKind::ScoreLength {
            expected: 8,
            got: 7
        }
    );
    // Also for a layer the pattern would skip, and for lock.
    let err = prune_err(&layers, &exact("4x1", 0.5));
    assert_eq!(
        err.kind(),
        &ErrorKind::ScoreLength {
            expected: 8,
            got: 7
        }
    );
    let conv = [1.0f32; 10];
    let err = prune_err(
        &[Layer::new(&conv[..], Shape::conv(1, 2, 2, 2))],
        &exact("1x1", 0.5),
    );
    assert_eq!(
        err.kind(),
        &ErrorKind::ScoreLength {
            expected: 8,
            got: 10
        }
    );
    assert_eq!(err.layer(), Some(0));
}

#[test]
fn error_zero_dimension_and_overflow() {
    let empty: [f32; 0] = [];
    let ok = [1.0f32; 4];
    for shape in [
        Shape::matrix(0, 3),
        Shape::matrix(3, 0),
        Shape::conv(0, 1, 1, 1),
        Shape::conv(1, 0, 1, 1),
        Shape::conv(1, 1, 0, 1),
        Shape::conv(1, 1, 1, 0),
    ] {
        let layers = [mat(&ok, 2, 2), Layer::new(&empty[..], shape)];
        let err = prune_err(&layers, &exact("1x1", 0.5));
        assert_eq!(
            (err.layer(), err.kind()),
            (Some(1), &ErrorKind::ZeroDimension),
            "{shape:?}"
        );
    }
    for shape in [
        Shape::matrix(usize::MAX, 2),
        Shape::matrix(1 << 40, 1 << 40),
        Shape::conv(1, 1, usize::MAX, 2),
        Shape::conv(2, usize::MAX, 1, 1),
        Shape::conv(1 << 20, 1 << 20, 1 << 20, 1 << 20),
    ] {
        let layers = [Layer::new(&empty[..], shape)];
        let err = prune_err(&layers, &exact("1x1", 0.5));
        assert_eq!(
            (err.layer(), err.kind()),
            (Some(0), &ErrorKind::ShapeOverflow),
            "{shape:?}"
        );
    }
}

#[test]
fn error_bad_ratios() {
    let w = [1.0f32; 4];
    let layers = [mat(&w, 2, 2)];
    let bad = |o: Options, what: &str, value: f64| {
        let err = prune_err(&layers, &o);
        assert_eq!(err.layer(), None);
        match err.kind() {
            ErrorKind::BadRatio { what: w, value: v } => {
                assert_eq!(*w, what);
                assert!(v.to_bits() == value.to_bits(), "{v} vs {value}");
            }
            k => panic!("expected BadRatio, got {k:?}"),
        }
    };
    bad(opts("1x1", f64::NAN), "target_sparsity", f64::NAN);
    bad(opts("1x1", -0.1), "target_sparsity", -0.1);
    bad(opts("1x1", 1.5), "target_sparsity", 1.5);
    bad(opts("1x1", f64::INFINITY), "target_sparsity", f64::INFINITY);
    bad(
        opts("1x1", 0.5).max_sparsity_ratio_per_op(f64::NAN),
        "max_sparsity_ratio_per_op",
        f64::NAN,
    );
    bad(
        opts("1x1", 0.5).max_sparsity_ratio_per_op(1.01),
        "max_sparsity_ratio_per_op",
        1.01,
    );
    bad(
        opts("1x1", 0.5).min_sparsity_ratio_per_op(-0.5),
        "min_sparsity_ratio_per_op",
        -0.5,
    );
    bad(
        opts("1x1", 0.5).min_sparsity_ratio_per_op(f64::NAN),
        "min_sparsity_ratio_per_op",
        f64::NAN,
    );
    let crossed = opts("1x1", 0.5)
        .min_sparsity_ratio_per_op(0.6)
        .max_sparsity_ratio_per_op(0.5);
    let err = prune_err(&layers, &crossed);
    assert_eq!(err.layer(), None);
    assert_eq!(err.kind(), &ErrorKind::BoundsCrossed { min: 0.6, max: 0.5 });
    assert_eq!(
        err.to_string(),
        "min_sparsity_ratio_per_op 0.6 is above max_sparsity_ratio_per_op 0.5"
    );
    // Boundaries are valid.
    run(
        &layers,
        &opts("1x1", 0.0)
            .min_sparsity_ratio_per_op(0.0)
            .max_sparsity_ratio_per_op(0.0),
    );
    run(
        &layers,
        &opts("1x1", 1.0)
            .min_sparsity_ratio_per_op(1.0)
            .max_sparsity_ratio_per_op(1.0),
    );
}

#[test]
fn error_nm_target_above_pattern() {
    let w = [1.0f32; 8];
    let err = prune_err(&[mat(&w, 1, 8)], &opts("2:4", 0.6));
    assert_eq!(
        err.kind(),
        &ErrorKind::RatioAbovePattern {
            sparsity: 0.6,
            max: 0.5
        }
    );
    let err = prune_err(&[mat(&w, 1, 8)], &opts("1:4", 0.3));
    assert_eq!(
        err.kind(),
        &ErrorKind::RatioAbovePattern {
            sparsity: 0.3,
            max: 0.25
        }
    );
    // Exactly N/M is fine.
    assert_eq!(
        mask1(mat(&w, 1, 8), &opts("1:4", 0.25)),
        [0, 1, 1, 1, 0, 1, 1, 1]
    );
}

#[test]
fn error_unknown_pattern_lists_registered() {
    let err = Pattern::parse("topk").unwrap_err();
    assert_eq!(err.layer(), None);
    match err.kind() {
        ErrorKind::UnknownPattern { name, registry } => {
            assert_eq!(name.as_str(), "topk");
            let listed: Vec<&str> = registry.names().collect();
            assert_eq!(listed, BUILTIN_NAMES);
        }
        k => panic!("{k:?}"),
    }
    assert!(err
        .to_string()
        .starts_with("unknown pattern `topk`; registered: 1x1, 4x1"));
    // The prefix before the last `_` is dropped; the name is the rest.
    let err = Pattern::parse("nxm_snip").unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::UnknownPattern { name, .. } if name.as_str() == "snip")
    );
    // A user registry lists its own names first.
    const R: Registry = Registry::with(&[("mine", KernelSet::block::<1, 2>())]);
    let err = R.lookup("other").unwrap_err();
    assert!(err
        .to_string()
        .starts_with("unknown pattern `other`; registered: mine, 1x1, 4x1"));
}

#[test]
fn error_bad_patterns() {
    let cases = [
        ("4:2", "N:M needs N < M (N is the number pruned)"),
        ("4:4", "N:M needs N < M (N is the number pruned)"),
        ("0:4", "N and M must be at least 1"),
        ("2:0", "N and M must be at least 1"),
        ("2:256", "N:M supports M up to 128"),
        ("0x4", "block sizes must be at least 1"),
        ("4x0", "block sizes must be at least 1"),
        ("0xchannel", "block sizes must be at least 1"),
        ("channelxchannel", "a block cannot span both channels"),
        ("ax4", "block sides are numbers or `channel`"),
        ("4x", "block sides are numbers or `channel`"),
        ("2:a", "N and M are numbers"),
        // Contains `x`, so it is read as a block name (as the reference does).
        ("2:x", "block sides are numbers or `channel`"),
        ("-1:4", "N and M are numbers"),
    ];
    for (name, reason) in cases {
        let err = Pattern::parse(name).unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::BadPattern { reason }, "{name}");
        assert_eq!(err.layer(), None);
    }
    // Valid runtime ones.
    assert!(Pattern::parse("7:128").is_ok());
    assert!(Pattern::parse("3xchannel").is_ok());
    assert!(Pattern::new("x", KernelSet::n_in_m_dyn(2, 2)).is_err());
}

/// Every value of every option enum prints as its name and parses back;
/// any other name is an `UnknownName` error that says which option, keeps
/// the name (up to `PatternName::CAPACITY` bytes) and lists the names.
#[test]
fn option_words_round_trip() {
    use std::fmt::{Debug, Display};
    use std::str::FromStr;

    fn check<T>(what: &str, values: &[(T, &str)], names: &[&str])
    where
        T: FromStr<Err = Error> + Display + Debug + PartialEq,
    {
        let listed: Vec<&str> = values.iter().map(|(_, n)| *n).collect();
        assert_eq!(names, &listed[..], "{what}: NAMES");
        for (value, name) in values {
            assert_eq!(value.to_string(), *name, "{what}");
            assert_eq!(&name.parse::<T>().unwrap(), value, "{what}");
            assert_eq!(&value.to_string().parse::<T>().unwrap(), value, "{what}");
        }
        let long = "abcdefghijklmnopqrstuvwxyz0123456789";
        for bad in ["nope", "", "x", long] {
            let err = bad.parse::<T>().unwrap_err();
            assert_eq!(err.layer(), None);
            match err.kind() {
                ErrorKind::UnknownName {
                    what: w,
                    name,
                    expected,
                } => {
                    assert_eq!(*w, what);
                    let kept = &bad[..bad.len().min(prunemask::PatternName::CAPACITY)];
                    assert_eq!(name.as_str(), kept, "{what}");
                    assert_eq!(*expected, names, "{what}");
                }
                k => panic!("{what}: {bad:?} gave {k:?}"),
            }
            let text = err.to_string();
            let want = format!("unknown {what} `");
            assert!(text.starts_with(&want), "{text}");
            assert!(
                text.ends_with(&format!("; expected one of: {}", names.join(", "))),
                "{text}"
            );
        }
    }

    check(
        "scope",
        &[
            (Scope::Global, "global"),
            (Scope::Local, "local"),
            (Scope::Row, "row"),
        ],
        Scope::NAMES,
    );
    check(
        "ties",
        &[(Ties::Exact, "exact"), (Ties::Inclusive, "inclusive")],
        Ties::NAMES,
    );
    check(
        "reduce",
        &[
            (Reduce::Mean, "mean"),
            (Reduce::Sum, "sum"),
            (Reduce::Max, "max"),
            (Reduce::L2, "l2"),
        ],
        Reduce::NAMES,
    );
    check(
        "criterion",
        &[
            (Criterion::Scores, "scores"),
            (Criterion::Magnitude, "magnitude"),
            (Criterion::Wanda, "wanda"),
        ],
        Criterion::NAMES,
    );
    check(
        "cap",
        &[
            (CapMode::Redistribute, "redistribute"),
            (CapMode::Seed, "seed"),
        ],
        CapMode::NAMES,
    );
    check(
        "compat",
        &[(Compat::Native, "native"), (Compat::Inc20, "inc")],
        Compat::NAMES,
    );
    let levels = [
        (Level::Scalar, "scalar"),
        (Level::V3, "v3"),
        (Level::V4, "v4"),
        (Level::Neon, "neon"),
    ];
    assert_eq!(levels.map(|(l, _)| l), Level::ALL);
    check("level", &levels, Level::NAMES);
    // The defaults are the first names.
    assert_eq!(Scope::default().to_string(), "global");
    assert_eq!(Ties::default().to_string(), "exact");
    assert_eq!(Reduce::default().to_string(), "mean");
    assert_eq!(Criterion::default().to_string(), "scores");
    assert_eq!(CapMode::default().to_string(), "redistribute");
    assert_eq!(Compat::default().to_string(), "native");
    // Patterns too: every built-in name, and runtime sizes, print as parsed.
    for name in BUILTIN_NAMES.iter().chain(&["3x2", "2xchannel", "3:8"]) {
        let p: Pattern = name.parse().unwrap();
        assert_eq!(p.to_string(), *name);
        let again: Pattern = p.to_string().parse().unwrap();
        assert_eq!(again.geometry(), p.geometry());
    }
    assert_eq!("nxm_4x1".parse::<Pattern>().unwrap().to_string(), "4x1");
    assert!(matches!(
        "topk".parse::<Pattern>().unwrap_err().kind(),
        ErrorKind::UnknownPattern { .. }
    ));
}

#[test]
fn error_buffer_counts_and_lengths() {
    let a = [1.0f32, 2.0, 3.0, 4.0];
    let b = [5.0f32; 8];
    let layers = [mat(&a, 2, 2), mat(&b, 2, 4)];
    let o = exact("1x1", 0.5);
    // Masks count.
    let err = prune_err_with(&layers, &o, &[4], 2);
    assert_eq!(
        err.kind(),
        &ErrorKind::LayerCount {
            what: "masks",
            expected: 2,
            got: 1
        }
    );
    assert_eq!(err.layer(), None);
    let err = prune_err_with(&layers, &o, &[4, 8, 8], 2);
    assert!(matches!(
        err.kind(),
        ErrorKind::LayerCount {
            what: "masks",
            got: 3,
            ..
        }
    ));
    // Plans count.
    let err = prune_err_with(&layers, &o, &[4, 8], 3);
    assert_eq!(
        err.kind(),
        &ErrorKind::LayerCount {
            what: "plans",
            expected: 2,
            got: 3
        }
    );
    let mut reps = [LayerPlan::default(); 1];
    assert!(matches!(
        Pruner::new()
            .plan(&layers, &o, &mut reps)
            .unwrap_err()
            .kind(),
        ErrorKind::LayerCount { what: "plans", .. }
    ));
    // Mask length, names the layer.
    let err = prune_err_with(&layers, &o, &[4, 9], 2);
    assert_eq!(err.layer(), Some(1));
    assert_eq!(
        err.kind(),
        &ErrorKind::MaskLength {
            expected: 8,
            got: 9
        }
    );
    let err = prune_err_with(&layers, &o, &[3, 8], 2);
    assert_eq!(err.layer(), Some(0));
    assert_eq!(
        err.kind(),
        &ErrorKind::MaskLength {
            expected: 4,
            got: 3
        }
    );
}

#[test]
fn error_write_mask_mismatch() {
    let a: Vec<f32> = (0..8).map(|x| x as f32).collect();
    let b: Vec<f32> = (0..8).map(|x| x as f32).collect();
    let o = exact("2:4", 0.5);
    let layers = [mat(&a, 2, 4)];
    let mut reports = [LayerPlan::default()];
    Pruner::new().plan(&layers, &o, &mut reports).unwrap();
    let check = |layer: Layer<'_>, report: &LayerPlan, len: usize| -> Error {
        let mut m = vec![SENTINEL; len];
        let err = Pruner::new()
            .write_mask(&layer, &o, report, &mut m)
            .unwrap_err();
        assert!(m.iter().all(|&v| v == SENTINEL));
        err
    };
    // Another shape with the same element count and unit count 2:4 (4x2 is
    // skipped by 2:4, cols 2).
    let err = check(mat(&b, 4, 2), &reports[0], 8);
    assert_eq!(err.kind(), &ErrorKind::PlanMismatch);
    assert_eq!(err.layer(), None);
    // A 2x8 has a different unit count.
    let c = [0.0f32; 16];
    assert_eq!(
        check(mat(&c, 2, 8), &reports[0], 16).kind(),
        &ErrorKind::PlanMismatch
    );
    // A default (unplanned) report.
    assert_eq!(
        check(mat(&a, 2, 4), &LayerPlan::default(), 8).kind(),
        &ErrorKind::PlanMismatch
    );
    // A wrong mask length comes first.
    assert_eq!(
        check(mat(&a, 2, 4), &reports[0], 7).kind(),
        &ErrorKind::MaskLength {
            expected: 8,
            got: 7
        }
    );
    // A NaN in the layer.
    let mut n = a.clone();
    n[2] = f32::NAN;
    assert_eq!(
        check(mat(&n, 2, 4), &reports[0], 8).kind(),
        &ErrorKind::NanScore { index: 2 }
    );
    // A skipped plan does not fit a layer that the pattern fits.
    let s = [0.0f32; 8];
    let mut sr = [LayerPlan::default()];
    Pruner::new().plan(&[mat(&s, 4, 2)], &o, &mut sr).unwrap();
    assert!(matches!(sr[0].report().status, Status::Skipped(_)));
    assert_eq!(
        check(mat(&a, 2, 4), &sr[0], 8).kind(),
        &ErrorKind::PlanMismatch
    );
    // ...and is written for the layer it was planned for.
    let mut m = [SENTINEL; 8];
    Pruner::new()
        .write_mask(&mat(&s, 4, 2), &o, &sr[0], &mut m)
        .unwrap();
    assert_eq!(m, [1; 8]);
}

#[test]
fn error_write_mask_with_other_options() {
    // An 8x8 layer planned with 2:4: patterns with the same unit count, and
    // every scoring option, must match the plan, or its threshold would
    // select other units.
    let w: Vec<f32> = (0..64).map(|i| ((i * 37) % 64) as f32 - 20.0).collect();
    let layer = mat(&w, 8, 8);
    let planned = exact("2:4", 0.3);
    let mut plans = [LayerPlan::default()];
    Pruner::new().plan(&[layer], &planned, &mut plans).unwrap();
    let others = [
        exact("4x1", 0.3),
        exact("1x4", 0.3),
        exact("2x2", 0.3),
        exact("1:4", 0.2),
        planned.clone().criterion(Criterion::Magnitude),
        planned.clone().ties(Ties::Inclusive),
        planned.clone().reduce(Reduce::Max),
        planned.clone().inc_compat(),
    ];
    for other in &others {
        let mut m = [SENTINEL; 64];
        let err = Pruner::new()
            .write_mask(&layer, other, &plans[0], &mut m)
            .unwrap_err();
        assert_eq!(err.kind(), &ErrorKind::PlanMismatch, "{other:?}");
        assert!(m.iter().all(|&v| v == SENTINEL));
    }
    // The target and the bounds shaped the plan, not how it is written.
    let mut a = [SENTINEL; 64];
    let mut b = [SENTINEL; 64];
    let pruner = Pruner::new();
    pruner
        .write_mask(&layer, &planned, &plans[0], &mut a)
        .unwrap();
    let target = planned.clone().max_sparsity_ratio_per_op(0.9);
    pruner
        .write_mask(&layer, &target, &plans[0], &mut b)
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(
        a.iter().filter(|&&v| v == 0).count() as u64,
        plans[0].report().pruned_elements
    );
}

#[test]
fn error_registry_duplicate_and_names() {
    fn first(t: &Tile<'_>, out: &mut [f32]) {
        for (u, o) in out.iter_mut().enumerate() {
            *o = t.value(t.unit_row * t.unit_rows, (t.first_unit + u) * t.unit_cols);
        }
    }
    let reason = |e: Error| match e.kind() {
        ErrorKind::Registry { reason } => *reason,
        k => panic!("{k:?}"),
    };
    fn leak<const N: usize>(
        entries: [(&'static str, KernelSet); N],
    ) -> &'static [(&'static str, KernelSet)] {
        Box::leak(Box::new(entries))
    }
    let check = |entries: &'static [(&'static str, KernelSet)]| Registry::with(entries).check();
    assert!(check(leak([("first", KernelSet::custom_block(1, 2, first))])).is_ok());
    let twice = "a name is registered twice";
    assert_eq!(
        reason(
            check(leak([
                ("first", KernelSet::custom_block(1, 2, first)),
                ("first", KernelSet::block::<1, 2>())
            ]))
            .unwrap_err()
        ),
        twice
    );
    assert_eq!(
        reason(check(leak([("4x1", KernelSet::block::<1, 2>())])).unwrap_err()),
        twice
    );
    let bad_name = "a name is 1 to 32 bytes without `_`";
    assert_eq!(
        reason(check(leak([("a_b", KernelSet::block::<1, 2>())])).unwrap_err()),
        bad_name
    );
    assert_eq!(
        reason(check(leak([("", KernelSet::block::<1, 2>())])).unwrap_err()),
        bad_name
    );
    assert_eq!(
        reason(
            check(leak([(
                "abcdefghijklmnopqrstuvwxyzabcdefg",
                KernelSet::block::<1, 2>()
            )]))
            .unwrap_err()
        ),
        bad_name
    );
    // A bad kernel set is a pattern error, and every lookup reports it.
    const ZERO: Registry = Registry::with(&[("zero", KernelSet::custom_block(0, 2, first))]);
    assert!(matches!(
        ZERO.check().unwrap_err().kind(),
        ErrorKind::BadPattern { .. }
    ));
    assert!(matches!(
        ZERO.lookup("2:4").unwrap_err().kind(),
        ErrorKind::BadPattern { .. }
    ));
    const R: Registry = Registry::with(&[("first", KernelSet::custom_block(1, 2, first))]);
    let names: Vec<&str> = R.names().collect();
    assert_eq!(names[0], "first");
    assert_eq!(names.len(), 1 + BUILTIN_NAMES.len());
}

#[test]
fn error_sparsity_inputs() {
    let p = pat("1x2");
    let good = [1u8, 1, 0, 0];
    let bad = [1u8, 2, 0, 0];
    let err = Pruner::new()
        .mask_sparsity(
            &p,
            &[Shape::matrix(1, 4), Shape::matrix(2, 2)],
            &[&good[..], &bad[..]],
        )
        .unwrap_err();
    assert_eq!(err.layer(), Some(1));
    assert_eq!(err.kind(), &ErrorKind::MaskValue { index: 1, value: 2 });
    let err = Pruner::new()
        .mask_sparsity(&p, &[Shape::matrix(1, 4)], &[&good[..3]])
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::MaskLength {
            expected: 4,
            got: 3
        }
    );
    assert_eq!(err.layer(), Some(0));
    let err = Pruner::new()
        .mask_sparsity(&p, &[Shape::matrix(1, 4)], &[&good[..], &good[..]])
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::LayerCount { what: "masks", .. }
    ));
    let err = Pruner::new()
        .mask_sparsity(
            &p,
            &[Shape::matrix(1, 4), Shape::matrix(0, 4)],
            &[&good[..], &[][..]],
        )
        .unwrap_err();
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(1), &ErrorKind::ZeroDimension)
    );
}

#[test]
fn error_lock_inputs() {
    let mut w = [1.0f32; 8];
    w[5] = f32::NAN;
    let ok = [0.0f32; 4];
    let layers = [mat(&ok, 1, 4), mat(&w, 2, 4)];
    let p = pat("2:4");
    let mut m0 = [SENTINEL; 4];
    let mut m1 = [SENTINEL; 8];
    let mut reports = [LayerReport::default(); 2];
    let err = Pruner::new()
        .lock(&layers, &p, &mut reports, &mut [&mut m0[..], &mut m1[..]])
        .unwrap_err();
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(1), &ErrorKind::NanScore { index: 5 })
    );
    let mut short = [SENTINEL; 7];
    let w2 = [1.0f32; 8];
    let layers = [mat(&ok, 1, 4), mat(&w2, 2, 4)];
    let err = Pruner::new()
        .lock(
            &layers,
            &p,
            &mut reports,
            &mut [&mut m0[..], &mut short[..]],
        )
        .unwrap_err();
    assert_eq!(
        (err.layer(), err.kind()),
        (
            Some(1),
            &ErrorKind::MaskLength {
                expected: 8,
                got: 7
            }
        )
    );
    let err = Pruner::new()
        .lock(
            &layers,
            &p,
            &mut reports[..1],
            &mut [&mut m0[..], &mut m1[..]],
        )
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::LayerCount {
            what: "reports",
            ..
        }
    ));
    let err = Pruner::new()
        .lock(&layers, &p, &mut reports, &mut [&mut m0[..]])
        .unwrap_err();
    assert!(matches!(
        err.kind(),
        ErrorKind::LayerCount { what: "masks", .. }
    ));
    assert!(m0.iter().chain(&m1).chain(&short).all(|&v| v == SENTINEL));
    assert_eq!(reports, [LayerReport::default(); 2]);
}

// ---------------------------------------------------------------------------
// Pattern lock and sparsity
// ---------------------------------------------------------------------------

fn lock1(layers: &[Layer<'_>], name: &str) -> (Vec<Vec<u8>>, Vec<LayerReport>, Summary) {
    let mut masks: Vec<Vec<u8>> = layers
        .iter()
        .map(|l| vec![SENTINEL; l.scores.len()])
        .collect();
    let mut reports = vec![LayerReport::default(); layers.len()];
    let s = {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        Pruner::new()
            .lock(layers, &pat(name), &mut reports, &mut outs)
            .unwrap()
    };
    (masks, reports, s)
}

#[test]
fn lock_nxm_blocks() {
    // 4x4 with 2x2 blocks: b00 all zeros (one is -0.0) -> 0; b01 has one
    // nonzero (1e-30) -> 1; b10 all zero -> 0; b11 all nonzero -> 1.
    let w = [
        0.0f32, -0.0, 0.0, 1e-30, //
        0.0, 0.0, 0.0, 0.0, //
        0.0, 0.0, 1.0, -2.0, //
        0.0, 0.0, 3.0, 4.0,
    ];
    let (m, r, s) = lock1(&[mat(&w, 4, 4)], "2x2");
    assert_eq!(m[0], [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    assert_eq!(
        (r[0].units, r[0].pruned_units, r[0].pruned_elements),
        (4, 2, 8)
    );
    assert_eq!(r[0].status, Status::Selected);
    assert_eq!((s.pruned_units, s.pruned_elements, s.units), (2, 8, 4));
    // Unstructured 1x1: zero where the weight is zero.
    let (m, _, _) = lock1(&[mat(&w, 4, 4)], "1x1");
    let expect: Vec<u8> = w.iter().map(|&x| (x != 0.0) as u8).collect();
    assert_eq!(m[0], expect);
    // A layer the pattern does not fit: all ones, Skipped.
    let z = [0.0f32; 6];
    let (m, r, s) = lock1(&[mat(&z, 3, 2)], "2x2");
    assert_eq!(m[0], ones(6));
    assert_eq!(
        r[0].status,
        Status::Skipped(SkipReason::Rows { rows: 3, block: 2 })
    );
    assert_eq!((s.skipped, s.elements, s.pruned_elements), (1, 6, 0));
}

#[test]
fn lock_nm_seed_rule() {
    // 2:4: [0,0,1,2] has 2 zeros -> its zeros are 0; [0,3,4,5] has only one
    // -> all ones; [0,0,0,1] has 3 zeros -> all three are 0 (more than N).
    let w = [
        0.0f32, 0.0, 1.0, 2.0, 0.0, 3.0, 4.0, 5.0, //
        0.0, -0.0, 0.0, 1.0, 9.0, 9.0, 9.0, 9.0,
    ];
    let (m, r, s) = lock1(&[mat(&w, 2, 8)], "2:4");
    assert_eq!(m[0], [0, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
    assert_eq!(
        (r[0].units, r[0].pruned_units, r[0].pruned_elements),
        (4, 2, 5)
    );
    assert_eq!(s.pruned_elements, 5);
    // 1:4 locks a group with a single zero.
    let (m, _, _) = lock1(&[mat(&w, 2, 8)], "1:4");
    assert_eq!(m[0], [0, 0, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1]);
}

#[test]
fn lock_conv() {
    // OIHW [1, 4, 1, 2]: group w0 = flat 0,2,4,6, group w1 = flat 1,3,5,7.
    // flat [0,0,0,1, 5,1,0,1]: w0 = [0,0,5,0] -> 3 zeros, locked at flat
    // 0, 2, 6; w1 = [0,1,1,1] -> one zero, all ones.
    // (Grouping flat memory would lock flat 0,1,2 instead.)
    let w = [0.0f32, 0.0, 0.0, 1.0, 5.0, 1.0, 0.0, 1.0];
    let (m, r, _) = lock1(&[Layer::new(&w[..], Shape::conv(1, 4, 1, 2))], "2:4");
    assert_eq!(m[0], [0, 1, 0, 1, 1, 1, 0, 1]);
    assert_eq!((r[0].pruned_units, r[0].pruned_elements), (1, 3));
    // 1x2 blocks on OIHW [1, 2, 1, 2]: view cols {0,1} = flat {0, 2}.
    let w = [0.0f32, 1.0, 0.0, 0.0];
    let (m, _, _) = lock1(&[Layer::new(&w[..], Shape::conv(1, 2, 1, 2))], "1x2");
    assert_eq!(m[0], [0, 1, 0, 1]);
}

#[test]
fn sparsity_blockwise_and_elementwise() {
    // 1x2 on 2x4: blocks (0,0..1) = [0,0] zero, (0,2..3) = [0,1] not,
    // (1,0..1) = [1,1], (1,2..3) = [0,0] zero -> 2 of 4.
    // A 2x3 layer (not fitting 1x2) with zeros is not counted.
    let m1 = [0u8, 0, 0, 1, 1, 1, 0, 0];
    let m2 = [0u8; 6];
    let shapes = [Shape::matrix(2, 4), Shape::matrix(2, 3)];
    let s = Pruner::new()
        .mask_sparsity(&pat("1x2"), &shapes, &[&m1[..], &m2[..]])
        .unwrap();
    assert_eq!((s.zero, s.total), (2, 4));
    assert_eq!(s.ratio(), 0.5);
    // N:M is element-wise over all elements: 5 + 6 zeros of 14.
    let s = Pruner::new()
        .mask_sparsity(&pat("2:4"), &shapes, &[&m1[..], &m2[..]])
        .unwrap();
    assert_eq!((s.zero, s.total), (11, 14));
    // 1x1 counts elements of fitting layers (all fit).
    let s = Pruner::new()
        .mask_sparsity(&pat("1x1"), &shapes, &[&m1[..], &m2[..]])
        .unwrap();
    assert_eq!((s.zero, s.total), (11, 14));
    // Conv: 1x2 blocks on OIHW [1, 2, 1, 2] are flat {0,2} and {1,3}.
    let mc = [0u8, 1, 0, 1];
    let s = Pruner::new()
        .mask_sparsity(&pat("1x2"), &[Shape::conv(1, 2, 1, 2)], &[&mc[..]])
        .unwrap();
    assert_eq!((s.zero, s.total), (1, 2));
    // Nothing to count.
    assert_eq!(
        Pruner::new()
            .mask_sparsity(&pat("4x1"), &[], &[])
            .unwrap()
            .ratio(),
        0.0
    );
}

#[test]
fn sparsity_of_pruned_masks() {
    // The block sparsity of a prune result equals pruned_units / units.
    let w: Vec<f32> = (0..64).map(|i| ((i * 29) % 64) as f32).collect();
    for name in ["4x1", "1x4", "2x2", "channelx1", "1xchannel"] {
        let out = run(&[mat(&w, 8, 8)], &exact(name, 0.5));
        let m: Vec<&[u8]> = out.masks.iter().map(|m| &m[..]).collect();
        let s = Pruner::new()
            .mask_sparsity(&pat(name), &[Shape::matrix(8, 8)], &m)
            .unwrap();
        assert_eq!(
            (s.zero, s.total),
            (out.summary.pruned_units, out.summary.units),
            "{name}"
        );
    }
}

// ---------------------------------------------------------------------------
// Registry
// ---------------------------------------------------------------------------

fn by_first(t: &Tile<'_>, out: &mut [f32]) {
    for (u, o) in out.iter_mut().enumerate() {
        *o = t.value(t.unit_row * t.unit_rows, (t.first_unit + u) * t.unit_cols);
    }
}

fn always_nan(_: &Tile<'_>, out: &mut [f32]) {
    out.fill(f32::NAN);
}

const CUSTOM: Registry = Registry::with(&[
    ("first", KernelSet::custom_block(1, 2, by_first)),
    ("nan", KernelSet::custom_block(1, 1, always_nan)),
]);

#[test]
fn registry_custom_kernel_through_prune() {
    let r = CUSTOM;
    let p = r.lookup("nxm_first").unwrap();
    assert_eq!(p.name(), "first");
    // [9, 0, 5, 6] as 1x2 blocks: mean 4.5, 5.5 -> the builtin prunes block
    // 0; first element 9, 5 -> the custom kernel prunes block 1.
    let w = [9.0f32, 0.0, 5.0, 6.0];
    let o = Options::new(p, 0.5).max_sparsity_ratio_per_op(1.0);
    let out = run(&[mat(&w, 1, 4)], &o);
    assert_eq!(out.masks[0], [1, 1, 0, 0]);
    assert_eq!(out.reports[0].threshold, Some(5.0));
    assert_eq!(mask1(mat(&w, 1, 4), &exact("1x2", 0.5)), [0, 0, 1, 1]);
    // The custom kernel serves a conv view too: OIHW [1, 2, 1, 2] view order
    // is flat [0, 2, 1, 3]; blocks are flat {0,2} (first = w[0] = 9) and
    // {1,3} (first = w[1] = 0) -> block 1 pruned: flat 1 and 3.
    let out = run(&[Layer::new(&w[..], Shape::conv(1, 2, 1, 2))], &o);
    assert_eq!(out.masks[0], [1, 0, 1, 0]);
    // A NaN the kernel reads is reported by Tile::value.
    let n = [1.0f32, 0.0, f32::NAN, 3.0];
    let err = prune_err(&[mat(&w, 1, 4), mat(&n, 1, 4)], &o);
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(1), &ErrorKind::NanScore { index: 2 })
    );
    // A kernel producing NaN unit scores is rejected with the unit index.
    let o = Options::new(r.lookup("nan").unwrap(), 0.5);
    let err = prune_err(&[mat(&w, 1, 4)], &o);
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(0), &ErrorKind::NanUnit { unit: 0 })
    );
    // Built-ins still resolve through the user registry.
    assert_eq!(
        r.lookup("2:4").unwrap().geometry(),
        Geometry::NInM { n: 2, m: 4 }
    );
}

// ---------------------------------------------------------------------------
// plan + write_mask
// ---------------------------------------------------------------------------

#[test]
fn plan_then_write_mask_per_layer() {
    let a: Vec<f32> = (0..32).map(|i| ((i * 13) % 32) as f32).collect();
    let b: Vec<f32> = (0..24).map(|i| ((i * 5) % 24) as f32 - 10.0).collect();
    let layers = [mat(&a, 4, 8), mat(&b, 6, 4)];
    for o in [
        exact("4x1", 0.5),
        incl("2:4", 0.5),
        exact("1x1", 0.7).max_sparsity_ratio_per_op(0.6),
    ] {
        let out = run(&layers, &o);
        let mut plans = [LayerPlan::default(); 2];
        let mut pruner = Pruner::new();
        let s = pruner.plan(&layers, &o, &mut plans).unwrap();
        assert_eq!(s, out.summary);
        assert_eq!(plans.to_vec(), out.plans);
        for (i, layer) in layers.iter().enumerate() {
            let mut m = vec![SENTINEL; layer.scores.len()];
            pruner.write_mask(layer, &o, &plans[i], &mut m).unwrap();
            assert_eq!(m, out.masks[i]);
        }
    }
}

#[test]
fn custom_kernel_nan_in_unread_element_is_an_error() {
    // Every score is checked before any kernel runs, whatever it reads.
    let o = Options::new(CUSTOM.lookup("first").unwrap(), 0.5);
    // by_first reads view columns 0 and 2 only; the NaN is at 1.
    let n = [1.0f32, f32::NAN, 2.0, 3.0];
    let err = prune_err(&[mat(&n, 1, 4)], &o);
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(0), &ErrorKind::NanScore { index: 1 })
    );
}

#[test]
fn min_bound_holds_when_k_is_used_up() {
    // 1x1 global, min 0.1, max 0.5; A = 0..10, B = 1000..1100 (100 units),
    // C = 10..20. s = 0.092: k = floor(11.04) = 11.
    // Round 1: t = 10: A 10 (over 0.5 -> held at 5), B 0 (under 0.1 ->
    //   held at floor(0.1*100) = 10), C 1 (= 0.1, within bounds).
    // k - 5 - 10 < 0: nothing is left for round 2, but C must still not end
    // below its minimum: it is held at floor(0.1*10) = 1 (its 10).
    let a = ramp(0.0, 10);
    let b = ramp(1000.0, 100);
    let c = ramp(10.0, 10);
    let layers = [mat(&a, 1, 10), mat(&b, 1, 100), mat(&c, 1, 10)];
    let out = run(
        &layers,
        &exact("1x1", 0.092)
            .max_sparsity_ratio_per_op(0.5)
            .min_sparsity_ratio_per_op(0.1),
    );
    assert_eq!(out.summary.target_units, 11);
    let pruned: Vec<u64> = out.reports.iter().map(|r| r.pruned_units).collect();
    assert_eq!(pruned, [5, 10, 1]);
    assert_eq!(out.masks[2], [0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
}

#[test]
fn min_bound_holds_even_when_k_is_below_one() {
    // s = 0.04 over 20 units: k = 0, so the pool prunes nothing; with
    // min 0.2 each layer is still held at floor(0.2 * 10) = 2 units (its
    // two smallest). Without a minimum, k < 1 keeps everything.
    let a = ramp(0.0, 10);
    let b = ramp(100.0, 10);
    let layers = [mat(&a, 1, 10), mat(&b, 1, 10)];
    let out = run(&layers, &exact("1x1", 0.04).min_sparsity_ratio_per_op(0.2));
    let held = vec![0, 0, 1, 1, 1, 1, 1, 1, 1, 1];
    assert_eq!(out.masks, [held.clone(), held]);
    assert_eq!(out.reports[0].status, Status::Bounded(Bound::Min));
    assert_eq!(out.summary.target_units, 0);
    let out = run(&layers, &exact("1x1", 0.04));
    assert!(out.masks.iter().flatten().all(|&m| m == 1));
}

#[test]
fn pattern_sizes_are_plain_digits() {
    for name in ["+4x1", "4x+1", "+2:4", "2:+4", " 2:4", "4x1 ", "0x10:4"] {
        assert!(
            matches!(
                Pattern::parse(name).unwrap_err().kind(),
                ErrorKind::BadPattern { .. }
            ),
            "{name}"
        );
    }
    assert_eq!(Pattern::parse("04x1").unwrap().name(), "04x1");
}

#[test]
fn wide_blocks_on_wide_layers() {
    // Block rows wider than a tile's mark buffer: 1xchannel on 4x3072 and
    // 1x16 on 2x4096, written through prune (used to panic).
    let w: Vec<f32> = (0..4 * 3072).map(|i| ((i * 7919) % 1000) as f32).collect();
    let out = run(&[mat(&w, 4, 3072)], &exact("1xchannel", 0.5));
    assert_eq!(out.reports[0].pruned_units, 2);
    for row in out.masks[0].chunks(3072) {
        assert!(
            row.iter().all(|&m| m == row[0]),
            "a channel is pruned whole"
        );
    }
    let v: Vec<f32> = (0..2 * 4096).map(|i| ((i * 104729) % 997) as f32).collect();
    let out = run(&[mat(&v, 2, 4096)], &exact("1x16", 0.25));
    assert_eq!(out.reports[0].pruned_units, 128);
    assert_eq!(out.masks[0].iter().filter(|&&m| m == 0).count(), 128 * 16);
}

/// A custom kernel that scores a unit differently on each call (here a
/// counter) makes the collecting pass see more keys in the threshold's
/// bucket than the histogram counted: a plan with scratch must not overrun its
/// scratch, and no call panics, whatever the scratch size.
#[test]
fn unstable_custom_kernel_never_overruns_scratch() {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    // One call per unit row: 48 in the first pass over the three layers,
    // which sees the scores spread; every later call gives every unit the
    // value of the first pass's median.
    fn wobble(t: &Tile<'_>, out: &mut [f32]) {
        let first_pass = CALLS.fetch_add(1, Ordering::Relaxed) < 48;
        for (u, o) in out.iter_mut().enumerate() {
            let unit = t.unit_row * 16 + t.first_unit + u;
            *o = if first_pass { unit as f32 } else { 127.0 };
        }
    }
    let pattern = Pattern::new("wobble", KernelSet::custom_block(1, 1, wobble)).unwrap();
    let w: Vec<f32> = (0..256).map(|i| i as f32).collect();
    let layers: Vec<Layer<'_>> = (0..3)
        .map(|_| Layer::new(&w[..], Shape::matrix(16, 16)))
        .collect();
    let opts = Options::new(pattern, 0.5);
    // 7 to 12 spare words: the bucket of 127 (3 units) fits, 768 do not.
    for spare in [0usize, 6, 7, 8, 9, 12, 40, 200, 400] {
        let mut plans = vec![LayerPlan::default(); 3];
        let mut scratch = vec![u64::MAX; Pruner::SCRATCH_MIN + spare];
        CALLS.store(0, Ordering::Relaxed);
        let mut pruner = Pruner::with_scratch(&mut scratch);
        if let Ok(s) = pruner.plan(&layers, &opts, &mut plans) {
            assert!(s.pruned_units <= s.units, "spare {spare}");
            let mut m = vec![SENTINEL; 256];
            let _ = pruner.write_mask(&layers[0], &opts, &plans[0], &mut m);
        }
    }
}

/// Units a counting kernel scored, and its scores: a hash of the unit's
/// position in a 256-wide layer (`spread`), or runs of 16 whose every
/// fourth run (the ones a sample of a 4-strided pool takes) is all low.
static SCORED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn counted_kernel(t: &Tile<'_>, out: &mut [f32], score: fn(usize) -> f32) {
    SCORED.fetch_add(out.len() as u64, std::sync::atomic::Ordering::Relaxed);
    for (u, o) in out.iter_mut().enumerate() {
        *o = score(t.unit_row * 256 + t.first_unit + u);
    }
}

fn spread(unit: usize) -> f32 {
    let h = (unit as u64 ^ 0x9e37_79b9).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
    h as f32
}

/// The sampled runs hold distinct low scores: the range holds few keys,
/// all far below the k-th.
fn skewed(unit: usize) -> f32 {
    if unit / 16 % 4 == 2 {
        spread(unit) / 16_777_216.0
    } else {
        1000.0 + spread(unit)
    }
}

/// The sampled runs hold seven low values: the range overflows.
fn clumped(unit: usize) -> f32 {
    if unit / 16 % 4 == 2 {
        (unit % 7) as f32
    } else {
        1000.0 + spread(unit)
    }
}

/// Plans 16 layers of 256x256 with a counting kernel, with and without
/// scratch; checks they agree and returns the units scored by each.
fn scored_units(score: fn(&Tile<'_>, &mut [f32]), ties: Ties) -> (u64, u64, u64) {
    use std::sync::atomic::Ordering;
    let pattern = Pattern::new("counted", KernelSet::custom_block(1, 1, score)).unwrap();
    let w = vec![0.0f32; 256 * 256];
    let layers: Vec<Layer<'_>> = (0..16)
        .map(|_| Layer::new(&w[..], Shape::matrix(256, 256)))
        .collect();
    let opts = Options::new(pattern, 0.37).ties(ties);
    let units = 16 * 256 * 256;
    let mut scratch = vec![u64::MAX; Pruner::scratch_words(units)];
    let (mut a, mut b) = (
        vec![LayerPlan::default(); 16],
        vec![LayerPlan::default(); 16],
    );
    SCORED.store(0, Ordering::Relaxed);
    let fast = Pruner::with_scratch(&mut scratch)
        .plan(&layers, &opts, &mut a)
        .unwrap();
    let with = SCORED.swap(0, Ordering::Relaxed);
    let slow = Pruner::new().plan(&layers, &opts, &mut b).unwrap();
    let without = SCORED.swap(0, Ordering::Relaxed);
    assert_eq!(fast, slow);
    assert_eq!(a, b);
    if ties == Ties::Exact {
        assert_eq!(fast.pruned_units, units_at(0.37, units));
    }
    (units, with, without)
}

fn units_at(ratio: f64, units: u64) -> u64 {
    (ratio * units as f64) as u64
}

#[test]
fn scratch_plan_reads_the_scores_about_once() {
    // One test: the counter is shared.
    let (units, with, without) = scored_units(|t, out| counted_kernel(t, out, spread), Ties::Exact);
    // One pass and a sample of about 49152 units, against three 11-bit
    // radix passes and the count (the small build: five 7-bit passes).
    assert!(with < units + units / 16, "{with} of {units}");
    let passes = if cfg!(feature = "small") { 6 } else { 4 };
    assert_eq!(without, passes * units);
    // A sample that sees only the low runs: its range misses the k-th key,
    // or overflows; the radix passes follow, with the same plan.
    for ties in [Ties::Exact, Ties::Inclusive] {
        let (units, with, _) = scored_units(|t, out| counted_kernel(t, out, skewed), ties);
        assert!(with >= 3 * units, "{with} of {units}");
        let (units, with, _) = scored_units(|t, out| counted_kernel(t, out, clumped), ties);
        assert!(with >= 2 * units, "{with} of {units}");
    }
}

/// Parts that are not the range's parts of these layers, in order, are
/// errors naming the part; a range of other options is refused by the
/// workers and by the merge; nothing is written.
#[test]
fn split_parts_errors() {
    use prunemask::SplitRange;
    let ws: Vec<Vec<f32>> = (0..3)
        .map(|l| {
            (0..4096)
                .map(|i| ((i * 37 + l * 101) % 997) as f32)
                .collect()
        })
        .collect();
    let layers: Vec<Layer<'_>> = ws
        .iter()
        .map(|w| Layer::new(&w[..], Shape::matrix(64, 64)))
        .collect();
    let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5);
    let mut scratch = vec![0u64; Pruner::scratch_words(3 * 4096)];
    let mut pruner = Pruner::with_scratch(&mut scratch);
    let range = pruner.split_range(&layers, &opts).unwrap().unwrap();
    let part = |pruner: &Pruner<'_>, from: usize, to: usize| {
        let mut out = vec![0u64; SplitRange::part_words(to - from, 4096 * (to - from) as u64)];
        let used = pruner
            .gather_part(&layers[from..to], from, &opts, &range, &mut out)
            .unwrap()
            .unwrap();
        out.truncate(used);
        out
    };
    let (a, b) = (part(&pruner, 0, 1), part(&pruner, 1, 3));
    // A range made for other options.
    let inc = opts.clone().inc_compat();
    let other = pruner.split_range(&layers, &inc).unwrap().unwrap();
    let mut out = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    let refused = pruner
        .gather_part(&layers, 0, &opts, &other, &mut out)
        .map_err(|e| e.kind().clone());
    // The range survives its words; one changed in transit (a narrower
    // key range) gathers parts the merge refuses, naming the first.
    let words = range.to_words();
    assert_eq!(SplitRange::from_words(&words), range);
    let mut narrow = words;
    narrow[0] -= 1 << 32;
    let narrow = SplitRange::from_words(&narrow);
    let mut narrow_out = vec![0u64; SplitRange::part_words(1, 4096)];
    let used = pruner
        .gather_part(&layers[..1], 0, &opts, &narrow, &mut narrow_out)
        .unwrap()
        .unwrap();
    // Parts of other scoring (another reduction) under the same range.
    let other_reduce = opts.clone().reduce(prunemask::Reduce::Max);
    let mut out = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    let other_scoring = pruner
        .gather_part(&layers, 0, &other_reduce, &range, &mut out)
        .map_err(|e| e.kind().clone());
    // A run past the range's layers, and a part whose pool-layer count
    // is not its span's.
    let past = pruner
        .gather_part(&layers[..2], 2, &opts, &range, &mut out)
        .map_err(|e| e.kind().clone());
    let mut plans = vec![LayerPlan::default(); 3];
    let mut merge = |parts: &[&[u64]], range: &SplitRange| {
        plans.fill(LayerPlan::default());
        let got = pruner
            .plan_split(&layers, &opts, range, parts, &mut plans)
            .map_err(|e| e.kind().clone());
        assert!(
            got.is_ok() || plans.iter().all(|p| *p == LayerPlan::default()),
            "written on error"
        );
        got
    };
    assert!(merge(&[&a, &b], &range).is_ok());
    fn split<T>(part: Option<usize>, reason: &'static str) -> Result<T, ErrorKind> {
        Err(ErrorKind::SplitParts { part, reason })
    }
    assert_eq!(
        merge(&[&a], &range),
        split(None, "the parts do not hold these layers, in order")
    );
    assert_eq!(
        merge(&[&a[..1], &b], &range),
        split(Some(0), "its words are not a part")
    );
    // Counts that do not fit a layer's units: the second part given first.
    let wrong = merge(&[&b, &a], &range);
    assert!(
        matches!(wrong, Err(ErrorKind::SplitParts { .. })),
        "{wrong:?}"
    );
    assert_eq!(refused, split(None, "the range is not these options'"));
    assert_eq!(
        merge(&[&a, &b], &other),
        split(None, "the range is not these layers' and options'")
    );
    assert_eq!(
        merge(&[&narrow_out[..used], &b], &range),
        split(Some(0), "it was gathered against another range or scoring")
    );
    assert_eq!(
        other_scoring,
        split(None, "the range is not these options'")
    );
    assert_eq!(past, split(None, "the layers are not a run of the range's"));
    let mut short = b.clone();
    short[1] = 1;
    assert_eq!(
        merge(&[&a, &short], &range),
        split(Some(1), "its counts do not fit these layers or the range")
    );
    // Under inclusive N:M a record also carries its units' pruned
    // elements: more than its units hold is refused, not summed.
    let mut inc_part = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    let used = pruner
        .gather_part(&layers, 0, &inc, &other, &mut inc_part)
        .unwrap()
        .unwrap();
    inc_part.truncate(used);
    let mut plans = vec![LayerPlan::default(); 3];
    assert!(pruner
        .plan_split(&layers, &inc, &other, &[&inc_part], &mut plans)
        .is_ok());
    inc_part[7] = u64::MAX - 5;
    assert_eq!(
        pruner
            .plan_split(&layers, &inc, &other, &[&inc_part], &mut plans)
            .map_err(|e| e.kind().clone()),
        split(Some(0), "its counts do not fit these layers or the range")
    );
    // Only a global selection splits.
    let mut plans = vec![LayerPlan::default(); 3];
    assert_eq!(
        pruner
            .plan_split(
                &layers,
                &opts.clone().scope(prunemask::Scope::Local),
                &range,
                &[&a, &b],
                &mut plans
            )
            .map_err(|e| e.kind().clone()),
        split(None, "only a global selection splits")
    );
}

/// Inclusive ties count a block's elements exactly, also for blocks past
/// what an f32 holds as an integer (2^23 and more): here two whole-column
/// blocks of 2^23 + 3 elements, planned without scratch (the tally pass)
/// and with it (the gather).
#[test]
fn inclusive_counts_huge_blocks_exactly() {
    let rows = (1usize << 23) + 3;
    let w: Vec<f32> = (0..rows * 2).map(|i| 1.0 + (i % 2) as f32).collect();
    let layers = [Layer::new(&w[..], Shape::matrix(rows, 2))];
    let opts = Options::new(Pattern::parse("channelx1").unwrap(), 0.5).inc_compat();
    let mut plans = [LayerPlan::default()];
    let none = Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
    assert_eq!(none.pruned_units, 1);
    assert_eq!(none.pruned_elements, rows as u64);
    let mut scratch = vec![0u64; Pruner::scratch_words(2)];
    let with = Pruner::with_scratch(&mut scratch)
        .plan(&layers, &opts, &mut plans)
        .unwrap();
    assert_eq!(with, none);
}

/// The masked split (`gather_part_masked`, then `settle_part`): list and
/// length errors before anything is written, NaN named by its layer, and
/// the masks `write_mask` writes whatever the part: a plain part, another
/// run's, or marks changed after the gather make `settle_part` write the
/// layer whole.
#[test]
fn masked_split_errors_and_fallbacks() {
    use prunemask::SplitRange;
    let mut ws: Vec<Vec<f32>> = (0..3)
        .map(|l| {
            (0..4096)
                .map(|i| ((i * 37 + l * 101) % 97) as f32)
                .collect()
        })
        .collect();
    let shapes = [
        Shape::matrix(64, 64),
        Shape::matrix(64, 64),
        Shape::conv(16, 16, 4, 4),
    ];
    let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5);
    let data = ws.clone();
    let layers: Vec<Layer<'_>> = data
        .iter()
        .zip(shapes)
        .map(|(w, s)| Layer::new(&w[..], s))
        .collect();
    let mut scratch = vec![0u64; Pruner::scratch_words(3 * 4096)];
    let mut pruner = Pruner::with_scratch(&mut scratch);
    let range = pruner.split_range(&layers, &opts).unwrap().unwrap();
    // A range of other options, for a part that is not the range's.
    let other = (pruner.split_range(&layers, &opts.clone().inc_compat()))
        .unwrap()
        .unwrap();
    let mut plans = vec![LayerPlan::default(); 3];
    Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
    let want: Vec<Vec<u8>> = (layers.iter().zip(&plans))
        .map(|(l, p)| {
            let mut m = vec![7u8; 4096];
            Pruner::new().write_mask(l, &opts, p, &mut m).unwrap();
            m
        })
        .collect();
    let mut out = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    // Lists and lengths: errors, nothing written.
    let mut masks = vec![vec![7u8; 4096]; 3];
    masks[1].push(7);
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let e = pruner
        .gather_part_masked(&layers, 0, &opts, &range, &mut out, &mut outs)
        .unwrap_err();
    assert_eq!(e.layer(), Some(1));
    assert!(matches!(
        e.kind(),
        ErrorKind::MaskLength {
            expected: 4096,
            got: 4097
        }
    ));
    let e = pruner
        .gather_part_masked(&layers, 0, &opts, &range, &mut out, &mut outs[..2])
        .unwrap_err();
    assert!(matches!(
        e.kind(),
        ErrorKind::LayerCount { what: "masks", .. }
    ));
    assert!(
        masks.iter().all(|m| m.iter().all(|&b| b == 7)),
        "written on error"
    );
    // A NaN is named by its layer's index in the whole list.
    ws[2][5] = f32::NAN;
    let nan: Vec<Layer<'_>> = ws
        .iter()
        .zip(shapes)
        .map(|(w, s)| Layer::new(&w[..], s))
        .collect();
    let mut masks = vec![vec![7u8; 4096]; 2];
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let e = pruner
        .gather_part_masked(&nan[1..], 1, &opts, &range, &mut out, &mut outs)
        .unwrap_err();
    assert_eq!(
        (e.layer(), e.kind()),
        (Some(2), &ErrorKind::NanScore { index: 5 })
    );
    // The masked part is the plain part but for its flag; settling gives
    // write_mask's masks (the conv layer is written whole).
    let gather = |masks: &mut Vec<Vec<u8>>, out: &mut Vec<u64>| {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        let used = pruner
            .gather_part_masked(&layers, 0, &opts, &range, out, &mut outs)
            .unwrap()
            .unwrap();
        out.truncate(used);
    };
    let settle = |masks: &mut Vec<Vec<u8>>, part: &[u64], first: usize| {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        let n = outs.len();
        pruner.settle_part(
            &layers[first..first + n],
            first,
            &opts,
            &range,
            part,
            &plans[first..first + n],
            &mut outs,
        )
    };
    let mut masks = vec![vec![7u8; 4096]; 3];
    let mut part = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    gather(&mut masks, &mut part);
    assert!(
        masks[0].iter().any(|&m| m >= 2),
        "no unsettled unit: the test settles nothing"
    );
    let provisional = masks.clone();
    // A settle with a plan not of its layer is refused before anything is written.
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let swapped = [plans[0], LayerPlan::default(), plans[2]];
    let e = pruner
        .settle_part(&layers, 0, &opts, &range, &part, &swapped, &mut outs)
        .unwrap_err();
    assert_eq!((e.layer(), e.kind()), (Some(1), &ErrorKind::PlanMismatch));
    assert!(masks == provisional, "written on error");
    settle(&mut masks, &part, 0).unwrap();
    assert!(masks == want);
    // A plain part: every layer written whole, over any contents.
    let mut plain = vec![0u64; SplitRange::part_words(3, 3 * 4096)];
    let used = pruner
        .gather_part(&layers, 0, &opts, &range, &mut plain)
        .unwrap()
        .unwrap();
    let mut masks = vec![vec![9u8; 4096]; 3];
    settle(&mut masks, &plain[..used], 0).unwrap();
    assert!(masks == want);
    // Another run's part (this one is layers 0..3, settled as 1..3).
    let mut masks = provisional[1..].to_vec();
    settle(&mut masks, &part, 1).unwrap();
    assert!(masks == want[1..]);
    // Marks changed after the gather, where they no longer line up with
    // the part's keys: the layer is written whole. 4x1 units of a 64x64
    // layer: a unit's elements are 64 apart, from a row divisible by 4.
    let unit = |p: usize| [p, p + 64, p + 128, p + 192];
    let unsettled = provisional[0].iter().position(|&m| m >= 2).unwrap();
    let settled = (0..4096)
        .find(|&p| (p / 64) % 4 == 0 && unit(p).iter().all(|&e| provisional[0][e] < 2))
        .unwrap();
    // The settle ran (the layer was not written whole): a settled unit's
    // marks flipped after the gather, which nothing can tell apart, stay.
    let mut masks = provisional.clone();
    let flipped = unit(settled).map(|e| masks[0][e]);
    unit(settled).iter().for_each(|&e| masks[0][e] ^= 1);
    settle(&mut masks, &part, 0).unwrap();
    assert!(unit(settled)
        .iter()
        .zip(flipped)
        .all(|(&e, f)| masks[0][e] == f ^ 1));
    assert!(masks[1..] == want[1..], "the other layers settle as before");
    // A part gathered against another range is not settled from: its
    // layers are written whole.
    let mut stale = provisional.clone();
    let mut outs: Vec<&mut [u8]> = stale.iter_mut().map(|m| &mut m[..]).collect();
    pruner
        .settle_part(&layers, 0, &opts, &other, &part, &plans, &mut outs)
        .unwrap();
    assert!(stale == want);
    type Change = fn(&mut [u8], [usize; 4], [usize; 4]);
    let changes: [(&str, Change); 4] = [
        ("an unsettled unit's first element settled", |m, u, _| {
            m[u[0]] = 1
        }),
        ("an unsettled unit settled whole", |m, u, _| {
            u.iter().for_each(|&e| m[e] = 0)
        }),
        ("a settled unit unsettled whole", |m, _, s| {
            s.iter().for_each(|&e| m[e] = 2)
        }),
        (
            "a settled element below a unit's first unsettled",
            |m, _, s| m[s[1]] = 2,
        ),
    ];
    for (what, change) in changes {
        let mut masks = provisional.clone();
        change(&mut masks[0], unit(unsettled), unit(settled));
        settle(&mut masks, &part, 0).unwrap();
        assert!(masks == want, "{what}");
    }
}

/// The settle finds units wider than one mark (N:M groups, `1x4` blocks)
/// and settles them in place: a settled unit's marks flipped after the
/// gather stay flipped (a layer written whole would undo them), and the
/// rest of the mask is `write_mask`'s.
#[test]
fn masked_split_settles_wide_units() {
    use prunemask::SplitRange;
    // Widths dividing the 64 marks the settle reads at a time, and one
    // that crosses them.
    let cases = [
        ("2:4", 4, 128),
        ("1x4", 4, 128),
        ("1x16", 16, 128),
        ("1x24", 24, 96),
    ];
    for (name, width, cols) in cases {
        let n = 64 * cols;
        let ws: Vec<Vec<f32>> = (0..2)
            .map(|l| (0..n).map(|i| ((i * 37 + l * 101) % 97) as f32).collect())
            .collect();
        let opts = Options::new(Pattern::parse(name).unwrap(), 0.5);
        let layers: Vec<Layer<'_>> = (ws.iter())
            .map(|w| Layer::new(&w[..], Shape::matrix(64, cols)))
            .collect();
        let mut scratch = vec![0u64; Pruner::scratch_words(2 * n as u64)];
        let mut pruner = Pruner::with_scratch(&mut scratch);
        let range = pruner.split_range(&layers, &opts).unwrap().unwrap();
        let mut plans = vec![LayerPlan::default(); 2];
        Pruner::new().plan(&layers, &opts, &mut plans).unwrap();
        let mut masks = vec![vec![7u8; n]; 2];
        let mut part = vec![0u64; SplitRange::part_words(2, 2 * n as u64)];
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        let used = (pruner.gather_part_masked(&layers, 0, &opts, &range, &mut part, &mut outs))
            .unwrap()
            .unwrap();
        // A settled unit and the unsettled ones, in the first layer.
        let settled = (0..n / width)
            .map(|u| u * width)
            .find(|&p| masks[0][p..p + width].iter().all(|&m| m < 2))
            .unwrap();
        assert!(
            masks[0].iter().filter(|&&m| m >= 2).count() >= 2 * width,
            "{name}: too few unsettled units to test"
        );
        masks[0][settled..settled + width]
            .iter_mut()
            .for_each(|m| *m ^= 1);
        let flipped = masks[0][settled..settled + width].to_vec();
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        (pruner.settle_part(&layers, 0, &opts, &range, &part[..used], &plans, &mut outs)).unwrap();
        assert_eq!(
            masks[0][settled..settled + width],
            flipped[..],
            "{name}: not settled"
        );
        for (l, (layer, plan)) in layers.iter().zip(&plans).enumerate() {
            let mut want = vec![7u8; n];
            Pruner::new()
                .write_mask(layer, &opts, plan, &mut want)
                .unwrap();
            if l == 0 {
                want[settled..settled + width]
                    .iter_mut()
                    .for_each(|m| *m ^= 1);
            }
            assert!(masks[l] == want, "{name}: layer {l}");
        }
    }
}
