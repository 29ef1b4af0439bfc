//! Pattern lock and the sparsity of masks (`docs/semantics.md`, sections 8
//! and 9): each a loop over the layers that hands every one to its
//! pattern's kind.

use crate::arch::Level;
use crate::plan::{check_count, check_mask, check_nan, LayerReport, Status, Summary};
use crate::score::first_non_mark;
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::{Element, Layer, VisitElements};
use crate::vocab::shape::{Shape, View};
use crate::vocab::terms::Criterion;
use crate::Pattern;

/// Writes pattern-lock masks from the weights (see `Pruner::lock`).
pub(crate) fn lock(
    level: Level,
    layers: &[Layer<'_>],
    pattern: &Pattern,
    reports: &mut [LayerReport],
    masks: &mut [&mut [u8]],
) -> Result<Summary, Error> {
    level.check()?;
    check_count("reports", layers.len(), reports.len())?;
    check_count("masks", layers.len(), masks.len())?;
    let kernels = pattern.kernels();
    for (i, (layer, m)) in layers.iter().zip(masks.iter()).enumerate() {
        layer.checked_view(i)?;
        check_mask(i, layer, m.len())?;
        check_nan(i, layer, level)?;
    }
    let mut summary = Summary {
        layers: layers.len(),
        ..Summary::default()
    };
    for ((layer, report), out) in layers.iter().zip(reports.iter_mut()).zip(masks.iter_mut()) {
        let view = layer.shape.view().map_err(Error::new)?;
        *report = LayerReport {
            elements: out.len() as u64,
            ..LayerReport::default()
        };
        let grid = match kernels.grid(&view) {
            Ok(grid) => grid,
            Err(reason) => {
                out.fill(1);
                report.status = Status::Skipped(reason);
                summary.skipped += 1;
                summary.elements += report.elements;
                continue;
            }
        };
        report.status = Status::Selected;
        report.units = grid.units() as u64;
        let n = kernels.pruned_per_group();
        (report.pruned_units, report.pruned_elements) =
            kernels.kind.lock(level, layer.scores, &view, &grid, n, out);
        summary.units += report.units;
        summary.pruned_units += report.pruned_units;
        summary.elements += report.elements;
        summary.pruned_elements += report.pruned_elements;
    }
    Ok(summary)
}

/// Zero units over all units of a set of masks (`docs/semantics.md`,
/// section 9): blocks whose mask is all 0 over the blocks of the layers
/// the pattern fits (NxM), or zero elements over all elements (N:M).
///
/// ```
/// use prunemask::MaskSparsity;
/// let s = MaskSparsity { zero: 1, total: 4 };
/// assert_eq!(s.ratio(), 0.25);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MaskSparsity {
    /// Blocks whose mask is all 0 (NxM), or zero elements (N:M).
    pub zero: u64,
    /// Blocks of the layers the pattern fits (NxM), or all elements (N:M).
    pub total: u64,
}

impl MaskSparsity {
    /// `zero / total`, or 0 when there is nothing to count (INC's
    /// `get_sparsity_ratio`).
    ///
    /// ```
    /// assert_eq!(prunemask::MaskSparsity::default().ratio(), 0.0);
    /// ```
    pub fn ratio(&self) -> f64 {
        crate::plan::report::ratio(self.zero, self.total)
    }
}

/// The sparsity of a set of masks under a pattern (see
/// `Pruner::mask_sparsity`).
pub(crate) fn mask_sparsity(
    level: Level,
    pattern: &Pattern,
    shapes: &[Shape],
    masks: &[&[u8]],
) -> Result<MaskSparsity, Error> {
    level.check()?;
    check_count("masks", shapes.len(), masks.len())?;
    let kernels = pattern.kernels();
    let mut out = MaskSparsity::default();
    for (i, (shape, m)) in shapes.iter().zip(masks).enumerate() {
        let view = shape.view().map_err(|kind| Error::in_layer(i, kind))?;
        let expected = view.rows() * view.cols();
        if m.len() != expected {
            return Err(Error::in_layer(
                i,
                ErrorKind::MaskLength {
                    expected,
                    got: m.len(),
                },
            ));
        }
        let grid = kernels.grid(&view).ok();
        let (zero, total) = kernels
            .kind
            .zeros(level, &view, grid, m)
            .map_err(|kind| Error::in_layer(i, kind))?;
        out.zero += zero;
        out.total += total;
    }
    Ok(out)
}

