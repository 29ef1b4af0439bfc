//! `prune`: pruning masks, and pruned weights, for a whole model.
//!
//! With no input it builds a deterministic BERT-base-shaped model in memory
//! and prunes it with the options given (default: 2:4, global, 0.5). With a
//! safetensors file, a sharded checkpoint's directory or its
//! `*.safetensors.index.json`, it memory-maps every shard and prunes every
//! f32/f16/bf16 tensor of rank 2 or 4 that passes `--include`/`--exclude`.
//!
//! ```text
//! cargo run --release --example prune
//! cargo run --release --example prune -- model.safetensors --pattern 4x1 --sparsity 0.8 --masks masks.safetensors
//! cargo run --release --example prune -- llama/ --exclude 'embed_tokens|lm_head' --output llama-2of4/ --json
//! ```
//!
//! How it runs, and what it holds in memory:
//!
//! 1. Open: map the shards, parse their headers (`safetensors`), build one
//!    `Layer` per prunable tensor over the mapped bytes ([`checkpoint`]),
//!    create the outputs under temporary names ([`write`]).
//! 2. Select: one `prunemask::plan_with` call over all layers, on one
//!    thread (the library is single-threaded). It samples the mapped data,
//!    then streams one pass over it (the scores in a range around the
//!    threshold collected into scratch); no score is copied.
//!    Meanwhile another thread copies the dense tensors to `--output`.
//! 3. Masks and outputs ([`produce`]): tensor by tensor on `--threads`
//!    threads, each writing its tensor's mask with `write_mask` into a buffer
//!    it reuses and writing it, and the pruned weights, at their places.
//! 4. Rename the outputs into place; print the report ([`report`]).
//!
//! Memory beyond the mapped files: one mask buffer per thread (the largest
//! pruned tensor's element count), 4 MiB pieces, and copies of misaligned
//! tensors, if any (the report lists them).

mod checkpoint;
mod demo;
mod format;
mod produce;
mod progress;
mod report;
mod select;
mod write;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, ValueEnum};
use prunemask::{
    CapMode, Criterion, Domain, Layer, LayerReport, Options, Pattern, Reduce, Status, Summary, Ties,
};

use checkpoint::Checkpoint;
use produce::{Masking, Work};
use progress::Progress;
pub use report::Report;
use report::{Parts, Seconds};
use select::Filter;
use write::{Outputs, Target};

