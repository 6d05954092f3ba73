//! HTTP and HTTPS transfers over real sockets on 127.0.0.1, against the
//! fault-injecting server of `tests/support/http_server.rs`: resume that is
//! byte-exact or restarts, every server misbehaviour, the error model, TLS,
//! bandwidth limits and priorities.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{ErrorContext, FileSpec, Job, JobState, Manager, Priority};
use support::http_server::{patterned, Fault, Resource, TestCa, TestServer};
use support::{sha256_hex, temp_files, wait, wait_until};

/// A job for one URL with a 1 s retry delay, resumed. One connection:
/// these tests count requests and offsets of one stream
/// (`tests/it/segments.rs` has the segmented cases).
fn start(manager: &Manager, url: &str, dst: &Path) -> Job {
    let job = manager.create_job("http").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_max_connections(1).unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    job
}

/// Transfers, completes and returns the bytes at the local name.
fn fetch(manager: &Manager, url: &str, dst: &Path) -> Vec<u8> {
    let job = start(manager, url, dst);
    assert_eq!(
        wait(&job, Duration::from_secs(60)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    assert_eq!(job.complete().unwrap().0, QM_S_OK);
    std::fs::read(dst).unwrap()
}

/// The offset a `Range: bytes=N-` header asks for.
fn range_start(range: &str) -> u64 {
    range
        .strip_prefix("bytes=")
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
fn a_16_mib_file_cut_at_50_random_offsets_arrives_byte_exact() {
    // 50 cuts in 16 MiB (one every 330 KB on average, some a few bytes
    // apart) exercise the resume exactly as 50 in 64 MiB did: what is
    // checked is each reconnection's offset, If-Range and the byte count.
    const SIZE: usize = 16 << 20;
    let dir = support::scratch("http-cuts");
    let data = patterned(SIZE, 7);
    let server = TestServer::start();
    let resource = Resource::new(data.clone());
    let etag = resource.etag.clone().unwrap();
    server.add("/big", resource);
    // 50 distinct cut points from a fixed-seed generator; each response is cut
    // (FIN or RST, alternately) that many bytes after the offset it started at.
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut cuts: Vec<u64> = (0..50)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            1 + seed % (SIZE as u64 - 1)
        })
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut faults = Vec::new();
    let mut at = 0;
    for (i, cut) in cuts.iter().enumerate() {
        let n = cut - at;
        faults.push(if i % 2 == 0 {
            Fault::CloseAfter(n)
        } else {
            Fault::ResetAfter(n)
        });
        at = *cut;
    }
    server.script("/big", faults);

    let manager = Manager::open(None).unwrap();
    let dst = dir.join("big.bin");
    let job = manager.create_job("cuts").unwrap();
    job.add_files(&[FileSpec::new(server.url("/big"), dst.to_str().unwrap())])
        .unwrap();
    // One connection: the sequential guarantee, request by request
    // (tests/it/segments.rs cuts a file fetched in segments).
    job.set_max_connections(1).unwrap();
    job.set_file_sha256(0, Some(&sha256_hex(&data))).unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(120)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    let got = std::fs::read(&dst).unwrap();
    assert_eq!(sha256_hex(&got), sha256_hex(&data));
    assert!(got == data);

    // Every reconnection was a range request from exactly where the data ended,
    // tied to the version by If-Range, never content-encoded.
    let requests = server.requests("/big");
    assert_eq!(
        requests.len(),
        cuts.len() + 1,
        "one request per cut, plus the first"
    );
    assert_eq!(requests[0].range, None);
    for (request, cut) in requests[1..].iter().zip(&cuts) {
        let range = request
            .range
            .as_deref()
            .expect("a reconnection without Range");
        assert_eq!(range_start(range), *cut);
        assert_eq!(request.if_range.as_deref(), Some(etag.as_str()));
    }
    assert!(
        requests.iter().all(|r| r.accept_encoding.is_none()),
        "Accept-Encoding was sent"
    );
    assert_eq!(
        server.body_bytes_sent("/big"),
        SIZE as u64,
        "no byte was fetched twice"
    );
}

#[test]
fn range_misbehaviours_restart_the_file_and_never_corrupt_it() {
    let dir = support::scratch("http-misbehave");
    let server = TestServer::start();
    let manager = Manager::open(None).unwrap();
    let size = 3 << 20;
    let cut = 1 << 20;
    let cases: Vec<(&str, Fault)> = vec![
        ("ignore-range", Fault::IgnoreRange),
        ("wrong-start", Fault::WrongStart),
        ("wrong-total", Fault::WrongTotal),
        ("no-content-range", Fault::NoContentRange),
        ("garbled-content-range", Fault::GarbledContentRange),
        (
            "416-with-size",
            Fault::RangeNotSatisfiable { with_size: true },
        ),
        (
            "416-without-size",
            Fault::RangeNotSatisfiable { with_size: false },
        ),
    ];
    for (i, (name, fault)) in cases.into_iter().enumerate() {
        let data = patterned(size, 100 + i as u32);
        let path = format!("/{name}");
        server.add(&path, Resource::new(data.clone()));
        server.script(&path, vec![Fault::CloseAfter(cut), fault]);
        let got = fetch(&manager, &server.url(&path), &dir.join(name));
        assert!(got == data, "{name}: the file is not byte-exact");
        let requests = server.requests(&path);
        assert_eq!(
            requests[1].range.as_deref().map(range_start),
            Some(cut),
            "{name}: the resume asked for the cut"
        );
        // After the bad answer the file was fetched again from zero: by a new
        // plain request, or (a 200 to the range request) by that very answer.
        let restarted = requests.iter().skip(2).any(|r| r.range.is_none());
        assert!(
            restarted || name == "ignore-range",
            "{name}: no restart from zero: {requests:?}"
        );
        assert!(
            server.body_bytes_sent(&path) >= cut + size as u64,
            "{name}: the whole file was not sent again"
        );
    }
    assert!(temp_files(&dir).is_empty());
}

#[test]
fn a_changed_etag_between_attempts_restarts_from_zero() {
    let dir = support::scratch("http-etag");
    let server = TestServer::start();
    let old = patterned(2 << 20, 1);
    let new = patterned(2 << 20, 2);
    server.add("/fw", Resource::new(old));
    server.script(
        "/fw",
        vec![
            Fault::CloseAfter(700_000),
            Fault::Replace(Resource::new(new.clone())),
        ],
    );
    let manager = Manager::open(None).unwrap();
    let got = fetch(&manager, &server.url("/fw"), &dir.join("fw"));
    assert!(got == new, "bytes of the old version survived the change");
    let requests = server.requests("/fw");
    assert_eq!(requests.len(), 2);
    assert!(
        requests[1].if_range.is_some(),
        "the resume must carry If-Range"
    );
}

#[test]
fn other_framings_and_redirects_arrive_intact() {
    let dir = support::scratch("http-framing");
    let server = TestServer::start();
    let manager = Manager::open(None).unwrap();
    let data = patterned(1_500_000, 9);

    let mut chunked = Resource::new(data.clone());
    chunked.chunked = true;
    server.add("/chunked", chunked);
    server.script(
        "/chunked",
        vec![Fault::CloseAfter(400_000), Fault::ResetAfter(300_000)],
    );
    assert!(fetch(&manager, &server.url("/chunked"), &dir.join("chunked")) == data);

    let mut unframed = Resource::new(data.clone());
    unframed.no_length = true;
    server.add("/no-length", unframed);
    assert!(fetch(&manager, &server.url("/no-length"), &dir.join("no-length")) == data);

    server.add("/target", Resource::new(data.clone()));
    server.script("/hop1", vec![Fault::Redirect(302, "/hop2".into())]);
    server.script("/hop2", vec![Fault::Redirect(301, server.url("/target"))]);
    assert!(fetch(&manager, &server.url("/hop1"), &dir.join("redirected")) == data);

    server.add("/slow", Resource::new(patterned(200_000, 3)));
    server.script(
        "/slow",
        vec![Fault::Drip {
            bytes: 20_000,
            every: Duration::from_millis(20),
        }],
    );
    assert!(fetch(&manager, &server.url("/slow"), &dir.join("slow")) == patterned(200_000, 3));
}

#[test]
fn a_redirect_to_a_file_url_is_refused() {
    let dir = support::scratch("http-redirect-file");
    let secret = dir.join("secret");
    std::fs::write(&secret, b"local secret").unwrap();
    let server = TestServer::start();
    server.script(
        "/evil",
        vec![Fault::Redirect(302, format!("file://{}", secret.display()))],
    );
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("out");
    let job = start(&manager, &server.url("/evil"), &dst);
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    assert!(!dst.exists());
    job.cancel().unwrap();
    assert!(temp_files(&dir).is_empty());
}

#[test]
fn http_errors_map_to_codes_states_and_words() {
    let dir = support::scratch("http-errors");
    let server = TestServer::start();
    let manager = Manager::open(None).unwrap();
    for status in [404u16, 403, 410] {
        // Scripted before the job starts, so its first request meets it.
        if status != 404 {
            server.script(
                &format!("/missing-{status}"),
                vec![Fault::Status(status, vec![])],
            );
        }
        let job = start(
            &manager,
            &server.url(&format!("/missing-{status}")),
            &dir.join(format!("e{status}")),
        );
        assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
        let err = job.error().unwrap();
        assert_eq!(err.code, qmgr::HResult::from_http_status(status));
        assert_eq!(err.http_status, status);
        assert_eq!(err.context, ErrorContext::RemoteFile);
        assert!(
            err.description.contains(&status.to_string()) && err.description.contains("/missing"),
            "{}",
            err.description
        );
        let st = job.status();
        assert_eq!(st.transport_result, u32::from(status));
        assert!(st.error);
        job.cancel().unwrap();
    }
    assert_eq!(qmgr::HResult::from_http_status(404).0 as u32, 0x8019_0194);
}

#[test]
fn a_503_with_retry_after_is_transient_then_recovers() {
    let dir = support::scratch("http-503");
    let server = TestServer::start();
    let data = patterned(300_000, 4);
    server.add("/busy", Resource::new(data.clone()));
    server.script(
        "/busy",
        vec![Fault::Status(503, vec![("Retry-After".into(), "2".into())])],
    );
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("busy");
    let started = Instant::now();
    let job = start(&manager, &server.url("/busy"), &dst);
    // It passes through TRANSIENT_ERROR (which does not end a wait)...
    wait_until("TRANSIENT_ERROR", Duration::from_secs(30), || {
        job.state() == JobState::TransientError
    });
    let err = job.error().unwrap();
    assert_eq!(err.code.0, qmgr::HResult::from_http_status(503).0);
    assert!(job.status().error);
    // ...and is retried after Retry-After (2 s, longer than the 1 s delay).
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "retried before Retry-After: {:?}",
        started.elapsed()
    );
    assert_eq!(job.status().num_retries, 1);
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn a_stalled_server_trips_the_stall_timer_and_the_transfer_goes_on() {
    let dir = support::scratch("http-stall");
    let server = TestServer::start();
    let data = patterned(1 << 20, 5);
    server.add("/stall", Resource::new(data.clone()));
    // The server goes silent for far longer than the test may take: only
    // the stall timer can end that response.
    server.script(
        "/stall",
        vec![Fault::StallAfter(300_000, Duration::from_secs(300))],
    );
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("stall");
    let job = manager.create_job("stall").unwrap();
    job.add_files(&[FileSpec::new(server.url("/stall"), dst.to_str().unwrap())])
        .unwrap();
    job.set_max_connections(1).unwrap();
    job.set_stall_timeout(1).unwrap();
    job.set_min_retry_delay(1).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "the stall timer did not fire: {:?}",
        job.error()
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "the stall was not waited for: {elapsed:?}"
    );
    let requests = server.requests("/stall");
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].range.as_deref().map(range_start), Some(300_000));
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn an_unreachable_server_is_a_transient_winhttp_error() {
    let (_reserved, port) = support::refused_port();
    let dir = support::scratch("http-refused");
    let manager = Manager::open(None).unwrap();
    let job = start(
        &manager,
        &format!("http://127.0.0.1:{port}/x"),
        &dir.join("x"),
    );
    wait_until("TRANSIENT_ERROR", Duration::from_secs(30), || {
        job.state() == JobState::TransientError
    });
    let err = job.error().unwrap();
    assert_eq!(err.code.0, QM_E_WINHTTP_CANNOT_CONNECT);
    assert_eq!(job.status().win32_result, 12029);
    // With a no-progress timeout of 0 the next error is final.
    job.set_no_progress_timeout(0).unwrap();
    assert_eq!(wait(&job, Duration::from_secs(10)), JobState::Error);
    job.cancel().unwrap();
}

