//! The BITS job features past `IBackgroundCopyJob1`, over real sockets:
//! the maximum download time (`IBackgroundCopyJob4::SetMaximumDownloadTime`),
//! the temporary name (`IBackgroundCopyFile3::GetTemporaryName`) and the
//! response headers (`BITS_FILE_PROPERTY_ID_HTTP_RESPONSE_HEADERS`), remote
//! names (`ReplaceRemotePrefix`, `SetRemoteName`) and dynamic content
//! (`BITS_JOB_PROPERTY_DYNAMIC_CONTENT`).

use crate::support;

use std::time::{Duration, Instant};

use qmgr::hresult::*;
use qmgr::{
    ErrorContext, FileRange, FileSpec, Job, JobState, Manager, NotifyCmdLine, LENGTH_TO_EOF,
};
use support::http_server::{patterned, Fault, Resource, TestServer};
use support::{wait, wait_until};

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
    let data = patterned(2 << 20, 41);
    let server = TestServer::start();
    server.add("/slow", paced(&data, 512 << 10)); // about 4 s
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("slow.bin");
    let job = job_for(&manager, &server.url("/slow"), &dst);
    assert_eq!(job.max_download_time(), 7_776_000, "BITS's 90 days");
    // One connection: the pace is per connection, and segments would
    // finish the file within the limit.
    job.set_max_connections(1).unwrap();
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
    // Without a limit, a resume finishes it, keeping its bytes (from the
    // same version, served at full speed now).
    let kept = job.bytes_transferred();
    assert!(kept > 0, "nothing was kept to resume from");
    server.add("/slow", Resource::new(data.clone()));
    job.set_max_download_time(0).unwrap();
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &data);
    let resumed = &server.requests("/slow")[1];
    assert_eq!(resumed.range_start(), Some(kept), "{resumed:?}");
}

