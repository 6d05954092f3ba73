//! Segmented files: one large file over several connections, each fetching
//! a range into the same temporary file; every guarantee of a sequential
//! transfer still holds (byte-exact resume at the exact offset, If-Range on
//! every range, a new version restarting the whole file, one connection for
//! servers that do not honour ranges).

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use qmgr::{FileSpec, Job, JobState, Manager};
use support::http_server::{patterned, Fault, Resource, TestServer};
use support::{sha256_hex, wait, wait_until};

const MIB: usize = 1 << 20;

/// A job for one URL over `connections` connections with a 1 s retry
/// delay and the file's SHA-256, resumed.
fn start(manager: &Manager, url: &str, dst: &Path, connections: u32, data: &[u8]) -> Job {
    let job = manager.create_job("segments").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_max_connections(connections).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.set_file_sha256(0, Some(&sha256_hex(data))).unwrap();
    job.resume().unwrap();
    job
}

/// Waits for TRANSFERRED, completes, and checks the bytes at the local name.
fn finish_byte_exact(job: &Job, dst: &Path, data: &[u8]) {
    assert_eq!(
        wait(job, Duration::from_secs(120)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    let got = std::fs::read(dst).unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "not byte-exact");
}

/// The stretch a `Range` header asks for: `bytes=a-b` (`b` inclusive) or
/// `bytes=a-` (to the end, `None`).
fn range_of(header: &str) -> (u64, Option<u64>) {
    let spec = header.strip_prefix("bytes=").expect("a bytes range");
    let (a, b) = spec.split_once('-').expect("start-end");
    (
        a.parse().unwrap(),
        (!b.is_empty()).then(|| b.parse().unwrap()),
    )
}

/// A resource whose every body goes out at about `rate` bytes per second
/// per connection (64 KiB writes), like a server or CDN that caps each
/// connection.
fn capped(data: &[u8], rate: usize) -> Resource {
    let mut r = Resource::new(data.to_vec());
    let step = 64 * 1024;
    r.pace = Some((step, Duration::from_secs_f64(step as f64 / rate as f64)));
    r
}

#[test]
fn a_large_file_is_split_over_several_connections_each_a_range_with_if_range() {
    let dir = support::scratch("segments-split");
    let data = patterned(24 * MIB, 21);
    let server = TestServer::start();
    let resource = capped(&data, 16 * MIB);
    let etag = resource.etag.clone().unwrap();
    server.add("/big", resource);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("big.bin");
    let job = start(&manager, &server.url("/big"), &dst, 4, &data);
    finish_byte_exact(&job, &dst, &data);

    let requests = server.requests("/big");
    assert!(
        (2..=4).contains(&server.connections()),
        "{} connections for a job of 4",
        server.connections()
    );
    assert_eq!(
        requests[0].range, None,
        "the first request asks for the file"
    );
    assert!(requests.len() >= 4, "{} requests", requests.len());
    for r in &requests[1..] {
        let range = r.range.as_deref().expect("a segment without Range");
        // The last segment may leave its end out: it runs to the file's end.
        let (start, end) = range_of(range);
        let end = end.unwrap_or(data.len() as u64 - 1);
        assert!(start <= end && end < data.len() as u64, "{range}");
        assert_eq!(r.if_range.as_deref(), Some(etag.as_str()), "{range}");
    }
}

#[test]
fn a_segmented_file_cut_on_every_connection_resumes_each_at_its_offset() {
    let dir = support::scratch("segments-cuts");
    let size = 64 * MIB;
    let data = patterned(size, 22);
    let server = TestServer::start();
    let resource = capped(&data, 24 * MIB);
    let etag = resource.etag.clone().unwrap();
    server.add("/big", resource);
    // The first 40 responses are cut (FIN or RST, alternately) a
    // pseudo-random 200 KiB..1.2 MiB after where each began: 48 MiB at
    // most in all, less than the file, so every cut is met before the end
    // and a request follows the last (with cuts up to 3 MiB, the file
    // could end on the 40th request, or before it, depending on how the
    // connections split it).
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let cuts: Vec<u64> = (0..40)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            200 * 1024 + seed % MIB as u64
        })
        .collect();
    assert!(cuts.iter().sum::<u64>() < size as u64);
    let faults = cuts
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            if i % 2 == 0 {
                Fault::CloseAfter(n)
            } else {
                Fault::ResetAfter(n)
            }
        })
        .collect();
    server.script("/big", faults);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("big.bin");
    let job = start(&manager, &server.url("/big"), &dst, 4, &data);
    finish_byte_exact(&job, &dst, &data);

    // Request i met fault i (the server takes them in arrival order). A cut
    // response that began at s and stopped at x = s + n before its range's
    // end is followed by a request that takes over exactly there: one that
    // starts in (s, x] (the resume at x, or the start of a segment another
    // connection split off before x, where this one had stopped writing).
    // Never at or before s: no written byte is fetched again.
    let requests = server.requests("/big");
    assert!(requests.len() > cuts.len(), "{} requests", requests.len());
    let spans: Vec<(u64, u64)> = requests
        .iter()
        .map(|r| match r.range.as_deref() {
            None => (0, size as u64 - 1),
            Some(range) => {
                assert_eq!(r.if_range.as_deref(), Some(etag.as_str()), "{range}");
                let (a, b) = range_of(range);
                (a, b.unwrap_or(size as u64 - 1))
            }
        })
        .collect();
    let mut exact = 0;
    for (i, &n) in cuts.iter().enumerate() {
        let (s, last) = spans[i];
        let x = s + n;
        if x > last {
            continue; // the range ended before the cut
        }
        let after: Vec<u64> = spans[i + 1..].iter().map(|&(a, _)| a).collect();
        assert!(
            after.iter().any(|&a| s < a && a <= x),
            "request {i} ({s}..={last}) was cut at {x}; no request took over there: {after:?}"
        );
        exact += usize::from(after.contains(&x));
    }
    println!(
        "{} requests, {exact} exact resumes of {} cuts",
        requests.len(),
        cuts.len()
    );
    assert!(exact > 0, "no cut was resumed at its exact offset");
}

