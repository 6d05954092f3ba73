//! Every operating-system call of the daemon that `std` does not wrap, and
//! so every `unsafe` block of the crate: the peer's credentials
//! (`SO_PEERCRED`), the termination signals, the socket systemd passes
//! (`LISTEN_FDS`), the umask, and the user and group databases for the
//! admin group. Linux only (`SO_PEERCRED`, `SO_DOMAIN`).

use std::ffi::{CStr, CString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::Duration;

/// Who is at the other end of a connection, as the kernel recorded it
/// when the peer connected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Peer {
    /// The peer's process id (0 if it is in another pid namespace).
    pub pid: u32,
    /// Its effective user id.
    pub uid: u32,
    /// Its effective group id.
    pub gid: u32,
}

/// The credentials of the process at the other end of `stream`.
pub fn peer_credentials(stream: &UnixStream) -> io::Result<Peer> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are live, correctly sized locals; the
    // kernel writes at most `len` bytes into `cred`.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Peer {
        pid: cred.pid.max(0) as u32,
        uid: cred.uid,
        gid: cred.gid,
    })
}

/// This process's effective user id.
pub fn effective_uid() -> u32 {
    // SAFETY: no arguments, no memory touched, cannot fail.
    unsafe { libc::geteuid() }
}

/// This process's effective group id.
pub fn effective_gid() -> u32 {
    // SAFETY: no arguments, no memory touched, cannot fail.
    unsafe { libc::getegid() }
}

/// How many malloc arenas glibc may make (it makes up to eight per core,
/// one for each thread that finds the others busy, and keeps what they
/// hold): a long-lived daemon whose threads come and go (a thread per
/// client, per transfer) otherwise keeps tens of MiB of freed memory.
/// Does nothing on other C libraries. Call before any thread starts.
pub fn limit_malloc_arenas(arenas: i32) {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets an allocator parameter; no thread runs yet.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
    #[cfg(not(target_env = "gnu"))]
    let _ = arenas;
}

/// Gives the memory malloc holds free back to the system (glibc's
/// malloc_trim, every arena); for when the daemon goes idle.
pub fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim takes each arena's lock and only unmaps or
    // madvises pages no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Sets the file mode creation mask; returns the previous one.
pub fn set_umask(mask: u32) -> u32 {
    // SAFETY: umask only swaps a process attribute and cannot fail.
    unsafe { libc::umask(mask as libc::mode_t) as u32 }
}

/// The write end of the signal pipe, for the handler (-1: none).
static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = signal as u8;
        // SAFETY: write(2) is async-signal-safe; the byte is a live local.
        // A full pipe (EAGAIN) already holds a wake-up: nothing is lost.
        unsafe {
            libc::write(fd, (&byte as *const u8).cast(), 1);
        }
    }
}

