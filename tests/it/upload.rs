//! Resumable uploads, stage 1 of issue 25: the transports alone, before
//! upload jobs exist. These tests drive them through the hidden, test-only
//! entry point `qmgr::upload_testing` (feature `upload`): one `attempt` is
//! what one run of a job will be, and the loops here stand in for the
//! job's retries. Stage 2 moves them onto the job calls.
//!
//! Against real third-party tus servers (installed by `.ci/run`):
//! `@tus/server` with `@tus/file-store` (Node) and `tuspyserver` (Python,
//! FastAPI under uvicorn), each behind a cutting TCP proxy that drops the
//! connection at chosen bytes of what the client sends. Against qmgr's
//! own upload server (`support/upload_server.rs`) for what real servers
//! do not show on cue: cuts inside a chosen request, 409, checksum
//! failures, lost uploads, a foreign upload URL, redirects, stalls, and
//! the IETF draft. Every upload that finishes is compared, byte for byte,
//! with what the server keeps on its disk.

use crate::support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::upload_testing::{
    attempt, attempt_stoppable, terminate, Failure, Finished, State, Stopper, Upload,
};
use qmgr::HResult;
use support::http_server::patterned;
use support::upload_server::{Fault, UploadServer};

/// Attempts an upload can need in these tests: each cut costs one.
const MAX_ATTEMPTS: usize = 40;

fn upload(url: String, protocol: &'static str, path: &Path, chunk: u64) -> Upload {
    Upload {
        url,
        protocol,
        path: path.to_path_buf(),
        chunk,
        credentials: None,
        headers: Vec::new(),
        stall_timeout: None,
    }
}

/// Attempts until one finishes, as a job's retries would; every failure
/// must be transient. Returns the result, the failures, and every
/// progress value reported.
fn until_done(
    up: &Upload,
    state: &mut State,
    mut reply: Option<&mut Vec<u8>>,
) -> (Finished, Vec<Failure>, Vec<u64>) {
    let mut failures = Vec::new();
    let mut progress = Vec::new();
    for _ in 0..MAX_ATTEMPTS {
        let sink = reply.as_deref_mut().map(|r| {
            r.clear();
            (r, 1 << 20)
        });
        match attempt(up, state, sink, &mut |at| progress.push(at)) {
            Ok(done) => return (done, failures, progress),
            Err(f) => {
                assert!(f.transient, "a cut is transient: {f:?}");
                failures.push(f);
            }
        }
    }
    panic!("no attempt of {MAX_ATTEMPTS} finished: {failures:#?}");
}

pub(crate) fn assert_same_bytes(stored: &Path, expected: &Path) {
    let (mut a, mut b) = (
        std::fs::File::open(stored).unwrap(),
        std::fs::File::open(expected).unwrap(),
    );
    assert_eq!(
        a.metadata().unwrap().len(),
        b.metadata().unwrap().len(),
        "{} has another length than {}",
        stored.display(),
        expected.display()
    );
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let n = a.read(&mut x).unwrap();
        b.read_exact(&mut y[..n]).unwrap();
        assert!(x[..n] == y[..n], "the bytes differ in the MiB from {at}");
        if n == 0 {
            return;
        }
        at += n as u64;
    }
}

/// Progress only grows... but may step back after a cut to what the
/// server confirmed, never below a value the server confirmed earlier
/// unless it lost the upload; it ends at the size.
fn assert_progress_ends_at(progress: &[u64], size: u64) {
    assert_eq!(progress.last(), Some(&size), "{progress:?}");
}

// ---------------------------------------------------------------------
// qmgr's own fault server: tus
// ---------------------------------------------------------------------

