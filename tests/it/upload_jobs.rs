//! Upload jobs, stage 2 of issue 25: the resumable-upload transports of
//! `tests/it/upload.rs`, now driven by the job calls a user makes
//! (`Manager::create_job_of_type`, `add_files`, `resume`, `wait`,
//! `complete`) with the job's lifecycle, retries and state directory.
//! Against the real third-party tus servers, and qmgr's own upload server
//! for cuts, a stalled request that a SIGKILL ends, and the draft's reply.

use crate::support;
use crate::upload::{assert_same_bytes, have_tuspy, start_tuspy, tus_node, Process};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{ErrorContext, FileSpec, Job, JobState, JobType, Manager, UploadProtocol};
use support::http_server::patterned;
use support::upload_server::{Fault, UploadServer};
use support::{wait, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

/// A suspended upload job of `kind` from `file` to `url`, retrying after 1 s.
pub(crate) fn upload_job(manager: &Manager, kind: JobType, url: &str, file: &Path) -> Job {
    let job = manager.create_job_of_type("upload", kind).unwrap();
    job.add_files(&[FileSpec::new(url, file.to_str().unwrap())])
        .unwrap();
    job.set_min_retry_delay(1).unwrap();
    job
}

/// Resumes `job` and waits until it is TRANSFERRED (or fails with its error).
fn run_to_transferred(job: &Job) {
    job.resume().unwrap();
    assert_eq!(wait(job, LIMIT), JobState::Transferred, "{:?}", job.error());
}

/// A file of `size` patterned bytes in `dir`.
pub(crate) fn local_file(dir: &Path, name: &str, size: usize, seed: u32) -> PathBuf {
    let file = dir.join(name);
    std::fs::write(&file, patterned(size, seed)).unwrap();
    file
}

/// Runs an upload job to a real tus server whose files live in `store`:
/// TRANSFERRED with every byte confirmed, ACKNOWLEDGED by `complete`
/// (which moves nothing), and the server's copy byte-exact.
fn job_to_real_server(server: &Process, store: &Path, dir: &Path) {
    let file = local_file(dir, "logs.tar", 3 * 1024 * 1024 + 99, 51);
    let manager = Manager::open(None).unwrap();
    let url = format!("http://127.0.0.1:{}/files/", server.port);
    let job = upload_job(&manager, JobType::Upload, &url, &file);
    assert_eq!(job.job_type(), JobType::Upload);
    assert_eq!(job.upload_protocol().unwrap(), UploadProtocol::Tus);
    run_to_transferred(&job);
    let p = job.progress();
    assert_eq!(p.bytes_total, Some(3 * 1024 * 1024 + 99));
    assert_eq!(p.bytes_transferred, 3 * 1024 * 1024 + 99);
    assert_eq!((p.files_total, p.files_transferred), (1, 1));
    assert_eq!(job.complete().unwrap(), HResult(QM_S_OK));
    assert_eq!(job.state(), JobState::Acknowledged);
    assert!(file.exists(), "the local file stays where it is");
    // The server's copy: the one file of that length in its store.
    let stored: Vec<PathBuf> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.metadata().unwrap().len() == 3 * 1024 * 1024 + 99)
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_same_bytes(&stored[0], &file);
}

#[test]
fn an_upload_job_sends_its_file_to_tus_node_byte_exact() {
    let Some(script) = tus_node() else { return };
    let dir = support::scratch("upload-job-node");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    let server = Process::start("node", &[script.to_str().unwrap(), store.to_str().unwrap()]);
    job_to_real_server(&server, &store, &dir);
}

#[test]
fn an_upload_job_sends_its_file_to_tuspyserver_byte_exact() {
    if !have_tuspy() {
        return;
    }
    let dir = support::scratch("upload-job-tuspy");
    let (server, store) = start_tuspy(&dir);
    job_to_real_server(&server, &store, &dir);
}

