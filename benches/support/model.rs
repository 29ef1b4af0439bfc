//! Deterministic models for the benchmarks and the report: layers of
//! pseudo-random weights of about the scale of a trained checkpoint's.

use prunemask::{ErrorKind, Layer, Options, Pruner};

/// BERT-base's 72 weight matrices (85M weights).
pub fn bert_base_shapes() -> Vec<(usize, usize)> {
    let block = [
        (768, 768),
        (768, 768),
        (768, 768),
        (768, 768),
        (3072, 768),
        (768, 3072),
    ];
    (0..12).flat_map(|_| block).collect()
}

/// `layers` matrices of `rows x cols`.
pub fn uniform_shapes(layers: usize, rows: usize, cols: usize) -> Vec<(usize, usize)> {
    vec![(rows, cols); layers]
}

/// Weights for the shapes: xorshift64, uniform in (-0.025, 0.025).
pub fn weights(shapes: &[(usize, usize)]) -> Vec<Vec<f32>> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    shapes
        .iter()
        .map(|&(r, c)| {
            (0..r * c)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.05
                })
                .collect()
        })
        .collect()
}

/// The units a layer has under the options (0 if the pattern skips it).
pub fn units(layer: &Layer<'_>, opts: &Options) -> usize {
    match Pruner::new().unit_scores(layer, opts, &mut []) {
        Ok(n) => n,
        Err(e) => match e.kind() {
            ErrorKind::OutputLength { expected, .. } => *expected,
            _ => 0,
        },
    }
}

/// Zeroes about half the weights (by position, so every dtype of one model
/// gets the same zeros): a pruned checkpoint for the pattern lock.
pub fn zero_half<T: Copy + Default>(data: &mut [Vec<T>]) {
    for (l, d) in data.iter_mut().enumerate() {
        for (i, x) in d.iter_mut().enumerate() {
            let h = ((l << 40 | i) as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            if h >> 63 == 1 {
                *x = T::default();
            }
        }
    }
}