/// How much of a layer's score mass a mask keeps: `Σ score·mask` and
/// `Σ score`, scores read by the criterion (`|w|` for magnitude). NVIDIA
/// ASP reports `kept / total` of `|w|` as a mask's efficacy; users compare
/// patterns and scopes by it.
///
/// ```
/// use prunemask::ScoreMass;
/// let m = ScoreMass { kept: 3.0, total: 4.0 };
/// assert_eq!(m.fraction(), 0.75);
/// assert_eq!(ScoreMass::default().fraction(), 1.0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ScoreMass {
    /// Sum of the kept elements' scores.
    pub kept: f64,
    /// Sum of every element's score.
    pub total: f64,
}

impl ScoreMass {
    /// `kept / total`; 1 when `total` is 0 (nothing to lose); NaN when an
    /// infinite score is kept (infinity over infinity).
    pub fn fraction(&self) -> f64 {
        if self.total == 0.0 {
            1.0
        } else {
            self.kept / self.total
        }
    }
}

/// The sums of two sets of layers together.
///
/// ```
/// use prunemask::ScoreMass;
/// let a = ScoreMass { kept: 1.0, total: 2.0 };
/// let b = ScoreMass { kept: 3.0, total: 6.0 };
/// assert_eq!(a + b, ScoreMass { kept: 4.0, total: 8.0 });
/// ```
impl core::ops::Add for ScoreMass {
    type Output = ScoreMass;
    fn add(self, other: ScoreMass) -> ScoreMass {
        ScoreMass {
            kept: self.kept + other.kept,
            total: self.total + other.total,
        }
    }
}

/// The score mass a mask keeps (see `Pruner::score_mass`).
pub(crate) fn score_mass(
    level: Level,
    layer: &Layer<'_>,
    criterion: Criterion,
    mask: &[u8],
) -> Result<ScoreMass, Error> {
    level.check()?;
    let one = |e: Error| Error::new(e.kind().clone());
    let view = layer.checked_view(0).map_err(one)?;
    layer.check_scale(0, criterion, &view).map_err(one)?;
    check_mask(0, layer, mask.len()).map_err(one)?;
    // One pass: the sums, with flags for a NaN score and a byte above 1;
    // only a flagged layer is searched again for the error's index.
    let mut out = Summed::default();
    crate::arch::vectorized(
        level,
        crate::arch::all::inlined(
            #[inline(always)]
            || {
                out = layer.scores.visit(Mass {
                    criterion,
                    mask,
                    scale: layer.input_scale.map(|s| (s, view)),
                })
            },
        ),
    );
    if out.nan {
        check_nan(0, layer, level).map_err(one)?;
    }
    if out.bad {
        if let Some(index) = first_non_mark(mask, level) {
            return Err(Error::new(ErrorKind::MaskValue {
                index,
                value: mask[index],
            }));
        }
    }
    Ok(out.mass)
}

/// What [`Mass`] sums, and whether it met a NaN score (`nan`) or a mask
/// byte above 1 (`bad`).
#[derive(Clone, Copy, Default)]
struct Summed {
    mass: ScoreMass,
    nan: bool,
    bad: bool,
}

/// The two sums in a fixed order: [`L`] lanes of f64 over chunks of `L`
/// elements, lane `j` summing elements `j`, `j + L`, ... in order; then
/// the lanes added pairwise and the tail in order. Each lane's sequence is
/// the same at every level, so the result is too (the lanes are what a
/// vector unit adds side by side).
struct Mass<'a> {
    criterion: Criterion,
    mask: &'a [u8],
    /// Wanda's scale and the view that says which input each element is.
    scale: Option<(&'a [f32], View)>,
}

