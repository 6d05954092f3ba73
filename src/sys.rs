//! The few operating-system calls that `std` does not wrap, made here so
//! that the engine stays free of `unsafe` and never imports the C boundary.
//! Each is best effort and has a portable fallback.

use std::fs::File;

/// Asks the kernel to start writing `len` bytes of `file` from `offset` back
/// to the disk, without waiting for it (Linux `sync_file_range` with
/// `SYNC_FILE_RANGE_WRITE`). A later `fsync` then finds most of the work
/// done. It guarantees nothing by itself; on other systems it does nothing.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: the descriptor is borrowed from a live `File` for the whole
        // call, and the call reads no memory of ours. Its result is ignored on
        // purpose: the caller's later fsync reports any write error.
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

/// The process's effective user id (`geteuid`), to tell whether a state
/// directory belongs to the user running qmgr.
#[cfg(feature = "state")]
pub(crate) fn effective_uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory of ours and
    // cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether this process may create files in the directory `dir`
/// (`faccessat(W_OK | X_OK, AT_EACCESS)`: the effective ids, supplementary
/// groups, ACLs and read-only mounts as the kernel judges them). `None`
/// when it cannot tell (a name with a NUL byte, a failed call other than
/// a refusal).
pub(crate) fn may_create_in(dir: &std::path::Path) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: `name` is a NUL-terminated string that outlives the call;
    // faccessat only reads it.
    let rc = unsafe {
        libc::faccessat(
            libc::AT_FDCWD,
            name.as_ptr(),
            libc::W_OK | libc::X_OK,
            libc::AT_EACCESS,
        )
    };
    if rc == 0 {
        return Some(true);
    }
    match std::io::Error::last_os_error().raw_os_error() {
        Some(libc::EACCES | libc::EPERM | libc::EROFS) => Some(false),
        _ => None,
    }
}

/// A TCP connection to `addr` that can be given up: the connect runs on a
/// non-blocking, close-on-exec socket, waiting in slices of at most 50 ms,
/// and fails with `TimedOut` once `budget` has passed and with
/// `Interrupted` as soon as `stop()` is true (checked before each slice),
/// so a connect to a black-holed address ends within a slice of a cancel.
/// `std`'s `connect_timeout` cannot be interrupted. The stream returned
/// is blocking.
pub(crate) fn connect_tcp(
    addr: &std::net::SocketAddr,
    budget: std::time::Duration,
    stop: &dyn Fn() -> bool,
) -> std::io::Result<std::net::TcpStream> {
    use std::io::{Error, ErrorKind};
    use std::net::{SocketAddr, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let deadline = std::time::Instant::now() + budget;
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    let kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket() reads no memory of ours; the descriptor it returns
    // (checked) is owned by `stream` from here on and closed with it.
    let stream = unsafe {
        let fd = libc::socket(family, kind, 0);
        if fd < 0 {
            return Err(Error::last_os_error());
        }
        TcpStream::from(OwnedFd::from_raw_fd(fd))
    };
    let fd = stream.as_raw_fd();
    /// connect() with a socket address of type `T` (`sockaddr_in` or `_in6`).
    fn connect<T>(fd: libc::c_int, address: &T) -> libc::c_int {
        let len = std::mem::size_of::<T>() as libc::socklen_t;
        // SAFETY: `address` is a whole, initialised socket address of `len` bytes.
        unsafe { libc::connect(fd, (address as *const T).cast(), len) }
    }
    let started = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: all zeros is a valid sockaddr_in (the fields are integers).
            let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = a.port().to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            connect(fd, &sin)
        }
        SocketAddr::V6(a) => {
            // SAFETY: all zeros is a valid sockaddr_in6 (integers and bytes).
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = a.port().to_be();
            sin6.sin6_flowinfo = a.flowinfo();
            sin6.sin6_addr.s6_addr = a.ip().octets();
            sin6.sin6_scope_id = a.scope_id();
            connect(fd, &sin6)
        }
    };
    if started != 0 {
        let err = Error::last_os_error();
        if !matches!(err.raw_os_error(), Some(libc::EINPROGRESS | libc::EINTR)) {
            return Err(err);
        }
        loop {
            if stop() {
                return Err(Error::new(
                    ErrorKind::Interrupted,
                    "the connect was stopped",
                ));
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(Error::new(ErrorKind::TimedOut, "the connect timed out"));
            }
            let slice = left.min(std::time::Duration::from_millis(50));
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLOUT,
                revents: 0,
            };
            let ms = slice.as_millis().max(1) as libc::c_int;
            // SAFETY: poll() writes only to the one pollfd it is given.
            let ready = unsafe { libc::poll(&mut poll, 1, ms) };
            if ready > 0 {
                break;
            }
            let err = Error::last_os_error();
            if ready < 0 && err.kind() != ErrorKind::Interrupted {
                return Err(err);
            }
        }
        if let Some(err) = stream.take_error()? {
            return Err(err);
        }
    }
    stream.set_nonblocking(false)?;
    Ok(stream)
}

/// A child process started by [`spawn`]; [`wait_for`] reaps it.
pub(crate) struct Child(libc::pid_t);

