//! What a run tells: one row per tensor (pruned or kept dense, and why),
//! the totals and the times, printed as a table or as JSON (`--json`).

use prunemask::ext::Geometry;
use prunemask::{Bound, Level, Options, Scope, ScoreMass, SkipReason, Status, Summary};
use serde::Serialize;

use crate::checkpoint::Checkpoint;
use crate::filter::Dense;
use crate::produce::Masked;

#[derive(Debug, Serialize)]
pub struct Report {
    pub input: String,
    /// `select` (threshold selection) or `lock` (pattern lock).
    pub mode: &'static str,
    pub options: Settings,
    pub tensors: Vec<Row>,
    /// The blocks OWL scored (`--owl`; empty without it).
    pub owl_blocks: Vec<BlockRow>,
    pub totals: Totals,
    pub seconds: Seconds,
    pub masks: Option<String>,
    pub output: Option<String>,
    /// A model directory's other files (relative paths), copied to
    /// `--output` byte for byte (listed whether or not it is given).
    pub files: Vec<String>,
    /// Of those, the ones that hold weights in another format (or another
    /// safetensors model): copied dense, unpruned.
    pub dense_weight_files: Vec<String>,
    /// Folders of the model directory that are not copied (`.git`, `.cache`).
    pub not_copied: Vec<String>,
    /// What a user deciding to ship the output should know: targets a
    /// sparse kernel will not take, layouts that may be wrong.
    pub notes: Vec<String>,
}

/// File extensions of weights in other formats (PyTorch, TensorFlow, Flax,
/// rust-bert, ONNX, GGUF, OpenVINO's `.bin`), and safetensors files other
/// than the model's (a sentence-transformers `2_Dense/`).
const WEIGHT_FILES: [&str; 10] = [
    "bin",
    "pt",
    "pth",
    "h5",
    "msgpack",
    "ot",
    "onnx",
    "gguf",
    "ckpt",
    "safetensors",
];

/// The options, each word as the library writes it (`Display`), which is
/// also how the flag takes it.
#[derive(Debug, Serialize)]
pub struct Settings {
    pub pattern: String,
    pub sparsity: f64,
    pub scope: String,
    pub ties: String,
    pub cap: String,
    pub max_sparsity_ratio_per_op: f64,
    pub min_sparsity_ratio_per_op: f64,
    pub reduce: String,
    pub criterion: String,
    /// `--activations`: Wanda's statistics file.
    pub activations: Option<String>,
    /// `--layer-sparsity`: the layer budgets file.
    pub layer_sparsity: Option<String>,
    /// `--owl M,LAMBDA`, as `[M, LAMBDA]`.
    pub owl: Option<[f64; 2]>,
    pub compat: String,
    pub level: String,
}

/// One block of layers under `--owl`.
#[derive(Debug, Serialize)]
pub struct BlockRow {
    /// The layers' common name prefix (through its first number).
    pub name: String,
    pub layers: usize,
    /// Share of the block's scores above M times their mean.
    pub outlier_ratio: f64,
    /// The target its layers were given.
    pub target: f64,
}

/// One tensor of the checkpoint.
#[derive(Debug, Serialize)]
pub struct Row {
    pub name: String,
    /// The shard file it is in.
    pub file: String,
    pub shape: Vec<usize>,
    pub dtype: String,
    /// The pattern, for a tensor given to the selection; `None` if dense.
    pub pattern: Option<String>,
    pub units: u64,
    pub pruned_units: u64,
    pub elements: u64,
    pub pruned_elements: u64,
    pub sparsity: f64,
    /// The layer's target: its own (`--layer-sparsity`, `--owl`) or
    /// `--sparsity`; `None` under global scope (one threshold for all) and
    /// for dense tensors.
    pub target: Option<f64>,
    /// How the tensor is stored (`out,in`, `in,out`, `O,I,K`, ...), for a
    /// tensor given to the selection.
    pub layout: Option<&'static str>,
    /// The share of the criterion's score mass the mask keeps (`Σ|w|·mask
    /// / Σ|w|` for magnitude; NVIDIA ASP's "efficacy").
    pub score_kept: Option<f64>,
    /// `selected`, `bounded`, `skipped` (the pattern does not fit) or `dense`.
    pub status: &'static str,
    /// Why it is bounded, skipped or dense.
    pub reason: Option<String>,
    pub threshold: Option<f32>,
    /// Misaligned in the file, so copied to be read.
    pub copied: bool,
}

