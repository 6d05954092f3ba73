//! Upload jobs against faults, the rest of issue 25's test list at job
//! level (the transports alone meet the same faults in `upload.rs`): a
//! cut in a HEAD, a 409, a damaged piece (tus 460), a server that lost
//! the upload, a cancel that terminates the upload on the server, a real
//! server (`@tus/server`) restarted in the middle of a job, and a 4 GiB
//! sparse file whose offsets pass 2^32. Each job runs through the calls
//! a user makes (`resume`, `wait`, `cancel`) with its own retries, and
//! every upload that ends is compared byte for byte with the server's
//! disk.

use crate::support;
use crate::upload::{assert_same_bytes, tus_node, Process};
use crate::upload_jobs::{local_file, upload_job, upload_url, wait_for_end};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{JobState, JobType, Manager};
use support::http_server::patterned;
use support::upload_server::{Fault, Seen, UploadServer};
use support::wait_until;

const LIMIT: Duration = Duration::from_secs(60);
/// The piece a job sends when nothing bounds it (`DEFAULT_CHUNK`).
const PIECE: u64 = 16 * 1024 * 1024;

fn patches(seen: &[Seen]) -> Vec<&Seen> {
    seen.iter().filter(|r| r.method == "PATCH").collect()
}

/// A cut in a PATCH (a transient error the job retries), then a cut in
/// the HEAD that asks where to go on (sent again at once), then a 409
/// (the job asks again with HEAD, within the same attempt) and a damaged
/// piece (460: the same piece goes again, with the same checksum). The upload ends
/// byte-exact, with nothing sent twice but the refused pieces.
#[test]
fn a_job_goes_on_after_a_cut_head_a_conflict_and_a_damaged_piece() {
    let dir = support::scratch("upload-job-faults");
    let server = UploadServer::start(&dir.join("server"));
    let size = 2 * PIECE as usize + 12_345;
    let file = local_file(&dir, "faults.bin", size, 91);
    server.script(
        "PATCH",
        vec![
            Fault::CutAfter(1_000_000),
            Fault::Conflict,
            Fault::DamagedBody,
        ],
    );
    // The first HEAD (after the PATCH's cut) is cut in its turn.
    server.script("HEAD", vec![Fault::CutAfter(0)]);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(server.faults_left("PATCH") + server.faults_left("HEAD"), 0);
    // The PATCH's cut is a failed attempt, retried after the retry delay;
    // the HEAD went on a connection kept from the attempt's OPTIONS, and
    // a request that may be repeated (HEAD, OPTIONS, DELETE) is sent
    // again at once on a new connection when a kept one was cut.
    assert_eq!(job.status().num_retries, 1);
    assert_eq!(job.progress().bytes_transferred, size as u64);

    let seen = server.seen();
    let methods: Vec<&str> = seen
        .iter()
        .filter(|r| r.method != "OPTIONS")
        .map(|r| r.method.as_str())
        .collect();
    // POST, PATCH (cut), HEAD (cut), HEAD, PATCH (409), HEAD, PATCH (460),
    // PATCH (the same piece again), then the rest.
    assert_eq!(
        &methods[..8],
        ["POST", "PATCH", "HEAD", "HEAD", "PATCH", "HEAD", "PATCH", "PATCH"],
        "{methods:?}"
    );
    let p = patches(&seen);
    let offset = |r: &Seen| r.header("upload-offset").unwrap().to_string();
    assert_eq!(offset(p[1]), "1000000", "resumed where the server was");
    assert_eq!(offset(p[2]), "1000000", "asked again after the 409");
    assert_eq!(offset(p[3]), "1000000", "the damaged piece went again");
    assert_eq!(
        p[2].header("upload-checksum"),
        p[3].header("upload-checksum"),
        "the same bytes, the same checksum"
    );
    assert!(p[2].header("upload-checksum").is_some());
    let (stored, _, complete) = server.stored(&upload_url(&server));
    assert!(complete);
    assert_same_bytes(&stored, &file);
    // Refused: the 409's piece (read aside) and the damaged one.
    let pieces_refused = 2 * PIECE;
    assert!(
        server.received() <= size as u64 + 1_000_000 + pieces_refused,
        "resumed, not restarted: {} bytes received",
        server.received()
    );
    job.complete().unwrap();
}

