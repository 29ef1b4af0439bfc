//! Pattern lock and sparsity: `Pruner::lock` on weights with many exact
//! zeros, then `Pruner::mask_sparsity` of its masks, and of arbitrary masks,
//! at every level.
//!
//! Invariants:
//! - no panic; `Err` exactly for invalid input (counts, lengths, NaN weights,
//!   mask values above 1), and an `Err` leaves every buffer as it was;
//! - lock masks are 0/1, and 0 only where the weight is zero (`-0.0`
//!   included); more precisely, by SEMANTICS section 8: a block is 0 exactly
//!   when all its weights are zero, an N:M element exactly when it is zero and
//!   its group has at least N zeros; layers the pattern does not fit are all
//!   ones and skipped; reports and summary count the zeros;
//! - `sparsity` of the lock masks counts what `lock` pruned, and of any 0/1
//!   masks what SEMANTICS section 9 says; its ratio is in `[0, 1]`.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use half::{bf16, f16};
use libfuzzer_sys::fuzz_target;

mod common;
use common::{chance, flat, grid, mask_buffers, Data, Draw, Grid, PATTERNS};
use prunemask::ext::Geometry;
use prunemask::{
    Compat, Criterion, ErrorKind, Layer, LayerReport, Level, Pattern, Pruner, Shape, Status,
};

const SENTINEL: u8 = 7;

#[derive(Debug)]
struct LayerIn {
    shape: Shape,
    data: Data,
    /// Arbitrary masks for `sparsity` (mostly 0/1).
    other_mask: Vec<u8>,
}

#[derive(Debug)]
struct Input {
    layers: Vec<LayerIn>,
    pattern: &'static str,
    other_pattern: &'static str,
    /// Make one lock mask buffer the wrong length.
    corrupt: Option<(usize, bool)>,
    report_count_off: bool,
}

fn data(u: &mut Unstructured<'_>, n: usize, zero_weight: u8) -> Result<Data> {
    let ty = u.int_in_range(0u8..=2)?;
    let mut bits = Vec::with_capacity(n);
    for _ in 0..n {
        let c = u8::arbitrary(u)?;
        // Zeros (both signs) with high probability, so whole blocks and
        // groups come out zero; exhausted input gives zeros too.
        let mut b: u32 = if c < zero_weight {
            if c & 1 == 0 {
                0
            } else if ty == 0 {
                0x8000_0000
            } else {
                0x8000
            }
        } else if ty == 0 {
            u32::arbitrary(u)?
        } else {
            u16::arbitrary(u)? as u32
        };
        let nan = match ty {
            0 => f32::from_bits(b).is_nan(),
            1 => f16::from_bits(b as u16).is_nan(),
            _ => bf16::from_bits(b as u16).is_nan(),
        };
        // NaN is placed on purpose (see `Input::arbitrary`), not by chance.
        if nan {
            b = 0x3f80; // some non-zero, non-NaN value in each type
        }
        bits.push(b);
    }
    Ok(Data::from_bits(ty, bits))
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        // A quarter of the runs: patterns on layers they mostly fit.
        let draw = Draw::new(u, 1, 4)?;
        let pattern = draw.pattern;
        let other_pattern = if chance(u, 1, 2)? {
            pattern
        } else {
            *u.choose(PATTERNS)?
        };
        let allow_nan = chance(u, 1, 16)?;
        let zero_weight = *u.choose(&[128u8, 200, 240, 255])?;
        let bad_masks = chance(u, 1, 16)?;
        let count = u.int_in_range(1..=4)?;
        let mut layers = Vec::with_capacity(count);
        for _ in 0..count {
            let shape = draw.shape(u)?;
            let n = shape.elements().unwrap();
            let data = data(u, n, zero_weight)?;
            let mut other_mask = Vec::with_capacity(n);
            for _ in 0..n {
                let v = u8::arbitrary(u)?;
                other_mask.push(if bad_masks && v == 0xff {
                    2
                } else {
                    (v > 96) as u8
                });
            }
            layers.push(LayerIn {
                shape,
                data,
                other_mask,
            });
        }
        if allow_nan {
            let l = u.int_in_range(0..=count - 1)?;
            let len = layers[l].data.len();
            let at = u.int_in_range(0..=len - 1)?;
            match &mut layers[l].data {
                Data::F32(v) => v[at] = f32::NAN,
                Data::F16(v) => v[at] = f16::NAN,
                Data::Bf16(v) => v[at] = -bf16::NAN,
            }
        }
        let corrupt = if chance(u, 1, 32)? {
            Some((u.int_in_range(0..=count - 1)?, bool::arbitrary(u)?))
        } else {
            None
        };
        Ok(Input {
            layers,
            pattern,
            other_pattern,
            corrupt,
            report_count_off: chance(u, 1, 64)?,
        })
    }
}

