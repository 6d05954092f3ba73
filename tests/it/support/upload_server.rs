//! qmgr's own upload server, for the faults real servers are not made to
//! show on cue: a tus 1.0.0 endpoint (core, creation, termination,
//! checksum with SHA-256, expiration) at `/tus/` and an endpoint of the
//! resumable-upload draft (draft-ietf-httpbis-resumable-upload-12,
//! interop version 8: 104 with Location, HEAD, PATCH
//! `application/partial-upload`, a reply to the completing request) at
//! `/rufh/`, on 127.0.0.1. Each upload's bytes go to a file in the
//! server's directory as they arrive, so a test compares the bytes on
//! disk.
//!
//! Faults are scripted per request method ([`Fault`]); each is consumed by
//! the next request of that method. Every request is recorded before it
//! is answered. Dropping the server stops it and shuts every connection.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use base64::Engine;
use sha2::{Digest, Sha256};

/// A fault for the next request of a method.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Keep this many bytes of the body (appended to the upload), then
    /// close the connection without an answer: a cut.
    CutAfter(u64),
    /// Answer 409 Conflict and append nothing.
    Conflict,
    /// Take the body as damaged: tus 460 Checksum Mismatch.
    DamagedBody,
    /// Forget every upload first (a server that lost them).
    LoseUploads,
    /// Draft creation: send the 104, keep this many bytes of the body,
    /// then answer 500 (the draft's example C).
    FailAfterInterim(u64),
    /// Name an upload URL of another origin in the creation's answer.
    ForeignLocation,
    /// Draft creation: send the 104 without the interop version (which
    /// the client must ignore), keep this many bytes, then close.
    UnversionedInterimThenCut(u64),
    /// Answer `307 Temporary Redirect` to this URL (`None`: to the same
    /// upload at `moved/ID`, relative, on this server), reading the body
    /// aside.
    Redirect(Option<String>),
    /// Keep this many bytes of the body, then read no more (and never
    /// answer) until the client goes away or the server stops.
    StallAfter(u64),
    /// Draft creation: the 104 names these `Upload-Limit`s.
    Limits(&'static str),
    /// No fault: answer this request honestly (a place holder in a script).
    Honest,
    /// Answer honestly every PATCH whose body ends at or before this
    /// upload offset; cut the first that goes past it once its bytes
    /// reach it (whatever the client's piece sizes).
    CutPast(u64),
}

/// A request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// Body bytes received (kept or not).
    pub body_len: u64,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Upload {
    file: PathBuf,
    length: u64,
    offset: u64,
    complete: bool,
}

#[derive(Default)]
struct State {
    uploads: HashMap<String, Upload>,
    faults: HashMap<String, VecDeque<Fault>>,
    seen: Vec<Seen>,
    next_id: u64,
}

struct Shared {
    dir: PathBuf,
    port: u16,
    state: Mutex<State>,
    stop: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
    /// Bytes of request bodies received, over all requests.
    received: AtomicU64,
    /// Bytes of padding after each draft reply's JSON (`pad_replies`).
    reply_padding: AtomicU64,
}

pub struct UploadServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl UploadServer {
    /// Starts the server on 127.0.0.1, storing uploads under `dir`.
    pub fn start(dir: &Path) -> UploadServer {
        UploadServer::start_on("127.0.0.1", dir)
    }

    /// Starts the server on `ip` (a loopback address), storing uploads under `dir`.
    pub fn start_on(ip: &str, dir: &Path) -> UploadServer {
        UploadServer::start_with(TcpListener::bind((ip, 0)).unwrap(), dir)
    }

