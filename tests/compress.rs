//! Property tests of `prunemask::compress`: round trips bit for bit (f32,
//! f16, bf16, raw bits including `-0.0` and NaN), the bitmask against the
//! mask's own bits, errors exactly on invalid input and then nothing
//! written, and the masks of `Pruner::prune` at `2:4` and `4:8`.

use half::{bf16, f16};
use proptest::prelude::*;
use proptest::sample::select;
use prunemask::compress::{self, Layout};
use prunemask::ext::Element;
use prunemask::{ErrorKind, Layer, LayerPlan, Options, Pattern, Pruner, Shape};

/// N:M pairs, N pruned.
const PAIRS: &[(usize, usize)] = &[
    (1, 2),
    (1, 4),
    (2, 4),
    (3, 4),
    (4, 8),
    (2, 8),
    (7, 8),
    (3, 5),
    (1, 3),
    (8, 16),
    (5, 7),
];

/// The element types under test, by bits.
trait Bits: Element + core::fmt::Debug {
    fn bits(self) -> u32;
    fn from_raw(bits: u32) -> Self;
}

impl Bits for f32 {
    fn bits(self) -> u32 {
        self.to_bits()
    }
    fn from_raw(bits: u32) -> Self {
        f32::from_bits(bits)
    }
}

impl Bits for f16 {
    fn bits(self) -> u32 {
        self.to_bits() as u32
    }
    fn from_raw(bits: u32) -> Self {
        f16::from_bits(bits as u16)
    }
}

impl Bits for bf16 {
    fn bits(self) -> u32 {
        self.to_bits() as u32
    }
    fn from_raw(bits: u32) -> Self {
        bf16::from_bits(bits as u16)
    }
}

/// A matrix under N:M: layout, raw weight bits (zeros of both signs and
/// NaN often), and a valid N:M mask.
#[derive(Debug, Clone)]
struct Case {
    rows: usize,
    cols: usize,
    n: usize,
    m: usize,
    bits: Vec<u32>,
    mask: Vec<u8>,
}

fn weight_bits() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => any::<u32>(),
        1 => Just(0u32),
        1 => Just(0x8000_8000u32), // -0.0 in f16/bf16 (low half) and f32
        1 => Just(0x7fc0_7e00u32), // NaN in every type
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (select(PAIRS), 0usize..6, 0usize..6)
        .prop_flat_map(|((n, m), rows, groups)| {
            let cols = groups * m;
            let len = rows * cols;
            let group_masks = proptest::collection::vec(
                Just((0..m).collect::<Vec<usize>>()).prop_shuffle(),
                rows * groups,
            );
            (
                Just((rows, cols, n, m)),
                proptest::collection::vec(weight_bits(), len),
                group_masks,
            )
        })
        .prop_map(|((rows, cols, n, m), bits, perms)| {
            let mut mask = vec![1u8; rows * cols];
            for (g, perm) in perms.iter().enumerate() {
                for &p in &perm[..n] {
                    mask[g * m + p] = 0;
                }
            }
            Case {
                rows,
                cols,
                n,
                m,
                bits,
                mask,
            }
        })
}

/// The weight where the mask is 1, `+0.0` where it is 0, as bits.
fn masked<T: Bits>(w: &[T], mask: &[u8]) -> Vec<u32> {
    w.iter()
        .zip(mask)
        .map(|(&x, &k)| if k == 1 { x.bits() } else { 0 })
        .collect()
}

fn bits_of<T: Bits>(xs: &[T]) -> Vec<u32> {
    xs.iter().map(|&x| x.bits()).collect()
}

fn bit(bitmask: &[u8], row_bytes: usize, r: usize, c: usize) -> u8 {
    (bitmask[r * row_bytes + c / 8] >> (c % 8)) & 1
}

