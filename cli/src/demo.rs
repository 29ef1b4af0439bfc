//! The model pruned when no file is given: BERT-base-shaped (12 layers of q,
//! k, v, o 768x768, intermediate 3072x768, output 768x3072; 85M f32), made
//! in memory as the bytes of a safetensors file, so it goes through the same
//! path as a real checkpoint.

use safetensors::Dtype;

use crate::checkpoint::Checkpoint;
use prunemask_cli::format;

/// A deterministic BERT-base-shaped model: magnitudes like a trained
/// checkpoint's (roughly normal, per-layer scale), from a fixed-seed PRNG.
pub fn bert_base() -> Result<Checkpoint, String> {
    const SHAPES: [(&str, usize, usize); 6] = [
        ("attention.self.query", 768, 768),
        ("attention.self.key", 768, 768),
        ("attention.self.value", 768, 768),
        ("attention.output.dense", 768, 768),
        ("intermediate.dense", 3072, 768),
        ("output.dense", 768, 3072),
    ];
    let tensors: Vec<(String, [usize; 2])> = (0..12)
        .flat_map(|layer| {
            SHAPES.iter().map(move |(name, rows, cols)| {
                (
                    format!("encoder.layer.{layer}.{name}.weight"),
                    [*rows, *cols],
                )
            })
        })
        .collect();
    let layout = format::layout(
        tensors
            .iter()
            .map(|(name, dims)| (name.as_str(), Dtype::F32, &dims[..])),
    );
    let mut bytes = format::header(layout, None)?;
    let elements: usize = tensors.iter().map(|(_, [r, c])| r * c).sum();
    bytes.reserve_exact(elements * 4);
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // splitmix64
        rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    for (i, (_, [rows, cols])) in tensors.iter().enumerate() {
        let scale = 0.02 * (1.0 + 0.1 * (i % 7) as f32);
        for _ in 0..rows * cols {
            // Sum of four uniforms: close to normal, cheap, exact to reproduce.
            let r = next();
            let u = |s: u32| ((r >> s) & 0xffff) as f32 / 65536.0;
            let w = (u(0) + u(16) + u(32) + u(48) - 2.0) * scale;
            bytes.extend_from_slice(&w.to_le_bytes());
        }
    }
    Checkpoint::from_bytes("bert-base (in memory)", bytes)
}
