//! Issue 19, item 3: one URL whose answers change version from request to
//! request (backends of a rolling deploy, a CDN) must not keep a segmented
//! job restarting forever. After a version change in a run the file is
//! fetched whole on one connection; restarts are bounded, and past the
//! bound the job fails with a clear code. Either way the number of
//! requests stays small.

use crate::support;

use std::path::Path;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{FileSpec, Job, JobState, Manager};
use support::http_server::{patterned, Fault, Resource, TestServer};

const MIB: usize = 1 << 20;

/// Far more requests than a job that settles could need (the first, a few
/// splits made before any answer, one whole fetch, a few restarts).
const FEW_REQUESTS: usize = 50;

/// A version of the file, sent at about 16 MiB/s per connection, so that
/// the job splits it before one connection could finish it.
fn version(data: &[u8]) -> Resource {
    let mut r = Resource::new(data.to_vec());
    let step = 64 * 1024;
    r.pace = Some((
        step,
        Duration::from_secs_f64(step as f64 / (16 * MIB) as f64),
    ));
    r
}

/// A job for `url` over 6 connections, resumed.
fn start(manager: &Manager, url: &str, dst: &Path) -> Job {
    let job = manager.create_job("livelock").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_max_connections(6).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    job
}

/// The job settles (never spins) within few requests: TRANSFERRED with
/// the bytes of one of `versions`, or ERROR with the code of a server
/// that keeps changing the file.
fn settles(job: &Job, server: &TestServer, path: &str, dst: &Path, versions: &[&[u8]]) {
    let state = job.wait(Some(Duration::from_secs(30))).unwrap();
    let requests = server.requests(path).len();
    assert!(
        requests < FEW_REQUESTS,
        "{requests} requests; the job is {state:?} {:?}",
        job.error()
    );
    match state {
        Some(JobState::Transferred) => {
            job.complete().unwrap();
            let got = std::fs::read(dst).unwrap();
            assert!(
                versions.iter().any(|v| got == *v),
                "{} bytes, not byte-exact as any version",
                got.len()
            );
        }
        Some(JobState::Error) => {
            let err = job.error().unwrap();
            assert_eq!(err.code.0, QM_BG_E_INVALID_SERVER_RESPONSE, "{err:?}");
            assert!(err.description.contains("version"), "{err:?}");
            assert_eq!(err.file_index, Some(0));
        }
        other => panic!(
            "the job did not settle in 30 s ({requests} requests): {other:?} {:?}",
            job.error()
        ),
    }
    println!("{requests} requests, {state:?}");
}

#[test]
fn a_url_alternating_versions_per_request_never_spins_a_segmented_job() {
    let dir = support::scratch("livelock-alternate");
    let a = patterned(8 * MIB, 31);
    let b = patterned(8 * MIB, 32);
    let server = TestServer::start();
    server.rotate_versions("/fw", vec![version(&a), version(&b)], false);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = start(&manager, &server.url("/fw"), &dst);
    settles(&job, &server, "/fw", &dst, &[&a, &b]);
}

#[test]
fn a_200_with_another_version_to_every_range_request_never_spins() {
    let dir = support::scratch("livelock-range200");
    let whole = patterned(8 * MIB, 33);
    // Every range request gets 200 with the next of 40 other versions,
    // each with its own strong ETag; requests without Range get `whole`.
    let mut versions = vec![version(&whole)];
    versions.extend((0..40).map(|i| version(&patterned(8 * MIB, 100 + i))));
    let server = TestServer::start();
    server.rotate_versions("/fw", versions, true);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = start(&manager, &server.url("/fw"), &dst);
    settles(&job, &server, "/fw", &dst, &[&whole]);
}

#[test]
fn versions_flipping_on_every_resume_end_in_error_past_the_bound() {
    let dir = support::scratch("livelock-bound");
    let a = patterned(8 * MIB, 34);
    let b = patterned(8 * MIB, 35);
    let server = TestServer::start();
    server.rotate_versions("/fw", vec![version(&a), version(&b)], false);
    // Every body is cut after 256 KiB: each resume (If-Range naming the
    // version it has) lands on the other backend and gets the other
    // version whole. Bounded: ERROR with the code, after a few requests.
    server.script("/fw", vec![Fault::CloseAfter(256 * 1024); 100]);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = start(&manager, &server.url("/fw"), &dst);
    settles(&job, &server, "/fw", &dst, &[]);
    assert_eq!(job.state(), JobState::Error);
    let err = job.error().unwrap();
    println!("{}", err.description);
    assert!(err.description.contains("6 times"), "{err:?}");
}
