//! qmgrd under attack by the users it serves: each test is one finding of
//! the security review of the system daemon (0.3), written to fail while
//! the hole was open and to pass once it was closed. Clients of other users run as in `daemon.rs` (a Python script
//! under `setpriv`); the tests that need them need root and skip without.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::JobState;
use serde_json::{json, Value};
use support::daemon::{calls_as, system_python, Qmgrd};
use support::http_server::patterned;
use support::{scratch, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn call(method: &str, parameters: Value) -> Value {
    json!({ "method": method, "parameters": parameters })
}

/// Root, setpriv and the system's Python: what running clients as other
/// users takes (reports the skip otherwise).
fn can_run_other_users() -> bool {
    if !support::daemon::running_as_root() {
        return false;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        support::skipped("no system python3 or setpriv for the other users' clients");
        return false;
    }
    true
}

/// A directory of `dir` that belongs to `uid` (mode 0755).
fn users_dir(dir: &Path, name: &str, uid: u32) -> std::path::PathBuf {
    let d = dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::chown(&d, Some(uid), Some(uid)).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    d
}

fn assert_no_error(replies: &[Value]) {
    for reply in replies {
        assert!(
            reply.get("error").is_none() && reply.get("eof").is_none(),
            "{replies:?}"
        );
    }
}

/// Finding: custom headers and proxy URLs had no length bound. Every job
/// snapshot (GetJob, ListJobs, each Watch event) carries them, and the
/// daemon builds a reply in several copies: 100 jobs of ~1 MiB headers
/// and 8 connections asking ListJobs without reading made a root daemon
/// with a 2 GiB data limit abort ("memory allocation failed"); 300 jobs
/// and 128 connections of one unprivileged user ask for ~150 GiB. A
/// setter must refuse such a block, as it refuses a 257-character display
/// name.
#[test]
fn custom_headers_and_proxy_urls_are_bounded() {
    let dir = scratch("attack-headers");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut c = daemon.client();
    let id = c.create("padded");
    let headers = format!("X-Pad: {}\r\n", "a".repeat(512 << 10));
    let refused = c.failed(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "custom_headers": headers } }),
    );
    assert_eq!(refused.code.0, QM_E_INVALIDARG, "{}", refused.message);
    let proxy = format!("http://proxy.example/{}", "p".repeat(512 << 10));
    let refused = c.failed(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "proxy": { "kind": "url", "url": proxy } } }),
    );
    assert_eq!(
        refused.code.0, QM_BG_E_INVALID_PROXY_INFO,
        "{}",
        refused.message
    );
    // Nothing was kept: the job's snapshot is still small.
    let job = c.ok("io.qmgr.GetJob", json!({ "id": id }));
    assert!(
        job.to_string().len() < 16 << 10,
        "{} bytes",
        job.to_string().len()
    );
    // Ordinary blocks still work.
    c.ok(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "custom_headers": "X-Fleet: 9\r\n" } }),
    );
}

