//! Connections: name lookup, TCP with timeouts, proxies (HTTP and HTTPS
//! proxies, a `CONNECT` tunnel for https:// through them, SOCKS 4, 4a, 5
//! and 5h), TLS (rustls with ring), the pool of kept-alive connections, and
//! the switch that shuts every socket of a run down when it is cancelled.
//!
//! Time limits. Every read or write waits at most the stall timeout. On
//! top of that, nothing before the body may drip on forever: a
//! [`Deadline`] on the TCP reads (every layer above, TLS included, reads
//! through them) bounds a whole phase. Opening a connection (name lookup,
//! TCP, an HTTPS proxy's TLS, the `CONNECT` answer, the SOCKS replies, the
//! server's TLS) must end within [`CONNECT_TIMEOUT`]; the response head
//! (interim answers included) must arrive whole within the stall timeout;
//! with a low-speed limit of S seconds, the time from the start of a
//! request to its body is at most S as well (curl's `LOW_SPEED_TIME`
//! counts it too: no byte of the body arrives meanwhile). Missing one is a
//! timeout that names the phase. The body's reads have the stall timeout
//! only. The TCP connect itself polls in slices of 50 ms
//! (`sys::connect_tcp`), so that cancelling a run ends a connect to a
//! black-holed address at once, before its socket is in the run's list.

use std::io::{self, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::transport::error::RequestFailure;
use crate::engine::transport::http::wire;
use crate::engine::transport::http::USER_AGENT;
use crate::engine::transport::url::Url;
use crate::sync::Mutex;

/// How long opening a connection (name lookup, TCP, proxy and TLS
/// handshakes, all together) may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A failure to connect or to exchange a request: its kind and what happened, in words.
pub(crate) type Failed = (RequestFailure, String);

/// The moment by which a phase before the body must end, and what missing
/// it means, in words (the text of the timeout error).
#[derive(Clone, Debug)]
pub(crate) struct Deadline {
    at: Instant,
    why: String,
}

impl Deadline {
    /// `wait` from now; `why` is the error text once it has passed.
    fn after(wait: Duration, why: String) -> Deadline {
        // Capped (at 2^32 s, beyond any setting) so that the sum cannot overflow.
        let wait = wait.min(Duration::from_secs(1 << 32));
        Deadline {
            at: Instant::now() + wait,
            why,
        }
    }

    /// The bound a low-speed limit of `time` puts on everything before the
    /// body (counted from now, the start of a request).
    pub(crate) fn low_speed(time: Duration) -> Deadline {
        let secs = time.as_secs();
        Deadline::after(
            time,
            format!("no byte of the body within the low-speed limit's {secs} s"),
        )
    }

    /// The bound on a response head: the stall timeout for the whole head,
    /// or `limit` (a low-speed limit's) if that comes first.
    pub(crate) fn head(stall: Duration, limit: Option<&Deadline>) -> Deadline {
        let secs = stall.as_secs();
        Deadline::after(
            stall,
            format!("the response head took over {secs} s (the stall timeout)"),
        )
        .or_sooner(limit)
    }

    /// The earlier of `self` and `other`.
    fn or_sooner(self, other: Option<&Deadline>) -> Deadline {
        match other {
            Some(other) if other.at < self.at => other.clone(),
            _ => self,
        }
    }

    /// What is left of it (zero once it has passed).
    fn left(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// A TCP socket whose reads each wait at most the stall timeout and, while
/// a deadline is set, end at the deadline with a `TimedOut` error saying why.
pub(crate) struct Tcp {
    socket: TcpStream,
    stall: Duration,
    deadline: Option<Deadline>,
}

impl Read for Tcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(deadline) = &self.deadline else {
            return self.socket.read(buf);
        };
        loop {
            let left = deadline.left();
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    deadline.why.clone(),
                ));
            }
            self.socket.set_read_timeout(Some(left.min(self.stall)))?;
            match self.socket.read(buf) {
                // The deadline's wait ended, not the stall timeout's: the
                // next turn says so.
                Err(e)
                    if left < self.stall
                        && matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                {
                    continue
                }
                other => return other,
            }
        }
    }
}

impl Write for Tcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.socket.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.socket.flush()
    }
}