#[derive(Debug, Serialize)]
pub struct Totals {
    pub tensors: usize,
    /// Tensors given to the selection.
    pub layers: usize,
    pub skipped: usize,
    pub bounded: usize,
    pub dense: usize,
    pub copied: usize,
    pub units: u64,
    pub target_units: u64,
    pub pruned_units: u64,
    /// Elements of the layers.
    pub elements: u64,
    pub pruned_elements: u64,
    pub sparsity: f64,
    pub threshold: Option<f32>,
    /// The share of the score mass kept over all layers.
    pub score_kept: f64,
    /// Elements of every float tensor (pruned or dense): the model's
    /// parameters.
    pub model_elements: u64,
    /// Pruned elements over the model's parameters (embeddings and other
    /// dense tensors included).
    pub model_sparsity: f64,
}

#[derive(Debug, Serialize)]
pub struct Seconds {
    /// Open, map and check the input, create the outputs.
    pub open: f64,
    /// The selection (`Pruner::plan` with scratch; none in lock mode).
    pub select: f64,
    /// Masks and outputs.
    pub write: f64,
    pub total: f64,
}

/// Everything a report is made from.
pub struct Parts<'a> {
    pub ckpt: &'a Checkpoint,
    pub opts: &'a Options,
    /// The level the library ran at.
    pub level: Level,
    pub lock: bool,
    /// Per tensor: `None` if it is a layer, else why it is dense.
    pub roles: &'a [Option<Dense>],
    pub layer_of: &'a [Option<usize>],
    /// Per layer: its report and the mass its mask keeps.
    pub masked: &'a [Masked],
    /// Per layer: its own target, if any.
    pub targets: &'a [Option<f64>],
    pub blocks: &'a [crate::budget::Block],
    pub activations: Option<String>,
    pub layer_sparsity: Option<String>,
    pub owl: Option<crate::args::Owl>,
    pub summary: &'a Summary,
    pub seconds: Seconds,
    pub masks: Option<String>,
    pub output: Option<String>,
}

