//! Builds and runs the C and C++ programs of `ctests/` against the real
//! header and the freshly built `libqmgr.so`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The project root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`, where this test binary and the library live.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .to_path_buf()
}

/// The functions a shared library exports (`nm -D --defined-only`).
pub fn exported_symbols(lib: &Path) -> std::collections::BTreeSet<String> {
    let out = Command::new("nm")
        .args(["-D", "--defined-only"])
        .arg(lib)
        .output()
        .expect("run nm (binutils)");
    assert!(out.status.success(), "nm {}", lib.display());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(String::from)
        .collect()
}

/// The exports `include/qmgr.symbols` lists.
pub fn committed_symbols() -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("include/qmgr.symbols")).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Runs `cargo build ARGS` for the same profile and target directory as
/// this test binary (for what `cargo test` does not build by itself).
fn cargo_build(args: &[&str]) {
    let dir = profile_dir();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.arg("build")
        .args(args)
        .args(["--quiet", "--manifest-path"])
        .arg(root().join("Cargo.toml"));
    match dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
        None => panic!("unexpected target layout {}", dir.display()),
    }
    if let Some(target_dir) = dir.parent() {
        cmd.env("CARGO_TARGET_DIR", target_dir);
    }
    as_a_user(&mut cmd);
    let status = cmd.status().expect("run cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
}

/// What `built_outputs` asks cargo for; others who build more (qmgrd) ask
/// for these too, so that cargo resolves the same features.
const BUILT_OUTPUTS: &[&str] = &[
    "--lib",
    "--bins",
    "--tests",
    "-p",
    "qmgr",
    "-p",
    "qmgr-capi",
    "-p",
    "qmgr-cli",
];

/// Puts the C library (`libqmgr.so`, `libqmgr.a`, of the workspace member
/// `capi/`) and the `qmgr` binary of the workspace member `cli/` into
/// `target/<profile>`, once per run. `cargo test` builds the `qmgr` crate
/// and the CLI's unit tests but neither the C library nor the binary; this
/// asks for the same targets plus those (`--lib --bins --tests` of the
/// default members), so cargo resolves the same features, finds the
/// `qmgr` crate fresh and only links the two. (A plain `cargo build --lib`
/// resolves features without the dev-dependencies and would compile the
/// library and its TLS and SQLite dependencies a second time.)
fn built_outputs() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        cargo_build(BUILT_OUTPUTS);
        let dir = profile_dir();
        for name in ["libqmgr.so", "libqmgr.a", "qmgr"] {
            assert!(dir.join(name).exists(), "no {name} in {}", dir.display());
        }
        // The SONAME is libqmgr.so.1 (as an install would link it; the
        // number is QM_ABI_VERSION); cargo writes only libqmgr.so.
        let soname = dir.join("libqmgr.so.1");
        let _ = std::fs::remove_file(&soname);
        std::os::unix::fs::symlink("libqmgr.so", &soname).expect("link libqmgr.so.1");
        dir
    })
}

/// Makes a FIFO at `path` (that a test then leaves without a writer).
pub fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: a valid, NUL-terminated path; mkfifo touches nothing else.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
}

/// Opens the FIFO at `path` for writing without waiting, when it exists:
/// a reader blocked in `open` (the code under test, before its fix) is let
/// go, so that a failing test leaves no thread hung behind it.
pub struct UnblockFifo(pub PathBuf);

impl Drop for UnblockFifo {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&self.0);
    }
}

/// The directory of the freshly built `libqmgr.so` (and its `libqmgr.so.1`
/// link) and `libqmgr.a`.
pub fn library_dir() -> &'static Path {
    built_outputs()
}

/// The `qmgr` binary of the workspace member `cli/` (package `qmgr-cli`),
/// built for the same profile as the tests: a test of this package has no
/// `CARGO_BIN_EXE_qmgr`.
pub fn qmgr_bin() -> PathBuf {
    built_outputs().join("qmgr")
}

/// The temporary files (`.NAME.XXXXXXXXXXXX.qmgr-part`) in `dir`.
pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".qmgr-part"))
        .collect()
}

/// Waits until `job` settles and returns its state; after `limit`, panics
/// naming the job and its error.
pub fn wait(job: &qmgr::Job, limit: Duration) -> qmgr::JobState {
    job.wait(Some(limit)).unwrap().unwrap_or_else(|| {
        panic!(
            "the job did not settle within {limit:?}: {job:?} {:?}",
            job.error()
        )
    })
}

