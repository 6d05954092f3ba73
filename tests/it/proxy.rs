//! The proxy (DESIGN §8): managers connected to a real `qmgrd` on a socket
//! of the test's own, through the Rust API (`Manager::connect`), a C
//! program (`qm_manager_connect`), the Python package
//! (`Manager.connect`) and the CLI (`--address`). A job's whole life, a
//! job shared by processes, the same errors as in-process, callbacks of
//! the daemon's events, progress read in the process and fresh, and a
//! daemon killed mid-call and restarted.

use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{
    FileSpec, HResult, Job, JobId, JobState, Manager, NotifyCallback, NotifyCmdLine, NotifyFlags,
    Owner,
};

use crate::support::daemon::Qmgrd;
use crate::support::{self, Build};

/// How long anything that must happen may take (it only turns a hang into
/// a failure; speed is not measured here).
const LONG: Duration = Duration::from_secs(60);

/// The daemon's Varlink address.
fn address(daemon: &Qmgrd) -> String {
    format!("unix:{}", daemon.socket.display())
}

/// A source file of `size` patterned bytes in `dir`.
fn source(dir: &Path, name: &str, size: usize) -> (String, Vec<u8>) {
    let data = support::http_server::patterned(size, size as u32);
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap();
    (path.to_str().unwrap().to_string(), data)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn a_job_goes_through_its_whole_life_on_a_connected_manager() {
    let dir = support::scratch("proxy-life");
    let daemon = Qmgrd::start(&dir, &[]);
    let manager = Manager::connect(Some(&address(&daemon))).unwrap();
    assert!(manager.is_connected());
    assert_eq!(manager.state_dir(), None);
    assert!(manager.skipped_jobs().is_empty());

    let (src, data) = source(&dir, "src.bin", 5 << 20);
    let dst = dir.join("dst.bin");
    let job = manager.create_job("connected").unwrap();
    assert_eq!(job.state(), JobState::Suspended);
    assert_eq!(job.display_name(), "connected");
    job.add_files(&[FileSpec::new(src.clone(), s(&dst))])
        .unwrap();
    assert_eq!(job.file_count(), 1, "a change is seen at once");
    assert_eq!(job.file_local_name(0).unwrap(), s(&dst));
    job.set_description("through the daemon").unwrap();
    assert_eq!(job.description(), "through the daemon");
    job.resume().unwrap();
    assert_eq!(job.wait(Some(LONG)).unwrap(), Some(JobState::Transferred));
    let progress = job.progress();
    assert_eq!(progress.bytes_transferred, data.len() as u64);
    assert_eq!(progress.bytes_total, Some(data.len() as u64));
    assert_eq!(job.percent_done(), 100);
    assert!(job.file_progress(0).unwrap().completed);
    assert!(job.times().transfer_completion.is_some());

    // Another handle of the same job, by id: equal to the first.
    let again = manager.job(&job.id()).unwrap();
    assert_eq!(again, job);
    assert_eq!(manager.jobs().unwrap(), vec![job.clone()]);
    assert_eq!(manager.job_count().unwrap(), 1);

    // The owner is the connecting user; taking one's own job changes
    // nothing, and a connected manager gives jobs to its caller only.
    let me = Owner::current();
    assert_eq!(job.owner().uid, me.uid);
    job.take_ownership(me).unwrap();
    let someone = Owner {
        uid: me.uid + 1,
        gid: me.gid,
    };
    let refused = job.take_ownership(someone).unwrap_err();
    assert_eq!(refused.code, HResult(QM_E_ACCESSDENIED), "{refused}");
    let refused = manager.create_job_owned_by("x", someone).unwrap_err();
    assert_eq!(refused.code, HResult(QM_E_ACCESSDENIED), "{refused}");
    assert_eq!(job.state(), JobState::Transferred);
    // The daemon's administrators (the tests' root, or its user) list
    // every user's jobs.
    match manager.jobs_of_all_users() {
        Ok(all) => assert!(all.contains(&job)),
        Err(e) => assert_eq!(e.code, HResult(QM_E_ACCESSDENIED), "{e}"),
    }

    assert_eq!(job.complete().unwrap(), HResult(QM_S_OK));
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_eq!(job.state(), JobState::Acknowledged);
    assert_eq!(again.state(), JobState::Acknowledged);
    assert!(manager.jobs().unwrap().is_empty());

    // The manager's settings are the daemon's.
    manager.set_max_active_jobs(3).unwrap();
    assert_eq!(manager.max_active_jobs(), 3);
    let other = Manager::connect(Some(&address(&daemon))).unwrap();
    assert_eq!(other.max_active_jobs(), 3);
    manager.close();
    let closed = manager.create_job("after close").unwrap_err();
    assert_eq!(closed.code, HResult(QM_E_HANDLE));
}

/// Runs the same bad calls on `manager`; returns what each gave.
fn bad_calls(manager: &Manager, dir: &Path) -> Vec<(String, Option<qmgr::Error>)> {
    let mut out = Vec::new();
    let mut record = |what: &str, result: Result<(), qmgr::Error>| {
        out.push((what.to_string(), result.err()));
    };
    let nobody: JobId = "5a5a5a5a-5a5a-4a5a-9a5a-5a5a5a5a5a5a".parse().unwrap();
    record("unknown id", manager.job(&nobody).map(drop));
    record("0 active jobs", manager.set_max_active_jobs(0));
    let job = manager.create_job("bad calls").unwrap();
    record("long name", job.set_display_name(&"n".repeat(300)));
    record("no files", job.add_files(&[]));
    record("resume empty", job.resume());
    record(
        "ftp",
        job.add_files(&[FileSpec::new("ftp://example.com/x", s(&dir.join("x")))]),
    );
    record(
        "relative",
        job.add_files(&[FileSpec::new("file:///etc/hostname", "relative/x")]),
    );
    record(
        "no directory",
        job.add_files(&[FileSpec::new(
            "file:///etc/hostname",
            s(&dir.join("missing/x")),
        )]),
    );
    record("file 3", job.file_remote_name(3).map(drop));
    record("no error", job.error().map(drop));
    record("bad flags", job.set_notify(None, 0x100, 0));
    record("bad proxy", job.set_proxy(Some("gopher://p")));
    record("bad headers", job.set_custom_headers(Some("no colon")));
    record("bad sha", job.set_file_sha256(0, Some("xyz")));
    record("bad ranges", {
        job.add_file_with_ranges("file:///etc/hostname", s(&dir.join("r")), &[])
    });
    record("prefix", job.replace_remote_prefix("", "x").map(drop));
    record("cancel", job.cancel().map(drop));
    record("resume cancelled", job.resume());
    record("rename cancelled", job.set_display_name("x"));
    record("add to cancelled", {
        job.add_files(&[FileSpec::new("file:///etc/hostname", s(&dir.join("y")))])
    });
    record("cancel cancelled", job.cancel().map(drop));
    record("complete cancelled", job.complete().map(drop));
    out
}

#[test]
fn bad_calls_fail_with_the_codes_and_messages_of_in_process_calls() {
    let dir = support::scratch("proxy-errors");
    let daemon = Qmgrd::start(&dir, &[]);
    let local = bad_calls(&Manager::open(None).unwrap(), &dir);
    let remote = bad_calls(&Manager::connect(Some(&address(&daemon))).unwrap(), &dir);
    assert!(local.iter().filter(|(_, e)| e.is_some()).count() >= 18);
    for ((what, here), (_, there)) in local.iter().zip(&remote) {
        assert_eq!(here, there, "{what}: in-process vs through the daemon");
    }
}

/// Collects a callback's events, with the progress the job showed in it.
fn collector() -> (NotifyCallback, mpsc::Receiver<(u32, u64, JobState)>) {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let callback: NotifyCallback = Arc::new(move |job: &Job, event| {
        let seen = (event.kind, job.bytes_transferred(), job.state());
        let _ = tx.lock().unwrap().send(seen);
    });
    (callback, rx)
}

#[test]
fn callbacks_get_the_daemons_events_and_progress_is_read_fresh_in_the_process() {
    let dir = support::scratch("proxy-events");
    let daemon = Qmgrd::start(&dir, &[]);
    let manager = Manager::connect(Some(&address(&daemon))).unwrap();
    let size = 6 << 20;
    let (src, _) = source(&dir, "src.bin", size);
    let job = manager.create_job("events").unwrap();
    job.add_files(&[FileSpec::new(src, s(&dir.join("dst.bin")))])
        .unwrap();
    // About three seconds of transfer: progress events on the way.
    job.set_max_bandwidth(2 << 20).unwrap();
    job.set_min_notification_interval(200).unwrap();
    let (callback, events) = collector();
    let flags = NotifyFlags::JOB_TRANSFERRED | NotifyFlags::JOB_MODIFICATION;
    job.set_notify(Some(callback), flags, 7).unwrap();
    assert_eq!(job.notify_flags(), NotifyFlags(flags));
    job.resume().unwrap();

    let deadline = Instant::now() + LONG;
    let mut moving = Vec::new();
    let transferred = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (kind, bytes, state) = events.recv_timeout(left).expect("the TRANSFERRED event");
        if kind == NotifyFlags::JOB_TRANSFERRED {
            break (bytes, state);
        }
        if state == JobState::Transferring {
            moving.push(bytes);
        }
    };
    // In the callback, the job already showed where the event left it.
    assert_eq!(transferred, (size as u64, JobState::Transferred));
    assert!(
        moving.windows(2).any(|w| w[0] < w[1]),
        "progress events while it moved: {moving:?}"
    );
    // Read locally, progress is final within the notification interval
    // (here at once: the event brought it).
    let read_at = Instant::now();
    while job.bytes_transferred() != size as u64 {
        assert!(
            read_at.elapsed() < Duration::from_millis(250),
            "stale progress"
        );
        std::thread::yield_now();
    }
    // Read in a loop, it stays in the process: thousands of reads take
    // less time than thousands of round trips would.
    let started = Instant::now();
    for _ in 0..100_000 {
        std::hint::black_box(job.progress());
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "100,000 progress reads took {:?}",
        started.elapsed()
    );

    // Cleared: once set_notify returns, the callback is not called again.
    // The events of the whole manager come in one stream and run on one
    // thread in order, so another job's event, caused after this job's
    // change, comes after that change's event would have.
    job.set_notify(None, flags, 7).unwrap();
    while events.try_recv().is_ok() {}
    let barrier = manager.create_job("barrier").unwrap();
    let (tx, described) = mpsc::channel();
    let tx = Mutex::new(tx);
    let seen: NotifyCallback = Arc::new(move |job: &Job, _| {
        let _ = tx.lock().unwrap().send(job.description());
    });
    barrier
        .set_notify(Some(seen), NotifyFlags::JOB_MODIFICATION, 8)
        .unwrap();
    job.set_description("after").unwrap();
    barrier.set_description("barrier").unwrap();
    while described.recv_timeout(LONG).expect("the barrier's event") != "barrier" {}
    assert!(events.try_recv().is_err(), "a cleared callback was called");
    barrier.cancel().unwrap();
    job.complete().unwrap();
}

