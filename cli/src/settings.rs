//! What a `prune` run uses, resolved from the flags ([`PruneArgs`]): the
//! library's options, the name filter, the thread count, the outputs.
//! Everything that can be refused before any file is opened is refused here.

use std::path::PathBuf;

use prunemask::{Level, Options};

use crate::args::PruneArgs;
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
    /// Threads writing masks and outputs.
    pub threads: usize,
    /// The masks' metadata entry `prunemask`: the pattern as it was typed
    /// and the sparsity.
    pub mask_note: String,
}

impl Settings {
    /// Resolves the flags; a one-line error for a bad pattern, regex, or
    /// outputs that name the same path.
    pub fn resolve(args: PruneArgs) -> Result<Settings, String> {
        let opts = select::options(&args)?;
        let mask_note = format!(
            "masks, pattern {}, sparsity {}",
            args.pattern, opts.target_sparsity
        );
        let filter = Filter::from_args(&args.targets)?;
        if args.masks.is_some() && args.masks == args.output {
            return Err("--masks and --output name the same path".into());
        }
        let threads = args
            .threads
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get().min(4)));
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
            mask_note,
        })
    }
}