#[test]
fn suspend_interrupts_a_blocked_read_at_once() {
    let dir = support::scratch("http-suspend");
    let server = TestServer::start();
    let data = patterned(1 << 20, 6);
    server.add("/hang", Resource::new(data.clone()));
    // Silent after 100 KB for longer than the test may take (the default
    // stall timer is 60 s): only suspend can end the blocked read.
    server.script(
        "/hang",
        vec![Fault::StallAfter(100_000, Duration::from_secs(300))],
    );
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("hang");
    let job = start(&manager, &server.url("/hang"), &dst);
    wait_until(
        "the 100 KB before the stall",
        Duration::from_secs(30),
        || job.bytes_transferred() >= 100_000,
    );
    // Every byte sent has been read: the reader blocks in its next read
    // (or is about to; the pause makes the former all but certain).
    std::thread::sleep(Duration::from_millis(100));
    let suspending = job.clone();
    let (tx, suspended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(suspending.suspend());
    });
    suspended
        .recv_timeout(Duration::from_secs(30))
        .expect("suspend waited for the blocked read")
        .unwrap();
    assert_eq!(job.state(), JobState::Suspended);
    assert_eq!(job.bytes_transferred(), 100_000);
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn custom_headers_and_credentials_reach_the_server() {
    let dir = support::scratch("http-headers");
    let server = TestServer::start();
    server.add("/h", Resource::new(patterned(1000, 1)));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("headers").unwrap();
    job.add_files(&[FileSpec::new(
        server.url("/h"),
        dir.join("h").to_str().unwrap(),
    )])
    .unwrap();
    job.set_custom_headers(Some("X-Device: 42\r\nX-Channel: beta\r\n"))
        .unwrap();
    job.set_credentials(Some(("fleet", "s3cret"))).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    let seen = &server.requests("/h")[0];
    assert_eq!(seen.header("x-device"), Some("42"));
    assert_eq!(seen.header("x-channel"), Some("beta"));
    // base64("fleet:s3cret")
    assert_eq!(seen.header("authorization"), Some("Basic ZmxlZXQ6czNjcmV0"));
    assert!(seen.accept_encoding.is_none());
}