    /// Starts the server on `listener` (one made in another network
    /// namespace), storing uploads under `dir`.
    pub fn start_with(listener: TcpListener, dir: &Path) -> UploadServer {
        std::fs::create_dir_all(dir).unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            port: addr.port(),
            state: Mutex::new(State::default()),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            received: AtomicU64::new(0),
            reply_padding: AtomicU64::new(0),
        });
        let for_accept = Arc::clone(&shared);
        thread::spawn(move || {
            for conn in listener.incoming() {
                if for_accept.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if let Ok(clone) = conn.try_clone() {
                    for_accept.conns.lock().unwrap().push(clone);
                }
                let shared = Arc::clone(&for_accept);
                thread::spawn(move || serve(conn, &shared));
            }
        });
        UploadServer { shared, addr }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Makes every later draft reply `bytes` longer (spaces after its
    /// JSON): a reply of the size a test needs.
    pub fn pad_replies(&self, bytes: u64) {
        self.shared.reply_padding.store(bytes, Ordering::SeqCst);
    }

    /// Scripts `faults` for the next requests of `method`, in order.
    pub fn script(&self, method: &str, faults: Vec<Fault>) {
        let mut state = self.shared.state.lock().unwrap();
        state
            .faults
            .entry(method.to_string())
            .or_default()
            .extend(faults);
    }

    /// The faults of `method` not yet consumed.
    pub fn faults_left(&self, method: &str) -> usize {
        let state = self.shared.state.lock().unwrap();
        state.faults.get(method).map_or(0, VecDeque::len)
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.state.lock().unwrap().seen.clone()
    }

    /// The bytes stored for the upload at `url`, and whether it is complete.
    pub fn stored(&self, url: &str) -> (PathBuf, u64, bool) {
        let id = url.rsplit('/').next().unwrap();
        let state = self.shared.state.lock().unwrap();
        let upload = &state.uploads[id];
        (upload.file.clone(), upload.offset, upload.complete)
    }

    /// Whether the server still holds an upload at `url`.
    pub fn holds(&self, url: &str) -> bool {
        let id = url.rsplit('/').next().unwrap();
        self.shared.state.lock().unwrap().uploads.contains_key(id)
    }

    /// Bytes of request bodies received so far.
    pub fn received(&self) -> u64 {
        self.shared.received.load(Ordering::SeqCst)
    }
}

impl Drop for UploadServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        for conn in self.shared.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn length(&self) -> u64 {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn read_request(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':')?;
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    Some(Request {
        method,
        path,
        headers,
    })
}

fn respond(w: &mut impl Write, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status}\r\n");
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(body);
    let _ = w.flush();
}

/// Reads `len` body bytes (at most `keep` of them are returned through
/// `sink`); `false` when the connection ended first.
fn read_body(r: &mut impl Read, len: u64, shared: &Shared, sink: &mut dyn FnMut(&[u8])) -> bool {
    let mut buf = vec![0u8; 256 * 1024];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(left as usize);
        match r.read(&mut buf[..want]) {
            Ok(0) | Err(_) => return false,
            Ok(n) => {
                shared.received.fetch_add(n as u64, Ordering::SeqCst);
                sink(&buf[..n]);
                left -= n as u64;
            }
        }
    }
    true
}

