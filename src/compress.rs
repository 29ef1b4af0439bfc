//! Compressed N:M matrices, for engines that vendor the library: a weight
//! and its N:M mask in, the kept values and their positions out, and back.
//! No allocation: every buffer is the caller's, its length given by
//! [`Layout`].
//!
//! **Not for current serving stacks.** vLLM 0.19 and later dropped its 2:4
//! kernels and compressed-tensors 0.15 and later its sparse compressors;
//! neither reads these layouts. What they load is a dense checkpoint with
//! `+0.0` at pruned positions. The layouts here are for engines that vendor
//! this library and run their own sparse kernels (and for reading or
//! writing compressed-tensors' legacy `sparse-24-bitmask` checkpoints,
//! which vLLM up to 0.18.1 loaded for `2:4` only, with `cols % 8 == 0`).
//!
//! # Layouts
//!
//! A matrix `[rows, cols]`, row-major, with a mask of the same shape (`u8`,
//! 1 = kept, 0 = pruned) in which every aligned group of `m` columns of a
//! row prunes exactly `n` (N:M with N **pruned**, as INC and llm-compressor
//! count: `2:4` and `4:8` keep half). With `k = m - n` kept per group, `cols
//! / m` groups per row:
//!
//! - **values**, the weight's element type, `[rows, cols * k / m]`: each
//!   row's kept values in increasing column order (group by group, each
//!   group's in column order). Copied bit for bit: a kept `-0.0` stays
//!   `-0.0`, a kept NaN keeps its payload. Both layouts below share it;
//!   it is compressed-tensors' `P.compressed`.
//! - **indices** (N:M metadata), `u8`, `[rows, cols * k / m]`: for each
//!   value, its position in its group, `0..m`, strictly increasing within a
//!   group. One byte per index (an engine packs it as its kernels want,
//!   e.g. two bits per index for 2:4 sparse tensor cores).
//! - **bitmask** (compressed-tensors' `sparse-24-bitmask` `P.bitmask`,
//!   generalised to any N:M), `u8`, `[rows, ceil(cols / 8)]`: column `c` of
//!   a row is byte `c / 8`, bit `c % 8` (least significant first), 1 =
//!   kept; each row is padded to whole bytes with 0 bits. Exactly `k` bits
//!   are set per group: the mask decides what is kept, not the weights, so
//!   a group whose weights are zero at kept positions still marks `k` kept
//!   ("a group with fewer non-zeros marks zero positions as kept").
//!   compressed-tensors' `P.shape` (i64 `[[rows], [cols]]`) is the
//!   caller's to write.
//!
//! Decompressing writes the values at their positions and `+0.0` (all bits
//! clear, [`Element::ZERO`]) everywhere else, never `-0.0`: the result is
//! the weight where the mask is 1 and `+0.0` where it is 0.
//!
//! Groups run along contiguous rows: a linear weight `[out, in]`
//! ([`Shape::matrix`](crate::Shape::matrix)), which is what
//! compressed-tensors compresses. A weight stored `[in, out]` or a conv
//! weight has its groups elsewhere in memory (see [`Shape`](crate::Shape));
//! copy it to its `[rows, cols]` view first.
//!
//! ## A worked example
//!
//! One row of 16, `2:4`, weights `1.0 ..= 16.0` (`w[c] = c + 1`), mask
//! `1100 1010 1001 0110`:
//!
//! | layout | contents |
//! | --- | --- |
//! | values | `1, 2, 5, 7, 9, 12, 14, 15` |
//! | indices | `0, 1,  0, 2,  0, 3,  1, 2` |
//! | bitmask | `0x53, 0x69` (columns 0-7 `1100 1010` are bits 0, 1, 4, 6) |
//!
//! ```
//! use prunemask::compress::{self, Layout};
//!
//! let w: Vec<f32> = (1..=16).map(|c| c as f32).collect();
//! let mask = [1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0];
//! let layout = Layout::new(1, 16, 2, 4)?;
//! let (mut values, mut indices) = ([0.0f32; 8], [0u8; 8]);
//! compress::compress(&layout, &w, &mask, &mut values, &mut indices)?;
//! assert_eq!(values, [1.0, 2.0, 5.0, 7.0, 9.0, 12.0, 14.0, 15.0]);
//! assert_eq!(indices, [0, 1, 0, 2, 0, 3, 1, 2]);
//!
//! let mut bitmask = [0u8; 2];
//! compress::pack_bitmask(&layout, &w, &mask, &mut values, &mut bitmask)?;
//! assert_eq!(bitmask, [0x53, 0x69]);
//!
//! // Back: the weight where the mask is 1, +0.0 where it is 0.
//! let mut dense = [9.0f32; 16];
//! compress::unpack_bitmask(&layout, &values, &bitmask, &mut dense)?;
//! let want: Vec<f32> = w.iter().zip(&mask).map(|(&x, &m)| if m == 1 { x } else { 0.0 }).collect();
//! assert_eq!(dense[..], want[..]);
//! # Ok::<(), prunemask::Error>(())
//! ```
//!
//! # Errors
//!
//! Every function validates all of its input before it writes: on `Err`,
//! every output buffer is as it was. Nothing panics, whatever the input.

