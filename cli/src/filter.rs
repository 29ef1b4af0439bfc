//! Which tensors are pruned, and how each is laid out.
//!
//! The default targets are the field's (llm-compressor targets `Linear`
//! layers and ignores `lm_head`; NVIDIA ASP prunes Linear and Conv
//! weights): the 2-D and conv weights of the network body. Kept dense by
//! default, each with its reason in the report:
//!
//! - embeddings (token, position, type): a module name containing `embed`,
//!   or `wte`, `wpe`, `shared`;
//! - the output head: `lm_head`, `embed_out`, BERT's `predictions.decoder`;
//! - norms (a module name containing `norm`, or `ln`, `ln_1`, `ln_f`, ...)
//!   and biases (a name ending in `bias`, which also covers GPT-2's
//!   attention-mask buffers `attn.bias` and `attn.masked_bias`);
//! - tensors of rank 1 or above 5, and rank-3/5 tensors whose name does not
//!   end in `weight` (a conv1d `[O, I, K]` or conv3d `[O, I, D, H, W]`
//!   weight does; stacked expert tensors such as `experts.gate_up_proj` do
//!   not);
//! - dtypes other than f32, f16 and bf16.
//!
//! `--exclude` keeps a tensor dense whatever it is; `--include` restricts
//! pruning to the names it matches and, for those, lifts the default
//! rules (so `--include 'lm_head'` prunes the head).
//!
//! Layout: a matrix is `[out, in]` unless it is stored `[in, out]`: the
//! `Conv1D` weights ([`CONV1D_MODULES`]) of a model whose `config.json`
//! `model_type` is of the GPT-2 family ([`IN_OUT_MODEL_TYPES`]), or the
//! matrices `--transposed` matches (which replaces the guess from the
//! config).

use regex::Regex;

use crate::args::TargetArgs;
use crate::checkpoint::{Checkpoint, Tensor};

/// `model_type`s whose linear weights are transformers' `Conv1D`, stored
/// `[in_features, out_features]` (transformers 4.x/5.x: GPT-2, OpenAI GPT,
/// ImageGPT, Decision Transformer). Other models that mix `Conv1D` with
/// `Linear` (CLVP) need `--transposed`.
pub const IN_OUT_MODEL_TYPES: [&str; 4] =
    ["gpt2", "openai-gpt", "imagegpt", "decision_transformer"];

/// The module names of those models' `Conv1D` layers; their other matrices
/// (a classification head's `score`, Decision Transformer's `predict_*`)
/// are `nn.Linear`, stored `[out, in]`.
pub const CONV1D_MODULES: [&str; 4] = [".c_attn.", ".c_fc.", ".c_proj.", ".q_attn."];

/// Whether a tensor name is that of a `Conv1D` weight of the GPT-2 family.
pub fn conv1d_named(name: &str) -> bool {
    CONV1D_MODULES.iter().any(|m| name.contains(m))
}

/// What a tensor kept dense by default is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    Embedding,
    Head,
    Norm,
    Bias,
}

/// What the report says under its table when a tensor is dense by default.
pub const DEFAULT_NOTE: &str = "dense by default: embeddings, output heads, norms and biases \
                                (--include REGEX prunes the tensors it names)";

/// Why a tensor is kept dense.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dense {
    /// Its name matches `--exclude`.
    Excluded,
    /// `--include` is given and its name does not match.
    NotIncluded,
    /// Kept dense by default (unless `--include` names it).
    Default(Part),
    /// Not f32, f16 or bf16 (only when `--include` does not name it).
    NotFloat,
    /// Not a matrix or a conv weight.
    Rank,
    /// A zero dimension.
    Empty,
}

impl Dense {
    pub fn reason(self, tensor: &Tensor) -> String {
        let default = "dense by default";
        match self {
            Dense::Excluded => "excluded by --exclude".into(),
            Dense::NotIncluded => "not matched by --include".into(),
            Dense::Default(Part::Embedding) => format!("embedding, {default}"),
            Dense::Default(Part::Head) => format!("output head, {default}"),
            Dense::Default(Part::Norm) => format!("norm, {default}"),
            Dense::Default(Part::Bias) => format!("bias, {default}"),
            Dense::NotFloat => format!("dtype {}", tensor.dtype),
            Dense::Rank => match tensor.dims.len() {
                3 | 5 => format!("rank {} and not named `*weight`", tensor.dims.len()),
                rank => format!("rank {rank}"),
            },
            Dense::Empty => "no elements".into(),
        }
    }
}

/// The name filters and the layout rule.
pub struct Filter {
    include: Option<Regex>,
    exclude: Option<Regex>,
    transposed: Option<Regex>,
}

impl Filter {
    pub fn from_args(args: &TargetArgs) -> Result<Filter, String> {
        Filter::new(
            args.include.as_deref(),
            args.exclude.as_deref(),
            args.transposed.as_deref(),
        )
    }

    pub fn new(
        include: Option<&str>,
        exclude: Option<&str>,
        transposed: Option<&str>,
    ) -> Result<Filter, String> {
        let compile = |flag: &str, re: Option<&str>| {
            re.map(Regex::new)
                .transpose()
                .map_err(|e| format!("{flag}: {}", e.to_string().replace('\n', " ")))
        };
        Ok(Filter {
            include: compile("--include", include)?,
            exclude: compile("--exclude", exclude)?,
            transposed: compile("--transposed", transposed)?,
        })
    }