fn serve(conn: TcpStream, shared: &Shared) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    while let Some(req) = read_request(&mut reader) {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let fault = {
            let mut state = shared.state.lock().unwrap();
            let script = state.faults.get_mut(&req.method);
            let fault = match script {
                Some(script) => match (script.front(), patch_span(&req)) {
                    (Some(Fault::CutPast(at)), Some((from, len))) if from + len <= *at => None,
                    (Some(Fault::CutPast(at)), Some((from, _))) => {
                        let keep = at.saturating_sub(from);
                        script.pop_front();
                        Some(Fault::CutAfter(keep))
                    }
                    _ => script.pop_front(),
                },
                None => None,
            };
            if fault == Some(Fault::LoseUploads) {
                state.uploads.clear();
            }
            fault
        };
        if let Some(Fault::Redirect(to)) = &fault {
            record(shared, &req, req.length());
            let _ = read_body(&mut reader, req.length(), shared, &mut |_| {});
            let location = to
                .clone()
                .unwrap_or_else(|| format!("moved/{}", id_of(&req.path)));
            respond(
                &mut writer,
                "307 Temporary Redirect",
                &[("Location", location)],
                b"",
            );
            continue;
        }
        let keep_going = if req.path.starts_with("/tus/") {
            tus(&req, fault, &mut reader, &mut writer, shared)
        } else if req.path.starts_with("/rufh/") {
            rufh(&req, fault, &mut reader, &mut writer, shared)
        } else {
            respond(&mut writer, "404 Not Found", &[], b"");
            true
        };
        if !keep_going {
            let peer = writer.peer_addr().ok();
            let _ = writer.shutdown(Shutdown::Both);
            // A cut closes the socket: drop the clone kept for `Drop` too,
            // so that the kernel resets the connection (bytes the client
            // still sends are refused) instead of queueing them unread
            // until the client's write times out.
            shared
                .conns
                .lock()
                .unwrap()
                .retain(|c| c.peer_addr().ok() != peer);
            return;
        }
    }
}

fn record(shared: &Shared, req: &Request, body_len: u64) {
    shared.state.lock().unwrap().seen.push(Seen {
        method: req.method.clone(),
        path: req.path.clone(),
        headers: req.headers.clone(),
        body_len,
    });
}

/// Creates an upload of `length` bytes; its id.
fn create(shared: &Shared, length: u64) -> String {
    let mut state = shared.state.lock().unwrap();
    state.next_id += 1;
    let id = format!("u{}", state.next_id);
    let file = shared.dir.join(&id);
    File::create(&file).unwrap();
    state.uploads.insert(
        id.clone(),
        Upload {
            file,
            length,
            offset: 0,
            complete: false,
        },
    );
    id
}

/// Appends a request's body at the upload's offset as it arrives, up to
/// `keep` bytes; returns the bytes appended and whether the body came whole.
fn append(
    shared: &Shared,
    id: &str,
    reader: &mut impl Read,
    len: u64,
    keep: u64,
) -> (u64, bool, Vec<u8>) {
    let (path, at) = {
        let state = shared.state.lock().unwrap();
        let u = &state.uploads[id];
        (u.file.clone(), u.offset)
    };
    let file = OpenOptions::new().write(true).open(&path).unwrap();
    let mut hasher = Sha256::new();
    let mut written = 0u64;
    let whole = read_body(
        &mut (&mut *reader).take(keep.min(len)),
        keep.min(len),
        shared,
        &mut |b| {
            // Runs of zeros stay holes: a 4 GiB sparse upload costs no disk.
            if b.iter().any(|&x| x != 0) {
                file.write_all_at(b, at + written).unwrap();
            }
            hasher.update(b);
            written += b.len() as u64;
        },
    );
    file.set_len(at + written).unwrap();
    let mut state = shared.state.lock().unwrap();
    if let Some(u) = state.uploads.get_mut(id) {
        u.offset = at + written;
    }
    (written, whole && written == len, hasher.finalize().to_vec())
}

/// Reads nothing more until the client closes the connection or the
/// server stops: a server that stopped reading a body.
fn stall(reader: &mut BufReader<TcpStream>, shared: &Shared) {
    let conn = reader.get_mut();
    let _ = conn.set_read_timeout(Some(Duration::from_millis(50)));
    while !shared.stop.load(Ordering::SeqCst) {
        // Peek: a closed connection reads 0; a live one has its bytes
        // left unread (they fill the client's socket until it stalls).
        match conn.peek(&mut [0u8; 1]) {
            Ok(0) => return,
            Ok(_) => thread::sleep(Duration::from_millis(50)),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return,
        }
    }
}

fn id_of(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or("")
}

