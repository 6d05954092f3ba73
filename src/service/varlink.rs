//! Varlink's framing over a Unix stream socket, for both ends: the daemon
//! reads calls and writes replies, the proxy writes calls and reads
//! replies (<https://varlink.org/Method-Call>).
//!
//! A message is one JSON object followed by a NUL byte. A call is
//! `{"method": "iface.Method", "parameters": {…}, "more": bool, "oneway":
//! bool}`; a reply is `{"parameters": {…}, "continues": bool, "error":
//! "iface.Error"}`. Everything a peer sends is bounded: a message longer
//! than [`MAX_MESSAGE`] bytes, or one that has begun but is not finished
//! within [`PARTIAL_DEADLINE`], ends the reading with an error. A
//! connection that is idle between messages has no deadline (a client may
//! keep its connection open for as long as it likes). Malformed input is an
//! error value, never a panic.
//!
//! How the daemon answers a peer that breaks the framing (and then drops
//! it): a message that is not a JSON call gets
//! `org.varlink.service.InvalidParameter` naming the part that is wrong
//! (`message` when it is not JSON at all); one too long gets
//! `io.qmgr.LimitReached {what: "message_bytes", limit}`; one left
//! unfinished past the deadline gets `io.qmgr.LimitReached {what:
//! "message_seconds", limit}`. See [`ReadError::reply`].

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

/// The longest message either end accepts, in bytes (without its NUL).
pub const MAX_MESSAGE: usize = 1 << 20;

/// The longest reply a client should accept (see
/// [`Connection::set_limit`]): a reply is the daemon's own output, and an
/// administrator's list of every user's jobs may exceed [`MAX_MESSAGE`].
pub const MAX_REPLY: usize = 64 << 20;

/// How long a message may take from its first byte to its NUL.
pub const PARTIAL_DEADLINE: Duration = Duration::from_secs(10);

/// The name of the interface every Varlink service implements.
pub const SERVICE_INTERFACE_NAME: &str = "org.varlink.service";

/// The description of `org.varlink.service`, as the Varlink specification
/// gives it (served by `GetInterfaceDescription`).
pub const SERVICE_INTERFACE: &str = "\
# The Varlink Service Interface is provided by every varlink service. It
# describes the service and the interfaces it implements.
interface org.varlink.service

# Get a list of all the interfaces a service provides and information
# about the implementation.
method GetInfo() -> (
  vendor: string,
  product: string,
  version: string,
  url: string,
  interfaces: []string
)

# Get the description of an interface that is implemented by this service.
method GetInterfaceDescription(interface: string) -> (description: string)

# The requested interface was not found.
error InterfaceNotFound (interface: string)

# The requested method was not found
error MethodNotFound (method: string)

# The interface defines the requested method, but the service does not
# implement it.
error MethodNotImplemented (method: string)

# One of the passed parameters is invalid.
error InvalidParameter (parameter: string)

# Client is denied access
error PermissionDenied ()

# Method is expected to be called with 'more' set to true, but wasn't
error ExpectedMore ()
";

/// The errors of `org.varlink.service`, by their full names.
pub mod errors {
    /// `(interface: string)`: no such interface.
    pub const INTERFACE_NOT_FOUND: &str = "org.varlink.service.InterfaceNotFound";
    /// `(method: string)`: no such method in the interface.
    pub const METHOD_NOT_FOUND: &str = "org.varlink.service.MethodNotFound";
    /// `(method: string)`: defined, but not implemented.
    pub const METHOD_NOT_IMPLEMENTED: &str = "org.varlink.service.MethodNotImplemented";
    /// `(parameter: string)`: a parameter is missing or has the wrong type or value.
    pub const INVALID_PARAMETER: &str = "org.varlink.service.InvalidParameter";
    /// `()`: the caller may not call this.
    pub const PERMISSION_DENIED: &str = "org.varlink.service.PermissionDenied";
    /// `()`: the method must be called with `more`.
    pub const EXPECTED_MORE: &str = "org.varlink.service.ExpectedMore";
}

/// One method call.
#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    /// The fully qualified method, `interface.Method`.
    pub method: String,
    /// The input parameters (an empty object when the call has none).
    pub parameters: Map<String, Value>,
    /// The caller accepts several replies (`continues: true` on all but the last).
    pub more: bool,
    /// The caller wants no reply at all.
    pub oneway: bool,
    /// The caller wants the connection for another protocol after the reply.
    pub upgrade: bool,
}

