//! Issue 25 under attack: hostile upload servers on 127.0.0.1. Each test
//! scripts a server that answers what no honest tus or draft server
//! would (a completion claimed before the last byte, offsets that go back
//! and forth, an interim answer confirming bytes never sent), and checks
//! that an upload never reports bytes the server could not have, and
//! that a server cannot keep an attempt going forever.
//!
//! The servers here are scripted per request by a closure (`Hostile`):
//! what it answers is written out as raw HTTP, so a test shows exactly
//! what the network said.

use crate::support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::upload_testing::{attempt, State, Upload};
use qmgr::HResult;
use support::http_server::patterned;

/// A request as the hostile server saw it.
#[derive(Clone, Debug)]
pub(crate) struct Req {
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body_len: u64,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the script answers a request with.
pub(crate) enum Answer {
    /// These bytes, then the next request on the connection.
    Raw(String),
    /// These bytes, then the connection is closed.
    RawThenClose(String),
    /// No answer: the connection stays open, unread, until the client
    /// closes it.
    Hang,
    /// These bytes one at a time, each after `Duration`, then this again
    /// forever (a head that never ends, arriving slowly enough that no
    /// single read waits long).
    Drip(String, Duration),
}

type Script = dyn Fn(&Req, usize) -> Answer + Send + Sync;

/// A server whose every answer is the script's: it reads each request
/// and its whole body (`Content-Length`), records it, and writes what the
/// script returns for it (with the request's number, from 0).
pub(crate) struct Hostile {
    pub port: u16,
    seen: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Hostile {
    pub fn start(script: impl Fn(&Req, usize) -> Answer + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let (s, st, c) = (Arc::clone(&seen), Arc::clone(&stop), Arc::clone(&conns));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if let Ok(clone) = conn.try_clone() {
                    c.lock().unwrap().push(clone);
                }
                let (seen, script) = (Arc::clone(&s), Arc::clone(&script));
                thread::spawn(move || serve(conn, &seen, &*script));
            }
        });
        Hostile {
            port,
            seen,
            stop,
            conns,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn seen(&self) -> Vec<Req> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Req>>, script: &Script) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let mut writer = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(_target)) = (parts.next(), parts.next()) else {
            return;
        };
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let mut req = Req {
            method: method.to_string(),
            headers,
            body_len: 0,
        };
        let len: u64 = req
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = (&mut reader).take(len);
        let got = std::io::copy(&mut body, &mut std::io::sink()).unwrap_or(0);
        req.body_len = got;
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(req.clone());
            seen.len() - 1
        };
        if got < len {
            return;
        }
        match script(&req, n) {
            Answer::Raw(text) => {
                if writer.write_all(text.as_bytes()).is_err() {
                    return;
                }
            }
            Answer::RawThenClose(text) => {
                let _ = writer.write_all(text.as_bytes());
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Answer::Hang => {
                // Returns when the client closes (or the server stops).
                let _ = reader.get_mut().set_read_timeout(None);
                let _ = reader.read(&mut [0u8; 1]);
                return;
            }
            Answer::Drip(text, every) => loop {
                for b in text.bytes() {
                    thread::sleep(every);
                    if writer.write_all(&[b]).is_err() {
                        return;
                    }
                }
            },
        }
    }
}

/// An answer with these header lines and no body.
pub(crate) fn answer(status: &str, fields: &[String]) -> Answer {
    let mut text = format!("HTTP/1.1 {status}\r\n");
    for f in fields {
        text.push_str(f);
        text.push_str("\r\n");
    }
    text.push_str("Content-Length: 0\r\n\r\n");
    Answer::Raw(text)
}

fn upload(url: String, protocol: &'static str, path: &Path, chunk: u64) -> Upload {
    Upload {
        url,
        protocol,
        path: path.to_path_buf(),
        chunk,
        credentials: None,
        headers: Vec::new(),
        stall_timeout: Some(Duration::from_secs(10)),
    }
}

const KIB: u64 = 1024;

/// A file of `size` patterned bytes.
fn file_of(dir: &Path, name: &str, size: u64) -> std::path::PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, patterned(size as usize, 77)).unwrap();
    file
}

// ----- a completion claimed before the last byte was sent ------------------

