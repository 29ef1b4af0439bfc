//! Every level against the scalar kernels, bit for bit (a NaN equals a NaN,
//! and zero scores compare as +0.0, the only difference a key cannot see).

use proptest::prelude::*;
use std::vec::Vec;

use super::{
    column_scores, long_block_scores, nm_scores, quad_block_scores, wide_block_scores, Level,
    Marks, Read, Rows,
};
use crate::arch::all::block::block_score;
use crate::arch::all::group::{group_score, least_n};
use crate::vocab::terms::{Reduce, Ties};

fn simd_levels() -> impl Iterator<Item = Level> {
    [Level::V3, Level::V4, Level::Neon]
        .into_iter()
        .filter(|l| l.is_available())
}

fn same(a: &[f32], b: &[f32]) -> bool {
    let canon = |x: f32| {
        if x == 0.0 {
            0.0f32.to_bits()
        } else if x.is_nan() {
            u32::MAX
        } else {
            x.to_bits()
        }
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| canon(*x) == canon(*y))
}

/// Scores with ties, signed zeros, infinities, subnormals and NaN, and
/// inexact ones whose sums depend on the order.
fn score() -> impl Strategy<Value = f32> {
    prop_oneof![
        6 => (-4i8..5i8).prop_map(|i| i as f32 * 0.5),
        6 => any::<f32>().prop_filter("finite", |x| x.is_finite()),
        // Inexact sums and cancellation: the order of the sum shows.
        6 => (-1000i32..1000).prop_map(|i| i as f32 * 0.37),
        1 => prop_oneof![Just(1e8f32), Just(-1e8f32)],
        1 => Just(-0.0f32),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(f32::MIN_POSITIVE / 8.0),
        1 => Just(f32::NAN),
    ]
}

fn scalar_nm(xs: &[f32], m: usize, n: usize, ties: Ties, magnitude: bool) -> Vec<f32> {
    xs.chunks_exact(m)
        .map(|g| {
            let vals: Vec<f32> = g
                .iter()
                .map(|x| if magnitude { x.abs() } else { *x })
                .collect();
            if vals.iter().any(|v| v.is_nan()) {
                f32::NAN
            } else {
                group_score(&vals, least_n(&vals, n, ties))
            }
        })
        .collect()
}

fn scalar_columns(
    xs: &[f32],
    cols: usize,
    r0: usize,
    rows: usize,
    reduce: Reduce,
    magnitude: bool,
) -> Vec<f32> {
    (0..cols)
        .map(|c| {
            let read = |r: usize, _: usize| {
                let x = xs[(r0 + r) * cols + c];
                if magnitude {
                    x.abs()
                } else {
                    x
                }
            };
            block_score(rows, 1, c, cols, reduce, read)
        })
        .collect()
}

/// Scalar scores of the `rows x width` blocks in block row `br` of a layer
/// `cols` blocks wide.
fn scalar_wide(
    xs: &[f32],
    cols: usize,
    width: usize,
    rows: usize,
    reduce: Reduce,
    magnitude: bool,
) -> Vec<f32> {
    (0..cols)
        .map(|u| {
            let read = |r: usize, j: usize| {
                let x = xs[r * cols * width + u * width + j];
                if magnitude {
                    x.abs()
                } else {
                    x
                }
            };
            block_score(rows, width, u, cols, reduce, read)
        })
        .collect()
}

