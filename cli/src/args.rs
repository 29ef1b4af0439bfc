//! The command line as typed: clap's view of the flags, nothing resolved.
//! [`crate::settings`] turns a [`PruneArgs`] into what a run uses (the
//! library's `Options`, the name filter, the thread count).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "prunemask",
    version,
    about = "Pruning masks and pruned weights for neural-network checkpoints",
    long_about = "Pruning masks and pruned weights for neural-network checkpoints.\n\n\
                  Without a subcommand, prunes a BERT-base-shaped model made in memory \
                  (as `prunemask prune` with no input)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Prune a safetensors file, a sharded checkpoint, or (with no input) a
    /// BERT-base-shaped demo model: masks, pruned weights and a report.
    Prune(PruneArgs),
}

impl Cli {
    /// The subcommand to run: `prune` with its defaults (the demo model)
    /// when none is given.
    pub fn command_or_demo(self) -> Command {
        self.command.unwrap_or_else(|| {
            let demo = Cli::parse_from(["prunemask", "prune"]);
            demo.command.expect("`prune` parses")
        })
    }
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// A safetensors file, a sharded checkpoint's directory or its
    /// `*.safetensors.index.json`; without it, a BERT-base-shaped model is
    /// made in memory.
    #[arg(value_name = "INPUT")]
    pub file: Option<PathBuf>,
    /// Pattern: NxM (4x1, 1x4, channelx1, ...), N:M (2:4, ...), 1x1.
    #[arg(long, default_value = "2:4")]
    pub pattern: String,
    /// Target sparsity in [0, 1].
    #[arg(long, default_value_t = 0.5)]
    pub sparsity: f64,
    /// One threshold for all layers (global), or one per layer (local).
    #[arg(long, visible_alias = "domain", value_enum, default_value_t = ScopeArg::Global)]
    pub scope: ScopeArg,
    /// Most a layer may be pruned.
    #[arg(long, default_value_t = 0.98)]
    pub max_layer_sparsity: f64,
    /// Least a layer must be pruned.
    #[arg(long, default_value_t = 0.0)]
    pub min_layer_sparsity: f64,
    /// Prune exactly k units, or every unit `<=` the threshold.
    #[arg(long, value_enum, default_value_t = TiesArg::Exact)]
    pub ties: TiesArg,
    /// Layers at --max-layer-sparsity give their share to the others
    /// (redistribute), or not (seed, INC 2.0).
    #[arg(long, value_enum, default_value_t = CapArg::Redistribute)]
    pub cap: CapArg,
    /// Block score (l2 ranks by the squared norm).
    #[arg(long, value_enum, default_value_t = ReduceArg::Mean)]
    pub reduce: ReduceArg,
    /// magnitude = |w|; scores = the tensor values as they are.
    #[arg(long, value_enum, default_value_t = CriterionArg::Magnitude)]
    pub criterion: CriterionArg,
    /// `inc`: INC 2.0 behaviour (inclusive ties, seed cap, mean reduction).
    #[arg(long, value_enum)]
    pub compat: Option<CompatArg>,
    /// Pattern-lock masks from the weights instead of selection.
    #[arg(long)]
    pub lock: bool,
    /// Prune only tensors whose name matches this regex.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
    /// Keep tensors whose name matches this regex dense (e.g. 'embed|lm_head').
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Write u8 0/1 masks (same names and shapes): a file for a single-file
    /// input, a directory of shards with an index for a sharded one.
    #[arg(long, value_name = "OUT")]
    pub masks: Option<PathBuf>,
    /// Write the pruned weights (same dtypes, names and shards; every other
    /// tensor byte for byte): a file or a directory, as for --masks.
    #[arg(long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Threads writing masks and outputs (default: the cores, at most 4;
    /// each holds one mask buffer). The selection itself runs on one.
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScopeArg {
    Global,
    Local,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TiesArg {
    Exact,
    Inclusive,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CapArg {
    Redistribute,
    Seed,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ReduceArg {
    Mean,
    Sum,
    Max,
    L2,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CriterionArg {
    Magnitude,
    Scores,
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompatArg {
    Inc,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn prune(args: &[&str]) -> PruneArgs {
        let argv = ["prunemask", "prune"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command_or_demo() {
            Command::Prune(p) => p,
        }
    }

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_subcommand_is_prune_with_its_defaults() {
        let Command::Prune(p) = Cli::try_parse_from(["prunemask"])
            .unwrap()
            .command_or_demo();
        assert_eq!(p.file, None);
        assert_eq!((p.pattern.as_str(), p.sparsity), ("2:4", 0.5));
        assert_eq!(p.scope, ScopeArg::Global);
        assert_eq!((p.max_layer_sparsity, p.min_layer_sparsity), (0.98, 0.0));
        assert_eq!((p.ties, p.cap), (TiesArg::Exact, CapArg::Redistribute));
        assert_eq!(
            (p.reduce, p.criterion),
            (ReduceArg::Mean, CriterionArg::Magnitude)
        );
        assert_eq!(
            (p.compat, p.lock, p.json, p.threads),
            (None, false, false, None)
        );
    }

    #[test]
    fn scope_and_its_alias_domain() {
        assert_eq!(prune(&["--scope", "local"]).scope, ScopeArg::Local);
        assert_eq!(prune(&["--domain", "local"]).scope, ScopeArg::Local);
        assert_eq!(prune(&["--domain=global"]).scope, ScopeArg::Global);
    }

    #[test]
    fn input_and_flags() {
        let p = prune(&[
            "m.safetensors",
            "--pattern",
            "4x1",
            "--compat",
            "inc",
            "--threads",
            "3",
        ]);
        assert_eq!(
            p.file.as_deref(),
            Some(std::path::Path::new("m.safetensors"))
        );
        assert_eq!(p.pattern, "4x1");
        assert_eq!((p.compat, p.threads), (Some(CompatArg::Inc), Some(3)));
    }
}
