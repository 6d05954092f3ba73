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

/// A job of `nobody`'s, made by a client running as nobody: one public
/// file into `theirs` (nobody's directory), the TRANSFERRED event only,
/// and `sh -c "SCRIPT"` as its notify program; `more` calls follow. Returns
/// its id.
fn nobodys_job(daemon: &Qmgrd, dir: &Path, theirs: &Path, script: &str, more: &[Value]) -> String {
    let src = dir.join("public.bin");
    std::fs::write(&src, patterned(64 << 10, 3)).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut calls = vec![
        call("io.qmgr.CreateJob", json!({"display_name": "nobody's"})),
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
    ];
    calls.extend_from_slice(more);
    let replies = calls_as("nobody", "nogroup", &daemon.socket, &calls);
    assert_no_error(&replies);
    replies[0]["parameters"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_string()
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
    let proof = theirs.join("ran-as");
    let script = format!("id -u > {0}.tmp && mv {0}.tmp {0}", proof.display());
    let id = nobodys_job(&daemon, &dir, &theirs, &script, &[]);
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
    let out = theirs.join("fds");
    let script = format!(
        "echo qmgrd: FORGED-BY-NOBODY >&2; echo FORGED-STDOUT; \
         ls /proc/$$/fd > {0}.tmp && readlink /proc/$$/fd/2 >> {0}.tmp && mv {0}.tmp {0}",
        out.display()
    );
    nobodys_job(
        &daemon,
        &dir,
        &theirs,
        &script,
        &[call("io.qmgr.Resume", json!({"id": "$ID"}))],
    );
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

// The review of TakeEvents (a watch that takes a job's events holds the
// job's notify program while it lives).

/// A job of the daemon's own user with one small file and a notify
/// program that appends the job's id to `ran`.
fn job_with_program(c: &mut support::daemon::Client, dir: &Path, n: u32, ran: &Path) -> String {
    let src = dir.join(format!("src{n}"));
    std::fs::write(&src, b"payload").unwrap();
    let id = c.create(&format!("job {n}"));
    c.ok(
        "io.qmgr.AddFiles",
        json!({ "id": id, "files": [{ "remote": format!("file://{}", s(&src)),
            "local": s(&dir.join(format!("dst{n}"))) }] }),
    );
    c.ok(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "notify_cmdline": {
            "program": "/bin/sh",
            "parameters": format!("sh -c \"echo $QMGR_JOB_ID >> {}\"", s(ran)),
        } } }),
    );
    id
}

/// Starts a Watch on `c`; returns its number.
fn watch(c: &mut support::daemon::Client, parameters: Value) -> u64 {
    c.conn
        .send_call(&qmgr::service::varlink::Call::new("io.qmgr.Watch", parameters).with_more())
        .unwrap();
    let first = c.next("the watch").parameters;
    assert_eq!(first["event"], Value::Null);
    first["watch"].as_u64().expect("the watch's number")
}

/// TakeEvents; `None` when it succeeds, else the failure's code.
fn take(c: &mut support::daemon::Client, watch: u64, id: &str, take: bool) -> Option<i32> {
    let reply = c.call(
        "io.qmgr.TakeEvents",
        json!({ "watch": watch, "id": id, "take": take }),
    );
    reply.error.map(|_| {
        qmgr::service::codec::decode_failed(&reply.parameters)
            .unwrap()
            .code
            .0
    })
}

fn ran(file: &Path, id: &str) -> bool {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .contains(id)
}

fn transferred(c: &mut support::daemon::Client, id: &str) {
    let out = c.ok(
        "io.qmgr.Wait",
        json!({ "id": id, "timeout_ms": LIMIT.as_millis() as u64 }),
    );
    assert_eq!(out["state"], JobState::Transferred as u32, "{out}");
}

/// A daemon with a job of its user (a notify program that appends the
/// job's id to `ran`) whose events a live watch takes.
struct Taken {
    dir: support::Scratch,
    daemon: Qmgrd,
    ran: std::path::PathBuf,
    c: support::daemon::Client,
    id: String,
    watcher: support::daemon::Client,
    number: u64,
}

