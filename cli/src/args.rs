//! The command line as typed: clap's view of the flags, nothing resolved.
//! [`crate::settings`] turns a [`PruneArgs`] into what a run uses (the
//! library's `Options`, the name filter, the thread count).

use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{Args, Parser, Subcommand};
use prunemask::{CapMode, Compat, Criterion, Reduce, Scope, Ties};

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
    /// Check that a checkpoint is pruned to a pattern: N:M groups (or
    /// zero blocks) along the right axis, no `-0.0`, and the shapes sparse
    /// kernels need. Exit status 0 when every target passes, 1 when one
    /// does not, 2 on bad input.
    Verify(VerifyArgs),
}

/// Which tensors are targets and how they are laid out (`prune` and
/// `verify` decide the same way).
#[derive(Args, Debug)]
pub struct TargetArgs {
    /// Only tensors whose name matches this regex; it also lifts the
    /// defaults that keep embeddings, the output head, norms and biases dense.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
    /// Keep tensors whose name matches this regex dense (e.g. 'embed|lm_head').
    #[arg(long, value_name = "REGEX")]
    pub exclude: Option<String>,
    /// Matrices whose name matches are stored [in, out] (transformers'
    /// Conv1D), so N:M groups and blocks run down dimension 0 [default:
    /// every matrix of a model whose config.json has a GPT-2-family
    /// model_type]
    #[arg(long, value_name = "REGEX")]
    pub transposed: Option<String>,
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// A safetensors file, a model directory or a `*.safetensors.index.json`.
    #[arg(value_name = "PATH")]
    pub path: PathBuf,
    /// The pattern the targets must hold: N:M (2:4, ...) or NxM blocks.
    #[arg(long, default_value = "2:4")]
    pub pattern: String,
    /// For block patterns: the least share of all-zero blocks over all
    /// targets (default: any, but every target must have one).
    #[arg(long, value_name = "R")]
    pub sparsity: Option<f64>,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
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
    /// A model directory (one safetensors file or shards with their index,
    /// beside config and tokenizer files), a safetensors file or an index;
    /// without it, a BERT-base-shaped model is made in memory.
    #[arg(value_name = "INPUT")]
    pub file: Option<PathBuf>,
    /// Pattern: NxM (4x1, 1x4, channelx1, ...), N:M (2:4, ...), 1x1.
    #[arg(long, default_value = "2:4")]
    pub pattern: String,
    /// Target sparsity in [0, 1] (default: N/M for N:M, which prunes every
    /// group, as sparse kernels need; 0.5 for blocks).
    #[arg(long, allow_negative_numbers = true)]
    pub sparsity: Option<f64>,
    /// global: one threshold over all layers; local: one per layer; row:
    /// one per output row of each layer (Wanda's comparison group), each
    /// row pruned exactly floor(sparsity x its units).
    #[arg(
        long,
        visible_alias = "domain",
        value_parser = named::<Scope>(Scope::NAMES),
        default_value_t = Scope::Global
    )]
    pub scope: Scope,
    /// Most a layer may be pruned.
    #[arg(
        long,
        visible_alias = "max-layer-sparsity",
        value_name = "R",
        default_value_t = 0.98
    )]
    pub max_sparsity_ratio_per_op: f64,
    /// Least a layer must be pruned.
    #[arg(
        long,
        visible_alias = "min-layer-sparsity",
        value_name = "R",
        default_value_t = 0.0
    )]
    pub min_sparsity_ratio_per_op: f64,
    /// Prune exactly k units, or every unit `<=` the threshold.
    #[arg(
        long,
        value_parser = named::<Ties>(Ties::NAMES),
        default_value_t = Ties::Exact
    )]
    pub ties: Ties,
    /// Layers at --max-sparsity-ratio-per-op give their share to the others
    /// (redistribute), or not (seed, INC 2.0).
    #[arg(
        long,
        value_parser = named::<CapMode>(CapMode::NAMES),
        default_value_t = CapMode::Redistribute
    )]
    pub cap: CapMode,
    /// Block score (l2 ranks by the squared norm).
    #[arg(
        long,
        value_parser = named::<Reduce>(Reduce::NAMES),
        default_value_t = Reduce::Mean
    )]
    pub reduce: Reduce,
    /// magnitude = |w|; wanda = |w| x the input feature's activation norm
    /// (needs --activations); scores = the tensor values as they are.
    #[arg(
        long,
        value_parser = named::<Criterion>(Criterion::NAMES),
        default_value_t = Criterion::Magnitude
    )]
    pub criterion: Criterion,
    /// Wanda's statistics: a safetensors file holding, under each target
    /// weight's own name, an f32 vector of ||X_j||_2, the L2 norm of input
    /// feature j over the calibration tokens (one value per input feature;
    /// scripts/activation_stats.py writes it).
    #[arg(long, value_name = "FILE")]
    pub activations: Option<PathBuf>,
    /// Layer budgets: a JSON object from tensor names to their own target
    /// sparsity ({"encoder.layer.0.attention.self.query.weight": 0.4, ...});
    /// targets it does not name take --sparsity. Needs --scope local or row.
    #[arg(long, value_name = "FILE", conflicts_with = "owl")]
    pub layer_sparsity: Option<PathBuf>,
    /// OWL layer budgets (Yin et al., 2024): each block of layers (names up
    /// to their first number, e.g. `model.layers.7`) is pruned less the
    /// larger its share of scores above M times their mean; the targets
    /// span 2 x LAMBDA and average --sparsity (the paper: 5,0.08);
    /// layers in no numbered block keep --sparsity. Needs --scope local or
    /// row.
    #[arg(long, value_name = "M,LAMBDA", value_parser = owl_pair, allow_hyphen_values = true)]
    pub owl: Option<Owl>,
    /// `inc`: INC 2.0 behaviour (inclusive ties, seed cap, mean reduction,
    /// INC's `Nxchannel` conv blocks); it overrides --ties, --cap and --reduce.
    #[arg(
        long,
        value_parser = named::<Compat>(Compat::NAMES),
        default_value_t = Compat::Native
    )]
    pub compat: Compat,
    /// Pattern-lock masks from the weights instead of selection.
    #[arg(long)]
    pub lock: bool,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// Write u8 0/1 masks (same names and shapes): a file for a single-file
    /// input, a directory of shards with an index for a sharded one.
    #[arg(long, value_name = "OUT")]
    pub masks: Option<PathBuf>,
    /// Write the pruned model (same dtypes, names and shards, pruned
    /// positions +0.0, every other tensor byte for byte): a directory for a
    /// model directory (with every other file of it copied), else as for
    /// --masks.
    #[arg(long, value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Threads for the selection (a global one split by layers, merged
    /// into the same plan) and for masks and outputs (each writer holds
    /// one mask buffer of its tensor) [default: every core; up to 4
    /// writers]
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,
}