impl Call {
    /// A call of `method` with `parameters` (an object; anything else
    /// counts as no parameters).
    pub fn new(method: &str, parameters: Value) -> Call {
        Call {
            method: method.to_string(),
            parameters: into_object(parameters),
            more: false,
            oneway: false,
            upgrade: false,
        }
    }

    /// The same call with `more` set: the service may reply several times.
    pub fn with_more(mut self) -> Call {
        self.more = true;
        self
    }

    /// The same call with `oneway` set: the service does not reply.
    pub fn with_oneway(mut self) -> Call {
        self.oneway = true;
        self
    }

    /// The interface part of the method name (before the last dot).
    pub fn interface(&self) -> &str {
        self.method.rsplit_once('.').map_or("", |(i, _)| i)
    }

    /// The message, as JSON (flags only when set).
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("method".into(), Value::String(self.method.clone()));
        if !self.parameters.is_empty() {
            out.insert("parameters".into(), Value::Object(self.parameters.clone()));
        }
        for (name, set) in [
            ("more", self.more),
            ("oneway", self.oneway),
            ("upgrade", self.upgrade),
        ] {
            if set {
                out.insert(name.into(), Value::Bool(true));
            }
        }
        Value::Object(out)
    }

    /// Reads a call message; unknown members are ignored (later Varlink
    /// versions may add some).
    pub fn from_json(value: Value) -> Result<Call, ReadError> {
        let Value::Object(mut map) = value else {
            return Err(malformed("message", "a message must be a JSON object"));
        };
        let method = match map.remove("method") {
            Some(Value::String(m)) if is_method_name(&m) => m,
            Some(_) => {
                return Err(malformed(
                    "method",
                    "the method must be a string 'interface.Method'",
                ))
            }
            None => return Err(malformed("method", "a call has no method")),
        };
        let parameters = match map.remove("parameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(malformed("parameters", "parameters must be an object")),
        };
        Ok(Call {
            method,
            parameters,
            more: flag(&map, "more")?,
            oneway: flag(&map, "oneway")?,
            upgrade: flag(&map, "upgrade")?,
        })
    }
}

/// One reply: parameters, or an error with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Reply {
    /// The output parameters, or the error's parameters.
    pub parameters: Map<String, Value>,
    /// More replies to the same call follow.
    pub continues: bool,
    /// The fully qualified error name, if the call failed.
    pub error: Option<String>,
}

impl Reply {
    /// A successful reply with these output parameters (an object).
    pub fn ok(parameters: Value) -> Reply {
        Reply {
            parameters: into_object(parameters),
            continues: false,
            error: None,
        }
    }

    /// An error reply: `name` is the error's full name, `parameters` its
    /// parameters (an object).
    pub fn error(name: &str, parameters: Value) -> Reply {
        Reply {
            parameters: into_object(parameters),
            continues: false,
            error: Some(name.to_string()),
        }
    }

    /// The same reply with `continues` set as given.
    pub fn continuing(mut self, continues: bool) -> Reply {
        self.continues = continues;
        self
    }

    /// `org.varlink.service.InvalidParameter` naming `parameter`.
    pub fn invalid_parameter(parameter: &str) -> Reply {
        Reply::error(errors::INVALID_PARAMETER, json!({ "parameter": parameter }))
    }

    /// `org.varlink.service.MethodNotFound` naming `method`.
    pub fn method_not_found(method: &str) -> Reply {
        Reply::error(errors::METHOD_NOT_FOUND, json!({ "method": method }))
    }

    /// `org.varlink.service.MethodNotImplemented` naming `method`.
    pub fn method_not_implemented(method: &str) -> Reply {
        Reply::error(errors::METHOD_NOT_IMPLEMENTED, json!({ "method": method }))
    }

    /// `org.varlink.service.InterfaceNotFound` naming `interface`.
    pub fn interface_not_found(interface: &str) -> Reply {
        Reply::error(
            errors::INTERFACE_NOT_FOUND,
            json!({ "interface": interface }),
        )
    }

    /// `org.varlink.service.PermissionDenied`.
    pub fn permission_denied() -> Reply {
        Reply::error(errors::PERMISSION_DENIED, json!({}))
    }

    /// `org.varlink.service.ExpectedMore`.
    pub fn expected_more() -> Reply {
        Reply::error(errors::EXPECTED_MORE, json!({}))
    }

