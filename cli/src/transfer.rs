//! `qmgr transfer`: one job, watched to the end, with a progress bar on a
//! terminal and plain progress lines elsewhere.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qmgr::hresult::QM_BG_S_PARTIAL_COMPLETE;
use qmgr::{FileSpec, HResult, Job, JobState, Manager};

use crate::cli::{TransferArgs, TRANSFER_NO_PROGRESS_TIMEOUT, TRANSFER_RETRY_DELAY};
use crate::fail::{one_line, Failure};
use crate::interrupt::Interrupts;
use crate::options::Prepared;
use crate::{format, paths};

/// How often a progress line is printed when stderr is not a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(1);

/// How progress is shown while a job transfers.
enum Mode {
    Quiet,
    /// Plain lines on stderr, at most one per [`LINE_EVERY`].
    Lines {
        last: Instant,
    },
    Bar {
        bar: ProgressBar,
        has_length: bool,
    },
}

/// Shows one job's progress until it settles.
pub struct Watcher {
    mode: Mode,
    started: Instant,
    last_state: JobState,
    /// The job's retry count when last seen: a new failure can come and
    /// go between two looks (a refused connection fails at once), which
    /// the count still tells.
    retries: u32,
    /// The last transient error seen: its code's name, and `CODE:
    /// description` on one line.
    last_error: Option<(String, String)>,
}

/// A code's name (`QM_E_WINHTTP_CANNOT_CONNECT`), or its number.
pub fn code_name(code: HResult) -> String {
    code.name()
        .unwrap_or_else(|| format!("0x{:08X}", code.0 as u32))
}

/// `retrying in 4s after ERROR`, or `retrying now ...` once due.
pub fn retry_text(retry_in: Option<Duration>, error: &str) -> String {
    match retry_in.map(|d| d.as_secs_f64().ceil() as u64) {
        Some(secs) if secs > 0 => format!("retrying in {} after {error}", format::eta(Some(secs))),
        _ => format!("retrying now after {error}"),
    }
}

