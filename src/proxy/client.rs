//! The daemon's address, and calls to it: one method call, one reply, on a
//! connection borrowed from the manager's idle ones.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::engine::error::{Error, Result};
use crate::hresult::*;
use crate::proxy::wire;
use crate::service::codec;
use crate::service::varlink::{Call, Connection, ReadError, MAX_REPLY};
use crate::service::FAILED;
use crate::sync::Mutex;

/// The longest a call's reply may take to begin. The slowest legitimate
/// calls (a suspend waiting for its transfer to stop) take a second or
/// two; a daemon that says nothing for this long is stopped or wedged.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// For `Complete` and `Cancel`, which fsync, rename and delete every
/// file of the job before they answer.
pub(crate) const LONG_CALL_TIMEOUT: Duration = Duration::from_secs(600);
/// How long a message may take to write before the daemon is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Idle connections kept for the next calls.
const MAX_IDLE: usize = 4;

/// The per-user daemon's socket, under `$XDG_RUNTIME_DIR`.
const USER_SOCKET: &str = "qmgr/io.qmgr";
/// The system daemon's socket.
pub(crate) const SYSTEM_SOCKET: &str = "/run/qmgr/io.qmgr";

/// Where a daemon listens: a Unix socket.
#[derive(Clone, Debug)]
pub(crate) struct Address {
    /// As Varlink writes it: `unix:/path`, or `unix:@name` (abstract).
    text: String,
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Path(PathBuf),
    /// A Linux abstract socket name (without the leading NUL).
    #[cfg(target_os = "linux")]
    Abstract(Vec<u8>),
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Address {
    /// Reads a Varlink address of a Unix socket: `unix:/path` (with
    /// `;param=value` suffixes, which are dropped), `unix:@name` (a Linux
    /// abstract socket), or a plain absolute path.
    pub(crate) fn parse(text: &str) -> Result<Address> {
        let bad = || {
            Error::invalid_arg(format!(
                "'{text}' is not the address of a qmgr daemon: give unix:/path/to/socket \
                 (a Varlink address) or an absolute path"
            ))
        };
        let rest = match text.strip_prefix("unix:") {
            Some(rest) => rest.split(';').next().unwrap_or(""),
            None if text.starts_with('/') => text,
            None => return Err(bad()),
        };
        if rest.starts_with('/') && !rest.contains('\0') {
            return Ok(Address {
                text: format!("unix:{rest}"),
                target: Target::Path(PathBuf::from(rest)),
            });
        }
        #[cfg(target_os = "linux")]
        if let Some(name) = rest.strip_prefix('@').filter(|n| !n.is_empty()) {
            return Ok(Address {
                text: format!("unix:{rest}"),
                target: Target::Abstract(name.as_bytes().to_vec()),
            });
        }
        Err(bad())
    }

    /// The caller's default daemon: `$QMGR_ADDRESS` if it is set and not
    /// empty; else the per-user daemon's socket,
    /// `$XDG_RUNTIME_DIR/qmgr/io.qmgr`, if it exists; else the system
    /// daemon's, `/run/qmgr/io.qmgr`. Reads the environment: on the
    /// caller's thread only.
    pub(crate) fn default_for_caller() -> Result<Address> {
        if let Some(text) = std::env::var_os("QMGR_ADDRESS").filter(|v| !v.is_empty()) {
            let text = text
                .into_string()
                .map_err(|_| Error::invalid_arg("$QMGR_ADDRESS is not valid UTF-8"))?;
            return Address::parse(&text);
        }
        let user = std::env::var_os("XDG_RUNTIME_DIR")
            .filter(|d| Path::new(d).is_absolute())
            .map(|d| Path::new(&d).join(USER_SOCKET))
            .filter(|p| std::fs::symlink_metadata(p).is_ok());
        let path = user.unwrap_or_else(|| PathBuf::from(SYSTEM_SOCKET));
        Ok(Address {
            text: format!("unix:{}", path.display()),
            target: Target::Path(path),
        })
    }

    fn connect(&self) -> io::Result<UnixStream> {
        match &self.target {
            Target::Path(path) => UnixStream::connect(path),
            #[cfg(target_os = "linux")]
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                UnixStream::connect_addr(&addr)
            }
        }
    }
}

/// `QM_E_SERVICE_UNAVAILABLE`: no daemon, or not any more.
pub(crate) fn unavailable(message: String) -> Error {
    Error::new(QM_E_SERVICE_UNAVAILABLE, message)
}

