//! qmgrd, the service (DESIGN §8), as clients meet it: the real binary on
//! a real socket, raw Varlink calls (`qmgr::service::varlink`), clients of
//! other users (a Python script under `setpriv`), the daemon killed and
//! restarted, socket activation through systemd's launcher, and the
//! third-party Python `varlink` package. The proxy behind
//! `qm_manager_connect` is tested on its own; this is the daemon's side.
//! Every wait is for an event (a reply, a state, a process exit) with a
//! deadline, never a fixed sleep.

use crate::support;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::service::codec::{decode_event, decode_job, decode_list};
use qmgr::service::varlink::{errors, Call, Connection, ReadError, MAX_MESSAGE};
use qmgr::{JobState, NotifyFlags};
use serde_json::{json, Value};
use support::daemon::{call, calls_as, system_python, Client, PyClient, Qmgrd};
use support::http_server::{patterned, Resource, TestServer};
use support::{scratch, wait_until};

const LIMIT: Duration = Duration::from_secs(60);

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Adds one file to job `id`.
fn add(c: &mut Client, id: &str, remote: &str, local: &Path) {
    c.ok(
        "io.qmgr.AddFiles",
        json!({ "id": id, "files": [{ "remote": remote, "local": s(local) }] }),
    );
}

/// Applies one change to job `id`.
fn set(c: &mut Client, id: &str, change: Value) {
    c.ok("io.qmgr.SetJob", json!({ "id": id, "change": change }));
}

/// Waits (within a minute) for job `id` to settle; returns the state.
fn wait_settled(c: &mut Client, id: &str) -> JobState {
    let out = c.ok(
        "io.qmgr.Wait",
        json!({ "id": id, "timeout_ms": LIMIT.as_millis() as u64 }),
    );
    let state = out["state"]
        .as_u64()
        .unwrap_or_else(|| panic!("job {id} did not settle: {:?}", c.job(id)));
    JobState::from_u32(state as u32).unwrap()
}

/// The ids of the jobs a ListJobs reply lists, in order.
fn listed(out: &Value) -> Vec<String> {
    decode_list(out["jobs"].as_array().unwrap(), "jobs", decode_job)
        .unwrap()
        .iter()
        .map(|j| j.id.to_string())
        .collect()
}

/// The Range start of every request the server saw for `path`, in order.
fn range_starts(server: &TestServer, path: &str) -> Vec<u64> {
    server
        .requests(path)
        .iter()
        .map(|r| r.range_start().unwrap_or(0))
        .collect()
}

#[test]
fn introspection_serves_both_interfaces() {
    let dir = scratch("daemon-introspect");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut c = daemon.client();
    let info = c.ok("org.varlink.service.GetInfo", json!({}));
    assert_eq!(info["vendor"], "qmgr");
    assert_eq!(info["product"], "qmgrd");
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        info["interfaces"],
        json!(["org.varlink.service", "io.qmgr"])
    );
    let file =
        std::fs::read_to_string(support::root().join("src/service/io.qmgr.varlink")).unwrap();
    let described = c.ok(
        "org.varlink.service.GetInterfaceDescription",
        json!({ "interface": "io.qmgr" }),
    );
    assert_eq!(described["description"], file);
    let service = c.ok(
        "org.varlink.service.GetInterfaceDescription",
        json!({ "interface": "org.varlink.service" }),
    );
    assert!(service["description"]
        .as_str()
        .unwrap()
        .contains("interface org.varlink.service\n"));
    // Errors of well-formed calls leave the connection open.
    let missing = c.error(
        "org.varlink.service.GetInterfaceDescription",
        json!({ "interface": "com.example.nope" }),
        errors::INTERFACE_NOT_FOUND,
    );
    assert_eq!(missing["interface"], "com.example.nope");
    let method = c.error("io.qmgr.Frobnicate", json!({}), errors::METHOD_NOT_FOUND);
    assert_eq!(method["method"], "io.qmgr.Frobnicate");
    let interface = c.error("com.example.Thing", json!({}), errors::INTERFACE_NOT_FOUND);
    assert_eq!(interface["interface"], "com.example");
    let bad = c.error(
        "io.qmgr.CreateJob",
        json!({ "display_name": 5 }),
        errors::INVALID_PARAMETER,
    );
    assert_eq!(bad["parameter"], "display_name");
    let hello = c.ok("io.qmgr.Hello", json!({}));
    assert_eq!(hello["uid"], 0);
    assert_eq!(hello["admin"], true);
    assert_eq!(hello["mode"], "system");
    assert_eq!(hello["abi"], 1);
    assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"));
    // A oneway call gets no reply: the next reply is the next call's.
    c.conn
        .send_call(&Call::new("io.qmgr.CreateJob", json!({"display_name": "quiet"})).with_oneway())
        .unwrap();
    let jobs = c.ok("io.qmgr.ListJobs", json!({}));
    assert_eq!(jobs["jobs"][0]["display_name"], "quiet");
}

#[test]
fn a_local_file_is_created_added_resumed_waited_and_completed() {
    let dir = scratch("daemon-local");
    let daemon = Qmgrd::start(&dir, &[]);
    let data = patterned(3 << 20, 7);
    let src = dir.join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let dst = dir.join("dst.bin");
    let mut c = daemon.client();
    let id = c.create("local copy");
    add(&mut c, &id, &file_url(&src), &dst);
    let files = c.ok("io.qmgr.GetFiles", json!({ "id": id }));
    assert_eq!(files["files"][0]["remote"], file_url(&src));
    assert_eq!(files["files"][0]["local"], s(&dst));
    assert_eq!(files["files"][0]["completed"], false);
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    assert_eq!(wait_settled(&mut c, &id), JobState::Transferred);
    let job = c.job(&id);
    assert_eq!(job.progress.bytes_transferred, data.len() as u64);
    assert_eq!(job.progress.files_transferred, 1);
    assert_eq!(job.owner_uid, 0);
    let done = c.ok("io.qmgr.Complete", json!({ "id": id }));
    assert_eq!(done["code"], QM_S_OK);
    assert!(std::fs::read(&dst).unwrap() == data);
    // Final jobs are gone, as in-process.
    let gone = c.failed("io.qmgr.GetJob", json!({ "id": id }));
    assert_eq!(gone.code.0, QM_BG_E_NOT_FOUND);
    assert_eq!(gone.message, format!("no job with id {id}"));
}

