//! Issue 19 (trust), item 8: inputs qmgr must not take for more than they
//! are. A `-H` value of the CLI with a line break is refused before any
//! job exists (it would become two headers), and the library refuses a
//! header block whose lines are not `name: value`; a job whose stored HTTP
//! options do not read is skipped with a reason, never run with defaults
//! (no CA file, the silent redirect policy); the environment (proxy
//! variables, the notify program's environment) is read on the caller's
//! thread at open and at each resume, never by qmgr's own threads.

use crate::support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use qmgr::hresult::*;
use qmgr::{FileSpec, JobState, Manager, SecurityFlags};
use support::http_server::{patterned, Resource, TestCa, TestServer};
use support::wait;

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

// ---- a header value with CR or LF ----

#[test]
fn a_cli_header_with_a_line_break_is_refused_before_any_job_exists() {
    let server = TestServer::start();
    server.add("/x", Resource::new(patterned(1000, 1)));
    let dir = support::scratch("trust-cli-header-crlf");
    let dst = dir.join("x");
    let state = dir.join("state");
    for value in [
        "X-A: 1\r\nX-Injected: 2",
        "X-A: 1\nX-Injected: 2",
        "X-A: 1\rX-Injected: 2",
        "X-A: 1\r\n",
    ] {
        let transfer = [
            "transfer",
            "-H",
            "X-Fine: yes",
            "-H",
            value,
            &server.url("/x"),
            s(&dst),
        ];
        let create = ["--state", s(&state), "create", "job", "--header", value];
        for args in [&transfer[..], &create[..]] {
            let run = crate::cli::qmgr_with(&dir, args, &[], |_| {});
            assert_eq!(run.code, 2, "{value:?} {args:?}: {run:#?}");
            let line = run.stderr.trim();
            assert_eq!(line.lines().count(), 1, "{run:#?}");
            assert!(
                line.starts_with("qmgr: error: QM_E_INVALIDARG")
                    && line.contains("-H/--header value for 'X-A' holds a line break"),
                "{line}"
            );
            // Only the header's name is shown, never its value.
            assert!(!line.contains("Injected"), "{line}");
        }
        assert!(!dst.exists() && !state.exists(), "{value:?}");
    }
    // The process is gone: whatever it was to send has been sent.
    assert!(server.requests("/x").is_empty());

    // Each -H is one header: two give two.
    let run = crate::cli::qmgr_with(
        &dir,
        &[
            "transfer",
            "-H",
            "X-A: 1",
            "-H",
            "X-B: two",
            &server.url("/x"),
            s(&dst),
        ],
        &[],
        |_| {},
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = server.requests("/x");
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("x-a"), Some("1"));
    assert_eq!(seen[0].header("x-b"), Some("two"));
}

#[test]
fn the_library_takes_a_header_block_of_name_value_lines_only() {
    let manager = Manager::open(None).unwrap();
    let job = manager.create_job("headers").unwrap();
    job.set_custom_headers(Some("X-A: 1\r\nX-B: two\r\n"))
        .unwrap();
    for bad in [
        "X-A: 1\nX-Injected: 2",
        "X-A: 1\rX-Injected: 2",
        "X-A: 1\r\n\r\nX-B: 2",
        "X-A: a\0b",
        "X-A 1",
        ": 1",
        "X A: 1",
        "X-A\0: 1",
        "X-É: 1",
        "X-A: \x7f",
        "Transfer-Encoding: chunked",
    ] {
        let err = job.set_custom_headers(Some(bad)).unwrap_err();
        assert_eq!(err.code.0, QM_E_INVALIDARG, "{bad:?}: {err:?}");
        assert_eq!(
            job.custom_headers().as_deref(),
            Some("X-A: 1\r\nX-B: two\r\n"),
            "a refused block leaves the headers as they were"
        );
    }
    job.cancel().unwrap();
}

// ---- stored HTTP options that do not read ----

