//! Issue 19 (trust): the caller's intent against what the network said:
//! redirects, and TLS that ends without close_notify.
//!
//! What the caller asked for (the remote name, its origin as the scope of
//! credentials and of every caller header, its scheme as the floor) is
//! changed only by the caller's calls; where a redirect led is reported
//! (`file_final_url`), never fetched from on the next resume, never trusted.

use crate::support;

use std::path::Path;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{FileSpec, Job, JobState, Manager, SecurityFlags};
use support::http_server::{patterned, Fault, Resource, SeenRequest, TestCa, TestServer};
use support::wait;

const LIMIT: Duration = Duration::from_secs(30);

/// A job of one file with a short retry delay, not resumed yet.
fn job_for(manager: &Manager, url: &str, dst: &Path, flags: u32) -> Job {
    let job = manager.create_job("trust").unwrap();
    job.add_files(&[FileSpec::new(url, dst.to_str().unwrap())])
        .unwrap();
    job.set_min_retry_delay(1).unwrap();
    job.set_security_flags(flags).unwrap();
    job
}

fn has_credentials(r: &SeenRequest) -> bool {
    r.header("authorization").is_some()
}

/// The three redirect policies, by name.
const POLICIES: [(&str, u32); 3] = [
    ("ALLOW_SILENT", SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT),
    ("ALLOW_REPORT", SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT),
    ("DISALLOW", SecurityFlags::REDIRECT_POLICY_DISALLOW),
];

// ----- item 1: a redirect never rewrites what the caller asked for ---------

#[test]
fn a_refused_redirect_to_another_origin_is_never_fetched_even_after_resume() {
    let dir = support::scratch("trust-disallow-resume");
    let a = TestServer::start();
    let b = TestServer::start();
    let data = patterned(150_000, 31);
    let other = patterned(150_000, 32);
    a.add("/fw.bin", Resource::new(data.clone()));
    b.add("/fw.bin", Resource::new(other));
    let manager = Manager::open(None).unwrap();

    a.script("/fw.bin", vec![Fault::Redirect(302, b.url("/fw.bin"))]);
    let dst = dir.join("fw.bin");
    let job = job_for(
        &manager,
        &a.url("/fw.bin"),
        &dst,
        SecurityFlags::REDIRECT_POLICY_DISALLOW,
    );
    job.set_credentials(Some(("fleet", "s3cret"))).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Error);
    assert_eq!(job.error().unwrap().code.0, QM_E_WINHTTP_REDIRECT_FAILED);
    // Reported, not adopted.
    assert_eq!(job.file_final_url(0).unwrap(), b.url("/fw.bin"));

    // The firmware updater's loop: resume after an error. The next request
    // goes to A again, which now answers.
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Transferred);
    assert!(
        b.requests("/fw.bin").is_empty(),
        "B was asked: {:?}",
        b.requests("/fw.bin")
    );
    let asked = a.requests("/fw.bin");
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked.iter().all(has_credentials), "{asked:?}");
    // The report follows the last answer: A's own.
    assert_eq!(job.file_final_url(0).unwrap(), a.url("/fw.bin"));
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data, "not A's bytes");
    assert_eq!(job.file_remote_name(0).unwrap(), a.url("/fw.bin"));
}

#[test]
fn after_a_reported_redirect_the_next_attempt_asks_the_callers_origin_with_its_credentials() {
    let dir = support::scratch("trust-report-resume");
    let a = TestServer::start();
    let b = TestServer::start();
    let data = patterned(400_000, 33);
    a.add("/fw.bin", Resource::new(data.clone()));
    b.add("/cdn/fw.bin", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();

    // A redirects every time; B cuts its first answer short (a transient
    // error: retried in the run, from A), then answers 404 (the job stops in
    // ERROR), then the rest of the file.
    let to_b = || Fault::Redirect(302, b.url("/cdn/fw.bin"));
    a.script("/fw.bin", vec![to_b(), to_b(), to_b(), to_b()]);
    b.script(
        "/cdn/fw.bin",
        vec![Fault::CloseAfter(100_000), Fault::Status(404, Vec::new())],
    );
    let dst = dir.join("fw.bin");
    let job = job_for(
        &manager,
        &a.url("/fw.bin"),
        &dst,
        SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT,
    );
    job.set_credentials(Some(("fleet", "s3cret"))).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Error);
    assert_eq!(job.file_final_url(0).unwrap(), b.url("/cdn/fw.bin"));
    // The caller's loop: resume after an error.
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Transferred);

    let to_a = a.requests("/fw.bin");
    let to_b = b.requests("/cdn/fw.bin");
    assert!(to_a.len() >= 3, "the resume did not start at A: {to_a:?}");
    assert!(to_a.iter().all(has_credentials), "{to_a:?}");
    assert!(to_b.len() >= 3, "{to_b:?}");
    assert!(
        !to_b.iter().any(has_credentials),
        "credentials went to B: {to_b:?}"
    );
    // The report: where the bytes came from; the remote name is the caller's.
    assert_eq!(job.file_final_url(0).unwrap(), b.url("/cdn/fw.bin"));
    assert_eq!(job.file_remote_name(0).unwrap(), a.url("/fw.bin"));
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

