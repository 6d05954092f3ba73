//! Runs the Python package's tests (`python/tests`, standard-library
//! `unittest`) against the freshly built `libqmgr.so`, so `cargo test`
//! covers the ctypes binding too. Needs `python3` (or `$QMGR_PYTHON`).

mod support;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the whole Python suite may take before it counts as hung.
const LIMIT: Duration = Duration::from_secs(300);

#[test]
fn python_package_tests() {
    let lib = support::library_dir().join("libqmgr.so");
    assert!(lib.exists(), "no {}", lib.display());
    let python = std::env::var("QMGR_PYTHON").unwrap_or_else(|_| "python3".to_string());

    let mut child = match Command::new(&python)
        .args(["-m", "unittest", "discover", "-s", "python/tests", "-v"])
        .current_dir(support::root())
        .env("QMGR_LIBRARY", &lib)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .env_remove("PYTHONPATH")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => panic!(
            "cannot run `{python}` ({e}): the Python tests need Python 3.8 or newer \
             (Debian: apt-get install python3 python3-pip; or set QMGR_PYTHON)"
        ),
    };

    // Drain both pipes on threads so a chatty run cannot fill a pipe and stall.
    let mut out_pipe = child.stdout.take().unwrap();
    let mut err_pipe = child.stderr.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out_pipe.read_to_end(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });

    let started = Instant::now();
    let (status, timed_out) = loop {
        if let Some(status) = child.try_wait().expect("wait for python3") {
            break (Some(status), false);
        }
        if started.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            break (None, true);
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
    let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
    let output = format!(
        "--- stdout ---\n{stdout}\n--- stderr (unittest writes its report here) ---\n{stderr}"
    );

    assert!(
        !timed_out,
        "the Python tests did not finish within {LIMIT:?} (deadlock?) and were killed\n{output}"
    );
    let status = status.unwrap();
    assert!(
        status.success(),
        "the Python tests failed ({status}) with QMGR_LIBRARY={}\n{output}",
        lib.display()
    );
    // Shown with --nocapture: the summary line ("Ran N tests ... OK").
    println!("{output}");
}
