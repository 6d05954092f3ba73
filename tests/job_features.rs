//! The BITS job features past `IBackgroundCopyJob1`, over real sockets:
//! the maximum download time (`IBackgroundCopyJob4::SetMaximumDownloadTime`).

mod support;

use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{ErrorContext, FileSpec, Job, JobState, Manager};
use support::http_server::{patterned, Resource, TestServer};
use support::wait;

/// A resource sent at about `rate` bytes per second per connection.
fn paced(data: &[u8], rate: usize) -> Resource {
    let mut r = Resource::new(data.to_vec());
    let step = 16 * 1024;
    r.pace = Some((step, Duration::from_secs_f64(step as f64 / rate as f64)));
    r
}

fn job_for(manager: &Manager, url: &str, dst: &std::path::Path) -> Job {
    let job = manager.create_job("limits").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job
}

#[test]
fn a_job_past_its_maximum_download_time_fails_and_a_resume_gives_it_the_time_again() {
    let dir = support::scratch("jobs-maxtime");
    let data = patterned(4 << 20, 41);
    let server = TestServer::start();
    server.add("/slow", paced(&data, 1 << 20)); // about 4 s
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("slow.bin");
    let job = job_for(&manager, &server.url("/slow"), &dst);
    assert_eq!(job.max_download_time(), 7_776_000, "BITS's 90 days");
    job.set_max_download_time(1).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    let took = started.elapsed();
    let err = job.error().unwrap();
    assert_eq!(err.code.0, QM_BG_E_MAXDOWNLOAD_TIMEOUT, "{err:?}");
    assert_eq!(err.context, ErrorContext::GeneralQueueManager);
    assert!(took >= Duration::from_millis(900), "failed after {took:?}");
    assert!(
        job.bytes_transferred() < data.len() as u64,
        "the limit came too late to test anything"
    );
    // Without a limit, a resume finishes it, keeping its bytes.
    job.set_max_download_time(0).unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(60)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn time_spent_queued_does_not_count_against_the_maximum_download_time() {
    let dir = support::scratch("jobs-maxtime-queued");
    let server = TestServer::start();
    let slow = patterned(2 << 20, 42);
    server.add("/slow", paced(&slow, 1 << 20)); // about 2 s
    let quick = patterned(64 << 10, 43);
    server.add("/quick", Resource::new(quick.clone()));
    let manager = Manager::open(None).unwrap();
    manager.set_max_active_jobs(1).unwrap();
    let first = job_for(&manager, &server.url("/slow"), &dir.join("slow.bin"));
    first.resume().unwrap();
    // Queued behind `first` for about 2 s, then transferred in far less
    // than its 1 s.
    let second = job_for(&manager, &server.url("/quick"), &dir.join("quick.bin"));
    second.set_max_download_time(1).unwrap();
    second.resume().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(second.state(), JobState::Queued);
    assert_eq!(
        wait(&second, Duration::from_secs(30)),
        JobState::Transferred,
        "{:?}",
        second.error()
    );
    assert_eq!(wait(&first, Duration::from_secs(30)), JobState::Transferred);
    second.complete().unwrap();
    assert!(std::fs::read(dir.join("quick.bin")).unwrap() == quick);
    first.complete().unwrap();
}
