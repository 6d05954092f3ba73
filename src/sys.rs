//! The few operating-system calls that `std` does not wrap, made here so
//! that the engine stays free of `unsafe` and never imports the C boundary.
//! Each is best effort and has a portable fallback.

use std::fs::File;

/// What the kernel says of a TCP connection's receiving side, for the
/// yielding controller (`engine::model::yielding`).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Receiving {
    /// The round trip as the receiver sees it: the kernel's receiver
    /// estimate (`tcpi_rcv_rtt`, measured from the data that arrives),
    /// else its smoothed round trip (`tcpi_rtt`).
    pub round_trip: Option<std::time::Duration>,
    /// The payload bytes the socket has received (`tcpi_bytes_received`,
    /// Linux 4.1), read by the program or not.
    pub bytes_received: Option<u64>,
    /// The segments it has received (`tcpi_segs_in`, Linux 4.2; wraps).
    pub segments_received: Option<u32>,
    /// The connection carries no TCP timestamps: the receiver's estimate
    /// is then the least time a window took to arrive, which never grows
    /// with a queue.
    pub without_timestamps: bool,
    /// The least round trip the sender's side timed (`tcpi_min_rtt`,
    /// Linux 4.6): on a connection that only receives, its handshake's
    /// and its request's.
    pub least_round_trip: Option<std::time::Duration>,
}

/// `TCPI_OPT_TIMESTAMPS` of `tcpi_options` (linux/tcp.h).
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
const TCPI_OPT_TIMESTAMPS: u8 = 1;

/// Reads `TCP_INFO` of `socket`; `None` where it is not available.
pub(crate) fn tcp_receiving(socket: &std::net::TcpStream) -> Option<Receiving> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        let (info, len) = tcp_info(socket)?;
        let micros = match (info.tcpi_rcv_rtt, info.tcpi_rtt) {
            (0, 0) => None,
            (0, rtt) => Some(rtt),
            (rcv, _) => Some(rcv),
        };
        // An older kernel fills less of the structure.
        let filled = |end: usize| len >= end;
        let end_of_bytes_received =
            std::mem::offset_of!(libc::tcp_info, tcpi_bytes_received) + std::mem::size_of::<u64>();
        let end_of_segs_in =
            std::mem::offset_of!(libc::tcp_info, tcpi_segs_in) + std::mem::size_of::<u32>();
        let end_of_min_rtt =
            std::mem::offset_of!(libc::tcp_info, tcpi_min_rtt) + std::mem::size_of::<u32>();
        Some(Receiving {
            round_trip: micros.map(|m| std::time::Duration::from_micros(u64::from(m))),
            bytes_received: filled(end_of_bytes_received).then_some(info.tcpi_bytes_received),
            segments_received: filled(end_of_segs_in).then_some(info.tcpi_segs_in),
            without_timestamps: info.tcpi_options & TCPI_OPT_TIMESTAMPS == 0,
            // Not yet timed: zero, or all ones (`~0U`).
            least_round_trip: (filled(end_of_min_rtt)
                && info.tcpi_min_rtt != 0
                && info.tcpi_min_rtt != u32::MAX)
                .then(|| std::time::Duration::from_micros(u64::from(info.tcpi_min_rtt))),
        })
    }
    #[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
    {
        let _ = socket;
        None
    }
}