/// A draft server that says `Upload-Complete: ?1` to a creation that
/// carried only the first piece: the upload is not done (its other bytes
/// were never sent), and progress must never say the whole file arrived.
#[test]
fn rufh_a_completion_claimed_before_the_last_piece_is_refused() {
    let dir = support::scratch("hostile-early-complete");
    let size = 512 * KIB;
    let file = file_of(&dir, "dump.bin", size);
    for method in ["POST", "PATCH"] {
        let server = Hostile::start(move |req, _| match req.method.as_str() {
            // The creation: its first piece, then more to come...
            "POST" if method == "PATCH" => answer(
                "201 Created",
                &[
                    "Location: /rufh/u1".into(),
                    "Upload-Complete: ?0".into(),
                    format!("Upload-Offset: {}", req.body_len),
                ],
            ),
            // ...or not: the server says the upload is complete.
            _ => answer(
                "200 OK",
                &["Location: /rufh/u1".into(), "Upload-Complete: ?1".into()],
            ),
        });
        let up = upload(server.url("/rufh/"), "rufh", &file, 64 * KIB);
        let mut state = State::new(&up).unwrap();
        let mut progress = Vec::new();
        let mut reply = Vec::new();
        let result = attempt(&up, &mut state, Some((&mut reply, 1 << 20)), &mut |at| {
            progress.push(at)
        });
        let sent: u64 = server.seen().iter().map(|r| r.body_len).sum();
        assert!(sent < size, "{method}: the test sends a part only ({sent})");
        let err = result.expect_err(&format!(
            "{method}: an upload of {size} bytes finished after {sent} were sent; progress {progress:?}"
        ));
        assert_eq!(
            err.code,
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            "{method}: {err:?}"
        );
        assert!(
            progress.iter().all(|&at| at <= sent),
            "{method}: progress {progress:?} says more than the {sent} bytes sent"
        );
        assert!(state.confirmed() <= sent, "{method}");
    }
}

/// A draft server whose 104 confirms bytes the creation has not carried
/// (the whole file, while only the first piece goes with a creation):
/// progress counts what the server could have, never more.
#[test]
fn rufh_an_interim_answer_never_confirms_more_than_was_sent() {
    let dir = support::scratch("hostile-104-offset");
    let size = 512 * KIB;
    let file = file_of(&dir, "dump.bin", size);
    let server = Hostile::start(move |req, _| match req.method.as_str() {
        "POST" => Answer::RawThenClose(format!(
            "HTTP/1.1 104 Upload Resumption Supported\r\n\
             Upload-Draft-Interop-Version: 8\r\nLocation: /rufh/u1\r\n\
             Upload-Offset: {size}\r\n\r\n"
        )),
        _ => answer("500 Internal Server Error", &[]),
    });
    let up = upload(server.url("/rufh/"), "rufh", &file, 64 * KIB);
    let mut state = State::new(&up).unwrap();
    let mut progress = Vec::new();
    let _ = attempt(
        &up,
        &mut state,
        Some((&mut Vec::new(), 1 << 20)),
        &mut |at| progress.push(at),
    );
    let sent: u64 = server.seen().iter().map(|r| r.body_len).sum();
    assert!(sent <= 64 * KIB);
    assert!(
        progress.iter().all(|&at| at <= sent),
        "progress {progress:?} says more than the {sent} bytes sent"
    );
    assert!(state.confirmed() <= sent, "{}", state.confirmed());
}

// ----- offsets that go back and forth: an attempt that never ends ----------