fn round_trip<T: Bits>(c: &Case) -> Result<(), TestCaseError> {
    let l = Layout::new(c.rows, c.cols, c.n, c.m).unwrap();
    let w: Vec<T> = c.bits.iter().map(|&b| T::from_raw(b)).collect();
    let junk = T::from_raw(0x3c00_3c00);

    let mut values = vec![junk; l.values_len()];
    let mut indices = vec![0xaau8; l.values_len()];
    compress::compress(&l, &w, &c.mask, &mut values, &mut indices).unwrap();
    for g in indices.chunks(l.kept_per_group()) {
        prop_assert!(g.windows(2).all(|p| p[0] < p[1]));
        prop_assert!(g.iter().all(|&p| (p as usize) < c.m));
    }
    let mut dense = vec![junk; l.elements()];
    compress::decompress(&l, &values, &indices, &mut dense).unwrap();
    prop_assert_eq!(bits_of(&dense), masked(&w, &c.mask));

    let mut values2 = vec![junk; l.values_len()];
    let mut bitmask = vec![0xaau8; l.bitmask_len()];
    compress::pack_bitmask(&l, &w, &c.mask, &mut values2, &mut bitmask).unwrap();
    prop_assert_eq!(bits_of(&values2), bits_of(&values));
    // Each row's kept values in increasing column order.
    let kept: Vec<u32> = w
        .iter()
        .zip(&c.mask)
        .filter(|(_, &k)| k == 1)
        .map(|(&x, _)| x.bits())
        .collect();
    prop_assert_eq!(bits_of(&values), kept);
    let rb = l.bitmask_row_bytes();
    for r in 0..c.rows {
        for col in 0..rb * 8 {
            let want = if col < c.cols {
                c.mask[r * c.cols + col]
            } else {
                0
            };
            prop_assert_eq!(bit(&bitmask, rb, r, col), want, "row {} col {}", r, col);
        }
    }
    let mut dense2 = vec![junk; l.elements()];
    compress::unpack_bitmask(&l, &values2, &bitmask, &mut dense2).unwrap();
    prop_assert_eq!(bits_of(&dense2), masked(&w, &c.mask));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// compress/decompress and pack/unpack give back the weight where the
    /// mask is 1 and `+0.0` where it is 0, bit for bit, in every type.
    #[test]
    fn round_trips(c in case()) {
        round_trip::<f32>(&c)?;
        round_trip::<f16>(&c)?;
        round_trip::<bf16>(&c)?;
    }

    /// Arbitrary masks (mostly 0/1, sometimes 2): `Ok` exactly for N:M
    /// masks; otherwise the first fault in row-major order, and nothing
    /// written.
    #[test]
    fn masks_checked(
        c in case(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..3), 0..3),
    ) {
        let mut mask = c.mask.clone();
        if !mask.is_empty() {
            for (i, v) in &flips {
                let at = i.index(mask.len());
                mask[at] = *v;
            }
        }
        let l = Layout::new(c.rows, c.cols, c.n, c.m).unwrap();
        let w: Vec<f32> = c.bits.iter().map(|&b| f32::from_bits(b)).collect();
        let mut want = None;
        for (g, grp) in mask.chunks(c.m).enumerate() {
            if let Some(p) = grp.iter().position(|&x| x > 1) {
                want = Some(ErrorKind::MaskValue { index: g * c.m + p, value: grp[p] });
                break;
            }
            let zeros = grp.iter().filter(|&&x| x == 0).count();
            if zeros != c.n {
                let per_row = c.cols / c.m;
                want = Some(ErrorKind::GroupZeros {
                    row: g / per_row, group: g % per_row, zeros, n: c.n,
                });
                break;
            }
        }
        let mut values = vec![7.0f32; l.values_len()];
        let mut indices = vec![7u8; l.values_len()];
        let mut bitmask = vec![7u8; l.bitmask_len()];
        let r1 = compress::compress(&l, &w, &mask, &mut values, &mut indices);
        let r2 = compress::pack_bitmask(&l, &w, &mask, &mut values, &mut bitmask);
        match want {
            None => prop_assert!(r1.is_ok() && r2.is_ok()),
            Some(kind) => {
                prop_assert_eq!(r1.unwrap_err().kind().clone(), kind.clone());
                prop_assert_eq!(r2.unwrap_err().kind().clone(), kind);
                prop_assert!(values.iter().all(|&x| x == 7.0));
                prop_assert!(indices.iter().all(|&x| x == 7));
                prop_assert!(bitmask.iter().all(|&x| x == 7));
            }
        }
    }

    /// Arbitrary bitmask bytes: `unpack_bitmask` is `Ok` exactly when every
    /// group has `m - n` bits set and no padding bit is set, and then
    /// packing what it wrote gives back the same bitmask and values.
    #[test]
    fn bitmasks_checked(
        c in case(),
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        take_case in any::<bool>(),
    ) {
        let l = Layout::new(c.rows, c.cols, c.n, c.m).unwrap();
        let values: Vec<bf16> = (0..l.values_len()).map(|i| bf16::from_bits(c.bits.get(i).map_or(1, |&b| b as u16))).collect();
        // Half the runs: the case's valid bitmask, one byte perhaps changed.
        let mut bitmask = vec![0u8; l.bitmask_len()];
        if take_case {
            let mut v = vec![bf16::ZERO; l.values_len()];
            let w = vec![bf16::ONE; l.elements()];
            compress::pack_bitmask(&l, &w, &c.mask, &mut v, &mut bitmask).unwrap();
            if let (Some(&b), false) = (bytes.first(), bitmask.is_empty()) {
                let at = b as usize % bitmask.len();
                bitmask[at] ^= bytes.get(1).copied().unwrap_or(0);
            }
        } else {
            for (x, b) in bitmask.iter_mut().zip(bytes.iter().cycle()) {
                *x = *b;
            }
        }
        let rb = l.bitmask_row_bytes();
        let mut want_ok = true;
        'rows: for r in 0..c.rows {
            for g in 0..c.cols / c.m {
                let kept: usize = (g * c.m..(g + 1) * c.m).map(|col| bit(&bitmask, rb, r, col) as usize).sum();
                if kept != c.m - c.n {
                    want_ok = false;
                    break 'rows;
                }
            }
            if (c.cols..rb * 8).any(|col| bit(&bitmask, rb, r, col) == 1) {
                want_ok = false;
                break;
            }
        }
        let mut dense = vec![bf16::from_f32(7.0); l.elements()];
        match compress::unpack_bitmask(&l, &values, &bitmask, &mut dense) {
            Err(e) => {
                prop_assert!(!want_ok, "{}", e);
                prop_assert!(matches!(e.kind(), ErrorKind::GroupZeros { .. } | ErrorKind::BitmaskPadding { .. }), "{}", e);
                prop_assert!(dense.iter().all(|&x| x == bf16::from_f32(7.0)));
            }
            Ok(()) => {
                prop_assert!(want_ok);
                let mut mask = vec![0u8; l.elements()];
                for r in 0..c.rows {
                    for col in 0..c.cols {
                        mask[r * c.cols + col] = bit(&bitmask, rb, r, col);
                    }
                }
                prop_assert_eq!(bits_of(&dense), masked(&dense, &mask));
                let mut v2 = vec![bf16::ONE; l.values_len()];
                let mut b2 = vec![0xffu8; l.bitmask_len()];
                compress::pack_bitmask(&l, &dense, &mask, &mut v2, &mut b2).unwrap();
                prop_assert_eq!(b2, bitmask);
                prop_assert_eq!(bits_of(&v2), bits_of(&values));
            }
        }
    }

    /// Arbitrary index metadata: `decompress` is `Ok` exactly when each
    /// group's indices are strictly increasing and below `m`, and then
    /// compressing what it wrote gives back the same values and indices.
    #[test]
    fn indices_checked(c in case(), raw in proptest::collection::vec(0u8..20, 0..64), take_case in any::<bool>()) {
        let l = Layout::new(c.rows, c.cols, c.n, c.m).unwrap();
        let k = l.kept_per_group();
        let values: Vec<f16> = (0..l.values_len()).map(|i| f16::from_bits(c.bits.get(i).map_or(1, |&b| b as u16))).collect();
        let mut indices = vec![0u8; l.values_len()];
        if take_case {
            let w = vec![f16::ONE; l.elements()];
            let mut v = vec![f16::ZERO; l.values_len()];
            compress::compress(&l, &w, &c.mask, &mut v, &mut indices).unwrap();
            if let (Some(&b), false) = (raw.first(), indices.is_empty()) {
                let at = b as usize % indices.len();
                indices[at] = raw.get(1).copied().unwrap_or(0);
            }
        } else {
            for (x, b) in indices.iter_mut().zip(raw.iter().cycle()) {
                *x = *b;
            }
        }
        let want_ok = indices
            .chunks(k)
            .all(|g| g.windows(2).all(|p| p[0] < p[1]) && g.iter().all(|&p| (p as usize) < c.m));
        let mut dense = vec![f16::from_f32(7.0); l.elements()];
        match compress::decompress(&l, &values, &indices, &mut dense) {
            Err(e) => {
                prop_assert!(!want_ok, "{}", e);
                prop_assert!(matches!(e.kind(), ErrorKind::GroupIndices { .. }), "{}", e);
                prop_assert!(dense.iter().all(|&x| x == f16::from_f32(7.0)));
            }
            Ok(()) => {
                prop_assert!(want_ok);
                let mut mask = vec![0u8; l.elements()];
                for (g, idx) in indices.chunks(k).enumerate() {
                    for &p in idx {
                        mask[g * c.m + p as usize] = 1;
                    }
                }
                let mut v2 = vec![f16::ONE; l.values_len()];
                let mut i2 = vec![0xffu8; l.values_len()];
                compress::compress(&l, &dense, &mask, &mut v2, &mut i2).unwrap();
                prop_assert_eq!(i2, indices);
                prop_assert_eq!(bits_of(&v2), bits_of(&values));
            }
        }
    }

    /// Wrong buffer lengths are refused, naming the buffer, and nothing
    /// is written.
    #[test]
    fn lengths_checked(c in case(), which in 0usize..5, longer in any::<bool>()) {
        let l = Layout::new(c.rows, c.cols, c.n, c.m).unwrap();
        let off = |len: usize, me: usize| if me != which { len } else if longer || len == 0 { len + 1 } else { len - 1 };
        let w = vec![1.0f32; off(l.elements(), 0)];
        let mask = {
            let mut m = c.mask.clone();
            m.resize(off(l.elements(), 1), 1);
            m
        };
        let mut values = vec![7.0f32; off(l.values_len(), 2)];
        let mut indices = vec![7u8; off(l.values_len(), 3)];
        let mut bitmask = vec![7u8; off(l.bitmask_len(), 4)];
        let what = ["weights", "mask", "values", "indices", "bitmask"][which];
        let is_len = |r: Result<(), prunemask::Error>| {
            matches!(r.unwrap_err().kind(), ErrorKind::BufferLength { what: w, .. } if *w == what)
        };
        // `pack_bitmask` takes no indices, `compress` no bitmask.
        if which != 4 {
            prop_assert!(is_len(compress::compress(&l, &w, &mask, &mut values, &mut indices)));
        }
        if which != 3 {
            prop_assert!(is_len(compress::pack_bitmask(&l, &w, &mask, &mut values, &mut bitmask)));
        }
        prop_assert!(values.iter().all(|&x| x == 7.0));
        prop_assert!(indices.iter().all(|&x| x == 7));
        prop_assert!(bitmask.iter().all(|&x| x == 7));
    }

    /// The library's own `2:4` and `4:8` masks (at their N/M target, where
    /// every group is pruned) compress without error, in every type.
    #[test]
    fn pruner_masks_compress(
        (pattern, rows, cols, w) in (select(&["2:4", "4:8"][..]), 1usize..9, 1usize..5)
            .prop_flat_map(|(p, rows, g)| {
                let cols = g * 8;
                (Just(p), Just(rows), Just(cols), proptest::collection::vec(-100.0f32..100.0, rows * cols))
            }),
    ) {
        let p = Pattern::parse(pattern).unwrap();
        let l = Layout::for_pattern(rows, cols, &p).unwrap();
        let opts = Options::new(p, 0.5);
        let halves: Vec<f16> = w.iter().map(|&x| f16::from_f32(x)).collect();
        let brains: Vec<bf16> = w.iter().map(|&x| bf16::from_f32(x)).collect();
        let layers = [
            Layer::new(&w[..], Shape::matrix(rows, cols)),
            Layer::new(&halves[..], Shape::matrix(rows, cols)),
            Layer::new(&brains[..], Shape::matrix(rows, cols)),
        ];
        let mut masks = vec![vec![9u8; rows * cols]; 3];
        let mut plans = [LayerPlan::default(); 3];
        {
            let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
            Pruner::new().prune(&layers, &opts, &mut plans, &mut outs).unwrap();
        }
        let mut values = vec![0.0f32; l.values_len()];
        let mut indices = vec![0u8; l.values_len()];
        let mut bitmask = vec![0u8; l.bitmask_len()];
        compress::compress(&l, &w, &masks[0], &mut values, &mut indices).unwrap();
        compress::pack_bitmask(&l, &w, &masks[0], &mut values, &mut bitmask).unwrap();
        let mut hv = vec![f16::ZERO; l.values_len()];
        compress::compress(&l, &halves, &masks[1], &mut hv, &mut indices).unwrap();
        let mut bv = vec![bf16::ZERO; l.values_len()];
        compress::pack_bitmask(&l, &brains, &masks[2], &mut bv, &mut bitmask).unwrap();
        let mut dense = vec![bf16::ONE; l.elements()];
        compress::unpack_bitmask(&l, &bv, &bitmask, &mut dense).unwrap();
        prop_assert_eq!(bits_of(&dense), masked(&brains, &masks[2]));
    }
}

/// Below the N/M target some groups stay dense: not an N:M mask, refused.
#[test]
fn partly_pruned_masks_are_refused() {
    let w: Vec<f32> = (0..32).map(|i| i as f32).collect();
    let p = Pattern::parse("2:4").unwrap();
    let layers = [Layer::new(&w[..], Shape::matrix(2, 16))];
    let mut mask = vec![0u8; 32];
    let mut plans = [LayerPlan::default()];
    let opts = Options::new(p.clone(), 0.25);
    Pruner::new()
        .prune(&layers, &opts, &mut plans, &mut [&mut mask[..]])
        .unwrap();
    let l = Layout::for_pattern(2, 16, &p).unwrap();
    let (mut v, mut i) = (vec![0.0f32; 16], vec![0u8; 16]);
    let e = compress::compress(&l, &w, &mask, &mut v, &mut i).unwrap_err();
    assert!(
        matches!(e.kind(), ErrorKind::GroupZeros { zeros: 0, n: 2, .. }),
        "{e}"
    );
}