/// What each of this host's network interfaces (all but loopback) has
/// received: its name, bytes (with their headers) and packets, as the
/// kernel counts them, for the yielding controller to tell other traffic
/// from its own. Linux reads `/proc/net/dev` (the caller's network
/// namespace); `None` elsewhere.
pub(crate) fn received_traffic() -> Option<Vec<(String, u64, u64)>> {
    #[cfg(target_os = "linux")]
    {
        let text = std::fs::read_to_string("/proc/net/dev").ok()?;
        let mut interfaces = Vec::new();
        // Two header lines, then `name: rx_bytes rx_packets ...`.
        for line in text.lines().skip(2) {
            // A line this parser does not understand costs that interface,
            // not the others.
            let Some((name, counters)) = line.split_once(':') else {
                continue;
            };
            let name = name.trim();
            if name == "lo" {
                continue;
            }
            let mut fields = counters.split_whitespace();
            let (Some(bytes), Some(packets)) = (
                fields.next().and_then(|f| f.parse().ok()),
                fields.next().and_then(|f| f.parse().ok()),
            ) else {
                continue;
            };
            interfaces.push((name.to_string(), bytes, packets));
        }
        Some(interfaces)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Whether the network interface `name` is a point-to-point link (a VPN
/// tunnel: WireGuard, tun, PPP, GRE), from its flags in sysfs; `false`
/// where they cannot be read.
pub(crate) fn is_point_to_point(name: &str) -> bool {
    #[cfg(target_os = "linux")]
    {
        const IFF_POINTOPOINT: u32 = 0x10;
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            return false;
        }
        std::fs::read_to_string(format!("/sys/class/net/{name}/flags"))
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim().trim_start_matches("0x"), 16).ok())
            .is_some_and(|flags| flags & IFF_POINTOPOINT != 0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = name;
        false
    }
}

/// A window bound so large that [`clamp_receive_window`] lifts the bound
/// instead: the socket's buffer is the limit again.
pub(crate) const UNBOUNDED_WINDOW: u32 = 1 << 30;

/// Bounds the receive window `socket` advertises to about `bytes` (Linux
/// `TCP_WINDOW_CLAMP`; the kernel keeps at least a few hundred bytes), so
/// that the server has at most that much in flight toward us.
/// [`UNBOUNDED_WINDOW`] or more lifts the bound (the buffer's own size is
/// then the limit).
/// With `fix_buffer`, the socket's buffer is also fixed at about twice
/// the bound, which stops the kernel's buffer autotuning (which raises
/// the bound whenever it grows the buffer) for the socket's life.
/// Returns false where the system has no such option or refused it.
pub(crate) fn clamp_receive_window(
    socket: &std::net::TcpStream,
    bytes: u32,
    fix_buffer: bool,
) -> bool {
    #[cfg(target_os = "linux")]
    {
        let set = |level, name, bytes: u32| {
            set_int(
                socket,
                level,
                name,
                libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX),
            )
        };
        // A buffer of the program's choosing stops the kernel's autotuning,
        // which would otherwise raise the clamp again as it grows the
        // buffer; lifting the bound gives the largest buffer allowed.
        let buffer = if bytes >= UNBOUNDED_WINDOW {
            libc::c_int::MAX as u32
        } else {
            bytes.saturating_mul(2)
        };
        if fix_buffer {
            set(libc::SOL_SOCKET, libc::SO_RCVBUF, buffer);
        }
        set(libc::IPPROTO_TCP, libc::TCP_WINDOW_CLAMP, bytes)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, bytes, fix_buffer);
        false
    }
}

/// What the kernel says of a TCP connection's sending side, for the
/// yielding of uploads (`engine::model::yielding`).
#[cfg(feature = "upload")]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Sending {
    /// The sender's smoothed round trip (`tcpi_rtt`), timed by its own
    /// clock from a segment's sending to its acknowledgement.
    pub round_trip: Option<std::time::Duration>,
    /// The payload bytes the peer acknowledged (`tcpi_bytes_acked`,
    /// Linux 4.1).
    pub bytes_acked: Option<u64>,
    /// The payload bytes a segment carries (`tcpi_snd_mss`).
    pub segment: u32,
    /// The bytes written but not sent yet (`tcpi_notsent_bytes`, Linux
    /// 4.6).
    pub unsent: Option<u32>,
}

/// Reads the sending side of `TCP_INFO` of `socket`; `None` where it is
/// not available.
#[cfg(feature = "upload")]
pub(crate) fn tcp_sending(socket: &std::net::TcpStream) -> Option<Sending> {
    #[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
    {
        let (info, len) = tcp_info(socket)?;
        let end_of_bytes_acked =
            std::mem::offset_of!(libc::tcp_info, tcpi_bytes_acked) + std::mem::size_of::<u64>();
        let end_of_unsent =
            std::mem::offset_of!(libc::tcp_info, tcpi_notsent_bytes) + std::mem::size_of::<u32>();
        Some(Sending {
            round_trip: (info.tcpi_rtt != 0)
                .then(|| std::time::Duration::from_micros(u64::from(info.tcpi_rtt))),
            bytes_acked: (len >= end_of_bytes_acked).then_some(info.tcpi_bytes_acked),
            segment: info.tcpi_snd_mss,
            unsent: (len >= end_of_unsent).then_some(info.tcpi_notsent_bytes),
        })
    }
    #[cfg(not(all(target_os = "linux", any(target_env = "gnu", target_env = "musl"))))]
    {
        let _ = socket;
        None
    }
}

/// `TCP_INFO` of `socket` and how many of its bytes the kernel filled.
#[cfg(all(target_os = "linux", any(target_env = "gnu", target_env = "musl")))]
fn tcp_info(socket: &std::net::TcpStream) -> Option<(libc::tcp_info, usize)> {
    use std::os::fd::AsRawFd;
    // SAFETY: all-zero bytes are a valid tcp_info (plain integers).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: `info` and `len` are live locals of the sizes given; the
    // kernel writes at most `len` bytes and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    (rc == 0).then_some((info, len as usize))
}