#[test]
fn an_http_file_transfers_with_the_jobs_options_and_errors_keep_their_code() {
    let dir = scratch("daemon-http");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = TestServer::start();
    let data = patterned(2 << 20, 8);
    server.add("/fw", Resource::new(data.clone()));
    let dst = dir.join("fw.bin");
    let mut c = daemon.client();
    let id = c.create("http");
    add(&mut c, &id, &server.url("/fw"), &dst);
    set(&mut c, &id, json!({ "custom_headers": "X-Fleet: 9\r\n" }));
    set(&mut c, &id, json!({ "description": "nightly" }));
    set(&mut c, &id, json!({ "priority": 1 }));
    let job = c.job(&id);
    assert_eq!(job.description, "nightly");
    assert_eq!(job.priority, qmgr::Priority::High);
    assert_eq!(job.custom_headers.as_deref(), Some("X-Fleet: 9\r\n"));
    // A setter's refusal is the in-process code and message.
    let refused = c.failed(
        "io.qmgr.SetJob",
        json!({ "id": id, "change": { "custom_headers": "no colon" } }),
    );
    let manager = qmgr::Manager::open(None).unwrap();
    let local = manager.create_job("x").unwrap();
    let expected = local.set_custom_headers(Some("no colon")).unwrap_err();
    assert_eq!(
        (refused.code, refused.message),
        (expected.code, expected.message)
    );
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    assert_eq!(wait_settled(&mut c, &id), JobState::Transferred);
    assert_eq!(server.requests("/fw")[0].header("x-fleet"), Some("9"));
    c.ok("io.qmgr.Complete", json!({ "id": id }));
    assert!(std::fs::read(&dst).unwrap() == data);

    // A job that fails reports its error through the daemon.
    let id = c.create("missing");
    add(&mut c, &id, &server.url("/missing"), &dir.join("missing"));
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    assert_eq!(wait_settled(&mut c, &id), JobState::Error);
    let job = c.job(&id);
    let error = job.error.expect("the job's error");
    assert_eq!(error.http_status, 404);
    assert!(job.status.error);
    assert_eq!(c.ok("io.qmgr.Cancel", json!({ "id": id }))["code"], QM_S_OK);
}