/// A byte stream to a server: plain TCP, or TLS over a stream.
pub(crate) enum Stream {
    /// Plain TCP.
    Tcp(Tcp),
    /// TLS over TCP, or over a tunnel through an HTTPS proxy.
    #[cfg(feature = "tls")]
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, Stream>>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.flush(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// One open connection: its buffered stream, the pool key it belongs to,
/// and its entry in the run's socket list (removed when it is dropped).
pub(crate) struct Conn {
    /// Reads are buffered; writes go to `io.get_mut()`.
    pub io: BufReader<Stream>,
    /// Which requests may reuse it: the proxy and the server's origin.
    pub key: String,
    /// Requests for absolute URLs (a plain-HTTP proxy), with this `Proxy-Authorization`.
    pub via_proxy: Option<Option<String>>,
    /// Kept for its `Drop`, which takes the socket off the run's list.
    _registration: Registered,
}

impl Conn {
    /// A second handle to the TCP socket under the connection (TLS or
    /// not), to read its round trip and bound its receive window.
    pub(crate) fn socket(&self) -> Option<TcpStream> {
        tcp_of(self.io.get_ref()).try_clone().ok()
    }

    /// Bounds the reads from now on by `deadline` (a response head), or,
    /// with `None`, by the stall timeout alone (a body). A new connection
    /// keeps its connect deadline until this is called.
    pub(crate) fn set_deadline(&mut self, deadline: Option<Deadline>) -> io::Result<()> {
        let tcp = tcp_mut(self.io.get_mut());
        if deadline.is_none() && tcp.deadline.is_some() {
            tcp.socket.set_read_timeout(Some(tcp.stall))?;
        }
        tcp.deadline = deadline;
        Ok(())
    }
}

/// Whom a TLS handshake is with: the server (the job's TLS settings) or
/// an HTTPS proxy (the system's trust store, no client certificate).
#[derive(Clone, Copy)]
enum TlsPeer {
    Server,
    Proxy,
}

/// Where requests of a run go: directly, or through a proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Straight to the server.
    Direct,
    /// Through the proxy of this URL.
    Proxy(String),
}

/// The sockets of one run, so that cancelling it shuts them all down
/// (a blocked read or connect returns at once), and no new one opens.
#[derive(Default)]
pub(crate) struct Sockets {
    inner: Mutex<SocketList>,
}

#[derive(Default)]
struct SocketList {
    closed: bool,
    next: u64,
    open: Vec<(u64, TcpStream)>,
}

/// A socket's entry in its run's list; dropping it takes the entry out.
struct Registered {
    id: u64,
    sockets: std::sync::Arc<Sockets>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.sockets
            .inner
            .lock()
            .open
            .retain(|(id, _)| *id != self.id);
    }
}

