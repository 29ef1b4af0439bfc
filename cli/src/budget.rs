//! Layer budgets: each layer's own target sparsity, from `--layer-sparsity
//! FILE` (a JSON object from tensor names to targets) or from OWL (`--owl
//! M,LAMBDA`, Yin et al., 2024), given to the library as
//! `Layer::target_sparsity` (local and row scope).

use std::collections::HashMap;
use std::path::Path;

use prunemask::{Criterion, Layer, Level, Pruner};

use crate::args::Owl;
use crate::checkpoint::Checkpoint;

/// The targets `--layer-sparsity FILE` gives, per layer (`None`: the run's
/// `--sparsity`). Every name must be a tensor the run prunes.
pub fn from_file(
    path: &Path,
    ckpt: &Checkpoint,
    layer_ids: &[usize],
) -> Result<Vec<Option<f64>>, String> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("--layer-sparsity {shown}: {e}"))?;
    let Entries(entries) = serde_json::from_str(&text).map_err(|e| {
        format!("--layer-sparsity {shown}: not a JSON object from tensor names to targets: {e}")
    })?;
    if entries.is_empty() {
        return Err(format!(
            "--layer-sparsity {shown}: names no tensor (an object from tensor names to targets)"
        ));
    }
    // A name given twice is a mistake JSON maps would hide (the last wins).
    let mut map: HashMap<String, serde_json::Value> = HashMap::new();
    for (name, value) in entries {
        if map.insert(name.clone(), value).is_some() {
            return Err(format!("--layer-sparsity {shown}: `{name}` is given twice"));
        }
    }
    let mut layer_of: HashMap<&str, usize> = HashMap::new();
    for (l, &t) in layer_ids.iter().enumerate() {
        layer_of.insert(&ckpt.tensors[t].name, l);
    }
    let mut targets = vec![None; layer_ids.len()];
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    for name in names {
        let at = |what: &str| format!("--layer-sparsity {shown}: `{name}`: {what}");
        let Some(&l) = layer_of.get(name.as_str()) else {
            let known = ckpt.tensors.iter().any(|t| &t.name == name);
            return Err(at(if known {
                "is not a tensor this run prunes (kept dense by --include/--exclude or the defaults)"
            } else {
                "no tensor of that name in the checkpoint"
            }));
        };
        let value = &map[name];
        match value.as_f64() {
            Some(v) if (0.0..=1.0).contains(&v) => targets[l] = Some(v),
            _ => return Err(at(&format!("target {value} is not a number in [0, 1]"))),
        }
    }
    Ok(targets)
}

/// A JSON object's entries in file order, duplicates kept.
struct Entries(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object from tensor names to targets")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = m.next_entry()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The block a layer belongs to for OWL: its name up to and including the
/// first component that is a number (`model.layers.7.mlp.up_proj.weight`
/// is in `model.layers.7`); `None` for a name without one (a pooler, a
/// head), which is in no block.
pub fn block_of(name: &str) -> Option<&str> {
    let mut end = 0;
    for part in name.split('.') {
        end += part.len();
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            return Some(&name[..end]);
        }
        end += 1;
    }
    None
}

/// One OWL block: its name, its layers, its outlier ratio and target.
#[derive(Debug)]
pub struct Block {
    pub name: String,
    pub layers: Vec<usize>,
    pub outlier_ratio: f64,
    pub target: f64,
}

/// OWL's targets, per block: layers are grouped into the network's
/// numbered blocks ([`block_of`]; OWL spreads targets over a decoder's
/// layers, which are alike in size, so the mean target over blocks is the
/// target over their weights; a layer in no block keeps `target`), each
/// block's outlier ratio is its share of scores (the
/// run's criterion) above `m` times the block's mean, and
/// `prunemask::owl_targets` spreads the targets around `target`. Blocks
/// are scored on up to `threads` threads. Errors name the layer.
pub fn owl(
    layers: &[Layer<'_>],
    names: &[&str],
    criterion: Criterion,
    owl: Owl,
    target: f64,
    level: Level,
    threads: usize,
) -> Result<Vec<Block>, String> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (l, name) in names.iter().enumerate() {
        let Some(key) = block_of(name) else { continue };
        let b = *index.entry(key).or_insert_with(|| {
            blocks.push(Block {
                name: key.to_string(),
                layers: Vec::new(),
                outlier_ratio: 0.0,
                target,
            });
            blocks.len() - 1
        });
        blocks[b].layers.push(l);
    }
    if blocks.is_empty() {
        return Err(format!(
            "--owl: no tensor to prune is in a numbered block (names such as \
             `model.layers.7.mlp.up_proj.weight`), e.g. `{}`: OWL spreads targets over a \
             network's blocks",
            names.first().copied().unwrap_or("")
        ));
    }
    let ratio = |b: &Block| -> Result<f64, String> {
        let group: Vec<Layer<'_>> = b.layers.iter().map(|&l| layers[l]).collect();
        let outliers = Pruner::new()
            .level(level)
            .outliers(&group, criterion, owl.m)
            .map_err(|e| match e.layer() {
                Some(i) => format!("--owl: `{}`: {}", names[b.layers[i]], e.kind()),
                None => format!("--owl {},{}: {e}", owl.m, owl.lambda),
            })?;
        Ok(outliers.ratio())
    };
    // Contiguous runs of blocks, one per thread (a network's blocks are
    // alike in size).
    let mut ratios = vec![Ok(0.0); blocks.len()];
    let per = blocks.len().div_ceil(threads.max(1)).max(1);
    let ratio = &ratio;
    std::thread::scope(|s| {
        for (run, out) in blocks.chunks(per).zip(ratios.chunks_mut(per)) {
            s.spawn(move || {
                for (block, out) in run.iter().zip(out) {
                    *out = ratio(block);
                }
            });
        }
    });
    let ratios = ratios.into_iter().collect::<Result<Vec<f64>, String>>()?;
    let mut targets = vec![0.0; blocks.len()];
    prunemask::owl_targets(&ratios, target, owl.lambda, &mut targets)
        .map_err(|e| format!("--owl {},{}: {e}", owl.m, owl.lambda))?;
    for ((block, ratio), target) in blocks.iter_mut().zip(ratios).zip(targets) {
        block.outlier_ratio = ratio;
        block.target = target;
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::block_of;

    #[test]
    fn blocks_end_at_the_first_number() {
        let cases = [
            ("model.layers.7.mlp.up_proj.weight", Some("model.layers.7")),
            (
                "encoder.layer.11.attention.self.query.weight",
                Some("encoder.layer.11"),
            ),
            (
                "transformer.h.0.attn.c_attn.weight",
                Some("transformer.h.0"),
            ),
            ("layers.10", Some("layers.10")),
            ("a..3.b", Some("a..3")),
            ("pooler.dense.weight", None),
            ("conv2d1.weight", None),
            ("", None),
        ];
        for (name, block) in cases {
            assert_eq!(block_of(name), block, "{name}");
        }
    }
}
