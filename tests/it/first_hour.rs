//! The first hour of a new user (issue 21), each step done as the user
//! does it: the README's commands taken from the README's text, the CLI as
//! a process, real symbolic links, real sockets on 127.0.0.1.

use crate::support;

use std::path::Path;

use support::{readme_section, root, scratch, sh};

/// The inline command `` `cargo run --example ...` `` of the README's
/// section `heading`, as the text gives it.
fn inline_command(heading: &str, starts_with: &str) -> String {
    let section = readme_section(heading);
    let start = section
        .find(&format!("`{starts_with}"))
        .unwrap_or_else(|| panic!("no `{starts_with}...` in the README's {heading:?}"));
    let rest = &section[start + 1..];
    rest[..rest.find('`').expect("a closing backquote")].to_string()
}

/// Every file and directory under `dir` (empty when there is none).
fn tree(dir: &Path) -> Vec<String> {
    let out = sh(dir, "find . -mindepth 1", &[]);
    out.lines().map(String::from).collect()
}

#[test]
fn the_quickstart_example_leaves_nothing_in_tmp() {
    let line = inline_command("## Quickstart", "cargo run --example quickstart");
    assert_eq!(line, "cargo run --example quickstart");
    let tmp = scratch("quickstart-tmpdir");
    let tmpdir = tmp.to_str().unwrap();
    sh(root(), &line, &[("TMPDIR", tmpdir)]);
    assert_eq!(tree(&tmp), Vec::<String>::new(), "left in $TMPDIR");
}

/// `qmgr ARGS` as a user runs it from `cwd`.
fn qmgr(cwd: &Path, args: &[&str]) -> crate::cli::Run {
    crate::cli::qmgr_with(cwd, args, &[], |_| {})
}