/// Flat indices of each unit's elements.
fn units(shape: Shape, g: Grid) -> Vec<Vec<usize>> {
    let mut out = Vec::with_capacity(g.rows * g.cols);
    for gr in 0..g.rows {
        for gc in 0..g.cols {
            let mut u = Vec::with_capacity(g.unit_rows * g.unit_cols);
            for r in gr * g.unit_rows..(gr + 1) * g.unit_rows {
                for c in gc * g.unit_cols..(gc + 1) * g.unit_cols {
                    u.push(flat(shape, r, c));
                }
            }
            out.push(u);
        }
    }
    out
}

/// `sparsity` by SEMANTICS section 9: (zero, total).
fn expected_sparsity(p: Geometry, shapes: &[Shape], masks: &[&[u8]]) -> (u64, u64) {
    let (mut zero, mut total) = (0, 0);
    for (&s, m) in shapes.iter().zip(masks) {
        match p {
            Geometry::NInM { .. } => {
                zero += m.iter().filter(|&&x| x == 0).count() as u64;
                total += m.len() as u64;
            }
            Geometry::Block { .. } => {
                if let Ok(g) = grid(s, p, Compat::Native) {
                    for u in units(s, g) {
                        zero += u.iter().all(|&x| m[x] == 0) as u64;
                        total += 1;
                    }
                }
            }
        }
    }
    (zero, total)
}