#[test]
fn time_spent_queued_does_not_count_against_the_maximum_download_time() {
    let dir = support::scratch("jobs-maxtime-queued");
    let server = TestServer::start();
    let slow = patterned(2 << 20, 42);
    server.add("/slow", Resource::new(slow.clone()));
    let quick = patterned(64 << 10, 43);
    server.add("/quick", Resource::new(quick.clone()));
    let manager = Manager::open(None).unwrap();
    manager.set_max_active_jobs(1).unwrap();
    // `first` holds the only slot (2 MiB at 64 KiB/s: 32 s) until let go.
    let first = job_for(&manager, &server.url("/slow"), &dir.join("slow.bin"));
    first.set_max_bandwidth(64 << 10).unwrap();
    first.resume().unwrap();
    wait_until("the first job to transfer", Duration::from_secs(30), || {
        first.state() == JobState::Transferring
    });
    // Queued behind `first` for longer than its 1 s, then transferred in
    // far less than that.
    let second = job_for(&manager, &server.url("/quick"), &dir.join("quick.bin"));
    second.set_max_download_time(1).unwrap();
    second.resume().unwrap();
    assert_eq!(second.state(), JobState::Queued);
    // 1.5 s queued: a wait that must time out (it did not fail while queued).
    assert_eq!(
        second.wait(Some(Duration::from_millis(1500))).unwrap(),
        None,
        "the queued job settled: {:?}",
        second.error()
    );
    assert_eq!(second.state(), JobState::Queued);
    first.set_max_bandwidth(0).unwrap();
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
    let data = patterned(1 << 20, 44);
    let server = TestServer::start();
    let resource = paced(&data, 2 << 20); // about 0.5 s
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
    wait_until("the first bytes", Duration::from_secs(30), || {
        job.bytes_transferred() > 0
    });
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
    let resource = Resource::new(data.clone());
    let etag = resource.etag.clone().unwrap();
    first.add("/fw/app.bin", resource.clone());
    // The first server sends 1 MiB, then nothing for longer than the test
    // may take (the default stall timer is 60 s): the file cannot finish
    // there, whatever the timing, and the switch must end that read.
    first.script(
        "/fw/app.bin",
        vec![Fault::StallAfter(1 << 20, Duration::from_secs(300))],
    );
    mirror.add("/mirror/fw/app.bin", resource);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("app.bin");
    let job = job_for(&manager, &first.url("/fw/app.bin"), &dst);
    job.set_max_connections(1).unwrap();
    job.resume().unwrap();
    wait_until(
        "1 MiB from the first server",
        Duration::from_secs(30),
        || job.bytes_transferred() >= 1 << 20,
    );
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
    assert_eq!(from, 1 << 20, "{range}");
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
    job.set_min_retry_delay(1).unwrap();
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

// ----- ranges (IBackgroundCopyJob3::AddFileWithRanges) -----------------------

fn range(offset: u64, length: u64) -> FileRange {
    FileRange { offset, length }
}

/// The local file the ranges make of `data`: the ranges one after another.
fn cut(data: &[u8], ranges: &[FileRange]) -> Vec<u8> {
    let mut out = Vec::new();
    for r in ranges {
        let start = r.offset as usize;
        let end = if r.length == LENGTH_TO_EOF {
            data.len()
        } else {
            start + r.length as usize
        };
        out.extend_from_slice(&data[start..end]);
    }
    out
}

fn ranged_job(manager: &Manager, url: &str, dst: &std::path::Path, ranges: &[FileRange]) -> Job {
    let job = manager.create_job("ranges").unwrap();
    job.add_file_with_ranges(url, dst.to_str().unwrap(), ranges)
        .unwrap();
    job
}

#[test]
fn ranges_land_one_after_another_in_the_order_given_each_its_own_request() {
    let dir = support::scratch("jobs-ranges");
    let data = patterned(1000, 51);
    let server = TestServer::start();
    server.add("/r", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();
    // The BITS example: 100-199, 900-999, 400-499 make a 300-byte file.
    let ranges = [range(100, 100), range(900, 100), range(400, 100)];
    let dst = dir.join("r.bin");
    let job = ranged_job(&manager, &server.url("/r"), &dst, &ranges);
    assert_eq!(job.file_ranges(0).unwrap(), ranges);
    assert_eq!(job.file_count(), 1);
    // One connection, so that the requests are one stream's, in order
    // (with several, the ranges after the first go in parallel, in any
    // order; the file they make is the same).
    job.set_max_connections(1).unwrap();
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &cut(&data, &ranges));
    assert_eq!(std::fs::metadata(&dst).unwrap().len(), 300);
    let asked: Vec<String> = server
        .requests("/r")
        .iter()
        .map(|r| r.range.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        asked,
        ["bytes=100-199", "bytes=900-999", "bytes=400-499"],
        "one request per range, in order"
    );
    // The later ranges name the version of the first.
    let requests = server.requests("/r");
    assert!(requests[0].if_range.is_none());
    assert!(requests[1..].iter().all(|r| r.if_range.is_some()));

    // A range to the end of the file, not last.
    let ranges = [range(24, 17), range(111, LENGTH_TO_EOF), range(83, 7)];
    let dst = dir.join("eof.bin");
    let job = ranged_job(&manager, &server.url("/r"), &dst, &ranges);
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &cut(&data, &ranges));
    let progress = job.file_progress(0).unwrap();
    assert_eq!(progress.bytes_total, Some(17 + 889 + 7));
}