#[test]
fn a_state_directory_reached_through_a_symbolic_link_works() {
    use std::os::unix::fs::{symlink, PermissionsExt};
    let work = scratch("first-hour-state-link");
    // A device whose /var/lib is a link to a data partition.
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    symlink(&data, work.join("data-link")).unwrap();
    let via_link = work.join("data-link/qmgr");
    let real = data.join("qmgr");

    let run = qmgr(
        &work,
        &["--state", via_link.to_str().unwrap(), "create", "x"],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let id = run.stdout.trim().to_string();
    assert!(real.join("qmgr.db").is_file(), "{run:#?}");
    let run = qmgr(&work, &["--state", real.to_str().unwrap(), "list"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.stdout.contains(&id), "{run:#?}");
    // A relative name through the link, as typed in a shell.
    let run = qmgr(&work, &["--state", "data-link/qmgr", "info", &id]);
    assert_eq!(run.code, 0, "{run:#?}");

    // The link and the real path are one directory: one manager at a time.
    let held = qmgr::Manager::open(Some(&real)).unwrap();
    let run = qmgr(&work, &["--state", via_link.to_str().unwrap(), "list"]);
    assert_eq!(run.code, 3, "{run:#?}");
    assert!(
        run.stderr.contains("QM_E_SHARING_VIOLATION") && run.stderr.contains("in use"),
        "{run:#?}"
    );
    drop(held);
    let held = qmgr::Manager::open(Some(&via_link)).unwrap();
    let err = qmgr::Manager::open(Some(&real)).unwrap_err();
    assert_eq!(err.code.0, qmgr::hresult::QM_E_SHARING_VIOLATION, "{err:?}");
    drop(held);

    // The lock file and the database may not be links themselves.
    let elsewhere = work.join("elsewhere");
    std::fs::write(&elsewhere, b"not yours").unwrap();
    for name in ["qmgr.lock", "qmgr.db"] {
        let state = work.join(format!("linked-{name}"));
        std::fs::create_dir_all(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        symlink(&elsewhere, state.join(name)).unwrap();
        let run = qmgr(&work, &["--state", state.to_str().unwrap(), "list"]);
        assert_eq!(run.code, 3, "{run:#?}");
        assert!(
            run.stderr.contains("QM_E_ACCESSDENIED")
                && run.stderr.contains(&format!("/{name}' is a symbolic link")),
            "{run:#?}"
        );
    }
    assert_eq!(std::fs::read(&elsewhere).unwrap(), b"not yours");

    // A link to nothing is named as such.
    symlink(work.join("gone"), work.join("dangling")).unwrap();
    let run = qmgr(&work, &["--state", "dangling", "create", "x"]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.contains("is a symbolic link to") && run.stderr.contains("does not exist"),
        "{run:#?}"
    );
}

/// `qmgr --state DIR ARGS`, as a user runs it from `cwd`.
fn state(cwd: &Path, dir: &Path, args: &[&str]) -> crate::cli::Run {
    let mut all = vec!["--state", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    qmgr(cwd, &all)
}

/// `qmgr --state DIR create NAME`: the new job's id.
fn create_job(cwd: &Path, dir: &Path, name: &str) -> String {
    let run = state(cwd, dir, &["create", name]);
    assert_eq!(run.code, 0, "{run:#?}");
    run.stdout.trim().to_string()
}

#[test]
fn a_closed_port_says_why_on_every_progress_line_and_each_retry() {
    let work = scratch("first-hour-closed-port");
    let (_reserved, port) = support::refused_port();
    let url = format!("http://127.0.0.1:{port}/fw.bin");
    let dst = work.join("fw.bin");
    // Patience for 4 s, a retry every second: a few failures, then ERROR.
    let run = qmgr(
        &work,
        &[
            "transfer",
            "--min-retry-delay",
            "1",
            "--no-progress-timeout",
            "4",
            &url,
            dst.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.is_empty()).collect();
    let (last, before) = lines.split_last().unwrap();
    assert!(
        last.starts_with("qmgr: error: QM_E_WINHTTP_CANNOT_CONNECT"),
        "{run:#?}"
    );
    // Every line says why, none is a bare `?% 0/? bytes 0 B/s ETA ?`.
    assert!(before.len() >= 4, "{run:#?}");
    for line in before {
        assert!(
            line.contains("QM_E_WINHTTP_CANNOT_CONNECT") && line.contains("retr"),
            "a line that does not say why: {line:?}\n{run:#?}"
        );
    }
    // Each failure gets a line of its own, with the whole error and the
    // time to the next attempt...
    let retries = before
        .iter()
        .filter(|l| {
            l.starts_with("qmgr: retrying in 1s after QM_E_WINHTTP_CANNOT_CONNECT")
                && l.contains(&format!("127.0.0.1:{port} failed: Connection refused"))
        })
        .count();
    assert!(retries >= 3, "{run:#?}");
    // ...and the progress lines between them name it.
    assert!(
        before
            .iter()
            .any(|l| l.starts_with("?% 0/? bytes: retrying ")),
        "{run:#?}"
    );
}

#[cfg(feature = "state")]
#[test]
fn info_in_a_later_process_shows_the_error_of_a_job_waiting_to_retry() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let work = scratch("first-hour-transient-info");
    let dir = work.join("state");
    let (_reserved, port) = support::refused_port();
    let url = format!("http://127.0.0.1:{port}/fw.bin");
    let id = create_job(&work, &dir, "fw");
    let dst = work.join("fw.bin");
    let run = state(&work, &dir, &["add", &id, &url, dst.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&work, &dir, &["set", &id, "--min-retry-delay", "600"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(state(&work, &dir, &["resume", &id]).code, 0);

    // `qmgr run` until it reports the failure and the state directory has
    // it, then killed.
    /// Kills the process also when the test fails.
    struct Killed(std::process::Child);
    impl Drop for Killed {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Command::new(support::qmgr_bin())
        .args(["--state", dir.to_str().unwrap(), "run"])
        .current_dir(&work)
        .env_remove("QMGR_STATE")
        .env_remove("http_proxy")
        .env_remove("all_proxy")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let child = Killed(child);
    let mut seen = Vec::new();
    for line in std::io::BufReader::new(stderr).lines() {
        let line = line.unwrap();
        let done = line.contains("retrying in");
        seen.push(line);
        if done {
            break;
        }
    }
    let db = rusqlite::Connection::open(dir.join("qmgr.db")).unwrap();
    support::wait_until(
        "the job stored in TRANSIENT_ERROR",
        std::time::Duration::from_secs(30),
        || {
            db.query_row("SELECT state FROM jobs", [], |r| r.get::<_, u32>(0))
                .is_ok_and(|s| s == qmgr::JobState::TransientError as u32)
        },
    );
    drop(db);
    drop(child);
    let said = seen.join("\n");
    assert!(
        said.contains("retrying in 10m00s after QM_E_WINHTTP_CANNOT_CONNECT")
            || said.contains("retrying in 9m59s after QM_E_WINHTTP_CANNOT_CONNECT"),
        "{said}"
    );

    // A later process sees the job waiting to retry, and why.
    let run = state(&work, &dir, &["info", &id]);
    assert_eq!(run.code, 0, "{run:#?}");
    let field = |name: &str| {
        run.stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name}:")))
            .unwrap_or_else(|| panic!("no {name}: {run:#?}"))
            .to_string()
    };
    assert!(
        field("state").contains("TRANSIENT_ERROR (retries in"),
        "{run:#?}"
    );
    let error = field("error");
    assert!(
        error.contains("QM_E_WINHTTP_CANNOT_CONNECT")
            && error.contains(&format!("127.0.0.1:{port}")),
        "{run:#?}"
    );
    let json = state(&work, &dir, &["info", "--json", &id]);
    let job: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(job["state"], "TRANSIENT_ERROR", "{job}");
    assert_eq!(job["error"]["name"], "QM_E_WINHTTP_CANNOT_CONNECT", "{job}");
    let wait = job["retry_in_seconds"].as_u64().unwrap();
    assert!((500..=600).contains(&wait), "{job}");
    assert!(!dst.exists());
}

#[test]
fn a_destination_directory_that_does_not_exist_is_refused_when_added() {
    let work = scratch("first-hour-missing-dir");
    let src = work.join("src.bin");
    std::fs::write(&src, b"firmware").unwrap();
    let missing = work.join("missing");
    let dst = missing.join("fw.bin");
    let run = qmgr(
        &work,
        &["transfer", src.to_str().unwrap(), dst.to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "a refused argument: {run:#?}");
    assert_eq!(
        run.stderr.trim(),
        format!(
            "qmgr: error: QM_E_PATH_NOT_FOUND (0x80070003): the directory was not found: \
             file 0: the directory '{}' of the local name '{}' does not exist: create it first",
            missing.display(),
            dst.display()
        ),
        "{run:#?}"
    );
    // `add` refuses it too, and a file where the directory should be.
    let dir = work.join("state");
    let id = create_job(&work, &dir, "fw");
    let run = state(
        &work,
        &dir,
        &["add", &id, src.to_str().unwrap(), dst.to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("QM_E_PATH_NOT_FOUND"), "{run:#?}");
    let blocked = src.join("fw.bin");
    let run = state(
        &work,
        &dir,
        &["add", &id, src.to_str().unwrap(), blocked.to_str().unwrap()],
    );
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("'{}' of the local name", src.display()))
            && run.stderr.contains("is not a directory"),
        "{run:#?}"
    );
    let run = state(&work, &dir, &["info", "--json", &id]);
    let job: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(job["files_total"], 0, "{job}");
    // Made, the directory takes the file.
    std::fs::create_dir(&missing).unwrap();
    let run = qmgr(
        &work,
        &["transfer", src.to_str().unwrap(), dst.to_str().unwrap()],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(std::fs::read(&dst).unwrap(), b"firmware");
}

#[test]
fn a_dead_proxy_is_named_not_the_server() {
    let work = scratch("first-hour-dead-proxy");
    let (_reserved, port) = support::refused_port();
    let proxy = format!("http://127.0.0.1:{port}");
    let run = qmgr(
        &work,
        &[
            "transfer",
            "--no-progress-timeout",
            "0",
            "--proxy",
            &proxy,
            "http://updates.example.com/fw.bin",
            work.join("fw.bin").to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .trim()
            .starts_with("qmgr: error: QM_E_WINHTTP_CANNOT_CONNECT")
            && run.stderr.contains(&format!(
                ": connecting to the proxy 127.0.0.1:{port} failed: Connection refused"
            )),
        "{run:#?}"
    );
}

/// Runs `qmgr ARGS` on a pseudo-terminal (stdin and stderr a terminal, as
/// in a shell), typing `answer` and Enter once it asks `[y/N]`. Returns
/// its exit code and everything it wrote.
fn on_a_terminal(cwd: &Path, args: &[&str], answer: &str) -> (i32, String) {
    const SCRIPT: &str = r#"
import os, pty, sys
answer, argv = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(argv[0], argv)
out, sent = b"", False
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and b"[y/N]" in out:
        os.write(fd, answer.encode() + b"\n")
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 99)
"#;
    let python = std::env::var("QMGR_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut cmd = std::process::Command::new(python);
    cmd.args(["-c", SCRIPT, answer])
        .arg(support::qmgr_bin())
        .args(args)
        .current_dir(cwd)
        .env_remove("QMGR_STATE");
    let out = support::run_bounded(cmd, std::time::Duration::from_secs(60));
    let code = out
        .status
        .and_then(|s| s.code())
        .expect("qmgr on a terminal did not finish");
    (code, String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn complete_of_a_job_not_transferred_says_what_it_deletes_and_asks() {
    let work = scratch("first-hour-partial-complete");
    let dir = work.join("state");
    let src = work.join("src.bin");
    std::fs::write(&src, b"firmware").unwrap();
    let (kept, lost) = (work.join("kept.bin"), work.join("lost.bin"));
    let (_reserved, port) = support::refused_port();
    let id = create_job(&work, &dir, "fw");
    for (url, dst) in [
        (src.to_str().unwrap().to_string(), &kept),
        (format!("http://127.0.0.1:{port}/lost.bin"), &lost),
    ] {
        let run = state(&work, &dir, &["add", &id, &url, dst.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{run:#?}");
    }
    // The local file transfers; the other fails at once (no patience).
    let run = state(&work, &dir, &["set", &id, "--no-progress-timeout", "0"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(state(&work, &dir, &["resume", &id]).code, 0);
    let run = state(&work, &dir, &["run", "--quiet"]);
    assert_eq!(run.code, 1, "{run:#?}");

    // Not on a terminal, and without --partial: refused, nothing deleted.
    let run = state(&work, &dir, &["complete", &id]);
    assert_eq!(run.code, 2, "{run:#?}");
    let line = run.stderr.trim();
    assert!(
        line.starts_with("qmgr: error: QM_E_INVALIDARG")
            && line.contains("is ERROR, not TRANSFERRED")
            && line.contains(&format!("{} (0/? bytes)", lost.display()))
            && line.contains("--partial")
            && !line.contains('\n'),
        "{run:#?}"
    );
    let json = state(&work, &dir, &["info", "--json", &id]);
    let job: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(job["state"], "ERROR", "{job}");

    // On a terminal it lists what goes and asks; "n" leaves the job.
    let dir_arg = dir.to_str().unwrap();
    let (code, out) = on_a_terminal(&work, &["--state", dir_arg, "complete", &id], "n");
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("is ERROR, not TRANSFERRED")
            && out.contains(&format!("  {} (0/? bytes)", lost.display()))
            && out.contains("Complete it anyway? [y/N]")
            && out.contains("not completed"),
        "{out}"
    );
    assert!(!kept.exists());
    // "y" completes it partially: the transferred file is in place.
    let (code, out) = on_a_terminal(&work, &["--state", dir_arg, "complete", &id[..8]], "y");
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("QM_BG_S_PARTIAL_COMPLETE"), "{out}");
    assert_eq!(std::fs::read(&kept).unwrap(), b"firmware");
    assert!(!lost.exists());

    // --partial says it without asking (for scripts).
    let id = create_job(&work, &dir, "again");
    let run = state(
        &work,
        &dir,
        &[
            "add",
            &id,
            &format!("http://127.0.0.1:{port}/x"),
            lost.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let run = state(&work, &dir, &["complete", "--partial", &id]);
    assert_eq!(run.code, 4, "{run:#?}");
    let run = state(&work, &dir, &["list", "--json"]);
    assert_eq!(run.stdout.trim(), "[]", "{run:#?}");
}

/// How many symbols of `lib` (its symbol table) come from rustls.
fn rustls_symbols(lib: &Path) -> usize {
    let out = sh(
        Path::new("/"),
        &format!("nm '{}' | grep -c rustls || true", lib.display()),
        &[],
    );
    out.trim().parse().unwrap()
}

#[test]
fn make_and_pip_install_share_one_build_of_the_library() {
    let work = scratch("first-hour-make-pip");
    let root = root();
    sh(root, "make 2>&1", &[]);
    let python = std::env::var("QMGR_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let venv = work.join("venv");
    let made = std::process::Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .output()
        .is_ok_and(|o| o.status.success());
    if !made {
        support::skipped("cannot make a venv with pip (Debian: apt-get install python3-venv)");
        return;
    }
    // `pip install ./python` after `make`: the library is current.
    let pip = sh(
        root,
        &format!(
            "'{}/bin/pip' install -v --no-index ./python 2>&1",
            venv.display()
        ),
        &[("PIP_DISABLE_PIP_VERSION_CHECK", "1")],
    );
    assert!(
        pip.contains("cargo build --release --lib") && !pip.contains("Compiling qmgr v"),
        "pip install ./python rebuilt the library that make built:\n{pip}"
    );
    // And `make` after it.
    let make = sh(root, "make 2>&1", &[]);
    assert!(
        !make.contains("Compiling qmgr"),
        "make rebuilt the library after pip install ./python:\n{make}"
    );
}

#[test]
fn the_smallest_library_is_built_beside_the_default_one() {
    let section = "## Firmware-sized builds";
    let line = inline_command(
        section,
        "cargo build -p qmgr-capi --profile minimal --no-default-features",
    );
    // Where the README says it lands.
    let text = readme_section(section);
    let lands = text
        .split("it lands in `")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("the README does not say where `{line}` puts the library"));
    let root = root();
    sh(root, &line, &[]);
    let minimal = root.join(lands);
    assert!(minimal.is_file(), "no {}", minimal.display());
    assert_eq!(rustls_symbols(&minimal), 0, "{} has TLS", minimal.display());
    // The default library (of `make`, `make install`, `./copy`) is not it.
    assert_ne!(minimal, root.join("target/release/libqmgr.so"));
    let default = root.join("target/release/libqmgr.so");
    if default.is_file() {
        assert!(
            rustls_symbols(&default) > 0,
            "`{line}` replaced {} with a library without TLS",
            default.display()
        );
    }
}
