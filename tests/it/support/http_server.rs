//! A scriptable, fault-injecting HTTP/1.1 test server (plain or TLS) on
//! 127.0.0.1, in the spirit of curl's test server and update_engine's fault
//! URLs.
//!
//! Resources are added per path; each request to a path first consumes the
//! next scripted [`Fault`] of that path (if any), otherwise it is answered
//! honestly: 200, 206 for `Range: bytes=N-` / `bytes=N-M` / `bytes=-K`
//! (subject to `If-Range`), 416 past the end, 404 for unknown paths. Every
//! request is recorded before it is answered, and the body bytes written per
//! path are counted as they go out.
//!
//! Connections are kept alive until a fault closes them, the client closes,
//! or nothing arrives for [`IO_TIMEOUT`]. Dropping the server stops the
//! accept loop and shuts every open connection down, so nothing outlives a
//! test.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

/// Read and write timeout of every server socket: an idle keep-alive
/// connection, or a client that stops reading, is dropped after this long.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The `Last-Modified` that [`Resource::new`] gives every resource.
pub const LAST_MODIFIED: &str = "Wed, 21 Oct 2015 07:28:00 GMT";

/// Body bytes per write (and per chunk with chunked framing), except for
/// [`Fault::Drip`], which writes its own piece size.
const PIECE: usize = 64 * 1024;

/// Longest request head accepted.
const MAX_HEAD: usize = 64 * 1024;

/// `len` bytes that depend on their position (and on `seed`), so a body
/// delivered at the wrong offset, shifted by even one byte, does not match.
pub fn patterned(len: usize, seed: u32) -> Vec<u8> {
    fn splitmix64(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let mut out = Vec::with_capacity(len + 8);
    let mut block = 0u64;
    while out.len() < len {
        out.extend_from_slice(&splitmix64(((seed as u64) << 40) ^ block).to_le_bytes());
        block += 1;
    }
    out.truncate(len);
    out
}

/// What the server serves at a path.
#[derive(Clone)]
pub struct Resource {
    pub data: Arc<Vec<u8>>,
    /// The whole header value, quotes included: `"\"v1\""` or `"W/\"x\""`.
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// `Transfer-Encoding: chunked` instead of `Content-Length`.
    pub chunked: bool,
    /// Neither: the body ends when the server closes the connection.
    pub no_length: bool,
    /// Ranges honoured and `Accept-Ranges: bytes` sent; when false, no
    /// `Accept-Ranges` and a 200 with the whole body to every request.
    pub ranges: bool,
    /// Every body written `bytes` at a time with a pause of `every`
    /// between writes: a per-connection rate cap, as many servers have.
    pub pace: Option<(usize, Duration)>,
}

impl Resource {
    /// A resource with a strong ETag derived from the content's SHA-256,
    /// [`LAST_MODIFIED`], and `Content-Length` framing.
    pub fn new(data: Vec<u8>) -> Resource {
        let digest = Sha256::digest(&data);
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Resource {
            data: Arc::new(data),
            etag: Some(format!("\"{hex}\"")),
            last_modified: Some(LAST_MODIFIED.to_string()),
            chunked: false,
            no_length: false,
            ranges: true,
            pace: None,
        }
    }

    fn len(&self) -> u64 {
        self.data.len() as u64
    }
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("len", &self.data.len())
            .field("etag", &self.etag)
            .field("last_modified", &self.last_modified)
            .field("chunked", &self.chunked)
            .field("no_length", &self.no_length)
            .field("ranges", &self.ranges)
            .field("pace", &self.pace)
            .finish()
    }
}

