//! The BITS job features past `IBackgroundCopyJob1`, over real sockets:
//! the maximum download time (`IBackgroundCopyJob4::SetMaximumDownloadTime`),
//! the temporary name (`IBackgroundCopyFile3::GetTemporaryName`) and the
//! response headers (`BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS`), remote
//! names (`ReplaceRemotePrefix`, `SetRemoteName`) and dynamic content
//! (`BITS_JOB_PROPERTY_DYNAMIC_CONTENT`).

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

/// Waits for TRANSFERRED, completes, and checks the bytes at `dst`.
fn finish_byte_exact(job: &Job, dst: &std::path::Path, data: &[u8]) {
    assert_eq!(
        wait(job, Duration::from_secs(60)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(dst).unwrap() == data, "not byte-exact");
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
    finish_byte_exact(&job, &dst, &data);
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

#[test]
fn the_temporary_name_and_the_response_headers_are_readable_while_a_file_transfers() {
    let dir = support::scratch("jobs-details");
    let data = patterned(2 << 20, 44);
    let server = TestServer::start();
    let resource = paced(&data, 2 << 20); // about 1 s
    let etag = resource.etag.clone().unwrap();
    server.add("/fw.bin", resource);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = job_for(&manager, &server.url("/fw.bin"), &dst);
    job.set_max_connections(1).unwrap();
    assert_eq!(job.file_temporary_name(0).unwrap(), None);
    assert_eq!(job.file_response_headers(0).unwrap(), None);
    assert_eq!(
        job.file_temporary_name(1).unwrap_err().code.0,
        QM_E_ITEM_NOT_FOUND
    );
    job.resume().unwrap();
    let started = Instant::now();
    while job.bytes_transferred() == 0 {
        assert!(started.elapsed() < Duration::from_secs(20), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    // The hidden temporary file beside the destination, holding the bytes.
    let temp = job
        .file_temporary_name(0)
        .unwrap()
        .expect("a temporary file");
    assert_eq!(temp.parent(), dst.parent());
    let name = temp.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with(".fw.bin.") && name.ends_with(".qmgr-part"),
        "{name}"
    );
    assert!(temp.exists());
    // The headers of the response, one line each, names in lower case.
    let headers = job.file_response_headers(0).unwrap().expect("headers");
    assert!(headers.contains(&format!("etag: {etag}\r\n")), "{headers}");
    assert!(
        headers.contains(&format!("content-length: {}\r\n", data.len())),
        "{headers}"
    );
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    job.complete().unwrap();
    // In place now: no temporary file any more, the headers stay readable.
    assert_eq!(job.file_temporary_name(0).unwrap(), None);
    assert!(!temp.exists());
    assert!(job.file_response_headers(0).unwrap().is_some());
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn a_prefix_switch_mid_download_keeps_the_bytes_already_transferred() {
    let dir = support::scratch("jobs-prefix");
    let data = patterned(3 << 20, 45);
    let first = TestServer::start();
    let mirror = TestServer::start();
    let resource = paced(&data, 2 << 20);
    let etag = resource.etag.clone().unwrap();
    first.add("/fw/app.bin", resource.clone());
    let mut fast = resource;
    fast.pace = None;
    mirror.add("/mirror/fw/app.bin", fast);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("app.bin");
    let job = job_for(&manager, &first.url("/fw/app.bin"), &dst);
    job.set_max_connections(1).unwrap();
    job.resume().unwrap();
    let started = Instant::now();
    while job.bytes_transferred() < (1 << 20) {
        assert!(started.elapsed() < Duration::from_secs(20), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    let old = format!("http://{}/fw/", first.addr());
    let new = format!("http://{}/mirror/fw/", mirror.addr());
    assert!(!job.replace_remote_prefix("http://nowhere/", &new).unwrap());
    let bad = job.replace_remote_prefix(&old, "gopher://x/").unwrap_err();
    assert_eq!(bad.code.0, QM_E_INVALIDARG);
    assert!(job.replace_remote_prefix(&old, &new).unwrap());
    assert_eq!(
        job.file_remote_name(0).unwrap(),
        mirror.url("/mirror/fw/app.bin")
    );
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data, "not byte-exact");
    // The mirror was asked only for the rest, tied to the same version.
    let asked = mirror.requests("/mirror/fw/app.bin");
    let range = asked[0]
        .range
        .as_deref()
        .expect("the switch resumed with a range");
    let from: u64 = range["bytes=".len()..range.len() - 1].parse().unwrap();
    assert!(from >= 1 << 20, "{range}");
    assert_eq!(asked[0].if_range.as_deref(), Some(etag.as_str()));
    assert!(mirror.body_bytes_sent("/mirror/fw/app.bin") < data.len() as u64);

    // SetRemoteName on one file; an index past the end is refused.
    let other = job_for(&manager, &first.url("/fw/app.bin"), &dir.join("b.bin"));
    other
        .set_file_remote_name(0, &mirror.url("/mirror/fw/app.bin"))
        .unwrap();
    assert_eq!(
        other
            .set_file_remote_name(3, &mirror.url("/x"))
            .unwrap_err()
            .code
            .0,
        QM_E_ITEM_NOT_FOUND
    );
    other.resume().unwrap();
    assert_eq!(wait(&other, Duration::from_secs(30)), JobState::Transferred);
    other.complete().unwrap();
    assert!(std::fs::read(dir.join("b.bin")).unwrap() == data);
}

#[test]
fn a_dynamic_file_is_fetched_whole_and_starts_again_after_a_cut() {
    let dir = support::scratch("jobs-dynamic");
    let data = patterned(8 << 20, 46);
    let server = TestServer::start();
    server.add("/live.bin", Resource::new(data.clone()));
    // The first answer is cut after 3 MiB.
    server.script(
        "/live.bin",
        vec![support::http_server::Fault::CloseAfter(3 << 20)],
    );
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("live.bin");
    let job = job_for(&manager, &server.url("/live.bin"), &dst);
    job.set_max_connections(4).unwrap();
    assert!(!job.dynamic_content());
    job.set_dynamic_content(true).unwrap();
    job.set_minimum_retry_delay(1).unwrap();
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &data);
    // Two whole requests, no range, no segments: the cut one and the one
    // that started again from byte 0.
    let requests = server.requests("/live.bin");
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert!(requests
        .iter()
        .all(|r| r.range.is_none() && r.if_range.is_none()));
    assert_eq!(
        server.body_bytes_sent("/live.bin"),
        (3 << 20) + data.len() as u64
    );
}