#[test]
fn tus_cuts_in_every_kind_of_request_resume_from_the_servers_offset_byte_exact() {
    let dir = support::scratch("upload-tus-cuts");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("dump.bin");
    let size = 3 * 1024 * 1024 + 4321;
    std::fs::write(&file, patterned(size, 7)).unwrap();
    let chunk = 512 * 1024;
    // Cut the creation, a HEAD, and PATCHes at chosen bytes (inside the
    // piece, at its first byte, one before its end).
    server.script("POST", vec![Fault::CutAfter(0)]);
    server.script(
        "PATCH",
        vec![
            Fault::CutAfter(1000),
            Fault::Honest,
            Fault::CutAfter(0),
            Fault::CutAfter(chunk - 1),
            Fault::Honest,
            Fault::CutAfter(77_777),
        ],
    );
    server.script("HEAD", vec![Fault::Honest, Fault::CutAfter(0)]);
    let up = upload(server.url("/tus/"), "tus", &file, chunk);
    let mut state = State::new(&up).unwrap();
    let (done, failures, progress) = until_done(&up, &mut state, None);
    assert_eq!(done.status, 204);
    assert_eq!(done.reply_len, None, "tus has no reply");
    // The cut HEAD came on a kept-alive connection: as an idempotent
    // request it is sent again at once on a new one, costing no attempt.
    assert_eq!(failures.len(), 5, "{failures:#?}");
    for f in &failures {
        assert_eq!(f.code, HResult(QM_E_WINHTTP_CONNECTION_ERROR), "{f:?}");
    }
    for method in ["POST", "PATCH", "HEAD"] {
        assert_eq!(server.faults_left(method), 0, "{method}");
    }
    let url = state.upload_url().unwrap().to_string();
    let (stored, offset, complete) = server.stored(&url);
    assert_eq!((offset, complete), (size as u64, true));
    assert_same_bytes(&stored, &file);
    assert_progress_ends_at(&progress, size as u64);
    assert!(state.expires(), "Upload-Expires is kept");

    // Resume is asked, never assumed: after every failed attempt that had
    // an upload URL, the next request to it is a HEAD.
    let seen = server.seen();
    let mut asked = 0;
    for (i, r) in seen.iter().enumerate() {
        assert_eq!(r.header("tus-resumable"), Some("1.0.0"), "{r:?}");
        if r.method == "PATCH" {
            assert_eq!(
                r.header("content-type"),
                Some("application/offset+octet-stream")
            );
            let sha = r.header("upload-checksum").unwrap();
            assert!(sha.starts_with("sha256 "), "{sha}");
            assert!(r.body_len <= chunk);
        }
        if r.method == "OPTIONS" && seen[..i].iter().any(|p| p.method == "POST") {
            // A new attempt: OPTIONS, then HEAD before any PATCH.
            let next = seen[i + 1..]
                .iter()
                .find(|n| n.method != "OPTIONS")
                .unwrap();
            if seen[..i].iter().any(|p| p.method == "PATCH") {
                assert_eq!(next.method, "HEAD", "request {i}: {seen:#?}");
                asked += 1;
            }
        }
    }
    // Every attempt after the first PATCH: 4 of them.
    assert_eq!(asked, 4, "{seen:#?}");
    // Only the cut pieces were sent again: not the file from zero.
    assert!(
        server.received() < size as u64 + 3 * chunk,
        "{} bytes received for {size}",
        server.received()
    );
}

#[test]
fn tus_a_conflict_asks_again_and_a_damaged_piece_is_sent_again() {
    let dir = support::scratch("upload-tus-409-460");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("log.txt");
    let size = 1024 * 1024 + 3;
    std::fs::write(&file, patterned(size, 9)).unwrap();
    let chunk = 256 * 1024;
    server.script(
        "PATCH",
        vec![
            Fault::Honest,
            Fault::Conflict,
            Fault::DamagedBody,
            Fault::DamagedBody,
        ],
    );
    let up = upload(server.url("/tus/"), "tus", &file, chunk);
    let mut state = State::new(&up).unwrap();
    let done = attempt(&up, &mut state, None, &mut |_| {}).expect("one attempt");
    assert_eq!(done.status, 204);
    let methods: Vec<(String, Option<String>)> = server
        .seen()
        .iter()
        .map(|r| {
            (
                r.method.clone(),
                r.header("upload-offset").map(String::from),
            )
        })
        .collect();
    let expected_start = [
        ("OPTIONS", None),
        ("POST", None),
        ("PATCH", Some("0")),
        ("PATCH", Some("262144")), // 409
        ("HEAD", None),            // asked again
        ("PATCH", Some("262144")), // 460
        ("PATCH", Some("262144")), // 460
        ("PATCH", Some("262144")), // the same piece, accepted
        ("PATCH", Some("524288")),
    ];
    for (i, (m, o)) in expected_start.iter().enumerate() {
        assert_eq!(
            (methods[i].0.as_str(), methods[i].1.as_deref()),
            (*m, *o),
            "{methods:#?}"
        );
    }
    let (stored, _, complete) = server.stored(state.upload_url().unwrap());
    assert!(complete);
    assert_same_bytes(&stored, &file);
}

#[test]
fn tus_has_no_reply_and_refuses_to_make_one_up() {
    let dir = support::scratch("upload-tus-reply");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("r.bin");
    std::fs::write(&file, patterned(1000, 2)).unwrap();
    let up = upload(server.url("/tus/"), "tus", &file, 0);
    let mut state = State::new(&up).unwrap();
    let mut reply = Vec::new();
    let err = attempt(&up, &mut state, Some((&mut reply, 1 << 20)), &mut |_| {}).unwrap_err();
    assert_eq!(err.code, HResult(QM_E_INVALIDARG), "{err:?}");
    assert!(!err.transient);
    assert!(err.description.contains("no reply"), "{err:?}");
    assert!(server.seen().is_empty(), "refused before any request");
}