/// Linux's `SO_MAX_PACING_RATE` (asm-generic/socket.h; sparc has its own).
#[cfg(all(
    feature = "upload",
    target_os = "linux",
    not(any(target_arch = "sparc", target_arch = "sparc64"))
))]
const SO_MAX_PACING_RATE: libc::c_int = 47;
#[cfg(all(
    feature = "upload",
    target_os = "linux",
    any(target_arch = "sparc", target_arch = "sparc64")
))]
const SO_MAX_PACING_RATE: libc::c_int = 0x31;

/// Caps the rate the kernel sends `socket`'s data at, in bytes per second
/// (`None`: no cap), spreading its segments over time: Linux 4.13 and
/// later pace TCP themselves once a cap is set, so that a cut takes
/// effect on the wire at once, whatever the socket's buffer holds.
/// Returns false where the system has no such option or refused it.
#[cfg(feature = "upload")]
pub(crate) fn set_pacing_rate(socket: &std::net::TcpStream, rate: Option<u64>) -> bool {
    #[cfg(target_os = "linux")]
    {
        // A 32-bit value every kernel takes (read as unsigned); all ones
        // lifts the cap.
        let value = rate.map_or(u32::MAX, |r| r.clamp(1, u64::from(u32::MAX - 1)) as u32);
        set_int(
            socket,
            libc::SOL_SOCKET,
            SO_MAX_PACING_RATE,
            value as libc::c_int,
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, rate);
        false
    }
}

/// Fixes `socket`'s send buffer at about `bytes` (`SO_SNDBUF`; the
/// kernel caps it at `net.core.wmem_max` and doubles it for its own
/// bookkeeping), which stops the kernel's autotuning of it for the
/// socket's life: a paced sender's writes then return every few
/// milliseconds, as the small buffer drains, not once a megabyte has.
/// Returns false where the system refused it.
#[cfg(feature = "upload")]
pub(crate) fn fix_send_buffer(socket: &std::net::TcpStream, bytes: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        set_int(
            socket,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX),
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, bytes);
        false
    }
}

/// Makes closing `socket` reset the connection (`SO_LINGER` with a zero
/// time): the peer answers nothing more, and no TIME_WAIT stays behind.
pub(crate) fn reset_on_close(socket: &std::net::TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `linger` is a live struct linger and the length given is
        // its size. Best effort: a plain close is the fallback.
        unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                (&linger as *const libc::linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(unix))]
    let _ = socket;
}

/// Sets an `int` socket option; false if the kernel refused it.
#[cfg(target_os = "linux")]
fn set_int(
    socket: &std::net::TcpStream,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> bool {
    use std::os::fd::AsRawFd;
    // SAFETY: `value` is a live c_int and the length given is its size.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    rc == 0
}

/// The congestion control of `socket` (`TCP_CONGESTION`: "cubic",
/// "bbr"...), where the system says.
#[cfg(feature = "upload")]
pub(crate) fn congestion_control(socket: &std::net::TcpStream) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let mut name = [0u8; 16];
        let mut len = name.len() as libc::socklen_t;
        // SAFETY: `name` and `len` are live locals of the sizes given; the
        // kernel writes at most `len` bytes and updates `len`.
        let rc = unsafe {
            libc::getsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_CONGESTION,
                name.as_mut_ptr().cast(),
                &mut len,
            )
        };
        if rc != 0 {
            return None;
        }
        let name = &name[..(len as usize).min(name.len())];
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        std::str::from_utf8(&name[..end]).ok().map(str::to_string)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// Sets `socket`'s congestion control to `name`; false where the kernel
/// has no such algorithm or does not allow it to this process (only
/// those in `net.ipv4.tcp_allowed_congestion_control` without
/// CAP_NET_ADMIN).
#[cfg(feature = "upload")]
pub(crate) fn set_congestion_control(socket: &std::net::TcpStream, name: &str) -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: `name` is live for the call and its length is given.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_CONGESTION,
                name.as_ptr().cast(),
                name.len() as libc::socklen_t,
            )
        };
        rc == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (socket, name);
        false
    }
}

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

/// The process's effective user and group ids (`geteuid`, `getegid`).
pub(crate) fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid take no arguments, touch no memory of
    // ours and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Whether this thread may create files in the directory `dir`
