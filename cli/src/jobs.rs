//! The job verbs: create, add, set, resume, suspend, cancel, complete,
//! replace-prefix, list, info, monitor and run, on the daemon's jobs or,
//! with `--state`, on the jobs of a state directory in this process.

use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use qmgr::hresult::{
    QM_BG_E_NOT_FOUND, QM_BG_S_PARTIAL_COMPLETE, QM_BG_S_UNABLE_TO_DELETE_FILES,
    QM_E_SERVICE_UNAVAILABLE,
};
use qmgr::{FileSpec, HResult, Job, JobId, JobState, Manager, NotifyCmdLine};

use crate::cli::Command;
use crate::fail::{
    one_line, Failure, EXIT_CALL_FAILED, EXIT_PARTIAL, EXIT_TRANSFER_FAILED, EXIT_USAGE,
};
use crate::options::Prepared;
use crate::transfer::{code_name, retry_text, LINE_EVERY};
use crate::{format, paths, report};

/// The shortest id prefix accepted for JOB.
const MIN_PREFIX: usize = 8;

/// Whose jobs a verb works on.
pub struct Where<'a> {
    /// `--state DIR` (or `$QMGR_STATE`): that directory's, in this process.
    pub state_dir: Option<&'a PathBuf>,
    /// `--address ADDR`: that daemon's (else the default daemon's).
    pub address: Option<&'a str>,
}

/// The manager of a job verb: the state directory's (only `create` makes
/// it when it does not exist), or else a connection to the daemon.
fn open(place: &Where<'_>, verb: &str) -> Result<Manager, Failure> {
    let Some(dir) = place.state_dir else {
        return Manager::connect(place.address).map_err(|e| {
            if e.code == HResult(QM_E_SERVICE_UNAVAILABLE) {
                Failure::call(qmgr::Error {
                    message: format!(
                        "{}: start the daemon (`qmgrd --user`, or its systemd unit) \
                         or work on a state directory with --state DIR",
                        e.message
                    ),
                    ..e
                })
            } else {
                Failure::call(e)
            }
        });
    };
    if verb != "create" {
        paths::existing_state_dir(dir, verb)?;
    }
    Ok(Manager::open(Some(dir))?)
}

/// Finds a job by its id or a unique prefix of it (at least 8 characters).
fn find(manager: &Manager, key: &str) -> Result<Job, Failure> {
    if let Ok(id) = key.parse::<JobId>() {
        return Ok(manager.job(&id)?);
    }
    let prefix = key.to_ascii_lowercase();
    if prefix.len() < MIN_PREFIX {
        return Err(Failure::call(qmgr::Error::invalid_arg(format!(
            "'{key}' is neither a job id nor a prefix of one of at least {MIN_PREFIX} characters"
        ))));
    }
    let mut matches: Vec<Job> = manager
        .jobs()?
        .into_iter()
        .filter(|j| j.id().to_string().starts_with(&prefix))
        .collect();
    match matches.len() {
        0 => Err(Failure::call(qmgr::Error::new(
            QM_BG_E_NOT_FOUND,
            format!("no job with an id that starts with '{key}'"),
        ))),
        1 => Ok(matches.remove(0)),
        n => Err(Failure::call(qmgr::Error::invalid_arg(format!(
            "'{key}' is the start of {n} job ids; give more of it"
        )))),
    }
}

