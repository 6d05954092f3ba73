//! qmgrd: qmgr's service (DESIGN §8). One daemon owns a state directory
//! and runs its jobs with the engine of the library; programs reach it
//! over a Unix socket that speaks Varlink (interface `io.qmgr`,
//! `src/service/io.qmgr.varlink`). The daemon is a thin face like the C
//! API: every method calls the public Rust API.
//!
//! Start-up: the socket the service manager passes (`LISTEN_FDS`), or the
//! one it binds itself (refusing to start if another daemon listens
//! there); then the state directory (refused if another manager holds
//! it). Then it accepts connections until SIGTERM or SIGINT, or until it
//! has been idle for `--idle-exit` (no job active, no client): it closes
//! the manager (every transfer checkpointed) and exits 0.
//!
//! Modules: `options` (the command line), `os` (every OS call `std`
//! lacks, the only `unsafe`), `server` (connections and their bounds),
//! `methods` (the interface's methods), `watch` (events to watchers).

mod methods;
mod options;
mod os;
mod server;
mod snapshot;
mod watch;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use options::{Exit, Mode, Options, DEFAULT_ACTIVATED_IDLE_EXIT, USAGE};
use qmgr::hresult::QM_E_SHARING_VIOLATION;
use qmgr::Manager;

/// How often the main loop looks at the idle clock without a connection.
const TICK: Duration = Duration::from_secs(1);

fn main() {
    let options = match options::parse(std::env::args_os().skip(1)) {
        Ok(options) => options,
        Err(Exit::Help) => {
            print!("{USAGE}");
            return;
        }
        Err(Exit::Version) => {
            println!("qmgrd {}", env!("CARGO_PKG_VERSION"));
            return;
        }
        Err(Exit::Usage(why)) => {
            eprintln!("qmgrd: {why}\nTry 'qmgrd --help'.");
            std::process::exit(2);
        }
    };
    // One arena: the daemon's threads mostly wait (1,000 jobs took the same
    // time with one or two), and an arena per thread that ever ran would
    // keep memory a long-lived process never gets back (0.8 MiB after 900
    // jobs with a second one).
    os::limit_malloc_arenas(1);
    match run(options) {
        Ok(()) => {}
        Err(why) => {
            eprintln!("qmgrd: {why}");
            std::process::exit(1);
        }
    }
}

/// A path from the environment variable `name`, if it is set to an
/// absolute path (the XDG rule: a relative one is ignored).
fn env_dir(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
}

/// `path`, made absolute against the working directory.
fn absolute(path: &Path) -> Result<PathBuf, String> {
    std::path::absolute(path).map_err(|e| format!("cannot resolve '{}': {e}", path.display()))
}

fn state_dir(options: &Options) -> Result<PathBuf, String> {
    if let Some(dir) = &options.state {
        return absolute(dir);
    }
    match options.mode {
        Mode::System => Ok(PathBuf::from("/var/lib/qmgr")),
        Mode::User => env_dir("XDG_STATE_HOME")
            .or_else(|| env_dir("HOME").map(|home| home.join(".local/state")))
            .map(|base| base.join("qmgr"))
            .ok_or_else(|| "neither XDG_STATE_HOME nor HOME is set: give --state DIR".to_string()),
    }
}

fn socket_path(options: &Options) -> Result<PathBuf, String> {
    if let Some(path) = &options.socket {
        return absolute(path);
    }
    match options.mode {
        Mode::System => Ok(PathBuf::from("/run/qmgr/io.qmgr")),
        Mode::User => env_dir("XDG_RUNTIME_DIR")
            .map(|dir| dir.join("qmgr/io.qmgr"))
            .ok_or_else(|| "XDG_RUNTIME_DIR is not set: give --socket PATH".to_string()),
    }
}

/// The socket file this daemon made, to remove when it stops (if it is
/// still that file).
struct Bound {
    path: PathBuf,
    inode: (u64, u64),
}

