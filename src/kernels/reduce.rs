//! Block scores: one `f32` per NxM block, in the canonical summation order.

use super::keys::order_key;
use crate::error::ErrorKind;
use crate::layer::{Criterion, Element, VisitElements};
use crate::pattern::{Reduce, Tile};
use crate::shape::Run;

/// The canonical sum of one run of `len` elements, torch's scalar row sum:
/// whole quads go to four interleaved partial sums `p[j % 4]`, the tail to
/// `p[0]`, and the result is `((p0 + p1) + p2) + p3`.
#[derive(Clone, Copy)]
pub(crate) struct RunSum {
    p: [f32; 4],
    quads_end: usize,
    j: usize,
}

impl RunSum {
    #[inline(always)]
    pub(crate) fn new(len: usize) -> Self {
        RunSum {
            p: [0.0; 4],
            quads_end: len - len % 4,
            j: 0,
        }
    }

    #[inline(always)]
    pub(crate) fn add(&mut self, x: f32) {
        let lane = if self.j < self.quads_end {
            self.j % 4
        } else {
            0
        };
        self.p[lane] += x;
        self.j += 1;
    }

    #[inline(always)]
    pub(crate) fn total(&self) -> f32 {
        ((self.p[0] + self.p[1]) + self.p[2]) + self.p[3]
    }
}

/// Reduces one block row of `len` elements.
#[inline(always)]
fn reduce_run<E: Element>(
    xs: &[E],
    run: Run,
    len: usize,
    criterion: Criterion,
    reduce: Reduce,
) -> Result<f32, ErrorKind> {
    let mut sum = RunSum::new(len);
    let mut max = f32::NEG_INFINITY;
    for index in run.take(len) {
        let x = criterion.read(xs[index]);
        if x.is_nan() {
            return Err(ErrorKind::NanScore { index });
        }
        match reduce {
            Reduce::Mean | Reduce::Sum => sum.add(x),
            Reduce::L2 => sum.add(x * x),
            // Keys compare -0.0 and +0.0 equal; the first one stays.
            Reduce::Max => {
                if order_key(x) > order_key(max) {
                    max = x
                }
            }
        }
    }
    Ok(match reduce {
        Reduce::Max => max,
        _ => sum.total(),
    })
}

struct Blocks<'t, 'o, const N: usize, const M: usize> {
    tile: &'t Tile<'t>,
    out: &'o mut [f32],
}

impl<const N: usize, const M: usize> VisitElements for Blocks<'_, '_, N, M> {
    type Out = Result<(), ErrorKind>;

    #[inline(always)]
    fn visit<E: Element>(self, xs: &[E]) -> Self::Out {
        let t = self.tile;
        // Zero sizes mean "given at run time".
        let bn = if N == 0 { t.unit_rows } else { N };
        let bm = if M == 0 { t.unit_cols } else { M };
        let r0 = t.unit_row * bn;
        for (u, out) in self.out.iter_mut().enumerate() {
            let c0 = (t.first_unit + u) * bm;
            let mut acc = match t.reduce {
                Reduce::Max => f32::NEG_INFINITY,
                _ => 0.0,
            };
            for r in r0..r0 + bn {
                let row = reduce_run(xs, t.view.run(r, c0), bm, t.criterion, t.reduce)?;
                match t.reduce {
                    Reduce::Mean => acc += row / bm as f32,
                    Reduce::Sum | Reduce::L2 => acc += row,
                    Reduce::Max => {
                        if order_key(row) > order_key(acc) {
                            acc = row
                        }
                    }
                }
            }
            *out = match t.reduce {
                Reduce::Mean => acc / bn as f32,
                _ => acc,
            };
        }
        Ok(())
    }
}

/// Scores the blocks of a tile. `N`/`M` are the block sizes, or 0 to take
/// them from the tile (runtime sizes and `channel` sides).
pub(crate) fn block_scores<const N: usize, const M: usize>(
    tile: &Tile<'_>,
    out: &mut [f32],
) -> Result<(), ErrorKind> {
    tile.scores.visit(Blocks::<N, M> { tile, out })
}

#[cfg(test)]
mod tests {
    use super::RunSum;

    fn run_sum(xs: &[f32]) -> f32 {
        let mut s = RunSum::new(xs.len());
        xs.iter().for_each(|&x| s.add(x));
        s.total()
    }

    #[test]
    fn run_sum_order_is_torch_row_sum() {
        // Short runs are sequential.
        let xs = [1e8f32, 1.0, -1e8, 1.0];
        assert_eq!(run_sum(&xs[..3]), (1e8f32 + 1.0) + -1e8);
        // Quads: p0 = x0 + x4, p1 = x1 + x5 ...; tail to p0.
        let ys = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 1e9, -1e9];
        let p0 = ((1.0f32 + 5.0) + 1e9) + -1e9;
        assert_eq!(
            run_sum(&ys),
            ((p0 + (2.0 + 6.0)) + (3.0 + 7.0)) + (4.0 + 8.0)
        );
    }
}
