//! Code shared by the fuzz targets.

use half::{bf16, f16};
use prunemask::{Scores, Shape};

/// One layer's scores in their own dtype.
#[derive(Debug)]
pub enum Data {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

impl Data {
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
    "15:16",
    "1:24",
    "12:24",
    "nxm_4x1",
    "snip_2:4",
];

/// Flat OIHW (or row-major) index of view element `(r, c)`, written out.
pub fn flat(shape: Shape, r: usize, c: usize) -> usize {
    match shape {
        Shape::Matrix { cols, .. } => r * cols + c,
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