/// The calls of one connected manager.
pub(crate) struct Client {
    address: Address,
    /// Cleared by `close`: no call starts after it.
    open: AtomicBool,
    idle: Mutex<Vec<Connection>>,
    /// Calls that may wait long (`Wait`), with a clone of their socket,
    /// which `close` shuts down to end them.
    waiting: Mutex<Vec<(u64, UnixStream)>>,
    next_waiting: AtomicU64,
}

/// How a call waits.
#[derive(Clone, Copy)]
pub(crate) struct Patience {
    /// For the reply to begin.
    pub timeout: Duration,
    /// `close` may end it (it waits for something else than the daemon).
    pub abortable: bool,
}

impl Patience {
    pub(crate) const CALL: Patience = Patience {
        timeout: CALL_TIMEOUT,
        abortable: false,
    };
    pub(crate) const LONG: Patience = Patience {
        timeout: LONG_CALL_TIMEOUT,
        abortable: false,
    };
}

/// Why a call got no reply.
enum Lost {
    /// Nothing reached the daemon.
    NotSent(io::Error),
    /// The call was sent, and the connection failed before the reply.
    NoReply(ReadError),
}

impl Client {
    /// Connects to the daemon at `address` (the connection is kept for
    /// the first call).
    pub(crate) fn connect(address: Address) -> Result<Client> {
        let client = Client {
            address,
            open: AtomicBool::new(true),
            idle: Mutex::new(Vec::new()),
            waiting: Mutex::new(Vec::new()),
            next_waiting: AtomicU64::new(0),
        };
        let first = client.open_connection()?;
        client.idle.lock().push(first);
        Ok(client)
    }

    /// The daemon's address.
    pub(crate) fn address(&self) -> &Address {
        &self.address
    }

    /// False once `close` began.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    /// A new connection to the daemon.
    pub(crate) fn open_connection(&self) -> Result<Connection> {
        let stream = self.address.connect().map_err(|e| self.connect_error(&e))?;
        let mut conn = stream
            .set_write_timeout(Some(WRITE_TIMEOUT))
            .and_then(|()| Connection::new(stream))
            .map_err(|e| self.connect_error(&e))?;
        // A reply is the daemon's own output: an administrator's list of
        // every user's jobs may be long.
        conn.set_limit(MAX_REPLY);
        Ok(conn)
    }