#[test]
fn a_ranged_file_resumes_within_its_range_after_a_cut_and_restarts_on_a_new_version() {
    let dir = support::scratch("jobs-ranges-cut");
    let data = patterned(6 << 20, 52);
    let server = TestServer::start();
    server.add("/big", Resource::new(data.clone()));
    let ranges = [range(4 << 20, 2 << 20), range(1 << 20, 2 << 20)];
    // The first range is cut after 1 MiB; the resume asks for the rest of it.
    server.script("/big", vec![Fault::ResetAfter(1 << 20)]);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("big.bin");
    let job = ranged_job(&manager, &server.url("/big"), &dst, &ranges);
    job.set_max_connections(1).unwrap();
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &cut(&data, &ranges));
    let requests = server.requests("/big");
    let first_end = (6 << 20) - 1;
    assert_eq!(
        requests[0].range.as_deref(),
        Some(format!("bytes={}-{first_end}", 4 << 20).as_str())
    );
    let resume = requests[1].range.clone().unwrap();
    let from = requests[1].range_start().unwrap();
    assert!(
        from > (4 << 20) && resume.ends_with(&format!("-{first_end}")),
        "the resume continues the first range: {resume}"
    );
    assert!(requests[1].if_range.is_some());

    // A new version between the ranges: the file starts again, all of it
    // from the new version.
    let new = patterned(6 << 20, 53);
    let mut replaced = Resource::new(new.clone());
    replaced.etag = Some("\"second\"".into());
    server.add("/b2", Resource::new(data.clone()));
    let dst = dir.join("b2.bin");
    let job = ranged_job(&manager, &server.url("/b2"), &dst, &ranges);
    job.set_max_connections(1).unwrap();
    // The second request (the second range) finds the new version.
    server.script(
        "/b2",
        vec![Fault::CloseAfter(u64::MAX), Fault::Replace(replaced)],
    );
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &cut(&new, &ranges));
    let seen: Vec<(Option<String>, Option<String>)> = server
        .requests("/b2")
        .into_iter()
        .map(|r| (r.range, r.if_range))
        .collect();
    let second = format!("bytes={}-{}", 1 << 20, (3 << 20) - 1);
    let first = format!("bytes={}-{}", 4 << 20, (6 << 20) - 1);
    assert_eq!(
        seen,
        [
            (Some(first.clone()), None),
            // If-Range of the old version: a 200, dropped; asked again without it.
            (Some(second.clone()), Some(data_etag(&data))),
            (Some(second), None),
            // The first range again, of the new version.
            (Some(first), Some("\"second\"".into())),
        ]
    );
}

fn data_etag(data: &[u8]) -> String {
    Resource::new(data.to_vec()).etag.unwrap()
}

#[test]
fn ranges_the_server_cannot_serve_fail_with_bits_codes() {
    let dir = support::scratch("jobs-ranges-bad");
    let data = patterned(1000, 54);
    let server = TestServer::start();
    server.add("/r", Resource::new(data.clone()));
    let mut plain = Resource::new(data.clone());
    plain.ranges = false;
    server.add("/plain", plain);
    server.add("/merge", Resource::new(data.clone()));
    server.script("/merge", vec![Fault::MergeToEnd]);
    let manager = Manager::open(None).unwrap();
    let fails = |path: &str, ranges: &[FileRange], code: qm_hresult| {
        let dst = dir.join(path.trim_start_matches('/'));
        let job = ranged_job(&manager, &server.url(path), &dst, ranges);
        job.resume().unwrap();
        assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
        let err = job.error().unwrap();
        assert_eq!(err.code.0, code, "{path}: {err:?}");
        assert_eq!(err.context, ErrorContext::RemoteFile, "{path}");
        assert!(!dst.exists());
        job.cancel().unwrap();
    };
    // Past the end: the first range's answer tells the size, so the job
    // fails before the bad range is asked for; a range starting past the
    // end is a 416.
    fails("/r", &[range(0, 10), range(990, 11)], QM_BG_E_INVALID_RANGE);
    fails("/r", &[range(2000, 10)], QM_BG_E_INVALID_RANGE);
    fails("/r", &[range(990, 20)], QM_BG_E_INVALID_RANGE);
    fails(
        "/plain",
        &[range(10, 10)],
        QM_BG_E_INSUFFICIENT_RANGE_SUPPORT,
    );
    fails(
        "/merge",
        &[range(10, 10), range(500, 10)],
        QM_BG_E_INVALID_SERVER_RESPONSE,
    );
}

