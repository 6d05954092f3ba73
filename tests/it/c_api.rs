//! The C and C++ programs of `ctests/`, compiled with strict warnings
//! against `include/qmgr.h` and the built library, each run plain and once
//! more under AddressSanitizer + UndefinedBehaviorSanitizer, and once more
//! against a daemon (DESIGN §8: the suite runs in both modes): with
//! `QMGR_TEST_ADDRESS` set to a `qmgrd` of the test's own, the programs
//! open their managers with `qm_manager_connect` (`ct_open_manager`) and
//! the same checks run through the proxy; the parts that cannot apply to
//! a daemon say so and why (`ct_skip_in_daemon_mode`).

use crate::support;

use std::time::Duration;
use support::{compile_and_run, Build};

const LIMIT: Duration = Duration::from_secs(300);

macro_rules! c_program {
    ($plain:ident, $sanitized:ident, $daemon:ident, $file:literal) => {
        #[test]
        fn $plain() {
            compile_and_run($file, Build::Plain, LIMIT);
        }

        #[test]
        fn $sanitized() {
            compile_and_run($file, Build::Sanitized, LIMIT);
        }

        #[cfg(all(feature = "service", feature = "state"))]
        #[test]
        fn $daemon() {
            run_against_a_daemon($file);
        }
    };
}

/// Compiles `ctests/<name>` and runs it with `QMGR_TEST_ADDRESS` naming a
/// daemon started for it (its own socket and state directory).
#[cfg(all(feature = "service", feature = "state"))]
fn run_against_a_daemon(name: &str) {
    use std::path::Path;
    use support::daemon::Qmgrd;
    let dir = support::scratch(&format!("{}_daemon", name.replace('.', "_")));
    let daemon = Qmgrd::start(&dir, &[]);
    let exe = support::compile(name, Build::Plain, &dir);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    let address = format!("unix:{}", daemon.socket.display());
    let out = support::run_with_env(
        &exe,
        &[work.to_str().unwrap()],
        &[("QMGR_TEST_ADDRESS", Path::new(&address))],
        LIMIT,
    );
    for line in out
        .lines()
        .filter(|l| l.starts_with("skipped in daemon mode"))
    {
        eprintln!("{name}: {line}");
    }
}

c_program!(
    lifecycle,
    lifecycle_sanitized,
    lifecycle_daemon,
    "lifecycle.c"
);
c_program!(progress, progress_sanitized, progress_daemon, "progress.c");
c_program!(
    bad_input,
    bad_input_sanitized,
    bad_input_daemon,
    "bad_input.c"
);
c_program!(threads, threads_sanitized, threads_daemon, "threads.c");
c_program!(
    cpp_header,
    cpp_header_sanitized,
    cpp_header_daemon,
    "cpp_header.cpp"
);
c_program!(
    hardening,
    hardening_sanitized,
    hardening_daemon,
    "hardening.c"
);
c_program!(structs, structs_sanitized, structs_daemon, "structs.c");
c_program!(
    callbacks_cross,
    callbacks_cross_sanitized,
    callbacks_cross_daemon,
    "callbacks_cross.c"
);
