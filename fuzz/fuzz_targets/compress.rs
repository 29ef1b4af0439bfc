//! `prunemask::compress`: `Layout::new`, `compress`/`decompress`,
//! `pack_bitmask`/`unpack_bitmask` on arbitrary sizes, element types (f32,
//! f16, bf16 raw bits), masks (mostly N:M, sometimes corrupted), buffer
//! lengths, index metadata and bitmask bytes.
//!
//! Invariants:
//! - no panic; `Layout::new` is `Ok` exactly for `1 <= n < m <= 128`,
//!   `cols % m == 0` and `rows * cols` in `usize`;
//! - every call is `Err` exactly for invalid input (a buffer of the wrong
//!   length, a mask byte above 1 or a group without `n` zeros, indices not
//!   strictly increasing below `m`, a group without `m - n` bits set or a
//!   padding bit set), and an `Err` writes nothing;
//! - when `Ok`: both layouts give back the weight where the mask is 1 and
//!   `+0.0` where it is 0, bit for bit; both write the same values, each
//!   row's kept values in column order; the bitmask is the mask's bits,
//!   padding 0; decoding arbitrary metadata then encoding it again gives
//!   the same metadata and values.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use half::{bf16, f16};
use libfuzzer_sys::fuzz_target;
use prunemask::compress::{self, Layout};
use prunemask::ext::Element;
use prunemask::ErrorKind;

const SENTINEL: u8 = 0xa5;

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

#[derive(Debug)]
struct Input {
    ty: u8,
    rows: usize,
    cols: usize,
    n: usize,
    m: usize,
    bits: Vec<u32>,
    mask: Vec<u8>,
    /// Length changes of weights, mask, values, indices, bitmask.
    len_off: [i8; 5],
    /// Arbitrary metadata to decode (when the layout is valid).
    indices: Vec<u8>,
    bitmask: Vec<u8>,
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let ty = u.int_in_range(0u8..=2)?;
        let (n, m) = if u.ratio(1u8, 16)? {
            (u.int_in_range(0..=200usize)?, u.int_in_range(0..=200usize)?)
        } else {
            let m = *u.choose(&[2usize, 3, 4, 4, 4, 5, 8, 8, 16, 32, 128])?;
            (u.int_in_range(1..=m - 1)?, m)
        };
        let mut rows = u.int_in_range(0..=8usize)?;
        let mut cols = m.max(1) * u.int_in_range(0..=6usize)?;
        if u.ratio(1u8, 16)? {
            cols = u.int_in_range(0..=300usize)?;
        }
        if u.ratio(1u8, 64)? {
            rows = usize::MAX - u.int_in_range(0..=3usize)?;
            cols = cols.max(2);
        }
        let elements = rows.checked_mul(cols).filter(|&e| e <= 8192).unwrap_or(0);
        let mut bits = Vec::with_capacity(elements);
        for _ in 0..elements {
            bits.push(match u.int_in_range(0u8..=7)? {
                0 => 0,
                1 => 0x8000_8000,
                2 => 0x7fc0_7e01,
                _ => u32::arbitrary(u)?,
            });
        }
        // An N:M mask: n pruned positions of each group drawn at random.
        let mut mask = vec![1u8; elements];
        if m > n && m > 0 && cols % m == 0 {
            for g in mask.chunks_mut(m) {
                for left in (m - n + 1..=m).rev() {
                    // The j-th position still kept (`left` of them).
                    let j = u.int_in_range(0..=left - 1)?;
                    let p = (0..m).filter(|&p| g[p] == 1).nth(j).unwrap();
                    g[p] = 0;
                }
            }
        }
        if u.ratio(1u8, 8)? && !mask.is_empty() {
            for _ in 0..u.int_in_range(1..=3)? {
                let at = u.int_in_range(0..=mask.len() - 1)?;
                mask[at] = u.int_in_range(0..=2)?;
            }
        }
        let mut len_off = [0i8; 5];
        if u.ratio(1u8, 16)? {
            let which = u.int_in_range(0..=4usize)?;
            len_off[which] = *u.choose(&[-2i8, -1, 1, 3])?;
        }
        let indices = Vec::<u8>::arbitrary(u)?;
        let bitmask = Vec::<u8>::arbitrary(u)?;
        Ok(Input {
            ty,
            rows,
            cols,
            n,
            m,
            bits,
            mask,
            len_off,
            indices,
            bitmask,
        })
    }
}