#[test]
fn caller_headers_do_not_follow_a_redirect_to_another_origin() {
    let dir = support::scratch("trust-headers");
    let a = TestServer::start();
    let b = TestServer::start();
    let data = patterned(50_000, 34);
    a.add("/a.bin", Resource::new(data.clone()));
    a.add("/same.bin", Resource::new(data.clone()));
    b.add("/b.bin", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();

    for (name, flags) in [POLICIES[0], POLICIES[1]] {
        // A -> A (same origin: the headers go along) -> B.
        a.script("/a.bin", vec![Fault::Redirect(302, "/same.bin".into())]);
        a.script("/same.bin", vec![Fault::Redirect(302, b.url("/b.bin"))]);
        let before = b.requests("/b.bin").len();
        let dst = dir.join(format!("{name}.bin"));
        let job = job_for(&manager, &a.url("/a.bin"), &dst, flags);
        job.set_custom_headers(Some("X-Api-Key: k3y\r\nCookie: s=1\r\n"))
            .unwrap();
        job.resume().unwrap();
        assert_eq!(wait(&job, LIMIT), JobState::Transferred, "{name}");
        let at_a = a.requests("/same.bin");
        assert_eq!(at_a.last().unwrap().header("x-api-key"), Some("k3y"));
        let at_b = b.requests("/b.bin");
        assert!(at_b.len() > before, "{name}: B was not asked");
        for r in &at_b[before..] {
            assert_eq!(r.header("x-api-key"), None, "{name}: {r:?}");
            assert_eq!(r.header("cookie"), None, "{name}: {r:?}");
        }
        job.complete().unwrap();
        assert!(std::fs::read(&dst).unwrap() == data);
    }
}

#[test]
fn an_https_job_redirected_to_plain_http_never_fetches_over_plain_http_even_after_resume() {
    let dir = support::scratch("trust-https-floor");
    let ca = TestCa::generate(&dir.join("ca"));
    let tls = TestServer::start_tls(&ca, false);
    let plain = TestServer::start();
    let data = patterned(120_000, 35);
    tls.add("/fw.bin", Resource::new(data.clone()));
    plain.add("/fw.bin", Resource::new(patterned(120_000, 36)));
    let manager = Manager::open(None).unwrap();

    for (name, flags) in POLICIES {
        tls.script("/fw.bin", vec![Fault::Redirect(302, plain.url("/fw.bin"))]);
        let dst = dir.join(format!("{name}.bin"));
        let job = job_for(&manager, &tls.url("/fw.bin"), &dst, flags);
        job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
        job.set_credentials(Some(("fleet", "s3cret"))).unwrap();
        job.resume().unwrap();
        assert_eq!(wait(&job, LIMIT), JobState::Error, "{name}");
        assert_eq!(
            job.error().unwrap().code.0,
            QM_E_WINHTTP_REDIRECT_FAILED,
            "{name}"
        );
        assert_eq!(job.file_final_url(0).unwrap(), plain.url("/fw.bin"));

        job.resume().unwrap();
        assert_eq!(wait(&job, LIMIT), JobState::Transferred, "{name}");
        assert!(
            plain.requests("/fw.bin").is_empty(),
            "{name}: a request went out over plain HTTP: {:?}",
            plain.requests("/fw.bin")
        );
        job.complete().unwrap();
        assert!(std::fs::read(&dst).unwrap() == data, "{name}");
        assert_eq!(job.file_remote_name(0).unwrap(), tls.url("/fw.bin"));
    }
}

#[test]
fn a_redirect_to_a_file_url_never_copies_a_local_file_even_after_resume() {
    let dir = support::scratch("trust-file-redirect");
    let secret = dir.join("secret.txt");
    std::fs::write(&secret, b"not for the network\n").unwrap();
    let a = TestServer::start();
    let data = patterned(60_000, 37);
    a.add("/fw.bin", Resource::new(data.clone()));
    let manager = Manager::open(None).unwrap();

    let mut targets = vec![format!("file://{}", secret.display())];
    if Path::new("/etc/hostname").exists() {
        targets.push("file:///etc/hostname".into());
    }
    for target in targets {
        for (name, flags) in POLICIES {
            a.script("/fw.bin", vec![Fault::Redirect(302, target.clone())]);
            let dst = dir.join(format!("{name}.bin"));
            let job = job_for(&manager, &a.url("/fw.bin"), &dst, flags);
            job.resume().unwrap();
            assert_eq!(wait(&job, LIMIT), JobState::Error, "{name} {target}");
            assert_eq!(
                job.error().unwrap().code.0,
                QM_E_WINHTTP_REDIRECT_FAILED,
                "{name} {target}"
            );
            assert_eq!(job.file_final_url(0).unwrap(), target);
            // Resumed: A again, and A's bytes.
            job.resume().unwrap();
            assert_eq!(wait(&job, LIMIT), JobState::Transferred, "{name} {target}");
            job.complete().unwrap();
            assert!(
                std::fs::read(&dst).unwrap() == data,
                "{name} {target}: a local file was copied"
            );
            assert_eq!(job.file_remote_name(0).unwrap(), a.url("/fw.bin"));
        }
    }
}

// ----- item 2: TLS truncation ----------------------------------------------

/// A TLS resource of `data` framed as `framing` ("close", "length",
/// "chunked"), cut once after `cut` body bytes with a FIN and no
/// close_notify, then served honestly: the job must end with every byte.
fn tls_cut(framing: &str, cut: u64) {
    let dir = support::scratch(&format!("trust-tls-cut-{framing}"));
    let ca = TestCa::generate(&dir.join("ca"));
    let tls = TestServer::start_tls(&ca, false);
    let data = patterned(300_000, 38);
    let mut resource = Resource::new(data.clone());
    match framing {
        "close" => resource.no_length = true,
        "chunked" => resource.chunked = true,
        _ => {}
    }
    tls.add("/fw.bin", resource);
    tls.script("/fw.bin", vec![Fault::CloseAfter(cut)]);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = job_for(
        &manager,
        &tls.url("/fw.bin"),
        &dst,
        SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT,
    );
    job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Transferred, "{framing}");
    let asked = tls.requests("/fw.bin");
    assert!(
        asked.len() >= 2,
        "{framing}: the cut body was taken as complete: {} requests",
        asked.len()
    );
    job.complete().unwrap();
    let got = std::fs::read(&dst).unwrap();
    assert_eq!(got.len(), data.len(), "{framing}");
    assert!(got == data, "{framing}");
}