fn tus(
    req: &Request,
    fault: Option<Fault>,
    reader: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    shared: &Shared,
) -> bool {
    let len = req.length();
    record(shared, req, len);
    if let (Some(Fault::CutAfter(_)), "POST" | "HEAD") = (&fault, req.method.as_str()) {
        // The request arrived (a creation is made) but its answer is lost.
        if req.method == "POST" {
            if let Some(length) = req.header("upload-length").and_then(|v| v.parse().ok()) {
                create(shared, length);
            }
        }
        return false;
    }
    let tus = ("Tus-Resumable", "1.0.0".to_string());
    let expires = (
        "Upload-Expires",
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3600)),
    );
    if req.method != "OPTIONS" && req.header("tus-resumable") != Some("1.0.0") {
        respond(
            w,
            "412 Precondition Failed",
            &[("Tus-Version", "1.0.0".into())],
            b"",
        );
        return true;
    }
    match req.method.as_str() {
        "OPTIONS" => respond(
            w,
            "204 No Content",
            &[
                tus,
                ("Tus-Version", "1.0.0".into()),
                (
                    "Tus-Extension",
                    "creation,termination,checksum,expiration".into(),
                ),
                ("Tus-Checksum-Algorithm", "md5,sha1,sha256".into()),
            ],
            b"",
        ),
        "POST" => {
            let Some(length) = req.header("upload-length").and_then(|v| v.parse().ok()) else {
                respond(w, "400 Bad Request", &[tus], b"");
                return true;
            };
            let id = create(shared, length);
            let location = match fault {
                Some(Fault::ForeignLocation) => {
                    format!("http://127.0.0.2:{}/tus/{id}", shared.port)
                }
                _ => format!("/tus/{id}"),
            };
            respond(
                w,
                "201 Created",
                &[tus, expires, ("Location", location)],
                b"",
            );
        }
        "HEAD" => {
            let state = shared.state.lock().unwrap();
            match state.uploads.get(id_of(&req.path)) {
                Some(u) => respond(
                    w,
                    "200 OK",
                    &[
                        tus,
                        expires,
                        ("Upload-Offset", u.offset.to_string()),
                        ("Upload-Length", u.length.to_string()),
                        ("Cache-Control", "no-store".into()),
                    ],
                    b"",
                ),
                None => respond(w, "404 Not Found", &[tus], b""),
            }
        }
        "DELETE" => {
            let removed = shared
                .state
                .lock()
                .unwrap()
                .uploads
                .remove(id_of(&req.path));
            match removed {
                Some(_) => respond(w, "204 No Content", &[tus], b""),
                None => respond(w, "404 Not Found", &[tus], b""),
            }
        }
        "PATCH" => {
            let id = id_of(&req.path).to_string();
            let offset = {
                let state = shared.state.lock().unwrap();
                state.uploads.get(&id).map(|u| u.offset)
            };
            let Some(offset) = offset else {
                respond(w, "404 Not Found", &[tus], b"");
                return true;
            };
            if req.header("content-type") != Some("application/offset+octet-stream") {
                respond(w, "415 Unsupported Media Type", &[tus], b"");
                return true;
            }
            let claimed: Option<u64> = req.header("upload-offset").and_then(|v| v.parse().ok());
            if claimed != Some(offset) || fault == Some(Fault::Conflict) {
                let _ = read_body(reader, len, shared, &mut |_| {});
                respond(w, "409 Conflict", &[tus], b"");
                return true;
            }
            if let Some(Fault::CutAfter(n)) = fault {
                let _ = append(shared, &id, reader, len, n);
                return false;
            }
            if let Some(Fault::StallAfter(n)) = fault {
                let _ = append(shared, &id, reader, len, n);
                stall(reader, shared);
                return false;
            }
            if fault == Some(Fault::DamagedBody) || req.header("upload-checksum").is_some() {
                // The checksum is verified before the bytes count: read
                // them aside, append only if they match.
                let mut body = Vec::new();
                if !read_body(reader, len, shared, &mut |b| body.extend_from_slice(b)) {
                    return false;
                }
                let digest = Sha256::digest(&body);
                let expected = format!(
                    "sha256 {}",
                    base64::engine::general_purpose::STANDARD.encode(digest)
                );
                if fault == Some(Fault::DamagedBody)
                    || req.header("upload-checksum") != Some(&expected)
                {
                    respond(w, "460 Checksum Mismatch", &[tus], b"");
                    return true;
                }
                let mut cursor = &body[..];
                append(shared, &id, &mut cursor, len, len);
                // (Counted once, as it arrived.)
                shared.received.fetch_sub(len, Ordering::SeqCst);
            } else if !append(shared, &id, reader, len, len).1 {
                return false;
            }
            let mut state = shared.state.lock().unwrap();
            let u = state.uploads.get_mut(&id).unwrap();
            u.complete = u.offset == u.length;
            let at = u.offset;
            drop(state);
            respond(
                w,
                "204 No Content",
                &[tus, expires, ("Upload-Offset", at.to_string())],
                b"",
            );
        }
        _ => respond(w, "405 Method Not Allowed", &[tus], b""),
    }
    true
}