#[test]
fn tls_verifies_against_the_given_ca_and_fails_without_it() {
    let dir = support::scratch("http-tls");
    let ca = TestCa::generate(&dir);
    let server = TestServer::start_tls(&ca, false);
    let data = patterned(500_000, 8);
    server.add("/secure", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();

    // Trusting the test CA: it works, resumes included.
    server.script("/secure", vec![Fault::CloseAfter(200_000)]);
    let job = manager.create_job("tls").unwrap();
    let dst = dir.join("secure");
    job.add_files(&[FileSpec::new(server.url("/secure"), dst.to_str().unwrap())])
        .unwrap();
    job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);

    // Without it the certificate is not trusted: 0x80072F8F, fatal.
    let job = start(&manager, &server.url("/secure"), &dir.join("untrusted"));
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Error,
        "{:?}",
        job.error()
    );
    let err = job.error().unwrap();
    assert_eq!(err.code.0 as u32, 0x8007_2F8F);
    assert_eq!(err.context, ErrorContext::GeneralTransport);
    job.cancel().unwrap();
    assert!(!dir.join("untrusted").exists());
}

#[test]
fn mutual_tls_presents_the_client_certificate() {
    let dir = support::scratch("http-mtls");
    let ca = TestCa::generate(&dir);
    let server = TestServer::start_tls(&ca, true);
    let data = patterned(100_000, 2);
    server.add("/device", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();

    let job = manager.create_job("mtls").unwrap();
    let dst = dir.join("device");
    job.add_files(&[FileSpec::new(server.url("/device"), dst.to_str().unwrap())])
        .unwrap();
    job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    job.set_client_certificate(Some((
        ca.client_cert_pem.to_str().unwrap(),
        ca.client_key_pem.to_str().unwrap(),
    )))
    .unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);

    // Without a client certificate the server refuses the connection.
    let job = manager.create_job("no client cert").unwrap();
    job.add_files(&[FileSpec::new(
        server.url("/device"),
        dir.join("refused").to_str().unwrap(),
    )])
    .unwrap();
    job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    job.set_no_progress_timeout(0).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    job.cancel().unwrap();
    assert!(!dir.join("refused").exists());
}

