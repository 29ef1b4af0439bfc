//! x86-64: AVX2 (`V3`) and AVX-512 (`V4`) through pulp's tokens.

pub(crate) mod avx2;
pub(crate) mod avx512;