fn bar_style(known_length: bool) -> ProgressStyle {
    let template = if known_length {
        "[{elapsed_precise}] [{wide_bar:.cyan/blue}] {bytes}/{total_bytes} {msg}"
    } else {
        "{spinner:.cyan} [{elapsed_precise}] {bytes} {msg}"
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Watcher {
    /// A bar when stderr is a terminal, lines otherwise, nothing with `quiet`.
    pub fn new(quiet: bool) -> Watcher {
        let now = Instant::now();
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(bar_style(false));
            bar.set_message("connecting");
            Mode::Bar {
                bar,
                has_length: false,
            }
        } else {
            Mode::Lines { last: now }
        };
        Watcher {
            mode,
            started: now,
            last_state: JobState::Suspended,
            retries: 0,
            last_error: None,
        }
    }

    /// How long to wait for the job between two updates.
    pub fn tick_interval(&self) -> Duration {
        match self.mode {
            Mode::Bar { .. } => Duration::from_millis(100),
            _ => Duration::from_millis(250),
        }
    }

    /// Updates the display with the job's progress. While the job waits
    /// to retry, every update says after which error and in how long; a
    /// new transient failure also gets a line of its own; while it
    /// connects again, the updates name the last error.
    pub fn tick(&mut self, job: &Job) {
        let state = job.state();
        let entered = state != self.last_state;
        self.last_state = state;
        let retries = job.status().num_retries;
        let retried = retries != self.retries;
        self.retries = retries;
        let p = job.progress();
        let mut new_failure = false;
        if state == JobState::TransientError {
            if let Ok(e) = job.error() {
                self.last_error = Some((
                    code_name(e.code),
                    one_line(&format!("{}: {}", e.code, e.description)),
                ));
                new_failure = entered || retried;
            }
        }
        // A new failure gets a line of its own with the whole error; the
        // progress updates name its code.
        let retry_in = job.next_retry_in();
        let note = match &self.last_error {
            Some((_, full)) if new_failure => Some(retry_text(retry_in, full)),
            _ => None,
        };
        let (waiting, again) = match (state, &self.last_error) {
            (JobState::TransientError, Some((name, _))) => (Some(retry_text(retry_in, name)), None),
            // Connecting again (or queued to) after a transient error.
            (JobState::Queued | JobState::Connecting, Some((name, _))) if retries > 0 => (
                None,
                Some(format!(
                    "{}, retry {retries}, after {name}",
                    state.name().to_lowercase()
                )),
            ),
            _ => (None, None),
        };
        match &mut self.mode {
            Mode::Quiet => {}
            Mode::Lines { last } => {
                if let Some(note) = &note {
                    errln!("qmgr: {note}");
                }
                if last.elapsed() >= LINE_EVERY {
                    *last = Instant::now();
                    match waiting.as_ref().or(again.as_ref()) {
                        Some(why) => errln!(
                            "{} {}: {why}",
                            format::percent(p.bytes_transferred, p.bytes_total),
                            format::byte_counts(p.bytes_transferred, p.bytes_total)
                        ),
                        None => errln!("{}", format::progress_line(&p)),
                    }
                }
            }
            Mode::Bar { bar, has_length } => {
                if let (false, Some(total)) = (*has_length, p.bytes_total) {
                    bar.set_length(total);
                    bar.set_style(bar_style(true));
                    *has_length = true;
                }
                bar.set_position(p.bytes_transferred);
                if let Some(note) = &note {
                    bar.println(format!("qmgr: {note}"));
                }
                let message = match (state, waiting, again) {
                    (JobState::Transferring, _, _) => format!(
                        "{:>12} ETA {:<6}",
                        format::rate(p.bytes_per_second),
                        format::eta(p.eta_seconds)
                    ),
                    (_, Some(why), _) | (_, _, Some(why)) => why,
                    (other, None, None) => other.name().to_lowercase(),
                };
                bar.set_message(message);
            }
        }
    }

    /// The last update after the job was transferred: a final 100% line.
    pub fn finish(&mut self, job: &Job) {
        let p = job.progress();
        let took = self.started.elapsed();
        let average = (p.bytes_transferred as f64 / took.as_secs_f64().max(1e-3)) as u64;
        match &self.mode {
            Mode::Quiet => {}
            Mode::Lines { .. } => errln!(
                "{} {} {} done in {}",
                format::percent(p.bytes_transferred, p.bytes_total),
                format::byte_counts(p.bytes_transferred, p.bytes_total),
                format::rate(average),
                format::elapsed(took)
            ),
            Mode::Bar { bar, .. } => {
                bar.set_length(p.bytes_total.unwrap_or(p.bytes_transferred));
                bar.set_style(bar_style(true));
                bar.set_position(p.bytes_transferred);
                bar.finish_with_message(format!(
                    "{} done in {}",
                    format::rate(average),
                    format::elapsed(took)
                ));
            }
        }
    }

    /// Leaves the bar as it is (the job failed).
    pub fn abandon(&mut self) {
        if let Mode::Bar { bar, .. } = &self.mode {
            bar.abandon();
        }
    }
}

/// How watching a job ended.
pub enum Watched {
    /// The job reached a settled state.
    Settled(JobState),
    /// A signal arrived first (its number).
    Interrupted(i32),
}

/// Waits until the job settles or a signal arrives, updating the display
/// meanwhile.
pub fn watch(
    job: &Job,
    watcher: &mut Watcher,
    interrupts: &Interrupts,
) -> Result<Watched, Failure> {
    loop {
        if let Some(signal) = interrupts.caught() {
            return Ok(Watched::Interrupted(signal));
        }
        if let Some(state) = job.wait(Some(watcher.tick_interval()))? {
            watcher.tick(job);
            return Ok(Watched::Settled(state));
        }
        watcher.tick(job);
    }
}

/// Stops an interrupted transfer: without a state directory nothing could
/// resume it, so the job is cancelled and its partial files deleted; with
/// one, the job stays there, checkpointed when the manager closes.
fn interrupted(job: &Job, state_dir: Option<&PathBuf>, signal: i32) -> Failure {
    let name = match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a signal",
    };
    let what = match state_dir {
        Some(dir) => format!(
            "job {} kept in {}; 'qmgr --state {} run' carries it on",
            job.id(),
            dir.display(),
            dir.display()
        ),
        None => match job.cancel() {
            Ok(_) => "the job was cancelled and its partial files deleted".to_string(),
            Err(e) => format!("cancelling the job failed: {}: {}", e.code, e.message),
        },
    };
    Failure::interrupted(signal, format!("interrupted by {name}: {what}"))
}