    fn connect_error(&self, e: &io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::PermissionDenied => Error::new(
                QM_E_ACCESSDENIED,
                format!("the qmgr daemon at {} refuses this user: {e}", self.address),
            ),
            _ => unavailable(format!(
                "no qmgr daemon is running at {} ({e})",
                self.address
            )),
        }
    }

    /// Stops every call: no new one starts (`QM_E_HANDLE`), the waiting
    /// ones end, the idle connections close. Returns whether this call
    /// closed it (false: already closed).
    pub(crate) fn close(&self) -> bool {
        if !self.open.swap(false, Ordering::AcqRel) {
            return false;
        }
        for (_, stream) in self.waiting.lock().drain(..) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        self.idle.lock().clear();
        true
    }

    /// Calls `method` and returns its reply's parameters, or the error the
    /// daemon answered (`io.qmgr.Failed`: the in-process call's own).
    pub(crate) fn call(&self, method: &str, parameters: Value) -> Result<Map<String, Value>> {
        self.call_with(method, parameters, Patience::CALL)
    }

    /// `call`, waiting as `patience` says.
    pub(crate) fn call_with(
        &self,
        method: &str,
        parameters: Value,
        patience: Patience,
    ) -> Result<Map<String, Value>> {
        if !self.is_open() {
            return Err(Error::manager_closed());
        }
        let mut bytes = serde_json::to_vec(&Call::new(method, parameters).to_json())
            .map_err(|e| Error::new(QM_E_UNEXPECTED, format!("cannot encode {method}: {e}")))?;
        bytes.push(0);
        let reused = self.idle.lock().pop();
        let outcome = match reused {
            Some(conn) => match self.exchange(conn, &bytes, patience) {
                // The daemon closed this connection while it was idle (it
                // restarted, or let it go): nothing was sent, so the call
                // goes again on a new connection.
                Err(Lost::NotSent(_)) => self.exchange(self.open_connection()?, &bytes, patience),
                other => other,
            },
            None => self.exchange(self.open_connection()?, &bytes, patience),
        };
        let reply = match outcome {
            Ok(reply) => reply,
            Err(_) if !self.is_open() && patience.abortable => {
                return Err(Error::new(
                    QM_E_ABORT,
                    "the manager was closed while waiting",
                ))
            }
            Err(lost) => return Err(self.lost(method, lost, patience)),
        };
        match reply.into_result() {
            Ok(parameters) => Ok(parameters),
            Err((name, parameters)) if name == FAILED => {
                Err(codec::decode_failed(&parameters).unwrap_or_else(wire::unexpected))
            }
            Err((name, parameters)) => Err(wire::error_reply(method, &name, &parameters)),
        }
    }

    /// Sends the call on `conn` and reads its reply; gives the connection
    /// back to the idle ones when it is still good.
    fn exchange(
        &self,
        mut conn: Connection,
        bytes: &[u8],
        patience: Patience,
    ) -> std::result::Result<crate::service::varlink::Reply, Lost> {
        crate::sys::send_all(conn.stream(), bytes).map_err(Lost::NotSent)?;
        let ticket = patience.abortable.then(|| self.track(&conn)).flatten();
        let reply = conn.read_reply(Some(patience.timeout));
        if let Some(ticket) = ticket {
            self.waiting.lock().retain(|(t, _)| *t != ticket);
        }
        let reply = reply.map_err(Lost::NoReply)?;
        if !reply.continues && self.is_open() {
            let mut idle = self.idle.lock();
            if idle.len() < MAX_IDLE {
                idle.push(conn);
            }
        }
        Ok(reply)
    }

    /// Registers a waiting call's socket for `close`; `None` when the
    /// socket cannot be cloned (the call then waits out its timeout).
    fn track(&self, conn: &Connection) -> Option<u64> {
        let clone = conn.stream().try_clone().ok()?;
        let ticket = self.next_waiting.fetch_add(1, Ordering::Relaxed);
        let mut waiting = self.waiting.lock();
        if !self.is_open() {
            let _ = clone.shutdown(std::net::Shutdown::Both);
        }
        waiting.push((ticket, clone));
        Some(ticket)
    }

    fn lost(&self, method: &str, lost: Lost, patience: Patience) -> Error {
        let address = &self.address;
        match lost {
            Lost::NotSent(e) => unavailable(format!(
                "the qmgr daemon at {address} is gone: {method} was not sent ({e})"
            )),
            Lost::NoReply(ReadError::TimedOut) => unavailable(format!(
                "the qmgr daemon at {address} did not answer {method} within {} s",
                patience.timeout.as_secs()
            )),
            Lost::NoReply(e @ (ReadError::Closed | ReadError::Io(_))) => unavailable(format!(
                "the connection to the qmgr daemon at {address} was lost during {method} \
                 ({e}): it may or may not have been carried out"
            )),
            Lost::NoReply(e) => wire::unexpected(format_args!("{method}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_varlinks_unix_sockets_or_absolute_paths() {
        let path = |text: &str| match Address::parse(text).map(|a| a.target) {
            Ok(Target::Path(p)) => Some(p),
            _ => None,
        };
        assert_eq!(
            path("unix:/run/qmgr/io.qmgr"),
            Some("/run/qmgr/io.qmgr".into())
        );
        assert_eq!(path("/tmp/sock"), Some("/tmp/sock".into()));
        // Varlink's parameters after ';' name no part of the path.
        assert_eq!(path("unix:/tmp/sock;mode=0600"), Some("/tmp/sock".into()));
        assert_eq!(
            Address::parse("unix:/tmp/sock;mode=0600")
                .unwrap()
                .to_string(),
            "unix:/tmp/sock"
        );
        #[cfg(target_os = "linux")]
        assert!(matches!(
            Address::parse("unix:@qmgr-test").map(|a| a.target),
            Ok(Target::Abstract(name)) if name == b"qmgr-test"
        ));
        for bad in [
            "",
            "unix:",
            "unix:relative/sock",
            "relative/sock",
            "tcp:127.0.0.1:12345",
            "unix:@",
            "unix:/nul\0byte",
        ] {
            let err = Address::parse(bad).unwrap_err();
            assert_eq!(err.code, HResult(QM_E_INVALIDARG), "{bad:?}");
        }
    }

    #[test]
    fn no_daemon_is_service_unavailable_naming_the_address() {
        let dir = std::env::temp_dir().join(format!("qmgr-no-daemon-{}", std::process::id()));
        let address = Address::parse(&format!("unix:{}/sock", dir.display())).unwrap();
        let err = Client::connect(address).err().unwrap();
        assert_eq!(err.code, HResult(QM_E_SERVICE_UNAVAILABLE));
        assert!(err.message.contains(&dir.display().to_string()), "{err}");
    }
}