/// BITS's rule on a connected manager: while this process runs a job's
/// callback, the daemon does not run the job's notify program; a job
/// without one (or whose callback was cleared) runs it.
#[test]
fn a_callback_in_a_connected_program_holds_the_jobs_notify_program() {
    let dir = support::scratch("proxy-callback-cmdline");
    let daemon = Qmgrd::start(&dir, &[]);
    let manager = Manager::connect(Some(&address(&daemon))).unwrap();
    let (src, _) = source(&dir, "src.bin", 4096);
    // Each run appends the job's id.
    let ran = dir.join("ran");
    let lines = || std::fs::read_to_string(&ran).unwrap_or_default();
    let make = |name: &str| {
        let job = manager.create_job(name).unwrap();
        let dst = dir.join(format!("{name}.bin"));
        job.add_files(&[FileSpec::new(src.clone(), s(&dst))])
            .unwrap();
        job.set_notify_cmdline(Some(NotifyCmdLine {
            program: "/bin/sh".into(),
            parameters: Some(format!("sh -c \"echo $QMGR_JOB_ID >> {}\"", s(&ran))),
        }))
        .unwrap();
        job
    };
    let flags = NotifyFlags::JOB_TRANSFERRED | NotifyFlags::JOB_ERROR;
    let (callback, events) = collector();

    let taken = make("taken");
    taken.set_notify(Some(callback.clone()), flags, 7).unwrap();
    taken.resume().unwrap();
    let (kind, _, _) = events.recv_timeout(LONG).expect("the TRANSFERRED event");
    assert_eq!(kind, NotifyFlags::JOB_TRANSFERRED);
    // A job without a callback, transferred after it, runs the program.
    let plain = make("plain");
    plain.resume().unwrap();
    let plain_id = plain.id().to_string();
    support::wait_until("the program of the job without a callback", LONG, || {
        lines().contains(&plain_id)
    });
    assert_eq!(
        lines().trim(),
        plain_id,
        "the program of the job with a callback ran"
    );

    // A callback cleared before the event: the program runs.
    let cleared = make("cleared");
    cleared.set_notify(Some(callback), flags, 7).unwrap();
    cleared.set_notify(None, flags, 7).unwrap();
    cleared.resume().unwrap();
    let cleared_id = cleared.id().to_string();
    support::wait_until(
        "the program of the job whose callback was cleared",
        LONG,
        || lines().contains(&cleared_id),
    );
    assert!(!lines().contains(&taken.id().to_string()), "{}", lines());
    for job in [taken, plain, cleared] {
        job.complete().unwrap();
    }
}

