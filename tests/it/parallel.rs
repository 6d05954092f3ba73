//! Several connections per job: a job transfers several of its files at
//! once, each on its own connection, within the job's and the manager's
//! caps; every guarantee of one connection still holds.

use crate::support;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use qmgr::{FileSpec, Job, JobState, Manager, NotifyFlags, Priority};
use support::http_server::{patterned, Fault, Resource, TestServer};
use support::{temp_files, wait, wait_until};

/// `count` files of `size` bytes on `server` as `/f{i}`, with their specs.
fn many_files(
    server: &TestServer,
    dir: &std::path::Path,
    count: usize,
    size: usize,
) -> (Vec<Vec<u8>>, Vec<FileSpec>) {
    let mut data = Vec::new();
    let mut specs = Vec::new();
    for i in 0..count {
        let bytes = patterned(size, 100 + i as u32);
        server.add(&format!("/f{i}"), Resource::new(bytes.clone()));
        specs.push(FileSpec::new(
            server.url(&format!("/f{i}")),
            dir.join(format!("f{i}.bin")).to_str().unwrap(),
        ));
        data.push(bytes);
    }
    (data, specs)
}

#[test]
fn two_hundred_small_files_over_four_connections_arrive_byte_exact() {
    let dir = support::scratch("parallel-200");
    let server = TestServer::start();
    let (data, specs) = many_files(&server, &dir, 200, 64 << 10);
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("many").unwrap();
    job.add_files(&specs).unwrap();
    job.set_max_connections(4).unwrap();
    assert_eq!(job.max_connections(), 4);
    let landed = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&landed);
    let callback: qmgr::NotifyCallback = Arc::new(move |_job, event| {
        if event.kind == NotifyFlags::FILE_TRANSFERRED {
            seen.lock().unwrap().push(event.file_index);
        }
    });
    job.set_notify(Some(callback), NotifyFlags::FILE_TRANSFERRED, 1)
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(120)), JobState::Transferred);
    let connections = server.connections();
    assert!(
        (2..=4).contains(&connections),
        "{connections} connections for a job of 4"
    );
    // FILE_TRANSFERRED fired once for each file as it landed.
    wait_until(
        "200 FILE_TRANSFERRED events",
        Duration::from_secs(30),
        || landed.lock().unwrap().len() >= 200,
    );
    let landed: HashSet<u32> = landed.lock().unwrap().iter().copied().collect();
    assert_eq!(landed.len(), 200);
    assert_eq!(
        job.complete().unwrap(),
        qmgr::HResult(qmgr::hresult::QM_S_OK)
    );
    for (i, bytes) in data.iter().enumerate() {
        assert!(
            std::fs::read(dir.join(format!("f{i}.bin"))).unwrap() == *bytes,
            "file {i} is not byte-exact"
        );
    }
    // Every file was asked for once: no file was fetched by two connections.
    for i in 0..200 {
        assert_eq!(server.requests(&format!("/f{i}")).len(), 1, "file {i}");
    }
}

#[test]
fn no_more_connections_to_one_server_than_its_cap() {
    let dir = support::scratch("parallel-cap");
    let server = TestServer::start();
    let (_, specs) = many_files(&server, &dir, 30, 32 << 10);
    let manager = Manager::open(None).unwrap();
    manager.set_max_connections_per_server(3).unwrap();
    assert_eq!(manager.max_connections_per_server(), 3);
    let job = manager.create_job("capped").unwrap();
    job.add_files(&specs).unwrap();
    job.set_max_connections(8).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    let connections = server.connections();
    assert!(
        connections <= 3,
        "{connections} connections to one server capped at 3"
    );
    job.complete().unwrap();

    // The manager-wide cap: a job gets no more than it leaves.
    let server = TestServer::start();
    std::fs::create_dir_all(dir.join("m")).unwrap();
    let (_, specs) = many_files(&server, &dir.join("m"), 20, 32 << 10);
    manager.set_max_connections(2).unwrap();
    manager.set_max_connections_per_server(6).unwrap();
    let job = manager.create_job("manager-capped").unwrap();
    job.add_files(&specs).unwrap();
    job.set_max_connections(6).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    let connections = server.connections();
    assert!(
        connections <= 2,
        "{connections} connections under a manager cap of 2"
    );
}

#[test]
fn a_job_limit_holds_across_four_connections() {
    // One limit for the job, not one per connection: four connections
    // together take at least about the time the limit allows (a lower
    // bound, half of it: a slow machine only makes it longer; four
    // buckets would take a quarter). How exactly the rate holds is the
    // throttle's unit tests' business (virtual time).
    let dir = support::scratch("parallel-limit");
    let server = TestServer::start();
    let (data, specs) = many_files(&server, &dir, 4, 256 << 10);
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("limited").unwrap();
    job.add_files(&specs).unwrap();
    job.set_max_connections(4).unwrap();
    let limit = 1u64 << 20;
    job.set_max_bandwidth(limit).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    let elapsed = started.elapsed();
    let total: usize = data.iter().map(Vec::len).sum();
    let nominal = Duration::from_secs_f64(total as f64 / limit as f64);
    assert!(
        elapsed >= nominal / 2,
        "{total} bytes over 4 connections at {limit} B/s took only {elapsed:?}"
    );
    assert!(
        server.connections() >= 2,
        "the files did not go in parallel"
    );
    job.complete().unwrap();
    for (i, bytes) in data.iter().enumerate() {
        assert!(std::fs::read(dir.join(format!("f{i}.bin"))).unwrap() == *bytes);
    }
}