/// One scripted misbehaviour; each request to a scripted path consumes one.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Honest headers, then a clean close (FIN, no TLS close_notify) after
    /// `n` body bytes.
    CloseAfter(u64),
    /// Honest headers, then a reset (RST, `SO_LINGER` 0) after `n` body bytes.
    ResetAfter(u64),
    /// Honest headers and `n` body bytes, then nothing for the duration, then
    /// a clean close.
    StallAfter(u64, Duration),
    /// The whole honest response, its body written `bytes` at a time with a
    /// pause of `every` between writes.
    Drip { bytes: usize, every: Duration },
    /// 200 with the whole body, even to a range request.
    IgnoreRange,
    /// 206 whose `Content-Range` starts one byte later than asked; the body
    /// matches that header.
    WrongStart,
    /// 206 whose `Content-Range` total is the length + 1.
    WrongTotal,
    /// 206 from the start asked to the end of the file, whatever end was
    /// asked (a server merging ranges into one).
    MergeToEnd,
    /// 206 without `Content-Range`.
    NoContentRange,
    /// 206 with `Content-Range: bytes garbage`.
    GarbledContentRange,
    /// This status with these extra headers and a short text body.
    Status(u16, Vec<(String, String)>),
    /// 416, with or without `Content-Range: bytes */LEN`.
    RangeNotSatisfiable { with_size: bool },
    /// A redirect (301, 302, 307, ...) to this `Location`.
    Redirect(u16, String),
    /// Replace the resource (new bytes, validators), then answer honestly.
    Replace(Resource),
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    pub method: String,
    /// The request target as sent (absolute-form for proxy requests, query
    /// included).
    pub path: String,
    pub range: Option<String>,
    pub if_range: Option<String>,
    pub accept_encoding: Option<String>,
    /// Every header, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
}

impl SeenRequest {
    /// The first byte its `Range: bytes=N-…` asked for, if it had one.
    pub fn range_start(&self) -> Option<u64> {
        self.range
            .as_deref()?
            .strip_prefix("bytes=")?
            .split('-')
            .next()?
            .parse()
            .ok()
    }

    /// The first header of that (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A throwaway CA with a server certificate (for `localhost` and 127.0.0.1)
/// and a client certificate, all written as PEM files into `dir`.
pub struct TestCa {
    pub dir: PathBuf,
    pub ca_pem: PathBuf,
    pub client_cert_pem: PathBuf,
    pub client_key_pem: PathBuf,
    server_chain: Vec<CertificateDer<'static>>,
    server_key: Vec<u8>,
    ca_der: CertificateDer<'static>,
}

impl TestCa {
    /// Generates the CA and both certificates; writes `ca.pem`,
    /// `server.pem`, `server-key.pem`, `client.pem` and `client-key.pem`
    /// into `dir` (created if needed).
    pub fn generate(dir: &Path) -> TestCa {
        use rcgen::{
            BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
            KeyUsagePurpose,
        };
        std::fs::create_dir_all(dir).expect("create the CA directory");

        let ca_key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "qmgr test CA");
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = params.self_signed(&ca_key).expect("self-sign the CA");

        let leaf = |sans: Vec<String>, cn: &str, purpose: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("leaf key");
            let mut params = CertificateParams::new(sans).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            params.use_authority_key_identifier_extension = true;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![purpose];
            let cert = params.signed_by(&key, &ca, &ca_key).expect("sign a leaf");
            (cert, key)
        };
        let (server, server_key) = leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
        );
        let (client, client_key) = leaf(
            vec!["qmgr-test-client".into()],
            "qmgr test client",
            ExtendedKeyUsagePurpose::ClientAuth,
        );

        let write = |name: &str, text: String| {
            let path = dir.join(name);
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
            path
        };
        let ca_pem = write("ca.pem", ca.pem());
        write("server.pem", server.pem());
        write("server-key.pem", server_key.serialize_pem());
        let client_cert_pem = write("client.pem", client.pem());
        let client_key_pem = write("client-key.pem", client_key.serialize_pem());

        TestCa {
            dir: dir.to_path_buf(),
            ca_pem,
            client_cert_pem,
            client_key_pem,
            server_chain: vec![server.der().clone()],
            server_key: server_key.serialize_der(),
            ca_der: ca.der().clone(),
        }
    }

    fn server_config(&self, require_client_cert: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("TLS versions");
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca_der.clone()).expect("add the test CA");
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .expect("client verifier");
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.clone()));
        Arc::new(
            builder
                .with_single_cert(self.server_chain.clone(), key)
                .expect("server certificate"),
        )
    }
}