#[test]
fn a_new_version_seen_by_one_segment_restarts_the_whole_file() {
    let dir = support::scratch("segments-version");
    let old = patterned(32 * MIB, 23);
    let new = patterned(20 * MIB, 24);
    let server = TestServer::start();
    server.add("/fw", capped(&old, 8 * MIB));
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = manager.create_job("segments").unwrap();
    job.add_files(&[FileSpec::new(server.url("/fw"), dst.to_str().unwrap())])
        .unwrap();
    job.set_max_connections(4).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    // Once several segments are flowing, the file changes on the server
    // and every body being sent is cut: each connection reconnects with
    // If-Range naming the old version and gets the new one whole.
    wait_until(
        "three requests and 4 MiB (several segments flowing)",
        Duration::from_secs(30),
        || server.requests("/fw").len() >= 3 && job.bytes_transferred() >= 4 * MIB as u64,
    );
    server.replace_cutting("/fw", Resource::new(new.clone()));
    finish_byte_exact(&job, &dst, &new);
    assert_eq!(
        job.file_progress(0).unwrap().bytes_total,
        Some(new.len() as u64)
    );
}

#[test]
fn a_server_that_ignores_ranges_gets_one_connection() {
    let dir = support::scratch("segments-noranges");
    let data = patterned(16 * MIB, 25);
    let server = TestServer::start();
    // No Accept-Ranges: the file is never split.
    let mut plain = capped(&data, 32 * MIB);
    plain.ranges = false;
    server.add("/plain", plain);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("plain.bin");
    let job = start(&manager, &server.url("/plain"), &dst, 4, &data);
    finish_byte_exact(&job, &dst, &data);
    let requests = server.requests("/plain");
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].range, None);

    // Accept-Ranges: bytes, but a 200 with the whole body to every range
    // request: the segments give their stretch back to the first
    // connection, which fetches the whole file.
    server.add("/liar", capped(&data, 32 * MIB));
    server.script("/liar", vec![Fault::IgnoreRange; 1 + 20]);
    let dst = dir.join("liar.bin");
    let job = start(&manager, &server.url("/liar"), &dst, 4, &data);
    finish_byte_exact(&job, &dst, &data);
    let ranged = server
        .requests("/liar")
        .iter()
        .filter(|r| r.range.is_some())
        .count();
    // At most the first three splits (made before any answer said no),
    // and one request for a stretch nobody took back, which restarts the
    // file on one connection.
    assert!(
        ranged <= 4,
        "{ranged} range requests after ranges were refused"
    );
}

#[test]
fn a_segmented_file_under_a_job_limit_holds_it_within_ten_percent() {
    // One limit for the job, not one per segment: the segments together
    // take at least about the time the limit allows (a lower bound, half
    // of it: a slow machine only makes it longer; a bucket per segment
    // would take half or less). The rate itself is the throttle's unit
    // tests' business (virtual time). 3 MiB: a file is split only while
    // 2 MiB of it are left, the first 0.5 s at 2 MiB/s.
    let dir = support::scratch("segments-limit");
    let data = patterned(3 * MIB, 26);
    let server = TestServer::start();
    server.add("/big", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("big.bin");
    let job = manager.create_job("limited").unwrap();
    job.add_files(&[FileSpec::new(server.url("/big"), dst.to_str().unwrap())])
        .unwrap();
    job.set_max_connections(4).unwrap();
    let limit = 2u64 << 20;
    job.set_max_bandwidth(limit).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &data);
    let elapsed = started.elapsed();
    let nominal = Duration::from_secs_f64(data.len() as f64 / limit as f64);
    assert!(
        elapsed >= nominal / 2,
        "{} bytes in segments at {limit} B/s took only {elapsed:?}",
        data.len()
    );
    let ranged = server
        .requests("/big")
        .iter()
        .filter(|r| r.range.is_some())
        .count();
    assert!(ranged >= 1, "the file was not segmented");
}