#[test]
fn two_connections_share_a_job_and_a_watch_shows_its_progress() {
    let dir = scratch("daemon-watch");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = TestServer::start();
    let data = patterned(4 << 20, 9);
    server.add("/big", Resource::new(data.clone()));
    let dst = dir.join("big.bin");
    let mut a = daemon.client();
    let mut b = daemon.client();
    let id = a.create("shared");
    add(&mut a, &id, &server.url("/big"), &dst);
    let kinds = NotifyFlags::JOB_TRANSFERRED
        | NotifyFlags::JOB_ERROR
        | NotifyFlags::JOB_MODIFICATION
        | NotifyFlags::FILE_TRANSFERRED;
    set(&mut a, &id, json!({ "notify_flags": kinds }));
    set(&mut a, &id, json!({ "min_notification_interval": 100 }));
    set(&mut a, &id, json!({ "max_connections": 1 }));
    set(&mut a, &id, json!({ "max_bandwidth": 1 << 20 }));
    b.conn
        .send_call(&Call::new("io.qmgr.Watch", json!({ "ids": [id] })).with_more())
        .unwrap();
    let first = b.next("the watch");
    assert!(first.continues && first.error.is_none(), "{first:?}");
    assert_eq!(first.parameters["event"], Value::Null);
    a.ok("io.qmgr.Resume", json!({ "id": id }));
    let total = data.len() as u64;
    let mut midway = Vec::new();
    let mut sped_up = false;
    loop {
        let reply = b.next("an event");
        assert!(reply.continues && reply.error.is_none(), "{reply:?}");
        let event = decode_event(&reply.parameters["event"], "event").unwrap();
        assert_eq!(event.job.id.to_string(), id);
        let done = event.job.progress.bytes_transferred;
        if event.event.kind == NotifyFlags::JOB_MODIFICATION && done > 0 && done < total {
            midway.push(done);
            // The other connection sees the same job moving.
            assert!(a.job(&id).progress.bytes_transferred >= done);
            if midway.len() >= 3 && !sped_up {
                set(&mut a, &id, json!({ "max_bandwidth": 0 }));
                sped_up = true;
            }
        }
        if event.event.kind == NotifyFlags::JOB_TRANSFERRED {
            assert_eq!(event.job.state, JobState::Transferred);
            assert_eq!(done, total);
            break;
        }
    }
    assert!(
        midway.len() >= 3,
        "progress events while transferring: {midway:?}"
    );
    assert!(midway.windows(2).all(|w| w[0] <= w[1]), "{midway:?}");
    assert_eq!(
        a.ok("io.qmgr.Complete", json!({ "id": id }))["code"],
        QM_S_OK
    );
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn a_watch_of_all_jobs_sees_jobs_created_after_it() {
    let dir = scratch("daemon-watch-all");
    let daemon = Qmgrd::start(&dir, &[]);
    let src = dir.join("src");
    std::fs::write(&src, b"later").unwrap();
    let mut watcher = daemon.client();
    watcher
        .conn
        .send_call(&Call::new("io.qmgr.Watch", json!({})).with_more())
        .unwrap();
    assert_eq!(watcher.next("the watch").parameters["event"], Value::Null);
    let mut c = daemon.client();
    let id = c.create("created later");
    add(&mut c, &id, &file_url(&src), &dir.join("dst"));
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    loop {
        let event = decode_event(&watcher.next("an event").parameters["event"], "event").unwrap();
        if event.job.id.to_string() == id && event.event.kind == NotifyFlags::JOB_TRANSFERRED {
            break;
        }
    }
    // A Watch must be called with more.
    c.error("io.qmgr.Watch", json!({}), errors::EXPECTED_MORE);
}

/// A watcher observes: the job's notify program still runs in the daemon
/// (the daemon's own callback on a watched job must not count as the
/// job's callback, which would silence the program for as long as anyone
/// watches, e.g. an administrator's monitor of every job).
#[test]
fn a_watched_job_still_runs_its_notify_program() {
    let dir = scratch("daemon-watch-notify");
    let daemon = Qmgrd::start(&dir, &[]);
    let src = dir.join("src");
    std::fs::write(&src, b"watched").unwrap();
    let ran = dir.join("ran");
    let mut c = daemon.client();
    let id = c.create("watched, with a program");
    add(&mut c, &id, &file_url(&src), &dir.join("dst"));
    set(
        &mut c,
        &id,
        json!({ "notify_cmdline": {
            "program": "/bin/sh",
            "parameters": format!("sh -c \"echo $QMGR_JOB_ID > {0}.tmp && mv {0}.tmp {0}\"", s(&ran)),
        } }),
    );
    let mut watcher = daemon.client();
    watcher
        .conn
        .send_call(&Call::new("io.qmgr.Watch", json!({ "ids": [id] })).with_more())
        .unwrap();
    assert_eq!(watcher.next("the watch").parameters["event"], Value::Null);
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    loop {
        let event = decode_event(&watcher.next("an event").parameters["event"], "event").unwrap();
        if event.event.kind == NotifyFlags::JOB_TRANSFERRED {
            break;
        }
    }
    wait_until("the notify program's output", LIMIT, || {
        std::fs::read_to_string(&ran).is_ok_and(|text| text.trim() == id)
    });
}

/// A Watch sent `oneway` (no reply wanted) starts no stream: the
/// connection goes on answering calls.
#[test]
fn a_oneway_watch_streams_nothing() {
    let dir = scratch("daemon-oneway-watch");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut c = daemon.client();
    c.conn
        .send_call(
            &Call::new("io.qmgr.Watch", json!({}))
                .with_more()
                .with_oneway(),
        )
        .unwrap();
    let hello = c.ok("io.qmgr.Hello", json!({}));
    assert!(hello.get("event").is_none(), "{hello}");
    let id = c.create("after a oneway watch");
    assert_eq!(c.job(&id).display_name, "after a oneway watch");
}

/// BITS's rule across the socket: while a program's watch says it runs a
/// job's callback (`TakeEvents`), the daemon does not run the job's notify
/// program; once that watch is gone (the program crashed), it runs again.
#[test]
fn a_watch_that_takes_a_jobs_events_holds_its_notify_program_until_it_ends() {
    let dir = scratch("daemon-take-events");
    let daemon = Qmgrd::start(&dir, &[]);
    let src = dir.join("src");
    std::fs::write(&src, b"taken").unwrap();
    // Each run appends the job's id: a program that ran when it should not
    // have leaves its line.
    let ran = dir.join("ran");
    let program = json!({ "notify_cmdline": {
        "program": "/bin/sh",
        "parameters": format!("sh -c \"echo $QMGR_JOB_ID >> {}\"", s(&ran)),
    } });
    let lines = || std::fs::read_to_string(&ran).unwrap_or_default();
    let mut c = daemon.client();
    let job = |c: &mut Client, name: &str, n: u32| {
        let id = c.create(name);
        add(c, &id, &file_url(&src), &dir.join(format!("dst{n}")));
        set(c, &id, program.clone());
        id
    };
    let watch = |daemon: &Qmgrd| {
        let mut watcher = daemon.client();
        watcher
            .conn
            .send_call(&Call::new("io.qmgr.Watch", json!({})).with_more())
            .unwrap();
        let first = watcher.next("the watch").parameters;
        assert_eq!(first["event"], Value::Null);
        let number = first["watch"].as_u64().expect("the watch's number");
        (watcher, number)
    };
    let transferred = |watcher: &mut Client, id: &str| loop {
        let event = decode_event(&watcher.next("an event").parameters["event"], "event").unwrap();
        if event.event.kind == NotifyFlags::JOB_TRANSFERRED && event.job.id.to_string() == id {
            break;
        }
    };

    // Taken: the program does not run.
    let taken = job(&mut c, "taken", 1);
    let (mut watcher, number) = watch(&daemon);
    c.ok(
        "io.qmgr.TakeEvents",
        json!({ "watch": number, "id": taken, "take": true }),
    );
    c.ok("io.qmgr.Resume", json!({ "id": taken }));
    transferred(&mut watcher, &taken);
    // A job nobody takes, transferred after it, runs the program: its line
    // is the one that may be there.
    let plain = job(&mut c, "not taken", 2);
    c.ok("io.qmgr.Resume", json!({ "id": plain }));
    wait_until("the untaken job's program", LIMIT, || {
        lines().contains(&plain)
    });
    assert_eq!(lines().trim(), plain, "the taken job's program ran");

    // Another user's watch number, or one that ended, is refused.
    let e = c.failed(
        "io.qmgr.TakeEvents",
        json!({ "watch": number + 1000, "id": plain, "take": true }),
    );
    assert_eq!(e.code.0, QM_E_INVALIDARG, "{e}");

    // The program "crashes": its watch ends. The job it took that is
    // TRANSFERRED runs its program now (the program may never have read the
    // event), and the next job it had taken runs its program as usual.
    let orphan = job(&mut c, "taken, then its watcher crashed", 3);
    c.ok(
        "io.qmgr.TakeEvents",
        json!({ "watch": number, "id": orphan, "take": true }),
    );
    drop(watcher);
    wait_until("the daemon to end the watch", LIMIT, || {
        c.call(
            "io.qmgr.TakeEvents",
            json!({ "watch": number, "id": orphan, "take": true }),
        )
        .error
        .is_some()
    });
    c.ok("io.qmgr.Resume", json!({ "id": orphan }));
    wait_until("the orphaned job's program", LIMIT, || {
        lines().contains(&orphan)
    });
    wait_until(
        "the taken job's program, once its taker crashed",
        LIMIT,
        || lines().contains(&taken),
    );
    assert_eq!(lines().matches(taken.as_str()).count(), 1, "{}", lines());
}

#[test]
fn a_job_outlives_a_client_killed_after_resume() {
    if system_python().is_none() {
        return support::skipped("no system python3 for the client process");
    }
    let dir = scratch("daemon-client-killed");
    let daemon = Qmgrd::start(&dir, &[]);
    let server = TestServer::start();
    let data = patterned(2 << 20, 10);
    server.add("/fw", Resource::new(data.clone()));
    let dst = dir.join("fw.bin");
    let calls = [
        json!({"method": "io.qmgr.CreateJob", "parameters": {"display_name": "orphan"}}),
        json!({"method": "io.qmgr.AddFiles", "parameters": {"id": "$ID",
            "files": [{"remote": server.url("/fw"), "local": s(&dst)}]}}),
        json!({"method": "io.qmgr.SetJob", "parameters": {"id": "$ID",
            "change": {"max_bandwidth": 256 << 10}}}),
        json!({"method": "io.qmgr.Resume", "parameters": {"id": "$ID"}}),
    ];
    let mut client = PyClient::start(None, &daemon.socket, &calls, true);
    let created: Value = serde_json::from_str(&client.line()).unwrap();
    let id = created["parameters"]["job"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 1..calls.len() {
        let reply: Value = serde_json::from_str(&client.line()).unwrap();
        assert!(reply.get("error").is_none(), "{reply}");
    }
    assert_eq!(client.line(), "ready");
    client.child.kill().unwrap();
    client.child.wait().unwrap();
    let mut c = daemon.client();
    assert!(c.job(&id).state.is_active(), "{:?}", c.job(&id));
    set(&mut c, &id, json!({ "max_bandwidth": 0 }));
    assert_eq!(wait_settled(&mut c, &id), JobState::Transferred);
    assert_eq!(
        c.ok("io.qmgr.Complete", json!({ "id": id }))["code"],
        QM_S_OK
    );
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn the_daemon_killed_five_times_mid_transfer_finishes_byte_exact() {
    let dir = scratch("daemon-sigkill");
    let mut daemon = Qmgrd::start(&dir, &[]);
    let server = TestServer::start();
    let data = patterned(8 << 20, 11);
    server.add("/fw", Resource::new(data.clone()));
    let dst = dir.join("fw.bin");
    let mut c = daemon.client();
    let id = c.create("survivor");
    add(&mut c, &id, &server.url("/fw"), &dst);
    // One connection: one request per run, resumed at one offset.
    set(&mut c, &id, json!({ "max_connections": 1 }));
    set(&mut c, &id, json!({ "max_bandwidth": 512 << 10 }));
    set(&mut c, &id, json!({ "min_retry_delay": 1 }));
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    for round in 0..5 {
        let start = c.job(&id).progress.bytes_transferred;
        // More than a second of transfer: at least one checkpoint.
        wait_until(&format!("768 KiB more in round {round}"), LIMIT, || {
            c.job(&id).progress.bytes_transferred >= start + (768 << 10)
        });
        daemon.kill();
        daemon.restart();
        c = daemon.client();
        assert!(
            c.job(&id).state != JobState::Transferred,
            "the transfer ended too soon to be killed 5 times"
        );
    }
    set(&mut c, &id, json!({ "max_bandwidth": 0 }));
    assert_eq!(wait_settled(&mut c, &id), JobState::Transferred);
    assert_eq!(
        c.ok("io.qmgr.Complete", json!({ "id": id }))["code"],
        QM_S_OK
    );
    assert!(std::fs::read(&dst).unwrap() == data, "not byte-exact");
    // Each restart resumed from its durable bytes, never from zero.
    let starts = range_starts(&server, "/fw");
    assert!(starts.len() >= 6, "{starts:?}");
    assert!(starts[1..].iter().all(|&s| s > 0), "{starts:?}");
    assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
}

#[test]
fn sigterm_exits_0_and_the_job_resumes_after_a_restart() {
    let dir = scratch("daemon-sigterm");
    let mut daemon = Qmgrd::start(&dir, &[]);
    let server = TestServer::start();
    let data = patterned(3 << 20, 12);
    server.add("/fw", Resource::new(data.clone()));
    let dst = dir.join("fw.bin");
    let mut c = daemon.client();
    let id = c.create("terminated");
    add(&mut c, &id, &server.url("/fw"), &dst);
    set(&mut c, &id, json!({ "max_connections": 1 }));
    set(&mut c, &id, json!({ "max_bandwidth": 512 << 10 }));
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    wait_until("512 KiB before SIGTERM", LIMIT, || {
        c.job(&id).progress.bytes_transferred >= 512 << 10
    });
    let status = daemon.terminate();
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    wait_until("the SIGTERM line", LIMIT, || {
        daemon.log().contains("SIGTERM")
    });
    assert!(
        !daemon.socket.exists(),
        "a daemon that stops removes its socket"
    );
    daemon.restart();
    let mut c = daemon.client();
    set(&mut c, &id, json!({ "max_bandwidth": 0 }));
    assert_eq!(wait_settled(&mut c, &id), JobState::Transferred);
    c.ok("io.qmgr.Complete", json!({ "id": id }));
    assert!(std::fs::read(&dst).unwrap() == data);
    let starts = range_starts(&server, "/fw");
    assert!(starts.len() >= 2, "{starts:?}");
    assert!(
        *starts.last().unwrap() >= 512 << 10,
        "resumed at its checkpoint: {starts:?}"
    );
}

#[test]
fn a_second_daemon_on_the_same_socket_or_state_refuses_to_start() {
    let dir = scratch("daemon-second");
    let daemon = Qmgrd::start(&dir, &[]);
    let run = |args: &[&str]| {
        let out = Command::new(support::daemon::qmgrd_bin())
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let other_state = dir.join("other-state");
    let (code, err) = run(&[
        "--system",
        "--socket",
        s(&daemon.socket),
        "--state",
        s(&other_state),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("another qmgrd is already listening"), "{err}");
    let other_socket = dir.join("other-sock");
    let (code, err) = run(&[
        "--system",
        "--socket",
        s(&other_socket),
        "--state",
        s(&daemon.state),
    ]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("QM_E_SHARING_VIOLATION"), "{err}");
    assert!(
        !other_socket.exists(),
        "the refused daemon removed its socket"
    );
    let (code, err) = run(&["--max-jobs-per-user", "0"]);
    assert_eq!(code, Some(2), "{err}");
    // The first is unaffected.
    daemon.client().ok("io.qmgr.Hello", json!({}));
}

#[test]
fn a_stale_socket_is_replaced_after_a_crash() {
    let dir = scratch("daemon-stale");
    let mut daemon = Qmgrd::start(&dir, &[]);
    daemon.kill();
    assert!(daemon.socket.exists(), "SIGKILL leaves the socket file");
    daemon.restart();
    daemon.client().ok("io.qmgr.Hello", json!({}));
}

#[test]
fn users_see_and_control_only_their_own_jobs() {
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let dir = scratch("daemon-users");
    let daemon = Qmgrd::start(&dir, &[]);
    assert_eq!(
        std::fs::metadata(&daemon.socket)
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o666
    );
    let mut root = daemon.client();
    let mine = root.create("root's");
    let unknown = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.Hello", json!({})),
            call("io.qmgr.CreateJob", json!({"display_name": "nobody's"})),
            call("io.qmgr.ListJobs", json!({})),
            call("io.qmgr.GetJob", json!({"id": mine})),
            call("io.qmgr.GetJob", json!({"id": unknown})),
            call("io.qmgr.Cancel", json!({"id": mine})),
            call(
                "io.qmgr.SetJob",
                json!({"id": mine, "change": {"description": "mine now"}}),
            ),
            call("io.qmgr.ListJobs", json!({"all_users": true})),
            call(
                "io.qmgr.SetSettings",
                json!({"change": {"max_active_jobs": 1}}),
            ),
            json!({"method": "io.qmgr.Watch", "parameters": {"ids": [mine]}, "more": true}),
        ],
    );
    assert_eq!(replies.len(), 10, "{replies:?}");
    let hello = &replies[0]["parameters"];
    assert_eq!(
        (hello["uid"].as_u64(), hello["admin"].as_bool()),
        (Some(65534), Some(false))
    );
    let theirs = decode_job(&replies[1]["parameters"]["job"], "job").unwrap();
    assert_eq!(theirs.owner_uid, 65534);
    let theirs = theirs.id.to_string();
    assert_eq!(listed(&replies[2]["parameters"]), vec![theirs.clone()]);
    let failure = |reply: &Value| {
        assert_eq!(reply["error"], "io.qmgr.Failed", "{reply}");
        let p = &reply["parameters"];
        (
            p["code"].as_i64().unwrap() as i32,
            p["message"].as_str().unwrap().to_string(),
        )
    };
    // Another user's job is exactly as unknown as a job that does not exist.
    assert_eq!(
        failure(&replies[3]),
        (QM_BG_E_NOT_FOUND, format!("no job with id {mine}"))
    );
    assert_eq!(
        failure(&replies[4]),
        (QM_BG_E_NOT_FOUND, format!("no job with id {unknown}"))
    );
    assert_eq!(failure(&replies[5]).0, QM_BG_E_NOT_FOUND);
    assert_eq!(failure(&replies[6]).0, QM_BG_E_NOT_FOUND);
    assert_eq!(failure(&replies[7]).0, QM_E_ACCESSDENIED);
    assert_eq!(failure(&replies[8]).0, QM_E_ACCESSDENIED);
    assert_eq!(failure(&replies[9]).0, QM_BG_E_NOT_FOUND);
    // Nothing of root's job changed.
    let job = root.job(&mine);
    assert_eq!(
        (job.state, job.description.as_str()),
        (JobState::Suspended, "")
    );

    // The other way round, between two users who are not root.
    let replies = calls_as(
        "4242",
        "4242",
        &daemon.socket,
        &[
            call("io.qmgr.ListJobs", json!({})),
            call("io.qmgr.GetJob", json!({"id": theirs})),
            call("io.qmgr.Resume", json!({"id": theirs})),
        ],
    );
    assert_eq!(listed(&replies[0]["parameters"]), Vec::<String>::new());
    assert_eq!(
        failure(&replies[1]),
        (QM_BG_E_NOT_FOUND, format!("no job with id {theirs}"))
    );
    assert_eq!(failure(&replies[2]).0, QM_BG_E_NOT_FOUND);

    // Root lists its own jobs, every user's when it asks, and acts on any.
    assert_eq!(
        listed(&root.ok("io.qmgr.ListJobs", json!({}))),
        vec![mine.clone()]
    );
    let all = root.ok("io.qmgr.ListJobs", json!({ "all_users": true }));
    assert_eq!(listed(&all), vec![mine.clone(), theirs.clone()]);
    assert_eq!(root.job(&theirs).owner_uid, 65534);
    set(&mut root, &theirs, json!({ "description": "seen by root" }));
    root.ok(
        "io.qmgr.SetSettings",
        json!({ "change": { "max_active_jobs": 3 } }),
    );
    assert_eq!(
        root.ok("io.qmgr.GetSettings", json!({}))["settings"]["max_active_jobs"],
        3
    );
    // TakeOwnership: the job is root's now, and gone from nobody's view.
    root.ok("io.qmgr.TakeOwnership", json!({ "id": theirs }));
    assert_eq!(root.job(&theirs).owner_uid, 0);
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.ListJobs", json!({})),
            call("io.qmgr.TakeOwnership", json!({"id": theirs})),
        ],
    );
    assert_eq!(listed(&replies[0]["parameters"]), Vec::<String>::new());
    assert_eq!(failure(&replies[1]).0, QM_BG_E_NOT_FOUND);
}

#[test]
fn a_users_job_reads_and_writes_with_that_users_rights() {
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let dir = scratch("daemon-rights");
    let daemon = Qmgrd::start(&dir, &[]);
    let theirs = dir.join("nobody");
    std::fs::create_dir(&theirs).unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let data = patterned(1 << 20, 15);
    let src = dir.join("public.bin");
    std::fs::write(&src, &data).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(0o644)).unwrap();
    let secret = dir.join("secret.bin");
    std::fs::write(&secret, b"root only").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let dst = theirs.join("public.bin");
    let file =
        |remote: &Path, local: &Path| json!([{"remote": file_url(remote), "local": s(local)}]);
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call(
                "io.qmgr.CreateJob",
                json!({"display_name": "nobody's download"}),
            ),
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": file(&src, &dst)}),
            ),
            call("io.qmgr.Resume", json!({"id": "$ID"})),
            call("io.qmgr.Wait", json!({"id": "$ID", "timeout_ms": 60_000})),
            call("io.qmgr.Complete", json!({"id": "$ID"})),
            call("io.qmgr.CreateJob", json!({"display_name": "hostile"})),
            // A directory nobody may write: refused as in-process.
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID", "files": file(&src, &dir.join("planted"))}),
            ),
            // A file nobody may read, into a directory nobody may write.
            call(
                "io.qmgr.AddFiles",
                json!({"id": "$ID",
                "files": file(&secret, &theirs.join("stolen"))}),
            ),
            call("io.qmgr.Resume", json!({"id": "$ID"})),
            call("io.qmgr.Wait", json!({"id": "$ID", "timeout_ms": 60_000})),
        ],
    );
    assert_eq!(replies.len(), 10, "{replies:?}");
    for reply in &replies[..5] {
        assert!(reply.get("error").is_none(), "{replies:?}");
    }
    assert_eq!(
        replies[3]["parameters"]["state"],
        JobState::Transferred as u32
    );
    assert!(std::fs::read(&dst).unwrap() == data);
    let meta = std::fs::metadata(&dst).unwrap();
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta)
        ),
        (65534, 65534),
        "the file is nobody's"
    );
    assert_eq!(replies[6]["error"], "io.qmgr.Failed", "{replies:?}");
    assert_eq!(replies[6]["parameters"]["code"], QM_E_ACCESSDENIED);
    assert!(!dir.join("planted").exists());
    // The secret is refused when added or when read, never copied.
    match replies[7].get("error") {
        Some(_) => assert_eq!(
            replies[7]["parameters"]["code"], QM_E_ACCESSDENIED,
            "{replies:?}"
        ),
        None => assert_eq!(
            replies[9]["parameters"]["state"],
            JobState::Error as u32,
            "{replies:?}"
        ),
    }
    assert!(!theirs.join("stolen").exists());
}