#[test]
fn tus_an_upload_the_server_lost_starts_again_with_a_new_creation() {
    let dir = support::scratch("upload-tus-lost");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("core.dmp");
    let size = 900 * 1024;
    std::fs::write(&file, patterned(size, 11)).unwrap();
    server.script("PATCH", vec![Fault::Honest, Fault::CutAfter(5000)]);
    let up = upload(server.url("/tus/"), "tus", &file, 256 * 1024);
    let mut state = State::new(&up).unwrap();
    let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
    assert!(err.transient);
    let first = state.upload_url().unwrap().to_string();
    assert_eq!(state.confirmed(), 256 * 1024);
    // The server loses every upload before the next HEAD.
    server.script("HEAD", vec![Fault::LoseUploads]);
    let mut progress = Vec::new();
    attempt(&up, &mut state, None, &mut |at| progress.push(at)).expect("a new upload");
    let second = state.upload_url().unwrap().to_string();
    assert_ne!(first, second);
    assert!(!server.holds(&first));
    assert_eq!(
        progress.first(),
        Some(&0),
        "progress starts again: {progress:?}"
    );
    let posts = server.seen().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 2);
    let (stored, _, complete) = server.stored(&second);
    assert!(complete);
    assert_same_bytes(&stored, &file);
}

#[test]
fn an_upload_url_of_another_origin_is_refused_before_anything_is_sent_there() {
    let dir = support::scratch("upload-foreign");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("secret.bin");
    std::fs::write(&file, patterned(100_000, 3)).unwrap();
    for (protocol, path) in [("tus", "/tus/"), ("rufh", "/rufh/")] {
        server.script("POST", vec![Fault::ForeignLocation]);
        let mut up = upload(server.url(path), protocol, &file, 0);
        up.credentials = Some(("device".into(), "s3cret".into()));
        let mut state = State::new(&up).unwrap();
        let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
        assert_eq!(
            err.code,
            HResult(QM_BG_E_INVALID_SERVER_RESPONSE),
            "{err:?}"
        );
        assert!(!err.transient);
        assert!(err.description.contains("another origin"), "{err:?}");
        assert_eq!(state.upload_url(), None, "{protocol}");
    }
    // The credentials went to the caller's origin, on every request.
    let seen = server.seen();
    assert!(seen.iter().all(|r| r.header("authorization").is_some()));
    assert!(seen
        .iter()
        .all(|r| r.method != "PATCH" && r.method != "HEAD"));
}

#[test]
fn redirects_are_followed_within_the_origin_only_with_the_callers_credentials() {
    let dir = support::scratch("upload-redirects");
    let server = UploadServer::start(&dir.join("server"));
    let elsewhere = UploadServer::start_on("127.0.0.2", &dir.join("elsewhere"));
    let file = dir.join("d.bin");
    std::fs::write(&file, patterned(600_000, 37)).unwrap();
    let caller = |url: String| {
        let mut up = upload(url, "tus", &file, 128 * 1024);
        up.credentials = Some(("device".into(), "s3cret".into()));
        up.headers = vec![("X-Api-Key".into(), "k1".into())];
        up
    };
    // Within the origin: an append redirected to the upload's other URL
    // goes there, body and credentials along.
    server.script("PATCH", vec![Fault::Honest, Fault::Redirect(None)]);
    let up = caller(server.url("/tus/"));
    let mut state = State::new(&up).unwrap();
    attempt(&up, &mut state, None, &mut |_| {}).expect("followed");
    let (stored, _, complete) = server.stored(state.upload_url().unwrap());
    assert!(complete);
    assert_same_bytes(&stored, &file);
    let moved: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|r| r.path.starts_with("/tus/moved/"))
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].header("upload-offset"), Some("131072"));
    assert!(moved[0].header("authorization").is_some());
    assert_eq!(moved[0].header("x-api-key"), Some("k1"));
    // To another origin: refused, and nothing reaches it.
    for (protocol, path) in [("tus", "/tus/"), ("rufh", "/rufh/")] {
        server.script("POST", vec![Fault::Redirect(Some(elsewhere.url(path)))]);
        let mut up = caller(server.url(path));
        up.protocol = protocol;
        let mut state = State::new(&up).unwrap();
        let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
        assert_eq!(err.code, HResult(QM_E_WINHTTP_REDIRECT_FAILED), "{err:?}");
        assert!(!err.transient);
        assert!(err.description.starts_with("POST "), "{err:?}");
    }
    assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
}