/// Starts `program` (a path: no search) with `argv` (its `argv[0]` first)
/// and the environment `env` plus `extra_env` (which replaces variables of
/// the same name). `env` is a snapshot a caller's thread took: this runs
/// on qmgr's threads, which never read the process's environment (glibc's
/// `getenv` is not safe against a host's `setenv` on another thread).
/// Standard input `/dev/null`, the other
/// descriptors as they are (qmgr opens its own with `O_CLOEXEC`), an empty
/// signal mask and SIGPIPE at its default action. `posix_spawn`, not
/// `std::process`: the standard library's version costs 40 KB of a
/// firmware-sized library for a call qmgr makes rarely.
pub(crate) fn spawn(
    program: &str,
    argv: &[String],
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    extra_env: &[(&str, &str)],
) -> std::io::Result<Child> {
    use std::ffi::CString;
    use std::io::{Error, ErrorKind};
    use std::os::unix::ffi::OsStrExt;
    let c = |bytes: &[u8]| {
        CString::new(bytes)
            .map_err(|_| Error::new(ErrorKind::InvalidInput, "a NUL in the command line"))
    };
    let path = c(program.as_bytes())?;
    let args = argv
        .iter()
        .map(|a| c(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let given = env;
    let mut env = Vec::new();
    for (name, value) in given {
        if extra_env
            .iter()
            .any(|(n, _)| n.as_bytes() == name.as_bytes())
        {
            continue;
        }
        let mut pair = name.as_bytes().to_vec();
        pair.push(b'=');
        pair.extend_from_slice(value.as_bytes());
        env.push(c(&pair)?);
    }
    for (name, value) in extra_env {
        env.push(c(format!("{name}={value}").as_bytes())?);
    }
    let null_ended = |list: &[CString]| {
        let mut ptrs: Vec<*mut libc::c_char> = list.iter().map(|s| s.as_ptr().cast_mut()).collect();
        ptrs.push(std::ptr::null_mut());
        ptrs
    };
    let (argv_ptrs, env_ptrs) = (null_ended(&args), null_ended(&env));
    let dev_null = c(b"/dev/null")?;
    let mut pid: libc::pid_t = 0;
    // SAFETY: the file actions and attributes are initialised before use and
    // destroyed after; every pointer passed (path, argv, envp, /dev/null)
    // points into CStrings and vectors that live to the end of this block,
    // and argv and envp end with a null pointer as posix_spawn requires.
    let err = unsafe {
        let mut actions: libc::posix_spawn_file_actions_t = std::mem::zeroed();
        let mut attr: libc::posix_spawnattr_t = std::mem::zeroed();
        let mut err = libc::posix_spawn_file_actions_init(&mut actions);
        if err == 0 {
            err = libc::posix_spawnattr_init(&mut attr);
            if err == 0 {
                let mut none: libc::sigset_t = std::mem::zeroed();
                let mut pipe: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut none);
                libc::sigemptyset(&mut pipe);
                libc::sigaddset(&mut pipe, libc::SIGPIPE);
                let flags = libc::POSIX_SPAWN_SETSIGMASK | libc::POSIX_SPAWN_SETSIGDEF;
                err = [
                    libc::posix_spawn_file_actions_addopen(
                        &mut actions,
                        0,
                        dev_null.as_ptr(),
                        libc::O_RDONLY,
                        0,
                    ),
                    libc::posix_spawnattr_setsigmask(&mut attr, &none),
                    libc::posix_spawnattr_setsigdefault(&mut attr, &pipe),
                    libc::posix_spawnattr_setflags(&mut attr, flags as libc::c_short),
                ]
                .into_iter()
                .find(|&e| e != 0)
                .unwrap_or(0);
                if err == 0 {
                    err = libc::posix_spawn(
                        &mut pid,
                        path.as_ptr(),
                        &actions,
                        &attr,
                        argv_ptrs.as_ptr(),
                        env_ptrs.as_ptr(),
                    );
                }
                libc::posix_spawnattr_destroy(&mut attr);
            }
            libc::posix_spawn_file_actions_destroy(&mut actions);
        }
        err
    };
    if err != 0 {
        return Err(Error::from_raw_os_error(err));
    }
    Ok(Child(pid))
}

/// How a child process ended, as [`wait_for`] found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// It exited with this status.
    Status(i32),
    /// A signal ended it.
    Signal,
    /// It ended, but its status is lost: this process ignores SIGCHLD
    /// (daemons do), so the kernel reaped it and `waitpid` says `ECHILD`
    /// once it has ended.
    Unknown,
}

/// Waits for `child` to end and tells how it did.
pub(crate) fn wait_for(child: Child) -> Exit {
    let mut status = 0;
    loop {
        // SAFETY: waits for our own child, writing only to `status`.
        let got = unsafe { libc::waitpid(child.0, &mut status, 0) };
        if got == child.0 {
            return match libc::WIFEXITED(status) {
                true => Exit::Status(libc::WEXITSTATUS(status)),
                false => Exit::Signal,
            };
        }
        if got == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // ECHILD: with SIGCHLD ignored, waitpid returns only when the
        // child has ended, and without its status.
        return Exit::Unknown;
    }
}