/// Runs one of the job verbs.
pub fn run(place: &Where<'_>, command: &Command) -> Result<(), Failure> {
    match command {
        Command::Transfer(_)
        | Command::Upload(_)
        | Command::Completions { .. }
        | Command::Manpage { .. } => {
            unreachable!("handled in main")
        }
        Command::Create {
            name,
            upload,
            upload_reply,
            priority,
            options,
        } => {
            let options = Prepared::new(options)?;
            let manager = open(place, "create")?;
            let kind = match (upload, upload_reply) {
                (true, _) => qmgr::JobType::Upload,
                (_, true) => qmgr::JobType::UploadReply,
                _ => qmgr::JobType::Download,
            };
            let job = manager.create_job_of_type(name, kind)?;
            let set_up = job
                .set_priority((*priority).into())
                .map_err(Failure::from)
                .and_then(|()| options.apply(&job));
            if let Err(failure) = set_up {
                let _ = job.cancel();
                return Err(failure);
            }
            outln!("{}", job.id());
            Ok(())
        }
        Command::Add {
            job,
            url,
            path,
            sha256,
            ranges,
            seeds,
            zsync,
            options,
        } => {
            let remote = paths::remote(url)?;
            let local = paths::local(path, &remote)?;
            let options = Prepared::new(options)?;
            let manager = open(place, "add")?;
            let job = find(&manager, job)?;
            options.apply(&job)?;
            if ranges.is_empty() {
                job.add_files(&[FileSpec::new(remote, local)])
            } else {
                job.add_file_with_ranges(&remote, &local, ranges)
            }
            .map_err(Failure::argument_or_call)?;
            let index = job.file_count().saturating_sub(1);
            if let Some(hex) = sha256 {
                job.set_file_sha256(index, Some(hex))?;
            }
            if let Some(delta) = crate::transfer::delta_source(seeds, zsync.as_deref())? {
                job.set_file_delta(index, Some(delta))
                    .map_err(Failure::argument_or_call)?;
            }
            Ok(())
        }
        Command::Set {
            job,
            priority,
            notify_cmd,
            notify_params,
            options,
        } => {
            let options = Prepared::new(options)?;
            let manager = open(place, "set")?;
            let job = find(&manager, job)?;
            if let Some(priority) = priority {
                job.set_priority((*priority).into())?;
            }
            if let Some(program) = notify_cmd {
                let cmdline = (!program.is_empty()).then(|| NotifyCmdLine {
                    program: program.clone(),
                    parameters: notify_params.clone(),
                });
                job.set_notify_cmdline(cmdline)
                    .map_err(Failure::argument_or_call)?;
            }
            options.apply(&job)
        }
        Command::Resume(arg) => {
            let manager = open(place, "resume")?;
            Ok(find(&manager, &arg.job)?.resume()?)
        }
        Command::Suspend(arg) => {
            let manager = open(place, "suspend")?;
            Ok(find(&manager, &arg.job)?.suspend()?)
        }
        Command::Cancel(arg) => {
            let manager = open(place, "cancel")?;
            let code = find(&manager, &arg.job)?.cancel()?;
            if code == HResult(QM_BG_S_UNABLE_TO_DELETE_FILES) {
                errln!("qmgr: warning: {code}");
            }
            Ok(())
        }
        Command::Complete(args) => {
            let manager = open(place, "complete")?;
            let job = find(&manager, &args.job)?;
            if !args.partial {
                confirm_partial_complete(&job)?;
            }
            let code = job.complete()?;
            if code == HResult(QM_BG_S_PARTIAL_COMPLETE) {
                return Err(Failure::partial(
                    code,
                    "the files not transferred were deleted",
                ));
            }
            Ok(())
        }
        Command::ReplacePrefix { job, old, new } => {
            let manager = open(place, "replace-prefix")?;
            let replaced = find(&manager, job)?
                .replace_remote_prefix(old, new)
                .map_err(Failure::argument_or_call)?;
            if !replaced {
                errln!("qmgr: no remote name of the job starts with '{old}'");
            }
            Ok(())
        }
        Command::List { json, all_users } => {
            let manager = open(place, "list")?;
            let jobs = match all_users {
                true => manager.jobs_of_all_users()?,
                false => manager.jobs()?,
            };
            if *json {
                outln!("{}", report::jobs_json(&jobs));
            } else {
                out!("{}", report::table(&jobs, false));
            }
            Ok(())
        }
        Command::Info { job, json } => {
            let manager = open(place, "info")?;
            let job = find(&manager, job)?;
            if *json {
                outln!("{}", report::job_json(&job));
            } else {
                out!("{}", report::info(&job));
            }
            Ok(())
        }
        Command::Monitor { once, json } => {
            let manager = open(place, "monitor")?;
            monitor(&manager, *once, *json)
        }
        Command::Run { no_complete, quiet } => {
            if place.state_dir.is_none() {
                // The daemon runs its jobs by itself; completing every
                // transferred job of the user would take other programs'
                // jobs from them.
                return Err(Failure::usage(
                    "'run' carries on the jobs of a state directory: give --state DIR (the \
                     daemon's jobs run by themselves; 'qmgr monitor' shows them)",
                ));
            }
            let dir = place.state_dir.map(PathBuf::as_path);
            let manager = open(place, "run")?;
            run_jobs(&manager, dir, !*no_complete, *quiet)
        }
    }
}