/// A server that stops reading a body: the write waits at most the stall
/// timeout (a transient timeout, then resumed from what the server
/// kept), and a stop from another thread ends the attempt at once.
#[test]
fn a_stalled_body_times_out_and_a_stop_ends_the_attempt_at_once() {
    let dir = support::scratch("upload-stall");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("big.bin");
    let size = 48 * 1024 * 1024;
    std::fs::write(&file, patterned(size, 43)).unwrap();
    let mut up = upload(server.url("/tus/"), "tus", &file, 32 * 1024 * 1024);
    up.stall_timeout = Some(Duration::from_secs(1));
    let mut state = State::new(&up).unwrap();
    server.script("PATCH", vec![Fault::StallAfter(1_000_000)]);
    let started = Instant::now();
    let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.code, HResult(QM_E_WINHTTP_TIMEOUT), "{err:?}");
    assert!(err.transient);
    assert!(took < Duration::from_secs(10), "{took:?}");
    // A stop from another thread while the server stalls again.
    server.script("PATCH", vec![Fault::StallAfter(2_000_000)]);
    up.stall_timeout = Some(Duration::from_secs(600));
    let stopper = Stopper::default();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = {
        let (up, mut state, stopper) = (up.clone(), state.clone(), stopper.clone());
        thread::spawn(move || {
            let result = attempt_stoppable(&up, &mut state, None, &mut |_| {}, &stopper);
            tx.send(Instant::now()).unwrap();
            (result, state)
        })
    };
    // Stop once the server holds the stalled request's bytes (its first
    // stall kept 1,000,000, this one 2,000,000).
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.received() < 3_000_000 {
        assert!(rx.try_recv().is_err(), "the attempt ended by itself");
        assert!(Instant::now() < deadline, "the server never got the bytes");
        thread::sleep(Duration::from_millis(10));
    }
    let stopped_at = Instant::now();
    stopper.stop();
    let ended = rx
        .recv_timeout(Duration::from_secs(5))
        .expect("stopped at once");
    assert!(ended.duration_since(stopped_at) < Duration::from_secs(2));
    let (result, mut state) = worker.join().unwrap();
    assert!(result.unwrap_err().transient);
    // And then the upload finishes from what the server kept.
    let (done, _, _) = until_done(&up, &mut state, None);
    assert_eq!(done.status, 204);
    let (stored, _, complete) = server.stored(state.upload_url().unwrap());
    assert!(complete);
    assert_same_bytes(&stored, &file);
}

#[test]
fn a_local_file_changed_mid_upload_stops_it_with_bg_e_local_file_changed() {
    let dir = support::scratch("upload-changed");
    let server = UploadServer::start(&dir.join("server"));
    for (protocol, path) in [("tus", "/tus/"), ("rufh", "/rufh/")] {
        let file = dir.join(format!("{protocol}.log"));
        std::fs::write(&file, patterned(1024 * 1024, 5)).unwrap();
        let up = upload(server.url(path), protocol, &file, 128 * 1024);
        let mut state = State::new(&up).unwrap();
        // The program that writes the log appends to it once the server
        // confirmed the first bytes.
        let appended = std::cell::Cell::new(false);
        let err = attempt(&up, &mut state, None, &mut |at| {
            if at > 0 && !appended.get() {
                appended.set(true);
                let mut f = std::fs::OpenOptions::new()
                    .append(true)
                    .open(&file)
                    .unwrap();
                f.write_all(b"one more line\n").unwrap();
            }
        })
        .unwrap_err();
        assert_eq!(err.code, HResult(QM_BG_E_LOCAL_FILE_CHANGED), "{err:?}");
        assert!(!err.transient, "the job stops in ERROR");
        assert!(err.description.contains(&file.display().to_string()));
        // And a later attempt on the changed file refuses at once.
        let before = server.seen().len();
        let again = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
        assert_eq!(again.code, HResult(QM_BG_E_LOCAL_FILE_CHANGED));
        assert_eq!(server.seen().len(), before, "no request for a changed file");
    }
}