impl Sockets {
    /// Shuts every socket down and refuses new ones.
    pub(crate) fn shut_down(&self) {
        let mut list = self.inner.lock();
        list.closed = true;
        for (_, socket) in list.open.drain(..) {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// True once `shut_down` was called.
    fn is_shut_down(&self) -> bool {
        self.inner.lock().closed
    }

    fn register(self: &std::sync::Arc<Self>, socket: &TcpStream) -> Result<Registered, Failed> {
        let handle = socket
            .try_clone()
            .map_err(|e| (RequestFailure::Io(e.kind()), e.to_string()))?;
        let mut list = self.inner.lock();
        if list.closed {
            let _ = socket.shutdown(Shutdown::Both);
            return Err(stopped());
        }
        list.next += 1;
        let id = list.next;
        list.open.push((id, handle));
        Ok(Registered {
            id,
            sockets: std::sync::Arc::clone(self),
        })
    }
}

/// The failure of a run stopped while it connects.
fn stopped() -> Failed {
    (
        RequestFailure::Stopped,
        "the transfer was stopped".to_string(),
    )
}

/// Idle kept-alive connections, newest last.
pub(crate) struct Pool {
    idle: Mutex<Vec<Conn>>,
    per_key: usize,
    total: usize,
}

impl Pool {
    /// A pool keeping at most `per_key` idle connections per server and `total` in all.
    pub(crate) fn new(per_key: usize, total: usize) -> Pool {
        Pool {
            idle: Mutex::new(Vec::new()),
            per_key,
            total,
        }
    }

    /// An idle connection for `key`, the most recently used one.
    pub(crate) fn take(&self, key: &str) -> Option<Conn> {
        let mut idle = self.idle.lock();
        let i = idle.iter().rposition(|c| c.key == key)?;
        Some(idle.remove(i))
    }

    /// Keeps `conn` for a later request (dropping the oldest beyond the limits).
    pub(crate) fn put(&self, conn: Conn) {
        let mut idle = self.idle.lock();
        if let Some(i) = idle.iter().position(|c| c.key == conn.key) {
            if idle.iter().filter(|c| c.key == conn.key).count() >= self.per_key {
                idle.remove(i);
            }
        }
        if idle.len() >= self.total {
            idle.remove(0);
        }
        idle.push(conn);
    }

    /// How many idle connections `key` has.
    #[cfg_attr(not(feature = "delta"), allow(dead_code))] // delta downloads only
    pub(crate) fn count(&self, key: &str) -> usize {
        self.idle.lock().iter().filter(|c| c.key == key).count()
    }

    /// Closes every idle connection.
    pub(crate) fn clear(&self) {
        self.idle.lock().clear();
    }
}

/// What opening connections needs: timeouts, the TLS settings, the run's sockets.
pub(crate) struct Connector {
    /// The longest wait for one read or write.
    pub stall_timeout: Duration,
    /// The TLS client settings for servers (roots or CA file, client certificate).
    #[cfg(feature = "tls")]
    pub tls: Arc<rustls::ClientConfig>,
    /// The TLS client settings for an HTTPS proxy (`tls::proxy_config`),
    /// made when the first one is used.
    #[cfg(feature = "tls")]
    pub proxy_tls: std::sync::OnceLock<Result<Arc<rustls::ClientConfig>, String>>,
    /// The run's sockets.
    pub sockets: std::sync::Arc<Sockets>,
}

impl Connector {
    /// Opens a connection for requests to `target` along `route`, every
    /// step of it within [`CONNECT_TIMEOUT`], or by `limit` if that comes
    /// first (a low-speed limit's bound).
    pub(crate) fn connect(
        &self,
        target: &Url,
        route: &Route,
        key: String,
        limit: Option<&Deadline>,
    ) -> Result<Conn, Failed> {
        let secs = CONNECT_TIMEOUT.as_secs();
        let deadline = Deadline::after(
            CONNECT_TIMEOUT,
            format!("the connection was not ready within {secs} s"),
        )
        .or_sooner(limit);
        let proxy = match route {
            Route::Direct => None,
            Route::Proxy(url) => Some(Url::parse(url).map_err(|why| {
                (
                    RequestFailure::BadProxy,
                    format!(
                        "the proxy URL '{}' cannot be used: {why}",
                        crate::engine::transport::url::shown(url)
                    ),
                )
            })?),
        };
        let first_hop = proxy.as_ref().unwrap_or(target);
        let tcp = self
            .tcp(first_hop, &deadline)
            .map_err(|(kind, why)| match &proxy {
                // A dead proxy is the proxy's fault, not the server's: name it.
                Some(p) => {
                    let why = why
                        .strip_prefix("connecting to ")
                        .and_then(|rest| rest.split_once(" failed: "))
                        .map_or(why.as_str(), |(_, reason)| reason);
                    let at = format!("{}:{}", p.host, p.port());
                    (kind, format!("connecting to the proxy {at} failed: {why}"))
                }
                None => (kind, why),
            })?;
        let socket = self.sockets.register(&tcp)?;
        let mut stream = Stream::Tcp(Tcp {
            socket: tcp,
            stall: self.stall_timeout,
            deadline: Some(deadline.clone()),
        });
        let mut via_proxy = None;
        if let Some(proxy) = &proxy {
            let credentials = proxy
                .credentials()
                .map(|(user, password)| wire::basic_credentials(&user, &password));
            match proxy.scheme.as_str() {
                "http" | "https" => {
                    if proxy.scheme == "https" {
                        stream = self.tls(stream, proxy, TlsPeer::Proxy)?;
                    }
                    if target.scheme == "https" {
                        stream = tunnel(stream, target, credentials.as_deref())?;
                    } else {
                        via_proxy = Some(credentials);
                    }
                }
                scheme @ ("socks4" | "socks4a" | "socks5" | "socks5h") => {
                    let address = match scheme {
                        "socks4" | "socks5" => Some(self.resolve(target, &deadline)?[0].ip()),
                        _ => None,
                    };
                    socks(&mut stream, scheme, proxy, target, address)?
                }
                other => {
                    return Err((
                        RequestFailure::BadProxy,
                        format!("the proxy scheme '{other}' is not supported (http, https, socks4, socks4a, socks5, socks5h)"),
                    ))
                }
            }
        }
        if target.scheme == "https" {
            stream = self.tls(stream, target, TlsPeer::Server)?;
        }
        Ok(Conn {
            io: BufReader::with_capacity(64 * 1024, stream),
            key,
            via_proxy,
            _registration: socket,
        })
    }

    /// A TCP connection to `to`, trying each of its addresses until the
    /// deadline; a cancel of the run ends a pending connect within 50 ms.
    fn tcp(&self, to: &Url, deadline: &Deadline) -> Result<TcpStream, Failed> {
        let addrs = self.resolve(to, deadline)?;
        let host = to.bare_host();
        let mut last = (
            RequestFailure::NameNotResolved,
            format!("the name '{host}' has no address"),
        );
        for (i, addr) in addrs.iter().enumerate() {
            let left = deadline.left();
            if left.is_zero() {
                last = (
                    RequestFailure::TimedOut,
                    format!("connecting to '{host}' failed: {}", deadline.why),
                );
                break;
            }
            if self.sockets.is_shut_down() {
                return Err(stopped());
            }
            // Half of what is left while other addresses remain, so that a
            // black-holed first address (often IPv6) leaves time for the next.
            let budget = if i + 1 < addrs.len() { left / 2 } else { left };
            match crate::sys::connect_tcp(addr, budget, &|| self.sockets.is_shut_down()) {
                Err(_) if self.sockets.is_shut_down() => return Err(stopped()),
                Ok(tcp) => {
                    let _ = tcp.set_nodelay(true);
                    let set = tcp
                        .set_read_timeout(Some(self.stall_timeout))
                        .and_then(|_| tcp.set_write_timeout(Some(self.stall_timeout)));
                    set.map_err(|e| (RequestFailure::Io(e.kind()), e.to_string()))?;
                    return Ok(tcp);
                }
                Err(e) => {
                    let kind = match e.kind() {
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                            RequestFailure::TimedOut
                        }
                        _ => RequestFailure::CannotConnect,
                    };
                    let what = match deadline.left().is_zero() {
                        true => deadline.why.clone(),
                        false => e.to_string(),
                    };
                    last = (kind, format!("connecting to {addr} failed: {what}"));
                }
            }
        }
        Err(last)
    }

    /// The addresses of `to`'s host. The lookup runs on a thread of its
    /// own, so that it ends at the deadline (or when the run is cancelled)
    /// even if the resolver does not answer; a lookup left behind ends by
    /// itself.
    fn resolve(&self, to: &Url, deadline: &Deadline) -> Result<Vec<SocketAddr>, Failed> {
        let host = to.bare_host().to_string();
        let port = to.port();
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, port)]);
        }
        // A slot and a condition variable rather than a channel: the same
        // wait, in less code.
        type Found = Option<io::Result<Vec<SocketAddr>>>;
        let slot: std::sync::Arc<(Mutex<Found>, crate::sync::Condvar)> = Default::default();
        let filler = std::sync::Arc::clone(&slot);
        let name = host.clone();
        std::thread::Builder::new()
            .name("qmgr-resolve".into())
            .spawn(move || {
                let found = (name.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect::<Vec<_>>);
                *filler.0.lock() = Some(found);
                filler.1.notify_one();
            })
            .map_err(|e| {
                (
                    RequestFailure::Io(e.kind()),
                    format!("no thread for the name lookup: {e}"),
                )
            })?;
        let mut found = slot.0.lock();
        loop {
            if self.sockets.is_shut_down() {
                return Err(stopped());
            }
            let left = deadline.left();
            match found.take() {
                Some(Ok(addrs)) if !addrs.is_empty() => return Ok(addrs),
                Some(Ok(_)) => {
                    return Err((
                        RequestFailure::NameNotResolved,
                        format!("the name '{host}' has no address"),
                    ))
                }
                Some(Err(e)) => {
                    return Err((
                        RequestFailure::NameNotResolved,
                        format!("the name '{host}' could not be resolved: {e}"),
                    ))
                }
                None if left.is_zero() => {
                    return Err((
                        RequestFailure::NameNotResolved,
                        format!("the name '{host}' could not be resolved: {}", deadline.why),
                    ))
                }
                None => {
                    slot.1
                        .wait_for(&mut found, left.min(Duration::from_millis(100)));
                }
            }
        }
    }

    /// TLS over `stream` to `server` (its host name is the one the
    /// certificate must carry), with the settings for a server or a proxy.
    #[cfg(feature = "tls")]
    fn tls(&self, stream: Stream, server: &Url, hop: TlsPeer) -> Result<Stream, Failed> {
        let config = match hop {
            TlsPeer::Server => Arc::clone(&self.tls),
            TlsPeer::Proxy => self
                .proxy_tls
                .get_or_init(super::tls::proxy_config)
                .clone()
                .map_err(|why| (RequestFailure::Tls, why))?,
        };
        let name = rustls::pki_types::ServerName::try_from(server.bare_host().to_string())
            .map_err(|e| {
                (
                    RequestFailure::Tls,
                    format!("'{}' is not a TLS server name: {e}", server.host),
                )
            })?;
        let conn = rustls::ClientConnection::new(Arc::clone(&config), name)
            .map_err(|e| (RequestFailure::Tls, format!("TLS could not start: {e}")))?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        while tls.conn.is_handshaking() {
            tls.conn
                .complete_io(&mut tls.sock)
                .map_err(|e| tls_failure(&e, server, &config))?;
        }
        Ok(Stream::Tls(Box::new(tls)))
    }

    #[cfg(not(feature = "tls"))]
    fn tls(&self, _stream: Stream, server: &Url, _hop: TlsPeer) -> Result<Stream, Failed> {
        Err((
            RequestFailure::NoTls,
            format!(
                "'{}' needs TLS, and this qmgr was built without the `tls` feature",
                server.host
            ),
        ))
    }
}