/// Cuts in the creation and in two PATCHes: each is a transient error,
/// retried after the job's retry delay from what the server confirmed
/// (asked with HEAD), and the upload ends byte-exact without sending the
/// file twice.
#[test]
fn a_job_cut_mid_upload_retries_and_ends_byte_exact() {
    let dir = support::scratch("upload-job-cuts");
    let server = UploadServer::start(&dir.join("server"));
    let size = 3 * 1024 * 1024 + 4321;
    let file = local_file(&dir, "dump.bin", size, 61);
    server.script("POST", vec![Fault::CutAfter(0)]);
    server.script(
        "PATCH",
        vec![Fault::CutAfter(1_000_000), Fault::CutAfter(777_777)],
    );
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(&job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(job.status().num_retries, 3, "one retry per cut");
    assert_eq!(job.progress().bytes_transferred, size as u64);
    assert!(
        server.received() < 2 * size as u64,
        "resumed, not restarted"
    );
    let heads = server.seen().iter().filter(|r| r.method == "HEAD").count();
    assert_eq!(heads, 2, "each resume asked the server");
    let url = upload_url(&server);
    let (stored, _, complete) = server.stored(&url);
    assert!(complete);
    assert_same_bytes(&stored, &file);
    job.complete().unwrap();
}

/// Waits through TRANSIENT_ERROR (retried by the job) until the job
/// settles.
pub(crate) fn wait_for_end(job: &Job) -> JobState {
    loop {
        let state = wait(job, LIMIT);
        if state != JobState::TransientError {
            return state;
        }
    }
}

/// The URL of the one upload the server created.
pub(crate) fn upload_url(server: &UploadServer) -> String {
    let created = server
        .seen()
        .into_iter()
        .find(|r| r.method == "PATCH" || r.method == "HEAD")
        .expect("a request to the upload");
    server.url(&created.path)
}

#[test]
fn an_upload_job_holds_one_file_and_refuses_download_options() {
    let dir = support::scratch("upload-job-one");
    let file = local_file(&dir, "a.bin", 10, 1);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, "http://127.0.0.1:9/up/", &file);
    let second = job.add_files(&[FileSpec::new(
        "http://127.0.0.1:9/up/",
        file.to_str().unwrap(),
    )]);
    assert_eq!(second.unwrap_err().code, HResult(QM_BG_E_TOO_MANY_FILES));
    assert_eq!(job.file_count(), 1);
    for refused in [
        job.set_dynamic_content(true),
        job.set_max_download_size(5),
        job.set_reply_file_name(Some(dir.join("r").to_str().unwrap())),
    ] {
        let code = refused.unwrap_err().code;
        assert!(
            code == HResult(QM_E_INVALIDARG) || code == HResult(QM_E_NOTIMPL),
            "{code:?}"
        );
    }
    assert_eq!(job.reply_data().unwrap_err().code, HResult(QM_E_NOTIMPL));
    // A missing local file is refused when it is added.
    let empty = manager.create_job_of_type("e", JobType::Upload).unwrap();
    let missing = dir.join("missing.bin");
    let err = empty
        .add_files(&[FileSpec::new(
            "http://127.0.0.1:9/up/",
            missing.to_str().unwrap(),
        )])
        .unwrap_err();
    assert_eq!(err.code, HResult(QM_E_FILE_NOT_FOUND));
    // An upload-reply job speaks the draft; tus has no reply.
    let reply = manager
        .create_job_of_type("r", JobType::UploadReply)
        .unwrap();
    assert_eq!(reply.upload_protocol().unwrap(), UploadProtocol::Rufh);
    let tus = reply.set_upload_protocol(UploadProtocol::Tus).unwrap_err();
    assert_eq!(tus.code, HResult(QM_E_INVALIDARG));
    assert!(tus.message.contains("tus"), "{}", tus.message);
    // A download has no upload calls.
    let download = manager.create_job("d").unwrap();
    assert_eq!(download.job_type(), JobType::Download);
    let err = download
        .set_upload_protocol(UploadProtocol::Rufh)
        .unwrap_err();
    assert_eq!(err.code, HResult(QM_E_NOTIMPL));
}

/// The file changes between two attempts: the job stops in ERROR with
/// BITS's code, in the local file's context, instead of sending a mix of
/// two versions.
#[test]
fn a_local_file_changed_mid_upload_puts_the_job_in_error() {
    let dir = support::scratch("upload-job-changed");
    let server = UploadServer::start(&dir.join("server"));
    let file = local_file(&dir, "capture.bin", 2 * 1024 * 1024, 71);
    server.script("PATCH", vec![Fault::CutAfter(500_000)]);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    job.set_min_retry_delay(3600).unwrap();
    job.resume().unwrap();
    wait_until("the cut", LIMIT, || job.state() == JobState::TransientError);
    std::fs::OpenOptions::new()
        .append(true)
        .open(&file)
        .unwrap()
        .write_all(b"more")
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Error);
    let error = job.error().unwrap();
    assert_eq!(error.code, HResult(QM_BG_E_LOCAL_FILE_CHANGED));
    assert_eq!(error.context, ErrorContext::LocalFile);
    job.cancel().unwrap();
}

/// An upload-reply job over the draft: the server's final response lands
/// in memory (`reply_data`) or in the reply file, with its progress.
#[test]
fn an_upload_reply_lands_in_memory_and_in_a_file() {
    let dir = support::scratch("upload-job-reply");
    reply_in_memory_and_in_a_file(&Manager::open(None).unwrap(), &dir);
}