/// The files of `URL PATH [URL PATH ...]`.
fn file_specs(pairs: &[String]) -> Result<Vec<FileSpec>, Failure> {
    if !pairs.len().is_multiple_of(2) {
        return Err(Failure::usage(format!(
            "sources and destinations come in pairs (URL PATH), but '{}' has no destination",
            pairs[pairs.len() - 1]
        )));
    }
    pairs
        .chunks(2)
        .map(|pair| {
            let remote = paths::remote(&pair[0])?;
            let local = paths::local(Path::new(&pair[1]), &remote)?;
            Ok(FileSpec::new(remote, local))
        })
        .collect()
}

/// A display name for the job: `transfer NAME` after the first destination.
fn job_name(files: &[FileSpec]) -> String {
    let first = Path::new(&files[0].local)
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut name = format!("qmgr transfer {first}");
    if files.len() > 1 {
        name.push_str(&format!(" (+{} files)", files.len() - 1));
    }
    name.chars()
        // BITS display-name limit, qmgr::Job::set_display_name refuses longer.
        .take(256)
        .collect()
}

/// Sets the job up as the arguments ask and resumes it.
fn set_up(
    job: &Job,
    files: &[FileSpec],
    args: &TransferArgs,
    options: &Prepared,
) -> Result<(), Failure> {
    job.add_files(files).map_err(Failure::argument_or_call)?;
    job.set_priority(args.priority.into())?;
    options.apply(job)?;
    for (index, hex) in args.sha256.iter().enumerate() {
        job.set_file_sha256(index as u32, Some(hex))
            .map_err(Failure::argument_or_call)?;
    }
    if let Some(delta) = delta_source(&args.seeds, args.zsync.as_deref())? {
        job.set_file_delta(0, Some(delta))
            .map_err(Failure::argument_or_call)?;
    }
    if let Some(limit) = args.max_bandwidth {
        job.set_max_bandwidth(limit)?;
    }
    Ok(job.resume()?)
}

