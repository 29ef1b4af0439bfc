//! aarch64: NEON through pulp's token.

pub(crate) mod neon;