#[test]
fn a_job_one_process_makes_another_completes() {
    let dir = support::scratch("proxy-share");
    let daemon = Qmgrd::start(&dir, &[]);
    let addr = address(&daemon);
    let (src, data) = source(&dir, "src.bin", 1 << 20);
    let dst = dir.join("dst.bin");
    // The CLI creates, adds and resumes, and exits.
    let cli = |args: &[&str]| {
        let mut all = vec!["--address", addr.as_str()];
        all.extend_from_slice(args);
        let run = crate::cli::qmgr_with(&dir, &all, &[], |_| {});
        assert_eq!(run.code, 0, "qmgr {args:?}: {run:#?}");
        run
    };
    let id = cli(&["create", "shared"]).stdout.trim().to_string();
    cli(&["add", &id, &src, s(&dst)]);
    cli(&["resume", &id]);
    let listed = cli(&["list", "--json"]).stdout;
    assert!(listed.contains(&id), "{listed}");
    // This process finds it and completes it.
    let manager = Manager::connect(Some(&addr)).unwrap();
    let job = manager.job(&id.parse().unwrap()).unwrap();
    assert_eq!(job.display_name(), "shared");
    assert_eq!(job.wait(Some(LONG)).unwrap(), Some(JobState::Transferred));
    let info = cli(&["info", &id, "--json"]).stdout;
    assert!(info.contains("TRANSFERRED"), "{info}");
    job.complete().unwrap();
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert!(!cli(&["list", "--json"]).stdout.contains(&id));
}