/// The reply of a completed draft upload: what the target resource made
/// of the whole representation.
fn reply_of(shared: &Shared, id: &str) -> Vec<u8> {
    let size = shared.state.lock().unwrap().uploads[id].offset;
    let padding = shared.reply_padding.load(Ordering::SeqCst) as usize;
    let mut reply = format!("{{\"id\":\"{id}\",\"size\":{size}}}").into_bytes();
    reply.resize(reply.len() + padding, b' ');
    reply
}

fn rufh(
    req: &Request,
    fault: Option<Fault>,
    reader: &mut BufReader<TcpStream>,
    w: &mut TcpStream,
    shared: &Shared,
) -> bool {
    let len = req.length();
    record(shared, req, len);
    if let (Some(Fault::CutAfter(_)), "HEAD") = (&fault, req.method.as_str()) {
        return false;
    }
    let interop = ("Upload-Draft-Interop-Version", "8".to_string());
    if req.header("upload-draft-interop-version") != Some("8") {
        // Not a resumable upload of this draft: a plain one is refused here.
        let _ = read_body(reader, len, shared, &mut |_| {});
        respond(w, "400 Bad Request", &[], b"");
        return true;
    }
    let complete = match req.header("upload-complete") {
        Some("?1") => Some(true),
        Some("?0") => Some(false),
        _ => None,
    };
    let limit = (
        "Upload-Limit",
        "max-size=17179869184, max-age=3600".to_string(),
    );
    match req.method.as_str() {
        "POST" => {
            let Some(complete) = complete else {
                respond(w, "400 Bad Request", &[], b"");
                return true;
            };
            let length = req
                .header("upload-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(len);
            let id = create(shared, length);
            let location = match fault {
                Some(Fault::ForeignLocation) => {
                    format!("http://127.0.0.2:{}/rufh/{id}", shared.port)
                }
                _ => format!("/rufh/{id}"),
            };
            let mut interim =
                format!("HTTP/1.1 104 Upload Resumption Supported\r\nLocation: {location}\r\n");
            if !matches!(fault, Some(Fault::UnversionedInterimThenCut(_))) {
                interim.push_str("Upload-Draft-Interop-Version: 8\r\n");
            }
            if let Some(Fault::Limits(limits)) = fault {
                interim.push_str(&format!("Upload-Limit: {limits}\r\n"));
            }
            interim.push_str("\r\n");
            let _ = w.write_all(interim.as_bytes());
            let _ = w.flush();
            match fault {
                Some(Fault::CutAfter(n) | Fault::UnversionedInterimThenCut(n)) => {
                    append(shared, &id, reader, len, n);
                    return false;
                }
                Some(Fault::FailAfterInterim(n)) => {
                    append(shared, &id, reader, len, n);
                    respond(w, "500 Internal Server Error", &[], b"");
                    return false;
                }
                _ => {}
            }
            if !append(shared, &id, reader, len, len).1 {
                return false;
            }
            finish_rufh(w, shared, &id, complete, Some(location), &[interop, limit]);
        }
        "HEAD" => {
            let state = shared.state.lock().unwrap();
            match state.uploads.get(id_of(&req.path)) {
                Some(u) => respond(
                    w,
                    "204 No Content",
                    &[
                        ("Upload-Offset", u.offset.to_string()),
                        (
                            "Upload-Complete",
                            if u.complete { "?1" } else { "?0" }.into(),
                        ),
                        ("Upload-Length", u.length.to_string()),
                        limit,
                        ("Cache-Control", "no-store".into()),
                    ],
                    b"",
                ),
                None => respond(w, "404 Not Found", &[], b""),
            }
        }
        "DELETE" => {
            let removed = shared
                .state
                .lock()
                .unwrap()
                .uploads
                .remove(id_of(&req.path));
            match removed {
                Some(_) => respond(w, "204 No Content", &[], b""),
                None => respond(w, "404 Not Found", &[], b""),
            }
        }
        "PATCH" => {
            let id = id_of(&req.path).to_string();
            let state = shared.state.lock().unwrap();
            let Some(u) = state.uploads.get(&id) else {
                drop(state);
                respond(w, "404 Not Found", &[], b"");
                return true;
            };
            let (offset, done) = (u.offset, u.complete);
            drop(state);
            let claimed: Option<u64> = req.header("upload-offset").and_then(|v| v.parse().ok());
            if req.header("content-type") != Some("application/partial-upload")
                || complete.is_none()
                || done
            {
                let _ = read_body(reader, len, shared, &mut |_| {});
                respond(w, "400 Bad Request", &[], b"");
                return true;
            }
            if claimed != Some(offset) || fault == Some(Fault::Conflict) {
                let _ = read_body(reader, len, shared, &mut |_| {});
                respond(
                    w,
                    "409 Conflict",
                    &[("Upload-Offset", offset.to_string())],
                    b"",
                );
                return true;
            }
            if let Some(Fault::CutAfter(n)) = fault {
                append(shared, &id, reader, len, n);
                return false;
            }
            if let Some(Fault::StallAfter(n)) = fault {
                append(shared, &id, reader, len, n);
                stall(reader, shared);
                return false;
            }
            if !append(shared, &id, reader, len, len).1 {
                return false;
            }
            finish_rufh(w, shared, &id, complete == Some(true), None, &[limit]);
        }
        _ => respond(w, "405 Method Not Allowed", &[], b""),
    }
    true
}

/// Answers a creation (with its `location`) or an append whose body
/// arrived whole.
fn finish_rufh(
    w: &mut TcpStream,
    shared: &Shared,
    id: &str,
    complete: bool,
    location: Option<String>,
    extra: &[(&str, String)],
) {
    let at = {
        let mut state = shared.state.lock().unwrap();
        let u = state.uploads.get_mut(id).unwrap();
        u.complete = complete && u.offset == u.length;
        u.offset
    };
    if complete {
        let body = reply_of(shared, id);
        respond(
            w,
            "200 OK",
            &[
                ("Upload-Complete", "?1".into()),
                ("Content-Type", "application/json".into()),
            ],
            &body,
        );
    } else {
        let mut headers = vec![
            ("Upload-Complete", "?0".to_string()),
            ("Upload-Offset", at.to_string()),
        ];
        headers.extend(extra.iter().cloned());
        match location {
            Some(location) => {
                headers.push(("Location", location));
                respond(w, "201 Created", &headers, b"");
            }
            None => respond(w, "204 No Content", &headers, b""),
        }
    }
}

/// A PATCH's upload offset and body length.
fn patch_span(req: &Request) -> Option<(u64, u64)> {
    let from = req.header("upload-offset")?.parse().ok()?;
    (req.method == "PATCH").then(|| (from, req.length()))
}