fn reduce() -> impl Strategy<Value = Reduce> {
    prop_oneof![
        Just(Reduce::Mean),
        Just(Reduce::Sum),
        Just(Reduce::L2),
        Just(Reduce::Max)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Blocks of any width on the per-block kernel (long rows summed with
    /// the eight partial sums in a vector): widths around multiples of
    /// eight, `1xchannel`-like single blocks, tiles from any block column.
    #[test]
    fn long_blocks_every_level_equal_scalar(
        rows in prop_oneof![4 => 1usize..=5, 1 => 6usize..=20],
        width in prop_oneof![1 => 1usize..8, 3 => 8usize..=70, 1 => 100usize..=300],
        cols in 1usize..=40,
        first_frac in 0.0f64..1.0,
        seed in proptest::collection::vec(score(), 2000),
        clean in any::<bool>(),
        reduce in reduce(),
        magnitude in any::<bool>(),
    ) {
        let cols = cols.min(4000 / width).max(1);
        let len = rows * cols * width;
        let xs: Vec<f32> = seed
            .iter()
            .cycle()
            .take(len)
            .enumerate()
            .map(|(i, &x)| if clean && (x.is_nan() || x.abs() >= 1e9) { (i % 997) as f32 * 0.37 - 99.0 } else { x })
            .collect();
        let want = scalar_wide(&xs, cols, width, rows, reduce, magnitude);
        let first = ((cols as f64 * first_frac) as usize).min(cols - 1);
        for level in simd_levels() {
            let mut got = std::vec![7.0f32; cols - first];
            let tile = Rows { xs: &xs[first * width..], stride: cols * width, rows };
            prop_assert!(long_block_scores(level, tile, width, first, cols, reduce, Read::plain(magnitude), &mut got), "{:?} has a kernel", level);
            prop_assert!(same(&got, &want[first..]), "{:?} {}x{} cols {} first {}: {:?} != {:?}", level, rows, width, cols, first, got, &want[first..]);
        }
    }

    /// `rows x width` blocks, width 2 to 16, from any block column of a
    /// layer (tiles that start mid-row, vectors across torch's 32- and
    /// 4-column sequential chunks, block counts that are no multiple of
    /// any vector width), short blocks and ones tall enough for the
    /// 16-row cascade.
    #[test]
    fn wide_blocks_every_level_equal_scalar(
        rows in prop_oneof![4 => 1usize..=5, 1 => 6usize..=40],
        width in prop_oneof![Just(2usize), Just(4), Just(8), Just(16)],
        cols in 1usize..=80,
        first_frac in 0.0f64..1.0,
        seed in proptest::collection::vec(score(), 40 * 80 * 16 / 8),
        clean in any::<bool>(),
        reduce in reduce(),
        magnitude in any::<bool>(),
    ) {
        // Repeat the seed: fewer random values, the same mix in any layer.
        // Half the cases without infinities, NaN and huge values, which
        // would hide the order of most block sums.
        let len = rows * cols * width;
        let xs: Vec<f32> = seed
            .iter()
            .cycle()
            .take(len)
            .enumerate()
            .map(|(i, &x)| if clean && (x.is_nan() || x.abs() >= 1e9) { (i % 997) as f32 * 0.37 - 99.0 } else { x })
            .collect();
        let want = scalar_wide(&xs, cols, width, rows, reduce, magnitude);
        let first = ((cols as f64 * first_frac) as usize).min(cols - 1);
        for level in simd_levels() {
            let mut got = std::vec![7.0f32; cols - first];
            let tile = Rows { xs: &xs[first * width..], stride: cols * width, rows };
            prop_assert!(wide_block_scores(level, tile, width, first, cols, reduce, Read::plain(magnitude), &mut got), "{:?} has a kernel", level);
            prop_assert!(same(&got, &want[first..]), "{:?} {}x{} cols {} first {}: {:?} != {:?}", level, rows, width, cols, first, got, &want[first..]);
        }
        let tile = Rows { xs: &xs, stride: cols * width, rows };
        prop_assert!(!wide_block_scores(Level::Scalar, tile, width, 0, cols, reduce, Read::plain(magnitude), &mut std::vec![0.0; cols]));
    }

    /// The range pass: counts, the scores inside and their places, at
    /// every level as the scalar reference gives them, over up to 300
    /// scores (whole vectors at every width, then a scalar tail).
    #[test]
    fn range_scan_every_level_equals_scalar(
        seed in proptest::collection::vec(score(), 0..300usize),
        bounds in (any::<prop::sample::Index>(), any::<prop::sample::Index>()),
    ) {
        // Checked scores (no NaN); bounds taken from them, so ties with
        // the bounds (and -0.0 against +0.0) come up.
        let xs: Vec<f32> = seed.into_iter().filter(|x| !x.is_nan()).collect();
        let pick = |i: &prop::sample::Index| if xs.is_empty() { 0.0 } else { xs[i.index(xs.len())] };
        let (a, b) = (pick(&bounds.0), pick(&bounds.1));
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let (mut want_below, mut want, mut want_places) = (0u64, Vec::new(), std::vec![9u8; xs.len()]);
        crate::arch::all::range::scan(&xs, low, high, &mut want_below, |j, x| want.push((j, x.to_bits())), &mut want_places);
        // The reference's places, spelt out: inside wins at the bounds.
        let spelt = |x: f32| if low <= x && x <= high { 2 } else if x > high { 1 } else { 0 };
        prop_assert_eq!(&want_places, &xs.iter().map(|&x| spelt(x)).collect::<Vec<u8>>());
        for level in simd_levels() {
            let (mut below, mut got, mut places) = (0u64, Vec::new(), std::vec![9u8; xs.len()]);
            prop_assert!(super::range_scan(level, &xs, (low, high), &mut below, |j, x| got.push((j, x.to_bits())), &mut places));
            prop_assert_eq!((below, &got, &places), (want_below, &want, &want_places), "{:?}", level);
            // Without places (or with a buffer of another length) nothing
            // is written.
            let mut short = std::vec![9u8; xs.len().saturating_sub(1)];
            let (mut below2, mut got2) = (0u64, Vec::new());
            prop_assert!(super::range_scan(level, &xs, (low, high), &mut below2, |j, x| got2.push((j, x.to_bits())), &mut short));
            prop_assert_eq!((below2, &got2), (want_below, &want));
            prop_assert!(short.iter().all(|&p| p == 9));
        }
    }

    /// N:M groups of every length the SIMD kernels take: up to 50 groups
    /// of four (several whole blocks of four vectors at every width, 16
    /// groups for AVX-512, then a scalar tail) and up to 40 of other
    /// lengths.
    #[test]
    fn nm_every_level_equals_scalar(
        m in prop_oneof![4 => Just(4usize), 1 => Just(2usize), 1 => Just(8usize), 1 => 3usize..=32],
        seed in proptest::collection::vec(score(), 0..1300usize),
        n_frac in 0.0f64..1.0,
        exact in any::<bool>(),
        magnitude in any::<bool>(),
    ) {
        let groups = (seed.len() / m).min(if m == 4 { 50 } else { 40 });
        let xs = &seed[..groups * m];
        let n = 1 + ((m - 1) as f64 * n_frac) as usize;
        let ties = if exact { Ties::Exact } else { Ties::Inclusive };
        let want = scalar_nm(xs, m, n, ties, magnitude);
        for level in simd_levels() {
            let mut got = std::vec![7.0f32; groups];
            let mut keep = std::vec![7u8; xs.len()];
            prop_assert!(nm_scores(level, xs, m, n, ties, Read::plain(magnitude), &mut got, Marks::Keep(&mut keep)), "{:?} has a kernel", level);
            prop_assert!(same(&got, &want), "{:?} {}:{}: {:?} != {:?} for {:?}", level, n, m, got, want, xs);
            // The counting pass gives the same scores, and each group's
            // count of marked elements.
            let (mut counted, mut counts) = (std::vec![7.0f32; groups], std::vec![7.0f32; groups]);
            prop_assert!(nm_scores(level, xs, m, n, ties, Read::plain(magnitude), &mut counted, Marks::Count(&mut counts)));
            prop_assert!(same(&counted, &want), "{:?} counting pass", level);
            for (g, vals) in xs.chunks_exact(m).enumerate() {
                let vals: Vec<f32> = vals.iter().map(|x| if magnitude { x.abs() } else { *x }).collect();
                if vals.iter().any(|v| v.is_nan()) {
                    continue;
                }
                let marks = least_n(&vals, n, ties);
                let want_keep: Vec<u8> = (0..m).map(|j| (marks >> j & 1 == 0) as u8).collect();
                prop_assert_eq!(&keep[m * g..m * g + m], &want_keep[..], "{:?} group {}", level, g);
                prop_assert_eq!(counts[g], marks.count_ones() as f32, "{:?} group {} count", level, g);
            }
        }
        prop_assert!(!nm_scores(Level::Scalar, xs, m, n, ties, Read::plain(magnitude), &mut std::vec![0.0; groups], Marks::None));
    }

    /// `1x4` blocks, every reduction, on the kernel shared with N:M.
    #[test]
    fn quad_blocks_every_level_equal_scalar(
        xs in proptest::collection::vec(score(), 0..200usize).prop_map(|mut v| { v.truncate(v.len() / 4 * 4); v }),
        reduce in prop_oneof![Just(Reduce::Mean), Just(Reduce::Sum), Just(Reduce::L2), Just(Reduce::Max)],
        magnitude in any::<bool>(),
    ) {
        let want: Vec<f32> = xs
            .chunks_exact(4)
            .map(|run| {
                let read = |_: usize, j: usize| if magnitude { run[j].abs() } else { run[j] };
                block_score(1, 4, 0, 1, reduce, read)
            })
            .collect();
        for level in simd_levels() {
            let mut got = std::vec![7.0f32; xs.len() / 4];
            prop_assert!(quad_block_scores(level, &xs, reduce, Read::plain(magnitude), &mut got), "{:?} has a kernel", level);
            prop_assert!(same(&got, &want), "{:?} {:?}: {:?} != {:?} for {:?}", level, reduce, got, want, xs);
        }
    }

    #[test]
    fn columns_every_level_equals_scalar(
        rows in prop_oneof![3 => 1usize..=16, 1 => 17usize..=70],
        cols in 2usize..80,
        seed in proptest::collection::vec(score(), 70 * 80),
        reduce in prop_oneof![Just(Reduce::Mean), Just(Reduce::Sum), Just(Reduce::L2), Just(Reduce::Max)],
        magnitude in any::<bool>(),
    ) {
        let xs = &seed[..rows * cols];
        let want = scalar_columns(xs, cols, 0, rows, reduce, magnitude);
        for level in simd_levels() {
            let mut got = std::vec![7.0f32; cols];
            let tile = Rows { xs, stride: cols, rows };
            prop_assert!(column_scores(level, tile, 0, cols, reduce, Read::plain(magnitude), &mut got));
            prop_assert!(same(&got, &want), "{:?} rows {} cols {}: {:?} != {:?}", level, rows, cols, got, want);
        }
    }
}

/// Columns past 32 (the sequential chunk) and tiles that start mid-row.
#[test]
fn columns_across_torch_chunks() {
    let cols = 200;
    let rows = 11;
    let xs: Vec<f32> = (0..rows * cols)
        .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 150.0)
        .collect();
    let want = scalar_columns(&xs, cols, 0, rows, Reduce::Mean, true);
    for level in simd_levels() {
        for first in [0usize, 64, 128, 160] {
            let n = (cols - first).min(64);
            let mut got = std::vec![0.0f32; n];
            let tile = Rows {
                xs: &xs[first..],
                stride: cols,
                rows,
            };
            assert!(column_scores(
                level,
                tile,
                first,
                cols,
                Reduce::Mean,
                Read::plain(true),
                &mut got
            ));
            assert!(
                same(&got, &want[first..first + n]),
                "{level:?} first {first}"
            );
        }
    }
}

/// Layers narrower than 8 block columns: torch's sequential chunk is 4
/// columns there (only NEON's 4 lanes fill a vector that narrow).
#[test]
fn columns_on_narrow_layers() {
    for cols in 2..8 {
        for rows in 1..=16 {
            let xs: Vec<f32> = (0..rows * cols)
                .map(|i| 0.1 + (i % 7) as f32 * 0.37 + i as f32 * 1e-3)
                .collect();
            for reduce in [Reduce::Mean, Reduce::Sum, Reduce::L2] {
                let want = scalar_columns(&xs, cols, 0, rows, reduce, false);
                for level in simd_levels() {
                    let mut got = std::vec![0.0f32; cols];
                    let tile = Rows {
                        xs: &xs,
                        stride: cols,
                        rows,
                    };
                    assert!(column_scores(
                        level,
                        tile,
                        0,
                        cols,
                        reduce,
                        Read::plain(false),
                        &mut got
                    ));
                    assert!(
                        same(&got, &want),
                        "{level:?} rows {rows} cols {cols} {reduce:?}"
                    );
                }
            }
        }
    }
}

/// Tiles that start mid-row, vectors across torch's 32-column sequential
/// chunk, blocks tall enough for the cascades, on data whose sums depend
/// on their order.
#[test]
fn wide_blocks_across_torch_chunks() {
    for width in [2usize, 4, 8, 16] {
        for (rows, cols) in [(5usize, 48usize), (8, 40), (20, 70), (1, 100), (6, 7)] {
            let xs: Vec<f32> = (0..rows * cols * width)
                .map(|i| ((i * 7919) % 1013) as f32 * 0.37 - 150.0)
                .collect();
            for reduce in [Reduce::Mean, Reduce::Sum, Reduce::L2, Reduce::Max] {
                let want = scalar_wide(&xs, cols, width, rows, reduce, true);
                for level in simd_levels() {
                    for first in [0usize, 3, 5, 17, 20, 33] {
                        let first = first.min(cols - 1);
                        let mut got = std::vec![7.0f32; cols - first];
                        let tile = Rows {
                            xs: &xs[first * width..],
                            stride: cols * width,
                            rows,
                        };
                        assert!(wide_block_scores(
                            level,
                            tile,
                            width,
                            first,
                            cols,
                            reduce,
                            Read::plain(true),
                            &mut got
                        ));
                        assert!(
                            same(&got, &want[first..]),
                            "{level:?} {rows}x{width} cols {cols} first {first} {reduce:?}"
                        );
                    }
                }
            }
        }
    }
}

/// Widths the kernel has no path for, and runs too short for the blocks:
/// declined (the caller goes scalar), never a panic.
#[test]
fn wide_blocks_decline_what_they_cannot_take() {
    let xs = [1.0f32; 64];
    for level in simd_levels() {
        for width in [0usize, 1, 3, 6, 32] {
            let tile = Rows {
                xs: &xs,
                stride: 32,
                rows: 2,
            };
            assert!(!wide_block_scores(
                level,
                tile,
                width,
                0,
                1,
                Reduce::Sum,
                Read::plain(false),
                &mut [0.0; 1]
            ));
        }
        let tile = Rows {
            xs: &xs,
            stride: 32,
            rows: 2,
        };
        assert!(!wide_block_scores(
            level,
            tile,
            8,
            0,
            5,
            Reduce::Sum,
            Read::plain(false),
            &mut [0.0; 5]
        ));
        let tile = Rows {
            xs: &xs,
            stride: usize::MAX,
            rows: 2,
        };
        assert!(!wide_block_scores(
            level,
            tile,
            8,
            0,
            5,
            Reduce::Sum,
            Read::plain(false),
            &mut [0.0; 5]
        ));
        let tile = Rows {
            xs: &xs,
            stride: 32,
            rows: 0,
        };
        assert!(!wide_block_scores(
            level,
            tile,
            8,
            0,
            5,
            Reduce::Sum,
            Read::plain(false),
            &mut [0.0; 5]
        ));
        let tile = Rows {
            xs: &xs,
            stride: 32,
            rows: 2,
        };
        assert!(wide_block_scores(
            level,
            tile,
            8,
            0,
            5,
            Reduce::Sum,
            Read::plain(false),
            &mut [0.0; 4]
        ));
    }
}