#[test]
fn members_of_the_admin_group_see_every_job() {
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let dir = scratch("daemon-admin-group");
    let daemon = Qmgrd::start(&dir, &["--admin-group", "nogroup"]);
    let mine = daemon.client().create("root's");
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            call("io.qmgr.Hello", json!({})),
            call("io.qmgr.ListJobs", json!({"all_users": true})),
            call("io.qmgr.GetJob", json!({"id": mine})),
        ],
    );
    assert_eq!(replies[0]["parameters"]["admin"], true, "{replies:?}");
    assert_eq!(listed(&replies[1]["parameters"]), vec![mine.clone()]);
    assert_eq!(replies[2]["parameters"]["job"]["id"], mine.as_str());
}

#[test]
fn a_users_daemon_refuses_every_other_user_but_root() {
    if !support::daemon::running_as_root() {
        return;
    }
    if system_python().is_none() || !support::have_tool("setpriv") {
        return support::skipped("no system python3 or setpriv for the other users' clients");
    }
    let dir = scratch("daemon-user-mode");
    let daemon = Qmgrd::start(&dir, &["--user"]);
    let mode = std::fs::metadata(&daemon.socket)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let hello = daemon.client().ok("io.qmgr.Hello", json!({}));
    assert_eq!(hello["mode"], "user");
    // Past the file's mode (as if it were opened up), the daemon itself refuses.
    std::fs::set_permissions(&daemon.socket, std::fs::Permissions::from_mode(0o666)).unwrap();
    let replies = calls_as(
        "nobody",
        "nogroup",
        &daemon.socket,
        &[
            json!({"method": "io.qmgr.ListJobs"}),
            json!({"method": "io.qmgr.Hello"}),
        ],
    );
    assert_eq!(
        replies[0]["error"],
        errors::PERMISSION_DENIED,
        "{replies:?}"
    );
    assert_eq!(replies.get(1), Some(&json!({"eof": true})), "{replies:?}");
}