impl Report {
    pub fn new(p: Parts<'_>) -> Report {
        let pattern = p.opts.pattern.name().to_string();
        let tensors: Vec<Row> = p
            .ckpt
            .tensors
            .iter()
            .enumerate()
            .map(|(t, tensor)| {
                let mut row = Row {
                    name: tensor.name.clone(),
                    file: p.ckpt.shards[tensor.shard].name.clone(),
                    shape: tensor.dims.clone(),
                    dtype: tensor.dtype.to_string(),
                    pattern: None,
                    layout: None,
                    score_kept: None,
                    units: 0,
                    pruned_units: 0,
                    elements: tensor.dims.iter().product::<usize>() as u64,
                    pruned_elements: 0,
                    sparsity: 0.0,
                    target: None,
                    status: "dense",
                    reason: p.roles[t].map(|d| d.reason(tensor)),
                    threshold: None,
                    copied: tensor.copied(),
                };
                if let Some(l) = p.layer_of[t] {
                    let r = &p.masked[l].report;
                    let (status, reason) = status(r.status);
                    row = Row {
                        pattern: Some(pattern.clone()),
                        layout: Some(tensor.layout()),
                        score_kept: Some(p.masked[l].mass.fraction()),
                        units: r.units,
                        pruned_units: r.pruned_units,
                        pruned_elements: r.pruned_elements,
                        sparsity: r.sparsity_ratio(),
                        target: match p.opts.scope {
                            Scope::Global => None,
                            _ => Some(p.targets[l].unwrap_or(p.opts.target_sparsity)),
                        },
                        status,
                        reason,
                        threshold: r.threshold,
                        ..row
                    };
                }
                row
            })
            .collect();
        let s = p.summary;
        let model_elements: u64 = (p.ckpt.tensors.iter())
            .filter(|t| t.is_float())
            .map(|t| t.elements() as u64)
            .sum();
        let totals = Totals {
            tensors: tensors.len(),
            layers: s.layers,
            skipped: s.skipped,
            bounded: s.bounded,
            dense: tensors.len() - s.layers,
            copied: tensors.iter().filter(|r| r.copied).count(),
            units: s.units,
            target_units: s.target_units,
            pruned_units: s.pruned_units,
            elements: s.elements,
            pruned_elements: s.pruned_elements,
            sparsity: s.sparsity_ratio(),
            threshold: s.threshold,
            model_elements,
            model_sparsity: s.pruned_elements as f64 / model_elements.max(1) as f64,
            score_kept: (p.masked.iter())
                .fold(ScoreMass::default(), |a, m| a + m.mass)
                .fraction(),
        };
        let notes = notes(&p, &tensors);
        let shown = |paths: &[std::path::PathBuf]| -> Vec<String> {
            paths.iter().map(|p| p.display().to_string()).collect()
        };
        let ckpt = p.ckpt;
        let o = p.opts;
        Report {
            input: p.ckpt.source.display().to_string(),
            mode: if p.lock { "lock" } else { "select" },
            options: Settings {
                pattern,
                sparsity: o.target_sparsity,
                scope: o.scope.to_string(),
                ties: o.ties.to_string(),
                cap: o.cap.to_string(),
                max_sparsity_ratio_per_op: o.max_sparsity_ratio_per_op,
                min_sparsity_ratio_per_op: o.min_sparsity_ratio_per_op,
                reduce: o.reduce.to_string(),
                criterion: o.criterion.to_string(),
                activations: p.activations.clone(),
                layer_sparsity: p.layer_sparsity.clone(),
                owl: p.owl.map(|w| [w.m, w.lambda]),
                compat: o.compat.to_string(),
                level: p.level.to_string(),
            },
            tensors,
            owl_blocks: (p.blocks.iter())
                .map(|b| BlockRow {
                    name: b.name.clone(),
                    layers: b.layers.len(),
                    outlier_ratio: b.outlier_ratio,
                    target: b.target,
                })
                .collect(),
            totals,
            seconds: p.seconds,
            masks: p.masks,
            output: p.output,
            files: shown(&ckpt.others),
            dense_weight_files: shown(&ckpt.others)
                .into_iter()
                .zip(&ckpt.others)
                .filter(|(_, p)| {
                    p.extension()
                        .is_some_and(|e| WEIGHT_FILES.iter().any(|w| e == *w))
                })
                .map(|(s, _)| s)
                .collect(),
            not_copied: shown(&ckpt.not_copied),
            notes,
        }
    }

    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report is plain data")
    }

    pub fn print_table(&self) {
        let o = &self.options;
        println!(
            "pattern {}  sparsity {}  {}  ties {}  cap {} {}  min {}  reduce {}  criterion {}{}",
            o.pattern,
            o.sparsity,
            o.scope,
            o.ties,
            o.cap,
            o.max_sparsity_ratio_per_op,
            o.min_sparsity_ratio_per_op,
            o.reduce,
            o.criterion,
            if self.mode == "lock" {
                "  (pattern lock)"
            } else {
                ""
            }
        );
        let width = self
            .tensors
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        println!(
            "{:<width$}  {:>16}  {:>9}  {:>5}  {:>10}  {:>10}  {:>8}  {:>6}  {:>6}  note",
            "name", "shape", "layout", "dtype", "units", "pruned", "sparsity", "target", "kept"
        );
        for r in &self.tensors {
            let dims: Vec<String> = r.shape.iter().map(|d| d.to_string()).collect();
            let mut note = match (r.status, &r.reason) {
                ("selected", _) => String::new(),
                (status, Some(reason)) => format!("{status}: {reason}"),
                (status, None) => status.to_string(),
            };
            if r.copied {
                note.push_str(" (misaligned in the file: copied)");
            }
            let kept = r.score_kept.map_or("-".into(), |k| format!("{k:.4}"));
            let target = r.target.map_or("-".into(), |t| format!("{t:.4}"));
            println!(
                "{:<width$}  {:>16}  {:>9}  {:>5}  {:>10}  {:>10}  {:>8.4}  {target:>6}  {kept:>6}  {note}",
                r.name,
                dims.join("x"),
                r.layout.unwrap_or("-"),
                r.dtype,
                r.units,
                r.pruned_units,
                r.sparsity,
            );
        }
        for b in &self.owl_blocks {
            println!(
                "owl block {}: {} layers, outlier ratio {:.5}, target {:.4}",
                b.name, b.layers, b.outlier_ratio, b.target
            );
        }
        let t = &self.totals;
        let k = if self.mode == "lock" {
            String::new()
        } else {
            format!(" (k = {})", t.target_units)
        };
        println!(
            "total: {} layers ({} skipped, {} held at a bound), {} dense tensors, {} units, {} pruned{k}, {} of {} elements pruned, sparsity {:.4}, score mass kept {:.4}{}",
            t.layers,
            t.skipped,
            t.bounded,
            t.dense,
            t.units,
            t.pruned_units,
            t.pruned_elements,
            t.elements,
            t.sparsity,
            t.score_kept,
            t.threshold.map(|x| format!(", threshold {x}")).unwrap_or_default(),
        );
        println!(
            "whole model: {} of {} float parameters pruned ({:.4}); the files keep their size (zeros are stored)",
            t.pruned_elements, t.model_elements, t.model_sparsity
        );
        let s = &self.seconds;
        let (what, secs) = match self.mode {
            "lock" => ("lock", s.write),
            _ => ("select", s.select),
        };
        println!(
            "time: {secs:.3} s to {what}, {:.2} ns/element; {:.3} s to open, {:.3} s for masks and outputs, {:.3} s in all",
            secs * 1e9 / t.elements.max(1) as f64,
            s.open,
            s.write,
            s.total,
        );
        if (self.tensors.iter())
            .any(|r| (r.reason.as_deref()).is_some_and(|x| x.ends_with("dense by default")))
        {
            println!("{}", crate::filter::DEFAULT_NOTE);
        }
        if !self.files.is_empty() {
            let done = if self.output.is_some() {
                "copied"
            } else {
                "to copy"
            };
            println!(
                "other files of the model directory ({done} byte for byte): {}",
                self.files.join(", ")
            );
        }
        if !self.dense_weight_files.is_empty() {
            println!(
                "note: {} hold weights in other formats, {} unpruned (loaders of those formats get the dense model; delete them if that matters)",
                self.dense_weight_files.join(", "),
                if self.output.is_some() { "copied" } else { "copied by --output" }
            );
        }
        if !self.not_copied.is_empty() {
            println!(
                "not copied (not part of the model): {}",
                self.not_copied.join(", ")
            );
        }
        for note in &self.notes {
            println!("note: {note}");
        }
        if self.masks.is_none() && self.output.is_none() {
            println!("nothing written (no --output, no --masks)");
        }
        for (what, path) in [("masks", &self.masks), ("pruned model", &self.output)] {
            if let Some(path) = path {
                println!("{what} written to {path}");
            }
        }
    }
}