fn taken(name: &str) -> Taken {
    let dir = scratch(name);
    let daemon = Qmgrd::start(&dir, &[]);
    let ran = dir.join("ran");
    let mut c = daemon.client();
    let id = job_with_program(&mut c, &dir, 1, &ran);
    let mut watcher = daemon.client();
    let number = watch(&mut watcher, json!({}));
    assert_eq!(take(&mut c, number, &id, true), None);
    Taken {
        dir,
        daemon,
        ran,
        c,
        id,
        watcher,
        number,
    }
}

/// Finding: a watcher the daemon dropped for falling behind (1,024 events)
/// left the hub at once, so when its thread ended the watch nothing was
/// given back: the daemon's registration went on taking the job's events
/// and its notify program never ran again, with no client left.
#[test]
fn a_watcher_dropped_for_falling_behind_gives_back_the_events_it_took() {
    let Taken {
        dir: _dir,
        daemon,
        ran: ran_file,
        mut c,
        id,
        watcher,
        number,
    } = taken("attack-take-behind");
    // The watcher reads nothing while the job changes (JOB_MODIFICATION
    // events), 100 pipelined changes at a time, until it is dropped.
    c.ok(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "notify_flags": 0x1 | 0x2 | 0x8 } }),
    );
    let long = "x".repeat(1000);
    let mut i = 0u32;
    while !daemon.log().contains("that fell behind") {
        assert!(i < 100_000, "never dropped:\n{}", daemon.log());
        for _ in 0..100 {
            i += 1;
            c.conn
                .send_call(&qmgr::service::varlink::Call::new(
                    "io.qmgr.SetJob",
                    json!({ "id": id, "change": { "description": format!("{i}{long}") } }),
                ))
                .unwrap();
        }
        for _ in 0..100 {
            assert!(c.next("SetJob").error.is_none());
        }
    }
    drop(watcher);
    wait_until("the watch to end", LIMIT, || {
        take(&mut c, number, &id, true).is_some()
    });
    c.ok(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "notify_flags": 0x3 } }),
    );
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    transferred(&mut c, &id);
    wait_until("the notify program, no watch being live", LIMIT, || {
        ran(&ran_file, &id)
    });
}

/// Finding: when the program that took a job's events crashed before it
/// read the TRANSFERRED event, neither its callback nor the notify program
/// saw it, and the job sat in TRANSFERRED. BITS runs the command line when
/// the callback cannot be called: a watch that ends still taking a job's
/// events runs the program of a job that is TRANSFERRED or in ERROR.
#[test]
fn a_crashed_takers_unread_event_runs_the_notify_program() {
    let Taken {
        dir,
        daemon: _daemon,
        ran: ran_file,
        mut c,
        id,
        watcher,
        number: _,
    } = taken("attack-take-lost");
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    transferred(&mut c, &id);
    // A job nobody takes, transferred after it, runs its program: while
    // the taker lives, the taken job's does not.
    let other = job_with_program(&mut c, &dir, 2, &ran_file);
    c.ok("io.qmgr.Resume", json!({ "id": other }));
    wait_until("the untaken job's program", LIMIT, || {
        ran(&ran_file, &other)
    });
    assert!(!ran(&ran_file, &id), "the taken job's program ran");
    // The taker crashes without having read the event.
    drop(watcher);
    wait_until(
        "the taken job's program once its taker is gone",
        LIMIT,
        || ran(&ran_file, &id),
    );
    let runs = std::fs::read_to_string(&ran_file).unwrap();
    assert_eq!(runs.matches(id.as_str()).count(), 1, "{runs}");
}

/// Finding: a watch that is not sent TRANSFERRED or ERROR events (its
/// `kinds` leave them out) could take them, holding the program for events
/// no callback would see.
#[test]
fn a_watch_without_transferred_and_error_events_cannot_take_them() {
    let dir = scratch("attack-take-kinds");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut c = daemon.client();
    let id = job_with_program(&mut c, &dir, 1, &dir.join("ran"));
    for kinds in [0x8, 0x1 | 0x8, 0x2] {
        let mut watcher = daemon.client();
        let number = watch(&mut watcher, json!({ "kinds": kinds }));
        assert_eq!(take(&mut c, number, &id, true), Some(QM_E_INVALIDARG));
    }
    let mut watcher = daemon.client();
    let number = watch(&mut watcher, json!({ "kinds": 0x1 | 0x2 }));
    assert_eq!(take(&mut c, number, &id, true), None);
}