/// Reads what the daemon answers a raw client before it hangs up: one
/// reply, then the end of the connection.
fn last_words(stream: UnixStream) -> qmgr::service::varlink::Reply {
    let mut conn = Connection::new(stream).unwrap();
    let reply = conn.read_reply(Some(LIMIT)).expect("an error reply");
    match conn.read_reply(Some(LIMIT)) {
        Err(ReadError::Closed) | Err(ReadError::Io(_)) => {}
        other => panic!("the daemon did not hang up: {other:?}"),
    }
    reply
}

#[test]
fn garbage_oversized_and_half_sent_messages_drop_only_their_sender() {
    let dir = scratch("daemon-garbage");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut good = daemon.client();
    let id = good.create("keeps working");

    let mut garbage = UnixStream::connect(&daemon.socket).unwrap();
    garbage.write_all(b"\xff\xfe this is not JSON\0").unwrap();
    let reply = last_words(garbage);
    assert_eq!(reply.error.as_deref(), Some(errors::INVALID_PARAMETER));
    assert_eq!(reply.parameters["parameter"], "message");
    good.ok("io.qmgr.GetJob", json!({ "id": id }));

    let mut no_method = UnixStream::connect(&daemon.socket).unwrap();
    no_method.write_all(b"{\"parameters\": {}}\0").unwrap();
    let reply = last_words(no_method);
    assert_eq!(reply.parameters["parameter"], "method");

    // Nesting past serde_json's recursion limit is refused, not a stack
    // overflow of the connection's small thread.
    let mut deep = UnixStream::connect(&daemon.socket).unwrap();
    let nested = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let message = format!(r#"{{"method": "io.qmgr.Hello", "parameters": {{"x": {nested}}}}}"#);
    deep.write_all(message.as_bytes()).unwrap();
    deep.write_all(b"\0").unwrap();
    assert_eq!(last_words(deep).parameters["parameter"], "message");

    let oversized = UnixStream::connect(&daemon.socket).unwrap();
    let mut writer = oversized.try_clone().unwrap();
    let sender = std::thread::spawn(move || {
        // The daemon stops reading at its limit: the rest may fail to go.
        let _ = writer.write_all(&vec![b'x'; MAX_MESSAGE + 4096]);
    });
    let reply = last_words(oversized);
    assert_eq!(reply.error.as_deref(), Some("io.qmgr.LimitReached"));
    assert_eq!(reply.parameters["what"], "message_bytes");
    assert_eq!(reply.parameters["limit"], MAX_MESSAGE as u64);
    sender.join().unwrap();

    let mut half = UnixStream::connect(&daemon.socket).unwrap();
    half.write_all(b"{\"method\": \"io.qmgr.Hel").unwrap();
    let started = Instant::now();
    // Served while the half-sent message waits for its deadline.
    for _ in 0..3 {
        good.ok("io.qmgr.ListJobs", json!({}));
    }
    let reply = last_words(half);
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(reply.error.as_deref(), Some("io.qmgr.LimitReached"));
    assert_eq!(reply.parameters["what"], "message_seconds");
    good.ok("io.qmgr.GetJob", json!({ "id": id }));
    // An idle connection has no deadline: `good` waited through all of this.
}

#[test]
fn a_hundred_clients_at_once_each_create_and_list() {
    let dir = scratch("daemon-hundred");
    let daemon = Qmgrd::start(&dir, &[]);
    let clients = 100;
    let all_connected = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|i| {
            let socket = daemon.socket.clone();
            let all_connected = Arc::clone(&all_connected);
            std::thread::spawn(move || {
                let mut c = Client::connect(&socket);
                c.ok("io.qmgr.Hello", json!({}));
                all_connected.wait();
                let id = c.create(&format!("client {i}"));
                let jobs = listed(&c.ok("io.qmgr.ListJobs", json!({})));
                assert!(jobs.contains(&id));
                all_connected.wait();
                id
            })
        })
        .collect();
    let mut ids: Vec<String> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), clients);
    let jobs = listed(&daemon.client().ok("io.qmgr.ListJobs", json!({})));
    assert_eq!(jobs.len(), clients);
}

