//! Upload jobs through qmgrd (issue 25, step 5): a real `qmgrd` on a
//! socket of the test's own, qmgr's own upload server on 127.0.0.1
//! (`support::upload_server`, tus at `/tus/`, the IETF draft at `/rufh/`),
//! and the calls a user makes on a connected manager (`Manager::connect`),
//! which must behave as in-process. The daemon reads an upload's file and
//! writes its reply file with the job owner's rights (as root, checked
//! with the user `nobody`); old clients that send `CreateJob` without a
//! type still get downloads.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::service::codec::decode_job;
use qmgr::service::varlink::errors;
use qmgr::{FileSpec, HResult, Job, JobState, JobType, Manager, UploadProtocol};
use serde_json::{json, Value};

use crate::support;
use crate::upload::assert_same_bytes;
use crate::upload_job_faults::reply_over_1_mib;
use crate::upload_jobs::{
    local_file, reply_in_memory_and_in_a_file, upload_job, upload_url, wait_for_end,
};
use support::daemon::{call, calls_as, system_python, Qmgrd};
use support::upload_server::{Fault, UploadServer};

/// How long anything that must happen may take (it only turns a hang into
/// a failure).
const LIMIT: Duration = Duration::from_secs(60);

fn connect(daemon: &Qmgrd) -> Manager {
    Manager::connect(Some(&format!("unix:{}", daemon.socket.display()))).unwrap()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Resumes `job` and waits, through retried transient errors, until it is
/// TRANSFERRED.
fn run_to_transferred(job: &Job) {
    job.resume().unwrap();
    assert_eq!(
        wait_for_end(job),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
}

#[test]
fn an_upload_job_created_through_qmgrd_sends_its_file_byte_exact() {
    let dir = support::scratch("daemon-upload");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = UploadServer::start(&dir.join("server"));
    let size = 2 * 1024 * 1024 + 777;
    let file = local_file(&dir, "logs.tar", size, 71);
    // A cut in the middle: the daemon's job retries and resumes.
    server.script("PATCH", vec![Fault::CutAfter(900_000)]);
    let manager = connect(&daemon);
    let job = upload_job(&manager, JobType::Upload, &server.url("/tus/"), &file);
    assert_eq!(job.job_type(), JobType::Upload);
    assert_eq!(job.upload_protocol().unwrap(), UploadProtocol::Tus);
    // One file only, as in-process.
    let second = job
        .add_files(&[FileSpec::new(server.url("/tus/"), s(&file))])
        .unwrap_err();
    assert_eq!(second.code, HResult(QM_BG_E_TOO_MANY_FILES));
    // Reply calls are upload-reply's: QM_E_NOTIMPL, as in-process.
    assert_eq!(
        job.set_reply_file_name(Some(s(&dir.join("r"))))
            .unwrap_err()
            .code,
        HResult(QM_E_NOTIMPL)
    );
    assert_eq!(job.reply_data().unwrap_err().code, HResult(QM_E_NOTIMPL));

    // Another process's view of the daemon's job: an upload too.
    let other = connect(&daemon);
    let seen = other.job(&job.id()).unwrap();
    assert_eq!(seen.job_type(), JobType::Upload);
    assert_eq!(seen.upload_protocol().unwrap(), UploadProtocol::Tus);

    run_to_transferred(&job);
    assert_eq!(job.status().num_retries, 1, "one retry for the cut");
    let p = job.progress();
    assert_eq!(p.bytes_total, Some(size as u64));
    assert_eq!(p.bytes_transferred, size as u64);
    assert!(
        server.received() < 2 * size as u64,
        "resumed, not restarted"
    );
    let (stored, _, complete) = server.stored(&upload_url(&server));
    assert!(complete);
    assert_same_bytes(&stored, &file);
    assert_eq!(job.complete().unwrap(), HResult(QM_S_OK));
    assert_eq!(job.state(), JobState::Acknowledged);
    assert!(file.exists(), "the local file stays where it is");

    // The draft, chosen through the daemon, is what the next job speaks.
    let job = upload_job(&manager, JobType::Upload, &server.url("/rufh/"), &file);
    job.set_upload_protocol(UploadProtocol::Rufh).unwrap();
    assert_eq!(job.upload_protocol().unwrap(), UploadProtocol::Rufh);
    run_to_transferred(&job);
    assert!(server
        .seen()
        .iter()
        .any(|r| r.path.starts_with("/rufh/") && r.method == "POST"));
    job.complete().unwrap();
}

/// `upload_jobs`'s upload-reply checks, through the daemon: the reply data
/// comes by `GetReplyData` (and after `complete`, from what the proxy
/// kept), the reply file is written by the daemon.
#[test]
fn an_upload_reply_through_qmgrd_returns_its_data_and_writes_its_file() {
    let dir = support::scratch("daemon-upload-reply");
    let daemon = Qmgrd::start(&dir, &[]);
    reply_in_memory_and_in_a_file(&connect(&daemon), &dir);
}

/// A reply over 1 MiB meant for memory, through the daemon: the daemon
/// writes it, with the owner's rights, to a file beside the local file,
/// and `GetReplyData` answers `QM_BG_E_TOO_LARGE`, as in-process.
#[test]
fn a_reply_over_1_mib_through_qmgrd_goes_to_a_file_beside_the_local_file() {
    let dir = support::scratch("daemon-upload-big-reply");
    let daemon = Qmgrd::start(&dir, &[]);
    reply_over_1_mib(&connect(&daemon), &dir);
}

/// A reply longer than one `GetReplyData` answer (512 KiB) comes whole,
/// in order, through the daemon; the same reply kept by `complete`.
#[test]
fn a_reply_longer_than_one_message_comes_whole_through_qmgrd() {
    let dir = support::scratch("daemon-upload-long-reply");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = UploadServer::start(&dir.join("server"));
    server.pad_replies(900 * 1024);
    let file = local_file(&dir, "small.bin", 1000, 3);
    let manager = connect(&daemon);
    let job = upload_job(&manager, JobType::UploadReply, &server.url("/rufh/"), &file);
    run_to_transferred(&job);
    let reply = job.reply_data().unwrap();
    assert!(reply.starts_with(b"{\"id\":\""), "{:?}", &reply[..40]);
    assert!(reply.len() > 900 * 1024);
    assert!(reply[reply.len() - 1000..].iter().all(|&b| b == b' '));
    assert_eq!(
        job.reply_progress().unwrap().bytes_total,
        Some(reply.len() as u64)
    );
    job.complete().unwrap();
    assert_eq!(job.reply_data().unwrap(), reply);
}

#[test]
fn clients_that_send_no_type_still_create_downloads() {
    let dir = support::scratch("daemon-upload-old-clients");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut client = daemon.client();
    // An old client's CreateJob: a download, whose snapshot an old client
    // reads as before (the new members are optional).
    let created = client.ok("io.qmgr.CreateJob", json!({"display_name": "old"}));
    assert_eq!(created["job"]["type"], 0);
    assert_eq!(created["job"]["upload_protocol"], Value::Null);
    assert_eq!(created["job"]["reply_progress"], Value::Null);
    let id = created["job"]["id"].as_str().unwrap().to_string();
    let e = client.failed(
        "io.qmgr.SetUploadProtocol",
        json!({"id": id, "protocol": 1}),
    );
    assert_eq!(e.code, HResult(QM_E_NOTIMPL), "not an upload job");
    let e = client.failed("io.qmgr.GetReplyData", json!({"id": id}));
    assert_eq!(e.code, HResult(QM_E_NOTIMPL));

    // A snapshot without the members (an older daemon's) reads as a download.
    let mut old = created["job"].clone();
    for member in [
        "type",
        "upload_protocol",
        "reply_file_name",
        "reply_progress",
    ] {
        old.as_object_mut().unwrap().remove(member);
    }
    let job = decode_job(&old, "job").unwrap();
    assert_eq!(job.job_type, JobType::Download);
    assert_eq!(job.upload_protocol, None);

    // With a type: BG_JOB_TYPE's numbers; another number is refused.
    let created = client.ok(
        "io.qmgr.CreateJob",
        json!({"display_name": "new", "type": 2}),
    );
    assert_eq!(created["job"]["type"], 2);
    assert_eq!(
        created["job"]["upload_protocol"],
        UploadProtocol::Rufh as u32
    );
    let refused = client.error(
        "io.qmgr.CreateJob",
        json!({"display_name": "bad", "type": 3}),
        errors::INVALID_PARAMETER,
    );
    assert_eq!(refused["parameter"], "type");

    // And the Rust API's download on a connected manager is a download.
    let manager = connect(&daemon);
    let job = manager.create_job("download").unwrap();
    assert_eq!(job.job_type(), JobType::Download);
    assert_eq!(
        job.upload_protocol().unwrap_err().code,
        HResult(QM_E_NOTIMPL)
    );
}

#[test]
fn the_daemon_uploads_with_the_owners_rights_and_only_for_the_owner() {
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let dir = support::scratch("daemon-upload-rights");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = UploadServer::start(&dir.join("server"));
    let theirs = dir.join("nobody");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let public = local_file(&dir, "public.bin", 300 * 1024 + 1, 5);
    std::fs::set_permissions(&public, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = local_file(&dir, "secret.bin", 4096, 6);
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Readable when added, root's only by the time the job runs.
    let later = local_file(&dir, "later.bin", 4096, 7);
    std::fs::set_permissions(&later, std::fs::Permissions::from_mode(0o644)).unwrap();
    let reply = theirs.join("reply.json");

    // Root's upload-reply job, which nobody must not touch.
    let mut root = daemon.client();
    let roots = root.ok(
        "io.qmgr.CreateJob",
        json!({"display_name": "root's", "type": 2}),
    )["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    let file = |local: &Path, path: &str| json!([{"remote": server.url(path), "local": s(local)}]);
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            // 0-3: a file nobody may not read is refused when added.
            call(
                "io.qmgr.CreateJob",
                json!({"display_name": "steal", "type": 1}),
            ),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": file(&secret, "/tus/")}),
            ),
            call("io.qmgr.Cancel", json!({"id": "$ID"})),
            // 3-9: nobody's upload-reply, its reply file in nobody's directory.
            call(
                "io.qmgr.CreateJob",
                json!({"display_name": "nobody's", "type": 2}),
            ),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": file(&public, "/rufh/")}),
            ),
            call(
                "io.qmgr.SetReplyFileName",
                json!({"id": "$ID", "path": s(&reply)}),
            ),
            call("io.qmgr.Resume", json!({"id": "$ID"})),
            call("io.qmgr.Wait", json!({"id": "$ID", "timeout_ms": 60_000})),
            call("io.qmgr.GetReplyData", json!({"id": "$ID"})),
            call("io.qmgr.Complete", json!({"id": "$ID"})),
            // 10-12: root's job is no job of nobody's.
            call(
                "io.qmgr.SetUploadProtocol",
                json!({"id": roots, "protocol": 1}),
            ),
            call(
                "io.qmgr.SetReplyFileName",
                json!({"id": roots, "path": s(&theirs.join("x"))}),
            ),
            call("io.qmgr.GetReplyData", json!({"id": roots})),
            // 13-14: a job whose file becomes unreadable before it runs.
            call(
                "io.qmgr.CreateJob",
                json!({"display_name": "later", "type": 1}),
            ),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": file(&later, "/tus/")}),
            ),
        ],
    );
    assert_eq!(replies.len(), 15, "{replies:?}");
    let code = |i: usize| replies[i]["parameters"]["code"].clone();
    assert_eq!(replies[1]["error"], "io.qmgr.Failed", "{replies:?}");
    assert_eq!(code(1), QM_E_ACCESSDENIED, "{replies:?}");
    for reply in &replies[3..10] {
        assert!(reply.get("error").is_none(), "{replies:?}");
    }
    assert_eq!(
        replies[7]["parameters"]["state"],
        JobState::Transferred as u32
    );
    let data = qmgr::service::codec::decode_bytes(
        replies[8]["parameters"]["data"].as_str().unwrap(),
        "data",
    )
    .unwrap();
    let written = std::fs::read(&reply).unwrap();
    assert_eq!(data, written);
    assert!(String::from_utf8(written)
        .unwrap()
        .contains(&format!("\"size\":{}", 300 * 1024 + 1)));
    let meta = std::fs::metadata(&reply).unwrap();
    assert_eq!(
        (meta.uid(), meta.gid()),
        (65534, 65534),
        "the reply is nobody's"
    );
    for i in 10..13 {
        assert_eq!(replies[i]["error"], "io.qmgr.Failed", "{replies:?}");
        assert_eq!(code(i), QM_BG_E_NOT_FOUND, "{replies:?}");
    }
    assert_eq!(
        root.job(&roots).reply_file_name,
        None,
        "root's job unchanged"
    );
    assert_eq!(root.job(&roots).upload_protocol, Some(UploadProtocol::Rufh));

    // The daemon (root) could read the file; its owner no longer can.
    let later_id = replies[13]["parameters"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(replies[14].get("error").is_none(), "{replies:?}");
    std::fs::set_permissions(&later, std::fs::Permissions::from_mode(0o600)).unwrap();
    let received = server.received();
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.Resume", json!({"id": later_id})),
            call(
                "io.qmgr.Wait",
                json!({"id": later_id, "timeout_ms": 60_000}),
            ),
            call("io.qmgr.GetJob", json!({"id": later_id})),
        ],
    );
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert_eq!(
        replies[1]["parameters"]["state"],
        JobState::Error as u32,
        "{replies:?}"
    );
    let job = decode_job(&replies[2]["parameters"]["job"], "job").unwrap();
    assert_eq!(job.error.unwrap().code, HResult(QM_E_ACCESSDENIED));
    assert_eq!(server.received(), received, "no byte of it was sent");
}

