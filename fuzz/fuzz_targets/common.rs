//! Code shared by the fuzz targets.

use half::{bf16, f16};
use prunemask::Scores;

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
