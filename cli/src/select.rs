//! The selection, and the library's options and errors: the calls into
//! `prunemask` that decide what is pruned (the masks themselves are written
//! in [`crate::produce`]).

use prunemask::{
    CapMode, Criterion, Domain, Layer, LayerReport, Options, Pattern, Reduce, Status, Summary, Ties,
};

use crate::args::{CapArg, CriterionArg, PruneArgs, ReduceArg, ScopeArg, TiesArg};
use crate::checkpoint::Checkpoint;

/// The library's options for the flags.
pub fn options(args: &PruneArgs) -> Result<Options, String> {
    let pattern = Pattern::parse(&args.pattern).map_err(|e| e.to_string())?;
    let mut opts = Options::new(pattern, args.sparsity)
        .domain(match args.scope {
            ScopeArg::Global => Domain::Global,
            ScopeArg::Local => Domain::Local,
        })
        .max_layer(args.max_layer_sparsity)
        .min_layer(args.min_layer_sparsity)
        .ties(match args.ties {
            TiesArg::Exact => Ties::Exact,
            TiesArg::Inclusive => Ties::Inclusive,
        })
        .cap(match args.cap {
            CapArg::Redistribute => CapMode::Redistribute,
            CapArg::Seed => CapMode::Seed,
        })
        .reduce(match args.reduce {
            ReduceArg::Mean => Reduce::Mean,
            ReduceArg::Sum => Reduce::Sum,
            ReduceArg::Max => Reduce::Max,
            ReduceArg::L2 => Reduce::L2,
        })
        .criterion(match args.criterion {
            CriterionArg::Magnitude => Criterion::Magnitude,
            CriterionArg::Scores => Criterion::Scores,
        });
    if args.compat.is_some() {
        opts = opts.inc_compat();
    }
    Ok(opts)
}

/// The plan over every layer: one `prunemask::plan_with` call, on this
/// thread, with scratch for the one-pass selection (the sample, and the
/// scores around the threshold: room for 1/64 of the units), freed before
/// it returns. Returns the totals and each layer's report.
pub fn plan(
    layers: &[Layer<'_>],
    opts: &Options,
    ckpt: &Checkpoint,
    layer_ids: &[usize],
) -> Result<(Summary, Vec<LayerReport>), String> {
    let mut reports = vec![LayerReport::default(); layers.len()];
    let elements: usize = layers.iter().map(|l| l.scores.len()).sum();
    let units = elements / unit_elements(opts.pattern.geometry());
    let mut scratch = vec![0u64; prunemask::scratch_words(units as u64)];
    let summary = prunemask::plan_with(layers, opts, &mut reports, &mut scratch)
        .map_err(|e| library_error(&e, ckpt, layer_ids))?;
    Ok((summary, reports))
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