/// Makes SIGTERM and SIGINT write a byte to a pipe and returns its read
/// end, which [`wait_readable`] watches: the main loop learns of the
/// signal whichever thread the kernel delivered it to.
pub fn signal_pipe() -> io::Result<File> {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: `fds` is a live array of two descriptors for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded: both descriptors are new and ours alone.
    let (read, write) = unsafe { (File::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // The write end lives as long as the process (the handler may run at
    // any time): leak it on purpose.
    SIGNAL_PIPE.store(
        std::mem::ManuallyDrop::new(write).as_raw_fd(),
        Ordering::Relaxed,
    );
    for signal in [libc::SIGTERM, libc::SIGINT] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask"
        // value; the handler only calls write(2) on a descriptor that
        // stays open.
        let rc = unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(read)
}

/// Waits until one of `fds` is readable, or for `timeout`; returns which
/// are (all false at the timeout or on an interrupted wait).
pub fn wait_readable(fds: &[RawFd], timeout: Duration) -> io::Result<Vec<bool>> {
    let mut polls: Vec<libc::pollfd> = fds
        .iter()
        .map(|&fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `polls` is a live array of `polls.len()` pollfd values.
    let rc = unsafe { libc::poll(polls.as_mut_ptr(), polls.len() as libc::nfds_t, ms) };
    if rc < 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::Interrupted {
            return Ok(vec![false; fds.len()]);
        }
        return Err(err);
    }
    Ok(polls.iter().map(|p| p.revents != 0).collect())
}

fn socket_option(fd: RawFd, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` and `len` are live, correctly sized locals.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// The listening socket of socket activation, if this process was started
/// that way: `LISTEN_PID` is this process and `LISTEN_FDS` at least 1.
/// Descriptor 3 must be a listening Unix stream socket (anything else is
/// an error: a unit that passes the wrong socket should fail loudly). The
/// variables are removed so that no child sees them; every passed
/// descriptor is made close-on-exec. Call before any thread starts (it
/// changes the environment).
pub fn activated_listener() -> Result<Option<UnixListener>, String> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<i32>().ok())
        .unwrap_or(0);
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(name);
    }
    if !ours || count < 1 {
        return Ok(None);
    }
    let fd = LISTEN_FDS_START;
    for extra in fd..fd.saturating_add(count.min(1024)) {
        // SAFETY: F_SETFD on a descriptor number; a closed one only
        // returns EBADF.
        unsafe {
            libc::fcntl(extra, libc::F_SETFD, libc::FD_CLOEXEC);
        }
    }
    let check = |option, want, what: &str| match socket_option(fd, option) {
        Ok(value) if value == want => Ok(()),
        Ok(_) => Err(format!(
            "the socket passed by the service manager (fd 3) {what}"
        )),
        Err(e) => Err(format!(
            "the descriptor passed by the service manager (fd 3) is not a socket: {e}"
        )),
    };
    check(libc::SO_DOMAIN, libc::AF_UNIX, "is not a Unix socket")?;
    check(libc::SO_TYPE, libc::SOCK_STREAM, "is not a stream socket")?;
    check(libc::SO_ACCEPTCONN, 1, "is not listening")?;
    // SAFETY: fd 3 is a listening Unix stream socket handed to this
    // process alone (LISTEN_PID); from here on the listener owns it.
    Ok(Some(unsafe { UnixListener::from_raw_fd(fd) }))
}

/// The group id of the group `name`, `None` if there is no such group.
pub fn group_id(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: a zeroed `group` is a valid output value.
        let mut group: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: every pointer is to a live local or the buffer, whose
        // length is passed; the strings the result points to live in it.
        let rc = unsafe {
            libc::getgrnam_r(
                name.as_ptr(),
                &mut group,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buffer.len() < (1 << 20) {
            buffer.resize(buffer.len() * 4, 0);
            continue;
        }
        return (rc == 0 && !found.is_null()).then_some(group.gr_gid);
    }
}

/// The login name of `uid`, `None` if the user database has none.
fn user_name(uid: u32) -> Option<CString> {
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: a zeroed `passwd` is a valid output value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: as in `group_id`.
        let rc = unsafe {
            libc::getpwuid_r(
                uid,
                &mut pw,
                buffer.as_mut_ptr().cast(),
                buffer.len(),
                &mut found,
            )
        };
        if rc == libc::ERANGE && buffer.len() < (1 << 20) {
            buffer.resize(buffer.len() * 4, 0);
            continue;
        }
        if rc != 0 || found.is_null() || pw.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_name points to a NUL-terminated string in `buffer`.
        return Some(unsafe { CStr::from_ptr(pw.pw_name) }.to_owned());
    }
}

/// Whether user `uid` (whose primary group is `primary_gid`) belongs to
/// group `gid`: as its primary group or as a member in the group database
/// (`getgrouplist`).
pub fn user_in_group(uid: u32, primary_gid: u32, gid: u32) -> bool {
    if primary_gid == gid {
        return true;
    }
    let Some(name) = user_name(uid) else {
        return false;
    };
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut count = groups.len() as libc::c_int;
        // SAFETY: `groups` holds `count` entries; getgrouplist writes at
        // most that many and sets `count` to the number it needs.
        let rc = unsafe {
            libc::getgrouplist(name.as_ptr(), primary_gid, groups.as_mut_ptr(), &mut count)
        };
        if rc >= 0 {
            groups.truncate(count.max(0) as usize);
            return groups.contains(&gid);
        }
        let want = (count.max(0) as usize).max(groups.len() * 2);
        if want > 65_536 {
            return false;
        }
        groups.resize(want, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_socket_pair_names_this_process() {
        let (a, _b) = UnixStream::pair().unwrap();
        let peer = peer_credentials(&a).unwrap();
        assert_eq!(peer.pid, std::process::id());
        assert_eq!(peer.uid, effective_uid());
        assert_eq!(peer.gid, effective_gid());
    }

    #[test]
    fn groups_resolve() {
        assert_eq!(group_id("root"), Some(0));
        assert_eq!(group_id("no such group, surely"), None);
        assert!(user_in_group(0, 0, 0));
    }
}