/// Polls `cond` (every 5 ms) until it holds; panics naming `what` it
/// awaited when it still does not after `limit`. Every wait of a test is
/// one of these (or `wait`): a wait without a deadline hangs instead of
/// failing. `limit` only catches a hang; it is no speed requirement.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A port of 127.0.0.1 that refuses every connection for as long as the
/// returned socket lives: bound, never listening, so nothing else can be
/// given it meanwhile. (A port found by binding a listener and dropping it
/// is free again at once: another test's server may get it while a job
/// of this one still retries it.)
pub fn refused_port() -> (std::os::fd::OwnedFd, u16) {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: socket() returns a new descriptor (checked), owned from then
    // on; bind() and getsockname() get a zeroed, correctly sized
    // sockaddr_in.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
        let socket = OwnedFd::from_raw_fd(fd);
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
        let at = &mut addr as *mut libc::sockaddr_in as *mut libc::sockaddr;
        assert_eq!(
            libc::bind(socket.as_raw_fd(), at, len),
            0,
            "bind: {}",
            std::io::Error::last_os_error()
        );
        let mut got = len;
        assert_eq!(libc::getsockname(socket.as_raw_fd(), at, &mut got), 0);
        (socket, u16::from_be(addr.sin_port))
    }
}

/// The SHA-256 of `data` in lower-case hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh scratch directory for one test, under `target/tmp`: removed
/// when the value is dropped at the end of a passing test, kept (and named
/// in the failure's output) when the test fails, so its files can be read.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "note: kept the failing test's files in {}",
                self.0.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Makes the scratch directory `target/tmp/NAME-PID` for one test.