#[test]
fn the_bandwidth_limit_holds_within_ten_percent() {
    let dir = support::scratch("http-limit");
    let server = TestServer::start();
    // The one end-to-end check of the rate (the throttle's unit tests
    // check it in virtual time): 4 MiB at 2 MiB/s, 2 s.
    let size = 4 << 20;
    server.add("/limited", Resource::new(patterned(size, 3)));
    let manager = Manager::open(None).unwrap();
    let limit = 2u64 << 20;
    let job = manager.create_job("limited").unwrap();
    job.add_files(&[FileSpec::new(
        server.url("/limited"),
        dir.join("limited").to_str().unwrap(),
    )])
    .unwrap();
    job.set_max_bandwidth(limit).unwrap();
    let started = Instant::now();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(60)), JobState::Transferred);
    let rate = size as f64 / started.elapsed().as_secs_f64();
    let ratio = rate / limit as f64;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "achieved {rate:.0} B/s for a limit of {limit} B/s ({ratio:.3})"
    );
}

#[test]
fn a_foreground_job_overtakes_queued_background_ones() {
    let dir = support::scratch("http-foreground");
    let server = TestServer::start();
    server.add("/bg", Resource::new(patterned(1 << 20, 1)));
    server.add("/fg", Resource::new(patterned(1 << 20, 2)));
    let manager = Manager::open(None).unwrap();
    manager.set_max_active_jobs(1).unwrap();
    // 1 MiB at 64 KiB/s: 16 s per background job, so none can finish
    // while the (unthrottled) foreground one runs, however slow the machine.
    manager.set_max_bandwidth(64 << 10).unwrap();
    let background: Vec<Job> = (0..3)
        .map(|i| {
            let job = manager.create_job("bg").unwrap();
            job.add_files(&[FileSpec::new(
                server.url("/bg"),
                dir.join(format!("bg{i}")).to_str().unwrap(),
            )])
            .unwrap();
            // One stream: a Range below is the preempted job's resume,
            // not a segment.
            job.set_max_connections(1).unwrap();
            job.resume().unwrap();
            job
        })
        .collect();
    // A background job is under way before the foreground one arrives.
    wait_until(
        "a background job's first bytes",
        Duration::from_secs(30),
        || background.iter().any(|j| j.bytes_transferred() > 0),
    );
    let fg = manager.create_job("fg").unwrap();
    fg.add_files(&[FileSpec::new(
        server.url("/fg"),
        dir.join("fg").to_str().unwrap(),
    )])
    .unwrap();
    fg.set_priority(Priority::Foreground).unwrap();
    fg.resume().unwrap();
    assert_eq!(wait(&fg, Duration::from_secs(30)), JobState::Transferred);
    // The foreground job finished while every background job still had work.
    for job in &background {
        assert!(
            job.state() != JobState::Transferred,
            "a background job finished before the foreground one"
        );
    }
    // The preempted job goes on with a range request, not from zero.
    wait_until(
        "the preempted job to resume with a range",
        Duration::from_secs(30),
        || server.requests("/bg").iter().any(|r| r.range.is_some()),
    );
    for job in &background {
        job.cancel().unwrap();
    }
}

