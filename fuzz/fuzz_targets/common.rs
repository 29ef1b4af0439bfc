//! Code shared by the fuzz targets.

use arbitrary::{Result, Unstructured};
use half::{bf16, f16};
use prunemask::ext::{Extent, Geometry};
use prunemask::{Compat, Pattern, Scores, Shape, SkipReason};

/// One layer's scores in their own dtype.
#[derive(Debug)]
pub enum Data {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl Data {
    /// Scores from bit patterns in element type `ty` (0 = f32, 1 = f16,
    /// 2 = bf16; halves take the low 16 bits).
    pub fn from_bits(ty: u8, bits: Vec<u32>) -> Data {
        match ty {
            0 => Data::F32(bits.into_iter().map(f32::from_bits).collect()),
            1 => Data::F16(bits.into_iter().map(|b| f16::from_bits(b as u16)).collect()),
            _ => Data::Bf16(
                bits.into_iter()
                    .map(|b| bf16::from_bits(b as u16))
                    .collect(),
            ),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Data::F32(v) => v.len(),
            Data::F16(v) => v.len(),
            Data::Bf16(v) => v.len(),
        }
    }

    /// The exact f32 value of element `i`.
    pub fn get(&self, i: usize) -> f32 {
        match self {
            Data::F32(v) => v[i],
            Data::F16(v) => v[i].to_f32(),
            Data::Bf16(v) => v[i].to_f32(),
        }
    }

    pub fn scores(&self) -> Scores<'_> {
        match self {
            Data::F32(v) => Scores::F32(v),
            Data::F16(v) => Scores::F16(v),
            Data::Bf16(v) => Scores::Bf16(v),
        }
    }
}

/// Pattern names the targets draw from: the built-ins and runtime sizes.
pub const PATTERNS: &[&str] = &[
    // built-ins
    "1x1",
    "4x1",
    "1x4",
    "8x1",
    "1x8",
    "16x1",
    "1x16",
    "2x2",
    "4x4",
    "channelx1",
    "1xchannel",
    "1:2",
    "2:4",
    "1:4",
    "4:8",
    "2:8",
    "8:16",
    // runtime-sized
    "3x2",
    "2x1",
    "1x2",
    "3x3",
    "2x3",
    "1x3",
    "24x1",
    "2xchannel",
    "channelx2",
    "channelx3",
    "3:8",
    "1:3",
    "2:3",
    "5:8",
    "7:8",
    "3:6",
    "3:4",
    "15:16",
    "1:24",
    "12:24",
    "nxm_4x1",
    "snip_2:4",
];

/// Patterns whose built-in kernels have a SIMD path (src/arch/mod.rs):
/// N:M groups of 2 to 32 (`nm_scores`; groups of four on their own
/// kernel), `1x4` blocks (`quad_block_scores`) and Nx1 blocks of any height
/// (`column_scores`; `1x1` is one; halves up to 64 rows).
pub const SIMD_PATTERNS: &[&str] = &[
    "1:4",
    "2:4",
    "3:4",
    "1:2",
    "4:8",
    "3:8",
    "5:16",
    "16:32",
    "1x4",
    "1x1",
    "2x1",
    "4x1",
    "8x1",
    "16x1",
    "channelx1",
    "24x1",
];

/// Flat OIHW (or row-major) index of view element `(r, c)`, written out.
pub fn flat(shape: Shape, r: usize, c: usize) -> usize {
    match shape {
        Shape::Matrix { cols, .. } => r * cols + c,
        Shape::InOut { outputs, .. } => c * outputs + r,
        Shape::Conv {
            i: ci,
            h: ch,
            w: cw,
            ..
        } => {
            let (i, hw) = (c % ci, c / ci);
            let (h, w) = (hw / cw, hw % cw);
            r * ci * ch * cw + i * ch * cw + h * cw + w
        }
    }
}

/// Largest layer, in elements.
pub const MAX_ELEMENTS: usize = 1024;

/// True with probability `a / b`; false once the input is exhausted
/// (unlike `Unstructured::ratio`, which then says true).
pub fn chance(u: &mut Unstructured<'_>, a: u8, b: u8) -> Result<bool> {
    Ok(u.int_in_range(0..=b - 1)? >= b - a)
}

pub fn dim(u: &mut Unstructured<'_>) -> Result<usize> {
    Ok(if chance(u, 1, 2)? {
        u.int_in_range(1..=24)?
    } else {
        *u.choose(&[1usize, 2, 3, 4, 6, 8, 12, 16, 24, 2, 4, 8])?
    })
}

pub fn small_dim(u: &mut Unstructured<'_>) -> Result<usize> {
    Ok(if chance(u, 3, 4)? {
        u.int_in_range(1..=3)?
    } else {
        dim(u)?
    })
}

pub fn shape(u: &mut Unstructured<'_>) -> Result<Shape> {
    let mut d = if chance(u, 1, 3)? {
        vec![dim(u)?, dim(u)?, small_dim(u)?, small_dim(u)?]
    } else {
        vec![dim(u)?, dim(u)?]
    };
    // Keep executions fast: halve the largest dimension until small enough.
    while d.iter().product::<usize>() > MAX_ELEMENTS {
        let j = (0..d.len()).max_by_key(|&j| d[j]).unwrap();
        d[j] = d[j].div_ceil(2);
    }
    Ok(Shape::from_dims(&d).unwrap())
}

/// Largest layer [`simd_shape`] makes, in elements: room for more than one
/// 256-unit tile in a row.
pub const MAX_SIMD_ELEMENTS: usize = 2048;