/// A tus server that confirms one byte of each PATCH, answers the next
/// with 409, and then (HEAD) says it has nothing: every other request
/// "makes progress", so a count of requests that confirm nothing new
/// never reaches its bound. The attempt must end (what was confirmed
/// before counts once), with few requests.
#[test]
fn tus_offsets_going_back_and_forth_end_the_attempt() {
    let dir = support::scratch("hostile-seesaw");
    let file = file_of(&dir, "dump.bin", 256 * KIB);
    let server = Hostile::start(|req, _| {
        let tus = "Tus-Resumable: 1.0.0".to_string();
        match req.method.as_str() {
            "OPTIONS" => answer("204 No Content", &[tus]),
            "POST" => answer("201 Created", &[tus, "Location: /tus/u1".into()]),
            "HEAD" => answer(
                "200 OK",
                &[
                    tus,
                    "Upload-Offset: 0".into(),
                    "Upload-Length: 262144".into(),
                ],
            ),
            "PATCH" => match req.header("upload-offset") {
                Some("0") => answer("204 No Content", &[tus, "Upload-Offset: 1".into()]),
                _ => answer("409 Conflict", &[tus]),
            },
            _ => answer("405 Method Not Allowed", &[tus]),
        }
    });
    let up = upload(server.url("/tus/"), "tus", &file, 64 * KIB);
    let mut state = State::new(&up).unwrap();
    // On another thread: an attempt that never ends must fail the test,
    // not hang it.
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let result = attempt(&up, &mut state, None, &mut |_| {});
        let _ = tx.send(result.map(|_| ()).map_err(|e| (e.code, e.description)));
    });
    let result = rx.recv_timeout(Duration::from_secs(60));
    let requests = server.seen().len();
    let Ok(result) = result else {
        panic!("the attempt still runs after 60 s and {requests} requests");
    };
    let (code, description) = result.expect_err("it cannot have finished");
    assert_eq!(
        code,
        HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
        "{description}"
    );
    assert!(requests < 100, "{requests} requests: {description}");
}

// ----- servers that never answer --------------------------------------------

/// A server that takes a request and never answers it (a HEAD, a PATCH
/// whose body it read whole), or answers a head one byte at a time for
/// ever: each attempt ends within the stall timeout, transient, however
/// the server keeps the connection alive.
#[test]
fn requests_never_answered_end_within_the_stall_timeout() {
    let dir = support::scratch("hostile-silent");
    let file = file_of(&dir, "dump.bin", 200 * KIB);
    let tus = || "Tus-Resumable: 1.0.0".to_string();
    type Case = fn(&Req) -> Option<Answer>;
    let cases: [(&str, Case); 4] = [
        ("HEAD", |r| (r.method == "HEAD").then_some(Answer::Hang)),
        ("PATCH", |r| (r.method == "PATCH").then_some(Answer::Hang)),
        ("a dripping head", |r| {
            (r.method == "PATCH").then(|| {
                Answer::Drip(
                    "HTTP/1.1 204 No Content\r\nX-Slow: ".into(),
                    Duration::from_millis(200),
                )
            })
        }),
        ("endless 104s", |r| {
            (r.method == "PATCH").then(|| {
                Answer::Drip(
                    "HTTP/1.1 104 Upload Resumption Supported\r\n\r\n".into(),
                    Duration::from_millis(5),
                )
            })
        }),
    ];
    for (what, case) in cases {
        let server = Hostile::start(move |req, _| {
            if let Some(a) = case(req) {
                return a;
            }
            match req.method.as_str() {
                "OPTIONS" => answer("204 No Content", &[tus()]),
                "POST" => answer("201 Created", &[tus(), "Location: /tus/u1".into()]),
                "HEAD" => answer(
                    "200 OK",
                    &[
                        tus(),
                        "Upload-Offset: 0".into(),
                        "Upload-Length: 204800".into(),
                    ],
                ),
                _ => answer("405 Method Not Allowed", &[tus()]),
            }
        });
        let mut up = upload(server.url("/tus/"), "tus", &file, 0);
        up.stall_timeout = Some(Duration::from_secs(2));
        let mut state = State::new(&up).unwrap();
        if what == "HEAD" {
            // A resumed upload asks first.
            let _ = attempt(&up, &mut state, None, &mut |_| {});
        }
        let started = std::time::Instant::now();
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let result = attempt(&up, &mut state, None, &mut |_| {});
            let _ = tx.send(result.map(|_| ()).map_err(|e| (e.transient, e.description)));
        });
        let Ok(result) = rx.recv_timeout(Duration::from_secs(60)) else {
            panic!("{what}: the attempt still runs after 60 s");
        };
        let (transient, description) = result.expect_err(what);
        assert!(transient, "{what}: {description}");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {:?} for a stall timeout of 2 s: {description}",
            started.elapsed()
        );
    }
}

// ----- the reply file, read back ---------------------------------------------