#[test]
fn suspend_and_foreground_preemption_stop_every_connection() {
    let dir = support::scratch("parallel-preempt");
    let server = TestServer::start();
    let (bg_data, bg_specs) = many_files(&server, &dir, 4, 1 << 20);
    server.add("/fg", Resource::new(patterned(256 << 10, 9)));
    let manager = Manager::open(None).unwrap();
    manager.set_max_active_jobs(1).unwrap();
    let background = manager.create_job("background").unwrap();
    background.add_files(&bg_specs).unwrap();
    background.set_max_connections(4).unwrap();
    background.set_max_bandwidth(1 << 20).unwrap();
    background.resume().unwrap();
    let progressed = |job: &Job, at_least: u64| {
        wait_until(
            &format!("{at_least} bytes of {job:?}"),
            Duration::from_secs(30),
            || job.bytes_transferred() >= at_least,
        );
    };
    progressed(&background, 256 << 10);
    // How long this machine takes to move 128 KiB of this job right now:
    // four times that (at least 400 ms) is the window in which a
    // connection that went on would show, on a fast machine or a slow one.
    let t = Instant::now();
    progressed(&background, background.bytes_transferred() + (128 << 10));
    let window = (t.elapsed() * 4).clamp(Duration::from_millis(400), Duration::from_secs(10));

    // Suspend returns once every connection has stopped writing: from
    // then on, not one byte more.
    background.suspend().unwrap();
    let frozen = background.bytes_transferred();
    unchanged_for("the suspended job's bytes", window, || {
        background.bytes_transferred()
    });
    assert_eq!(background.bytes_transferred(), frozen);
    background.resume().unwrap();
    progressed(&background, frozen + (64 << 10));

    // A FOREGROUND job takes the only slot: the background job's connections all stop.
    let fg = manager.create_job("foreground").unwrap();
    fg.add_files(&[FileSpec::new(
        server.url("/fg"),
        dir.join("fg.bin").to_str().unwrap(),
    )])
    .unwrap();
    fg.set_priority(Priority::Foreground).unwrap();
    // 256 KiB at 8 KiB/s (32 s): it runs for as long as the background
    // job is watched, then is let go.
    fg.set_max_bandwidth(8 << 10).unwrap();
    fg.resume().unwrap();
    wait_until(
        "the background job to be preempted by the foreground one",
        Duration::from_secs(30),
        || background.state() == JobState::Queued && fg.state() == JobState::Transferring,
    );
    // Every connection of the preempted run stops within a chunk (the
    // run ends after QUEUED is set): its count comes to rest...
    let parked = settled("the preempted job's bytes", || {
        background.bytes_transferred()
    });
    // ...and stays there while the foreground job runs.
    unchanged_for("the preempted job's bytes", window, || {
        background.bytes_transferred()
    });
    assert_eq!(background.bytes_transferred(), parked);
    assert_eq!(
        fg.state(),
        JobState::Transferring,
        "the check outlived the foreground job"
    );
    fg.set_max_bandwidth(0).unwrap();
    assert_eq!(wait(&fg, Duration::from_secs(30)), JobState::Transferred);
    fg.complete().unwrap();

    // Back in its slot, it ends byte-exact.
    background.set_max_bandwidth(0).unwrap();
    assert_eq!(
        wait(&background, Duration::from_secs(60)),
        JobState::Transferred
    );
    background.complete().unwrap();
    for (i, bytes) in bg_data.iter().enumerate() {
        assert!(std::fs::read(dir.join(format!("f{i}.bin"))).unwrap() == *bytes);
    }
    assert!(temp_files(&dir).is_empty());
}

#[test]
fn one_failing_file_ends_the_run_and_resume_finishes_the_rest() {
    let dir = support::scratch("parallel-fail");
    let server = TestServer::start();
    let (data, specs) = many_files(&server, &dir, 8, 256 << 10);
    server.script("/f3", vec![Fault::Status(404, vec![])]);
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("one bad").unwrap();
    job.add_files(&specs).unwrap();
    job.set_max_connections(4).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Error);
    assert_eq!(job.error().unwrap().http_status, 404);
    // The 404 was a one-off: resume fetches what is missing.
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    job.complete().unwrap();
    for (i, bytes) in data.iter().enumerate() {
        assert!(
            std::fs::read(dir.join(format!("f{i}.bin"))).unwrap() == *bytes,
            "file {i}"
        );
    }
}

/// Fails if `value` changes within `window`: a wait that must time out
/// (the one way to see that nothing moves), polled so that a change fails
/// at once.
fn unchanged_for(what: &str, window: Duration, value: impl Fn() -> u64) {
    let first = value();
    let until = Instant::now() + window;
    while Instant::now() < until {
        let now = value();
        assert_eq!(now, first, "{what} moved within {window:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Waits until `value` has not changed for 300 ms, and returns it; fails
/// after 30 s of changes.
fn settled(what: &str, value: impl Fn() -> u64) -> u64 {
    let quiet = Duration::from_millis(300);
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut last, mut since) = (value(), Instant::now());
    loop {
        std::thread::sleep(Duration::from_millis(5));
        let now = value();
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= quiet {
            return last;
        }
        assert!(Instant::now() < deadline, "{what} never came to rest");
    }
}
