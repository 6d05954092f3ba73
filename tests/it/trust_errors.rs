//! Issue 19 (trust): what error texts, proxies and notify programs may and
//! may not do. A notify program runs once when the host ignores SIGCHLD
//! (item 6); no password of a URL, a proxy or `set_credentials` reaches an
//! error text, from the Rust API, the C API or the CLI (item 7); a proxy
//! that refuses the credentials or the request fails the job at once, one
//! that is busy or cannot reach the server is retried, and a TLS handshake
//! with nothing in common says what qmgr offers (item 10).

use crate::support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{FileSpec, HResult, Job, JobState, Manager};
use support::http_server::{Resource, TestServer};
use support::{wait, wait_until};

/// Waits until `job` is in ERROR or TRANSIENT_ERROR and returns which.
fn failed_state(job: &Job) -> JobState {
    wait_until("the job to fail", Duration::from_secs(30), || {
        matches!(job.state(), JobState::Error | JobState::TransientError)
    });
    job.state()
}

/// A job for `url` into `dir`, with `proxy` if given, a 1 s retry delay, resumed.
fn job_for(manager: &Manager, url: &str, dir: &Path, proxy: Option<&str>) -> Job {
    let job = manager.create_job("trust").unwrap();
    job.add_files(&[FileSpec::new(url, dir.join("x").to_str().unwrap())])
        .unwrap();
    job.set_max_connections(1).unwrap();
    job.set_min_retry_delay(1).unwrap();
    if let Some(proxy) = proxy {
        job.set_proxy(Some(proxy)).unwrap();
    }
    job.resume().unwrap();
    job
}

/// A server on 127.0.0.1 that reads each connection's first message (up
/// to an empty line, or what one read gives when `head` is false) and
/// answers `answer`; its address.
fn fake_server(answer: &'static [u8], head: bool) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            std::thread::spawn(move || {
                let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
                let mut got = Vec::new();
                let mut byte = [0u8; 1];
                if head {
                    while !got.ends_with(b"\r\n\r\n") && client.read_exact(&mut byte).is_ok() {
                        got.push(byte[0]);
                    }
                } else {
                    let mut buf = [0u8; 4096];
                    let _ = client.read(&mut buf);
                }
                let _ = client.write_all(answer);
                // Let the client read the answer before the close.
                let _ = client.read(&mut byte);
            });
        }
    });
    addr
}

// ---- item 6: the notify program and SIGCHLD ----

#[test]
fn a_notify_program_runs_once_when_the_host_ignores_sigchld() {
    let dir = support::scratch("trust-notify-sigchld");
    let exe = support::compile("notify_sigchld.c", support::Build::Plain, &dir);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    support::run(&exe, &[work.to_str().unwrap()], Duration::from_secs(120));
}

// ---- item 7: no password in an error text ----

/// The passwords of these tests: none may appear in any error text.
const SECRETS: [&str; 3] = ["url-s3cret", "proxy-s3cret", "basic-s3cret"];

fn assert_no_secret(text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
}

#[test]
fn an_unreachable_url_with_a_password_keeps_it_out_of_the_error() {
    let (_reserved, port) = support::refused_port();
    let dir = support::scratch("trust-redact-unreachable");
    let manager = Manager::open(None).unwrap();
    let url = format!("http://user:url-s3cret@127.0.0.1:{port}/x");
    let job = job_for(&manager, &url, &dir, None);
    assert_eq!(failed_state(&job), JobState::TransientError);
    let err = job.error().unwrap();
    assert_eq!(err.code.0, QM_E_WINHTTP_CANNOT_CONNECT);
    assert_no_secret(&err.description);
    assert!(
        err.description.contains("http://user:***@127.0.0.1:"),
        "{}",
        err.description
    );
    job.cancel().unwrap();
}

#[test]
fn a_404_from_a_url_with_a_password_keeps_it_and_basic_credentials_out_of_the_error() {
    let server = TestServer::start();
    let dir = support::scratch("trust-redact-404");
    let manager = Manager::open(None).unwrap();
    let url = server
        .url("/nothing-here")
        .replace("http://", "http://user:url-s3cret@");
    let job = manager.create_job("404").unwrap();
    job.add_files(&[FileSpec::new(&url, dir.join("x").to_str().unwrap())])
        .unwrap();
    job.set_credentials(Some(("basic-user", "basic-s3cret")))
        .unwrap();
    job.resume().unwrap();
    assert_eq!(wait(&job, Duration::from_secs(30)), JobState::Error);
    let err = job.error().unwrap();
    assert_eq!(
        (err.code, err.http_status),
        (HResult::from_http_status(404), 404)
    );
    assert_no_secret(&err.description);
    assert!(err.description.contains("user:***@"), "{}", err.description);
    job.cancel().unwrap();
}