/// The upload-reply checks, on an in-process `manager` or a connected one
/// (`daemon_uploads`): they must give the same answers.
pub(crate) fn reply_in_memory_and_in_a_file(manager: &Manager, dir: &Path) {
    let server = UploadServer::start(&dir.join("server"));
    let size = 700 * 1024 + 5;
    let file = local_file(dir, "diag.tar", size, 13);
    let expected = format!("\"size\":{size}");

    let job = upload_job(manager, JobType::UploadReply, &server.url("/rufh/"), &file);
    assert_eq!(job.job_type(), JobType::UploadReply);
    assert_eq!(job.upload_protocol().unwrap(), UploadProtocol::Rufh);
    assert_eq!(
        job.set_upload_protocol(UploadProtocol::Tus)
            .unwrap_err()
            .code,
        HResult(QM_E_INVALIDARG),
        "tus has no reply"
    );
    assert_eq!(job.reply_file_name().unwrap(), None);
    assert_eq!(job.reply_progress().unwrap().bytes_total, None);
    assert_eq!(
        job.reply_data().unwrap_err().code,
        HResult(QM_BG_E_INVALID_STATE)
    );
    run_to_transferred(&job);
    let reply = String::from_utf8(job.reply_data().unwrap()).unwrap();
    assert!(reply.contains(&expected), "{reply}");
    let p = job.reply_progress().unwrap();
    assert_eq!(p.bytes_total, Some(reply.len() as u64));
    assert_eq!(p.bytes_transferred, reply.len() as u64);
    job.complete().unwrap();
    assert_eq!(
        job.reply_data().unwrap(),
        reply.as_bytes(),
        "readable after complete"
    );

    let into = dir.join("reply.json");
    let job = upload_job(manager, JobType::UploadReply, &server.url("/rufh/"), &file);
    job.set_reply_file_name(Some(into.to_str().unwrap()))
        .unwrap();
    assert_eq!(
        job.reply_file_name().unwrap().as_deref(),
        Some(into.as_path())
    );
    run_to_transferred(&job);
    let written = std::fs::read_to_string(&into).unwrap();
    assert!(written.contains(&expected), "{written}");
    assert_eq!(job.reply_data().unwrap(), written.as_bytes());
    assert_eq!(
        support::temp_files(dir).len(),
        0,
        "no temporary file is left"
    );
    job.complete().unwrap();
    assert_eq!(std::fs::read_to_string(&into).unwrap(), written);
}