/// Finding: a TakeEvents racing the job's Cancel registered the daemon's
/// callback after the cancel had dropped the job's registration, and the
/// engine kept it (and with it the whole job) for good: 600 cancelled jobs
/// of 200 files took a daemon from 8 to 37 MB. A callback cannot be set on
/// a final job (BITS's SetNotifyInterface refuses CANCELLED and
/// ACKNOWLEDGED jobs too).
#[test]
fn a_callback_cannot_be_set_on_a_final_job() {
    let manager = qmgr::Manager::open(None).unwrap();
    let callback: qmgr::NotifyCallback = std::sync::Arc::new(|_: &qmgr::Job, _| {});
    for finish in ["cancel", "complete"] {
        let job = manager.create_job(finish).unwrap();
        let flags = job.notify_flags().0;
        match finish {
            "cancel" => drop(job.cancel().unwrap()),
            _ => drop(job.complete().unwrap()),
        }
        let e = job
            .set_notify(Some(callback.clone()), flags, 1)
            .unwrap_err();
        assert_eq!(e.code.0, QM_BG_E_INVALID_STATE, "{finish}: {e}");
        let e = job.observe(Some(callback.clone()), flags, 1).unwrap_err();
        assert_eq!(e.code.0, QM_BG_E_INVALID_STATE, "{finish}: {e}");
        // Clearing stays possible.
        job.set_notify(None, flags, 1).unwrap();
    }
}

/// Finding: an administrator's watch could take the events of another
/// user's job, silencing the program that user chose without telling
/// them. Only the owner's own programs hold the owner's notify program.
/// Watch numbers are not a counter either (one would tell a user how many
/// watches the others open).
#[test]
fn an_administrators_take_does_not_silence_the_owners_program() {
    if !can_run_other_users() {
        return;
    }
    let dir = scratch("attack-take-admin");
    let daemon = Qmgrd::start(&dir, &[]);
    let theirs = users_dir(&dir, "nobody", 65534);
    let proof = theirs.join("ran");
    let script = format!("echo $QMGR_JOB_ID >> {}", s(&proof));
    let id = nobodys_job(&daemon, &dir, &theirs, &script, &[]);
    let mut admin_watch = daemon.client();
    let number = watch(&mut admin_watch, json!({}));
    let mut second = daemon.client();
    let next = watch(&mut second, json!({}));
    assert!(next.abs_diff(number) > 1, "watch numbers {number}, {next}");
    let mut admin = daemon.client();
    assert_eq!(take(&mut admin, number, &id, true), None);
    admin.ok("io.qmgr.Resume", json!({ "id": id }));
    transferred(&mut admin, &id);
    wait_until("the owner's notify program", LIMIT, || ran(&proof, &id));
}

/// Finding: a watch's queue was bounded by its number of events (1,024)
/// alone, and an event carries the job's snapshot, custom headers (16 KiB)
/// included: one user's 128 watches that never read could make the daemon
/// hold gigabytes. The queue is bounded in bytes too (1 MiB).
#[test]
fn a_watcher_that_does_not_read_holds_at_most_a_mebibyte() {
    let dir = scratch("attack-watch-bytes");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut c = daemon.client();
    let id = c.create("heavy events");
    c.ok(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "notify_flags": 0x1 | 0x2 | 0x8 } }),
    );
    let mut watcher = daemon.client();
    watch(&mut watcher, json!({}));
    // Each change is an event of about 16 KiB: custom headers near the bound.
    let header = format!("X-Pad: {}", "p".repeat(16 << 10).get(..16_000).unwrap());
    let mut changes = 0u32;
    while !daemon.log().contains("that fell behind") {
        changes += 1;
        assert!(
            changes < 1024,
            "{changes} events of 16 KiB waiting, and the watcher is still there:\n{}",
            daemon.log()
        );
        let headers = format!("{header}{changes}");
        c.ok(
            "io.qmgr.SetJob",
            json!({ "id": id, "change": { "custom_headers": headers } }),
        );
    }
    // 1 MiB of events is about 64 of them (a little more: the socket
    // buffers take some).
    assert!(changes < 200, "dropped after {changes} events of 16 KiB");
    drop(watcher);
    c.ok("io.qmgr.Cancel", json!({ "id": id }));
}