/// A failed TLS handshake: the TLS error in words (an untrusted
/// certificate says `invalid peer certificate: UnknownIssuer`), or the
/// connection error that cut it short; `RequestFailure::of_io` tells which.
/// When the server found nothing in common with qmgr (a `handshake_failure`
/// or `protocol_version` alert, an incompatible answer), the words say what
/// qmgr offers (`tls_offer`).
#[cfg(feature = "tls")]
fn tls_failure(err: &io::Error, server: &Url, config: &rustls::ClientConfig) -> Failed {
    use rustls::{AlertDescription as A, Error as E};
    let incompatible = err
        .get_ref()
        .and_then(|e| e.downcast_ref::<E>())
        .is_some_and(|e| {
            matches!(
                e,
                E::PeerIncompatible(_)
                    | E::AlertReceived(
                        A::HandshakeFailure | A::ProtocolVersion | A::InsufficientSecurity
                    )
            )
        });
    let mut what = format!("the TLS handshake with {} failed: {err}", server.host);
    if incompatible {
        what.push_str(&format!(
            " (if the server speaks none of it: {})",
            tls_offer(config)
        ));
    }
    (RequestFailure::of_io(err), what)
}

/// What qmgr offers in a TLS handshake, in words, from the configuration
/// itself: the versions and the cipher suites (rustls: TLS 1.3, and TLS
/// 1.2 with ECDHE and AES-GCM or ChaCha20-Poly1305; no CBC, no RSA key
/// exchange, by design).
#[cfg(feature = "tls")]
fn tls_offer(config: &rustls::ClientConfig) -> String {
    let suites = &config.crypto_provider().cipher_suites;
    let mut versions: Vec<&str> = Vec::new();
    for suite in suites {
        let version = match suite {
            rustls::SupportedCipherSuite::Tls13(_) => "TLS 1.3",
            rustls::SupportedCipherSuite::Tls12(_) => "TLS 1.2",
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    let names: Vec<String> = suites.iter().map(|s| format!("{:?}", s.suite())).collect();
    format!(
        "qmgr offers {} with the cipher suites {} only (no CBC suites, no RSA key exchange)",
        versions.join(" and "),
        names.join(", ")
    )
}

/// Asks an HTTP proxy for a tunnel to `target` (`CONNECT host:port`).
fn tunnel(mut stream: Stream, target: &Url, credentials: Option<&str>) -> Result<Stream, Failed> {
    let io_failed = |e: io::Error| {
        (
            RequestFailure::of_io(&e),
            format!("the proxy tunnel failed: {e}"),
        )
    };
    let authority = format!("{}:{}", target.host, target.port());
    let mut head = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: {USER_AGENT}\r\n"
    );
    if let Some(c) = credentials {
        head.push_str(&format!("Proxy-Authorization: {c}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).map_err(io_failed)?;
    // Read the answer a byte at a time: nothing after its head may be taken
    // from the tunnel's bytes.
    let mut reader = BufReader::with_capacity(1, stream);
    let answer = wire::read_head(&mut reader).map_err(io_failed)?;
    if !(200..=299).contains(&answer.status) {
        let why = match answer.status {
            401 | 407 => "wants other credentials for",
            _ => "refused",
        };
        return Err((
            RequestFailure::ProxyStatus(answer.status),
            format!(
                "the proxy {why} the tunnel to {authority}: {} {}",
                answer.status, answer.reason
            ),
        ));
    }
    Ok(reader.into_inner())
}

/// The SOCKS handshake for a connection to `target` through `proxy`.
/// `address` is the target's address, looked up here, for socks4 and
/// socks5; socks4a and socks5h send the name and let the proxy look it up
/// (`None`).
fn socks(
    stream: &mut Stream,
    scheme: &str,
    proxy: &Url,
    target: &Url,
    address: Option<std::net::IpAddr>,
) -> Result<(), Failed> {
    use std::net::IpAddr;
    let refused = |why: String| {
        (
            RequestFailure::ProxyRefused,
            format!("the SOCKS proxy {}: {why}", proxy.host),
        )
    };
    let io_failed = |e: io::Error| {
        (
            RequestFailure::of_io(&e),
            format!("the SOCKS handshake failed: {e}"),
        )
    };
    let host = target.bare_host();
    let port = target.port().to_be_bytes();
    let user = proxy.credentials();
    if user
        .as_ref()
        .is_some_and(|(u, p)| u.contains('\0') || p.contains('\0'))
    {
        return Err((
            RequestFailure::BadProxy,
            "the SOCKS proxy's user name or password holds a NUL".to_string(),
        ));
    }
    if scheme.starts_with("socks4") {
        let ip = match address {
            Some(IpAddr::V4(ip)) => ip.octets(),
            Some(IpAddr::V6(_)) => {
                return Err(refused(format!(
                    "cannot reach the IPv6 address of '{host}' (SOCKS 4 is IPv4 only)"
                )))
            }
            // socks4a: 0.0.0.x asks the proxy to look the name up.
            None => [0, 0, 0, 1],
        };
        let mut request = vec![4, 1, port[0], port[1]];
        request.extend_from_slice(&ip);
        request.extend_from_slice(user.as_ref().map_or("", |(u, _)| u.as_str()).as_bytes());
        request.push(0);
        if address.is_none() {
            request.extend_from_slice(host.as_bytes());
            request.push(0);
        }
        stream.write_all(&request).map_err(io_failed)?;
        let mut answer = [0u8; 8];
        stream.read_exact(&mut answer).map_err(io_failed)?;
        if answer[0] != 0 {
            return Err(refused("does not speak SOCKS 4".into()));
        }
        if answer[1] != 0x5a {
            return Err(socks_refusal(proxy, 4, answer[1]));
        }
        return Ok(());
    }
    // SOCKS 5 (RFC 1928), with user name and password (RFC 1929) when the URL has them.
    let login = user.filter(|(u, _)| !u.is_empty());
    let methods: &[u8] = if login.is_some() { &[0, 2] } else { &[0] };
    let mut hello = vec![5, methods.len() as u8];
    hello.extend_from_slice(methods);
    stream.write_all(&hello).map_err(io_failed)?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).map_err(io_failed)?;
    if choice[0] != 5 {
        return Err(refused("does not speak SOCKS 5".into()));
    }
    match (choice[1], &login) {
        (0, _) => {}
        (2, Some((u, p))) if u.len() < 256 && p.len() < 256 => {
            let mut auth = vec![1, u.len() as u8];
            auth.extend_from_slice(u.as_bytes());
            auth.push(p.len() as u8);
            auth.extend_from_slice(p.as_bytes());
            stream.write_all(&auth).map_err(io_failed)?;
            let mut status = [0u8; 2];
            stream.read_exact(&mut status).map_err(io_failed)?;
            if status[1] != 0 {
                return Err((
                    RequestFailure::ProxyAuth,
                    format!(
                        "the SOCKS proxy {} refused the user name and password",
                        proxy.host
                    ),
                ));
            }
        }
        (0xFF, _) | (2, None) => {
            return Err((
                RequestFailure::ProxyAuth,
                format!(
                    "the SOCKS proxy {} accepts none of the ways to log in qmgr offers ({})",
                    proxy.host,
                    match login {
                        Some(_) => "none, or the user name and password of the proxy URL",
                        None => "none: the proxy URL has no user name and password",
                    }
                ),
            ))
        }
        _ => {
            return Err(refused(
                "accepts none of the ways to log in qmgr offers".into(),
            ))
        }
    }
    let mut request = vec![5, 1, 0];
    let literal = host.parse::<IpAddr>().ok();
    match address.or(literal) {
        Some(IpAddr::V4(ip)) => {
            request.push(1);
            request.extend_from_slice(&ip.octets());
        }
        Some(IpAddr::V6(ip)) => {
            request.push(4);
            request.extend_from_slice(&ip.octets());
        }
        None if host.len() < 256 => {
            request.push(3);
            request.push(host.len() as u8);
            request.extend_from_slice(host.as_bytes());
        }
        None => return Err(refused("cannot take a host name over 255 bytes".into())),
    }
    request.extend_from_slice(&port);
    stream.write_all(&request).map_err(io_failed)?;
    let mut answer = [0u8; 4];
    stream.read_exact(&mut answer).map_err(io_failed)?;
    if answer[0] != 5 {
        return Err(refused("does not speak SOCKS 5".into()));
    }
    if answer[1] != 0 {
        return Err(socks_refusal(proxy, 5, answer[1]));
    }
    let address_len = match answer[3] {
        1 => 4,
        4 => 16,
        3 => {
            let mut len = [0u8; 1];
            stream.read_exact(&mut len).map_err(io_failed)?;
            usize::from(len[0])
        }
        other => return Err(refused(format!("answered an unknown address type {other}"))),
    };
    let mut bound = vec![0u8; address_len + 2];
    stream.read_exact(&mut bound).map_err(io_failed)?;
    Ok(())
}

/// What a SOCKS `version` (4 or 5) proxy's reply `code` other than success
/// means. A refusal by the proxy's rules or its identd check, or a
/// command or address type it does not support, is fatal: no retry can
/// help. A target it cannot reach now (a general failure, a network or
/// host unreachable, refused, out of TTL) is transient.
fn socks_refusal(proxy: &Url, version: u8, code: u8) -> Failed {
    use RequestFailure as F;
    let (failure, why) = match (version, code) {
        (5, 1) => (F::ProxyRefused, "a general failure"),
        (5, 2) => (F::ProxyForbidden, "not allowed by its rules"),
        (5, 3) => (F::ProxyRefused, "the network is unreachable"),
        (5, 4) => (F::ProxyRefused, "the host is unreachable"),
        (5, 5) => (F::ProxyRefused, "the server refused it"),
        (5, 6) => (F::ProxyRefused, "the TTL expired"),
        (5, 7) => (F::BadProxy, "it does not support CONNECT"),
        (5, 8) => (
            F::BadProxy,
            "it does not support the address type (socks5 sends addresses, socks5h names)",
        ),
        (4, 0x5b) => (F::ProxyForbidden, "rejected"),
        (4, 0x5c | 0x5d) => (F::ProxyAuth, "its identd check failed"),
        _ => (F::ProxyRefused, "an unknown reply"),
    };
    let host = &proxy.host;
    (
        failure,
        format!("the SOCKS proxy {host} refused the connection: {why} (code {code})"),
    )
}

/// The route for `target` from the environment, as curl reads it:
/// `http_proxy` for http:// (lower case only, as curl), `https_proxy` or
/// `HTTPS_PROXY` for https://, else `all_proxy` or `ALL_PROXY`; none for
/// a host that `no_proxy` (or `NO_PROXY`) exempts: `*`, the host itself,
/// or a domain it lies in (`example.com` and `.example.com` both exempt
/// `a.example.com`). The variables are those of `environment`, a snapshot
/// a caller's thread took: this runs on a transfer thread, which must not
/// read the process's environment (see [`Environment`]).
///
/// [`Environment`]: crate::engine::transport::options::Environment
pub(crate) fn route_from_environment(
    environment: &crate::engine::transport::options::Environment,
    target: &Url,
) -> Route {
    let var = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| environment.var(n).filter(|v| !v.trim().is_empty()))
    };
    let scheme_var: &[&str] = match target.scheme.as_str() {
        "https" => &["https_proxy", "HTTPS_PROXY"],
        _ => &["http_proxy"],
    };
    let Some(proxy) = var(scheme_var).or_else(|| var(&["all_proxy", "ALL_PROXY"])) else {
        return Route::Direct;
    };
    let host = target.bare_host().to_ascii_lowercase();
    let exempt = var(&["no_proxy", "NO_PROXY"]).is_some_and(|list| {
        list.split(',')
            .map(|e| e.trim().to_ascii_lowercase())
            .any(|entry| {
                let domain = entry.trim_start_matches("*.").trim_start_matches('.');
                entry == "*"
                    || (!domain.is_empty()
                        && (host == domain || host.ends_with(&format!(".{domain}"))))
            })
    });
    if exempt {
        return Route::Direct;
    }
    // A proxy given without a scheme is an HTTP proxy, as curl takes it.
    Route::Proxy(if proxy.contains("://") {
        proxy.to_string()
    } else {
        format!("http://{proxy}")
    })
}

/// Reads a response head from `conn`, skipping interim (1xx) answers.
pub(crate) fn read_final_head(conn: &mut Conn) -> io::Result<wire::Head> {
    const MAX_INTERIM: usize = 8;
    for _ in 0..MAX_INTERIM {
        let head = wire::read_head(&mut conn.io)?;
        match head.status {
            101 => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the server switched protocols (101) unasked",
                ))
            }
            100..=199 => {}
            _ => return Ok(head),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!("the server sent more than {MAX_INTERIM} interim (1xx) answers"),
    ))
}