/// `--seed` and `--zsync` as the library takes them (seeds made
/// absolute); `None` without seeds.
pub fn delta_source(
    seeds: &[PathBuf],
    zsync: Option<&str>,
) -> Result<Option<qmgr::DeltaSource>, Failure> {
    if seeds.is_empty() {
        return Ok(None);
    }
    let seeds = seeds
        .iter()
        .map(|s| {
            std::path::absolute(s)
                .map_err(|e| Failure::usage(format!("cannot make '{}' absolute: {e}", s.display())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(qmgr::DeltaSource {
        seeds,
        control_url: zsync.map(String::from),
    }))
}

/// A line saying how the delta downloads of `job` went.
fn delta_lines(job: &Job) -> Vec<String> {
    (0..job.file_count())
        .filter_map(|i| {
            let s = job.file_delta_status(i).ok()?;
            let total = job.file_progress(i).ok()?.bytes_total.unwrap_or(0);
            match s.way {
                qmgr::DeltaWay::Delta => Some(format!(
                    "delta: {} of {} from seeds, {} fetched",
                    crate::format::bytes(s.bytes_from_seeds),
                    crate::format::bytes(total),
                    crate::format::bytes(total.saturating_sub(s.bytes_from_seeds)),
                )),
                qmgr::DeltaWay::Full => Some(format!("delta: full download ({})", s.reason)),
                _ => None,
            }
        })
        .collect()
}

/// `qmgr transfer`.
pub fn run(state_dir: Option<&PathBuf>, args: &TransferArgs) -> Result<(), Failure> {
    let files = file_specs(&args.pairs)?;
    if !args.seeds.is_empty() && files.len() != 1 {
        return Err(Failure::usage(format!(
            "--seed is for one file, and {} are given",
            files.len()
        )));
    }
    if !args.sha256.is_empty() && args.sha256.len() != files.len() {
        return Err(Failure::usage(format!(
            "{} files but {} --sha256 values: give one per file, in file order",
            files.len(),
            args.sha256.len()
        )));
    }
    let options = Prepared::new(&args.options)?
        .with_defaults(TRANSFER_RETRY_DELAY, TRANSFER_NO_PROGRESS_TIMEOUT);
    let manager = Manager::open(state_dir.map(PathBuf::as_path))?;
    if let Some(n) = options.connections {
        // This process runs only this job: let it open as many as asked,
        // to one server too.
        manager.set_max_connections_per_server(n)?;
        manager.set_max_connections(n.max(manager.max_connections()))?;
    }
    // Caught from before the job exists, so that no signal can end the
    // process between the creation of a partial file and its clean-up.
    let interrupts = Interrupts::catch();
    let job = manager.create_job(&job_name(&files))?;
    if let Err(failure) = set_up(&job, &files, args, &options) {
        let _ = job.cancel();
        return Err(failure);
    }
    see_through(&job, state_dir, &interrupts, args.quiet, args.json)
}

/// `qmgr upload`: one upload job (upload-reply with `--reply`), watched
/// and completed as `transfer`'s job is.
pub fn upload(state_dir: Option<&PathBuf>, args: &crate::cli::UploadArgs) -> Result<(), Failure> {
    let protocol = qmgr::UploadProtocol::from_name(&args.protocol).ok_or_else(|| {
        Failure::usage(format!(
            "--protocol is tus or rufh, not '{}'",
            args.protocol
        ))
    })?;
    let file = paths::absolute(&args.file)?;
    let options = Prepared::new(&args.options)?
        .with_defaults(TRANSFER_RETRY_DELAY, TRANSFER_NO_PROGRESS_TIMEOUT);
    let manager = Manager::open(state_dir.map(PathBuf::as_path))?;
    let interrupts = Interrupts::catch();
    let kind = match args.reply {
        Some(_) => qmgr::JobType::UploadReply,
        None => qmgr::JobType::Upload,
    };
    let name = format!("qmgr upload {}", args.file.display());
    let job = manager.create_job_of_type(&name.chars().take(256).collect::<String>(), kind)?;
    let set_up = || -> Result<(), Failure> {
        job.add_files(&[FileSpec::new(&args.url, &file)])
            .map_err(Failure::argument_or_call)?;
        job.set_upload_protocol(protocol)
            .map_err(Failure::argument_or_call)?;
        if let Some(reply) = &args.reply {
            job.set_reply_file_name(Some(&paths::absolute(reply)?))
                .map_err(Failure::argument_or_call)?;
        }
        job.set_priority(args.priority.into())?;
        options.apply(&job)?;
        Ok(job.resume()?)
    };
    if let Err(failure) = set_up() {
        let _ = job.cancel();
        return Err(failure);
    }
    see_through(&job, state_dir, &interrupts, args.quiet, args.json)
}

/// Watches a job that was resumed until it settles, then completes it
/// (or reports why it stopped); prints it as JSON with `json`.
fn see_through(
    job: &Job,
    state_dir: Option<&PathBuf>,
    interrupts: &Interrupts,
    quiet: bool,
    json: bool,
) -> Result<(), Failure> {
    let job = job.clone();
    let mut watcher = Watcher::new(quiet);
    let outcome = match watch(&job, &mut watcher, interrupts)? {
        Watched::Interrupted(signal) => {
            watcher.abandon();
            Err(interrupted(&job, state_dir, signal))
        }
        Watched::Settled(JobState::Transferred) => {
            watcher.finish(&job);
            if !quiet {
                for line in delta_lines(&job) {
                    errln!("{line}");
                }
            }
            let code = job.complete()?;
            if code == HResult(QM_BG_S_PARTIAL_COMPLETE) {
                Err(Failure::partial(code, "some files were not transferred"))
            } else {
                Ok(())
            }
        }
        Watched::Settled(JobState::Error) => {
            watcher.abandon();
            let failure = match job.error() {
                Ok(e) => Failure::transfer(&e),
                Err(e) => Failure::call(e),
            };
            Err(match state_dir {
                Some(dir) => {
                    failure.with_suffix(format!(" (job {} kept in {})", job.id(), dir.display()))
                }
                None => failure,
            })
        }
        Watched::Settled(other) => {
            watcher.abandon();
            Err(Failure::unexpected(format!(
                "the job stopped in state {other}"
            )))
        }
    };
    if json {
        outln!("{}", crate::report::job_json(&job));
    }
    outcome
}