impl Bound {
    fn remove(&self) {
        let same =
            std::fs::symlink_metadata(&self.path).is_ok_and(|m| (m.dev(), m.ino()) == self.inode);
        if same {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Binds `path`: its directory is created if missing (0700 for a user's
/// daemon, which also refuses one that others may enter; 0755 for the
/// system's); a socket file nothing listens on is replaced; one something
/// listens on means another daemon runs, and this one must not start.
fn bind(path: &Path, mode: Mode) -> Result<(UnixListener, Bound), String> {
    let shown = path.display();
    let dir = path
        .parent()
        .ok_or_else(|| format!("'{shown}' is not a socket path"))?;
    let dir_mode = match mode {
        Mode::User => 0o700,
        Mode::System => 0o755,
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(dir_mode)
        .create(dir)
        .map_err(|e| {
            format!(
                "cannot create the socket's directory '{}': {e}",
                dir.display()
            )
        })?;
    if mode == Mode::User && options_default_dir(path) {
        let meta = std::fs::metadata(dir).map_err(|e| format!("'{}': {e}", dir.display()))?;
        if meta.uid() != os::effective_uid() || meta.mode() & 0o077 != 0 {
            return Err(format!(
                "the socket's directory '{}' must belong to this user with mode 0700",
                dir.display()
            ));
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => match UnixStream::connect(path) {
            Ok(_) => {
                return Err(format!(
                    "another qmgrd is already listening on '{shown}' (stop it first, or give \
                     --socket another path)"
                ))
            }
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                // Left by a daemon that was killed: nothing listens on it.
                std::fs::remove_file(path)
                    .map_err(|e| format!("cannot remove the stale socket '{shown}': {e}"))?;
            }
            Err(e) => return Err(format!("cannot check the socket '{shown}': {e}")),
        },
        Ok(_) => {
            return Err(format!(
                "'{shown}' exists and is not a socket: remove it or give --socket another path"
            ))
        }
        Err(_) => {}
    }
    // Made unreachable by others until its mode is set, whatever the umask.
    let old = os::set_umask(0o177);
    let listener = UnixListener::bind(path);
    os::set_umask(old);
    let listener = listener.map_err(|e| format!("cannot listen on '{shown}': {e}"))?;
    let socket_mode = match mode {
        Mode::User => 0o600,
        // Every user may connect; each call is checked against SO_PEERCRED.
        Mode::System => 0o666,
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(socket_mode))
        .map_err(|e| format!("cannot set the mode of '{shown}': {e}"))?;
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("'{shown}': {e}"))?;
    Ok((
        listener,
        Bound {
            path: path.to_path_buf(),
            inode: (meta.dev(), meta.ino()),
        },
    ))
}

/// Whether `path` is the per-user default (`$XDG_RUNTIME_DIR/qmgr/…`),
/// whose directory this daemon owns and must keep private. A directory
/// given with `--socket` is the caller's to manage.
fn options_default_dir(path: &Path) -> bool {
    env_dir("XDG_RUNTIME_DIR").is_some_and(|dir| path == dir.join("qmgr/io.qmgr"))
}

fn run(options: Options) -> Result<(), String> {
    // Before any thread: it edits the environment.
    let activated = os::activated_listener()?;
    let mut signals =
        os::signal_pipe().map_err(|e| format!("cannot handle SIGTERM and SIGINT: {e}"))?;
    let state = state_dir(&options)?;
    let admin_gid = match &options.admin_group {
        Some(name) => Some(
            os::group_id(name).ok_or_else(|| format!("--admin-group: no group named '{name}'"))?,
        ),
        None => None,
    };
    let socket_activated = activated.is_some();
    let (listener, bound, where_) = match activated {
        Some(listener) => {
            if options.socket.is_some() {
                eprintln!("qmgrd: --socket ignored: the service manager passed a socket");
            }
            (
                listener,
                None,
                "the socket the service manager passed".to_string(),
            )
        }
        None => {
            let path = socket_path(&options)?;
            let (listener, bound) = bind(&path, options.mode)?;
            (listener, Some(bound), format!("'{}'", path.display()))
        }
    };
    if options.mode == Mode::System && os::effective_uid() != 0 {
        eprintln!(
            "qmgrd: warning: a system daemon not running as root touches every job's files with \
             its own rights, not their owners'"
        );
    }
    let manager = match Manager::open(Some(&state)) {
        Ok(manager) => manager,
        Err(e) => {
            if let Some(bound) = &bound {
                bound.remove();
            }
            return Err(if e.code.0 == QM_E_SHARING_VIOLATION {
                format!(
                    "the state directory '{}' is in use by another qmgrd (or a `qmgr --state` \
                     command): only one may run on it [{}]",
                    state.display(),
                    e.code
                )
            } else {
                format!("cannot open the state directory '{}': {e}", state.display())
            });
        }
    };
    for why in manager.skipped_jobs() {
        eprintln!("qmgrd: skipped a stored job: {why}");
    }
    let idle_exit = match options.idle_exit {
        Some(chosen) => chosen,
        None if socket_activated => Some(DEFAULT_ACTIVATED_IDLE_EXIT),
        None => None,
    };
    eprintln!(
        "qmgrd {}: {} daemon on {where_}, state '{}', {} jobs{}",
        env!("CARGO_PKG_VERSION"),
        options.mode.name(),
        state.display(),
        manager.job_count().unwrap_or(0),
        match idle_exit {
            Some(after) => format!(", exits after {} s idle", after.as_secs()),
            None => String::new(),
        }
    );
    let daemon = Arc::new(server::Daemon::new(manager, options, admin_gid));
    let outcome = serve(&daemon, &listener, &mut signals, idle_exit);
    drop(listener);
    daemon.manager.close();
    if let Some(bound) = &bound {
        bound.remove();
    }
    outcome
}

/// Accepts connections until a signal or the idle exit.
fn serve(
    daemon: &Arc<server::Daemon>,
    listener: &UnixListener,
    signals: &mut std::fs::File,
    idle_exit: Option<Duration>,
) -> Result<(), String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("cannot use the socket: {e}"))?;
    let mut idle_since: Option<Instant> = None;
    let mut trimmed = false;
    loop {
        let ready = os::wait_readable(&[listener.as_raw_fd(), signals.as_raw_fd()], TICK)
            .map_err(|e| format!("cannot wait for connections: {e}"))?;
        if ready[1] {
            let mut byte = [0u8; 16];
            let got = signals.read(&mut byte).unwrap_or(0);
            let name = match byte[..got].first().map(|&b| i32::from(b)) {
                Some(libc::SIGINT) => "SIGINT",
                _ => "SIGTERM",
            };
            eprintln!("qmgrd: {name}: checkpointing every transfer and exiting");
            return Ok(());
        }
        if ready[0] {
            loop {
                match listener.accept() {
                    Ok((stream, _)) => daemon.accept(stream),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        // Out of descriptors or memory: let others finish first.
                        eprintln!("qmgrd: cannot accept a connection: {e}");
                        std::thread::sleep(Duration::from_millis(100));
                        break;
                    }
                }
            }
        }
        if daemon.connections() == 0 && !daemon.has_active_jobs() {
            let since = *idle_since.get_or_insert_with(Instant::now);
            // Once per idle spell: what the busy time allocated goes back.
            if !trimmed {
                os::release_free_memory();
                trimmed = true;
            }
            if let Some(limit) = idle_exit {
                if since.elapsed() >= limit {
                    eprintln!(
                        "qmgrd: idle for {} s (no active job, no client): exiting",
                        limit.as_secs()
                    );
                    return Ok(());
                }
            }
        } else {
            idle_since = None;
            trimmed = false;
        }
    }
}