use crate::pattern::Pattern;
use crate::vocab::error::{Error, ErrorKind};
use crate::vocab::ext::{Geometry, KernelSet};
use crate::vocab::scores::Element;

/// The geometry of a compressed N:M matrix: `[rows, cols]`, `n` pruned of
/// every `m` columns. It gives every buffer's length.
///
/// A zero `rows` or `cols` is an empty matrix (every buffer empty).
///
/// ```
/// use prunemask::compress::Layout;
/// let l = Layout::new(8, 12, 2, 4)?;
/// assert_eq!((l.elements(), l.values_len(), l.bitmask_len()), (96, 48, 16));
/// assert_eq!((l.values_per_row(), l.bitmask_row_bytes()), (6, 2));
/// # Ok::<(), prunemask::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Layout {
    rows: usize,
    cols: usize,
    n: usize,
    m: usize,
}

impl Layout {
    /// The layout of a `[rows, cols]` matrix under `n:m` (`n` pruned of
    /// every `m`).
    ///
    /// # Errors
    ///
    /// [`BadPattern`](ErrorKind::BadPattern) for `n == 0`, `m == 0`,
    /// `n >= m` or `m > 128` (the sizes [`Pattern`] takes);
    /// [`GroupCols`](ErrorKind::GroupCols) when `cols % m != 0`;
    /// [`ShapeOverflow`](ErrorKind::ShapeOverflow) when `rows * cols` does
    /// not fit in `usize`.
    ///
    /// ```
    /// use prunemask::compress::Layout;
    /// use prunemask::ErrorKind;
    /// assert!(Layout::new(4, 8, 4, 8).is_ok());
    /// let e = Layout::new(4, 6, 2, 4).unwrap_err();
    /// assert_eq!(e.kind(), &ErrorKind::GroupCols { cols: 6, m: 4 });
    /// assert!(matches!(Layout::new(4, 8, 4, 4).unwrap_err().kind(), ErrorKind::BadPattern { .. }));
    /// ```
    pub fn new(rows: usize, cols: usize, n: usize, m: usize) -> Result<Self, Error> {
        // The sizes a pattern takes, checked by the N:M kind itself.
        KernelSet::n_in_m_dyn(n, m).validate()?;
        if !cols.is_multiple_of(m) {
            return Err(Error::new(ErrorKind::GroupCols { cols, m }));
        }
        if rows.checked_mul(cols).is_none() {
            return Err(Error::new(ErrorKind::ShapeOverflow));
        }
        Ok(Layout { rows, cols, n, m })
    }

    /// The layout of a `[rows, cols]` matrix under an N:M [`Pattern`]
    /// (`2:4`, `4:8`, ...).
    ///
    /// # Errors
    ///
    /// [`BadPattern`](ErrorKind::BadPattern) for a block pattern (`4x1`...),
    /// and those of [`new`](Layout::new).
    ///
    /// ```
    /// use prunemask::{compress::Layout, Pattern};
    /// let l = Layout::for_pattern(4, 16, &Pattern::parse("2:4")?)?;
    /// assert_eq!((l.n(), l.m(), l.kept_per_group()), (2, 4, 2));
    /// assert!(Layout::for_pattern(4, 16, &Pattern::parse("4x1")?).is_err());
    /// # Ok::<(), prunemask::Error>(())
    /// ```
    pub fn for_pattern(rows: usize, cols: usize, pattern: &Pattern) -> Result<Self, Error> {
        match pattern.geometry() {
            Geometry::NInM { n, m } => Layout::new(rows, cols, n, m),
            Geometry::Block { .. } => Err(Error::new(ErrorKind::BadPattern {
                reason: "compression needs an N:M pattern",
            })),
        }
    }

