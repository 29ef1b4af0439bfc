//! The Wanda criterion (`|w| · s[input]`), row scope and per-layer
//! targets: worked cases, properties and every error.

use proptest::prelude::*;
use prunemask::{
    Bound, Criterion, ErrorKind, Layer, LayerPlan, Options, Pattern, Pruner, Scope, Shape, Status,
    Ties,
};

fn prune(
    layers: &[Layer<'_>],
    opts: &Options,
) -> Result<(Vec<Vec<u8>>, Vec<LayerPlan>), prunemask::Error> {
    let mut masks: Vec<Vec<u8>> = layers.iter().map(|l| vec![7u8; l.scores.len()]).collect();
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let res = {
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        Pruner::new().prune(layers, opts, &mut plans, &mut outs)
    };
    match res {
        Ok(_) => Ok((masks, plans)),
        Err(e) => {
            assert!(
                masks.iter().flatten().all(|&b| b == 7),
                "masks written on error {e}"
            );
            assert!(plans.iter().all(|p| *p == LayerPlan::default()));
            Err(e)
        }
    }
}

fn opts(pattern: &str, s: f64, scope: Scope) -> Options {
    Options::new(Pattern::parse(pattern).unwrap(), s)
        .criterion(Criterion::Wanda)
        .scope(scope)
        .max_sparsity_ratio_per_op(1.0)
}

/// The scale turns the ranking: a large weight on a quiet input goes first.
#[test]
fn wanda_ranks_by_weight_times_input_norm() {
    // One row: |w| = 4, 3, 2, 1; input norms 0.1, 1, 1, 10 give 0.4, 3, 2, 10.
    let w = [4.0f32, -3.0, 2.0, 1.0];
    let s = [0.1f32, 1.0, 1.0, 10.0];
    let layers = [Layer::new(&w[..], Shape::matrix(1, 4)).input_scale(&s)];
    let (masks, _) = prune(&layers, &opts("1x1", 0.5, Scope::Row)).unwrap();
    assert_eq!(masks[0], [0, 1, 0, 1]);
    // Magnitude alone prunes the two smallest weights.
    let plain = [Layer::new(&w[..], Shape::matrix(1, 4))];
    let (masks, _) = prune(
        &plain,
        &opts("1x1", 0.5, Scope::Row).criterion(Criterion::Magnitude),
    )
    .unwrap();
    assert_eq!(masks[0], [1, 1, 0, 0]);
    // 2:4 takes the least two of each group by the scaled score.
    let (masks, _) = prune(&layers, &opts("2:4", 0.5, Scope::Global)).unwrap();
    assert_eq!(masks[0], [0, 1, 0, 1]);
}

/// A conv weight's scale has one value per input channel, shared by its
/// kernel positions; an `[in, out]` weight's runs down dimension 0.
#[test]
fn scale_follows_the_input_of_every_layout() {
    // conv [1, 2, 1, 2]: w[0][i][0][k]; input 0 is quiet.
    let w = [1.0f32, 1.0, 2.0, 2.0];
    let s = [1.0f32, 0.25];
    let layers = [Layer::new(&w[..], Shape::conv(1, 2, 1, 2)).input_scale(&s)];
    let (masks, _) = prune(&layers, &opts("1x1", 0.5, Scope::Row)).unwrap();
    // Scores: input 0 -> 1, 1; input 1 -> 0.5, 0.5.
    assert_eq!(masks[0], [1, 1, 0, 0]);
    // [in = 2, out = 2] stored [[a0, b0], [a1, b1]]: input 1 is loud.
    let w = [1.0f32, 1.0, 1.0, 1.0];
    let s = [1.0f32, 5.0];
    let layers = [Layer::new(&w[..], Shape::in_out(2, 2)).input_scale(&s)];
    let (masks, _) = prune(&layers, &opts("1x1", 0.5, Scope::Row)).unwrap();
    assert_eq!(masks[0], [0, 0, 1, 1]);
}

#[test]
fn row_scope_prunes_exactly_k_per_row_lower_column_first() {
    // Every score equal: each row prunes floor(0.5 * 6) = 3, columns 0..3.
    let w = [1.0f32; 2 * 6];
    let layers = [Layer::new(&w[..], Shape::matrix(2, 6))];
    let o = opts("1x1", 0.5, Scope::Row).criterion(Criterion::Magnitude);
    let (masks, plans) = prune(&layers, &o).unwrap();
    assert_eq!(masks[0], [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1]);
    let r = plans[0].report();
    assert_eq!(
        (r.status, r.pruned_units, r.threshold),
        (Status::Selected, 6, None)
    );
    // 1x2 blocks: 3 per row, floor(0.5 * 3) = 1 block each.
    let (masks, _) = prune(
        &layers,
        &Options::new(Pattern::parse("1x2").unwrap(), 0.5).scope(Scope::Row),
    )
    .unwrap();
    assert_eq!(masks[0], [0, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1]);
}

#[test]
fn bounds_hold_each_row() {
    let w: Vec<f32> = (0..40).map(|i| i as f32).collect();
    let layers = [Layer::new(&w[..], Shape::matrix(4, 10))];
    let o = opts("1x1", 0.9, Scope::Row)
        .criterion(Criterion::Magnitude)
        .max_sparsity_ratio_per_op(0.55);
    let (masks, plans) = prune(&layers, &o).unwrap();
    assert_eq!(plans[0].report().status, Status::Bounded(Bound::Max));
    for row in masks[0].chunks(10) {
        assert_eq!(row.iter().filter(|&&m| m == 0).count(), 5);
    }
    let o = opts("1x1", 0.1, Scope::Row)
        .criterion(Criterion::Magnitude)
        .min_sparsity_ratio_per_op(0.3);
    let (masks, plans) = prune(&layers, &o).unwrap();
    assert_eq!(plans[0].report().status, Status::Bounded(Bound::Min));
    assert!(masks[0]
        .chunks(10)
        .all(|r| r.iter().filter(|&&m| m == 0).count() == 3));
}

#[test]
fn layer_targets_under_local_and_row_scope() {
    let w: Vec<f32> = (0..32).map(|i| (i % 7) as f32 + 1.0).collect();
    let layers = [
        Layer::new(&w[..16], Shape::matrix(2, 8)).target_sparsity(0.25),
        Layer::new(&w[16..], Shape::matrix(2, 8)),
    ];
    for scope in [Scope::Local, Scope::Row] {
        let o = opts("1x1", 0.75, scope).criterion(Criterion::Magnitude);
        let (masks, plans) = prune(&layers, &o).unwrap();
        assert_eq!(plans[0].report().pruned_units, 4, "{scope}");
        assert_eq!(plans[1].report().pruned_units, 12, "{scope}");
        assert_eq!(masks[0].iter().filter(|&&m| m == 0).count(), 4);
    }
    let err = prune(
        &layers,
        &opts("1x1", 0.75, Scope::Global).criterion(Criterion::Magnitude),
    )
    .unwrap_err();
    assert_eq!(
        (err.layer(), err.kind()),
        (Some(0), &ErrorKind::LayerTargetInGlobalScope)
    );
    let bad = [Layer::new(&w[..16], Shape::matrix(2, 8)).target_sparsity(1.5)];
    let err = prune(
        &bad,
        &opts("1x1", 0.5, Scope::Local).criterion(Criterion::Magnitude),
    )
    .unwrap_err();
    assert_eq!(err.layer(), Some(0));
    assert!(matches!(err.kind(), ErrorKind::BadRatio { value, .. } if *value == 1.5));
    let nm = [Layer::new(&w[..16], Shape::matrix(2, 8)).target_sparsity(0.75)];
    let err = prune(
        &nm,
        &opts("2:4", 0.5, Scope::Local).criterion(Criterion::Magnitude),
    )
    .unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::RatioAbovePattern { .. }));
}