#[derive(Default)]
struct Paths {
    resources: HashMap<String, Resource>,
    scripts: HashMap<String, VecDeque<Fault>>,
    requests: HashMap<String, Vec<SeenRequest>>,
    /// Bumped by `replace_cutting`: bodies begun under an older epoch stop.
    epochs: HashMap<String, u64>,
    /// Paths served from several versions in turn (see `rotate_versions`).
    rotations: HashMap<String, Rotation>,
}

/// Versions a path serves in turn, one per request: several backends
/// behind one URL that hold different versions (a rolling deploy, a CDN).
struct Rotation {
    versions: Vec<Resource>,
    /// Requests answered from the rotation so far.
    served: usize,
    /// Requests without `Range` always get `versions[0]`; each request with
    /// one gets the next of the others.
    ranged_only: bool,
}

impl Rotation {
    fn pick(&mut self, ranged: bool) -> Resource {
        let n = self.versions.len();
        let i = match (self.ranged_only, ranged) {
            (true, false) => return self.versions[0].clone(),
            (true, true) if n > 1 => 1 + self.served % (n - 1),
            _ => self.served % n,
        };
        self.served += 1;
        self.versions[i].clone()
    }
}

#[derive(Default)]
struct Shared {
    paths: Mutex<Paths>,
    body_bytes: Mutex<HashMap<String, Arc<AtomicU64>>>,
    connections: AtomicUsize,
    stop: AtomicBool,
    /// Clones of the open connections' sockets, to shut them down on drop.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicU64,
    /// Requests whose head had already arrived with the one before them
    /// (sent ahead, before that one was answered: pipelining).
    queued: AtomicUsize,
}

impl Shared {
    fn paths(&self) -> MutexGuard<'_, Paths> {
        self.paths.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn counter(&self, key: &str) -> Arc<AtomicU64> {
        let mut map = self.body_bytes.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(key.to_string()).or_default().clone()
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Sleeps for `d`, waking early when the server is dropped.
    fn sleep(&self, d: Duration) {
        let end = Instant::now() + d;
        while !self.stopped() {
            let now = Instant::now();
            if now >= end {
                break;
            }
            thread::sleep((end - now).min(Duration::from_millis(10)));
        }
    }
}

/// The fault-injecting server; see the module documentation.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    tls: bool,
    acceptor: Option<JoinHandle<()>>,
    /// A second handle to the listening socket, shut down on drop to end
    /// the accept (a connection cannot reach a listener in another
    /// network namespace).
    listening: Option<TcpListener>,
}

impl TestServer {
    /// Plain HTTP/1.1 on 127.0.0.1, an ephemeral port.
    pub fn start() -> TestServer {
        TestServer::spawn(None)
    }

    /// HTTPS with a server certificate for `localhost` and 127.0.0.1 signed by
    /// `ca`; with `require_client_cert`, the handshake fails unless the
    /// client presents a certificate signed by `ca`.
    pub fn start_tls(ca: &TestCa, require_client_cert: bool) -> TestServer {
        TestServer::spawn(Some(ca.server_config(require_client_cert)))
    }

    /// Plain HTTP/1.1 on a listener the caller made (on another address,
    /// or in a network namespace).
    pub fn start_on(listener: TcpListener) -> TestServer {
        TestServer::serve(listener, None)
    }

    fn spawn(tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        TestServer::serve(listener, tls)
    }

    fn serve(listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>) -> TestServer {
        let addr = listener.local_addr().unwrap();
        let listening = listener.try_clone().ok();
        let shared = Arc::new(Shared::default());
        let is_tls = tls.is_some();
        let s = shared.clone();
        let acceptor = thread::Builder::new()
            .name("test-http-accept".into())
            .spawn(move || accept_loop(listener, s, tls))
            .expect("spawn the accept thread");
        TestServer {
            shared,
            addr,
            tls: is_tls,
            acceptor: Some(acceptor),
            listening,
        }
    }

    /// `http://127.0.0.1:PORT/path`, or `https://localhost:PORT/path` for TLS
    /// (a leading `/` on `path` is optional).
    pub fn url(&self, path: &str) -> String {
        let path = path.strip_prefix('/').unwrap_or(path);
        if self.tls {
            format!("https://localhost:{}/{path}", self.addr.port())
        } else {
            format!("http://{}/{path}", self.addr)
        }
    }