/// A layer's status as the report names it, and the reason if any.
fn status(status: Status) -> (&'static str, Option<String>) {
    match status {
        Status::Selected => ("selected", None),
        Status::Bounded(Bound::Max) => (
            "bounded",
            Some("held at --max-sparsity-ratio-per-op".into()),
        ),
        Status::Bounded(Bound::Min) => (
            "bounded",
            Some("held at --min-sparsity-ratio-per-op".into()),
        ),
        Status::Skipped(SkipReason::Rows { rows, block }) => (
            "skipped",
            Some(format!("{rows} outputs do not divide by {block}")),
        ),
        Status::Skipped(SkipReason::Cols { cols, block }) => (
            "skipped",
            Some(format!("{cols} inputs do not divide by {block}")),
        ),
        Status::Unplanned => ("unplanned", None),
    }
}

/// The notes of a report: what the numbers above do not say.
fn notes(p: &Parts<'_>, rows: &[Row]) -> Vec<String> {
    let mut notes = Vec::new();
    let targets = || (0..p.ckpt.tensors.len()).filter(|&t| p.layer_of[t].is_some());
    let names = |ts: &[usize]| {
        let mut names: Vec<&str> = ts
            .iter()
            .take(3)
            .map(|&t| p.ckpt.tensors[t].name.as_str())
            .collect();
        if ts.len() > 3 {
            names.push("...");
        }
        names.join(", ")
    };
    if let Geometry::NInM { n, m } = p.opts.pattern.geometry() {
        let full = n as f64 / m as f64;
        if !p.lock && p.opts.target_sparsity < full {
            notes.push(format!(
                "at sparsity {} only part of the groups are pruned {n} of {m}; N:M kernels need \
                 every group (sparsity {full}), and `verify` fails the others",
                p.opts.target_sparsity
            ));
        }
        if (n, m) == (2, 4) {
            let off: Vec<usize> = targets()
                .filter(|&t| crate::verify::kernel_shape(&p.ckpt.tensors[t]).is_some())
                .collect();
            if !off.is_empty() {
                notes.push(format!(
                    "{} pruned tensors have shapes 2:4 kernels do not take (out features % 8, in \
                     features % 16; NVIDIA ASP, TensorRT-Model-Optimizer): they would run dense \
                     ({})",
                    off.len(),
                    names(&off)
                ));
            }
        }
    }
    let conv1d_named: Vec<usize> = targets()
        .filter(|&t| {
            let tensor = &p.ckpt.tensors[t];
            let name = &tensor.name;
            tensor.dims.len() == 2 && !tensor.in_out && crate::filter::conv1d_named(name)
        })
        .collect();
    if !conv1d_named.is_empty() {
        notes.push(format!(
            "{} tensors are named like GPT-2's Conv1D weights, stored [in, out], but are read \
             [out, in] ({}): no config.json gives a GPT-2-family model_type; if they are \
             [in, out], pass --transposed",
            conv1d_named.len(),
            names(&conv1d_named)
        ));
    }
    // Layer budgets keep the mean target over blocks or as written; what
    // the run prunes overall can still differ.
    if p.targets.iter().any(Option::is_some) {
        let overall = p.summary.sparsity_ratio();
        let wanted = p.opts.target_sparsity;
        if (overall - wanted).abs() > 0.005 {
            let clipped = p.blocks.iter().any(|b| b.target <= 0.0 || b.target >= 1.0);
            let bounded = p.summary.bounded > 0;
            let why = match (clipped, bounded) {
                (true, true) => "targets clipped to [0, 1] and layers held at their bounds",
                (true, false) => "targets clipped to [0, 1]",
                (false, true) => "layers held at --max/--min-sparsity-ratio-per-op",
                (false, false) => "the layers' targets weighted by their sizes",
            };
            notes.push(format!(
                "the layer budgets prune {overall:.4} of the layers overall, not --sparsity \
                 {wanted} ({why}); a smaller LAMBDA or other targets keep it closer"
            ));
        }
    }
    let skipped = rows.iter().filter(|r| r.status == "skipped").count();
    if skipped > 0 {
        notes.push(format!(
            "{skipped} tensors do not fit the pattern and are kept dense (status skipped)"
        ));
    }
    notes
}