/// `ctests/upload.c` in the C suite's daemon mode: the same checks of
/// upload and upload-reply jobs, through `qm_manager_connect`.
#[test]
fn the_c_api_runs_upload_jobs_through_qmgrd() {
    let dir = support::scratch("daemon-upload-c");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = UploadServer::start(&dir.join("server"));
    let file = local_file(&dir, "c.bin", 1024 * 1024 + 3, 92);
    // A second server whose replies are over 1 MiB (QM_MAX_REPLY_DATA).
    let big = UploadServer::start(&dir.join("big"));
    big.pad_replies((1 << 20) + 10);
    let exe = support::compile("upload.c", support::Build::Plain, &dir);
    let address = format!("unix:{}", daemon.socket.display());
    support::run_with_env(
        &exe,
        &[
            "all",
            &server.url("/tus/"),
            &server.url("/rufh/"),
            s(&file),
            s(&dir),
            &big.url("/rufh/"),
        ],
        &[("QMGR_TEST_ADDRESS", Path::new(&address))],
        LIMIT,
    );
    let uploads = server.seen().iter().filter(|r| r.method == "POST").count();
    assert_eq!(uploads, 2, "one upload job and one upload-reply job");
    assert!(
        dir.join("reply.json").exists(),
        "the daemon wrote the reply file"
    );
}