/// The server lost the upload (its HEAD answers 404) between two
/// attempts: the job starts again with a new creation, from byte 0, and
/// ends byte-exact in the new upload.
#[test]
fn a_job_whose_upload_the_server_lost_creates_it_anew() {
    let dir = support::scratch("upload-job-lost");
    let server = UploadServer::start(&dir.join("server"));
    let size = PIECE as usize + 54_321;
    let file = local_file(&dir, "lost.bin", size, 93);
    server.script("PATCH", vec![Fault::CutAfter(2_000_000)]);
    server.script("HEAD", vec![Fault::LoseUploads]);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(job.status().num_retries, 1);
    let seen = server.seen();
    let posts = seen.iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 2, "a new creation after the 404");
    let p = patches(&seen);
    let first = p[0].path.clone();
    let again = p.iter().find(|r| r.path != first).expect("a new upload");
    assert_eq!(again.header("upload-offset"), Some("0"), "from the start");
    let url = server.url(&again.path);
    assert!(!server.holds(&server.url(&first)), "the lost one is gone");
    let (stored, offset, complete) = server.stored(&url);
    assert_eq!((offset, complete), (size as u64, true));
    assert_same_bytes(&stored, &file);
    assert_eq!(job.progress().bytes_transferred, size as u64);
    job.complete().unwrap();
}

/// Cancelling a job in the middle of its upload ends the upload on the
/// server too (tus termination, the draft's cancellation): the server
/// sees a DELETE of the upload URL and no longer holds it.
#[test]
fn cancelling_an_upload_job_deletes_the_upload_on_the_server() {
    let dir = support::scratch("upload-job-cancel");
    let server = UploadServer::start(&dir.join("server"));
    let size = 2 * PIECE as usize + 1000;
    let file = local_file(&dir, "cancel.bin", size, 95);
    let manager = Manager::open(None).unwrap();
    for (i, path) in ["/tus/", "/rufh/"].into_iter().enumerate() {
        // The first piece is confirmed, the second stalls: the job is
        // TRANSFERRING when it is cancelled.
        // (The draft's creation carries the first piece, tus's does not.)
        if path == "/tus/" {
            server.script("PATCH", vec![Fault::Honest, Fault::StallAfter(10_000)]);
        } else {
            server.script("PATCH", vec![Fault::StallAfter(10_000)]);
        }
        let job = upload_job(&manager, JobType::Upload, &server.url(path), &file);
        if path == "/rufh/" {
            job.set_upload_protocol(qmgr::UploadProtocol::Rufh).unwrap();
        }
        job.resume().unwrap();
        wait_until("the stalled piece", LIMIT, || {
            server.faults_left("PATCH") == 0
                && server
                    .seen()
                    .iter()
                    .filter(|r| r.method == "PATCH" && r.path.starts_with(path))
                    .count()
                    >= 1
        });
        assert_eq!(job.progress().bytes_transferred, PIECE, "{path}");
        assert_eq!(job.state(), JobState::Transferring);
        let url = upload_url_under(&server, path);
        assert!(server.holds(&url));
        assert_eq!(job.cancel().unwrap(), HResult(QM_S_OK));
        assert_eq!(job.state(), JobState::Cancelled);
        wait_until("the DELETE", LIMIT, || {
            server
                .seen()
                .iter()
                .any(|r| r.method == "DELETE" && server.url(&r.path) == url)
        });
        assert!(!server.holds(&url), "{path}: the upload is gone");
        let deletes = server
            .seen()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count();
        assert_eq!(deletes, i + 1, "one DELETE per cancel");
    }
}

/// Cancelling an upload job once the server confirmed the whole file
/// (TRANSFERRED) leaves the upload there, as BITS's Cancel-Session has no
/// effect after the last fragment: no DELETE. (Checked against a second
/// job cancelled mid-upload afterwards, whose DELETE the server sees: the
/// first job's would have been sent before it.)
#[test]
fn cancelling_a_transferred_upload_job_leaves_the_upload_on_the_server() {
    let dir = support::scratch("upload-job-cancel-done");
    let server = UploadServer::start(&dir.join("server"));
    let manager = Manager::open(None).unwrap();
    let small = local_file(&dir, "done.bin", 100_000, 103);
    let done = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &small);
    done.resume().unwrap();
    assert_eq!(wait_for_end(&done), JobState::Transferred);
    let url = upload_url(&server);
    assert_eq!(done.cancel().unwrap(), HResult(QM_S_OK));
    assert_eq!(done.state(), JobState::Cancelled);

    let big = local_file(&dir, "stopped.bin", 2 * PIECE as usize, 105);
    server.script("PATCH", vec![Fault::StallAfter(10_000)]);
    let stopped = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &big);
    stopped.resume().unwrap();
    wait_until("the stalled piece", LIMIT, || {
        server.faults_left("PATCH") == 0
    });
    stopped.cancel().unwrap();
    wait_until("the second job's DELETE", LIMIT, || {
        server.seen().iter().any(|r| r.method == "DELETE")
    });
    let deleted: Vec<String> = server
        .seen()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| server.url(&r.path))
        .collect();
    assert!(!deleted.contains(&url), "{deleted:?}");
    assert!(server.holds(&url), "the finished upload stays");
    let (stored, _, complete) = server.stored(&url);
    assert!(complete);
    assert_same_bytes(&stored, &small);
}

