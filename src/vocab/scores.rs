//! What the caller hands in: one layer's scores (f32, f16 or bf16) and shape.

use half::{bf16, f16};

use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::shape::{Shape, View};
use crate::vocab::terms::Criterion;

/// A score element type: `f32`, [`half::f16`] or [`half::bf16`]: the one
/// place that says what the kernels need of one.
///
/// Halves widen to `f32` exactly, one element (or one tile) at a time;
/// scores are never copied wholesale. The trait is sealed.
///
/// ```
/// use prunemask::ext::Element;
/// assert_eq!(half::bf16::from_f32(1.5).widen(), 1.5);
/// assert!(half::f16::from_f32(-0.0).is_zero());
/// assert!(half::bf16::NAN.is_nan());
/// assert_eq!(<half::f16 as Element>::ZERO.to_bits(), 0); // `+0.0`
/// ```
pub trait Element: Copy + sealed::Sealed + 'static {
    /// `+0.0` (all bits clear), what a pruned position is written as.
    const ZERO: Self;
    /// The exact `f32` value of this element (NaN for NaN).
    fn widen(self) -> f32;
    /// Whether it is `+0.0` or `-0.0`.
    fn is_zero(self) -> bool;
    /// Whether it is NaN.
    fn is_nan(self) -> bool;
}

/// How a kernel reads element scores from a run of values.
///
/// `scale`, when given, is aligned with the run's rows: the value at
/// offset `k` of any row of the run (`xs[r * stride + k]`) is scaled by
/// `scale[k]`. The score is `|x| · scale[k]` (with `abs`) or `x ·
/// scale[k]`: one `f32` multiply, correctly rounded on every level, so
/// every level gives the same bits. `|x · s| = |x| · s` for `s >= 0`, so
/// a kernel may take the magnitude before or after scaling.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Read<'a> {
    /// Take `|x|` (the magnitude and Wanda criteria).
    pub abs: bool,
    /// Per-offset scale (Wanda), aligned with the run.
    pub scale: Option<&'a [f32]>,
}

impl<'a> Read<'a> {
    /// `|x|` or `x`, unscaled (the kernel tests' read).
    #[cfg(test)]
    pub(crate) const fn plain(abs: bool) -> Self {
        Read { abs, scale: None }
    }

    /// The same read for a run starting `offset` values further on.
    #[inline(always)]
    pub(crate) fn from(self, offset: usize) -> Self {
        Read {
            abs: self.abs,
            scale: self.scale.map(|s| s.get(offset..).unwrap_or(&[])),
        }
    }

    /// The score of value `x` at offset `k` of its row. A scale too short
    /// for `k` (never, once lengths are checked) reads as NaN, so the
    /// caller's NaN check reports it rather than a wrong score.
    #[inline(always)]
    pub(crate) fn element(self, x: f32, k: usize) -> f32 {
        let x = if self.abs { x.abs() } else { x };
        match self.scale {
            Some(s) => x * s.get(k).copied().unwrap_or(f32::NAN),
            None => x,
        }
    }
}

/// Runs `$body` with `$s` bound to the typed slice of a [`Scores`]: the
/// one list of element types every generic kernel is instantiated from.
macro_rules! typed {
    ($scores:expr, $s:ident => $body:expr) => {
        match $scores {
            $crate::vocab::scores::Scores::F32($s) => $body,
            $crate::vocab::scores::Scores::F16($s) => $body,
            $crate::vocab::scores::Scores::Bf16($s) => $body,
        }
    };
}
pub(crate) use typed;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

impl Element for f32 {
    const ZERO: Self = 0.0;
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self == 0.0
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.is_nan()
    }
}

impl Element for f16 {
    const ZERO: Self = f16::ZERO;
    /// Exactly, in integer and one multiply (no F16C, so a loop of it
    /// vectorises on any level): the magnitude bits moved to `f32` places
    /// are the value times 2^-112, subnormals included; infinity and NaN
    /// get the full exponent back.
    #[inline(always)]
    fn widen(self) -> f32 {
        let h = self.to_bits();
        let magnitude = ((h & 0x7fff) as u32) << 13;
        let scaled = f32::from_bits(magnitude) * f32::from_bits(0x7780_0000); // 2^112
        let inf_nan = ((h & 0x7c00 == 0x7c00) as u32) * 0x7f80_0000;
        let sign = ((h & 0x8000) as u32) << 16;
        f32::from_bits(scaled.to_bits() | inf_nan | sign)
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self.to_bits() & 0x7fff == 0
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.to_bits() & 0x7fff > 0x7c00
    }
}