#[test]
fn jobs_files_and_connections_are_bounded() {
    let dir = scratch("daemon-limits");
    let daemon = Qmgrd::start(
        &dir,
        &[
            "--max-jobs-per-user",
            "2",
            "--max-files-per-job",
            "3",
            "--max-connections-per-user",
            "3",
        ],
    );
    let mut c = daemon.client();
    let id = c.create("one");
    c.create("two");
    let refused = c.failed("io.qmgr.CreateJob", json!({ "display_name": "three" }));
    assert_eq!(refused.code.0, QM_BG_E_TOO_MANY_JOBS_PER_USER);
    assert!(
        refused.message.contains("--max-jobs-per-user 2"),
        "{}",
        refused.message
    );
    let file = |i: u32| json!({ "remote": format!("http://127.0.0.1:9/{i}"), "local": s(&dir.join(i.to_string())) });
    let too_many = c.failed(
        "io.qmgr.AddFiles",
        json!({ "id": id, "files": [file(0), file(1), file(2), file(3)] }),
    );
    assert_eq!(too_many.code.0, QM_BG_E_TOO_MANY_FILES_IN_JOB);
    c.ok(
        "io.qmgr.AddFiles",
        json!({ "id": id, "files": [file(0), file(1)] }),
    );
    c.ok(
        "io.qmgr.AddFileWithRanges",
        json!({ "id": id, "file": file(2), "ranges": [{ "offset": 0, "length": 10 }] }),
    );
    let one_more = c.failed("io.qmgr.AddFiles", json!({ "id": id, "files": [file(4)] }));
    assert_eq!(one_more.code.0, QM_BG_E_TOO_MANY_FILES_IN_JOB);
    assert_eq!(c.job(&id).file_count, 3);

    let mut second = daemon.client();
    second.ok("io.qmgr.Hello", json!({}));
    let mut third = daemon.client();
    third.ok("io.qmgr.Hello", json!({}));
    let fourth = UnixStream::connect(&daemon.socket).unwrap();
    let reply = last_words(fourth);
    assert_eq!(reply.error.as_deref(), Some("io.qmgr.LimitReached"));
    assert_eq!(reply.parameters["what"], "connections_per_user");
    assert_eq!(reply.parameters["limit"], 3);
    drop(third);
    wait_until("a connection slot freed", LIMIT, || {
        hello_works(&daemon.socket)
    });
    c.ok("io.qmgr.Hello", json!({}));
}