#[test]
fn bad_range_lists_are_refused_when_added() {
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("bad ranges").unwrap();
    let add = |ranges: &[FileRange]| {
        job.add_file_with_ranges("http://127.0.0.1:9/x", "/tmp/qmgr-ranges-x", ranges)
            .unwrap_err()
            .code
            .0
    };
    assert_eq!(add(&[]), QM_E_INVALIDARG);
    assert_eq!(add(&[range(LENGTH_TO_EOF, 1)]), QM_BG_E_INVALID_RANGE);
    assert_eq!(add(&[range(5, 0)]), QM_BG_E_INVALID_RANGE);
    assert_eq!(
        add(&[range(5, 10), range(5, 10)]),
        QM_BG_E_OVERLAPPING_RANGES
    );
    assert_eq!(
        add(&[range(0, LENGTH_TO_EOF), range(9, 1)]),
        QM_BG_E_OVERLAPPING_RANGES
    );
    let many: Vec<FileRange> = (0..501).map(|i| range(i * 2, 1)).collect();
    assert_eq!(add(&many), QM_BG_E_TOO_MANY_RANGES_IN_FILE);
    assert_eq!(job.file_count(), 0);
    // Dynamic content makes no range requests: the two do not mix.
    job.add_file_with_ranges("http://127.0.0.1:9/x", "/tmp/qmgr-ranges-x", &[range(0, 5)])
        .unwrap();
    assert_eq!(
        job.set_dynamic_content(true).unwrap_err().code.0,
        QM_E_INVALIDARG
    );
    job.cancel().unwrap();
}

// ----- the notify command line (IBackgroundCopyJob2::SetNotifyCmdLine) ------

/// A program that appends its arguments (not `$0`: for a script the
/// kernel puts the script's path there) and environment to `record`, and
/// exits 1 the first time when `fail_first` (it leaves a marker).
fn recorder(dir: &std::path::Path, fail_first: bool) -> (std::path::PathBuf, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let record = dir.join("record.txt");
    let script = dir.join("notify.sh");
    let fail = if fail_first {
        format!(
            "if [ ! -e '{m}' ]; then : > '{m}'; exit 1; fi\n",
            m = dir.join("failed-once").display()
        )
    } else {
        String::new()
    };
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s|' \"$@\" \"$QMGR_JOB_ID\" \"$QMGR_JOB_STATE\" >> '{r}'\necho >> '{r}'\n{fail}exit 0\n",
            r = record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    (script, record)
}