    /// What happens to a tensor: `Ok(None)` to prune it, `Ok(Some(why))` to
    /// keep it dense. A tensor that `--include` names explicitly but that is
    /// not float is an error: the pattern cannot apply to it. (Tensors of
    /// another rank, such as norms under a broad `--include`, are kept dense.)
    pub fn role(&self, tensor: &Tensor) -> Result<Option<Dense>, String> {
        let name = tensor.name.as_str();
        if self.exclude.as_ref().is_some_and(|re| re.is_match(name)) {
            return Ok(Some(Dense::Excluded));
        }
        let included = match &self.include {
            Some(re) if !re.is_match(name) => return Ok(Some(Dense::NotIncluded)),
            Some(_) => true,
            None => false,
        };
        if !tensor.is_float() {
            if included {
                return Err(format!(
                    "is {}, not f32/f16/bf16, but --include selects it",
                    tensor.dtype
                ));
            }
            return Ok(Some(Dense::NotFloat));
        }
        if !included {
            if let Some(part) = default_dense(name) {
                return Ok(Some(Dense::Default(part)));
            }
        }
        let conv_named = name.ends_with("weight");
        match tensor.dims.len() {
            2 | 4 => {}
            3 | 5 if conv_named => {}
            _ => return Ok(Some(Dense::Rank)),
        }
        if tensor.elements() == 0 {
            return Ok(Some(Dense::Empty));
        }
        Ok(None)
    }

    /// Whether a tensor to prune is stored `[in, out]`: `--transposed`
    /// matches it, or (without `--transposed`) it is a `Conv1D` weight of
    /// a model of the GPT-2 family. `--transposed` matching a tensor that is not a
    /// matrix is an error.
    pub fn in_out(&self, tensor: &Tensor, model_type: Option<&str>) -> Result<bool, String> {
        let matrix = tensor.dims.len() == 2;
        match &self.transposed {
            Some(re) if re.is_match(&tensor.name) => {
                if !matrix {
                    return Err(format!(
                        "--transposed matches it, but it has rank {}: only a matrix is stored \
                         [in, out]",
                        tensor.dims.len()
                    ));
                }
                Ok(true)
            }
            Some(_) => Ok(false),
            None => Ok(matrix
                && conv1d_named(&tensor.name)
                && model_type.is_some_and(|m| IN_OUT_MODEL_TYPES.contains(&m))),
        }
    }

    /// Decides every tensor of `ckpt`: its role (`None` to prune) and, for
    /// tensors to prune, its layout ([`Tensor::in_out`]). Returns the roles
    /// and the tensors to prune, in file order.
    pub fn apply(&self, ckpt: &mut Checkpoint) -> Result<(Vec<Option<Dense>>, Vec<usize>), String> {
        let mut roles = Vec::with_capacity(ckpt.tensors.len());
        let mut targets = Vec::new();
        for t in 0..ckpt.tensors.len() {
            let at = |e: String| format!("{}: {e}", ckpt.locate(t));
            let role = self.role(&ckpt.tensors[t]).map_err(at)?;
            if role.is_none() {
                let in_out =
                    (self.in_out(&ckpt.tensors[t], ckpt.model_type.as_deref())).map_err(at)?;
                ckpt.tensors[t].in_out = in_out;
                targets.push(t);
            }
            roles.push(role);
        }
        Ok((roles, targets))
    }
}

/// The part of the network a tensor name says it is, when that part is
/// kept dense by default; see the module docs for the rules.
fn default_dense(name: &str) -> Option<Part> {
    let parts: Vec<&str> = name.split('.').collect();
    let last = parts.last().copied().unwrap_or_default();
    if last.ends_with("bias") {
        return Some(Part::Bias);
    }
    if name.contains("predictions.decoder") {
        return Some(Part::Head);
    }
    // The module path, innermost first: `embeddings.LayerNorm` is a norm.
    let module = &parts[..parts.len().saturating_sub(1)];
    module.iter().rev().find_map(|m| {
        let m = m.to_ascii_lowercase();
        if m == "lm_head" || m == "embed_out" {
            Some(Part::Head)
        } else if m.contains("embed") || m == "wte" || m == "wpe" || m == "shared" {
            Some(Part::Embedding)
        } else if m.contains("norm") || m == "ln" || m.starts_with("ln_") {
            Some(Part::Norm)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_dense_names() {
        let cases = [
            ("embeddings.word_embeddings.weight", Some(Part::Embedding)),
            (
                "embeddings.position_embeddings.weight",
                Some(Part::Embedding),
            ),
            (
                "embeddings.token_type_embeddings.weight",
                Some(Part::Embedding),
            ),
            ("model.embed_tokens.weight", Some(Part::Embedding)),
            ("transformer.wte.weight", Some(Part::Embedding)),
            ("wpe.weight", Some(Part::Embedding)),
            ("shared.weight", Some(Part::Embedding)),
            ("lm_head.weight", Some(Part::Head)),
            ("gpt_neox.embed_out.weight", Some(Part::Head)),
            ("cls.predictions.decoder.weight", Some(Part::Head)),
            ("embeddings.LayerNorm.weight", Some(Part::Norm)),
            ("encoder.layer.0.output.LayerNorm.weight", Some(Part::Norm)),
            ("model.layers.0.input_layernorm.weight", Some(Part::Norm)),
            ("h.0.ln_1.weight", Some(Part::Norm)),
            ("transformer.ln_f.weight", Some(Part::Norm)),
            ("h.0.attn.bias", Some(Part::Bias)),
            ("h.0.attn.masked_bias", Some(Part::Bias)),
            (
                "encoder.layer.0.attention.self.query.bias",
                Some(Part::Bias),
            ),
            ("encoder.layer.0.attention.self.query.weight", None),
            ("h.0.mlp.c_fc.weight", None),
            ("model.layers.0.mlp.down_proj.weight", None),
            ("pooler.dense.weight", None),
            ("encoder.conv.weight", None),
            ("lnx.weight", None),
        ];
        for (name, part) in cases {
            assert_eq!(default_dense(name), part, "{name}");
        }
    }
}