/// Cancelling an upload ends it on the server (a DELETE of its upload
/// URL) on a thread of its own: that thread reads the job's CA file (and
/// client certificate) as the run does, so it must do it with the job
/// owner's rights, never the daemon's. An owner who swaps its CA file for
/// a link to a file only root may read, then cancels, must not have the
/// daemon read it for them (with a client key, the daemon would sign
/// TLS handshakes with root's key to a server of the owner's choosing).
/// A second job, whose CA file stays the owner's, shows the DELETE
/// that a termination the owner may make does send.
#[test]
fn cancelling_an_upload_reads_its_tls_files_with_the_owners_rights() {
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let dir = support::scratch("daemon-upload-terminate-rights");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = UploadServer::start(&dir.join("server"));
    let ca = support::http_server::TestCa::generate(&dir.join("ca"));
    let theirs = dir.join("nobody");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let ca_of = |name: &str| {
        let path = theirs.join(name);
        std::fs::copy(&ca.ca_pem, &path).unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        path
    };
    let (swapped, kept) = (ca_of("a.pem"), ca_of("b.pem"));
    let roots_only = dir.join("root-only.pem");
    std::fs::copy(&ca.ca_pem, &roots_only).unwrap();
    std::fs::set_permissions(&roots_only, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = local_file(&dir, "public.bin", 600 * 1024, 8);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    // Each PATCH keeps 64 KiB and then stalls: the job stays TRANSFERRING
    // with its upload URL known, until it is cancelled.
    server.script("PATCH", vec![Fault::StallAfter(64 * 1024); 2]);
    let job_with = |ca_file: &Path| {
        let replies = calls_as(
            "nobody",
            "nogroup",
            &daemon.socket,
            &[
                call(
                    "io.qmgr.CreateJob",
                    json!({"display_name": "up", "type": 1}),
                ),
                call(
                    "io.qmgr.AddFiles",
                    json!({"id": "$ID", "files": [{"remote": server.url("/tus/"), "local": s(&file)}]}),
                ),
                call(
                    "io.qmgr.SetJob",
                    json!({"id": "$ID", "change": {"ca_file": s(ca_file)}}),
                ),
                call("io.qmgr.Resume", json!({"id": "$ID"})),
            ],
        );
        assert!(
            replies.len() == 4 && replies.iter().all(|r| r.get("error").is_none()),
            "{replies:?}"
        );
        replies[0]["parameters"]["job"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let server = &server;
    let patches =
        |n: usize| move || server.seen().iter().filter(|r| r.method == "PATCH").count() >= n;
    let a = job_with(&swapped);
    support::wait_until("the first job's PATCH", LIMIT, patches(1));
    let b = job_with(&kept);
    support::wait_until("the second job's PATCH", LIMIT, patches(2));
    let url_of = |n: usize| {
        server
            .seen()
            .iter()
            .filter(|r| r.method == "PATCH")
            .nth(n)
            .unwrap()
            .path
            .clone()
    };
    let (url_a, url_b) = (url_of(0), url_of(1));
    // The owner swaps its CA file for a link to root's.
    std::fs::remove_file(&swapped).unwrap();
    std::os::unix::fs::symlink(&roots_only, &swapped).unwrap();
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.Cancel", json!({"id": a})),
            call("io.qmgr.Cancel", json!({"id": b})),
        ],
    );
    assert!(
        replies.len() == 2 && replies.iter().all(|r| r.get("error").is_none()),
        "{replies:?}"
    );
    let deleted = |path: &str| {
        server
            .seen()
            .iter()
            .any(|r| r.method == "DELETE" && r.path == path)
    };
    // The second termination (started after the first) arrives...
    support::wait_until("the second job's DELETE", LIMIT, || deleted(&url_b));
    // ...and the first never did: its CA file was root's.
    assert!(
        !deleted(&url_a),
        "the daemon read a file only root may read for nobody's termination: {:?}",
        server.seen()
    );
}