    /// Rows of the matrix.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 2, 4).unwrap().rows(), 3);
    /// ```
    pub const fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the matrix (a multiple of `m`).
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 2, 4).unwrap().cols(), 8);
    /// ```
    pub const fn cols(&self) -> usize {
        self.cols
    }

    /// Pruned elements per group.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 1, 4).unwrap().n(), 1);
    /// ```
    pub const fn n(&self) -> usize {
        self.n
    }

    /// Group length.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 1, 4).unwrap().m(), 4);
    /// ```
    pub const fn m(&self) -> usize {
        self.m
    }

    /// Kept elements per group, `m - n`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 1, 4).unwrap().kept_per_group(), 3);
    /// ```
    pub const fn kept_per_group(&self) -> usize {
        self.m - self.n
    }

    /// Groups per row, `cols / m`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 1, 4).unwrap().groups_per_row(), 2);
    /// ```
    pub const fn groups_per_row(&self) -> usize {
        self.cols / self.m
    }

    /// Elements of the dense matrix (weights, mask, decompressed output),
    /// `rows * cols`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 2, 4).unwrap().elements(), 24);
    /// ```
    pub const fn elements(&self) -> usize {
        self.rows * self.cols
    }

    /// Values (and indices) per row, `cols * (m - n) / m`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 1, 4).unwrap().values_per_row(), 6);
    /// ```
    pub const fn values_per_row(&self) -> usize {
        self.groups_per_row() * self.kept_per_group()
    }

    /// Length of the values buffer and of the indices buffer,
    /// `rows * cols * (m - n) / m`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 8, 2, 4).unwrap().values_len(), 12);
    /// ```
    pub const fn values_len(&self) -> usize {
        self.rows * self.values_per_row()
    }

    /// Bytes of one bitmask row, `ceil(cols / 8)`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 12, 2, 4).unwrap().bitmask_row_bytes(), 2);
    /// ```
    pub const fn bitmask_row_bytes(&self) -> usize {
        self.cols.div_ceil(8)
    }

    /// Length of the bitmask buffer, `rows * ceil(cols / 8)`.
    ///
    /// ```
    /// assert_eq!(prunemask::compress::Layout::new(3, 12, 2, 4).unwrap().bitmask_len(), 6);
    /// ```
    pub const fn bitmask_len(&self) -> usize {
        self.rows * self.bitmask_row_bytes()
    }

    /// Row and group within the row of the `i`-th group in row-major order.
    fn group_at(&self, i: usize) -> (usize, usize) {
        let per_row = self.groups_per_row().max(1);
        (i / per_row, i % per_row)
    }
}

/// Compresses a `[rows, cols]` weight under its N:M mask into values and
/// index metadata (module docs, "Layouts").
///
/// `weights` and `mask` are `[rows, cols]` row-major (`layout.elements()`);
/// `values` and `indices` are `[rows, cols * (m - n) / m]`
/// (`layout.values_len()` each). `T` is any element type (`f32`, `f16`,
/// `bf16`, raw `u16` bits...): values are copied bit for bit.
///
/// # Errors
///
/// [`BufferLength`](ErrorKind::BufferLength) naming the first buffer of
/// the wrong length (`weights`, `mask`, `values`, `indices`);
/// [`MaskValue`](ErrorKind::MaskValue) for a mask byte other than 0 and 1;
/// [`GroupZeros`](ErrorKind::GroupZeros) for a group without exactly `n`
/// zeros in the mask, naming its row and group. Nothing is written then.
///
/// ```
/// use prunemask::compress::{compress, Layout};
/// let w = [0.5f32, -0.0, 3.0, 4.0, 0.0, 0.0, 7.0, 8.0];
/// let mask = [0, 1, 1, 0, 1, 1, 0, 0]; // kept -0.0 and zeros are fine
/// let (mut values, mut indices) = ([0.0f32; 4], [0u8; 4]);
/// compress(&Layout::new(2, 4, 2, 4)?, &w, &mask, &mut values, &mut indices)?;
/// assert_eq!(values.map(f32::to_bits), [(-0.0f32).to_bits(), 3.0f32.to_bits(), 0, 0]);
/// assert_eq!(indices, [1, 2, 0, 1]);
/// # Ok::<(), prunemask::Error>(())
/// ```
pub fn compress<T: Copy>(
    layout: &Layout,
    weights: &[T],
    mask: &[u8],
    values: &mut [T],
    indices: &mut [u8],
) -> Result<(), Error> {
    check_len("weights", layout.elements(), weights.len())?;
    check_len("mask", layout.elements(), mask.len())?;
    check_len("values", layout.values_len(), values.len())?;
    check_len("indices", layout.values_len(), indices.len())?;
    check_mask(layout, mask)?;
    let (m, k) = (layout.m, layout.kept_per_group());
    let groups = weights.chunks_exact(m).zip(mask.chunks_exact(m));
    let outs = values.chunks_exact_mut(k).zip(indices.chunks_exact_mut(k));
    for ((w, keep), (vals, idx)) in groups.zip(outs) {
        let kept = (0..m).filter(|&p| keep[p] == 1);
        for ((v, i), p) in vals.iter_mut().zip(idx.iter_mut()).zip(kept) {
            *v = w[p];
            // p < m <= 128.
            *i = p as u8;
        }
    }
    Ok(())
}

