//! What the caller hands in: one layer's scores (f32, f16 or bf16) and shape.

use half::{bf16, f16};

use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::shape::{Shape, View};
use crate::vocab::terms::Criterion;

/// A score element type: `f32`, [`half::f16`] or [`half::bf16`].
///
/// Halves widen to `f32` exactly, one element at a time; scores are never
/// copied wholesale. The trait is sealed.
///
/// ```
/// use prunemask::ext::Element;
/// assert_eq!(half::bf16::from_f32(1.5).widen(), 1.5);
/// ```
pub trait Element: Copy + sealed::Sealed + 'static {
    /// The exact `f32` value of this element.
    fn widen(self) -> f32;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

impl Element for f32 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl Element for f16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self.to_f32()
    }
}

impl Element for bf16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        // bf16 is the top half of an f32: widening is a shift, exact.
        f32::from_bits((self.to_bits() as u32) << 16)
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
        match self {
            Scores::F32(s) => s.len(),
            Scores::F16(s) => s.len(),
            Scores::Bf16(s) => s.len(),
        }
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
        match *self {
            Scores::F32(s) => criterion.read(s[index]),
            Scores::F16(s) => criterion.read(s[index]),
            Scores::Bf16(s) => criterion.read(s[index]),
        }
    }

    /// Runs `f` on the typed slice: kernels are monomorphised per element type.
    #[inline]
    pub(crate) fn visit<V: VisitElements>(&self, v: V) -> V::Out {
        match *self {
            Scores::F32(s) => v.visit(s),
            Scores::F16(s) => v.visit(s),
            Scores::Bf16(s) => v.visit(s),
        }
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

/// One layer: its scores (or weights) and its shape.
///
/// ```
/// use prunemask::{Layer, Shape};
/// let w = vec![0.0f32; 16 * 8];
/// let layer = Layer::new(&w[..], Shape::matrix(16, 8));
/// assert_eq!(layer.shape, Shape::matrix(16, 8));
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Layer<'a> {
    /// The scores, in the tensor's own layout.
    pub scores: Scores<'a>,
    /// The tensor's shape.
    pub shape: Shape,
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
