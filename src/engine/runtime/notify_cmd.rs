//! The notify command line (BITS's `IBackgroundCopyJob2::SetNotifyCmdLine`):
//! a program run when a job is transferred or fails, in place of a
//! callback.
//!
//! Who runs it: the process that runs the job (the one that opened the
//! manager: the application, or `qmgr run`), from a thread of its own, as
//! a direct child: no shell, no search path. Its environment is the
//! process's as the caller's thread last read it (`Manager::open`, each
//! `Job::resume`: this thread never reads the process's environment,
//! which a C host's `setenv` may be changing meanwhile), plus
//! `QMGR_JOB_ID` (the job's id) and `QMGR_JOB_STATE`
//! (`TRANSFERRED` or `ERROR`); its standard input is `/dev/null`, its
//! output goes where the process's goes; its working directory is the
//! process's. As in BITS, the program gets only the parameters it was
//! given (put the job id there to have it in `argv`), and one that exits
//! with another status than 0 (or is killed by a signal, or cannot start)
//! is run again after the job's retry delay, for as long as the job stays
//! in the state that started it and the manager is open. When the process
//! ignores SIGCHLD (daemons do), the kernel reaps the program and its exit
//! status is lost: a lost status is not a failure, the program ran once.
//!
//! It runs as the job's owner: for a job of another user than the
//! process's (a service's), the child takes the owner's groups, gid and uid
//! for good before it runs the program, and exits with status 126 without
//! running it when it cannot (a failure, retried as above); never with the
//! process's rights. Such a program's standard output and error are
//! `/dev/null`, not the process's, and it inherits no other descriptor.

use std::time::{Duration, Instant};

use crate::engine::runtime::shared::Job;
use crate::engine::types::{JobState, NotifyCmdLine};
use crate::sys::{self, Child, Exit};

/// How often a wait for the retry delay looks whether it should stop.
const POLL: Duration = Duration::from_millis(100);

/// Starts `cmdline` for `job`, which has just entered `state`; a thread of
/// its own waits for it (and runs it again), the caller does not. The
/// first child is started before this returns, so that a process that
/// exits right after (`qmgr run` completing the job) has started it.
pub(crate) fn launch(job: Job, cmdline: NotifyCmdLine, state: JobState) {
    let first = start(&job, &cmdline, state);
    let _ = std::thread::Builder::new()
        .name("qmgr-notify-cmd".into())
        .spawn(move || run_until_done(&job, &cmdline, state, first));
}

fn run_until_done(job: &Job, cmdline: &NotifyCmdLine, state: JobState, first: Option<Child>) {
    // Run again only on a known failure: a status other than 0, a signal,
    // or no start at all; never when the status was lost (`Exit::Unknown`).
    let failed = |child: Option<Child>| {
        child.is_none_or(|c| matches!(sys::wait_for(c), Exit::Signal | Exit::Status(1..)))
    };
    let mut failing = failed(first);
    while failing {
        let until = Instant::now() + Duration::from_secs(u64::from(job.min_retry_delay()));
        loop {
            if !still(job, state) {
                return;
            }
            let now = Instant::now();
            if now >= until {
                break;
            }
            std::thread::sleep(POLL.min(until - now));
        }
        failing = failed(start(job, cmdline, state));
    }
}

/// The job is still where the program was started for, in an open manager.
fn still(job: &Job, state: JobState) -> bool {
    job.shared.manager.upgrade().is_some_and(|m| m.is_open()) && job.state() == state
}

/// Starts the program once (`None`: it could not start).
fn start(job: &Job, cmdline: &NotifyCmdLine, state: JobState) -> Option<Child> {
    let mut argv = split_parameters(cmdline.parameters.as_deref().unwrap_or(""));
    if argv.is_empty() {
        argv.push(cmdline.program.clone());
    }
    let id = job.id().to_string();
    let env = [
        ("QMGR_JOB_ID", id.as_str()),
        ("QMGR_JOB_STATE", state.name()),
    ];
    let environment = job.shared.manager.upgrade()?.environment();
    let rights = job.rights();
    sys::spawn(
        &cmdline.program,
        &argv,
        environment.vars(),
        &env,
        rights.identity(),
    )
    .ok()
}

/// Splits a command line into words: spaces and tabs separate them,
/// `"..."` keeps spaces inside a word, `\"` is a quote and `\\` a
/// backslash; other characters are taken as they are.
pub(crate) fn split_parameters(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut quoted, mut in_word) = (false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if matches!(chars.peek(), Some('"' | '\\')) => {
                word.extend(chars.next());
                in_word = true;
            }
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            ' ' | '\t' if !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::split_parameters;

    #[test]
    fn parameters_split_like_a_command_line_without_a_shell() {
        assert_eq!(
            split_parameters(r#"notify  one "two words" th"re"e \"q\" a\\b $HOME ''"#),
            [
                "notify",
                "one",
                "two words",
                "three",
                "\"q\"",
                "a\\b",
                "$HOME",
                "''"
            ]
        );
        assert_eq!(split_parameters(r#"x """#), ["x", ""]);
        assert!(split_parameters("  ").is_empty());
    }
}
