//! Tensor shapes and the 2-D view every pattern works in.
//!
//! A linear weight `[rows, cols]` is its own view. A conv weight OIHW
//! `[O, I, H, W]` is seen as `[O, H*W*I]`: view column `c = (h*W + w)*I + i`
//! is element `x[o][i][h][w]`. The view is an index mapping; nothing is copied.

use crate::vocab::error::ErrorKind;

/// The shape of one weight tensor, in its own memory layout (row-major).
///
/// ```
/// use prunemask::Shape;
/// let linear = Shape::matrix(768, 3072);
/// let conv = Shape::conv(64, 32, 3, 3);
/// assert_eq!(linear.elements(), Ok(768 * 3072));
/// assert_eq!(conv.view().unwrap().cols(), 3 * 3 * 32);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Shape {
    /// A linear weight `[rows = out_features, cols = in_features]`.
    Matrix {
        /// Output features.
        rows: usize,
        /// Input features.
        cols: usize,
    },
    /// A conv weight `[O, I, H, W]`.
    Conv {
        /// Output channels.
        o: usize,
        /// Input channels.
        i: usize,
        /// Kernel height.
        h: usize,
        /// Kernel width.
        w: usize,
    },
}

impl Shape {
    /// A `[rows, cols]` matrix.
    ///
    /// ```
    /// assert_eq!(prunemask::Shape::matrix(2, 3).elements(), Ok(6));
    /// ```
    pub const fn matrix(rows: usize, cols: usize) -> Self {
        Shape::Matrix { rows, cols }
    }

    /// An OIHW conv weight.
    ///
    /// ```
    /// assert_eq!(prunemask::Shape::conv(8, 4, 3, 3).elements(), Ok(288));
    /// ```
    pub const fn conv(o: usize, i: usize, h: usize, w: usize) -> Self {
        Shape::Conv { o, i, h, w }
    }

    /// Builds a shape from a rank-2 or rank-4 dimension list.
    ///
    /// ```
    /// use prunemask::Shape;
    /// assert_eq!(Shape::from_dims(&[4, 5]), Some(Shape::matrix(4, 5)));
    /// assert_eq!(Shape::from_dims(&[4, 5, 6]), None);
    /// ```
    pub fn from_dims(dims: &[usize]) -> Option<Self> {
        match *dims {
            [rows, cols] => Some(Shape::matrix(rows, cols)),
            [o, i, h, w] => Some(Shape::conv(o, i, h, w)),
            _ => None,
        }
    }

    /// Number of elements.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ZeroDimension`] for a zero dimension,
    /// [`ErrorKind::ShapeOverflow`] for a product that overflows `usize`.
    ///
    /// ```
    /// use prunemask::{ErrorKind, Shape};
    /// assert_eq!(Shape::matrix(0, 3).elements(), Err(ErrorKind::ZeroDimension));
    /// assert_eq!(Shape::matrix(usize::MAX, 2).elements(), Err(ErrorKind::ShapeOverflow));
    /// ```
    pub fn elements(&self) -> Result<usize, ErrorKind> {
        self.view().map(|v| v.rows * v.cols)
    }

    /// The 2-D `[rows, cols]` view of this shape: a matrix as it is, a conv
    /// weight OIHW as `[O, H*W*I]` (`docs/semantics.md`, section 1).
    ///
    /// # Errors
    ///
    /// As [`elements`](Shape::elements).
    ///
    /// ```
    /// let v = prunemask::Shape::conv(2, 3, 1, 2).view().unwrap();
    /// assert_eq!((v.rows(), v.cols()), (2, 6));
    /// ```
    pub fn view(&self) -> Result<View, ErrorKind> {
        let (rows, inner, hw) = match *self {
            Shape::Matrix { rows, cols } => (rows, cols, 1),
            Shape::Conv { o, i, h, w } => (o, i, h.checked_mul(w).ok_or(ErrorKind::ShapeOverflow)?),
        };
        if rows == 0 || inner == 0 || hw == 0 {
            return Err(ErrorKind::ZeroDimension);
        }
        let cols = inner.checked_mul(hw).ok_or(ErrorKind::ShapeOverflow)?;
        rows.checked_mul(cols).ok_or(ErrorKind::ShapeOverflow)?;
        Ok(View {
            rows,
            cols,
            inner,
            hw,
        })
    }
}