/// The URL of the upload the server created under `path`.
fn upload_url_under(server: &UploadServer, path: &str) -> String {
    let created = server
        .seen()
        .into_iter()
        .find(|r| (r.method == "PATCH" || r.method == "HEAD") && r.path.starts_with(path))
        .expect("a request to the upload");
    server.url(&created.path)
}

/// The uploads in a tus server's `store`: each one's bytes are in a file
/// named by its id (beside a `.json` or `.info` file of its metadata).
fn uploads_in(store: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_none())
        .collect();
    files.sort();
    files
}

/// A real server (`@tus/server` with `@tus/file-store`) is killed in the
/// middle of a job, once it confirmed the first piece, and started again
/// on the same port and store: the job's retries meet a refused
/// connection until it is back, then ask it (HEAD) where the upload is
/// and send only the rest; the one upload on its disk is byte-exact.
///
/// Not tuspyserver: stopped mid-piece (SIGKILL, and also SIGTERM under
/// uvicorn), its store keeps bytes past the offset it then reports, and
/// its next append lands after them, so the upload on its disk is longer
/// than the file whatever the client sends (seen in CI: 128 KiB more).
#[test]
fn a_job_goes_on_when_a_real_tus_server_is_restarted_mid_upload() {
    let Some(script) = tus_node() else { return };
    let dir = support::scratch("upload-job-node-restart");
    restarted_mid_job("node", script.to_str().unwrap(), &dir);
}

/// Runs `program script STORE [PORT]` (a tus server printing its port),
/// kills it mid-job and starts it again on the same port and store.
fn restarted_mid_job(program: &str, script: &str, dir: &Path) {
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let store_arg = store.to_str().unwrap();
    let server = Process::start(program, &[script, store_arg]);
    let port = server.port;
    let size = 3 * PIECE as usize + 777;
    let file = local_file(dir, "restart.bin", size, 97);
    let manager = Manager::open(None).unwrap();
    let url = format!("http://127.0.0.1:{port}/files/");
    let job = upload_job(&manager, JobType::Upload, &url, &file);
    // Slow enough that the kill comes within the upload: 8 MiB/s.
    job.set_max_bandwidth(8 * 1024 * 1024).unwrap();
    job.resume().unwrap();
    wait_until("the first piece", LIMIT, || {
        job.progress().bytes_transferred >= PIECE
    });
    drop(server); // SIGKILL, and waited for
    let confirmed = job.progress().bytes_transferred;
    assert!(confirmed < size as u64, "killed mid-upload: {confirmed}");
    wait_until("a failed attempt", LIMIT, || {
        job.state() == JobState::TransientError
    });
    let _again = Process::start(program, &[script, store_arg, &port.to_string()]);
    job.set_max_bandwidth(0).unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(job.progress().bytes_transferred, size as u64);
    let uploads = uploads_in(&store);
    assert_eq!(uploads.len(), 1, "resumed, not created anew: {uploads:?}");
    assert_same_bytes(&uploads[0], &file);
    job.complete().unwrap();
}