/// A client process (`ctests/upload.c child`) is killed with SIGKILL in
/// the middle of an upload; this process opens its state directory and
/// the job goes on from what the server confirmed, asked with HEAD.
#[cfg(feature = "state")]
#[test]
fn a_sigkilled_client_is_resumed_by_a_new_process_byte_exact() {
    let dir = support::scratch("upload-job-sigkill");
    let server = UploadServer::start(&dir.join("server"));
    // Two pieces of 16 MiB: the second stalls, and the kill comes then.
    let size = 20 * 1024 * 1024 + 7;
    let file = local_file(&dir, "core.dump", size, 81);
    let piece = 16 * 1024 * 1024;
    server.script("PATCH", vec![Fault::Honest, Fault::StallAfter(100_000)]);
    let state = dir.join("state");
    let exe = support::compile("upload.c", support::Build::Plain, &dir);
    let url = server.url("/tus/");
    let mut child = std::process::Command::new(&exe)
        .args([
            "child",
            state.to_str().unwrap(),
            &url,
            file.to_str().unwrap(),
        ])
        .spawn()
        .unwrap();
    // A request is seen when it starts: the second PATCH began, so the
    // first one's answer was taken (and recorded) by the child.
    wait_until("the second piece", LIMIT, || {
        server.seen().iter().filter(|r| r.method == "PATCH").count() == 2
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let manager = Manager::open(Some(&state)).unwrap();
    let jobs = manager.jobs().unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.job_type(), JobType::Upload);
    assert!(
        job.progress().bytes_transferred >= piece,
        "the first piece was recorded"
    );
    assert_eq!(
        wait_for_end(job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    let heads = server.seen().iter().filter(|r| r.method == "HEAD").count();
    assert!(heads >= 1, "the new process asked the server");
    assert!(
        server.received() < size as u64 + piece,
        "resumed, not restarted"
    );
    let (stored, _, complete) = server.stored(&upload_url(&server));
    assert!(complete);
    assert_same_bytes(&stored, &file);
    job.complete().unwrap();
}

/// `ctests/upload.c`: upload and upload-reply jobs through the C API.
#[test]
fn the_c_api_runs_upload_and_upload_reply_jobs() {
    let dir = support::scratch("upload-job-c");
    let server = UploadServer::start(&dir.join("server"));
    let file = local_file(&dir, "c.bin", 1024 * 1024 + 3, 91);
    // A second server whose replies are over 1 MiB (QM_MAX_REPLY_DATA).
    let big = UploadServer::start(&dir.join("big"));
    big.pad_replies((1 << 20) + 10);
    let exe = support::compile("upload.c", support::Build::Plain, &dir);
    support::run_with_env(
        &exe,
        &[
            "all",
            &server.url("/tus/"),
            &server.url("/rufh/"),
            file.to_str().unwrap(),
            dir.to_str().unwrap(),
            &big.url("/rufh/"),
        ],
        &[],
        LIMIT,
    );
    let uploads = server.seen().iter().filter(|r| r.method == "POST").count();
    assert_eq!(uploads, 2, "one upload job and one upload-reply job");
}

/// Runs the `qmgr` command line; returns its exit status, stdout and stderr.
fn qmgr_cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(support::qmgr_bin())
        .args(args)
        .env_remove("QMGR_STATE")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `qmgr upload FILE URL --json` (tus, with a cut retried), `qmgr upload
/// --protocol rufh --reply PATH`, and `qmgr create --upload`.
#[cfg(feature = "state")]
#[test]
fn the_cli_uploads_a_file_and_creates_upload_jobs() {
    let dir = support::scratch("upload-job-cli");
    let server = UploadServer::start(&dir.join("server"));
    let size = 1024 * 1024 + 17;
    let file = local_file(&dir, "report.bin", size, 33);
    server.script("PATCH", vec![Fault::CutAfter(300_000)]);
    let (ok, out, err) = qmgr_cli(&[
        "upload",
        file.to_str().unwrap(),
        &server.url("/tus/"),
        "--min-retry-delay",
        "1",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "upload");
    assert_eq!(v["upload_protocol"], "tus");
    assert_eq!(v["state"], "ACKNOWLEDGED");
    assert_eq!(v["bytes_transferred"], size as u64);
    assert_eq!(v["retries"], 1, "the cut was retried");
    let (stored, _, complete) = server.stored(&upload_url(&server));
    assert!(complete);
    assert_same_bytes(&stored, &file);

    let reply = dir.join("reply.json");
    let (ok, _, err) = qmgr_cli(&[
        "upload",
        "--protocol",
        "rufh",
        "--reply",
        reply.to_str().unwrap(),
        "--quiet",
        file.to_str().unwrap(),
        &server.url("/rufh/"),
    ]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&reply).unwrap();
    assert!(text.contains(&format!("\"size\":{size}")), "{text}");
    // tus has no reply: refused before anything is sent.
    let (ok, _, err) = qmgr_cli(&[
        "upload",
        "--reply",
        reply.to_str().unwrap(),
        file.to_str().unwrap(),
        &server.url("/tus/"),
    ]);
    assert!(!ok);
    assert!(
        err.contains("QM_E_INVALIDARG") && err.contains("tus"),
        "{err}"
    );

    let state = dir.join("state");
    let (ok, id, err) = qmgr_cli(&[
        "--state",
        state.to_str().unwrap(),
        "create",
        "--upload",
        "u",
    ]);
    assert!(ok, "{err}");
    let (ok, _, err) = qmgr_cli(&[
        "--state",
        state.to_str().unwrap(),
        "add",
        id.trim(),
        &server.url("/tus/"),
        file.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    let (ok, out, err) = qmgr_cli(&[
        "--state",
        state.to_str().unwrap(),
        "info",
        id.trim(),
        "--json",
    ]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["type"], "upload");
    assert_eq!(v["files"][0]["local"], file.to_str().unwrap());
}

/// The job's bandwidth limit paces an upload as it paces a download.
#[test]
fn an_upload_keeps_to_the_jobs_bandwidth_limit() {
    let dir = support::scratch("upload-job-limit");
    let server = UploadServer::start(&dir.join("server"));
    let size = 1024 * 1024;
    let file = local_file(&dir, "slow.bin", size, 5);
    let manager = Manager::open(None).unwrap();
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    job.set_max_bandwidth(512 * 1024).unwrap();
    let started = std::time::Instant::now();
    run_to_transferred(&job);
    let took = started.elapsed();
    // 1 MiB at 512 KiB/s: about 2 s (the bucket's first burst aside).
    assert!(took >= Duration::from_millis(1500), "{took:?}");
    job.complete().unwrap();
}