#[test]
fn a_close_delimited_tls_body_without_close_notify_is_not_complete() {
    tls_cut("close", 100_000);
}

#[test]
fn a_length_or_chunked_tls_body_cut_short_stays_an_error() {
    tls_cut("length", 100_000);
    tls_cut("chunked", 100_000);
}

#[test]
fn a_close_delimited_tls_body_with_close_notify_is_complete() {
    let dir = support::scratch("trust-tls-close-notify");
    let ca = TestCa::generate(&dir.join("ca"));
    let tls = TestServer::start_tls(&ca, false);
    let data = patterned(300_000, 39);
    let mut resource = Resource::new(data.clone());
    resource.no_length = true;
    tls.add("/fw.bin", resource);
    let manager = Manager::open(None).unwrap();
    let dst = dir.join("fw.bin");
    let job = job_for(
        &manager,
        &tls.url("/fw.bin"),
        &dst,
        SecurityFlags::REDIRECT_POLICY_ALLOW_SILENT,
    );
    job.set_ca_file(Some(ca.ca_pem.to_str().unwrap())).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Transferred);
    assert_eq!(tls.requests("/fw.bin").len(), 1);
    job.complete().unwrap();
    assert!(std::fs::read(&dst).unwrap() == data);
}

/// Found by the attack on this session's work: an attempt that followed a
/// redirect and then failed left the previous attempt's report in place.
/// Every attempt renews the report with where it ended, failures included.
#[test]
fn the_final_url_names_the_hop_where_a_failed_attempt_ended() {
    let dir = support::scratch("trust-final-url-error");
    let a = TestServer::start();
    let b = TestServer::start();
    let c = TestServer::start();
    let data = patterned(150_000, 41);
    a.add("/fw.bin", Resource::new(data.clone()));
    c.add("/fw.bin", Resource::new(data));
    // First attempt: A sends it to C, which cuts the body (a transient
    // error after bytes, so the job tries again); the second attempt: A
    // sends it to B, which has no such file (404: fatal).
    a.script(
        "/fw.bin",
        vec![
            Fault::Redirect(302, c.url("/fw.bin")),
            Fault::Redirect(302, b.url("/fw.bin")),
        ],
    );
    c.script("/fw.bin", vec![Fault::CloseAfter(50_000)]);
    let manager = Manager::open(None).unwrap();
    let job = job_for(
        &manager,
        &a.url("/fw.bin"),
        &dir.join("fw.bin"),
        SecurityFlags::REDIRECT_POLICY_ALLOW_REPORT,
    );
    job.set_max_connections(1).unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, LIMIT), JobState::Error, "{:?}", job.error());
    assert_eq!(job.error().unwrap().http_status, 404);
    assert_eq!(
        c.requests("/fw.bin").len(),
        1,
        "C answered the first attempt"
    );
    assert_eq!(job.file_final_url(0).unwrap(), b.url("/fw.bin"));
}
