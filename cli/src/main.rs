//! `prunemask`: pruning masks, and pruned weights, for a whole model.
//!
//! `prunemask prune [INPUT]`: with no input it builds a deterministic
//! BERT-base-shaped model in memory and prunes it with the options given
//! (default: 2:4, global, 0.5); `prunemask` alone does the same. With a
//! model directory, a safetensors file or a `*.safetensors.index.json`, it
//! memory-maps every shard and prunes the weights of the network body
//! (matrices and conv weights; embeddings, heads, norms and biases stay
//! dense unless `--include` names them: [`filter`]); `--output` of a
//! model directory is a model directory that loads where the input did.
//!
//! `prunemask verify PATH --pattern 2:4` checks that a checkpoint holds a
//! pattern ([`verify`]): exit status 0 when it does, 1 when it does not, 2
//! on bad input.
//!
//! ```text
//! cargo run --release -p prunemask-cli
//! cargo run --release -p prunemask-cli -- prune model.safetensors --pattern 4x1 --sparsity 0.8 --masks masks.safetensors
//! cargo run --release -p prunemask-cli -- prune llama/ --output llama-2of4/ --json
//! cargo run --release -p prunemask-cli -- verify llama-2of4/ --pattern 2:4
//! ```
//!
//! The flags as typed are [`args`]; what a run uses, resolved from them, is
//! [`settings`]; the run itself is [`prune`]. The calls into the library
//! are in [`select`] (options, the plan) and [`produce`] (masks, lock).

mod args;
mod budget;
mod calibration;
mod checkpoint;
mod demo;
mod filter;
mod interrupt;
mod produce;
mod progress;
mod prune;
mod report;
mod select;
mod settings;
mod verify;
mod write;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command};
use settings::Settings;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            eprintln!("{}", text.lines().next().unwrap_or("bad arguments"));
            return ExitCode::from(2);
        }
    };
    interrupt::install();
    match cli.command_or_demo() {
        Command::Prune(args) => {
            let run = Settings::resolve(args).and_then(|set| Ok((prune::run(&set)?, set.json)));
            match run {
                Ok((report, json)) => {
                    if json {
                        println!("{}", report.json());
                    } else {
                        report.print_table();
                    }
                    ExitCode::SUCCESS
                }
                Err(msg) => {
                    eprintln!("error: {msg}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Verify(args) => match verify::run(&args) {
            Ok(verdict) => {
                if args.json {
                    println!("{}", verdict.json());
                } else {
                    verdict.print_table();
                }
                ExitCode::from(if verdict.passed { 0 } else { 1 })
            }
            Err(msg) => {
                eprintln!("error: {msg}");
                ExitCode::from(2)
            }
        },
    }
}