/// Finding: an administrator's TakeOwnership kept the old owner's notify
/// command line, so a program the user chose (a script the user can
/// rewrite at any time) ran as root once the taken job transferred. The
/// command line must not survive a change of owner.
#[test]
fn take_ownership_does_not_run_the_old_owners_notify_program_as_root() {
    if !can_run_other_users() {
        return;
    }
    let dir = scratch("attack-take-notify");
    let daemon = Qmgrd::start(&dir, &[]);
    let theirs = users_dir(&dir, "nobody", 65534);
    let src = dir.join("public.bin");
    std::fs::write(&src, patterned(64 << 10, 3)).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let proof = theirs.join("ran-as");
    let script = format!("id -u > {0}.tmp && mv {0}.tmp {0}", proof.display());
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.CreateJob", json!({"display_name": "take me"})),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": [{"remote": format!("file://{}", s(&src)),
                    "local": s(&theirs.join("out.bin"))}]}),
            ),
            call(
                "io.qmgr.SetJob",
                json!({"id": "$ID", "change": {"notify_flags": 1}}),
            ),
            call(
                "io.qmgr.SetJob",
                json!({"id": "$ID", "change": {"notify_cmdline": {
                    "program": "/bin/sh", "parameters": format!("sh -c \"{script}\"")}}}),
            ),
        ],
    );
    assert_no_error(&replies);
    let id = replies[0]["parameters"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut root = daemon.client();
    root.ok("io.qmgr.TakeOwnership", json!({ "id": id }));
    let job = root.job(&id);
    assert_eq!(job.owner_uid, 0);
    assert_eq!(
        job.notify_cmdline, None,
        "the old owner's notify program would run as root"
    );
    root.ok("io.qmgr.Resume", json!({ "id": id }));
    let out = root.ok(
        "io.qmgr.Wait",
        json!({ "id": id, "timeout_ms": LIMIT.as_millis() as u64 }),
    );
    assert_eq!(out["state"], JobState::Transferred as u32);
    // The old owner's program is gone, not merely not yet run: a later
    // command line of the new owner's own runs in its place.
    let own = dir.join("own-ran");
    root.ok(
        "io.qmgr.SetJob",
        json!({"id": id, "change": {"notify_cmdline": {"program": "/bin/sh",
            "parameters": format!("sh -c \"id -u > {0}.tmp && mv {0}.tmp {0}\"", s(&own))}}}),
    );
    wait_until("the new owner's notify program", LIMIT, || own.exists());
    assert_eq!(std::fs::read_to_string(&own).unwrap().trim(), "0");
    assert!(
        !proof.exists(),
        "the old owner's notify program ran as uid {}",
        std::fs::read_to_string(&proof).unwrap_or_default().trim()
    );
}

/// Finding: the notify program of another user's job inherited the root
/// daemon's standard output and error (its log: the user could write
/// lines into it as the daemon) and any descriptor the daemon inherited
/// without close-on-exec. It must get /dev/null and nothing else.
#[test]
fn another_users_notify_program_cannot_write_the_daemons_log() {
    if !can_run_other_users() {
        return;
    }
    let dir = scratch("attack-notify-log");
    let daemon = Qmgrd::start(&dir, &[]);
    let theirs = users_dir(&dir, "nobody", 65534);
    let src = dir.join("public.bin");
    std::fs::write(&src, b"public").unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = theirs.join("fds");
    let script = format!(
        "echo qmgrd: FORGED-BY-NOBODY >&2; echo FORGED-STDOUT; \
         ls /proc/$$/fd > {0}.tmp && readlink /proc/$$/fd/2 >> {0}.tmp && mv {0}.tmp {0}",
        out.display()
    );
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.CreateJob", json!({"display_name": "noisy"})),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": [{"remote": format!("file://{}", s(&src)),
                    "local": s(&theirs.join("out.bin"))}]}),
            ),
            call(
                "io.qmgr.SetJob",
                json!({"id": "$ID", "change": {"notify_flags": 1}}),
            ),
            call(
                "io.qmgr.SetJob",
                json!({"id": "$ID", "change": {"notify_cmdline": {
                    "program": "/bin/sh", "parameters": format!("sh -c \"{script}\"")}}}),
            ),
            call("io.qmgr.Resume", json!({"id": "$ID"})),
        ],
    );
    assert_no_error(&replies);
    wait_until("the notify program's output", LIMIT, || out.exists());
    let listing = std::fs::read_to_string(&out).unwrap();
    let mut lines: Vec<&str> = listing.lines().collect();
    let stderr = lines.pop().unwrap();
    assert_eq!(stderr, "/dev/null", "the program's stderr: {listing}");
    // 0, 1 and 2, and the descriptor ls reads the directory with.
    assert!(lines.len() <= 4, "descriptors of the program: {lines:?}");
    assert!(
        !daemon.log().contains("FORGED-BY-NOBODY"),
        "another user wrote into the daemon's log:\n{}",
        daemon.log()
    );
}