    /// The message, as JSON.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("parameters".into(), Value::Object(self.parameters.clone()));
        if self.continues {
            out.insert("continues".into(), Value::Bool(true));
        }
        if let Some(error) = &self.error {
            out.insert("error".into(), Value::String(error.clone()));
        }
        Value::Object(out)
    }

    /// Reads a reply message; unknown members are ignored.
    pub fn from_json(value: Value) -> Result<Reply, ReadError> {
        let Value::Object(mut map) = value else {
            return Err(malformed("message", "a message must be a JSON object"));
        };
        let parameters = match map.remove("parameters") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(p)) => p,
            Some(_) => return Err(malformed("parameters", "parameters must be an object")),
        };
        let error = match map.remove("error") {
            None | Some(Value::Null) => None,
            Some(Value::String(e)) if !e.is_empty() => Some(e),
            Some(_) => return Err(malformed("error", "an error must be a non-empty string")),
        };
        Ok(Reply {
            parameters,
            continues: flag(&map, "continues")?,
            error,
        })
    }

    /// The parameters of a successful reply, or the error's name and
    /// parameters.
    pub fn into_result(self) -> Result<Map<String, Value>, (String, Map<String, Value>)> {
        match self.error {
            None => Ok(self.parameters),
            Some(name) => Err((name, self.parameters)),
        }
    }
}

/// Why no message could be read.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection between two messages.
    Closed,
    /// No message began within the time the reader allowed.
    TimedOut,
    /// The connection failed, or closed in the middle of a message.
    Io(io::Error),
    /// The message grew past the reader's limit ([`MAX_MESSAGE`] bytes
    /// unless set otherwise).
    TooLong,
    /// The message began but was not finished within [`PARTIAL_DEADLINE`].
    Incomplete,
    /// The message is not a Varlink message: `field` names what is wrong
    /// (`message` for something that is not a JSON object at all).
    Malformed {
        /// The member that is wrong, or `message`.
        field: String,
        /// What is wrong with it, for logs.
        why: String,
    },
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => f.write_str("the connection was closed"),
            ReadError::TimedOut => f.write_str("no message arrived in time"),
            ReadError::Io(e) => write!(f, "the connection failed: {e}"),
            ReadError::TooLong => f.write_str("a message is longer than the limit"),
            ReadError::Incomplete => write!(
                f,
                "a message was not finished within {} s",
                PARTIAL_DEADLINE.as_secs()
            ),
            ReadError::Malformed { field, why } => write!(f, "malformed message ({field}): {why}"),
        }
    }
}

impl std::error::Error for ReadError {}

impl ReadError {
    /// The error reply a service sends before dropping a peer whose
    /// message broke the framing; `None` when nothing can be sent (the
    /// connection is gone).
    pub fn reply(&self) -> Option<Reply> {
        match self {
            ReadError::Closed | ReadError::TimedOut | ReadError::Io(_) => None,
            ReadError::TooLong => Some(Reply::error(
                super::LIMIT_REACHED,
                json!({ "what": "message_bytes", "limit": MAX_MESSAGE }),
            )),
            ReadError::Incomplete => Some(Reply::error(
                super::LIMIT_REACHED,
                json!({ "what": "message_seconds", "limit": PARTIAL_DEADLINE.as_secs() }),
            )),
            ReadError::Malformed { field, .. } => Some(Reply::invalid_parameter(field)),
        }
    }
}

fn malformed(field: &str, why: &str) -> ReadError {
    ReadError::Malformed {
        field: field.to_string(),
        why: why.to_string(),
    }
}

fn flag(map: &Map<String, Value>, name: &str) -> Result<bool, ReadError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(malformed(name, "must be a boolean")),
    }
}

fn into_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `interface.Method`: dotted interface name, then a method name.
fn is_method_name(name: &str) -> bool {
    let Some((interface, method)) = name.rsplit_once('.') else {
        return false;
    };
    !interface.is_empty()
        && !method.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_')
}

/// One end of a Varlink connection: a Unix stream socket and what was read
/// from it but not yet taken.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    /// Bytes read, not yet taken as messages.
    buffer: Vec<u8>,
    /// How far `buffer` is known to hold no NUL.
    scanned: usize,
    /// When the unfinished message at the front of `buffer` began.
    begun: Option<Instant>,
    /// The read timeout last set on the socket.
    timeout: Option<Duration>,
    /// The longest message this end reads.
    limit: usize,
    /// How long writing one whole message may take (`None`: no bound).
    write_deadline: Option<Duration>,
}

/// Read at most this much per system call.
const CHUNK: usize = 64 * 1024;