    /// The listening address (127.0.0.1:PORT).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serves `resource` at `path` (replacing what was there).
    pub fn add(&self, path: &str, resource: Resource) {
        self.shared
            .paths()
            .resources
            .insert(normalize(path), resource);
    }

    /// Serves `resource` at `path` from now on, and cuts (FIN) every body of
    /// `path` being sent, at its next write: a file replaced on the server
    /// while every connection of a client is fetching a segment of it.
    pub fn replace_cutting(&self, path: &str, resource: Resource) {
        let key = normalize(path);
        let mut paths = self.shared.paths();
        paths.resources.insert(key.clone(), resource);
        *paths.epochs.entry(key).or_default() += 1;
    }

    /// Serves `path` from `versions` in turn, each request the next one
    /// (each answered honestly as that version: a range request whose
    /// `If-Range` names another version gets 200 and the whole body). With
    /// `ranged_only`, requests without `Range` always get `versions[0]` and
    /// only range requests rotate, over the others: a server that answers
    /// every range request with 200 and another version.
    pub fn rotate_versions(&self, path: &str, versions: Vec<Resource>, ranged_only: bool) {
        assert!(!versions.is_empty() && (!ranged_only || versions.len() > 1));
        self.shared.paths().rotations.insert(
            normalize(path),
            Rotation {
                versions,
                served: 0,
                ranged_only,
            },
        );
    }

    /// Stops serving `path` (it answers 404 again).
    pub fn remove(&self, path: &str) {
        self.shared.paths().resources.remove(&normalize(path));
    }

    /// Appends faults to `path`'s script: each next request to `path`
    /// consumes one; once the script is empty, requests are answered
    /// honestly.
    pub fn script(&self, path: &str, faults: Vec<Fault>) {
        self.shared
            .paths()
            .scripts
            .entry(normalize(path))
            .or_default()
            .extend(faults);
    }

    /// Faults of `path`'s script not consumed yet.
    pub fn faults_left(&self, path: &str) -> usize {
        self.shared
            .paths()
            .scripts
            .get(&normalize(path))
            .map_or(0, VecDeque::len)
    }

    /// Every request to `path` so far, oldest first.
    pub fn requests(&self, path: &str) -> Vec<SeenRequest> {
        self.shared
            .paths()
            .requests
            .get(&normalize(path))
            .cloned()
            .unwrap_or_default()
    }

    /// Body bytes written for `path` so far (payload only, not chunk
    /// framing), counted as each write is handed to the socket: once a
    /// client has read bytes, they are counted.
    pub fn body_bytes_sent(&self, path: &str) -> u64 {
        self.shared.counter(&normalize(path)).load(Ordering::SeqCst)
    }

    /// Requests read while the head of the next request on their
    /// connection had already arrived: requests sent ahead of an answer
    /// (HTTP/1.1 pipelining).
    pub fn requests_queued(&self) -> usize {
        self.shared.queued.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.connections.load(Ordering::SeqCst)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept(): a listener shut down fails it at once.
        if let Some(listening) = self.listening.take() {
            use std::os::fd::AsRawFd;
            // SAFETY: a live socket of ours; shutdown only changes its state.
            unsafe { libc::shutdown(listening.as_raw_fd(), libc::SHUT_RDWR) };
        }
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        // Wake every connection thread blocked in a read or a write; they
        // exit on the error or on the stop flag (sleeps poll it).
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            let open = self.shared.open.lock().unwrap_or_else(|e| e.into_inner());
            if open.is_empty() || Instant::now() >= deadline {
                break;
            }
            for s in open.values() {
                let _ = s.shutdown(Shutdown::Both);
            }
            drop(open);
            thread::sleep(Duration::from_millis(5));
        }
    }
}