/// A sparse file of 4 GiB and a little more (patterned bytes at its
/// start, across 2^32 and at its end; holes elsewhere), uploaded by a job
/// over tus with SHA-256 checksums to qmgr's server, which keeps zeros as
/// holes: the piece that starts at 2^32 is cut, and the job's retry asks
/// the server (HEAD) and sends the rest from above 2^32. The copy on the
/// server's disk is byte-exact (every byte of either file's data
/// extents compared; the rest is holes in both).
#[test]
fn a_job_uploads_a_4_gib_sparse_file_past_2_pow_32_byte_exact() {
    let dir = support::scratch("upload-job-4gib");
    let server = UploadServer::start(&dir.join("server"));
    let file = dir.join("disk.img");
    let size: u64 = (4 << 30) + (5 << 20) + 3;
    {
        let f = std::fs::File::create(&file).unwrap();
        f.set_len(size).unwrap();
        use std::os::unix::fs::FileExt;
        for (at, seed) in [
            (0u64, 7u32),
            ((1 << 32) - (1 << 20), 8),
            (size - 999_999, 9),
        ] {
            let len = (size - at).min(3 << 20) as usize;
            f.write_all_at(&patterned(len, seed), at).unwrap();
        }
    }
    // The piece that goes past 2^32 + 3,000,000 is cut there.
    server.script("PATCH", vec![Fault::CutPast((1 << 32) + 3_000_000)]);
    let started = Instant::now();
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    job.resume().unwrap();
    let end = loop {
        let state = job.wait(Some(Duration::from_secs(600))).unwrap();
        match state {
            Some(JobState::TransientError) => continue,
            Some(s) => break s,
            None => panic!("the 4 GiB upload did not end in 10 minutes"),
        }
    };
    assert_eq!(end, JobState::Transferred, "{:?}", job.error());
    eprintln!("4 GiB upload job: {:?}", started.elapsed());
    assert_eq!(job.status().num_retries, 1);
    assert_eq!(job.progress().bytes_transferred, size);
    let seen = server.seen();
    let p = patches(&seen);
    assert!(
        p.iter()
            .any(|r| r.header("upload-offset") == Some("4297967296")),
        "resumed above 2^32 where the server was"
    );
    let last = p.last().unwrap();
    let from: u64 = last.header("upload-offset").unwrap().parse().unwrap();
    assert_eq!(from + last.body_len, size, "the last piece ends the file");
    let (stored, offset, complete) = server.stored(&upload_url(&server));
    assert_eq!((offset, complete), (size, true));
    assert_same_sparse_bytes(&stored, &file);
    job.complete().unwrap();
}

/// The data extents of `file` (`SEEK_DATA`/`SEEK_HOLE`): everything else
/// in it is a hole, which reads as zeros.
fn data_extents(file: &std::fs::File) -> Vec<(u64, u64)> {
    use std::os::unix::io::AsRawFd;
    let len = file.metadata().unwrap().len() as i64;
    let fd = file.as_raw_fd();
    let mut extents = Vec::new();
    let mut at = 0i64;
    while at < len {
        // SAFETY: lseek on an open descriptor; no memory is touched.
        let start = unsafe { libc::lseek(fd, at, libc::SEEK_DATA) };
        if start < 0 {
            break; // ENXIO: no data after `at`
        }
        // SAFETY: as above.
        let end = unsafe { libc::lseek(fd, start, libc::SEEK_HOLE) };
        assert!(end > start, "SEEK_HOLE after {start}");
        extents.push((start as u64, end as u64));
        at = end;
    }
    extents
}

/// `assert_same_bytes` for sparse files, without reading their holes:
/// every byte in the data extents of either file is compared; outside
/// them both files are holes, zeros in both.
fn assert_same_sparse_bytes(stored: &Path, expected: &Path) {
    use std::os::unix::fs::FileExt;
    let (a, b) = (
        std::fs::File::open(stored).unwrap(),
        std::fs::File::open(expected).unwrap(),
    );
    assert_eq!(a.metadata().unwrap().len(), b.metadata().unwrap().len());
    let mut extents = data_extents(&a);
    extents.extend(data_extents(&b));
    extents.sort_unstable();
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut compared = 0u64;
    for (start, end) in extents {
        let mut at = start.max(compared);
        while at < end {
            let n = (end - at).min(1 << 20) as usize;
            a.read_exact_at(&mut x[..n], at).unwrap();
            b.read_exact_at(&mut y[..n], at).unwrap();
            assert!(x[..n] == y[..n], "the bytes differ in the MiB from {at}");
            at += n as u64;
        }
        compared = compared.max(end);
    }
}

/// A reply over 1 MiB for a job that keeps its reply in memory: as BITS
/// does (`GetReplyData` answers `BG_E_TOO_LARGE`, the reply is read from
/// the reply file, named beside the uploaded file when the caller named
/// none), the job ends TRANSFERRED, `reply_data` answers
/// `QM_BG_E_TOO_LARGE`, and `reply_file_name` names the file that holds
/// the whole reply. A reply of exactly 1 MiB still stays in memory.
#[test]
fn a_reply_over_1_mib_goes_to_a_reply_file_beside_the_local_file() {
    let dir = support::scratch("upload-job-big-reply");
    reply_over_1_mib(&Manager::open(None).unwrap(), &dir);
}