/// Writes the `[rows, cols]` weight that values and index metadata stand
/// for (module docs, "Layouts"): each value at its position, `+0.0` at
/// every other.
///
/// `values` and `indices` are `[rows, cols * (m - n) / m]`
/// (`layout.values_len()` each); `weights` is `[rows, cols]` row-major
/// (`layout.elements()`), every element of it written.
///
/// # Errors
///
/// [`BufferLength`](ErrorKind::BufferLength) naming the first buffer of
/// the wrong length (`values`, `indices`, `weights`);
/// [`GroupIndices`](ErrorKind::GroupIndices) for a group whose indices are
/// not strictly increasing positions below `m`, naming its row and group.
/// Nothing is written then.
///
/// ```
/// use prunemask::compress::{decompress, Layout};
/// let values = [2.0f32, 3.0, -0.0, 8.0];
/// let indices = [1, 2, 0, 3];
/// let mut w = [9.0f32; 8];
/// decompress(&Layout::new(2, 4, 2, 4)?, &values, &indices, &mut w)?;
/// assert_eq!(w.map(f32::to_bits), [0.0, 2.0, 3.0, 0.0, -0.0, 0.0, 0.0, 8.0].map(f32::to_bits));
/// # Ok::<(), prunemask::Error>(())
/// ```
pub fn decompress<T: Element>(
    layout: &Layout,
    values: &[T],
    indices: &[u8],
    weights: &mut [T],
) -> Result<(), Error> {
    check_len("values", layout.values_len(), values.len())?;
    check_len("indices", layout.values_len(), indices.len())?;
    check_len("weights", layout.elements(), weights.len())?;
    let (m, k) = (layout.m, layout.kept_per_group());
    for (g, idx) in indices.chunks_exact(k).enumerate() {
        let increasing = idx.windows(2).all(|p| p[0] < p[1]);
        if !increasing || idx.last().is_some_and(|&p| p as usize >= m) {
            let (row, group) = layout.group_at(g);
            return Err(Error::new(ErrorKind::GroupIndices { row, group }));
        }
    }
    let groups = values.chunks_exact(k).zip(indices.chunks_exact(k));
    for ((vals, idx), w) in groups.zip(weights.chunks_exact_mut(m)) {
        w.fill(T::ZERO);
        for (&v, &p) in vals.iter().zip(idx) {
            // Checked above: p < m.
            w[p as usize] = v;
        }
    }
    Ok(())
}

/// Packs a `[rows, cols]` weight under its N:M mask as compressed-tensors'
/// `sparse-24-bitmask` (generalised to any N:M; module docs, "Layouts"):
/// the kept values and a bitmask of one bit per element.
///
/// `weights` and `mask` are `[rows, cols]` row-major (`layout.elements()`);
/// `values` is `[rows, cols * (m - n) / m]` (`layout.values_len()`), the
/// same values [`compress`] writes; `bitmask` is `u8 [rows, ceil(cols /
/// 8)]` (`layout.bitmask_len()`), every byte written, padding bits 0. The
/// mask decides what is kept: a kept weight that is zero is marked kept
/// and stored.
///
/// # Errors
///
/// [`BufferLength`](ErrorKind::BufferLength) naming the first buffer of
/// the wrong length (`weights`, `mask`, `values`, `bitmask`);
/// [`MaskValue`](ErrorKind::MaskValue) for a mask byte other than 0 and 1;
/// [`GroupZeros`](ErrorKind::GroupZeros) for a group without exactly `n`
/// zeros in the mask, naming its row and group. Nothing is written then.
///
/// ```
/// use prunemask::compress::{pack_bitmask, Layout};
/// // cols 12: each row is 2 bytes, the last 4 bits of the second padding.
/// let w: Vec<f32> = (0..24).map(|x| x as f32).collect();
/// let mask = [1, 1, 0, 0,  0, 0, 1, 1,  0, 1, 0, 1,
///             0, 1, 1, 0,  1, 0, 0, 1,  1, 0, 1, 0];
/// let layout = Layout::new(2, 12, 2, 4)?;
/// let (mut values, mut bitmask) = ([0.0f32; 12], [0xffu8; 4]);
/// pack_bitmask(&layout, &w, &mask, &mut values, &mut bitmask)?;
/// assert_eq!(bitmask, [0xc3, 0x0a, 0x96, 0x05]);
/// assert_eq!(values[..6], [0.0, 1.0, 6.0, 7.0, 9.0, 11.0]);
/// # Ok::<(), prunemask::Error>(())
/// ```
pub fn pack_bitmask<T: Copy>(
    layout: &Layout,
    weights: &[T],
    mask: &[u8],
    values: &mut [T],
    bitmask: &mut [u8],
) -> Result<(), Error> {
    check_len("weights", layout.elements(), weights.len())?;
    check_len("mask", layout.elements(), mask.len())?;
    check_len("values", layout.values_len(), values.len())?;
    check_len("bitmask", layout.bitmask_len(), bitmask.len())?;
    check_mask(layout, mask)?;
    if layout.elements() == 0 {
        // Every buffer is empty.
        return Ok(());
    }
    let (m, k) = (layout.m, layout.kept_per_group());
    let groups = weights.chunks_exact(m).zip(mask.chunks_exact(m));
    for ((w, keep), vals) in groups.zip(values.chunks_exact_mut(k)) {
        let kept = (0..m).filter(|&p| keep[p] == 1);
        for (v, p) in vals.iter_mut().zip(kept) {
            *v = w[p];
        }
    }
    let rows = mask.chunks_exact(layout.cols);
    for (keep, bytes) in rows.zip(bitmask.chunks_exact_mut(layout.bitmask_row_bytes())) {
        for (byte, bits) in bytes.iter_mut().zip(keep.chunks(8)) {
            // Mask bytes are 0 or 1 (checked).
            *byte = bits
                .iter()
                .enumerate()
                .fold(0, |acc, (b, &x)| acc | (x << b));
        }
    }
    Ok(())
}

