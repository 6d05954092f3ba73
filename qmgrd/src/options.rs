//! The command line (no parser crate: a dozen options, `--name VALUE` or
//! `--name=VALUE`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

/// Which daemon this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// One user's daemon: only that user (and root) may connect, and every
    /// job is that user's.
    User,
    /// The system's daemon: every user may connect, each sees their own
    /// jobs, administrators all of them.
    System,
}

impl Mode {
    /// `user` or `system`, as `Hello` says it.
    pub fn name(self) -> &'static str {
        match self {
            Mode::User => "user",
            Mode::System => "system",
        }
    }
}

/// BITS's `MaxJobsPerUser` default.
pub const DEFAULT_MAX_JOBS_PER_USER: usize = 300;
/// BITS's `MaxFilesPerJob` default.
pub const DEFAULT_MAX_FILES_PER_JOB: u32 = 200;
/// Connections one user may hold at once (a program and its proxy use
/// one or two; 128 leaves room for many programs and watchers).
pub const DEFAULT_MAX_CONNECTIONS_PER_USER: usize = 128;
/// Connections of all users at once (one thread each).
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The idle exit of a socket-activated daemon: the service manager starts
/// it again at the next connection.
pub const DEFAULT_ACTIVATED_IDLE_EXIT: Duration = Duration::from_secs(30);

/// What the command line asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `--user` (the default) or `--system`.
    pub mode: Mode,
    /// `--socket PATH`: where to listen instead of the mode's path.
    pub socket: Option<PathBuf>,
    /// `--state DIR`: the state directory instead of the mode's.
    pub state: Option<PathBuf>,
    /// `--idle-exit SECS`: `Some(None)` for 0 (never).
    pub idle_exit: Option<Option<Duration>>,
    /// `--admin-group NAME`.
    pub admin_group: Option<String>,
    /// `--max-jobs-per-user N`.
    pub max_jobs_per_user: usize,
    /// `--max-files-per-job N`.
    pub max_files_per_job: u32,
    /// `--max-connections-per-user N`.
    pub max_connections_per_user: usize,
    /// `--max-connections N`.
    pub max_connections: usize,
}

/// What to do instead of serving.
#[derive(Debug, PartialEq, Eq)]
pub enum Exit {
    /// `--help`: print [`USAGE`] and exit 0.
    Help,
    /// `--version`: print the version and exit 0.
    Version,
    /// A bad command line: print this and exit 2.
    Usage(String),
}

/// `qmgrd --help`.
pub const USAGE: &str = "\
Usage: qmgrd [--user | --system] [OPTIONS]

qmgr's service: runs the transfer jobs of one user (--user) or of the
system (--system) and serves them over Varlink (interface io.qmgr) on a
Unix socket. Programs reach it through libqmgr's qm_manager_connect, the
qmgr command and Python's qmgr.Manager.connect().

Modes:
  --user      one user's daemon (the default): socket
              $XDG_RUNTIME_DIR/qmgr/io.qmgr (0600, in a 0700 directory),
              state $XDG_STATE_HOME/qmgr (~/.local/state/qmgr); only that
              user and root may connect
  --system    the system's daemon: socket /run/qmgr/io.qmgr (0666: every
              call is checked against the caller's SO_PEERCRED identity),
              state /var/lib/qmgr; run it as root, so that each job's
              files are touched with its owner's rights

Options:
  --socket PATH                 listen on PATH instead (ignored when the
                                service manager passes a socket)
  --state DIR                   keep the jobs in DIR instead
  --idle-exit SECS              exit after SECS seconds with no active job
                                (queued, connecting, transferring or
                                retrying) and no client; 0: never.
                                Default: 30 under socket activation, never
                                otherwise
  --admin-group NAME            members of group NAME administer every
                                job, as root does (system mode)
  --max-jobs-per-user N         jobs one user may hold (default 300)
  --max-files-per-job N         files one job may hold (default 200)
  --max-connections-per-user N  connections one user may hold (default 128)
  --max-connections N           connections in all (default 1024)
  --help                        print this help
  --version                     print the version

Socket activation: started with LISTEN_PID/LISTEN_FDS (systemd's
qmgrd.socket, systemd-socket-activate), qmgrd serves descriptor 3.
Without a service manager it runs in the foreground and logs to stderr;
on BusyBox init, for example: ::respawn:/usr/bin/qmgrd --system

SIGTERM and SIGINT stop it cleanly (every transfer checkpointed); the next
start resumes every job. Exit status: 0 after a clean stop or an idle
exit, 1 when it cannot start (another qmgrd on the socket or the state
directory, a directory it cannot use), 2 for a bad command line.
";

fn number<T>(name: &str, value: &str, least: T) -> Result<T, Exit>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    match value.parse::<T>() {
        Ok(n) if n >= least => Ok(n),
        _ => Err(Exit::Usage(format!(
            "{name} takes a whole number of at least {least}, not '{value}'"
        ))),
    }
}

