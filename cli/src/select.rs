//! The selection, and the library's options and errors: the calls into
//! `prunemask` that decide what is pruned (the masks themselves are written
//! in [`crate::produce`]).

use prunemask::ext::{Extent, Geometry};
use prunemask::{
    Compat, ErrorKind, Layer, LayerPlan, LayerReport, Level, Options, Pattern, Pruner, Status,
    Summary,
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

/// Pruned elements up to which the masks are made in the selection's own
/// pass (`prunemask_threads::prune`: one scoring pass instead of two),
/// held in memory together (1 GiB of masks at most); past it, or with
/// `PRUNEMASK_STREAM_MASKS=1` in the environment, each layer's mask is
/// written from the plan as the outputs stream.
pub const MADE_ELEMENTS: usize = 1 << 30;

/// The plan over every layer, at `level`, with scratch for the one-pass
/// selection (the sample, and the scores around the threshold: room for
/// 1/64 of the units), freed before it returns. On `threads` threads a
/// global selection is split (`Pruner::split_range`): each thread gathers
/// a contiguous run of layers holding about as many elements, and the parts
/// merge into the plan one thread would make, bit for bit. Returns the
/// totals, each layer's plan, and, up to [`MADE_ELEMENTS`], each layer's
/// mask, made in the same pass.
#[allow(clippy::too_many_arguments)]
pub fn plan(
    layers: &[Layer<'_>],
    opts: &Options,
    level: Level,
    ckpt: &Checkpoint,
    layer_ids: &[usize],
    budget: Option<&str>,
    threads: usize,
) -> Result<(Summary, Vec<LayerPlan>, Option<MaskArena>), String> {
    let mut plans = vec![LayerPlan::default(); layers.len()];
    let elements: usize = layers.iter().map(|l| l.scores.len()).sum();
    let units = elements / unit_elements(opts.pattern.geometry());
    let mut scratch = vec![0u64; Pruner::scratch_words(units as u64)];
    let mut pruner = Pruner::with_scratch(&mut scratch).level(level);
    let stream = std::env::var_os("PRUNEMASK_STREAM_MASKS").is_some_and(|v| v == "1");
    let mut masks = match elements <= MADE_ELEMENTS && !stream {
        true => MaskArena::new(layers.iter().map(|l| l.scores.len())),
        false => None,
    };
    let planned = match &mut masks {
        // Fresh memory: on an error it is dropped.
        Some(masks) => {
            let outs = masks.slices_mut();
            prunemask_threads::prune(&mut pruner, layers, opts, threads, &mut plans, outs)
        }
        None => prunemask_threads::plan(&mut pruner, layers, opts, threads, &mut plans),
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
    Ok((summary, plans, masks))
}

/// Every layer's mask in one anonymous map with huge pages advised: fresh
/// memory faults in 2 MiB pages instead of 4 KiB ones (about 40 faults
/// instead of 21,000 for 85M elements, each a trap that costs most in a
/// virtual machine).
pub struct MaskArena {
    map: memmap2::MmapMut,
    /// Where each layer's mask starts, and the end.
    starts: Vec<usize>,
}

impl MaskArena {
    /// Room for masks of these lengths; `None` if the map fails (the
    /// masks are then streamed).
    fn new(lens: impl Iterator<Item = usize>) -> Option<Self> {
        let mut starts = vec![0];
        for len in lens {
            starts.push(*starts.last()? + len);
        }
        let map = memmap2::MmapMut::map_anon((*starts.last()?).max(1)).ok()?;
        #[cfg(target_os = "linux")]
        {
            // Advice only: without huge pages the same bytes fault in
            // smaller pages.
            let _ = map.advise(memmap2::Advice::HugePage);
        }
        Some(MaskArena { map, starts })
    }

    /// Layer `l`'s mask.
    pub fn mask(&self, l: usize) -> &[u8] {
        &self.map[self.starts[l]..self.starts[l + 1]]
    }

    fn slices_mut(&mut self) -> Vec<&mut [u8]> {
        let mut rest = &mut self.map[..];
        let mut out = Vec::with_capacity(self.starts.len());
        for w in self.starts.windows(2) {
            let (mask, tail) = std::mem::take(&mut rest).split_at_mut(w[1] - w[0]);
            out.push(mask);
            rest = tail;
        }
        out
    }
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