/// The lookup key of a request target or a path given to the API: without
/// scheme and authority (absolute-form), without query, with a leading `/`.
fn normalize(target: &str) -> String {
    let mut t = target;
    for scheme in ["http://", "https://"] {
        if let Some(rest) = t.strip_prefix(scheme) {
            t = rest.find('/').map_or("", |i| &rest[i..]);
        }
    }
    let t = t.split(['?', '#']).next().unwrap_or("");
    if t.starts_with('/') {
        t.to_string()
    } else {
        format!("/{t}")
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>, tls: Option<Arc<rustls::ServerConfig>>) {
    for stream in listener.incoming() {
        if shared.stopped() {
            break;
        }
        let Ok(stream) = stream else {
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        let id = shared.next_id.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            shared
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(id, clone);
        }
        let s = shared.clone();
        let tls = tls.clone();
        let spawned = thread::Builder::new()
            .name("test-http-conn".into())
            .spawn(move || {
                let conn: Box<dyn Conn> = match tls {
                    None => Box::new(stream),
                    Some(config) => match rustls::ServerConnection::new(config) {
                        Ok(c) => Box::new(rustls::StreamOwned::new(c, stream)),
                        Err(_) => {
                            s.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
                            return;
                        }
                    },
                };
                serve(conn, &s);
                s.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            });
        if spawned.is_err() {
            shared
                .open
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&id);
        }
    }
}

/// A server-side connection, plain or TLS.
trait Conn: Read + Write + Send {
    fn tcp(&self) -> &TcpStream;
    /// Ends the TLS session properly (close_notify); nothing for plain TCP.
    fn close_notify(&mut self) {}
}

impl Conn for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl Conn for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn tcp(&self) -> &TcpStream {
        &self.sock
    }
    fn close_notify(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush();
    }
}

/// How a connection ends after a response.
enum End {
    KeepAlive,
    /// Orderly close: TLS close_notify, then FIN.
    Close,
    /// FIN without close_notify (a dropped connection).
    Cut,
    /// RST.
    Reset,
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn serve(mut conn: Box<dyn Conn>, shared: &Shared) {
    let mut buf: Vec<u8> = Vec::new();
    let end = loop {
        if shared.stopped() {
            break End::Cut;
        }
        let req = match read_request(conn.as_mut(), &mut buf) {
            Ok(Some(req)) => req,
            Ok(None) => break End::Close,
            Err(_) => break End::Cut,
        };
        if find(&buf, b"\r\n\r\n").is_some() {
            shared.queued.fetch_add(1, Ordering::SeqCst);
        }
        if req.method == "CONNECT" {
            // Play an HTTP proxy: open a "tunnel" that is this same server,
            // so the client's next requests on the connection are served here.
            shared
                .paths()
                .requests
                .entry(req.target.clone())
                .or_default()
                .push(SeenRequest {
                    method: req.method.clone(),
                    path: req.target.clone(),
                    range: None,
                    if_range: None,
                    accept_encoding: None,
                    headers: req.headers.clone(),
                });
            if conn
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .is_err()
            {
                break End::Cut;
            }
            continue;
        }
        match respond(conn.as_mut(), shared, &req) {
            Ok(End::KeepAlive) if !req.close => {}
            Ok(End::KeepAlive) => break End::Close,
            Ok(end) => break end,
            Err(_) => break End::Cut,
        }
    };
    finish(conn, end, shared);
}

/// Reads one request head (and discards any Content-Length body); `None` on
/// a clean EOF between requests.
fn read_request(conn: &mut dyn Conn, buf: &mut Vec<u8>) -> io::Result<Option<Request>> {
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "head too long"));
        }
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            if buf.iter().all(|b| b.is_ascii_whitespace()) {
                return Ok(None);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    buf.drain(..head_end + 4);
    let mut lines = head.trim_start_matches(['\r', '\n']).split("\r\n");
    let line = lines.next().unwrap_or("");
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bad request line",
        ));
    };
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut req = Request {
        method: method.to_string(),
        target: target.to_string(),
        close: false,
        headers,
    };
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    req.close = if version == "HTTP/1.0" {
        !connection.contains("keep-alive")
    } else {
        connection.contains("close")
    };
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        // Not needed by any test; refuse rather than misparse.
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "chunked request body",
        ));
    }
    let body_len: usize = req
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < body_len {
        let mut chunk = [0u8; 8192];
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    buf.drain(..body_len);
    Ok(Some(req))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A requested byte range, already resolved against the length:
/// `start..=end` with `start < len`, or unsatisfiable.
enum RangeReq {
    None,
    Bytes(u64, u64),
    Unsatisfiable,
}

/// `bytes=N-`, `bytes=N-M`, `bytes=-K`; anything else (multiple ranges,
/// other units, bad syntax) is ignored as the RFC allows.
fn parse_range(value: Option<&str>, len: u64) -> RangeReq {
    let Some(v) = value else {
        return RangeReq::None;
    };
    let Some(spec) = v.trim().strip_prefix("bytes=") else {
        return RangeReq::None;
    };
    if spec.contains(',') {
        return RangeReq::None;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeReq::None;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return match b.parse::<u64>() {
            Ok(0) => RangeReq::Unsatisfiable,
            Ok(_) if len == 0 => RangeReq::Unsatisfiable,
            Ok(k) => RangeReq::Bytes(len.saturating_sub(k), len - 1),
            Err(_) => RangeReq::None,
        };
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeReq::None;
    };
    let end = if b.is_empty() {
        None
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => Some(e),
            _ => return RangeReq::None,
        }
    };
    if start >= len {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::Bytes(start, end.map_or(len - 1, |e| e.min(len - 1)))
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        206 => "Partial Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn write_head(
    conn: &mut dyn Conn,
    status: u16,
    headers: &[(String, String)],
    close: bool,
) -> io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nServer: qmgr-test\r\n",
        reason(status)
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.flush()
}