/// Writes the `[rows, cols]` weight that a compressed-tensors-style
/// bitmask and its values stand for (module docs, "Layouts"): the values,
/// in order, at the set bits of each row; `+0.0` at the clear bits.
///
/// `values` is `[rows, cols * (m - n) / m]` (`layout.values_len()`);
/// `bitmask` is `u8 [rows, ceil(cols / 8)]` (`layout.bitmask_len()`);
/// `weights` is `[rows, cols]` row-major (`layout.elements()`), every
/// element of it written.
///
/// # Errors
///
/// [`BufferLength`](ErrorKind::BufferLength) naming the first buffer of
/// the wrong length (`values`, `bitmask`, `weights`);
/// [`GroupZeros`](ErrorKind::GroupZeros) for a group without exactly
/// `m - n` bits set (`zeros` is its clear bits), naming its row and group;
/// [`BitmaskPadding`](ErrorKind::BitmaskPadding) for a padding bit set
/// (past the last column of a row). Nothing is written then.
///
/// ```
/// use prunemask::compress::{unpack_bitmask, Layout};
/// use half::bf16;
/// let values = [1.0, 2.0, 5.0, 7.0, 9.0, 12.0, 14.0, 15.0].map(bf16::from_f32);
/// let mut w = [bf16::ONE; 16];
/// unpack_bitmask(&Layout::new(1, 16, 2, 4)?, &values, &[0x53, 0x69], &mut w)?;
/// assert_eq!(w[..4], [1.0, 2.0, 0.0, 0.0].map(bf16::from_f32));
/// assert!(w[2].to_bits() == 0); // +0.0
/// # Ok::<(), prunemask::Error>(())
/// ```
pub fn unpack_bitmask<T: Element>(
    layout: &Layout,
    values: &[T],
    bitmask: &[u8],
    weights: &mut [T],
) -> Result<(), Error> {
    check_len("values", layout.values_len(), values.len())?;
    check_len("bitmask", layout.bitmask_len(), bitmask.len())?;
    check_len("weights", layout.elements(), weights.len())?;
    if layout.elements() == 0 {
        return Ok(());
    }
    let (cols, m, k) = (layout.cols, layout.m, layout.kept_per_group());
    let row_bytes = layout.bitmask_row_bytes();
    let bit = |bytes: &[u8], c: usize| (bytes[c / 8] >> (c % 8)) & 1;
    for (row, bytes) in bitmask.chunks_exact(row_bytes).enumerate() {
        for group in 0..layout.groups_per_row() {
            let kept = (group * m..(group + 1) * m)
                .map(|c| bit(bytes, c) as usize)
                .sum::<usize>();
            if kept != k {
                return Err(Error::new(ErrorKind::GroupZeros {
                    row,
                    group,
                    zeros: m - kept,
                    n: layout.n,
                }));
            }
        }
        // Bits of the last byte past the last column.
        let used = cols % 8;
        if used != 0 && bytes[row_bytes - 1] >> used != 0 {
            return Err(Error::new(ErrorKind::BitmaskPadding { row }));
        }
    }
    let rows = weights.chunks_exact_mut(cols);
    let per_row = values.chunks_exact(layout.values_per_row());
    for ((w, vals), bytes) in rows.zip(per_row).zip(bitmask.chunks_exact(row_bytes)) {
        let mut vals = vals.iter();
        for (c, x) in w.iter_mut().enumerate() {
            *x = match bit(bytes, c) {
                // Exactly one value per set bit (checked).
                1 => vals.next().copied().unwrap_or(T::ZERO),
                _ => T::ZERO,
            };
        }
    }
    Ok(())
}

fn check_len(what: &'static str, expected: usize, got: usize) -> Result<(), Error> {
    if expected == got {
        Ok(())
    } else {
        Err(Error::new(ErrorKind::BufferLength {
            what,
            expected,
            got,
        }))
    }
}