/// The files a partial `complete` deletes (those not transferred), each
/// with what was fetched of it and where.
fn not_transferred(job: &Job) -> Vec<String> {
    (0..job.file_count())
        .filter_map(|i| {
            let progress = job.file_progress(i).ok()?;
            if progress.completed {
                return None;
            }
            let local = job.file_local_name(i).ok()?;
            let counts = format::byte_counts(progress.bytes_transferred, progress.bytes_total);
            Some(match job.file_temporary_name(i).ok().flatten() {
                Some(temp) => format!("{local} ({counts} in {})", temp.display()),
                None => format!("{local} ({counts})"),
            })
        })
        .collect()
}

/// Before `complete` of a job that is not TRANSFERRED (BITS's partial
/// complete, which deletes the files not transferred and their partial
/// data): on a terminal, says what it deletes and asks; elsewhere refuses
/// (exit 2), since only `--partial` says the caller means it.
fn confirm_partial_complete(job: &Job) -> Result<(), Failure> {
    let state = job.state();
    let doomed = not_transferred(job);
    if state == JobState::Transferred || doomed.is_empty() {
        return Ok(());
    }
    let mut short = job.id().to_string();
    short.truncate(MIN_PREFIX);
    let total = job.file_count();
    let what = format!(
        "job {short} is {state}, not TRANSFERRED: completing it now keeps its {} transferred \
         file(s) and deletes the {} of its {total} file(s) not transferred, with what was \
         fetched of them",
        total as usize - doomed.len(),
        doomed.len(),
    );
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(Failure::usage(format!(
            "{what} ({}); pass --partial to complete it anyway, or let 'qmgr run' finish it first",
            doomed.join(", ")
        )));
    }
    errln!("qmgr: {what}:");
    for file in &doomed {
        errln!("  {file}");
    }
    {
        use std::io::Write as _;
        let mut err = std::io::stderr();
        let _ = write!(err, "Complete it anyway? [y/N] ");
        let _ = err.flush();
    }
    let mut answer = String::new();
    let _ = std::io::stdin().read_line(&mut answer);
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(Failure {
            exit: EXIT_USAGE,
            label: "error",
            line: format!("not completed: job {short} is left as it is ({state})"),
        })
    }
}

/// Jobs that will move on by themselves: active, or waiting to retry.
fn pending(state: JobState) -> bool {
    state.is_active() || state == JobState::TransientError
}

