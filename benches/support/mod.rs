//! What the benchmarks share: deterministic models ([`model`]) and the plain
//! streams the kernels are measured against ([`stream`]).

// Each benchmark uses part of it.
#![allow(dead_code)]

pub mod model;
pub mod stream;