/// BITS: "a higher-priority job preempts a lower-priority job". A HIGH
/// job that finds the only slot taken by a LOW one takes it at once; the
/// LOW job goes back to the queue and, once the slot is free, goes on from
/// where it was (a range request), not from zero.
#[test]
fn a_higher_priority_background_job_preempts_a_lower_one_which_resumes() {
    let dir = support::scratch("http-background-preempt");
    let server = TestServer::start();
    let low_data = patterned(1 << 20, 3);
    server.add("/low", Resource::new(low_data.clone()));
    server.add("/high", Resource::new(patterned(256 << 10, 4)));
    let manager = Manager::open(None).unwrap();
    manager.set_max_active_jobs(1).unwrap();
    let low = manager.create_job("low").unwrap();
    low.add_files(&[FileSpec::new(
        server.url("/low"),
        dir.join("low").to_str().unwrap(),
    )])
    .unwrap();
    low.set_priority(Priority::Low).unwrap();
    // 1 MiB at 64 KiB/s, on one stream: 16 s, far longer than the HIGH job.
    low.set_max_bandwidth(64 << 10).unwrap();
    low.set_max_connections(1).unwrap();
    low.resume().unwrap();
    wait_until("the LOW job's first bytes", Duration::from_secs(30), || {
        low.bytes_transferred() > 0
    });
    let high = manager.create_job("high").unwrap();
    high.add_files(&[FileSpec::new(
        server.url("/high"),
        dir.join("high").to_str().unwrap(),
    )])
    .unwrap();
    high.set_priority(Priority::High).unwrap();
    high.resume().unwrap();
    assert_eq!(wait(&high, Duration::from_secs(30)), JobState::Transferred);
    assert!(
        low.state() != JobState::Transferred,
        "the LOW job finished before the HIGH one"
    );
    high.complete().unwrap();
    // The LOW job goes on with a range, and its file is whole.
    low.set_max_bandwidth(0).unwrap();
    assert_eq!(wait(&low, Duration::from_secs(60)), JobState::Transferred);
    assert!(
        server.requests("/low").iter().any(|r| r.range.is_some()),
        "the preempted job started again from zero"
    );
    low.complete().unwrap();
    assert!(std::fs::read(dir.join("low")).unwrap() == low_data);
}