/// Whether a new connection is served (not refused at a bound).
fn hello_works(socket: &Path) -> bool {
    let Ok(mut conn) = Connection::connect(socket) else {
        return false;
    };
    let _ = conn.send_call(&Call::new("io.qmgr.Hello", json!({})));
    matches!(conn.read_reply(Some(LIMIT)), Ok(reply) if reply.error.is_none())
}

#[test]
fn wait_times_out_and_a_waiter_that_hangs_up_frees_its_connection() {
    let dir = scratch("daemon-wait");
    let daemon = Qmgrd::start(&dir, &["--max-connections-per-user", "2"]);
    let server = TestServer::start();
    server.add("/slow", Resource::new(patterned(1 << 20, 13)));
    let mut c = daemon.client();
    let id = c.create("slow");
    add(&mut c, &id, &server.url("/slow"), &dir.join("slow"));
    set(&mut c, &id, json!({ "max_bandwidth": 4096 }));
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    let timed_out = c.ok("io.qmgr.Wait", json!({ "id": id, "timeout_ms": 200 }));
    assert_eq!(timed_out["state"], Value::Null);
    // A waiter without a timeout that hangs up.
    let mut waiter = daemon.client();
    waiter
        .conn
        .send_call(&Call::new("io.qmgr.Wait", json!({ "id": id })))
        .unwrap();
    assert!(
        !hello_works(&daemon.socket),
        "two connections are the bound"
    );
    drop(waiter);
    wait_until("the waiter's connection freed", LIMIT, || {
        hello_works(&daemon.socket)
    });
    assert_eq!(c.ok("io.qmgr.Cancel", json!({ "id": id }))["code"], QM_S_OK);
}