fn resized<T: Clone>(mut v: Vec<T>, len: usize, off: i8, fill: T) -> Vec<T> {
    let len = (len as isize + off as isize).max(0) as usize;
    v.resize(len, fill);
    v
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

fn run<T: Bits>(input: &Input, l: &Layout) {
    let (rows, cols, n, m) = (l.rows(), l.cols(), l.n(), l.m());
    let k = m - n;
    let junk = T::from_raw(0x3c00_3c00);
    let w: Vec<T> = input.bits.iter().map(|&b| T::from_raw(b)).collect();
    let off = input.len_off;
    let w = resized(w, l.elements(), off[0], T::from_raw(1));
    let mask = resized(input.mask.clone(), l.elements(), off[1], 1);

    // Compress and pack.
    let mask_ok = mask.len() == l.elements()
        && mask
            .chunks(m)
            .all(|g| g.iter().all(|&x| x <= 1) && g.iter().filter(|&&x| x == 0).count() == n);
    let mut values = resized(vec![junk; l.values_len()], l.values_len(), off[2], junk);
    let mut indices = resized(
        vec![SENTINEL; l.values_len()],
        l.values_len(),
        off[3],
        SENTINEL,
    );
    let mut bitmask = resized(
        vec![SENTINEL; l.bitmask_len()],
        l.bitmask_len(),
        off[4],
        SENTINEL,
    );
    let r = compress::compress(l, &w, &mask, &mut values, &mut indices);
    // An offset may leave a length as it was (0 - 2 is 0).
    let w_ok = w.len() == l.elements();
    let v_ok = values.len() == l.values_len();
    let i_ok = indices.len() == l.values_len();
    let b_ok = bitmask.len() == l.bitmask_len();
    let compress_ok = w_ok && v_ok && i_ok && mask_ok;
    match r {
        Ok(()) => assert!(compress_ok, "compress accepted invalid input"),
        Err(e) => {
            assert!(!compress_ok, "compress refused valid input: {e}");
            assert!(!e.to_string().is_empty());
            assert!(
                values.iter().all(|x| x.bits() == junk.bits()),
                "Err wrote values"
            );
            assert!(indices.iter().all(|&x| x == SENTINEL), "Err wrote indices");
        }
    }
    let mut values2 = resized(vec![junk; l.values_len()], l.values_len(), off[2], junk);
    let r = compress::pack_bitmask(l, &w, &mask, &mut values2, &mut bitmask);
    let pack_ok = w_ok && v_ok && b_ok && mask_ok;
    match r {
        Ok(()) => assert!(pack_ok, "pack_bitmask accepted invalid input"),
        Err(e) => {
            assert!(!pack_ok, "pack_bitmask refused valid input: {e}");
            assert!(
                values2.iter().all(|x| x.bits() == junk.bits()),
                "Err wrote values"
            );
            assert!(bitmask.iter().all(|&x| x == SENTINEL), "Err wrote bitmask");
        }
    }
    if compress_ok && pack_ok {
        let kept: Vec<u32> = w
            .iter()
            .zip(&mask)
            .filter(|(_, &x)| x == 1)
            .map(|(&x, _)| x.bits())
            .collect();
        assert_eq!(bits_of(&values), kept);
        assert_eq!(bits_of(&values2), kept);
        let rb = l.bitmask_row_bytes();
        for r in 0..rows {
            for c in 0..rb * 8 {
                let want = if c < cols { mask[r * cols + c] } else { 0 };
                assert_eq!(bit(&bitmask, rb, r, c), want, "bitmask row {r} col {c}");
            }
        }
        let mut dense = vec![junk; l.elements()];
        compress::decompress(l, &values, &indices, &mut dense).unwrap();
        assert_eq!(bits_of(&dense), masked(&w, &mask));
        let mut dense = vec![junk; l.elements()];
        compress::unpack_bitmask(l, &values2, &bitmask, &mut dense).unwrap();
        assert_eq!(bits_of(&dense), masked(&w, &mask));
    }

    // Arbitrary index metadata.
    let values: Vec<T> = (0..l.values_len())
        .map(|i| T::from_raw(input.bits.get(i).copied().unwrap_or(i as u32)))
        .collect();
    let mut indices = input.indices.clone();
    indices.resize(l.values_len(), 0);
    let indices_ok = indices
        .chunks(k)
        .all(|g| g.windows(2).all(|p| p[0] < p[1]) && g.iter().all(|&p| (p as usize) < m));
    let mut dense = vec![junk; l.elements()];
    match compress::decompress(l, &values, &indices, &mut dense) {
        Err(e) => {
            assert!(!indices_ok, "decompress refused valid indices: {e}");
            assert!(matches!(e.kind(), ErrorKind::GroupIndices { .. }), "{e}");
            assert!(
                dense.iter().all(|x| x.bits() == junk.bits()),
                "Err wrote weights"
            );
        }
        Ok(()) => {
            assert!(indices_ok, "decompress accepted bad indices");
            let mut mask = vec![0u8; l.elements()];
            for (g, idx) in indices.chunks(k).enumerate() {
                for &p in idx {
                    mask[g * m + p as usize] = 1;
                }
            }
            assert_eq!(bits_of(&dense), masked(&dense, &mask));
            let mut v2 = vec![junk; l.values_len()];
            let mut i2 = vec![SENTINEL; l.values_len()];
            compress::compress(l, &dense, &mask, &mut v2, &mut i2).unwrap();
            assert_eq!(i2, indices);
            assert_eq!(bits_of(&v2), bits_of(&values));
        }
    }

    // Arbitrary bitmask bytes.
    let mut bitmask = input.bitmask.clone();
    bitmask.resize(l.bitmask_len(), 0);
    let rb = l.bitmask_row_bytes();
    let bitmask_ok = (0..rows).all(|r| {
        (0..cols / m).all(|g| {
            (g * m..(g + 1) * m)
                .map(|c| bit(&bitmask, rb, r, c) as usize)
                .sum::<usize>()
                == k
        }) && (cols..rb * 8).all(|c| bit(&bitmask, rb, r, c) == 0)
    });
    let mut dense = vec![junk; l.elements()];
    match compress::unpack_bitmask(l, &values, &bitmask, &mut dense) {
        Err(e) => {
            assert!(!bitmask_ok, "unpack_bitmask refused a valid bitmask: {e}");
            assert!(
                matches!(
                    e.kind(),
                    ErrorKind::GroupZeros { .. } | ErrorKind::BitmaskPadding { .. }
                ),
                "{e}"
            );
            assert!(
                dense.iter().all(|x| x.bits() == junk.bits()),
                "Err wrote weights"
            );
        }
        Ok(()) => {
            assert!(bitmask_ok, "unpack_bitmask accepted a bad bitmask");
            let mut mask = vec![0u8; l.elements()];
            for r in 0..rows {
                for c in 0..cols {
                    mask[r * cols + c] = bit(&bitmask, rb, r, c);
                }
            }
            assert_eq!(bits_of(&dense), masked(&dense, &mask));
            let mut v2 = vec![junk; l.values_len()];
            let mut b2 = vec![SENTINEL; l.bitmask_len()];
            compress::pack_bitmask(l, &dense, &mask, &mut v2, &mut b2).unwrap();
            assert_eq!(b2, bitmask);
            assert_eq!(bits_of(&v2), bits_of(&values));
        }
    }
}

fuzz_target!(|input: Input| {
    let (rows, cols, n, m) = (input.rows, input.cols, input.n, input.m);
    let valid = n >= 1 && n < m && m <= 128 && cols % m == 0 && rows.checked_mul(cols).is_some();
    let l = match Layout::new(rows, cols, n, m) {
        Ok(l) => {
            assert!(valid, "Layout::new accepted {rows}x{cols} {n}:{m}");
            l
        }
        Err(e) => {
            assert!(!valid, "Layout::new refused {rows}x{cols} {n}:{m}: {e}");
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert_eq!(l.values_len() * m, l.elements() * (m - n));
    assert_eq!(l.bitmask_len(), rows * cols.div_ceil(8));
    if l.elements() > 8192 {
        // Overflow-sized layouts: every buffer is wrong, nothing allocated.
        let e = compress::compress::<f32>(&l, &[], &[], &mut [], &mut []).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::BufferLength {
                what: "weights",
                ..
            }
        ));
        return;
    }
    match input.ty {
        0 => run::<f32>(&input, &l),
        1 => run::<f16>(&input, &l),
        _ => run::<bf16>(&input, &l),
    }
});
