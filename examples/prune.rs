//! `prune`: masks for a whole model.
//!
//! With no file it builds a deterministic BERT-base-shaped model in memory
//! (12 layers of q, k, v, o 768x768, intermediate 3072x768, output 768x3072)
//! and prunes it with the options given (default: 2:4, global, 0.5). With a
//! safetensors file it takes every f32/f16/bf16 tensor of rank 2 or 4.
//!
//! ```text
//! cargo run --release --example prune
//! cargo run --release --example prune -- model.safetensors --pattern 4x1 --sparsity 0.8 --masks masks.safetensors
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use half::{bf16, f16};
use prunemask::{
    CapMode, Criterion, Domain, Layer, LayerReport, Options, Pattern, Reduce, Shape, SkipReason,
    Status, Summary, Ties,
};
use safetensors::{Dtype, SafeTensors};

#[derive(Parser, Debug)]
#[command(about = "Pruning masks for a model (a safetensors file, or a BERT-base-shaped demo)")]
struct Cli {
    /// A safetensors file; without it, a BERT-base-shaped model is made in memory.
    file: Option<PathBuf>,
    /// Pattern: NxM (4x1, 1x4, channelx1, ...), N:M (2:4, ...), 1x1.
    #[arg(long, default_value = "2:4")]
    pattern: String,
    /// Target sparsity in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    sparsity: f64,
    #[arg(long, value_enum, default_value_t = DomainArg::Global)]
    domain: DomainArg,
    /// Most a layer may be pruned.
    #[arg(long, default_value_t = 0.98)]
    max_layer_sparsity: f64,
    /// Least a layer must be pruned.
    #[arg(long, default_value_t = 0.0)]
    min_layer_sparsity: f64,
    #[arg(long, value_enum, default_value_t = TiesArg::Exact)]
    ties: TiesArg,
    #[arg(long, value_enum, default_value_t = CapArg::Redistribute)]
    cap: CapArg,
    #[arg(long, value_enum, default_value_t = ReduceArg::Mean)]
    reduce: ReduceArg,
    /// magnitude = |w|; scores = the tensor values as they are.
    #[arg(long, value_enum, default_value_t = CriterionArg::Magnitude)]
    criterion: CriterionArg,
    /// `inc`: INC 2.0 behaviour (inclusive ties, seed cap, mean reduction).
    #[arg(long, value_enum)]
    compat: Option<CompatArg>,
    /// Pattern-lock masks from the weights instead of selection.
    #[arg(long)]
    lock: bool,
    /// Write u8 0/1 masks (same names and shapes) to this safetensors file.
    #[arg(long, value_name = "OUT")]
    masks: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum DomainArg {
    Global,
    Local,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
enum TiesArg {
    Exact,
    Inclusive,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
enum CapArg {
    Redistribute,
    Seed,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
enum ReduceArg {
    Mean,
    Sum,
    Max,
    L2,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
enum CriterionArg {
    Magnitude,
    Scores,
}
#[derive(Clone, Copy, Debug, ValueEnum)]
enum CompatArg {
    Inc,
}

/// One tensor's data, kept in its own dtype.
enum Data {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
}

struct Tensor {
    name: String,
    dims: Vec<usize>,
    shape: Shape,
    data: Data,
}

impl Tensor {
    fn layer(&self) -> Layer<'_> {
        match &self.data {
            Data::F32(v) => Layer::new(&v[..], self.shape),
            Data::F16(v) => Layer::new(&v[..], self.shape),
            Data::Bf16(v) => Layer::new(&v[..], self.shape),
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("bad arguments"));
            return ExitCode::from(2);
        }
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("error: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn options(cli: &Cli) -> Result<Options, String> {
    let pattern = Pattern::parse(&cli.pattern).map_err(|e| e.to_string())?;
    let mut opts = Options::new(pattern, cli.sparsity)
        .domain(match cli.domain {
            DomainArg::Global => Domain::Global,
            DomainArg::Local => Domain::Local,
        })
        .max_layer(cli.max_layer_sparsity)
        .min_layer(cli.min_layer_sparsity)
        .ties(match cli.ties {
            TiesArg::Exact => Ties::Exact,
            TiesArg::Inclusive => Ties::Inclusive,
        })
        .cap(match cli.cap {
            CapArg::Redistribute => CapMode::Redistribute,
            CapArg::Seed => CapMode::Seed,
        })
        .reduce(match cli.reduce {
            ReduceArg::Mean => Reduce::Mean,
            ReduceArg::Sum => Reduce::Sum,
            ReduceArg::Max => Reduce::Max,
            ReduceArg::L2 => Reduce::L2,
        })
        .criterion(match cli.criterion {
            CriterionArg::Magnitude => Criterion::Magnitude,
            CriterionArg::Scores => Criterion::Scores,
        });
    if cli.compat.is_some() {
        opts = opts.inc_compat();
    }
    Ok(opts)
}

fn run(cli: &Cli) -> Result<(), String> {
    let opts = options(cli)?;
    let load = Instant::now();
    let tensors = match &cli.file {
        Some(path) => read_safetensors(path)?,
        None => bert_base(),
    };
    if tensors.is_empty() {
        return Err("no f32/f16/bf16 tensor of rank 2 or 4 in the file".into());
    }
    let load_time = load.elapsed();
    let layers: Vec<Layer<'_>> = tensors.iter().map(Tensor::layer).collect();
    let mut masks: Vec<Vec<u8>> = tensors
        .iter()
        .map(|t| vec![1u8; t.layer().scores.len()])
        .collect();
    let mut outs: Vec<&mut [u8]> = masks.iter_mut().map(|m| &mut m[..]).collect();
    let mut reports = vec![LayerReport::default(); layers.len()];
    let start = Instant::now();
    let summary = if cli.lock {
        prunemask::lock(&layers, &opts.pattern, &mut reports, &mut outs)
    } else {
        prunemask::prune(&layers, &opts, &mut reports, &mut outs)
    }
    .map_err(|e| match e.layer() {
        Some(i) => format!("{}: {e}", tensors[i].name),
        None => e.to_string(),
    })?;
    let elapsed = start.elapsed();
    print_table(&tensors, &reports, &summary, cli, &opts);
    let elements = summary.elements.max(1) as f64;
    println!(
        "time: {:.3} s to {}, {:.2} ns/element ({:.3} s to {} the model)",
        elapsed.as_secs_f64(),
        if cli.lock { "lock" } else { "prune" },
        elapsed.as_secs_f64() * 1e9 / elements,
        load_time.as_secs_f64(),
        if cli.file.is_some() { "read" } else { "build" },
    );
    if let Some(out) = &cli.masks {
        write_masks(out, &tensors, &masks)?;
        println!("masks written to {}", out.display());
    }
    Ok(())
}

fn print_table(
    tensors: &[Tensor],
    reports: &[LayerReport],
    s: &Summary,
    cli: &Cli,
    opts: &Options,
) {
    let width = tensors
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "pattern {}  sparsity {}  {:?}  ties {:?}  cap {:?} {}  min {}  reduce {:?}  criterion {:?}{}",
        opts.pattern.name(),
        opts.sparsity,
        opts.domain,
        opts.ties,
        opts.cap,
        opts.max_layer,
        opts.min_layer,
        opts.reduce,
        opts.criterion,
        if cli.lock { "  (pattern lock)" } else { "" }
    );
    println!(
        "{:<width$}  {:>16}  {:>10}  {:>10}  {:>8}  note",
        "name", "shape", "units", "pruned", "sparsity"
    );
    for (t, r) in tensors.iter().zip(reports) {
        let dims: Vec<String> = t.dims.iter().map(|d| d.to_string()).collect();
        let note = match r.status {
            Status::Skipped(SkipReason::Rows { rows, block }) => {
                format!("skipped: {rows} rows do not divide by {block}")
            }
            Status::Skipped(SkipReason::Cols { cols, block }) => {
                format!("skipped: {cols} columns do not divide by {block}")
            }
            Status::Bounded(b) => format!("held at {b:?} bound"),
            _ => String::new(),
        };
        println!(
            "{:<width$}  {:>16}  {:>10}  {:>10}  {:>8.4}  {note}",
            t.name,
            dims.join("x"),
            r.units,
            r.pruned_units,
            r.sparsity(),
        );
    }
    let k = if cli.lock {
        String::new()
    } else {
        format!(" (k = {})", s.target_units)
    };
    println!(
        "total: {} layers ({} skipped, {} held at a bound), {} units, {} pruned{k}, {} of {} elements pruned, sparsity {:.4}{}",
        s.layers,
        s.skipped,
        s.bounded,
        s.units,
        s.pruned_units,
        s.pruned_elements,
        s.elements,
        s.sparsity(),
        s.threshold.map(|t| format!(", threshold {t}")).unwrap_or_default(),
    );
}

/// Every float tensor of rank 2 or 4, in file order, copied in its own dtype
/// (safetensors data is not aligned for typed slices).
fn read_safetensors(path: &Path) -> Result<Vec<Tensor>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut views = st.tensors();
    views.sort_by_key(|(_, v)| v.data().as_ptr() as usize);
    let mut out = Vec::new();
    for (name, view) in views {
        let dims = view.shape().to_vec();
        let Some(shape) = Shape::from_dims(&dims) else {
            continue;
        };
        let raw = view.data();
        let data = match view.dtype() {
            Dtype::F32 => Data::F32(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
            ),
            Dtype::F16 => Data::F16(
                raw.chunks_exact(2)
                    .map(|b| f16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            Dtype::BF16 => Data::Bf16(
                raw.chunks_exact(2)
                    .map(|b| bf16::from_le_bytes([b[0], b[1]]))
                    .collect(),
            ),
            _ => continue,
        };
        out.push(Tensor {
            name,
            dims,
            shape,
            data,
        });
    }
    Ok(out)
}

fn write_masks(path: &Path, tensors: &[Tensor], masks: &[Vec<u8>]) -> Result<(), String> {
    let views = tensors
        .iter()
        .zip(masks)
        .map(|(t, m)| {
            safetensors::tensor::TensorView::new(Dtype::U8, t.dims.clone(), m)
                .map(|v| (t.name.clone(), v))
                .map_err(|e| format!("{}: {e}", t.name))
        })
        .collect::<Result<Vec<_>, String>>()?;
    safetensors::serialize_to_file(views, None, path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A deterministic BERT-base-shaped model: magnitudes like a trained
/// checkpoint's (roughly normal, per-layer scale), from a fixed-seed PRNG.
fn bert_base() -> Vec<Tensor> {
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        // splitmix64
        rng = rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut tensors = Vec::new();
    let shapes = [
        ("attention.self.query", 768, 768),
        ("attention.self.key", 768, 768),
        ("attention.self.value", 768, 768),
        ("attention.output.dense", 768, 768),
        ("intermediate.dense", 3072, 768),
        ("output.dense", 768, 3072),
    ];
    for layer in 0..12 {
        for (i, (name, rows, cols)) in shapes.iter().enumerate() {
            let scale = 0.02 * (1.0 + 0.1 * ((layer * 6 + i) % 7) as f32);
            let data: Vec<f32> = (0..rows * cols)
                .map(|_| {
                    // Sum of four uniforms: close to normal, cheap, exact to reproduce.
                    let r = next();
                    let u = |s: u32| ((r >> s) & 0xffff) as f32 / 65536.0;
                    (u(0) + u(16) + u(32) + u(48) - 2.0) * scale
                })
                .collect();
            tensors.push(Tensor {
                name: format!("encoder.layer.{layer}.{name}.weight"),
                dims: vec![*rows, *cols],
                shape: Shape::matrix(*rows, *cols),
                data: Data::F32(data),
            });
        }
    }
    tensors
}