#[derive(Parser, Debug)]
#[command(
    about = "Pruning masks and pruned weights for a model: a safetensors file, a sharded \
             checkpoint, or a BERT-base-shaped demo"
)]
pub struct Cli {
    /// A safetensors file, a sharded checkpoint's directory or its
    /// `*.safetensors.index.json`; without it, a BERT-base-shaped model is
    /// made in memory.
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
    /// Prune only tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    include: Option<String>,
    /// Keep tensors whose name matches this regex dense (e.g. 'embed|lm_head').
    #[arg(long, value_name = "REGEX")]
    exclude: Option<String>,
    /// Write u8 0/1 masks (same names and shapes): a file for a single-file
    /// input, a directory of shards with an index for a sharded one.
    #[arg(long, value_name = "OUT")]
    masks: Option<PathBuf>,
    /// Write the pruned weights (same dtypes, names and shards; every other
    /// tensor byte for byte): a file or a directory, as for --masks.
    #[arg(long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Threads writing masks and outputs (default: the cores, at most 4;
    /// each holds one mask buffer). The selection itself runs on one.
    #[arg(long)]
    threads: Option<usize>,
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
        Ok(report) => {
            if cli.json {
                println!("{}", report.json());
            } else {
                report.print_table();
            }
            ExitCode::SUCCESS
        }
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

/// Runs the tool: returns the report, or a one-line error naming the file
/// (and tensor) at fault. On an error no output is left behind.
pub fn run(cli: &Cli) -> Result<Report, String> {
    let start = Instant::now();
    let opts = options(cli)?;
    let filter = Filter::new(cli.include.as_deref(), cli.exclude.as_deref())?;
    if cli.masks.is_some() && cli.masks == cli.output {
        return Err("--masks and --output name the same path".into());
    }
    let mut ckpt = match &cli.file {
        Some(path) => Checkpoint::open(path)?,
        None => demo::bert_base()?,
    };

    // Which tensors are pruned; the others are kept dense.
    let roles = (0..ckpt.tensors.len())
        .map(|t| {
            filter
                .role(&ckpt.tensors[t])
                .map_err(|e| format!("{}: {e}", ckpt.locate(t)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let layer_ids: Vec<usize> = (0..roles.len()).filter(|&t| roles[t].is_none()).collect();
    if layer_ids.is_empty() {
        return Err(format!(
            "{}: no tensor to prune (f32/f16/bf16 of rank 2 or 4, passing --include/--exclude)",
            ckpt.source.display()
        ));
    }
    for &t in &layer_ids {
        ckpt.align(t);
    }
    let mut layer_of = vec![None; roles.len()];
    for (l, &t) in layer_ids.iter().enumerate() {
        layer_of[t] = Some(l);
    }

    // Outputs first: a path that exists or cannot be written fails now,
    // before the long part.
    let about = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (
            "prunemask".to_string(),
            format!("masks, pattern {}, sparsity {}", cli.pattern, cli.sparsity),
        ),
    ]);
    let outputs = Outputs {
        masks: (cli.masks.as_deref())
            .map(|p| Target::masks(p, &ckpt, &layer_ids, about))
            .transpose()?,
        weights: (cli.output.as_deref())
            .map(|p| Target::weights(p, &ckpt))
            .transpose()?,
    };
    ckpt.advise_sequential();
    let layers: Vec<Layer<'_>> = layer_ids
        .iter()
        .map(|&t| ckpt.layer(t).expect("float tensor of rank 2 or 4, aligned"))
        .collect();
    let opened = start.elapsed();

    let progress = Progress::new();
    let threads = cli
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
    let work = Work::new(&ckpt, &layers, &layer_of, &outputs, &progress);
    // The selection (none for pattern lock), then the masks when they are
    // needed; returns the totals, the reports and the selection's seconds.
    let select_and_mask = || -> Result<(Summary, Vec<LayerReport>, f64), String> {
        if cli.lock {
            let reports = work.masks(threads, &Masking::Lock(&opts.pattern))?;
            return Ok((lock_totals(&reports), reports, 0.0));
        }
        let bytes: usize = layer_ids.iter().map(|&t| ckpt.tensors[t].range.len()).sum();
        progress.spin(format!(
            "selecting over {} layers, {:.1} GB (one thread)",
            layers.len(),
            bytes as f64 / 1e9
        ));
        let start = Instant::now();
        let mut reports = vec![LayerReport::default(); layers.len()];
        // Scratch for the one-pass selection (the sample, and the scores
        // around the threshold): room for 1/64 of the units.
        let elements: usize = layers.iter().map(|l| l.scores.len()).sum();
        let units = elements / unit_elements(opts.pattern.geometry());
        let mut scratch = vec![0u64; prunemask::scratch_words(units as u64)];
        let summary = prunemask::plan_with(&layers, &opts, &mut reports, &mut scratch)
            .map_err(|e| library_error(&e, &ckpt, &layer_ids))?;
        drop(scratch);
        let seconds = start.elapsed().as_secs_f64();
        if !outputs.is_empty() {
            let planned = Masking::Planned {
                opts: &opts,
                reports: &reports,
            };
            work.masks(threads, &planned)?;
        }
        Ok((summary, reports, seconds))
    };
    let (summary, reports, select) = std::thread::scope(|s| {
        // Dense tensors go to --output meanwhile, on a thread of their own.
        let dense = s.spawn(|| work.copy_dense());
        let done = select_and_mask();
        if done.is_err() {
            work.stop();
        }
        let copied = dense
            .join()
            .unwrap_or_else(|_| Err("the copying thread panicked".into()));
        let done = done?;
        copied.map(|()| done)
    })?;
    progress.done();
    let written = start.elapsed();
    outputs.finish()?;

    let display = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    Ok(Report::new(Parts {
        ckpt: &ckpt,
        opts: &opts,
        lock: cli.lock,
        roles: &roles,
        layer_of: &layer_of,
        reports: &reports,
        summary: &summary,
        seconds: Seconds {
            open: opened.as_secs_f64(),
            select,
            write: (written - opened).as_secs_f64() - select,
            total: start.elapsed().as_secs_f64(),
        },
        masks: display(&cli.masks),
        output: display(&cli.output),
    }))
}

/// A library error, naming the file and tensor instead of a layer index.
fn library_error(e: &prunemask::Error, ckpt: &Checkpoint, layer_ids: &[usize]) -> String {
    match e.layer() {
        Some(l) => {
            let text = e.to_string();
            let what = text.strip_prefix(&format!("layer {l}: ")).unwrap_or(&text);
            format!("{}: {what}", ckpt.locate(layer_ids[l]))
        }
        None => e.to_string(),
    }
}

/// Totals of layers locked one at a time.
fn lock_totals(reports: &[LayerReport]) -> Summary {
    let mut s = Summary {
        layers: reports.len(),
        ..Summary::default()
    };
    for r in reports {
        s.skipped += matches!(r.status, Status::Skipped(_)) as usize;
        s.units += r.units;
        s.pruned_units += r.pruned_units;
        s.elements += r.elements;
        s.pruned_elements += r.pruned_elements;
    }
    s
}

/// Elements per unit of a pattern; a `channel` side counts 1, so layers of
/// channel blocks are given more scratch than they need, never less.
fn unit_elements(geometry: prunemask::Geometry) -> usize {
    use prunemask::{Extent, Geometry};
    let side = |e: Extent| match e {
        Extent::Fixed(n) => n,
        Extent::Channel => 1,
    };
    match geometry {
        Geometry::NInM { m, .. } => m.max(1),
        Geometry::Block { n, m } => (side(n) * side(m)).max(1),
    }
}