#[test]
fn socket_activation_serves_the_passed_socket_exits_idle_and_resumes_on_the_next_start() {
    if !support::have_tool("systemd-socket-activate") {
        return;
    }
    let dir = scratch("daemon-activation");
    let socket = dir.join("sock");
    let state = dir.join("state");
    let server = TestServer::start();
    let data = patterned(1 << 20, 14);
    server.add("/fw", Resource::new(data.clone()));
    let dst = dir.join("fw.bin");
    let activate = |extra: &[&str]| {
        let mut cmd = Command::new("systemd-socket-activate");
        cmd.arg("-l")
            .arg(&socket)
            .arg(support::daemon::qmgrd_bin())
            .args(["--system", "--state", s(&state)])
            .args(extra);
        let daemon = Qmgrd::spawn_command(cmd, &socket, &state);
        wait_until("the launcher to listen", LIMIT, || {
            UnixStream::connect(&socket).is_ok()
        });
        daemon
    };

    // The default idle exit under activation, and a clean stop.
    let mut daemon = activate(&[]);
    let mut c = Client::connect(&socket);
    c.ok("io.qmgr.Hello", json!({}));
    // Its start-up line (read from its stderr by another thread).
    wait_until("qmgrd's start-up line", LIMIT, || {
        daemon.log().contains("exits after 30 s idle")
    });
    let log = daemon.log();
    assert!(
        log.contains("the socket the service manager passed"),
        "{log}"
    );
    let id = c.create("activated");
    add(&mut c, &id, &server.url("/fw"), &dst);
    set(&mut c, &id, json!({ "max_bandwidth": 512 << 10 }));
    drop(c);
    assert_eq!(daemon.terminate().code(), Some(0));

    // Started by the next connection; exits once idle, but not while its
    // job transfers.
    let mut daemon = activate(&["--idle-exit", "1"]);
    let mut c = Client::connect(&socket);
    assert_eq!(c.job(&id).state, JobState::Suspended);
    c.ok("io.qmgr.Resume", json!({ "id": id }));
    drop(c);
    let status = daemon.wait_exit(LIMIT);
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    wait_until("the idle exit's line", LIMIT, || {
        daemon.log().contains("idle for 1 s")
    });

    // The next start finds the job transferred: the daemon stayed for it.
    let mut daemon = activate(&["--idle-exit", "1"]);
    let mut c = Client::connect(&socket);
    assert_eq!(c.job(&id).state, JobState::Transferred);
    c.ok("io.qmgr.Complete", json!({ "id": id }));
    assert!(std::fs::read(&dst).unwrap() == data);
    drop(c);
    assert_eq!(daemon.wait_exit(LIMIT).code(), Some(0));
}

#[test]
fn the_python_varlink_package_introspects_the_interface_and_lists_a_job() {
    let have = Command::new("python3")
        .args(["-c", "import varlink"])
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        return support::skipped(
            "the Python package varlink is not installed (python3 -m pip install varlink)",
        );
    }
    let dir = scratch("daemon-python-varlink");
    let daemon = Qmgrd::start(&dir, &[]);
    let id = daemon.client().create("seen from Python");
    let script = r#"
import json, sys, varlink
with varlink.Client(address="unix:" + sys.argv[1]) as client:
    print(json.dumps(client.get_interfaces()))
    interface = client.get_interface("io.qmgr")
    print(interface.name)
    with client.open("io.qmgr", namespaced=False) as qmgr:
        print(json.dumps(qmgr.ListJobs()))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(&daemon.socket)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], r#"["org.varlink.service", "io.qmgr"]"#);
    assert_eq!(lines[1], "io.qmgr");
    let jobs: Value = serde_json::from_str(lines[2]).unwrap();
    assert_eq!(listed(&jobs), vec![id.clone()]);
    assert_eq!(jobs["jobs"][0]["display_name"], "seen from Python");
}

#[test]
fn a_watcher_that_stops_reading_is_dropped_and_the_others_go_on() {
    let dir = scratch("daemon-slow-watcher");
    let daemon = Qmgrd::start(&dir, &[]);
    let mut c = daemon.client();
    let id = c.create("busy");
    set(
        &mut c,
        &id,
        json!({ "notify_flags": NotifyFlags::JOB_MODIFICATION }),
    );
    let mut lazy = daemon.client();
    lazy.conn
        .send_call(&Call::new("io.qmgr.Watch", json!({ "ids": [id] })).with_more())
        .unwrap();
    assert_eq!(lazy.next("the watch").parameters["event"], Value::Null);
    let mut keen = daemon.client();
    keen.conn
        .send_call(&Call::new("io.qmgr.Watch", json!({ "ids": [id] })).with_more())
        .unwrap();
    assert_eq!(keen.next("the watch").parameters["event"], Value::Null);
    // Every change is an event; `lazy` reads none of them, `keen` all.
    let mut changes = 0;
    let mut last_shown = 0;
    let mut dropped = false;
    while !dropped {
        assert!(changes < 20_000, "the lazy watcher was never dropped");
        for _ in 0..100 {
            changes += 1;
            set(
                &mut c,
                &id,
                json!({ "description": format!("change {changes}") }),
            );
            // An event carries the job as it is when the engine's
            // delivery thread gets to it, so a late one (the flags set
            // above, or the change before this one on a loaded machine)
            // may show a later description than its change made. What
            // `keen` sees still never goes back, nor past the last change.
            loop {
                let event =
                    decode_event(&keen.next("an event").parameters["event"], "event").unwrap();
                let shown: u64 = event
                    .job
                    .description
                    .strip_prefix("change ")
                    .map_or(0, |n| n.parse().unwrap());
                assert!(
                    shown >= last_shown && shown <= changes,
                    "out of order at {changes} after {last_shown}: {event:?}"
                );
                last_shown = shown;
                if shown == changes {
                    break;
                }
            }
        }
        dropped = daemon.log().contains("that fell behind");
    }
    // What it had been sent, then the end of the connection.
    let mut seen = 0;
    loop {
        match lazy.conn.read_reply(Some(LIMIT)) {
            Ok(reply) => {
                assert!(reply.error.is_none());
                seen += 1;
            }
            Err(ReadError::Closed) | Err(ReadError::Io(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(seen < changes, "{seen} of {changes}");
    c.ok("io.qmgr.Hello", json!({}));
}