#[test]
fn a_proxy_password_stays_out_of_errors_and_refusals() {
    let (_reserved, port) = support::refused_port();
    let dir = support::scratch("trust-redact-proxy");
    let manager = Manager::open(None).unwrap();
    // A dead proxy: the job's error.
    let proxy = format!("http://pu:proxy-s3cret@127.0.0.1:{port}");
    let job = job_for(&manager, "http://updates.invalid/x", &dir, Some(&proxy));
    assert_eq!(failed_state(&job), JobState::TransientError);
    assert_no_secret(&job.error().unwrap().description);
    // A proxy URL refused when it is set: the API's error.
    let err = job
        .set_proxy(Some("http://pu:proxy-s3cret@proxy:99999"))
        .unwrap_err();
    assert_eq!(err.code.0, QM_BG_E_INVALID_PROXY_INFO);
    assert_no_secret(&err.to_string());
    // A remote name refused when it is added.
    let err = job
        .add_files(&[FileSpec::new(
            "http://user:url-s3cret@h:99999/x",
            dir.join("y").to_str().unwrap(),
        )])
        .unwrap_err();
    assert_no_secret(&err.to_string());
    job.cancel().unwrap();
}

/// A CLI invocation: its arguments and the environment variables it adds.
type Invocation<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);

/// Runs the CLI with `args` and `env`, which must fail (exit 1 or 2)
/// without a secret in what it prints; returns what it printed.
fn cli_failure_text((args, env): Invocation) -> String {
    let run = crate::cli::qmgr_with(Path::new(env!("CARGO_TARGET_TMPDIR")), args, env, |_| {});
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(matches!(run.code, 1 | 2), "{args:?}: {} {text}", run.code);
    assert_no_secret(&text);
    text
}

#[test]
fn the_cli_prints_no_password_of_a_url_or_a_proxy() {
    let server = TestServer::start();
    server.add("/here", Resource::new(b"data".to_vec()));
    let (_reserved, port) = support::refused_port();
    let dir = support::scratch("trust-redact-cli");
    let dst = dir.join("dst");
    let dst = dst.to_str().unwrap();
    let missing = server
        .url("/nothing-here")
        .replace("http://", "http://user:url-s3cret@");
    let dead_proxy = format!("http://pu:proxy-s3cret@127.0.0.1:{port}");
    let runs: [Invocation; 5] = [
        (&["transfer", &missing, dst], &[]),
        (&["transfer", "--json", &missing, dst], &[]),
        (
            &[
                "transfer",
                "--no-progress-timeout",
                "0",
                "--proxy",
                &dead_proxy,
                "http://updates.invalid/x",
                dst,
            ],
            &[],
        ),
        (
            &[
                "transfer",
                "--proxy",
                "http://pu:proxy-s3cret@proxy:99999",
                "http://updates.invalid/x",
                dst,
            ],
            &[],
        ),
        // A proxy of the environment: refused when the job runs, not when it is made.
        (
            &[
                "transfer",
                "--no-progress-timeout",
                "0",
                "http://updates.invalid/x",
                dst,
            ],
            &[("http_proxy", "http://pu:proxy-s3cret@proxy:99999")],
        ),
    ];
    for run in runs {
        cli_failure_text(run);
    }
}

// ---- item 10: proxy refusals and TLS offers ----

#[test]
fn a_socks5_proxy_that_wants_a_login_qmgr_lacks_is_a_fatal_proxy_auth_error() {
    let dir = support::scratch("trust-socks-login");
    let manager = Manager::open(None).unwrap();
    // "No acceptable methods" (0xFF), to a client offering none, or a
    // user name and password.
    for userinfo in ["", "u:pw@"] {
        let addr = fake_server(&[5, 0xFF], false);
        let proxy = format!("socks5h://{userinfo}{addr}");
        let job = job_for(&manager, "http://updates.invalid/x", &dir, Some(&proxy));
        assert_eq!(
            failed_state(&job),
            JobState::Error,
            "{proxy}: {:?}",
            job.error()
        );
        let err = job.error().unwrap();
        assert_eq!(err.code, HResult::from_http_status(407), "{proxy}: {err:?}");
        job.cancel().unwrap();
    }
}

