//! `qmgr`: the command-line tool of the qmgr library, what `bitsadmin` is to
//! BITS. It uses only the safe Rust API (`qmgr::Manager`, `qmgr::Job`).
//!
//! - `transfer URL PATH [URL PATH ...]`: one job, watched to the end with a
//!   progress bar (plain lines when stderr is not a terminal), completed on
//!   success;
//! - `create`, `add`, `resume`, `suspend`, `cancel`, `complete`, `list`,
//!   `info`, `monitor`, `run`: the jobs of a state directory.
//!
//! Exit codes: see [`fail`]. Every error is one line on stderr naming the code.
#![forbid(unsafe_code)]

mod cli;
mod fail;
mod format;
mod interrupt;
mod jobs;
mod paths;
mod report;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::fail::{Failure, EXIT_USAGE};

/// Clap's complaint as one line: its first paragraph, blanks folded.
fn clap_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let first = text.split("\n\n").next().unwrap_or("");
    let first = first.trim().strip_prefix("error:").unwrap_or(first);
    format!(
        "{} (see 'qmgr --help')",
        first.split_whitespace().collect::<Vec<_>>().join(" ")
    )
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => match err.kind() {
            ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => err.exit(),
            _ => {
                Failure::usage(clap_line(&err)).print();
                return ExitCode::from(EXIT_USAGE);
            }
        },
    };
    let state_dir: Option<PathBuf> = cli.state.clone().or_else(|| {
        std::env::var_os("QMGR_STATE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let result = match &cli.command {
        Command::Transfer(args) => transfer::run(state_dir.as_ref(), args),
        other => jobs::run(state_dir.as_ref(), other),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print();
            ExitCode::from(failure.exit)
        }
    }
}