/// The lines `record` gets within `limit`, once it has `count` of them.
fn recorded(record: &std::path::Path, count: usize, limit: Duration) -> Vec<String> {
    let until = Instant::now() + limit;
    loop {
        let text = std::fs::read_to_string(record).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= count || Instant::now() > until {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_notify_program_runs_with_its_arguments_when_no_callback_takes_the_event() {
    let dir = support::scratch("jobs-notify-cmd");
    let (script, record) = recorder(&dir, false);
    let data = patterned(100_000, 71);
    let server = TestServer::start();
    server.add("/f", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();
    let job = job_for(&manager, &server.url("/f"), &dir.join("f.bin"));
    let id = job.id().to_string();
    job.set_notify_cmdline(Some(NotifyCmdLine {
        program: script.to_str().unwrap().into(),
        parameters: Some(format!("notify.sh {id} \"two words\" 'single'")),
    }))
    .unwrap();
    assert_eq!(
        job.notify_cmdline().unwrap().parameters.unwrap(),
        format!("notify.sh {id} \"two words\" 'single'")
    );
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    let lines = recorded(&record, 1, Duration::from_secs(10));
    assert_eq!(
        lines,
        [format!("{id}|two words|'single'|{id}|TRANSFERRED|")],
        "the arguments as given (no shell), QMGR_JOB_ID and QMGR_JOB_STATE"
    );
    job.complete().unwrap();

    // A failing job runs it too; a relative path is refused.
    std::fs::remove_file(&record).unwrap();
    let job = job_for(&manager, &server.url("/missing"), &dir.join("m.bin"));
    job.set_no_progress_timeout(0).unwrap();
    let relative = NotifyCmdLine {
        program: "notify.sh".into(),
        parameters: None,
    };
    assert_eq!(
        job.set_notify_cmdline(Some(relative)).unwrap_err().code.0,
        QM_E_INVALIDARG
    );
    job.set_notify_cmdline(Some(NotifyCmdLine {
        program: script.to_str().unwrap().into(),
        parameters: None,
    }))
    .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    let lines = recorded(&record, 1, Duration::from_secs(10));
    assert_eq!(lines, [format!("{}|ERROR|", job.id())]);
    job.cancel().unwrap();
}

#[test]
fn a_callback_takes_the_event_instead_and_a_failing_program_runs_again_after_the_retry_delay() {
    let dir = support::scratch("jobs-notify-cmd-rules");
    let (script, record) = recorder(&dir, true);
    let server = TestServer::start();
    server.add("/f", Resource::new(patterned(50_000, 72)));
    let manager = Manager::open(None).unwrap();
    let cmdline = NotifyCmdLine {
        program: script.to_str().unwrap().into(),
        parameters: None,
    };

    // With a callback registered, the program does not run.
    let job = job_for(&manager, &server.url("/f"), &dir.join("a.bin"));
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = calls.clone();
    job.set_notify(
        Some(std::sync::Arc::new(
            move |_: &Job, _: &qmgr::NotifyEvent| {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            },
        )),
        qmgr::NotifyFlags::JOB_TRANSFERRED,
        0,
    )
    .unwrap();
    job.set_notify_cmdline(Some(cmdline.clone())).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    wait_until("the callback", Duration::from_secs(30), || {
        calls.load(std::sync::atomic::Ordering::SeqCst) == 1
    });
    // Had the program run too, it would have started with the callback,
    // before anything below: the record, read once the later programs
    // have written to it, holds no line of this job (checked there), and
    // the program's one failure was not spent on it.
    let beside_a_callback = job.id().to_string();
    job.complete().unwrap();

    // Set on a job already TRANSFERRED, it runs at once; exit 1 runs it
    // again after the retry delay (1 s here).
    let job = job_for(&manager, &server.url("/f"), &dir.join("b.bin"));
    job.set_min_retry_delay(1).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Transferred);
    let set_at = Instant::now();
    job.set_notify_cmdline(Some(cmdline.clone())).unwrap();
    let lines = recorded(&record, 2, Duration::from_secs(10));
    let id = job.id().to_string();
    let ran = format!("{id}|TRANSFERRED|");
    assert_eq!(lines, [ran.clone(), ran.clone()], "ran twice, for this job");
    assert!(set_at.elapsed() >= Duration::from_secs(1));
    assert!(
        !lines.iter().any(|l| l.contains(&beside_a_callback)),
        "the program ran beside a callback: {lines:?}"
    );
    // It stops once the job leaves the state: completed, nothing more runs.
    // A later job's program is the marker: a run for this one, due from
    // `complete` on, would have started before it.
    job.complete().unwrap();
    let later = job_for(&manager, &server.url("/f"), &dir.join("c.bin"));
    later.set_notify_cmdline(Some(cmdline)).unwrap();
    later.resume().unwrap();
    assert_eq!(wait(&later, Duration::from_secs(30)), JobState::Transferred);
    let lines = recorded(&record, 3, Duration::from_secs(10));
    assert_eq!(
        lines,
        [ran.clone(), ran, format!("{}|TRANSFERRED|", later.id())],
        "a program ran after the job was completed"
    );
    later.complete().unwrap();
}

#[test]
fn progress_notifications_keep_the_minimum_interval() {
    // Two jobs side by side over the same 3 s (the server paces each
    // connection, so neither can be faster): one with a 1 s minimum
    // interval, one with none. Counts, not gaps, are compared (deliveries
    // can bunch up on the callback thread), each against the job's own
    // duration as this thread measured it, which a slow machine only
    // lengthens.
    let dir = support::scratch("jobs-notify-pace");
    let data = patterned(6 << 20, 73);
    let server = TestServer::start();
    server.add("/slow", paced(&data, 2 << 20)); // about 3 s
    let manager = Manager::open(None).unwrap();
    let start = |interval: u32, name: &str| {
        let job = job_for(&manager, &server.url("/slow"), &dir.join(name));
        job.set_max_connections(1).unwrap();
        assert_eq!(job.min_notification_interval(), 500, "BITS's default");
        job.set_min_notification_interval(interval).unwrap();
        let times = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = times.clone();
        job.set_notify(
            Some(std::sync::Arc::new(
                move |j: &Job, e: &qmgr::NotifyEvent| {
                    if e.kind == qmgr::NotifyFlags::JOB_MODIFICATION
                        && j.state() == JobState::Transferring
                    {
                        seen.lock().unwrap().push(Instant::now());
                    }
                },
            )),
            qmgr::NotifyFlags::JOB_MODIFICATION,
            0,
        )
        .unwrap();
        let started = Instant::now();
        job.resume().unwrap();
        (job, times, started)
    };
    let (paced_job, paced_times, paced_start) = start(1000, "a.bin");
    let (every_job, every_times, _) = start(0, "b.bin");
    finish_byte_exact(&paced_job, &dir.join("a.bin"), &data);
    let took = paced_start.elapsed();
    finish_byte_exact(&every_job, &dir.join("b.bin"), &data);
    let paced_times = paced_times.lock().unwrap().clone();
    let every = every_times.lock().unwrap().clone();
    let gaps: Vec<Duration> = paced_times.windows(2).map(|w| w[1] - w[0]).collect();
    println!(
        "{} progress notifications with a 1 s minimum, {} with none, in {took:?}",
        paced_times.len(),
        every.len()
    );
    assert!(paced_times.len() >= 2, "{paced_times:?}");
    // The model's pace is 1 s: over the run at most one per second, plus
    // the first and the state changes.
    assert!(
        (paced_times.len() as f64) <= took.as_secs_f64() + 3.0,
        "{} progress notifications in {took:?} with a 1 s minimum: {gaps:?}",
        paced_times.len()
    );
    // 0 sends one for every 250 ms measurement: about four a second.
    assert!(
        every.len() > paced_times.len() * 2,
        "0 sends every 250 ms measurement: {} vs {} with a 1 s minimum",
        every.len(),
        paced_times.len()
    );
}

#[test]
fn large_ranges_are_split_over_connections_and_no_request_crosses_a_range() {
    let dir = support::scratch("jobs-ranges-split");
    let data = patterned(12 << 20, 55);
    let server = TestServer::start();
    server.add("/big", paced(&data, 4 << 20));
    let manager = Manager::open(None).unwrap();
    // 4 MiB from 7 MiB on, then 4 MiB from 1 MiB on: segments of each.
    let ranges = [range(7 << 20, 4 << 20), range(1 << 20, 4 << 20)];
    let dst = dir.join("big.bin");
    let job = ranged_job(&manager, &server.url("/big"), &dst, &ranges);
    job.resume().unwrap();
    finish_byte_exact(&job, &dst, &cut(&data, &ranges));
    let requests = server.requests("/big");
    assert!(requests.len() > 2, "the ranges were split: {requests:?}");
    for r in &requests {
        let asked = r.range.as_deref().unwrap();
        let (start, end) = asked["bytes=".len()..].split_once('-').unwrap();
        let (start, end): (u64, u64) = (start.parse().unwrap(), end.parse().unwrap());
        assert!(
            ranges
                .iter()
                .any(|g| g.offset <= start && end < g.offset + g.length),
            "{asked} crosses a range"
        );
        if r.range_start() != Some(7 << 20) {
            assert!(r.if_range.is_some(), "{asked} without If-Range");
        }
    }
}
