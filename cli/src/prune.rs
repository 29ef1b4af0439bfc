//! `prunemask prune`: one run, from resolved [`Settings`] to the report.
//!
//! 1. Open: map the shards, parse their headers (`safetensors`), build one
//!    `Layer` per prunable tensor over the mapped bytes ([`crate::checkpoint`]),
//!    create the outputs under temporary names ([`crate::write`]).
//!    With `--activations`, each layer borrows its statistics
//!    ([`crate::calibration`]); layer budgets ([`crate::budget`]) set each
//!    layer's own target: from a file, or OWL's two passes over the weights
//!    (on `--threads` threads, block by block).
//! 2. Select: one `Pruner::plan` call (with scratch) over all layers, on
//!    one thread (the library is single-threaded; [`crate::select`]). It samples
//!    the mapped data, then streams one pass over it (the scores in a range
//!    around the threshold collected into scratch); no score is copied.
//!    Meanwhile another thread copies the dense tensors to `--output`.
//! 3. Masks and outputs ([`crate::produce`]): tensor by tensor on
//!    `--threads` threads, each writing its tensor's mask with
//!    `Pruner::write_mask` into a buffer it reuses, measuring the score
//!    mass it keeps, and writing it, and the pruned weights, at their
//!    places.
//! 4. Rename the outputs into place; the report ([`crate::report`]).
//!
//! Memory beyond the mapped files: one mask buffer per thread (the largest
//! pruned tensor's element count), 4 MiB pieces, and copies of misaligned
//! tensors, if any (the report lists them).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use prunemask::{Layer, LayerReport, Summary};

use crate::budget;
use crate::calibration::Activations;
use crate::checkpoint::Checkpoint;
use crate::demo;
use crate::produce::{Masked, Masking, Work};
use crate::progress::Progress;
use crate::report::{Parts, Report, Seconds};
use crate::select;
use crate::settings::Settings;
use crate::write::{Outputs, Target};

/// Refuses an output inside the model directory it is copied from.
fn inside(out: &std::path::Path, dir: &std::path::Path) -> Result<(), String> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => std::path::Path::new("."),
    };
    let (Ok(parent), Ok(dir)) = (parent.canonicalize(), dir.canonicalize()) else {
        // A parent that does not exist fails when the output is created.
        return Ok(());
    };
    if parent.starts_with(&dir) {
        return Err(format!(
            "{}: is inside the input directory {} (it would become part of the model)",
            out.display(),
            dir.display()
        ));
    }
    Ok(())
}