fuzz_target!(|input: Input| {
    let pattern = Pattern::parse(input.pattern).unwrap();
    let geometry = pattern.geometry();
    let layers: Vec<Layer<'_>> = input
        .layers
        .iter()
        .map(|l| Layer::new(l.data.scores(), l.shape))
        .collect();
    let shapes: Vec<Shape> = input.layers.iter().map(|l| l.shape).collect();
    let n = layers.len();
    let lens = input.layers.iter().map(|l| l.data.len());
    let mut bufs = mask_buffers(lens, input.corrupt, SENTINEL);
    let mut reports = vec![LayerReport::default(); if input.report_count_off { n + 1 } else { n }];
    let result = {
        let mut outs: Vec<&mut [u8]> = bufs.iter_mut().map(|b| &mut b[..]).collect();
        Pruner::new().lock(&layers, &pattern, &mut reports, &mut outs)
    };
    // Every level gives what `lock` (the best level) gave; a level this CPU
    // lacks is an error and writes nothing.
    let result_debug = format!("{result:?}");
    for level in Level::ALL {
        let mut bufs2 = mask_buffers(
            input.layers.iter().map(|l| l.data.len()),
            input.corrupt,
            SENTINEL,
        );
        let mut reports2 = vec![LayerReport::default(); reports.len()];
        let r = {
            let mut outs: Vec<&mut [u8]> = bufs2.iter_mut().map(|b| &mut b[..]).collect();
            Pruner::new()
                .level(level)
                .lock(&layers, &pattern, &mut reports2, &mut outs)
        };
        if level.is_available() {
            assert_eq!(format!("{r:?}"), result_debug, "lock at {level:?}");
            assert_eq!(bufs2, bufs, "lock at {level:?} masks");
            if r.is_ok() {
                assert_eq!(reports2, reports, "lock at {level:?} reports");
            }
        } else {
            assert_eq!(
                r.unwrap_err().kind(),
                &ErrorKind::LevelUnavailable { level }
            );
            assert!(bufs2.iter().all(|b| b.iter().all(|&x| x == SENTINEL)));
        }
    }
    let any_nan = input
        .layers
        .iter()
        .any(|l| (0..l.data.len()).any(|i| l.data.get(i).is_nan()));
    let valid = input.corrupt.is_none() && !input.report_count_off && !any_nan;

    match result {
        Err(e) => {
            assert!(!e.to_string().is_empty(), "{e:?}");
            assert!(!valid, "valid input rejected: {e}");
            for (i, b) in bufs.iter().enumerate() {
                assert!(b.iter().all(|&x| x == SENTINEL), "Err ({e}) wrote mask {i}");
            }
            if let ErrorKind::NanScore { index } = e.kind() {
                let l = e.layer().expect("NaN error names its layer");
                assert!(input.layers[l].data.get(*index).is_nan());
            }
        }
        Ok(summary) => {
            assert!(valid, "invalid input accepted");
            let (mut units_sum, mut pruned_units, mut elements, mut pruned_elements, mut skipped) =
                (0, 0, 0, 0, 0);
            for (li, ((l, r), mask)) in input.layers.iter().zip(&reports).zip(&bufs).enumerate() {
                assert!(
                    mask.iter().all(|&x| x <= 1),
                    "layer {li}: lock mask not 0/1"
                );
                let is_zero = |x: usize| l.data.get(x) == 0.0;
                for (x, &m) in mask.iter().enumerate() {
                    assert!(
                        m == 1 || is_zero(x),
                        "layer {li}: lock zero at non-zero weight {x}"
                    );
                }
                let zeros = mask.iter().filter(|&&x| x == 0).count() as u64;
                assert_eq!(r.pruned_elements, zeros, "layer {li}");
                assert_eq!(r.elements, l.data.len() as u64, "layer {li}");
                match grid(l.shape, geometry, Compat::Native).ok() {
                    None => {
                        assert!(
                            matches!(r.status, Status::Skipped(_)),
                            "layer {li}: {:?}",
                            r.status
                        );
                        assert_eq!(zeros, 0, "layer {li}: skipped layer locked");
                        skipped += 1;
                    }
                    Some(g) => {
                        assert_eq!(r.status, Status::Selected, "layer {li}");
                        assert_eq!(r.units, (g.rows * g.cols) as u64, "layer {li}");
                        let mut pruned = 0;
                        for (ui, u) in units(l.shape, g).iter().enumerate() {
                            let wz = u.iter().filter(|&&x| is_zero(x)).count();
                            match geometry {
                                Geometry::Block { .. } => {
                                    let want = if wz == u.len() { 0 } else { 1 };
                                    assert!(
                                        u.iter().all(|&x| mask[x] == want),
                                        "layer {li}: block {ui} ({wz} of {} weights zero)",
                                        u.len()
                                    );
                                    pruned += (want == 0) as u64;
                                }
                                Geometry::NInM { n, .. } => {
                                    for &x in u {
                                        let want = !(is_zero(x) && wz >= n) as u8;
                                        assert_eq!(
                                            mask[x], want,
                                            "layer {li}: group {ui} element {x}"
                                        );
                                    }
                                    pruned += (wz >= n) as u64;
                                }
                            }
                        }
                        assert_eq!(r.pruned_units, pruned, "layer {li}: pruned units");
                    }
                }
                units_sum += r.units;
                pruned_units += r.pruned_units;
                elements += r.elements;
                pruned_elements += r.pruned_elements;
            }
            assert_eq!(summary.layers, n);
            assert_eq!(summary.skipped, skipped);
            assert_eq!(summary.units, units_sum);
            assert_eq!(summary.pruned_units, pruned_units);
            assert_eq!(summary.elements, elements);
            assert_eq!(summary.pruned_elements, pruned_elements);

            // Sparsity of the lock masks: what lock pruned.
            let masks: Vec<&[u8]> = bufs.iter().map(|b| &b[..]).collect();
            let s = Pruner::new()
                .mask_sparsity(&pattern, &shapes, &masks)
                .expect("sparsity of lock masks");
            assert!((0.0..=1.0).contains(&s.ratio()));
            assert_eq!(
                (s.zero, s.total),
                expected_sparsity(geometry, &shapes, &masks)
            );
            match geometry {
                Geometry::Block { .. } => {
                    assert_eq!((s.zero, s.total), (summary.pruned_units, summary.units))
                }
                Geometry::NInM { .. } => {
                    assert_eq!(
                        (s.zero, s.total),
                        (summary.pruned_elements, summary.elements)
                    )
                }
            }
        }
    }

    // Sparsity of arbitrary masks, under a possibly different pattern.
    let other = Pattern::parse(input.other_pattern).unwrap();
    let masks: Vec<&[u8]> = input.layers.iter().map(|l| &l.other_mask[..]).collect();
    let bad = masks
        .iter()
        .enumerate()
        .find_map(|(i, m)| m.iter().position(|&v| v > 1).map(|j| (i, j, m[j])));
    let want = Pruner::new().mask_sparsity(&other, &shapes, &masks);
    for level in Level::ALL {
        let got = Pruner::new()
            .level(level)
            .mask_sparsity(&other, &shapes, &masks);
        if level.is_available() {
            assert_eq!(
                format!("{got:?}"),
                format!("{want:?}"),
                "mask_sparsity at {level:?}"
            );
        } else {
            assert_eq!(
                got.unwrap_err().kind(),
                &ErrorKind::LevelUnavailable { level }
            );
        }
    }
    match (want, bad) {
        (Ok(s), None) => {
            assert!(s.zero <= s.total);
            assert!((0.0..=1.0).contains(&s.ratio()));
            assert_eq!(
                (s.zero, s.total),
                expected_sparsity(other.geometry(), &shapes, &masks)
            );
        }
        (Err(e), Some((i, j, v))) => {
            assert!(!e.to_string().is_empty());
            assert_eq!(e.layer(), Some(i));
            assert_eq!(e.kind(), &ErrorKind::MaskValue { index: j, value: v });
        }
        (r, b) => panic!("sparsity: {r:?} with bad value {b:?}"),
    }
    // Wrong counts and lengths are refused.
    if n > 1 {
        assert!(Pruner::new()
            .mask_sparsity(&other, &shapes, &masks[..n - 1])
            .is_err());
    }
    let short = &input.layers[0].other_mask[..input.layers[0].other_mask.len() - 1];
    let mut masks2 = masks.clone();
    masks2[0] = short;
    assert!(Pruner::new()
        .mask_sparsity(&other, &shapes, &masks2)
        .is_err());

    // Score mass of arbitrary masks: the same at every level; all ones keep
    // the whole mass exactly; Err exactly for a bad mask value or a NaN.
    for (layer, l) in layers.iter().zip(&input.layers) {
        let mask = &l.other_mask[..];
        let want = Pruner::new().score_mass(layer, Criterion::Magnitude, mask);
        for level in Level::ALL {
            let got = Pruner::new()
                .level(level)
                .score_mass(layer, Criterion::Magnitude, mask);
            if level.is_available() {
                assert_eq!(
                    format!("{got:?}"),
                    format!("{want:?}"),
                    "score_mass at {level:?}"
                );
            }
        }
        let nan = (0..l.data.len()).any(|i| l.data.get(i).is_nan());
        let bad = mask.iter().any(|&v| v > 1) || mask.len() != l.data.len();
        let bad_shape = l.shape.elements() != Ok(l.data.len());
        let ones = vec![1u8; mask.len()];
        match (want, nan || bad || bad_shape) {
            (Ok(m), false) => {
                assert!(m.kept >= 0.0 && m.kept <= m.total, "{m:?}");
                if m.total.is_finite() {
                    assert!((0.0..=1.0).contains(&m.fraction()), "{m:?}");
                }
                let all = Pruner::new()
                    .score_mass(layer, Criterion::Magnitude, &ones)
                    .unwrap();
                assert_eq!(all.kept, all.total);
                assert_eq!(all.total, m.total);
            }
            (Err(e), true) => assert!(!e.to_string().is_empty()),
            (r, _) => panic!("score_mass: {r:?} (NaN {nan}, bad mask {bad})"),
        }
    }
});