/// Row widths (in units: N:M groups or block columns) around the SIMD
/// vector widths (4, 8, 16 lanes) and the 256-unit tile.
const SIMD_WIDTHS: &[usize] = &[
    1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 24, 31, 32, 33, 47, 63, 64, 65, 100, 255, 256, 257,
    300,
];

/// A shape with a contiguous view (a matrix, or a conv with 1x1 kernels)
/// that `g` fits, as the SIMD kernels need: block rows a multiple of the
/// block height (up to 16 rows for `channel`), N:M rows a whole number of
/// groups. Widths are often not multiples of the vector width.
pub fn simd_shape(u: &mut Unstructured<'_>, g: Geometry) -> Result<Shape> {
    // `channel` rows: one block of 1-17 rows.
    let (unit_rows, unit_cols, stack) = match g {
        Geometry::Block { n, m } => {
            let m = match m {
                Extent::Fixed(m) => m,
                Extent::Channel => 1,
            };
            match n {
                Extent::Fixed(n) => (n, m, true),
                Extent::Channel => (u.int_in_range(1..=17)?, m, false),
            }
        }
        Geometry::NInM { m, .. } => (1, m, true),
    };
    let width = if chance(u, 1, 2)? {
        *u.choose(SIMD_WIDTHS)?
    } else {
        u.int_in_range(1..=80)?
    };
    let max_cols = (MAX_SIMD_ELEMENTS / unit_rows).max(unit_cols);
    let cols = (width * unit_cols).min(max_cols / unit_cols * unit_cols);
    let max_stack = (MAX_SIMD_ELEMENTS / (unit_rows * cols)).clamp(1, 8);
    let rows = if stack {
        unit_rows * u.int_in_range(1..=max_stack)?
    } else {
        unit_rows
    };
    Ok(if chance(u, 1, 4)? {
        Shape::conv(rows, cols, 1, 1)
    } else {
        Shape::matrix(rows, cols)
    })
}

/// A pattern drawn for a run, and the layer shapes to go with it.
#[derive(Debug, Clone, Copy)]
pub struct Draw {
    pub pattern: &'static str,
    pub geometry: Geometry,
    /// Drawn from [`SIMD_PATTERNS`]: shapes are then mostly [`simd_shape`]s.
    pub simd: bool,
}

impl Draw {
    /// A pattern from [`SIMD_PATTERNS`] with probability `a / b`, else
    /// from [`PATTERNS`].
    pub fn new(u: &mut Unstructured<'_>, a: u8, b: u8) -> Result<Self> {
        let simd = chance(u, a, b)?;
        let pattern = *u.choose(if simd { SIMD_PATTERNS } else { PATTERNS })?;
        Ok(Draw {
            pattern,
            geometry: Pattern::parse(pattern).unwrap().geometry(),
            simd,
        })
    }

    /// A layer shape: for a SIMD pattern mostly one its kernels take.
    pub fn shape(&self, u: &mut Unstructured<'_>) -> Result<Shape> {
        if self.simd && chance(u, 3, 4)? {
            simd_shape(u, self.geometry)
        } else {
            shape(u)
        }
    }
}

/// Grid of units by SEMANTICS sections 2, 3, 6 and 7, from the shape alone.
#[derive(Debug, Clone, Copy)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub unit_rows: usize,
    pub unit_cols: usize,
}

/// (rows, cols, input channels I or cols) of the 2-D view.
pub fn view_dims(shape: Shape) -> (usize, usize, usize) {
    match shape {
        Shape::Matrix { rows, cols } => (rows, cols, cols),
        Shape::InOut { inputs, outputs } => (outputs, inputs, inputs),
        Shape::Conv { o, i, h, w } => (o, h * w * i, i),
    }
}

pub fn grid(shape: Shape, g: Geometry, compat: Compat) -> core::result::Result<Grid, SkipReason> {
    let (rows, cols, inner) = view_dims(shape);
    let resolve = |e: Extent, d: usize| match e {
        Extent::Fixed(n) => n,
        Extent::Channel => d,
    };
    let (ur, uc) = match g {
        Geometry::Block { n, m } => {
            let channel_cols = if compat == Compat::Inc20 { inner } else { cols };
            (resolve(n, rows), resolve(m, channel_cols))
        }
        Geometry::NInM { m, .. } => {
            if inner % m != 0 {
                return Err(SkipReason::Cols {
                    cols: inner,
                    block: m,
                });
            }
            (1, m)
        }
    };
    if rows % ur != 0 {
        return Err(SkipReason::Rows { rows, block: ur });
    }
    if cols % uc != 0 {
        return Err(SkipReason::Cols { cols, block: uc });
    }
    Ok(Grid {
        rows: rows / ur,
        cols: cols / uc,
        unit_rows: ur,
        unit_cols: uc,
    })
}

/// Mask buffers filled with `sentinel`, one a layer of `lens`, with layer
/// `j`'s one element longer (`true`) or shorter (`false`) if `off` says so.
pub fn mask_buffers(
    lens: impl Iterator<Item = usize>,
    off: Option<(usize, bool)>,
    sentinel: u8,
) -> Vec<Vec<u8>> {
    lens.enumerate()
        .map(|(i, len)| {
            let len = match off {
                Some((j, true)) if j == i => len + 1,
                Some((j, false)) if j == i => len - 1,
                _ => len,
            };
            vec![sentinel; len]
        })
        .collect()
}