/// `reply_data` reads an upload-reply's reply back from its file: a file
/// its owner may replace once the job is TRANSFERRED. Through qmgrd the
/// daemon does the reading, so what the owner puts there must not make
/// it read without bound (a link to a huge file or to `/dev/zero` would
/// take the daemon's memory) or wait for ever (a FIFO no one writes):
/// the read takes at most the reply's recorded length, from a regular
/// file, and anything else is an error.
#[test]
fn reading_the_reply_back_is_bounded_whatever_replaced_the_reply_file() {
    use crate::upload_jobs::{local_file, upload_job, wait_for_end};
    use qmgr::{JobState, JobType, Manager};
    use std::os::unix::fs::OpenOptionsExt;
    use support::upload_server::UploadServer;

    let dir = support::scratch("hostile-reply-readback");
    let server = UploadServer::start(&dir.join("server"));
    let file = local_file(&dir, "diag.tar", 10 * 1024, 15);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::UploadReply, &server.url("/rufh/"), &file);
    let into = dir.join("reply.json");
    job.set_reply_file_name(Some(into.to_str().unwrap()))
        .unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    let reply = job.reply_data().unwrap();
    assert!(!reply.is_empty() && reply.len() < 1024);

    // A 64 MiB (sparse) file where the reply was.
    let huge = dir.join("huge");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(64 << 20)
        .unwrap();
    std::fs::remove_file(&into).unwrap();
    std::os::unix::fs::symlink(&huge, &into).unwrap();
    match job.reply_data() {
        Ok(data) => assert!(
            data.len() <= reply.len(),
            "reply_data read {} bytes for a reply of {}",
            data.len(),
            reply.len()
        ),
        Err(e) => assert!(e.code.0 != QM_S_OK, "{e:?}"),
    }

    // A FIFO no one writes to.
    std::fs::remove_file(&into).unwrap();
    support::mkfifo(&into);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = job.clone();
    thread::spawn(move || {
        let _ = tx.send(reader.reply_data().map(|d| d.len()));
    });
    let result = rx.recv_timeout(Duration::from_secs(20));
    // (Unblocks a reader still waiting, so the thread ends.)
    let _ = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&into);
    let Ok(result) = result else {
        panic!("reply_data still waits on a FIFO after 20 s");
    };
    assert!(result.is_err(), "{result:?}");
}

// ----- the file to upload, replaced ------------------------------------------

/// A FIFO no one writes to, named as the file of an upload job, is refused
/// when it is added, at once: opening it would wait for a writer (the API
/// call with it). Put in the file's place after the file was added, it
/// stops the upload with `QM_BG_E_LOCAL_FILE_CHANGED` before any request,
/// where the attempt waited in `open`.
#[test]
fn a_fifo_as_the_file_to_upload_is_refused_and_never_waited_on() {
    use crate::upload_jobs::local_file;
    use qmgr::{FileSpec, JobType, Manager};
    use support::upload_server::UploadServer;

    let dir = support::scratch("hostile-upload-fifo");
    let server = UploadServer::start(&dir.join("server"));
    let fifo = dir.join("fifo.log");
    support::mkfifo(&fifo);
    let _unblock = support::UnblockFifo(fifo.clone());
    let (tx, rx) = std::sync::mpsc::channel();
    let url = server.url("/tus/");
    let named = fifo.clone();
    thread::spawn(move || {
        let manager = Manager::open(None).unwrap();
        let job = manager.create_job_of_type("fifo", JobType::Upload).unwrap();
        let _ = tx.send(job.add_files(&[FileSpec::new(&url, named.to_str().unwrap())]));
    });
    let added = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("add_files still waits on a FIFO after 20 s");
    let err = added.expect_err("a FIFO was added as the file to upload");
    assert_eq!(err.code, HResult(QM_E_INVALIDARG), "{err:?}");
    assert!(err.message.contains("not a regular file"), "{err:?}");

    let file = local_file(&dir, "app.log", 256 * 1024, 17);
    let up = upload(server.url("/tus/"), "tus", &file, 64 * KIB);
    let state = State::new(&up).unwrap();
    std::fs::remove_file(&file).unwrap();
    support::mkfifo(&file);
    let _unblock_too = support::UnblockFifo(file.clone());
    let before = server.seen().len();
    let (code, transient, description) =
        bounded_attempt("an upload of a FIFO", up, state, Duration::from_secs(20)).unwrap_err();
    assert_eq!(code, HResult(QM_BG_E_LOCAL_FILE_CHANGED), "{description}");
    assert!(!transient, "{description}");
    assert!(description.contains("app.log"), "{description}");
    assert_eq!(
        server.seen().len(),
        before,
        "a request for a file that changed"
    );
}