impl VisitElements for Mass<'_> {
    type Out = Summed;
    #[inline(always)]
    fn visit<E: Element>(self, xs: &[E]) -> Summed {
        if let Some((scale, view)) = self.scale {
            return scaled_mass(xs, self.mask, self.criterion, scale, view);
        }
        let (mut kept, mut total) = ([0.0f64; L], [0.0f64; L]);
        let (mut nan, mut bad) = ([false; L], [false; L]);
        let (chunks, tail) = xs.as_chunks::<L>();
        let (masks, mask_tail) = self.mask.as_chunks::<L>();
        for (x, m) in chunks.iter().zip(masks) {
            for j in 0..L {
                let s = self.criterion.read(x[j]);
                nan[j] |= s.is_nan();
                bad[j] |= m[j] > 1;
                let s = f64::from(s);
                total[j] += s;
                // A select, not `s * m`: an infinite score masked out adds 0.
                kept[j] += if m[j] == 0 { 0.0 } else { s };
            }
        }
        let mut out = Summed {
            mass: ScoreMass {
                kept: pairs(kept),
                total: pairs(total),
            },
            nan: nan.contains(&true),
            bad: bad.contains(&true),
        };
        for (&x, &m) in tail.iter().zip(mask_tail) {
            out.add(self.criterion.read(x), m);
        }
        out
    }
}

impl Summed {
    /// One more element in order: its score and mask byte.
    #[inline(always)]
    fn add(&mut self, s: f32, m: u8) {
        self.nan |= s.is_nan();
        self.bad |= m > 1;
        let s = f64::from(s);
        self.mass.total += s;
        self.mass.kept += if m == 0 { 0.0 } else { s };
    }
}

/// Lanes of the mass sums: four vectors of eight `f64`, so four
/// independent additions are in flight (one lane chain would bound the
/// loop by the adder's latency).
const L: usize = 32;

/// The lanes summed in pairs: `(v0 + v1) + (v2 + v3)`, ..., a fixed tree.
fn pairs(mut v: [f64; L]) -> f64 {
    let mut n = L;
    while n > 1 {
        n /= 2;
        for i in 0..n {
            v[i] = v[2 * i] + v[2 * i + 1];
        }
    }
    v[0]
}

/// [`Mass`] of Wanda scores (`|w| · s[input]`, rounded to `f32` as the
/// kernels score it), in the same order: [`L`] lanes, then the tail.
fn scaled_mass<E: Element>(
    xs: &[E],
    mask: &[u8],
    criterion: Criterion,
    scale: &[f32],
    view: View,
) -> Summed {
    let (mut kept, mut total) = ([0.0f64; L], [0.0f64; L]);
    let (mut nan, mut bad) = (false, false);
    let whole = xs.len() / L * L;
    let mut inputs = view.inputs();
    let mut score = |x: E| {
        let input = inputs.next().unwrap_or(0);
        let w = criterion.read(x);
        (w, w * scale.get(input).copied().unwrap_or(f32::NAN))
    };
    for (i, (&x, &m)) in xs[..whole].iter().zip(mask).enumerate() {
        let (w, s) = score(x);
        nan |= w.is_nan();
        bad |= m > 1;
        let s = f64::from(s);
        total[i % L] += s;
        kept[i % L] += if m == 0 { 0.0 } else { s };
    }
    let mut out = Summed {
        mass: ScoreMass {
            kept: pairs(kept),
            total: pairs(total),
        },
        nan,
        bad,
    };
    for (&x, &m) in xs[whole..].iter().zip(mask.get(whole..).unwrap_or(&[])) {
        let (w, s) = score(x);
        out.add(s, m);
        out.nan |= w.is_nan();
    }
    out
}
