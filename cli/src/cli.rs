//! The command line, as clap sees it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use qmgr::{FileRange, Priority};

use crate::fail::EXIT_CODES_HELP;

/// qmgr: background transfers in the spirit of BITS, from the shell.
///
/// `transfer` copies files now, with a progress bar, in this process. The
/// job verbs (create, add, resume, list, ...) talk to the qmgr daemon
/// (qmgrd), which carries the jobs on by itself and shares them with the
/// user's other programs; with --state DIR they work on the jobs of a
/// state directory in this process instead, and `run` carries those on.
#[derive(Debug, Parser)]
#[command(name = "qmgr", version, after_help = EXIT_CODES_HELP)]
pub struct Cli {
    /// Work on the jobs of this state directory, in this process, instead
    /// of the daemon's (default: $QMGR_STATE; `transfer` without one keeps
    /// its job in memory). Only `create` and `transfer` make it if it does
    /// not exist
    #[arg(long, global = true, value_name = "DIR", conflicts_with = "address")]
    pub state: Option<PathBuf>,

    /// The qmgr daemon to talk to, a Varlink address (unix:/path/to/socket)
    /// (default: $QMGR_ADDRESS, else the per-user daemon's socket
    /// $XDG_RUNTIME_DIR/qmgr/io.qmgr if it exists, else the system
    /// daemon's /run/qmgr/io.qmgr)
    #[arg(long, global = true, value_name = "ADDR")]
    pub address: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transfer files now: create a job, show its progress, complete it.
    /// It runs in this process, daemon or not (with --state its job is
    /// kept there if interrupted, for `run`)
    Transfer(TransferArgs),
    /// Upload a file now (a resumable upload: tus 1.0, or the IETF draft
    /// with --protocol rufh): create an upload job, show its progress,
    /// complete it. It runs in this process (with --state its job is kept
    /// there if interrupted, for `run`)
    Upload(UploadArgs),
    /// Create a suspended job and print its id
    Create {
        /// The job's display name
        name: String,
        /// Create an upload job (one file, `add JOB URL FILE` sends FILE to URL)
        #[arg(long, conflicts_with = "upload_reply")]
        upload: bool,
        /// Create an upload-reply job (the IETF draft; the server's reply
        /// comes back)
        #[arg(long)]
        upload_reply: bool,
        /// The job's priority
        #[arg(long, value_enum, default_value_t = PriorityArg::Normal)]
        priority: PriorityArg,
        #[command(flatten)]
        options: JobOptions,
    },
    /// Add a file to a job
    Add {
        /// The job's id, or a unique prefix of it (at least 8 characters)
        job: String,
        /// http://, https:// or file:// URL, or a local path
        url: String,
        /// The destination path (made absolute)
        path: PathBuf,
        /// The SHA-256 the file must have (64 hex digits)
        #[arg(long, value_name = "HEX", value_parser = crate::format::parse_sha256)]
        sha256: Option<String>,
        /// Fetch only this range of the remote file (LENGTH a number or
        /// `eof`); repeat for more: the ranges are written one after
        /// another to PATH, in the order given (BITS's AddFileWithRanges)
        #[arg(long = "range", value_name = "OFFSET:LENGTH")]
        ranges: Vec<FileRange>,
        /// A local file that may hold blocks of the new one (the copy the
        /// device has): only the blocks it lacks are fetched, as zsync
        /// does; repeat for more seeds. Read, never written
        #[arg(long = "seed", value_name = "PATH")]
        seeds: Vec<PathBuf>,
        /// The zsync control file's URL (default: URL with `.zsync`
        /// appended); needs --seed
        #[arg(long, value_name = "URL", requires = "seeds")]
        zsync: Option<String>,
        /// Options set on the job (all its files) before the file is added
        #[command(flatten)]
        options: JobOptions,
    },
    /// Change a job's options (those not given stay as they are)
    Set {
        /// The job's id, or a unique prefix of it (at least 8 characters)
        job: String,
        /// The job's priority
        #[arg(long, value_enum)]
        priority: Option<PriorityArg>,
        /// A program (absolute path) to run when the job is transferred or
        /// fails, by the process that runs the job (the daemon, or `qmgr
        /// run` with --state), with QMGR_JOB_ID and QMGR_JOB_STATE in its
        /// environment; '' removes it (BITS's SetNotifyCmdLine)
        #[arg(long, value_name = "PROGRAM")]
        notify_cmd: Option<String>,
        /// The command line of --notify-cmd: its name first, then the
        /// arguments ("..." groups words; no shell)
        #[arg(long, value_name = "PARAMS", requires = "notify_cmd")]
        notify_params: Option<String>,
        #[command(flatten)]
        options: JobOptions,
    },
    /// Queue a job for transfer (SUSPENDED or ERROR → QUEUED)
    Resume(JobArg),
    /// Stop a job; its partial data is kept
    Suspend(JobArg),
    /// Cancel a job and delete its temporary files
    Cancel(JobArg),
    /// Move a job's transferred files into place and end the job. A job
    /// that is not TRANSFERRED is completed partially, as BITS does: the
    /// files not transferred are deleted with their partial data; on a
    /// terminal qmgr lists them and asks first, elsewhere it needs --partial
    Complete(CompleteArgs),
    /// Replace the start of the job's remote names (switch mirrors),
    /// keeping the bytes already transferred
    ReplacePrefix {
        /// The job's id, or a unique prefix of it (at least 8 characters)
        job: String,
        /// The text the remote names start with now
        old: String,
        /// What replaces it
        new: String,
    },
    /// List the jobs that are not completed or cancelled
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
        /// Every user's jobs, not only yours (the daemon's administrators:
        /// root or its admin group; QM_E_ACCESSDENIED for others)
        #[arg(long)]
        all_users: bool,
    },
    /// Show one job and its files
    Info {
        /// The job's id, or a unique prefix of it (at least 8 characters)
        job: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a live table of the jobs until none is active
    Monitor {
        /// Print one table and exit
        #[arg(long)]
        once: bool,
        /// Print JSON (one array of jobs per refresh, one per line)
        #[arg(long)]
        json: bool,
    },
    /// Transfer the jobs of the state directory (--state) until none is
    /// active, completing each job once transferred (the daemon's jobs
    /// run by themselves)
    Run {
        /// Leave transferred jobs in TRANSFERRED for a later `complete`
        #[arg(long)]
        no_complete: bool,
        /// Print no progress lines
        #[arg(long, short)]
        quiet: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell to complete for
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (qmgr.1, qmgr-VERB.1) into DIR, as `make
    /// install` installs them
    #[command(hide = true)]
    Manpage {
        /// The directory to write them into (it must exist)
        dir: PathBuf,
    },
}

/// The JOB argument of resume, suspend and cancel.
#[derive(Debug, Args)]
pub struct JobArg {
    /// The job's id, or a unique prefix of it (at least 8 characters)
    pub job: String,
}

/// The arguments of `complete`.
#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The job's id, or a unique prefix of it (at least 8 characters)
    pub job: String,
    /// Complete a job that is not TRANSFERRED without asking: its
    /// transferred files are moved into place, the others deleted with
    /// their partial data (exit 4)
    #[arg(long)]
    pub partial: bool,
}