/// Peeks whether an idle connection's server has closed it meanwhile (or
/// sent something unasked, even inside TLS): reads without blocking; such
/// a connection is not reused.
pub(crate) fn is_stale(conn: &mut Conn) -> bool {
    if !conn.io.buffer().is_empty() || has_tls_leftovers(conn.io.get_mut()) {
        return true;
    }
    let tcp = tcp_of(conn.io.get_ref());
    if tcp.set_nonblocking(true).is_err() {
        return true;
    }
    let mut byte = [0u8; 1];
    let stale = match tcp.peek(&mut byte) {
        Ok(_) => true,
        Err(e) => e.kind() != io::ErrorKind::WouldBlock,
    };
    tcp.set_nonblocking(false).is_err() || stale
}

/// True when a TLS layer holds received bytes nobody asked for (bytes past
/// a body that were read from the socket with it).
fn has_tls_leftovers(stream: &mut Stream) -> bool {
    match stream {
        Stream::Tcp(_) => false,
        #[cfg(feature = "tls")]
        Stream::Tls(tls) => {
            let state = tls.conn.process_new_packets();
            state.map_or(true, |s| s.plaintext_bytes_to_read() > 0)
                || has_tls_leftovers(&mut tls.sock)
        }
    }
}

/// The TCP socket under a stream.
fn tcp_of(stream: &Stream) -> &TcpStream {
    match stream {
        Stream::Tcp(tcp) => &tcp.socket,
        #[cfg(feature = "tls")]
        Stream::Tls(tls) => tcp_of(&tls.sock),
    }
}