/// A file over 4 GiB, sparse (patterned bytes at its start, across 2^32
/// and at its end), cut in a piece above 2^32 and resumed there. Over
/// loopback the 4 GiB are streamed from disk; the server keeps zeros as
/// holes.
#[test]
fn a_4_gib_sparse_file_resumes_above_2_pow_32_byte_exact() {
    let dir = support::scratch("upload-4gib");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("disk.img");
    let size: u64 = (4 << 30) + (3 << 20) + 17;
    {
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(size).unwrap();
        use std::os::unix::fs::FileExt;
        for (at, seed) in [
            (0u64, 1u32),
            ((1 << 32) - (1 << 20), 2),
            (size - 1_000_000, 3),
        ] {
            f.write_all_at(
                &patterned(2 << 20, seed)[..(size - at).min(2 << 20) as usize],
                at,
            )
            .unwrap();
        }
    }
    let chunk = 256 * 1024 * 1024;
    // The creation carries the first piece; the 16th append, the last,
    // starts at exactly 4 GiB: cut 2 MB into it.
    let mut faults = vec![Fault::Honest; 15];
    faults.push(Fault::CutAfter(2_000_000));
    server.script("PATCH", faults);
    let up = upload(server.url("/rufh/"), "rufh", &file, chunk);
    let mut state = State::new(&up).unwrap();
    let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
    assert!(err.transient, "{err:?}");
    assert_eq!(state.confirmed(), 4 << 30, "confirmed up to the cut piece");
    let mut reply = Vec::new();
    let mut progress = Vec::new();
    let done = attempt(&up, &mut state, Some((&mut reply, 4096)), &mut |at| {
        progress.push(at)
    })
    .expect("the rest");
    assert_eq!(done.status, 200);
    // Asked: HEAD said 4 GiB + 2,000,000, and the rest went from there.
    assert_eq!(progress[0], (4u64 << 30) + 2_000_000, "{progress:?}");
    let head = server.seen().into_iter().rfind(|r| r.method == "HEAD");
    assert!(head.is_some());
    let resumed = server
        .seen()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .nth(16)
        .unwrap();
    assert_eq!(resumed.header("upload-offset"), Some("4296967296"));
    assert_eq!(resumed.body_len, size - (4 << 30) - 2_000_000);
    let (stored, offset, complete) = server.stored(state.upload_url().unwrap());
    assert_eq!((offset, complete), (size, true));
    assert_same_bytes(&stored, &file);
    let text = String::from_utf8(reply).unwrap();
    assert!(text.contains(&format!("\"size\":{size}")), "{text}");
}

// ---------------------------------------------------------------------
// qmgr's own fault server: the IETF draft
// ---------------------------------------------------------------------

#[test]
fn rufh_states_its_draft_and_interop_version() {
    assert_eq!(
        qmgr::upload_testing::draft(),
        ("draft-ietf-httpbis-resumable-upload-12", "8")
    );
}

#[test]
fn rufh_a_104_lets_a_failed_creation_resume_and_the_reply_is_the_final_answer() {
    let dir = support::scratch("upload-rufh-104");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("diag.tar");
    let size = 700 * 1024 + 5;
    std::fs::write(&file, patterned(size, 13)).unwrap();
    // The creation carries the whole file (one piece): the server names
    // the upload in a 104, keeps 300,000 bytes, then answers 500.
    server.script("POST", vec![Fault::FailAfterInterim(300_000)]);
    let up = upload(server.url("/rufh/"), "rufh", &file, 1 << 20);
    let mut state = State::new(&up).unwrap();
    let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
    assert_eq!(err.http_status, 500);
    assert!(err.transient);
    let url = state.upload_url().expect("the 104's Location").to_string();
    assert!(url.starts_with(&server.url("/rufh/")), "{url}");
    let mut reply = Vec::new();
    let (done, failures, progress) = until_done(&up, &mut state, Some(&mut reply));
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(done.status, 200);
    assert_eq!(progress[0], 300_000, "asked: {progress:?}");
    let text = String::from_utf8(reply.clone()).unwrap();
    assert_eq!(done.reply_len, Some(reply.len() as u64));
    assert!(text.contains(&format!("\"size\":{size}")), "{text}");
    let seen = server.seen();
    let methods: Vec<&str> = seen.iter().map(|r| r.method.as_str()).collect();
    assert_eq!(methods, ["POST", "HEAD", "PATCH"]);
    for r in &seen {
        assert_eq!(r.header("upload-draft-interop-version"), Some("8"));
    }
    assert_eq!(seen[0].header("upload-complete"), Some("?1"));
    assert_eq!(seen[2].header("upload-offset"), Some("300000"));
    assert_eq!(seen[2].header("upload-complete"), Some("?1"));
    assert_eq!(
        seen[2].header("content-type"),
        Some("application/partial-upload")
    );
    let (stored, _, complete) = server.stored(&url);
    assert!(complete);
    assert_same_bytes(&stored, &file);
}

