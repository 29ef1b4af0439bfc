//! `make_checkpoint`: a synthetic sharded bf16 checkpoint of a chosen size,
//! Llama-shaped (hidden 4096, 32 query and 8 key/value heads, MLP 14336,
//! vocabulary 32000), for `cli/benches/big_checkpoint.sh`.
//!
//! Weights are deterministic pseudo-random values (a triangular
//! distribution, a scale per tensor), generated and written a few MiB at a
//! time: the checkpoint is never held in memory, so it can be larger than
//! RAM. Shards are filled in tensor order up to `--shard-gb`, named
//! `model-0000N-of-0000M.safetensors`, with `model.safetensors.index.json`.
//!
//! ```text
//! cargo run --release -p prunemask-cli --example make_checkpoint -- /big/ckpt --gb 30
//! ```

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use half::bf16;
use prunemask_cli::format::{self, Index};
use safetensors::Dtype;

#[derive(Parser)]
#[command(about = "Writes a synthetic sharded bf16 checkpoint (Llama-shaped) of about --gb GB")]
struct Cli {
    /// Directory to create.
    out: PathBuf,
    /// Total size in GB (10^9 bytes); decoder layers are added to reach it.
    #[arg(long, default_value_t = 4.0)]
    gb: f64,
    /// Largest shard, in GB.
    #[arg(long, default_value_t = 2.0)]
    shard_gb: f64,
}

const HIDDEN: usize = 4096;
const KV: usize = 1024;
const MLP: usize = 14336;
const VOCAB: usize = 32000;

/// The tensors of a model with `layers` decoder layers, in file order.
fn tensors(layers: usize) -> Vec<(String, Vec<usize>)> {
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![VOCAB, HIDDEN])];
    for l in 0..layers {
        let p = format!("model.layers.{l}");
        for (name, dims) in [
            ("self_attn.q_proj.weight", vec![HIDDEN, HIDDEN]),
            ("self_attn.k_proj.weight", vec![KV, HIDDEN]),
            ("self_attn.v_proj.weight", vec![KV, HIDDEN]),
            ("self_attn.o_proj.weight", vec![HIDDEN, HIDDEN]),
            ("mlp.gate_proj.weight", vec![MLP, HIDDEN]),
            ("mlp.up_proj.weight", vec![MLP, HIDDEN]),
            ("mlp.down_proj.weight", vec![HIDDEN, MLP]),
            ("input_layernorm.weight", vec![HIDDEN]),
            ("post_attention_layernorm.weight", vec![HIDDEN]),
        ] {
            out.push((format!("{p}.{name}"), dims));
        }
    }
    out.push(("model.norm.weight".to_string(), vec![HIDDEN]));
    out.push(("lm_head.weight".to_string(), vec![VOCAB, HIDDEN]));
    out
}

fn bytes(dims: &[usize]) -> u64 {
    dims.iter().product::<usize>() as u64 * 2
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match make(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn make(cli: &Cli) -> Result<(), String> {
    let per_layer: u64 = tensors(1).iter().map(|(_, d)| bytes(d)).sum::<u64>()
        - tensors(0).iter().map(|(_, d)| bytes(d)).sum::<u64>();
    let fixed: u64 = tensors(0).iter().map(|(_, d)| bytes(d)).sum();
    let wanted = (cli.gb * 1e9) as u64;
    let layers = (wanted.saturating_sub(fixed) as f64 / per_layer as f64)
        .round()
        .max(1.0) as usize;
    let all = tensors(layers);

    // Shards: tensors in order, a new shard when the next would overflow.
    let limit = (cli.shard_gb * 1e9) as u64;
    let mut shards: Vec<Vec<usize>> = vec![Vec::new()];
    let mut size = 0;
    for (i, (_, dims)) in all.iter().enumerate() {
        let last = shards.last_mut().expect("one shard");
        if !last.is_empty() && size + bytes(dims) > limit {
            shards.push(Vec::new());
            size = 0;
        }
        shards.last_mut().expect("one shard").push(i);
        size += bytes(dims);
    }

    std::fs::create_dir(&cli.out).map_err(|e| format!("{}: {e}", cli.out.display()))?;
    let mut index = Index::default();
    for (s, members) in shards.iter().enumerate() {
        let name = format!("model-{:05}-of-{:05}.safetensors", s + 1, shards.len());
        for &i in members {
            index.weight_map.insert(all[i].0.clone(), name.clone());
        }
        write_shard(&cli.out.join(&name), members.iter().map(|&i| (i, &all[i])))?;
    }
    let total: u64 = all.iter().map(|(_, d)| bytes(d)).sum();
    let json = index.to_json(total)?;
    let index_path = cli.out.join("model.safetensors.index.json");
    std::fs::write(&index_path, json).map_err(|e| format!("{}: {e}", index_path.display()))?;
    println!(
        "{}: {layers} decoder layers, {} tensors, {} shards, {:.2} GB",
        cli.out.display(),
        all.len(),
        shards.len(),
        total as f64 / 1e9
    );
    Ok(())
}

/// One shard: its header, then each tensor's values a piece at a time.
fn write_shard<'a>(
    path: &Path,
    members: impl Iterator<Item = (usize, &'a (String, Vec<usize>))> + Clone,
) -> Result<(), String> {
    let failed = |e: std::io::Error| format!("{}: {e}", path.display());
    let layout = format::layout(
        members
            .clone()
            .map(|(_, (name, dims))| (name.as_str(), Dtype::BF16, dims.as_slice())),
    );
    let metadata = HashMap::from([("format".to_string(), "pt".to_string())]);
    let header = format::header(layout, Some(metadata))?;
    let mut out = BufWriter::with_capacity(8 << 20, File::create_new(path).map_err(failed)?);
    out.write_all(&header).map_err(failed)?;
    let mut piece: Vec<u8> = Vec::with_capacity(4 << 20);
    for (i, (_, dims)) in members {
        let mut rng = Rng(0x5eed_0000 + i as u64);
        // Per-tensor scale, like trained layers' differing magnitudes.
        let scale = 0.01 * (1.0 + (i % 7) as f32 * 0.25);
        let mut left = dims.iter().product::<usize>();
        while left > 0 {
            let n = left.min(1 << 20);
            piece.clear();
            for _ in 0..n.div_ceil(2) {
                let r = rng.next();
                // Two values from one draw: a sum of two 16-bit uniforms each.
                for half in [r as u32, (r >> 32) as u32] {
                    let u = (half & 0xffff) as f32 + (half >> 16) as f32;
                    let w = (u / 65536.0 - 1.0) * scale;
                    piece.extend_from_slice(&bf16::from_f32(w).to_le_bytes());
                }
            }
            piece.truncate(n * 2);
            out.write_all(&piece).map_err(failed)?;
            left -= n;
        }
    }
    out.flush().map_err(failed)
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