/// A short non-resource response with a text body and Content-Length.
fn simple(
    conn: &mut dyn Conn,
    req: &Request,
    status: u16,
    mut headers: Vec<(String, String)>,
    body: &str,
) -> io::Result<End> {
    // 204 and 304 never have a body (nor, for 204, a Content-Length).
    let bodiless = status == 204 || status == 304;
    if !bodiless {
        headers.push(("Content-Type".into(), "text/plain".into()));
        headers.push(("Content-Length".into(), body.len().to_string()));
    }
    write_head(conn, status, &headers, req.close)?;
    if req.method != "HEAD" && !bodiless {
        conn.write_all(body.as_bytes())?;
        conn.flush()?;
    }
    Ok(End::KeepAlive)
}

/// How the body goes out.
struct BodyPlan {
    /// Stop (and close or reset) after this many body bytes.
    limit: Option<u64>,
    piece: usize,
    every: Option<Duration>,
    /// The path and its epoch when the body began (see `replace_cutting`).
    path: String,
    epoch: u64,
}

fn respond(conn: &mut dyn Conn, shared: &Shared, req: &Request) -> io::Result<End> {
    let key = normalize(&req.target);
    let (fault, resource) = {
        let mut paths = shared.paths();
        paths
            .requests
            .entry(key.clone())
            .or_default()
            .push(SeenRequest {
                method: req.method.clone(),
                path: req.target.clone(),
                range: req.header("range").map(str::to_string),
                if_range: req.header("if-range").map(str::to_string),
                accept_encoding: req.header("accept-encoding").map(str::to_string),
                headers: req.headers.clone(),
            });
        let fault = paths.scripts.get_mut(&key).and_then(VecDeque::pop_front);
        if let Some(Fault::Replace(r)) = &fault {
            paths.resources.insert(key.clone(), r.clone());
        }
        let ranged = req.header("range").is_some();
        let resource = match paths.rotations.get_mut(&key) {
            Some(rotation) => Some(rotation.pick(ranged)),
            None => paths.resources.get(&key).cloned(),
        };
        (fault, resource)
    };

    // Faults that need no resource.
    match &fault {
        Some(Fault::Status(code, extra)) => {
            return simple(conn, req, *code, extra.clone(), &format!("status {code}\n"));
        }
        Some(Fault::Redirect(code, location)) => {
            let headers = vec![("Location".to_string(), location.clone())];
            return simple(conn, req, *code, headers, &format!("see {location}\n"));
        }
        _ => {}
    }
    if req.method != "GET" && req.method != "HEAD" {
        let headers = vec![("Allow".to_string(), "GET, HEAD".to_string())];
        return simple(conn, req, 405, headers, "method not allowed\n");
    }
    let Some(res) = resource else {
        return simple(conn, req, 404, Vec::new(), "not found\n");
    };
    let len = res.len();

    let mut plan = BodyPlan {
        limit: None,
        piece: res.pace.map_or(PIECE, |(bytes, _)| bytes.max(1)),
        every: res.pace.map(|(_, every)| every),
        path: key.clone(),
        epoch: shared.paths().epochs.get(&key).copied().unwrap_or(0),
    };
    let mut end_after = End::KeepAlive;
    match &fault {
        Some(Fault::CloseAfter(n)) => {
            plan.limit = Some(*n);
            end_after = End::Cut;
        }
        Some(Fault::ResetAfter(n)) => {
            plan.limit = Some(*n);
            end_after = End::Reset;
        }
        Some(Fault::StallAfter(n, _)) => {
            plan.limit = Some(*n);
            end_after = End::Cut;
        }
        Some(Fault::Drip { bytes, every }) => {
            plan.piece = (*bytes).max(1);
            plan.every = Some(*every);
        }
        _ => {}
    }

    let mut headers: Vec<(String, String)> =
        vec![("Content-Type".into(), "application/octet-stream".into())];
    if res.ranges {
        headers.push(("Accept-Ranges".into(), "bytes".into()));
    }
    if let Some(etag) = &res.etag {
        headers.push(("ETag".into(), etag.clone()));
    }
    if let Some(lm) = &res.last_modified {
        headers.push(("Last-Modified".into(), lm.clone()));
    }

    let range = if res.ranges {
        parse_range(req.header("range"), len)
    } else {
        RangeReq::None
    };
    let if_range_ok = match req.header("if-range") {
        None => true,
        Some(v) => {
            let strong = res.etag.as_deref().filter(|e| !e.starts_with("W/"));
            Some(v) == strong || Some(v) == res.last_modified.as_deref()
        }
    };
    // The range a 206-type fault answers: what was asked, or all of it.
    let asked = match range {
        RangeReq::Bytes(s, e) => (s, e),
        _ => (0, len.saturating_sub(1)),
    };

    let (status, start, end_incl) = match &fault {
        Some(Fault::IgnoreRange) => (200, 0, len.saturating_sub(1)),
        Some(Fault::RangeNotSatisfiable { with_size }) => {
            let mut h = Vec::new();
            if *with_size {
                h.push(("Content-Range".to_string(), format!("bytes */{len}")));
            }
            return simple(conn, req, 416, h, "");
        }
        Some(Fault::WrongStart) => {
            let start = asked.0 + 1;
            headers.push((
                "Content-Range".into(),
                format!("bytes {start}-{}/{len}", asked.1),
            ));
            (206, start, asked.1)
        }
        Some(Fault::WrongTotal) => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {}-{}/{}", asked.0, asked.1, len + 1),
            ));
            (206, asked.0, asked.1)
        }
        Some(Fault::MergeToEnd) => {
            let last = len.saturating_sub(1);
            headers.push((
                "Content-Range".into(),
                format!("bytes {}-{last}/{len}", asked.0),
            ));
            (206, asked.0, last)
        }
        Some(Fault::NoContentRange) => (206, asked.0, asked.1),
        Some(Fault::GarbledContentRange) => {
            headers.push(("Content-Range".into(), "bytes garbage".into()));
            (206, asked.0, asked.1)
        }
        _ => match range {
            RangeReq::Bytes(s, e) if if_range_ok => {
                headers.push(("Content-Range".into(), format!("bytes {s}-{e}/{len}")));
                (206, s, e)
            }
            RangeReq::Unsatisfiable if if_range_ok => {
                let h = vec![("Content-Range".to_string(), format!("bytes */{len}"))];
                return simple(conn, req, 416, h, "");
            }
            _ => (200, 0, len.saturating_sub(1)),
        },
    };
    let body: &[u8] = if len == 0 || start > end_incl || start >= len {
        &[]
    } else {
        &res.data[start as usize..=end_incl as usize]
    };

    let mut close = req.close;
    if res.chunked {
        headers.push(("Transfer-Encoding".into(), "chunked".into()));
    } else if res.no_length {
        close = true;
    } else {
        headers.push(("Content-Length".into(), body.len().to_string()));
    }
    write_head(conn, status, &headers, close)?;
    if req.method == "HEAD" {
        return Ok(if close { End::Close } else { End::KeepAlive });
    }

    let counter = shared.counter(&key);
    let complete = send_body(conn, shared, &counter, body, res.chunked, &plan)?;
    if !complete && plan.limit.is_none() {
        end_after = End::Cut; // replaced while it was sent
    }
    if let Some(Fault::StallAfter(_, d)) = &fault {
        shared.sleep(*d);
    }
    Ok(match end_after {
        End::KeepAlive if close || (res.no_length && complete) => End::Close,
        other => other,
    })
}