#[test]
fn a_job_whose_stored_http_options_do_not_read_is_skipped_not_run_with_defaults() {
    let server = TestServer::start();
    server.add("/fw", Resource::new(patterned(4096, 2)));
    server.add("/witness", Resource::new(patterned(4096, 3)));
    let dir = support::scratch("trust-corrupt-options");
    let ca = TestCa::generate(&dir.join("ca"));
    let state = dir.join("state");
    let (fw, witness) = {
        let manager = Manager::open(Some(&state)).unwrap();
        let fw = manager.create_job("fw").unwrap();
        fw.add_files(&[FileSpec::new(server.url("/fw"), s(&dir.join("fw")))])
            .unwrap();
        fw.set_ca_file(Some(s(&ca.ca_pem))).unwrap();
        fw.set_security_flags(SecurityFlags::REDIRECT_POLICY_DISALLOW)
            .unwrap();
        let witness = manager.create_job("witness").unwrap();
        witness
            .add_files(&[FileSpec::new(
                server.url("/witness"),
                s(&dir.join("witness")),
            )])
            .unwrap();
        (fw.id(), witness.id())
    };
    // A torn value, in jobs that were queued (as a crash mid-run leaves
    // them): opening the directory starts them by itself.
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    let torn = db
        .execute(
            "UPDATE jobs SET http_options = substr(http_options, 1, length(http_options) - 2) \
             WHERE display_name = 'fw'",
            [],
        )
        .unwrap();
    assert_eq!(torn, 1);
    db.execute("UPDATE jobs SET state = 0", []).unwrap();
    drop(db);

    let manager = Manager::open(Some(&state)).unwrap();
    let skipped = manager.skipped_jobs();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let why = &skipped[0];
    assert!(why.starts_with(&format!("job {fw} was skipped")), "{why}");
    assert!(
        why.contains("its stored HTTP options (CA file, redirect policy")
            && why.contains("cannot be read: not JSON"),
        "{why}"
    );
    assert_eq!(
        manager.job(&fw).unwrap_err().code.0,
        QM_BG_E_NOT_FOUND,
        "the job is not loaded with defaults"
    );
    // Meanwhile the healthy job, queued like it, transfers.
    let witness = manager.job(&witness).unwrap();
    assert_eq!(
        wait(&witness, Duration::from_secs(30)),
        JobState::Transferred
    );
    assert_eq!(server.requests("/witness").len(), 1);
    assert!(server.requests("/fw").is_empty(), "the skipped job ran");
    witness.complete().unwrap();
    manager.close();
    drop(manager);
    // Its rows stay as they were, for the caller to see.
    let db = rusqlite::Connection::open(state.join("qmgr.db")).unwrap();
    let left: i64 = db
        .query_row(
            "SELECT count(*) FROM jobs WHERE display_name = 'fw'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 1);
}

// ---- the environment, read on the caller's thread ----

/// The proxy variables of the environment, which the child does not inherit.
const PROXY_VARIABLES: [&str; 8] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

#[test]
fn the_environment_counts_as_the_last_resume_read_it_not_as_a_worker_finds_it() {
    // `ctests/env_snapshot.c` sets `http_proxy` and `QMGR_PROBE` after job
    // A's resume but before A can start (see there): A goes directly to
    // `origin`, and its notify program sees the old probe; job B, resumed
    // after, goes through `proxy` (a test server answering absolute-form
    // requests) to a host only the proxy knows.
    let origin = TestServer::start();
    let proxy = TestServer::start();
    let a = patterned(3000, 4);
    let b = patterned(3000, 5);
    origin.add("/a", Resource::new(a.clone()));
    proxy.add("/b", Resource::new(b.clone()));
    let dir = support::scratch("trust-env-snapshot");
    let exe = support::compile("env_snapshot.c", support::Build::Plain, &dir);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let mut cmd = Command::new(&exe);
    for name in PROXY_VARIABLES {
        cmd.env_remove(name);
    }
    cmd.env_remove("QMGR_PROBE").args([
        s(&work),
        &origin.url("/a"),
        &proxy.url(""),
        "http://updates.invalid/b",
    ]);
    let out = support::run_bounded(cmd, Duration::from_secs(120));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let seen = format!(
        "origin saw {:?}, proxy saw /a {:?} and /b {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        origin.requests("/a").iter().map(|r| &r.path).collect::<Vec<_>>(),
        proxy.requests("/a").iter().map(|r| &r.path).collect::<Vec<_>>(),
        proxy.requests("/b").iter().map(|r| &r.path).collect::<Vec<_>>(),
    );
    assert!(
        proxy.requests("/a").is_empty(),
        "job A used a proxy set after its resume: {seen}"
    );
    assert!(out.status.is_some_and(|s| s.success()), "{seen}");
    assert_eq!(origin.requests("/a").len(), 1, "{seen}");
    let via_proxy = proxy.requests("/b");
    assert_eq!(via_proxy.len(), 1, "{seen}");
    assert_eq!(via_proxy[0].path, "http://updates.invalid/b");
    assert!(std::fs::read(work.join("a")).unwrap() == a);
    assert!(std::fs::read(work.join("b")).unwrap() == b);
}
