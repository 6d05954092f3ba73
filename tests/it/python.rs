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
/// `support::skipped`.
fn run_module(module: &str) {
    let lib = support::library_dir().join("libqmgr.so");
    let python = std::env::var("QMGR_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let mut cmd = Command::new(&python);
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
        support::skipped(&format!("python {line}"));
    }
}

macro_rules! python_modules {
    ($($name:ident),*) => {
        $(
            #[test]
            fn $name() {
                run_module(stringify!($name));
            }
        )*
    };
}

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