/// The checks of a reply over 1 MiB, on an in-process `manager` or a
/// connected one (`daemon_uploads`): the same answers.
pub(crate) fn reply_over_1_mib(manager: &Manager, dir: &Path) {
    let server = UploadServer::start(&dir.join("server"));
    let size = 300 * 1024 + 3;
    let file = local_file(dir, "report.tar", size, 99);
    let json = |id: &str| format!("{{\"id\":\"{id}\",\"size\":{size}}}").len() as u64;
    let mib: u64 = 1 << 20; // GetReplyData's limit, QM_MAX_REPLY_DATA

    // Exactly 1 MiB: in memory.
    server.pad_replies(mib - json("u1"));
    let job = upload_job(manager, JobType::UploadReply, &server.url("/rufh/"), &file);
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(job.reply_data().unwrap().len() as u64, mib);
    assert_eq!(job.reply_file_name().unwrap(), None);
    job.complete().unwrap();

    // One byte more: in a file beside the local file.
    server.pad_replies(mib + 1 - json("u2"));
    let job = upload_job(manager, JobType::UploadReply, &server.url("/rufh/"), &file);
    assert_eq!(job.reply_file_name().unwrap(), None);
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    let err = job.reply_data().unwrap_err();
    assert_eq!(err.code, HResult(QM_BG_E_TOO_LARGE), "{err:?}");
    let named = job.reply_file_name().unwrap().expect("the reply file");
    assert_eq!(named.parent(), file.parent(), "beside the local file");
    assert!(
        err.message.contains(&named.display().to_string()),
        "{err:?}"
    );
    let reply = std::fs::read(&named).unwrap();
    assert_eq!(reply.len() as u64, mib + 1);
    assert!(
        reply.starts_with(b"{\"id\":\"u2\",\"size\":"),
        "the whole reply"
    );
    let p = job.reply_progress().unwrap();
    assert_eq!(
        (p.bytes_total, p.bytes_transferred),
        (Some(mib + 1), mib + 1)
    );
    assert_eq!(support::temp_files(dir).len(), 0, "no temporary file left");
    job.complete().unwrap();
    assert_eq!(std::fs::read(&named).unwrap(), reply, "kept after complete");
}

/// The local file changes while a piece of it is on its way (same size,
/// one byte rewritten: only its mtime tells): once that request ends the
/// job stops in ERROR with BITS's `BG_E_LOCAL_FILE_CHANGED`, in the local
/// file's context, and sends nothing more of either version.
#[test]
fn a_local_file_changed_during_a_request_stops_the_job() {
    use std::os::unix::fs::FileExt;
    let dir = support::scratch("upload-job-changed-during");
    let server = UploadServer::start(&dir.join("server"));
    let size = PIECE as usize + 4096;
    let file = local_file(&dir, "growing.log", size, 101);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    // 16 MiB at 4 MiB/s: the first piece takes about 4 s.
    job.set_max_bandwidth(4 * 1024 * 1024).unwrap();
    job.resume().unwrap();
    wait_until("the first piece on its way", LIMIT, || {
        server.received() > 1024 * 1024
    });
    let before = std::fs::metadata(&file).unwrap().modified().unwrap();
    let changed = std::fs::OpenOptions::new().write(true).open(&file).unwrap();
    // (A coarse clock could give the same mtime: write until it moves.)
    while std::fs::metadata(&file).unwrap().modified().unwrap() == before {
        changed.write_all_at(b"X", 100).unwrap();
        changed.sync_all().unwrap();
    }
    assert_eq!(wait_for_end(&job), JobState::Error);
    let error = job.error().unwrap();
    assert_eq!(error.code, HResult(QM_BG_E_LOCAL_FILE_CHANGED), "{error:?}");
    assert_eq!(error.context, qmgr::ErrorContext::LocalFile);
    let patches = patches(&server.seen()).len();
    assert_eq!(patches, 1, "nothing sent after the change");
    assert_eq!(job.status().num_retries, 0, "stopped by that request");
    assert!(job.progress().bytes_transferred < size as u64);
    job.cancel().unwrap();
}