#[test]
fn rufh_cuts_in_every_kind_of_request_resume_byte_exact() {
    let dir = support::scratch("upload-rufh-cuts");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("capture.pcap");
    let size = 2 * 1024 * 1024 + 99;
    std::fs::write(&file, patterned(size, 17)).unwrap();
    let chunk = 512 * 1024;
    server.script("POST", vec![Fault::CutAfter(100_000)]);
    server.script(
        "PATCH",
        vec![
            Fault::CutAfter(0),
            Fault::Honest,
            Fault::CutAfter(chunk - 1),
            Fault::Conflict,
        ],
    );
    server.script("HEAD", vec![Fault::Honest, Fault::CutAfter(0)]);
    let up = upload(server.url("/rufh/"), "rufh", &file, chunk);
    let mut state = State::new(&up).unwrap();
    let mut reply = Vec::new();
    let (done, failures, progress) = until_done(&up, &mut state, Some(&mut reply));
    assert_eq!(done.status, 200);
    // (An attempt of the draft starts with its HEAD on a new connection:
    // that cut costs an attempt too.)
    assert_eq!(failures.len(), 4, "{failures:#?}");
    assert_progress_ends_at(&progress, size as u64);
    for method in ["POST", "PATCH", "HEAD"] {
        assert_eq!(server.faults_left(method), 0, "{method}");
    }
    let (stored, _, complete) = server.stored(state.upload_url().unwrap());
    assert!(complete);
    assert_same_bytes(&stored, &file);
    assert_eq!(
        server.seen().iter().filter(|r| r.method == "POST").count(),
        1,
        "the cut creation was resumed through its 104, not made again"
    );
}

#[test]
fn rufh_a_104_without_the_interop_version_is_ignored() {
    let dir = support::scratch("upload-rufh-unversioned");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("a.bin");
    std::fs::write(&file, patterned(200_000, 19)).unwrap();
    server.script("POST", vec![Fault::UnversionedInterimThenCut(50_000)]);
    let up = upload(server.url("/rufh/"), "rufh", &file, 0);
    let mut state = State::new(&up).unwrap();
    attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
    assert_eq!(state.upload_url(), None, "that 104 is not this draft's");
    let (done, _, _) = until_done(&up, &mut state, None);
    assert_eq!(done.status, 200);
    let methods: Vec<String> = server.seen().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, ["POST", "POST"], "created again, nothing assumed");
    let (stored, _, _) = server.stored(state.upload_url().unwrap());
    assert_same_bytes(&stored, &file);
}

#[test]
fn rufh_the_servers_limits_bound_the_pieces_and_the_size() {
    let dir = support::scratch("upload-rufh-limits");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("e.bin");
    let size = 600_000;
    std::fs::write(&file, patterned(size, 47)).unwrap();
    // Pieces no larger than the server's max-append-size once it said so.
    server.script(
        "POST",
        vec![Fault::Limits("max-append-size=65536, max-age=60")],
    );
    let up = upload(server.url("/rufh/"), "rufh", &file, 256 * 1024);
    let mut state = State::new(&up).unwrap();
    attempt(&up, &mut state, None, &mut |_| {}).expect("done");
    let seen = server.seen();
    assert_eq!(
        seen[0].body_len,
        256 * 1024,
        "the creation, before the limit"
    );
    let patches: Vec<u64> = seen[1..].iter().map(|r| r.body_len).collect();
    assert!(patches.iter().all(|&n| n <= 65536), "{patches:?}");
    assert_eq!(256 * 1024 + patches.iter().sum::<u64>(), size as u64);
    assert!(state.expires());
    let (stored, _, complete) = server.stored(state.upload_url().unwrap());
    assert!(complete);
    assert_same_bytes(&stored, &file);
    // A max-size below the file's: the upload stops.
    server.script("POST", vec![Fault::Limits("max-size=1000")]);
    let mut state = State::new(&up).unwrap();
    let err = attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
    assert_eq!(err.code, HResult(QM_BG_E_TOO_LARGE), "{err:?}");
    assert!(!err.transient);
}

#[test]
fn rufh_a_reply_longer_than_its_limit_is_refused() {
    let dir = support::scratch("upload-rufh-reply-limit");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("b.bin");
    std::fs::write(&file, patterned(10_000, 23)).unwrap();
    let up = upload(server.url("/rufh/"), "rufh", &file, 0);
    let mut state = State::new(&up).unwrap();
    let mut reply = Vec::new();
    let err = attempt(&up, &mut state, Some((&mut reply, 8)), &mut |_| {}).unwrap_err();
    assert_eq!(err.code, HResult(QM_BG_E_TOO_LARGE), "{err:?}");
    assert!(reply.len() <= 8);
}

