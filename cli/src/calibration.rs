//! `--activations FILE`: Wanda's per-input-feature statistics (Sun et al.,
//! 2023), read from a safetensors file.
//!
//! The format: for each weight to prune, a rank-1 tensor under the
//! weight's own name holding `‖X_j‖₂`, the L2 norm of input feature `j`
//! over the calibration tokens, one value per input feature (`in_features`
//! of a Linear, `I` of a conv weight, dimension 0 of a GPT-2 `Conv1D`).
//! f32 is what `scripts/activation_stats.py` writes; f16, bf16 and f64 are
//! read too (converted to f32). Tensors the run does not prune are ignored,
//! so one file serves every `--include`/`--exclude`.

use std::path::Path;

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use crate::checkpoint::Checkpoint;

/// The statistics of every layer, in layer order.
pub struct Activations {
    /// `scales[l]`: layer `l`'s input scale.
    pub scales: Vec<Vec<f32>>,
}

impl Activations {
    /// Reads the statistics of the layers `layer_ids` (tensor indices of
    /// `ckpt`). Errors name the file and the tensor: no statistics for a
    /// target, a tensor that is not a vector of floats, a length other than
    /// the target's input features, a value that is negative or not finite.
    pub fn read(path: &Path, ckpt: &Checkpoint, layer_ids: &[usize]) -> Result<Self, String> {
        let shown = path.display();
        let bytes = std::fs::read(path).map_err(|e| format!("--activations {shown}: {e}"))?;
        let file = SafeTensors::deserialize(&bytes)
            .map_err(|e| format!("--activations {shown}: not a safetensors file: {e}"))?;
        let missing: Vec<usize> = (layer_ids.iter().copied())
            .filter(|&t| file.tensor(&ckpt.tensors[t].name).is_err())
            .collect();
        if let Some(&first) = missing.first() {
            let mut held = file.names();
            held.sort();
            let example = held
                .first()
                .map_or("none".to_string(), |n| format!("e.g. `{n}`"));
            let (count, of) = (missing.len(), layer_ids.len());
            let which = if count == of {
                format!(
                    "none of the {of} weights to prune, as `{}`",
                    ckpt.tensors[first].name
                )
            } else {
                format!(
                    "`{}` and {} more of the {of} weights to prune",
                    ckpt.tensors[first].name,
                    count - 1
                )
            };
            return Err(format!(
                "--activations {shown} has no statistics for {which} ({}; the file holds {} \
                 tensors, {example}): collect them for this model (scripts/activation_stats.py), \
                 or --exclude the weights without them",
                ckpt.locate(first),
                held.len()
            ));
        }
        let mut scales = Vec::with_capacity(layer_ids.len());
        for &t in layer_ids {
            let name = &ckpt.tensors[t].name;
            let at = |what: String| format!("--activations {shown}: tensor `{name}`: {what}");
            let view = file.tensor(name).map_err(|e| at(e.to_string()))?;
            let inputs = (ckpt.tensors[t].shape())
                .and_then(|s| s.view().ok())
                .map(|v| v.inner());
            let values = floats(view.dtype(), view.data()).ok_or_else(|| {
                at(format!(
                    "dtype {}, expected a float vector (F32; F16, BF16, F64 are read too)",
                    view.dtype()
                ))
            })?;
            if view.shape().len() != 1 {
                return Err(at(format!(
                    "shape {:?}, expected a vector (one value per input feature)",
                    view.shape()
                )));
            }
            if let Some(inputs) = inputs.filter(|&n| n != values.len()) {
                return Err(at(format!(
                    "{} values, but the weight ({}, shape {:?}, layout {}) has {inputs} input \
                     features (statistics of another model?)",
                    values.len(),
                    ckpt.locate(t),
                    ckpt.tensors[t].dims,
                    ckpt.tensors[t].layout()
                )));
            }
            if let Some((j, v)) =
                (values.iter().enumerate()).find(|(_, v)| !(v.is_finite() && **v >= 0.0))
            {
                return Err(at(format!(
                    "input feature {j} has {v}; a norm is finite and >= 0"
                )));
            }
            scales.push(values);
        }
        Ok(Activations { scales })
    }
}

/// Little-endian floats as f32; `None` for a dtype that is not a float.
fn floats(dtype: Dtype, data: &[u8]) -> Option<Vec<f32>> {
    fn each<const N: usize>(data: &[u8], f: impl Fn([u8; N]) -> f32) -> Vec<f32> {
        (data.chunks_exact(N))
            .map(|c| f(c.try_into().expect("chunks of N")))
            .collect()
    }
    Some(match dtype {
        Dtype::F32 => each(data, f32::from_le_bytes),
        Dtype::F64 => each(data, |b| f64::from_le_bytes(b) as f32),
        Dtype::F16 => each(data, |b| f16::from_le_bytes(b).to_f32()),
        Dtype::BF16 => each(data, |b| bf16::from_le_bytes(b).to_f32()),
        _ => return None,
    })
}