impl Element for bf16 {
    const ZERO: Self = bf16::ZERO;
    /// The top half of an `f32`: a shift, exact.
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from_bits((self.to_bits() as u32) << 16)
    }
    #[inline(always)]
    fn is_zero(self) -> bool {
        self.to_bits() & 0x7fff == 0
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        self.to_bits() & 0x7fff > 0x7f80
    }
}

/// Borrowed scores of one layer, in the tensor's own flat layout.
///
/// ```
/// use prunemask::Scores;
/// let w = [0.5f32, -1.0];
/// let s: Scores = (&w[..]).into();
/// assert_eq!(s.len(), 2);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Scores<'a> {
    /// 32-bit floats.
    F32(&'a [f32]),
    /// IEEE half floats.
    F16(&'a [f16]),
    /// bfloat16.
    Bf16(&'a [bf16]),
}

impl Scores<'_> {
    /// Number of elements.
    ///
    /// ```
    /// assert_eq!(prunemask::Scores::F32(&[1.0, 2.0]).len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        typed!(self, s => s.len())
    }

    /// True when there are no elements.
    ///
    /// ```
    /// assert!(prunemask::Scores::F32(&[]).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Element `index` read by the criterion. `index` is in bounds (shapes
    /// are checked against slice lengths before any kernel runs).
    #[inline]
    pub(crate) fn read(&self, criterion: Criterion, index: usize) -> f32 {
        typed!(*self, s => criterion.read(s[index]))
    }

    /// Runs `f` on the typed slice: kernels are monomorphised per element
    /// type (and inlined into the caller's SIMD level).
    #[inline(always)]
    pub(crate) fn visit<V: VisitElements>(&self, v: V) -> V::Out {
        typed!(*self, s => v.visit(s))
    }
}

/// A computation generic over the element type, run by [`Scores::visit`].
pub(crate) trait VisitElements {
    type Out;
    fn visit<E: Element>(self, xs: &[E]) -> Self::Out;
}

impl<'a> From<&'a [f32]> for Scores<'a> {
    fn from(s: &'a [f32]) -> Self {
        Scores::F32(s)
    }
}

impl<'a> From<&'a [f16]> for Scores<'a> {
    fn from(s: &'a [f16]) -> Self {
        Scores::F16(s)
    }
}

impl<'a> From<&'a [bf16]> for Scores<'a> {
    fn from(s: &'a [bf16]) -> Self {
        Scores::Bf16(s)
    }
}

/// One layer: its scores (or weights) and its shape; for the Wanda
/// criterion its input scale, and under local or row scope optionally a
/// target of its own.
///
/// ```
/// use prunemask::{Layer, Shape};
/// let w = vec![0.0f32; 16 * 8];
/// let norms = [1.0f32; 8]; // ‖X_j‖₂ of the 8 input features
/// let layer = Layer::new(&w[..], Shape::matrix(16, 8)).input_scale(&norms).target_sparsity(0.6);
/// assert_eq!(layer.shape, Shape::matrix(16, 8));
/// assert_eq!(layer.target_sparsity, Some(0.6));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// The scores, in the tensor's own layout.
    pub scores: Scores<'a>,
    /// The tensor's shape.
    pub shape: Shape,
    /// Wanda's scale, one per input feature of the layer's view
    /// ([`View::inner`]: the in features of a linear weight, the input
    /// channels of a conv weight): `‖X_j‖₂` over calibration tokens. The
    /// score of weight `w` of input `j` is `|w| · input_scale[j]`
    /// ([`Criterion::Wanda`], which needs it; other criteria refuse it).
    pub input_scale: Option<&'a [f32]>,
    /// This layer's own target sparsity, in place of
    /// [`Options::target_sparsity`](crate::Options::target_sparsity), under
    /// local and row scope (layer budgets such as OWL's); global scope
    /// refuses it, as one threshold cannot serve two targets.
    pub target_sparsity: Option<f64>,
}