/// `monitor`: a table of the jobs, redrawn about 4 times a second on a
/// terminal (every second elsewhere), until no job is pending.
fn monitor(manager: &Manager, once: bool, json: bool) -> Result<(), Failure> {
    let render = |jobs: &[Job]| -> String {
        if json {
            format!("{}\n", report::jobs_json(jobs))
        } else {
            report::table(jobs, true)
        }
    };
    if once {
        out!("{}", render(&manager.jobs()?));
        return Ok(());
    }
    let live = !json && std::io::stdout().is_terminal();
    let bar = live.then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout_with_hz(8));
        bar.set_style(
            ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let every = if live {
        Duration::from_millis(250)
    } else {
        LINE_EVERY
    };
    loop {
        let jobs = manager.jobs()?;
        // Read before the table, so that the last table shows every job settled.
        let next = jobs.iter().find(|j| pending(j.state()));
        let text = render(&jobs);
        match &bar {
            Some(bar) => bar.set_message(text.trim_end().to_string()),
            None if json => out!("{text}"),
            None => outln!("{text}"),
        }
        match next {
            Some(job) => {
                job.wait(Some(every))?;
            }
            None => break,
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
    Ok(())
}

/// Prints a job's error as one line, naming the code.
fn report_error(job: &Job, dir: &str) {
    match job.error() {
        Ok(e) => Failure::transfer(&e),
        Err(e) => Failure::call(e),
    }
    .with_suffix(format!(" (job {} in {dir})", job.id()))
    .print();
}

/// What `run` saw of one job last time.
struct Seen {
    state: JobState,
    /// Its retry count: a failure and its retry may both fall between
    /// two passes (a refused connection fails at once).
    retries: u32,
    /// `ID8 NAME`.
    short: String,
}

/// `run`: waits on the pending jobs, prints progress lines, completes the
/// transferred jobs (unless told not to), and reports the failed ones.
fn run_jobs(
    manager: &Manager,
    state_dir: Option<&Path>,
    complete: bool,
    quiet: bool,
) -> Result<(), Failure> {
    let mut seen: HashMap<JobId, Seen> = HashMap::new();
    let mut reported: HashSet<JobId> = HashSet::new();
    let mut not_completed: HashSet<JobId> = HashSet::new();
    let mut partial = 0usize;
    let mut finished = 0usize;
    let mut last_lines = Instant::now();
    let started = Instant::now();
    let dir = state_dir.map_or_else(String::new, |d| d.display().to_string());
    loop {
        let jobs = manager.jobs()?;
        let print_progress = !quiet && last_lines.elapsed() >= LINE_EVERY;
        if print_progress {
            last_lines = Instant::now();
        }
        let mut next: Option<&Job> = None;
        for job in &jobs {
            let state = job.state();
            let retries = job.status().num_retries;
            let first_sight = !seen.contains_key(&job.id());
            let entry = seen.entry(job.id()).or_insert_with(|| {
                let mut short = job.id().to_string();
                short.truncate(MIN_PREFIX);
                Seen {
                    state,
                    retries,
                    short: format!("{short} {}", job.display_name()),
                }
            });
            let entered = entry.state != state;
            entry.state = state;
            // A new failure since the last pass (also one found waiting).
            let retried = entry.retries != retries || first_sight;
            entry.retries = retries;
            if first_sight && !quiet && state == JobState::Suspended {
                errln!("{}: SUSPENDED, left as it is", entry.short);
            }
            match state {
                JobState::Transferred if complete && !not_completed.contains(&job.id()) => {
                    let code = match job.complete() {
                        Ok(code) => code,
                        Err(e) => {
                            // The job stays TRANSFERRED; do not try again.
                            Failure::call(e)
                                .with_suffix(format!(" (job {} in {dir})", job.id()))
                                .print();
                            not_completed.insert(job.id());
                            continue;
                        }
                    };
                    finished += 1;
                    if code == HResult(QM_BG_S_PARTIAL_COMPLETE) {
                        partial += 1;
                        Failure::partial(code, format!("job {}", entry.short)).print();
                    } else if !quiet {
                        errln!("{}: completed", entry.short);
                    }
                }
                JobState::Transferred if entered => {
                    finished += 1;
                    if !quiet {
                        errln!(
                            "{}: TRANSFERRED (complete it with `qmgr complete`)",
                            entry.short
                        );
                    }
                }
                JobState::Error if entered => {
                    report_error(job, &dir);
                    reported.insert(job.id());
                }
                JobState::TransientError if (entered || retried || print_progress) && !quiet => {
                    if let Ok(e) = job.error() {
                        let p = job.progress();
                        if entered || retried {
                            let full = one_line(&format!("{}: {}", e.code, e.description));
                            errln!(
                                "{}: {}",
                                entry.short,
                                retry_text(job.next_retry_in(), &full)
                            );
                        } else {
                            errln!(
                                "{}: TRANSIENT_ERROR {} {}: {}",
                                entry.short,
                                format::percent(p.bytes_transferred, p.bytes_total),
                                format::byte_counts(p.bytes_transferred, p.bytes_total),
                                retry_text(job.next_retry_in(), &code_name(e.code))
                            );
                        }
                    }
                }
                s if pending(s) && print_progress => {
                    errln!(
                        "{}: {} {}",
                        entry.short,
                        s.name(),
                        format::progress_line(&job.progress())
                    );
                }
                _ => {}
            }
            if pending(state) && next.is_none() {
                next = Some(job);
            }
        }
        // Decided on the states read above, so that a job that settles
        // meanwhile gets one more pass (and is completed).
        let Some(next) = next else {
            break;
        };
        next.wait(Some(Duration::from_millis(250)))?;
    }
    // Every job in ERROR makes the run fail, also one that failed before it
    // started: a script that runs `qmgr run && ...` learns of it.
    let mut failed = 0usize;
    for job in manager.jobs()? {
        if job.state() == JobState::Error {
            failed += 1;
            if !reported.contains(&job.id()) {
                report_error(&job, &dir);
            }
        }
    }
    if !quiet {
        errln!(
            "qmgr: run: {finished} transferred, {failed} in ERROR, in {}",
            format::elapsed(started.elapsed())
        );
    }
    // Each failed or partial job has had its own line, naming its code.
    if !not_completed.is_empty() {
        Err(Failure::silent(EXIT_CALL_FAILED))
    } else if failed > 0 {
        Err(Failure::silent(EXIT_TRANSFER_FAILED))
    } else if partial > 0 {
        Err(Failure::silent(EXIT_PARTIAL))
    } else {
        Ok(())
    }
}