#[test]
fn terminating_an_upload_deletes_it_on_the_server() {
    let dir = support::scratch("upload-terminate");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("c.bin");
    std::fs::write(&file, patterned(600_000, 29)).unwrap();
    for (protocol, path) in [("tus", "/tus/"), ("rufh", "/rufh/")] {
        server.script("PATCH", vec![Fault::CutAfter(10)]);
        if protocol == "rufh" {
            server.script("POST", vec![Fault::FailAfterInterim(1000)]);
        }
        let up = upload(server.url(path), protocol, &file, 128 * 1024);
        let mut state = State::new(&up).unwrap();
        attempt(&up, &mut state, None, &mut |_| {}).unwrap_err();
        let url = state.upload_url().unwrap().to_string();
        assert!(server.holds(&url));
        terminate(&up, &state).unwrap();
        assert!(!server.holds(&url), "{protocol}");
        // Terminating what the server no longer has is fine.
        terminate(&up, &state).unwrap();
    }
}

// ---------------------------------------------------------------------
// Real third-party tus servers, behind a cutting proxy
// ---------------------------------------------------------------------

/// A third-party server process, stopped (by its PID) when dropped.
pub(crate) struct Process {
    child: Child,
    pub(crate) port: u16,
}

impl Process {
    /// Starts `program args`, which prints its port on its first line.
    pub(crate) fn start(program: &str, args: &[&str]) -> Process {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        let mut line = String::new();
        let mut out = child.stdout.take().unwrap();
        let mut byte = [0u8; 1];
        while out.read(&mut byte).unwrap_or(0) == 1 && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{program} printed no port: {line:?}"));
        Process { child, port }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A TCP proxy on 127.0.0.1 that cuts the connection once the client has
/// sent the next of its cut points (counted over every connection).
/// Dropping it stops it: its listener, and every connection it holds.
struct CuttingProxy {
    port: u16,
    cuts: Arc<Mutex<Vec<u64>>>,
    sent: Arc<AtomicU64>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Drop for CuttingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        for conn in self.conns.lock().unwrap().drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }
}

impl CuttingProxy {
    fn start(upstream: u16, mut cuts: Vec<u64>) -> CuttingProxy {
        cuts.sort_unstable_by(|a, b| b.cmp(a));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cuts = Arc::new(Mutex::new(cuts));
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (c, s, halt, open) = (
            Arc::clone(&cuts),
            Arc::clone(&sent),
            Arc::clone(&stop),
            Arc::clone(&conns),
        );
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                if halt.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    return;
                };
                let mut held = open.lock().unwrap();
                held.push(client.try_clone().unwrap());
                held.push(server.try_clone().unwrap());
                drop(held);
                let (c, s) = (Arc::clone(&c), Arc::clone(&s));
                let (client2, server2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                thread::spawn(move || pipe_down(server2, client2));
                thread::spawn(move || pipe_up(client, server, &c, &s));
            }
        });
        CuttingProxy {
            port,
            cuts,
            sent,
            stop,
            conns,
        }
    }

    fn cuts_left(&self) -> usize {
        self.cuts.lock().unwrap().len()
    }
}

fn pipe_down(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Both);
}

fn pipe_up(mut from: TcpStream, mut to: TcpStream, cuts: &Mutex<Vec<u64>>, sent: &AtomicU64) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let before = sent.fetch_add(n as u64, Ordering::SeqCst);
        let next = cuts.lock().unwrap().last().copied();
        if let Some(cut) = next.filter(|&c| c < before + n as u64) {
            cuts.lock().unwrap().pop();
            let keep = cut.saturating_sub(before) as usize;
            let _ = to.write_all(&buf[..keep]);
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(Shutdown::Both);
    let _ = from.shutdown(Shutdown::Both);
}