#[test]
fn an_explicit_proxy_carries_the_requests() {
    // The test server plays the proxy: a plain-HTTP request for a host that
    // does not exist reaches it in absolute form.
    let dir = support::scratch("http-proxy");
    let server = TestServer::start();
    let data = patterned(100_000, 12);
    server.add("/via-proxy", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("proxied").unwrap();
    let dst = dir.join("proxied");
    job.add_files(&[FileSpec::new(
        "http://updates.invalid/via-proxy",
        dst.to_str().unwrap(),
    )])
    .unwrap();
    job.set_proxy(Some(&server.url(""))).unwrap();
    job.set_no_progress_timeout(0).unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "{:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
    // updates.invalid cannot resolve: only the proxy can have carried it.
    assert_eq!(server.requests("/via-proxy").len(), 1);
}

#[test]
fn retries_without_progress_end_in_error_after_the_no_progress_timeout() {
    let (_reserved, port) = support::refused_port();
    let dir = support::scratch("http-no-progress");
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("no progress").unwrap();
    job.add_files(&[FileSpec::new(
        format!("http://127.0.0.1:{port}/x"),
        dir.join("x").to_str().unwrap(),
    )])
    .unwrap();
    // The outcome (retried, then ERROR with the connection's code); when
    // exactly it gives up is the lifecycle unit tests' business (virtual
    // time).
    job.set_min_retry_delay(1).unwrap();
    job.set_no_progress_timeout(1).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    assert!(
        job.status().num_retries >= 1,
        "it was not retried within the timeout: {:?}",
        job.status()
    );
    assert_eq!(job.error().unwrap().code.0, QM_E_WINHTTP_CANNOT_CONNECT);
}

/// Copies bytes both ways between two sockets until either side ends.
fn pipe(a: std::net::TcpStream, b: std::net::TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let (mut a, mut b) = (a, b);
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a2);
    let _ = a2.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// A proxy on 127.0.0.1 that carries every connection to `server`
/// whatever name the client asks for, after `handshake` read the client's
/// request (returning the host it named, which goes into the list).
fn relay(
    server: std::net::SocketAddr,
    handshake: fn(&mut std::net::TcpStream) -> String,
) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let list = std::sync::Arc::clone(&asked);
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            client
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let list = std::sync::Arc::clone(&list);
            std::thread::spawn(move || {
                let host = handshake(&mut client);
                list.lock().unwrap().push(host);
                pipe(client, std::net::TcpStream::connect(server).unwrap());
            });
        }
    });
    (addr.to_string(), asked)
}

/// An HTTP proxy's `CONNECT host:port`, answered 200.
fn connect_handshake(client: &mut std::net::TcpStream) -> String {
    use std::io::{Read, Write};
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        client.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let authority = head
        .strip_prefix("CONNECT ")
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .unwrap();
    authority.to_string()
}

/// A SOCKS 5 server's side without authentication: the host (a name or an
/// address) and port the client asked for.
fn socks5_handshake(client: &mut std::net::TcpStream) -> String {
    use std::io::{Read, Write};
    let mut hello = [0u8; 2];
    client.read_exact(&mut hello).unwrap();
    let mut methods = vec![0u8; usize::from(hello[1])];
    client.read_exact(&mut methods).unwrap();
    assert_eq!(hello[0], 5);
    assert!(methods.contains(&0));
    client.write_all(&[5, 0]).unwrap();
    let mut request = [0u8; 4];
    client.read_exact(&mut request).unwrap();
    assert_eq!(&request[..3], &[5, 1, 0]);
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip).unwrap();
            std::net::Ipv4Addr::from(ip).to_string()
        }
        4 => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip).unwrap();
            format!("[{}]", std::net::Ipv6Addr::from(ip))
        }
        3 => {
            let mut len = [0u8; 1];
            client.read_exact(&mut len).unwrap();
            let mut name = vec![0u8; usize::from(len[0])];
            client.read_exact(&mut name).unwrap();
            String::from_utf8(name).unwrap()
        }
        other => panic!("address type {other}"),
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port).unwrap();
    client.write_all(&[5, 0, 0, 1, 127, 0, 0, 1, 0, 0]).unwrap();
    format!("{host}:{}", u16::from_be_bytes(port))
}