/// The 2-D `[rows, cols]` view of a [`Shape`], mapping view positions to
/// flat indices of the tensor's own layout.
///
/// ```
/// use prunemask::Shape;
/// // OIHW [1, 2, 1, 2]: view column c = w*I + i.
/// let v = Shape::conv(1, 2, 1, 2).view().unwrap();
/// let order: Vec<usize> = (0..4).map(|c| v.index(0, c)).collect();
/// assert_eq!(order, [0, 2, 1, 3]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    rows: usize,
    cols: usize,
    /// Input channels (conv) or `cols` (matrix): view columns per kernel position.
    inner: usize,
    /// Kernel positions `H*W` (conv) or 1 (matrix): the stride of one input channel.
    hw: usize,
}

impl View {
    /// Rows of the view (`O` for a conv).
    ///
    /// ```
    /// assert_eq!(prunemask::Shape::matrix(3, 4).view().unwrap().rows(), 3);
    /// ```
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the view (`H*W*I` for a conv).
    ///
    /// ```
    /// assert_eq!(prunemask::Shape::matrix(3, 4).view().unwrap().cols(), 4);
    /// ```
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Columns per kernel position: `I` for a conv, `cols` for a matrix.
    /// N:M groups must not straddle kernel positions, so they need this to
    /// divide by `M`.
    ///
    /// ```
    /// assert_eq!(prunemask::Shape::conv(2, 8, 3, 3).view().unwrap().inner(), 8);
    /// ```
    pub fn inner(&self) -> usize {
        self.inner
    }

    /// True for a matrix (and a 1x1 conv): view rows are contiguous.
    pub(crate) fn is_contiguous(&self) -> bool {
        self.hw == 1
    }

    /// Flat index of view element `(r, c)`. Callers keep `r < rows`, `c < cols`.
    ///
    /// ```
    /// let v = prunemask::Shape::matrix(3, 4).view().unwrap();
    /// assert_eq!(v.index(2, 1), 9);
    /// ```
    #[inline]
    pub fn index(&self, r: usize, c: usize) -> usize {
        if self.hw == 1 {
            // A matrix: skip the divisions.
            return r * self.cols + c;
        }
        r * self.cols + (c % self.inner) * self.hw + c / self.inner
    }

    /// Flat indices of view row `r` from column `c` on, in view order.
    /// Stepping costs an add, not a division; take as many as the run needs.
    ///
    /// ```
    /// let v = prunemask::Shape::conv(1, 2, 1, 2).view().unwrap();
    /// let run: Vec<usize> = v.run(0, 1).take(3).collect();
    /// assert_eq!(run, [2, 1, 3]);
    /// ```
    #[inline]
    pub fn run(&self, r: usize, c: usize) -> Run {
        let row_base = r * self.cols;
        let k = c / self.inner;
        let i = c % self.inner;
        Run {
            next: row_base + i * self.hw + k,
            row_base,
            k,
            i,
            inner: self.inner,
            hw: self.hw,
        }
    }
}

/// Iterator over the flat indices of consecutive view columns; see [`View::run`].
///
/// ```
/// let v = prunemask::Shape::matrix(2, 3).view().unwrap();
/// assert_eq!(v.run(1, 0).take(3).collect::<Vec<_>>(), [3, 4, 5]);
/// ```
#[derive(Clone, Debug)]
pub struct Run {
    next: usize,
    row_base: usize,
    k: usize,
    i: usize,
    inner: usize,
    hw: usize,
}

impl Iterator for Run {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let out = self.next;
        self.i += 1;
        if self.i == self.inner {
            self.i = 0;
            self.k += 1;
            self.next = self.row_base + self.k;
        } else {
            self.next += self.hw;
        }
        Some(out)
    }
}
