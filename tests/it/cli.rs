//! The `qmgr` command-line tool, run as a real process against local files
//! and the fault-injecting HTTP server of `tests/support/http_server.rs`:
//! transfers, progress output when stderr is not a terminal, exit codes,
//! one-line error messages naming the code, `--json`, the state directory
//! verbs, and Ctrl-C/SIGTERM during a transfer.

use crate::support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::http_server::{patterned, Fault, Resource, TestCa, TestServer};
use support::{sha256_hex, temp_files, wait_until};

/// The longest any one invocation may take.
const LIMIT: Duration = Duration::from_secs(60);

/// What one invocation of `qmgr` did.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    took: Duration,
}

impl Run {
    fn stderr_lines(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }

    /// The single stderr line of a failed invocation.
    pub(crate) fn error_line(&self) -> &str {
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        assert!(lines[0].starts_with("qmgr: "), "{self:#?}");
        lines[0]
    }

    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

/// The proxy variables of the environment, which no run inherits.
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

/// Runs `qmgr ARGS` in `cwd` (QMGR_STATE unset), killing it after [`LIMIT`].
fn qmgr_in(cwd: &Path, args: &[&str]) -> Run {
    qmgr_with(cwd, args, &[], |_| {})
}

/// Like [`qmgr_in`], with these environment variables added, calling
/// `during` with the process id once it started (its output is collected
/// meanwhile).
pub(crate) fn qmgr_with(
    cwd: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    during: impl FnOnce(u32),
) -> Run {
    let mut command = Command::new(support::qmgr_bin());
    let started = Instant::now();
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    let mut child = command
        .envs(env.iter().copied())
        .args(args)
        .current_dir(cwd)
        .env_remove("QMGR_STATE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start qmgr");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        out.read_to_string(&mut s).map(|_| s)
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).map(|_| s)
    });
    // A failing `during` (a wait that timed out) must not leave qmgr running.
    let id = child.id();
    if let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| during(id))) {
        let _ = child.kill();
        let _ = child.wait();
        std::panic::resume_unwind(panic);
    }
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "qmgr {args:?} did not finish within {LIMIT:?}; stderr so far: {:?}",
                err_reader.join()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    Run {
        code: status.code().expect("qmgr was killed by a signal"),
        stdout: out_reader.join().unwrap().unwrap(),
        stderr: err_reader.join().unwrap().unwrap(),
        took,
    }
}

fn qmgr(args: &[&str]) -> Run {
    qmgr_in(Path::new(env!("CARGO_TARGET_TMPDIR")), args)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// No temporary file (`.NAME.XXXX.qmgr-part`) left in `dir`.
fn assert_no_temp_files(dir: &Path) {
    let left = temp_files(dir);
    assert!(left.is_empty(), "temporary files left: {left:?}");
}

/// Checks a progress line: `12.5% 134217728/1073741824 bytes 512.0 MiB/s ETA 2s`.
fn assert_progress_line(line: &str, total: u64) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 7, "progress line {line:?}");
    let percent: f64 = words[0]
        .strip_suffix('%')
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("percent in {line:?}"));
    // 100% may show before the job is TRANSFERRED (the last byte has landed).
    assert!((0.0..=100.0).contains(&percent), "{line:?}");
    let (done, of) = words[1].split_once('/').unwrap();
    let done: u64 = done.parse().unwrap();
    assert!(done <= total, "{line:?}");
    assert!(of == total.to_string() || of == "?", "{line:?}");
    assert_eq!(words[2], "bytes", "{line:?}");
    words[3].parse::<f64>().unwrap();
    assert!(words[4].ends_with("B/s"), "{line:?}");
    assert_eq!(words[5], "ETA", "{line:?}");
}

/// Checks the final line: `100.0% N/N bytes 3.1 MiB/s done in 1.3s`.
fn assert_final_line(line: &str, total: u64) {
    let words: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(words.len(), 8, "final line {line:?}");
    assert_eq!(words[0], "100.0%", "{line:?}");
    assert_eq!(words[1], format!("{total}/{total}"), "{line:?}");
    assert_eq!(words[2], "bytes", "{line:?}");
    assert!(words[4].ends_with("B/s"), "{line:?}");
    assert_eq!(&words[5..7], ["done", "in"], "{line:?}");
}

/// Checks a successful transfer's stderr: progress lines, then the final line.
fn assert_progress_output(run: &Run, total: u64) -> usize {
    let lines = run.stderr_lines();
    let (last, progress) = lines.split_last().expect("a final line");
    assert_final_line(last, total);
    for line in progress {
        assert_progress_line(line, total);
    }
    progress.len()
}