#[test]
fn a_connect_refused_for_credentials_or_policy_is_fatal_and_a_5xx_is_retried() {
    let dir = support::scratch("trust-connect-refusals");
    let manager = Manager::open(None).unwrap();
    let cases: [(&'static [u8], u16, JobState, HResult); 4] = [
        (
            b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
            401,
            JobState::Error,
            HResult::from_http_status(407),
        ),
        (
            b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
            407,
            JobState::Error,
            HResult::from_http_status(407),
        ),
        (
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
            403,
            JobState::Error,
            HResult::from_http_status(403),
        ),
        (
            b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
            502,
            JobState::TransientError,
            HResult(QM_E_WINHTTP_CANNOT_CONNECT),
        ),
    ];
    for (answer, status, state, code) in cases {
        let proxy = format!("http://{}", fake_server(answer, true));
        let job = job_for(&manager, "https://updates.invalid/x", &dir, Some(&proxy));
        assert_eq!(failed_state(&job), state, "{status}: {:?}", job.error());
        let err = job.error().unwrap();
        assert_eq!((err.code, err.http_status), (code, status), "{err:?}");
        assert!(err.description.contains(&status.to_string()), "{err:?}");
        job.cancel().unwrap();
    }
}

#[cfg(feature = "tls")]
#[test]
fn a_tls_handshake_with_nothing_in_common_says_what_qmgr_offers() {
    // A server that answers the ClientHello with a fatal handshake_failure
    // alert, as an appliance offering only CBC suites does.
    let addr = fake_server(&[0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28], false);
    let dir = support::scratch("trust-tls-offer");
    let manager = Manager::open(None).unwrap();
    let url = format!("https://localhost:{}/x", addr.port());
    let job = job_for(&manager, &url, &dir, None);
    assert_eq!(failed_state(&job), JobState::Error);
    let err = job.error().unwrap();
    assert_eq!(err.code.0, QM_E_WINHTTP_SECURE_FAILURE);
    for words in [
        "TLS 1.3",
        "TLS 1.2",
        "TLS13_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "no CBC",
    ] {
        assert!(
            err.description.contains(words),
            "{words}: {}",
            err.description
        );
    }
    job.cancel().unwrap();
}

/// Found by the attack on this session's redaction: the authority of a URL
/// was cut at a quote or a bracket, which a password may hold, so the
/// password went out whole.
#[test]
fn a_password_with_quotes_or_brackets_is_masked_in_any_text() {
    let mut broke = Vec::new();
    for pw in [
        "se'cret",
        "se\"cret",
        "se<cret",
        "se>cret",
        "se`cret",
        "se%27cret",
        "p@ss:w0rd",
    ] {
        let url = format!("http://alice:{pw}@host.example/x");
        let text = format!("GET {url}: 404 Not Found");
        let red = qmgr::redact_passwords(&text).to_string();
        if red.contains("cret") || red.contains("w0rd") {
            broke.push(red);
        }
    }
    assert!(broke.is_empty(), "leaks: {broke:#?}");
}

/// The same through a job: the error text of a 404 from such a URL.
#[test]
fn a_password_with_a_quote_stays_out_of_the_error_of_a_404() {
    let dir = support::scratch("probe-quote");
    let a = support::http_server::TestServer::start();
    let manager = qmgr::Manager::open(None).unwrap();
    let url = a
        .url("/missing.bin")
        .replace("http://", "http://alice:se'cret@");
    let job = manager.create_job("quote").unwrap();
    job.add_files(&[qmgr::FileSpec::new(url, dir.join("x").to_str().unwrap())])
        .unwrap();
    job.resume().unwrap();
    assert_eq!(
        support::wait(&job, std::time::Duration::from_secs(30)),
        qmgr::JobState::Error
    );
    let e = job.error().unwrap();
    assert!(!e.description.contains("cret"), "leak: {}", e.description);
}

/// Found by the attack on the trust fixes: a password holding `/`, `?` or
/// `#` (generated passwords do) makes the URL unparsable, and the error
/// quoted it whole, or quoted a "port" that was the start of the password;
/// a proxy given without a scheme was quoted as given.
#[test]
fn a_password_that_breaks_the_url_stays_out_of_every_error() {
    let dir = support::scratch("trust-redact-unparsable");
    let dst = dir.join("dst");
    let dst = dst.to_str().unwrap();
    let runs: [Invocation; 3] = [
        (&["transfer", "http://u:url#s3cret@127.0.0.1:1/x", dst], &[]),
        (
            &[
                "transfer",
                "--proxy",
                "pu:proxy-s3cret@127.0.0.1:3128",
                "http://h/x",
                dst,
            ],
            &[],
        ),
        (
            &[
                "transfer",
                "--no-progress-timeout",
                "0",
                "http://updates.invalid/x",
                dst,
            ],
            &[("http_proxy", "http://pu:proxy/s3cret@127.0.0.1:3128")],
        ),
    ];
    for run in runs {
        let text = cli_failure_text(run);
        assert!(
            !text.contains("'url'") && !text.contains("'proxy'"),
            "{text}"
        );
    }
    // The same through the library's own errors.
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("unparsable").unwrap();
    let err = job
        .add_files(&[FileSpec::new("http://u:p/url-s3cret@h/x", dst)])
        .unwrap_err();
    assert_no_secret(&err.to_string());
    let err = job
        .set_proxy(Some("http://pu:p?proxy-s3cret@h:1"))
        .unwrap_err();
    assert_no_secret(&err.to_string());
}
