//! The threaded runs give what one thread gives: plans, summaries, masks
//! and errors, for every scope and tie rule, over 1 to 5 threads.

use prunemask::{ErrorKind, Layer, LayerPlan, Options, Pattern, Pruner, Scope, Shape, Ties};

fn layers(ws: &[Vec<f32>]) -> Vec<Layer<'_>> {
    ws.iter()
        .enumerate()
        .map(|(i, w)| {
            let cols = if i % 2 == 0 { 64 } else { 32 };
            Layer::new(&w[..], Shape::matrix(w.len() / cols, cols))
        })
        .collect()
}

fn weights(n: usize) -> Vec<Vec<f32>> {
    (0..n)
        .map(|l| {
            let len = if l % 3 == 0 { 8192 } else { 2048 };
            (0..len)
                .map(|i| ((i * 37 + l * 101) % 509) as f32 * 0.25 - 30.0)
                .collect()
        })
        .collect()
}

#[test]
fn plans_and_masks_are_one_threads() {
    let ws = weights(7);
    let layers = layers(&ws);
    let units: u64 = ws.iter().map(|w| w.len() as u64).sum();
    for (name, scope, ties) in [
        ("2:4", Scope::Global, Ties::Exact),
        ("2:4", Scope::Global, Ties::Inclusive),
        ("4x1", Scope::Global, Ties::Inclusive),
        ("1x1", Scope::Global, Ties::Exact),
        ("4x1", Scope::Local, Ties::Exact),
        ("1x4", Scope::Row, Ties::Exact),
    ] {
        let opts = Options::new(Pattern::parse(name).unwrap(), 0.5)
            .scope(scope)
            .ties(ties)
            .max_sparsity_ratio_per_op(0.7);
        let mut one = vec![LayerPlan::default(); layers.len()];
        let want = Pruner::new().plan(&layers, &opts, &mut one).unwrap();
        let mut masks_one: Vec<Vec<f32>> = ws.iter().map(|w| vec![9.0; w.len()]).collect();
        for (i, m) in masks_one.iter_mut().enumerate() {
            Pruner::new()
                .write_mask(&layers[i], &opts, &one[i], m)
                .unwrap();
        }
        for threads in 1..=5 {
            let mut scratch = vec![0u64; Pruner::scratch_words(units)];
            let mut plans = vec![LayerPlan::default(); layers.len()];
            let mut pruner = Pruner::with_scratch(&mut scratch);
            let got = prunemask_threads::plan(&mut pruner, &layers, &opts, threads, &mut plans);
            assert_eq!(got, Ok(want), "{name} {scope:?} {ties:?} on {threads}");
            assert_eq!(plans, one, "{name} {scope:?} {ties:?} on {threads}");
            let mut masks: Vec<Vec<f32>> = ws.iter().map(|w| vec![9.0; w.len()]).collect();
            let outs = masks.iter_mut().map(|m| &mut m[..]).collect();
            prunemask_threads::write_masks(&pruner, &layers, &opts, &plans, outs, threads).unwrap();
            assert_eq!(masks, masks_one, "{name} {scope:?} {ties:?} on {threads}");
            // One scoring pass, masks written by the gathers: the same,
            // f32 and u8.
            let mut plans = vec![LayerPlan::default(); layers.len()];
            let mut masks: Vec<Vec<f32>> = ws.iter().map(|w| vec![9.0; w.len()]).collect();
            let outs = masks.iter_mut().map(|m| &mut m[..]).collect();
            let mut pruner = Pruner::with_scratch(&mut scratch);
            let got =
                prunemask_threads::prune(&mut pruner, &layers, &opts, threads, &mut plans, outs);
            assert_eq!(
                got,
                Ok(want),
                "prune: {name} {scope:?} {ties:?} on {threads}"
            );
            assert_eq!(plans, one, "prune: {name} {scope:?} {ties:?} on {threads}");
            assert_eq!(
                masks, masks_one,
                "prune: {name} {scope:?} {ties:?} on {threads}"
            );
            let mut bytes: Vec<Vec<u8>> = ws.iter().map(|w| vec![9; w.len()]).collect();
            let outs = bytes.iter_mut().map(|m| &mut m[..]).collect();
            let got =
                prunemask_threads::prune(&mut pruner, &layers, &opts, threads, &mut plans, outs);
            assert_eq!(
                got,
                Ok(want),
                "prune u8: {name} {scope:?} {ties:?} on {threads}"
            );
            let floats: Vec<Vec<f32>> = (bytes.iter())
                .map(|m| m.iter().map(|&b| f32::from(b)).collect())
                .collect();
            assert_eq!(
                floats, masks_one,
                "prune u8: {name} {scope:?} {ties:?} on {threads}"
            );
        }
    }
}

