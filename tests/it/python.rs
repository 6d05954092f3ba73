//! Runs the Python package's tests (`python/tests`, standard-library
//! `unittest`) against the freshly built `libqmgr.so`, so `cargo test`
//! covers the ctypes binding too: one cargo test per Python module, so the
//! modules run beside each other and beside the Rust tests. Needs `python3`
//! (or `$QMGR_PYTHON`).

use crate::support;

use std::process::Command;
use std::time::Duration;

/// How long one Python module may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(300);

/// The Python test modules; `every_python_module_is_run` keeps the list
/// complete.
const MODULES: [&str; 7] = [
    "test_abi",
    "test_errors",
    "test_install",
    "test_jobs",
    "test_library",
    "test_notify",
    "test_threads",
];

/// Runs `python/tests/<module>.py` with unittest and fails with its report
/// unless every test passed; a Python test that skipped is reported with
/// `support::skipped`. With `daemon`, in the suite's daemon mode (DESIGN
/// §8): `QMGR_TEST_QMGRD` names the `qmgrd` binary, and each test's
/// managers connect to a daemon of its own (`python/tests/_support.py`);
/// a test that cannot apply to a daemon skips, saying why, and is listed
/// as not applicable (not as a machine's missing tool).
fn run_module(module: &str, daemon: bool) {
    let lib = support::library_dir().join("libqmgr.so");
    let python = std::env::var("QMGR_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut cmd = Command::new(&python);
    if daemon {
        cmd.env("QMGR_TEST_QMGRD", qmgrd_bin());
    }
    support::as_a_user(&mut cmd)
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "python/tests",
            "-v",
            "-p",
        ])
        .arg(format!("{module}.py"))
        .current_dir(support::root())
        .env("QMGR_LIBRARY", &lib)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        // `pip install ./python` builds the release library: quickly.
        .envs(support::FAST_RELEASE)
        .env_remove("PYTHONPATH");
    let out = support::run_bounded(cmd, LIMIT);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report = format!(
        "--- stdout ---\n{stdout}\n--- stderr (unittest writes its report here) ---\n{stderr}"
    );
    let status = out.status.unwrap_or_else(|| {
        panic!(
            "{module}: the Python tests did not finish within {LIMIT:?} and were killed\n{report}"
        )
    });
    assert!(
        status.success(),
        "{module}: the Python tests failed ({status}) with QMGR_LIBRARY={} \
         (cannot run `{python}`? they need Python 3.8 or newer)\n{report}",
        lib.display()
    );
    assert!(
        stderr.contains("\nOK"),
        "{module}: no unittest summary\n{report}"
    );
    for line in stderr.lines().filter(|l| l.contains(" ... skipped ")) {
        if line.contains("skipped 'daemon mode: ") {
            eprintln!("NOT APPLICABLE to a daemon: python {line}");
        } else {
            support::skipped(&format!("python {line}"));
        }
    }
}

/// The `qmgrd` of this build, for the daemon mode.
#[cfg(all(feature = "service", feature = "state"))]
fn qmgrd_bin() -> std::path::PathBuf {
    support::daemon::qmgrd_bin()
}

#[cfg(not(all(feature = "service", feature = "state")))]
fn qmgrd_bin() -> std::path::PathBuf {
    unreachable!("the daemon mode needs qmgrd (features service and state)")
}

macro_rules! python_modules {
    ($($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                run_module(stringify!($name), false);
            }
        )*
    };
}

/// The modules that also run in daemon mode, each as `<module>_daemon`.
/// `test_install` (installing the package, the README's snippet) and
/// `test_library` (the package and the library: versions, constants,
/// codes, where the library is found) open no manager of their own to
/// point at a daemon.
macro_rules! python_modules_on_a_daemon {
    ($($name:ident => $module:literal),*) => {
        $(
            #[cfg(all(feature = "service", feature = "state"))]
            #[test]
            fn $name() {
                run_module($module, true);
            }
        )*
    };
}

python_modules_on_a_daemon!(
    test_abi_daemon => "test_abi",
    test_errors_daemon => "test_errors",
    test_jobs_daemon => "test_jobs",
    test_notify_daemon => "test_notify",
    test_threads_daemon => "test_threads"
);

python_modules!(
    test_abi,
    test_errors,
    test_install,
    test_jobs,
    test_library,
    test_notify,
    test_threads
);

#[test]
fn every_python_module_is_run() {
    let mut found: Vec<String> = std::fs::read_dir(support::root().join("python/tests"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let stem = name.strip_suffix(".py")?;
            stem.starts_with("test_").then(|| stem.to_string())
        })
        .collect();
    found.sort();
    assert_eq!(
        found, MODULES,
        "python/tests changed: update MODULES and python_modules!"
    );
}