/// (`faccessat(W_OK | X_OK, AT_EACCESS)`: the filesystem ids,
/// supplementary groups, ACLs and read-only mounts as the kernel judges
/// them, so under an [`owner_rights::Guard`] the owner's). `None` when it
/// cannot tell (a name with a NUL byte, a failed call other than a
/// refusal). On Linux the `faccessat2` system call is made directly:
/// glibc emulates `AT_EACCESS` on kernels before 5.8 with `stat` and the
/// process's effective ids, which would judge the process, not the owner.
pub(crate) fn may_create_in(dir: &std::path::Path) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mode = libc::W_OK | libc::X_OK;
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `name` is a NUL-terminated string that outlives the
        // call; faccessat2 only reads it.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_faccessat2,
                libc::AT_FDCWD,
                name.as_ptr(),
                mode,
                libc::AT_EACCESS,
            )
        };
        if rc == 0 {
            return Some(true);
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EACCES | libc::EPERM | libc::EROFS) => return Some(false),
            // A kernel without faccessat2 (before 5.8): glibc's, below.
            Some(libc::ENOSYS) => {}
            _ => return None,
        }
    }
    // SAFETY: `name` is a NUL-terminated string that outlives the call;
    // faccessat only reads it.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, name.as_ptr(), mode, libc::AT_EACCESS) };
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
///
/// With `as_user`, the child runs as that user: after `fork`, it sets its
/// supplementary groups, gid and uid (real, effective, saved and
/// filesystem: for good) before `exec`, and exits with status 126 without
/// running the program when any of them fails (127 when the program cannot
/// be run). `posix_spawn` cannot change ids.
pub(crate) fn spawn(
    program: &str,
    argv: &[String],
    env: &[(std::ffi::OsString, std::ffi::OsString)],
    extra_env: &[(&str, &str)],
    as_user: Option<&owner_rights::Identity>,
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
    if let Some(identity) = as_user {
        return spawn_as(&path, &argv_ptrs, &env_ptrs, &dev_null, identity);
    }
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

/// [`spawn`] as another user: `fork`, then in the child only
/// async-signal-safe calls (the parent may have other threads, holding
/// locks the child would never see released): standard input from
/// `/dev/null`, SIGPIPE at its default, the user's groups, gid and uid,
/// an empty signal mask, `execve`.
#[cfg(target_os = "linux")]
fn spawn_as(
    path: &std::ffi::CStr,
    argv: &[*mut libc::c_char],
    envp: &[*mut libc::c_char],
    dev_null: &std::ffi::CStr,
    identity: &owner_rights::Identity,
) -> std::io::Result<Child> {
    // SAFETY: every pointer the child uses (path, argv, envp, /dev/null,
    // the identity's groups) points into memory prepared before the fork
    // and alive in the child's copy of it; the child makes only
    // async-signal-safe calls and ends in execve or _exit. Signals are
    // blocked in this thread across fork, so no handler runs in the child
    // before its mask is set; the parent's mask is put back at once.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let pid = libc::fork();
        if pid == 0 {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(libc::SIGPIPE, &default, std::ptr::null_mut());
            // Another user's program gets nothing of the service's: its
            // standard input, output and error are /dev/null (not the
            // service's log), and every other descriptor the process may
            // have inherited without close-on-exec is closed.
            let fd = libc::open(dev_null.as_ptr(), libc::O_RDWR);
            if fd < 0
                || libc::dup2(fd, 0) != 0
                || libc::dup2(fd, 1) != 1
                || libc::dup2(fd, 2) != 2
                || (fd > 2 && libc::close(fd) != 0)
            {
                libc::_exit(127);
            }
            if libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32) != 0 {
                // Before Linux 5.9: the usual range of descriptors.
                for fd in 3..4096 {
                    libc::close(fd);
                }
            }
            if !owner_rights::become_for_good(identity) {
                libc::_exit(126);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            libc::execve(path.as_ptr(), argv.as_ptr().cast(), envp.as_ptr().cast());
            libc::_exit(127);
        }
        let err = std::io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        if pid < 0 {
            return Err(err);
        }
        Ok(Child(pid))
    }
}

/// [`spawn`] as another user: not on this system.
#[cfg(not(target_os = "linux"))]
fn spawn_as(
    _path: &std::ffi::CStr,
    _argv: &[*mut libc::c_char],
    _envp: &[*mut libc::c_char],
    _dev_null: &std::ffi::CStr,
    _identity: &owner_rights::Identity,
) -> std::io::Result<Child> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "running a program as another user needs Linux",
    ))
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

