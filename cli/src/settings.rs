//! What a `prune` run uses, resolved from the flags ([`PruneArgs`]): the
//! library's options, the name filter, the thread count, the outputs.
//! Everything that can be refused before any file is opened is refused here.

use std::path::PathBuf;

use prunemask::{Criterion, Level, Options, Pruner, Scope};

use crate::args::{Owl, PruneArgs};
use crate::filter::Filter;
use crate::select;

pub struct Settings {
    /// The checkpoint; `None` for the in-memory BERT-base-shaped model.
    pub input: Option<PathBuf>,
    pub opts: Options,
    /// The SIMD level the library runs at (the best this CPU has).
    pub level: Level,
    /// Pattern lock instead of selection.
    pub lock: bool,
    pub filter: Filter,
    pub masks: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub json: bool,
    /// Threads of the selection (and OWL's scoring): `--threads`, else
    /// every core.
    pub threads: usize,
    /// Threads writing masks and outputs: `--threads`, else every core up
    /// to [`WRITERS`] (each holds a mask buffer of the largest tensor).
    pub writers: usize,
    /// Wanda's statistics (`--activations`), for `--criterion wanda`.
    pub activations: Option<PathBuf>,
    /// Layer budgets from a file (`--layer-sparsity`).
    pub layer_sparsity: Option<PathBuf>,
    /// Layer budgets by OWL (`--owl M,LAMBDA`).
    pub owl: Option<Owl>,
    /// The flag the layer budgets come from, if any (for messages).
    pub budget: Option<&'static str>,
    /// The masks' metadata entry `prunemask`: the pattern as it was typed
    /// and the sparsity.
    pub mask_note: String,
}

/// Mask writers by default: past a few, writing is bound by the disk, and
/// each writer holds a mask of the largest tensor (1 GiB for a 128256 x
/// 8192 embedding), so every core of a large machine would hold tens of GB.
pub const WRITERS: usize = 4;

impl Settings {
    /// Resolves the flags; a one-line error for a bad pattern, regex, or
    /// outputs that name the same path.
    pub fn resolve(args: PruneArgs) -> Result<Settings, String> {
        let opts = select::options(&args)?;
        let mask_note = format!(
            "masks, pattern {}, sparsity {}",
            args.pattern, opts.target_sparsity
        );
        let budget = calibration_and_budgets(&args, &opts)?;
        let filter = Filter::from_args(&args.targets)?;
        if args.masks.is_some() && args.masks == args.output {
            return Err("--masks and --output name the same path".into());
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = args.threads.map_or(cores, usize::from);
        let writers = args.threads.map_or(cores.min(WRITERS), usize::from);
        Ok(Settings {
            input: args.file,
            opts,
            level: Level::best(),
            lock: args.lock,
            filter,
            masks: args.masks,
            output: args.output,
            json: args.json,
            threads,
            writers,
            mask_note,
            activations: args.activations,
            layer_sparsity: args.layer_sparsity,
            owl: args.owl,
            budget,
        })
    }
}

/// `--criterion wanda` with `--activations` (and neither alone); layer
/// budgets under local or row scope, not with `--lock`; OWL's M and LAMBDA
/// as the library checks them. Returns the flag the budgets come from.
fn calibration_and_budgets(
    args: &PruneArgs,
    opts: &Options,
) -> Result<Option<&'static str>, String> {
    match (opts.criterion, &args.activations) {
        (Criterion::Wanda, None) => {
            return Err(
                "--criterion wanda needs --activations FILE (each weight's input \
                        feature norms ||X_j||_2; scripts/activation_stats.py writes it)"
                    .into(),
            )
        }
        (c, Some(_)) if c != Criterion::Wanda => {
            return Err(format!(
                "--activations is read only by --criterion wanda (this run's criterion is {c}; \
                 add --criterion wanda)"
            ))
        }
        _ => {}
    }
    let budget = match (&args.layer_sparsity, args.owl) {
        (Some(_), _) => "--layer-sparsity",
        (None, Some(_)) => "--owl",
        (None, None) => return Ok(None),
    };
    if args.lock {
        return Err(format!(
            "{budget} sets layer targets for the selection; --lock keeps the weights' own zeros"
        ));
    }
    if opts.scope == Scope::Global {
        return Err(format!(
            "{budget} gives layers targets of their own: it needs --scope local or row (global \
             scope has one threshold for all layers)"
        ));
    }
    if let Some(owl) = args.owl {
        // The library's own checks, on no layers, before any file is read.
        let flag = format!("--owl {},{}", owl.m, owl.lambda);
        Pruner::new()
            .outliers(&[], opts.criterion, owl.m)
            .map_err(|e| format!("{flag}: {e}"))?;
        prunemask::owl_targets(&[], opts.target_sparsity, owl.lambda, &mut [])
            .map_err(|e| format!("{flag}: {e}"))?;
    }
    Ok(Some(budget))
}