/// Parses the arguments after the program's name.
pub fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Options, Exit> {
    let mut options = Options {
        mode: Mode::User,
        socket: None,
        state: None,
        idle_exit: None,
        admin_group: None,
        max_jobs_per_user: DEFAULT_MAX_JOBS_PER_USER,
        max_files_per_job: DEFAULT_MAX_FILES_PER_JOB,
        max_connections_per_user: DEFAULT_MAX_CONNECTIONS_PER_USER,
        max_connections: DEFAULT_MAX_CONNECTIONS,
    };
    let mut modes = 0;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let arg = arg
            .into_string()
            .map_err(|a| Exit::Usage(format!("unknown argument {a:?}")))?;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let takes_value = matches!(
            name.as_str(),
            "--socket"
                | "--state"
                | "--idle-exit"
                | "--admin-group"
                | "--max-jobs-per-user"
                | "--max-files-per-job"
                | "--max-connections-per-user"
                | "--max-connections"
        );
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => match args.next() {
                    Some(v) => v
                        .into_string()
                        .map_err(|v| Exit::Usage(format!("{name}: {v:?} is not UTF-8")))?,
                    None => return Err(Exit::Usage(format!("{name} needs a value"))),
                },
            }
        } else if inline.is_some() {
            return Err(Exit::Usage(format!("{name} takes no value")));
        } else {
            String::new()
        };
        match name.as_str() {
            "--help" | "-h" => return Err(Exit::Help),
            "--version" | "-V" => return Err(Exit::Version),
            "--user" => {
                options.mode = Mode::User;
                modes += 1;
            }
            "--system" => {
                options.mode = Mode::System;
                modes += 1;
            }
            "--socket" | "--state" if value.is_empty() => {
                return Err(Exit::Usage(format!("{name} needs a path")))
            }
            "--socket" => options.socket = Some(PathBuf::from(value)),
            "--state" => options.state = Some(PathBuf::from(value)),
            "--idle-exit" => {
                let secs: u64 = number(&name, &value, 0)?;
                options.idle_exit =
                    Some((secs > 0).then(|| Duration::from_secs(secs.min(u32::MAX as u64))));
            }
            "--admin-group" if value.is_empty() => {
                return Err(Exit::Usage("--admin-group needs a group name".into()))
            }
            "--admin-group" => options.admin_group = Some(value),
            "--max-jobs-per-user" => options.max_jobs_per_user = number(&name, &value, 1)?,
            "--max-files-per-job" => options.max_files_per_job = number(&name, &value, 1)?,
            "--max-connections-per-user" => {
                options.max_connections_per_user = number(&name, &value, 1)?
            }
            "--max-connections" => options.max_connections = number(&name, &value, 1)?,
            _ => return Err(Exit::Usage(format!("unknown argument '{arg}'"))),
        }
    }
    if modes > 1 {
        return Err(Exit::Usage("give one of --user and --system".into()));
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(line: &str) -> Result<Options, Exit> {
        parse(line.split_whitespace().map(OsString::from))
    }

    #[test]
    fn defaults_and_overrides() {
        let o = parse_str("").unwrap();
        assert_eq!(o.mode, Mode::User);
        assert_eq!(o.max_jobs_per_user, 300);
        assert_eq!(o.max_files_per_job, 200);
        assert_eq!(o.idle_exit, None);
        let o = parse_str(
            "--system --socket /s --state=/d --idle-exit 0 --admin-group wheel \
             --max-jobs-per-user 2 --max-files-per-job=3 --max-connections-per-user 4 \
             --max-connections 5",
        )
        .unwrap();
        assert_eq!(o.mode, Mode::System);
        assert_eq!(o.socket, Some(PathBuf::from("/s")));
        assert_eq!(o.state, Some(PathBuf::from("/d")));
        assert_eq!(o.idle_exit, Some(None));
        assert_eq!(o.admin_group.as_deref(), Some("wheel"));
        assert_eq!(
            (
                o.max_jobs_per_user,
                o.max_files_per_job,
                o.max_connections_per_user,
                o.max_connections
            ),
            (2, 3, 4, 5)
        );
        assert_eq!(
            parse_str("--idle-exit 7").unwrap().idle_exit,
            Some(Some(Duration::from_secs(7)))
        );
    }

    #[test]
    fn bad_lines_are_usage_errors() {
        for line in [
            "--user --system",
            "--socket",
            "--max-jobs-per-user 0",
            "--max-files-per-job -1",
            "--idle-exit soon",
            "--frobnicate",
            "--user=1",
            "extra",
        ] {
            assert!(matches!(parse_str(line), Err(Exit::Usage(_))), "{line}");
        }
        assert_eq!(parse_str("--system --help"), Err(Exit::Help));
        assert_eq!(parse_str("--version"), Err(Exit::Version));
    }
}