/// Writes all of `bytes` to a connected Unix stream socket with
/// `send(MSG_NOSIGNAL)`: a peer that has gone (a daemon that died) is an
/// `EPIPE` error, never a `SIGPIPE` that would kill the host program (a C
/// program linking the library keeps the signal's default action).
/// Honours the socket's write timeout.
#[cfg(feature = "service")]
pub(crate) fn send_all(
    stream: &std::os::unix::net::UnixStream,
    bytes: &[u8],
) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: the descriptor is borrowed from a live stream for the
        // whole call, and send() only reads `rest.len()` bytes of `rest`.
        let sent = unsafe {
            libc::send(
                stream.as_raw_fd(),
                rest.as_ptr().cast(),
                rest.len(),
                libc::MSG_NOSIGNAL,
            )
        };
        if sent < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        rest = &rest[sent as usize..];
    }
    Ok(())
}

/// A job owner's filesystem rights, taken by one thread for a while.
///
/// # Why per thread, and why the filesystem ids
///
/// A service (`qmgrd` in system mode) runs the jobs of several users in
/// one process, as root. Each job belongs to a user ([`crate::Owner`]),
/// and a user must not be able to make the service do with a file what
/// the user could not do: write `/etc/shadow` through a destination
/// path, a symbolic link or a hard link planted in the destination
/// directory, read a root-only file as a `file://` source, a CA file or a
/// client key. Checking paths in user space (`realpath`, `lstat`, then
/// open) is a race the user wins; the one judge without a race is the
/// kernel, at the moment of each `open`, `rename` or `unlink`, with the
/// user's credentials. So every filesystem operation done for such a job
/// runs with the owner's:
///
/// - **filesystem ids, not effective ids.** Linux checks file access
///   against a thread's `fsuid`/`fsgid` (which follow the effective ids
///   unless set apart with `setfsuid`/`setfsgid`). Changing only those
///   leaves the process root for everything else (signals, sockets, the
///   state directory's already open descriptors, switching back), and
///   the change cannot leak into another job: it is one thread's.
/// - **per thread.** Linux keeps credentials per thread (task). glibc's
///   `setgroups()` changes them in every thread of the process (it
///   broadcasts, as POSIX demands of `setuid` and friends), so the
///   supplementary groups are set with the raw `setgroups` system call,
///   which changes only the calling thread; `setfsuid`/`setfsgid` are
///   per thread in glibc and musl already. A job's worker thread and each
///   of its connection threads take the owner's rights for their whole
///   life; an API call (add, complete, cancel, a CA file's check) takes
///   them around its file work, on the caller's thread, and gives them
///   back when the [`Guard`] drops. A thread a switched thread starts
///   inherits its credentials (the kernel copies the creator's).
/// - **the owner's groups.** The user's name (`getpwuid_r`) and its
///   groups (`getgrouplist`, from the owner's gid); a uid without a
///   passwd entry gets its gid alone. The lookup is made once per worker
///   run and once per API call (a membership change counts from the next
///   one), with the process's rights, before the switch; only a notify
///   program's is made on whichever thread launches it, which may be a
///   transfer thread acting as the owner (the databases are
///   world-readable).
/// - **fail closed.** When the switch cannot be made (the process is not
///   root and lacks `CAP_SETUID`/`CAP_SETGID`, or on a system other than
///   Linux) the operation fails with `QM_E_ACCESSDENIED`; it never runs
///   with the process's rights instead. When the rights cannot be given
///   back, the process aborts: a thread must never go on with rights it
///   does not expect.
/// - **no cost for one user.** A job owned by the process's effective
///   user (every job of a program that uses the library in-process) is
///   run as before: no lookup, no switch.
///
/// What the kernel then enforces, with no check of qmgr's: the owner's
/// permissions on every directory of a path and on the file; temporary
/// files are created `O_CREAT | O_EXCL | O_NOFOLLOW` (a planted link is
/// refused, never followed) and belong to the owner; the final `rename`
/// replaces whatever entry is at the destination (a planted symbolic or
/// hard link is replaced, its target untouched) and needs the owner's
/// write permission on the directory (and the sticky bit's rules); a
/// source or PEM file the owner cannot read fails with `EACCES`, symbolic
/// links included.
///
/// The state directory (SQLite) is the process's, and is written by
/// whichever thread applies a job's command, switched or not. That works
/// because the database, its WAL and shared-memory files and the lock are
/// opened once, by the process, when the directory is opened, and later
/// writes go through those descriptors: `temp_store = MEMORY` keeps SQLite
/// from opening temporary files, and one write at open makes SQLite's
/// first sync of the new WAL (which opens the directory to fsync it) the
/// opener's. An strace of a job of another user in a root-only (0700)
/// state directory shows every open of the directory's files on the
/// opening thread, and `tests/it/owners.rs` checks that such a job's rows
/// are written.
///
/// What it does not cover:
/// - network access, CPU and memory are the service's, not the owner's;
/// - the supplementary groups are the group database's, not those of the
///   client process that asked (which may have dropped some);
/// - switching the filesystem ids makes the process non-dumpable (a kernel
///   rule: no core dumps unless `fs.suid_dumpable` allows them);
/// - the notify program runs as the owner, but with the environment and
///   working directory of the process (as the caller last captured them);
/// - what a run reads besides the job's own files is read as the owner
///   too: the system's trust store, `/etc/resolv.conf` and the like, which
///   are world-readable on every system qmgr knows;
/// - `add_files`'s check of the destination directory asks the kernel
///   (`faccessat2`); on kernels before 5.8 glibc's emulation judges the
///   process instead, and only the creation of the temporary file (always
///   the kernel's, as the owner) refuses.
pub(crate) mod owner_rights {
    use std::io;
    use std::marker::PhantomData;