/// Uploads through a cutting proxy to a real server whose files live in
/// `store`, then checks the bytes there; terminates the upload and
/// uploads again. Returns whether the server named an expiry.
fn through_cuts_to(server: &Process, store: &Path, dir: &Path, name: &str) -> bool {
    let file = dir.join(format!("{name}.bin"));
    let size = 5 * 1024 * 1024 + 1234;
    std::fs::write(&file, patterned(size, 31)).unwrap();
    let cuts: Vec<u64> = (1..=6).map(|i| i * 800_000 + 333).collect();
    let proxy = CuttingProxy::start(server.port, cuts);
    let up = upload(
        format!("http://127.0.0.1:{}/files/", proxy.port),
        "tus",
        &file,
        1024 * 1024,
    );
    let mut state = State::new(&up).unwrap();
    let (done, failures, progress) = until_done(&up, &mut state, None);
    assert!((200..300).contains(&done.status), "{done:?}");
    assert!(failures.len() >= 5, "{failures:#?}");
    assert_eq!(proxy.cuts_left(), 0);
    assert_progress_ends_at(&progress, size as u64);
    let url = state.upload_url().unwrap().to_string();
    let id = url.rsplit('/').next().unwrap();
    assert_same_bytes(&store.join(id), &file);
    assert!(
        proxy.sent.load(Ordering::SeqCst) < (size as u64) * 2,
        "resumed, not restarted: {} bytes sent",
        proxy.sent.load(Ordering::SeqCst)
    );
    // Termination: the server forgets it (its HEAD answers 404 or 410
    // now), so the next attempt finds it lost and creates it anew.
    terminate(&up, &state).unwrap();
    assert!(
        !store.join(id).exists(),
        "{name}: terminated upload still on disk"
    );
    let mut progress = Vec::new();
    attempt(&up, &mut state, None, &mut |at| progress.push(at)).expect("created anew");
    assert_eq!(progress.first(), Some(&0), "{progress:?}");
    let again = state.upload_url().unwrap().to_string();
    assert_ne!(again, url);
    assert_same_bytes(&store.join(again.rsplit('/').next().unwrap()), &file);
    state.expires()
}

pub(crate) fn tus_node() -> Option<PathBuf> {
    let dir = support::root().join("tests/servers/tus-node");
    if !dir.join("node_modules/@tus/server").exists() || !support::have_tool("node") {
        support::skipped("@tus/server is not installed (npm ci in tests/servers/tus-node)");
        return None;
    }
    Some(dir.join("server.mjs"))
}

#[test]
fn tus_node_server_takes_an_upload_cut_six_times_byte_exact() {
    let Some(script) = tus_node() else { return };
    let dir = support::scratch("upload-tus-node");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let server = Process::start("node", &[script.to_str().unwrap(), store.to_str().unwrap()]);
    let expires = through_cuts_to(&server, &store, &dir, "node");
    assert!(
        expires,
        "server.mjs sets an expiration period: Upload-Expires"
    );
}

/// The server is stopped (killed) once it confirmed the first piece, and
/// started again on the same port and store: the upload goes on from
/// what it kept, asked with a HEAD.
#[test]
fn tus_node_server_restarted_mid_upload_is_resumed_byte_exact() {
    let Some(script) = tus_node() else { return };
    let dir = support::scratch("upload-tus-node-restart");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let (script, store_arg) = (script.to_str().unwrap(), store.to_str().unwrap());
    let server = std::cell::RefCell::new(Some(Process::start("node", &[script, store_arg])));
    let port = server.borrow().as_ref().unwrap().port;
    let file = dir.join("restart.bin");
    let size = 3 * 1024 * 1024 + 77;
    std::fs::write(&file, patterned(size, 41)).unwrap();
    let up = upload(
        format!("http://127.0.0.1:{port}/files/"),
        "tus",
        &file,
        1024 * 1024,
    );
    let mut state = State::new(&up).unwrap();
    let err = attempt(&up, &mut state, None, &mut |at| {
        if at > 0 {
            // Dropping the process kills it and waits for it.
            server.borrow_mut().take();
        }
    })
    .unwrap_err();
    assert!(err.transient, "{err:?}");
    assert_eq!(state.confirmed(), 1024 * 1024);
    let _again = Process::start("node", &[script, store_arg, &port.to_string()]);
    let mut progress = Vec::new();
    attempt(&up, &mut state, None, &mut |at| progress.push(at)).expect("resumed");
    assert_eq!(
        progress[0],
        1024 * 1024,
        "asked the restarted server: {progress:?}"
    );
    let url = state.upload_url().unwrap();
    assert_same_bytes(&store.join(url.rsplit('/').next().unwrap()), &file);
}

/// Whether tuspyserver can run here (said when it cannot).
pub(crate) fn have_tuspy() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import tuspyserver, uvicorn"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        support::skipped("tuspyserver or uvicorn is not installed (pip)");
    }
    ok
}

/// tuspyserver, started on a store in `dir`: the process and its store.
pub(crate) fn start_tuspy(dir: &Path) -> (Process, PathBuf) {
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let script = support::root().join("tests/servers/tuspy/server.py");
    let server = Process::start(
        "python3",
        &[script.to_str().unwrap(), store.to_str().unwrap()],
    );
    (server, store)
}

#[test]
fn tuspyserver_takes_an_upload_cut_six_times_byte_exact() {
    if !have_tuspy() {
        return;
    }
    let dir = support::scratch("upload-tuspy");
    let (server, store) = start_tuspy(&dir);
    let expires = through_cuts_to(&server, &store, &dir, "tuspy");
    assert!(
        expires,
        "tuspyserver keeps uploads days_to_keep days: Upload-Expires"
    );
}