impl Connection {
    /// Wraps a connected stream (switched to blocking mode).
    pub fn new(stream: UnixStream) -> io::Result<Connection> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(None)?;
        Ok(Connection {
            stream,
            buffer: Vec::new(),
            scanned: 0,
            begun: None,
            timeout: None,
            limit: MAX_MESSAGE,
            write_deadline: None,
        })
    }

    /// Connects to the service listening at `path`.
    pub fn connect(path: &Path) -> io::Result<Connection> {
        Connection::new(UnixStream::connect(path)?)
    }

    /// The socket (to read the peer's credentials, set a write timeout,
    /// or clone it to shut it down from another thread).
    pub fn stream(&self) -> &UnixStream {
        &self.stream
    }

    /// Sets the longest message this end reads (default [`MAX_MESSAGE`];
    /// a client may allow up to [`MAX_REPLY`]).
    pub fn set_limit(&mut self, bytes: usize) {
        self.limit = bytes.max(1);
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "none" to the socket: never ask for one.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.timeout != timeout {
            self.stream.set_read_timeout(timeout)?;
            self.timeout = timeout;
        }
        Ok(())
    }

    /// Reads the next message as JSON. `idle` bounds the wait for its
    /// first byte (`None`: forever); once it has begun, it must end within
    /// [`PARTIAL_DEADLINE`] and within the limit ([`Connection::set_limit`]).
    pub fn read_message(&mut self, idle: Option<Duration>) -> Result<Value, ReadError> {
        let started = Instant::now();
        loop {
            if let Some(at) = self.buffer[self.scanned..].iter().position(|&b| b == 0) {
                let end = self.scanned + at;
                let parsed = serde_json::from_slice::<Value>(&self.buffer[..end]);
                self.buffer.drain(..=end);
                self.scanned = 0;
                self.begun = (!self.buffer.is_empty()).then(Instant::now);
                return parsed.map_err(|e| malformed("message", &format!("not JSON: {e}")));
            }
            self.scanned = self.buffer.len();
            if self.buffer.len() > self.limit {
                return Err(ReadError::TooLong);
            }
            let wait = match self.begun {
                Some(begun) => {
                    let left = PARTIAL_DEADLINE.saturating_sub(begun.elapsed());
                    if left.is_zero() {
                        return Err(ReadError::Incomplete);
                    }
                    Some(left)
                }
                None => match idle {
                    Some(idle) => {
                        let left = idle.saturating_sub(started.elapsed());
                        if left.is_zero() {
                            return Err(ReadError::TimedOut);
                        }
                        Some(left)
                    }
                    None => None,
                },
            };
            self.set_timeout(wait).map_err(ReadError::Io)?;
            // Never more than one byte past the limit: that byte tells a
            // message too long from one that ends exactly there.
            let room = (self.limit + 1 - self.buffer.len()).min(CHUNK);
            let old = self.buffer.len();
            self.buffer.resize(old + room, 0);
            let got = self.stream.read(&mut self.buffer[old..]);
            self.buffer.truncate(old + *got.as_ref().unwrap_or(&0));
            match got {
                Ok(0) if old == 0 => return Err(ReadError::Closed),
                Ok(0) => {
                    return Err(ReadError::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the peer closed the connection in the middle of a message",
                    )))
                }
                Ok(_) => {
                    if self.begun.is_none() {
                        self.begun = Some(Instant::now());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Reads the next call, waiting as long as it takes for it to begin.
    pub fn read_call(&mut self) -> Result<Call, ReadError> {
        Call::from_json(self.read_message(None)?)
    }

    /// Reads the next reply; `timeout` bounds the wait for it to begin
    /// (`None`: forever).
    pub fn read_reply(&mut self, timeout: Option<Duration>) -> Result<Reply, ReadError> {
        Reply::from_json(self.read_message(timeout)?)
    }

    /// Writes one message (JSON and its NUL) in one piece.
    pub fn write_message(&mut self, message: &Value) -> io::Result<()> {
        let mut bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
        bytes.push(0);
        let Some(limit) = self.write_deadline else {
            return self.stream.write_all(&bytes);
        };
        // The bound is on the whole message: a socket timeout alone bounds
        // each write, which a peer reading a byte now and then never hits.
        let deadline = Instant::now() + limit;
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the peer did not take a message within {limit:?}"),
                ));
            }
            self.stream.set_write_timeout(Some(left))?;
            match self.stream.write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Ends a connection whose peer is being dropped after an error reply:
    /// says it will write no more, then reads and discards what the peer
    /// still sends, for at most `linger` and 1 MiB, so that closing with
    /// its unread bytes does not reset the connection before the peer
    /// read the reply (a "lingering close", as HTTP servers do).
    pub fn close_after_error(mut self, linger: Duration) {
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let deadline = Instant::now() + linger;
        let mut sink = [0u8; 16 << 10];
        let mut left = 1usize << 20;
        while left > 0 {
            let now = Instant::now();
            if now >= deadline || self.stream.set_read_timeout(Some(deadline - now)).is_err() {
                return;
            }
            match self.stream.read(&mut sink) {
                Ok(0) | Err(_) => return,
                Ok(n) => left = left.saturating_sub(n),
            }
        }
    }

    /// Bounds the time writing each whole message may take; past it the
    /// write fails with `TimedOut` (the caller then drops the peer).
    pub fn set_write_deadline(&mut self, limit: Option<Duration>) {
        self.write_deadline = limit;
    }

    /// Sends a call (no reply is read).
    pub fn send_call(&mut self, call: &Call) -> io::Result<()> {
        self.write_message(&call.to_json())
    }

    /// Sends a reply.
    pub fn send_reply(&mut self, reply: &Reply) -> io::Result<()> {
        self.write_message(&reply.to_json())
    }

    /// Sends a successful reply with these parameters.
    pub fn reply(&mut self, parameters: Value) -> io::Result<()> {
        self.send_reply(&Reply::ok(parameters))
    }

    /// Sends an error reply.
    pub fn error(&mut self, name: &str, parameters: Value) -> io::Result<()> {
        self.send_reply(&Reply::error(name, parameters))
    }

    /// Calls `method` and reads its (first) reply, waiting for it as long
    /// as it takes. An error reply is a `Reply` with `error` set; the
    /// `Err` is a broken connection or a malformed reply.
    pub fn call(&mut self, method: &str, parameters: Value) -> Result<Reply, ReadError> {
        self.send_call(&Call::new(method, parameters))
            .map_err(ReadError::Io)?;
        self.read_reply(None)
    }

    /// True when the peer has closed the connection (or it failed);
    /// returns within a few milliseconds. Bytes that arrived meanwhile are
    /// kept for the next read (a peer that sends more than a message's
    /// worth while it should be waiting counts as gone).
    pub fn hung_up(&mut self) -> bool {
        if self.buffer.len() > self.limit {
            return true;
        }
        if self.set_timeout(Some(Duration::from_millis(1))).is_err() {
            return true;
        }
        let old = self.buffer.len();
        let room = (self.limit + 1 - old).min(CHUNK);
        self.buffer.resize(old + room, 0);
        let got = self.stream.read(&mut self.buffer[old..]);
        self.buffer.truncate(old + *got.as_ref().unwrap_or(&0));
        match got {
            Ok(0) => true,
            Ok(_) => {
                if self.begun.is_none() {
                    self.begun = Some(Instant::now());
                }
                false
            }
            Err(e) => !matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    fn pair() -> (Connection, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Connection::new(a).unwrap(), b)
    }

    #[test]
    fn a_peer_that_reads_a_byte_now_and_then_cannot_hold_a_write_forever() {
        let (mut conn, mut peer) = pair();
        let limit = Duration::from_millis(300);
        conn.set_write_deadline(Some(limit));
        // Far more than the socket buffers hold, so the write must wait on
        // the peer; the peer takes a byte every 20 ms, which would keep a
        // per-write timeout from ever firing.
        let big = json!({ "blob": "x".repeat(4 << 20) });
        let done = Arc::new(AtomicBool::new(false));
        let reader_done = done.clone();
        let reader = std::thread::spawn(move || {
            let mut byte = [0u8];
            // Stops when told: the socket buffers still hold far more than
            // a byte every 20 ms drains in any reasonable time.
            while !reader_done.load(Ordering::Relaxed) && matches!(peer.read(&mut byte), Ok(1)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let started = Instant::now();
        let err = conn.write_message(&big).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() >= limit);
        done.store(true, Ordering::Relaxed);
        reader.join().unwrap();
    }

    #[test]
    fn calls_and_replies_round_trip() {
        let call = Call::new("io.qmgr.GetJob", json!({"id": "x"})).with_more();
        assert_eq!(Call::from_json(call.to_json()).unwrap(), call);
        assert_eq!(call.interface(), "io.qmgr");
        let reply = Reply::error("io.qmgr.Failed", json!({"code": -1})).continuing(true);
        assert_eq!(Reply::from_json(reply.to_json()).unwrap(), reply);
        let plain = Reply::ok(json!({"a": 1}));
        assert_eq!(plain.clone().into_result().unwrap()["a"], 1);
        assert_eq!(Reply::from_json(plain.to_json()).unwrap(), plain);
    }

    #[test]
    fn malformed_calls_name_what_is_wrong() {
        let field = |v: Value| match Call::from_json(v) {
            Err(ReadError::Malformed { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(json!([1])), "message");
        assert_eq!(field(json!({})), "method");
        assert_eq!(field(json!({"method": 7})), "method");
        assert_eq!(field(json!({"method": "NoDot"})), "method");
        assert_eq!(field(json!({"method": "a.b c"})), "method");
        assert_eq!(
            field(json!({"method": "a.B", "parameters": 1})),
            "parameters"
        );
        assert_eq!(field(json!({"method": "a.B", "more": "yes"})), "more");
        let ok = Call::from_json(json!({"method": "a.B", "parameters": null, "x": 1})).unwrap();
        assert!(ok.parameters.is_empty());
    }

    #[test]
    fn messages_are_split_at_nul_bytes_whatever_the_reads() {
        let (mut conn, mut peer) = pair();
        peer.write_all(b"{\"method\":\"a.B\"}\0{\"meth").unwrap();
        assert_eq!(conn.read_call().unwrap().method, "a.B");
        peer.write_all(b"od\":\"c.D\",\"oneway\":true}\0").unwrap();
        let call = conn.read_call().unwrap();
        assert_eq!((call.method.as_str(), call.oneway), ("c.D", true));
        drop(peer);
        assert!(matches!(conn.read_call(), Err(ReadError::Closed)));
    }

    #[test]
    fn garbage_is_malformed_and_a_cut_message_is_an_error() {
        let (mut conn, mut peer) = pair();
        peer.write_all(b"\xff\xfenot json\0").unwrap();
        assert!(matches!(
            conn.read_call(),
            Err(ReadError::Malformed { ref field, .. }) if field == "message"
        ));
        peer.write_all(b"{\"method\"").unwrap();
        drop(peer);
        assert!(matches!(conn.read_call(), Err(ReadError::Io(_))));
    }

    #[test]
    fn a_message_one_byte_too_long_is_refused_and_one_at_the_limit_is_not() {
        let (mut conn, peer) = pair();
        let writer = std::thread::spawn(move || {
            let mut peer = peer;
            // A JSON string of exactly MAX_MESSAGE bytes, then one too long.
            let fit = format!("\"{}\"", "a".repeat(MAX_MESSAGE - 2));
            peer.write_all(fit.as_bytes()).unwrap();
            peer.write_all(b"\0").unwrap();
            let _ = peer.write_all(format!("\"{}\"\0", "a".repeat(MAX_MESSAGE - 1)).as_bytes());
            peer
        });
        assert!(conn.read_message(None).unwrap().is_string());
        assert!(matches!(conn.read_message(None), Err(ReadError::TooLong)));
        assert!(ReadError::TooLong.reply().is_some());
        drop(conn);
        drop(writer.join().unwrap());
    }

    #[test]
    fn an_idle_wait_times_out_only_when_asked() {
        let (mut conn, _peer) = pair();
        assert!(matches!(
            conn.read_reply(Some(Duration::from_millis(20))),
            Err(ReadError::TimedOut)
        ));
        assert!(!conn.hung_up());
        drop(_peer);
        assert!(conn.hung_up());
    }

    #[test]
    fn hung_up_keeps_what_arrived() {
        let (mut conn, mut peer) = pair();
        peer.write_all(b"{\"method\":\"a.B\"}\0").unwrap();
        assert!(!conn.hung_up());
        assert_eq!(conn.read_call().unwrap().method, "a.B");
    }

    #[test]
    fn a_call_reads_its_reply() {
        let (a, b) = UnixStream::pair().unwrap();
        let server = std::thread::spawn(move || {
            let mut conn = Connection::new(b).unwrap();
            let call = conn.read_call().unwrap();
            conn.reply(json!({"echo": call.parameters["x"]})).unwrap();
        });
        let mut client = Connection::new(a).unwrap();
        let reply = client.call("t.Echo", json!({"x": 5})).unwrap();
        assert_eq!(reply.parameters["echo"], 5);
        server.join().unwrap();
    }
}