#[test]
fn errors_name_the_layer_and_the_input() {
    let w = [1.0f32; 8];
    let good = [1.0f32; 4];
    let ok = Layer::new(&w[..], Shape::matrix(2, 4)).input_scale(&good);
    let o = opts("1x1", 0.5, Scope::Row);
    let cases: Vec<(Layer<'_>, ErrorKind)> = vec![
        (
            Layer::new(&w[..], Shape::matrix(2, 4)),
            ErrorKind::InputScaleMissing,
        ),
        (
            Layer::new(&w[..], Shape::matrix(2, 4)).input_scale(&good[..3]),
            ErrorKind::InputScaleLength {
                expected: 4,
                got: 3,
            },
        ),
        (
            Layer::new(&w[..], Shape::matrix(2, 4)).input_scale(&[1.0, -1.0, 1.0, 1.0]),
            ErrorKind::InputScaleValue {
                index: 1,
                value: -1.0,
            },
        ),
        (
            Layer::new(&w[..], Shape::matrix(2, 4)).input_scale(&[1.0, 1.0, 1.0, f32::INFINITY]),
            ErrorKind::InputScaleValue {
                index: 3,
                value: f32::INFINITY,
            },
        ),
    ];
    for (bad, kind) in cases {
        let err = prune(&[ok, bad], &o).unwrap_err();
        assert_eq!((err.layer(), err.kind()), (Some(1), &kind), "{err}");
    }
    let nan = Layer::new(&w[..], Shape::matrix(2, 4)).input_scale(&[1.0, 1.0, f32::NAN, 1.0]);
    let err = prune(&[nan], &o).unwrap_err();
    assert!(matches!(err.kind(), ErrorKind::InputScaleValue { index: 2, value } if value.is_nan()));
    assert!(err.to_string().contains("input feature 2"), "{err}");
    // A scale the criterion does not use is refused, not ignored.
    let err = prune(&[ok], &o.clone().criterion(Criterion::Magnitude)).unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::InputScaleUnused {
            criterion: Criterion::Magnitude
        }
    );
    // Row scope counts exactly.
    let err = prune(&[ok], &o.clone().ties(Ties::Inclusive)).unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::RowScopeTies);
    assert_eq!(
        o.ties(Ties::Inclusive).validate().unwrap_err().kind(),
        &ErrorKind::RowScopeTies
    );
    // write_mask checks the scale too.
    let mut plans = [LayerPlan::default()];
    let o = opts("1x1", 0.5, Scope::Row);
    Pruner::new().plan(&[ok], &o, &mut plans).unwrap();
    let mut mask = [7u8; 8];
    let err = Pruner::new()
        .write_mask(
            &Layer::new(&w[..], Shape::matrix(2, 4)),
            &o,
            &plans[0],
            &mut mask,
        )
        .unwrap_err();
    assert_eq!(err.kind(), &ErrorKind::InputScaleMissing);
    assert_eq!(mask, [7u8; 8]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A layer of one unit row: row scope is local scope.
    #[test]
    fn one_row_is_local(
        w in proptest::collection::vec((-8i8..8).prop_map(|i| i as f32 * 0.5), 24),
        s in proptest::collection::vec((0u8..5).prop_map(|i| i as f32), 24),
        pattern in proptest::sample::select(vec!["1x1", "1x2", "1x4", "2:4", "1:4", "4:8"]),
        u in 0.0f64..=1.0,
    ) {
        let p = Pattern::parse(pattern).unwrap();
        let share = match p.geometry() {
            prunemask::ext::Geometry::NInM { n, m } => n as f64 / m as f64,
            _ => 1.0,
        };
        let layers = [Layer::new(&w[..], Shape::matrix(1, 24)).input_scale(&s)];
        let row = prune(&layers, &opts(pattern, u * share, Scope::Row)).unwrap();
        let local = prune(&layers, &opts(pattern, u * share, Scope::Local)).unwrap();
        prop_assert_eq!(&row.0, &local.0);
        prop_assert_eq!(row.1[0].report().pruned_units, local.1[0].report().pruned_units);
    }

    /// Every row of a row-scope layer prunes exactly its k, whatever the
    /// scores; the pruned units of a row score no higher than its kept ones.
    #[test]
    fn exactly_k_in_every_row(
        rows in 1usize..6,
        w in proptest::collection::vec((-4i8..4).prop_map(|i| i as f32), 6 * 40),
        s in proptest::collection::vec((0u8..3).prop_map(|i| i as f32), 40),
        (u, k) in proptest::sample::select(vec![(0.0f64, 0usize), (0.1, 4), (0.25, 10), (0.3, 12), (0.55, 22), (0.7, 28), (0.9, 36), (1.0, 40)]),
    ) {
        let w = &w[..rows * 40];
        let layers = [Layer::new(w, Shape::matrix(rows, 40)).input_scale(&s)];
        let (masks, plans) = prune(&layers, &opts("1x1", u, Scope::Row)).unwrap();
        prop_assert_eq!(plans[0].report().pruned_units, (rows * k) as u64);
        for (r, row) in masks[0].chunks(40).enumerate() {
            let zeros = row.iter().filter(|&&m| m == 0).count();
            prop_assert_eq!(zeros, k, "row {}", r);
            let score = |c: usize| w[r * 40 + c].abs() * s[c];
            let hi = (0..40).filter(|&c| row[c] == 0).map(score).fold(f32::NEG_INFINITY, f32::max);
            prop_assert!((0..40).filter(|&c| row[c] == 1).all(|c| score(c) >= hi));
        }
    }
}
