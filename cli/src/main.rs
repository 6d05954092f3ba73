//! `qmgr`: the command-line tool of the qmgr library, what `bitsadmin` is to
//! BITS. It uses only the safe Rust API (`qmgr::Manager`, `qmgr::Job`).
//!
//! - `transfer URL PATH [URL PATH ...]`: one job, watched to the end with a
//!   progress bar (plain lines when stderr is not a terminal), completed on
//!   success;
//! - `create`, `add`, `resume`, `suspend`, `cancel`, `complete`, `set`,
//!   `list`, `info`, `monitor`, `replace-prefix`: the jobs of the qmgr
//!   daemon (`Manager::connect`), or of a state directory in this process
//!   with `--state`;
//! - `run`: carries on the jobs of a state directory (`--state`).
//!
//! Exit codes: see [`fail`]. Every error is one line on stderr naming the code.
#![forbid(unsafe_code)]

/// `println!` that drops the line when stdout is closed (`qmgr list | head
/// -1`) instead of panicking: Rust ignores SIGPIPE, so the write fails.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `print!` that drops the text when stdout is closed.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that drops the line when stderr is closed (`qmgr run 2>&1 |
/// head -2`): the work goes on, and the exit code still tells how it went.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod cli;
mod fail;
mod format;
mod interrupt;
mod jobs;
mod options;
mod paths;
mod report;
mod transfer;

use std::io::Write as _;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

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
    // --address names a daemon: $QMGR_STATE does not count then.
    let state = match &cli.address {
        Some(_) => Ok(None),
        None => paths::state_dir(cli.state.clone()),
    };
    let result = state.and_then(|state_dir| match &cli.command {
        Command::Transfer(args) => transfer::run(state_dir.as_ref(), args),
        Command::Upload(args) => transfer::upload(state_dir.as_ref(), args),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "qmgr", &mut text);
            let _ = std::io::stdout().write_all(&text);
            Ok(())
        }
        Command::Manpage { dir } => clap_mangen::generate_to(Cli::command(), dir).map_err(|e| {
            Failure::usage(format!(
                "cannot write the manual pages into '{}': {e}",
                dir.display()
            ))
        }),
        other => jobs::run(
            &jobs::Where {
                state_dir: state_dir.as_ref(),
                address: cli.address.as_deref(),
            },
            other,
        ),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print();
            ExitCode::from(failure.exit)
        }
    }
}
