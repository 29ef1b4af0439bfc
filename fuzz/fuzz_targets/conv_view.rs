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
    /// Rank 2 only: the weight is stored `[in, out]` (`Shape::in_out`).
    transposed: bool,
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
        let rank = u.int_in_range(2..=5)?;
        let transposed = rank == 2 && bool::arbitrary(u)?;
        let mut dims = Vec::with_capacity(rank);
        for _ in 0..rank {
            dims.push(dim(u)?);
        }
        let n = u.int_in_range(0..=16)?;
        let mut samples = Vec::with_capacity(n);
        for _ in 0..n {
            samples.push((u64::arbitrary(u)?, u64::arbitrary(u)?, u16::arbitrary(u)?));
        }
        Ok(Input {
            dims,
            transposed,
            samples,
        })
    }
}

/// (rows, cols, inner) by the documentation, or the expected error kinds:
/// `(zero_possible, overflow_possible)`.
fn expected(
    dims: &[usize],
    transposed: bool,
) -> core::result::Result<(usize, usize, usize), (bool, bool)> {
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
        [inputs, outputs] if transposed => (outputs, inputs, inputs),
        [rows, cols] => (rows, cols, cols),
        // A conv of any rank: [O, I, kernel...] as [O, P*I].
        [o, i, ref kernel @ ..] => (o, kernel.iter().product::<usize>() * i, i),
        _ => unreachable!(),
    })
}

/// The documented flat index of view element `(r, c)`, written out plainly.
fn flat(dims: &[usize], transposed: bool, r: usize, c: usize) -> usize {
    match *dims {
        // Stored [in, out]: element [c][r].
        [_, outputs] if transposed => c * outputs + r,
        [_, cols] => r * cols + c,
        [_, i_dim, k_dim] => {
            let (i, k) = (c % i_dim, c / i_dim);
            r * i_dim * k_dim + i * k_dim + k
        }
        [_, i_dim, d_dim, h_dim, w_dim] => {
            let (i, p) = (c % i_dim, c / i_dim);
            let (d, h, w) = (p / (h_dim * w_dim), p / w_dim % h_dim, p % w_dim);
            (((r * i_dim + i) * d_dim + d) * h_dim + h) * w_dim + w
        }
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
    let (dims, transposed) = (&input.dims[..], input.transposed);
    let shape = match (dims, transposed) {
        (&[i, o], true) => Shape::in_out(i, o),
        _ => match Shape::from_dims(dims) {
            Some(shape) => shape,
            None => {
                // Only a conv3d whose D*H overflows has no shape.
                let [_, _, d, h, _] = *dims else {
                    panic!("from_dims refused {dims:?}")
                };
                assert!(d.checked_mul(h).is_none(), "from_dims refused {dims:?}");
                return;
            }
        },
    };
    match (dims, shape) {
        ([r, c], Shape::Matrix { rows, cols }) => assert_eq!((*r, *c), (rows, cols)),
        ([i, o], Shape::InOut { inputs, outputs }) => assert_eq!((*i, *o), (inputs, outputs)),
        ([o, i, k], Shape::Conv { o: o2, i: i2, h, w }) => {
            assert_eq!((*o, *i, 1, *k), (o2, i2, h, w))
        }
        (
            [o, i, d, h, w],
            Shape::Conv {
                o: o2,
                i: i2,
                h: h2,
                w: w2,
            },
        ) => {
            assert_eq!((*o, *i, *d * *h, *w), (o2, i2, h2, w2))
        }
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
    match expected(dims, transposed) {
        Err((zero, overflow)) => {
            let kind = view.expect_err("view of an invalid shape");
            assert_eq!(elements, Err(kind.clone()));
            match kind {
                ErrorKind::ZeroDimension => assert!(zero, "{dims:?}: ZeroDimension"),
                ErrorKind::ShapeOverflow => assert!(overflow, "{dims:?}: ShapeOverflow"),
                other => panic!("{dims:?}: unexpected error {other:?}"),
            }
        }
        Ok((rows, cols, inner)) => {
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
                        assert_eq!(x, flat(dims, transposed, r, c), "{dims:?}: index({r}, {c})");
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
                assert_eq!(x, flat(dims, transposed, r, c), "{dims:?}: index({r}, {c})");
                let take = (len as usize).min(cols - c);
                for (j, y) in v.run(r, c).take(take).enumerate() {
                    assert_eq!(y, v.index(r, c + j), "{dims:?}: run({r}, {c}) step {j}");
                }
            }
        }
    }
});