#[test]
fn errors_are_one_threads() {
    let mut ws = weights(7);
    ws[5][100] = f32::NAN;
    ws[2][7] = f32::NAN;
    let layers = layers(&ws);
    let opts = Options::new(Pattern::parse("4x1").unwrap(), 0.5);
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let want = Pruner::new().plan(&layers, &opts, &mut plans).unwrap_err();
    assert_eq!(want.layer(), Some(2));
    for threads in 1..=4 {
        let mut scratch = vec![0u64; Pruner::scratch_words(1 << 16)];
        let got = prunemask_threads::plan(
            &mut Pruner::with_scratch(&mut scratch),
            &layers,
            &opts,
            threads,
            &mut plans,
        );
        assert_eq!(got, Err(want.clone()), "on {threads}");
        let mut scratch = vec![0u64; Pruner::scratch_words(1 << 16)];
        let mut masks: Vec<Vec<u8>> = ws.iter().map(|w| vec![7; w.len()]).collect();
        let outs = masks.iter_mut().map(|m| &mut m[..]).collect();
        let got = prunemask_threads::prune(
            &mut Pruner::with_scratch(&mut scratch),
            &layers,
            &opts,
            threads,
            &mut plans,
            outs,
        );
        assert_eq!(got, Err(want.clone()), "prune on {threads}");
    }
    // A NaN in layer 2 beside a short mask for layer 5: plan's error
    // first, on any thread count, and no mask written then.
    for threads in 1..=4 {
        let mut scratch = vec![0u64; Pruner::scratch_words(1 << 16)];
        let mut masks: Vec<Vec<u8>> = ws.iter().map(|w| vec![7; w.len()]).collect();
        masks[5].pop();
        let outs = masks.iter_mut().map(|m| &mut m[..]).collect();
        let got = prunemask_threads::prune(
            &mut Pruner::with_scratch(&mut scratch),
            &layers,
            &opts,
            threads,
            &mut plans,
            outs,
        );
        assert_eq!(got, Err(want.clone()), "prune, a short mask, on {threads}");
        assert!(
            masks.iter().all(|m| m.iter().all(|&b| b == 7)),
            "written on {threads}"
        );
    }
    // A plans list of the wrong length beside a NaN layer: plan's error.
    let mut short = vec![LayerPlan::default(); layers.len() - 1];
    let want = Pruner::new().plan(&layers, &opts, &mut short).unwrap_err();
    let mut scratch = vec![0u64; Pruner::scratch_words(1 << 16)];
    let got = prunemask_threads::plan(
        &mut Pruner::with_scratch(&mut scratch),
        &layers,
        &opts,
        3,
        &mut short,
    );
    assert_eq!(got, Err(want));
    // Masks: the first failing layer, and lists of the wrong length.
    let good = weights(7);
    let good_layers = self::layers(&good);
    let mut plans = vec![LayerPlan::default(); layers.len()];
    Pruner::new().plan(&good_layers, &opts, &mut plans).unwrap();
    let mut masks: Vec<Vec<u8>> = ws.iter().map(|w| vec![7; w.len()]).collect();
    let outs = masks.iter_mut().map(|m| &mut m[..]).collect();
    let err = prunemask_threads::write_masks(&Pruner::new(), &layers, &opts, &plans, outs, 3)
        .unwrap_err();
    assert_eq!(
        (err.0, err.1.kind()),
        (Some(2), &ErrorKind::NanScore { index: 7 })
    );
    // Whatever the thread count.
    for threads in 1..=5 {
        let outs = masks.iter_mut().map(|m| &mut m[..]).collect();
        let err =
            prunemask_threads::write_masks(&Pruner::new(), &layers, &opts, &plans, outs, threads)
                .unwrap_err();
        assert_eq!(err.0, Some(2), "on {threads}");
    }
    assert!(
        masks[2].iter().chain(&masks[5]).all(|&m| m == 7),
        "written on error"
    );
    let outs = masks.iter_mut().skip(1).map(|m| &mut m[..]).collect();
    let err = prunemask_threads::write_masks(&Pruner::new(), &good_layers, &opts, &plans, outs, 3)
        .unwrap_err();
    assert_eq!(
        (err.0, err.1.kind()),
        (
            None,
            &ErrorKind::LayerCount {
                what: "masks",
                expected: 7,
                got: 6
            }
        )
    );
}