impl<'a> Layer<'a> {
    /// A layer from any score slice type and a shape.
    ///
    /// ```
    /// use prunemask::{Layer, Shape};
    /// let w = [half::bf16::from_f32(1.0); 4];
    /// let layer = Layer::new(&w[..], Shape::matrix(2, 2));
    /// assert_eq!(layer.scores.len(), 4);
    /// ```
    pub fn new(scores: impl Into<Scores<'a>>, shape: Shape) -> Self {
        Layer {
            scores: scores.into(),
            shape,
            input_scale: None,
            target_sparsity: None,
        }
    }

    /// Lends the layer's per-input-feature scale (Wanda's `‖X_j‖₂`); see
    /// [`Layer::input_scale`](Layer#structfield.input_scale).
    ///
    /// ```
    /// use prunemask::{Layer, Shape};
    /// let (w, s) = ([1.0f32; 6], [0.5f32, 2.0, 1.0]);
    /// let layer = Layer::new(&w[..], Shape::matrix(2, 3)).input_scale(&s);
    /// assert_eq!(layer.input_scale, Some(&s[..]));
    /// ```
    pub fn input_scale(mut self, scale: &'a [f32]) -> Self {
        self.input_scale = Some(scale);
        self
    }

    /// Sets the layer's own target sparsity (local and row scope); see
    /// [`Layer::target_sparsity`](Layer#structfield.target_sparsity).
    ///
    /// ```
    /// use prunemask::{Layer, Shape};
    /// let w = [1.0f32; 4];
    /// assert_eq!(Layer::new(&w[..], Shape::matrix(2, 2)).target_sparsity(0.25).target_sparsity, Some(0.25));
    /// ```
    pub fn target_sparsity(mut self, ratio: f64) -> Self {
        self.target_sparsity = Some(ratio);
        self
    }

    /// Checks the input scale against the criterion and the view: present
    /// exactly when the criterion scales, one finite value `>= 0` per
    /// input feature.
    pub(crate) fn check_scale(
        &self,
        index: usize,
        criterion: Criterion,
        view: &View,
    ) -> Result<(), Error> {
        let fail = |kind| Err(Error::in_layer(index, kind));
        match (criterion.scaled(), self.input_scale) {
            (false, None) => Ok(()),
            (false, Some(_)) => fail(ErrorKind::InputScaleUnused { criterion }),
            (true, None) => fail(ErrorKind::InputScaleMissing),
            (true, Some(s)) if s.len() != view.inner() => fail(ErrorKind::InputScaleLength {
                expected: view.inner(),
                got: s.len(),
            }),
            (true, Some(s)) => match s.iter().position(|x| !(x.is_finite() && *x >= 0.0)) {
                Some(i) => fail(ErrorKind::InputScaleValue {
                    index: i,
                    value: s[i],
                }),
                None => Ok(()),
            },
        }
    }

    /// Checks the shape against the slice and returns the view.
    pub(crate) fn checked_view(&self, index: usize) -> Result<View, Error> {
        let view = self
            .shape
            .view()
            .map_err(|kind| Error::in_layer(index, kind))?;
        let expected = view.rows() * view.cols();
        if self.scores.len() != expected {
            return Err(Error::in_layer(
                index,
                ErrorKind::ScoreLength {
                    expected,
                    got: self.scores.len(),
                },
            ));
        }
        Ok(view)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The widening, zero and NaN tests of the halves agree with `half`'s
    /// own conversion on every bit pattern (NaN payloads aside).
    #[test]
    fn halves_widen_exactly_for_every_pattern() {
        for bits in 0..=u16::MAX {
            let (h, b) = (f16::from_bits(bits), bf16::from_bits(bits));
            for (want, got, zero, nan) in [
                (h.to_f32(), h.widen(), h.is_zero(), h.is_nan()),
                (b.to_f32(), b.widen(), b.is_zero(), b.is_nan()),
            ] {
                assert_eq!(nan, want.is_nan(), "{bits:#06x}");
                assert_eq!(zero, want == 0.0, "{bits:#06x}");
                if want.is_nan() {
                    assert!(got.is_nan(), "{bits:#06x}");
                } else {
                    assert_eq!(got.to_bits(), want.to_bits(), "{bits:#06x}");
                }
            }
        }
    }
}
