//! Every SIMD level this machine has gives the masks, reports and unit
//! scores of the scalar level, bit for bit, through the public API.

use half::{bf16, f16};
use proptest::prelude::*;
use prunemask::{
    prune, unit_scores, CapMode, Criterion, Domain, ErrorKind, Layer, LayerReport, Level, Options,
    Pattern, Reduce, Shape, Ties,
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
    pattern: &'static str,
    opts: (f64, bool, bool, bool, bool, u8),
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
            any::<bool>(),
            any::<bool>(),
            0u8..3,
        ),
    )
        .prop_flat_map(|(shapes, pattern, opts)| {
            let data = shapes
                .iter()
                .map(|s| proptest::collection::vec(score(), s.elements().unwrap()))
                .collect::<Vec<_>>();
            (Just(shapes), data, Just(pattern), Just(opts))
        })
        .prop_map(|(shapes, data, pattern, opts)| Case {
            shapes,
            data,
            pattern,
            opts,
        })
}

fn options(c: &Case, level: Level) -> Options {
    let (s, local, inclusive, seed, magnitude, reduce) = c.opts;
    Options::new(Pattern::parse(c.pattern).unwrap(), s)
        .domain(if local { Domain::Local } else { Domain::Global })
        .ties(if inclusive {
            Ties::Inclusive
        } else {
            Ties::Exact
        })
        .cap(if seed {
            CapMode::Seed
        } else {
            CapMode::Redistribute
        })
        .max_layer(0.9)
        .criterion(if magnitude {
            Criterion::Magnitude
        } else {
            Criterion::Scores
        })
        .reduce([Reduce::Mean, Reduce::Sum, Reduce::L2, Reduce::Max][reduce as usize])
        .level(level)
}

type Outcome = Result<(Vec<Vec<u8>>, Vec<LayerReport>, Vec<Option<Vec<u32>>>), String>;

fn run<T: Copy>(c: &Case, level: Level, data: &[Vec<T>]) -> Outcome
where
    for<'a> &'a [T]: Into<prunemask::Scores<'a>>,
{
    let layers: Vec<Layer<'_>> = data
        .iter()
        .zip(&c.shapes)
        .map(|(d, &s)| Layer::new(&d[..], s))
        .collect();
    let opts = options(c, level);
    let mut masks: Vec<Vec<u8>> = data.iter().map(|d| vec![7u8; d.len()]).collect();
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let mut reports = vec![LayerReport::default(); layers.len()];
    prune(&layers, &opts, &mut reports, &mut outs).map_err(|e| e.to_string())?;
    let scores = layers
        .iter()
        .zip(&reports)
        .map(|(l, r)| {
            let mut out = vec![0.0f32; r.units as usize];
            unit_scores(l, &opts, &mut out)
                .ok()
                .map(|_| out.iter().map(|x| x.to_bits()).collect())
        })
        .collect();
    Ok((masks, reports, scores))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_level_equals_scalar(c in case()) {
        let want = run(&c, Level::Scalar, &c.data);
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
    let mut reports = [LayerReport::default()];
    for level in Level::ALL.into_iter().filter(|l| !l.is_available()) {
        let opts = Options::new(Pattern::parse("2:4").unwrap(), 0.5).level(level);
        let err = prunemask::plan(&layers, &opts, &mut reports).unwrap_err();
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
                let opts = Options::new(Pattern::parse(name).unwrap(), 0.5)
                    .reduce(reduce)
                    .level(level);
                let units = match name {
                    "16x1" | "2x8" => rows * cols / 16,
                    "8x1" | "4:8" | "1x8" => rows * cols / 8,
                    "4x8" | "16x2" => rows * cols / 32,
                    "1:2" | "1x2" => rows * cols / 2,
                    "11:20" => rows * cols / 20,
                    _ => rows * cols / 4,
                };
                let mut out = vec![0.0f32; units];
                prunemask::unit_scores(layer, &opts, &mut out).unwrap();
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