/// The arguments of `transfer`.
#[derive(Debug, Args)]
pub struct TransferArgs {
    /// Pairs of source (http://, https://, file:// URL or local path) and
    /// destination path
    #[arg(required = true, num_args = 2.., value_names = ["URL", "PATH"])]
    pub pairs: Vec<String>,

    /// The job's priority
    #[arg(long, value_enum, default_value_t = PriorityArg::Normal)]
    pub priority: PriorityArg,

    /// The SHA-256 the file must have (64 hex digits); with several files,
    /// give it once per file, in file order
    #[arg(long, value_name = "HEX", value_parser = crate::format::parse_sha256)]
    pub sha256: Vec<String>,

    /// A local file that may hold blocks of the new one (the copy the
    /// device has): only the blocks it lacks are fetched, as zsync does;
    /// repeat for more seeds (one file to transfer). Read, never written
    #[arg(long = "seed", value_name = "PATH")]
    pub seeds: Vec<PathBuf>,

    /// The zsync control file's URL (default: URL with `.zsync`
    /// appended); needs --seed
    #[arg(long, value_name = "URL", requires = "seeds")]
    pub zsync: Option<String>,

    /// Bandwidth limit in bytes per second: 1048576, 500K, 20M, 1G (0: none)
    #[arg(long, value_name = "RATE", value_parser = crate::format::parse_rate)]
    pub max_bandwidth: Option<u64>,

    #[command(flatten)]
    pub options: JobOptions,

    /// Print no progress, only errors
    #[arg(long, short)]
    pub quiet: bool,

    /// Print the finished job as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `upload`.
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// The local file to send
    pub file: PathBuf,
    /// Where the upload is created (tus: the server's creation URL)
    pub url: String,

