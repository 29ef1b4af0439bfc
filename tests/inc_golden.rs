//! Agreement with INC 2.0: masks from INC's own `get_masks` and
//! `get_pattern_lock_masks` (tests/golden/*.json, made by
//! tests/golden/make_inc_golden.py) must equal ours under `inc_compat`.

use prunemask::{
    ErrorKind, Layer, LayerPlan, LayerReport, Options, Pattern, Pruner, Scope, Shape, Status,
};
use serde_json::Value;

struct Case {
    name: String,
    pattern: String,
    domain: Option<String>,
    target: f64,
    max_layer: f64,
    error: Option<String>,
    shapes: Vec<Shape>,
    inputs: Vec<Vec<f32>>,
    masks: Vec<Option<Vec<u8>>>,
}

fn load(file: &str) -> Vec<Case> {
    let path = format!("{}/tests/golden/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("golden file");
    let json: Value = serde_json::from_str(&text).expect("golden json");
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let layers = c["layers"].as_array().unwrap();
            let floats = |v: &Value| -> Vec<f32> {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            };
            Case {
                name: c["name"].as_str().unwrap().to_string(),
                pattern: c["pattern"].as_str().unwrap().to_string(),
                domain: c["domain"].as_str().map(str::to_string),
                target: c["target"].as_f64().unwrap_or(0.0),
                max_layer: c["max_layer"].as_f64().unwrap_or(1.0),
                error: c["error"].as_str().map(str::to_string),
                shapes: layers
                    .iter()
                    .map(|l| {
                        let dims: Vec<usize> = l["shape"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|d| d.as_u64().unwrap() as usize)
                            .collect();
                        Shape::from_dims(&dims).unwrap()
                    })
                    .collect(),
                inputs: layers
                    .iter()
                    .map(|l| {
                        floats(if l.get("weights").is_some() {
                            &l["weights"]
                        } else {
                            &l["scores"]
                        })
                    })
                    .collect(),
                masks: layers
                    .iter()
                    .map(|l| {
                        l.get("mask").map(|m| {
                            m.as_array()
                                .unwrap()
                                .iter()
                                .map(|x| x.as_u64().unwrap() as u8)
                                .collect()
                        })
                    })
                    .collect(),
            }
        })
        .collect()
}

impl Case {
    fn layers(&self) -> Vec<Layer<'_>> {
        self.inputs
            .iter()
            .zip(&self.shapes)
            .map(|(s, &sh)| Layer::new(&s[..], sh))
            .collect()
    }
}

/// Runs a selection case the INC way; returns our masks or our error.
fn run(case: &Case) -> Result<(Vec<Vec<u8>>, Vec<LayerReport>), prunemask::Error> {
    let layers = case.layers();
    // The golden files keep INC 2.0's key names (`domain`, `max_layer`).
    let scope = match case.domain.as_deref() {
        Some("local") => Scope::Local,
        _ => Scope::Global,
    };
    let opts = Options::new(Pattern::parse(&case.pattern)?, case.target)
        .scope(scope)
        .max_sparsity_ratio_per_op(case.max_layer)
        .inc_compat();
    let mut masks: Vec<Vec<u8>> = case.inputs.iter().map(|s| vec![7u8; s.len()]).collect();
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let mut plans = vec![LayerPlan::default(); layers.len()];
    Pruner::new().prune(&layers, &opts, &mut plans, &mut outs)?;
    Ok((masks, plans.iter().map(|p| *p.report()).collect()))
}

/// Elements where our mask differs from INC's, per case, for cases INC ran.
fn compare(file: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for case in load(file) {
        if case.error.is_some() {
            continue;
        }
        let (ours, _) = run(&case).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let mut diff = 0;
        let mut total = 0;
        for (a, b) in ours.iter().zip(&case.masks) {
            let b = b.as_ref().unwrap();
            total += b.len();
            diff += a.iter().zip(b).filter(|(x, y)| x != y).count();
        }
        out.push((case.name, diff, total));
    }
    out
}

fn report(results: &[(String, usize, usize)]) -> usize {
    let mut bad = 0;
    for (name, diff, total) in results {
        if *diff > 0 {
            bad += 1;
            println!("{name}: {diff} of {total} elements differ");
        }
    }
    println!(
        "{} of {} cases equal INC 2.0",
        results.len() - bad,
        results.len()
    );
    bad
}

#[test]
fn nxm_masks_equal_inc() {
    let results = compare("inc20_nxm.json");
    assert!(results.len() >= 40);
    assert_eq!(report(&results), 0);
}

#[test]
fn n_in_m_masks_equal_inc() {
    let results = compare("inc20_nm.json");
    assert!(results.len() >= 25);
    assert_eq!(report(&results), 0);
}

#[test]
fn lock_masks_equal_inc() {
    let mut checked = 0;
    for case in load("inc20_lock.json") {
        let layers = case.layers();
        let mut masks: Vec<Vec<u8>> = case.inputs.iter().map(|s| vec![7u8; s.len()]).collect();
        let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
        let mut reports = vec![LayerReport::default(); layers.len()];
        Pruner::new()
            .lock(
                &layers,
                &Pattern::parse(&case.pattern).unwrap(),
                &mut reports,
                &mut outs,
            )
            .unwrap();
        if case.error.is_some() {
            // INC crashes on a layer the pattern does not fit; we skip it.
            for (r, m) in reports.iter().zip(&masks) {
                if matches!(r.status, Status::Skipped(_)) {
                    assert!(m.iter().all(|&x| x == 1), "{}", case.name);
                    checked += 1;
                }
            }
            continue;
        }
        for (a, b) in masks.iter().zip(&case.masks) {
            assert_eq!(a, b.as_ref().unwrap(), "{}", case.name);
        }
        checked += 1;
    }
    assert_eq!(checked, 8);
}

/// Where INC crashes we give an answer or a clear error.
#[test]
fn inc_error_cases_are_handled() {
    let mut seen = 0;
    for file in ["inc20_nxm.json", "inc20_nm.json"] {
        for case in load(file).into_iter().filter(|c| c.error.is_some()) {
            seen += 1;
            match run(&case) {
                Ok((masks, reports)) => {
                    // Local mode over a layer that does not fit, or a cap of 0 units.
                    for (m, r) in masks.iter().zip(&reports) {
                        assert!(m.iter().all(|&x| x <= 1), "{}", case.name);
                        if matches!(r.status, Status::Skipped(_)) {
                            assert!(m.iter().all(|&x| x == 1), "{}", case.name);
                        }
                    }
                }
                Err(e) => assert!(
                    matches!(e.kind(), ErrorKind::RatioAbovePattern { .. }),
                    "{}: {e}",
                    case.name
                ),
            }
        }
    }
    assert_eq!(seen, 4);
}
