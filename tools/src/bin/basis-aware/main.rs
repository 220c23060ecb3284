//! Command-line front end: decide BAT truncation on instance files, and write synthetic ones.
//! Any bad input exits with code 2 and one line on stderr; `--help` exits 0.

mod backend;
mod evaluate;
mod match_text;
mod model;
#[cfg(any(feature = "candle", feature = "eval"))]
mod plot;
mod sample;
mod steps;
mod synth;
mod truncate;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Parser, Subcommand};

/// Basis-aware threshold (BAT) truncation with checkable certificates, on instance files and
/// real models.
#[derive(Parser)]
#[command(name = "basis-aware", version, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Truncate(truncate::Args),
    Sample(sample::Args),
    Synth(synth::Args),
    Export(model::ExportArgs),
    Generate(model::GenerateArgs),
    Match(match_text::Args),
    Evaluate(evaluate::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return fail("expected a subcommand; see `basis-aware --help`");
        }
        Err(e) => return fail(&one_line(&e)),
    };
    let outcome = match cli.command {
        Command::Truncate(args) => truncate::run(args),
        Command::Sample(args) => sample::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Export(args) => model::export(args),
        Command::Generate(args) => model::generate(args),
        Command::Match(args) => match_text::run(args),
        Command::Evaluate(args) => evaluate::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => fail(&message),
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("basis-aware: {message}");
    ExitCode::from(2)
}

/// clap's usage error on one line: its message and tips without the usage block, so that every
/// bad input reads the same way (one line on stderr, exit code 2).
fn one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let message: Vec<&str> = text
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:"))
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .collect();
    let message = message.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    format!("{message}; see `basis-aware --help`")
}
