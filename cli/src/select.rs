//! The selection, and the library's options and errors: the calls into
//! `prunemask` that decide what is pruned (the masks themselves are written
//! in [`crate::produce`]).

use prunemask::ext::{Extent, Geometry};
use prunemask::{
    Compat, ErrorKind, Layer, LayerPlan, LayerReport, Level, Options, Pattern, Pruner, SplitRange,
    Status, Summary,
};

use crate::args::PruneArgs;
use crate::checkpoint::Checkpoint;

/// The library's options for the flags.
pub fn options(args: &PruneArgs) -> Result<Options, String> {
    let pattern =
        Pattern::parse(&args.pattern).map_err(|e| format!("--pattern {}: {e}", args.pattern))?;
    // Without --sparsity, N:M prunes every group (what its kernels need).
    let sparsity = args.sparsity.unwrap_or(match pattern.geometry() {
        Geometry::NInM { n, m } => n as f64 / m as f64,
        Geometry::Block { .. } => 0.5,
    });
    let opts = Options::new(pattern, sparsity)
        .scope(args.scope)
        .max_sparsity_ratio_per_op(args.max_sparsity_ratio_per_op)
        .min_sparsity_ratio_per_op(args.min_sparsity_ratio_per_op)
        .ties(args.ties)
        .cap(args.cap)
        .reduce(args.reduce)
        .criterion(args.criterion);
    let opts = match args.compat {
        Compat::Inc20 => opts.inc_compat(),
        Compat::Native => opts,
    };
    // Refused before any file is opened, in the flags' own names.
    opts.validate().map_err(|e| {
        let flag = |what: &'static str| match what {
            "target_sparsity" => "--sparsity",
            "max_sparsity_ratio_per_op" => "--max-sparsity-ratio-per-op",
            "min_sparsity_ratio_per_op" => "--min-sparsity-ratio-per-op",
            other => other,
        };
        match e.kind() {
            ErrorKind::BadRatio { what, value } => {
                format!("{} must be in [0, 1], got {value}", flag(what))
            }
            ErrorKind::BoundsCrossed { min, max } => format!(
                "--min-sparsity-ratio-per-op {min} is above --max-sparsity-ratio-per-op {max}"
            ),
            ErrorKind::RatioAbovePattern { sparsity, max } => format!(
                "--sparsity {sparsity} is above what --pattern {} can prune ({max})",
                args.pattern
            ),
            ErrorKind::RowScopeTies => "--scope row prunes exactly k units per row: it needs \
                                        --ties exact (not --ties inclusive or --compat inc)"
                .to_string(),
            _ => e.to_string(),
        }
    })?;
    Ok(opts)
}

/// The plan over every layer, at `level`, with scratch for the one-pass
/// selection (the sample, and the scores around the threshold: room for
/// 1/64 of the units), freed before it returns. On `threads` threads a
/// global selection is split (`Pruner::split_range`): each thread gathers
/// a contiguous run of layers holding about as many elements, and the parts
/// merge into the plan one thread would make, bit for bit. Returns the
/// totals and each layer's plan.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    layers: &[Layer<'_>],
    opts: &Options,
    level: Level,
    ckpt: &Checkpoint,
    layer_ids: &[usize],
    budget: Option<&str>,
    threads: usize,
) -> Result<(Summary, Vec<LayerPlan>), String> {
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let elements: usize = layers.iter().map(|l| l.scores.len()).sum();
    let units = elements / unit_elements(opts.pattern.geometry());
    let mut scratch = vec![0u64; Pruner::scratch_words(units as u64)];
    let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
    let planned = match threads {
        0 | 1 => pruner.plan(layers, opts, &mut plans),
        _ => split_plan(&mut pruner, layers, opts, threads, &mut plans),
    };
    let summary = planned.map_err(|e| {
        let text = library_error(&e, ckpt, layer_ids);
        match (
            e.kind(),
            budget,
            e.layer().map(|l| layers[l].target_sparsity),
        ) {
            (ErrorKind::RatioAbovePattern { .. }, Some(flag), Some(Some(_))) => format!(
                "{text}: the layer's target comes from {flag}; N:M targets must stay at most \
                 N/M (lower --sparsity, or LAMBDA, or the file's value)"
            ),
            _ => text,
        }
    })?;
    Ok((summary, plans))
}

/// [`plan`]'s selection on `threads` threads: the layers cut into runs of
/// about equal elements, each gathered on its own thread, merged in order;
/// in one call where the selection does not split (local or row scope,
/// nothing to prune) or a part's candidates outgrow its words.
fn split_plan(
    pruner: &mut Pruner<'_>,
    layers: &[Layer<'_>],
    opts: &Options,
    threads: usize,
    plans: &mut [LayerPlan],
) -> Result<Summary, prunemask::Error> {
    let Some(range) = pruner.split_range(layers, opts)? else {
        return pruner.plan(layers, opts, plans);
    };
    let runs = runs_of(layers, threads);
    let shared = &*pruner;
    let parts: Vec<Result<Option<Vec<u64>>, prunemask::Error>> = std::thread::scope(|s| {
        let handles: Vec<_> = (runs.windows(2))
            .map(|w| {
                let (first, part) = (w[0], &layers[w[0]..w[1]]);
                s.spawn(move || {
                    let elements: u64 = part.iter().map(|l| l.scores.len() as u64).sum();
                    let mut out = vec![0u64; SplitRange::part_words(part.len(), elements)];
                    let used = shared.gather_part(part, first, opts, &range, &mut out)?;
                    Ok(used.map(|n| {
                        out.truncate(n);
                        out
                    }))
                })
            })
            .collect();
        (handles.into_iter())
            .map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    // The first part's error is the first layer's, as one pass reports it.
    let mut words = Vec::with_capacity(parts.len());
    for part in parts {
        match part? {
            Some(w) => words.push(w),
            None => return pruner.plan(layers, opts, plans),
        }
    }
    let words: Vec<&[u64]> = words.iter().map(|w| &w[..]).collect();
    pruner.plan_split(layers, opts, &range, &words, plans)
}

/// Cuts `0..layers.len()` into at most `threads` runs of about equal
/// elements: the run boundaries, from 0 to the end.
fn runs_of(layers: &[Layer<'_>], threads: usize) -> Vec<usize> {
    let bytes: Vec<u64> = layers.iter().map(|l| l.scores.len() as u64).collect();
    let total: u64 = bytes.iter().sum();
    let mut cuts = vec![0];
    let mut seen = 0u64;
    for (i, b) in bytes.iter().enumerate() {
        seen += b;
        let k = cuts.len() as u64;
        if k < threads as u64 && seen * threads as u64 >= total * k && i + 1 < layers.len() {
            cuts.push(i + 1);
        }
    }
    cuts.push(layers.len());
    cuts.dedup();
    cuts
}

/// A library error, naming the file and tensor instead of a layer index.
fn library_error(e: &prunemask::Error, ckpt: &Checkpoint, layer_ids: &[usize]) -> String {
    match e.layer() {
        Some(l) => format!("{}: {}", ckpt.locate(layer_ids[l]), e.kind()),
        None => e.to_string(),
    }
}

/// Totals of layers locked one at a time.
pub fn lock_totals(reports: &[LayerReport]) -> Summary {
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
fn unit_elements(geometry: Geometry) -> usize {
    let side = |e: Extent| match e {
        Extent::Fixed(n) => n,
        Extent::Channel => 1,
    };
    match geometry {
        Geometry::NInM { m, .. } => m.max(1),
        Geometry::Block { n, m } => (side(n) * side(m)).max(1),
    }
}
