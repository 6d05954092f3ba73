//! The README's steps run literally, as a new user runs them in a fresh
//! checkout: its build command, its C and C++ examples compiled with their
//! own compile lines against the artifacts it names and run with their own
//! commands, and its quickstart. Nothing here adds a link, a flag or a path
//! that the README does not give.

use crate::support;

use std::path::{Path, PathBuf};

use support::{code_blocks, readme_section, root, sh};

/// Removes files the README's steps leave in the checkout, also when the
/// test fails.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The command lines of a ```sh block, comments and blank lines left out
/// (sh would skip them too).
fn command_lines(block: &str) -> Vec<&str> {
    block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The two paths of `PROGRAM SRC DST`.
fn src_and_dst(line: &str) -> (PathBuf, PathBuf) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let path = |w: &str| PathBuf::from(w.strip_prefix("file://").unwrap_or(w));
    (path(words[words.len() - 2]), path(words[words.len() - 1]))
}

#[test]
fn the_c_example_builds_and_runs_with_the_readmes_own_commands() {
    let section = readme_section("## Using it from C");
    let blocks = code_blocks(&section, "sh");
    assert!(
        blocks.len() >= 2,
        "a build block and a compile block: {blocks:?}"
    );
    let build = command_lines(&blocks[0]);
    let compile_and_run = command_lines(&blocks[1]);
    assert!(
        compile_and_run.len() == 2
            && compile_and_run[0].starts_with("cc ")
            && compile_and_run[1].starts_with("./copy "),
        "{compile_and_run:?}"
    );
    let code = code_blocks(&section, "c").remove(0);

    let root = root();
    let _cleanup = Cleanup(vec![root.join("copy.c"), root.join("copy")]);
    std::fs::write(root.join("copy.c"), code).unwrap();
    let (src, dst) = src_and_dst(compile_and_run[1]);
    let _ = std::fs::remove_file(&dst);

    for line in build.iter().chain(&compile_and_run[..1]) {
        sh(root, line, &[]);
    }
    let out = sh(root, compile_and_run[1], &[]);
    assert!(out.contains("100% transferred"), "{out}");
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());
    let _ = std::fs::remove_file(&dst);
}

#[test]
fn the_cpp_example_builds_and_runs_with_the_readmes_own_commands() {
    let section = readme_section("## Using it from C++");
    let code = code_blocks(&section, "cpp").remove(0);
    let block = code_blocks(&section, "sh").remove(0);
    let compile_and_run = command_lines(&block);
    assert!(
        compile_and_run.len() == 2
            && compile_and_run[0].starts_with("c++ ")
            && compile_and_run[1].starts_with("./copy-cpp "),
        "{compile_and_run:?}"
    );
    // The library it links: `make`, as "Using it from C" builds it.
    let c_section = readme_section("## Using it from C");
    let build_block = code_blocks(&c_section, "sh").remove(0);
    let build = command_lines(&build_block);

    let root = root();
    let _cleanup = Cleanup(vec![root.join("copy.cpp"), root.join("copy-cpp")]);
    std::fs::write(root.join("copy.cpp"), code).unwrap();
    let (src, dst) = src_and_dst(compile_and_run[1]);
    let _ = std::fs::remove_file(&dst);
    for line in build.iter().chain(&compile_and_run[..1]) {
        sh(root, line, &[]);
    }
    let out = sh(root, compile_and_run[1], &[]);
    assert!(out.contains("copied to"), "{out}");
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());
    let _ = std::fs::remove_file(&dst);

    // A refused call throws, and the exception says why in the library's words.
    let scratch = support::scratch("readme-cpp");
    let missing = scratch.join("missing/out");
    let out = std::process::Command::new(root.join("copy-cpp"))
        .arg(&src)
        .arg(&missing)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("qmgr: 0x80070003: ")
            && stderr.contains(&format!("'{}'", missing.parent().unwrap().display())),
        "{stderr}"
    );
}

#[test]
fn the_quickstart_transfers_a_file() {
    let section = readme_section("## Quickstart");
    let block = code_blocks(&section, "sh").remove(0);
    let lines = command_lines(&block);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let (src, dst) = src_and_dst(lines[0]);
    let _ = std::fs::remove_file(&dst);
    sh(root(), lines[0], &[]);
    assert_eq!(
        std::fs::read(&dst).unwrap(),
        std::fs::read(Path::new(&src)).unwrap()
    );
    let _ = std::fs::remove_file(&dst);
}

/// Kills the README's daemon when the test ends, also when it fails.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The service's example, line by line, as a user of an installed qmgr
/// runs it in a login session: `qmgr` and `qmgrd` on the PATH,
/// `XDG_RUNTIME_DIR` and `XDG_STATE_HOME` set (here to directories of the
/// test's own, as a session gives each user theirs). The job id the
/// README writes as `1f2e3d4c` is the one `qmgr create` printed.
#[test]
fn the_service_example_shares_a_job_between_commands() {
    let section = readme_section("## The service: qmgrd");
    let block = code_blocks(&section, "sh").remove(0);
    // Each line without its trailing comment, as the shell reads it.
    let lines: Vec<&str> = command_lines(&block)
        .into_iter()
        .map(|l| l.split(" #").next().unwrap().trim())
        .collect();
    assert_eq!(lines[0], "qmgrd &", "{lines:?}");
    assert!(lines[1].starts_with("qmgr create "), "{lines:?}");
    let dir = support::scratch("readme-service");
    let runtime = dir.join("run");
    std::fs::create_dir_all(&runtime).unwrap();
    std::fs::set_permissions(
        &runtime,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let state = dir.join("state");
    let bins = support::daemon::qmgrd_bin().parent().unwrap().to_path_buf();
    assert!(bins.join("qmgr").exists());
    let path = format!("{}:{}", bins.display(), std::env::var("PATH").unwrap());
    let env = [
        ("PATH", path.as_str()),
        ("XDG_RUNTIME_DIR", runtime.to_str().unwrap()),
        ("XDG_STATE_HOME", state.to_str().unwrap()),
    ];
    let mut qmgrd = std::process::Command::new("sh");
    support::as_a_user(&mut qmgrd)
        .args(["-c", "exec qmgrd"])
        .envs(env)
        .env_remove("QMGR_ADDRESS")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _daemon = Daemon(qmgrd.spawn().unwrap());
    let socket = runtime.join("qmgr/io.qmgr");
    support::wait_until(
        "the daemon's socket",
        std::time::Duration::from_secs(30),
        || socket.exists(),
    );
    let id = sh(&dir, lines[1], &env).trim().to_string();
    assert_eq!(id.len(), 36, "not a job id: {id}");
    let mut dst = None;
    for line in &lines[2..] {
        let line = line.replace("1f2e3d4c", &id);
        let out = sh(&dir, &line, &env);
        if line.starts_with("qmgr add ") {
            let words: Vec<&str> = line.split_whitespace().collect();
            let _ = std::fs::remove_file(words[4]);
            dst = Some((
                PathBuf::from(words[3].trim_start_matches("file://")),
                PathBuf::from(words[4]),
            ));
        }
        if line.starts_with("qmgr list") || line.starts_with("qmgr monitor") {
            assert!(out.contains(&id[..8]), "{line}:\n{out}");
        }
    }
    let (src, dst) = dst.expect("a qmgr add line");
    let _cleanup = Cleanup(vec![dst.clone()]);
    assert_eq!(std::fs::read(&dst).unwrap(), std::fs::read(&src).unwrap());
    // Completed: the daemon holds no job any more.
    let listed = sh(&dir, "qmgr list", &env);
    assert!(!listed.contains(&id[..8]), "{listed}");
}