    /// The protocol: tus (tus 1.0, the default) or rufh (the IETF draft
    /// draft-ietf-httpbis-resumable-upload-12, experimental)
    #[arg(long, value_name = "PROTOCOL", default_value = "tus")]
    pub protocol: String,

    /// Write the server's reply (the draft's final response) to this file:
    /// an upload-reply job, over rufh
    #[arg(long, value_name = "PATH")]
    pub reply: Option<PathBuf>,

    /// The job's priority
    #[arg(long, value_enum, default_value_t = PriorityArg::Normal)]
    pub priority: PriorityArg,

    #[command(flatten)]
    pub options: JobOptions,

    /// Print no progress, only errors
    #[arg(long, short)]
    pub quiet: bool,

    /// Print the finished job as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

/// `transfer`'s retry delay when --min-retry-delay is not given: it watches the
/// job, so it retries sooner than the library's 600 s.
pub const TRANSFER_RETRY_DELAY: u32 = 5;
/// `transfer`'s no-progress timeout when --no-progress-timeout is not given.
pub const TRANSFER_NO_PROGRESS_TIMEOUT: u32 = 60;

/// The job options of `create`, `add` and `transfer`: retries and HTTP.
/// An option not given leaves the job's setting as it is.
#[derive(Debug, Args)]
pub struct JobOptions {
    /// Seconds to wait before retrying after a transient error (library
    /// default 600; `transfer`: 5)
    #[arg(long, value_name = "SECS", help_heading = "Job options")]
    pub min_retry_delay: Option<u32>,

    /// Seconds of transient errors without progress before the job fails
    /// (library default 1209600, 14 days; `transfer`: 60; 0: the first
    /// error is final)
    #[arg(long, value_name = "SECS", help_heading = "Job options")]
    pub no_progress_timeout: Option<u32>,

    /// How many connections the job uses at once: that many of its files,
    /// or segments of a large one (library default 6; with `transfer` also
    /// the cap per server)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), help_heading = "Job options")]
    pub connections: Option<u32>,

    /// Seconds the job may spend connecting and transferring before it
    /// fails with QM_BG_E_MAXDOWNLOAD_TIMEOUT (library default 7776000, 90
    /// days; 0: no limit)
    #[arg(long, value_name = "SECS", help_heading = "Job options")]
    pub max_download_time: Option<u32>,

    /// The server's content may change between requests: fetch each file
    /// in one request, never resume it, start again after any cut
    #[arg(long, help_heading = "Job options")]
    pub dynamic: bool,

    /// Do not yield: a background job then competes with other traffic
    /// like any download, instead of slowing when the network's queuing
    /// delay rises (FOREGROUND jobs never yield)
    #[arg(long, help_heading = "Job options")]
    pub no_yield: bool,

    /// Trust the CA certificates of this PEM file instead of the system's
    #[arg(long, value_name = "PEM", help_heading = "HTTPS options")]
    pub ca_file: Option<PathBuf>,

    /// Present this client certificate (PEM) for mutual TLS; needs --key
    #[arg(
        long,
        value_name = "PEM",
        requires = "key",
        help_heading = "HTTPS options"
    )]
    pub cert: Option<PathBuf>,

    /// The private key (PEM) of --cert
    #[arg(
        long,
        value_name = "PEM",
        requires = "cert",
        help_heading = "HTTPS options"
    )]
    pub key: Option<PathBuf>,

    /// An extra request header, `Name: value`; repeat for more
    #[arg(
        long = "header",
        short = 'H',
        value_name = "HEADER",
        help_heading = "HTTP options"
    )]
    pub headers: Vec<String>,

    /// The proxy URL (http://, https://, socks5://...); '' connects
    /// directly (default: http_proxy, https_proxy, no_proxy)
    #[arg(long, value_name = "URL", help_heading = "HTTP options")]
    pub proxy: Option<String>,

    /// HTTP Basic credentials; the password comes from $QMGR_PASSWORD, or
    /// a prompt on the terminal (USER:PASSWORD works, but shows it to
    /// every user of `ps`)
    #[arg(long, value_name = "USER[:PASSWORD]", help_heading = "HTTP options")]
    pub user: Option<String>,
}

/// `--priority`: the BITS priorities.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum PriorityArg {
    Foreground,
    High,
    Normal,
    Low,
}

impl From<PriorityArg> for Priority {
    fn from(p: PriorityArg) -> Priority {
        match p {
            PriorityArg::Foreground => Priority::Foreground,
            PriorityArg::High => Priority::High,
            PriorityArg::Normal => Priority::Normal,
            PriorityArg::Low => Priority::Low,
        }
    }
}
