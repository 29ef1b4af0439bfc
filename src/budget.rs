//! Layer budgets: targets that differ per layer. OWL (Yin et al., 2024,
//! "Outlier Weighed Layerwise Sparsity"): a block of the network with more
//! outlier scores is pruned less, the mean target kept.

use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::scores::{typed, Element, Layer};
use crate::vocab::terms::Criterion;

/// The outliers of a set of layers (one block of a network): the scores
/// above `m` times their mean.
///
/// ```
/// use prunemask::{Criterion, Layer, Pruner, Shape};
/// let w = [1.0f32, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 31.0];
/// let o = Pruner::new().outliers(&[Layer::new(&w[..], Shape::matrix(2, 5))], Criterion::Magnitude, 3.0)?;
/// assert_eq!((o.above, o.total, o.mean), (1, 10, 4.0));
/// assert_eq!(o.ratio(), 0.1);
/// # Ok::<(), prunemask::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Outliers {
    /// Elements whose score is above `m · mean`.
    pub above: u64,
    /// Elements.
    pub total: u64,
    /// The mean score (f64, summed in a fixed order).
    pub mean: f64,
}

impl Outliers {
    /// `above / total` (0 for no elements): OWL's layerwise outlier ratio.
    pub fn ratio(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.above as f64 / self.total as f64
        }
    }
}

/// Sum of scores in eight f64 lanes (element `i` in lane `i % 8`), lanes
/// added pairwise: one fixed order, plain code, the same on every machine.
fn score_sum<E: Element>(xs: &[E], score: &mut impl FnMut(E) -> f32) -> f64 {
    let mut lanes = [0.0f64; 8];
    for (i, &x) in xs.iter().enumerate() {
        lanes[i % 8] += f64::from(score(x));
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// Each element's score in flat order: `criterion` read, times the
/// layer's input scale for Wanda.
fn scores_of<'a, E: Element>(
    layer: &Layer<'a>,
    criterion: Criterion,
) -> Result<impl FnMut(E) -> f32 + 'a, Error> {
    let view = layer.checked_view(0)?;
    let scale = layer.input_scale;
    let mut inputs = view.inputs();
    Ok(move |x: E| {
        let s = criterion.read(x);
        let input = inputs.next().unwrap_or(0);
        match scale {
            Some(scale) => s * scale.get(input).copied().unwrap_or(f32::NAN),
            None => s,
        }
    })
}

/// See `Pruner::outliers`.
pub(crate) fn outliers(
    layers: &[Layer<'_>],
    criterion: Criterion,
    m: f64,
) -> Result<Outliers, Error> {
    if !(m.is_finite() && m > 0.0) {
        return Err(Error::new(ErrorKind::BadParameter {
            what: "outlier multiple M",
            value: m,
            expected: "finite and > 0",
        }));
    }
    let mut sum = 0.0f64;
    let mut total = 0u64;
    for (i, layer) in layers.iter().enumerate() {
        let view = layer.checked_view(i)?;
        layer.check_scale(i, criterion, &view)?;
        let at = |e: Error| e.at_layer(i);
        sum += typed!(layer.scores, xs => {
            let mut score = scores_of(layer, criterion).map_err(at)?;
            if let Some(j) = xs.iter().position(|x| x.is_nan()) {
                return Err(Error::in_layer(i, ErrorKind::NanScore { index: j }));
            }
            score_sum(xs, &mut score)
        });
        total += layer.scores.len() as u64;
    }
    let mean = if total == 0 { 0.0 } else { sum / total as f64 };
    let bar = m * mean;
    let mut above = 0u64;
    for layer in layers {
        above += typed!(layer.scores, xs => {
            let mut score = scores_of(layer, criterion)?;
            xs.iter().map(|&x| (f64::from(score(x)) > bar) as u64).sum::<u64>()
        });
    }
    Ok(Outliers { above, total, mean })
}

/// OWL's layer targets (Yin et al., 2024, their released code): the
/// outlier ratios `ratios` of the blocks are min-max scaled to
/// `[0, 2λ]`, and block `b` gets `target - (scaled_b - mean(scaled))`, so
/// blocks with more outliers are pruned less and the mean target (over
/// blocks, each counted once) stays `target`. Targets are clamped to
/// `[0, 1]`; equal ratios give every block `target`. Typical `λ = 0.08`
/// with outliers above `M = 5` times the mean.
///
/// # Errors
///
/// [`ErrorKind::BadRatio`] for `target` outside `[0, 1]`,
/// [`ErrorKind::BadParameter`] for `λ` outside `[0, 0.5]` or a ratio that
/// is not in `[0, 1]`, [`ErrorKind::OutputLength`] when `out` is not as
/// long as `ratios`. `out` is untouched on error.
///
/// ```
/// let mut out = [0.0; 3];
/// prunemask::owl_targets(&[0.01, 0.02, 0.03], 0.7, 0.08, &mut out)?;
/// assert_eq!(out.map(|t| (t * 1e6).round() / 1e6), [0.78, 0.7, 0.62]);
/// # Ok::<(), prunemask::Error>(())
/// ```
pub fn owl_targets(ratios: &[f64], target: f64, lambda: f64, out: &mut [f64]) -> Result<(), Error> {
    if !(0.0..=1.0).contains(&target) {
        let what = "target_sparsity";
        return Err(Error::new(ErrorKind::BadRatio {
            what,
            value: target,
        }));
    }
    if !(0.0..=0.5).contains(&lambda) {
        return Err(Error::new(ErrorKind::BadParameter {
            what: "OWL lambda",
            value: lambda,
            expected: "in [0, 0.5]",
        }));
    }
    if let Some(&r) = ratios.iter().find(|r| !(0.0..=1.0).contains(*r)) {
        return Err(Error::new(ErrorKind::BadParameter {
            what: "outlier ratio",
            value: r,
            expected: "in [0, 1]",
        }));
    }
    if out.len() != ratios.len() {
        return Err(Error::new(ErrorKind::OutputLength {
            expected: ratios.len(),
            got: out.len(),
        }));
    }
    let (lo, hi) = ratios
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &r| {
            (lo.min(r), hi.max(r))
        });
    let spread = hi - lo;
    let scaled = |r: f64| {
        if spread > 0.0 {
            (r - lo) / spread * 2.0 * lambda
        } else {
            0.0
        }
    };
    let mean = ratios.iter().map(|&r| scaled(r)).sum::<f64>() / ratios.len().max(1) as f64;
    for (o, &r) in out.iter_mut().zip(ratios) {
        *o = (target - (scaled(r) - mean)).clamp(0.0, 1.0);
    }
    Ok(())
}