/// `--owl M,LAMBDA`: the outlier multiple and the spread of the targets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Owl {
    /// Outliers are scores above `m` times the mean score of their block.
    pub m: f64,
    /// Block targets lie within `target +- lambda`.
    pub lambda: f64,
}

fn owl_pair(text: &str) -> Result<Owl, String> {
    let bad = || format!("`{text}` is not M,LAMBDA (two numbers, e.g. 5,0.08)");
    let (m, lambda) = text.split_once(',').ok_or_else(bad)?;
    let number = |s: &str| s.trim().parse::<f64>().map_err(|_| bad());
    Ok(Owl {
        m: number(m)?,
        lambda: number(lambda)?,
    })
}

/// A value parser for one of the library's option words: clap checks the
/// value against `names` (so `--help` and its errors list them), then the
/// type's own `FromStr` reads it.
fn named<T>(names: &'static [&'static str]) -> impl TypedValueParser<Value = T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Debug,
{
    PossibleValuesParser::new(names).map(|name| {
        name.parse()
            .expect("a name in the type's NAMES parses with its FromStr")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn prune(args: &[&str]) -> PruneArgs {
        let argv = ["prunemask", "prune"].iter().chain(args);
        match Cli::try_parse_from(argv).unwrap().command_or_demo() {
            Command::Prune(p) => p,
            Command::Verify(_) => unreachable!("parsed `prune`"),
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
            .command_or_demo()
        else {
            panic!("not prune")
        };
        assert_eq!(p.file, None);
        assert_eq!((p.pattern.as_str(), p.sparsity), ("2:4", None));
        assert_eq!(p.scope, Scope::Global);
        assert_eq!(
            (p.max_sparsity_ratio_per_op, p.min_sparsity_ratio_per_op),
            (0.98, 0.0)
        );
        assert_eq!((p.ties, p.cap), (Ties::Exact, CapMode::Redistribute));
        assert_eq!(
            (p.reduce, p.criterion),
            (Reduce::Mean, Criterion::Magnitude)
        );
        assert_eq!(
            (p.compat, p.lock, p.json, p.threads),
            (Compat::Native, false, false, None)
        );
    }

    #[test]
    fn scope_and_its_alias_domain() {
        assert_eq!(prune(&["--scope", "local"]).scope, Scope::Local);
        assert_eq!(prune(&["--domain", "local"]).scope, Scope::Local);
        assert_eq!(prune(&["--domain=global"]).scope, Scope::Global);
    }

    #[test]
    fn per_op_bounds_and_their_old_names() {
        for (max, min) in [
            ("--max-sparsity-ratio-per-op", "--min-sparsity-ratio-per-op"),
            ("--max-layer-sparsity", "--min-layer-sparsity"),
        ] {
            let p = prune(&[max, "0.75", min, "0.25"]);
            assert_eq!(
                (p.max_sparsity_ratio_per_op, p.min_sparsity_ratio_per_op),
                (0.75, 0.25),
                "{max} {min}"
            );
        }
    }

    /// Every name the library gives an option word is a value of its flag,
    /// read as the library reads it; any other is refused, naming them.
    #[test]
    fn option_words_are_the_library_names() {
        fn each<T: FromStr + PartialEq + std::fmt::Debug>(
            flag: &str,
            names: &[&str],
            get: fn(&PruneArgs) -> T,
        ) where
            T::Err: std::fmt::Debug,
        {
            for name in names {
                assert_eq!(
                    get(&prune(&[flag, name])),
                    name.parse().unwrap(),
                    "{flag} {name}"
                );
            }
            let argv = ["prunemask", "prune", flag, "bogus"];
            let err = Cli::try_parse_from(argv).unwrap_err().to_string();
            assert!(err.contains("bogus"), "{err}");
            for name in names {
                assert!(err.contains(name), "{flag}: {name} is not in {err}");
            }
        }
        each("--scope", Scope::NAMES, |p| p.scope);
        each("--ties", Ties::NAMES, |p| p.ties);
        each("--cap", CapMode::NAMES, |p| p.cap);
        each("--reduce", Reduce::NAMES, |p| p.reduce);
        each("--criterion", Criterion::NAMES, |p| p.criterion);
        each("--compat", Compat::NAMES, |p| p.compat);
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
        assert_eq!((p.compat, p.threads), (Compat::Inc20, Some(3)));
    }

    #[test]
    fn calibration_and_budget_flags() {
        let p = prune(&[
            "--criterion",
            "wanda",
            "--activations",
            "stats.safetensors",
            "--scope",
            "row",
            "--owl",
            "5,0.08",
        ]);
        assert_eq!((p.criterion, p.scope), (Criterion::Wanda, Scope::Row));
        assert_eq!(
            p.activations.as_deref(),
            Some(std::path::Path::new("stats.safetensors"))
        );
        assert_eq!(
            p.owl,
            Some(Owl {
                m: 5.0,
                lambda: 0.08
            })
        );
        assert_eq!(prune(&[]).owl, None);
        for bad in ["5", "5,", "a,0.1", "5;0.1"] {
            let err = Cli::try_parse_from(["prunemask", "prune", "--owl", bad]).unwrap_err();
            assert!(err.to_string().contains("M,LAMBDA"), "{bad}: {err}");
        }
        let both = [
            "prunemask",
            "prune",
            "--owl",
            "5,0.1",
            "--layer-sparsity",
            "t.json",
        ];
        let err = Cli::try_parse_from(both).unwrap_err().to_string();
        assert!(err.contains("cannot be used with"), "{err}");
    }
}