    /// A user's filesystem identity: uid, gid and supplementary groups.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) struct Identity {
        pub(crate) uid: u32,
        pub(crate) gid: u32,
        /// The supplementary groups (the gid among them).
        pub(crate) groups: Vec<libc::gid_t>,
    }

    /// The largest buffer tried for a passwd entry.
    const MAX_PASSWD_BUFFER: usize = 1 << 20;
    /// The most groups a user may have (Linux's `NGROUPS_MAX`).
    const MAX_GROUPS: usize = 65536;

    impl Identity {
        /// The identity of user `uid` with group `gid`: its supplementary
        /// groups are `getgrouplist` of its passwd name and `gid`; a uid
        /// without a passwd entry (or whose lookup fails) has `gid` alone
        /// (fewer rights, never more). Reads the user and group databases
        /// (NSS): call it with the process's rights, before a switch.
        pub(crate) fn of(uid: u32, gid: u32) -> Identity {
            let groups = user_name(uid)
                .and_then(|name| group_list(&name, gid))
                .unwrap_or_else(|| vec![gid]);
            Identity { uid, gid, groups }
        }
    }

    /// The passwd name of `uid`, if it has an entry.
    fn user_name(uid: u32) -> Option<std::ffi::CString> {
        let mut size = 1024;
        loop {
            let mut buf = vec![0 as libc::c_char; size];
            // SAFETY: all zeros is a valid passwd (integers and null
            // pointers).
            let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
            let mut found: *mut libc::passwd = std::ptr::null_mut();
            // SAFETY: getpwuid_r writes `pwd`, strings into `buf` (at most
            // `buf.len()` bytes) and `found` (`&pwd` or null), all alive.
            let rc =
                unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut found) };
            if rc == libc::ERANGE && size < MAX_PASSWD_BUFFER {
                size *= 2;
                continue;
            }
            if rc != 0 || found.is_null() || pwd.pw_name.is_null() {
                return None;
            }
            // SAFETY: on success pw_name points to a NUL-terminated
            // string inside `buf`, which is still alive.
            let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
            return Some(name.to_owned());
        }
    }

    /// `getgrouplist(name, gid)`: every group of the user, `gid` included.
    #[cfg(target_os = "linux")]
    fn group_list(name: &std::ffi::CStr, gid: u32) -> Option<Vec<libc::gid_t>> {
        let mut size: usize = 64;
        loop {
            let mut list: Vec<libc::gid_t> = vec![0; size];
            let mut count = size as libc::c_int;
            // SAFETY: `name` is NUL-terminated; getgrouplist writes at most
            // `count` entries into `list`, which has that many, and sets
            // `count` to how many there are.
            let rc =
                unsafe { libc::getgrouplist(name.as_ptr(), gid, list.as_mut_ptr(), &mut count) };
            if rc >= 0 {
                list.truncate(usize::try_from(count).ok()?.min(size));
                return Some(list);
            }
            let wanted = usize::try_from(count).unwrap_or(0);
            size = if wanted > size { wanted } else { size * 2 };
            if size > MAX_GROUPS {
                return None;
            }
        }
    }

    /// The groups of a user: only where rights can be taken (Linux).
    #[cfg(not(target_os = "linux"))]
    fn group_list(_name: &std::ffi::CStr, _gid: u32) -> Option<Vec<libc::gid_t>> {
        None
    }

    /// The owner's rights on this thread, until it drops: then the
    /// thread's filesystem ids and groups are what they were. Not `Send`:
    /// it must drop on the thread that took it.
    #[must_use = "the rights are given back when the guard drops"]
    pub(crate) struct Guard {
        uid: u32,
        gid: u32,
        groups: Vec<libc::gid_t>,
        _thread: PhantomData<*const ()>,
    }

    /// `setgroups` for this thread only (see the module documentation);
    /// 32-bit group ids on every architecture.
    #[cfg(target_os = "linux")]
    pub(super) fn set_thread_groups(groups: &[libc::gid_t]) -> io::Result<()> {
        #[cfg(any(target_arch = "arm", target_arch = "x86"))]
        const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups32;
        #[cfg(not(any(target_arch = "arm", target_arch = "x86")))]
        const SYS_SETGROUPS: libc::c_long = libc::SYS_setgroups;
        // SAFETY: the kernel reads `groups.len()` group ids from the
        // slice, which outlives the call.
        let rc = unsafe { libc::syscall(SYS_SETGROUPS, groups.len(), groups.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// This thread's supplementary groups.
    #[cfg(target_os = "linux")]
    fn thread_groups() -> io::Result<Vec<libc::gid_t>> {
        loop {
            // SAFETY: with a size of 0, getgroups only counts.
            let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
            if n < 0 {
                return Err(io::Error::last_os_error());
            }
            let mut list: Vec<libc::gid_t> = vec![0; n as usize];
            // SAFETY: getgroups writes at most `n` ids into `list`, which
            // has room for `n`.
            let got = unsafe { libc::getgroups(n, list.as_mut_ptr()) };
            if got >= 0 {
                list.truncate(got as usize);
                return Ok(list);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINVAL) {
                return Err(err);
            }
            // The list grew between the two calls: count again.
        }
    }

    /// This thread's filesystem uid and gid (`setfsuid(-1)` changes
    /// nothing and returns the current one).
    #[cfg(target_os = "linux")]
    fn fs_ids() -> (u32, u32) {
        // SAFETY: -1 is not a valid id: these calls change nothing.
        unsafe {
            (
                libc::setfsuid(u32::MAX) as u32,
                libc::setfsgid(u32::MAX) as u32,
            )
        }
    }

    /// Sets this thread's filesystem uid and gid and checks that they
    /// took (the calls report no error themselves).
    #[cfg(target_os = "linux")]
    fn set_fs_ids(uid: u32, gid: u32) -> io::Result<()> {
        // SAFETY: setfsgid and setfsuid take an id and touch no memory.
        unsafe {
            libc::setfsgid(gid);
            libc::setfsuid(uid);
        }
        if fs_ids() == (uid, gid) {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(libc::EPERM))
        }
    }

    /// Takes `identity`'s filesystem rights on this thread: its
    /// supplementary groups, then its filesystem gid and uid. Fails
    /// (`EPERM`) without changing anything when the process may not (it
    /// needs `CAP_SETGID` and `CAP_SETUID`), and on systems other than
    /// Linux (`Unsupported`).
    #[cfg(target_os = "linux")]
    pub(crate) fn assume(identity: &Identity) -> io::Result<Guard> {
        if identity.uid == u32::MAX || identity.gid == u32::MAX {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let (uid, gid) = fs_ids();
        let groups = thread_groups()?;
        // Refused (EPERM) without CAP_SETGID: nothing changed yet.
        set_thread_groups(&identity.groups)?;
        let saved = Guard {
            uid,
            gid,
            groups,
            _thread: PhantomData,
        };
        if let Err(e) = set_fs_ids(identity.uid, identity.gid) {
            // Dropping `saved` gives back whatever did change.
            drop(saved);
            return Err(e);
        }
        Ok(saved)
    }

    /// Takes `identity`'s filesystem rights: not on this system.
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn assume(identity: &Identity) -> io::Result<Guard> {
        let _ = identity;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "acting with another user's filesystem rights needs Linux's setfsuid",
        ))
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            #[cfg(target_os = "linux")]
            {
                // Back to the saved ids; back to 0, the fsuid also brings
                // back the filesystem capabilities (CAP_DAC_OVERRIDE and
                // the others) that a non-zero one took away.
                let ids = set_fs_ids(self.uid, self.gid);
                // Only when they changed: setting even the same list
                // needs CAP_SETGID.
                let groups = match thread_groups() {
                    Ok(now) if now == self.groups => Ok(()),
                    _ => set_thread_groups(&self.groups),
                };
                if ids.is_err() || groups.is_err() {
                    // Going on would run this thread's next work with
                    // another user's rights (or the other way round).
                    eprintln!(
                        "qmgr: cannot give back the process's filesystem rights \
                         (uid {}, gid {}): aborting",
                        self.uid, self.gid
                    );
                    std::process::abort();
                }
            }
        }
    }

    /// Sets the ids of a child process (after `fork`, before `exec`) to
    /// `identity`'s, for good: groups, gid, then uid, with raw system
    /// calls (only async-signal-safe work in a forked child). Returns
    /// false when any of them failed.
    #[cfg(target_os = "linux")]
    pub(super) fn become_for_good(identity: &Identity) -> bool {
        #[cfg(any(target_arch = "arm", target_arch = "x86"))]
        const IDS: (libc::c_long, libc::c_long) = (libc::SYS_setgid32, libc::SYS_setuid32);
        #[cfg(not(any(target_arch = "arm", target_arch = "x86")))]
        const IDS: (libc::c_long, libc::c_long) = (libc::SYS_setgid, libc::SYS_setuid);
        if set_thread_groups(&identity.groups).is_err() {
            return false;
        }
        // SAFETY: setgid and setuid take an id and touch no memory.
        unsafe {
            libc::syscall(IDS.0, identity.gid) == 0 && libc::syscall(IDS.1, identity.uid) == 0
        }
    }

    #[cfg(all(test, target_os = "linux"))]
    mod tests {
        use super::*;

        #[test]
        fn a_uid_without_a_passwd_entry_has_its_gid_alone() {
            let nobody_knows = Identity::of(3_999_999_001, 3_999_999_002);
            assert_eq!(nobody_knows.groups, vec![3_999_999_002]);
        }

        #[test]
        fn root_has_its_groups_and_a_switch_is_undone() {
            let root = Identity::of(0, 0);
            assert!(root.groups.contains(&0), "{root:?}");
            // SAFETY: geteuid cannot fail.
            if unsafe { libc::geteuid() } != 0 {
                // Not root: the switch to another user must be refused,
                // and leave nothing changed.
                let before = (fs_ids(), thread_groups().unwrap());
                assert!(assume(&Identity::of(0, 0)).is_err());
                assert_eq!((fs_ids(), thread_groups().unwrap()), before);
                return;
            }
            let before = (fs_ids(), thread_groups().unwrap());
            let other = Identity {
                uid: 65534,
                gid: 65534,
                groups: vec![65534, 4242],
            };
            let scratch = crate::testing::Scratch::new("owner-rights");
            let secret = scratch.join("root-only");
            std::fs::write(&secret, b"x").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
            // A thread started before the switch keeps the process's rights.
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let (said, heard) = std::sync::mpsc::channel();
            let elsewhere = std::thread::spawn(move || {
                wait.recv().unwrap();
                said.send((fs_ids(), thread_groups().unwrap())).unwrap();
            });
            let guard = assume(&other).unwrap();
            assert_eq!(fs_ids(), (65534, 65534));
            // (The kernel keeps them sorted.)
            assert_eq!(thread_groups().unwrap(), vec![4242, 65534]);
            let refused = std::fs::File::open(&secret).unwrap_err();
            assert_eq!(refused.kind(), std::io::ErrorKind::PermissionDenied);
            go.send(()).unwrap();
            assert_eq!(heard.recv().unwrap(), before, "another thread changed");
            elsewhere.join().unwrap();
            drop(guard);
            assert_eq!((fs_ids(), thread_groups().unwrap()), before);
            std::fs::File::open(&secret).expect("root's rights are back");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    #[test]
    fn a_loopback_connection_has_a_short_round_trip_and_counts_what_it_received() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        // Data towards the client, as a download sends it.
        let sender = std::thread::spawn(move || {
            server.write_all(&vec![7u8; 1 << 20]).unwrap();
            server
        });
        let mut got = vec![0u8; 1 << 20];
        client.read_exact(&mut got).unwrap();
        // Kept open: its FIN would count as one more byte received.
        let _server = sender.join().unwrap();
        let info = super::tcp_receiving(&client).expect("TCP_INFO");
        let rtt = info.round_trip.expect("an estimate");
        assert!(
            rtt > Duration::ZERO && rtt < Duration::from_millis(200),
            "{rtt:?}"
        );
        assert_eq!(info.bytes_received, Some(1 << 20));
        // A segment carries at most 64 KiB (loopback's MTU).
        let segments = info.segments_received.expect("tcpi_segs_in");
        assert!(segments >= 16, "{segments}");
    }
}
