//! `prunemask prune`: one run, from resolved [`Settings`] to the report.
//!
//! 1. Open: map the shards, parse their headers (`safetensors`), build one
//!    `Layer` per prunable tensor over the mapped bytes ([`crate::checkpoint`]),
//!    create the outputs under temporary names ([`crate::write`]).
//! 2. Select: one `Pruner::plan` call (with scratch) over all layers, on
//!    one thread (the library is single-threaded; [`crate::select`]). It samples
//!    the mapped data, then streams one pass over it (the scores in a range
//!    around the threshold collected into scratch); no score is copied.
//!    Meanwhile another thread copies the dense tensors to `--output`.
//! 3. Masks and outputs ([`crate::produce`]): tensor by tensor on
//!    `--threads` threads, each writing its tensor's mask with
//!    `Pruner::write_mask` into a buffer it reuses and writing it, and the
//!    pruned weights, at their places.
//! 4. Rename the outputs into place; the report ([`crate::report`]).
//!
//! Memory beyond the mapped files: one mask buffer per thread (the largest
//! pruned tensor's element count), 4 MiB pieces, and copies of misaligned
//! tensors, if any (the report lists them).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

use prunemask::{Layer, LayerReport, Summary};

use crate::checkpoint::Checkpoint;
use crate::demo;
use crate::produce::{Masking, Work};
use crate::progress::Progress;
use crate::report::{Parts, Report, Seconds};
use crate::select;
use crate::settings::Settings;
use crate::write::{Outputs, Target};

/// Runs the tool: returns the report, or a one-line error naming the file
/// (and tensor) at fault. On an error no output is left behind.
pub fn run(set: &Settings) -> Result<Report, String> {
    let start = Instant::now();
    let opts = &set.opts;
    let mut ckpt = match &set.input {
        Some(path) => Checkpoint::open(path)?,
        None => demo::bert_base()?,
    };

    // Which tensors are pruned; the others are kept dense.
    let roles = (0..ckpt.tensors.len())
        .map(|t| {
            (set.filter)
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
    let layers: Vec<Layer<'_>> = layer_ids
        .iter()
        .map(|&t| ckpt.layer(t).expect("float tensor of rank 2 or 4, aligned"))
        .collect();
    let opened = start.elapsed();

    let progress = Progress::new();
    let threads = set.threads;
    let work = Work::new(&ckpt, &layers, &layer_of, &outputs, &progress, set.level);
    // The selection (none for pattern lock), then the masks when they are
    // needed; returns the totals, the reports and the selection's seconds.
    let select_and_mask = || -> Result<(Summary, Vec<LayerReport>, f64), String> {
        if set.lock {
            let reports = work.masks(threads, &Masking::Lock(&opts.pattern))?;
            return Ok((select::lock_totals(&reports), reports, 0.0));
        }
        let bytes: usize = layer_ids.iter().map(|&t| ckpt.tensors[t].range.len()).sum();
        progress.spin(format!(
            "selecting over {} layers, {:.1} GB (one thread)",
            layers.len(),
            bytes as f64 / 1e9
        ));
        let start = Instant::now();
        let (summary, plans) = select::plan(&layers, opts, set.level, &ckpt, &layer_ids)?;
        let seconds = start.elapsed().as_secs_f64();
        if !outputs.is_empty() {
            let planned = Masking::Planned {
                opts,
                plans: &plans,
            };
            work.masks(threads, &planned)?;
        }
        let reports = plans.iter().map(|p| *p.report()).collect();
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
        opts,
        level: set.level,
        lock: set.lock,
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
        masks: display(&set.masks),
        output: display(&set.output),
    }))
}