/// Runs the tool: returns the report, or a one-line error naming the file
/// (and tensor) at fault. On an error no output is left behind.
pub fn run(set: &Settings) -> Result<Report, String> {
    let start = Instant::now();
    let opts = &set.opts;
    let mut ckpt = match &set.input {
        Some(path) => Checkpoint::open(path)?,
        None => demo::bert_base()?,
    };

    // Which tensors are pruned (and how they are laid out); the others are
    // kept dense.
    let (roles, layer_ids) = set.filter.apply(&mut ckpt)?;
    if layer_ids.is_empty() {
        return Err(format!(
            "{}: no tensor to prune (f32/f16/bf16 weights of rank 2 to 5, passing \
             --include/--exclude; embeddings, heads and norms only with --include)",
            ckpt.source.display()
        ));
    }
    if let Some(dir) = &ckpt.dir {
        for out in [&set.output, &set.masks].into_iter().flatten() {
            inside(out, dir)?;
        }
    }
    for &t in &layer_ids {
        ckpt.align(t);
    }
    let mut layer_of = vec![None; roles.len()];
    for (l, &t) in layer_ids.iter().enumerate() {
        layer_of[t] = Some(l);
    }

    // Wanda's statistics and a budgets file: read before any output exists.
    let activations = (set.activations.as_deref())
        .map(|p| Activations::read(p, &ckpt, &layer_ids))
        .transpose()?;
    let mut targets = match &set.layer_sparsity {
        Some(path) => budget::from_file(path, &ckpt, &layer_ids)?,
        None => vec![None; layer_ids.len()],
    };

    // Outputs first: a path that exists or cannot be written fails now,
    // before the long part.
    let about = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        ("prunemask".to_string(), set.mask_note.clone()),
    ]);
    let outputs = Outputs {
        masks: (set.masks.as_deref())
            .map(|p| Target::masks(p, &ckpt, &layer_ids, about))
            .transpose()?,
        weights: (set.output.as_deref())
            .map(|p| Target::weights(p, &ckpt))
            .transpose()?,
    };
    ckpt.advise_sequential();
    let mut layers: Vec<Layer<'_>> = layer_ids
        .iter()
        .map(|&t| ckpt.layer(t).expect("float tensor of rank 2 or 4, aligned"))
        .collect();
    if let Some(a) = &activations {
        for (layer, scale) in layers.iter_mut().zip(&a.scales) {
            *layer = layer.input_scale(scale);
        }
    }
    let opened = start.elapsed();

    // OWL's targets: two passes over the weights, block by block.
    let progress = Progress::new();
    let budgeting = Instant::now();
    let blocks = match set.owl {
        Some(owl) => {
            progress.spin(format!("OWL: outliers of {} layers", layers.len()));
            let names: Vec<&str> = (layer_ids.iter())
                .map(|&t| ckpt.tensors[t].name.as_str())
                .collect();
            let blocks = budget::owl(
                &layers,
                &names,
                opts.criterion,
                owl,
                opts.target_sparsity,
                set.level,
                set.threads,
            )?;
            for block in &blocks {
                for &l in &block.layers {
                    targets[l] = Some(block.target);
                }
            }
            blocks
        }
        None => Vec::new(),
    };
    for (layer, target) in layers.iter_mut().zip(&targets) {
        layer.target_sparsity = *target;
    }
    let budgeting = budgeting.elapsed().as_secs_f64();

    let (threads, writers) = (set.threads, set.writers);
    let work = Work::new(&ckpt, &layers, &layer_of, &outputs, &progress, set.level);
    // The selection (none for pattern lock), then the masks (written when
    // outputs are asked for, measured always); returns the totals, each
    // layer's mask as made, and the selection's seconds.
    let select_and_mask = || -> Result<(Summary, Vec<Masked>, f64), String> {
        if set.lock {
            let masked = work.masks(writers, &Masking::Lock(&opts.pattern), opts.criterion)?;
            let reports: Vec<LayerReport> = masked.iter().map(|m| m.report).collect();
            return Ok((select::lock_totals(&reports), masked, 0.0));
        }
        let bytes: usize = layer_ids.iter().map(|&t| ckpt.tensors[t].range.len()).sum();
        progress.spin(format!(
            "selecting over {} layers, {:.1} GB ({} threads)",
            layers.len(),
            bytes as f64 / 1e9,
            threads
        ));
        let start = Instant::now();
        let (summary, plans, made) = select::plan(
            &layers, opts, set.level, &ckpt, &layer_ids, set.budget, threads,
        )?;
        let seconds = start.elapsed().as_secs_f64() + budgeting;
        let planned = match &made {
            Some(masks) => Masking::Made {
                plans: &plans,
                masks,
            },
            None => Masking::Planned {
                opts,
                plans: &plans,
            },
        };
        let masked = work.masks(writers, &planned, opts.criterion)?;
        Ok((summary, masked, seconds))
    };
    let (summary, masked, select) = std::thread::scope(|s| {
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
    if !set.lock && summary.skipped == summary.layers {
        return Err(format!(
            "{}: --pattern {} fits none of the {} tensors to prune (every one skipped: see \
             --masks or the report without it)",
            ckpt.source.display(),
            opts.pattern.name(),
            summary.layers
        ));
    }
    let written = start.elapsed();
    outputs.finish()?;

    let display = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
    Ok(Report::new(Parts {
        ckpt: &ckpt,
        opts,
        level: set.level,
        lock: set.lock,
        roles: &roles,
        layer_of: &layer_of,
        masked: &masked,
        targets: &targets,
        blocks: &blocks,
        activations: display(&set.activations),
        layer_sparsity: display(&set.layer_sparsity),
        owl: set.owl,
        summary: &summary,
        seconds: Seconds {
            open: opened.as_secs_f64(),
            select,
            write: (written - opened).as_secs_f64() - select,
            total: start.elapsed().as_secs_f64(),
        },
        masks: display(&set.masks),
        output: display(&set.output),
    }))
}