// ----- a server that takes a byte at a time ---------------------------------

/// Runs `attempt` on another thread; its result (code, transient,
/// description), or a panic after `limit` naming `what`.
fn bounded_attempt(
    what: &str,
    up: Upload,
    mut state: State,
    limit: Duration,
) -> Result<(), (HResult, bool, String)> {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let result = attempt(&up, &mut state, None, &mut |_| {});
        let _ = tx.send(
            result
                .map(|_| ())
                .map_err(|e| (e.code, e.transient, e.description)),
        );
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("{what}: the attempt still runs after {limit:?}"))
}

/// A tus server that confirms one byte of every PATCH (whatever the
/// piece carried): each answer is progress, by one byte, so a count of
/// requests that confirm nothing never trips, and the file would be sent
/// again about once per byte. Short confirmations in a row are bounded.
#[test]
fn tus_a_server_confirming_a_byte_per_piece_is_given_up() {
    let dir = support::scratch("hostile-byte-a-time");
    let size = 256 * KIB;
    let file = file_of(&dir, "dump.bin", size);
    let server = Hostile::start(move |req, _| {
        let tus = "Tus-Resumable: 1.0.0".to_string();
        match req.method.as_str() {
            "OPTIONS" => answer("204 No Content", &[tus]),
            "POST" => answer("201 Created", &[tus, "Location: /tus/u1".into()]),
            "PATCH" => {
                let from: u64 = req.header("upload-offset").unwrap().parse().unwrap();
                answer(
                    "204 No Content",
                    &[tus, format!("Upload-Offset: {}", from + 1)],
                )
            }
            _ => answer("405 Method Not Allowed", &[tus]),
        }
    });
    let up = upload(server.url("/tus/"), "tus", &file, 64 * KIB);
    let state = State::new(&up).unwrap();
    let result = bounded_attempt("1 byte a PATCH", up, state, Duration::from_secs(60));
    let seen = server.seen();
    let sent: u64 = seen.iter().map(|r| r.body_len).sum();
    let (code, _, description) = result.expect_err("it cannot have finished");
    assert_eq!(
        code,
        HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
        "{description}"
    );
    assert!(
        sent < 4 * size,
        "{} requests carried {sent} bytes for a file of {size}",
        seen.len()
    );
}

/// A draft server whose `Upload-Limit` allows appends of one byte: the
/// file would go a byte a request (with a state written for each). A
/// limit under the smallest piece qmgr sends is refused at once.
#[test]
fn rufh_a_max_append_size_of_one_byte_is_refused() {
    let dir = support::scratch("hostile-append-limit");
    let size = 256 * KIB;
    let file = file_of(&dir, "dump.bin", size);
    let server = Hostile::start(move |req, _| match req.method.as_str() {
        "POST" => answer(
            "201 Created",
            &[
                "Location: /rufh/u1".into(),
                "Upload-Complete: ?0".into(),
                format!("Upload-Offset: {}", req.body_len),
                "Upload-Limit: max-append-size=1".into(),
            ],
        ),
        "PATCH" => {
            let from: u64 = req.header("upload-offset").unwrap().parse().unwrap();
            let at = from + req.body_len;
            let done = if at == size { "?1" } else { "?0" };
            answer(
                if at == size {
                    "200 OK"
                } else {
                    "204 No Content"
                },
                &[
                    format!("Upload-Complete: {done}"),
                    format!("Upload-Offset: {at}"),
                ],
            )
        }
        _ => answer("405 Method Not Allowed", &[]),
    });
    let up = upload(server.url("/rufh/"), "rufh", &file, 64 * KIB);
    let state = State::new(&up).unwrap();
    let result = bounded_attempt("1-byte appends", up, state, Duration::from_secs(60));
    let requests = server.seen().len();
    let (code, transient, description) = result.expect_err("refused");
    assert_eq!(
        code,
        HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
        "{description}"
    );
    assert!(!transient, "{description}");
    assert!(requests < 10, "{requests} requests");
}