#[test]
fn help_documents_the_exit_codes() {
    let run = qmgr(&["--help"]);
    assert_eq!(run.code, 0, "{run:#?}");
    for needle in ["Exit codes", "transfer", "monitor", "partial complete"] {
        assert!(run.stdout.contains(needle), "{needle}: {run:#?}");
    }
    let run = qmgr(&["--version"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn transfers_a_local_file_byte_exact() {
    let dir = support::scratch("cli-local");
    let data = patterned(3 << 20, 1);
    let src = dir.join("src.bin");
    std::fs::write(&src, &data).unwrap();
    let dst = dir.join("dst.bin");
    let run = qmgr(&["transfer", s(&src), s(&dst)]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_progress_output(&run, data.len() as u64);
    assert!(run.stdout.is_empty(), "{run:#?}");
    assert_no_temp_files(&dir);

    // A file:// URL, relative destination paths, and an existing directory
    // as the destination (the source's name is kept, as cp does).
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let url = format!("file://{}", s(&src));
    let run = qmgr_in(
        &dir,
        &["transfer", "--quiet", &url, "rel.bin", "src.bin", "sub"],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.is_empty(), "--quiet: {run:#?}");
    assert_eq!(std::fs::read(dir.join("rel.bin")).unwrap(), data);
    assert_eq!(std::fs::read(sub.join("src.bin")).unwrap(), data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transfers_an_http_file_byte_exact_with_json() {
    let server = TestServer::start();
    let data = patterned(4 << 20, 2);
    server.add("/big.bin", Resource::new(data.clone()));
    let dir = support::scratch("cli-http");
    let dst = dir.join("big.bin");
    let url = server.url("/big.bin");
    let run = qmgr(&["transfer", "--json", &url, s(&dst)]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_progress_output(&run, data.len() as u64);
    let job = run.json();
    assert_eq!(job["state"], "ACKNOWLEDGED", "{job}");
    assert_eq!(job["priority"], "NORMAL");
    assert_eq!(job["yielding"], true);
    assert_eq!(job["bytes_total"], data.len() as u64);
    assert_eq!(job["bytes_transferred"], data.len() as u64);
    assert_eq!(job["files_total"], 1);
    assert_eq!(job["files_transferred"], 1);
    assert!(job["error"].is_null());
    assert_eq!(job["id"].as_str().unwrap().len(), 36);
    let files = job["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["remote"], url.as_str());
    assert_eq!(files[0]["local"], s(&dst));
    assert_eq!(files[0]["bytes_total"], data.len() as u64);
    assert_eq!(files[0]["completed"], true);
    assert_no_temp_files(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn connections_transfer_several_files_at_once() {
    let server = TestServer::start();
    let dir = support::scratch("cli-connections");
    let mut args = vec!["transfer".to_string()];
    let mut files = Vec::new();
    for i in 0..12 {
        let data = patterned(50_000, 40 + i);
        server.add(&format!("/c{i}"), Resource::new(data.clone()));
        let dst = dir.join(format!("c{i}"));
        args.push(server.url(&format!("/c{i}")));
        args.push(dst.to_str().unwrap().to_string());
        files.push((dst, data));
    }
    args.extend([
        "--connections".to_string(),
        "3".to_string(),
        "--quiet".to_string(),
    ]);
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = qmgr(&argv);
    assert_eq!(run.code, 0, "{run:#?}");
    for (dst, data) in &files {
        assert!(std::fs::read(dst).unwrap() == *data);
    }
    let connections = server.connections();
    assert!(
        (2..=3).contains(&connections),
        "{connections} connections for --connections 3"
    );
    let run = qmgr(&[
        "transfer",
        &server.url("/c0"),
        s(&dir.join("z")),
        "--connections",
        "0",
    ]);
    assert_eq!(run.code, 2, "{run:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn several_files_with_a_checksum_each() {
    let server = TestServer::start();
    let a = patterned(300_000, 3);
    let b = patterned(700_000, 4);
    server.add("/a", Resource::new(a.clone()));
    server.add("/b", Resource::new(b.clone()));
    let dir = support::scratch("cli-multi");
    let (da, db) = (dir.join("a"), dir.join("b"));
    let (ha, hb) = (sha256_hex(&a), sha256_hex(&b));
    let (ua, ub) = (server.url("/a"), server.url("/b"));
    let run = qmgr(&[
        "transfer",
        &ua,
        s(&da),
        &ub,
        s(&db),
        "--sha256",
        &ha,
        "--sha256",
        &hb,
        "--priority",
        "foreground",
        "--no-yield",
        "--json",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&da).unwrap(), a);
    assert_eq!(std::fs::read(&db).unwrap(), b);
    let job = run.json();
    assert_eq!(job["files_total"], 2);
    assert_eq!(job["priority"], "FOREGROUND");
    assert_eq!(job["yielding"], false);
    assert_eq!(job["bytes_total"], (a.len() + b.len()) as u64);

    // One checksum for two files is a usage error, refused before anything runs.
    let run = qmgr(&["transfer", &ua, s(&da), &ub, s(&db), "--sha256", &ha]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.error_line().contains("QM_E_INVALIDARG"), "{run:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn http_404_fails_with_one_line_naming_the_code() {
    let server = TestServer::start();
    let dir = support::scratch("cli-404");
    let dst = dir.join("missing.bin");
    let run = qmgr(&["transfer", &server.url("/nothing-here"), s(&dst)]);
    assert_eq!(run.code, 1, "{run:#?}");
    let hits: Vec<&str> = run
        .stderr_lines()
        .into_iter()
        .filter(|l| l.contains("QM_HTTP_ERROR(404)"))
        .collect();
    assert_eq!(hits.len(), 1, "{run:#?}");
    assert!(
        hits[0].starts_with("qmgr: error: QM_HTTP_ERROR(404) (0x80190194): "),
        "{run:#?}"
    );
    assert!(!dst.exists());
    assert_no_temp_files(&dir);

    // --json still reports the job, with its error.
    let run = qmgr(&["transfer", "--json", &server.url("/nothing-here"), s(&dst)]);
    assert_eq!(run.code, 1, "{run:#?}");
    let job = run.json();
    assert_eq!(job["state"], "ERROR");
    assert_eq!(job["error"]["name"], "QM_HTTP_ERROR(404)");
    assert_eq!(job["error"]["code"], "0x80190194");
    assert_eq!(job["error"]["http_status"], 404);
    assert!(job["error"]["description"]
        .as_str()
        .unwrap()
        .contains("404"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_local_source_fails_naming_the_code() {
    let dir = support::scratch("cli-missing");
    let run = qmgr(&[
        "transfer",
        s(&dir.join("no-such-file")),
        s(&dir.join("out")),
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    let line = run.error_line();
    assert!(
        line.contains("QM_E_FILE_NOT_FOUND") || line.contains("0x80070002"),
        "{run:#?}"
    );
    assert!(!dir.join("out").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_fail_with_one_line_naming_the_code() {
    let dir = support::scratch("cli-badargs");
    let src = dir.join("src");
    std::fs::write(&src, b"x").unwrap();
    let out = dir.join("out");
    let bad_sha = "ab".repeat(31);
    let cases: Vec<(Vec<&str>, i32)> = vec![
        // clap's usage errors: 2.
        (vec!["transfer", "--frobnicate", s(&src), s(&out)], 2),
        (
            vec!["transfer", "--max-bandwidth", "20X", s(&src), s(&out)],
            2,
        ),
        (
            vec!["transfer", "--priority", "urgent", s(&src), s(&out)],
            2,
        ),
        (vec!["transfer", s(&src)], 2),
        (vec!["transfer", s(&src), s(&out), s(&src)], 2),
        (vec!["no-such-verb"], 2),
        (vec!["transfer", "--sha256", &bad_sha, s(&src), s(&out)], 2),
        (vec!["transfer", "--sha256", "zz", s(&src), s(&out)], 2),
        (vec!["transfer", "--cert", s(&src), s(&src), s(&out)], 2),
        // Words the library refuses (QM_E_INVALIDARG) are bad usage too.
        (vec!["transfer", "ftp://x", s(&out)], 2),
        (vec!["transfer", "http://", s(&out)], 2),
        (
            vec!["transfer", "--header", "no colon", s(&src), s(&out)],
            2,
        ),
        (vec!["transfer", "--ca-file", s(&src), s(&src), s(&out)], 2),
    ];
    for (args, code) in cases {
        let run = qmgr(&args);
        assert_eq!(run.code, code, "{args:?}: {run:#?}");
        let line = run.error_line();
        assert!(
            line.starts_with("qmgr: error: QM_E_INVALIDARG (0x80070057): "),
            "{args:?}: {run:#?}"
        );
    }
    assert!(!out.exists());
    assert_no_temp_files(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sha256_mismatch_fails_validation() {
    let dir = support::scratch("cli-sha");
    let data = patterned(100_000, 5);
    let src = dir.join("src");
    std::fs::write(&src, &data).unwrap();
    let dst = dir.join("dst");
    let wrong = sha256_hex(b"something else");
    let run = qmgr(&["transfer", "--sha256", &wrong, s(&src), s(&dst)]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.error_line().contains("QM_BG_E_VALIDATION_FAILED"),
        "{run:#?}"
    );
    assert!(!dst.exists());
    assert_no_temp_files(&dir);

    let right = sha256_hex(&data).to_uppercase();
    let run = qmgr(&["transfer", "--sha256", &right, s(&src), s(&dst)]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn limit_shapes_the_transfer_and_progress_lines_flow() {
    let server = TestServer::start();
    let data = patterned(2 << 20, 6);
    server.add("/slow.bin", Resource::new(data.clone()));
    let dir = support::scratch("cli-limit");
    let dst = dir.join("slow.bin");
    let run = qmgr(&[
        "transfer",
        "--max-bandwidth",
        "1M",
        &server.url("/slow.bin"),
        s(&dst),
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    // About one progress line a second, then the final line. The first
    // comes a second after the start: at least one means the limit held
    // the 2 MiB (2 s at 1 MiB/s, milliseconds without it) that long. The
    // rate itself is the throttle's unit tests' business.
    let progress = assert_progress_output(&run, data.len() as u64);
    assert!(
        progress >= 1,
        "no progress line in {:?}: --max-bandwidth did not shape it: {run:#?}",
        run.took
    );
    assert!(
        progress as f64 <= run.took.as_secs_f64() + 1.0,
        "more than one line a second: {run:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transient_errors_are_retried_and_reported() {
    let server = TestServer::start();
    let data = patterned(200_000, 7);
    server.add("/flaky", Resource::new(data.clone()));
    server.script("/flaky", vec![Fault::Status(503, vec![])]);
    let dir = support::scratch("cli-retry");
    let dst = dir.join("flaky");
    let run = qmgr(&[
        "transfer",
        "--min-retry-delay",
        "1",
        &server.url("/flaky"),
        s(&dst),
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let retry = run
        .stderr_lines()
        .into_iter()
        .find(|l| l.contains("retrying"))
        .unwrap_or_else(|| {
            panic!(
                "no retry line: {run:#?}\nthe server saw {:?}",
                server.requests("/flaky")
            )
        });
    assert!(retry.contains("QM_HTTP_ERROR(503)"), "{run:#?}");

    // With no patience at all, the first transient error is final.
    server.script("/flaky", vec![Fault::Status(503, vec![])]);
    let dst2 = dir.join("flaky2");
    let run = qmgr(&[
        "transfer",
        "--no-progress-timeout",
        "0",
        &server.url("/flaky"),
        s(&dst2),
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr_lines()
            .last()
            .unwrap()
            .starts_with("qmgr: error: QM_HTTP_ERROR(503)"),
        "{run:#?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ----- the state directory ----------------------------------------------

/// Makes the state directory `dir` as a user would (`list` refuses a
/// missing one), then checks that `qmgr --state DIR list` lists no job.
fn open_state_dir(dir: &Path) {
    let run = qmgr(&["--state", s(dir), "list", "--json"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(!dir.exists(), "list created {}", dir.display());
    std::fs::create_dir_all(dir).unwrap();
    let run = qmgr(&["--state", s(dir), "list", "--json"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json(), Value::Array(vec![]), "{run:#?}");
}

fn state(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["--state", s(dir)];
    all.extend_from_slice(args);
    qmgr(&all)
}

fn create_job(dir: &Path, name: &str) -> String {
    let run = state(dir, &["create", name]);
    assert_eq!(run.code, 0, "{run:#?}");
    let id = run.stdout.trim().to_string();
    assert_eq!(id.len(), 36, "{run:#?}");
    id
}

#[test]
fn state_dir_jobs_run_in_a_second_invocation() {
    let work = support::scratch("cli-state");
    let dir = work.join("state");
    open_state_dir(&dir);
    let server = TestServer::start();
    let data = patterned(3 << 20, 8);
    server.add("/s.bin", Resource::new(data.clone()));
    let local = patterned(1 << 20, 9);
    let src = work.join("local-src");
    std::fs::write(&src, &local).unwrap();
    let (d1, d2) = (work.join("d1"), work.join("d2"));

    let id = create_job(&dir, "two files");
    let url = server.url("/s.bin");
    let run = state(&dir, &["add", &id, &url, s(&d1)]);
    assert_eq!(run.code, 0, "{run:#?}");
    // A unique prefix of 8 characters names the job too.
    let run = state(&dir, &["add", &id[..8], s(&src), s(&d2)]);
    assert_eq!(run.code, 0, "{run:#?}");

    let run = state(&dir, &["list", "--json"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let jobs = run.json();
    let jobs = jobs.as_array().unwrap();
    assert_eq!(jobs.len(), 1, "{run:#?}");
    assert_eq!(jobs[0]["id"], id.as_str());
    assert_eq!(jobs[0]["name"], "two files");
    assert_eq!(jobs[0]["state"], "SUSPENDED");
    assert_eq!(jobs[0]["files_total"], 2);
    assert_eq!(jobs[0]["files"][0]["remote"], url.as_str());
    assert_eq!(jobs[0]["files"][1]["local"], s(&d2));

    let run = state(&dir, &["list"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains(&id) && run.stdout.contains("SUSPENDED"),
        "{run:#?}"
    );
    let run = state(&dir, &["info", &id[..12]]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains(&url) && run.stdout.contains("two files"),
        "{run:#?}"
    );
    let run = state(&dir, &["info", "--json", &id]);
    assert_eq!(run.json()["id"], id.as_str());

    let run = state(&dir, &["resume", &id]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("completed"), "{run:#?}");
    assert_eq!(std::fs::read(&d1).unwrap(), data);
    assert_eq!(std::fs::read(&d2).unwrap(), local);
    assert_no_temp_files(&work);

    // Completed jobs are gone.
    let run = state(&dir, &["list", "--json"]);
    assert_eq!(run.json(), Value::Array(vec![]));
    let run = state(&dir, &["info", &id]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.error_line().contains("QM_BG_E_NOT_FOUND"), "{run:#?}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn state_dir_verbs_report_codes_and_exit_codes() {
    let work = support::scratch("cli-verbs");
    let dir = work.join("state");
    open_state_dir(&dir);
    let src = work.join("src");
    std::fs::write(&src, patterned(10_000, 10)).unwrap();

    // Resuming a job without files: QM_BG_E_EMPTY, exit 3.
    let empty = create_job(&dir, "empty");
    let run = state(&dir, &["resume", &empty]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.error_line().contains("QM_BG_E_EMPTY"), "{run:#?}");

    // Bad job names: too short a prefix, no such job.
    let run = state(&dir, &["info", "abc"]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.error_line().contains("QM_E_INVALIDARG"), "{run:#?}");
    let run = state(&dir, &["suspend", "00000000-0000-4000-8000-000000000000"]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(run.error_line().contains("QM_BG_E_NOT_FOUND"), "{run:#?}");

    // Completing a job whose file never transferred: partial, exit 4.
    let partial = create_job(&dir, "partial");
    let run = state(&dir, &["add", &partial, s(&src), s(&work.join("p"))]);
    assert_eq!(run.code, 0, "{run:#?}");
    // (Not on a terminal, only with --partial: first_hour.rs.)
    let run = state(&dir, &["complete", "--partial", &partial]);
    assert_eq!(run.code, 4, "{run:#?}");
    assert!(
        run.error_line().contains("QM_BG_S_PARTIAL_COMPLETE"),
        "{run:#?}"
    );
    assert!(!work.join("p").exists());

    // Suspend, then cancel; a second cancel is refused.
    let run = state(&dir, &["suspend", &empty]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&dir, &["cancel", &empty]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&dir, &["cancel", &empty]);
    assert_eq!(run.code, 3, "{run:#?}");

    // monitor --once --json and run on an idle directory.
    let run = state(&dir, &["monitor", "--once", "--json"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json(), Value::Array(vec![]));
    let run = state(&dir, &["monitor"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains("(no jobs)"), "{run:#?}");
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn state_dir_run_reports_a_failed_job() {
    let work = support::scratch("cli-run-fail");
    let dir = work.join("state");
    open_state_dir(&dir);
    let server = TestServer::start();
    let good = patterned(500_000, 11);
    server.add("/good", Resource::new(good.clone()));
    let bad = create_job(&dir, "bad");
    let run = state(
        &dir,
        &["add", &bad, &server.url("/gone"), s(&work.join("gone"))],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let fine = create_job(&dir, "fine");
    let run = state(
        &dir,
        &["add", &fine, &server.url("/good"), s(&work.join("good"))],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    for id in [&bad, &fine] {
        assert_eq!(state(&dir, &["resume", id]).code, 0);
    }

    // monitor shows them until none is active (it carries them on, too).
    let run = state(&dir, &["monitor"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains(&bad[..8]), "{run:#?}");

    // run completes "fine" and fails (exit 1, one line naming the code)
    // because "bad" is in ERROR, whether it failed under monitor or run.
    let run = state(&dir, &["run", "--quiet"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.error_line()
            .starts_with("qmgr: error: QM_HTTP_ERROR(404) (0x80190194): "),
        "{run:#?}"
    );
    assert!(run.error_line().contains(&bad), "{run:#?}");
    assert_eq!(std::fs::read(work.join("good")).unwrap(), good);
    let job = state(&dir, &["info", "--json", &bad]).json();
    assert_eq!(job["state"], "ERROR", "{job}");
    assert_eq!(job["error"]["name"], "QM_HTTP_ERROR(404)");

    // Once the failed job is cancelled, run succeeds.
    assert_eq!(state(&dir, &["cancel", &bad[..8]]).code, 0);
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn transfer_with_a_state_dir_leaves_nothing_behind() {
    let work = support::scratch("cli-transfer-state");
    let dir = work.join("state");
    open_state_dir(&dir);
    let data = patterned(2 << 20, 12);
    let src = work.join("src");
    std::fs::write(&src, &data).unwrap();
    let dst: PathBuf = work.join("dst");
    let run = qmgr(&["transfer", "--state", s(&dir), s(&src), s(&dst)]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let run = state(&dir, &["list", "--json"]);
    assert_eq!(run.json(), Value::Array(vec![]));

    // A failed transfer stays in the directory, for `info`, `resume` or `cancel`.
    let run = qmgr(&[
        "transfer",
        "--state",
        s(&dir),
        s(&work.join("nope")),
        s(&dst),
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.error_line().contains("kept in"), "{run:#?}");
    let jobs = state(&dir, &["list", "--json"]).json();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    assert_eq!(jobs[0]["state"], "ERROR");
    let _ = std::fs::remove_dir_all(&work);
}

/// Waits (at most 30 s) until `dir` holds a temporary file.
fn wait_for_temp_file(dir: &Path) {
    wait_until(
        &format!("a temporary file in {}", dir.display()),
        Duration::from_secs(30),
        || !temp_files(dir).is_empty(),
    );
}

/// Sends `signal` (`-INT`, `-TERM`) with the shell's built-in `kill`: `sh`
/// is on every machine, a `kill` program (procps) is not.
fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("sh")
        .args(["-c", &format!("kill {signal} {pid}")])
        .status()
        .expect("run sh -c kill");
    assert!(status.success(), "kill {signal} {pid} failed");
}

#[test]
fn ctrl_c_cancels_an_in_memory_transfer_and_deletes_its_partial_file() {
    let work = support::scratch("cli-sigint");
    let src = work.join("src");
    std::fs::write(&src, patterned(4 << 20, 13)).unwrap();
    let dst = work.join("dst");
    // 4 MiB at 64 KiB/s: 64 s (past the 60 s a run may take), interrupted
    // long before.
    let run = qmgr_with(
        &work,
        &["transfer", "--max-bandwidth", "64K", s(&src), s(&dst)],
        &[],
        |pid| {
            wait_for_temp_file(&work);
            send_signal(pid, "-INT");
        },
    );
    assert_eq!(run.code, 130, "{run:#?}");
    let last = run.stderr_lines().last().copied().unwrap_or("");
    assert!(
        last.starts_with("qmgr: error: interrupted by SIGINT")
            && last.contains("partial files deleted"),
        "{run:#?}"
    );
    // Promptly: 30 s only catches a run that went on after the signal.
    assert!(run.took < Duration::from_secs(30), "{run:#?}");
    assert_no_temp_files(&work);
    assert!(!dst.exists());
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn sigterm_keeps_a_state_dir_transfer_for_run_to_finish() {
    let work = support::scratch("cli-sigterm");
    let dir = work.join("state");
    open_state_dir(&dir);
    let data = patterned(512 << 10, 14);
    let src = work.join("src");
    std::fs::write(&src, &data).unwrap();
    let dst = work.join("dst");
    // 512 KiB at 256 KiB/s: about 2 s in all, split between the
    // interrupted transfer and `run` (the job keeps its limit).
    let run = qmgr_with(
        &work,
        &[
            "transfer",
            "--state",
            s(&dir),
            "--max-bandwidth",
            "256K",
            s(&src),
            s(&dst),
        ],
        &[],
        |pid| {
            wait_for_temp_file(&work);
            send_signal(pid, "-TERM");
        },
    );
    assert_eq!(run.code, 143, "{run:#?}");
    assert!(
        run.error_line().contains("interrupted by SIGTERM"),
        "{run:#?}"
    );
    assert!(run.error_line().contains("kept in"), "{run:#?}");
    let jobs = state(&dir, &["list", "--json"]).json();
    assert_eq!(jobs.as_array().unwrap().len(), 1, "{jobs}");
    assert!(!dst.exists());
    // The kept job carries on from where it stopped and lands byte-exact.
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_no_temp_files(&work);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn the_proxy_comes_from_the_environment_unless_no_proxy_exempts_the_host() {
    // The test server plays the proxy: a plain-HTTP request for a host that
    // does not resolve can only arrive through it.
    let server = TestServer::start();
    let data = patterned(50_000, 15);
    server.add("/via-env", Resource::new(data.clone()));
    let work = support::scratch("cli-env-proxy");
    let dst = work.join("dst");
    let url = "http://updates.invalid/via-env";
    let proxy = server.url("");
    let run = qmgr_with(
        &work,
        &["transfer", url, s(&dst)],
        &[("http_proxy", &proxy)],
        |_| {},
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_eq!(server.requests("/via-env").len(), 1);

    // NO_PROXY names the host: the request goes direct, and the name does
    // not resolve (a transient error; --no-progress-timeout 0 ends it).
    std::fs::remove_file(&dst).unwrap();
    let run = qmgr_with(
        &work,
        &["transfer", "--no-progress-timeout", "0", url, s(&dst)],
        &[("http_proxy", &proxy), ("no_proxy", "updates.invalid")],
        |_| {},
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.error_line().contains("QM_E_WINHTTP_NAME_NOT_RESOLVED"),
        "a name that does not resolve is named as such: {run:#?}"
    );
    assert_eq!(
        server.requests("/via-env").len(),
        1,
        "went through the proxy"
    );
    assert!(!dst.exists());
    let _ = std::fs::remove_dir_all(&work);
}

// ----- what a person expects of a command-line tool ------------------------

#[test]
fn verbs_other_than_create_never_create_a_state_directory() {
    let work = support::scratch("cli-no-create");
    let parent = work.join("nonexistent");
    let dir = parent.join("state");
    let id = "00000000-0000-4000-8000-000000000000";
    for args in [
        vec!["list"],
        vec!["list", "--json"],
        vec!["info", id],
        vec!["monitor", "--once"],
        vec!["run"],
        vec!["resume", id],
        vec!["cancel", id],
        vec!["add", id, "/etc/hostname", "/tmp/x"],
    ] {
        let run = state(&dir, &args);
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        let line = run.error_line();
        assert!(
            line.starts_with("qmgr: error: QM_E_PATH_NOT_FOUND (0x80070003): ")
                && line.contains("there is no state directory"),
            "{args:?}: {run:#?}"
        );
        assert!(line.contains(s(&dir)), "{run:#?}");
        assert!(!parent.exists(), "{args:?} created {}", parent.display());
    }
    // `create` makes it (and its parents), private to the user.
    create_job(&dir, "first");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "{mode:o}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn a_relative_state_dir_is_relative_to_the_working_directory() {
    let work = support::scratch("cli-relative-state");
    let run = qmgr_in(&work, &["--state", "jobs", "create", "relative"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let id = run.stdout.trim().to_string();
    assert!(work.join("jobs").is_dir());
    // The same directory, named absolutely from elsewhere.
    let run = qmgr(&["--state", s(&work.join("jobs")), "list", "--json"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.json()[0]["id"], id.as_str(), "{run:#?}");
    let src = work.join("src");
    std::fs::write(&src, patterned(70_000, 21)).unwrap();
    let run = qmgr_in(&work, &["--state", "./jobs", "add", &id, "src", "dst"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = qmgr_in(&work, &["--state", "jobs/", "resume", &id]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = qmgr_in(&work, &["--state", "jobs", "run", "--quiet"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        std::fs::read(work.join("dst")).unwrap(),
        patterned(70_000, 21)
    );
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn create_and_add_take_the_retry_options() {
    let work = support::scratch("cli-retry-options");
    let dir = work.join("state");
    let run = state(
        &dir,
        &[
            "create",
            "tuned",
            "--min-retry-delay",
            "7",
            "--no-progress-timeout",
            "9",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let id = run.stdout.trim().to_string();
    let info = state(&dir, &["info", &id]);
    assert!(info.stdout.contains("retry delay: 7s"), "{info:#?}");
    assert!(info.stdout.contains("no progress: 9s timeout"), "{info:#?}");

    // A job for a server that is gone: with --no-progress-timeout 0 on
    // `add`, `run` ends at the first error instead of retrying for 14 days.
    let (_reserved, gone) = support::refused_port();
    let url = format!("http://127.0.0.1:{gone}/fw.bin");
    let run = state(
        &dir,
        &[
            "add",
            &id,
            &url,
            s(&work.join("fw.bin")),
            "--no-progress-timeout",
            "0",
            "--min-retry-delay",
            "3",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let info = state(&dir, &["info", &id]);
    assert!(info.stdout.contains("retry delay: 3s"), "{info:#?}");
    assert!(info.stdout.contains("no progress: 0s timeout"), "{info:#?}");
    assert_eq!(state(&dir, &["resume", &id]).code, 0);
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("QM_E_WINHTTP_CANNOT_CONNECT"),
        "{run:#?}"
    );
    // At the first error: 30 s only catches a run that went on retrying
    // (the retry delay is 3 s).
    assert!(run.took < Duration::from_secs(30), "{run:#?}");
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn https_with_a_private_ca_needs_ca_file_and_says_so() {
    let work = support::scratch("cli-ca-file");
    let ca = TestCa::generate(&work.join("ca"));
    let server = TestServer::start_tls(&ca, false);
    let data = patterned(300_000, 22);
    server.add("/fw.bin", Resource::new(data.clone()));
    let dst = work.join("fw.bin");

    let run = qmgr(&["transfer", &server.url("/fw.bin"), s(&dst)]);
    assert_eq!(run.code, 1, "{run:#?}");
    let line = run.error_line();
    assert!(
        line.starts_with("qmgr: error: QM_E_WINHTTP_SECURE_FAILURE (0x80072F8F): ")
            && line.contains(
                "the server's certificate is not trusted; pass --ca-file with the CA that signed it"
            ),
        "{run:#?}"
    );
    assert!(!dst.exists());

    // A relative --ca-file is the working directory's.
    let run = qmgr_in(
        &work,
        &[
            "transfer",
            "--ca-file",
            "ca/ca.pem",
            &server.url("/fw.bin"),
            s(&dst),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(std::fs::read(&dst).unwrap() == data);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn client_certificates_are_presented_and_missed_in_words() {
    let work = support::scratch("cli-client-cert");
    let ca = TestCa::generate(&work.join("ca"));
    let server = TestServer::start_tls(&ca, true);
    let data = patterned(100_000, 23);
    server.add("/device", Resource::new(data.clone()));
    let dst = work.join("device");

    let run = qmgr(&[
        "transfer",
        "--ca-file",
        s(&ca.ca_pem),
        &server.url("/device"),
        s(&dst),
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.error_line().contains("--cert and --key"), "{run:#?}");

    let run = qmgr(&[
        "transfer",
        "--ca-file",
        s(&ca.ca_pem),
        "--cert",
        s(&ca.client_cert_pem),
        "--key",
        s(&ca.client_key_pem),
        &server.url("/device"),
        s(&dst),
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(std::fs::read(&dst).unwrap() == data);
    let _ = std::fs::remove_dir_all(&work);
}

/// The `Authorization` header that Basic credentials make.
fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[test]
fn headers_and_credentials_reach_the_server_and_passwords_stay_off_the_command_line() {
    let server = TestServer::start();
    let data = patterned(40_000, 24);
    server.add("/auth", Resource::new(data.clone()));
    let work = support::scratch("cli-headers");
    let dst = work.join("auth");

    // The password from QMGR_PASSWORD; two headers.
    let run = qmgr_with(
        &work,
        &[
            "transfer",
            "--user",
            "alice",
            "--header",
            "X-Device: 42",
            "-H",
            "X-Channel: beta",
            &server.url("/auth"),
            s(&dst),
        ],
        &[("QMGR_PASSWORD", "s3cret")],
        |_| {},
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(std::fs::read(&dst).unwrap() == data);
    let seen = server.requests("/auth");
    let last = seen.last().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(basic("alice", "s3cret").as_str())
    );
    assert_eq!(last.header("x-device"), Some("42"));
    assert_eq!(last.header("x-channel"), Some("beta"));

    // USER alone, no QMGR_PASSWORD and no terminal: told where to put it.
    let run = qmgr_in(
        &work,
        &["transfer", "--user", "bob", &server.url("/auth"), s(&dst)],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.error_line().contains("QMGR_PASSWORD"), "{run:#?}");

    // USER:PASSWORD inline still works (for scripts that accept `ps` seeing it).
    std::fs::remove_file(&dst).unwrap();
    let run = qmgr_in(
        &work,
        &[
            "transfer",
            "--user",
            "carol:pw",
            &server.url("/auth"),
            s(&dst),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = server.requests("/auth");
    assert_eq!(
        seen.last().unwrap().header("authorization"),
        Some(basic("carol", "pw").as_str())
    );

    // On a job of a state directory too.
    let dir = work.join("state");
    let run = qmgr_with(
        &work,
        &[
            "--state",
            s(&dir),
            "create",
            "authed",
            "--user",
            "dave",
            "-H",
            "X-Device: 7",
        ],
        &[("QMGR_PASSWORD", "hunter2")],
        |_| {},
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let id = run.stdout.trim().to_string();
    let dst2 = work.join("auth2");
    assert_eq!(
        state(&dir, &["add", &id, &server.url("/auth"), s(&dst2)]).code,
        0
    );
    assert_eq!(state(&dir, &["resume", &id]).code, 0);
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = server.requests("/auth");
    let last = seen.last().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(basic("dave", "hunter2").as_str())
    );
    assert_eq!(last.header("x-device"), Some("7"));
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn the_proxy_option_overrides_the_environment() {
    let server = TestServer::start();
    let data = patterned(30_000, 25);
    server.add("/via-option", Resource::new(data.clone()));
    let work = support::scratch("cli-proxy-option");
    let dst = work.join("dst");
    let url = "http://updates.invalid/via-option";
    let run = qmgr_in(
        &work,
        &["transfer", "--proxy", &server.url(""), url, s(&dst)],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    assert_eq!(server.requests("/via-option").len(), 1);

    // --proxy '' goes direct although http_proxy names the proxy.
    std::fs::remove_file(&dst).unwrap();
    let run = qmgr_with(
        &work,
        &[
            "transfer",
            "--proxy",
            "",
            "--no-progress-timeout",
            "0",
            url,
            s(&dst),
        ],
        &[("http_proxy", &server.url(""))],
        |_| {},
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(
        server.requests("/via-option").len(),
        1,
        "went through the proxy"
    );
    let run = qmgr_in(&work, &["transfer", "--proxy", "gopher://x", url, s(&dst)]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.error_line().contains("QM_BG_E_INVALID_PROXY_INFO"),
        "{run:#?}"
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// Runs `script` with bash, `$1` being the qmgr binary, in `cwd`; returns
/// its stdout.
fn bash(cwd: &Path, script: &str) -> String {
    let out = Command::new("bash")
        .args(["-c", script, "bash"])
        .arg(support::qmgr_bin())
        .current_dir(cwd)
        .env_remove("QMGR_STATE")
        .stdin(Stdio::null())
        .output()
        .expect("run bash");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    let work = support::scratch("cli-pipe");
    let data = patterned(3 << 20, 26);
    std::fs::write(work.join("src"), &data).unwrap();
    // Progress lines every second for ~3 s; head leaves after two.
    let out = bash(
        &work,
        r#""$1" transfer --max-bandwidth 1M src dst 2>&1 | head -2; echo "status=${PIPESTATUS[0]}""#,
    );
    assert!(out.ends_with("status=0\n"), "{out}");
    assert!(!out.contains("panicked"), "{out}");
    assert_eq!(std::fs::read(work.join("dst")).unwrap(), data);

    // `run` on a slow server: its lines go to a pipe that closes early.
    let server = TestServer::start();
    server.add("/slow", Resource::new(patterned(400_000, 27)));
    server.script(
        "/slow",
        vec![Fault::Drip {
            bytes: 40_000,
            every: Duration::from_millis(300),
        }],
    );
    let dir = work.join("state");
    let id = create_job(&dir, "slow");
    assert_eq!(
        state(
            &dir,
            &["add", &id, &server.url("/slow"), s(&work.join("slow"))]
        )
        .code,
        0
    );
    assert_eq!(state(&dir, &["resume", &id]).code, 0);
    let out = bash(
        &work,
        r#""$1" --state state run 2>&1 | head -1; echo "status=${PIPESTATUS[0]}""#,
    );
    assert!(out.ends_with("status=0\n"), "{out}");
    assert_eq!(
        std::fs::read(work.join("slow")).unwrap(),
        patterned(400_000, 27)
    );
    let _ = std::fs::remove_dir_all(&work);
}

/// The files of `dir`, by name.
fn files_of(dir: &Path) -> std::collections::BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.is_file())
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_installed_manual_pages_and_completions_are_current() {
    // `make install` installs these committed files; regenerate them with
    // QMGR_UPDATE_DOCS=1 cargo test --test it cli:: the_installed
    let update = std::env::var_os("QMGR_UPDATE_DOCS").is_some();
    let share = support::root().join("cli/share");
    let fresh = support::scratch("cli-share");
    let run = qmgr(&["manpage", s(&fresh)]);
    assert_eq!(run.code, 0, "{run:#?}");
    let man = share.join("man");
    if update {
        let _ = std::fs::remove_dir_all(&man);
        std::fs::create_dir_all(&man).unwrap();
        for (name, text) in files_of(&fresh) {
            std::fs::write(man.join(name), text).unwrap();
        }
    }
    let pages = files_of(&fresh);
    assert!(
        files_of(&man) == pages,
        "cli/share/man differs from `qmgr manpage`: run QMGR_UPDATE_DOCS=1 cargo test --test it cli:: the_installed"
    );
    for (page, words) in [
        ("qmgr.1", &["transfer", "Exit codes"][..]),
        (
            "qmgr-transfer.1",
            &["ca\\-file", "no\\-progress\\-timeout", "\\-\\-user"][..],
        ),
        ("qmgr-create.1", &["retry\\-delay", "header"][..]),
    ] {
        let text = pages
            .get(page)
            .unwrap_or_else(|| panic!("no {page}: {:?}", pages.keys()));
        for word in words {
            assert!(text.contains(word), "{page} lacks {word}");
        }
    }

    for (shell, file) in [
        ("bash", "qmgr.bash"),
        ("zsh", "_qmgr"),
        ("fish", "qmgr.fish"),
    ] {
        let run = qmgr(&["completions", shell]);
        assert_eq!(run.code, 0, "{run:#?}");
        assert!(run.stdout.contains("ca-file"), "{run:#?}");
        let path = share.join("completions").join(file);
        if update {
            std::fs::write(&path, &run.stdout).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == run.stdout,
            "{} differs from `qmgr completions {shell}`: run QMGR_UPDATE_DOCS=1 cargo test --test it cli:: the_installed",
            path.display()
        );
    }
    let _ = std::fs::remove_dir_all(&fresh);
}

#[test]
fn replace_prefix_switches_a_job_to_a_mirror() {
    let work = support::scratch("cli-prefix");
    let dir = work.join("state");
    open_state_dir(&dir);
    let server = TestServer::start();
    let data = patterned(1 << 20, 10);
    server.add("/mirror/fw.bin", Resource::new(data.clone()));
    let dst = work.join("fw.bin");
    let id = create_job(&dir, "mirrored");
    let run = state(&dir, &["add", &id, "http://127.0.0.1:9/fw.bin", s(&dst)]);
    assert_eq!(run.code, 0, "{run:#?}");
    let mirror = server.url("/mirror/");
    let run = state(
        &dir,
        &["replace-prefix", &id, "http://127.0.0.1:9/", &mirror],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let job = state(&dir, &["info", "--json", &id]).json();
    assert_eq!(
        job["files"][0]["remote"],
        format!("{mirror}fw.bin").as_str()
    );
    // No name starts with it: nothing changes, and it says so.
    let run = state(&dir, &["replace-prefix", &id, "http://nowhere/", &mirror]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stderr.contains("no remote name"), "{run:#?}");
    // A name that would not be valid is bad usage.
    let run = state(&dir, &["replace-prefix", &id, "http://", "gopher://"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.error_line().contains("QM_E_INVALIDARG"), "{run:#?}");
    let run = state(&dir, &["resume", &id]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&dir, &["run", "--quiet"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), data);
    let _ = std::fs::remove_dir_all(&work);
}

#[test]
fn add_range_set_and_info_show_what_a_bitsadmin_user_reaches_for() {
    let work = support::scratch("cli-ranges");
    let dir = work.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    let server = TestServer::start();
    let data = patterned(1000, 12);
    server.add("/r.bin", Resource::new(data.clone()));
    let url = server.url("/r.bin");
    let dst = work.join("r.bin");

    let id = create_job(&dir, "ranged");
    // Bad ranges are bad usage.
    for bad in [["--range", "5:0"], ["--range", "x"]] {
        let mut args = vec!["add", &id, &url, s(&dst)];
        args.extend_from_slice(&bad);
        let run = state(&dir, &args);
        assert_eq!(run.code, 2, "{bad:?}: {run:#?}");
    }
    let run = state(
        &dir,
        &[
            "add",
            &id,
            &url,
            s(&dst),
            "--range",
            "100:100",
            "--range",
            "900:eof",
            "--range",
            "400:100",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(
        &dir,
        &[
            "add",
            &id,
            &url,
            s(&work.join("o")),
            "--range",
            "0:10",
            "--range",
            "5:10",
        ],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.error_line().contains("QM_BG_E_OVERLAPPING_RANGES"),
        "{run:#?}"
    );

    let run = state(
        &dir,
        &[
            "set",
            &id[..8],
            "--max-download-time",
            "3600",
            "--min-retry-delay",
            "7",
            "--priority",
            "high",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let info = state(&dir, &["info", "--json", &id]).json();
    assert_eq!(info["max_download_time"], 3600);
    assert_eq!(info["priority"], "HIGH");
    assert_eq!(info["dynamic_content"], false);
    assert_eq!(info["yielding"], true);
    assert_eq!(
        info["files"][0]["ranges"],
        serde_json::json!([
            {"offset": 100, "length": 100},
            {"offset": 900, "length": "eof"},
            {"offset": 400, "length": 100},
        ])
    );
    assert_eq!(info["files"][0]["temporary_name"], Value::Null);
    // Dynamic content makes no range requests: refused for a ranged job.
    let run = state(&dir, &["set", &id, "--dynamic"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let text = state(&dir, &["info", &id]);
    assert!(
        text.stdout.contains("ranges 100:100,900:eof,400:100"),
        "{text:#?}"
    );
    assert!(
        !text.stdout.contains("yielding:"),
        "on: not shown: {text:#?}"
    );
    let run = state(&dir, &["set", &id, "--no-yield"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let info = state(&dir, &["info", "--json", &id]).json();
    assert_eq!(info["yielding"], false);
    let text = state(&dir, &["info", &id]);
    assert!(
        text.stdout
            .contains("yielding:    off (competes with other traffic)"),
        "{text:#?}"
    );

    // A notify program that `run` starts when the job is transferred.
    let record = work.join("notified");
    let script = work.join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s ' \"$@\" \"$QMGR_JOB_STATE\" > '{}'\n",
            record.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let run = state(&dir, &["set", &id, "--notify-cmd", "notify.sh"]);
    assert_eq!(run.code, 2, "a relative program is bad usage: {run:#?}");
    let run = state(
        &dir,
        &[
            "set",
            &id,
            "--notify-cmd",
            s(&script),
            "--notify-params",
            "notify.sh \"got it\"",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let info = state(&dir, &["info", "--json", &id]).json();
    assert_eq!(info["notify_cmdline"]["program"], s(&script));
    assert_eq!(info["notify_cmdline"]["parameters"], "notify.sh \"got it\"");

    let run = state(&dir, &["resume", &id]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&dir, &["run"]);
    assert_eq!(run.code, 0, "{run:#?}");
    let mut expected = data[100..200].to_vec();
    expected.extend_from_slice(&data[900..]);
    expected.extend_from_slice(&data[400..500]);
    assert_eq!(std::fs::read(&dst).unwrap(), expected);
    wait_until(
        "the notify program's record",
        Duration::from_secs(30),
        || {
            !std::fs::read_to_string(&record)
                .unwrap_or_default()
                .is_empty()
        },
    );
    assert_eq!(
        std::fs::read_to_string(&record).unwrap_or_default(),
        "got it TRANSFERRED "
    );
    let _ = std::fs::remove_dir_all(&work);
}