/// Writes the body per `plan`; returns whether all of it went out.
fn send_body(
    conn: &mut dyn Conn,
    shared: &Shared,
    counter: &AtomicU64,
    body: &[u8],
    chunked: bool,
    plan: &BodyPlan,
) -> io::Result<bool> {
    let limit = plan
        .limit
        .map_or(body.len(), |l| l.min(body.len() as u64) as usize);
    let mut off = 0;
    while off < limit {
        if shared.stopped() {
            return Err(io::ErrorKind::Interrupted.into());
        }
        if shared.paths().epochs.get(&plan.path).copied().unwrap_or(0) != plan.epoch {
            break;
        }
        let declared = plan.piece.min(body.len() - off);
        let n = declared.min(limit - off);
        if chunked {
            conn.write_all(format!("{declared:x}\r\n").as_bytes())?;
        }
        // Counted before the write, so that a client that has read the
        // bytes never sees a smaller count.
        counter.fetch_add(n as u64, Ordering::SeqCst);
        conn.write_all(&body[off..off + n])?;
        conn.flush()?;
        off += n;
        if n < declared {
            break;
        }
        if chunked {
            conn.write_all(b"\r\n")?;
        }
        if let Some(every) = plan.every {
            if off < body.len() {
                conn.flush()?;
                shared.sleep(every);
            }
        }
    }
    let complete = off == body.len();
    if complete && chunked {
        conn.write_all(b"0\r\n\r\n")?;
    }
    conn.flush()?;
    Ok(complete)
}