/// The TCP layer under a stream, to set its deadline.
fn tcp_mut(stream: &mut Stream) -> &mut Tcp {
    match stream {
        Stream::Tcp(tcp) => tcp,
        #[cfg(feature = "tls")]
        Stream::Tls(tls) => tcp_mut(&mut tls.sock),
    }
}

#[cfg(test)]
impl Conn {
    fn socket_id(&self) -> u64 {
        self._registration.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_a_proxy_per_scheme_and_no_proxy_exempts_hosts() {
        use crate::engine::transport::options::Environment;
        // A snapshot, not the process's environment (which this test
        // neither reads nor changes).
        let route = |vars: &[(&str, &str)], url: &str| {
            route_from_environment(&Environment::of(vars), &Url::parse(url).unwrap())
        };
        let p = |u: &str| Route::Proxy(u.to_string());
        let http = [("http_proxy", "http://p:3128")];
        assert_eq!(route(&http, "http://h/x"), p("http://p:3128"));
        assert_eq!(route(&http, "https://h/x"), Route::Direct);
        let https = [("HTTPS_PROXY", "p:8080"), ("all_proxy", "socks5h://s")];
        assert_eq!(route(&https, "https://h/x"), p("http://p:8080"));
        assert_eq!(route(&https, "http://h/x"), p("socks5h://s"));
        let exempt = [
            ("all_proxy", "http://p"),
            ("no_proxy", "localhost, .example.com,other.org"),
        ];
        assert_eq!(route(&exempt, "http://a.example.com/x"), Route::Direct);
        assert_eq!(route(&exempt, "http://example.com/x"), Route::Direct);
        assert_eq!(route(&exempt, "http://OTHER.org/x"), Route::Direct);
        assert_eq!(route(&exempt, "http://notexample.com/x"), p("http://p"));
        assert_eq!(route(&exempt, "http://localhost:8/x"), Route::Direct);
        let all = [("all_proxy", "http://p"), ("NO_PROXY", "*")];
        assert_eq!(route(&all, "http://h/x"), Route::Direct);
        assert_eq!(route(&[], "http://h/x"), Route::Direct);
        // The first of a name, as getenv; a blank value is no proxy.
        let twice = [
            ("http_proxy", "http://first"),
            ("http_proxy", "http://second"),
        ];
        assert_eq!(route(&twice, "http://h/x"), p("http://first"));
        assert_eq!(route(&[("http_proxy", " ")], "http://h/x"), Route::Direct);
    }

    #[test]
    fn a_pool_keeps_the_newest_connections_per_server_and_cancelling_closes_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let target = Url::parse(&url).unwrap();
        let sockets = std::sync::Arc::new(Sockets::default());
        let connector = Connector {
            stall_timeout: Duration::from_secs(5),
            #[cfg(feature = "tls")]
            tls: Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            ),
            #[cfg(feature = "tls")]
            proxy_tls: Default::default(),
            sockets: std::sync::Arc::clone(&sockets),
        };
        let pool = Pool::new(2, 3);
        let conns: Vec<Conn> = (0..3)
            .map(|_| {
                connector
                    .connect(&target, &Route::Direct, "a".into(), None)
                    .unwrap()
            })
            .collect();
        let ids: Vec<u64> = conns.iter().map(Conn::socket_id).collect();
        for c in conns {
            pool.put(c);
        }
        // Two per key: the oldest went, the newest comes first.
        assert_eq!(pool.take("a").unwrap().socket_id(), ids[2]);
        assert_eq!(pool.take("a").unwrap().socket_id(), ids[1]);
        assert!(pool.take("a").is_none());
        assert_eq!(
            sockets.inner.lock().open.len(),
            0,
            "dropped connections leave the list"
        );
        let mut conn = connector
            .connect(&target, &Route::Direct, "a".into(), None)
            .unwrap();
        let accepted: Vec<_> = (0..4).map(|_| listener.accept().unwrap()).collect();
        assert!(!is_stale(&mut conn));
        sockets.shut_down();
        let mut buf = [0u8; 1];
        // Without the shutdown this read would wait for the stall timeout.
        assert_eq!(
            conn.io.read(&mut buf).unwrap(),
            0,
            "a shut-down socket reads its end"
        );
        drop(accepted);
        let refused = connector.connect(&target, &Route::Direct, "a".into(), None);
        assert!(matches!(refused, Err((RequestFailure::Stopped, _))));
    }

    #[test]
    fn a_deadline_ends_reads_that_each_come_within_the_stall_timeout() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let socket = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        let mut tcp = Tcp {
            socket,
            stall: Duration::from_secs(5),
            deadline: Some(Deadline::after(
                Duration::from_millis(300),
                "the head took too long".into(),
            )),
        };
        let started = Instant::now();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        let err = loop {
            // A byte every 50 ms: never a stall, yet never done.
            server.write_all(b"a").unwrap();
            match tcp.read(&mut byte) {
                Ok(_) => got.push(byte[0]),
                Err(e) => break e,
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "the head took too long");
        assert!(!got.is_empty() && started.elapsed() < Duration::from_secs(3));
        // Without a deadline the byte left over reads; waiting for one that
        // does not come ends at the deadline too, not at the stall timeout.
        tcp.deadline = None;
        assert_eq!(tcp.read(&mut byte).unwrap(), 1);
        tcp.deadline = Some(Deadline::after(Duration::from_millis(200), "late".into()));
        let started = Instant::now();
        assert_eq!(tcp.read(&mut byte).unwrap_err().to_string(), "late");
        assert!(started.elapsed() < Duration::from_secs(3));
        // The earlier of two deadlines bounds a head.
        let soon = Deadline::after(Duration::from_secs(1), "soon".into());
        assert_eq!(
            Deadline::head(Duration::from_secs(60), Some(&soon)).why,
            "soon"
        );
        let later = Deadline::low_speed(Duration::from_secs(9));
        assert_eq!(
            Deadline::head(Duration::from_secs(2), Some(&later)).why,
            "the response head took over 2 s (the stall timeout)"
        );
    }

    #[test]
    fn a_connect_to_a_black_holed_address_ends_at_its_budget_or_when_stopped() {
        // A listener whose backlog is full drops further SYNs.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let mut filling = Vec::new();
        while let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            filling.push(s);
            assert!(filling.len() < 4096, "the backlog never filled");
        }
        let started = Instant::now();
        let err =
            crate::sys::connect_tcp(&addr, Duration::from_millis(300), &|| false).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() < Duration::from_secs(3));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let started = Instant::now();
        let err = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_millis(100));
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            crate::sys::connect_tcp(&addr, Duration::from_secs(30), &|| {
                stop.load(std::sync::atomic::Ordering::SeqCst)
            })
            .unwrap_err()
        });
        assert_eq!(err.kind(), io::ErrorKind::Interrupted);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(3), "{took:?}");
        // A listener with room connects, and the stream blocks again.
        let live = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = live.local_addr().unwrap();
        let mut ok = crate::sys::connect_tcp(&addr, Duration::from_secs(5), &|| false).unwrap();
        let (mut server, _) = live.accept().unwrap();
        server.write_all(b"x").unwrap();
        assert_eq!(ok.read(&mut [0u8; 1]).unwrap(), 1);
    }

    #[test]
    fn socks_refusals_by_rule_or_identd_are_fatal_and_unreachable_targets_transient() {
        use RequestFailure as F;
        let proxy = Url::parse("socks5h://p:1080").unwrap();
        for (version, code, failure) in [
            (5, 1, F::ProxyRefused),
            (5, 2, F::ProxyForbidden),
            (5, 3, F::ProxyRefused),
            (5, 4, F::ProxyRefused),
            (5, 5, F::ProxyRefused),
            (5, 6, F::ProxyRefused),
            (5, 7, F::BadProxy),
            (5, 8, F::BadProxy),
            (5, 9, F::ProxyRefused),
            (4, 0x5b, F::ProxyForbidden),
            (4, 0x5c, F::ProxyAuth),
            (4, 0x5d, F::ProxyAuth),
        ] {
            let (got, what) = socks_refusal(&proxy, version, code);
            assert_eq!(got, failure, "SOCKS {version} code {code}: {what}");
            assert!(what.contains(&format!("(code {code})")), "{what}");
        }
    }
}