#[test]
fn the_cli_says_how_to_start_a_daemon_when_there_is_none() {
    let dir = support::scratch("proxy-cli-none");
    let socket = dir.join("nobody-listens");
    let addr = format!("unix:{}", socket.display());
    for env in [vec![("QMGR_ADDRESS", addr.as_str())], vec![]] {
        let mut args = vec!["list"];
        if env.is_empty() {
            args = vec!["--address", &addr, "list"];
        }
        let run = crate::cli::qmgr_with(&dir, &args, &env, |_| {});
        assert_eq!(run.code, 3, "{run:#?}");
        let line = run.error_line();
        assert!(
            line.starts_with("qmgr: error: QM_E_SERVICE_UNAVAILABLE (0x81001002): ")
                && line.contains(s(&socket))
                && line.contains("qmgrd --user")
                && line.contains("--state DIR"),
            "{line}"
        );
    }
    // `run` carries on a state directory's jobs: the daemon's run by
    // themselves (and completing them all would take other programs' jobs).
    let run = crate::cli::qmgr_with(&dir, &["--address", &addr, "run"], &[], |_| {});
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.error_line().contains("--state DIR"), "{run:#?}");
    // --state keeps the in-process mode, daemon or not.
    let state = dir.join("state");
    let run = crate::cli::qmgr_with(
        &dir,
        &["--state", s(&state), "create", "here"],
        &[("QMGR_ADDRESS", addr.as_str())],
        |_| {},
    );
    assert_eq!(run.code, 0, "{run:#?}");
}