/// Ends a connection as `end` says.
fn finish(mut conn: Box<dyn Conn>, end: End, shared: &Shared) {
    match end {
        End::KeepAlive | End::Close => {
            conn.close_notify();
            half_close_and_drain(conn.tcp(), shared);
        }
        End::Cut => half_close_and_drain(conn.tcp(), shared),
        End::Reset => {
            let _ = conn.flush();
            wait_sent(conn.tcp());
            reset(conn.tcp());
        }
    }
}

/// FIN after everything written, then read (and drop) what the client still
/// sends until it closes, so that unread input does not turn the close into
/// a RST. Bounded by the read timeout and by the stop flag.
fn half_close_and_drain(tcp: &TcpStream, shared: &Shared) {
    let _ = tcp.shutdown(Shutdown::Write);
    let _ = tcp.set_read_timeout(Some(Duration::from_millis(100)));
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut sink = [0u8; 4096];
    let mut tcp = tcp;
    while Instant::now() < deadline && !shared.stopped() {
        match tcp.read(&mut sink) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break,
        }
    }
}

/// Waits (briefly) until the kernel has sent everything written, so that a
/// RST does not discard body bytes the fault promised.
fn wait_sent(tcp: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::io::AsRawFd;
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            let mut queued: libc::c_int = 0;
            // SAFETY: TIOCOUTQ (SIOCOUTQ) writes one int.
            let rc = unsafe { libc::ioctl(tcp.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
            if rc != 0 || queued == 0 {
                return;
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = tcp;
        thread::sleep(Duration::from_millis(50));
    }
}

/// Makes the close send RST: `SO_LINGER` on with a zero timeout.
fn reset(tcp: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::unix::io::AsRawFd;
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: a valid socket and a correctly sized linger struct.
        unsafe {
            libc::setsockopt(
                tcp.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tcp.shutdown(Shutdown::Both);
    }
}
