//! Tensor shapes and the 2-D view every pattern works in.
//!
//! The view is `[rows = outputs, cols = inputs]` of every layout people
//! ship, by index mapping; nothing is copied:
//!
//! - a linear weight `[out, in]` is its own view;
//! - a weight stored `[in, out]` (transformers' `Conv1D`: GPT-2 and its
//!   family) is seen transposed: view `(r, c)` is element `x[c][r]`;
//! - a conv weight `[O, I, *kernel]` (conv1d `[O, I, K]`, conv2d
//!   `[O, I, H, W]`, conv3d `[O, I, D, H, W]`) is seen as `[O, P*I]` with
//!   `P` kernel positions, input channel fastest: view column `c = p*I + i`
//!   is element `x[o][i][p]` (`p` the flat kernel position).

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
    /// A linear weight stored `[in_features, out_features]` (transformers'
    /// `Conv1D`), seen as the `[outputs, inputs]` matrix: N:M groups and
    /// blocks run along the input features, down the stored tensor's
    /// dimension 0.
    InOut {
        /// Input features (the stored tensor's dimension 0).
        inputs: usize,
        /// Output features (its dimension 1).
        outputs: usize,
    },
    /// A conv weight `[O, I, H, W]`; conv1d and conv3d weights are this
    /// with `H = 1` and `H = D*H` (their view, `[O, P*I]`, depends only on
    /// the number of kernel positions `P`).
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

    /// A weight stored `[in_features, out_features]` (transformers'
    /// `Conv1D`, GPT-2's `c_attn`, `c_fc`, ...).
    ///
    /// ```
    /// use prunemask::Shape;
    /// let v = Shape::in_out(16, 64).view().unwrap();
    /// assert_eq!((v.rows(), v.cols()), (64, 16)); // outputs x inputs
    /// assert_eq!(v.index(1, 0), 1); // output 1 of input 0 is stored at [0][1]
    /// assert_eq!(v.index(0, 1), 64);
    /// ```
    pub const fn in_out(inputs: usize, outputs: usize) -> Self {
        Shape::InOut { inputs, outputs }
    }

    /// An OIHW conv weight.
    ///
    /// ```
    /// assert_eq!(prunemask::Shape::conv(8, 4, 3, 3).elements(), Ok(288));
    /// ```
    pub const fn conv(o: usize, i: usize, h: usize, w: usize) -> Self {
        Shape::Conv { o, i, h, w }
    }

    /// A conv1d weight `[O, I, K]`, seen as `[O, K*I]`.
    ///
    /// ```
    /// use prunemask::Shape;
    /// assert_eq!(Shape::conv1d(16, 16, 5), Shape::conv(16, 16, 1, 5));
    /// ```
    pub const fn conv1d(o: usize, i: usize, k: usize) -> Self {
        Shape::Conv { o, i, h: 1, w: k }
    }

    /// A conv3d weight `[O, I, D, H, W]`, seen as `[O, D*H*W*I]`.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::ShapeOverflow`] when `D*H` overflows `usize`.
    ///
    /// ```
    /// use prunemask::Shape;
    /// assert_eq!(Shape::conv3d(8, 4, 2, 3, 3), Ok(Shape::conv(8, 4, 6, 3)));
    /// ```
    pub const fn conv3d(
        o: usize,
        i: usize,
        d: usize,
        h: usize,
        w: usize,
    ) -> Result<Self, ErrorKind> {
        match d.checked_mul(h) {
            Some(h) => Ok(Shape::Conv { o, i, h, w }),
            None => Err(ErrorKind::ShapeOverflow),
        }
    }

    /// Builds a shape from a dimension list: rank 2 is a matrix `[out, in]`,
    /// ranks 3, 4 and 5 conv1d, conv2d and conv3d weights; `None` for other
    /// ranks (and a conv3d whose `D*H` overflows). A weight stored
    /// `[in, out]` is [`Shape::in_out`]: its dims alone cannot say so.
    ///
    /// ```
    /// use prunemask::Shape;
    /// assert_eq!(Shape::from_dims(&[4, 5]), Some(Shape::matrix(4, 5)));
    /// assert_eq!(Shape::from_dims(&[4, 5, 6]), Some(Shape::conv1d(4, 5, 6)));
    /// assert_eq!(Shape::from_dims(&[4]), None);
    /// ```
    pub fn from_dims(dims: &[usize]) -> Option<Self> {
        match *dims {
            [rows, cols] => Some(Shape::matrix(rows, cols)),
            [o, i, k] => Some(Shape::conv1d(o, i, k)),
            [o, i, h, w] => Some(Shape::conv(o, i, h, w)),
            [o, i, d, h, w] => Shape::conv3d(o, i, d, h, w).ok(),
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

    /// The 2-D `[rows, cols]` view of this shape: a matrix as it is, an
    /// `[in, out]` weight transposed, a conv weight OIHW as `[O, H*W*I]`
    /// (`docs/semantics.md`, section 1).
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
        let (rows, inner, hw, transposed) = match *self {
            Shape::Matrix { rows, cols } => (rows, cols, 1, false),
            Shape::InOut { inputs, outputs } => (outputs, inputs, 1, true),
            Shape::Conv { o, i, h, w } => (
                o,
                i,
                h.checked_mul(w).ok_or(ErrorKind::ShapeOverflow)?,
                false,
            ),
        };
        if rows == 0 || inner == 0 || hw == 0 {
            return Err(ErrorKind::ZeroDimension);
        }
        let cols = inner.checked_mul(hw).ok_or(ErrorKind::ShapeOverflow)?;
        rows.checked_mul(cols).ok_or(ErrorKind::ShapeOverflow)?;
        // Flat index of (r, c) = r*row + (c % inner)*step + (c / inner)*kernel.
        let (row, step, kernel) = match transposed {
            true => (1, rows, 0),
            false => (cols, hw, 1),
        };
        Ok(View {
            rows,
            cols,
            inner,
            row,
            step,
            kernel,
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
    /// Flat stride of one view row: `cols`, or 1 for an `[in, out]` weight.
    row: usize,
    /// Flat stride of one input (channel): 1 for a matrix, `H*W` for a
    /// conv, `rows` for an `[in, out]` weight.
    step: usize,
    /// Flat stride of one kernel position: 1 (0 where there is one).
    kernel: usize,
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

    /// The input feature (view column modulo [`inner`](Self::inner)) of
    /// each flat element of the tensor, in flat order: what a
    /// per-input-feature scale is indexed by.
    pub(crate) fn inputs(&self) -> Inputs {
        Inputs {
            step: self.step,
            inner: self.inner,
            count: 0,
            input: 0,
        }
    }

    /// True for a matrix (and a 1x1 conv): view rows are contiguous.
    pub(crate) fn is_contiguous(&self) -> bool {
        self.row == self.cols && self.step == 1
    }

    /// Flat index of view element `(r, c)`. Callers keep `r < rows`, `c < cols`.
    ///
    /// ```
    /// let v = prunemask::Shape::matrix(3, 4).view().unwrap();
    /// assert_eq!(v.index(2, 1), 9);
    /// ```
    #[inline]
    pub fn index(&self, r: usize, c: usize) -> usize {
        if self.is_contiguous() {
            // A matrix: skip the divisions.
            return r * self.cols + c;
        }
        r * self.row + (c % self.inner) * self.step + (c / self.inner) * self.kernel
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
        let row_base = r * self.row;
        let k = c / self.inner;
        let i = c % self.inner;
        Run {
            next: row_base + i * self.step + k * self.kernel,
            row_base,
            k,
            i,
            inner: self.inner,
            step: self.step,
            kernel: self.kernel,
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
    step: usize,
    kernel: usize,
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
            self.next = self.row_base + self.k * self.kernel;
        } else {
            self.next += self.step;
        }
        Some(out)
    }
}

/// The input feature of each flat element in order; see [`View::inputs`].
/// Flat element `i` is input `(i / step) % inner`, counted without a
/// division.
#[derive(Clone, Debug)]
pub(crate) struct Inputs {
    step: usize,
    inner: usize,
    count: usize,
    input: usize,
}

impl Iterator for Inputs {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let out = self.input;
        self.count += 1;
        if self.count >= self.step {
            self.count = 0;
            self.input += 1;
            if self.input >= self.inner {
                self.input = 0;
            }
        }
        Some(out)
    }
}