/// Transfers `url` through `proxy` with `ca` trusted (if any) and checks the bytes.
fn fetch_via(
    manager: &Manager,
    url: &str,
    proxy: &str,
    ca: Option<&TestCa>,
    dst: &Path,
    data: &[u8],
) {
    let job = manager.create_job("via").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_proxy(Some(proxy)).unwrap();
    if let Some(ca) = ca {
        job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    }
    job.set_no_progress_timeout(0).unwrap();
    job.resume().unwrap();
    assert_eq!(
        wait(&job, Duration::from_secs(30)),
        JobState::Transferred,
        "{proxy}: {:?}",
        job.error()
    );
    job.complete().unwrap();
    assert!(std::fs::read(dst).unwrap() == data, "{proxy}");
}

#[test]
fn https_goes_through_a_connect_tunnel_and_socks_proxies_carry_requests() {
    let dir = support::scratch("http-tunnels");
    let ca = TestCa::generate(&dir);
    let tls = TestServer::start_tls(&ca, false);
    let plain = TestServer::start();
    let data = patterned(300_000, 14);
    tls.add("/secure", Resource::new(data.clone()));
    plain.add("/plain", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();

    // https:// through an HTTP proxy: a CONNECT tunnel to the URL's host,
    // TLS end to end (the certificate is checked for localhost).
    let (proxy, asked) = relay(tls.addr(), connect_handshake);
    let url = tls.url("/secure");
    fetch_via(
        &manager,
        &url,
        &format!("http://{proxy}"),
        Some(&ca),
        &dir.join("tunnel"),
        &data,
    );
    let port = tls.addr().port();
    assert_eq!(
        asked.lock().unwrap().as_slice(),
        [format!("localhost:{port}")]
    );

    // socks5h: the proxy resolves the name (which only it can: .invalid).
    let (proxy, asked) = relay(plain.addr(), socks5_handshake);
    let url = format!("http://updates.invalid:{}/plain", plain.addr().port());
    fetch_via(
        &manager,
        &url,
        &format!("socks5h://{proxy}"),
        None,
        &dir.join("socks5h"),
        &data,
    );
    assert_eq!(
        asked.lock().unwrap().as_slice(),
        [format!("updates.invalid:{}", plain.addr().port())]
    );
    // socks5: qmgr resolves the name and sends the address.
    let (proxy, asked) = relay(plain.addr(), socks5_handshake);
    let url = format!("http://localhost:{}/plain", plain.addr().port());
    fetch_via(
        &manager,
        &url,
        &format!("socks5://{proxy}"),
        None,
        &dir.join("socks5"),
        &data,
    );
    let seen = asked.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(
        seen[0].starts_with("127.0.0.1:") || seen[0].starts_with("[::1]:"),
        "{seen:?}"
    );
    assert_eq!(plain.requests("/plain").len(), 2);
}

#[test]
fn a_proxy_that_wants_other_credentials_is_a_fatal_407() {
    use std::io::{Read, Write};
    let dir = support::scratch("http-proxy-407");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for client in listener.incoming().take(1) {
            let mut client = client.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && client.read_exact(&mut byte).is_ok() {
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"CONNECT updates.invalid:443 HTTP/1.1\r\n"));
            let _ = client.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
            );
        }
    });
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("407").unwrap();
    job.add_files(&[FileSpec::new(
        "https://updates.invalid/x",
        dir.join("x").to_str().unwrap(),
    )])
    .unwrap();
    job.set_proxy(Some(&proxy)).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    let err = job.error().unwrap();
    assert_eq!(err.code, qmgr::HResult::from_http_status(407));
    assert!(err.description.contains("407"), "{}", err.description);
    job.cancel().unwrap();
}
