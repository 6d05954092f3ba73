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

/// A child process started by [`spawn`]; [`wait_for`] reaps it.
pub(crate) struct Child(libc::pid_t);

/// Starts `program` (a path: no search) with `argv` (its `argv[0]` first)
/// and this process's environment plus `extra_env` (which replaces
/// variables of the same name), standard input `/dev/null`, the other
/// descriptors as they are (qmgr opens its own with `O_CLOEXEC`), an empty
/// signal mask and SIGPIPE at its default action. `posix_spawn`, not
/// `std::process`: the standard library's version costs 40 KB of a
/// firmware-sized library for a call qmgr makes rarely.
pub(crate) fn spawn(
    program: &str,
    argv: &[String],
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
    let mut env = Vec::new();
    for (name, value) in std::env::vars_os() {
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