pub fn scratch(name: &str) -> Scratch {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// `target/<profile>/ctests`: C programs that several tests of one run
/// share (build outputs, like the library, not scratch).
pub fn programs_dir() -> PathBuf {
    let dir = profile_dir().join("ctests");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The C or C++ compiler the `cc` crate picks for this target.
fn compiler(cpp: bool) -> cc::Tool {
    cc::Build::new()
        .cpp(cpp)
        .target(env!("QMGR_BUILD_TARGET"))
        .host(env!("QMGR_BUILD_HOST"))
        .opt_level(1)
        .debug(true)
        .cargo_metadata(false)
        .warnings(false)
        .get_compiler()
}

/// True when the compiler can build and run an ASan+UBSan program.
pub fn sanitizers_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let dir = scratch("sanitizer-probe");
        let src = dir.join("probe.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let exe = dir.join("probe");
        let built = compiler(false)
            .to_command()
            .args(["-fsanitize=address,undefined"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .status()
            .is_ok_and(|s| s.success());
        built && Command::new(&exe).status().is_ok_and(|s| s.success())
    })
}

/// How a program is built.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Build {
    Plain,
    Sanitized,
}

/// Compiles `ctests/<name>` (with `ctests/common.c`, a second translation
/// unit that includes the header too) into `out_dir` with strict warnings.
pub fn compile(name: &str, build: Build, out_dir: &Path) -> PathBuf {
    let exe = out_dir.join(format!(
        "{}{}",
        name.replace('.', "_"),
        if build == Build::Sanitized {
            "_asan"
        } else {
            ""
        }
    ));
    let mut sources = vec![root().join("ctests").join(name)];
    if !name.ends_with(".cpp") {
        sources.push(root().join("ctests/common.c"));
    }
    compile_sources(&sources, build, &exe);
    exe
}

/// Compiles C (or, for a `.cpp` first source, C++) sources into `exe` with
/// `-Wall -Wextra -Werror -pedantic`, against the header and the library.
pub fn compile_sources(sources: &[PathBuf], build: Build, exe: &Path) {
    compile_sources_against(sources, build, exe, library_dir());
}

/// `compile_sources` against the `libqmgr.so` in `lib`.
pub fn compile_sources_against(sources: &[PathBuf], build: Build, exe: &Path, lib: &Path) {
    let cpp = sources[0].extension().is_some_and(|e| e == "cpp");
    let mut cmd = compiler(cpp).to_command();
    cmd.args([
        if cpp { "-std=c++11" } else { "-std=c99" },
        "-Wall",
        "-Wextra",
        "-Werror",
        "-pedantic",
    ]);
    if build == Build::Sanitized {
        cmd.args([
            "-fsanitize=address,undefined",
            "-fno-omit-frame-pointer",
            "-fno-sanitize-recover=all",
        ]);
    }
    cmd.arg("-I")
        .arg(root().join("include"))
        .arg("-I")
        .arg(root().join("ctests"));
    cmd.args(sources).arg("-o").arg(exe);
    cmd.arg("-L")
        .arg(lib)
        .arg("-lqmgr")
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-pthread");
    let output = cmd.output().expect("run the C compiler");
    assert!(
        output.status.success(),
        "compiling {sources:?} failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs a compiled program with `args`, killing it after `limit`; panics
/// with its output unless it exits 0. Returns its stdout.
pub fn run(exe: &Path, args: &[&str], limit: Duration) -> String {
    run_with_env(exe, args, &[], limit)
}

/// `run` with these environment variables set.
pub fn run_with_env(exe: &Path, args: &[&str], env: &[(&str, &Path)], limit: Duration) -> String {
    let mut cmd = Command::new(exe);
    cmd.args(args)
        .envs(env.iter().copied())
        .env(
            "ASAN_OPTIONS",
            "detect_leaks=1:abort_on_error=0:exitcode=86",
        )
        .env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    let out = run_bounded(cmd, limit);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.is_some_and(|s| s.success()),
        "{} {}:\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        exe.display(),
        match out.status {
            Some(status) => format!("failed ({status})"),
            None => format!("did not finish within {limit:?} and was killed"),
        },
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// What `run_bounded` saw: the exit status (`None`: killed at the limit)
/// and everything the program printed.
pub struct Bounded {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

/// Runs `cmd` (stdin from /dev/null) and collects its output, both pipes
/// drained on threads so that a program printing a lot (an ASan report)
/// never blocks on a full pipe; kills it after `limit`.
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Bounded {
    use std::io::Read;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out = drain(Box::new(child.stdout.take().unwrap()));
    let err = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Bounded {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Compiles and runs `ctests/<name>` with a scratch directory as its first
/// argument; with `Build::Sanitized` it is skipped (with a note) when the
/// compiler has no sanitizers.
pub fn compile_and_run(name: &str, build: Build, limit: Duration) -> Option<String> {
    if build == Build::Sanitized && !sanitizers_available() {
        skipped(&format!(
            "this compiler cannot build -fsanitize=address,undefined programs ({name})"
        ));
        return None;
    }
    let tag = format!(
        "{}{}",
        name.replace('.', "_"),
        if build == Build::Sanitized {
            "_asan"
        } else {
            ""
        }
    );
    let dir = scratch(&tag);
    let exe = compile(name, build, &dir);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    Some(run(&exe, &[work.to_str().unwrap()], limit))
}

/// README.md.
pub fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The fenced code blocks of `text` (```` ```lang ```` … ```` ``` ````) with
/// that language tag, in order.
pub fn code_blocks(text: &str, lang: &str) -> Vec<String> {
    let fence = format!("```{lang}\n");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&fence) {
        let body = &rest[start + fence.len()..];
        let end = body.find("```").expect("an unterminated code block");
        out.push(body[..end].to_string());
        rest = &body[end + 3..];
    }
    out
}

/// The part of README.md from the heading `heading` (e.g. "## Using it
/// from C") to the next heading of the same level.
pub fn readme_section(heading: &str) -> String {
    let text = readme();
    let start = text
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
    let level = heading.split(' ').next().unwrap();
    let body = &text[start + 1..];
    let end = body[heading.len()..]
        .find(&format!("\n{level} "))
        .map_or(body.len(), |i| i + heading.len());
    body[..end].to_string()
}

/// Takes out of `cmd`'s environment what cargo set for this test binary
/// (`OUT_DIR`, `CARGO_MANIFEST_DIR`, `CARGO_PKG_*`, ...), so that the builds
/// the tests start see the environment a user's shell has. Build scripts
/// rerun when such a variable changes (ring's watches `OUT_DIR` and
/// `CARGO_MANIFEST_DIR`), so with them every nested build recompiled ring,
/// rustls and qmgr, and the next `cargo test` compiled them back.
pub fn as_a_user(cmd: &mut Command) -> &mut Command {
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let set_by_cargo_for_tests = name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || name.starts_with("CARGO_BIN_")
            || matches!(
                name,
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_TARGET_TMPDIR" | "OUT_DIR"
            );
        // RUSTC_BOOTSTRAP, set to read libtest's per-test times (`-Z
        // unstable-options --report-time`), would make a different build;
        // LD_LIBRARY_PATH, which cargo points at target/debug for tests,
        // would let a README program start that a user's could not.
        if set_by_cargo_for_tests || matches!(name, "RUSTC_BOOTSTRAP" | "LD_LIBRARY_PATH") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Settings for the release builds that the README's commands, `make`
/// and `pip install ./python` start (all one build in `target/release`):
/// the same commands and the same layout as a user's, built without LTO
/// and optimisation, so the suite checks what lands where in seconds
/// instead of minutes. The shipped build's size and speed are measured by
/// `bench/sizes.sh` and `bench/run.sh`, not here.
pub const FAST_RELEASE: [(&str, &str); 8] = [
    ("CARGO_PROFILE_RELEASE_LTO", "false"),
    ("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256"),
    ("CARGO_PROFILE_RELEASE_INCREMENTAL", "true"),
    // The README's smallest build (`--profile minimal`), likewise.
    ("CARGO_PROFILE_MINIMAL_LTO", "false"),
    ("CARGO_PROFILE_MINIMAL_OPT_LEVEL", "0"),
    ("CARGO_PROFILE_MINIMAL_CODEGEN_UNITS", "256"),
    ("CARGO_PROFILE_MINIMAL_INCREMENTAL", "true"),
];

/// Runs `line` with `sh -c` in `cwd` (with these variables added, and
/// `FAST_RELEASE`), as a user types it; panics with its output unless it
/// succeeds. Returns stdout.
pub fn sh(cwd: &Path, line: &str, env: &[(&str, &str)]) -> String {
    let out = as_a_user(&mut Command::new("sh"))
        .args(["-c", line])
        .current_dir(cwd)
        .envs(FAST_RELEASE)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "`{line}` failed in {} ({}):\n{stdout}{}",
        cwd.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Builds the library without default features, with `features`, in a
/// target directory of its own (`target/NAME`), so that the default
/// build's `libqmgr.so` other tests are running stays as it is; built
/// without optimisation, since such a build is checked for its exports,
/// layouts and refusals, not its speed. Returns its `debug` directory.
pub fn library_apart(name: &str, features: &[&str]) -> PathBuf {
    let target = profile_dir().parent().expect("target/<profile>").join(name);
    let mut cmd = Command::new(env!("CARGO"));
    as_a_user(&mut cmd)
        .args([
            "build",
            "--quiet",
            "-p",
            "qmgr-capi",
            "--no-default-features",
        ])
        .args(["--config", "profile.dev.opt-level=0"])
        .args(["--config", "profile.dev.package.\"*\".opt-level=0"]);
    for feature in features {
        cmd.args(["--features", feature]);
    }
    let status = cmd
        .arg("--manifest-path")
        .arg(root().join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .expect("run cargo build");
    assert!(
        status.success(),
        "cargo build --no-default-features {features:?} failed"
    );
    target.join("debug")
}

/// True when `tool` runs (`tool --version`). A test that needs a tool
/// beyond the README's (cmake, mypy) skips without it, visibly (see
/// `skipped`), unless `QMGR_REQUIRE_TOOLS` is set (as `.ci/run` does),
/// where it fails.
pub fn have_tool(tool: &str) -> bool {
    have_tool_answering(tool, "--version")
}

/// Whether `tool` runs and answers `arg` (its version option) with
/// success; says it is skipped when not. zsyncmake reads `--version` as
/// `-v -e -r -s -i -o n` and writes an empty control file `n`: it is asked
/// `-V`.
pub fn have_tool_answering(tool: &str, arg: &str) -> bool {
    let ok = Command::new(tool)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        skipped(&format!("{tool} is not installed"));
    }
    ok
}

/// Reports a check that this machine cannot run: fails under
/// `QMGR_REQUIRE_TOOLS`; otherwise writes a `SKIPPED` line straight to the
/// terminal (libtest captures `eprintln!` of a passing test, which is how
/// skips used to vanish behind an `ok`).
pub fn skipped(why: &str) {
    assert!(
        std::env::var_os("QMGR_REQUIRE_TOOLS").is_none(),
        "{why}, and QMGR_REQUIRE_TOOLS is set"
    );
    use std::io::Write;
    let name = std::thread::current().name().unwrap_or("?").to_string();
    let _ = writeln!(std::io::stderr(), "SKIPPED {name}: {why}");
}

#[cfg(all(feature = "service", feature = "state"))]
pub mod daemon;
pub mod http_server;
#[cfg(feature = "upload")]
pub mod upload_server;