/// Every byte 0 or 1, exactly `n` zeros per group; the first fault in
/// row-major order. `mask.len()` is `layout.elements()`.
fn check_mask(layout: &Layout, mask: &[u8]) -> Result<(), Error> {
    let m = layout.m;
    for (g, group) in mask.chunks_exact(m).enumerate() {
        if let Some(p) = group.iter().position(|&x| x > 1) {
            return Err(Error::new(ErrorKind::MaskValue {
                index: g * m + p,
                value: group[p],
            }));
        }
        let zeros = group.iter().filter(|&&x| x == 0).count();
        if zeros != layout.n {
            let (row, group) = layout.group_at(g);
            return Err(Error::new(ErrorKind::GroupZeros {
                row,
                group,
                zeros,
                n: layout.n,
            }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use half::{bf16, f16};

    /// Counts the bytes of a `Display` (no allocator here).
    struct Count(usize);

    impl core::fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }

    /// FIELD.md's example: kept `1100 1010 1001 0110` is `0x53 0x69`.
    const EXAMPLE: [u8; 16] = [1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0];

    fn example_weights() -> [f32; 16] {
        core::array::from_fn(|c| c as f32 + 1.0)
    }

    #[test]
    fn field_example_bytes() {
        let l = Layout::new(1, 16, 2, 4).unwrap();
        let w = example_weights();
        let (mut values, mut bitmask) = ([0.0f32; 8], [0u8; 2]);
        pack_bitmask(&l, &w, &EXAMPLE, &mut values, &mut bitmask).unwrap();
        assert_eq!(bitmask, [0x53, 0x69]);
        assert_eq!(values, [1.0, 2.0, 5.0, 7.0, 9.0, 12.0, 14.0, 15.0]);
        let (mut v2, mut idx) = ([0.0f32; 8], [0u8; 8]);
        compress(&l, &w, &EXAMPLE, &mut v2, &mut idx).unwrap();
        assert_eq!(v2, values);
        assert_eq!(idx, [0, 1, 0, 2, 0, 3, 1, 2]);
        let mut dense = [f32::NAN; 16];
        unpack_bitmask(&l, &values, &bitmask, &mut dense).unwrap();
        let mut dense2 = [f32::NAN; 16];
        decompress(&l, &v2, &idx, &mut dense2).unwrap();
        for c in 0..16 {
            let want = if EXAMPLE[c] == 1 { w[c] } else { 0.0 };
            assert_eq!(dense[c].to_bits(), want.to_bits(), "{c}");
            assert_eq!(dense2[c].to_bits(), want.to_bits(), "{c}");
        }
    }

    /// cols 12: two bytes per row, the high nibble of the second 0.
    #[test]
    fn rows_padded_to_whole_bytes() {
        let l = Layout::new(2, 12, 2, 4).unwrap();
        let mask = [
            1, 1, 0, 0, 0, 0, 1, 1, 0, 1, 0, 1, //
            0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0,
        ];
        let w: [f32; 24] = core::array::from_fn(|x| x as f32);
        let (mut values, mut bitmask) = ([0.0f32; 12], [0xffu8; 4]);
        pack_bitmask(&l, &w, &mask, &mut values, &mut bitmask).unwrap();
        assert_eq!(
            bitmask,
            [0b1100_0011, 0b0000_1010, 0b1001_0110, 0b0000_0101]
        );
        assert_eq!(
            values,
            [0.0, 1.0, 6.0, 7.0, 9.0, 11.0, 13.0, 14.0, 16.0, 19.0, 20.0, 22.0]
        );
        // A padding bit set is refused, and nothing written.
        let mut out = [7.0f32; 24];
        let mut bad = bitmask;
        bad[3] |= 0x10;
        let e = unpack_bitmask(&l, &values, &bad, &mut out).unwrap_err();
        assert_eq!(e.kind(), &ErrorKind::BitmaskPadding { row: 1 });
        assert!(out.iter().all(|&x| x == 7.0));
        unpack_bitmask(&l, &values, &bitmask, &mut out).unwrap();
        for x in 0..24 {
            assert_eq!(out[x], if mask[x] == 1 { w[x] } else { 0.0 });
        }
    }

    /// Kept zeros (a group with fewer non-zeros than kept positions) are
    /// marked kept: the mask decides. Kept `-0.0` and NaN stay bit for bit;
    /// pruned `-0.0` comes back `+0.0`.
    #[test]
    fn mask_decides_and_bits_are_kept() {
        let l = Layout::new(1, 8, 2, 4).unwrap();
        let nan = f16::from_bits(0x7e01);
        let w = [
            f16::ZERO,
            f16::NEG_ZERO,
            f16::ONE,
            f16::NEG_ZERO,
            nan,
            f16::ZERO,
            f16::ZERO,
            f16::ZERO,
        ];
        let mask = [1, 1, 0, 0, 1, 0, 1, 0];
        let (mut values, mut bitmask) = ([f16::ONE; 4], [0u8; 1]);
        pack_bitmask(&l, &w, &mask, &mut values, &mut bitmask).unwrap();
        assert_eq!(bitmask, [0b0101_0011]);
        assert_eq!(values.map(f16::to_bits), [0, 0x8000, 0x7e01, 0]);
        let mut out = [f16::ONE; 8];
        unpack_bitmask(&l, &values, &bitmask, &mut out).unwrap();
        assert_eq!(
            out.map(f16::to_bits),
            [0, 0x8000, 0, 0, 0x7e01, 0, 0, 0] // w[3] was -0.0, pruned
        );
    }

    #[test]
    fn layout_errors() {
        let kind = |r: Result<Layout, Error>| r.unwrap_err().kind().clone();
        for (n, m) in [(0, 4), (2, 0), (0, 0), (4, 4), (5, 4), (2, 129)] {
            assert!(
                matches!(
                    kind(Layout::new(2, 256, n, m)),
                    ErrorKind::BadPattern { .. }
                ),
                "{n}:{m}"
            );
        }
        assert!(Layout::new(1, 128, 127, 128).is_ok());
        assert_eq!(
            kind(Layout::new(2, 10, 2, 4)),
            ErrorKind::GroupCols { cols: 10, m: 4 }
        );
        assert_eq!(
            kind(Layout::new(usize::MAX, 4, 2, 4)),
            ErrorKind::ShapeOverflow
        );
        let blocks = Pattern::parse("4x1").unwrap();
        assert!(matches!(
            kind(Layout::for_pattern(4, 4, &blocks)),
            ErrorKind::BadPattern { .. }
        ));
        let l = Layout::for_pattern(4, 16, &Pattern::parse("4:8").unwrap()).unwrap();
        assert_eq!(l, Layout::new(4, 16, 4, 8).unwrap());
    }

    /// Each error names what is wrong and writes nothing.
    #[test]
    fn errors_write_nothing() {
        let l = Layout::new(2, 8, 2, 4).unwrap();
        let w = [1.0f32; 16];
        let good = [1u8, 0, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        let check = |r: Result<(), Error>, want: ErrorKind, v: &[f32], other: &[u8]| {
            let e = r.unwrap_err();
            assert_eq!(e.kind(), &want);
            let mut text = Count(0);
            core::fmt::write(&mut text, format_args!("{e}")).unwrap();
            assert!(text.0 > 10, "{want:?}: display");
            assert_eq!(e.layer(), None);
            assert!(v.iter().all(|&x| x == 7.0), "{want:?} wrote values");
            assert!(other.iter().all(|&x| x == 7), "{want:?} wrote metadata");
        };
        let len = |what, expected, got| ErrorKind::BufferLength {
            what,
            expected,
            got,
        };
        let (mut v, mut i, mut b) = ([7.0f32; 8], [7u8; 8], [7u8; 2]);
        let r = compress(&l, &w[..15], &good, &mut v, &mut i);
        check(r, len("weights", 16, 15), &v, &i);
        let r = compress(&l, &w, &good[..15], &mut v, &mut i);
        check(r, len("mask", 16, 15), &v, &i);
        let r = compress(&l, &w, &good, &mut v[..7], &mut i);
        check(r, len("values", 8, 7), &v, &i);
        let r = compress(&l, &w, &good, &mut v, &mut i[..7]);
        check(r, len("indices", 8, 7), &v, &i);
        let r = pack_bitmask(&l, &w, &good, &mut v, &mut b[..1]);
        check(r, len("bitmask", 2, 1), &v, &b);

        let mut two = good;
        two[9] = 2;
        let r = compress(&l, &w, &two, &mut v, &mut i);
        check(r, ErrorKind::MaskValue { index: 9, value: 2 }, &v, &i);
        let r = pack_bitmask(&l, &w, &two, &mut v, &mut b);
        check(r, ErrorKind::MaskValue { index: 9, value: 2 }, &v, &b);
        let mut three_zeros = good;
        three_zeros[13] = 0; // row 1, group 1: 0, 0, 0, 1
        let want = ErrorKind::GroupZeros {
            row: 1,
            group: 1,
            zeros: 3,
            n: 2,
        };
        let r = compress(&l, &w, &three_zeros, &mut v, &mut i);
        check(r, want.clone(), &v, &i);
        let r = pack_bitmask(&l, &w, &three_zeros, &mut v, &mut b);
        check(r, want, &v, &b);

        let (values, indices) = ([1.0f32; 8], [0u8, 1, 2, 3, 0, 3, 1, 1]);
        let mut out = [7.0f32; 16];
        let r = decompress(&l, &values, &indices, &mut out);
        check(r, ErrorKind::GroupIndices { row: 1, group: 1 }, &out, &[]);
        let r = decompress(&l, &values, &[0, 1, 2, 4, 0, 1, 0, 1], &mut out);
        check(r, ErrorKind::GroupIndices { row: 0, group: 1 }, &out, &[]);
        let r = decompress(&l, &values, &indices[..7], &mut out);
        check(r, len("indices", 8, 7), &out, &[]);
        let r = decompress(&l, &values[..7], &indices, &mut out);
        check(r, len("values", 8, 7), &out, &[]);
        let r = decompress(&l, &values, &indices, &mut out[..15]);
        check(r, len("weights", 16, 15), &out, &[]);

        // Row 1: 0b0001_0011 keeps columns 0, 1, 4: one in group 1.
        let r = unpack_bitmask(&l, &values, &[0x53, 0b0001_0011], &mut out);
        let want = ErrorKind::GroupZeros {
            row: 1,
            group: 1,
            zeros: 3,
            n: 2,
        };
        check(r, want, &out, &[]);
        let r = unpack_bitmask(&l, &values, &[0x53], &mut out);
        check(r, len("bitmask", 2, 1), &out, &[]);
        let r = unpack_bitmask(&l, &values[..7], &[0x53, 0x69], &mut out);
        check(r, len("values", 8, 7), &out, &[]);
        let r = unpack_bitmask(&l, &values, &[0x53, 0x69], &mut out[..15]);
        check(r, len("weights", 16, 15), &out, &[]);
    }

    /// Empty matrices: every buffer empty, nothing to do.
    #[test]
    fn empty() {
        for (rows, cols) in [(0, 8), (3, 0), (0, 0)] {
            let l = Layout::new(rows, cols, 1, 4).unwrap();
            assert_eq!((l.values_len(), l.bitmask_len()), (0, 0));
            let (w, mask): ([bf16; 0], [u8; 0]) = ([], []);
            let (mut v, mut i, mut b, mut out) =
                ([bf16::ZERO; 0], [0u8; 0], [0u8; 0], [bf16::ZERO; 0]);
            compress(&l, &w, &mask, &mut v, &mut i).unwrap();
            pack_bitmask(&l, &w, &mask, &mut v, &mut b).unwrap();
            decompress(&l, &v, &i, &mut out).unwrap();
            unpack_bitmask(&l, &v, &b, &mut out).unwrap();
        }
    }

    /// Every N:M with M up to 8 (4 under miri) over every mask of one row
    /// of two groups: Ok exactly when both groups have N zeros, and then
    /// the bitmask is the mask's bits and both layouts round-trip.
    #[test]
    fn every_small_mask() {
        let max_m = if cfg!(miri) { 4 } else { 8 };
        for m in 1..=max_m {
            for n in 1..m {
                let l = Layout::new(1, 2 * m, n, m).unwrap();
                let w: [f32; 16] = core::array::from_fn(|c| c as f32 - 4.5);
                let w = &w[..2 * m];
                for bits in 0u32..1 << (2 * m) {
                    let mut mask = [0u8; 16];
                    for (c, x) in mask[..2 * m].iter_mut().enumerate() {
                        *x = (bits >> c & 1) as u8;
                    }
                    let mask = &mask[..2 * m];
                    let ok = mask
                        .chunks(m)
                        .all(|g| g.iter().filter(|&&x| x == 0).count() == n);
                    let k = l.values_len();
                    let (mut v, mut i, mut b) = ([0.0f32; 16], [0u8; 16], [0u8; 2]);
                    let r = compress(&l, w, mask, &mut v[..k], &mut i[..k]);
                    assert_eq!(r.is_ok(), ok, "{n}:{m} {bits:b}");
                    let r = pack_bitmask(&l, w, mask, &mut v[..k], &mut b[..l.bitmask_len()]);
                    assert_eq!(r.is_ok(), ok, "{n}:{m} {bits:b}");
                    if !ok {
                        continue;
                    }
                    let packed = b[0] as u32 | (b[1] as u32) << 8;
                    assert_eq!(packed, bits, "{n}:{m}");
                    let (mut d1, mut d2) = ([1.0f32; 16], [1.0f32; 16]);
                    decompress(&l, &v[..k], &i[..k], &mut d1[..2 * m]).unwrap();
                    unpack_bitmask(&l, &v[..k], &b[..l.bitmask_len()], &mut d2[..2 * m]).unwrap();
                    for c in 0..2 * m {
                        let want = if mask[c] == 1 { w[c] } else { 0.0 };
                        assert_eq!(d1[c].to_bits(), want.to_bits());
                        assert_eq!(d2[c].to_bits(), want.to_bits());
                    }
                }
            }
        }
    }
}