#[test]
fn the_default_daemon_is_qmgr_address_then_the_users_then_the_systems() {
    let dir = support::scratch("proxy-default");
    let daemon = Qmgrd::start(&dir, &[]);
    let runtime = dir.join("runtime");
    std::fs::create_dir_all(runtime.join("qmgr")).unwrap();
    std::os::unix::fs::symlink(&daemon.socket, runtime.join("qmgr/io.qmgr")).unwrap();
    let list = |env: &[(&str, &str)]| crate::cli::qmgr_with(&dir, &["list"], env, |_| {});
    // The per-user socket under $XDG_RUNTIME_DIR.
    let run = list(&[("XDG_RUNTIME_DIR", s(&runtime)), ("QMGR_ADDRESS", "")]);
    assert_eq!(run.code, 0, "{run:#?}");
    // $QMGR_ADDRESS first.
    let elsewhere = format!("unix:{}", dir.join("elsewhere").display());
    let run = list(&[
        ("XDG_RUNTIME_DIR", s(&runtime)),
        ("QMGR_ADDRESS", &elsewhere),
    ]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.error_line().contains("elsewhere"), "{run:#?}");
    // Without either: the system daemon's socket.
    let run = list(&[("XDG_RUNTIME_DIR", s(&dir.join("none")))]);
    if !Path::new("/run/qmgr/io.qmgr").exists() {
        assert_eq!(run.code, 3, "{run:#?}");
        assert!(run.error_line().contains("/run/qmgr/io.qmgr"), "{run:#?}");
    }
}

/// A TCP server that accepts connections and never answers: a job on it
/// stays CONNECTING or TRANSFERRING until its stall timeout.
fn silent_server() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/never", listener.local_addr().unwrap());
    (listener, url)
}

