//! `Shape::view` and the view's index mapping.
//!
//! Invariants:
//! - `view()` / `elements()` error exactly when a dimension is zero or the
//!   element count overflows `usize`, with a matching `ErrorKind`;
//! - otherwise rows/cols/inner are those of SEMANTICS section 1, and
//!   `View::index(r, c)` is the documented formula (matrix: `r*cols + c`;
//!   conv: view column `c = (h*W + w)*I + i` is OIHW `o*I*H*W + i*H*W + h*W + w`);
//! - over all `(r, c)`, `index` is a permutation of `0..n` (checked in full
//!   for small shapes, by sampling for large ones);
//! - `View::run(r, c)` yields `index(r, c), index(r, c + 1), ...` to the end
//!   of the row.
#![no_main]

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use prunemask::{ErrorKind, Shape};

/// Largest element count checked exhaustively.
const FULL_CHECK: usize = 1 << 13;

#[derive(Debug)]
struct Input {
    dims: Vec<usize>,
    samples: Vec<(u64, u64, u16)>,
}

fn dim(u: &mut Unstructured<'_>) -> Result<usize> {
    Ok(match u.int_in_range(0u8..=15)? {
        // Mostly small dims, so the exhaustive check runs.
        0..=9 => u.int_in_range(1..=24)?,
        10 => 0,
        11 => u.int_in_range(25..=300)?,
        12 => u.int_in_range(1usize..=1 << 20)?,
        13 => usize::MAX - u.int_in_range(0..=3)?,
        14 => (1usize << u.int_in_range(16..=63)?) + u.int_in_range(0..=2)? - 1,
        _ => usize::arbitrary(u)?,
    })
}

impl<'a> Arbitrary<'a> for Input {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let rank = if bool::arbitrary(u)? { 4 } else { 2 };
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(dim(u)?);
        }
        let n = u.int_in_range(0..=16)?;
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            samples.push((u64::arbitrary(u)?, u64::arbitrary(u)?, u16::arbitrary(u)?));
        }
        Ok(Input { dims, samples })
    }
}

/// (rows, cols, inner, hw) by the documentation, or the expected error
/// kinds: `(zero_possible, overflow_possible)`.
fn expected(dims: &[usize]) -> core::result::Result<(usize, usize, usize, usize), (bool, bool)> {
    let zero = dims.contains(&0);
    // Overflow of the product of the non-zero dims (the crate may check
    // either condition first when both hold).
    let mut p: u128 = 1;
    let mut overflow = false;
    for &d in dims.iter().filter(|&&d| d != 0) {
        p *= d as u128;
        if p > usize::MAX as u128 {
            overflow = true;
            break;
        }
    }
    if zero || overflow {
        return Err((zero, overflow));
    }
    Ok(match *dims {
        [rows, cols] => (rows, cols, cols, 1),
        [o, i, h, w] => (o, h * w * i, i, h * w),
        _ => unreachable!(),
    })
}

/// The documented flat index of view element `(r, c)`, written out plainly.
fn flat(dims: &[usize], r: usize, c: usize) -> usize {
    match *dims {
        [_, cols] => r * cols + c,
        [_, i_dim, h_dim, w_dim] => {
            let i = c % i_dim;
            let hw = c / i_dim;
            let (h, w) = (hw / w_dim, hw % w_dim);
            r * i_dim * h_dim * w_dim + i * h_dim * w_dim + h * w_dim + w
        }
        _ => unreachable!(),
    }
}

fuzz_target!(|input: Input| {
    let dims = &input.dims[..];
    let shape = Shape::from_dims(dims).expect("rank 2 or 4");
    match (dims, shape) {
        ([r, c], Shape::Matrix { rows, cols }) => assert_eq!((*r, *c), (rows, cols)),
        (
            [o, i, h, w],
            Shape::Conv {
                o: o2,
                i: i2,
                h: h2,
                w: w2,
            },
        ) => {
            assert_eq!((*o, *i, *h, *w), (o2, i2, h2, w2))
        }
        _ => panic!("from_dims gave {shape:?} for {dims:?}"),
    }
    let view = shape.view();
    let elements = shape.elements();
    match expected(dims) {
        Err((zero, overflow)) => {
            let kind = view.expect_err("view of an invalid shape");
            assert_eq!(elements, Err(kind.clone()));
            match kind {
                ErrorKind::ZeroDimension => assert!(zero, "{dims:?}: ZeroDimension"),
                ErrorKind::ShapeOverflow => assert!(overflow, "{dims:?}: ShapeOverflow"),
                other => panic!("{dims:?}: unexpected error {other:?}"),
            }
        }
        Ok((rows, cols, inner, _hw)) => {
            let v = view.unwrap_or_else(|e| panic!("{dims:?}: view failed: {e:?}"));
            assert_eq!(
                (v.rows(), v.cols(), v.inner()),
                (rows, cols, inner),
                "{dims:?}"
            );
            let n = rows * cols;
            assert_eq!(elements, Ok(n));
            if n <= FULL_CHECK {
                let mut seen = vec![false; n];
                for r in 0..rows {
                    let mut run = v.run(r, 0);
                    for c in 0..cols {
                        let x = v.index(r, c);
                        assert!(x < n, "{dims:?}: index({r}, {c}) = {x} >= {n}");
                        assert_eq!(x, flat(dims, r, c), "{dims:?}: index({r}, {c})");
                        assert!(!seen[x], "{dims:?}: index {x} twice");
                        seen[x] = true;
                        assert_eq!(run.next(), Some(x), "{dims:?}: run({r}, 0) at {c}");
                    }
                }
                assert!(seen.iter().all(|&s| s));
            }
            // Sampled positions, in any size: the formula, and runs from
            // an arbitrary column (not only from 0).
            for &(a, b, len) in &input.samples {
                let r = (a % rows as u64) as usize;
                let c = (b % cols as u64) as usize;
                let x = v.index(r, c);
                assert!(x < n, "{dims:?}: index({r}, {c}) = {x} >= {n}");
                assert_eq!(x, flat(dims, r, c), "{dims:?}: index({r}, {c})");
                let take = (len as usize).min(cols - c);
                for (j, y) in v.run(r, c).take(take).enumerate() {
                    assert_eq!(y, v.index(r, c + j), "{dims:?}: run({r}, {c}) step {j}");
                }
            }
        }
    }
});