#[test]
fn losing_the_daemon_mid_call_fails_promptly_and_a_restart_brings_the_jobs_back() {
    let dir = support::scratch("proxy-lost");
    let mut daemon = Qmgrd::start(&dir, &[]);
    let manager = Arc::new(Manager::connect(Some(&address(&daemon))).unwrap());
    let (_server, url) = silent_server();
    let job = manager.create_job("lost").unwrap();
    job.add_files(&[FileSpec::new(url, s(&dir.join("never.bin")))])
        .unwrap();
    job.resume().unwrap();
    // A wait that only the daemon's end can end.
    let waiter = {
        let job = job.clone();
        std::thread::spawn(move || {
            let started = Instant::now();
            (job.wait(None), started)
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    daemon.kill();
    let (waited, started) = waiter.join().unwrap();
    let err = waited.unwrap_err();
    assert_eq!(err.code, HResult(QM_E_SERVICE_UNAVAILABLE), "{err}");
    assert!(err.message.contains("lost"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // Later calls fail at once with the same code, never hang.
    let started = Instant::now();
    let err = job.suspend().unwrap_err();
    assert_eq!(err.code, HResult(QM_E_SERVICE_UNAVAILABLE), "{err}");
    assert!(err.message.contains("no qmgr daemon"), "{err}");
    assert_eq!(
        manager.jobs().unwrap_err().code,
        HResult(QM_E_SERVICE_UNAVAILABLE)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // Getters keep the last snapshot meanwhile.
    assert_eq!(job.display_name(), "lost");

    // Back: the same handles work again, by id.
    daemon.restart();
    job.suspend().unwrap();
    assert_eq!(job.state(), JobState::Suspended);
    assert_eq!(manager.jobs().unwrap(), vec![job.clone()]);
    job.cancel().unwrap();
}

#[test]
fn closing_a_connected_manager_ends_its_waits() {
    let dir = support::scratch("proxy-close");
    let daemon = Qmgrd::start(&dir, &[]);
    let manager = Manager::connect(Some(&address(&daemon))).unwrap();
    let (_server, url) = silent_server();
    let job = manager.create_job("waited").unwrap();
    job.add_files(&[FileSpec::new(url, s(&dir.join("never.bin")))])
        .unwrap();
    job.resume().unwrap();
    let waiter = {
        let job = job.clone();
        std::thread::spawn(move || job.wait(None))
    };
    std::thread::sleep(Duration::from_millis(300));
    manager.close();
    let err = waiter.join().unwrap().unwrap_err();
    assert_eq!(err.code, HResult(QM_E_ABORT), "{err}");
    // The daemon's job goes on: another connection cancels it.
    let other = Manager::connect(Some(&address(&daemon))).unwrap();
    other.job(&job.id()).unwrap().cancel().unwrap();
}

#[test]
fn a_c_program_works_on_a_connected_manager() {
    let dir = support::scratch("proxy-c");
    let daemon = Qmgrd::start(&dir, &[]);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let exe = support::compile("proxy.c", Build::Plain, &dir);
    let out = support::run(
        &exe,
        &[s(&work), &address(&daemon)],
        Duration::from_secs(300),
    );
    assert!(out.contains("proxy: all checks passed"), "{out}");
}

#[test]
fn python_connects_to_the_daemon() {
    let dir = support::scratch("proxy-python");
    let daemon = Qmgrd::start(&dir, &[]);
    let (src, data) = source(&dir, "src.bin", 1 << 20);
    let dst = dir.join("dst.bin");
    let script = r#"
import sys
sys.path.insert(0, sys.argv[1])
import qmgr
address, src, dst, missing = sys.argv[2:6]
with qmgr.Manager.connect(address) as m:
    assert m.connected and address in repr(m), repr(m)
    with m.create_job("python") as job:
        job.add_file(src, dst)
        job.resume()
        assert job.wait(60) == qmgr.JobState.TRANSFERRED, job.state
        assert job.progress.bytes_transferred == job.progress.bytes_total
        job.take_ownership()
        job.complete()
    assert m.jobs() == []
    try:
        assert m.jobs(all_users=True) == []
    except qmgr.AccessDenied:
        pass
try:
    qmgr.Manager.connect("unix:" + missing)
except qmgr.ServiceUnavailable as e:
    assert missing in str(e), str(e)
else:
    raise AssertionError("connected to nobody")
print("python ok")
"#;
    let python = std::env::var("QMGR_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut cmd = Command::new(python);
    support::as_a_user(&mut cmd)
        .arg("-c")
        .arg(script)
        .arg(support::root().join("python"))
        .arg(address(&daemon))
        .arg(&src)
        .arg(&dst)
        .arg(dir.join("missing.sock"))
        .env("QMGR_LIBRARY", support::library_dir().join("libqmgr.so"))
        .env("PYTHONDONTWRITEBYTECODE", "1");
    let out = support::run_bounded(cmd, Duration::from_secs(120));
    assert!(
        out.status.is_some_and(|s| s.success()),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(&dst).unwrap(), data);
}
